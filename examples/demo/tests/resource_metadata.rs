//! RFC 9728: the API's protected resource metadata at its well-known path, named in every
//! challenge by `resource_metadata`.

mod common;

use common::{Server, http};
use serde_json::Value;

#[tokio::test]
async fn the_metadata_is_served_and_every_challenge_names_it() {
    let server = Server::start(&[]);
    let url = format!("{}/.well-known/oauth-protected-resource", server.url);
    let res = http().get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let metadata: Value = res.json().await.unwrap();
    assert_eq!(metadata["resource"], server.url.as_str());
    assert_eq!(
        metadata["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    assert_eq!(
        metadata["scopes_supported"],
        serde_json::json!(["read", "write", "admin"])
    );
    assert!(metadata["authorization_servers"].is_array());
    // No OpenID issuer (no DPoP) and plain HTTP (no client certificates).
    for field in [
        "dpop_signing_alg_values_supported",
        "tls_client_certificate_bound_access_tokens",
    ] {
        assert!(metadata.get(field).is_none(), "{field} in {metadata}");
    }

    let expected = format!(r#"resource_metadata="{url}""#);
    let anonymous = http()
        .get(format!("{}/api/whoami", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous.headers()["www-authenticate"].to_str().unwrap();
    assert_eq!(challenge, format!(r#"Bearer realm="api", {expected}"#));
    let bad = http()
        .get(format!("{}/api/whoami", server.url))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let challenge = bad.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert!(challenge.ends_with(&expected), "{challenge}");
}
