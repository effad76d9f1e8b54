//! `POST {prefix}/logout`: end the session server-side.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Limited};

use super::response::{Failure, OAuthResponse, see_other};
use crate::client::OAuthClient;
use crate::random;
use crate::session::SessionUser;
use crate::session::sessions::Sessions;

/// The largest logout form read.
const MAX_FORM: usize = 4 * 1024;

impl<U: SessionUser> OAuthClient<U> {
    /// Logs out: a `POST` whose form field `csrf_token` matches the session's destroys the
    /// session in the store, clears the cookie and answers 303 to the `after_logout` path,
    /// or, for a session an OpenID provider started when that provider has a
    /// [`post_logout_redirect_uri`](crate::Provider::post_logout_redirect_uri) and an
    /// `end_session_endpoint`, to the provider's end-session endpoint (RP-Initiated Logout
    /// 1.0: `id_token_hint`, `post_logout_redirect_uri`, `client_id`, `state`).
    ///
    /// A wrong or missing CSRF token, or a cross-origin `Origin`, is 403 and changes
    /// nothing; without a live session (already logged out, stale cookie) the answer is the
    /// same 303 with the cookie cleared.
    pub async fn logout<B>(&self, request: Request<B>) -> OAuthResponse
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        match self.end(request).await {
            Ok(response) => response,
            Err(failure) => {
                tracing::info!(reason = failure.reason, "logout refused");
                failure.page(&[])
            }
        }
    }

    async fn end<B>(&self, request: Request<B>) -> Result<OAuthResponse, Failure>
    where
        B: Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        if request.method() != Method::POST {
            return Err(Failure::new(StatusCode::METHOD_NOT_ALLOWED, "method"));
        }
        if crate::cookies::cross_origin(request.headers(), &self.inner.origin) {
            return Err(Failure::new(StatusCode::FORBIDDEN, "cross_origin"));
        }
        let is_form = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        let sessions = &self.inner.sessions;
        let key = sessions.read_id(request.headers()).map(Sessions::key);
        let body = Limited::new(request.into_body(), MAX_FORM)
            .collect()
            .await
            .map_err(|_| Failure::bad_request("form_too_large"))?
            .to_bytes();
        let cleared = [sessions.removal()];
        let Some(key) = key else {
            return Ok(see_other(&self.inner.after_logout, &cleared));
        };
        let Some(record) = sessions.load::<U>(&key).await? else {
            return Ok(see_other(&self.inner.after_logout, &cleared));
        };
        let csrf: Vec<String> = if is_form {
            form_urlencoded::parse(&body)
                .filter(|(name, _)| name == "csrf_token")
                .map(|(_, value)| value.into_owned())
                .collect()
        } else {
            Vec::new()
        };
        let tokens = record
            .tokens
            .as_ref()
            .and_then(|sealed| sealed.open(&self.inner.keys, &key));
        let provider = record.provider.clone();
        let session = Sessions::identity(record, key);
        if csrf.len() != 1 || !session.verify_csrf(&csrf[0]) {
            return Err(Failure::new(StatusCode::FORBIDDEN, "csrf"));
        }
        sessions.destroy(session.key()).await?;
        let id_token = tokens.and_then(|tokens| tokens.id_token);
        let location = match (provider, id_token) {
            (Some(provider), Some(id_token)) => self.end_session_url(&provider, &id_token).await,
            _ => None,
        };
        let location = location.unwrap_or_else(|| self.inner.after_logout.clone());
        Ok(see_other(&location, &cleared))
    }

    /// OpenID RP-Initiated Logout 1.0: the provider's end-session URL for the session that
    /// logged in with `id_token`, when the provider has a `post_logout_redirect_uri`
    /// configured and advertises an `end_session_endpoint`.
    async fn end_session_url(&self, provider: &str, id_token: &str) -> Option<String> {
        let state = self.inner.providers.get(provider)?;
        let post_logout = state.config.post_logout_redirect_uri.as_deref()?;
        let resolved = match state.resolve(&self.inner.http).await {
            Ok(resolved) => resolved,
            Err(error) => {
                // The local session has ended; the provider's stays until it expires.
                tracing::warn!(provider, %error, "provider unavailable: logout stays local");
                return None;
            }
        };
        let mut url = url::Url::parse(resolved.end_session.as_deref()?).ok()?;
        url.query_pairs_mut()
            .append_pair("id_token_hint", id_token)
            .append_pair("post_logout_redirect_uri", post_logout)
            .append_pair("client_id", &state.config.client_id)
            .append_pair("state", &random::token());
        Some(url.into())
    }
}
