//! [`Claims`]: a verified token's typed claims beside its [`Principal`].

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use auth_core::{Identity, Principal};
use http::{HeaderMap, HeaderValue};

/// A verified token: the application's typed claims `C`, the shared [`Principal`] and the
/// registered claims. Cloning is one reference-count increment.
///
/// The authentication layer inserts it into the request's extensions beside its
/// `Principal`: handlers extract `Authenticated<Claims<MyClaims>>` (or `Principal`).
pub struct Claims<C = serde_json::Value> {
    inner: Arc<Inner<C>>,
    /// A fresh `DPoP-Nonce` for the response (RFC 9449 §8.2), set on admission.
    pub(crate) dpop_nonce: Option<Box<HeaderValue>>,
}

struct Inner<C> {
    principal: Principal,
    claims: C,
    issuer: Arc<str>,
    jti: Option<String>,
    jkt: Option<String>,
    x5t: Option<String>,
    issued_at: i64,
    expires_at: i64,
    issuer_index: usize,
}

pub(crate) struct Parts<C> {
    pub(crate) principal: Principal,
    pub(crate) claims: C,
    pub(crate) issuer: Arc<str>,
    pub(crate) jti: Option<String>,
    pub(crate) jkt: Option<String>,
    pub(crate) x5t: Option<String>,
    pub(crate) issued_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) issuer_index: usize,
}

pub(crate) fn to_system_time(seconds: i64) -> SystemTime {
    if seconds >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
    } else {
        SystemTime::UNIX_EPOCH
    }
}

impl<C> Claims<C> {
    pub(crate) fn new(parts: Parts<C>) -> Self {
        Self {
            inner: Arc::new(Inner {
                principal: parts.principal,
                claims: parts.claims,
                issuer: parts.issuer,
                jti: parts.jti,
                jkt: parts.jkt,
                x5t: parts.x5t,
                issued_at: parts.issued_at,
                expires_at: parts.expires_at,
                issuer_index: parts.issuer_index,
            }),
            dpop_nonce: None,
        }
    }

    /// The application's typed claims.
    #[must_use]
    pub fn claims(&self) -> &C {
        &self.inner.claims
    }

    /// The shared view: subject, `AuthMethod::Jwt`, scopes, roles, tenant, expiry.
    #[must_use]
    pub fn principal(&self) -> &Principal {
        &self.inner.principal
    }

    /// The `sub` claim.
    #[must_use]
    pub fn subject(&self) -> &str {
        self.inner.principal.subject()
    }

    /// The `iss` claim.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `jti` claim, if any.
    #[must_use]
    pub fn jti(&self) -> Option<&str> {
        self.inner.jti.as_deref()
    }

    /// The `cnf.jkt` claim (RFC 9449 §6.1): the RFC 7638 SHA-256 thumbprint (base64url) of
    /// the DPoP key the token is bound to, `None` for an unbound token. A token that has one
    /// is accepted by [`JwtAuthenticator`](crate::JwtAuthenticator) only with a DPoP proof
    /// signed by that key ([`dpop`](crate::dpop)).
    #[must_use]
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.inner.jkt.as_deref()
    }

    /// The `cnf["x5t#S256"]` claim (RFC 8705 §3.1): the SHA-256 thumbprint (base64url) of
    /// the client certificate the token is bound to, `None` for an unbound token. A token
    /// that has one is accepted by [`JwtAuthenticator`](crate::JwtAuthenticator) only from a
    /// client that presented that certificate ([`mtls`](crate::mtls)).
    #[must_use]
    pub fn certificate_thumbprint(&self) -> Option<&str> {
        self.inner.x5t.as_deref()
    }

    /// The `iat` claim.
    #[must_use]
    pub fn issued_at(&self) -> SystemTime {
        to_system_time(self.inner.issued_at)
    }

    /// The `exp` claim.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        to_system_time(self.inner.expires_at)
    }

    pub(crate) fn iat_secs(&self) -> i64 {
        self.inner.issued_at
    }

    pub(crate) fn exp_secs(&self) -> i64 {
        self.inner.expires_at
    }

    pub(crate) fn issuer_index(&self) -> usize {
        self.inner.issuer_index
    }
}

impl<C> Clone for Claims<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            dpop_nonce: self.dpop_nonce.clone(),
        }
    }
}

impl<C> fmt::Debug for Claims<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("issuer", &self.inner.issuer)
            .field("principal", &self.inner.principal)
            .field("claims", &std::any::type_name::<C>())
            .finish_non_exhaustive()
    }
}

impl<C: Send + Sync + 'static> Identity for Claims<C> {
    fn principal(&self) -> &Principal {
        &self.inner.principal
    }

    fn take_response_headers(&mut self) -> Option<HeaderMap> {
        let nonce = *self.dpop_nonce.take()?;
        Some(HeaderMap::from_iter([(crate::dpop::DPOP_NONCE, nonce)]))
    }
}
