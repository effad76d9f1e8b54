//! [`ApiKeysBuilder`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use auth_core::Credentials;
use auth_core::{ConfigError, ConfigErrorKind};

use super::{ApiKeys, DEFAULT_CACHE_TTL, DEFAULT_TOUCH_INTERVAL, Inner};
use crate::cache::{CacheConfig, KeyCache};
use crate::key::{Env, KeyFormat};
use crate::record::Hasher;
use crate::store::ApiKeyStore;

/// Configures [`ApiKeys`]. Every setting has a secure default.
#[must_use]
pub struct ApiKeysBuilder {
    store: Arc<dyn ApiKeyStore>,
    format: KeyFormat,
    pepper: Option<Vec<u8>>,
    cache: CacheConfig,
    credentials: Credentials,
    environment: Option<Env>,
}

impl fmt::Debug for ApiKeysBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeysBuilder")
            .field("format", &self.format)
            .field("pepper", &self.pepper.as_ref().map(|_| "[redacted]"))
            .field("cache_ttl", &self.cache.ttl)
            .field("credentials", &self.credentials)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

impl ApiKeysBuilder {
    /// Defaults: prefix `sk`, SHA-256, 30 s cache for 100 000 keys, negative cache of
    /// 10 000 ids for 30 s, last use written at most once a minute per key, credentials
    /// from `Authorization: Bearer` or `X-API-Key`.
    pub fn new(store: Arc<dyn ApiKeyStore>) -> Self {
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
            environment: None,
        }
    }

    /// Accept only keys of `environment`: a deployment configured for `live` refuses
    /// `sk_test_…` keys found in its store, and the reverse, with the same 401 as an unknown
    /// key (reason `wrong_environment`). By default keys of either environment work.
    pub fn environment(mut self, environment: Env) -> Self {
        self.environment = Some(environment);
        self
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
                environment: self.environment,
            }),
        })
    }
}
