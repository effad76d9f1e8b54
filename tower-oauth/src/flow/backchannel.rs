//! `POST {prefix}/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0.
//!
//! The provider posts a `logout_token` (a signed JWT) naming the session (`sid`), the user
//! (`sub`) or both, that ended at the provider. The token is checked (see
//! `logout_token.rs`), its `jti` consumed once through the store's `claim`, and the
//! sessions linked under the `sid` (else under the `sub`) at login are deleted from the
//! store, on every instance sharing it. Answers are JSON with `Cache-Control: no-store`:
//! 200 on success, 400 `invalid_request` for anything refused, 503 when the store or the
//! provider's keys cannot be reached (the provider may try again).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Value, json};

use super::response::OAuthResponse;
use crate::client::OAuthClient;
use crate::logout_token::{Ends, LogoutTokenError, MAX_AGE};
use crate::provider::ProviderKind;
use crate::random;
use crate::session::SessionUser;
use crate::session::sessions::{sid_tag, sub_tag};

/// The largest request body read: a logout token is a few KiB at most.
const MAX_BODY: usize = 16 * 1024;

/// How long a consumed `jti` is remembered: longer than a token is accepted (`MAX_AGE`
/// plus the verifier's clock leeway).
const JTI_TTL: std::time::Duration = std::time::Duration::from_secs(MAX_AGE.as_secs() + 60);

/// A back-channel answer: the status and, for an error, its code and description.
fn answer(status: StatusCode, error: Option<(&str, &str)>) -> OAuthResponse {
    let body = match error {
        Some((code, description)) => {
            json!({ "error": code, "error_description": description }).to_string()
        }
        None => String::new(),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if error.is_some() {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    response
}

fn invalid(description: &str) -> OAuthResponse {
    tracing::info!(reason = description, "back-channel logout refused");
    answer(
        StatusCode::BAD_REQUEST,
        Some(("invalid_request", description)),
    )
}

fn unavailable(description: &str) -> OAuthResponse {
    answer(
        StatusCode::SERVICE_UNAVAILABLE,
        Some(("temporarily_unavailable", description)),
    )
}

/// The `iss` a JWT claims, before any check: only used to pick the provider whose keys
/// and rules then check everything.
fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

impl<U: SessionUser> OAuthClient<U> {
    /// OpenID Connect Back-Channel Logout: a `POST` from an OpenID provider whose form field
    /// `logout_token` is valid ends the sessions it names (by `sid`, else by `sub`) and
    /// answers 200; anything refused answers 400 `{"error":"invalid_request",…}`, a store or
    /// key fetch that fails 503. Every answer has `Cache-Control: no-store`.
    ///
    /// Register `{public_url}{prefix}/backchannel-logout` as the client's
    /// `backchannel_logout_uri` at the provider (with `backchannel_logout_session_required`
    /// when it offers it). Only sessions started after the `sid` and `sub` were indexed are
    /// found: a session of an earlier release ends at its own timeout.
    pub async fn backchannel_logout<B>(&self, request: Request<B>) -> OAuthResponse
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if request.method() != Method::POST {
            let mut response = invalid("the back-channel logout takes a POST");
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(http::header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        let is_form = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !is_form {
            return invalid("the body must be application/x-www-form-urlencoded");
        }
        let Ok(body) = Limited::new(request.into_body(), MAX_BODY).collect().await else {
            return invalid("the body is too large or could not be read");
        };
        let body = body.to_bytes();
        let mut tokens = form_urlencoded::parse(&body)
            .filter(|(name, _)| name == "logout_token")
            .map(|(_, value)| value.into_owned());
        let (Some(token), None) = (tokens.next(), tokens.next()) else {
            return invalid("exactly one logout_token is required");
        };
        self.end_provider_sessions(&token).await
    }

    async fn end_provider_sessions(&self, token: &str) -> OAuthResponse {
        let Some(issuer) = claimed_issuer(token) else {
            return invalid("the logout token is not a JWT with an issuer");
        };
        let provider = self.inner.providers.values().find(|provider| {
            matches!(&provider.config.kind, ProviderKind::Oidc { issuer: own } if *own == issuer)
        });
        let Some(provider) = provider else {
            return invalid("the logout token's issuer is not a configured provider");
        };
        let name = &provider.config.name;
        let resolved = match provider.resolve(&self.inner.http).await {
            Ok(resolved) => resolved,
            Err(error) => {
                tracing::warn!(provider = %name, %error, "provider unavailable");
                return unavailable("the provider's metadata could not be fetched");
            }
        };
        let Some(validator) = &resolved.logout_tokens else {
            return invalid("the provider does not issue logout tokens");
        };
        let claims = match validator.validate(token).await {
            Ok(claims) => claims,
            Err(LogoutTokenError::Unavailable) => {
                return unavailable(LogoutTokenError::Unavailable.description());
            }
            Err(error) => {
                tracing::info!(provider = %name, %error, "logout token refused");
                return invalid(error.description());
            }
        };
        let store = &self.inner.sessions.store;
        let marker = format!(
            "logout:{}",
            random::digest_hex(&format!("{issuer}\0{}", claims.jti))
        );
        match store.claim(&marker, JTI_TTL).await {
            Ok(true) => {}
            Ok(false) => return invalid("the logout token was already used"),
            Err(error) => {
                let refusal = auth_core::AuthError::from(error);
                return unavailable(refusal.description());
            }
        }
        let tag = match &claims.ends {
            Ends::Session(sid) => sid_tag(name, sid),
            Ends::User(sub) => sub_tag(name, sub),
        };
        match store.delete_linked(&tag).await {
            Ok(ended) => {
                tracing::info!(provider = %name, ended, "back-channel logout");
                answer(StatusCode::OK, None)
            }
            Err(error) => {
                let refusal = auth_core::AuthError::from(error);
                unavailable(refusal.description())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claimed_issuer_is_read_from_the_payload_only() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://op.example"}"#);
        assert_eq!(
            claimed_issuer(&format!("e30.{payload}.sig")).as_deref(),
            Some("https://op.example")
        );
        assert_eq!(claimed_issuer("not a token"), None);
        assert_eq!(claimed_issuer("a.%%%.c"), None);
        let no_iss = URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        assert_eq!(claimed_issuer(&format!("e30.{no_iss}.sig")), None);
    }

    #[test]
    fn every_answer_is_not_stored() {
        let ok = answer(StatusCode::OK, None);
        assert_eq!(ok.headers()[CACHE_CONTROL], "no-store");
        let refused = invalid("x");
        assert_eq!(refused.status(), 400);
        assert_eq!(refused.headers()[CACHE_CONTROL], "no-store");
        assert_eq!(refused.headers()[CONTENT_TYPE], "application/json");
    }
}
