//! [`StaticTokens`]: a small custom authentication method, a table of opaque bearer tokens.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use auth_core::{AuthError, AuthLayer, Authenticate, CheckFuture, Credentials, Outcome, Principal};
use axum::http::Request;
use sha2::{Digest, Sha256};

type TokenDigest = [u8; 32];

fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Opaque bearer tokens, each mapped to a [`Principal`]; an `auth_core::Authenticate`
/// implementation in a few lines.
///
/// Tokens are kept as SHA-256 digests, so the table holds no plaintext and a lookup's timing
/// depends on the digest, not on how much of a real token a guess got right. `Debug` shows
/// only how many tokens there are. Cloning shares the table.
///
/// * no `Authorization: Bearer` → "no credential" (anonymous behind an optional layer);
/// * a token not in the table → 401 `invalid_token`;
/// * duplicate headers, over-long or non-ASCII values → the errors of
///   [`Credentials::find`].
#[derive(Clone)]
pub struct StaticTokens {
    tokens: Arc<HashMap<TokenDigest, Principal>>,
    credentials: Arc<Credentials>,
}

impl Default for StaticTokens {
    fn default() -> Self {
        Self {
            tokens: Arc::default(),
            credentials: Arc::new(Credentials::bearer()),
        }
    }
}

impl StaticTokens {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `token`, authenticating as `principal`.
    #[must_use]
    pub fn token(mut self, token: &str, principal: Principal) -> Self {
        Arc::make_mut(&mut self.tokens).insert(digest(token), principal);
        self
    }

    /// An [`AuthLayer`] authenticating with (a clone of) this table.
    #[must_use]
    pub fn layer(&self) -> AuthLayer<Self> {
        AuthLayer::new(self.clone())
    }

    fn check<B>(&self, request: &Request<B>) -> Result<Principal, AuthError> {
        let credential = self.credentials.find(request)?;
        self.tokens
            .get(&digest(credential.value()))
            .cloned()
            .ok_or_else(|| {
                AuthError::invalid_credential("the token is not valid").with_reason("unknown_token")
            })
    }
}

impl fmt::Debug for StaticTokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticTokens")
            .field("tokens", &self.tokens.len())
            .finish_non_exhaustive()
    }
}

/// Decided at once: the layer calls the inner service without polling anything, and
/// `first_of` asks no later method about a request that carries a bearer token.
impl<B> Authenticate<B> for StaticTokens {
    type Identity = Principal;
    type Future = CheckFuture<Principal>;

    fn authenticate(&mut self, request: &Request<B>) -> Outcome<Principal, Self::Future> {
        Outcome::from(self.check(request))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::AuthMethod;

    fn request(authorization: Option<&str>) -> Request<()> {
        let mut builder = Request::builder();
        if let Some(value) = authorization {
            builder = builder.header("authorization", value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn outcomes_are_decided_at_once() {
        let mut tokens = StaticTokens::new().token(
            "t-alice",
            Principal::new("alice", AuthMethod::Custom("static".into())),
        );
        assert!(matches!(
            tokens.authenticate(&request(Some("Bearer t-alice"))),
            Outcome::Decided(Ok(p)) if p.subject() == "alice"
        ));
        // No bearer token: "no credential", so an optional layer lets the request through.
        assert!(tokens.authenticate(&request(None)).is_missing());
        match tokens.authenticate(&request(Some("Bearer t-alic"))) {
            Outcome::Decided(Err(err)) => {
                assert_eq!(err.status(), 401);
                assert_eq!(err.reason(), "unknown_token");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert_eq!(format!("{tokens:?}"), "StaticTokens { tokens: 1, .. }");
    }
}
