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
use common::{Provider, app, builder};
use http_body_util::BodyExt;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use testkit::dpop::{self, ProofKey};
use tower::ServiceExt;
use tower_jwt::dpop::DpopConfig;

const ORIGIN: &str = "https://api.example.test";
const ALGS: &str = "ES256 ES384 EdDSA PS256 RS256";
const P256_PRIV: &[u8] = include_bytes!("../../tower-jwt/tests/data/keys/p256.pem");
const P384_PRIV: &[u8] = include_bytes!("../../tower-jwt/tests/data/keys/p384.pem");

/// A proof for `GET /read` carrying `token` and `nonce`.
fn read_proof(key: &ProofKey, token: &str, nonce: &str) -> String {
    key.proof("GET", &format!("{ORIGIN}/read"), Some(token), Some(nonce))
}

/// An opaque access token of `intro-dpop`, bound to `key` by a proof on the token request.
async fn bound_token(op: &Provider, key: &ProofKey) -> String {
    let form = [("scope", "read write")];
    let token = dpop::bound_token(op.issuer.as_str(), "intro-dpop", key, &form).await;
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
    let challenges = testkit::dpop::challenges(response.headers());
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
    let key = ProofKey::new(Algorithm::ES256, P256_PRIV);
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
        let answer = dpop_read(&app, &token, read_proof(&key, &token, &nonce)).await;
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body["subject"], "intro-dpop");
    }
    // Cached or not, every proof is checked: a replay, another key, another URI, another
    // token's `ath`.
    let proof = read_proof(&key, &token, &nonce);
    assert_eq!(
        dpop_read(&app, &token, proof.clone()).await.status,
        StatusCode::OK
    );
    assert_proof_refused(
        &dpop_read(&app, &token, proof).await,
        "the DPoP proof has been used before",
    );
    let other = ProofKey::new(Algorithm::ES384, P384_PRIV);
    assert_proof_refused(
        &dpop_read(&app, &token, read_proof(&other, &token, &nonce)).await,
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
    let wrong_ath = read_proof(&key, "another-token", &nonce);
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
    let answer = dpop_read(&app, &unbound, read_proof(&key, &unbound, &nonce)).await;
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
        .header("dpop", read_proof(&key, &token, &nonce))
        .body(Body::empty())
        .unwrap();
    let identity = authenticator.clone().authenticate(&request).await.unwrap();
    assert_eq!(identity.dpop_thumbprint(), Some(key.jkt().as_str()));
    assert_eq!(identity.member("token_type"), Some(&json!("DPoP")));
}

#[tokio::test]
async fn a_bound_token_is_refused_as_bearer_without_dpop_configured() {
    let op = Provider::start();
    let key = ProofKey::new(Algorithm::ES256, P256_PRIV);
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
