//! The cost of the custom extractors against the same request through auth-core's own
//! `Principal` extractor and through no authentication at all.
//!
//! `cargo bench -p towerauth-extractors-example --bench extractors`
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use auth_core::{AuthMethod, Principal, RequireScope, ScopeName};
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;
use towerauth_extractors_example::{CurrentUser, StaticTokens, UserRepository, Write, demo_users};

fn request() -> Request<Body> {
    Request::get("/")
        .header("authorization", "Bearer t-alice")
        .body(Body::empty())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tokens = StaticTokens::new().token(
        "t-alice",
        Principal::new("alice", AuthMethod::Custom("static".into())).with_scopes([Write::NAME]),
    );
    let users = demo_users();
    let router = |route: Router<UserRepository>| route.with_state(users.clone());

    let plain = router(Router::new().route("/", get(|| async { "ok" })));
    let principal = router(Router::new().route(
        "/",
        get(|p: Principal| async move { p.subject().len().to_string() }),
    ))
    .layer(tokens.layer());
    let current_user =
        router(Router::new().route("/", get(|u: CurrentUser| async move { u.user.name })))
            .layer(tokens.layer());
    let guarded = router(Router::new().route(
        "/",
        get(|_: RequireScope<Write>, u: CurrentUser| async move { u.user.name }),
    ))
    .layer(tokens.layer());

    let cases = [
        ("no authentication", plain),
        ("StaticTokens layer + Principal", principal),
        ("StaticTokens layer + CurrentUser", current_user),
        (
            "StaticTokens layer + RequireScope<Write> + CurrentUser",
            guarded,
        ),
    ];
    rt.block_on(async {
        for (name, app) in &cases {
            let status = app.clone().oneshot(request()).await.unwrap().status();
            assert_eq!(status, StatusCode::OK, "{name}");
        }
    });

    let mut group = c.benchmark_group("extractors");
    for (name, app) in &cases {
        group.bench_function(*name, |b| {
            b.to_async(&rt)
                .iter(|| async { black_box(app.clone().oneshot(request()).await.unwrap()) });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
