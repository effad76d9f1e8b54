//! Rate limits shared through a Redis that crashes and comes back empty (the test's own
//! `redis-server`): refused with 503 while it is down (the default, failing closed), and
//! the first check after the return is answered by Redis again.
#![cfg(feature = "redis")]

use std::time::{Duration, Instant};

use testkit::RedisServer;
use tower_ratelimit::{Limit, RateLimiter, RedisConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_check_after_redis_returns_is_answered() {
    let started = Instant::now();
    let mut redis = RedisServer::start();
    let limiter = RateLimiter::builder()
        .redis(RedisConfig::new(&redis.url()).prefix("outage:").lease(1))
        .limit(Limit::per_minute("minute", 1000))
        .build()
        .unwrap();
    // A second instance with no traffic during the outage: its connection dies unnoticed.
    let quiet = RateLimiter::builder()
        .redis(RedisConfig::new(&redis.url()).prefix("outage:").lease(1))
        .limit(Limit::per_minute("minute", 1000))
        .build()
        .unwrap();
    let check = || async { limiter.check("alice", limiter.policy().unwrap()).await };
    assert!(check().await.unwrap().is_allowed());
    assert!(
        quiet
            .check("bob", quiet.policy().unwrap())
            .await
            .unwrap()
            .is_allowed()
    );

    tokio::task::block_in_place(|| redis.stop());
    let down = Instant::now();
    let refused = check()
        .await
        .expect_err("no limit is vouched for while Redis is down");
    assert_eq!(refused.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        down.elapsed() < Duration::from_secs(2),
        "bounded by the 500 ms store timeout: {:?}",
        down.elapsed()
    );
    tokio::task::block_in_place(|| redis.restart());

    let first = quiet.check("bob", quiet.policy().unwrap()).await;
    assert!(
        first.as_ref().is_ok_and(|d| d.is_allowed()),
        "the quiet instance's first check after Redis returned: {first:?}"
    );
    let first = check().await;
    assert!(
        first.as_ref().is_ok_and(|d| d.is_allowed()),
        "the first check after Redis returned: {first:?}"
    );
    eprintln!("rate-limit outage test: {:?}", started.elapsed());
}
