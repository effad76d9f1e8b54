//! Access tokens from `DEMO_OIDC_ISSUER` (discovery + JWKS): an ES256 token of that issuer
//! is accepted at `/api/whoami` and `/api/admin`; a wrong audience, an unknown `kid` and an
//! HS256 token claiming that issuer are refused. The issuer is a loopback server in this
//! test publishing `tests/data/oidc-es256.pem`'s public key (a test-only key).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use axum::routing::get;
use axum::{Json, Router};
use common::{SECRET, Server, assert_rejected, http};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

const PEM: &[u8] = include_bytes!("data/oidc-es256.pem");
const X: &str = "e9T6uXqI4IgkWP_Ht0FQC6-fyrXQAy7OYI-gKsIxKYA";
const Y: &str = "R4ddqCYmjmR45scKq5n9HYyWXkWlIYt1vxtuywAV6lU";

/// Serves discovery and the JWKS on a free loopback port; returns the issuer URL.
async fn start_issuer() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let metadata = json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/jwks"),
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
    });
    let jwks = json!({ "keys": [{
        "kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "op-es256", "alg": "ES256", "use": "sig",
    }]});
    let app = Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { Json(metadata) }),
        )
        .route("/jwks", get(move || async move { Json(jwks) }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    issuer
}

fn sign(header: &Header, claims: &Value, key: &EncodingKey) -> String {
    // With every feature on, jsonwebtoken has two backends and picks none by itself.
    tower_jwt::ensure_crypto_backend().unwrap();
    encode(header, claims, key).unwrap()
}

#[tokio::test]
async fn oidc_access_tokens_are_accepted_with_their_issuer_rules() {
    let issuer = start_issuer().await;
    let server = Server::start(&[("DEMO_OIDC_ISSUER", &issuer)]);
    let client = http();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |aud: &str| {
        json!({
            "iss": issuer, "aud": aud, "sub": "op-user", "iat": now, "nbf": now, "exp": now + 300,
            "jti": format!("jti-{aud}"), "scope": "read admin", "client_id": "some-client",
        })
    };
    let es256 = EncodingKey::from_ec_pem(PEM).unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some("op-es256".to_owned());

    let token = sign(&header, &claims("demo-api"), &es256);
    for path in ["/api/whoami", "/api/admin"] {
        let res = client
            .get(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let me: Value = res.json().await.unwrap();
        assert_eq!(
            me,
            json!({ "subject": "op-user", "method": "jwt", "scopes": ["read", "admin"] })
        );
    }

    // DEMO.md: `nbf` is optional in the access tokens the demo accepts.
    let mut no_nbf = claims("demo-api");
    no_nbf.as_object_mut().unwrap().remove("nbf");
    let res = client
        .get(format!("{}/api/whoami", server.url))
        .bearer_auth(sign(&header, &no_nbf, &es256))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a token without nbf is refused");

    let wrong_audience = sign(&header, &claims("another-api"), &es256);
    let mut unknown_kid = header.clone();
    unknown_kid.kid = Some("nope".to_owned());
    let unknown_kid = sign(&unknown_kid, &claims("demo-api"), &es256);
    // Algorithm confusion: HS256 with the demo's own secret, claiming the OIDC issuer.
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".to_owned());
    hs.kid = Some("op-es256".to_owned());
    let confused = sign(
        &hs,
        &claims("demo-api"),
        &EncodingKey::from_secret(SECRET.as_bytes()).unwrap(),
    );
    for bad in [wrong_audience, unknown_kid, confused] {
        let res = client
            .get(format!("{}/api/whoami", server.url))
            .bearer_auth(&bad)
            .send()
            .await
            .unwrap();
        assert_rejected(res, 401, "invalid_token", &bad).await;
    }
}
