//! Cookie attributes and parsing shared by the transaction and session cookies.

use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::HeaderMap;
use http::header::COOKIE;

/// How cookies are written: `__Host-` + `Secure` in production, plain names over loopback
/// http in the `insecure_` development mode.
#[derive(Debug, Clone)]
pub(crate) struct CookiePolicy {
    secure: bool,
}

impl CookiePolicy {
    pub(crate) fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// `__Host-{base}` when secure, `{base}` otherwise.
    pub(crate) fn name(&self, base: &str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    /// A cookie with our fixed attributes: `HttpOnly`, `Path=/`, no `Domain`,
    /// `SameSite=Lax`, `Secure` unless in development mode.
    pub(crate) fn cookie(&self, name: String, value: String, max_age: Duration) -> Cookie<'static> {
        Cookie::build((name, value))
            .http_only(true)
            .secure(self.secure)
            .path("/")
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
            ))
            .build()
    }

    /// A `Set-Cookie` that deletes `name` (same attributes, empty value, `Max-Age=0`).
    pub(crate) fn removal(&self, name: String) -> Cookie<'static> {
        let mut cookie = self.cookie(name, String::new(), Duration::ZERO);
        cookie.make_removal();
        cookie
    }
}

/// Every `(name, value)` whose name starts with `prefix`, in every `Cookie` header (the
/// pending login transactions). Like [`auth_core::read_cookie`], which reads every single
/// cookie here, it reads the headers as bytes and skips pairs it cannot decode, so an
/// unrelated cookie with opaque bytes locks nothing out.
pub(crate) fn with_prefix<'r>(headers: &'r HeaderMap, prefix: &str) -> Vec<(&'r str, &'r str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .flat_map(|header| header.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| {
            let eq = pair.iter().position(|&b| b == b'=')?;
            let name = pair[..eq].trim_ascii();
            if !name.starts_with(prefix.as_bytes()) {
                return None;
            }
            let value = pair[eq + 1..].trim_ascii();
            Some((
                std::str::from_utf8(name).ok()?,
                std::str::from_utf8(value).ok()?,
            ))
        })
        .collect()
}

/// Whether `headers` show a cross-origin request: an `Origin` other than `origin`, or
/// `Sec-Fetch-Site: cross-site`. A request without either (an older browser, a non-browser
/// client) is not cross-origin.
pub(crate) fn cross_origin(headers: &http::HeaderMap, origin: &str) -> bool {
    headers
        .get(http::header::ORIGIN)
        .is_some_and(|value| value.as_bytes() != origin.as_bytes())
        || headers
            .get("sec-fetch-site")
            .is_some_and(|site| site.as_bytes() == b"cross-site")
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&[u8]]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(COOKIE, HeaderValue::from_bytes(v).unwrap());
        }
        map
    }

    #[test]
    fn lists_cookies_by_prefix_trimming_spaces_and_tabs() {
        let h = headers(&[b"tx-1=a; other=b", b" tx-2 =\tc\t; tx"]);
        assert_eq!(with_prefix(&h, "tx-"), vec![("tx-1", "a"), ("tx-2", "c")]);
    }

    #[test]
    fn undecodable_pairs_are_skipped_not_fatal() {
        let h = headers(&[b"junk=\xff; tx-1=a", b"tx-\xfe=b; tx-2=c"]);
        assert_eq!(with_prefix(&h, "tx-"), vec![("tx-1", "a"), ("tx-2", "c")]);
    }

    #[test]
    fn secure_policy_sets_every_attribute() {
        let policy = CookiePolicy::new(true);
        let name = policy.name("session");
        assert_eq!(name, "__Host-session");
        let text = policy
            .cookie(name, "v".to_owned(), Duration::from_secs(60))
            .to_string();
        for attr in ["HttpOnly", "Secure", "Path=/", "SameSite=Lax", "Max-Age=60"] {
            assert!(text.contains(attr), "{attr} missing in {text}");
        }
        assert!(!text.contains("Domain"));
    }

    #[test]
    fn development_policy_drops_secure_and_prefix() {
        let policy = CookiePolicy::new(false);
        assert_eq!(policy.name("session"), "session");
        let text = policy.removal("session".to_owned()).to_string();
        assert!(!text.contains("Secure"));
        assert!(text.contains("Max-Age=0"));
    }
}
