//! Starts tower-oauth's committed test OpenID provider (`oidc-provider`, npm) by path, and
//! a tiny cookie jar for walking a login over HTTP.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::Duration;

/// The redirect URI registered for the provider's clients (see `provider.mjs`): the
/// provider redirects there and the test (or the browser script) forwards the callback to
/// the demo, which sends this URI in its token request (`DEMO_OIDC_REDIRECT_URI`).
pub const REGISTERED_REDIRECT: &str = "https://app.example.test/oauth/op/callback";
pub const CLIENT_ID: &str = "rp-rs256";
pub const CLIENT_SECRET: &str = "rp-rs256-secret";

static INSTALL: Mutex<()> = Mutex::new(());

/// `tower-oauth/tests/oidc-provider`, next to this crate.
pub fn provider_dir() -> PathBuf {
    super::manifest_dir().join("../../tower-oauth/tests/oidc-provider")
}

/// Asserts `node` and `npm` run, and runs `npm ci` in `dir` when `node_modules/{probe}`
/// is missing.
pub fn ensure_npm_installed(dir: &std::path::Path, probe: &str) {
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "this test needs Node.js (`node` on PATH)"
    );
    if dir.join("node_modules").join(probe).is_dir() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("this test needs `npm` to install its Node dependencies");
    assert!(status.success(), "`npm ci` failed in {}", dir.display());
}

/// A running provider; killed on drop.
pub struct OidcProvider {
    pub issuer: String,
    child: Child,
}

impl OidcProvider {
    /// Starts the provider on a free port and waits for its `listening` line: up to 30 s,
    /// then once more with a fresh process (a node start was once seen to stall on a loaded
    /// CI machine), then fails naming the cause.
    pub fn start() -> Self {
        let dir = provider_dir();
        assert!(
            dir.join("provider.mjs").is_file(),
            "tower-oauth's test provider is missing at {}",
            dir.display()
        );
        ensure_npm_installed(&dir, "oidc-provider");
        for attempt in 1..=2 {
            let mut child = Command::new("node")
                .args(["provider.mjs", "0"])
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("could not start node");
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if let Some(issuer) = line.strip_prefix("oidc-provider listening on ") {
                        let _ = tx.send(issuer.to_owned());
                    }
                }
            });
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(issuer) => return Self { issuer, child },
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!("oidc-provider did not start within 30 s (attempt {attempt} of 2)");
                }
            }
        }
        panic!("oidc-provider did not start within 30 s, twice (its stderr is above)");
    }

    /// The demo's environment for logging in with this provider.
    pub fn demo_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DEMO_OIDC_ISSUER", self.issuer.clone()),
            ("DEMO_OIDC_CLIENT_ID", CLIENT_ID.to_owned()),
            ("DEMO_OIDC_CLIENT_SECRET", CLIENT_SECRET.to_owned()),
            ("DEMO_OIDC_REDIRECT_URI", REGISTERED_REDIRECT.to_owned()),
        ]
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Cookies of one site, from `Set-Cookie` headers.
#[derive(Default)]
pub struct Jar(pub HashMap<String, String>);

impl Jar {
    pub fn store(&mut self, res: &reqwest::Response) {
        for header in res.headers().get_all("set-cookie") {
            let header = header.to_str().unwrap();
            let pair = header.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let expired = header.to_ascii_lowercase().contains("max-age=0");
            if expired || value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub fn header(&self) -> String {
        let pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.join("; ")
    }
}

/// Walks the provider's redirects (login and consent are automatic in `provider.mjs`)
/// from `authorize_url` until it redirects to the registered redirect URI; returns that
/// URL's query string.
pub async fn authorize(client: &reqwest::Client, authorize_url: &str) -> String {
    let mut jar = Jar::default();
    let mut url = url::Url::parse(authorize_url).unwrap();
    for _ in 0..12 {
        let res = client
            .get(url.clone())
            .header("cookie", jar.header())
            .send()
            .await
            .unwrap();
        jar.store(&res);
        let status = res.status();
        let Some(location) = res.headers().get("location") else {
            panic!("the provider answered {status} without a redirect");
        };
        let next = url.join(location.to_str().unwrap()).unwrap();
        if next.as_str().starts_with(REGISTERED_REDIRECT) {
            return next.query().unwrap_or("").to_owned();
        }
        url = next;
    }
    panic!("too many provider redirects");
}
