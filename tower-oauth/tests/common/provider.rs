//! Starts the real OpenID provider (`oidc-provider`, npm) on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// never race for one) and waits for its discovery document. The `listening` line gets
    /// 30 s, then one more try with a fresh process (a node start was once seen to stall on
    /// a loaded CI machine). Its stderr goes to a temporary file quoted if it fails to start.
    pub async fn start() -> Self {
        static STARTS: AtomicUsize = AtomicUsize::new(0);
        ensure_installed();
        let mut failures = String::new();
        for attempt in 1..=2 {
            let log = std::env::temp_dir().join(format!(
                "oidc-provider-{}-{}.log",
                std::process::id(),
                STARTS.fetch_add(1, Ordering::Relaxed)
            ));
            let stderr = std::fs::File::create(&log).expect("temporary log file");
            let mut child = tokio::process::Command::new("node")
                .arg("provider.mjs")
                .arg("0")
                .current_dir(dir())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(stderr)
                .kill_on_drop(true)
                .spawn()
                .expect("could not start node");
            let stdout = child.stdout.take().unwrap();
            let mut lines = BufReader::new(stdout).lines();
            let started = tokio::time::timeout(Duration::from_secs(30), async {
                while let Some(line) = lines.next_line().await.unwrap() {
                    if let Some(issuer) = line.strip_prefix("oidc-provider listening on ") {
                        return Some(issuer.to_owned());
                    }
                }
                None
            })
            .await;
            let stderr = std::fs::read_to_string(&log).unwrap_or_default();
            let _ = std::fs::remove_file(&log);
            match started {
                Ok(Some(issuer)) => return Self::serving(issuer, child).await,
                _ => {
                    drop(child);
                    failures.push_str(&format!("attempt {attempt}, stderr:\n{stderr}\n"));
                }
            }
        }
        panic!("oidc-provider did not start within 30 s, twice:\n{failures}");
    }

    /// Waits (up to 30 s) until the started provider serves its discovery document.
    async fn serving(issuer: String, child: tokio::process::Child) -> Self {
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
