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
    /// Everything, behind one pointer: axum clones a route's service stack for every
    /// request, and this is then one reference count, not one per part.
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    verifier: JwtVerifier,
    credentials: Credentials,
    cache_config: Option<CacheConfig>,
    cache: Option<Arc<VerifiedCache<C>>>,
    dpop: Option<DpopConfig>,
    mtls: Option<MtlsConfig>,
}

impl<C> Clone for Inner<C> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            credentials: self.credentials.clone(),
            cache_config: self.cache_config,
            cache: self.cache.clone(),
            dpop: self.dpop.clone(),
            mtls: self.mtls.clone(),
        }
    }
}

impl<C> Clone for JwtAuthenticator<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C> std::fmt::Debug for JwtAuthenticator<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("JwtAuthenticator")
            .field("verifier", &inner.verifier)
            .field("credentials", &inner.credentials)
            .field("cache", &inner.cache)
            .field("dpop", &inner.dpop)
            .field("mtls", &inner.mtls)
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
            inner: Arc::new(Inner {
                verifier,
                credentials: Credentials::bearer(),
                cache_config: Some(config),
                cache: Some(Arc::new(VerifiedCache::new(config))),
                dpop: None,
                mtls: None,
            }),
        }
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> JwtAuthenticator<C> {
    /// Deserialise each token's claims into `C2` (your claims struct) instead.
    #[must_use]
    pub fn claims<C2: DeserializeOwned + Send + Sync + 'static>(self) -> JwtAuthenticator<C2> {
        let inner = &self.inner;
        JwtAuthenticator {
            inner: Arc::new(Inner {
                verifier: inner.verifier.clone(),
                credentials: inner.credentials.clone(),
                cache_config: inner.cache_config,
                cache: inner
                    .cache_config
                    .map(|config| Arc::new(VerifiedCache::new(config))),
                dpop: inner.dpop.clone(),
                mtls: inner.mtls.clone(),
            }),
        }
    }

    /// Read the token from these sources instead of `Authorization: Bearer`.
    #[must_use]
    pub fn credentials(self, credentials: Credentials) -> Self {
        self.configured(|inner| inner.credentials = credentials)
    }

    /// Size and lifetime of the verified-token cache.
    #[must_use]
    pub fn cache(self, config: CacheConfig) -> Self {
        self.configured(|inner| {
            inner.cache_config = Some(config);
            inner.cache = Some(Arc::new(VerifiedCache::new(config)));
        })
    }

    /// Verify every token's signature, with no cache.
    #[must_use]
    pub fn without_cache(self) -> Self {
        self.configured(|inner| {
            inner.cache_config = None;
            inner.cache = None;
        })
    }

    /// Also accept DPoP-bound tokens (RFC 9449): `Authorization: DPoP <token>` with a
    /// `DPoP` proof checked as `config` says (see [`dpop`](crate::dpop)). `Bearer` tokens
    /// keep working (bound ones are refused), and refusals offer both challenges.
    #[must_use]
    pub fn dpop(self, config: DpopConfig) -> Self {
        self.configured(|inner| inner.dpop = Some(config))
    }

    /// Read client certificates and require certificate-bound tokens as `config` says
    /// (RFC 8705, see [`mtls`](crate::mtls)). Without it, tokens bound to a certificate are
    /// still checked against the connection's
    /// [`ClientCertificate`](crate::mtls::ClientCertificate).
    #[must_use]
    pub fn mtls(self, config: MtlsConfig) -> Self {
        self.configured(|inner| inner.mtls = Some(config))
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &JwtVerifier {
        &self.inner.verifier
    }

    /// `self` with `change` made: in place when no clone shares it, else on a copy (the
    /// clones keep their configuration).
    fn configured(mut self, change: impl FnOnce(&mut Inner<C>)) -> Self {
        change(Arc::make_mut(&mut self.inner));
        self
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
        let inner = &self.inner;
        let outcome = match &inner.dpop {
            Some(config) => config.authenticate(
                request,
                || self.bearer(request),
                |token| {
                    let verifier = inner.verifier.clone();
                    let cache = inner.cache.clone();
                    let token = token.to_owned();
                    Outcome::Pending(CheckFuture::new(async move {
                        verifier.verify_with(&token, cache.as_deref()).await
                    }))
                },
            ),
            None => self.bearer(request),
        };
        mtls::bind(inner.mtls.as_ref(), request, outcome)
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> JwtAuthenticator<C> {
    /// A token from the configured credential sources (`Authorization: Bearer`); a token
    /// bound to a DPoP key is refused here.
    fn bearer<B>(&self, request: &Request<B>) -> Outcome<Claims<C>, CheckFuture<Claims<C>>> {
        let inner = &*self.inner;
        let credential = match inner.credentials.find(request) {
            Ok(credential) => credential,
            Err(error) => return Outcome::from(Err(error)),
        };
        let token = credential.value();
        let cache = inner.cache.as_deref();
        if let Quick::Decided(result) = inner.verifier.quick(token, cache) {
            return Outcome::Decided(dpop::refuse_bound(result));
        }
        match inner.verifier.verify_uncached(token, cache, true) {
            Step::Done(result) => Outcome::Decided(dpop::refuse_bound(result)),
            Step::Fetch { issuer, kid } => {
                let token = token.to_owned();
                let verifier = inner.verifier.clone();
                let cache = inner.cache.clone();
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
