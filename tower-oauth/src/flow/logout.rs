//! `POST {prefix}/logout`: end the session server-side.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, ORIGIN};
use http::{Method, Request, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Limited};

use super::response::{Failure, OAuthResponse, see_other};
use crate::client::OAuthClient;
use crate::session::SessionUser;
use crate::session::sessions::Sessions;

/// The largest logout form read.
const MAX_FORM: usize = 4 * 1024;

impl<U: SessionUser> OAuthClient<U> {
    /// Logs out: a `POST` whose form field `csrf_token` matches the session's destroys the
    /// session in the store, clears the cookie and answers 303 to the `after_logout` path.
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
        let cross_origin = request
            .headers()
            .get(ORIGIN)
            .is_some_and(|origin| origin.as_bytes() != self.inner.origin.as_bytes())
            || request
                .headers()
                .get("sec-fetch-site")
                .is_some_and(|site| site.as_bytes() == b"cross-site");
        if cross_origin {
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
        let store_down = |_| Failure::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable");
        let Some(record) = sessions.load::<U>(&key).await.map_err(store_down)? else {
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
        let session = Sessions::identity(record, key);
        if csrf.len() != 1 || !session.verify_csrf(&csrf[0]) {
            return Err(Failure::new(StatusCode::FORBIDDEN, "csrf"));
        }
        sessions.destroy(session.key()).await.map_err(store_down)?;
        Ok(see_other(&self.inner.after_logout, &cleared))
    }
}
