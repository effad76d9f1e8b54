//! A test's own PostgreSQL cluster (`initdb` + `pg_ctl`) on a free loopback port.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{free_port, wait_for_port};

/// A throwaway PostgreSQL cluster in a temporary directory (trust authentication, user
/// `postgres`, `fsync=off`), which a test may stop and start. When this process runs as
/// root the cluster runs as the `postgres` user (`initdb` refuses root). Stopped and
/// removed on drop.
#[derive(Debug)]
pub struct PgCluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
    running: bool,
}

/// The newest `/usr/lib/postgresql/*/bin` (or `TEST_PG_BIN`).
fn bin_dir() -> PathBuf {
    if let Ok(bin) = std::env::var("TEST_PG_BIN") {
        return PathBuf::from(bin);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).expect(
        "these tests need PostgreSQL's server binaries under /usr/lib/postgresql/*/bin \
         (apt-get install postgresql), or TEST_PG_BIN naming the directory of pg_ctl",
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

impl PgCluster {
    /// Creates and starts a cluster on a free port (a few seconds).
    ///
    /// # Panics
    ///
    /// When the binaries are missing or `initdb` / `pg_ctl` fail (their output is quoted).
    #[must_use]
    pub fn start() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "towerauth-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let mut cluster = Self {
            bin: bin_dir(),
            dir,
            port: free_port(),
            as_postgres: is_root(),
            running: false,
        };
        let dir = cluster.dir.display().to_string();
        cluster.run(
            "initdb",
            &[
                "-D",
                &dir,
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.restart();
        cluster
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port it listens on (the same across restarts).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (`pg_ctl stop -m immediate`: connections cut, as a crash) and waits
    /// until the port refuses connections.
    ///
    /// # Panics
    ///
    /// When `pg_ctl` fails or the port still accepts after 10 s.
    pub fn stop(&mut self) {
        let dir = self.dir.display().to_string();
        self.run("pg_ctl", &["-D", &dir, "-m", "immediate", "-w", "stop"]);
        self.running = false;
        assert!(
            wait_for_port(self.port, false, Duration::from_secs(10)),
            "port {} still accepts connections after pg_ctl stop",
            self.port
        );
    }

    /// Starts the server (again) with its data; waits until it accepts connections.
    ///
    /// # Panics
    ///
    /// When `pg_ctl start` fails or the port is not open within 30 s.
    pub fn restart(&mut self) {
        let dir = self.dir.display().to_string();
        let options = format!(
            "-p {} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
            self.port
        );
        let log = self.dir.join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D", &dir, "-o", &options, "-l", &log, "-w", "-t", "30", "start",
            ],
        );
        self.running = true;
        assert!(
            wait_for_port(self.port, true, Duration::from_secs(30)),
            "PostgreSQL did not listen on 127.0.0.1:{} within 30 s",
            self.port
        );
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let out = self
            .command(program)
            .args(args)
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap_or_else(|e| panic!("could not run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            server_log(&self.dir)
        );
        out
    }
}

fn server_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log"))
        .map(|log| format!("\nserver.log:\n{log}"))
        .unwrap_or_default()
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let dir = self.dir.display().to_string();
            let _ = self
                .command("pg_ctl")
                .args(["-D", &dir, "-m", "immediate", "-w", "stop"])
                .output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_stops_and_starts_on_its_port() {
        let mut cluster = PgCluster::start();
        let port = cluster.port();
        assert!(wait_for_port(port, true, Duration::from_secs(1)));
        cluster.stop();
        assert!(wait_for_port(port, false, Duration::from_secs(1)));
        cluster.restart();
        assert!(wait_for_port(port, true, Duration::from_secs(1)));
    }
}
