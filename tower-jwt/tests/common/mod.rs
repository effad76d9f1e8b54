//! Shared helpers for the integration tests: test keys, token minting, a service behind
//! the JWT layer, and an in-test revocation store.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use auth_core::StoreError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, Response, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_jwt::revocation::{Revocation, RevocationStatus, RevocationStore, TokenRef};
use tower_jwt::{
    Claims, IssuerConfig, IssuerConfigBuilder, JwtAuthenticator, JwtLayer, JwtVerifier, Key,
};

pub const ISS: &str = "https://issuer.test";
pub const AUD: &str = "api";
pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef-hs256";

pub const RSA_PRIV: &[u8] = include_bytes!("../data/keys/rsa2048.pem");
pub const RSA_PUB: &[u8] = include_bytes!("../data/keys/rsa2048.pub.pem");
pub const RSA_B_PRIV: &[u8] = include_bytes!("../data/keys/rsa2048b.pem");
pub const RSA_B_PUB: &[u8] = include_bytes!("../data/keys/rsa2048b.pub.pem");
pub const RSA1024_PUB: &[u8] = include_bytes!("../data/keys/rsa1024.pub.pem");
pub const RSA1024_PRIV: &[u8] = include_bytes!("../data/keys/rsa1024.pem");
pub const P256_PRIV: &[u8] = include_bytes!("../data/keys/p256.pem");
pub const P256_PUB: &[u8] = include_bytes!("../data/keys/p256.pub.pem");
pub const P384_PRIV: &[u8] = include_bytes!("../data/keys/p384.pem");
pub const P384_PUB: &[u8] = include_bytes!("../data/keys/p384.pub.pem");
pub const ED_PRIV: &[u8] = include_bytes!("../data/keys/ed25519.pem");
pub const ED_PUB: &[u8] = include_bytes!("../data/keys/ed25519.pub.pem");

pub fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap()
}

/// Valid access-token claims for `ISS` / `AUD`.
pub fn claims() -> Value {
    let now = now();
    json!({
        "iss": ISS, "aud": AUD, "sub": "alice", "iat": now, "nbf": now, "exp": now + 300,
        "jti": "jti-1", "scope": "read write",
    })
}

pub fn encoding_key(alg: Algorithm) -> EncodingKey {
    tower_jwt::ensure_crypto_backend().unwrap();
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
            EncodingKey::from_secret(SECRET).unwrap()
        }
        Algorithm::ES256 => EncodingKey::from_ec_pem(P256_PRIV).unwrap(),
        Algorithm::ES384 => EncodingKey::from_ec_pem(P384_PRIV).unwrap(),
        Algorithm::EdDSA => EncodingKey::from_ed_pem(ED_PRIV).unwrap(),
        _ => EncodingKey::from_rsa_pem(RSA_PRIV).unwrap(),
    }
}

pub fn verification_key(alg: Algorithm) -> Key {
    match alg {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Key::hmac(alg, SECRET).unwrap(),
        Algorithm::ES256 => Key::ec_pem(alg, P256_PUB).unwrap(),
        Algorithm::ES384 => Key::ec_pem(alg, P384_PUB).unwrap(),
        Algorithm::EdDSA => Key::ed_pem(ED_PUB).unwrap(),
        _ => Key::rsa_pem(alg, RSA_PUB).unwrap(),
    }
}

/// An `at+jwt` header for `alg` with `kid` "k1".
pub fn header(alg: Algorithm) -> Header {
    let mut header = Header::new(alg);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some("k1".to_owned());
    header
}

pub fn sign(header: &Header, claims: &Value) -> String {
    jsonwebtoken::encode(header, claims, &encoding_key(header.alg)).unwrap()
}

/// The default HS256 access token.
pub fn token() -> String {
    sign(&header(Algorithm::HS256), &claims())
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with a hand-written header and payload, HS256-signed with `SECRET`.
pub fn raw_hs256(header_json: &str, payload_json: &str) -> String {
    tower_jwt::ensure_crypto_backend().unwrap();
    let input = format!(
        "{}.{}",
        b64(header_json.as_bytes()),
        b64(payload_json.as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &EncodingKey::from_secret(SECRET).unwrap(),
        Algorithm::HS256,
    )
    .unwrap();
    format!("{input}.{signature}")
}

/// An issuer builder for `ISS` / `AUD` with `key`.
pub fn issuer(key: Key) -> IssuerConfigBuilder {
    IssuerConfig::builder(ISS)
        .audience(AUD)
        .key(key.with_kid("k1"))
}

pub fn verifier(builder: IssuerConfigBuilder) -> JwtVerifier {
    JwtVerifier::new(builder.build().unwrap()).unwrap()
}

pub fn hs_verifier() -> JwtVerifier {
    verifier(issuer(verification_key(Algorithm::HS256)))
}

/// What a request through the layer came back with.
#[derive(Debug)]
pub struct Outcome {
    pub status: StatusCode,
    pub challenge: Option<String>,
    pub body: String,
}

/// Sends one request with `Authorization: Bearer <token>` through `layer` in front of a
/// handler answering the subject and scopes.
pub async fn call(layer: JwtLayer, token: Option<&str>) -> Outcome {
    let svc =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|req: Request<String>| async move {
                let identity = req.extensions().get::<Claims>().expect("identity inserted");
                let principal = req
                    .extensions()
                    .get::<auth_core::Principal>()
                    .expect("principal inserted");
                assert_eq!(identity.subject(), principal.subject());
                Ok::<_, Infallible>(Response::new(format!(
                    "{} {}",
                    principal.subject(),
                    principal.scopes().join(",")
                )))
            }));
    let mut request = Request::builder();
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = svc
        .oneshot(request.body(String::new()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    Outcome {
        status,
        challenge,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub fn layer(verifier: JwtVerifier) -> JwtLayer {
    JwtAuthenticator::new(verifier).layer()
}

/// The RFC 6750 challenge for an `invalid_token` refusal described by `description`.
pub fn invalid_token(description: &str) -> Option<String> {
    Some(format!(
        r#"Bearer realm="api", error="invalid_token", error_description="{description}""#
    ))
}

/// Asserts `token` is refused by `verifier` with 401 and the challenge for `description`.
pub async fn assert_refused(verifier: JwtVerifier, token: &str, description: &str) {
    let outcome = call(layer(verifier), Some(token)).await;
    assert_eq!(outcome.status, StatusCode::UNAUTHORIZED, "{outcome:?}");
    assert_eq!(outcome.challenge, invalid_token(description), "{outcome:?}");
}

/// Asserts `token` is accepted by `verifier` (200, subject alice).
pub async fn assert_accepted(verifier: JwtVerifier, token: &str) {
    let outcome = call(layer(verifier), Some(token)).await;
    assert_eq!(outcome.status, StatusCode::OK, "{outcome:?}");
    assert!(outcome.body.starts_with("alice"), "{outcome:?}");
}

/// An in-test revocation store: a set of revoked `jti`s and an "unavailable" switch.
#[derive(Debug, Default)]
pub struct TestRevocations {
    pub revoked: Mutex<HashSet<String>>,
    pub unavailable: AtomicBool,
    pub checks: std::sync::atomic::AtomicUsize,
}

impl TestRevocations {
    pub fn revoke(&self, jti: &str) {
        self.revoked.lock().unwrap().insert(jti.to_owned());
    }
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }
}

#[async_trait]
impl RevocationStore for TestRevocations {
    fn check(&self, token: &TokenRef<'_>) -> RevocationStatus {
        self.checks.fetch_add(1, Ordering::SeqCst);
        assert_eq!(token.issuer, ISS);
        if self.unavailable.load(Ordering::SeqCst) {
            return RevocationStatus::Unavailable;
        }
        match token.jti {
            Some(jti) if self.revoked.lock().unwrap().contains(jti) => RevocationStatus::Revoked,
            _ => RevocationStatus::Active,
        }
    }

    async fn revoke(&self, revocation: Revocation) -> Result<(), StoreError> {
        if let Revocation::Token { jti, .. } = revocation {
            self.revoke(&jti);
        }
        Ok(())
    }

    /// Never forgets.
    fn leeway(&self) -> std::time::Duration {
        std::time::Duration::MAX
    }
}
