//! [`ApiKeyAuthenticator`]: the [`Authenticate`] implementation.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use auth_core::{AuthError, AuthLayer, Authenticate, CheckFuture, Outcome};
use http::Request;

use crate::cache::{Lookup, refused};
use crate::identity::ApiKeyIdentity;
use crate::key::{BODY_LEN, ID_LEN, ParseError};
use crate::keys::{ApiKeys, Inner};

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
    type Future = CheckFuture<ApiKeyIdentity>;

    /// Decided at once unless the cache misses: the key is checked while the request is
    /// borrowed, with no allocation; only a store lookup waits (boxed).
    fn authenticate(&mut self, request: &Request<B>) -> Outcome<ApiKeyIdentity, Self::Future> {
        let inner = &self.keys.inner;
        // Borrowed from the request: a cache hit never copies the key.
        let credential = match inner.credentials.find(request) {
            Ok(credential) => credential,
            Err(error) => return Outcome::from(Err(error)),
        };
        match inner.format.parse(credential.value()) {
            Ok(parsed) if inner.environment.is_some_and(|env| env != parsed.env()) => {
                tracing::debug!(target: "tower_apikey", key_id = parsed.id(), outcome = "wrong_environment");
                Outcome::Decided(Err(refused("wrong_environment")))
            }
            Ok(_) => check(inner, credential.value()),
            Err(ParseError::ForeignPrefix) if credential.is_bearer() => Outcome::Missing,
            Err(_) => {
                tracing::debug!(target: "tower_apikey", outcome = "malformed");
                Outcome::Decided(Err(refused("malformed")))
            }
        }
    }
}

fn key_id(key: &str) -> &str {
    let start = key.len() - BODY_LEN;
    &key[start..start + ID_LEN]
}

/// Digests a well-formed `key` and asks the cache; only a miss copies the id and the
/// handle into a store lookup.
fn check(inner: &Arc<Inner>, key: &str) -> Outcome<ApiKeyIdentity, CheckFuture<ApiKeyIdentity>> {
    let id = key_id(key);
    let digest = inner.hasher.digest(key);
    let now = Instant::now();
    match inner.cache.get(id, now) {
        Lookup::Hit(entry) => Outcome::Decided(inner.cache.verify(&entry, &digest, now)),
        Lookup::Unknown => {
            tracing::debug!(target: "tower_apikey", key_id = id, outcome = "not_found");
            Outcome::Decided(Err(refused("not_found")))
        }
        Lookup::Miss => {
            let inner = Arc::clone(inner);
            let id = id.to_owned();
            Outcome::Pending(CheckFuture::new(async move {
                let epoch = inner.cache.epoch();
                match inner.store.lookup(&id).await {
                    Ok(record) => match inner.cache.insert(&id, record, epoch, Instant::now()) {
                        Some(entry) => inner.cache.verify(&entry, &digest, Instant::now()),
                        None => {
                            tracing::debug!(target: "tower_apikey", key_id = id, outcome = "not_found");
                            Err(refused("not_found"))
                        }
                    },
                    Err(error) => {
                        tracing::debug!(target: "tower_apikey", key_id = id, outcome = "store_unavailable");
                        // Logs the store's cause and answers 503.
                        Err(AuthError::from(error))
                    }
                }
            }))
        }
    }
}
