//! The comparison server: the same `/whoami` JSON (`{"subject","method","scopes"}`, as the
//! demo's `/api/whoami` answers it) behind towerauth and behind the alternatives, one route
//! per variant, so `bench/compare/run` can count each one's cost side by side.
//!
//! | route | in front of the handler |
//! |---|---|
//! | `/none` | nothing: the floor (a fixed principal) |
//! | `/apikey/handwritten` | an `axum::middleware::from_fn` reading `Authorization: Bearer` or `X-API-Key`, SHA-256 of the key, a `HashMap<[u8; 32], Principal>` lookup |
//! | `/apikey/towerauth` | `tower_apikey::ApiKeys::layer()` over a `MemoryApiKeyStore` |
//! | `/jwt/tower-http` | tower-http's `ValidateRequestHeaderLayer::bearer` with one fixed token (deprecated, and not constant-time): the floor for "a static token" |
//! | `/jwt/naive` | a `from_fn` calling `jsonwebtoken::decode` (HS256) with a `Validation` built per request |
//! | `/jwt/naive-moka` | the same behind a moka cache keyed on SHA-256 of the token |
//! | `/jwt/towerauth` | `tower_jwt::JwtAuthenticator`, verified-token cache on |
//! | `/jwt/towerauth-nocache` | the same with `without_cache()` |
//!
//! Every authenticated route reads the caller as an [`Extension<Principal>`] and answers
//! with [`body`]; `/none` and `/jwt/tower-http`, which establish no caller, answer a fixed
//! principal through the same function.

mod handwritten;
mod naive;

use std::collections::HashMap;
use std::sync::Arc;

use auth_core::{AuthMethod, Principal};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tower_apikey::{ApiKeys, MemoryApiKeyStore, NewKey};
use tower_jwt::{IssuerConfig, JwtAuthenticator, JwtVerifier};

pub use naive::{AUDIENCE, ISSUER};

/// The HS256 secret every JWT row verifies with.
const JWT_SECRET: &[u8] = b"compare-bench-hs256-secret-of-32-bytes-or-more";

/// The subject and scopes every row's caller has.
const SUBJECT: &str = "bench";
const SCOPES: [&str; 2] = ["read", "write"];

/// The credentials the routes accept: one API key (the two API-key rows know the same key)
/// and one HS256 access token (every JWT row, and tower-http's static token, accept it).
#[derive(Clone)]
pub struct Credentials {
    /// An `sk_live_…` key.
    pub api_key: String,
    /// An HS256 `at+jwt` access token, valid for a day.
    pub token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

/// The whoami body, borrowed from the principal (the demo's `WhoAmI`).
#[derive(Serialize)]
struct WhoAmI<'a> {
    subject: &'a str,
    method: &'a str,
    scopes: &'a [String],
}

/// The whoami JSON of `principal`.
pub fn body(principal: &Principal) -> Response {
    Json(WhoAmI {
        subject: principal.subject(),
        method: principal.method().as_str(),
        scopes: principal.scopes(),
    })
    .into_response()
}

async fn whoami(Extension(principal): Extension<Principal>) -> Response {
    body(&principal)
}

/// A route answering `principal`'s JSON with no extractor.
fn fixed(principal: Principal) -> axum::routing::MethodRouter {
    get(move || {
        let principal = principal.clone();
        async move { body(&principal) }
    })
}

/// Builds every route with fresh credentials. Call inside a Tokio runtime (the API-key
/// handle starts its last-used writer there).
///
/// # Errors
///
/// A message when the API-key store, the JWT verifier or the token cannot be set up.
pub async fn app() -> Result<(Router, Credentials), String> {
    let keys = ApiKeys::builder(MemoryApiKeyStore::new())
        .build()
        .map_err(|e| format!("API keys: {e}"))?;
    let created = keys
        .create(NewKey::new(SUBJECT).scopes(SCOPES))
        .await
        .map_err(|e| format!("API key: {e}"))?;
    let api_key = created.key.expose().to_owned();

    let principal = |method| Principal::new(SUBJECT, method).with_scopes(SCOPES);
    let table: HashMap<[u8; 32], Principal> = HashMap::from([(
        Sha256::digest(api_key.as_bytes()).into(),
        principal(AuthMethod::ApiKey),
    )]);

    let token = naive::mint(JWT_SECRET, SUBJECT, &SCOPES.join(" "))?;
    let issuer = IssuerConfig::builder(ISSUER)
        .audience(AUDIENCE)
        .hmac_secret(JWT_SECRET)
        .build()
        .map_err(|e| format!("JWT issuer: {e}"))?;
    let verifier = JwtVerifier::new(issuer).map_err(|e| format!("JWT verifier: {e}"))?;
    let jwt = JwtAuthenticator::new(verifier).claims::<naive::NoPrivateClaims>();
    #[allow(deprecated)] // tower-http calls its own bearer check "too basic": it is the floor.
    let static_token = tower_http::validate_request::ValidateRequestHeaderLayer::bearer(&token);

    let router = Router::new()
        .route("/none", fixed(principal(AuthMethod::Custom("none".into()))))
        .route(
            "/apikey/handwritten",
            get(whoami).layer(middleware::from_fn_with_state(
                Arc::new(table),
                handwritten::check,
            )),
        )
        .route("/apikey/towerauth", get(whoami).layer(keys.layer()))
        .route(
            "/jwt/tower-http",
            fixed(principal(AuthMethod::Custom("static_token".into()))).layer(static_token),
        )
        .route(
            "/jwt/naive",
            get(whoami).layer(middleware::from_fn_with_state(
                naive::Naive::new(JWT_SECRET)?,
                naive::check,
            )),
        )
        .route(
            "/jwt/naive-moka",
            get(whoami).layer(middleware::from_fn_with_state(
                naive::Cached::new(JWT_SECRET)?,
                naive::cached_check,
            )),
        )
        .route("/jwt/towerauth", get(whoami).layer(jwt.layer()))
        .route(
            "/jwt/towerauth-nocache",
            get(whoami).layer(jwt.clone().without_cache().layer()),
        );
    Ok((router, Credentials { api_key, token }))
}
