//! DPoP (RFC 9449) for introspected tokens, against the real provider (oidc-provider 9,
//! `tower-oauth/tests/oidc-provider`): the client `intro-dpop` gets an opaque DPoP-bound
//! token by `client_credentials`, its introspection answer carries `cnf.jkt`, and the API
//! applies the same rules as to a bound JWT, proof and replay checked on cache hits too,
//! with server nonces.

mod common;

use std::time::Duration;

use auth_core::Authenticate;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Provider, app, builder};
use http_body_util::BodyExt;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::ServiceExt;
use tower_jwt::dpop::DpopConfig;

const ORIGIN: &str = "https://api.example.test";
const ALGS: &str = "ES256 ES384 EdDSA PS256 RS256";
const P256_PRIV: &[u8] = include_bytes!("../../tower-jwt/tests/data/keys/p256.pem");
const P384_PRIV: &[u8] = include_bytes!("../../tower-jwt/tests/data/keys/p384.pem");

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A client's proof key and its public JWK.
struct Key {
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

impl Key {
    fn new(alg: Algorithm, pem: &[u8]) -> Self {
        tower_jwt::ensure_crypto_backend().unwrap();
        let key = EncodingKey::from_ec_pem(pem).unwrap();
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, alg).unwrap()).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        Self { alg, key, jwk }
    }

    fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.jwk.clone()).unwrap();
        jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
    }

    /// A fresh proof for `method` `htu`, with `ath` and `nonce` when given.
    fn proof(&self, method: &str, htu: &str, token: Option<&str>, nonce: Option<&str>) -> String {
        let header =
            json!({ "typ": "dpop+jwt", "alg": format!("{:?}", self.alg), "jwk": self.jwk });
        let mut claims = json!({
            "jti": format!("{:032x}", rand::random::<u128>()),
            "htm": method,
            "htu": htu,
            "iat": jsonwebtoken::get_current_timestamp(),
        });
        if let Some(token) = token {
            claims["ath"] = json!(b64(&Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, self.alg).unwrap();
        format!("{input}.{signature}")
    }

    /// A proof for `GET /read` carrying `token` and `nonce`.
    fn read_proof(&self, token: &str, nonce: &str) -> String {
        self.proof("GET", &format!("{ORIGIN}/read"), Some(token), Some(nonce))
    }
}

/// An opaque access token of `intro-dpop`, bound to `key` by a proof on the token request.
async fn bound_token(op: &Provider, key: &Key) -> String {
    let token_endpoint = format!("{}/token", op.issuer);
    let response = reqwest::Client::new()
        .post(&token_endpoint)
        .basic_auth("intro-dpop", Some("intro-dpop-secret"))
        .header("dpop", key.proof("POST", &token_endpoint, None, None))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "read write"),
        ])
        .send()
        .await
        .expect("the token endpoint");
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token.split('.').count(), 1, "an opaque token: {token}");
    token
}

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    challenges: Vec<String>,
    nonce: Option<String>,
    body: Value,
}

/// `GET /read` with these headers.
async fn read(app: &Router, headers: &[(&str, String)]) -> Answer {
    let mut request = Request::builder().uri("/read");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        challenges,
        nonce,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

async fn dpop_read(app: &Router, token: &str, proof: String) -> Answer {
    read(
        app,
        &[("authorization", format!("DPoP {token}")), ("dpop", proof)],
    )
    .await
}

fn assert_proof_refused(answer: &Answer, description: &str) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(
        answer.challenges,
        [format!(
            r#"DPoP realm="api", error="invalid_dpop_proof", error_description="{description}", algs="{ALGS}""#
        )],
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_introspected_dpop_bound_token_follows_the_dpop_rules() {
    let op = Provider::start();
    let key = Key::new(Algorithm::ES256, P256_PRIV);
    let token = bound_token(&op, &key).await;
    let dpop = DpopConfig::builder(ORIGIN)
        .nonces(
            b"the nonce secret the instances share",
            Duration::from_secs(600),
        )
        .build()
        .unwrap();
    let introspection = builder(&op.issuer, &op.issuer).build().unwrap();
    let authenticator = introspection.authenticator().dpop(dpop);
    let app = app(authenticator.clone());

    // No nonce yet: 401 use_dpop_nonce and one to retry with.
    let first = dpop_read(
        &app,
        &token,
        key.proof("GET", &format!("{ORIGIN}/read"), Some(&token), None),
    )
    .await;
    assert_eq!(first.status, StatusCode::UNAUTHORIZED, "{first:?}");
    assert_eq!(
        first.challenges,
        [format!(
            r#"DPoP realm="api", error="use_dpop_nonce", error_description="the DPoP proof must carry the nonce from the DPoP-Nonce header", algs="{ALGS}""#
        )]
    );
    let nonce = first.nonce.expect("a DPoP-Nonce header");

    // With it: introspected (cnf.jkt names the key), then answered from the cache, a
    // fresh proof each time.
    for _ in 0..2 {
        let answer = dpop_read(&app, &token, key.read_proof(&token, &nonce)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body["subject"], "intro-dpop");
    }
    // Cached or not, every proof is checked: a replay, another key, another URI, another
    // token's `ath`.
    let proof = key.read_proof(&token, &nonce);
    assert_eq!(
        dpop_read(&app, &token, proof.clone()).await.status,
        StatusCode::OK
    );
    assert_proof_refused(
        &dpop_read(&app, &token, proof).await,
        "the DPoP proof has been used before",
    );
    let other = Key::new(Algorithm::ES384, P384_PRIV);
    assert_proof_refused(
        &dpop_read(&app, &token, other.read_proof(&token, &nonce)).await,
        "the DPoP proof is not signed by the key the token is bound to",
    );
    let wrong_uri = key.proof(
        "GET",
        &format!("{ORIGIN}/write"),
        Some(&token),
        Some(&nonce),
    );
    assert_proof_refused(
        &dpop_read(&app, &token, wrong_uri).await,
        "the DPoP proof's `htu` does not match the request URI",
    );
    let wrong_ath = key.read_proof("another-token", &nonce);
    assert_proof_refused(
        &dpop_read(&app, &token, wrong_ath).await,
        "the DPoP proof's `ath` does not match the access token",
    );

    // The bound token as Bearer: refused, both challenges offered.
    let bearer = read(&app, &[("authorization", format!("Bearer {token}"))]).await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED, "{bearer:?}");
    let bound = "the token is bound to a DPoP key: present it with the DPoP scheme and a proof";
    assert_eq!(
        bearer.challenges,
        [
            format!(r#"Bearer realm="api", error="invalid_token", error_description="{bound}""#),
            format!(
                r#"DPoP realm="api", error="invalid_token", error_description="{bound}", algs="{ALGS}""#
            ),
        ]
    );

    // An unbound token with the DPoP scheme and a valid proof: refused as a token.
    let unbound = op.opaque_token("intro-app", "read").await;
    let answer = dpop_read(&app, &unbound, key.read_proof(&unbound, &nonce)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
    assert_eq!(
        answer.challenges,
        [format!(
            r#"DPoP realm="api", error="invalid_token", error_description="the token is not bound to a DPoP key: present it as a Bearer token", algs="{ALGS}""#
        )]
    );
    // …and accepted as Bearer.
    let answer = read(&app, &[("authorization", format!("Bearer {unbound}"))]).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");

    // The identity names the key the provider bound the token to.
    let request = Request::builder()
        .uri("/read")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", key.read_proof(&token, &nonce))
        .body(Body::empty())
        .unwrap();
    let identity = authenticator.clone().authenticate(&request).await.unwrap();
    assert_eq!(identity.dpop_thumbprint(), Some(key.jkt().as_str()));
    assert_eq!(identity.member("token_type"), Some(&json!("DPoP")));
}

#[tokio::test]
async fn a_bound_token_is_refused_as_bearer_without_dpop_configured() {
    let op = Provider::start();
    let key = Key::new(Algorithm::ES256, P256_PRIV);
    let token = bound_token(&op, &key).await;
    let app = app(builder(&op.issuer, &op.issuer)
        .build()
        .unwrap()
        .authenticator());
    for _ in 0..2 {
        // Introspected, then from the cache.
        let answer = read(&app, &[("authorization", format!("Bearer {token}"))]).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer:?}");
        assert_eq!(
            answer.challenges,
            [
                r#"Bearer realm="api", error="invalid_token", error_description="the token is bound to a DPoP key: present it with the DPoP scheme and a proof""#
            ]
        );
    }
}
