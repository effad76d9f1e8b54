//! The JWT check a user would write with jsonwebtoken alone, with and without a moka cache,
//! and the HS256 access token every JWT row accepts.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthMethod, Principal};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The issuer of the token.
pub const ISSUER: &str = "https://issuer.compare.invalid";
/// The audience of the token.
pub const AUDIENCE: &str = "compare-api";

/// The token's claims as the naive check reads them.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    scope: String,
    exp: u64,
}

/// No claims beyond the registered ones, for `JwtAuthenticator::claims`.
#[derive(Debug, Deserialize)]
pub(crate) struct NoPrivateClaims {}

/// An HS256 `at+jwt` access token for `sub` with `scope`, valid for a day.
pub(crate) fn mint(secret: &[u8], sub: &str, scope: &str) -> Result<String, String> {
    let now = jsonwebtoken::get_current_timestamp();
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    let claims = serde_json::json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "scope": scope,
        "iat": now, "nbf": now, "exp": now + 86_400, "jti": "bench-token-1",
    });
    let key = EncodingKey::from_secret(secret).map_err(|e| format!("HS256 key: {e}"))?;
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| format!("token: {e}"))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// What both naive checks share: the decoding key.
pub(crate) struct Naive {
    key: DecodingKey,
}

impl Naive {
    pub(crate) fn new(secret: &[u8]) -> Result<Arc<Self>, String> {
        let key = DecodingKey::from_secret(secret).map_err(|e| format!("HS256 key: {e}"))?;
        Ok(Arc::new(Self { key }))
    }

    /// `jsonwebtoken::decode` with a `Validation` built for this call; the principal and
    /// the token's expiry.
    fn verify(&self, token: &str) -> Option<(Principal, u64)> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &validation)
            .ok()?
            .claims;
        let principal = Principal::new(claims.sub, AuthMethod::Jwt)
            .with_scopes(claims.scope.split_ascii_whitespace());
        Some((principal, claims.exp))
    }
}

fn unauthorized() -> Response {
    StatusCode::UNAUTHORIZED.into_response()
}

/// The naive middleware: every request decodes and verifies its token.
pub(crate) async fn check(
    State(naive): State<Arc<Naive>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some((principal, _)) = bearer(request.headers()).and_then(|t| naive.verify(t)) else {
        return unauthorized();
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}

/// The naive check behind a moka cache of verified tokens, keyed on SHA-256 of the token.
pub(crate) struct Cached {
    naive: Arc<Naive>,
    verified: moka::sync::Cache<[u8; 32], (Principal, u64)>,
}

impl Cached {
    pub(crate) fn new(secret: &[u8]) -> Result<Arc<Self>, String> {
        Ok(Arc::new(Self {
            naive: Naive::new(secret)?,
            verified: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(300))
                .build(),
        }))
    }
}

/// The cached middleware: a hit checks only `exp`; a miss verifies and caches.
pub(crate) async fn cached_check(
    State(cached): State<Arc<Cached>>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(token) = bearer(request.headers()) else {
        return unauthorized();
    };
    let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    let principal = match cached.verified.get(&digest) {
        Some((principal, exp)) if exp > jsonwebtoken::get_current_timestamp() => principal,
        Some(_) => return unauthorized(),
        None => match cached.naive.verify(token) {
            Some((principal, exp)) => {
                cached.verified.insert(digest, (principal.clone(), exp));
                principal
            }
            None => return unauthorized(),
        },
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}
