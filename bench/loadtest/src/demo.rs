//! The demo under test: its CLI (`keys create`, `token`), the server pinned to one core,
//! a login through the local issuer for a session cookie, and status checks.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::Duration;

use reqwest::header::{COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION, SET_COOKIE};
use serde_json::Value;

/// The demo binary and the environment every invocation shares.
#[derive(Debug, Clone)]
pub(crate) struct Demo {
    pub(crate) binary: PathBuf,
    pub(crate) env: Vec<(String, String)>,
}

impl Demo {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// `demo ARGS…`, its stdout; fails with its stderr.
    pub(crate) fn cli(&self, args: &[&str]) -> Result<String, String> {
        let output = self
            .command()
            .args(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.binary.display()))?;
        if !output.status.success() {
            return Err(format!(
                "demo {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        String::from_utf8(output.stdout).map_err(|e| format!("demo {}: {e}", args.join(" ")))
    }

    /// Starts the server pinned to `core`; returns once it prints `listening on`.
    pub(crate) fn serve(&self, core: u32, log: &Path) -> Result<Server, String> {
        let stderr = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut child = Command::new("taskset")
            .arg("-c")
            .arg(core.to_string())
            .arg(&self.binary)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start the demo: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_owned());
                }
            }
        });
        let mut server = Server { child, url: None };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => {
                server.url = Some(url);
                Ok(server)
            }
            Err(_) => Err(format!(
                "the demo did not print `listening on` within 30 s; its log: {}",
                log.display()
            )),
        }
    }
}

/// The running demo; stopped with SIGTERM on drop.
#[derive(Debug)]
pub(crate) struct Server {
    child: Child,
    url: Option<String>,
}

impl Server {
    pub(crate) fn url(&self) -> &str {
        self.url.as_deref().unwrap_or_default()
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The CPU time the server has used so far, user + system, all its threads (fields 14
    /// and 15 of `/proc/PID/stat`, in clock ticks).
    pub(crate) fn cpu_time(&self) -> Result<Duration, String> {
        let path = format!("/proc/{}/stat", self.child.id());
        let stat = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let ticks =
            cpu_ticks(&stat).ok_or_else(|| format!("{path}: no utime/stime in {stat:?}"))?;
        Ok(Duration::from_secs(ticks) / clock_ticks())
    }
}

/// utime + stime (fields 14 and 15) of a `/proc/PID/stat` line, in clock ticks.
fn cpu_ticks(stat: &str) -> Option<u64> {
    // The command name (field 2) is in parentheses and may hold spaces and `)`: count
    // from the last `)`, after which field 3 comes first.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// `getconf CLK_TCK`, the unit of `/proc/PID/stat`'s times (100 on Linux unless told).
fn clock_ticks() -> u32 {
    static TICKS: OnceLock<u32> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|&t| t > 0)
            .unwrap_or(100)
    })
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that follows no redirect (the login walk reads each `Location`).
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a plain HTTP client builds")
}

/// `GET url` with `headers` must answer 200 with JSON `method` = `expected` (when given).
pub(crate) async fn check(
    client: &reqwest::Client,
    url: &str,
    headers: &[(String, String)],
    expected: Option<&str>,
) -> Result<(), String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.insert(
            HeaderName::try_from(name.as_str()).map_err(|e| e.to_string())?,
            HeaderValue::try_from(value.as_str()).map_err(|e| e.to_string())?,
        );
    }
    let response = client
        .get(url)
        .headers(map)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status != reqwest::StatusCode::OK {
        return Err(format!("GET {url} answered {status}: {body}"));
    }
    if let Some(expected) = expected {
        let json: Value =
            serde_json::from_str(&body).map_err(|e| format!("GET {url}: {e}: {body}"))?;
        if json["method"] != expected {
            return Err(format!(
                "GET {url}: method {} instead of {expected}",
                json["method"]
            ));
        }
    }
    Ok(())
}

/// Logs in through `/oauth/oidc/login` (the local issuer answers at once) and returns the
/// session cookie as `name=value`.
pub(crate) async fn login(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let login = client
        .get(format!("{base}/oauth/oidc/login?return_to=/"))
        .send()
        .await
        .map_err(|e| format!("login: {e}"))?;
    let transaction = cookies(login.headers());
    let to_provider = location(&login, "login")?;
    let authorized = client
        .get(&to_provider)
        .send()
        .await
        .map_err(|e| format!("authorize: {e}"))?;
    let callback = location(&authorized, "authorize")?;
    let done = client
        .get(&callback)
        .header(COOKIE, transaction)
        .send()
        .await
        .map_err(|e| format!("callback: {e}"))?;
    location(&done, "callback")?;
    let session = cookies(done.headers());
    session
        .split("; ")
        .find(|c| !c.is_empty() && !c.ends_with('='))
        .map(str::to_owned)
        .ok_or_else(|| "the callback set no session cookie".to_owned())
}

/// Every `Set-Cookie` as `name=value; …` (attributes dropped).
fn cookies(headers: &HeaderMap) -> String {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .collect::<Vec<_>>()
        .join("; ")
}

fn location(response: &reqwest::Response, step: &str) -> Result<String, String> {
    if !response.status().is_redirection() {
        return Err(format!(
            "{step} answered {} instead of a redirect",
            response.status()
        ));
    }
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| format!("{step}: redirect without Location"))?;
    response
        .url()
        .join(location)
        .map(String::from)
        .map_err(|e| format!("{step}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::cpu_ticks;

    #[test]
    fn cpu_ticks_adds_utime_and_stime_whatever_the_command_name() {
        let stat = "4242 (demo (x) y) S 1 4242 4242 0 -1 4194560 1234 0 0 0 \
                    1500 230 0 0 20 0 3 0 99 1000 200 18446744073709551615";
        assert_eq!(cpu_ticks(stat), Some(1730));
        assert_eq!(cpu_ticks("4242 (demo) S 1 2"), None);
        assert_eq!(cpu_ticks("no parenthesis"), None);
    }
}
