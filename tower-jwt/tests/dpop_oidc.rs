//! DPoP end to end with a real authorization server (oidc-provider 9, npm, with
//! `features.dPoP`; see `tower-oauth/tests/oidc-provider/provider.mjs`): the client
//! `api-dpop` obtains a DPoP-bound access token by `client_credentials` with a proof on the
//! token request, then calls an axum route behind the JWT layer with fresh proofs.

use std::sync::Arc;

use auth_core::Authenticated;
use axum::Router;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use testkit::OidcProvider;
use testkit::dpop::{ProofKey, bound_token};
use tower::ServiceExt;
use tower_jwt::dpop::{DpopConfig, MemoryDpopReplayStore};
use tower_jwt::{Claims, IssuerConfig, JwtVerifier};

const API: &str = "urn:towerauth:api";
const CLIENT: &str = "api-dpop";
const ORIGIN: &str = "https://api.example.test";
const P256_PRIV: &[u8] = include_bytes!("data/keys/p256.pem");

async fn handler(Authenticated(claims): Authenticated<Claims>) -> String {
    format!(
        "{} {}",
        claims.subject(),
        claims.dpop_thumbprint().unwrap_or("unbound")
    )
}

async fn call(app: &Router, headers: &[(&str, String)]) -> (StatusCode, Vec<String>, String) {
    let mut request = Request::get("/orders");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = app
        .clone()
        .oneshot(request.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let challenges = testkit::dpop::challenges(response.headers());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        challenges,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn a_dpop_bound_token_from_oidc_provider_is_accepted_with_fresh_proofs_only() {
    let op = OidcProvider::start();
    let client = ProofKey::new(Algorithm::ES256, P256_PRIV);
    let form = [("scope", "api:read"), ("resource", API)];
    let token = bound_token(op.issuer.as_str(), CLIENT, &client, &form).await;

    // The provider bound the token to the client's key.
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["cnf"]["jkt"], client.jkt().as_str(), "{payload}");

    let issuer = IssuerConfig::discover(op.issuer.as_str(), reqwest::Client::new())
        .await
        .expect("discovery")
        .audience(API)
        .allow_missing_nbf()
        .build()
        .unwrap();
    let dpop = DpopConfig::builder(ORIGIN)
        .replay_store(Arc::new(MemoryDpopReplayStore::new(1_000)))
        .build()
        .unwrap();
    let layer = JwtVerifier::new(issuer)
        .unwrap()
        .authenticator()
        .dpop(dpop)
        .layer();
    let app = Router::new()
        .route("/orders", get(handler))
        .route_layer(layer);
    let htu = format!("{ORIGIN}/orders");
    let auth = format!("DPoP {token}");

    for _ in 0..2 {
        let proof = client.proof("GET", &htu, Some(&token), None);
        let (status, _, body) =
            call(&app, &[("authorization", auth.clone()), ("dpop", proof)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, format!("{CLIENT} {}", client.jkt()));
    }

    // The same proof again: a replay.
    let proof = client.proof("GET", &htu, Some(&token), None);
    let headers = [("authorization", auth.clone()), ("dpop", proof)];
    assert_eq!(call(&app, &headers).await.0, StatusCode::OK);
    let (status, challenges, _) = call(&app, &headers).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenges,
        [
            r#"DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof has been used before", algs="ES256 ES384 EdDSA PS256 RS256""#
        ]
    );

    // The proof for the token request cannot be reused at the resource (`htm`, `htu`).
    let token_proof = client.proof("POST", &format!("{}/token", op.issuer), Some(&token), None);
    let (status, challenges, _) = call(
        &app,
        &[("authorization", auth.clone()), ("dpop", token_proof)],
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        challenges[0].contains("`htm` does not match"),
        "{challenges:?}"
    );

    // The bound token as Bearer: refused, both challenges offered.
    let (status, challenges, _) = call(&app, &[("authorization", format!("Bearer {token}"))]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(
        challenges[0].starts_with(r#"Bearer realm="api", error="invalid_token", error_description="the token is bound to a DPoP key"#),
        "{challenges:?}"
    );
}
