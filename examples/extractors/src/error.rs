//! The application's JSON error bodies: `{"error", "error_description"}`, the shape
//! auth-core's rejections use, so clients parse one format.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A JSON error response.
pub(crate) fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response()
}
