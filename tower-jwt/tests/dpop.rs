//! DPoP (RFC 9449) through the JWT layer: a bound token with a fresh proof passes and its
//! thumbprint is visible; every proof or binding fault is refused with the exact status and
//! `WWW-Authenticate` challenges; a replay is refused on the same instance and, through a
//! shared Redis, on another.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use http::{Request, Response, StatusCode};
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_jwt::dpop::{DpopConfig, DpopReplayStore, MemoryDpopReplayStore};
use tower_jwt::{Claims, JwtLayer};

const ORIGIN: &str = "https://api.example.test";
const ALGS: &str = "ES256 ES384 EdDSA PS256 RS256";

/// A client's proof key: its signing key and public JWK.
struct ProofKey {
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

impl ProofKey {
    fn new(alg: Algorithm, pem: &[u8]) -> Self {
        tower_jwt::ensure_crypto_backend().unwrap();
        let key = match alg {
            Algorithm::EdDSA => EncodingKey::from_ed_pem(pem).unwrap(),
            _ => EncodingKey::from_ec_pem(pem).unwrap(),
        };
        let jwk = serde_json::to_value(Jwk::from_encoding_key(&key, alg).unwrap()).unwrap();
        Self { alg, key, jwk }
    }

    fn p256() -> Self {
        Self::new(Algorithm::ES256, P256_PRIV)
    }

    fn ed25519() -> Self {
        Self::new(Algorithm::EdDSA, ED_PRIV)
    }

    /// RFC 7638 thumbprint, computed by jsonwebtoken (independently of tower-jwt).
    fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.jwk.clone()).unwrap();
        jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
    }

    fn header(&self) -> Value {
        let mut jwk = self.jwk.clone();
        jwk.as_object_mut().unwrap().remove("alg");
        json!({ "typ": "dpop+jwt", "alg": format!("{:?}", self.alg), "jwk": jwk })
    }

    /// A proof with `header` and `claims` as given, signed with this key.
    fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, self.alg).unwrap();
        format!("{input}.{signature}")
    }

    /// A valid proof for `method` `path` carrying `token`.
    fn proof(&self, method: &str, path: &str, token: &str) -> String {
        self.sign_raw(&self.header(), &proof_claims(method, path, token))
    }
}

fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

fn proof_claims(method: &str, path: &str, token: &str) -> Value {
    json!({
        "jti": uuid::Uuid::new_v4().to_string(),
        "htm": method,
        "htu": format!("{ORIGIN}{path}"),
        "iat": now(),
        "ath": ath(token),
    })
}

/// An HS256 access token bound to `jkt` (or unbound).
fn access_token(jkt: Option<&str>) -> String {
    let mut c = claims();
    if let Some(jkt) = jkt {
        c["cnf"] = json!({ "jkt": jkt });
    }
    sign(&header(Algorithm::HS256), &c)
}

fn dpop_config(store: Arc<dyn DpopReplayStore>) -> DpopConfig {
    DpopConfig::builder(ORIGIN)
        .replay_store(store)
        .build()
        .unwrap()
}

fn dpop_layer(config: DpopConfig) -> JwtLayer {
    hs_verifier().authenticator().dpop(config).layer()
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    challenges: Vec<String>,
    /// The `DPoP-Nonce` header.
    nonce: Option<String>,
    body: Value,
}

/// Sends `GET /orders` (or `method path`) with these headers through `layer`; the handler
/// answers the subject and the token's thumbprint.
async fn send(layer: JwtLayer, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let svc =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|req: Request<String>| async move {
                let claims = req.extensions().get::<Claims>().expect("identity inserted");
                Ok::<_, Infallible>(Response::new(
                    json!({
                        "sub": claims.subject(),
                        "jkt": claims.dpop_thumbprint(),
                    })
                    .to_string(),
                ))
            }));
    let mut request = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = svc
        .oneshot(request.body(String::new()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenges = testkit::dpop::challenges(response.headers());
    let nonces: Vec<_> = response.headers().get_all("dpop-nonce").iter().collect();
    assert!(nonces.len() <= 1, "{nonces:?}");
    let nonce = nonces.first().map(|v| v.to_str().unwrap().to_owned());
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    Answer {
        status,
        challenges,
        nonce,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

async fn dpop_get(layer: JwtLayer, token: &str, proof: &str) -> Answer {
    let auth = format!("DPoP {token}");
    send(
        layer,
        "GET",
        "/orders",
        &[("authorization", &auth), ("dpop", proof)],
    )
    .await
}

fn proof_refused(description: &str) -> Vec<String> {
    vec![format!(
        r#"DPoP realm="api", error="invalid_dpop_proof", error_description="{description}", algs="{ALGS}""#
    )]
}

fn assert_proof_refused(answer: &Answer, description: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(answer.challenges, proof_refused(description), "{answer:?}");
    assert_eq!(answer.body["error"], "invalid_dpop_proof", "{answer:?}");
}

#[tokio::test]
async fn a_bound_token_with_a_fresh_proof_passes_and_shows_its_thumbprint() {
    let key = ProofKey::p256();
    let jkt = key.jkt();
    let token = access_token(Some(&jkt));
    let layer = dpop_layer(dpop_config(Arc::new(MemoryDpopReplayStore::new(100))));
    for _ in 0..3 {
        let proof = key.proof("GET", "/orders", &token);
        let answer = dpop_get(layer.clone(), &token, &proof).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body["sub"], "alice");
        assert_eq!(answer.body["jkt"], jkt.as_str());
    }
    // Another method and path, with a query the proof's `htu` leaves out; the scheme in
    // any case.
    let proof = key.proof("POST", "/orders/7", &token);
    let auth = format!("dpop {token}");
    let answer = send(
        layer.clone(),
        "POST",
        "/orders/7?expand=items",
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    // An EdDSA key works the same.
    let ed = ProofKey::ed25519();
    let token = access_token(Some(&ed.jkt()));
    let answer = dpop_get(layer, &token, &ed.proof("GET", "/orders", &token)).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["jkt"], ed.jkt().as_str());
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = dpop_layer(dpop_config(Arc::new(MemoryDpopReplayStore::new(100))));
    let proof = key.proof("GET", "/orders", &token);
    assert_eq!(
        dpop_get(layer.clone(), &token, &proof).await.status,
        StatusCode::OK
    );
    let replay = dpop_get(layer, &token, &proof).await;
    assert_proof_refused(&replay, "the DPoP proof has been used before");
}

#[tokio::test]
async fn proofs_not_matching_the_request_are_refused() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = dpop_layer(dpop_config(Arc::new(MemoryDpopReplayStore::new(100))));
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut claims = proof_claims("GET", "/orders", &token);
        edit(&mut claims);
        key.sign_raw(&key.header(), &claims)
    };
    let cases: [(&str, String); 8] = [
        (
            "the DPoP proof's `htm` does not match the request method",
            with(&|c| c["htm"] = json!("POST")),
        ),
        (
            "the DPoP proof's `htu` does not match the request URI",
            with(&|c| c["htu"] = json!(format!("{ORIGIN}/other"))),
        ),
        // The `Host` header is not trusted: only the configured origin counts.
        (
            "the DPoP proof's `htu` does not match the request URI",
            with(&|c| c["htu"] = json!("https://evil.example.test/orders")),
        ),
        (
            "the DPoP proof's `ath` does not match the access token",
            with(&|c| c["ath"] = json!(ath("another token"))),
        ),
        (
            "the DPoP proof's `ath` does not match the access token",
            with(&|c| {
                c.as_object_mut().unwrap().remove("ath");
            }),
        ),
        (
            "the DPoP proof's `iat` is outside the accepted window",
            with(&|c| c["iat"] = json!(now() - 61)),
        ),
        (
            "the DPoP proof's `iat` is outside the accepted window",
            with(&|c| c["iat"] = json!(now() + 30)),
        ),
        (
            "the DPoP proof lacks the `jti` claim",
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
        ),
    ];
    for (description, proof) in cases {
        let auth = format!("DPoP {token}");
        let answer = send(
            layer.clone(),
            "GET",
            "/orders",
            &[
                ("authorization", &auth),
                ("dpop", &proof),
                ("host", "evil.example.test"),
            ],
        )
        .await;
        assert_proof_refused(&answer, description);
    }
}

#[tokio::test]
async fn a_proof_signed_by_another_key_is_refused() {
    let bound = ProofKey::p256();
    let other = ProofKey::ed25519();
    let token = access_token(Some(&bound.jkt()));
    let layer = dpop_layer(dpop_config(Arc::new(MemoryDpopReplayStore::new(100))));
    let answer = dpop_get(
        layer.clone(),
        &token,
        &other.proof("GET", "/orders", &token),
    )
    .await;
    assert_proof_refused(
        &answer,
        "the DPoP proof is not signed by the key the token is bound to",
    );
    // The bound key's valid proof with its claims changed: a bad signature.
    let proof = bound.proof("GET", "/orders", &token);
    let mut parts: Vec<&str> = proof.split('.').collect();
    let mut claims = proof_claims("GET", "/orders", &token);
    claims["jti"] = json!("another");
    let tampered = b64(claims.to_string().as_bytes());
    parts[1] = &tampered;
    let answer = dpop_get(layer, &token, &parts.join(".")).await;
    assert_proof_refused(&answer, "the DPoP proof's signature is invalid");
}

#[tokio::test]
async fn alg_none_hs256_and_private_keys_are_refused() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = dpop_layer(dpop_config(Arc::new(MemoryDpopReplayStore::new(100))));
    let claims = proof_claims("GET", "/orders", &token);

    let mut none = key.header();
    none["alg"] = json!("none");
    let unsigned = format!(
        "{}.{}.",
        b64(none.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let answer = dpop_get(layer.clone(), &token, &unsigned).await;
    assert_proof_refused(&answer, "the DPoP proof is malformed");
    let signed_none = format!("{unsigned}c2ln");
    let answer = dpop_get(layer.clone(), &token, &signed_none).await;
    assert_proof_refused(&answer, "the DPoP proof's algorithm is not accepted");

    // HS256 with the secret in a symmetric `jwk`: refused by its algorithm.
    let secret = b"a shared secret of 32 bytes or more!";
    let hs = ProofKey {
        alg: Algorithm::HS256,
        key: EncodingKey::from_secret(secret).unwrap(),
        jwk: json!({ "kty": "oct", "k": b64(secret) }),
    };
    let answer = dpop_get(layer.clone(), &token, &hs.sign_raw(&hs.header(), &claims)).await;
    assert_proof_refused(&answer, "the DPoP proof's algorithm is not accepted");

    // The private key published in `jwk`: refused before the signature is checked.
    let mut private = key.header();
    private["jwk"]["d"] = json!(b64(&[7u8; 32]));
    let answer = dpop_get(layer.clone(), &token, &key.sign_raw(&private, &claims)).await;
    assert_proof_refused(
        &answer,
        "the DPoP proof's `jwk` carries private or symmetric key members",
    );

    let mut typ = key.header();
    typ["typ"] = json!("JWT");
    let answer = dpop_get(layer, &token, &key.sign_raw(&typ, &claims)).await;
    assert_proof_refused(&answer, "the DPoP proof's `typ` is not `dpop+jwt`");
}

#[tokio::test]
async fn missing_duplicate_and_oversized_proofs_are_refused() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = dpop_layer(dpop_config(Arc::new(MemoryDpopReplayStore::new(100))));
    let auth = format!("DPoP {token}");

    let answer = send(layer.clone(), "GET", "/orders", &[("authorization", &auth)]).await;
    assert_proof_refused(&answer, "the request has no DPoP proof");

    let (a, b) = (
        key.proof("GET", "/orders", &token),
        key.proof("GET", "/orders", &token),
    );
    let answer = send(
        layer.clone(),
        "GET",
        "/orders",
        &[("authorization", &auth), ("dpop", &a), ("dpop", &b)],
    )
    .await;
    assert_proof_refused(&answer, "the request has more than one DPoP header");

    // A valid signature over a proof padded past 8 KiB.
    let mut claims = proof_claims("GET", "/orders", &token);
    claims["pad"] = json!("x".repeat(8 * 1024));
    let large = key.sign_raw(&key.header(), &claims);
    assert!(large.len() > 8 * 1024);
    let answer = dpop_get(layer, &token, &large).await;
    assert_proof_refused(&answer, "the DPoP proof is too large");
}

#[tokio::test]
async fn binding_rules_between_schemes() {
    let key = ProofKey::p256();
    let bound = access_token(Some(&key.jkt()));
    let unbound = access_token(None);
    let layer = dpop_layer(dpop_config(Arc::new(MemoryDpopReplayStore::new(100))));
    let bearer_and_dpop = |error: &str| {
        vec![
            format!(r#"Bearer realm="api", error="invalid_token", error_description="{error}""#),
            format!(
                r#"DPoP realm="api", error="invalid_token", error_description="{error}", algs="{ALGS}""#
            ),
        ]
    };

    // A bound token sent as Bearer (a proof beside it changes nothing).
    let auth = format!("Bearer {bound}");
    let proof = key.proof("GET", "/orders", &bound);
    let answer = send(
        layer.clone(),
        "GET",
        "/orders",
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await;
    let description =
        "the token is bound to a DPoP key: present it with the DPoP scheme and a proof";
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenges, bearer_and_dpop(description));
    assert_eq!(answer.body["error"], "invalid_token");

    // Also without DPoP configured.
    let plain = call(common::layer(hs_verifier()), Some(&bound)).await;
    assert_eq!(plain.status, StatusCode::UNAUTHORIZED);
    assert_eq!(plain.challenge, invalid_token(description));

    // An unbound token sent with the DPoP scheme and a valid proof.
    let answer = dpop_get(
        layer.clone(),
        &unbound,
        &key.proof("GET", "/orders", &unbound),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenges,
        [format!(
            r#"DPoP realm="api", error="invalid_token", error_description="the token is not bound to a DPoP key: present it as a Bearer token", algs="{ALGS}""#
        )]
    );
    assert_eq!(answer.body["error"], "invalid_token");

    // A bad token under the DPoP scheme: `invalid_token` in the DPoP challenge.
    let mut expired = claims();
    expired["exp"] = json!(now() - 120);
    expired["cnf"] = json!({ "jkt": key.jkt() });
    let expired = sign(&header(Algorithm::HS256), &expired);
    let answer = dpop_get(
        layer.clone(),
        &expired,
        &key.proof("GET", "/orders", &expired),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenges,
        [format!(
            r#"DPoP realm="api", error="invalid_token", error_description="the token has expired", algs="{ALGS}""#
        )]
    );

    // An unbound token as Bearer still passes.
    let auth = format!("Bearer {unbound}");
    let answer = send(layer.clone(), "GET", "/orders", &[("authorization", &auth)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["jkt"], Value::Null);

    // No credential: both challenges offered.
    let answer = send(layer.clone(), "GET", "/orders", &[]).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenges,
        [
            r#"Bearer realm="api""#.to_owned(),
            format!(r#"DPoP realm="api", algs="{ALGS}""#)
        ]
    );
    assert_eq!(answer.body["error"], "unauthorized");

    // A refused Bearer token: both challenges, with the error.
    let answer = send(
        layer,
        "GET",
        "/orders",
        &[("authorization", "Bearer e30.e30.e30")],
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.challenges.len(), 2, "{answer:?}");
    assert!(answer.challenges[0].starts_with(r#"Bearer realm="api", error="invalid_token""#));
    assert!(answer.challenges[1].starts_with(r#"DPoP realm="api", error="invalid_token""#));
}

#[test]
fn configuration_is_checked() {
    use auth_core::ConfigErrorKind;
    let field = |builder: tower_jwt::dpop::DpopConfigBuilder| builder.build().unwrap_err().field();
    assert_eq!(
        field(DpopConfig::builder("http://api.example.test")),
        "origin"
    );
    assert_eq!(
        field(DpopConfig::builder("https://api.example.test/?a=1")),
        "origin"
    );
    assert_eq!(
        field(DpopConfig::builder(ORIGIN).algorithms([Algorithm::ES256, Algorithm::HS256])),
        "algorithms"
    );
    assert_eq!(
        field(DpopConfig::builder(ORIGIN).algorithms([])),
        "algorithms"
    );
    assert_eq!(
        field(DpopConfig::builder(ORIGIN).proof_max_age(Duration::from_secs(301))),
        "proof_max_age"
    );
    assert_eq!(
        field(DpopConfig::builder(ORIGIN).proof_leeway(Duration::from_secs(61))),
        "proof_leeway"
    );
    let err = DpopConfig::builder(ORIGIN)
        .max_proof_length(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::InvalidValue);
    assert_eq!(
        field(DpopConfig::builder(ORIGIN).nonces([7u8; 31], Duration::from_secs(60))),
        "nonces"
    );
    assert_eq!(
        field(DpopConfig::builder(ORIGIN).nonces(NONCE_SECRET, Duration::ZERO)),
        "nonces"
    );
    assert_eq!(
        field(DpopConfig::builder(ORIGIN).nonces(NONCE_SECRET, Duration::from_secs(3601))),
        "nonces"
    );
    // The secret is never printed.
    let builder = DpopConfig::builder(ORIGIN).nonces(NONCE_SECRET, Duration::from_secs(60));
    assert!(!format!("{builder:?}").contains("shared"), "{builder:?}");
    let config = builder.build().unwrap();
    assert!(!format!("{config:?}").contains("shared"), "{config:?}");
    // http is accepted on loopback only.
    assert!(DpopConfig::builder("http://127.0.0.1:8080").build().is_ok());
    let config = DpopConfig::builder(ORIGIN)
        .algorithms([Algorithm::ES256])
        .build()
        .unwrap();
    assert_eq!(config.algorithms(), [Algorithm::ES256]);
}

#[tokio::test]
async fn a_narrower_window_and_algorithm_list_are_honoured() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let config = DpopConfig::builder(ORIGIN)
        .algorithms([Algorithm::EdDSA])
        .proof_max_age(Duration::from_secs(10))
        .build()
        .unwrap();
    let layer = dpop_layer(config);
    let answer = dpop_get(layer.clone(), &token, &key.proof("GET", "/orders", &token)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.challenges,
        [
            r#"DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof's algorithm is not accepted", algs="EdDSA""#
        ]
    );
    let ed = ProofKey::ed25519();
    let token = access_token(Some(&ed.jkt()));
    let mut claims = proof_claims("GET", "/orders", &token);
    claims["iat"] = json!(now() - 20);
    let answer = dpop_get(layer, &token, &ed.sign_raw(&ed.header(), &claims)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"], "invalid_dpop_proof");
}

/// A replay store that cannot answer: 503, not 401 and not a pass.
#[tokio::test]
async fn a_failing_replay_store_answers_503() {
    struct Down;
    #[async_trait::async_trait]
    impl DpopReplayStore for Down {
        async fn first_use(
            &self,
            _: &[u8; 32],
            _: Duration,
        ) -> Result<bool, auth_core::StoreError> {
            Err(auth_core::StoreError::unavailable("connection refused"))
        }
    }
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = dpop_layer(dpop_config(Arc::new(Down)));
    let answer = dpop_get(layer, &token, &key.proof("GET", "/orders", &token)).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.challenges.is_empty());
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn a_proof_used_on_one_instance_is_refused_on_another_sharing_redis() {
    use tower_jwt::dpop::RedisDpopReplayStore;
    let url = testkit::require_redis();
    let prefix = format!("test:dpop:{}:", uuid::Uuid::new_v4());
    let store = || async {
        Arc::new(
            RedisDpopReplayStore::builder(url.clone())
                .prefix(prefix.clone())
                .connect()
                .await
                .unwrap(),
        )
    };
    let a = dpop_layer(dpop_config(store().await));
    let b = dpop_layer(dpop_config(store().await));
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let proof = key.proof("GET", "/orders", &token);
    let first = dpop_get(a.clone(), &token, &proof).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_proof_refused(
        &dpop_get(b.clone(), &token, &proof).await,
        "the DPoP proof has been used before",
    );
    assert_proof_refused(
        &dpop_get(a, &token, &proof).await,
        "the DPoP proof has been used before",
    );
    // A fresh proof passes on B.
    let fresh = dpop_get(b, &token, &key.proof("GET", "/orders", &token)).await;
    assert_eq!(fresh.status, StatusCode::OK, "{fresh:?}");

    // The key expires with the proof's window (65 s + 1 s by default).
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2);
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query_async(&mut connection)
        .await
        .unwrap();
    assert!((60_000..=66_000).contains(&ttl), "{ttl}");
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_down_answers_503() {
    use tower_jwt::dpop::RedisDpopReplayStore;
    let mut server = testkit::RedisServer::start();
    let store = RedisDpopReplayStore::builder(server.url())
        .timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    let layer = dpop_layer(dpop_config(Arc::new(store)));
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let ok = dpop_get(layer.clone(), &token, &key.proof("GET", "/orders", &token)).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    server.stop();
    let down = dpop_get(layer, &token, &key.proof("GET", "/orders", &token)).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{down:?}");
}

/// Only a request whose token and proof passed every other check records its proof, so
/// refused requests cannot fill the replay store.
#[tokio::test]
async fn refused_requests_record_nothing_in_the_replay_store() {
    let store = Arc::new(MemoryDpopReplayStore::new(100));
    let layer = dpop_layer(dpop_config(store.clone()));
    let key = ProofKey::p256();
    let unbound = access_token(None);
    let answer = dpop_get(
        layer.clone(),
        &unbound,
        &key.proof("GET", "/orders", &unbound),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let other = access_token(Some(&ProofKey::ed25519().jkt()));
    let answer = dpop_get(layer.clone(), &other, &key.proof("GET", "/orders", &other)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let bound = access_token(Some(&key.jkt()));
    let answer = dpop_get(layer.clone(), &bound, &key.proof("POST", "/orders", &bound)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(store.is_empty(), "{store:?}");
    let answer = dpop_get(layer, &bound, &key.proof("GET", "/orders", &bound)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(store.len(), 1);
}

const NONCE_SECRET: &[u8] = b"the nonce secret the instances shared";
const SLOT: u64 = 600;

fn nonce_layer(secret: &[u8]) -> JwtLayer {
    dpop_layer(
        DpopConfig::builder(ORIGIN)
            .nonces(secret, Duration::from_secs(SLOT))
            .build()
            .unwrap(),
    )
}

/// A proof carrying `nonce`.
fn nonce_proof(key: &ProofKey, token: &str, nonce: &str) -> String {
    let mut claims = proof_claims("GET", "/orders", token);
    claims["nonce"] = json!(nonce);
    key.sign_raw(&key.header(), &claims)
}

/// The nonce of `slot` as the documented format makes it:
/// `base64url(slot ‖ HMAC-SHA-256(secret, origin ‖ 0 ‖ slot)[..16])`.
fn nonce_of(secret: &[u8], slot: u64) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
    mac.update(b"https://api.example.test:443\0");
    mac.update(&slot.to_be_bytes());
    let tag = mac.finalize().into_bytes();
    let mut bytes = slot.to_be_bytes().to_vec();
    bytes.extend_from_slice(&tag[..16]);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn slot_now() -> u64 {
    u64::try_from(now()).unwrap() / SLOT
}

fn assert_nonce_required(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(
        answer.challenges,
        [format!(
            r#"DPoP realm="api", error="use_dpop_nonce", error_description="the DPoP proof must carry the nonce from the DPoP-Nonce header", algs="{ALGS}""#
        )],
        "{answer:?}"
    );
    assert_eq!(answer.body["error"], "use_dpop_nonce", "{answer:?}");
    let nonce = answer.nonce.as_deref().expect("a DPoP-Nonce header");
    assert_eq!(nonce.len(), 32, "{nonce}");
}

/// Sends `proof` with `nonce_of(slot)` for `slot` computed now, again if the slot turned
/// while the request ran (so the test never depends on timing).
async fn with_slot_nonce(
    layer: &JwtLayer,
    key: &ProofKey,
    token: &str,
    secret: &[u8],
    back: u64,
) -> Answer {
    loop {
        let slot = slot_now();
        let proof = nonce_proof(key, token, &nonce_of(secret, slot - back));
        let answer = dpop_get(layer.clone(), token, &proof).await;
        if slot_now() == slot {
            return answer;
        }
    }
}

#[tokio::test]
async fn a_proof_without_the_servers_nonce_gets_use_dpop_nonce_and_passes_with_it() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = nonce_layer(NONCE_SECRET);
    let first = dpop_get(layer.clone(), &token, &key.proof("GET", "/orders", &token)).await;
    assert_nonce_required(&first);
    let nonce = first.nonce.unwrap();
    let retry = dpop_get(layer.clone(), &token, &nonce_proof(&key, &token, &nonce)).await;
    assert_eq!(retry.status, StatusCode::OK, "{retry:?}");
    assert_eq!(retry.body["jkt"], key.jkt().as_str());
    // The nonce is not single-use: the next proof (a new `jti`) carries it again.
    let again = dpop_get(layer, &token, &nonce_proof(&key, &token, &nonce)).await;
    assert_eq!(again.status, StatusCode::OK, "{again:?}");
}

#[tokio::test]
async fn the_current_slots_nonce_passes_quietly_and_the_previous_ones_gets_a_fresh_nonce() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = nonce_layer(NONCE_SECRET);
    let current = with_slot_nonce(&layer, &key, &token, NONCE_SECRET, 0).await;
    assert_eq!(current.status, StatusCode::OK, "{current:?}");
    assert_eq!(current.nonce, None, "{current:?}");
    let previous = with_slot_nonce(&layer, &key, &token, NONCE_SECRET, 1).await;
    assert_eq!(previous.status, StatusCode::OK, "{previous:?}");
    let fresh = previous
        .nonce
        .expect("a fresh DPoP-Nonce on the admitted response");
    assert_ne!(fresh, nonce_of(NONCE_SECRET, slot_now() - 1));
    let next = dpop_get(layer, &token, &nonce_proof(&key, &token, &fresh)).await;
    assert_eq!(next.status, StatusCode::OK, "{next:?}");
}

#[tokio::test]
async fn stale_forged_and_foreign_nonces_get_use_dpop_nonce() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = nonce_layer(NONCE_SECRET);
    // Two slots back.
    assert_nonce_required(&with_slot_nonce(&layer, &key, &token, NONCE_SECRET, 2).await);
    // Minted with another secret, by the format or by another server.
    let foreign = b"another secret of thirty-two bytes!!";
    assert_nonce_required(&with_slot_nonce(&layer, &key, &token, foreign, 0).await);
    let other = nonce_layer(foreign);
    let theirs = dpop_get(other, &token, &key.proof("GET", "/orders", &token))
        .await
        .nonce
        .unwrap();
    let answer = dpop_get(layer.clone(), &token, &nonce_proof(&key, &token, &theirs)).await;
    assert_nonce_required(&answer);
    for bad in ["", "not-a-nonce", "A".repeat(32).as_str()] {
        let answer = dpop_get(layer.clone(), &token, &nonce_proof(&key, &token, bad)).await;
        assert_nonce_required(&answer);
    }
    // A nonce claim that is not a string is a malformed proof.
    let mut claims = proof_claims("GET", "/orders", &token);
    claims["nonce"] = json!(7);
    let answer = dpop_get(layer, &token, &key.sign_raw(&key.header(), &claims)).await;
    assert_proof_refused(&answer, "the DPoP proof is malformed");
}

#[tokio::test]
async fn instances_sharing_the_nonce_secret_accept_each_others_nonces() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let store: Arc<dyn DpopReplayStore> = Arc::new(MemoryDpopReplayStore::new(100));
    let instance = || {
        dpop_layer(
            DpopConfig::builder(ORIGIN)
                .nonces(NONCE_SECRET, Duration::from_secs(SLOT))
                .replay_store(store.clone())
                .build()
                .unwrap(),
        )
    };
    let (a, b) = (instance(), instance());
    let nonce = dpop_get(a.clone(), &token, &key.proof("GET", "/orders", &token))
        .await
        .nonce
        .unwrap();
    let on_b = dpop_get(b, &token, &nonce_proof(&key, &token, &nonce)).await;
    assert_eq!(on_b.status, StatusCode::OK, "{on_b:?}");
    let on_a = dpop_get(a, &token, &nonce_proof(&key, &token, &nonce)).await;
    assert_eq!(on_a.status, StatusCode::OK, "{on_a:?}");
}

/// Nonces are checked after the rest of the proof: a bad proof is `invalid_dpop_proof`
/// whatever its nonce, and a Bearer request is not asked for one.
#[tokio::test]
async fn nonces_come_after_the_proof_checks_and_only_for_dpop() {
    let key = ProofKey::p256();
    let token = access_token(Some(&key.jkt()));
    let layer = nonce_layer(NONCE_SECRET);
    let answer = dpop_get(layer.clone(), &token, &key.proof("POST", "/orders", &token)).await;
    assert_proof_refused(
        &answer,
        "the DPoP proof's `htm` does not match the request method",
    );
    assert_eq!(answer.nonce, None);
    let unbound = access_token(None);
    let auth = format!("Bearer {unbound}");
    let answer = send(layer, "GET", "/orders", &[("authorization", &auth)]).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.nonce, None);
}
