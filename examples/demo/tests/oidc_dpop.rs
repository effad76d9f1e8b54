//! DPoP (RFC 9449) at `/api`: the real oidc-provider issues a DPoP-bound access token to
//! `api-dpop` by client credentials; the demo accepts it as `Authorization: DPoP <token>`
//! with a fresh proof for the request, and refuses it as `Bearer` or with a replayed proof,
//! answering with a `DPoP` challenge.

mod common;

use common::oidc::{DemoEnv, OidcProvider};
use common::{Server, http, resource_metadata};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use testkit::dpop::{ProofKey, bound_token};

/// The client's proof key (a test-only P-256 key).
const KEY: &[u8] = include_bytes!("data/oidc-es256.pem");
const CLIENT: &str = "api-dpop";

/// Status, every `WWW-Authenticate` value and the body of a GET of `/api/whoami`.
async fn whoami(
    server: &Server,
    authorization: &str,
    proof: Option<&str>,
) -> (u16, Vec<String>, String) {
    let mut request = http()
        .get(format!("{}/api/whoami", server.url))
        .header("authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    let res = request.send().await.unwrap();
    let challenges = testkit::dpop::challenges(res.headers());
    (res.status().as_u16(), challenges, res.text().await.unwrap())
}

#[tokio::test]
async fn a_dpop_bound_token_needs_a_fresh_proof_and_the_dpop_scheme() {
    let provider = OidcProvider::start();
    let mut env = provider.demo_env();
    env.push(("DEMO_OIDC_AUDIENCE", "urn:towerauth:api".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);
    let key = ProofKey::new(Algorithm::ES256, KEY);
    let form = [("scope", "api:read"), ("resource", "urn:towerauth:api")];
    let token = bound_token(provider.issuer.as_str(), CLIENT, &key, &form).await;
    let htu = format!("{}/api/whoami", server.url);
    let dpop = format!("DPoP {token}");

    for _ in 0..2 {
        let proof = key.proof("GET", &htu, Some(&token), None);
        let (status, _, body) = whoami(&server, &dpop, Some(&proof)).await;
        assert_eq!(status, 200, "{body}");
        let me: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            me,
            json!({ "subject": CLIENT, "method": "jwt", "scopes": ["api:read"] })
        );
    }

    // RFC 9728: the metadata names the proof algorithms taken.
    let metadata = resource_metadata(&http(), &server).await;
    let algorithms = metadata["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap_or_else(|| panic!("no DPoP algorithms in {metadata}"));
    assert!(algorithms.contains(&json!("ES256")), "{metadata}");
    assert!(
        !algorithms
            .iter()
            .any(|a| a.as_str().is_some_and(|a| a.starts_with("HS"))),
        "{metadata}"
    );

    // The bound token as a bearer token: refused, the DPoP scheme offered.
    let (status, challenges, body) = whoami(&server, &format!("Bearer {token}"), None).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        challenges[0].starts_with(r#"Bearer realm="api", error="invalid_token", error_description="the token is bound to a DPoP key"#),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("DPoP ")),
        "{challenges:?}"
    );
    assert!(!body.contains(&token), "the body echoes the token");

    // A proof used once is refused the second time.
    let proof = key.proof("GET", &htu, Some(&token), None);
    assert_eq!(whoami(&server, &dpop, Some(&proof)).await.0, 200);
    let (status, challenges, _) = whoami(&server, &dpop, Some(&proof)).await;
    assert_eq!(status, 401);
    assert_eq!(challenges.len(), 1, "{challenges:?}");
    assert!(
        challenges[0].starts_with(r#"DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof has been used before""#),
        "{challenges:?}"
    );

    // The DPoP scheme without a proof, and a proof for another URL.
    let (status, challenges, _) = whoami(&server, &dpop, None).await;
    assert_eq!(status, 401);
    assert!(
        challenges[0].contains(r#"error_description="the request has no DPoP proof""#),
        "{challenges:?}"
    );
    let elsewhere = key.proof(
        "GET",
        &format!("{}/api/admin", server.url),
        Some(&token),
        None,
    );
    let (status, challenges, _) = whoami(&server, &dpop, Some(&elsewhere)).await;
    assert_eq!(status, 401);
    assert!(
        challenges[0].contains(r#"error="invalid_dpop_proof""#),
        "{challenges:?}"
    );
}
