//! Where a credential is read from: `Authorization: Bearer`, a named header, a cookie, and
//! (only by explicit opt-in) the query string.
//!
//! [`Credentials`] is an ordered list of sources with a length cap. Extracting from it keeps
//! the three outcomes apart:
//!
//! * no source holds a credential: [`AuthErrorKind::MissingCredential`](crate::AuthErrorKind),
//! * exactly one does: the [`Credential`],
//! * the request is ambiguous (two `Authorization` headers, two cookies of that name, or a
//!   credential in two sources): 400 `invalid_request`,
//! * the credential is empty, too long, or has bytes outside visible ASCII: 401
//!   `invalid_token`, before any decoding.
//!
//! [`Credentials::find`] borrows the value from the request (no copy for headers and
//! cookies), for authenticators that can decide without keeping it;
//! [`Credentials::extract`] returns an owned [`Credential`].
//!
//! ```
//! use auth_core::credential::{Credentials, CredentialSource};
//! use http::Request;
//!
//! let sources = Credentials::bearer().or_header("x-api-key");
//! let req = Request::builder().header("X-API-Key", "sk_test_123").body(()).unwrap();
//! let cred = sources.extract(&req).unwrap();
//! assert_eq!(cred.value(), "sk_test_123");
//! assert!(matches!(cred.source(), CredentialSource::Header(_)));
//!
//! let two_ways = Request::builder()
//!     .header("authorization", "Bearer a")
//!     .header("x-api-key", "b")
//!     .body(())
//!     .unwrap();
//! assert_eq!(sources.extract(&two_ways).unwrap_err().status(), 400);
//! ```

use std::borrow::Cow;
use std::fmt;

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderName, Request};

use crate::error::AuthError;

/// The default cap on a credential's length: 8 KiB.
pub const DEFAULT_MAX_LENGTH: usize = 8 * 1024;

/// One place a credential can be read from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSource {
    /// `Authorization: Bearer <credential>` (RFC 6750 §2.1); the scheme is case-insensitive.
    Bearer,
    /// A named header holding the bare credential, such as `X-API-Key`.
    Header(HeaderName),
    /// A cookie of this name.
    Cookie(String),
    /// A query parameter of this name. Only through [`Credentials::insecure_query`]: URLs
    /// end up in logs, browser history and `Referer` headers.
    Query(String),
}

impl fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bearer => f.write_str("Authorization: Bearer"),
            Self::Header(name) => write!(f, "header {name}"),
            Self::Cookie(name) => write!(f, "cookie {name}"),
            Self::Query(name) => write!(f, "query parameter {name}"),
        }
    }
}

/// A credential found in a request. Its `Debug` output never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    value: String,
    source: CredentialSource,
}

impl Credential {
    /// The credential itself: treat it as a secret.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Consumes the credential, returning its value.
    #[must_use]
    pub fn into_value(self) -> String {
        self.value
    }

    /// Where it was found.
    #[must_use]
    pub fn source(&self) -> &CredentialSource {
        &self.source
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("value", &"[redacted]")
            .field("len", &self.value.len())
            .field("source", &self.source)
            .finish()
    }
}

/// A credential borrowed from the request it was found in (see [`Credentials::find`]).
/// Its `Debug` output never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialRef<'a> {
    value: Cow<'a, str>,
    source: &'a CredentialSource,
}

impl<'a> CredentialRef<'a> {
    /// The credential itself: treat it as a secret.
    #[must_use]
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Where it was found.
    #[must_use]
    pub fn source(&self) -> &'a CredentialSource {
        self.source
    }

    /// An owned copy, to keep beyond the request.
    #[must_use]
    pub fn into_owned(self) -> Credential {
        Credential {
            value: self.value.into_owned(),
            source: self.source.clone(),
        }
    }
}

impl fmt::Debug for CredentialRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialRef")
            .field("value", &"[redacted]")
            .field("len", &self.value.len())
            .field("source", self.source)
            .finish()
    }
}

/// An ordered list of credential sources with a length cap. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    sources: Vec<CredentialSource>,
    max_length: usize,
}

impl Credentials {
    fn one(source: CredentialSource) -> Self {
        Self {
            sources: vec![source],
            max_length: DEFAULT_MAX_LENGTH,
        }
    }

    /// Read `Authorization: Bearer <credential>`.
    #[must_use]
    pub fn bearer() -> Self {
        Self::one(CredentialSource::Bearer)
    }

    /// Read the bare credential from header `name`.
    #[must_use]
    pub fn header(name: HeaderName) -> Self {
        Self::one(CredentialSource::Header(name))
    }

    /// Read the credential from cookie `name`.
    #[must_use]
    pub fn cookie(name: impl Into<String>) -> Self {
        Self::one(CredentialSource::Cookie(name.into()))
    }

    /// Read the credential from query parameter `name`.
    ///
    /// Insecure: URLs are written to access logs, proxies' logs, browser history and the
    /// `Referer` header. Use only where a client cannot send a header (e.g. a WebSocket
    /// handshake from a browser), with short-lived credentials.
    #[must_use]
    pub fn insecure_query(name: impl Into<String>) -> Self {
        Self::one(CredentialSource::Query(name.into()))
    }

    /// Also read `Authorization: Bearer`.
    #[must_use]
    pub fn or_bearer(mut self) -> Self {
        self.sources.push(CredentialSource::Bearer);
        self
    }

    /// Also read header `name`.
    ///
    /// # Panics
    ///
    /// Panics if `name` is not a valid header name; use [`Credentials::or_header_name`]
    /// with a parsed [`HeaderName`] to avoid that.
    #[must_use]
    pub fn or_header(self, name: &'static str) -> Self {
        self.or_header_name(HeaderName::from_static(name))
    }

    /// Also read header `name`.
    #[must_use]
    pub fn or_header_name(mut self, name: HeaderName) -> Self {
        self.sources.push(CredentialSource::Header(name));
        self
    }

    /// Also read cookie `name`.
    #[must_use]
    pub fn or_cookie(mut self, name: impl Into<String>) -> Self {
        self.sources.push(CredentialSource::Cookie(name.into()));
        self
    }

    /// Also read query parameter `name`; see [`Credentials::insecure_query`].
    #[must_use]
    pub fn or_insecure_query(mut self, name: impl Into<String>) -> Self {
        self.sources.push(CredentialSource::Query(name.into()));
        self
    }

    /// Refuse credentials longer than `max_length` bytes (default 8 KiB) with a 401, before
    /// anything decodes them.
    #[must_use]
    pub fn max_length(mut self, max_length: usize) -> Self {
        self.max_length = max_length;
        self
    }

    /// The sources, in order.
    #[must_use]
    pub fn sources(&self) -> &[CredentialSource] {
        &self.sources
    }

    /// Finds the one credential in `request`. See the [module docs](self) for the outcomes.
    ///
    /// # Errors
    ///
    /// [`AuthError::missing`] when no source holds a credential, 400 `invalid_request` when
    /// the request is ambiguous, 401 `invalid_token` when the credential is empty, too long
    /// or not visible ASCII.
    pub fn extract<B>(&self, request: &Request<B>) -> Result<Credential, AuthError> {
        self.find(request).map(CredentialRef::into_owned)
    }

    /// Like [`extract`](Self::extract), with the value borrowed from `request`: no copy
    /// unless the source had to be decoded (a percent-encoded query parameter).
    ///
    /// ```
    /// use auth_core::credential::{Credentials, CredentialSource};
    /// use http::Request;
    ///
    /// let req = Request::builder().header("authorization", "Bearer abc").body(()).unwrap();
    /// let sources = Credentials::bearer();
    /// let found = sources.find(&req).unwrap();
    /// assert_eq!(found.value(), "abc");
    /// assert_eq!(found.source(), &CredentialSource::Bearer);
    /// ```
    ///
    /// # Errors
    ///
    /// As [`extract`](Self::extract).
    pub fn find<'a, B>(&'a self, request: &'a Request<B>) -> Result<CredentialRef<'a>, AuthError> {
        let mut found: Option<CredentialRef<'a>> = None;
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
            found = Some(CredentialRef { value, source });
        }
        found.ok_or_else(AuthError::missing)
    }

    fn read<'r, B>(
        &self,
        source: &CredentialSource,
        request: &'r Request<B>,
    ) -> Result<Option<Cow<'r, str>>, AuthError> {
        let raw = match source {
            CredentialSource::Bearer => read_bearer(request, self.max_length)?.map(Cow::Borrowed),
            CredentialSource::Header(name) => {
                read_header(request, name, self.max_length)?.map(Cow::Borrowed)
            }
            CredentialSource::Cookie(name) => read_cookie(request, name, self.max_length)?,
            CredentialSource::Query(name) => read_query(request, name, self.max_length)?,
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

/// `%x21-7E` for every byte. Branch-free within each 32-byte chunk, so the compiler
/// vectorizes it: bearer tokens are hundreds of bytes and this runs on every request
/// (callgrind: ~2 700 instructions for a 300-byte token with a per-byte early exit).
fn is_visible_ascii(bytes: &[u8]) -> bool {
    bytes.chunks(32).all(|chunk| {
        chunk
            .iter()
            .fold(true, |ok, &b| ok & (b.wrapping_sub(0x21) < 0x5e))
    })
}

fn single_header<'r, B>(
    request: &'r Request<B>,
    name: &HeaderName,
    max_length: usize,
) -> Result<Option<&'r [u8]>, AuthError> {
    let mut values = request.headers().get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
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
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(bad_bytes());
    };
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, DPoP…) is not ours: no Bearer credential here.
        return Ok(None);
    }
    Ok(Some(rest.trim_matches(' ')))
}

fn read_header<'r, B>(
    request: &'r Request<B>,
    name: &HeaderName,
    max_length: usize,
) -> Result<Option<&'r str>, AuthError> {
    match single_header(request, name, max_length)? {
        None => Ok(None),
        Some(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Some(text.trim_matches(' '))),
            Err(_) => Err(bad_bytes()),
        },
    }
}

fn read_cookie<'r, B>(
    request: &'r Request<B>,
    name: &str,
    max_length: usize,
) -> Result<Option<Cow<'r, str>>, AuthError> {
    let mut found: Option<Cow<'r, str>> = None;
    for header in request.headers().get_all(COOKIE) {
        let Ok(text) = header.to_str() else {
            // A cookie header with opaque bytes cannot hold our (visible ASCII) cookie
            // unambiguously; refuse rather than guess.
            return Err(bad_bytes());
        };
        for cookie in cookie::Cookie::split_parse(text).flatten() {
            if cookie.name() != name {
                continue;
            }
            if found.is_some() {
                return Err(AuthError::invalid_request(format!(
                    "the request has more than one {name} cookie"
                ))
                .with_reason("duplicate_cookie"));
            }
            if cookie.value().len() > max_length {
                return Err(too_long());
            }
            found = Some(
                cookie
                    .value_raw()
                    .map_or_else(|| Cow::Owned(cookie.value().to_owned()), Cow::Borrowed),
            );
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
        }
        assert!(is_visible_ascii(b""));
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        for header in ["Bearer abc", "bearer abc", "BEARER abc", "BeArEr   abc"] {
            let cred = Credentials::bearer()
                .extract(&req(&[("authorization", header.as_bytes())]))
                .unwrap();
            assert_eq!(cred.value(), "abc", "{header}");
            assert_eq!(cred.source(), &CredentialSource::Bearer);
        }
    }

    #[test]
    fn other_schemes_are_no_credential() {
        let err = Credentials::bearer()
            .extract(&req(&[("authorization", b"Basic dXNlcjpwYXNz")]))
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::MissingCredential);
        let err = Credentials::bearer().extract(&req(&[])).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::MissingCredential);
    }

    #[test]
    fn empty_bearer_is_invalid_token() {
        for header in ["Bearer", "Bearer ", "Bearer    "] {
            let err = Credentials::bearer()
                .extract(&req(&[("authorization", header.as_bytes())]))
                .unwrap_err();
            assert_eq!(err.kind(), AuthErrorKind::InvalidCredential, "{header:?}");
            assert_eq!(err.reason(), "empty");
        }
    }

    #[test]
    fn two_authorization_headers_are_invalid_request() {
        let err = Credentials::bearer()
            .extract(&req(&[
                ("authorization", b"Bearer a"),
                ("authorization", b"Bearer b"),
            ]))
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidRequest);
        assert_eq!(err.status(), 400);
    }

    #[test]
    fn credential_in_two_sources_is_invalid_request() {
        let sources = Credentials::bearer().or_cookie("session");
        let err = sources
            .extract(&req(&[
                ("authorization", b"Bearer a"),
                ("cookie", b"session=b"),
            ]))
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidRequest);
        assert_eq!(err.reason(), "duplicate_credential");
    }

    #[test]
    fn oversized_credential_is_refused_before_decoding() {
        let long = format!("Bearer {}", "a".repeat(DEFAULT_MAX_LENGTH + 1));
        let err = Credentials::bearer()
            .extract(&req(&[("authorization", long.as_bytes())]))
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidCredential);
        assert_eq!(err.reason(), "too_long");
        let huge = format!("Bearer {}", "a".repeat(11 * 1024 * 1024));
        let err = Credentials::bearer()
            .extract(&req(&[("authorization", huge.as_bytes())]))
            .unwrap_err();
        assert_eq!(err.reason(), "too_long");
        let ok = Credentials::bearer()
            .max_length(16)
            .extract(&req(&[("authorization", b"Bearer 0123456789abcdef")]))
            .unwrap();
        assert_eq!(ok.value().len(), 16);
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
            let err = Credentials::bearer()
                .extract(&req(&[("authorization", value)]))
                .unwrap_err();
            assert_eq!(err.kind(), AuthErrorKind::InvalidCredential, "{value:?}");
        }
        let err = Credentials::header(HeaderName::from_static("x-api-key"))
            .extract(&req(&[("x-api-key", b"\x80abc")]))
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidCredential);
    }

    #[test]
    fn cookies_are_parsed_and_duplicates_refused() {
        let sources = Credentials::cookie("sid");
        let cred = sources
            .extract(&req(&[("cookie", b"a=1; sid=xyz; b=2")]))
            .unwrap();
        assert_eq!(cred.value(), "xyz");
        let err = sources
            .extract(&req(&[("cookie", b"sid=1"), ("cookie", b"sid=2")]))
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidRequest);
        let err = sources
            .extract(&req(&[("cookie", b"other=1")]))
            .unwrap_err();
        assert!(err.is_missing());
    }

    #[test]
    fn query_only_when_opted_in() {
        let request = req(&[]);
        assert!(
            Credentials::bearer()
                .extract(&request)
                .unwrap_err()
                .is_missing()
        );
        let cred = Credentials::insecure_query("access_token")
            .extract(&request)
            .unwrap();
        assert_eq!(cred.value(), "q1");
        assert_eq!(
            cred.source(),
            &CredentialSource::Query("access_token".into())
        );
    }

    #[test]
    fn debug_redacts_the_value() {
        let cred = Credentials::bearer()
            .extract(&req(&[("authorization", b"Bearer supersecret")]))
            .unwrap();
        let printed = format!("{cred:?}");
        assert!(!printed.contains("supersecret"), "{printed}");
        assert!(printed.contains("redacted"));
    }
}
