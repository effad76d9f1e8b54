//! The dashboard in a real browser: Debian's headless chromium driven by
//! `tests/browser/dashboard.mjs` (playwright-core) logs in through the OpenID provider,
//! creates a key, sees it once and revokes it; the screenshot is saved as
//! `target/demo-dashboard.png`.

mod common;

use std::path::Path;
use std::process::Command;

use common::oidc::{DemoEnv, OidcProvider, REGISTERED_REDIRECT, ensure_npm_installed};
use common::{Server, manifest_dir};
use serde_json::Value;

const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn dashboard_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "this test needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)"
    );
    let script_dir = manifest_dir().join("tests/browser");
    ensure_npm_installed(&script_dir, "playwright-core");
    let provider = OidcProvider::start();
    let env = provider.demo_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);
    let screenshot = manifest_dir().join("../../target/demo-dashboard.png");
    let _ = std::fs::remove_file(&screenshot);

    let out = Command::new("node")
        .arg("dashboard.mjs")
        .current_dir(&script_dir)
        .env("DEMO_URL", &server.url)
        .env("REDIRECT_URI", REGISTERED_REDIRECT)
        .env("SCREENSHOT", &screenshot)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("this test needs Node.js (`node` on PATH)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser script failed:\n{stdout}\n{stderr}"
    );
    let result: Value = serde_json::from_str(stdout.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|_| panic!("no JSON result line: {stdout}"));
    assert_eq!(result["whoami_before"], 200, "{result}");
    assert_eq!(result["whoami_after"], 401, "{result}");
    let id = result["created"].as_str().unwrap();
    assert_eq!(id.len(), 12, "{result}");
    let png = std::fs::read(&screenshot).expect("the screenshot was not saved");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");

    // The key is in the store, revoked, and owned by the OIDC user.
    let keys: Value =
        serde_json::from_str(&server.cli(&["keys", "list", "--account", "oidc:alice"])).unwrap();
    let key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .expect("the key is listed");
    assert!(key["revoked_at"].is_i64(), "{key}");
}
