//! Interop: JWT access tokens issued by a real authorization server (oidc-provider 9, npm)
//! verify with `tower_jwt`, configured only by the issuer's OpenID Connect discovery.
//!
//! The provider issues RFC 9068 access tokens (`typ: at+jwt`, ES256) for the resource
//! server `urn:towerauth:api` through the `client_credentials` grant with an RFC 8707
//! `resource=` parameter (see `tests/oidc-provider/provider.mjs`).

mod common;

use std::convert::Infallible;

use auth_core::{AuthMethod, Principal};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::OidcProvider;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt as _;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use tower::{ServiceBuilder, ServiceExt, service_fn};
use tower_jwt::{IssuerConfig, IssuerConfigBuilder, JwtAuthenticator, JwtLayer, JwtVerifier};

const API: &str = "urn:towerauth:api";
const CLIENT: &str = "api-m2m";

/// One POST to the token endpoint: `client_credentials`, `client_secret_basic`, `resource=`.
async fn access_token(op: &OidcProvider) -> String {
    let res = reqwest::Client::new()
        .post(format!("{}/token", op.issuer))
        .basic_auth(CLIENT, Some(format!("{CLIENT}-secret")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&scope=api%3Aread&resource={}",
            common::urlencode(API)
        ))
        .send()
        .await
        .expect("token request");
    assert_eq!(res.status(), reqwest::StatusCode::OK, "token endpoint");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api:read");
    body["access_token"]
        .as_str()
        .expect("access_token in the token response")
        .to_owned()
}

/// Discovery against the running provider (issuer metadata, then its `jwks_uri`) for
/// access tokens addressed to `audience`.
async fn discovered(op: &OidcProvider, audience: &str) -> IssuerConfigBuilder {
    IssuerConfig::discover(op.issuer.as_str(), reqwest::Client::new())
        .await
        .expect("OpenID Connect discovery")
        .audience(audience)
        // oidc-provider's JWT access tokens carry `iat` and `exp` but no `nbf` (RFC 9068
        // does not require it), while tower-jwt requires `nbf` by default.
        .allow_missing_nbf()
}

async fn verifier(op: &OidcProvider, audience: &str) -> JwtVerifier {
    JwtVerifier::new(discovered(op, audience).await.build().unwrap()).unwrap()
}

/// `token` with its payload rewritten to grant `api:admin`, re-encoded as valid base64url
/// JSON and kept under the provider's signature: a privilege-escalation forgery that only the
/// signature can catch. (Flipping a raw base64 character instead can break the JSON, which
/// the verifier reports as `malformed` before it reaches the signature.)
fn tampered(token: &str) -> String {
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap())
        .expect("the provider's payload is JSON");
    assert_eq!(claims["scope"], "api:read");
    claims["scope"] = Value::from("api:read api:admin");
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{header}.{payload}.{signature}")
}

#[tokio::test]
async fn es256_at_jwt_access_token_verifies_by_discovery() {
    let op = OidcProvider::start();
    let token = access_token(&op).await;

    // What the provider sent: an RFC 9068 access token signed ES256 with its EC key.
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid.as_deref(), Some("ec-1"));

    let identity = verifier(&op, API)
        .await
        .verify::<Value>(&token)
        .await
        .expect("the provider's access token must verify");
    assert_eq!(
        identity.subject(),
        CLIENT,
        "client_credentials: sub = client id"
    );
    assert_eq!(identity.issuer(), op.issuer);
    assert!(identity.jti().is_some_and(|j| !j.is_empty()));
    assert!(identity.expires_at() > identity.issued_at());
    let claims = identity.claims();
    assert_eq!(claims["scope"], "api:read");
    assert_eq!(claims["client_id"], CLIENT);
    assert_eq!(claims["aud"], API);
    assert!(claims.get("nbf").is_none(), "see allow_missing_nbf above");
    let principal = identity.principal();
    assert_eq!(principal.method(), &AuthMethod::Jwt);
    assert_eq!(principal.scopes(), ["api:read"]);
}

#[tokio::test]
async fn wrong_audience_and_tampered_payload_are_refused() {
    let op = OidcProvider::start();
    let token = access_token(&op).await;

    let other = verifier(&op, "urn:towerauth:other-api").await;
    let err = other.verify::<Value>(&token).await.unwrap_err();
    assert_eq!(
        err.status(),
        StatusCode::UNAUTHORIZED,
        "wrong audience: {err}"
    );
    assert_eq!(err.reason(), "audience");

    let right = verifier(&op, API).await;
    right
        .verify::<Value>(&token)
        .await
        .expect("the untouched token verifies");
    let forged = tampered(&token);
    assert_ne!(forged, token);
    let err = right.verify::<Value>(&forged).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::UNAUTHORIZED, "tampered: {err}");
    assert_eq!(err.reason(), "signature");
}

#[tokio::test]
async fn jwt_layer_accepts_the_providers_access_token() {
    let op = OidcProvider::start();
    let token = access_token(&op).await;

    let layer: JwtLayer = JwtAuthenticator::new(verifier(&op, API).await).layer();
    let svc =
        ServiceBuilder::new()
            .layer(layer)
            .service(service_fn(|req: Request<()>| async move {
                let principal = req.extensions().get::<Principal>().unwrap();
                let body = format!(
                    "{} {} {}",
                    principal.method().as_str(),
                    principal.subject(),
                    principal.scopes().join(" ")
                );
                Ok::<_, Infallible>(Response::new(body))
            }));

    let ok = svc
        .clone()
        .oneshot(
            Request::get("/")
                .header("authorization", format!("Bearer {token}"))
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let body = ok.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"jwt api-m2m api:read");

    let refused = svc
        .oneshot(
            Request::get("/")
                .header("authorization", format!("Bearer {}", tampered(&token)))
                .body(())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let challenge = refused.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("invalid_token"), "{challenge}");
}
