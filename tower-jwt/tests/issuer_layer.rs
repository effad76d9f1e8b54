//! Tokens from `TokenIssuer` through the crate's own `JwtLayer`: the access token is
//! accepted, the refresh token is refused (its `typ` and audience), logout revokes the
//! access token on the next request (the layer checks the issuer's revocation store).
#![cfg(feature = "issuing")]

use std::convert::Infallible;

use auth_core::Principal;
use http::{Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_jwt::issuer::{Grant, SigningKey, TokenIssuer};
use tower_jwt::{IssuerConfig, JwtAuthenticator, JwtLayer, JwtVerifier, KeySet};

const ISS: &str = "https://auth.example.com";
const AUD: &str = "https://api.example.com";

fn issuer() -> TokenIssuer {
    let key = SigningKey::es256_pem("ec-1", include_bytes!("issuer_keys/ec.pem")).unwrap();
    TokenIssuer::builder(ISS, AUD, key).build().unwrap()
}

/// A verifier configured from the issuer's published JWKS, sharing its revocation store.
fn layer(issuer: &TokenIssuer) -> JwtLayer<serde_json::Value> {
    let keys = KeySet::from_jwks(&issuer.jwks().to_string()).unwrap();
    let config = IssuerConfig::builder(ISS)
        .audience(AUD)
        .key_set(keys)
        .build()
        .unwrap();
    let verifier = JwtVerifier::builder()
        .issuer(config)
        .revocation(issuer.revocation_store())
        .build()
        .unwrap();
    JwtAuthenticator::new(verifier).layer()
}

async fn call(layer: &JwtLayer<serde_json::Value>, token: &str) -> Response<String> {
    let service = ServiceBuilder::new()
        .layer(layer.clone())
        .service(service_fn(|request: Request<()>| async move {
            let subject = request
                .extensions()
                .get::<Principal>()
                .map(|principal| principal.subject().to_owned())
                .unwrap_or_default();
            Ok::<_, Infallible>(Response::new(subject))
        }));
    let request = Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    Response::from_parts(parts, String::from_utf8_lossy(&body).into_owned())
}

fn challenge(response: &Response<String>) -> &str {
    response.headers()["www-authenticate"].to_str().unwrap()
}

#[tokio::test]
async fn issued_access_tokens_pass_the_layer_and_refresh_tokens_do_not() {
    let issuer = issuer();
    let layer = layer(&issuer);
    let pair = issuer
        .issue(&Grant::new("alice").scope(["read"]))
        .await
        .unwrap();

    let ok = call(&layer, pair.access.as_str()).await;
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.body(), "alice");

    let refused = call(&layer, pair.refresh.as_str()).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&refused).contains(r#"error="invalid_token""#));
}

#[tokio::test]
async fn logout_revokes_the_access_token_at_the_layer() {
    let issuer = issuer();
    let layer = layer(&issuer);
    let pair = issuer.issue(&Grant::new("alice")).await.unwrap();
    assert_eq!(
        call(&layer, pair.access.as_str()).await.status(),
        StatusCode::OK
    );

    issuer
        .logout(Some(pair.access.as_str()), Some(pair.refresh.as_str()))
        .await
        .unwrap();
    // Refused although the token was verified (and cached) a moment ago.
    let refused = call(&layer, pair.access.as_str()).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&refused).contains(r#"error="invalid_token""#));

    // A new login is unaffected.
    let again = issuer.issue(&Grant::new("alice")).await.unwrap();
    assert_eq!(
        call(&layer, again.access.as_str()).await.status(),
        StatusCode::OK
    );
}
