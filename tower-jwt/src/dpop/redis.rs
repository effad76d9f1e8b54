//! [`RedisDpopReplayStore`]: used DPoP proofs shared by every instance (feature `redis`).

use std::fmt;
use std::fmt::Write as _;
use std::time::Duration;

use async_trait::async_trait;
use auth_core::{ConfigError, ConfigErrorKind, StoreError};
use redis::aio::ConnectionManager;

use super::DpopReplayStore;

const DEFAULT_PREFIX: &str = "tower-jwt:dpop:";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// Used proofs recorded in Redis, so a proof accepted by one instance is refused by all:
/// one `SET {prefix}{hex key} 1 NX PX {ttl}` per proof, atomic in Redis (the first instance
/// to record a proof wins, every other sees a replay). Keys expire with the proof's
/// acceptance window.
///
/// When Redis does not answer within the [`timeout`](RedisDpopReplayStoreBuilder::timeout)
/// (default 1 s), DPoP requests get 503: a proof whose freshness cannot be checked is not
/// accepted; the connection manager reconnects in the background for the next request.
///
/// ```no_run
/// use std::sync::Arc;
/// use tower_jwt::dpop::RedisDpopReplayStore;
///
/// # async fn run() -> Result<(), auth_core::ConfigError> {
/// let store = RedisDpopReplayStore::builder("redis://127.0.0.1:6379").connect().await?;
/// # let _ = Arc::new(store); Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisDpopReplayStore {
    connection: ConnectionManager,
    prefix: String,
    timeout: Duration,
}

/// Builds a [`RedisDpopReplayStore`].
#[derive(Clone)]
#[must_use]
pub struct RedisDpopReplayStoreBuilder {
    url: String,
    prefix: String,
    timeout: Duration,
}

/// Leaves the URL out: it may carry the Redis password.
impl fmt::Debug for RedisDpopReplayStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDpopReplayStoreBuilder")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RedisDpopReplayStore {
    /// A builder for a store on the Redis at `url` (e.g. `redis://127.0.0.1:6379`).
    pub fn builder(url: impl Into<String>) -> RedisDpopReplayStoreBuilder {
        RedisDpopReplayStoreBuilder {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl RedisDpopReplayStoreBuilder {
    /// The prefix of every key (default `tower-jwt:dpop:`); instances sharing proofs must
    /// use the same one.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long one check waits for Redis before answering 503 (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Connects (within the timeout).
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] for a URL that is not a Redis URL or a zero timeout,
    /// [`ConfigErrorKind::Setup`] when Redis cannot be reached.
    pub async fn connect(self) -> Result<RedisDpopReplayStore, ConfigError> {
        if self.timeout.is_zero() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "timeout",
                "the Redis timeout must be positive",
            ));
        }
        let client = redis::Client::open(self.url.as_str()).map_err(|_| {
            ConfigError::new(ConfigErrorKind::InvalidValue, "url", "not a Redis URL")
        })?;
        let connection = tokio::time::timeout(self.timeout, client.get_connection_manager())
            .await
            .map_err(|_| "timed out".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map_err(|e| {
                ConfigError::new(
                    ConfigErrorKind::Setup,
                    "url",
                    format!("cannot connect to Redis: {e}"),
                )
            })?;
        Ok(RedisDpopReplayStore {
            connection,
            prefix: self.prefix,
            timeout: self.timeout,
        })
    }
}

impl fmt::Debug for RedisDpopReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDpopReplayStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl DpopReplayStore for RedisDpopReplayStore {
    async fn first_use(&self, proof: &[u8; 32], ttl: Duration) -> Result<bool, StoreError> {
        let mut key = String::with_capacity(self.prefix.len() + 64);
        key.push_str(&self.prefix);
        for byte in proof {
            let _ = write!(key, "{byte:02x}");
        }
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let mut connection = self.connection.clone();
        let mut command = redis::cmd("SET");
        command.arg(&key).arg(1).arg("NX").arg("PX").arg(millis);
        let set = command.query_async::<Option<String>>(&mut connection);
        match tokio::time::timeout(self.timeout, set).await {
            Ok(Ok(reply)) => Ok(reply.is_some()),
            Ok(Err(e)) => Err(StoreError::unavailable(e)),
            Err(elapsed) => Err(StoreError::unavailable(elapsed)),
        }
    }
}

#[cfg(test)]
mod debug_tests {
    #[test]
    fn the_builder_never_prints_the_url_and_its_password() {
        let builder = super::RedisDpopReplayStore::builder("redis://:s3cret@127.0.0.1:6379");
        let printed = format!("{builder:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("prefix"), "{printed}");
    }
}
