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

/// What a request's `Cookie` headers hold under one name.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup<'r> {
    /// No cookie of that name.
    Absent,
    /// Exactly one.
    One(&'r str),
    /// Two or more: ambiguous, never guess.
    Duplicate,
}

/// Finds the cookie `name` in every `Cookie` header, without allocating.
pub(crate) fn lookup<'r>(headers: &'r HeaderMap, name: &str) -> Lookup<'r> {
    let mut found = Lookup::Absent;
    for header in headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else {
            continue;
        };
        // A `to_str` header is visible ASCII, space and tab: ASCII trimming suffices, and
        // skips the Unicode whitespace tables on every request.
        for pair in text.split(';') {
            let Some((key, value)) = pair.trim_ascii().split_once('=') else {
                continue;
            };
            if key.trim_ascii() == name {
                if found != Lookup::Absent {
                    return Lookup::Duplicate;
                }
                found = Lookup::One(value.trim_ascii());
            }
        }
    }
    found
}

/// Every `(name, value)` whose name starts with `prefix`, in every `Cookie` header.
pub(crate) fn with_prefix<'r>(headers: &'r HeaderMap, prefix: &str) -> Vec<(&'r str, &'r str)> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|text| text.split(';'))
        .filter_map(|pair| pair.trim_ascii().split_once('='))
        .map(|(k, v)| (k.trim_ascii(), v.trim_ascii()))
        .filter(|(k, _)| k.starts_with(prefix))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn finds_one_cookie_among_many_headers() {
        let h = headers(&["a=1; sid=abc", "b=2"]);
        assert_eq!(lookup(&h, "sid"), Lookup::One("abc"));
        assert_eq!(lookup(&h, "missing"), Lookup::Absent);
        assert_eq!(lookup(&h, "si"), Lookup::Absent);
    }

    #[test]
    fn spaces_and_tabs_around_names_and_values_are_trimmed() {
        let h = headers(&[" a=1 ;\tsid = abc\t; b=2"]);
        assert_eq!(lookup(&h, "sid"), Lookup::One("abc"));
        assert_eq!(lookup(&h, "a"), Lookup::One("1"));
        assert_eq!(with_prefix(&h, "si"), vec![("sid", "abc")]);
    }

    #[test]
    fn lists_cookies_by_prefix() {
        let h = headers(&["tx-1=a; other=b", "tx-2=c"]);
        assert_eq!(with_prefix(&h, "tx-"), vec![("tx-1", "a"), ("tx-2", "c")]);
    }

    #[test]
    fn duplicates_are_ambiguous() {
        assert_eq!(
            lookup(&headers(&["sid=a; sid=b"]), "sid"),
            Lookup::Duplicate
        );
        assert_eq!(
            lookup(&headers(&["sid=a", "sid=b"]), "sid"),
            Lookup::Duplicate
        );
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
