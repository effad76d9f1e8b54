//! `POST /oauth/backchannel-logout` is served (OpenID Back-Channel Logout): a logout token
//! that no configured provider issued is refused with 400 `invalid_request`, never stored.
//! Accepted tokens are covered end to end in tower-oauth's tests against oidc-provider.

mod common;

use common::{Server, http};

#[tokio::test]
async fn a_logout_token_from_no_configured_provider_is_refused() {
    let server = Server::start(&[]);
    let url = format!("{}/oauth/backchannel-logout", server.url);
    let forged = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwczovL2V2aWwuZXhhbXBsZSJ9.";
    for body in [
        format!("logout_token={forged}"),
        "logout_token=not-a-jwt".to_owned(),
        String::new(),
    ] {
        let res = http()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let error: serde_json::Value = res.json().await.unwrap();
        assert_eq!(error["error"], "invalid_request", "{body}");
    }
}
