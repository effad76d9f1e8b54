//! The per-identity layer inside an `AuthLayer`: exact headers, overrides, keys, anonymous
//! callers, gRPC, concurrency.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
use http::{Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_ratelimit::{KeyBy, Limit, ManualClock, Policy, Quota, RateLimiter};

const START: Duration = Duration::from_secs(1_700_000_000);

/// `Bearer <subject>[.<tenant>]` authenticates as that subject.
fn auth(req: &Request<String>) -> Result<Principal, AuthError> {
    let value = req
        .headers()
        .get("authorization")
        .ok_or_else(AuthError::missing)?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let (subject, tenant) = token.split_once('.').unwrap_or((token, ""));
    let mut p = Principal::new(subject, AuthMethod::Custom("test".into()));
    if !tenant.is_empty() {
        p = p.with_tenant(tenant);
    }
    Ok(p)
}

fn app(
    limiter: &RateLimiter,
) -> impl tower::Service<Request<String>, Response = Response<String>, Error = Infallible> + Clone {
    ServiceBuilder::new()
        .layer(AuthLayer::new(auth).optional())
        .layer(limiter.layer())
        .service(service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new("ok".to_owned()))
        }))
}

fn call(token: &str) -> Request<String> {
    Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(String::new())
        .unwrap()
}

#[tokio::test]
async fn headers_are_exact_on_admitted_and_refused_responses() {
    let clock = ManualClock::new(START);
    let limiter = RateLimiter::builder()
        .limit(Limit::per_second("burst", 10).with_burst(2))
        .quota(Quota::daily("daily", 100))
        .clock(clock.clone())
        .build()
        .unwrap();
    let svc = app(&limiter);
    // 1_700_000_000 is 2023-11-14T22:13:20Z: 6400 s to midnight UTC.
    let res = svc.clone().oneshot(call("alice")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["ratelimit-policy"],
        r#""burst";q=10;w=1, "daily";q=100;w=86400"#
    );
    assert_eq!(
        res.headers()["ratelimit"],
        r#""burst";r=1;t=1, "daily";r=99;t=6400"#
    );
    svc.clone().oneshot(call("alice")).await.unwrap();
    let res = svc.clone().oneshot(call("alice")).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
    assert_eq!(
        res.headers()["ratelimit"],
        r#""burst";r=0;t=1, "daily";r=98;t=6400"#
    );
    assert!(res.headers().get("www-authenticate").is_none());
    let body: serde_json::Value = serde_json::from_str(res.body()).unwrap();
    assert_eq!(body["error"], "rate_limited");
    // Another identity has its own budget; time refills alice's.
    assert_eq!(
        svc.clone().oneshot(call("bob")).await.unwrap().status(),
        StatusCode::OK
    );
    clock.advance(Duration::from_millis(100));
    let res = svc.oneshot(call("alice")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["ratelimit"],
        r#""burst";r=0;t=1, "daily";r=97;t=6400"#
    );
}

#[tokio::test]
async fn a_caller_under_its_rates_and_one_over_them_get_exact_values() {
    let clock = ManualClock::new(START);
    let limiter = RateLimiter::builder()
        .limit(Limit::per_second("second", 4).with_burst(3))
        .limit(Limit::per_minute("minute", 30))
        .clock(clock.clone())
        .build()
        .unwrap();
    let svc = app(&limiter);
    let ratelimit =
        |res: &Response<String>| res.headers()["ratelimit"].to_str().unwrap().to_owned();
    // Every limit whole: one interval spent of each.
    let whole = r#""second";r=2;t=1, "minute";r=29;t=2"#;
    let res = svc.clone().oneshot(call("alice")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(ratelimit(&res), whole);
    // At once again: faster than the rates, the values count down.
    let res = svc.clone().oneshot(call("alice")).await.unwrap();
    assert_eq!(ratelimit(&res), r#""second";r=1;t=1, "minute";r=28;t=4"#);
    // Slower than both rates (one request a minute): whole every time.
    for _ in 0..2 {
        clock.advance(Duration::from_secs(60));
        let res = svc.clone().oneshot(call("alice")).await.unwrap();
        assert_eq!(ratelimit(&res), whole);
    }
}

#[tokio::test]
async fn an_identity_gets_its_own_policy_from_the_request() {
    let premium = Policy::new([Limit::per_minute("minute", 5)], None).unwrap();
    let limiter = RateLimiter::builder()
        .limit(Limit::per_minute("minute", 1))
        .clock(ManualClock::new(START))
        .overrides(move |_, p: &Principal| (p.subject() == "vip").then(|| premium.clone()))
        .build()
        .unwrap();
    let svc = app(&limiter);
    for _ in 0..5 {
        assert_eq!(
            svc.clone().oneshot(call("vip")).await.unwrap().status(),
            200
        );
    }
    assert_eq!(
        svc.clone().oneshot(call("vip")).await.unwrap().status(),
        429
    );
    assert_eq!(
        svc.clone().oneshot(call("pleb")).await.unwrap().status(),
        200
    );
    let res = svc.oneshot(call("pleb")).await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "60");
    assert_eq!(res.headers()["ratelimit-policy"], r#""minute";q=1;w=60"#);
}

#[tokio::test]
async fn tenants_share_a_budget_and_anonymous_callers_share_theirs() {
    let limiter = RateLimiter::builder()
        .limit(Limit::per_minute("minute", 1))
        .key_by(KeyBy::Tenant)
        .clock(ManualClock::new(START))
        .build()
        .unwrap();
    let svc = app(&limiter);
    assert_eq!(
        svc.clone().oneshot(call("a.acme")).await.unwrap().status(),
        200
    );
    assert_eq!(
        svc.clone().oneshot(call("b.acme")).await.unwrap().status(),
        429
    );
    assert_eq!(
        svc.clone().oneshot(call("c.other")).await.unwrap().status(),
        200
    );
    let anonymous = || Request::new(String::new());
    assert_eq!(
        svc.clone().oneshot(anonymous()).await.unwrap().status(),
        200
    );
    assert_eq!(svc.oneshot(anonymous()).await.unwrap().status(), 429);
}

#[tokio::test]
async fn grpc_calls_get_resource_exhausted() {
    let limiter = RateLimiter::builder()
        .limit(Limit::per_minute("minute", 1))
        .clock(ManualClock::new(START))
        .build()
        .unwrap();
    let svc = app(&limiter);
    let grpc = || {
        Request::builder()
            .version(http::Version::HTTP_2)
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header("authorization", "Bearer alice")
            .body(String::new())
            .unwrap()
    };
    svc.clone().oneshot(grpc()).await.unwrap();
    let res = svc.oneshot(grpc()).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["grpc-status"], "8");
    assert_eq!(res.headers()["retry-after"], "60");
}

#[tokio::test]
async fn headers_on_admitted_responses_can_be_turned_off() {
    let limiter = RateLimiter::builder()
        .limit(Limit::per_minute("minute", 5))
        .headers(false)
        .build()
        .unwrap();
    let res = app(&limiter).oneshot(call("alice")).await.unwrap();
    assert!(res.headers().get("ratelimit").is_none());
    assert!(res.headers().get("ratelimit-policy").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_of_one_identity_never_exceed_the_limit() {
    let limiter = RateLimiter::builder()
        .limit(Limit::per_minute("minute", 1000))
        .quota(Quota::total("credits", 700))
        .clock(ManualClock::new(START))
        .build()
        .unwrap();
    let admitted = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (limiter, admitted) = (limiter.clone(), admitted.clone());
            tokio::spawn(async move {
                for _ in 0..200 {
                    let d = limiter
                        .check("s:alice", limiter.policy().unwrap())
                        .await
                        .unwrap();
                    if d.is_allowed() {
                        admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // 3200 attempts at one instant: exactly the quota's 700 pass, no more, no fewer.
    assert_eq!(admitted.load(std::sync::atomic::Ordering::Relaxed), 700);
}

#[tokio::test]
async fn without_a_default_policy_only_identities_with_their_own_are_limited() {
    let clock = ManualClock::new(START);
    let own = Policy::new([Limit::per_minute("minute", 2)], None).unwrap();
    let limiter = RateLimiter::builder()
        .overrides(move |_, principal| (principal.subject() == "limited").then(|| own.clone()))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(limiter.policy().is_none());
    let svc = app(&limiter);

    for _ in 0..5 {
        let res = svc.clone().oneshot(call("free")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get("ratelimit").is_none());
        assert!(res.headers().get("ratelimit-policy").is_none());
    }
    // Anonymous callers have no policy either.
    let anonymous = Request::builder().body(String::new()).unwrap();
    assert_eq!(
        svc.clone().oneshot(anonymous).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(limiter.tracked_identities(), 0, "nothing is kept for them");

    for _ in 0..2 {
        let res = svc.clone().oneshot(call("limited")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["ratelimit-policy"], r#""minute";q=2;w=60"#);
    }
    let res = svc.clone().oneshot(call("limited")).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limiter.tracked_identities(), 1);
}

#[test]
fn a_limiter_without_limits_quota_or_overrides_is_refused() {
    let err = RateLimiter::builder().build().unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
}
