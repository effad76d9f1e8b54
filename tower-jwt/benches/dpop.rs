//! DPoP (RFC 9449) cost per request:
//! * `dpop/bearer_cached`: baseline, the same HS256 access token as `Bearer` through the
//!   authenticator (verified-token cache hit), no DPoP;
//! * `dpop/es256_verify`: baseline, the proof's signature alone: its key built from the
//!   JWK's coordinates and one ES256 verification (`jsonwebtoken::crypto::verify`);
//! * `dpop/request_es256`: `Authorization: DPoP` with a fresh ES256 proof: the proof's
//!   checks and one ES256 signature verification, the cached access token, the binding and
//!   the memory replay check (proofs are signed beforehand, outside the measurement);
//! * `dpop/request_es256_nonce`: the same with server nonces on, each proof carrying the
//!   current nonce (one HMAC-SHA-256 more per request);
//! * `dpop/nonce_hmac`: baseline, what a nonce check adds alone: a 32-character base64url
//!   decode and one HMAC-SHA-256 over 8 bytes from a keyed state (as the check does);
//! * `dpop/replay_memory`: `MemoryDpopReplayStore::first_use` alone, a new proof each time;
//! * `dpop/replay_redis` (feature `redis`, when Redis answers at `TEST_REDIS_URL` or
//!   `redis://127.0.0.1:6379`): `RedisDpopReplayStore::first_use` alone, one `SET NX PX`
//!   round trip.
//!
//! The memory futures complete on their first poll, so they are polled with a no-op waker:
//! the numbers are CPU work, not executor overhead.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use auth_core::Authenticate;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::Request;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower_jwt::dpop::{DpopConfig, DpopReplayStore, MemoryDpopReplayStore};
use tower_jwt::{IssuerConfig, JwtAuthenticator, JwtVerifier};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "orders-api";
const ORIGIN: &str = "https://api.example.com";
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-bench";
const P256_PRIV: &[u8] = include_bytes!("../tests/data/keys/p256.pem");

/// Polls a future that is ready at once.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unique_key(counter: &AtomicU64) -> [u8; 32] {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&counter.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    key
}

fn bench(c: &mut Criterion) {
    tower_jwt::ensure_crypto_backend().unwrap();
    let proof_key = EncodingKey::from_ec_pem(P256_PRIV).unwrap();
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&proof_key, Algorithm::ES256).unwrap())
            .unwrap();
    jwk.as_object_mut().unwrap().remove("alg");
    let jkt = serde_json::from_value::<Jwk>(jwk.clone())
        .unwrap()
        .thumbprint(ThumbprintHash::SHA256)
        .unwrap();

    let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
    let claims = |cnf: Option<&str>| {
        let mut c = json!({
            "iss": ISS, "aud": AUD, "sub": "alice", "iat": now, "nbf": now,
            "exp": now + 3600, "jti": "bench", "scope": "read",
        });
        if let Some(jkt) = cnf {
            c["cnf"] = json!({ "jkt": jkt });
        }
        c
    };
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".to_owned());
    let secret = EncodingKey::from_secret(SECRET).unwrap();
    let bearer_token = jsonwebtoken::encode(&header, &claims(None), &secret).unwrap();
    let bound_token = jsonwebtoken::encode(&header, &claims(Some(&jkt)), &secret).unwrap();
    let ath = b64(&Sha256::digest(bound_token.as_bytes()));
    let proof_header = b64(json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": jwk })
        .to_string()
        .as_bytes());
    let counter = AtomicU64::new(0);
    let fresh_proof_with = |nonce: Option<&str>| {
        let mut claims: Value = json!({
            "jti": format!("{:016x}", counter.fetch_add(1, Ordering::Relaxed)),
            "htm": "GET", "htu": format!("{ORIGIN}/orders"),
            "iat": jsonwebtoken::get_current_timestamp(), "ath": ath,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!("{proof_header}.{}", b64(claims.to_string().as_bytes()));
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &proof_key, Algorithm::ES256).unwrap();
        format!("{input}.{signature}")
    };
    let fresh_proof = || fresh_proof_with(None);

    let verifier = JwtVerifier::new(
        IssuerConfig::builder(ISS)
            .audience(AUD)
            .hmac_secret(SECRET)
            .build()
            .unwrap(),
    )
    .unwrap();
    let dpop = DpopConfig::builder(ORIGIN)
        .replay_store(Arc::new(MemoryDpopReplayStore::new(10_000_000)))
        .build()
        .unwrap();
    let with_nonces = DpopConfig::builder(ORIGIN)
        .replay_store(Arc::new(MemoryDpopReplayStore::new(10_000_000)))
        .nonces(SECRET, Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut plain: JwtAuthenticator = verifier.authenticator();
    let mut with_dpop: JwtAuthenticator = verifier.authenticator().dpop(dpop);
    let mut with_nonce: JwtAuthenticator = verifier.authenticator().dpop(with_nonces);

    let bearer = Request::get("/orders")
        .header("authorization", format!("Bearer {bearer_token}"))
        .body(())
        .unwrap();
    let mut group = c.benchmark_group("dpop");
    group.bench_function("bearer_cached", |b| {
        b.iter(|| ready(plain.authenticate(black_box(&bearer)).into_future()).unwrap());
    });
    let sample = fresh_proof();
    let (input, signature) = sample.rsplit_once('.').unwrap();
    let (x, y) = (jwk["x"].as_str().unwrap(), jwk["y"].as_str().unwrap());
    group.bench_function("es256_verify", |b| {
        b.iter(|| {
            let key = DecodingKey::from_ec_components(black_box(x), y).unwrap();
            assert!(
                jsonwebtoken::crypto::verify(signature, input.as_bytes(), &key, Algorithm::ES256)
                    .unwrap()
            );
        });
    });
    // Warm the verified-token cache with the bound token.
    let warm = Request::get("/orders")
        .header("authorization", format!("DPoP {bound_token}"))
        .header("dpop", fresh_proof())
        .body(())
        .unwrap();
    ready(with_dpop.authenticate(&warm).into_future()).unwrap();
    group.bench_function("request_es256", |b| {
        b.iter_batched(
            || {
                Request::get("/orders")
                    .header("authorization", format!("DPoP {bound_token}"))
                    .header("dpop", fresh_proof())
                    .body(())
                    .unwrap()
            },
            |request| ready(with_dpop.authenticate(&request).into_future()).unwrap(),
            BatchSize::SmallInput,
        );
    });

    // The nonce a proof without one is refused with; the cache is warm already.
    let ask = Request::get("/orders")
        .header("authorization", format!("DPoP {bound_token}"))
        .header("dpop", fresh_proof())
        .body(())
        .unwrap();
    let refusal = ready(with_nonce.authenticate(&ask).into_future()).unwrap_err();
    let nonce = refusal.headers().unwrap()["dpop-nonce"]
        .to_str()
        .unwrap()
        .to_owned();
    group.bench_function("request_es256_nonce", |b| {
        b.iter_batched(
            || {
                Request::get("/orders")
                    .header("authorization", format!("DPoP {bound_token}"))
                    .header("dpop", fresh_proof_with(Some(&nonce)))
                    .body(())
                    .unwrap()
            },
            |request| ready(with_nonce.authenticate(&request).into_future()).unwrap(),
            BatchSize::SmallInput,
        );
    });
    {
        use hmac::{Hmac, Mac};
        let mut keyed = Hmac::<Sha256>::new_from_slice(SECRET).unwrap();
        keyed.update(b"https://api.example.com:443\0");
        group.bench_function("nonce_hmac", |b| {
            b.iter(|| {
                let mut bytes = [0u8; 24];
                URL_SAFE_NO_PAD
                    .decode_slice(black_box(nonce.as_str()), &mut bytes)
                    .unwrap();
                let mut mac = keyed.clone();
                mac.update(&bytes[..8]);
                // The nonce the layer issued: its tag verifies.
                assert!(mac.verify_truncated_left(&bytes[8..]).is_ok());
            });
        });
    }

    // 100 ms entries: the store stays at a steady size, purging as it records.
    let ttl = Duration::from_millis(100);
    let memory = MemoryDpopReplayStore::new(10_000_000);
    let keys = AtomicU64::new(0);
    group.bench_function("replay_memory", |b| {
        b.iter(|| assert!(ready(memory.first_use(&unique_key(&keys), ttl)).unwrap()));
    });
    redis_bench(&mut group, &keys);
    group.finish();
}

#[cfg(feature = "redis")]
fn redis_bench(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    keys: &AtomicU64,
) {
    use tower_jwt::dpop::RedisDpopReplayStore;
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let prefix = format!("bench:dpop:{}:", uuid::Uuid::new_v4());
    let store = runtime.block_on(
        RedisDpopReplayStore::builder(url.as_str())
            .prefix(prefix)
            .connect(),
    );
    let Ok(store) = store else {
        println!("dpop/replay_redis: skipped, no Redis at {url}");
        return;
    };
    let ttl = Duration::from_secs(2);
    group.bench_function("replay_redis", |b| {
        b.to_async(&runtime)
            .iter(|| async { assert!(store.first_use(&unique_key(keys), ttl).await.unwrap()) });
    });
}

#[cfg(not(feature = "redis"))]
fn redis_bench(
    _: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    _: &AtomicU64,
) {
}

criterion_group!(benches, bench);
criterion_main!(benches);
