//! The refresh-token cookie.

use std::time::Duration;

use cookie::{Cookie, SameSite};

/// The default cookie name. The `__Secure-` prefix makes browsers refuse it without `Secure`.
pub const DEFAULT_REFRESH_COOKIE_NAME: &str = "__Secure-refresh_token";
/// The default cookie path: the refresh token is sent only to the token endpoints.
pub const DEFAULT_REFRESH_COOKIE_PATH: &str = "/auth";

/// How the refresh token cookie is built: `HttpOnly`, `Secure`, `SameSite=Strict`, a narrow
/// `Path` (default `/auth`), `Max-Age` = the refresh token lifetime, no `Domain`.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt::issuer::RefreshCookie;
///
/// let cookie = RefreshCookie::new().build("eyJ...", Duration::from_secs(3600));
/// assert_eq!(
///     cookie.to_string(),
///     "__Secure-refresh_token=eyJ...; HttpOnly; SameSite=Strict; Secure; Path=/auth; Max-Age=3600"
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
    /// The defaults: `__Secure-refresh_token`, `Path=/auth`, `Secure`.
    pub fn new() -> Self {
        Self {
            name: DEFAULT_REFRESH_COOKIE_NAME.to_owned(),
            path: DEFAULT_REFRESH_COOKIE_PATH.to_owned(),
            secure: true,
        }
    }

    /// The cookie name (the authenticator of the refresh endpoint reads the same name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The path the browser sends the cookie to; keep it to the refresh and logout routes.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Drops `Secure` (and a `__Secure-` name prefix, which browsers would refuse without it)
    /// so the cookie works over plain `http://` on loopback during development. Never in
    /// production: the refresh token would travel in clear text.
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
            self.name.strip_prefix("__Secure-").unwrap_or(&self.name)
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
}

impl Default for RefreshCookie {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_defaults() {
        let cookie = RefreshCookie::new().build("t", Duration::from_secs(604_800));
        assert_eq!(cookie.name(), "__Secure-refresh_token");
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.secure(), Some(true));
        assert_eq!(cookie.same_site(), Some(SameSite::Strict));
        assert_eq!(cookie.path(), Some("/auth"));
        assert_eq!(cookie.domain(), None);
        assert_eq!(
            cookie.max_age(),
            Some(cookie::time::Duration::seconds(604_800))
        );
    }

    #[test]
    fn insecure_http_drops_secure_and_the_prefix() {
        let config = RefreshCookie::new().path("/api/auth").insecure_http();
        let cookie = config.build("t", Duration::from_secs(60));
        assert_eq!(cookie.name(), "refresh_token");
        assert_eq!(cookie.secure(), None);
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.path(), Some("/api/auth"));
        let removal = config.removal();
        assert_eq!(removal.value(), "");
        assert_eq!(removal.max_age(), Some(cookie::time::Duration::ZERO));
    }
}
