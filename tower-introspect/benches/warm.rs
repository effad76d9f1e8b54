//! Introspection with a warm cache, against tower-jwt's cache-hit path in the same run:
//! * `bare`: the request through the inner service alone;
//! * `introspection_cached`: the introspection layer, the token's answer cached (a
//!   keyed SipHash of the token, one map lookup, the `exp` check);
//! * `introspection_cached_revocation`: the same with a memory revocation store holding
//!   1,000 revoked tokens and 1,000 revoked subjects, checked on every hit;
//! * `jwt_cached/HS256`: tower-jwt's layer with its verified-token cache, the same
//!   scopes and expiry.
//!
//! The cache is warmed by one real introspection request to a loopback endpoint; the
//! measured requests are decided at once, so they are polled with a no-op waker.
//!
//! Instructions per request (BENCHMARKS.md): `COUNT_BENCH=<name> COUNT_N=<n>` runs one of
//! them `n` times instead, under `valgrind --tool=callgrind`.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};
use tower_introspect::Introspection;
use tower_jwt::revocation::{MemoryRevocationStore, Revocation, RevocationStore};
use tower_jwt::{IssuerConfig, JwtVerifier};

const ISS: &str = "https://auth.example.com";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-bench";
/// The length of a typical opaque token (oidc-provider's: 43 characters).
const OPAQUE: &str = "Au35xzLFPV8xX-VY6JIE8TpFMrynsF9meUW4yKRp9Yr";

/// Polls a future that is ready at once.
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn request(authorization: &HeaderValue) -> Request<()> {
    let mut request = Request::new(());
    request
        .headers_mut()
        .insert(http::header::AUTHORIZATION, authorization.clone());
    request
}

fn handler() -> impl Service<Request<()>, Response = Response<String>, Error = Infallible> + Clone {
    service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) })
}

/// Benches `f` as `name`; or, with `COUNT_BENCH=<name>` and `COUNT_N=<n>` set, runs it `n`
/// times and nothing else, for instruction counts under callgrind (run twice with two `n`
/// and divide the difference, so the setup cancels out).
fn run(c: &mut Criterion, name: &str, mut f: impl FnMut()) {
    match (std::env::var("COUNT_BENCH"), std::env::var("COUNT_N")) {
        (Ok(only), Ok(n)) => {
            if only == name {
                for _ in 0..n.parse::<usize>().expect("COUNT_N is a number") {
                    f();
                }
            }
        }
        _ => {
            c.bench_function(name, |b| b.iter(&mut f));
        }
    }
}

fn bench(c: &mut Criterion) {
    tower_jwt::ensure_crypto_backend().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let exp = jsonwebtoken::get_current_timestamp() + 3600;
    let endpoint = runtime.block_on(async {
        let answer = format!(
            r#"{{"active":true,"sub":"user-4f2a9c","client_id":"web-app","iss":"{ISS}",
                "scope":"orders:read orders:write","exp":{exp},"token_type":"Bearer"}}"#
        );
        let app = Router::new().route(
            "/introspect",
            post(move || {
                let answer = answer.clone();
                async move { ([(http::header::CONTENT_TYPE, "application/json")], answer) }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/introspect", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    });

    let authorization = HeaderValue::from_static("Bearer x");
    let mut bare = handler();
    run(c, "bare", || {
        black_box(now(bare.call(black_box(request(&authorization)))).unwrap());
    });

    let introspection = Introspection::builder(ISS)
        .endpoint(endpoint.clone())
        .client_id("orders-api")
        .client_secret("orders-api-secret")
        .insecure_http_loopback()
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(introspection.layer())
        .service(handler());
    let authorization = HeaderValue::from_str(&format!("Bearer {OPAQUE}")).unwrap();
    let warm = runtime.block_on(svc.clone().oneshot(request(&authorization)));
    assert_eq!(warm.unwrap().status(), 200);
    run(c, "introspection_cached", || {
        black_box(now(svc.call(black_box(request(&authorization)))).unwrap());
    });

    let store = Arc::new(MemoryRevocationStore::new());
    runtime.block_on(async {
        let until = SystemTime::now() + Duration::from_secs(3600);
        for i in 0..1000 {
            store
                .revoke(Revocation::token(ISS, format!("jti-{i}"), until))
                .await
                .unwrap();
            store
                .revoke(Revocation::subject(
                    ISS,
                    format!("user-{i}"),
                    SystemTime::now(),
                    until,
                ))
                .await
                .unwrap();
        }
    });
    let checked = Introspection::builder(ISS)
        .endpoint(endpoint)
        .client_id("orders-api")
        .client_secret("orders-api-secret")
        .insecure_http_loopback()
        .revocation(store)
        .build()
        .unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(checked.layer())
        .service(handler());
    let warm = runtime.block_on(svc.clone().oneshot(request(&authorization)));
    assert_eq!(warm.unwrap().status(), 200);
    run(c, "introspection_cached_revocation", || {
        black_box(now(svc.call(black_box(request(&authorization)))).unwrap());
    });

    let verifier = JwtVerifier::new(
        IssuerConfig::builder(ISS)
            .audience("orders-api")
            .hmac_secret(SECRET)
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    let iat = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({
        "iss": ISS, "aud": "orders-api", "sub": "user-4f2a9c", "iat": iat, "nbf": iat,
        "exp": exp, "jti": "0b6e9c1e-5d7f-4a8e-9c3b-2f1e0d9c8b7a",
        "scope": "orders:read orders:write", "client_id": "web-app",
    });
    let token =
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(SECRET).unwrap()).unwrap();
    let authorization = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(verifier.authenticator().layer())
        .service(handler());
    assert_eq!(
        now(svc.call(request(&authorization))).unwrap().status(),
        200
    );
    run(c, "jwt_cached/HS256", || {
        black_box(now(svc.call(black_box(request(&authorization)))).unwrap());
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
