//! The throttle outside an `AuthLayer`: guessing gets 429, the right password works again
//! once the guessing stops.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::{app, attempt, claimed};
use http::{Request, StatusCode};
use tower::ServiceExt;
use tower_ratelimit::{ClientAddress, Limit, ManualClock, Throttle};

#[tokio::test]
async fn guessing_gets_429_and_the_right_password_works_once_it_stops() {
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let throttle = Throttle::builder()
        .per_address(Limit::per_minute("login-ip", 10).with_burst(3))
        .per_identity(Limit::per_minute("login-user", 6).with_burst(3), claimed)
        .clock(clock.clone())
        .build()
        .unwrap();
    let svc = app(&throttle);
    for _ in 0..3 {
        let res = svc
            .clone()
            .oneshot(attempt("alice.wrong", "10.0.0.1:1"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    // Over the limit: 429, never 401, even for the right password.
    let res = svc
        .clone()
        .oneshot(attempt("alice.wrong", "10.0.0.1:1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "6");
    assert_eq!(res.headers()["ratelimit-policy"], r#""login-ip";q=10;w=60"#);
    assert_eq!(res.headers()["ratelimit"], r#""login-ip";r=0;t=18"#);
    let res = svc
        .clone()
        .oneshot(attempt("alice.right", "10.0.0.1:1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another address guessing the same user is stopped by the per-identity limit.
    let res = svc
        .clone()
        .oneshot(attempt("alice.wrong", "10.0.0.2:1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        res.headers()["ratelimit-policy"],
        r#""login-user";q=6;w=60"#
    );
    // Another user from another address is not affected.
    let res = svc
        .clone()
        .oneshot(attempt("bob.wrong", "10.0.0.3:1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The guessing stops; after the buckets drain the right password works.
    clock.advance(Duration::from_secs(30));
    let res = svc
        .clone()
        .oneshot(attempt("alice.right", "10.0.0.1:1"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Successes are not counted.
    for _ in 0..10 {
        let res = svc
            .clone()
            .oneshot(attempt("alice.right", "10.0.0.1:1"))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn missing_credentials_are_not_guesses() {
    let throttle = Throttle::builder()
        .per_address(Limit::per_minute("login-ip", 1))
        .build()
        .unwrap();
    let svc = app(&throttle);
    for _ in 0..5 {
        let mut req = Request::new(String::new());
        req.extensions_mut()
            .insert("10.0.0.1:1".parse::<SocketAddr>().unwrap());
        assert_eq!(svc.clone().oneshot(req).await.unwrap().status(), 401);
    }
}

#[tokio::test]
async fn a_trusted_proxy_header_separates_clients_behind_one_proxy() {
    let throttle = Throttle::builder()
        .per_address(Limit::per_minute("login-ip", 1))
        .client_address(ClientAddress::x_forwarded_for())
        .build()
        .unwrap();
    let svc = app(&throttle);
    let behind_proxy = |client: &str| {
        let mut req = attempt("x.wrong", "10.0.0.254:1");
        req.headers_mut()
            .insert("x-forwarded-for", client.parse().unwrap());
        req
    };
    assert_eq!(
        svc.clone()
            .oneshot(behind_proxy("1.1.1.1"))
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        svc.clone()
            .oneshot(behind_proxy("1.1.1.1"))
            .await
            .unwrap()
            .status(),
        429
    );
    assert_eq!(
        svc.oneshot(behind_proxy("2.2.2.2")).await.unwrap().status(),
        401
    );
}

#[tokio::test]
async fn no_client_address_is_a_loud_misconfiguration() {
    let throttle = Throttle::builder()
        .per_address(Limit::per_minute("login-ip", 1))
        .build()
        .unwrap();
    let res = app(&throttle)
        .oneshot(Request::new(String::new()))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn the_handle_serves_a_login_form() {
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let throttle = Throttle::builder()
        .per_identity(Limit::per_minute("login-user", 2).with_burst(1), |_| None)
        .clock(clock.clone())
        .build()
        .unwrap();
    let ip = Some("10.0.0.1".parse().unwrap());
    assert!(throttle.check(ip, Some("alice")).await.is_ok());
    throttle.record_failure(ip, Some("alice")).await;
    let err = throttle.check(ip, Some("alice")).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(err.retry_after(), Some(30));
    assert!(throttle.check(ip, Some("bob")).await.is_ok());
    clock.advance(Duration::from_secs(30));
    assert!(throttle.check(ip, Some("alice")).await.is_ok());
    assert!(Throttle::builder().build().is_err());
}
