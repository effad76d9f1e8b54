//! [`LoginRedirect`]: browser routes send anonymous visitors to a login page instead of a
//! 401, remembering the page they asked for.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, LOCATION};
use http::{HeaderValue, Method, Request, Response, StatusCode};

use auth_core::{AuthError, AuthErrorKind, OnRejection, Rejection};

/// An [`OnRejection`] for browser pages: a visitor without a session (or with a stale one)
/// gets `303 See Other` to the login page; every other refusal (403, 503, …) is the default
/// JSON rejection.
///
/// For a `GET` or `HEAD`, the page asked for travels along as `return_to` (the parameter the
/// login route takes), so the user lands back on it after logging in.
///
/// ```
/// use auth_core::{AuthError, OnRejection};
/// use http::Request;
/// use tower_oauth::LoginRedirect;
///
/// let redirect = LoginRedirect::to("/oauth/github/login").unwrap();
/// let page = Request::builder().uri("/settings?tab=keys").body(()).unwrap();
/// let res = redirect.reject(&AuthError::missing(), &page);
/// assert_eq!(res.status(), 303);
/// assert_eq!(res.headers()["location"], "/oauth/github/login?return_to=%2Fsettings%3Ftab%3Dkeys");
/// let res = redirect.reject(&AuthError::unavailable("store down"), &page);
/// assert_eq!(res.status(), 503);
/// ```
#[derive(Debug, Clone)]
pub struct LoginRedirect {
    location: String,
    fallback: Rejection,
}

impl LoginRedirect {
    /// Redirects to `location`, a same-origin path; `None` if it is not one.
    #[must_use]
    pub fn to(location: &str) -> Option<Self> {
        let location = crate::return_to::validate(location)?;
        HeaderValue::from_str(&location).ok()?;
        Some(Self {
            location,
            fallback: Rejection::new(),
        })
    }

    /// The login page's address for a visitor who asked for `request`.
    fn location<B>(&self, request: &Request<B>) -> HeaderValue {
        let asked = request.uri().path_and_query().map(|p| p.as_str());
        let back = asked
            .filter(|_| matches!(*request.method(), Method::GET | Method::HEAD))
            .and_then(crate::return_to::validate);
        let location = match back {
            Some(page) => {
                let separator = if self.location.contains('?') {
                    '&'
                } else {
                    '?'
                };
                let page: String = form_urlencoded::byte_serialize(page.as_bytes()).collect();
                format!("{}{separator}return_to={page}", self.location)
            }
            None => self.location.clone(),
        };
        HeaderValue::from_str(&location).unwrap_or_else(|_| HeaderValue::from_static("/"))
    }
}

impl<B> OnRejection<B> for LoginRedirect {
    fn reject(&self, error: &AuthError, request: &Request<B>) -> Response<Bytes> {
        if !matches!(
            error.kind(),
            AuthErrorKind::MissingCredential | AuthErrorKind::InvalidCredential
        ) {
            return self.fallback.reject(error, request);
        }
        let mut response = Response::new(Bytes::new());
        *response.status_mut() = StatusCode::SEE_OTHER;
        let headers = response.headers_mut();
        headers.insert(LOCATION, self.location(request));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(redirect: &LoginRedirect, method: Method, uri: &str) -> String {
        let request = Request::builder().method(method).uri(uri).body(()).unwrap();
        let response = redirect.reject(&AuthError::missing(), &request);
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        response.headers()[LOCATION].to_str().unwrap().to_owned()
    }

    #[test]
    fn the_page_asked_for_travels_along_for_reads_only() {
        let redirect = LoginRedirect::to("/login").unwrap();
        assert_eq!(
            location(&redirect, Method::GET, "/"),
            "/login?return_to=%2F"
        );
        assert_eq!(
            location(&redirect, Method::HEAD, "/a/b?x=1&y=%2F"),
            "/login?return_to=%2Fa%2Fb%3Fx%3D1%26y%3D%252F"
        );
        // A form post is not a page to come back to.
        assert_eq!(location(&redirect, Method::POST, "/keys"), "/login");
        let with_query = LoginRedirect::to("/login?provider=github").unwrap();
        assert_eq!(
            location(&with_query, Method::GET, "/dashboard"),
            "/login?provider=github&return_to=%2Fdashboard"
        );
    }

    #[test]
    fn a_path_that_would_leave_the_site_is_not_carried() {
        let redirect = LoginRedirect::to("/login").unwrap();
        assert_eq!(
            location(&redirect, Method::GET, "//evil.example/x"),
            "/login"
        );
        assert!(LoginRedirect::to("https://evil.example/").is_none());
        assert!(LoginRedirect::to("//evil.example").is_none());
    }
}
