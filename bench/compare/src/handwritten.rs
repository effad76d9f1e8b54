//! The hand-written API-key check a user would write in front of an axum route: read
//! `Authorization: Bearer` or `X-API-Key`, SHA-256 the key, look the digest up in a map.

use std::collections::HashMap;
use std::sync::Arc;

use auth_core::Principal;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header::AUTHORIZATION};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

pub(crate) type Table = Arc<HashMap<[u8; 32], Principal>>;

/// The key in `Authorization: Bearer <key>`, else in `X-API-Key`.
fn presented(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        return value.to_str().ok()?.strip_prefix("Bearer ");
    }
    headers.get("x-api-key")?.to_str().ok()
}

/// The middleware, for `axum::middleware::from_fn_with_state(table, check)`.
pub(crate) async fn check(
    State(table): State<Table>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(key) = presented(request.headers()) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let Some(principal) = table.get(&digest).cloned() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    request.extensions_mut().insert(principal);
    next.run(request).await
}
