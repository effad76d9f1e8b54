//! [`Introspected`]: the typed identity of a token the introspection endpoint vouched for.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use auth_core::{Identity, Principal};
use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use tower_jwt::dpop::DpopIdentity;

/// What the introspection endpoint said about an active token: `sub`, `client_id`, the
/// scopes, `exp`, and every other member of its answer. Handlers extract
/// `Authenticated<Introspected>` (or just the [`Principal`], whose subject is `sub`, else
/// `client_id`). Cloning is one reference-count increment.
#[derive(Clone)]
pub struct Introspected {
    inner: Arc<Inner>,
    /// A fresh `DPoP-Nonce` for the response (RFC 9449 §8.2), set on admission.
    dpop_nonce: Option<Box<HeaderValue>>,
}

struct Inner {
    principal: Principal,
    sub: Option<String>,
    client_id: Option<String>,
    jti: Option<String>,
    issued_at: Option<SystemTime>,
    /// `cnf.jkt`, read once here: every request checks it.
    jkt: Option<String>,
    members: Map<String, Value>,
}

impl Introspected {
    pub(crate) fn new(
        principal: Principal,
        sub: Option<String>,
        client_id: Option<String>,
        jti: Option<String>,
        issued_at: Option<SystemTime>,
        members: Map<String, Value>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                principal,
                sub,
                client_id,
                jti,
                issued_at,
                jkt: members
                    .get("cnf")
                    .and_then(|cnf| cnf.get("jkt"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                members,
            }),
            dpop_nonce: None,
        }
    }

    /// `sub`: the resource owner, absent for a client-credentials token.
    #[must_use]
    pub fn sub(&self) -> Option<&str> {
        self.inner.sub.as_deref()
    }

    /// `client_id`: the client the token was issued to.
    #[must_use]
    pub fn client_id(&self) -> Option<&str> {
        self.inner.client_id.as_deref()
    }

    /// The scopes of `scope` (space-separated in the answer).
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        self.inner.principal.scopes()
    }

    /// `jti`, when the answer carried it (a provider whose token is its own identifier may
    /// leave it out).
    #[must_use]
    pub fn jti(&self) -> Option<&str> {
        self.inner.jti.as_deref()
    }

    /// `iat`, when the answer carried it.
    #[must_use]
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.inner.issued_at
    }

    /// `exp`, when the answer carried it.
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.inner.principal.expires_at()
    }

    /// One member of the answer, by name (`"username"`, `"token_type"`, an extension).
    #[must_use]
    pub fn member(&self, name: &str) -> Option<&Value> {
        self.inner.members.get(name)
    }

    /// `cnf.jkt` (RFC 9449 §6.2): the RFC 7638 thumbprint of the DPoP key the token is
    /// bound to, `None` for an unbound token. A bound token is accepted only with a DPoP
    /// proof signed by that key (see
    /// [`IntrospectionAuthenticator::dpop`](crate::IntrospectionAuthenticator::dpop)).
    #[must_use]
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.inner.jkt.as_deref()
    }

    /// Every member of the answer.
    #[must_use]
    pub fn members(&self) -> &Map<String, Value> {
        &self.inner.members
    }
}

impl Identity for Introspected {
    fn principal(&self) -> &Principal {
        &self.inner.principal
    }

    fn take_response_headers(&mut self) -> Option<HeaderMap> {
        let nonce = *self.dpop_nonce.take()?;
        Some(HeaderMap::from_iter([(
            HeaderName::from_static("dpop-nonce"),
            nonce,
        )]))
    }
}

impl DpopIdentity for Introspected {
    fn dpop_thumbprint(&self) -> Option<&str> {
        Introspected::dpop_thumbprint(self)
    }

    fn with_dpop_nonce(mut self, nonce: HeaderValue) -> Self {
        self.dpop_nonce = Some(Box::new(nonce));
        self
    }
}

/// Names the caller, never the token (the answer's members are left out).
impl fmt::Debug for Introspected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspected")
            .field("sub", &self.inner.sub)
            .field("client_id", &self.inner.client_id)
            .field("scopes", &self.scopes())
            .field("expires_at", &self.expires_at())
            .finish_non_exhaustive()
    }
}
