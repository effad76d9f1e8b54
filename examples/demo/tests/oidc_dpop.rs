//! DPoP (RFC 9449) at `/api`: the real oidc-provider issues a DPoP-bound access token to
//! `api-dpop` by client credentials; the demo accepts it as `Authorization: DPoP <token>`
//! with a fresh proof for the request, and refuses it as `Bearer` or with a replayed proof,
//! answering with a `DPoP` challenge.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::oidc::{DemoEnv, OidcProvider};
use common::{Server, http};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The client's proof key (a test-only P-256 key).
const KEY: &[u8] = include_bytes!("data/oidc-es256.pem");
const CLIENT: &str = "api-dpop";

struct ProofKey {
    key: EncodingKey,
    jwk: Value,
}

impl ProofKey {
    fn new() -> Self {
        tower_jwt::ensure_crypto_backend().unwrap();
        let key = EncodingKey::from_ec_pem(KEY).unwrap();
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::ES256).unwrap()).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        Self { key, jwk }
    }

    /// A fresh proof for `method` `htu`, bound to `token` when given (`ath`).
    fn proof(&self, method: &str, htu: &str, token: Option<&str>) -> String {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        let header = json!({ "typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk });
        let mut claims = json!({
            "jti": b64(&rand::random::<[u8; 16]>()),
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

/// A DPoP-bound access token for `urn:towerauth:api`, the token request carrying a proof.
async fn bound_token(provider: &OidcProvider, key: &ProofKey) -> String {
    let token_endpoint = format!("{}/token", provider.issuer);
    let res = http()
        .post(&token_endpoint)
        .basic_auth(CLIENT, Some(format!("{CLIENT}-secret")))
        .header("dpop", key.proof("POST", &token_endpoint, None))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "api:read"),
            ("resource", "urn:towerauth:api"),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "token endpoint: {body}");
    assert_eq!(body["token_type"], "DPoP", "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

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
    let challenges = res
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    (res.status().as_u16(), challenges, res.text().await.unwrap())
}

#[tokio::test]
async fn a_dpop_bound_token_needs_a_fresh_proof_and_the_dpop_scheme() {
    let provider = OidcProvider::start();
    let mut env = provider.demo_env();
    env.push(("DEMO_OIDC_AUDIENCE", "urn:towerauth:api".to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(&env);
    let key = ProofKey::new();
    let token = bound_token(&provider, &key).await;
    let htu = format!("{}/api/whoami", server.url);
    let dpop = format!("DPoP {token}");

    for _ in 0..2 {
        let proof = key.proof("GET", &htu, Some(&token));
        let (status, _, body) = whoami(&server, &dpop, Some(&proof)).await;
        assert_eq!(status, 200, "{body}");
        let me: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            me,
            json!({ "subject": CLIENT, "method": "jwt", "scopes": ["api:read"] })
        );
    }

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
    let proof = key.proof("GET", &htu, Some(&token));
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
    let elsewhere = key.proof("GET", &format!("{}/api/admin", server.url), Some(&token));
    let (status, challenges, _) = whoami(&server, &dpop, Some(&elsewhere)).await;
    assert_eq!(status, 401);
    assert!(
        challenges[0].contains(r#"error="invalid_dpop_proof""#),
        "{challenges:?}"
    );
}
