//! The dashboard in a real browser, over HTTPS, on a first run (no `DEMO_USERS`: the
//! default users): Debian's headless chromium driven by `tests/browser/dashboard.mjs`
//! (playwright-core) trusts the demo's `demo cert` pair by its public key, logs in with the
//! password form as alice, creates a key with ticked scopes and a rate and uses it, sees
//! the requests in the key's usage chart once the key store has written them (every second
//! here, `DEMO_USAGE_FLUSH=1s`), rotates the key with a grace period, revokes it through the
//! confirmation page, and sees the CSP block an injected inline script. Screenshots go to
//! `target/browser-screenshots/`.

mod common;

use std::path::Path;
use std::process::Command;

use common::oidc::ensure_npm_installed;
use common::tls::Pair;
use common::{Server, TempDir, manifest_dir};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";

#[test]
fn dashboard_in_headless_chromium_over_https() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "this test needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)"
    );
    let script_dir = manifest_dir().join("tests/browser");
    ensure_npm_installed(&script_dir, "playwright-core");
    let dir = TempDir::new();
    let pair = Pair::generate(&dir.0);
    // A fixed port: the public URL (and so the origin the password form must come from)
    // is derived from `DEMO_ADDR`.
    let addr = format!("127.0.0.1:{}", testkit::free_port());
    let mut env = vec![("DEMO_ADDR", addr), ("DEMO_USAGE_FLUSH", "1s".to_owned())];
    env.extend(pair.env());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let screenshots = manifest_dir().join("../../target/browser-screenshots");
    let _ = std::fs::remove_dir_all(&screenshots);

    let out = Command::new("node")
        .arg("dashboard.mjs")
        .current_dir(&script_dir)
        .env("DEMO_URL", &server.url)
        .env("CERT", &pair.cert)
        .env("NODE_EXTRA_CA_CERTS", &pair.cert)
        .env("SCREENSHOTS", &screenshots)
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

    // The key works with the ticked scopes; rotation keeps the old one for its grace
    // period; the confirmation page revokes nothing, its form does.
    assert_eq!(result["whoami_created"]["status"], 200, "{result}");
    assert_eq!(
        result["whoami_created"]["body"]["scopes"],
        json!(["read", "write"]),
        "{result}"
    );
    assert_eq!(
        result["whoami_created"]["body"]["method"], "api_key",
        "{result}"
    );
    // The three requests made with the key, in its usage chart of 24 hourly bars.
    assert_eq!(result["chart_accepted"], "3", "{result}");
    assert_eq!(result["chart_bars"], 24, "{result}");
    assert!(
        result["chart_label"]
            .as_str()
            .unwrap()
            .ends_with(": 3 accepted (0 rate-limited), 0 refused"),
        "{result}"
    );
    assert_eq!(result["whoami_old_in_grace"], 200, "{result}");
    assert_eq!(result["whoami_rotated"], 200, "{result}");
    assert_eq!(result["whoami_before_confirm"], 200, "{result}");
    assert_eq!(result["whoami_after_revoke"], 401, "{result}");
    // The injected inline script did not run, and chromium reported the violation.
    assert_eq!(result["injected_script_ran"], false, "{result}");
    assert_eq!(
        result["csp_violations"],
        json!(["script-src-elem"]),
        "{result}"
    );
    assert_eq!(result["csp_console_report"], true, "{result}");
    let shots = result["screenshots"].as_array().unwrap();
    assert_eq!(shots.len(), 6, "{result}");
    for shot in shots {
        let png = std::fs::read(shot.as_str().unwrap()).expect("a screenshot was not saved");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG: {shot}");
    }

    // In the store: the first key (with its rate) rotated to the second, the second
    // revoked, both owned by the password user.
    let keys: Value =
        serde_json::from_str(&server.cli(&["keys", "list", "--account", "password:alice"]))
            .unwrap();
    let find = |id: &Value| {
        keys.as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == *id)
            .unwrap_or_else(|| panic!("{id} is listed: {keys}"))
            .clone()
    };
    let first = find(&result["created"]);
    let second = find(&result["rotated"]);
    assert_eq!(first["replaced_by"], result["rotated"], "{first}");
    assert!(first["grace_ends_at"].is_i64(), "{first}");
    assert_eq!(first["rate"], "5/s", "{first}");
    assert!(second["revoked_at"].is_i64(), "{second}");
}
