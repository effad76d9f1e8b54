//! `DEMO_OIDC_INTROSPECTION=on`: opaque access tokens of `DEMO_OIDC_ISSUER` (the real
//! oidc-provider) are accepted through its RFC 7662 introspection endpoint, asked with the
//! `DEMO_OIDC_CLIENT_*` credentials; the issuer's JWT access tokens still go to the JWT
//! verifier, and without the switch an opaque token is refused.

mod common;

use common::oidc::{DemoEnv, OidcProvider};
use common::{Server, assert_rejected, http, refused_start};
use serde_json::Value;

/// A client-credentials access token of `client` at `provider`: opaque without `resource`,
/// a JWT for `urn:towerauth:api` with it (see `provider.mjs`).
async fn token(provider: &OidcProvider, client: &str, form: &[(&str, &str)]) -> String {
    let body: Value = http()
        .post(format!("{}/token", provider.issuer))
        .basic_auth(client, Some(format!("{client}-secret")))
        .form(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn get(server: &Server, path: &str, token: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn opaque_tokens_are_introspected_and_jwts_verified() {
    let provider = OidcProvider::start();
    let mut env = provider.demo_env();
    env.push(("DEMO_OIDC_INTROSPECTION", "on".to_owned()));
    env.push(("DEMO_OIDC_AUDIENCE", "urn:towerauth:api".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);

    let opaque = token(
        &provider,
        "intro-app",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read write"),
        ],
    )
    .await;
    let res = get(&server, "/api/whoami", &opaque).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["method"], "introspection");
    assert_eq!(body["subject"], "intro-app");
    assert_eq!(body["scopes"], serde_json::json!(["read", "write"]));
    // Introspected, but without `admin`.
    assert_rejected(
        get(&server, "/api/admin", &opaque).await,
        403,
        "insufficient_scope",
        &opaque,
    )
    .await;

    let jwt = token(
        &provider,
        "api-m2m",
        &[
            ("grant_type", "client_credentials"),
            ("scope", "api:read"),
            ("resource", "urn:towerauth:api"),
        ],
    )
    .await;
    let res = get(&server, "/api/whoami", &jwt).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["method"], "jwt");

    let unknown = "an-opaque-token-the-provider-never-issued";
    assert_rejected(
        get(&server, "/api/whoami", unknown).await,
        401,
        "invalid_token",
        unknown,
    )
    .await;
}

#[tokio::test]
async fn without_the_switch_an_opaque_token_is_refused() {
    let provider = OidcProvider::start();
    let env = provider.demo_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);
    let opaque = token(
        &provider,
        "intro-app",
        &[("grant_type", "client_credentials"), ("scope", "read")],
    )
    .await;
    assert_rejected(
        get(&server, "/api/whoami", &opaque).await,
        401,
        "invalid_token",
        &opaque,
    )
    .await;
}

#[test]
fn the_switch_needs_the_client_credentials() {
    let stderr = refused_start(&[
        ("DEMO_OIDC_ISSUER", "https://op.example"),
        ("DEMO_OIDC_INTROSPECTION", "on"),
    ]);
    assert!(
        stderr.contains("DEMO_OIDC_INTROSPECTION=on needs"),
        "{stderr}"
    );
}
