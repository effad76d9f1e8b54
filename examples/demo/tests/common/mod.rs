//! Runs the real `demo` binary: each server on its own free port (`DEMO_ADDR=127.0.0.1:0`,
//! the port read from its `listening on` line) with its own SQLite file in a temp dir.
#![allow(dead_code, unused_imports, unreachable_pub)]

pub mod oidc;
pub mod tls;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const SECRET: &str = "a-test-secret-of-at-least-32-bytes!!";
pub const BIN: &str = env!("CARGO_BIN_EXE_demo");

/// A temp dir removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "towerauth-demo-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.0.join("demo.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `demo` command with a clean `DEMO_*` environment plus `env`.
pub fn command(env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(BIN);
    for (name, _) in std::env::vars() {
        if name.starts_with("DEMO_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A running server; killed on drop (unless stopped).
pub struct Server {
    pub url: String,
    pub env: Vec<(String, String)>,
    child: Option<Child>,
    pub dir: TempDir,
}

impl Server {
    /// Starts `demo` with a fresh SQLite store, `DEMO_JWT_SECRET` = [`SECRET`] and `extra`.
    pub fn start(extra: &[(&str, &str)]) -> Self {
        let dir = TempDir::new();
        let mut env = vec![
            ("DEMO_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
            ("DEMO_DATABASE_URL".to_owned(), dir.database_url()),
            ("DEMO_JWT_SECRET".to_owned(), SECRET.to_owned()),
        ];
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let mut child = command(&env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("could not start the demo binary");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the demo did not print `listening on http://ADDR` within 30 s");
        // A server bound to every interface is reached on loopback.
        let url = url.replacen("://0.0.0.0:", "://127.0.0.1:", 1);
        assert!(
            url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
            "{url}"
        );
        Self {
            url,
            env,
            child: Some(child),
            dir,
        }
    }

    /// Runs `demo ARGS` against this server's store and environment; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        run_cli(&self.env, args)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("stopped").id()
    }

    /// Sends SIGTERM and waits (up to 10 s) for the exit status.
    pub fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM")
    }

    /// Sends `signal` (`-TERM`, `-INT`) and waits (up to 10 s) for the exit status.
    pub fn signal(&mut self, signal: &str) -> ExitStatus {
        let mut child = self.child.take().expect("already stopped");
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("`kill` is needed to send SIGTERM");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the demo did not exit within 10 s of {signal}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `demo ARGS` with `env`; asserts success and returns stdout.
pub fn run_cli(env: &[(String, String)], args: &[&str]) -> String {
    let out = command(env)
        .args(args)
        .output()
        .expect("could not run demo");
    assert!(
        out.status.success(),
        "demo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `demo` (serve) with a clean `DEMO_*` environment plus `env`, a fresh SQLite store
/// and `DEMO_JWT_SECRET`, expecting it to refuse to start: asserts a non-zero exit within
/// 30 s and returns its stderr.
pub fn refused_start(env: &[(&str, &str)]) -> String {
    let dir = TempDir::new();
    let mut vars = vec![
        ("DEMO_DATABASE_URL".to_owned(), dir.database_url()),
        ("DEMO_JWT_SECRET".to_owned(), SECRET.to_owned()),
    ];
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut child = command(&vars)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("could not start the demo binary");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the demo started with {env:?} (still running after 30 s)");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "exit status {status} with {env:?}");
    stderr
}

/// An HTTP client that does not follow redirects nor keep cookies.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The server's RFC 9728 metadata document, fetched with `client` (which must trust the
/// server's certificate over HTTPS).
pub async fn resource_metadata(client: &reqwest::Client, server: &Server) -> serde_json::Value {
    let url = format!("{}/.well-known/oauth-protected-resource", server.url);
    let res = client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    res.json().await.unwrap()
}

/// Asserts an RFC 6750 rejection: `status`, a `Bearer` challenge, a JSON body with
/// `error` = `error` and an `error_description`, and no trace of `secret`.
pub async fn assert_rejected(res: reqwest::Response, status: u16, error: &str, secret: &str) {
    assert_eq!(res.status().as_u16(), status);
    let challenge = res
        .headers()
        .get("www-authenticate")
        .expect("a 401/403 carries WWW-Authenticate")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let text = res.text().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).expect("a JSON body");
    assert_eq!(body["error"], error, "{text}");
    assert!(body["error_description"].is_string(), "{text}");
    if !secret.is_empty() {
        assert!(!text.contains(secret), "the body echoes the credential");
        assert!(
            !challenge.contains(secret),
            "the challenge echoes the credential"
        );
    }
}

/// The `name=value` of a `Set-Cookie` named `name` in `res`.
pub fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

pub fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The value of the first `name="csrf_token" value="…"` field in a dashboard `page`.
pub fn csrf_token(page: &str) -> String {
    let marker = r#"name="csrf_token" value=""#;
    let start = page.find(marker).expect("a CSRF field in the page") + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

/// The first `sk_live_…` key shown on `page`.
pub fn find_key(page: &str) -> String {
    let start = page.find("sk_live_").expect("a key on the page");
    page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The id of a key: the 12 characters after `sk_live_`.
pub fn key_id(key: &str) -> &str {
    &key[8..20]
}

/// Key `id`'s row (`<tr data-key-id="id" …>` up to its `</tr>`) in a dashboard `page`.
pub fn key_row<'a>(page: &'a str, id: &str) -> &'a str {
    let row = &page[page
        .find(&format!(r#"data-key-id="{id}""#))
        .expect("the key's row")..];
    &row[..row.find("</tr>").expect("the row's end")]
}

/// Posts the dashboard's password form (`POST /dashboard/login`) to `server` with `form`
/// and the extra request `headers`.
pub async fn password_form(
    server: &Server,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = http()
        .post(format!("{}/dashboard/login", server.url))
        .form(form);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}
