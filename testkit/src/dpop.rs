//! DPoP (RFC 9449) as a client does it: a proof key, fresh proofs, and a DPoP-bound access
//! token from the test provider by `client_credentials`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A client's EC proof key (`ES256` or `ES384`) and its public JWK.
pub struct ProofKey {
    alg: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

/// Prints the algorithm and the public key's thumbprint, never the private key.
impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofKey")
            .field("alg", &self.alg)
            .field("jkt", &self.jkt())
            .finish_non_exhaustive()
    }
}

impl ProofKey {
    /// The key of the PEM `pem` (PKCS#8 EC), signing with `alg`.
    ///
    /// # Panics
    /// If the PEM is not an EC key for `alg`.
    #[must_use]
    pub fn new(alg: Algorithm, pem: &[u8]) -> Self {
        // Losing the race to another installer is fine: a provider is then set.
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let key = EncodingKey::from_ec_pem(pem).expect("an EC private key in PEM");
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, alg).expect("a JWK"))
            .expect("a JWK as JSON");
        jwk.as_object_mut().expect("an object").remove("alg");
        Self { alg, key, jwk }
    }

    /// The public key's RFC 7638 thumbprint (a bound token's `cnf.jkt`).
    ///
    /// # Panics
    /// Never for a key made by [`new`](Self::new).
    #[must_use]
    pub fn jkt(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.jwk.clone()).expect("a JWK");
        jwk.thumbprint(ThumbprintHash::SHA256)
            .expect("a thumbprint")
    }

    /// A fresh proof (new `jti`, `iat` now) for `method` `htu`, with `ath` when `token` is
    /// given and `nonce` when the server asked for one.
    ///
    /// # Panics
    /// If signing fails.
    #[must_use]
    pub fn proof(
        &self,
        method: &str,
        htu: &str,
        token: Option<&str>,
        nonce: Option<&str>,
    ) -> String {
        let header =
            json!({ "typ": "dpop+jwt", "alg": format!("{:?}", self.alg), "jwk": self.jwk });
        let mut claims = json!({
            "jti": b64(&rand::random::<[u8; 16]>()),
            "htm": method,
            "htu": htu,
            "iat": jsonwebtoken::get_current_timestamp(),
        });
        if let Some(token) = token {
            claims["ath"] = json!(b64(&Sha256::digest(token.as_bytes())));
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature =
            jsonwebtoken::crypto::sign(input.as_bytes(), &self.key, self.alg).expect("a signature");
        format!("{input}.{signature}")
    }
}

/// A DPoP-bound access token for `client` (secret `{client}-secret`) from `issuer`'s token
/// endpoint by `client_credentials` with the extra `form` fields (`scope`, `resource`), the
/// token request carrying a proof of `key`.
///
/// # Panics
/// If the provider does not answer 200 with `token_type: DPoP`.
pub async fn bound_token(
    issuer: &str,
    client: &str,
    key: &ProofKey,
    form: &[(&str, &str)],
) -> String {
    let token_endpoint = format!("{issuer}/token");
    let mut fields = vec![("grant_type", "client_credentials")];
    fields.extend_from_slice(form);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let response = reqwest::Client::new()
        .post(&token_endpoint)
        .basic_auth(client, Some(format!("{client}-secret")))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("dpop", key.proof("POST", &token_endpoint, None, None))
        .body(body)
        .send()
        .await
        .expect("the token endpoint answers");
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON token response");
    assert_eq!(status, reqwest::StatusCode::OK, "token endpoint: {body}");
    assert_eq!(body["token_type"], "DPoP", "{body}");
    body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// The `WWW-Authenticate` challenges of an answer, in order: a DPoP refusal offers two.
pub fn challenges(headers: &http::HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}
