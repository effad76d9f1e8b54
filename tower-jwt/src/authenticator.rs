//! [`JwtAuthenticator`]: the `auth-core` [`Authenticate`] implementation for JWTs.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use auth_core::credential::Credentials;
use auth_core::{AuthError, AuthLayer, Authenticate, Presence};
use http::Request;
use serde::de::DeserializeOwned;

use crate::cache::{CacheConfig, VerifiedCache};
use crate::identity::JwtIdentity;
use crate::verifier::{JwtVerifier, Quick, Step};

/// The JWT layer: [`AuthLayer`] over a [`JwtAuthenticator`] with claims type `C`.
pub type JwtLayer<C = serde_json::Value> = AuthLayer<JwtAuthenticator<C>>;

/// Reads a bearer token from each request and verifies it with a [`JwtVerifier`], through
/// a verified-token cache (see [`CacheConfig`]). Cheap to clone.
pub struct JwtAuthenticator<C = serde_json::Value> {
    verifier: JwtVerifier,
    credentials: Arc<Credentials>,
    cache: Option<Arc<VerifiedCache<C>>>,
}

impl<C> Clone for JwtAuthenticator<C> {
    fn clone(&self) -> Self {
        Self {
            verifier: self.verifier.clone(),
            credentials: Arc::clone(&self.credentials),
            cache: self.cache.clone(),
        }
    }
}

impl<C> std::fmt::Debug for JwtAuthenticator<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("verifier", &self.verifier)
            .field("credentials", &self.credentials)
            .field("cache", &self.cache)
            .finish()
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> JwtAuthenticator<C> {
    /// Verifies `Authorization: Bearer` tokens with `verifier`, with the default cache.
    #[must_use]
    pub fn new(verifier: JwtVerifier) -> Self {
        Self {
            verifier,
            credentials: Arc::new(Credentials::bearer()),
            cache: Some(Arc::new(VerifiedCache::new(CacheConfig::default()))),
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
        self.cache = Some(Arc::new(VerifiedCache::new(config)));
        self
    }

    /// Verify every token's signature, with no cache.
    #[must_use]
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// The verifier.
    #[must_use]
    pub fn verifier(&self) -> &JwtVerifier {
        &self.verifier
    }

    /// This authenticator as a layer (`JwtLayer::new(self)`).
    #[must_use]
    pub fn into_layer(self) -> JwtLayer<C> {
        AuthLayer::new(self)
    }
}

impl<B, C: DeserializeOwned + Send + Sync + 'static> Authenticate<B> for JwtAuthenticator<C> {
    type Identity = JwtIdentity<C>;
    type Future = JwtFuture<C>;

    fn authenticate(&mut self, request: &Request<B>) -> Self::Future {
        // What is cheap is decided here, on the token borrowed from the request: its shape
        // and a verified-token cache hit. The signature is verified only when the future is
        // settled or polled, so `first_of(a, jwt)` never verifies a token it will not use.
        let state = match self.credentials.find(request) {
            Err(error) => State::Ready(Err(error)),
            Ok(credential) => match self
                .verifier
                .quick(credential.value(), self.cache.as_deref())
            {
                Quick::Decided(result) => State::Ready(result),
                Quick::Verify => State::Verify {
                    token: credential.value().to_owned(),
                    verifier: self.verifier.clone(),
                    cache: self.cache.clone(),
                },
            },
        };
        JwtFuture {
            state,
            _claims: PhantomData,
        }
    }

    /// Settles everything but a JWKS refresh: the signature is verified right here (the
    /// layer needs the verdict now; `first_of` settles this branch only when the ones before
    /// it found no credential).
    fn settle(future: &mut JwtFuture<C>) -> Option<Result<JwtIdentity<C>, AuthError>> {
        future.decide()
    }

    /// Always known: a bearer token was found (whatever its verdict) or it was not.
    fn presence(future: &JwtFuture<C>) -> Presence {
        match &future.state {
            State::Ready(Err(error)) if error.is_missing() => Presence::Absent,
            _ => Presence::Present,
        }
    }
}

type Slow<C> = Pin<Box<dyn Future<Output = Result<JwtIdentity<C>, AuthError>> + Send>>;

enum State<C> {
    /// Decided without verifying a signature (refused, or a verified-token cache hit).
    Ready(Result<JwtIdentity<C>, AuthError>),
    /// The signature must be verified: done when settled or first polled.
    Verify {
        token: String,
        verifier: JwtVerifier,
        cache: Option<Arc<VerifiedCache<C>>>,
    },
    /// The issuer's keys are being refreshed first.
    Fetching(Slow<C>),
    Done,
}

impl<C: DeserializeOwned + Send + Sync + 'static> State<C> {
    /// Refreshes `issuer`'s keys (an unknown `kid`), then verifies once more.
    fn fetching(
        token: String,
        verifier: JwtVerifier,
        cache: Option<Arc<VerifiedCache<C>>>,
        issuer: usize,
        kid: Option<String>,
    ) -> Self {
        Self::Fetching(Box::pin(async move {
            verifier.refresh(issuer, kid.as_deref()).await;
            match verifier.verify_uncached(&token, cache.as_deref(), false) {
                Step::Done(result) => result,
                Step::Fetch { .. } => Err(crate::error::unknown_key()),
            }
        }))
    }
}

/// The future of [`JwtAuthenticator`]: ready at once for a cache hit or a malformed token
/// (no allocation); otherwise verifies when the layer settles it or when first polled; only
/// a JWKS refresh boxes.
pub struct JwtFuture<C> {
    state: State<C>,
    _claims: PhantomData<fn() -> C>,
}

impl<C> std::fmt::Debug for JwtFuture<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtFuture").finish_non_exhaustive()
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> JwtFuture<C> {
    /// The outcome if it needs no waiting: a ready one, or a signature verified now. A key
    /// refresh leaves the future `Fetching` and answers `None`, as does a future already there.
    fn decide(&mut self) -> Option<Result<JwtIdentity<C>, AuthError>> {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Ready(result) => Some(result),
            State::Verify {
                token,
                verifier,
                cache,
            } => match verifier.verify_uncached(&token, cache.as_deref(), true) {
                Step::Done(result) => Some(result),
                Step::Fetch { issuer, kid } => {
                    self.state = State::fetching(token, verifier, cache, issuer, kid);
                    None
                }
            },
            other => {
                self.state = other;
                None
            }
        }
    }
}

impl<C: DeserializeOwned + Send + Sync + 'static> Future for JwtFuture<C> {
    type Output = Result<JwtIdentity<C>, AuthError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(result) = this.decide() {
            return Poll::Ready(result);
        }
        match &mut this.state {
            State::Fetching(future) => {
                let result = ready!(future.as_mut().poll(cx));
                this.state = State::Done;
                Poll::Ready(result)
            }
            _ => panic!("JwtFuture polled after completion"),
        }
    }
}
