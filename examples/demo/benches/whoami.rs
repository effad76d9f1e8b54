//! `/api/whoami` through the whole demo router (one request per iteration, no network):
//! `/health` (no authentication) as the baseline, then an API key (cache hit), a demo JWT
//! (verified-token cache hit) and a refused request (no credential, 401).
//!
//! The API-key case runs twice: with a key without limits of its own, and with a key whose
//! own rate (1,000,000/s, never reached) the key's limiter counts. Every request comes from
//! `127.0.0.1:40000` (axum's `ConnectInfo`), as the server would see it: the API and login
//! throttles count by it.
//!
//! Three more routes split the gap between `/health` and an authenticated whoami: the demo's
//! `DEMO_BENCH_FLOORS` routes, the same JSON handler with no layer (what the route and its
//! body cost), behind a tower layer that does nothing (what axum charges any layered
//! route), and behind an `AuthLayer` whose closure accepts everything (what the engine adds
//! before any method).
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode};
use tower::ServiceExt;
use tower_apikey::{KeyLimit, NewKey};
use towerauth_demo::config::{Config, DEFAULT_USERS};
use towerauth_demo::users::Users;

/// One case: name, path, credential header, expected status.
type Case = (
    &'static str,
    &'static str,
    Option<(&'static str, String)>,
    StatusCode,
);

fn config() -> Config {
    Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_url: "sqlite::memory:".to_owned(),
        redis_url: None,
        jwt_secrets: vec![b"a-bench-secret-of-at-least-32-bytes!".to_vec()],
        jwt_issuer: "demo".to_owned(),
        oidc_issuer: None,
        oidc_audience: "demo-api".to_owned(),
        oidc_client: None,
        oidc_introspection: false,
        oidc_redirect_uri: None,
        oidc_post_logout_redirect_uri: None,
        github_client: None,
        public_url: "http://127.0.0.1:3000".to_owned(),
        users: Some(Users::parse(DEFAULT_USERS).unwrap()),
        cookie_keys: vec![vec![7; 64]],
        key_cache_ttl: Duration::from_secs(30),
        usage_flush: Duration::from_secs(60),
        jwt_cache: true,
        bench_floors: true,
        tls: None,
    }
}

/// `request` as it arrives from the client `127.0.0.1:40000`.
fn from_client(mut request: Request<Body>) -> Request<Body> {
    let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let demo = rt.block_on(towerauth_demo::build(&config())).unwrap();
    let router = demo.router.clone();
    let key = rt
        .block_on(demo.keys.create(NewKey::new("bench").scopes(["read"])))
        .unwrap()
        .key
        .expose()
        .to_owned();
    let rate = KeyLimit::parse_rate("1000000/s").unwrap();
    let limited = rt
        .block_on(
            demo.keys
                .create(NewKey::new("bench").scopes(["read"]).rate(rate)),
        )
        .unwrap()
        .key
        .expose()
        .to_owned();
    let login = Request::post("/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            r#"{"username":"alice","password":"alice-password"}"#,
        ))
        .unwrap();
    let res = rt
        .block_on(router.clone().oneshot(from_client(login)))
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body = rt
        .block_on(axum::body::to_bytes(res.into_body(), 1 << 16))
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let token = json["access_token"].as_str().unwrap().to_owned();

    let cases: [Case; 5] = [
        ("health (baseline)", "/health", None, StatusCode::OK),
        (
            "whoami api key",
            "/api/whoami",
            Some(("x-api-key", key)),
            StatusCode::OK,
        ),
        (
            "whoami api key, rate limited",
            "/api/whoami",
            Some(("x-api-key", limited)),
            StatusCode::OK,
        ),
        (
            "whoami jwt",
            "/api/whoami",
            Some(("authorization", format!("Bearer {token}"))),
            StatusCode::OK,
        ),
        (
            "whoami anonymous 401",
            "/api/whoami",
            None,
            StatusCode::UNAUTHORIZED,
        ),
    ];
    let mut group = c.benchmark_group("demo");
    for (name, path, header, expected) in cases {
        let request = || {
            let mut builder = Request::get(path);
            if let Some((name, value)) = &header {
                builder = builder.header(*name, value);
            }
            from_client(builder.body(Body::empty()).unwrap())
        };
        let res = rt.block_on(router.clone().oneshot(request())).unwrap();
        assert_eq!(res.status(), expected, "{name}");
        // Only the key with a rate of its own is counted, and says so.
        assert_eq!(
            res.headers().contains_key("ratelimit"),
            name.ends_with("rate limited"),
            "{name}"
        );
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let res = router.clone().oneshot(request()).await.unwrap();
                assert_eq!(res.status(), expected);
            });
        });
    }
    for (name, path) in [
        ("whoami json, no layer", "/bench/whoami"),
        ("whoami json, no-op tower layer", "/bench/whoami/layered"),
        ("whoami json, accept-all auth layer", "/bench/whoami/engine"),
    ] {
        let request = || from_client(Request::get(path).body(Body::empty()).unwrap());
        let res = rt.block_on(router.clone().oneshot(request())).unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        let body = rt
            .block_on(axum::body::to_bytes(res.into_body(), 1 << 10))
            .unwrap();
        assert_eq!(
            &body[..],
            br#"{"subject":"bench-floor","method":"bench_floor","scopes":[]}"#
        );
        group.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                let res = router.clone().oneshot(request()).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
