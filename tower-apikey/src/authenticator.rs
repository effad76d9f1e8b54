//! [`ApiKeyAuthenticator`]: the [`Authenticate`] implementation, and its future.

use std::fmt;
use std::future::Future;
use std::mem;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::credential::CredentialSource;
use auth_core::{AuthError, AuthLayer, Authenticate, Presence};
use http::Request;

use crate::cache::{Lookup, refused, store_unavailable};
use crate::identity::ApiKeyIdentity;
use crate::key::{BODY_LEN, ID_LEN, ParseError};
use crate::keys::{ApiKeys, Inner};
use crate::record::now;

/// The API-key layer: `AuthLayer<ApiKeyAuthenticator>`.
pub type ApiKeyLayer = AuthLayer<ApiKeyAuthenticator>;

/// Authenticates requests by API key; built by [`ApiKeys::authenticator`].
///
/// * No key, or a `Bearer` value that is not shaped like a key of this prefix (a JWT, say):
///   "no credential", so `first_of(api_key, jwt)` hands it on.
/// * Malformed (bad layout or checksum, refused before any store lookup), unknown, revoked,
///   expired and not-yet-valid keys: the same 401 `invalid_token`; the reason code
///   (`malformed`, `not_found`, `revoked`, `expired`, `not_yet_valid`) goes to logs only.
/// * A store that cannot answer a cache miss: 503 (`store_unavailable`).
#[derive(Clone)]
pub struct ApiKeyAuthenticator {
    keys: ApiKeys,
}

impl ApiKeyAuthenticator {
    pub(crate) fn new(keys: ApiKeys) -> Self {
        Self { keys }
    }

    /// The handle this authenticator shares its cache with.
    #[must_use]
    pub fn keys(&self) -> &ApiKeys {
        &self.keys
    }
}

impl fmt::Debug for ApiKeyAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyAuthenticator")
            .field("keys", &self.keys)
            .finish()
    }
}

impl<B> Authenticate<B> for ApiKeyAuthenticator {
    type Identity = ApiKeyIdentity;
    type Future = ApiKeyFuture;

    fn authenticate(&mut self, request: &Request<B>) -> ApiKeyFuture {
        let inner = &self.keys.inner;
        // Borrowed from the request: a cache hit never copies the key.
        let credential = match inner.credentials.find(request) {
            Ok(credential) => credential,
            Err(error) => return ApiKeyFuture::ready(Err(error)),
        };
        let state = match inner.format.parse(credential.value()) {
            Ok(_) => check(inner, credential.value()),
            Err(ParseError::ForeignPrefix) if *credential.source() == CredentialSource::Bearer => {
                State::Ready(Err(AuthError::missing()))
            }
            Err(_) => {
                tracing::debug!(target: "tower_apikey", outcome = "malformed");
                State::Ready(Err(refused("malformed")))
            }
        };
        ApiKeyFuture { state }
    }

    /// Everything but a store lookup (a cache miss) is settled.
    fn settle(future: &mut ApiKeyFuture) -> Option<Result<ApiKeyIdentity, AuthError>> {
        match mem::replace(&mut future.state, State::Done) {
            State::Ready(result) => Some(result),
            other => {
                future.state = other;
                None
            }
        }
    }

    /// Always known: a key of this prefix was found (whatever its verdict) or it was not.
    fn presence(future: &ApiKeyFuture) -> Presence {
        match &future.state {
            State::Ready(Err(error)) if error.is_missing() => Presence::Absent,
            _ => Presence::Present,
        }
    }
}

type BoxedLookup = Pin<Box<dyn Future<Output = Result<ApiKeyIdentity, AuthError>> + Send>>;

enum State {
    /// Decided without I/O: a cache hit, a known-unknown id, or a refusal.
    Ready(Result<ApiKeyIdentity, AuthError>),
    /// A cache miss: the store lookup (the only boxed path).
    Lookup(BoxedLookup),
    Done,
}

/// The future of [`ApiKeyAuthenticator`]: ready at once on a cache hit (the key is checked
/// while the request is borrowed, with no allocation), a boxed store lookup on a miss.
pub struct ApiKeyFuture {
    state: State,
}

impl ApiKeyFuture {
    fn ready(result: Result<ApiKeyIdentity, AuthError>) -> Self {
        Self {
            state: State::Ready(result),
        }
    }
}

impl fmt::Debug for ApiKeyFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Ready(_) => "ready",
            State::Lookup(_) => "lookup",
            State::Done => "done",
        };
        f.debug_struct("ApiKeyFuture")
            .field("state", &state)
            .finish()
    }
}

fn key_id(key: &str) -> &str {
    let start = key.len() - BODY_LEN;
    &key[start..start + ID_LEN]
}

/// Digests a well-formed `key` and asks the cache; only a miss copies the id and the
/// handle into a boxed store lookup.
fn check(inner: &Arc<Inner>, key: &str) -> State {
    let id = key_id(key);
    let digest = inner.hasher.digest(key);
    match inner.cache.get(id) {
        Lookup::Hit(entry) => State::Ready(inner.cache.verify(&entry, &digest, now())),
        Lookup::Unknown => {
            tracing::debug!(target: "tower_apikey", key_id = id, outcome = "not_found");
            State::Ready(Err(refused("not_found")))
        }
        Lookup::Miss => {
            let inner = Arc::clone(inner);
            let id = id.to_owned();
            State::Lookup(Box::pin(async move {
                let epoch = inner.cache.epoch();
                match inner.store.lookup(&id).await {
                    Ok(record) => match inner.cache.insert(&id, record, epoch) {
                        Some(entry) => inner.cache.verify(&entry, &digest, now()),
                        None => {
                            tracing::debug!(target: "tower_apikey", key_id = id, outcome = "not_found");
                            Err(refused("not_found"))
                        }
                    },
                    Err(error) => {
                        tracing::warn!(target: "tower_apikey", key_id = id, outcome = "store_unavailable", %error);
                        Err(store_unavailable())
                    }
                }
            }))
        }
    }
}

impl Future for ApiKeyFuture {
    type Output = Result<ApiKeyIdentity, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match mem::replace(&mut this.state, State::Done) {
            State::Ready(result) => Poll::Ready(result),
            State::Lookup(mut lookup) => match lookup.as_mut().poll(cx) {
                Poll::Ready(result) => Poll::Ready(result),
                Poll::Pending => {
                    this.state = State::Lookup(lookup);
                    Poll::Pending
                }
            },
            State::Done => panic!("ApiKeyFuture polled after completion"),
        }
    }
}
