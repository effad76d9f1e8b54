//! `/api/whoami` and `/api/admin`: who the caller is, whichever method proved it.

use auth_core::Principal;
use axum::Json;
use serde_json::{Value, json};

/// `{"subject", "method", "scopes"}`.
pub(crate) async fn whoami(principal: Principal) -> Json<Value> {
    Json(json!({
        "subject": principal.subject(),
        "method": principal.method().as_str(),
        "scopes": principal.scopes(),
    }))
}
