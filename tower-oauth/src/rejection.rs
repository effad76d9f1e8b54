//! [`LoginRedirect`]: browser routes send anonymous visitors to a login page instead of a
//! 401.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, LOCATION};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use auth_core::{AuthError, AuthErrorKind, OnRejection, Rejection};

/// An [`OnRejection`] for browser pages: a visitor without a session (or with a stale one)
/// gets `303 See Other` to a fixed login page; every other refusal (403, 503, …) is the
/// default JSON rejection.
///
/// ```
/// use auth_core::{AuthError, OnRejection};
/// use http::HeaderMap;
/// use tower_oauth::LoginRedirect;
///
/// let redirect = LoginRedirect::to("/login").unwrap();
/// let res = redirect.reject(&AuthError::missing(), &HeaderMap::new());
/// assert_eq!(res.status(), 303);
/// assert_eq!(res.headers()["location"], "/login");
/// let res = redirect.reject(&AuthError::unavailable("store down"), &HeaderMap::new());
/// assert_eq!(res.status(), 503);
/// ```
#[derive(Debug, Clone)]
pub struct LoginRedirect {
    location: HeaderValue,
    fallback: Rejection,
}

impl LoginRedirect {
    /// Redirects to `location`, a same-origin path; `None` if it is not one.
    #[must_use]
    pub fn to(location: &str) -> Option<Self> {
        let location = crate::return_to::validate(location)?;
        Some(Self {
            location: HeaderValue::from_str(&location).ok()?,
            fallback: Rejection::new(),
        })
    }
}

impl OnRejection for LoginRedirect {
    fn reject(&self, error: &AuthError, headers: &HeaderMap) -> Response<Bytes> {
        if !matches!(
            error.kind(),
            AuthErrorKind::MissingCredential | AuthErrorKind::InvalidCredential
        ) {
            return self.fallback.reject(error, headers);
        }
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = StatusCode::SEE_OTHER;
        response
            .headers_mut()
            .insert(LOCATION, self.location.clone());
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
