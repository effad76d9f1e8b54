//! JWT verification cost, against baselines measured in the same run:
//! * `bare_router`: the same request through the inner service alone;
//! * `raw_decode/<alg>`: `jsonwebtoken::decode` of the same token with a `Validation` for
//!   `iss`, `aud`, `exp`, `sub`;
//! * `layer_cold/<alg>`: the JWT layer with no cache (every request verifies the signature);
//! * `layer_cached/<alg>`: the JWT layer with the verified-token cache (repeated token);
//! * `layer_cached_revocation/HS256`: the same plus a revocation store check;
//! * `revocation_check`: `MemoryRevocationStore::check` alone.
//!
//! The futures complete on their first poll (static keys), so they are polled with a no-op
//! waker: the numbers are CPU work, not executor overhead.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};
use tower::{Service, ServiceBuilder, service_fn};
use tower_jwt::revocation::{MemoryRevocationStore, Revocation, RevocationStore, TokenRef};
use tower_jwt::{IssuerConfig, JwtAuthenticator, JwtVerifier, Key};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "orders-api";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-bench";
const RSA_PRIV: &[u8] = include_bytes!("../tests/data/keys/rsa2048.pem");
const RSA_PUB: &[u8] = include_bytes!("../tests/data/keys/rsa2048.pub.pem");
const P256_PRIV: &[u8] = include_bytes!("../tests/data/keys/p256.pem");
const P256_PUB: &[u8] = include_bytes!("../tests/data/keys/p256.pub.pem");
const ED_PRIV: &[u8] = include_bytes!("../tests/data/keys/ed25519.pem");
const ED_PUB: &[u8] = include_bytes!("../tests/data/keys/ed25519.pub.pem");

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

fn keys(alg: Algorithm) -> (EncodingKey, DecodingKey, Key) {
    match alg {
        Algorithm::HS256 => (
            EncodingKey::from_secret(SECRET).unwrap(),
            DecodingKey::from_secret(SECRET).unwrap(),
            Key::hmac(alg, SECRET).unwrap(),
        ),
        Algorithm::RS256 => (
            EncodingKey::from_rsa_pem(RSA_PRIV).unwrap(),
            DecodingKey::from_rsa_pem(RSA_PUB).unwrap(),
            Key::rsa_pem(alg, RSA_PUB).unwrap(),
        ),
        Algorithm::ES256 => (
            EncodingKey::from_ec_pem(P256_PRIV).unwrap(),
            DecodingKey::from_ec_pem(P256_PUB).unwrap(),
            Key::ec_pem(alg, P256_PUB).unwrap(),
        ),
        _ => (
            EncodingKey::from_ed_pem(ED_PRIV).unwrap(),
            DecodingKey::from_ed_pem(ED_PUB).unwrap(),
            Key::ed_pem(ED_PUB).unwrap(),
        ),
    }
}

fn token(alg: Algorithm, encoding: &EncodingKey) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".into());
    header.kid = Some("k1".into());
    let claims = json!({
        "iss": ISS, "aud": AUD, "sub": "user-4f2a9c", "iat": now, "nbf": now, "exp": now + 3600,
        "jti": "0b6e9c1e-5d7f-4a8e-9c3b-2f1e0d9c8b7a", "scope": "orders:read orders:write",
        "client_id": "web-app",
    });
    jsonwebtoken::encode(&header, &claims, encoding).unwrap()
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

fn bench(c: &mut Criterion) {
    tower_jwt::ensure_crypto_backend().unwrap();
    let authorization = HeaderValue::from_static("Bearer x");
    let mut bare = handler();
    c.bench_function("bare_router", |b| {
        b.iter(|| now(bare.call(black_box(request(&authorization)))).unwrap());
    });

    for alg in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        let (encoding, decoding, key) = keys(alg);
        let token = token(alg, &encoding);
        let mut validation = Validation::new(alg);
        validation.set_audience(&[AUD]);
        validation.set_issuer(&[ISS]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        c.bench_function(&format!("raw_decode/{alg:?}"), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Value>(black_box(&token), &decoding, &validation).unwrap()
            });
        });

        let verifier = JwtVerifier::new(
            IssuerConfig::builder(ISS)
                .audience(AUD)
                .key(key.with_kid("k1"))
                .build()
                .unwrap(),
        )
        .unwrap();
        let authorization = HeaderValue::from_str(&format!("Bearer {token}")).unwrap();
        let cold = JwtAuthenticator::new(verifier.clone())
            .without_cache()
            .layer();
        let mut svc = ServiceBuilder::new().layer(cold).service(handler());
        assert_eq!(
            now(svc.call(request(&authorization))).unwrap().status(),
            200
        );
        c.bench_function(&format!("layer_cold/{alg:?}"), |b| {
            b.iter(|| now(svc.call(black_box(request(&authorization)))).unwrap());
        });
        let cached = JwtAuthenticator::new(verifier).layer();
        let mut svc = ServiceBuilder::new().layer(cached).service(handler());
        assert_eq!(
            now(svc.call(request(&authorization))).unwrap().status(),
            200
        );
        c.bench_function(&format!("layer_cached/{alg:?}"), |b| {
            b.iter(|| now(svc.call(black_box(request(&authorization)))).unwrap());
        });
    }

    // The revocation check: alone, and on the cached path.
    let store = Arc::new(MemoryRevocationStore::new());
    let exp = SystemTime::now() + Duration::from_secs(3600);
    for i in 0..10_000 {
        store
            .revoke_now(&Revocation::token(ISS, format!("revoked-{i}"), exp))
            .unwrap();
    }
    let token_ref = TokenRef {
        issuer: ISS,
        jti: Some("0b6e9c1e-5d7f-4a8e-9c3b-2f1e0d9c8b7a"),
        subject: "user-4f2a9c",
        issued_at: SystemTime::now(),
    };
    c.bench_function("revocation_check", |b| {
        b.iter(|| store.check(black_box(&token_ref)))
    });

    let (encoding, _, key) = keys(Algorithm::HS256);
    let verifier = JwtVerifier::builder()
        .issuer(
            IssuerConfig::builder(ISS)
                .audience(AUD)
                .key(key.with_kid("k1"))
                .build()
                .unwrap(),
        )
        .revocation(store)
        .build()
        .unwrap();
    let authorization =
        HeaderValue::from_str(&format!("Bearer {}", token(Algorithm::HS256, &encoding))).unwrap();
    let mut svc = ServiceBuilder::new()
        .layer(JwtAuthenticator::new(verifier).layer())
        .service(handler());
    assert_eq!(
        now(svc.call(request(&authorization))).unwrap().status(),
        200
    );
    c.bench_function("layer_cached_revocation/HS256", |b| {
        b.iter(|| now(svc.call(black_box(request(&authorization)))).unwrap());
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
