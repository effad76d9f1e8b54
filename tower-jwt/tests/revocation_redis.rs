//! The Redis-shared revocation store against the real Redis on 127.0.0.1:6379: propagation
//! between instances (measured), loading at start, and the behaviour when Redis is down
//! (through a loopback TCP proxy this test cuts and restores).
#![cfg(feature = "redis")]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use auth_core::StoreErrorKind;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tower_jwt::revocation::{
    RedisRevocationStore, Revocation, RevocationStatus, RevocationStore, TokenRef,
};

const ISS: &str = "https://auth.example.com";

/// `host:port` of the Redis these tests use (`TEST_REDIS_URL`), checked reachable.
fn redis_addr() -> String {
    let url = url::Url::parse(&testkit::require_redis()).expect("TEST_REDIS_URL is a URL");
    format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port().unwrap_or(6379)
    )
}

async fn require_redis() {
    TcpStream::connect(redis_addr())
        .await
        .expect("these tests need Redis (TEST_REDIS_URL; start redis-server)");
}

fn prefix(test: &str) -> String {
    format!("test:{test}:{}:", uuid::Uuid::new_v4())
}

fn token(jti: &str) -> TokenRef<'_> {
    TokenRef {
        issuer: ISS,
        jti: Some(jti),
        subject: "alice",
        issued_at: SystemTime::now(),
    }
}

fn exp() -> SystemTime {
    SystemTime::now() + Duration::from_secs(900)
}

async fn store(url: &str, prefix: &str) -> RedisRevocationStore {
    RedisRevocationStore::builder(url)
        .key_prefix(prefix)
        .connect()
        .await
        .unwrap()
}

fn percentiles(samples: &mut [Duration]) -> (Duration, Duration, Duration) {
    samples.sort();
    let n = samples.len();
    (samples[n / 2], samples[n * 99 / 100], samples[n - 1])
}

async fn wait_for(mut condition: impl FnMut() -> bool, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    condition()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_on_a_reaches_b_within_milliseconds() {
    require_redis().await;
    let prefix = prefix("propagation");
    let url = testkit::redis_url();
    let a = store(&url, &prefix).await;
    let b = store(&url, &prefix).await;

    let mut latencies = Vec::with_capacity(200);
    for i in 0..200 {
        let jti = format!("jti-{i}");
        assert_eq!(b.check(&token(&jti)), RevocationStatus::Active);
        let start = Instant::now();
        a.revoke(Revocation::token(ISS, jti.clone(), exp()))
            .await
            .unwrap();
        // Revoked on A as soon as `revoke` returns.
        assert_eq!(a.check(&token(&jti)), RevocationStatus::Revoked);
        while b.check(&token(&jti)) != RevocationStatus::Revoked {
            assert!(
                start.elapsed() < Duration::from_secs(1),
                "revocation {i} did not reach B within the stated 1 s bound"
            );
            tokio::task::yield_now().await;
        }
        latencies.push(start.elapsed());
    }
    let (p50, p99, max) = percentiles(&mut latencies);
    // Baseline in the same run: one PING round trip to the same Redis.
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let mut pings = Vec::with_capacity(200);
    for _ in 0..200 {
        let start = Instant::now();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .unwrap();
        pings.push(start.elapsed());
    }
    let (ping50, ping99, _) = percentiles(&mut pings);
    println!(
        "propagation A -> B over 200 revocations (revoke call start to B refusing): \
         p50 {p50:?}, p99 {p99:?}, max {max:?}; baseline PING round trip p50 {ping50:?}, \
         p99 {ping99:?} (p99 ratio {:.1}x)",
        p99.as_secs_f64() / ping99.as_secs_f64()
    );

    // A "log out everywhere" watermark propagates too.
    let now = SystemTime::now();
    a.revoke(Revocation::subject(ISS, "bob", now, exp()))
        .await
        .unwrap();
    let old_bob = TokenRef {
        subject: "bob",
        jti: None,
        issued_at: now - Duration::from_secs(5),
        ..token("x")
    };
    assert!(
        wait_for(
            || b.check(&old_bob) == RevocationStatus::Revoked,
            Duration::from_secs(1)
        )
        .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_started_later_loads_live_revocations() {
    require_redis().await;
    let prefix = prefix("late-start");
    let url = testkit::redis_url();
    let a = store(&url, &prefix).await;
    let now = SystemTime::now();
    a.revoke(Revocation::token(ISS, "early", exp()))
        .await
        .unwrap();
    a.revoke(Revocation::subject(ISS, "carol", now, exp()))
        .await
        .unwrap();
    // Expired long ago (past any leeway): not loaded.
    let stale = SystemTime::now() - Duration::from_secs(3600);
    a.revoke(Revocation::token(ISS, "stale", stale))
        .await
        .unwrap();

    let b = store(&url, &prefix).await;
    assert_eq!(b.check(&token("early")), RevocationStatus::Revoked);
    let old_carol = TokenRef {
        subject: "carol",
        issued_at: now - Duration::from_secs(1),
        ..token("y")
    };
    assert_eq!(b.check(&old_carol), RevocationStatus::Revoked);
    assert_eq!(b.check(&token("stale")), RevocationStatus::Active);
    assert_eq!(b.memory().len(), 2);

    // Another prefix is another application: nothing leaks across.
    let other = store(&url, &format!("{prefix}other:")).await;
    assert_eq!(other.check(&token("early")), RevocationStatus::Active);
}

/// A loopback TCP proxy to Redis that the test can cut and restore.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = Self {
            port,
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let tasks = Arc::clone(&self.tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let connection = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(redis_addr()).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(connection);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Refuses new connections and cuts the open ones.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    async fn restore(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port)).await.unwrap();
        self.serve(listener);
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

async fn through_proxy(proxy: &Proxy, prefix: &str, fail_open: bool) -> RedisRevocationStore {
    let builder = RedisRevocationStore::builder(proxy.url())
        .key_prefix(prefix)
        .heartbeat(Duration::from_millis(100))
        .timeout(Duration::from_millis(300))
        .max_staleness(Duration::from_millis(500));
    let builder = if fail_open {
        builder.insecure_fail_open()
    } else {
        builder
    };
    builder.connect().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_keeps_local_revocations_and_recovers() {
    require_redis().await;
    let prefix = prefix("outage-closed");
    let proxy = Proxy::start().await;
    let b = through_proxy(&proxy, &prefix, false).await;
    let a = store(&testkit::redis_url(), &prefix).await;
    b.revoke(Revocation::token(ISS, "known", exp()))
        .await
        .unwrap();
    assert!(b.is_fresh());
    assert_eq!(b.check(&token("unknown")), RevocationStatus::Active);

    proxy.cut();
    // Within the stated bound (max_staleness + heartbeat + timeout, here about 1 s) the store
    // stops vouching: unknown tokens get "unavailable" (503), known ones stay revoked.
    assert!(wait_for(|| !b.is_fresh(), Duration::from_secs(3)).await);
    assert_eq!(b.check(&token("unknown")), RevocationStatus::Unavailable);
    assert_eq!(b.check(&token("known")), RevocationStatus::Revoked);

    // A revocation made here while Redis is down is enforced here, and reported as not shared.
    let err = b
        .revoke(Revocation::token(ISS, "during-outage", exp()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert_eq!(b.check(&token("during-outage")), RevocationStatus::Revoked);

    // A revocation made elsewhere meanwhile is missed now, and learned on reconnection.
    a.revoke(Revocation::token(ISS, "missed", exp()))
        .await
        .unwrap();
    assert_eq!(b.check(&token("missed")), RevocationStatus::Unavailable);

    proxy.restore().await;
    assert!(
        wait_for(|| b.is_fresh(), Duration::from_secs(5)).await,
        "recovers by itself"
    );
    assert_eq!(b.check(&token("missed")), RevocationStatus::Revoked);
    assert_eq!(b.check(&token("unknown")), RevocationStatus::Active);
    proxy.cut();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_with_fail_open_answers_active_but_keeps_local_revocations() {
    require_redis().await;
    let prefix = prefix("outage-open");
    let proxy = Proxy::start().await;
    let b = through_proxy(&proxy, &prefix, true).await;
    b.revoke(Revocation::token(ISS, "known", exp()))
        .await
        .unwrap();

    proxy.cut();
    assert!(wait_for(|| !b.is_fresh(), Duration::from_secs(3)).await);
    assert_eq!(b.check(&token("unknown")), RevocationStatus::Active);
    assert_eq!(b.check(&token("known")), RevocationStatus::Revoked);
}

#[tokio::test]
async fn unreachable_redis_fails_at_connect() {
    let err = RedisRevocationStore::builder("redis://127.0.0.1:1")
        .timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), auth_core::ConfigErrorKind::Setup);
    let err = RedisRevocationStore::builder("not a url")
        .connect()
        .await
        .unwrap_err();
    assert_eq!(err.field(), "url");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verifier_refuses_a_redis_store_that_forgets_before_its_leeway_ends() {
    require_redis().await;
    let prefix = prefix("leeway");
    let url = testkit::redis_url();
    let issuer = || {
        tower_jwt::IssuerConfig::builder(ISS)
            .audience("api")
            .leeway(Duration::from_secs(300))
            .hmac_secret(b"0123456789abcdef0123456789abcdef")
            .build()
            .unwrap()
    };
    let short = store(&url, &prefix).await;
    assert_eq!(short.leeway(), Duration::from_secs(30));
    let err = tower_jwt::JwtVerifier::builder()
        .issuer(issuer())
        .revocation(Arc::new(short))
        .build()
        .unwrap_err();
    assert_eq!(err.field(), "revocation");
    let long = RedisRevocationStore::builder(&url)
        .key_prefix(&prefix)
        .leeway(Duration::from_secs(300))
        .connect()
        .await
        .unwrap();
    assert!(
        tower_jwt::JwtVerifier::builder()
            .issuer(issuer())
            .revocation(Arc::new(long))
            .build()
            .is_ok()
    );
}
