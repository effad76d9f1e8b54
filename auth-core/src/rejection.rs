//! Turning an [`AuthError`] into a response: RFC 6750 for HTTP, status trailers for gRPC.
//!
//! [`Rejection`] is the default. For HTTP it answers with the error's status, an RFC 6750
//! `WWW-Authenticate: Bearer` challenge on 400/401/403, and a JSON body
//! `{"error", "error_description"}` (or `application/problem+json`). For requests whose
//! `content-type` is `application/grpc…` it answers as gRPC does: HTTP 200 with
//! `grpc-status` 16 (`UNAUTHENTICATED`), 7 (`PERMISSION_DENIED`), 14 (`UNAVAILABLE`),
//! 3 (`INVALID_ARGUMENT`) or 13 (`INTERNAL`) and a percent-encoded `grpc-message`.
//!
//! Any `Fn(&AuthError, &HeaderMap) -> Response<Bytes>` is an [`OnRejection`] too, for a
//! custom body.
//!
//! ```
//! use auth_core::{AuthError, OnRejection, Rejection};
//! use http::HeaderMap;
//!
//! let rejection = Rejection::new().realm("example");
//! let res = rejection.reject(&AuthError::invalid_credential("the token has expired"), &HeaderMap::new());
//! assert_eq!(res.status(), 401);
//! assert_eq!(
//!     res.headers()["www-authenticate"],
//!     r#"Bearer realm="example", error="invalid_token", error_description="the token has expired""#
//! );
//! assert_eq!(
//!     res.body().as_ref(),
//!     br#"{"error":"invalid_token","error_description":"the token has expired"}"#
//! );
//! ```

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::error::AuthError;

/// Builds the response for a refused request.
///
/// `headers` are the request's headers, so a rejection can answer in the client's protocol
/// (gRPC or HTTP) or language. The body is plain bytes; the layer wraps it in its body type.
pub trait OnRejection {
    /// The response for `error`.
    fn reject(&self, error: &AuthError, headers: &HeaderMap) -> Response<Bytes>;
}

impl<F> OnRejection for F
where
    F: Fn(&AuthError, &HeaderMap) -> Response<Bytes>,
{
    fn reject(&self, error: &AuthError, headers: &HeaderMap) -> Response<Bytes> {
        self(error, headers)
    }
}

/// The body format of HTTP rejections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BodyFormat {
    /// `application/json`: `{"error", "error_description"}` (plus `scope` on a 403).
    #[default]
    Json,
    /// `application/problem+json` (RFC 9457): `type`, `title`, `status`, `detail`, `error`.
    Problem,
}

/// When to answer in gRPC's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum GrpcMode {
    /// gRPC for requests with `content-type: application/grpc…`, HTTP otherwise.
    #[default]
    Auto,
    /// Always gRPC (a tonic-only server).
    Always,
    /// Never gRPC.
    Never,
}

#[derive(Debug, Clone)]
struct Config {
    realm: String,
    format: BodyFormat,
    grpc: GrpcMode,
}

/// The standard rejection: RFC 6750 for HTTP, status trailers for gRPC. See the
/// [module docs](self).
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
    /// Realm `api`, JSON bodies, gRPC chosen by content type.
    #[must_use]
    pub fn new() -> Self {
        Self {
            config: Arc::new(Config {
                realm: "api".to_owned(),
                format: BodyFormat::Json,
                grpc: GrpcMode::Auto,
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

    /// Answer HTTP rejections with `application/problem+json`.
    #[must_use]
    pub fn problem_json(mut self) -> Self {
        self.config_mut().format = BodyFormat::Problem;
        self
    }

    /// When to answer in gRPC's form.
    #[must_use]
    pub fn grpc(mut self, mode: GrpcMode) -> Self {
        self.config_mut().grpc = mode;
        self
    }

    fn wants_grpc(&self, headers: &HeaderMap) -> bool {
        match self.config.grpc {
            GrpcMode::Always => true,
            GrpcMode::Never => false,
            GrpcMode::Auto => is_grpc(headers),
        }
    }
}

impl OnRejection for Rejection {
    fn reject(&self, error: &AuthError, headers: &HeaderMap) -> Response<Bytes> {
        if self.wants_grpc(headers) {
            grpc_response(error)
        } else {
            http_response(error, &self.config.realm, self.config.format)
        }
    }
}

/// Whether the request is a gRPC call (`content-type: application/grpc…`).
#[must_use]
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
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

/// The RFC 6750 `WWW-Authenticate` value for `error` in `realm`.
#[must_use]
pub fn challenge(error: &AuthError, realm: &str) -> String {
    let mut value = format!("Bearer realm=\"{}\"", sanitize(realm));
    if let Some(code) = error.kind().oauth_error() {
        let _ = write!(
            value,
            ", error=\"{code}\", error_description=\"{}\"",
            sanitize(error.description())
        );
    }
    if let Some(scope) = error.scope() {
        let _ = write!(value, ", scope=\"{}\"", sanitize(scope));
    }
    value
}

/// An RFC 6750 HTTP response for `error`.
#[must_use]
pub fn http_response(error: &AuthError, realm: &str, format: BodyFormat) -> Response<Bytes> {
    let status = error.status();
    let code = error.kind().oauth_error().unwrap_or("unauthorized");
    let (content_type, body) = match format {
        BodyFormat::Json => {
            let mut body = serde_json::json!({
                "error": code,
                "error_description": error.description(),
            });
            if let Some(scope) = error.scope() {
                body["scope"] = scope.into();
            }
            ("application/json", body)
        }
        BodyFormat::Problem => (
            "application/problem+json",
            serde_json::json!({
                "type": "about:blank",
                "title": status.canonical_reason().unwrap_or("Error"),
                "status": status.as_u16(),
                "detail": error.description(),
                "error": code,
            }),
        ),
    };
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if error.kind().has_challenge()
        && let Ok(value) = HeaderValue::from_str(&challenge(error, realm))
    {
        headers.insert(WWW_AUTHENTICATE, value);
    }
    response
}

/// A gRPC "trailers-only" response for `error`: HTTP 200, `grpc-status`, `grpc-message`.
#[must_use]
pub fn grpc_response(error: &AuthError) -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert(
        "grpc-status",
        HeaderValue::from(u16::from(error.kind().grpc_code())),
    );
    if let Ok(message) = HeaderValue::from_str(&grpc_percent_encode(error.description())) {
        headers.insert("grpc-message", message);
    }
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

    #[test]
    fn missing_credential_gets_a_bare_challenge() {
        let res = Rejection::new().reject(&AuthError::missing(), &HeaderMap::new());
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer realm="api""#);
        assert_eq!(body_json(&res)["error"], "unauthorized");
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
    }

    #[test]
    fn invalid_request_is_400_with_challenge() {
        let res = Rejection::new().reject(
            &AuthError::invalid_request("two Authorization headers"),
            &HeaderMap::new(),
        );
        assert_eq!(res.status(), 400);
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="invalid_request", error_description="two Authorization headers""#
        );
        assert_eq!(body_json(&res)["error"], "invalid_request");
    }

    #[test]
    fn insufficient_scope_names_the_scope() {
        let res =
            Rejection::new().reject(&AuthError::insufficient_scope("admin"), &HeaderMap::new());
        assert_eq!(res.status(), 403);
        assert_eq!(
            res.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="api", error="insufficient_scope", error_description="the credential lacks a required scope", scope="admin""#
        );
        assert_eq!(body_json(&res)["scope"], "admin");
    }

    #[test]
    fn unavailable_is_503_without_challenge() {
        let res =
            Rejection::new().reject(&AuthError::unavailable("key store down"), &HeaderMap::new());
        assert_eq!(res.status(), 503);
        assert!(res.headers().get(WWW_AUTHENTICATE).is_none());
        assert_eq!(body_json(&res)["error"], "temporarily_unavailable");
    }

    #[test]
    fn problem_json_format() {
        let res = Rejection::new()
            .problem_json()
            .reject(&AuthError::invalid_credential("bad"), &HeaderMap::new());
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
            &HeaderMap::new(),
        );
        let value = res.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        assert_eq!(
            value,
            r#"Bearer realm="my _realm_", error="invalid_token", error_description="a _quoted_ _ thing__X-Evil: 1""#
        );
    }

    #[test]
    fn grpc_is_chosen_by_content_type() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/grpc+proto"),
        );
        let rejection = Rejection::new();
        for (err, code) in [
            (AuthError::missing(), "16"),
            (AuthError::invalid_credential("bad"), "16"),
            (AuthError::insufficient_scope("a"), "7"),
            (AuthError::unavailable("down"), "14"),
        ] {
            let res = rejection.reject(&err, &headers);
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers()["grpc-status"], code);
            assert_eq!(res.headers()[CONTENT_TYPE], "application/grpc");
            assert!(res.body().is_empty());
        }
        let res = rejection
            .grpc(GrpcMode::Never)
            .reject(&AuthError::missing(), &headers);
        assert_eq!(res.status(), 401);
        let res = Rejection::new()
            .grpc(GrpcMode::Always)
            .reject(&AuthError::missing(), &HeaderMap::new());
        assert_eq!(res.headers()["grpc-status"], "16");
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        let res = grpc_response(&AuthError::invalid_credential("100% caf\u{e9}"));
        assert_eq!(res.headers()["grpc-message"], "100%25 caf%C3%A9");
    }

    #[test]
    fn closures_are_rejections() {
        let custom = |err: &AuthError, _: &HeaderMap| {
            let mut res = Response::new(Bytes::from_static(b"nope"));
            *res.status_mut() = err.status();
            res
        };
        let res = custom.reject(&AuthError::missing(), &HeaderMap::new());
        assert_eq!(res.status(), 401);
        assert_eq!(res.body().as_ref(), b"nope");
    }
}
