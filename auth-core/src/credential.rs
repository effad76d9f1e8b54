//! Where a credential is read from: [`Credentials`].

use std::borrow::Cow;
use std::fmt;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, HeaderName, HeaderValue, Request};

use crate::error::AuthError;

/// The default cap on a credential's length: 8 KiB.
const DEFAULT_MAX_LENGTH: usize = 8 * 1024;

/// One place a credential can be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// `Authorization: Bearer <credential>` (RFC 6750 §2.1); the scheme is case-insensitive.
    Bearer,
    /// A named header holding the bare credential, such as `X-API-Key`.
    Header(HeaderName),
    /// A cookie of this name.
    Cookie(String),
    /// A query parameter of this name (only by `insecure_` opt-in).
    Query(String),
}

/// A credential found in a request, borrowed from it (see [`Credentials::find`]). Its
/// `Debug` output never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential<'a> {
    value: Cow<'a, str>,
    source: &'a Source,
}

impl Credential<'_> {
    /// The credential itself: treat it as a secret.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The value, owned, to keep beyond the request.
    #[must_use]
    pub fn into_value(self) -> String {
        self.value.into_owned()
    }

    /// Whether it came from `Authorization: Bearer` (rather than a named header, a cookie or
    /// the query string).
    #[must_use]
    pub fn is_bearer(&self) -> bool {
        *self.source == Source::Bearer
    }
}

impl fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("value", &"[redacted]")
            .field("len", &self.value.len())
            .field("source", self.source)
            .finish()
    }
}

/// Where a method reads its credential: an ordered list of sources with a length cap.
///
/// [`find`](Credentials::find) keeps the outcomes apart:
///
/// * no source holds a credential: [`AuthError::missing`];
/// * exactly one does: the [`Credential`], borrowed from the request (no copy unless a
///   query parameter had to be decoded);
/// * the request is ambiguous (two `Authorization` headers, two cookies of that name, or a
///   credential in two sources): 400 `invalid_request`;
/// * the credential is empty, longer than the cap (8 KiB unless
///   [`max_length`](Credentials::max_length) says otherwise), or has bytes outside visible
///   ASCII: 401 `invalid_token`, before anything decodes it.
///
/// Other `Authorization` schemes (`Basic`, `DPoP`…) are not a bearer credential. Cookies
/// other than the one asked for are never decoded, so an unrelated cookie with opaque bytes
/// does not lock anyone out.
///
/// ```
/// use auth_core::Credentials;
/// use http::Request;
///
/// let sources = Credentials::bearer().or_header("x-api-key");
/// let req = Request::builder().header("X-API-Key", "sk_test_123").body(()).unwrap();
/// let credential = sources.find(&req).unwrap();
/// assert_eq!(credential.value(), "sk_test_123");
/// assert!(!credential.is_bearer());
///
/// let two_ways = Request::builder()
///     .header("authorization", "Bearer a")
///     .header("x-api-key", "b")
///     .body(())
///     .unwrap();
/// assert_eq!(sources.find(&two_ways).unwrap_err().status(), 400);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    sources: Vec<Source>,
    max_length: usize,
}

impl Credentials {
    fn one(source: Source) -> Self {
        Self {
            sources: vec![source],
            max_length: DEFAULT_MAX_LENGTH,
        }
    }

    /// Read `Authorization: Bearer <credential>`.
    #[must_use]
    pub fn bearer() -> Self {
        Self::one(Source::Bearer)
    }

    /// Read the bare credential from header `name`.
    #[must_use]
    pub fn header(name: HeaderName) -> Self {
        Self::one(Source::Header(name))
    }

    /// Read the credential from cookie `name`.
    #[must_use]
    pub fn cookie(name: impl Into<String>) -> Self {
        Self::one(Source::Cookie(name.into()))
    }

    /// Read the credential from query parameter `name`.
    ///
    /// Insecure: URLs are written to access logs, proxies' logs, browser history and the
    /// `Referer` header. Use only where a client cannot send a header (e.g. a WebSocket
    /// handshake from a browser), with short-lived credentials.
    #[must_use]
    pub fn insecure_query(name: impl Into<String>) -> Self {
        Self::one(Source::Query(name.into()))
    }

    /// Also read `Authorization: Bearer`.
    #[must_use]
    pub fn or_bearer(mut self) -> Self {
        self.sources.push(Source::Bearer);
        self
    }

    /// Also read header `name`.
    ///
    /// # Panics
    ///
    /// Panics if `name` is not a valid lower-case header name (it is meant for literals).
    #[must_use]
    pub fn or_header(mut self, name: &'static str) -> Self {
        self.sources
            .push(Source::Header(HeaderName::from_static(name)));
        self
    }

    /// Also read cookie `name`.
    #[must_use]
    pub fn or_cookie(mut self, name: impl Into<String>) -> Self {
        self.sources.push(Source::Cookie(name.into()));
        self
    }

    /// Also read query parameter `name`; see [`Credentials::insecure_query`].
    #[must_use]
    pub fn or_insecure_query(mut self, name: impl Into<String>) -> Self {
        self.sources.push(Source::Query(name.into()));
        self
    }

    /// Refuse credentials longer than `max_length` bytes (default 8 KiB) with a 401, before
    /// anything decodes them.
    #[must_use]
    pub fn max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length;
        self
    }

    /// Finds the one credential in `request`. See [`Credentials`] for the outcomes.
    ///
    /// # Errors
    ///
    /// [`AuthError::missing`] when no source holds a credential, 400 `invalid_request` when
    /// the request is ambiguous, 401 `invalid_token` when the credential is empty, too long
    /// or not visible ASCII.
    pub fn find<'a, B>(&'a self, request: &'a Request<B>) -> Result<Credential<'a>, AuthError> {
        let mut found: Option<Credential<'a>> = None;
        for source in &self.sources {
            let Some(value) = self.read(source, request)? else {
                continue;
            };
            if found.is_some() {
                return Err(AuthError::invalid_request(
                    "the credential was sent in more than one way",
                )
                .with_reason("duplicate_credential"));
            }
            found = Some(Credential { value, source });
        }
        found.ok_or_else(AuthError::missing)
    }

    fn read<'r, B>(
        &self,
        source: &Source,
        request: &'r Request<B>,
    ) -> Result<Option<Cow<'r, str>>, AuthError> {
        let raw = match source {
            Source::Bearer => read_bearer(request, self.max_length)?.map(Cow::Borrowed),
            Source::Header(name) => read_header(request, name, self.max_length)?.map(Cow::Borrowed),
            Source::Cookie(name) => {
                cookie_value(request.headers(), name, self.max_length)?.map(Cow::Borrowed)
            }
            Source::Query(name) => read_query(request, name, self.max_length)?,
        };
        raw.map(|v| check_value(&v, self.max_length).map(|()| v))
            .transpose()
    }
}

fn too_long() -> AuthError {
    AuthError::invalid_credential("the credential is too long").with_reason("too_long")
}

fn bad_bytes() -> AuthError {
    AuthError::invalid_credential("the credential has characters outside visible ASCII")
        .with_reason("malformed")
}

/// Visible ASCII only (`%x21-7E`), not empty, not over the cap.
fn check_value(value: &str, max_length: usize) -> Result<(), AuthError> {
    if value.is_empty() {
        return Err(AuthError::invalid_credential("the credential is empty").with_reason("empty"));
    }
    if value.len() > max_length {
        return Err(too_long());
    }
    if !is_visible_ascii(value.as_bytes()) {
        return Err(bad_bytes());
    }
    Ok(())
}

/// `%x21-7E` for every byte, eight bytes at a time with no branch (SWAR; the last eight
/// bytes overlap the words before them): bearer tokens are hundreds of bytes and this runs
/// on every request.
fn is_visible_ascii(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte below 0x21 or above 0x7E.
    let outside = |word: &[u8; 8]| {
        let x = u64::from_ne_bytes(*word);
        let below = x.wrapping_sub(0x21 * ONES) & !x;
        let above = x.wrapping_add(ONES) | x;
        (below | above) & HIGH
    };
    match (bytes.as_chunks::<8>().0, bytes.last_chunk::<8>()) {
        (words, Some(last)) => words.iter().fold(outside(last), |acc, w| acc | outside(w)) == 0,
        (_, None) => bytes
            .iter()
            .fold(true, |ok, &b| ok & (b.wrapping_sub(0x21) < 0x5e)),
    }
}

/// Up to this many header values, a header is found by comparing names in one pass over
/// the map, which costs less than hashing the name for a lookup (an API client sends a
/// handful of headers); bigger maps are looked up by hash.
const SCAN_MAX_HEADERS: usize = 6;

/// The first value of header `name`, and whether it has another.
fn first_value<'r>(headers: &'r HeaderMap, name: &HeaderName) -> (Option<&'r HeaderValue>, bool) {
    if headers.len() <= SCAN_MAX_HEADERS {
        let mut values = headers.iter().filter(|(n, _)| *n == name).map(|(_, v)| v);
        let first = values.next();
        (first, values.next().is_some())
    } else {
        let mut values = headers.get_all(name).iter();
        let first = values.next();
        (first, values.next().is_some())
    }
}

fn single_header<'r, B>(
    request: &'r Request<B>,
    name: &HeaderName,
    max_length: usize,
) -> Result<Option<&'r [u8]>, AuthError> {
    let (Some(first), more) = first_value(request.headers(), name) else {
        return Ok(None);
    };
    if more {
        return Err(AuthError::invalid_request(format!(
            "the request has more than one {name} header"
        ))
        .with_reason("duplicate_header"));
    }
    let bytes = first.as_bytes();
    // Cap before any further work. Allow room for a scheme in front of the credential.
    if bytes.len() > max_length.saturating_add(64) {
        return Err(too_long());
    }
    Ok(Some(bytes))
}

fn read_bearer<B>(request: &Request<B>, max_length: usize) -> Result<Option<&str>, AuthError> {
    let Some(bytes) = single_header(request, &AUTHORIZATION, max_length)? else {
        return Ok(None);
    };
    let Some(credential) = strip_bearer_scheme(bytes) else {
        // Another scheme (Basic, DPoP…) is not ours: no Bearer credential here.
        return match std::str::from_utf8(bytes) {
            Ok(_) => Ok(None),
            Err(_) => Err(bad_bytes()),
        };
    };
    match std::str::from_utf8(trim_spaces(credential)) {
        Ok(text) => Ok(Some(text)),
        Err(_) => Err(bad_bytes()),
    }
}

/// What follows the scheme when it is `Bearer` (any case): the scheme is what precedes
/// the first space, so `Bearer` alone leaves an empty credential and `Bearerx …` is
/// another scheme. Read on the bytes: only the credential is then decoded.
fn strip_bearer_scheme(header: &[u8]) -> Option<&[u8]> {
    let (&[b0, b1, b2, b3, b4, b5], rest) = header.split_first_chunk::<6>()?;
    // `| 0x20` lowers an ASCII capital; for letters only their two cases map onto them.
    let scheme = u64::from_le_bytes([b0, b1, b2, b3, b4, b5, 0, 0]) | 0x2020_2020_2020;
    if scheme != u64::from_le_bytes(*b"bearer\0\0") {
        return None;
    }
    match rest {
        [] => Some(rest),
        [b' ', credential @ ..] => Some(credential),
        _ => None,
    }
}

/// `bytes` without leading and trailing spaces.
fn trim_spaces(mut bytes: &[u8]) -> &[u8] {
    while let [b' ', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' '] = bytes {
        bytes = rest;
    }
    bytes
}

fn read_header<'r, B>(
    request: &'r Request<B>,
    name: &HeaderName,
    max_length: usize,
) -> Result<Option<&'r str>, AuthError> {
    match single_header(request, name, max_length)? {
        None => Ok(None),
        Some(bytes) => match std::str::from_utf8(trim_spaces(bytes)) {
            Ok(text) => Ok(Some(text)),
            Err(_) => Err(bad_bytes()),
        },
    }
}

/// Reads cookie `name` from a request's `headers`: the cookie reader every towerauth crate
/// uses (the [`Credentials::cookie`] source, sessions, login transactions, refresh cookies).
///
/// * `Ok(None)`: no cookie of that name;
/// * `Ok(Some(value))`: exactly one, non-empty, visible ASCII, at most 8 KiB (double quotes
///   around it, allowed by RFC 6265, removed);
/// * 400 `invalid_request`: two or more (a sibling domain may have planted one);
/// * 401 `invalid_token`: the cookie is empty, too long or has other bytes.
///
/// The `Cookie` headers are read as bytes and a pair with another name is skipped unread,
/// whatever it holds: an unrelated cookie with opaque bytes never locks anyone out. (The
/// `cookie` crate parses a whole header as UTF-8 text, which would.)
///
/// ```
/// use http::{header::COOKIE, HeaderMap, HeaderValue};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(COOKIE, HeaderValue::from_bytes(b"theme=\xff\xfe; sid=abc123").unwrap());
/// assert_eq!(auth_core::read_cookie(&headers, "sid").unwrap(), Some("abc123"));
/// assert_eq!(auth_core::read_cookie(&headers, "other").unwrap(), None);
/// ```
///
/// # Errors
///
/// 400 for a duplicated cookie, 401 for a malformed one.
pub fn read_cookie<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, AuthError> {
    cookie_value(headers, name, DEFAULT_MAX_LENGTH)?
        .map(|value| check_value(value, DEFAULT_MAX_LENGTH).map(|()| value))
        .transpose()
}

/// The value of cookie `name`, unchecked beyond its length and UTF-8 (see [`read_cookie`]).
fn cookie_value<'h>(
    headers: &'h HeaderMap,
    name: &str,
    max_length: usize,
) -> Result<Option<&'h str>, AuthError> {
    let mut found: Option<&'h str> = None;
    for header in headers.get_all(COOKIE) {
        for pair in header.as_bytes().split(|&b| b == b';') {
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if pair[..eq].trim_ascii() != name.as_bytes() {
                continue;
            }
            if found.is_some() {
                return Err(AuthError::invalid_request(format!(
                    "the request has more than one {name} cookie"
                ))
                .with_reason("duplicate_cookie"));
            }
            let mut value = pair[eq + 1..].trim_ascii();
            if let [b'"', inner @ .., b'"'] = value {
                value = inner;
            }
            if value.len() > max_length {
                return Err(too_long());
            }
            let Ok(text) = std::str::from_utf8(value) else {
                return Err(bad_bytes());
            };
            found = Some(text);
        }
    }
    Ok(found)
}

fn read_query<'r, B>(
    request: &'r Request<B>,
    name: &str,
    max_length: usize,
) -> Result<Option<Cow<'r, str>>, AuthError> {
    let Some(query) = request.uri().query() else {
        return Ok(None);
    };
    let mut found: Option<Cow<'r, str>> = None;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        if key != name {
            continue;
        }
        if found.is_some() {
            return Err(AuthError::invalid_request(format!(
                "the query has more than one {name} parameter"
            ))
            .with_reason("duplicate_query"));
        }
        if value.len() > max_length {
            return Err(too_long());
        }
        found = Some(value);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuthErrorKind;
    use http::HeaderValue;

    /// The value `sources` finds in `request`, and whether it came from `Bearer`.
    fn found(sources: &Credentials, request: &Request<()>) -> Result<(String, bool), AuthError> {
        sources
            .find(request)
            .map(|c| (c.value().to_owned(), c.is_bearer()))
    }

    fn req(headers: &[(&str, &[u8])]) -> Request<()> {
        let mut builder = Request::builder().uri("/x?access_token=q1&other=2");
        for (k, v) in headers {
            builder = builder.header(*k, HeaderValue::from_bytes(v).unwrap());
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn visible_ascii_is_exactly_x21_to_x7e() {
        for b in 0u8..=255 {
            let long = [vec![b'a'; 40], vec![b], vec![b'z'; 40]].concat();
            let expected = (0x21..=0x7e).contains(&b);
            assert_eq!(is_visible_ascii(&[b]), expected, "{b:#x}");
            assert_eq!(is_visible_ascii(&long), expected, "{b:#x} inside 81 bytes");
            for at in 0..24 {
                let mut word = [b'~'; 24];
                word[at] = b;
                assert_eq!(is_visible_ascii(&word), expected, "{b:#x} at {at}");
                word.fill(b'!');
                word[at] = b;
                assert_eq!(
                    is_visible_ascii(&word),
                    expected,
                    "{b:#x} at {at} among '!'"
                );
            }
        }
        assert!(is_visible_ascii(b""));
        for len in 1..=20 {
            assert!(is_visible_ascii(&vec![b'a'; len]), "{len} bytes");
            for at in 0..len {
                for bad in [0x20, 0x7f, 0x80, 0x00] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = bad;
                    assert!(!is_visible_ascii(&bytes), "{bad:#x} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for header in ["Bearer abc", "bearer abc", "BEARER abc", "BeArEr   abc"] {
            let cred = found(
                &Credentials::bearer(),
                &req(&[("authorization", header.as_bytes())]),
            )
            .unwrap();
            assert_eq!(cred, ("abc".to_owned(), true), "{header}");
        }
    }

    #[test]
    fn other_schemes_are_no_credential() {
        let err = found(
            &Credentials::bearer(),
            &req(&[("authorization", b"Basic dXNlcjpwYXNz")]),
        )
        .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::MissingCredential);
        let err = found(&Credentials::bearer(), &req(&[])).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::MissingCredential);
    }

    #[test]
    fn the_scheme_ends_at_the_first_space() {
        let sources = Credentials::bearer();
        for header in [
            &b"Bearerabc"[..],
            b"Bearer\tabc",
            b"Bear abc",
            b"Bearer-abc def",
        ] {
            let err = found(&sources, &req(&[("authorization", header)])).unwrap_err();
            assert!(err.is_missing(), "{header:?}");
        }
        let cred = found(&sources, &req(&[("authorization", b"Bearer  abc  ")])).unwrap();
        assert_eq!(cred.0, "abc");
        // Bytes that are not UTF-8 are refused whatever the scheme.
        let err = found(&sources, &req(&[("authorization", b"Basic \xff")])).unwrap_err();
        assert_eq!(err.reason(), "malformed");
        let header = Credentials::header(HeaderName::from_static("x-api-key"));
        let cred = found(&header, &req(&[("x-api-key", b" key ")])).unwrap();
        assert_eq!(cred.0, "key");
    }

    #[test]
    fn empty_bearer_is_invalid_token() {
        for header in ["Bearer", "Bearer ", "Bearer    "] {
            let err = found(
                &Credentials::bearer(),
                &req(&[("authorization", header.as_bytes())]),
            )
            .unwrap_err();
            assert_eq!(err.kind(), AuthErrorKind::InvalidCredential, "{header:?}");
            assert_eq!(err.reason(), "empty");
        }
    }

    #[test]
    fn two_authorization_headers_are_invalid_request() {
        let err = found(
            &Credentials::bearer(),
            &req(&[
                ("authorization", b"Bearer a"),
                ("authorization", b"Bearer b"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidRequest);
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn headers_are_found_alike_in_small_and_large_maps() {
        let sources = Credentials::bearer().or_header("x-api-key");
        let filler: Vec<(String, &[u8])> = (0..SCAN_MAX_HEADERS)
            .map(|i| (format!("x-filler-{i}"), &b"v"[..]))
            .collect();
        for extra in [0, filler.len()] {
            let with = |headers: &[(&str, &[u8])]| {
                let mut all: Vec<(&str, &[u8])> = filler[..extra]
                    .iter()
                    .map(|(k, v)| (k.as_str(), *v))
                    .collect();
                all.extend_from_slice(headers);
                req(&all)
            };
            let cred = found(&sources, &with(&[("x-api-key", b"k1")])).unwrap();
            assert_eq!(cred, ("k1".to_owned(), false), "{extra} other headers");
            let cred = found(&sources, &with(&[("authorization", b"Bearer t1")])).unwrap();
            assert_eq!(cred, ("t1".to_owned(), true), "{extra} other headers");
            let err = found(&sources, &with(&[("x-api-key", b"a"), ("x-api-key", b"b")]));
            assert_eq!(
                err.unwrap_err().reason(),
                "duplicate_header",
                "{extra} other headers"
            );
            let both = with(&[("authorization", b"Bearer a"), ("x-api-key", b"b")]);
            let err = found(&sources, &both).unwrap_err();
            assert_eq!(
                err.reason(),
                "duplicate_credential",
                "{extra} other headers"
            );
            assert!(found(&sources, &with(&[])).unwrap_err().is_missing());
        }
        let many = Credentials::bearer()
            .or_header("x-a")
            .or_header("x-b")
            .or_header("x-c")
            .or_header("x-d");
        let cred = found(&many, &req(&[("x-d", b"k4")])).unwrap();
        assert_eq!(cred.0, "k4");
        let err = found(&many, &req(&[("x-a", b"1"), ("x-d", b"2")])).unwrap_err();
        assert_eq!(err.reason(), "duplicate_credential");
        let err = found(&many, &req(&[("x-d", b"1"), ("x-d", b"2")])).unwrap_err();
        assert_eq!(err.reason(), "duplicate_header");
    }

    #[test]
    fn credential_in_two_sources_is_invalid_request() {
        let sources = Credentials::bearer().or_cookie("session");
        let err = found(
            &sources,
            &req(&[("authorization", b"Bearer a"), ("cookie", b"session=b")]),
        )
        .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidRequest);
        assert_eq!(err.reason(), "duplicate_credential");
    }

    #[test]
    fn oversized_credential_is_refused_before_decoding() {
        let long = format!("Bearer {}", "a".repeat(DEFAULT_MAX_LENGTH + 1));
        let err = found(
            &Credentials::bearer(),
            &req(&[("authorization", long.as_bytes())]),
        )
        .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidCredential);
        assert_eq!(err.reason(), "too_long");
        let huge = format!("Bearer {}", "a".repeat(11 * 1024 * 1024));
        let err = found(
            &Credentials::bearer(),
            &req(&[("authorization", huge.as_bytes())]),
        )
        .unwrap_err();
        assert_eq!(err.reason(), "too_long");
        let ok = found(
            &Credentials::bearer().max_length(16),
            &req(&[("authorization", b"Bearer 0123456789abcdef")]),
        )
        .unwrap();
        assert_eq!(ok.0.len(), 16);
    }

    #[test]
    fn non_visible_ascii_is_invalid_token_not_a_panic() {
        let cases: [&[u8]; 4] = [
            b"Bearer a\tb",
            b"Bearer \xff\xfe",
            "Bearer caf\u{e9}".as_bytes(),
            b"Bearer a b",
        ];
        for value in cases {
            let err = found(&Credentials::bearer(), &req(&[("authorization", value)])).unwrap_err();
            assert_eq!(err.kind(), AuthErrorKind::InvalidCredential, "{value:?}");
        }
        let err = found(
            &Credentials::header(HeaderName::from_static("x-api-key")),
            &req(&[("x-api-key", b"\x80abc")]),
        )
        .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidCredential);
    }

    #[test]
    fn cookies_are_parsed_and_duplicates_refused() {
        let sources = Credentials::cookie("sid");
        let cred = found(&sources, &req(&[("cookie", b"a=1; sid=xyz; b=2")])).unwrap();
        assert_eq!(cred, ("xyz".to_owned(), false));
        let quoted = found(&sources, &req(&[("cookie", b"sid=\"xyz\"")])).unwrap();
        assert_eq!(quoted.0, "xyz");
        let err = found(
            &sources,
            &req(&[("cookie", b"sid=1"), ("cookie", b"sid=2")]),
        )
        .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidRequest);
        let err = found(&sources, &req(&[("cookie", b"other=1")])).unwrap_err();
        assert!(err.is_missing());
    }

    #[test]
    fn query_only_when_opted_in() {
        let request = req(&[]);
        assert!(
            found(&Credentials::bearer(), &request)
                .unwrap_err()
                .is_missing()
        );
        let cred = found(&Credentials::insecure_query("access_token"), &request).unwrap();
        assert_eq!(cred, ("q1".to_owned(), false));
    }

    #[test]
    fn unrelated_undecodable_cookies_are_ignored() {
        let sources = Credentials::cookie("sid");
        let cases: [&[u8]; 3] = [
            b"junk=\xff\xfe; sid=abc",
            b"sid=abc; caf\xc3\xa9=cr\xe8me; flag",
            b"=novalue; ;;sid=abc",
        ];
        for header in cases {
            let cred = found(&sources, &req(&[("cookie", header)])).unwrap();
            assert_eq!(cred.0, "abc", "{header:?}");
        }
        let err = found(
            &sources,
            &req(&[("cookie", b"junk=\xff"), ("cookie", b"a=1")]),
        )
        .unwrap_err();
        assert!(err.is_missing());
        // The cookie asked for must be well formed itself.
        let err = found(&sources, &req(&[("cookie", b"sid=ab\xffc")])).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidCredential);
        let err = found(&sources, &req(&[("cookie", b"sid=a b")])).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidCredential);
        let err = found(&sources, &req(&[("cookie", b"sid=")])).unwrap_err();
        assert_eq!(err.reason(), "empty");
    }

    #[test]
    fn debug_redacts_the_value() {
        let sources = Credentials::bearer();
        let request = req(&[("authorization", b"Bearer supersecret")]);
        let cred = sources.find(&request).unwrap();
        let printed = format!("{cred:?}");
        assert!(!printed.contains("supersecret"), "{printed}");
        assert!(printed.contains("redacted"));
    }
}
