//! `/api/whoami` and `/api/admin`: who the caller is, whichever method proved it.

use auth_core::Principal;
use axum::Json;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The body of `/api/whoami`: `{"subject", "method", "scopes"}`, borrowed from the principal
/// and serialized straight into the response (no intermediate `serde_json::Value` tree).
#[derive(Serialize)]
struct WhoAmI<'a> {
    subject: &'a str,
    method: &'a str,
    scopes: &'a [String],
}

pub(crate) async fn whoami(principal: Principal) -> Response {
    body(&principal)
}

/// The whoami JSON of `principal`.
pub(crate) fn body(principal: &Principal) -> Response {
    Json(WhoAmI {
        subject: principal.subject(),
        method: principal.method().as_str(),
        scopes: principal.scopes(),
    })
    .into_response()
}
