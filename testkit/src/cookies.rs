//! A cookie jar for walking logins over HTTP.

use std::collections::HashMap;

use http::HeaderMap;
use http::header::SET_COOKIE;

/// Anything carrying response headers: `http::Response`, `reqwest::Response`, a
/// `HeaderMap`.
pub trait Headers {
    /// The headers.
    fn header_map(&self) -> &HeaderMap;
}

impl Headers for HeaderMap {
    fn header_map(&self) -> &HeaderMap {
        self
    }
}

impl<B> Headers for http::Response<B> {
    fn header_map(&self) -> &HeaderMap {
        self.headers()
    }
}

impl Headers for reqwest::Response {
    fn header_map(&self) -> &HeaderMap {
        self.headers()
    }
}

/// The cookies of one site: name to value, from `Set-Cookie` headers.
#[derive(Clone, Debug, Default)]
pub struct Jar(pub HashMap<String, String>);

impl Jar {
    /// An empty jar.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies every `Set-Cookie` of `res`: a cookie with `Max-Age=0` or an empty value
    /// is removed, any other stored.
    ///
    /// # Panics
    ///
    /// On a `Set-Cookie` header that does not parse (a test must see it).
    pub fn store(&mut self, res: &impl Headers) {
        for header in res.header_map().get_all(SET_COOKIE) {
            let text = header.to_str().expect("a Set-Cookie header in ASCII");
            let c = cookie::Cookie::parse(text.to_owned())
                .unwrap_or_else(|e| panic!("unparsable Set-Cookie {text:?}: {e}"));
            if c.max_age().is_some_and(|a| a.is_zero()) || c.value().is_empty() {
                self.0.remove(c.name());
            } else {
                self.0.insert(c.name().to_owned(), c.value().to_owned());
            }
        }
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_owned(), value.to_owned());
    }

    /// The value of `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The names of the cookies held.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// A `Cookie` request header value, sorted by name.
    #[must_use]
    pub fn header(&self) -> String {
        let mut pairs: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        pairs.sort();
        pairs.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_replaces_and_expires() {
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, "a=1; Path=/; HttpOnly".parse().unwrap());
        headers.append(SET_COOKIE, "b=2".parse().unwrap());
        let mut jar = Jar::new();
        jar.store(&headers);
        assert_eq!(jar.header(), "a=1; b=2");
        let mut later = HeaderMap::new();
        later.append(SET_COOKIE, "a=; Max-Age=0".parse().unwrap());
        later.append(SET_COOKIE, "b=3; Max-Age=0".parse().unwrap());
        jar.store(&later);
        assert_eq!(jar.header(), "");
    }
}
