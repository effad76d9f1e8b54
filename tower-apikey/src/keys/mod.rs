//! [`ApiKeys`]: the one handle that creates, lists, revokes and rotates keys and
//! authenticates requests, with the cache in front of the store.

mod builder;
mod new_key;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::{AuthLayer, Credentials, StoreError};

pub use builder::ApiKeysBuilder;
pub use new_key::{CreatedKey, KeyError, MAX_METADATA_BYTES, NewKey};

use crate::authenticator::{ApiKeyAuthenticator, ApiKeyLayer};
use crate::cache::KeyCache;
use crate::key::{ApiKey, Env, KeyFormat};
use crate::record::{ApiKeyRecord, Hasher, HourlyUsage, KeyInfo, hour_of, now};
use crate::store::ApiKeyStore;
use new_key::secs;

/// Default lifetime of a cached record: how long a revocation made on *another* instance
/// may go unnoticed.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Default interval between last-used writes for one key.
pub const DEFAULT_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn ApiKeyStore>,
    pub(crate) format: KeyFormat,
    pub(crate) hasher: Hasher,
    pub(crate) cache: KeyCache,
    pub(crate) credentials: Credentials,
    pub(crate) cache_ttl: Duration,
    /// The only environment accepted, if one is configured.
    pub(crate) environment: Option<Env>,
}

/// The API-key handle: management operations and the authenticator share its cache, so a
/// key revoked through it is refused at once by every layer built from it.
///
/// Cloning is cheap (one `Arc`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_apikey::{ApiKeys, MemoryApiKeyStore, NewKey};
///
/// let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build().unwrap();
/// let created = keys.create(NewKey::new("acme").scopes(["read"])).await.unwrap();
/// assert!(created.key.expose().starts_with("sk_live_"));
/// assert_eq!(keys.list(Some("acme")).await.unwrap().len(), 1);
/// assert!(keys.revoke(&created.info.id).await.unwrap());
/// # }
/// ```
#[derive(Clone)]
pub struct ApiKeys {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field("format", &self.inner.format)
            .field("hasher", &self.inner.hasher)
            .field("credentials", &self.inner.credentials)
            .field("cache_ttl", &self.inner.cache_ttl)
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Starts configuring a handle over `store`.
    pub fn builder(store: impl ApiKeyStore) -> ApiKeysBuilder {
        ApiKeysBuilder::new(Arc::new(store))
    }

    /// A handle with the default settings over the SQL store `url` names
    /// (see [`store::connect`](crate::store::connect)): `sqlite://PATH` (created and migrated),
    /// `sqlite::memory:`, or `postgres://…`. [`builder`](ApiKeys::builder) configures more.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let keys = tower_apikey::ApiKeys::connect("sqlite::memory:").await?;
    /// assert!(keys.list(None).await?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// The store's error when the URL is not understood or the database cannot be set up.
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    #[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = crate::store::connect(url).await?;
        // The default settings always build; a refusal would still be reported, not unwrapped.
        Self::builder(store)
            .build()
            .map_err(StoreError::unavailable)
    }

    /// The key format.
    #[must_use]
    pub fn format(&self) -> &KeyFormat {
        &self.inner.format
    }

    /// The store behind the cache.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn ApiKeyStore> {
        &self.inner.store
    }

    /// How long a cached record is trusted: the staleness bound for changes made elsewhere.
    #[must_use]
    pub fn cache_ttl(&self) -> Duration {
        self.inner.cache_ttl
    }

    /// The authenticator for [`AuthLayer`].
    #[must_use]
    pub fn authenticator(&self) -> ApiKeyAuthenticator {
        ApiKeyAuthenticator::new(self.clone())
    }

    /// A required [`ApiKeyLayer`].
    #[must_use]
    pub fn layer(&self) -> ApiKeyLayer {
        AuthLayer::new(self.authenticator())
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    /// Forgets what the cache knows about key `id`; the next request reads the store.
    pub fn invalidate(&self, id: &str) {
        self.inner.cache.invalidate(id);
    }

    /// Creates a key and returns its plaintext, which is not stored anywhere.
    ///
    /// # Errors
    ///
    /// [`KeyError::InvalidInput`] for a bad account, name or scope; otherwise the store's or
    /// the random generator's error.
    pub async fn create(&self, new: NewKey) -> Result<CreatedKey, KeyError> {
        new.validate()?;
        let (record, key) = self.mint(&new)?;
        self.inner.store.create(&record).await?;
        self.invalidate(&record.info.id);
        Ok(CreatedKey {
            key,
            info: record.info,
        })
    }

    fn mint(&self, new: &NewKey) -> Result<(ApiKeyRecord, ApiKey), KeyError> {
        let key = self.inner.format.generate(new.env)?;
        let info = KeyInfo {
            id: key.id().to_owned(),
            env: new.env,
            account: new.account.clone(),
            name: new.name.clone(),
            scopes: new.scopes.clone(),
            display_prefix: key.display_prefix().to_owned(),
            last_four: key.last_four().to_owned(),
            created_at: now(),
            expires_at: new.expires_at,
            not_before: new.not_before,
            revoked_at: None,
            last_used_at: None,
            grace_ends_at: None,
            replaced_by: None,
            tenant: new.tenant.clone(),
            metadata: new.metadata.clone(),
            rate: new.rate,
            quota: new.quota,
        };
        let record = ApiKeyRecord {
            info,
            digest: self.inner.hasher.digest(key.expose()),
        };
        Ok((record, key))
    }

    /// The keys of `account` (every key when `None`), never with a secret or digest.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn list(&self, account: Option<&str>) -> Result<Vec<KeyInfo>, StoreError> {
        self.inner.store.list(account).await
    }

    /// The record of key `id` from the store (not the cache), without its digest: for a
    /// dashboard checking that a key belongs to the user before revoking it.
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn info(&self, id: &str) -> Result<Option<KeyInfo>, StoreError> {
        Ok(self.inner.store.lookup(id).await?.map(|r| r.info))
    }

    /// The requests key `id` made in the last 24 hours, one [`HourlyUsage`] per UTC hour
    /// with traffic (hours without any are absent), oldest first: requests accepted,
    /// requests refused because the key was revoked, expired or not yet valid, and of the
    /// accepted ones those a rate limiter refused next (reported through
    /// [`record_limited`](Self::record_limited)). Counted in
    /// the background with last-use times (so not at all with
    /// [`touch_interval(None)`](crate::ApiKeysBuilder::touch_interval)), written at most
    /// once per touch interval, kept across a store outage; this reads the store, so the
    /// last interval's requests may be missing yet. A request is counted in the hour of the
    /// write that carries it (at most one touch interval later).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use tower_apikey::{ApiKeys, MemoryApiKeyStore, NewKey};
    ///
    /// let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build().unwrap();
    /// let created = keys.create(NewKey::new("acme")).await.unwrap();
    /// assert!(keys.usage(&created.info.id).await.unwrap().is_empty());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The store's error.
    pub async fn usage(&self, id: &str) -> Result<Vec<HourlyUsage>, StoreError> {
        let since = hour_of(now()) - 23 * 3600;
        self.inner.store.usage(id, since).await
    }

    /// Counts one request of key `id` that this handle's layer accepted and a rate limit or
    /// quota then refused: [`usage`](Self::usage) reports it as `limited` (it stays counted
    /// as accepted, since the key was valid). For a limiter's rejection hook, with the id
    /// of the [`ApiKeyIdentity`](crate::ApiKeyIdentity) in the request's extensions.
    ///
    /// Batched like every count: added to the key's cache entry and written in the
    /// background; never waits, never fails (nothing is counted with
    /// [`touch_interval(None)`](crate::ApiKeysBuilder::touch_interval)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use std::time::Duration;
    /// use tower_apikey::{ApiKeys, MemoryApiKeyStore, NewKey};
    ///
    /// let keys = ApiKeys::builder(MemoryApiKeyStore::new())
    ///     .touch_interval(Some(Duration::from_secs(1)))
    ///     .build()
    ///     .unwrap();
    /// let created = keys.create(NewKey::new("acme")).await.unwrap();
    /// // A limiter answered 429 to a request this key made:
    /// keys.record_limited(&created.info.id);
    /// // …written with the next batch, then read back as `limited` by `keys.usage(id)`.
    /// # }
    /// ```
    pub fn record_limited(&self, id: &str) {
        self.inner.cache.count_limited(id);
    }

    /// Revokes key `id`: refused at once by this handle's layers, by other instances
    /// sharing the store within [`cache_ttl`](Self::cache_ttl). `Ok(false)` if it already
    /// was revoked.
    ///
    /// # Errors
    ///
    /// [`StoreErrorKind::NotFound`](auth_core::StoreErrorKind::NotFound) for an unknown id, or the store's error.
    pub async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let revoked = self.inner.store.revoke(id, now()).await;
        self.invalidate(id);
        revoked
    }

    /// Replaces key `id` with a new key of the same account, environment, name, scopes,
    /// expiry, tenant, metadata, rate and quota; the old key keeps working for `grace`, then is refused.
    ///
    /// # Errors
    ///
    /// [`StoreErrorKind::NotFound`](auth_core::StoreErrorKind::NotFound) (as [`KeyError::Store`]) if the key does not exist or is
    /// revoked; otherwise the store's or random generator's error.
    pub async fn rotate(&self, id: &str, grace: Duration) -> Result<CreatedKey, KeyError> {
        let old = self
            .inner
            .store
            .lookup(id)
            .await?
            .filter(|r| r.info.revoked_at.is_none())
            .ok_or_else(|| crate::store::not_found(id))?;
        let new = NewKey {
            account: old.info.account,
            name: old.info.name,
            scopes: old.info.scopes,
            env: old.info.env,
            expires_at: old.info.expires_at,
            not_before: None,
            tenant: old.info.tenant,
            metadata: old.info.metadata,
            rate: old.info.rate,
            quota: old.info.quota,
        };
        let (record, key) = self.mint(&new)?;
        let grace_ends_at = now().saturating_add(secs(grace));
        let rotated = self.inner.store.rotate(id, &record, grace_ends_at).await;
        self.invalidate(id);
        rotated?;
        Ok(CreatedKey {
            key,
            info: record.info,
        })
    }
}
