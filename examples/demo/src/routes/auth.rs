//! Password login: `POST /auth/login`, `/auth/refresh` (rotation, reuse detection) and
//! `/auth/logout`.

use auth_core::AuthError;
use axum::Extension;
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tower_jwt::Claims;
use tower_jwt::issuer::{DEFAULT_REFRESH_LIFETIME, Grant, TokenPair};

use crate::app::{AppState, DemoClaims};

/// Kept beyond the refresh lifetime when revoking a family (clock skew).
const FAMILY_MARGIN: Duration = Duration::from_secs(300);

/// The largest login body read.
const MAX_LOGIN_BODY: usize = 4 * 1024;

#[derive(Deserialize)]
struct LoginRequest {
    username: String,
    password: String,
}

/// The access token's claim naming its refresh family, so logout with the access token
/// alone revokes the family too.
const SESSION_CLAIM: &str = "sid";

/// The token response: an access token carrying the family id (`sid`) in JSON, the refresh
/// token in its cookie.
async fn token_response(state: &AppState, pair: TokenPair) -> Response {
    let access = async {
        let verified = state
            .jwt
            .verifier()
            .verify::<serde_json::Value>(pair.access.as_str())
            .await
            .map_err(|error| error.to_string())?;
        let scopes = verified.principal().scopes().to_vec();
        let grant = Grant::new(verified.subject())
            .scope(scopes)
            .claim(SESSION_CLAIM, pair.family.clone())
            .map_err(|error| error.to_string())?;
        state
            .tokens
            .issue_access(&grant)
            .map_err(|error| error.to_string())
    };
    let access = match access.await {
        Ok(access) => access,
        Err(error) => {
            tracing::error!(%error, "issuing the access token failed");
            return AuthError::unavailable("tokens cannot be issued right now").into_response();
        }
    };
    let cookie = state.tokens.refresh_cookie(&pair.refresh).to_string();
    let body = Json(json!({
        "access_token": access.as_str(),
        "token_type": "Bearer",
        "expires_in": access.expires_in(),
    }));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        headers.insert(SET_COOKIE, value);
    }
    response
}

/// `POST /auth/login` with `{"username","password"}`.
pub(crate) async fn login(
    State(state): State<AppState>,
    extensions: http::Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if body.len() > MAX_LOGIN_BODY {
        return AuthError::invalid_request("the request body is too large").into_response();
    }
    // A JSON content type cannot come from a cross-site form without a CORS preflight:
    // no login CSRF.
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return AuthError::invalid_request("the content type must be application/json")
            .into_response();
    }
    let Ok(request) = serde_json::from_slice::<LoginRequest>(&body) else {
        return AuthError::invalid_request(
            r#"expected a JSON body {"username": "...", "password": "..."}"#,
        )
        .into_response();
    };
    // Over the failed-login limits: 429 before the password is even checked.
    let address = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    let username = request.username.clone();
    if let Err(error) = state.login_throttle.check(address, Some(&username)).await {
        return error.into_response();
    }
    let users = Arc::clone(&state.users);
    let Some(user) = users.login(request.username, request.password).await else {
        tracing::info!(reason = "bad_password", "password login refused");
        state
            .login_throttle
            .record_failure(address, Some(&username))
            .await;
        return AuthError::invalid_credential("unknown user or wrong password")
            .with_reason("bad_password")
            .into_response();
    };
    let grant = Grant::new(user.name.clone()).scope(user.scopes.iter().cloned());
    match state.tokens.issue(&grant).await {
        Ok(pair) => token_response(&state, pair).await,
        Err(error) => {
            tracing::error!(%error, "issuing tokens failed");
            AuthError::unavailable("tokens cannot be issued right now").into_response()
        }
    }
}

/// The refresh cookie of `headers`: `Ok(None)` when absent, 400 when duplicated; other
/// cookies are skipped whatever they hold.
fn refresh_cookie(state: &AppState, headers: &HeaderMap) -> Result<Option<String>, AuthError> {
    state.tokens.cookie_config().read(headers)
}

/// `POST /auth/refresh` with the refresh cookie: a new access token and a rotated cookie.
pub(crate) async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = match refresh_cookie(&state, &headers) {
        Ok(Some(token)) => token,
        Ok(None) => {
            return AuthError::invalid_credential("no refresh token cookie")
                .with_reason("missing")
                .into_response();
        }
        Err(error) => return error.into_response(),
    };
    match state.tokens.refresh(&token).await {
        Ok(pair) => token_response(&state, pair).await,
        Err(error) => {
            let error = AuthError::from(error);
            tracing::info!(reason = error.reason(), "refresh refused");
            let mut response = error.into_response();
            if let Ok(removal) =
                HeaderValue::from_str(&state.tokens.cookie_config().removal().to_string())
            {
                response.headers_mut().insert(SET_COOKIE, removal);
            }
            response
        }
    }
}

/// `POST /auth/logout` with the access token (verified by the JWT layer): revokes it, and
/// the refresh family of the refresh cookie when one is sent.
pub(crate) async fn logout(
    State(state): State<AppState>,
    Extension(identity): Extension<Claims<DemoClaims>>,
    headers: HeaderMap,
) -> Response {
    let access = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let refresh = match refresh_cookie(&state, &headers) {
        Ok(refresh) => refresh,
        Err(error) => return error.into_response(),
    };
    if let Err(error) = state
        .tokens
        .logout(access.as_deref(), refresh.as_deref())
        .await
    {
        return AuthError::from(error).into_response();
    }
    if let Some(family) = &identity.claims().sid {
        let until = SystemTime::now() + DEFAULT_REFRESH_LIFETIME + FAMILY_MARGIN;
        if let Err(error) = state.families.revoke(family, until).await {
            return AuthError::from(error).into_response();
        }
    }
    let removal = state.tokens.cookie_config().removal().to_string();
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(value) = HeaderValue::from_str(&removal) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}
