//! Turning an [`AuthError`] into a response: RFC 6750 for HTTP, status trailers for gRPC.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, TE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version};

use crate::error::{AuthError, AuthErrorKind, Challenge};

/// Builds the response for a refused request.
///
/// It sees the request, so it can answer in the client's protocol or language, or redirect a
/// browser to a login page. The body is plain bytes; the layer puts them into the inner
/// service's body type. Closures `Fn(&AuthError, &Request<B>) -> Response<Bytes>` implement it:
///
/// ```
/// use auth_core::{AuthError, AuthLayer, AuthMethod, Principal};
/// use bytes::Bytes;
/// use http::{header, Request, Response, StatusCode};
///
/// // Browsers without a session go to the login page; everything else is refused as usual.
/// let to_login = |error: &AuthError, _: &Request<String>| {
///     let mut response = Response::new(Bytes::new());
///     if error.is_missing() {
///         *response.status_mut() = StatusCode::SEE_OTHER;
///         response.headers_mut().insert(header::LOCATION, "/login".parse().unwrap());
///     } else {
///         *response.status_mut() = error.status();
///     }
///     response
/// };
/// let auth = |_: &Request<String>| Err::<Principal, _>(AuthError::missing());
/// let layer = AuthLayer::new(auth).on_rejection(to_login);
/// # let _ = layer;
/// ```
pub trait OnRejection<B> {
    /// The response for `error`, refusing `request`.
    fn reject(&self, error: &AuthError, request: &Request<B>) -> Response<Bytes>;
}

impl<B, F> OnRejection<B> for F
where
    F: Fn(&AuthError, &Request<B>) -> Response<Bytes>,
{
    fn reject(&self, error: &AuthError, request: &Request<B>) -> Response<Bytes> {
        self(error, request)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    realm: String,
    problem_json: bool,
    /// RFC 9728: the protected resource metadata URL named in challenges.
    resource_metadata: Option<String>,
}

/// The standard rejection.
///
/// * **HTTP**: the error's status; on 400, 401 and an `insufficient_scope` 403 an RFC 6750
///   `WWW-Authenticate: Bearer realm="…", error="…", error_description="…"` challenge (a bare
///   `Bearer realm="…"` when no credential was sent); a JSON body
///   `{"error", "error_description"}` (or RFC 9457 `application/problem+json` with
///   [`problem_json`](Rejection::problem_json)); `Cache-Control: no-store`. A
///   misconfiguration (500) tells the client only `server_error`: its cause goes to the log.
///   A 429 ([`AuthError::rate_limited`]) has no challenge, the body error `rate_limited`,
///   and `Retry-After`, `RateLimit-Policy` and `RateLimit` headers. An error carrying
///   [`AuthError::with_challenges`] is answered with those challenges instead (one
///   `WWW-Authenticate` field each, e.g. `Bearer` and RFC 9449 `DPoP`), and its body names
///   the first challenge's own error code (`invalid_dpop_proof`).
/// * **gRPC** (an HTTP/2 request with `content-type: application/grpc…` and `te: trailers`):
///   HTTP 200 with `grpc-status` 16 `UNAUTHENTICATED`, 3 `INVALID_ARGUMENT`, 7
///   `PERMISSION_DENIED`, 8 `RESOURCE_EXHAUSTED` (with the 429's rate-limit headers), 14
///   `UNAVAILABLE` or 13 `INTERNAL` and a percent-encoded `grpc-message`, so clients see
///   ordinary status codes.
///
/// ```
/// use auth_core::{AuthError, OnRejection, Rejection};
/// use http::Request;
///
/// let rejection = Rejection::new().realm("example");
/// let res = rejection.reject(&AuthError::invalid_credential("the token has expired"), &Request::new(()));
/// assert_eq!(res.status(), 401);
/// assert_eq!(
///     res.headers()["www-authenticate"],
///     r#"Bearer realm="example", error="invalid_token", error_description="the token has expired""#
/// );
/// assert_eq!(res.headers()["cache-control"], "no-store");
/// assert_eq!(
///     res.body().as_ref(),
///     br#"{"error":"invalid_token","error_description":"the token has expired"}"#
/// );
/// ```
#[derive(Debug, Clone)]
pub struct Rejection {
    config: Arc<Config>,
}

impl Default for Rejection {
    fn default() -> Self {
        Self::new()
    }
}

impl Rejection {
    /// Realm `api`, JSON bodies.
    #[must_use]
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                realm: "api".to_owned(),
                problem_json: false,
                resource_metadata: None,
            }),
        }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// The `realm` named in challenges. Characters not allowed in a quoted string are
    /// replaced by `_`.
    #[must_use]
    pub fn realm(mut self, realm: &str) -> Self {
        self.config_mut().realm = sanitize(realm);
        self
    }

    /// Answer HTTP refusals with `application/problem+json` (RFC 9457): `type`, `title`,
    /// `status`, `detail`, `error`.
    #[must_use]
    pub fn problem_json(mut self) -> Self {
        self.config_mut().problem_json = true;
        self
    }

    /// Name the resource's RFC 9728 metadata in every challenge
    /// (`resource_metadata="https://…/.well-known/oauth-protected-resource"`), so a client
    /// refused with 401 can discover which authorization server to ask for a token.
    #[must_use]
    pub fn resource_metadata(mut self, metadata: &crate::ResourceMetadata) -> Self {
        self.config_mut().resource_metadata = Some(sanitize(metadata.url()));
        self
    }

    #[cfg(feature = "axum")]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }
}

impl<B> OnRejection<B> for Rejection {
    fn reject(&self, error: &AuthError, request: &Request<B>) -> Response<Bytes> {
        if is_grpc(request.version(), request.headers()) {
            grpc_response(error)
        } else {
            http_response(error, &self.config)
        }
    }
}

/// A gRPC call: HTTP/2, `content-type: application/grpc…` and `te: trailers`. A plain
/// HTTP client that only sets the content type still gets an HTTP status.
fn is_grpc(version: Version, headers: &HeaderMap) -> bool {
    version == Version::HTTP_2
        && headers
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
        && headers.get(TE).is_some_and(|v| v == "trailers")
}

/// Only `%x20-21 / %x23-5B / %x5D-7E` may appear in RFC 6750 parameter values.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect()
}

/// The RFC 6750 `error` code of `kind`, or `None` where the challenge carries none (no
/// credential at all) or none applies (a plain 403, a 503, a 500).
pub(crate) fn oauth_error(kind: AuthErrorKind) -> Option<&'static str> {
    match kind {
        AuthErrorKind::InvalidRequest => Some("invalid_request"),
        AuthErrorKind::InvalidCredential => Some("invalid_token"),
        AuthErrorKind::InsufficientScope => Some("insufficient_scope"),
        _ => None,
    }
}

/// The `error` member of the JSON body: the first challenge's own code when it has one.
fn body_error(error: &AuthError) -> &'static str {
    let kind = error.kind();
    match kind {
        AuthErrorKind::MissingCredential => "unauthorized",
        AuthErrorKind::Forbidden => "forbidden",
        AuthErrorKind::Unavailable => "temporarily_unavailable",
        AuthErrorKind::Misconfigured => "server_error",
        AuthErrorKind::RateLimited => "rate_limited",
        kind => error
            .challenges()
            .iter()
            .find_map(Challenge::error_code)
            .or_else(|| oauth_error(kind))
            .unwrap_or("server_error"),
    }
}

/// The `WWW-Authenticate` values for `error`: its challenges (the RFC 6750 `Bearer` one
/// by default), none if its kind has no challenge.
fn challenges(error: &AuthError, config: &Config) -> Vec<String> {
    match error.challenges() {
        [] => challenge(error, &Challenge::bearer(), config)
            .into_iter()
            .collect(),
        list => list
            .iter()
            .filter_map(|c| challenge(error, c, config))
            .collect(),
    }
}

/// One challenge for `error`, written as RFC 6750 writes `Bearer`, if its kind has one.
fn challenge(error: &AuthError, with: &Challenge, config: &Config) -> Option<String> {
    let kind = error.kind();
    let mut value = format!("{} realm=\"{}\"", sanitize(with.scheme()), config.realm);
    match oauth_error(kind) {
        Some(code) => {
            let _ = write!(
                value,
                ", error=\"{}\", error_description=\"{}\"",
                sanitize(with.error_code().unwrap_or(code)),
                sanitize(error.description())
            );
        }
        None if kind == AuthErrorKind::MissingCredential => {}
        None => return None,
    }
    if let Some(scope) = error.scope() {
        let _ = write!(value, ", scope=\"{}\"", sanitize(scope));
    }
    for (name, param) in with.params() {
        let _ = write!(value, ", {}=\"{}\"", sanitize(name), sanitize(param));
    }
    if let Some(url) = &config.resource_metadata {
        let _ = write!(value, ", resource_metadata=\"{url}\"");
    }
    Some(value)
}

/// What the client is told: a misconfiguration's cause stays in the log.
fn client_description(error: &AuthError) -> &str {
    if error.kind() == AuthErrorKind::Misconfigured {
        "internal server error"
    } else {
        error.description()
    }
}

/// An RFC 6750 HTTP response for `error`.
pub(crate) fn http_response(error: &AuthError, config: &Config) -> Response<Bytes> {
    let status = error.status();
    let code = body_error(error);
    let description = client_description(error);
    let (content_type, body) = if config.problem_json {
        (
            "application/problem+json",
            serde_json::json!({
                "type": "about:blank",
                "title": status.canonical_reason().unwrap_or("Error"),
                "status": status.as_u16(),
                "detail": description,
                "error": code,
            }),
        )
    } else {
        let mut body = serde_json::json!({
            "error": code,
            "error_description": description,
        });
        if let Some(scope) = error.scope() {
            body["scope"] = scope.into();
        }
        ("application/json", body)
    };
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for value in challenges(error, config) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.append(WWW_AUTHENTICATE, value);
        }
    }
    rate_limit_headers(error, headers);
    response
}

/// A 429's `Retry-After`, `RateLimit-Policy` and `RateLimit` (values that are not valid
/// header values are left out).
fn rate_limit_headers(error: &AuthError, headers: &mut HeaderMap) {
    if let Some(seconds) = error.retry_after() {
        headers.insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    let values = [
        ("ratelimit-policy", error.ratelimit_policy()),
        ("ratelimit", error.ratelimit()),
    ];
    for (name, value) in values {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(name, value);
        }
    }
}

/// gRPC's twin of `kind`.
fn grpc_code(kind: AuthErrorKind) -> u8 {
    match kind {
        AuthErrorKind::MissingCredential | AuthErrorKind::InvalidCredential => 16,
        AuthErrorKind::InvalidRequest => 3,
        AuthErrorKind::InsufficientScope | AuthErrorKind::Forbidden => 7,
        AuthErrorKind::Unavailable => 14,
        AuthErrorKind::Misconfigured => 13,
        AuthErrorKind::RateLimited => 8,
    }
}

/// A gRPC "trailers-only" response for `error`: HTTP 200, `grpc-status`, `grpc-message`.
fn grpc_response(error: &AuthError) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "grpc-status",
        HeaderValue::from(u16::from(grpc_code(error.kind()))),
    );
    if let Ok(message) = HeaderValue::from_str(&grpc_percent_encode(client_description(error))) {
        headers.insert("grpc-message", message);
    }
    rate_limit_headers(error, headers);
    response
}

/// gRPC's `grpc-message` encoding: bytes outside `%x20-7E`, and `%`, percent-encoded.
fn grpc_percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(res: &Response<Bytes>) -> serde_json::Value {
        serde_json::from_slice(res.body()).unwrap()
    }

    fn reject(error: &AuthError) -> Response<Bytes> {
        Rejection::new().reject(error, &Request::new(()))
    }

    fn grpc_call() -> Request<()> {
        Request::builder()
            .version(Version::HTTP_2)
            .header(CONTENT_TYPE, "application/grpc+proto")
            .header(TE, "trailers")
            .body(())
            .unwrap()
    }

    #[test]
    fn missing_credential_gets_a_bare_challenge() {
        let res = reject(&AuthError::missing());
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
        assert_eq!(body_json(&res)["error"], "unauthorized");
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    }

    #[test]
    fn invalid_request_is_400_with_challenge() {
        let res = reject(&AuthError::invalid_request("two Authorization headers"));
        assert_eq!(res.status(), 400);
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="invalid_request", error_description="two Authorization headers""#
        );
        assert_eq!(body_json(&res)["error"], "invalid_request");
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let res = reject(&AuthError::insufficient_scope("admin"));
        assert_eq!(res.status(), 403);
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="insufficient_scope", error_description="the credential lacks a required scope: admin", scope="admin""#
        );
        assert_eq!(body_json(&res)["scope"], "admin");
    }

    #[test]
    fn challenges_name_the_resource_metadata() {
        let metadata = crate::ResourceMetadata::builder("https://api.example.com/v1")
            .build()
            .unwrap();
        let rejection = Rejection::new().resource_metadata(&metadata);
        let url = "https://api.example.com/.well-known/oauth-protected-resource/v1";
        let res = rejection.reject(&AuthError::missing(), &Request::new(()));
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            format!(r#"Bearer realm="api", resource_metadata="{url}""#).as_str()
        );
        let res = rejection.reject(&AuthError::insufficient_scope("admin"), &Request::new(()));
        assert!(
            res.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .ends_with(&format!(r#"scope="admin", resource_metadata="{url}""#))
        );
        // No challenge, no metadata: a 503 stays bare.
        let res = rejection.reject(&AuthError::unavailable("down"), &Request::new(()));
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn forbidden_is_a_plain_403() {
        let res = reject(&AuthError::forbidden("the caller lacks role admin"));
        assert_eq!(res.status(), 403);
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
        let body = body_json(&res);
        assert_eq!(body["error"], "forbidden");
        assert_eq!(body["error_description"], "the caller lacks role admin");
    }

    #[test]
    fn unavailable_is_503_without_challenge() {
        let res = reject(&AuthError::unavailable("key store down"));
        assert_eq!(res.status(), 503);
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(body_json(&res)["error"], "temporarily_unavailable");
    }

    #[test]
    fn a_misconfiguration_tells_the_client_nothing_of_its_cause() {
        let error = AuthError::misconfigured("no AuthLayer in front of the `Claims` extractor");
        let res = reject(&error);
        assert_eq!(res.status(), 500);
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
        let body = body_json(&res);
        assert_eq!(body["error"], "server_error");
        assert_eq!(body["error_description"], "internal server error");
        let res = Rejection::new().reject(&error, &grpc_call());
        assert_eq!(res.headers()["grpc-message"], "internal server error");
    }

    #[test]
    fn problem_json_format() {
        let res = Rejection::new()
            .problem_json()
            .reject(&AuthError::invalid_credential("bad"), &Request::new(()));
        assert_eq!(res.headers()[CONTENT_TYPE], "application/problem+json");
        let body = body_json(&res);
        assert_eq!(body["status"], 401);
        assert_eq!(body["title"], "Unauthorized");
        assert_eq!(body["detail"], "bad");
        assert_eq!(body["error"], "invalid_token");
    }

    #[test]
    fn quotes_and_controls_cannot_break_the_challenge() {
        let res = Rejection::new().realm("my \"realm\"").reject(
            &AuthError::invalid_credential("a \"quoted\" \\ thing\r\nX-Evil: 1"),
            &Request::new(()),
        );
        let value = res.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert_eq!(
            value,
            r#"Bearer realm="my _realm_", error="invalid_token", error_description="a _quoted_ _ thing__X-Evil: 1""#
        );
    }

    #[test]
    fn grpc_form_only_for_real_grpc_calls() {
        let rejection = Rejection::new();
        for (err, code) in [
            (AuthError::missing(), "16"),
            (AuthError::invalid_credential("bad"), "16"),
            (AuthError::insufficient_scope("a"), "7"),
            (AuthError::forbidden("no"), "7"),
            (AuthError::invalid_request("two"), "3"),
            (AuthError::unavailable("down"), "14"),
            (AuthError::rate_limited(None, "", ""), "8"),
        ] {
            let res = rejection.reject(&err, &grpc_call());
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["grpc-status"], code);
            assert_eq!(res.headers()[CONTENT_TYPE], "application/grpc");
            assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
            assert!(res.body().is_empty());
        }
        // The content type alone (HTTP/1.1, or no `te: trailers`) gets an HTTP status.
        let (mut parts, ()) = grpc_call().into_parts();
        parts.version = Version::HTTP_11;
        let http11 = Request::from_parts(parts, ());
        assert_eq!(
            rejection.reject(&AuthError::missing(), &http11).status(),
            401
        );
        let (mut parts, ()) = grpc_call().into_parts();
        parts.headers.remove(TE);
        let no_te = Request::from_parts(parts, ());
        assert_eq!(
            rejection.reject(&AuthError::missing(), &no_te).status(),
            401
        );
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        let res = grpc_response(&AuthError::invalid_credential("100% caf\u{e9}"));
        assert_eq!(res.headers()["grpc-message"], "100%25 caf%C3%A9");
    }

    #[test]
    fn closures_are_rejections() {
        let custom = |err: &AuthError, req: &Request<()>| {
            let mut res = Response::new(Bytes::from(req.uri().path().to_owned()));
            *res.status_mut() = err.status();
            res
        };
        let request = Request::builder().uri("/here").body(()).unwrap();
        let res = custom.reject(&AuthError::missing(), &request);
        assert_eq!(res.status(), 401);
        assert_eq!(res.body().as_ref(), b"/here");
    }

    fn www_authenticate(res: &Response<Bytes>) -> Vec<&str> {
        res.headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn an_error_with_challenges_is_answered_with_each_of_them() {
        let dpop = || Challenge::new("DPoP").param("algs", "ES256 EdDSA");
        let missing = AuthError::missing().with_challenges([Challenge::bearer(), dpop()]);
        let res = reject(&missing);
        assert_eq!(res.status(), 401);
        assert_eq!(
            www_authenticate(&res),
            [
                r#"Bearer realm="api""#,
                r#"DPoP realm="api", algs="ES256 EdDSA""#
            ]
        );
        assert_eq!(body_json(&res)["error"], "unauthorized");

        let proof = AuthError::invalid_credential("the DPoP proof has expired")
            .with_challenges([dpop().error("invalid_dpop_proof")]);
        let res = reject(&proof);
        assert_eq!(res.status(), 401);
        assert_eq!(
            www_authenticate(&res),
            [
                r#"DPoP realm="api", error="invalid_dpop_proof", error_description="the DPoP proof has expired", algs="ES256 EdDSA""#
            ]
        );
        let body = body_json(&res);
        assert_eq!(body["error"], "invalid_dpop_proof");
        assert_eq!(body["error_description"], "the DPoP proof has expired");

        // Without its own code, the kind's RFC 6750 code; quotes in a value cannot escape.
        let token = AuthError::invalid_credential("bad")
            .with_challenges([Challenge::new("DPoP").param("algs", "a\"b")]);
        assert_eq!(
            www_authenticate(&reject(&token)),
            [r#"DPoP realm="api", error="invalid_token", error_description="bad", algs="a_b""#]
        );
        assert_eq!(body_json(&reject(&token))["error"], "invalid_token");

        // A kind without a challenge stays without one, whatever the error asks for.
        let down = AuthError::unavailable("down").with_challenges([dpop()]);
        assert!(reject(&down).headers().get(WWW_AUTHENTICATE).is_none());
    }

    #[test]
    fn rate_limited_is_429_with_retry_after_and_ratelimit_headers() {
        let err = AuthError::rate_limited(Some(3), r#""burst";q=10;w=1"#, r#""burst";r=0;t=3"#);
        let res = reject(&err);
        assert_eq!(res.status(), 429);
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(res.headers()[RETRY_AFTER], "3");
        assert_eq!(res.headers()["ratelimit-policy"], r#""burst";q=10;w=1"#);
        assert_eq!(res.headers()["ratelimit"], r#""burst";r=0;t=3"#);
        assert_eq!(
            res.body().as_ref(),
            br#"{"error":"rate_limited","error_description":"too many requests"}"#
        );
        let res = Rejection::new().reject(&err, &grpc_call());
        assert_eq!(res.headers()["grpc-status"], "8");
        assert_eq!(res.headers()[RETRY_AFTER], "3");
        // A value that cannot be a header is left out, never sent broken.
        let res = reject(&AuthError::rate_limited(Some(1), "a\r\nb", ""));
        assert_eq!(res.headers()[RETRY_AFTER], "1");
        assert!(res.headers().get("ratelimit-policy").is_none());
        assert!(res.headers().get("ratelimit").is_none());
        let res = reject(&AuthError::rate_limited(None, "", ""));
        assert!(res.headers().get(RETRY_AFTER).is_none());
    }
}
