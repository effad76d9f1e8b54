//! Sessions in a Redis that crashes and comes back empty (the test's own `redis-server`):
//! while it is down every store call fails (the layer answers 503); afterwards the lost
//! session reads as absent (logged out, never someone else's), and the first call after
//! the return succeeds.
#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use testkit::RedisServer;
use tower_oauth::store::{RedisSessionStore, SessionStore};

const IDLE: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_in_a_redis_restarted_empty_are_logged_out_and_the_first_call_works() {
    let started = Instant::now();
    let mut redis = RedisServer::start();
    let a = RedisSessionStore::connect(&redis.url())
        .await
        .unwrap()
        .key_prefix("outage:");
    let b = RedisSessionStore::connect(&redis.url())
        .await
        .unwrap()
        .key_prefix("outage:");
    a.save("alice", "alice-record".to_owned(), IDLE, IDLE)
        .await
        .unwrap();
    assert_eq!(
        b.load("alice", IDLE).await.unwrap().as_deref(),
        Some("alice-record")
    );

    tokio::task::block_in_place(|| redis.stop());
    let down = Instant::now();
    assert!(a.load("alice", IDLE).await.is_err(), "no answer while down");
    assert!(
        down.elapsed() < Duration::from_secs(3),
        "a call while Redis is down fails within the 2 s timeout: {:?}",
        down.elapsed()
    );
    tokio::task::block_in_place(|| redis.restart());

    // B's connection died unnoticed: its first call after the return succeeds, and the
    // lost session is absent (the user logs in again).
    assert_eq!(b.load("alice", IDLE).await.unwrap(), None);
    assert_eq!(a.load("alice", IDLE).await.unwrap(), None);
    assert!(
        !a.replace("alice", "alice-record", "x".to_owned(), IDLE, IDLE)
            .await
            .unwrap(),
        "a lost session is not written back by a token refresh"
    );
    assert!(b.claim("login-1", IDLE).await.unwrap());
    assert!(!a.claim("login-1", IDLE).await.unwrap());
    b.save("bob", "bob-record".to_owned(), IDLE, IDLE)
        .await
        .unwrap();
    assert_eq!(
        a.load("bob", IDLE).await.unwrap().as_deref(),
        Some("bob-record")
    );
    eprintln!("session outage test: {:?}", started.elapsed());
}
