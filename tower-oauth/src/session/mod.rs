//! Sessions: the typed identity [`OAuthSession`], the [`SessionAuthenticator`] that reads
//! the session cookie, and the user type contract [`SessionUser`].
//!
//! A session id is 256 random bits, sent only in the session cookie; the store keys on its
//! SHA-256. The session carries a CSRF token for the application's forms and, server-side
//! only, the provider's tokens (see [`OAuthClient::access_token`](crate::OAuthClient::access_token)).
//!
//! A missing, tampered, truncated, stale, duplicated or foreign cookie is "no session"
//! (`AuthError::missing()`): an optional layer serves the anonymous page, a required one
//! answers 401, and a combinator tries the next method. A store that cannot answer is 503.

mod authenticator;
pub(crate) mod decoded;
pub(crate) mod record;
pub(crate) mod sessions;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use auth_core::{Identity, Principal};
use serde::Serialize;
use serde::de::DeserializeOwned;
use subtle::ConstantTimeEq;

pub use authenticator::SessionAuthenticator;

/// The application's user type, stored in the session.
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use tower_oauth::SessionUser;
///
/// #[derive(Clone, Debug, Serialize, Deserialize)]
/// struct User { id: i64, name: String, admin: bool }
///
/// impl SessionUser for User {
///     fn subject(&self) -> String { self.id.to_string() }
///     fn roles(&self) -> Vec<String> {
///         if self.admin { vec!["admin".to_owned()] } else { Vec::new() }
///     }
/// }
/// ```
pub trait SessionUser: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The principal's subject (the application's user id).
    fn subject(&self) -> String;

    /// Scopes granted to a session of this user.
    fn scopes(&self) -> Vec<String> {
        Vec::new()
    }

    /// Roles of this user.
    fn roles(&self) -> Vec<String> {
        Vec::new()
    }
}

/// The identity a session cookie proves: the application's user, a [`Principal`] with
/// method `session`, the provider that logged the user in (if one did), and the session's
/// CSRF token.
///
/// The provider's tokens are not here: ask [`OAuthClient::access_token`](crate::OAuthClient::access_token).
///
/// Cloning is one reference-count increment.
pub struct OAuthSession<U> {
    inner: Arc<SessionInner<U>>,
}

struct SessionInner<U> {
    user: U,
    principal: Principal,
    provider: Option<Arc<str>>,
    csrf: Arc<str>,
    key: Arc<str>,
    created_at: SystemTime,
}

impl<U> Clone for OAuthSession<U> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<U> OAuthSession<U> {
    pub(crate) fn new(
        user: U,
        principal: Principal,
        provider: Option<Arc<str>>,
        csrf: Arc<str>,
        key: Arc<str>,
        created_at: SystemTime,
    ) -> Self {
        Self {
            inner: Arc::new(SessionInner {
                user,
                principal,
                provider,
                csrf,
                key,
                created_at,
            }),
        }
    }

    /// The application's user.
    pub fn user(&self) -> &U {
        &self.inner.user
    }

    /// The provider name this session logged in with (e.g. `github`); `None` for a session
    /// the application started itself ([`OAuthClient::start_session`](crate::OAuthClient::start_session)).
    #[must_use]
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    /// The CSRF token to embed in this session's forms (`<input name="csrf_token">`).
    #[must_use]
    pub fn csrf_token(&self) -> &str {
        &self.inner.csrf
    }

    /// Whether `candidate` is this session's CSRF token (constant time).
    #[must_use]
    pub fn verify_csrf(&self, candidate: &str) -> bool {
        !candidate.is_empty() && bool::from(self.inner.csrf.as_bytes().ct_eq(candidate.as_bytes()))
    }

    /// When the user logged in.
    #[must_use]
    pub fn created_at(&self) -> SystemTime {
        self.inner.created_at
    }

    /// The store key of this session (SHA-256 of its id).
    pub(crate) fn key(&self) -> &str {
        &self.inner.key
    }
}

impl<U: Send + Sync + 'static> Identity for OAuthSession<U> {
    fn principal(&self) -> &Principal {
        &self.inner.principal
    }
}

impl<U: fmt::Debug> fmt::Debug for OAuthSession<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthSession")
            .field("user", &self.inner.user)
            .field("principal", &self.inner.principal)
            .field("provider", &self.inner.provider)
            .field("csrf", &"[redacted]")
            .field("created_at", &self.inner.created_at)
            .finish_non_exhaustive()
    }
}
