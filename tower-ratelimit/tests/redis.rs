//! Counters shared through the real Redis (`TEST_REDIS_URL`, default 127.0.0.1:6379); each test has its own key prefix.
#![cfg(feature = "redis")]

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth_core::{AuthLayer, AuthMethod, Principal};
use common::prefix;
use http::{Request, Response, StatusCode};
use redis::AsyncCommands;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_ratelimit::{Limit, Quota, RateLimiter, RedisConfig};

fn limiter(config: RedisConfig, limit: Option<Limit>, quota: Option<Quota>) -> RateLimiter {
    let mut builder = RateLimiter::builder().redis(config);
    if let Some(limit) = limit {
        builder = builder.limit(limit);
    }
    if let Some(quota) = quota {
        builder = builder.quota(quota);
    }
    builder.build().unwrap()
}

async fn count_admitted(limiter: RateLimiter, tasks: usize, attempts: usize) -> u64 {
    let admitted = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (limiter, admitted) = (limiter.clone(), admitted.clone());
            tokio::spawn(async move {
                for _ in 0..attempts {
                    if limiter
                        .check("alice", limiter.policy().unwrap())
                        .await
                        .unwrap()
                        .is_allowed()
                    {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    admitted.load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_on_two_instances_spend_a_quota_exactly() {
    for lease in [1, 20] {
        let config = RedisConfig::new(&testkit::require_redis())
            .prefix(&prefix("quota"))
            .lease(lease);
        let a = limiter(config.clone(), None, Some(Quota::total("credits", 300)));
        let b = limiter(config, None, Some(Quota::total("credits", 300)));
        let (x, y) = tokio::join!(count_admitted(a, 8, 100), count_admitted(b, 8, 100));
        // 1600 attempts at once against 300 credits: a read-then-write race would admit more.
        assert_eq!(x + y, 300, "lease {lease}: {x} + {y}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_100_per_second_within_5_percent() {
    let config = RedisConfig::new(&testkit::require_redis())
        .prefix(&prefix("rate"))
        .lease(10);
    let limit = || Some(Limit::per_second("rate", 100).with_burst(20));
    let instances = [
        limiter(config.clone(), limit(), None),
        limiter(config, limit(), None),
    ];
    let admitted = Arc::new(AtomicU64::new(0));
    let counting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let start = Instant::now();
    let (warmup, measured) = (Duration::from_secs(1), Duration::from_secs(4));
    let handles: Vec<_> = instances
        .into_iter()
        .map(|limiter| {
            let (admitted, counting) = (admitted.clone(), counting.clone());
            tokio::spawn(async move {
                // 500/s offered per instance, 1,000/s in all.
                let mut tick = tokio::time::interval(Duration::from_millis(2));
                while start.elapsed() < warmup + measured {
                    tick.tick().await;
                    let counted = counting.load(Ordering::Relaxed);
                    if limiter
                        .check("alice", limiter.policy().unwrap())
                        .await
                        .unwrap()
                        .is_allowed()
                        && counted
                    {
                        admitted.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(warmup).await;
    counting.store(true, Ordering::Relaxed);
    let counted_from = Instant::now();
    for handle in handles {
        handle.await.unwrap();
    }
    let seconds = counted_from.elapsed().as_secs_f64();
    let rate = admitted.load(Ordering::Relaxed) as f64 / seconds;
    assert!((95.0..=105.0).contains(&rate), "{rate:.1}/s admitted");
}

#[tokio::test]
async fn keys_expire_by_themselves() {
    let prefix = prefix("ttl");
    let limiter = limiter(
        RedisConfig::new(&testkit::require_redis())
            .prefix(&prefix)
            .lease(1),
        Some(Limit::per_minute("minute", 60)),
        Some(Quota::daily("daily", 1000)),
    );
    assert!(
        limiter
            .check("alice", limiter.policy().unwrap())
            .await
            .unwrap()
            .is_allowed()
    );
    let mut conn = redis::Client::open(testkit::require_redis())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let keys: Vec<String> = conn.keys(format!("{prefix}*")).await.unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    for key in keys {
        let ttl: i64 = conn.pttl(&key).await.unwrap();
        assert!(ttl > 0 && ttl <= 2 * 86_400_000, "{key}: {ttl}");
    }
}

fn app(
    limiter: &RateLimiter,
) -> impl tower::Service<Request<String>, Response = Response<String>, Error = Infallible> + Clone {
    let auth = |_: &Request<String>| Ok(Principal::new("alice", AuthMethod::Custom("t".into())));
    ServiceBuilder::new()
        .layer(AuthLayer::new(auth))
        .layer(limiter.layer())
        .service(service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new("ok".to_owned()))
        }))
}

#[tokio::test]
async fn redis_down_fails_closed_with_503_by_default() {
    let config = RedisConfig::new("redis://127.0.0.1:1").timeout(Duration::from_millis(200));
    let limiter = limiter(config, Some(Limit::per_second("rate", 10)), None);
    let started = Instant::now();
    let res = app(&limiter)
        .oneshot(Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn redis_down_fails_open_when_every_limit_says_so() {
    let config = RedisConfig::new("redis://127.0.0.1:1").timeout(Duration::from_millis(200));
    let open = Limit::per_second("rate", 10).insecure_fail_open();
    let limiter = limiter(config.clone(), Some(open.clone()), None);
    let res = app(&limiter)
        .oneshot(Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("ratelimit").is_none());
    // One closed part (here the quota) keeps the whole policy closed.
    let mixed = limiter_with(config, open, Quota::daily("daily", 5));
    let res = app(&mixed)
        .oneshot(Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}

fn limiter_with(config: RedisConfig, limit: Limit, quota: Quota) -> RateLimiter {
    limiter(config, Some(limit), Some(quota))
}

#[tokio::test]
async fn a_refusal_through_redis_carries_exact_headers() {
    let limiter = limiter(
        RedisConfig::new(&testkit::require_redis())
            .prefix(&prefix("headers"))
            .lease(1),
        Some(Limit::per_minute("minute", 2)),
        None,
    );
    let svc = app(&limiter);
    let first = svc
        .clone()
        .oneshot(Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(first.headers()["ratelimit"], r#""minute";r=1;t=30"#);
    svc.clone()
        .oneshot(Request::new(String::new()))
        .await
        .unwrap();
    let res = svc.oneshot(Request::new(String::new())).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["ratelimit-policy"], r#""minute";q=2;w=60"#);
    assert_eq!(res.headers()["retry-after"], "30");
    assert_eq!(res.headers()["ratelimit"], r#""minute";r=0;t=60"#);
}
