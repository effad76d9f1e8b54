//! [`JwtAuthenticator`]: the `auth-core` [`Authenticate`] implementation for JWTs.

use std::sync::Arc;

use auth_core::{AuthLayer, Authenticate, CheckFuture, Credentials, Outcome};
use http::Request;
use serde::de::DeserializeOwned;

use crate::cache::{CacheConfig, VerifiedCache};
use crate::dpop::{self, DpopConfig};
use crate::identity::Claims;
use crate::mtls::{self, MtlsConfig};
use crate::verifier::{JwtVerifier, Quick, Step};

/// The JWT layer: [`AuthLayer`] over a [`JwtAuthenticator`] with claims type `C`.
pub type JwtLayer<C = serde_json::Value> = AuthLayer<JwtAuthenticator<C>>;

/// Reads a bearer token from each request and verifies it with a [`JwtVerifier`], through
/// a verified-token cache (see [`CacheConfig`]). Cheap to clone.
///
/// Claims are kept as JSON (`serde_json::Value`) unless [`claims`](JwtAuthenticator::claims)
/// names your claims type; handlers extract `Authenticated<Claims<C>>` or the `Principal`.
pub struct JwtAuthenticator<C = serde_json::Value> {
    verifier: JwtVerifier,
    credentials: Arc<Credentials>,
    cache_config: Option<CacheConfig>,
    cache: Option<Arc<VerifiedCache<C>>>,
    dpop: Option<DpopConfig>,
    mtls: Option<MtlsConfig>,
}

impl<C> Clone for JwtAuthenticator<C> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            credentials: Arc::clone(&self.credentials),
            cache_config: self.cache_config,
            cache: self.cache.clone(),
            dpop: self.dpop.clone(),
            mtls: self.mtls.clone(),
        }
    }
}

impl<C> std::fmt::Debug for JwtAuthenticator<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("verifier", &self.verifier)
            .field("credentials", &self.credentials)
            .field("cache", &self.cache)
            .field("dpop", &self.dpop)
            .field("mtls", &self.mtls)
            .finish()
    }
}

impl JwtAuthenticator {
    /// Verifies `Authorization: Bearer` tokens with `verifier`, with the default cache,
    /// keeping their claims as JSON.
    #[must_use]
    pub fn new(verifier: JwtVerifier) -> Self {
        let config = CacheConfig::default();
        Self {
            verifier,
            credentials: Arc::new(Credentials::bearer()),
            cache_config: Some(config),
            cache: Some(Arc::new(VerifiedCache::new(config))),
            dpop: None,
            mtls: None,
        }
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> JwtAuthenticator<C> {
    /// Deserialise each token's claims into `C2` (your claims struct) instead.
    #[must_use]
    pub fn claims<C2: DeserializeOwned + Send + Sync + 'static>(self) -> JwtAuthenticator<C2> {
        JwtAuthenticator {
            verifier: self.verifier,
            credentials: self.credentials,
            cache_config: self.cache_config,
            cache: self
                .cache_config
                .map(|config| Arc::new(VerifiedCache::new(config))),
            dpop: self.dpop,
            mtls: self.mtls,
        }
    }

    /// Read the token from these sources instead of `Authorization: Bearer`.
    #[must_use]
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Arc::new(credentials);
        self
    }

    /// Size and lifetime of the verified-token cache.
    #[must_use]
    pub fn cache(mut self, config: CacheConfig) -> Self {
        self.cache_config = Some(config);
        self.cache = Some(Arc::new(VerifiedCache::new(config)));
        self
    }

    /// Verify every token's signature, with no cache.
    #[must_use]
    pub fn without_cache(mut self) -> Self {
        self.cache_config = None;
        self.cache = None;
        self
    }

    /// Also accept DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>` with a
    /// `DPoP` proof checked as `config` says (see [`dpop`](crate::dpop)). `Bearer` tokens
    /// keep working (bound ones are refused), and refusals offer both challenges.
    #[must_use]
    pub fn dpop(mut self, config: DpopConfig) -> Self {
        self.dpop = Some(config);
        self
    }

    /// Read client certificates and require certificate-bound tokens as `config` says
    /// (RFC 8705, see [`mtls`](crate::mtls)). Without it, tokens bound to a certificate are
    /// still checked against the connection's
    /// [`ClientCertificate`](crate::mtls::ClientCertificate).
    #[must_use]
    pub fn mtls(mut self, config: MtlsConfig) -> Self {
        self.mtls = Some(config);
        self
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &JwtVerifier {
        &self.verifier
    }

    /// An [`AuthLayer`] authenticating with (a clone of) this authenticator.
    #[must_use]
    pub fn layer(&self) -> JwtLayer<C> {
        AuthLayer::new(self.clone())
    }
}

impl<B, C: DeserializeOwned + Send + Sync + 'static> Authenticate<B> for JwtAuthenticator<C> {
    type Identity = Claims<C>;
    type Future = CheckFuture<Claims<C>>;

    /// Decided at once: the token's shape, a verified-token cache hit, or its signature
    /// checked on the spot. Only a key refresh (a `kid` the issuer's JWKS does not have yet)
    /// waits. A token bound to a client certificate is then checked against the one
    /// presented.
    fn authenticate(&mut self, request: &Request<B>) -> Outcome<Claims<C>, Self::Future> {
        let outcome = match &self.dpop {
            Some(config) => config.authenticate(
                request,
                || self.bearer(request),
                |token| {
                    let verifier = self.verifier.clone();
                    let cache = self.cache.clone();
                    let token = token.to_owned();
                    Outcome::Pending(CheckFuture::new(async move {
                        verifier.verify_with(&token, cache.as_deref()).await
                    }))
                },
            ),
            None => self.bearer(request),
        };
        mtls::bind(self.mtls.as_ref(), request, outcome)
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> JwtAuthenticator<C> {
    /// A token from the configured credential sources (`Authorization: Bearer`); a token
    /// bound to a DPoP key is refused here.
    fn bearer<B>(&self, request: &Request<B>) -> Outcome<Claims<C>, CheckFuture<Claims<C>>> {
        let credential = match self.credentials.find(request) {
            Ok(credential) => credential,
            Err(error) => return Outcome::from(Err(error)),
        };
        let token = credential.value();
        let cache = self.cache.as_deref();
        if let Quick::Decided(result) = self.verifier.quick(token, cache) {
            return Outcome::Decided(dpop::refuse_bound(result));
        }
        match self.verifier.verify_uncached(token, cache, true) {
            Step::Done(result) => Outcome::Decided(dpop::refuse_bound(result)),
            Step::Fetch { issuer, kid } => {
                let token = token.to_owned();
                let verifier = self.verifier.clone();
                let cache = self.cache.clone();
                Outcome::Pending(CheckFuture::new(async move {
                    verifier.refresh(issuer, kid.as_deref()).await;
                    match verifier.verify_uncached(&token, cache.as_deref(), false) {
                        Step::Done(result) => dpop::refuse_bound(result),
                        Step::Fetch { .. } => Err(crate::error::unknown_key()),
                    }
                }))
            }
        }
    }
}
