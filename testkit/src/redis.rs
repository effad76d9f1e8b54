//! A test's own `redis-server`, on a free loopback port, without persistence.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for_port};

/// A `redis-server` of this test only (`--save '' --appendonly no`): stopping and starting it
/// loses every key, as a crashed Redis without persistence does. Killed on drop.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts one on a free port and waits (10 s) until it accepts connections.
    ///
    /// # Panics
    ///
    /// Without `redis-server` on PATH, or when it does not start.
    #[must_use]
    pub fn start() -> Self {
        let mut server = Self {
            port: free_port(),
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:PORT`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port it listens on (the same across restarts).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL, as a crash) and waits until the port refuses connections.
    ///
    /// # Panics
    ///
    /// When it is already stopped, or the port still accepts after 10 s.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("the Redis server is not running");
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            wait_for_port(self.port, false, Duration::from_secs(10)),
            "port {} still accepts connections after killing redis-server",
            self.port
        );
    }

    /// Starts the server again, empty, on the same port; waits until it accepts.
    ///
    /// # Panics
    ///
    /// When it is running, or does not start within 10 s.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the Redis server is already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--dir", &std::env::temp_dir().display().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("these tests need `redis-server` on PATH (apt-get install redis-server)");
        self.child = Some(child);
        assert!(
            wait_for_port(self.port, true, Duration::from_secs(10)),
            "redis-server did not listen on 127.0.0.1:{} within 10 s",
            self.port
        );
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
