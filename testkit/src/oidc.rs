//! The committed test OpenID provider (`oidc-provider`, npm, in
//! `tower-oauth/tests/oidc-provider`) and the npm bootstrap.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

static INSTALL: Mutex<()> = Mutex::new(());

/// `tower-oauth/tests/oidc-provider`: `provider.mjs` and its lock file.
#[must_use]
pub fn provider_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tower-oauth/tests/oidc-provider")
}

/// `node --version`, or `None` without Node.js.
#[must_use]
pub fn node_version() -> Option<String> {
    let out = Command::new("node").arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Asserts `node` runs, and runs `npm ci` in `dir` when `node_modules/{probe}` is missing
/// (one install at a time per test binary).
///
/// # Panics
///
/// Without Node.js or npm, or when `npm ci` fails.
pub fn ensure_npm_installed(dir: &Path, probe: &str) {
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(
        node_version().is_some(),
        "this test needs Node.js (`node` on PATH; install nodejs 20 or newer)"
    );
    if dir.join("node_modules").join(probe).is_dir() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .expect("this test needs `npm` to install its Node dependencies");
    assert!(status.success(), "`npm ci` failed in {}", dir.display());
}

/// A running provider; killed on drop.
#[derive(Debug)]
pub struct OidcProvider {
    /// Its issuer, `http://127.0.0.1:PORT`.
    pub issuer: String,
    child: Child,
}

impl OidcProvider {
    /// Starts the provider on a free port (chosen by the provider itself, so parallel tests
    /// never race for one) and waits until it serves its discovery document: its
    /// `listening` line gets 30 s, then one more try with a fresh process (a node start was
    /// once seen to stall on a loaded machine).
    ///
    /// # Panics
    ///
    /// When it does not start, twice (its stderr is above).
    #[must_use]
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
            let stdout = child.stdout.take().expect("piped stdout");
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
                Ok(issuer) if serves_discovery(&issuer, Duration::from_secs(30)) => {
                    return Self { issuer, child };
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    eprintln!("oidc-provider did not start within 30 s (attempt {attempt} of 2)");
                }
            }
        }
        panic!("oidc-provider did not start within 30 s, twice (its stderr is above)");
    }
}

impl OidcProvider {
    /// Stops the process (SIGSTOP): connections are accepted by the kernel, never answered,
    /// as with a provider that hangs.
    ///
    /// # Panics
    ///
    /// When `kill` fails.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Resumes a paused process (SIGCONT).
    ///
    /// # Panics
    ///
    /// When `kill` fails.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("could not run kill");
        assert!(status.success(), "kill {signal} failed");
    }
}

/// Whether `issuer` answers 200 to its discovery document within `within`.
fn serves_discovery(issuer: &str, within: Duration) -> bool {
    let Some(authority) = issuer.strip_prefix("http://") else {
        return false;
    };
    let authority = authority.trim_end_matches('/');
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(authority) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let request = format!(
                "GET /.well-known/openid-configuration HTTP/1.0\r\nHost: {authority}\r\n\r\n"
            );
            let mut head = [0u8; 12];
            if stream.write_all(request.as_bytes()).is_ok()
                && stream.read_exact(&mut head).is_ok()
                && head.ends_with(b" 200")
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
