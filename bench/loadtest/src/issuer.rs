//! The local token issuer: an RS256 and an ES256 key generated at start, OIDC discovery
//! and JWKS on a loopback port, and a minimal authorization-code endpoint pair
//! (`/authorize`, `/token`, PKCE S256, `client_secret_basic`) so the demo can log a user in
//! and hand out a session cookie.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The audience the demo requires of OIDC access tokens (`DEMO_OIDC_AUDIENCE` default).
pub(crate) const AUDIENCE: &str = "demo-api";
/// The OAuth client the demo logs in as.
pub(crate) const CLIENT_ID: &str = "loadtest";
/// Its secret (a loopback-only benchmark credential).
pub(crate) const CLIENT_SECRET: &str = "loadtest-client-secret";
const RSA_KID: &str = "loadtest-rs256";
const EC_KID: &str = "loadtest-es256";

/// The signature algorithms the issuer signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    Rs256,
    Es256,
}

/// The issuer's two signing keys.
pub(crate) struct Keys {
    rsa: RsaKeyPair,
    ec: EcdsaKeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

impl Keys {
    /// A fresh RSA-2048 and P-256 key.
    pub(crate) fn generate() -> Result<Self, String> {
        Ok(Self {
            rsa: RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| format!("RSA key: {e}"))?,
            ec: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|e| format!("P-256 key: {e}"))?,
            rng: SystemRandom::new(),
        })
    }

    /// The public keys as a JWK set, each bound to its one algorithm.
    pub(crate) fn jwks(&self) -> Value {
        let public = self.rsa.public_key();
        let point = self.ec.public_key().as_ref();
        json!({ "keys": [
            {
                "kty": "RSA", "kid": RSA_KID, "alg": "RS256", "use": "sig",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            },
            {
                "kty": "EC", "kid": EC_KID, "alg": "ES256", "use": "sig", "crv": "P-256",
                "x": b64(&point[1..33]), "y": b64(&point[33..65]),
            },
        ]})
    }

    /// A compact JWS over `claims` with header `typ`.
    pub(crate) fn sign(&self, alg: Alg, typ: &str, claims: &Value) -> Result<String, String> {
        let (name, kid) = match alg {
            Alg::Rs256 => ("RS256", RSA_KID),
            Alg::Es256 => ("ES256", EC_KID),
        };
        let header = json!({ "alg": name, "typ": typ, "kid": kid });
        let mut token = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = match alg {
            Alg::Rs256 => {
                let mut signature = vec![0; self.rsa.public_modulus_len()];
                self.rsa
                    .sign(
                        &RSA_PKCS1_SHA256,
                        &self.rng,
                        token.as_bytes(),
                        &mut signature,
                    )
                    .map_err(|e| format!("RS256 signing: {e}"))?;
                signature
            }
            Alg::Es256 => self
                .ec
                .sign(&self.rng, token.as_bytes())
                .map_err(|e| format!("ES256 signing: {e}"))?
                .as_ref()
                .to_vec(),
        };
        token.push('.');
        token.push_str(&b64(signature));
        Ok(token)
    }
}

/// Unpadded base64url.
pub(crate) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A random 128-bit identifier, hex.
pub(crate) fn random_id(rng: &SystemRandom) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes).expect("the system RNG is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Access-token claims for `sub` (RFC 9068 shape: `typ: at+jwt` goes in the header), with
/// `nbf` = `iat`, which the demo requires.
pub(crate) fn access_claims(iss: &str, aud: &str, sub: &str, jti: &str, ttl: u64) -> Value {
    let iat = now();
    json!({
        "iss": iss, "aud": aud, "sub": sub, "iat": iat, "exp": iat + ttl, "nbf": iat,
        "jti": jti, "scope": "read write", "client_id": CLIENT_ID,
    })
}

/// An authorization code waiting for its token request.
#[derive(Debug)]
struct Pending {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

#[derive(Debug, Clone)]
struct Issuer {
    url: String,
    keys: Arc<Keys>,
    codes: Arc<Mutex<HashMap<String, Pending>>>,
}

/// The running issuer (served by a task on the current runtime).
#[derive(Debug)]
pub(crate) struct Running {
    /// `http://127.0.0.1:PORT`: the `iss` of every token it signs.
    pub(crate) url: String,
}

/// Binds a loopback port and serves the issuer on the current runtime.
pub(crate) async fn serve(keys: Arc<Keys>) -> Result<Running, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("issuer: {e}"))?;
    let addr = listener.local_addr().map_err(|e| format!("issuer: {e}"))?;
    let url = format!("http://{addr}");
    let state = Issuer {
        url: url.clone(),
        keys,
        codes: Arc::default(),
    };
    let router = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize))
        .route("/token", post(token))
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running { url })
}

async fn discovery(State(issuer): State<Issuer>) -> Json<Value> {
    let url = &issuer.url;
    Json(json!({
        "issuer": url,
        "authorization_endpoint": format!("{url}/authorize"),
        "token_endpoint": format!("{url}/token"),
        "jwks_uri": format!("{url}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

async fn jwks(State(issuer): State<Issuer>) -> Json<Value> {
    Json(issuer.keys.jwks())
}

#[derive(Debug, Deserialize)]
struct AuthorizeQuery {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    code_challenge_method: String,
}

async fn authorize(State(issuer): State<Issuer>, Query(q): Query<AuthorizeQuery>) -> Response {
    if q.response_type != "code" || q.client_id != CLIENT_ID || q.code_challenge_method != "S256" {
        return (StatusCode::BAD_REQUEST, "unsupported authorization request").into_response();
    }
    let code = random_id(&issuer.keys.rng);
    let mut location = reqwest::Url::parse(&q.redirect_uri).expect("the demo sends a URL");
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &q.state);
    issuer.codes.lock().expect("not poisoned").insert(
        code,
        Pending {
            nonce: q.nonce,
            challenge: q.code_challenge,
            redirect_uri: q.redirect_uri,
        },
    );
    Redirect::to(location.as_str()).into_response()
}

#[derive(Debug, Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
}

async fn token(
    State(issuer): State<Issuer>,
    headers: HeaderMap,
    Form(form): Form<TokenForm>,
) -> Response {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(&expected)
    {
        return grant_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    let pending = issuer
        .codes
        .lock()
        .expect("not poisoned")
        .remove(&form.code);
    let Some(pending) = pending else {
        return grant_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    if form.grant_type != "authorization_code"
        || form.redirect_uri != pending.redirect_uri
        || b64(Sha256::digest(form.code_verifier.as_bytes())) != pending.challenge
    {
        return grant_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let iat = now();
    let id_claims = json!({
        "iss": issuer.url, "aud": CLIENT_ID, "sub": "bench-user", "iat": iat,
        "exp": iat + 300, "nonce": pending.nonce, "name": "Bench User",
    });
    let jti = random_id(&issuer.keys.rng);
    let access = access_claims(&issuer.url, AUDIENCE, "bench-user", &jti, 300);
    let (Ok(id_token), Ok(access_token)) = (
        issuer.keys.sign(Alg::Rs256, "JWT", &id_claims),
        issuer.keys.sign(Alg::Rs256, "at+jwt", &access),
    ) else {
        return grant_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };
    Json(json!({
        "access_token": access_token, "token_type": "Bearer", "expires_in": 300,
        "id_token": id_token, "scope": "openid",
    }))
    .into_response()
}

fn grant_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
        UnparsedPublicKey,
    };
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::{Value, json};

    use super::{Alg, Keys};

    fn decode(part: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD.decode(part).unwrap()
    }

    /// Splits a compact JWS into (header, signing input, signature).
    fn split(token: &str) -> (Value, String, Vec<u8>) {
        let (input, signature) = token.rsplit_once('.').unwrap();
        let header = serde_json::from_slice(&decode(input.split('.').next().unwrap())).unwrap();
        (header, input.to_owned(), decode(signature))
    }

    #[test]
    fn tokens_verify_with_the_published_jwks() {
        let keys = Keys::generate().unwrap();
        let jwks = keys.jwks();
        let claims = json!({ "sub": "bench" });

        let (header, input, signature) = split(&keys.sign(Alg::Rs256, "at+jwt", &claims).unwrap());
        assert_eq!(
            (header["alg"].as_str(), header["typ"].as_str()),
            (Some("RS256"), Some("at+jwt"))
        );
        let rsa = &jwks["keys"][0];
        assert_eq!(rsa["kid"], header["kid"]);
        let public = RsaPublicKeyComponents {
            n: decode(rsa["n"].as_str().unwrap()),
            e: decode(rsa["e"].as_str().unwrap()),
        };
        public
            .verify(&RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &signature)
            .unwrap();
        assert!(
            public
                .verify(&RSA_PKCS1_2048_8192_SHA256, b"other", &signature)
                .is_err()
        );

        let (header, input, signature) = split(&keys.sign(Alg::Es256, "JWT", &claims).unwrap());
        assert_eq!(
            (header["alg"].as_str(), header["typ"].as_str()),
            (Some("ES256"), Some("JWT"))
        );
        assert_eq!(signature.len(), 64, "JWS ES256 signatures are r || s");
        let ec = &jwks["keys"][1];
        assert_eq!(ec["kid"], header["kid"]);
        let mut point = vec![4];
        point.extend(decode(ec["x"].as_str().unwrap()));
        point.extend(decode(ec["y"].as_str().unwrap()));
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
        public.verify(input.as_bytes(), &signature).unwrap();
        assert!(public.verify(b"other", &signature).is_err());
    }
}
