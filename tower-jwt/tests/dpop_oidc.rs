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
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use testkit::OidcProvider;
use tower::ServiceExt;
use tower_jwt::dpop::{DpopConfig, MemoryDpopReplayStore};
use tower_jwt::{Claims, IssuerConfig, JwtVerifier};

const API: &str = "urn:towerauth:api";
const CLIENT: &str = "api-dpop";
const ORIGIN: &str = "https://api.example.test";
const P256_PRIV: &[u8] = include_bytes!("data/keys/p256.pem");

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The client's P-256 proof key and its public JWK.
struct Client {
    key: EncodingKey,
    jwk: Value,
}

impl Client {
    fn new() -> Self {
        tower_jwt::ensure_crypto_backend().unwrap();
        let key = EncodingKey::from_ec_pem(P256_PRIV).unwrap();
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap()).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        Self { key, jwk }
    }

    fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.jwk.clone()).unwrap();
        jwk.thumbprint(ThumbprintHash::SHA256).unwrap()
    }

    /// A fresh ES256 proof for `method` `htu`, with `ath` when a token is given.
    fn proof(&self, method: &str, htu: &str, token: Option<&str>) -> String {
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk });
        let mut claims = json!({
            "jti": uuid::Uuid::new_v4().to_string(),
            "htm": method,
            "htu": htu,
            "iat": jsonwebtoken::get_current_timestamp(),
        });
        if let Some(token) = token {
            claims["ath"] = json!(b64(&Sha256::digest(token.as_bytes())));
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, Algorithm::ES256).unwrap();
        format!("{input}.{signature}")
    }
}

/// `client_credentials` for `urn:towerauth:api`, with a DPoP proof on the token request.
async fn bound_token(op: &OidcProvider, client: &Client) -> String {
    let token_endpoint = format!("{}/token", op.issuer);
    let res = reqwest::Client::new()
        .post(&token_endpoint)
        .basic_auth(CLIENT, Some(format!("{CLIENT}-secret")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("dpop", client.proof("POST", &token_endpoint, None))
        .body("grant_type=client_credentials&scope=api%3Aread&resource=urn%3Atowerauth%3Aapi")
        .send()
        .await
        .expect("token request");
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, reqwest::StatusCode::OK, "token endpoint: {body}");
    assert_eq!(body["token_type"], "DPoP", "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

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
    let challenges = response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
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
    let client = Client::new();
    let token = bound_token(&op, &client).await;

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
        let proof = client.proof("GET", &htu, Some(&token));
        let (status, _, body) =
            call(&app, &[("authorization", auth.clone()), ("dpop", proof)]).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body, format!("{CLIENT} {}", client.jkt()));
    }

    // The same proof again: a replay.
    let proof = client.proof("GET", &htu, Some(&token));
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
    let token_proof = client.proof("POST", &format!("{}/token", op.issuer), Some(&token));
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
