//! Starts the real OpenID provider (`oidc-provider`, npm) on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

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

/// A running oidc-provider; killed on drop.
pub struct OidcProvider {
    pub issuer: String,
    _child: tokio::process::Child,
}

impl OidcProvider {
    /// Starts a provider on a free port (chosen by the provider itself, so parallel tests
    /// never race for one) and waits (up to 30 s) for its discovery document.
    pub async fn start() -> Self {
        ensure_installed();
        let mut child = tokio::process::Command::new("node")
            .arg("provider.mjs")
            .arg("0")
            .current_dir(dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("could not start node");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let issuer = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(issuer) = line.strip_prefix("oidc-provider listening on ") {
                    return issuer.to_owned();
                }
            }
            panic!("oidc-provider exited before listening");
        })
        .await
        .expect("oidc-provider did not start within 30 s");
        let http = reqwest::Client::new();
        let url = format!("{issuer}/.well-known/openid-configuration");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = http.get(&url).send().await
                && res.status().is_success()
            {
                return Self {
                    issuer,
                    _child: child,
                };
            }
            assert!(
                Instant::now() < deadline,
                "oidc-provider did not serve {url} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
