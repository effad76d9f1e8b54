//! The signing key the ID-token and logout-token tests sign with, and a loopback JWKS
//! endpoint that publishes its public half.

use serde_json::json;

/// A test-only P-256 private key (never used outside these tests).
pub(crate) const PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgxXE0dL6fb4iiqCmc
2rkBBq8YTtZjzA+KxalpKvbgNn6hRANCAAT1+Xai0Zc0ENEff9BjgZoARD4fRAYs
Xtdno8zQE9bc/tC81Y5y4czA1cSkbISPg4FoPUFy3mw1mTfWcnf6zVCo
-----END PRIVATE KEY-----
";

/// The issuer the tests' tokens name.
pub(crate) const ISSUER: &str = "https://op.example.test";

/// Serves the public JWK of [`PEM`] (kid `k1`, ES256) on a loopback port; returns the
/// JWKS URL and the capped HTTP client to fetch it with.
pub(crate) async fn serve() -> (String, crate::http_client::CappedClient) {
    use crate::http_client::{CappedClient, DEFAULT_MAX_BODY, default_client};

    let jwks = json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "alg": "ES256",
        "x": "9fl2otGXNBDRH3_QY4GaAEQ-H0QGLF7XZ6PM0BPW3P4",
        "y": "0LzVjnLhzMDVxKRshI-DgWg9QXLebDWZN9Zyd_rNUKg"
    }]});
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let jwks = jwks.clone();
            async move { axum::Json(jwks) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (
        url,
        CappedClient::new(default_client().unwrap(), DEFAULT_MAX_BODY),
    )
}

/// Now, in Unix seconds.
pub(crate) fn now() -> i64 {
    i64::try_from(crate::session::record::unix_now()).unwrap()
}
