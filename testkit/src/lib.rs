//! Test helpers shared by the workspace's crates (a dev-dependency only).
//!
//! - [`postgres_url`] / [`redis_url`]: the machine's services, from `TEST_POSTGRES_URL` /
//!   `TEST_REDIS_URL`; [`require_postgres`] / [`require_redis`] fail loudly when they are
//!   not reachable (a missing service never lets a test pass silently).
//! - [`RedisServer`] / [`PgCluster`]: a test's own server on a free loopback port, which it
//!   may stop and start without touching the machine's services.
//! - [`OidcProvider`]: the committed `oidc-provider` (npm) on a free port.
//! - [`Jar`]: a cookie jar filled from `Set-Cookie` headers.
//! - [`dpop`]: DPoP proofs and DPoP-bound tokens, as a client makes them.

mod cookies;
pub mod dpop;
mod oidc;
mod postgres;
mod redis;

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

pub use cookies::{Headers, Jar};
pub use oidc::{OidcProvider, ensure_npm_installed, node_version, provider_dir};
pub use postgres::PgCluster;
pub use redis::RedisServer;

/// The variable naming the PostgreSQL the tests use.
pub const POSTGRES_VAR: &str = "TEST_POSTGRES_URL";
/// The variable naming the Redis the tests use.
pub const REDIS_VAR: &str = "TEST_REDIS_URL";
/// PostgreSQL when [`POSTGRES_VAR`] is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Redis when [`REDIS_VAR`] is unset.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// `TEST_POSTGRES_URL`, or `postgres://postgres@127.0.0.1:5432/test`.
#[must_use]
pub fn postgres_url() -> String {
    std::env::var(POSTGRES_VAR).unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned())
}

/// `TEST_REDIS_URL`, or `redis://127.0.0.1:6379`.
#[must_use]
pub fn redis_url() -> String {
    std::env::var(REDIS_VAR).unwrap_or_else(|_| DEFAULT_REDIS_URL.to_owned())
}

/// [`postgres_url`], after checking (2 s) that something accepts connections there.
///
/// # Panics
///
/// When nothing answers, naming the variable and what to start.
#[must_use]
pub fn require_postgres() -> String {
    let url = postgres_url();
    require(
        &url,
        5432,
        POSTGRES_VAR,
        "start PostgreSQL (e.g. `service postgresql start`)",
    );
    url
}

/// [`redis_url`], after checking (2 s) that something accepts connections there.
///
/// # Panics
///
/// When nothing answers, naming the variable and what to start.
#[must_use]
pub fn require_redis() -> String {
    let url = redis_url();
    require(
        &url,
        6379,
        REDIS_VAR,
        "start Redis (e.g. `redis-server --daemonize yes`)",
    );
    url
}

fn require(url: &str, default_port: u16, var: &str, start: &str) {
    let parsed = url::Url::parse(url)
        .unwrap_or_else(|e| panic!("{var}={url} is not a URL ({e}); unset it or fix it"));
    let host = parsed.host_str().unwrap_or("127.0.0.1");
    let port = parsed.port().unwrap_or(default_port);
    let reachable = (host, port)
        .to_socket_addrs()
        .ok()
        .is_some_and(|mut addrs| {
            addrs.any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok())
        });
    assert!(
        reachable,
        "this test needs the service at {url} ({var}; default shown when unset): nothing \
         accepts connections on {host}:{port}. {start}, or set {var}."
    );
}

/// A free loopback port (bound, read, released).
///
/// # Panics
///
/// When no port can be bound on 127.0.0.1.
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free loopback port")
}

/// Waits (polling every 20 ms, up to `within`) until `port` on loopback accepts or refuses
/// connections as `accepting` says; whether it got there.
#[must_use]
pub fn wait_for_port(port: u16, accepting: bool, within: Duration) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + within;
    loop {
        let open = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok();
        if open == accepting {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
