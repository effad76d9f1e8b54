//! The refresh-token cookie: how it is set, and how it is read back.

use std::time::Duration;

use auth_core::{AuthError, ConfigError, ConfigErrorKind};
use cookie::{Cookie, SameSite};
use http::HeaderMap;

/// The default cookie name. The `__Host-` prefix makes browsers refuse it unless it is
/// `Secure`, has `Path=/` and no `Domain`: a sibling subdomain cannot plant one.
pub const DEFAULT_REFRESH_COOKIE_NAME: &str = "__Host-refresh_token";
/// The default cookie path, the only one a `__Host-` cookie may have.
pub const DEFAULT_REFRESH_COOKIE_PATH: &str = "/";

/// How the refresh token cookie is built and read: `HttpOnly`, `Secure`, `SameSite=Strict`,
/// `Max-Age` = the refresh token lifetime, no `Domain`; by default named
/// `__Host-refresh_token` with `Path=/`.
///
/// The `__Host-` prefix is what stops a sibling subdomain (`evil.example.com` next to
/// `app.example.com`) from planting its own refresh cookie for the browser to send, which a
/// `Domain=example.com` cookie could do with any other name (session fixation into the
/// attacker's account, or a second copy beside the real one). Its price is `Path=/`: the
/// cookie goes with every request to the host, still `HttpOnly` and `SameSite=Strict`.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt::issuer::RefreshCookie;
///
/// let cookie = RefreshCookie::new().build("eyJ...", Duration::from_secs(3600));
/// assert_eq!(
///     cookie.to_string(),
///     "__Host-refresh_token=eyJ...; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age=3600"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct RefreshCookie {
    name: String,
    path: String,
    secure: bool,
}

impl RefreshCookie {
    /// The defaults: `__Host-refresh_token`, `Path=/`, `Secure`.
    pub fn new() -> Self {
        Self {
            name: DEFAULT_REFRESH_COOKIE_NAME.to_owned(),
            path: DEFAULT_REFRESH_COOKIE_PATH.to_owned(),
            secure: true,
        }
    }

    /// The cookie name. Keep the `__Host-` prefix (a `__Secure-` or unprefixed name can be
    /// planted by a sibling subdomain).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The path the browser sends the cookie to. A `__Host-` cookie must keep `/` (the
    /// [`TokenIssuer`](super::TokenIssuer) refuses to build otherwise); narrow it only with
    /// another name.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Drops `Secure` (and the `__Host-` / `__Secure-` name prefixes, which browsers would
    /// refuse without it) so the cookie works over plain `http://` on loopback during
    /// development. Never in production: the refresh token would travel in clear text.
    pub fn insecure_http(mut self) -> Self {
        self.secure = false;
        self
    }

    /// The effective cookie name.
    #[must_use]
    pub fn cookie_name(&self) -> &str {
        if self.secure {
            &self.name
        } else {
            ["__Host-", "__Secure-"]
                .iter()
                .find_map(|prefix| self.name.strip_prefix(prefix))
                .unwrap_or(&self.name)
        }
    }

    /// The cookie carrying `token`, living `max_age`.
    #[must_use]
    pub fn build(&self, token: &str, max_age: Duration) -> Cookie<'static> {
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        let cookie = Cookie::build((self.cookie_name().to_owned(), token.to_owned()))
            .http_only(true)
            .same_site(SameSite::Strict)
            .path(self.path.clone())
            .max_age(cookie::time::Duration::seconds(seconds));
        if self.secure {
            cookie.secure(true).build()
        } else {
            cookie.build()
        }
    }

    /// The cookie that deletes the refresh cookie (empty, `Max-Age=0`), for logout.
    #[must_use]
    pub fn removal(&self) -> Cookie<'static> {
        self.build("", Duration::ZERO)
    }

    /// The refresh token in the request's `Cookie` headers, `None` when there is none.
    ///
    /// Read by [`auth_core::read_cookie`]: other cookies are skipped unread whatever they
    /// hold, so an unrelated cookie never makes a refresh fail.
    ///
    /// # Errors
    ///
    /// 400 `invalid_request` when the refresh cookie is sent more than once (a second copy
    /// planted beside the real one is refused, never guessed between); 401 `invalid_token`
    /// when its value is empty, longer than 8 KiB or not visible ASCII.
    pub fn read(&self, headers: &HeaderMap) -> Result<Option<String>, AuthError> {
        auth_core::read_cookie(headers, self.cookie_name()).map(|value| value.map(str::to_owned))
    }

    /// Refuses a configuration browsers would reject: a `__Host-` cookie with a `Path`
    /// other than `/`, an empty name.
    pub(super) fn check(&self) -> Result<(), ConfigError> {
        let invalid = |message| {
            Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "refresh_cookie",
                message,
            ))
        };
        if self.cookie_name().is_empty() {
            return invalid("the cookie name must not be empty");
        }
        if self.cookie_name().starts_with("__Host-") && self.path != "/" {
            return invalid("a __Host- cookie must have Path=/");
        }
        Ok(())
    }
}

impl Default for RefreshCookie {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;
    use http::header::COOKIE;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(COOKIE, HeaderValue::from_bytes(value).unwrap());
        }
        headers
    }

    #[test]
    fn secure_defaults() {
        let cookie = RefreshCookie::new().build("t", Duration::from_secs(604_800));
        assert_eq!(cookie.name(), "__Host-refresh_token");
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Strict));
        assert_eq!(cookie.path(), Some("/"));
        assert_eq!(cookie.domain(), None);
        assert_eq!(
            cookie.max_age(),
            Some(cookie::time::Duration::seconds(604_800))
        );
        assert!(RefreshCookie::new().check().is_ok());
    }

    #[test]
    fn insecure_http_drops_secure_and_the_prefixes() {
        let config = RefreshCookie::new().path("/api/auth").insecure_http();
        let cookie = config.build("t", Duration::from_secs(60));
        assert_eq!(cookie.name(), "refresh_token");
        assert_eq!(cookie.secure(), None);
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.path(), Some("/api/auth"));
        assert!(config.check().is_ok());
        let removal = config.removal();
        assert_eq!(removal.value(), "");
        assert_eq!(removal.max_age(), Some(cookie::time::Duration::ZERO));
        let secure = RefreshCookie::new().name("__Secure-rt").insecure_http();
        assert_eq!(secure.cookie_name(), "rt");
    }

    #[test]
    fn a_host_cookie_keeps_path_root() {
        let err = RefreshCookie::new().path("/auth").check().unwrap_err();
        assert_eq!(err.field(), "refresh_cookie");
        assert!(
            RefreshCookie::new()
                .name("__Secure-refresh_token")
                .path("/auth")
                .check()
                .is_ok()
        );
        assert!(RefreshCookie::new().name("").check().is_err());
    }

    #[test]
    fn unrelated_undecodable_cookies_are_skipped() {
        let config = RefreshCookie::new();
        for request in [
            headers(&[b"theme=\xff\xfe; __Host-refresh_token=abc.def.ghi; lang=fr"]),
            headers(&[b"broken; =; __Host-refresh_token=abc.def.ghi"]),
            headers(&[b"x=\xc3\xa9", b"__Host-refresh_token=abc.def.ghi"]),
            headers(&[b"__Host-refresh_token=abc.def.ghi; other=\"quoted \xff\""]),
        ] {
            assert_eq!(
                config.read(&request).unwrap().as_deref(),
                Some("abc.def.ghi"),
                "{request:?}"
            );
        }
        assert_eq!(config.read(&headers(&[b"theme=\xff"])).unwrap(), None);
        assert_eq!(config.read(&HeaderMap::new()).unwrap(), None);
        // Another name, even one differing only in case or prefix, is not ours.
        let others =
            headers(&[b"__host-refresh_token=x; refresh_token=y; __Secure-refresh_token=z"]);
        assert_eq!(config.read(&others).unwrap(), None);
    }

    #[test]
    fn a_second_copy_is_refused_with_400() {
        let config = RefreshCookie::new();
        for request in [
            headers(&[b"__Host-refresh_token=a; __Host-refresh_token=b"]),
            headers(&[b"__Host-refresh_token=a", b"__Host-refresh_token=a"]),
        ] {
            let err = config.read(&request).unwrap_err();
            assert_eq!(err.status(), http::StatusCode::BAD_REQUEST);
            assert_eq!(err.reason(), "duplicate_cookie");
        }
    }

    #[test]
    fn a_malformed_refresh_cookie_is_refused_with_401() {
        let config = RefreshCookie::new();
        let long = format!("__Host-refresh_token={}", "a".repeat(8 * 1024 + 1));
        for (request, reason) in [
            (headers(&[b"__Host-refresh_token=\xff\xfe"]), "malformed"),
            (headers(&[b"__Host-refresh_token="]), "empty"),
            (headers(&[long.as_bytes()]), "too_long"),
        ] {
            let err = config.read(&request).unwrap_err();
            assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
            assert_eq!(err.reason(), reason);
        }
    }
}
