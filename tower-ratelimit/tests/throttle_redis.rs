//! The throttle shared through the real Redis (`TEST_REDIS_URL`, default 127.0.0.1:6379):
//! failures counted by one instance throttle the address on another, keys expire by
//! themselves, the right password works again once the guessing stops, and an unreachable
//! Redis answers 503 unless every limit fails open.
#![cfg(feature = "redis")]

mod common;

use std::time::{Duration, Instant};

use common::{app, attempt, claimed, prefix};
use http::StatusCode;
use redis::AsyncCommands;
use tower::ServiceExt;
use tower_ratelimit::{Limit, RedisConfig, Throttle};

fn shared(prefix: &str, limit: Limit) -> Throttle {
    Throttle::builder()
        .per_address(limit)
        .redis(RedisConfig::new(&testkit::require_redis()).prefix(prefix))
        .build()
        .unwrap()
}

async fn status(throttle: &Throttle, token: &str, peer: &str) -> StatusCode {
    app(throttle)
        .oneshot(attempt(token, peer))
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn failures_on_one_instance_throttle_the_address_on_another() {
    let prefix = prefix("throttle-shared");
    // One failure a second, three at once.
    let limit = || Limit::per_minute("login-ip", 60).with_burst(3);
    let (a, b) = (shared(&prefix, limit()), shared(&prefix, limit()));
    for _ in 0..3 {
        assert_eq!(status(&a, "alice.wrong", "10.0.0.1:1").await, 401);
    }
    let refused = app(&b)
        .oneshot(attempt("alice.wrong", "10.0.0.1:2"))
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(
        refused.headers()["ratelimit-policy"],
        r#""login-ip";q=60;w=60"#
    );
    assert_eq!(refused.headers()["ratelimit"], r#""login-ip";r=0;t=3"#);
    // Over the limit, even the right password gets 429 on either instance.
    assert_eq!(status(&b, "alice.right", "10.0.0.1:2").await, 429);
    assert_eq!(status(&a, "alice.right", "10.0.0.1:1").await, 429);
    // Another address is not affected.
    assert_eq!(status(&b, "alice.wrong", "10.0.0.2:1").await, 401);
    assert_eq!(status(&b, "alice.right", "10.0.0.3:1").await, 200);
}

#[tokio::test]
async fn claimed_identities_are_shared_too() {
    let prefix = prefix("throttle-identity");
    let throttle = || {
        Throttle::builder()
            .per_identity(Limit::per_minute("login-user", 60).with_burst(2), claimed)
            .redis(RedisConfig::new(&testkit::require_redis()).prefix(&prefix))
            .build()
            .unwrap()
    };
    let (a, b) = (throttle(), throttle());
    assert_eq!(status(&a, "alice.wrong", "10.0.0.1:1").await, 401);
    assert_eq!(status(&b, "alice.wrong", "10.0.0.2:1").await, 401);
    // alice is guessed from two addresses; a third instance and address is stopped.
    assert_eq!(status(&a, "alice.right", "10.0.0.3:1").await, 429);
    assert_eq!(status(&b, "bob.wrong", "10.0.0.3:1").await, 401);
    // The handle, as a login form uses it.
    let refused = b
        .check(Some("10.0.0.4".parse().unwrap()), Some("alice"))
        .await
        .unwrap_err();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(b.check(None, Some("carol")).await.is_ok());
    b.record_failure(None, Some("carol")).await;
    b.record_failure(None, Some("carol")).await;
    assert!(a.check(None, Some("carol")).await.is_err());
}

#[tokio::test]
async fn the_right_password_works_once_the_guessing_stops() {
    let prefix = prefix("throttle-drain");
    // One failure every 100 ms, two at once: drained 200 ms after the last one.
    let throttle = shared(&prefix, Limit::per_second("login-ip", 10).with_burst(2));
    for _ in 0..2 {
        assert_eq!(status(&throttle, "alice.wrong", "10.0.0.1:1").await, 401);
    }
    assert_eq!(status(&throttle, "alice.right", "10.0.0.1:1").await, 429);
    // Refusals are not counted: they do not push the end of the throttling further.
    for _ in 0..20 {
        assert_eq!(status(&throttle, "alice.wrong", "10.0.0.1:1").await, 429);
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(status(&throttle, "alice.right", "10.0.0.1:1").await, 200);
    // Successes are not counted either.
    for _ in 0..5 {
        assert_eq!(status(&throttle, "alice.right", "10.0.0.1:1").await, 200);
    }
}

#[tokio::test]
async fn keys_expire_when_their_bucket_is_empty() {
    let prefix = prefix("throttle-ttl");
    let throttle = shared(&prefix, Limit::per_minute("login-ip", 10).with_burst(5));
    assert_eq!(status(&throttle, "alice.wrong", "10.0.0.1:1").await, 401);
    assert_eq!(status(&throttle, "alice.wrong", "10.0.0.1:1").await, 401);
    let mut conn = redis::Client::open(testkit::require_redis())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = conn.keys(format!("{prefix}*")).await.unwrap();
    assert_eq!(keys, [format!("{prefix}{{throttle}}:login-ip:a:10.0.0.1")]);
    // Two failures at one every 6 s: empty again in 12 s.
    let ttl: i64 = conn.pttl(&keys[0]).await.unwrap();
    assert!((11_000..=12_001).contains(&ttl), "{ttl} ms");
    // Looking counts nothing and writes nothing.
    assert_eq!(status(&throttle, "alice.right", "10.0.0.2:1").await, 200);
    let keys: Vec<String> = conn.keys(format!("{prefix}*")).await.unwrap();
    assert_eq!(keys.len(), 1, "{keys:?}");
}

fn unreachable(limit: Limit) -> Throttle {
    Throttle::builder()
        .per_address(limit)
        .redis(RedisConfig::new("redis://127.0.0.1:1").timeout(Duration::from_millis(200)))
        .build()
        .unwrap()
}

#[tokio::test]
async fn redis_down_answers_503_by_default() {
    let throttle = unreachable(Limit::per_minute("login-ip", 10));
    let started = Instant::now();
    let res = app(&throttle)
        .oneshot(attempt("alice.right", "10.0.0.1:1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_secs(2));
    let err = throttle
        .check(Some("10.0.0.1".parse().unwrap()), None)
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn redis_down_fails_open_when_every_limit_says_so() {
    let throttle = unreachable(Limit::per_minute("login-ip", 1).insecure_fail_open());
    let started = Instant::now();
    // Checked blind: the credential decides, and the failures cannot be counted.
    for _ in 0..3 {
        assert_eq!(status(&throttle, "alice.wrong", "10.0.0.1:1").await, 401);
    }
    assert_eq!(status(&throttle, "alice.right", "10.0.0.1:1").await, 200);
    assert!(started.elapsed() < Duration::from_secs(5));
}
