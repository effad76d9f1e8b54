//! Starts the real OpenID provider (`oidc-provider`, npm) on a free loopback port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static INSTALL: Mutex<()> = Mutex::new(());

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider")
}

fn ensure_installed() {
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "these tests need Node.js (`node`) on PATH to run the oidc-provider authorization server"
    );
    if dir().join("node_modules/oidc-provider").is_dir() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir())
        .status()
        .expect("`npm` is needed to install oidc-provider (tests/oidc-provider)");
    assert!(status.success(), "`npm ci` failed in tests/oidc-provider");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("no free loopback port")
        .port()
}

/// A running oidc-provider; killed on drop.
pub struct OidcProvider {
    pub issuer: String,
    child: Child,
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl OidcProvider {
    /// Starts a provider and waits (up to 30 s) for its discovery document.
    pub async fn start() -> Self {
        ensure_installed();
        let port = free_port();
        let child = Command::new("node")
            .arg("provider.mjs")
            .arg(port.to_string())
            .current_dir(dir())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("could not start node");
        let provider = Self {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
        };
        let http = reqwest::Client::new();
        let url = format!("{}/.well-known/openid-configuration", provider.issuer);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = http.get(&url).send().await
                && res.status().is_success()
            {
                return provider;
            }
            assert!(
                Instant::now() < deadline,
                "oidc-provider did not serve {url} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
