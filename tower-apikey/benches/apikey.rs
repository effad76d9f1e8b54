//! The API-key layer on a cache hit against the same router without it.
//!
//! `cargo bench -p tower-apikey --bench apikey`
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use tower::ServiceExt;
use tower_apikey::{ApiKeys, Env, KeyFormat, MemoryApiKeyStore, NewKey};

fn request(key: &str) -> Request<Body> {
    Request::builder()
        .uri("/")
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (keys, key) = rt.block_on(async {
        let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build().unwrap();
        let created = keys
            .create(NewKey::new("acme").scopes(["read"]))
            .await
            .unwrap();
        (keys, created.key.expose().to_owned())
    });
    let plain: Router = Router::new().route("/", get(|| async { "ok" }));
    let guarded = plain.clone().layer(keys.layer());
    // The engine alone: the same AuthLayer with an authenticator that accepts at once.
    let principal = auth_core::Principal::new("acme", auth_core::AuthMethod::ApiKey);
    let engine_only = plain
        .clone()
        .layer(auth_core::AuthLayer::new(move |_: &Request<Body>| {
            Ok::<_, auth_core::AuthError>(principal.clone())
        }));
    // Warm the cache, and check both routers answer 200.
    rt.block_on(async {
        assert_eq!(
            plain.clone().oneshot(request(&key)).await.unwrap().status(),
            200
        );
        assert_eq!(
            guarded
                .clone()
                .oneshot(request(&key))
                .await
                .unwrap()
                .status(),
            200
        );
    });

    let mut group = c.benchmark_group("router");
    group.bench_function("without layer", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(plain.clone().oneshot(request(&key)).await.unwrap()) });
    });
    group.bench_function("auth-core layer, accept-all authenticator", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(engine_only.clone().oneshot(request(&key)).await.unwrap())
        });
    });
    group.bench_function("api key layer (cache hit)", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(guarded.clone().oneshot(request(&key)).await.unwrap()) });
    });
    let malformed = format!(
        "{}{}",
        &key[..68],
        if key.ends_with('x') { 'y' } else { 'x' }
    );
    group.bench_function("api key layer (malformed key, 401)", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(guarded.clone().oneshot(request(&malformed)).await.unwrap())
        });
    });
    group.finish();

    let format = KeyFormat::default();
    let sample = format.generate(Env::Live).unwrap();
    c.bench_function("key parse + checksum", |b| {
        b.iter(|| black_box(format.parse(black_box(sample.expose())).is_ok()));
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
