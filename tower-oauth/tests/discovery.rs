//! What a discovered OpenID provider's metadata must hold: PKCE S256 advertised and every
//! endpoint https (http only on loopback), checked at login and by `OAuthClient::discover`.

mod common;

use auth_core::ConfigErrorKind;
use axum::routing::get;
use axum::{Json, Router};
use common::*;
use http::StatusCode;
use serde_json::{Value, json};
use tower_oauth::Provider;

/// Serves the metadata `doc(issuer)` at a loopback issuer; returns the issuer.
async fn metadata_server(doc: impl FnOnce(&str) -> Value) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let body = doc(&issuer);
    let app = Router::new().route(
        "/.well-known/openid-configuration",
        get(move || async move { Json(body) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

/// Metadata with loopback endpoints, PKCE S256 and the members in `changes` replaced
/// (`null` removes one).
fn metadata(issuer: &str, changes: &Value) -> Value {
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/auth"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "userinfo_endpoint": format!("{issuer}/me"),
        "code_challenge_methods_supported": ["S256"],
    });
    for (name, value) in changes.as_object().unwrap() {
        if value.is_null() {
            doc.as_object_mut().unwrap().remove(name);
        } else {
            doc[name] = value.clone();
        }
    }
    doc
}

/// An application with the provider `op` at `issuer`, adjusted by `adjust`.
fn app_for(issuer: &str, adjust: impl FnOnce(Provider) -> Provider) -> TestApp {
    let provider = adjust(Provider::oidc("op", issuer, "client", "client-secret"));
    TestApp::new(
        builder(&Users::default())
            .provider(provider)
            .build()
            .unwrap(),
    )
}

/// `discover()`'s answer for metadata with `changes`, and the login route's status.
async fn outcome(
    changes: Value,
    adjust: impl FnOnce(Provider) -> Provider,
) -> (Result<(), auth_core::ConfigError>, StatusCode) {
    let issuer = metadata_server(|issuer| metadata(issuer, &changes)).await;
    let app = app_for(&issuer, adjust);
    let login = app.get("/oauth/op/login", &Jar::new()).await.status();
    (app.client.discover().await, login)
}

fn as_is(provider: Provider) -> Provider {
    provider
}

#[tokio::test]
async fn well_formed_metadata_is_accepted() {
    let (discovered, login) = outcome(json!({}), as_is).await;
    assert_eq!(discovered, Ok(()));
    assert_eq!(login, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_userinfo_endpoint_must_be_https() {
    for userinfo in ["http://userinfo.example/me", "ftp://userinfo.example/me"] {
        let changes = json!({ "userinfo_endpoint": userinfo });
        let (discovered, login) = outcome(changes.clone(), as_is).await;
        let error = discovered.expect_err(userinfo);
        assert_eq!(error.kind(), ConfigErrorKind::InvalidValue);
        assert_eq!(error.field(), "provider");
        assert!(error.to_string().contains("op: an endpoint"), "{error}");
        assert_eq!(login, StatusCode::SERVICE_UNAVAILABLE, "{userinfo}");
        // Not read by this client, still advertised for the access token: refused too.
        let (discovered, _) = outcome(changes, |p| p.fetch_userinfo(false)).await;
        assert!(discovered.is_err());
    }
    let (discovered, _) = outcome(
        json!({"userinfo_endpoint": "https://userinfo.example/me"}),
        as_is,
    )
    .await;
    assert_eq!(discovered, Ok(()));
}

#[tokio::test]
async fn pkce_s256_must_be_advertised_unless_insecurely_allowed() {
    for methods in [Value::Null, json!(["plain"]), json!([])] {
        let changes = json!({ "code_challenge_methods_supported": methods });
        let (discovered, login) = outcome(changes.clone(), as_is).await;
        let error = discovered.expect_err("no S256 advertised");
        assert_eq!(error.kind(), ConfigErrorKind::InvalidValue);
        assert!(error.to_string().contains("S256"), "{error}");
        assert_eq!(login, StatusCode::SERVICE_UNAVAILABLE);

        let (discovered, login) =
            outcome(changes, Provider::insecure_allow_unadvertised_pkce).await;
        assert_eq!(discovered, Ok(()), "{methods}");
        assert_eq!(login, StatusCode::SEE_OTHER);
    }
}

#[tokio::test]
async fn an_unreachable_provider_is_a_setup_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = app_for(&format!("http://127.0.0.1:{port}"), as_is);
    let error = app.client.discover().await.unwrap_err();
    assert_eq!(error.kind(), ConfigErrorKind::Setup);
    assert!(
        error.to_string().contains("op: discovery failed"),
        "{error}"
    );
}
