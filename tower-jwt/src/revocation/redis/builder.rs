//! Building and running a [`RedisRevocationStore`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{
    ConfigError, ConfigErrorKind, ConnectionManager, ConnectionManagerConfig,
    MemoryRevocationStore, RETRY_DELAY, RedisRevocationStore, Shared, StreamExt, Tasks,
    WATCHDOG_TICK,
};

/// Builds a [`RedisRevocationStore`]; see [`RedisRevocationStore::builder`].
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Debug, Clone)]
#[must_use]
pub struct RedisRevocationStoreBuilder {
    pub(super) url: String,
    pub(super) prefix: String,
    pub(super) leeway: Duration,
    pub(super) max_staleness: Duration,
    pub(super) heartbeat: Duration,
    pub(super) timeout: Duration,
    pub(super) fail_open: bool,
}

impl RedisRevocationStoreBuilder {
    /// Prefix of the Redis key and channel (default `tower-jwt:`); instances sharing
    /// revocations use the same prefix, separate applications (or tests) different ones.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Leeway added to each revocation's expiry (default 30 s, at most 300 s); at least the
    /// largest leeway of the verifiers using the store, which refuse to build otherwise.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How long after the last successful heartbeat the store stops vouching for freshness
    /// (default 5 s).
    pub fn max_staleness(mut self, bound: Duration) -> Self {
        self.max_staleness = bound;
        self
    }

    /// Interval of the `PING` heartbeat on the subscription connection (default 1 s).
    pub fn heartbeat(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    /// Timeout of each Redis connection attempt and command (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// When the store cannot vouch for freshness, answer "active" instead of "unavailable"
    /// (503): availability over revocation freshness. Revocations known locally are still
    /// enforced.
    pub fn insecure_fail_open(mut self) -> Self {
        self.fail_open = true;
        self
    }

    /// Connects, subscribes, loads every live revocation, then returns the store; two
    /// background tasks keep it in sync (and reconnect) until the last clone is dropped.
    /// Needs a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid setting or URL, or when Redis cannot be reached within
    /// the timeout ([`ConfigErrorKind::Setup`]).
    pub async fn connect(self) -> Result<RedisRevocationStore, ConfigError> {
        if self.heartbeat.is_zero() || self.timeout.is_zero() {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "heartbeat",
                "the heartbeat and timeout must be positive",
            ));
        }
        if self.max_staleness < self.heartbeat {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "max_staleness",
                "must be at least the heartbeat interval",
            ));
        }
        let memory = MemoryRevocationStore::builder()
            .leeway(self.leeway)
            .build()?;
        let client = redis::Client::open(self.url.as_str()).map_err(|_| {
            ConfigError::new(ConfigErrorKind::InvalidValue, "url", "not a Redis URL")
        })?;
        let setup = |error: &dyn std::fmt::Display| {
            ConfigError::new(
                ConfigErrorKind::Setup,
                "redis",
                format!("cannot reach Redis: {error}"),
            )
        };
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let connection = tokio::time::timeout(
            self.timeout,
            ConnectionManager::new_with_config(client.clone(), config),
        )
        .await
        .map_err(|error| setup(&error))?
        .map_err(|error| setup(&error))?;

        let shared = Arc::new(Shared {
            memory,
            connection,
            key: format!("{}revocations", self.prefix),
            fail_open: self.fail_open,
            timeout: self.timeout,
            fresh: AtomicBool::new(false),
            last_healthy: AtomicU64::new(0),
            started: Instant::now(),
        });
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let sync = tokio::spawn(sync_loop(
            Arc::clone(&shared),
            client,
            self.clone(),
            Some(ready_tx),
        ));
        let tasks = Tasks(vec![sync]);
        match tokio::time::timeout(self.timeout * 3, ready_rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => return Err(setup(&error)),
            Ok(Err(_)) | Err(_) => return Err(setup(&"no answer in time")),
        }
        shared.mark_healthy();
        shared.fresh.store(true, Ordering::Release);
        let watchdog = tokio::spawn(watchdog(Arc::clone(&shared), self.max_staleness));
        let mut tasks = tasks;
        tasks.0.push(watchdog);
        Ok(RedisRevocationStore {
            shared,
            _tasks: Arc::new(tasks),
        })
    }
}

/// Flips `fresh` from the age of the last healthy moment, every 100 ms.
async fn watchdog(shared: Arc<Shared>, max_staleness: Duration) {
    let bound = u64::try_from(max_staleness.as_millis()).unwrap_or(u64::MAX);
    let mut tick = tokio::time::interval(WATCHDOG_TICK);
    loop {
        tick.tick().await;
        let now = u64::try_from(shared.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let age = now.saturating_sub(shared.last_healthy.load(Ordering::Acquire));
        let fresh = age <= bound;
        if shared.fresh.swap(fresh, Ordering::AcqRel) != fresh {
            if fresh {
                tracing::info!("revocation store in sync with Redis again");
            } else {
                tracing::warn!(
                    age_ms = age,
                    "revocation store lost Redis; cannot vouch for freshness"
                );
            }
        }
    }
}

/// Keeps one subscription alive: subscribe, load the set, apply messages, heartbeat; on any
/// failure, retry after a short delay. `ready` reports the first sync.
async fn sync_loop(
    shared: Arc<Shared>,
    client: redis::Client,
    config: RedisRevocationStoreBuilder,
    mut ready: Option<tokio::sync::oneshot::Sender<redis::RedisResult<()>>>,
) {
    loop {
        let result = session(&shared, &client, &config, &mut ready).await;
        if let Some(ready) = ready.take() {
            let _ = ready.send(result);
            return;
        }
        if let Err(error) = result {
            tracing::warn!(%error, "revocation subscription lost; reconnecting");
        }
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

async fn session(
    shared: &Shared,
    client: &redis::Client,
    config: &RedisRevocationStoreBuilder,
    ready: &mut Option<tokio::sync::oneshot::Sender<redis::RedisResult<()>>>,
) -> redis::RedisResult<()> {
    let timeout = config.timeout;
    let pubsub = within(timeout, client.get_async_pubsub()).await?;
    let (mut sink, mut stream) = pubsub.split();
    // Subscribe before loading, so nothing published in between is lost.
    within(timeout, sink.subscribe(&shared.key)).await?;
    within(timeout * 2, shared.load()).await?;
    if ready.is_none() {
        // A reconnection: Redis may have come back empty.
        let republished = within(timeout * 2, shared.republish()).await?;
        tracing::info!(
            republished,
            "revocation subscription restored; local revocations republished"
        );
    }
    shared.mark_healthy();
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(()));
    }
    let mut heartbeat = tokio::time::interval(config.heartbeat);
    heartbeat.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return Err(redis::RedisError::from((
                        redis::ErrorKind::Io,
                        "subscription closed",
                    )));
                };
                if let Ok(payload) = message.get_payload::<String>() {
                    shared.apply(&payload);
                }
                shared.mark_healthy();
            }
            _ = heartbeat.tick() => {
                within(timeout, sink.ping::<redis::Value>()).await?;
                shared.mark_healthy();
            }
        }
    }
}

async fn within<T>(
    timeout: Duration,
    future: impl Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    tokio::time::timeout(timeout, future)
        .await
        .unwrap_or_else(|_| Err(redis::RedisError::from((redis::ErrorKind::Io, "timed out"))))
}
