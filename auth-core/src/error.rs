//! Authentication errors and configuration errors.
//!
//! [`AuthError`] is what an [`Authenticate`](crate::Authenticate) implementation or an
//! authorization check returns when a request may not pass. It is opaque and cheap to clone:
//! the engine turns it into a response through an [`OnRejection`](crate::OnRejection) and
//! also inserts a clone into that response's extensions, so outer layers and logs can read
//! the reason without parsing the body.
//!
//! Its [`description`](AuthError::description) is sent to the client, so it must never
//! contain the credential; its [`reason`](AuthError::reason) is a short, stable code for logs
//! and metrics (`"expired"`, `"revoked"`, …) that may be more precise than what the client is
//! told.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// What went wrong, in the terms the response is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// The request carries no credential this authenticator understands.
    ///
    /// 401 with a bare `WWW-Authenticate` challenge. Combinators fall through to the next
    /// authenticator only on this kind, and an optional layer lets the request pass anonymously.
    MissingCredential,
    /// The request is malformed: two `Authorization` headers, a credential sent two ways.
    ///
    /// 400 `invalid_request`.
    InvalidRequest,
    /// A credential was presented and is not acceptable: malformed, unknown, expired,
    /// revoked, badly signed.
    ///
    /// 401 `invalid_token`.
    InvalidCredential,
    /// The identity is known but lacks a required scope.
    ///
    /// 403 `insufficient_scope` with a `scope="…"` parameter.
    InsufficientScope,
    /// The identity is known but may not do this (a role or a predicate failed).
    ///
    /// A plain 403, without an RFC 6750 challenge (the token is fine; the caller is not
    /// allowed).
    Forbidden,
    /// A dependency (key store, JWKS endpoint, revocation store) could not be reached, so
    /// the credential can be neither accepted nor refused.
    ///
    /// 503.
    Unavailable,
    /// The server is set up wrongly, e.g. an extractor or authorization layer runs with no
    /// authentication layer in front of it.
    ///
    /// 500 `server_error`; the description goes to the log (`ERROR`), never to the client.
    Misconfigured,
    /// The caller sent too many requests or used up its quota.
    ///
    /// 429 `rate_limited` (gRPC `RESOURCE_EXHAUSTED`, 8), without a `WWW-Authenticate`
    /// challenge; `Retry-After`, `RateLimit-Policy` and `RateLimit` headers when the error
    /// carries them (see [`AuthError::rate_limited`]).
    RateLimited,
}

impl AuthErrorKind {
    /// The HTTP status this kind is answered with.
    #[must_use]
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Self::MissingCredential | Self::InvalidCredential => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        }
    }
}

/// Why a request was refused: an opaque, cloneable error.
///
/// ```
/// use auth_core::{AuthError, AuthErrorKind};
///
/// let err = AuthError::invalid_credential("the token has expired").with_reason("expired");
/// assert_eq!(err.kind(), AuthErrorKind::InvalidCredential);
/// assert_eq!(err.status(), http::StatusCode::UNAUTHORIZED);
/// assert_eq!(err.reason(), "expired");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    description: Cow<'static, str>,
    reason: &'static str,
    scope: Option<Arc<str>>,
    rate_limit: Option<Arc<RateLimitHeaders>>,
    challenges: Option<Arc<[Challenge]>>,
    headers: Option<Arc<http::HeaderMap>>,
}

/// One `WWW-Authenticate` challenge (RFC 9110 §11.6.1) a refusal is answered with, for an
/// error carrying [`AuthError::with_challenges`].
///
/// [`Rejection`](crate::Rejection) writes each one as RFC 6750 writes the `Bearer` challenge,
/// under the challenge's scheme: `realm`, then `error` and `error_description` when the
/// error's kind has an error code (the challenge's own [`error`](Challenge::error) code
/// replacing the kind's), then `scope`, the challenge's [`param`](Challenge::param)s, and
/// `resource_metadata`. Values are sanitised as RFC 6750 requires.
///
/// ```
/// use auth_core::Challenge;
///
/// // RFC 9449 §7.1: a refused DPoP proof.
/// let dpop = Challenge::new("DPoP").error("invalid_dpop_proof").param("algs", "ES256 EdDSA");
/// assert_eq!(dpop.scheme(), "DPoP");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: Cow<'static, str>,
    error: Option<&'static str>,
    params: Vec<(&'static str, String)>,
}

impl Challenge {
    /// A challenge of `scheme` (a token such as `DPoP`), with no parameter of its own.
    pub fn new(scheme: impl Into<Cow<'static, str>>) -> Self {
        Self {
            scheme: scheme.into(),
            error: None,
            params: Vec::new(),
        }
    }

    /// The RFC 6750 `Bearer` challenge, as written for an error without challenges.
    #[must_use]
    pub fn bearer() -> Self {
        Self::new("Bearer")
    }

    /// Name `code` as the `error` (and the JSON body's `error`) instead of the kind's
    /// RFC 6750 code, e.g. RFC 9449's `invalid_dpop_proof`. Written only when the error's
    /// kind has a code (400, 401 with a credential, `insufficient_scope` 403).
    #[must_use]
    pub fn error(mut self, code: &'static str) -> Self {
        self.error = Some(code);
        self
    }

    /// Add the parameter `name="value"` (e.g. RFC 9449's `algs`).
    #[must_use]
    pub fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.params.push((name, value.into()));
        self
    }

    /// The authentication scheme.
    #[must_use]
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The error code replacing the kind's, if any.
    #[must_use]
    pub fn error_code(&self) -> Option<&'static str> {
        self.error
    }

    /// The parameters added with [`param`](Challenge::param), in order.
    #[must_use]
    pub fn params(&self) -> &[(&'static str, String)] {
        &self.params
    }
}

/// The header values a 429 carries.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RateLimitHeaders {
    retry_after: Option<u64>,
    policy: String,
    state: String,
}

impl AuthError {
    /// An error of `kind` with a client-facing `description`.
    ///
    /// The description is sent to the client: never put the credential in it.
    pub fn new(kind: AuthErrorKind, description: impl Into<Cow<'static, str>>) -> Self {
        let reason = match kind {
            AuthErrorKind::MissingCredential => "missing",
            AuthErrorKind::InvalidRequest => "invalid_request",
            AuthErrorKind::InvalidCredential => "invalid",
            AuthErrorKind::InsufficientScope => "insufficient_scope",
            AuthErrorKind::Forbidden => "forbidden",
            AuthErrorKind::Unavailable => "unavailable",
            AuthErrorKind::Misconfigured => "misconfigured",
            AuthErrorKind::RateLimited => "rate_limited",
        };
        Self {
            kind,
            description: description.into(),
            reason,
            scope: None,
            rate_limit: None,
            challenges: None,
            headers: None,
        }
    }

    /// No credential was found: 401 with a bare challenge.
    #[must_use]
    pub fn missing() -> Self {
        Self::new(
            AuthErrorKind::MissingCredential,
            "authentication is required",
        )
    }

    /// A malformed request: 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::InvalidRequest, description)
    }

    /// A bad credential: 401 `invalid_token`.
    pub fn invalid_credential(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::InvalidCredential, description)
    }

    /// Scopes missing: 403 `insufficient_scope`, with `scope` (the space-separated scopes
    /// the request needs) named in the challenge and the description.
    pub fn insufficient_scope(scope: impl Into<Arc<str>>) -> Self {
        let scope = scope.into();
        let mut err = Self::new(
            AuthErrorKind::InsufficientScope,
            format!("the credential lacks a required scope: {scope}"),
        );
        err.scope = Some(scope);
        err
    }

    /// Not allowed for another reason (roles, a predicate): a plain 403.
    pub fn forbidden(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::Forbidden, description)
    }

    /// A dependency is unreachable: 503.
    pub fn unavailable(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::Unavailable, description)
    }

    /// The server is set up wrongly: 500. `description` is logged, not sent to the client.
    pub fn misconfigured(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(AuthErrorKind::Misconfigured, description)
    }

    /// Too many requests: 429 `rate_limited`, answered with `Retry-After: retry_after`
    /// (seconds; `None` when no wait will help, e.g. a quota that never refills) and, when not empty, the `RateLimit-Policy: policy` and `RateLimit: state`
    /// headers of draft-ietf-httpapi-ratelimit-headers (structured-field lists, e.g.
    /// `"burst";q=100;w=1` and `"burst";r=0;t=1`). A value that is not a valid header value
    /// is left out of the response.
    ///
    /// ```
    /// use auth_core::{AuthError, AuthErrorKind};
    ///
    /// let err = AuthError::rate_limited(Some(2), r#""burst";q=100;w=1"#, r#""burst";r=0;t=2"#);
    /// assert_eq!(err.kind(), AuthErrorKind::RateLimited);
    /// assert_eq!(err.status(), http::StatusCode::TOO_MANY_REQUESTS);
    /// assert_eq!(err.retry_after(), Some(2));
    /// assert_eq!(err.ratelimit(), Some(r#""burst";r=0;t=2"#));
    /// ```
    pub fn rate_limited(
        retry_after: Option<u64>,
        policy: impl Into<String>,
        state: impl Into<String>,
    ) -> Self {
        let mut err = Self::new(AuthErrorKind::RateLimited, "too many requests");
        err.rate_limit = Some(Arc::new(RateLimitHeaders {
            retry_after,
            policy: policy.into(),
            state: state.into(),
        }));
        err
    }

    /// Sets the reason code logged for this error (`"expired"`, `"revoked"`, `"not_found"`…).
    ///
    /// The reason is for logs and metrics, not for the client, so several reasons can share
    /// one response (an unknown and a revoked API key answer identically).
    #[must_use]
    pub fn with_reason(mut self, reason: &'static str) -> Self {
        self.reason = reason;
        self
    }

    /// Answer with these `WWW-Authenticate` challenges, in order, instead of the one RFC 6750
    /// `Bearer` challenge (include [`Challenge::bearer`] to keep it beside another scheme's).
    /// An empty list keeps the `Bearer` challenge. Kinds answered without a challenge (503,
    /// 500, a plain 403, 429) stay without one.
    ///
    /// ```
    /// use auth_core::{AuthError, Challenge, OnRejection, Rejection};
    /// use http::Request;
    ///
    /// let err = AuthError::missing()
    ///     .with_challenges([Challenge::bearer(), Challenge::new("DPoP").param("algs", "ES256")]);
    /// let res = Rejection::new().reject(&err, &Request::new(()));
    /// let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
    /// assert_eq!(challenges, [r#"Bearer realm="api""#, r#"DPoP realm="api", algs="ES256""#]);
    /// ```
    #[must_use]
    pub fn with_challenges(mut self, challenges: impl IntoIterator<Item = Challenge>) -> Self {
        let challenges: Arc<[Challenge]> = challenges.into_iter().collect();
        self.challenges = (!challenges.is_empty()).then_some(challenges);
        self
    }

    /// Answer with the header `name: value` too, appended after the ones the rejection
    /// writes (e.g. RFC 9449's `DPoP-Nonce` beside a `use_dpop_nonce` challenge). The
    /// [`AuthLayer`](crate::AuthLayer) adds it to the refusal whichever
    /// [`OnRejection`](crate::OnRejection) built it.
    ///
    /// ```
    /// use auth_core::{AuthError, AuthLayer, Challenge, Principal};
    /// use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
    /// use tower::{service_fn, ServiceBuilder, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let auth = |_: &Request<String>| -> Result<Principal, AuthError> {
    ///     Err(AuthError::invalid_credential("the proof must carry the server's nonce")
    ///         .with_challenges([Challenge::new("DPoP").error("use_dpop_nonce")])
    ///         .with_header(HeaderName::from_static("dpop-nonce"), HeaderValue::from_static("n-1")))
    /// };
    /// let svc = ServiceBuilder::new().layer(AuthLayer::new(auth)).service(service_fn(
    ///     |_: Request<String>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) },
    /// ));
    /// let res = svc.oneshot(Request::new(String::new())).await.unwrap();
    /// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    /// assert_eq!(res.headers()["dpop-nonce"], "n-1");
    /// # }
    /// ```
    #[must_use]
    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        Arc::make_mut(self.headers.get_or_insert_with(Default::default)).append(name, value);
        self
    }

    /// The headers set by [`with_header`](AuthError::with_header), if any.
    #[must_use]
    pub fn headers(&self) -> Option<&http::HeaderMap> {
        self.headers.as_deref()
    }

    /// The challenges set by [`with_challenges`](AuthError::with_challenges); empty for the
    /// default `Bearer` one.
    #[must_use]
    pub fn challenges(&self) -> &[Challenge] {
        self.challenges.as_deref().unwrap_or_default()
    }

    /// What went wrong.
    #[must_use]
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// The client-facing description.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The reason code for logs and metrics.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The scopes a 403 `insufficient_scope` asks for, space-separated.
    #[must_use]
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The seconds a 429 asks the client to wait (`Retry-After`).
    #[must_use]
    pub fn retry_after(&self) -> Option<u64> {
        self.rate_limit.as_ref().and_then(|r| r.retry_after)
    }

    /// The `RateLimit-Policy` value a 429 carries, if any.
    #[must_use]
    pub fn ratelimit_policy(&self) -> Option<&str> {
        self.rate_limit
            .as_deref()
            .map(|r| r.policy.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The `RateLimit` value a 429 carries, if any.
    #[must_use]
    pub fn ratelimit(&self) -> Option<&str> {
        self.rate_limit
            .as_deref()
            .map(|r| r.state.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The HTTP status this error is answered with.
    #[must_use]
    pub fn status(&self) -> http::StatusCode {
        self.kind.status()
    }

    /// Whether this is "no credential", the one outcome combinators fall through on.
    #[must_use]
    pub fn is_missing(&self) -> bool {
        self.kind == AuthErrorKind::MissingCredential
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthError")
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .field("description", &self.description)
            .field("scope", &self.scope)
            .field("rate_limit", &self.rate_limit)
            .field("challenges", &self.challenges())
            .field("headers", &self.headers)
            .finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description, self.reason)
    }
}

impl std::error::Error for AuthError {}

/// What part of a configuration is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A value is out of its allowed range or unparseable.
    InvalidValue,
    /// A required value was not given.
    Missing,
    /// A key or secret is too weak for its algorithm.
    WeakKey,
    /// The configuration asks for something this build cannot do (e.g. no crypto backend).
    Unsupported,
    /// A store, key set or provider could not be set up.
    Setup,
}

/// A builder refused its configuration. Builders return this instead of panicking.
///
/// ```
/// use auth_core::{ConfigError, ConfigErrorKind};
///
/// let err = ConfigError::new(ConfigErrorKind::InvalidValue, "leeway", "must be at most 300 s");
/// assert_eq!(err.to_string(), "invalid configuration of `leeway`: must be at most 300 s");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    kind: ConfigErrorKind,
    field: &'static str,
    message: Cow<'static, str>,
}

impl ConfigError {
    /// A configuration error about `field`.
    pub fn new(
        kind: ConfigErrorKind,
        field: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            kind,
            field,
            message: message.into(),
        }
    }

    /// What is wrong.
    #[must_use]
    pub fn kind(&self) -> ConfigErrorKind {
        self.kind
    }

    /// The setting at fault.
    #[must_use]
    pub fn field(&self) -> &'static str {
        self.field
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid configuration of `{}`: {}",
            self.field, self.message
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn kinds_map_to_statuses() {
        let cases = [
            (AuthError::missing(), StatusCode::UNAUTHORIZED),
            (AuthError::invalid_request("x"), StatusCode::BAD_REQUEST),
            (AuthError::invalid_credential("x"), StatusCode::UNAUTHORIZED),
            (AuthError::insufficient_scope("a"), StatusCode::FORBIDDEN),
            (AuthError::forbidden("x"), StatusCode::FORBIDDEN),
            (AuthError::unavailable("x"), StatusCode::SERVICE_UNAVAILABLE),
            (
                AuthError::misconfigured("x"),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ];
        for (err, status) in cases {
            assert_eq!(err.status(), status, "{err:?}");
        }
    }

    #[test]
    fn reason_defaults_per_kind_and_can_be_refined() {
        assert_eq!(AuthError::missing().reason(), "missing");
        let err = AuthError::invalid_credential("bad").with_reason("revoked");
        assert_eq!(err.reason(), "revoked");
        assert_eq!(err.description(), "bad");
        assert!(!err.is_missing());
        assert!(AuthError::missing().is_missing());
    }

    #[test]
    fn scope_is_kept_and_named() {
        let err = AuthError::insufficient_scope("read write");
        assert_eq!(err.scope(), Some("read write"));
        assert_eq!(
            err.description(),
            "the credential lacks a required scope: read write"
        );
    }

    #[test]
    fn rate_limited_is_429_and_keeps_its_header_values() {
        let err = AuthError::rate_limited(Some(7), r#""day";q=10;w=86400"#, r#""day";r=0;t=7"#);
        assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(err.reason(), "rate_limited");
        assert_eq!(err.retry_after(), Some(7));
        assert_eq!(err.ratelimit_policy(), Some(r#""day";q=10;w=86400"#));
        assert_eq!(err.ratelimit(), Some(r#""day";r=0;t=7"#));
        let bare = AuthError::rate_limited(None, "", "");
        assert_eq!((bare.ratelimit_policy(), bare.ratelimit()), (None, None));
        assert_eq!(bare.retry_after(), None);
        assert_eq!(bare.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(AuthError::forbidden("x").retry_after(), None);
    }

    #[test]
    fn challenges_are_kept_in_order_and_an_empty_list_is_none() {
        let err = AuthError::invalid_credential("bad").with_challenges([
            Challenge::new("DPoP")
                .error("invalid_dpop_proof")
                .param("algs", "ES256"),
            Challenge::bearer(),
        ]);
        let schemes: Vec<&str> = err.challenges().iter().map(Challenge::scheme).collect();
        assert_eq!(schemes, ["DPoP", "Bearer"]);
        assert_eq!(err.challenges()[0].error_code(), Some("invalid_dpop_proof"));
        assert_eq!(err.challenges()[0].params(), [("algs", "ES256".to_owned())]);
        assert_eq!(err.challenges()[1].error_code(), None);
        assert!(
            AuthError::missing()
                .with_challenges([])
                .challenges()
                .is_empty()
        );
    }
}
