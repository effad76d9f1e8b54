//! What goes into issued tokens, what comes out, and the errors.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{AuthError, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Claims a [`Grant`] may not set: the issuer sets them.
const RESERVED: &[&str] = &[
    "iss",
    "aud",
    "sub",
    "iat",
    "nbf",
    "exp",
    "jti",
    "scope",
    "fid",
    "ext",
    "typ",
    "auth_time",
];

/// Who a token pair is for: the subject, its scopes and extra claims.
///
/// ```
/// use tower_jwt::issuer::Grant;
///
/// let grant = Grant::new("alice")
///     .scope(["orders:read", "orders:write"])
///     .claim("tenant", "acme")
///     .unwrap();
/// assert_eq!(grant.subject(), "alice");
/// assert!(Grant::new("alice").claim("exp", 0).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Grant {
    pub(super) subject: String,
    pub(super) scope: Vec<String>,
    pub(super) extra: Map<String, Value>,
}

impl Grant {
    /// A grant for `subject` (the `sub` claim), with no scope.
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            scope: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Adds scopes (the `scope` claim, space-separated).
    pub fn scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scope.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Adds an extra claim to the access token (and carries it through refreshes).
    ///
    /// # Errors
    ///
    /// [`IssueError::ReservedClaim`] for a claim the issuer sets itself (`iss`, `aud`, `sub`,
    /// `iat`, `nbf`, `exp`, `jti`, `scope`, ...).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Result<Self, IssueError> {
        if RESERVED.contains(&name) {
            return Err(IssueError::ReservedClaim(name.to_owned()));
        }
        self.extra.insert(name.to_owned(), value.into());
        Ok(self)
    }

    /// The subject.
    #[must_use]
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The scopes.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scope
    }

    /// The space-separated `scope` claim, `None` when there is no scope.
    pub(super) fn scope_claim(&self) -> Option<String> {
        (!self.scope.is_empty()).then(|| self.scope.join(" "))
    }
}

/// The claims of an access token (RFC 9068).
#[derive(Debug, Serialize)]
pub(super) struct AccessClaims<'a> {
    pub(super) iss: &'a str,
    pub(super) aud: &'a str,
    pub(super) sub: &'a str,
    pub(super) iat: u64,
    pub(super) nbf: u64,
    pub(super) exp: u64,
    pub(super) jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) scope: Option<String>,
    #[serde(flatten)]
    pub(super) extra: &'a Map<String, Value>,
}

/// The claims of a refresh token; `fid` is the rotation family.
#[derive(Debug, Serialize)]
pub(super) struct RefreshClaims {
    pub(super) iss: String,
    pub(super) aud: String,
    pub(super) sub: String,
    pub(super) iat: u64,
    pub(super) nbf: u64,
    pub(super) exp: u64,
    pub(super) jti: String,
    pub(super) fid: String,
    /// When the login that started the family happened (OpenID Connect's `auth_time`).
    pub(super) auth_time: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) scope: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub(super) ext: Map<String, Value>,
}

/// What a verified refresh token carries beside its registered claims.
#[derive(Debug, Deserialize)]
pub(super) struct RefreshRef {
    pub(super) fid: String,
    pub(super) auth_time: u64,
    #[serde(default)]
    pub(super) ext: Map<String, Value>,
}

pub(super) fn unix(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

pub(super) fn from_unix(seconds: u64) -> SystemTime {
    crate::time::add(UNIX_EPOCH, Duration::from_secs(seconds))
}

/// A signed token. Its `Debug` never shows the token.
#[derive(Clone)]
pub struct IssuedToken {
    pub(super) token: String,
    pub(super) jti: String,
    pub(super) expires_at: SystemTime,
}

impl IssuedToken {
    /// The compact JWS.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.token
    }

    /// The compact JWS, owned.
    #[must_use]
    pub fn into_string(self) -> String {
        self.token
    }

    /// The `jti`.
    #[must_use]
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// The `exp`.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Seconds until `exp` (the OAuth `expires_in`).
    #[must_use]
    pub fn expires_in(&self) -> u64 {
        self.expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default()
            .as_secs()
    }
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"[redacted]")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// The access token (`typ` `at+jwt`).
    pub access: IssuedToken,
    /// The refresh token (`typ` `rt+jwt`, the refresh audience).
    pub refresh: IssuedToken,
    /// The refresh family id (`fid`), shared by every refresh token of one login.
    pub family: String,
}

/// A token could not be issued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// An extra claim would override one the issuer sets.
    #[error("the claim `{0}` is set by the issuer")]
    ReservedClaim(String),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
    /// The refresh family store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refresh, or a logout, was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RefreshError {
    /// Not a valid refresh token of this issuer (signature, `typ`, `aud`, `iss`, expiry...).
    #[error("invalid refresh token")]
    Invalid,
    /// The refresh token was already used: its whole family is now revoked (RFC 9700 §4.14).
    #[error("refresh token reuse detected; the session is revoked")]
    Reused,
    /// The family was revoked (logout, earlier reuse) or is unknown.
    #[error("the session was revoked")]
    Revoked,
    /// The family is older than the issuer's family lifetime: the user signs in again.
    #[error("the session has expired")]
    SessionExpired,
    /// The regrant hook withdrew the grant (a disabled user, a revoked consent): the family
    /// is revoked.
    #[error("the grant was withdrawn")]
    Denied,
    /// A store (the family or revocation store, or what the regrant hook asks) failed: 503,
    /// the client may retry with the same token. A regrant hook answers
    /// `RefreshError::Unavailable(StoreError::unavailable(cause))` when the user directory
    /// cannot be reached.
    #[error(transparent)]
    Unavailable(#[from] StoreError),
    /// The new tokens could not be issued.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

impl From<RefreshError> for AuthError {
    /// 401 `invalid_token` for a refused token, 503 when a store failed (through
    /// `AuthError::from(StoreError)`, which logs the cause), 500 otherwise. The descriptions
    /// never include the token.
    fn from(error: RefreshError) -> Self {
        match error {
            RefreshError::Invalid => {
                AuthError::invalid_credential("invalid refresh token").with_reason("invalid")
            }
            RefreshError::Reused => {
                AuthError::invalid_credential("refresh token reused").with_reason("reused")
            }
            RefreshError::Revoked => {
                AuthError::invalid_credential("session revoked").with_reason("revoked")
            }
            RefreshError::SessionExpired => {
                AuthError::invalid_credential("session expired").with_reason("session_expired")
            }
            RefreshError::Denied => {
                AuthError::invalid_credential("grant withdrawn").with_reason("denied")
            }
            RefreshError::Unavailable(error) => AuthError::from(error),
            RefreshError::Issue(_) => {
                AuthError::misconfigured("token issuing failed").with_reason("issue_failed")
            }
        }
    }
}
