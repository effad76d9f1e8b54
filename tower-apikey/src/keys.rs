//! [`ApiKeys`]: the one handle that creates, lists, revokes and rotates keys and
//! authenticates requests, with the cache in front of the store.

use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use auth_core::credential::Credentials;
use auth_core::{AuthLayer, ConfigError, ConfigErrorKind};

use crate::authenticator::{ApiKeyAuthenticator, ApiKeyLayer};
use crate::cache::{CacheConfig, KeyCache};
use crate::key::{ApiKey, Env, KeyFormat, RandomError};
use crate::record::{ApiKeyRecord, Hasher, KeyInfo, now};
use crate::store::{KeyStore, StoreError};

/// Default lifetime of a cached record: how long a revocation made on *another* instance
/// may go unnoticed.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30);
/// Default interval between last-used writes for one key.
pub const DEFAULT_TOUCH_INTERVAL: Duration = Duration::from_secs(60);

/// A key-management operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An argument is not acceptable (empty account, a scope with a space…).
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The argument.
        field: &'static str,
        /// What is wrong with it.
        message: &'static str,
    },
    /// No randomness.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What to create: [`ApiKeys::create`] fills in the key, id and timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The owner; becomes the principal's subject.
    pub account: String,
    /// A human name.
    pub name: Option<String>,
    /// Granted scopes (RFC 6749 scope tokens).
    pub scopes: Vec<String>,
    /// `live` (default) or `test`.
    pub env: Env,
    /// Refused from this instant (Unix seconds).
    pub expires_at: Option<i64>,
    /// Refused before this instant (Unix seconds).
    pub not_before: Option<i64>,
}

impl NewKey {
    /// A live key for `account`, no scopes, no expiry.
    pub fn new(account: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            name: None,
            scopes: Vec::new(),
            env: Env::Live,
            expires_at: None,
            not_before: None,
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the scopes.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the environment.
    #[must_use]
    pub fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// Expires `ttl` from now.
    #[must_use]
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.expires_at = Some(now().saturating_add(secs(ttl)));
        self
    }

    /// Expires at `at` (Unix seconds).
    #[must_use]
    pub fn expires_at(mut self, at: i64) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Not valid before `at` (Unix seconds).
    #[must_use]
    pub fn not_before(mut self, at: i64) -> Self {
        self.not_before = Some(at);
        self
    }

    fn validate(&self) -> Result<(), KeyError> {
        let text_ok = |s: &str| s.len() <= 256 && !s.chars().any(char::is_control);
        if self.account.is_empty() || !text_ok(&self.account) {
            return Err(KeyError::InvalidInput {
                field: "account",
                message: "must be 1 to 256 characters without control characters",
            });
        }
        if self.name.as_deref().is_some_and(|n| !text_ok(n)) {
            return Err(KeyError::InvalidInput {
                field: "name",
                message: "must be at most 256 characters without control characters",
            });
        }
        // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        let scope_ok = |s: &String| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        };
        if !self.scopes.iter().all(scope_ok) {
            return Err(KeyError::InvalidInput {
                field: "scopes",
                message: "each scope must be a non-empty RFC 6749 scope token",
            });
        }
        Ok(())
    }
}

/// A key just created or rotated: the plaintext (shown once) and its record.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The plaintext key; `Debug` redacts it.
    pub key: ApiKey,
    /// The stored record, without the digest.
    pub info: KeyInfo,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn KeyStore>,
    pub(crate) format: KeyFormat,
    pub(crate) hasher: Hasher,
    pub(crate) cache: KeyCache,
    pub(crate) credentials: Credentials,
    pub(crate) cache_ttl: Duration,
}

/// The API-key handle: management operations and the authenticator share its cache, so a
/// key revoked through it is refused at once by every layer built from it.
///
/// Cloning is cheap (one `Arc`).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tower_apikey::{ApiKeys, MemoryStore, NewKey};
///
/// let keys = ApiKeys::builder(MemoryStore::new()).build().unwrap();
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
    pub fn builder(store: impl KeyStore) -> ApiKeysBuilder {
        ApiKeysBuilder::new(Arc::new(store))
    }

    /// The key format.
    #[must_use]
    pub fn format(&self) -> &KeyFormat {
        &self.inner.format
    }

    /// The store behind the cache.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn KeyStore> {
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

    pub(crate) fn downgrade(&self) -> Weak<Inner> {
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

    /// Revokes key `id`: refused at once by this handle's layers, by other instances
    /// sharing the store within [`cache_ttl`](Self::cache_ttl). `Ok(false)` if it already
    /// was revoked.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown id, or the store's error.
    pub async fn revoke(&self, id: &str) -> Result<bool, StoreError> {
        let revoked = self.inner.store.revoke(id, now()).await;
        self.invalidate(id);
        revoked
    }

    /// Replaces key `id` with a new key of the same account, environment, name, scopes and
    /// expiry; the old key keeps working for `grace`, then is refused.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] (as [`KeyError::Store`]) if the key does not exist or is
    /// revoked; otherwise the store's or random generator's error.
    pub async fn rotate(&self, id: &str, grace: Duration) -> Result<CreatedKey, KeyError> {
        let old = self
            .inner
            .store
            .lookup(id)
            .await?
            .filter(|r| r.info.revoked_at.is_none())
            .ok_or(StoreError::NotFound)?;
        let new = NewKey {
            account: old.info.account,
            name: old.info.name,
            scopes: old.info.scopes,
            env: old.info.env,
            expires_at: old.info.expires_at,
            not_before: None,
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

/// Configures [`ApiKeys`]. Every setting has a secure default.
#[must_use]
pub struct ApiKeysBuilder {
    store: Arc<dyn KeyStore>,
    format: KeyFormat,
    pepper: Option<Vec<u8>>,
    cache: CacheConfig,
    credentials: Credentials,
}

impl fmt::Debug for ApiKeysBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeysBuilder")
            .field("format", &self.format)
            .field("pepper", &self.pepper.as_ref().map(|_| "[redacted]"))
            .field("cache_ttl", &self.cache.ttl)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

impl ApiKeysBuilder {
    /// Defaults: prefix `sk`, SHA-256, 30 s cache for 100 000 keys, negative cache of
    /// 10 000 ids for 30 s, last use written at most once a minute per key, credentials
    /// from `Authorization: Bearer` or `X-API-Key`.
    pub fn new(store: Arc<dyn KeyStore>) -> Self {
        Self {
            store,
            format: KeyFormat::default(),
            pepper: None,
            cache: CacheConfig {
                ttl: DEFAULT_CACHE_TTL,
                capacity: 100_000,
                negative_ttl: DEFAULT_CACHE_TTL,
                negative_capacity: 10_000,
                touch_interval: Some(DEFAULT_TOUCH_INTERVAL),
            },
            credentials: Credentials::bearer().or_header("x-api-key"),
        }
    }

    /// The key format (type prefix).
    pub fn format(mut self, format: KeyFormat) -> Self {
        self.format = format;
        self
    }

    /// Digest keys with HMAC-SHA-256 under this server-side secret (at least 32 bytes).
    /// Every instance and the CLI must use the same pepper.
    pub fn pepper(mut self, pepper: impl Into<Vec<u8>>) -> Self {
        self.pepper = Some(pepper.into());
        self
    }

    /// How long a record stays cached (default 30 s, at most 1 hour): the bound on how long
    /// a revocation made on another instance can go unnoticed.
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache.ttl = ttl;
        self
    }

    /// How many records the cache holds (default 100 000).
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        self.cache.capacity = capacity;
        self
    }

    /// How long an unknown id is remembered (default 30 s).
    pub fn negative_cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache.negative_ttl = ttl;
        self
    }

    /// How many unknown ids are remembered (default 10 000).
    pub fn negative_cache_capacity(mut self, capacity: u64) -> Self {
        self.cache.negative_capacity = capacity;
        self
    }

    /// Interval of last-used writes per key (default 60 s); `None` disables tracking.
    /// When enabled, [`build`](Self::build) must run inside a Tokio runtime.
    pub fn touch_interval(mut self, interval: Option<Duration>) -> Self {
        self.cache.touch_interval = interval;
        self
    }

    /// Where keys are read from (default `Authorization: Bearer`, then `X-API-Key`).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// Also accept the key in query parameter `name`. Insecure: URLs end up in logs and
    /// `Referer` headers.
    pub fn insecure_allow_query(mut self, name: impl Into<String>) -> Self {
        self.credentials = self.credentials.or_insecure_query(name);
        self
    }

    /// Checks the configuration and builds the handle.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::WeakKey`] for a pepper under 32 bytes,
    /// [`ConfigErrorKind::InvalidValue`] for a zero or over-an-hour cache TTL, a zero
    /// capacity or touch interval, [`ConfigErrorKind::Setup`] when last-used tracking is on
    /// and no Tokio runtime is running.
    pub fn build(self) -> Result<ApiKeys, ConfigError> {
        let hasher = match &self.pepper {
            None => Hasher::sha256(),
            Some(p) => Hasher::with_pepper(p).ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::WeakKey,
                    "pepper",
                    "must be at least 32 bytes",
                )
            })?,
        };
        let invalid =
            |field, message| ConfigError::new(ConfigErrorKind::InvalidValue, field, message);
        let hour = Duration::from_secs(3600);
        if self.cache.ttl.is_zero() || self.cache.ttl > hour {
            return Err(invalid("cache_ttl", "must be between 1 ms and 1 hour"));
        }
        if self.cache.negative_ttl.is_zero() || self.cache.negative_ttl > hour {
            return Err(invalid(
                "negative_cache_ttl",
                "must be between 1 ms and 1 hour",
            ));
        }
        if self.cache.capacity == 0 || self.cache.negative_capacity == 0 {
            return Err(invalid("cache_capacity", "must be at least 1"));
        }
        if self
            .cache
            .touch_interval
            .is_some_and(|i| i < Duration::from_secs(1))
        {
            return Err(invalid("touch_interval", "must be at least 1 s"));
        }
        if self.cache.touch_interval.is_some() && tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::new(
                ConfigErrorKind::Setup,
                "touch_interval",
                "last-used tracking needs a Tokio runtime: build inside one or disable it",
            ));
        }
        let cache = KeyCache::new(&self.cache, Arc::clone(&self.store));
        Ok(ApiKeys {
            inner: Arc::new(Inner {
                store: self.store,
                format: self.format,
                hasher,
                cache,
                credentials: self.credentials,
                cache_ttl: self.cache.ttl,
            }),
        })
    }
}
