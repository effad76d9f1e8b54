//! `POST /dashboard/login`: the dashboard's password login, a session like an OAuth
//! login's.

use std::net::SocketAddr;
use std::sync::Arc;

use auth_core::AuthError;
use axum::extract::{ConnectInfo, State};
use axum::response::{Html, IntoResponse, Response};
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use crate::app::AppState;
use crate::session::Account;

/// The largest login form read.
const MAX_FORM: usize = 4 * 1024;

/// A page saying `text`, with `status`.
fn message(state: &AppState, status: StatusCode, title: &str, text: &str) -> Response {
    let context = json!({ "title": title, "message": text });
    match state.templates.render("message.html", &context) {
        Ok(html) => (status, [(CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(error) => {
            tracing::error!(%error, "rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// The form's `username` and `password`, each exactly once, from a form body.
fn credentials(headers: &HeaderMap, body: &Bytes) -> Option<(String, String)> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !is_form || body.len() > MAX_FORM {
        return None;
    }
    let (mut username, mut password) = (Vec::new(), Vec::new());
    for (name, value) in form_urlencoded::parse(body) {
        match &*name {
            "username" => username.push(value.into_owned()),
            "password" => password.push(value.into_owned()),
            _ => {}
        }
    }
    match (username.as_slice(), password.as_slice()) {
        ([username], [password]) if !username.is_empty() => {
            Some((username.clone(), password.clone()))
        }
        _ => None,
    }
}

/// `POST /dashboard/login` with the form fields `username` and `password`: a `DEMO_USERS`
/// user gets a fresh session (303 to `/`); a wrong password is a 401 page, a cross-site
/// post 403, too many failures 429 with `Retry-After` (the throttle of `/auth/login`).
pub(crate) async fn login(
    State(state): State<AppState>,
    extensions: http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Login CSRF: a cross-site form must not log the browser into another account.
    if state.oauth.check_origin(&headers).is_err() {
        return message(
            &state,
            StatusCode::FORBIDDEN,
            "Login refused",
            "This login form was posted from another site.",
        );
    }
    let Some((username, password)) = credentials(&headers, &body) else {
        return message(
            &state,
            StatusCode::BAD_REQUEST,
            "Login refused",
            "Send the form's user name and password.",
        );
    };
    let address = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    // Over the failed-login limits: 429 before the password is even checked.
    if let Err(error) = state.login_throttle.check(address, Some(&username)).await {
        return error.into_response();
    }
    let Some(user) = Arc::clone(&state.users)
        .login(username.clone(), password)
        .await
    else {
        tracing::info!(reason = "bad_password", "dashboard login refused");
        state
            .login_throttle
            .record_failure(address, Some(&username))
            .await;
        return message(
            &state,
            StatusCode::UNAUTHORIZED,
            "Login failed",
            "Unknown user or wrong password.",
        );
    };
    let account = Account {
        id: format!("password:{}", user.name),
        display_name: user.name.clone(),
        provider: "password".to_owned(),
    };
    match state.oauth.start_session(&headers, account, "/").await {
        Ok(response) => response.map(axum::body::Body::new),
        Err(error) => AuthError::into_response(error),
    }
}
