//! The verified-record cache in front of the store, and batched last-used tracking.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use auth_core::AuthError;
use moka::sync::Cache;
use tokio::sync::mpsc;

use crate::identity::ApiKeyIdentity;
use crate::record::{ApiKeyRecord, KeyDigest};
use crate::store::KeyStore;

/// One cached record with its prebuilt identity.
#[derive(Debug)]
pub(crate) struct CachedKey {
    digest: KeyDigest,
    identity: ApiKeyIdentity,
    /// Last time a use was queued for writing (Unix seconds).
    touched: AtomicI64,
}

impl CachedKey {
    pub(crate) fn new(record: ApiKeyRecord) -> Self {
        let touched = record.info.last_used_at.unwrap_or(i64::MIN);
        Self {
            digest: record.digest,
            identity: ApiKeyIdentity::new(record.info),
            touched: AtomicI64::new(touched),
        }
    }
}

/// The single 401 every refused key gets; only the logged reason differs.
pub(crate) fn refused(reason: &'static str) -> AuthError {
    AuthError::invalid_credential("the API key is not valid").with_reason(reason)
}

pub(crate) fn store_unavailable() -> AuthError {
    AuthError::unavailable("the API key store is unavailable; try again shortly")
        .with_reason("store_unavailable")
}

/// Positive and negative caches, plus the touch queue.
#[derive(Debug)]
pub(crate) struct KeyCache {
    positive: Cache<Arc<str>, Arc<CachedKey>>,
    negative: Cache<Arc<str>, ()>,
    /// Bumped by every invalidation: a store read that raced one is not cached.
    epoch: AtomicU64,
    touch: Option<Toucher>,
}

#[derive(Debug)]
struct Toucher {
    tx: mpsc::Sender<(Arc<str>, i64)>,
    interval_secs: i64,
}

pub(crate) struct CacheConfig {
    pub(crate) ttl: Duration,
    pub(crate) capacity: u64,
    pub(crate) negative_ttl: Duration,
    pub(crate) negative_capacity: u64,
    pub(crate) touch_interval: Option<Duration>,
}

pub(crate) enum Lookup {
    Hit(Arc<CachedKey>),
    Unknown,
    Miss,
}

impl KeyCache {
    /// Builds the caches; spawns the touch writer on the current Tokio runtime if asked.
    pub(crate) fn new(config: &CacheConfig, store: Arc<dyn KeyStore>) -> Self {
        let touch = config.touch_interval.map(|interval| {
            let (tx, rx) = mpsc::channel(4096);
            tokio::spawn(write_touches(store, rx, interval));
            Toucher {
                tx,
                interval_secs: i64::try_from(interval.as_secs().max(1)).unwrap_or(i64::MAX),
            }
        });
        Self {
            positive: Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.ttl)
                .build(),
            negative: Cache::builder()
                .max_capacity(config.negative_capacity)
                .time_to_live(config.negative_ttl)
                .build(),
            epoch: AtomicU64::new(0),
            touch,
        }
    }

    pub(crate) fn get(&self, id: &str) -> Lookup {
        if let Some(hit) = self.positive.get(id) {
            Lookup::Hit(hit)
        } else if self.negative.contains_key(id) {
            Lookup::Unknown
        } else {
            Lookup::Miss
        }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches a store answer unless an invalidation happened since `epoch` was read.
    pub(crate) fn insert(
        &self,
        id: &str,
        record: Option<ApiKeyRecord>,
        epoch: u64,
    ) -> Option<Arc<CachedKey>> {
        let entry = record.map(|r| Arc::new(CachedKey::new(r)));
        if self.epoch() != epoch {
            return entry;
        }
        match &entry {
            Some(e) => self.positive.insert(Arc::from(id), Arc::clone(e)),
            None => self.negative.insert(Arc::from(id), ()),
        }
        // An invalidation that slipped in between the check and the insert wins.
        if self.epoch() != epoch {
            self.positive.invalidate(id);
            self.negative.invalidate(id);
        }
        entry
    }

    #[cfg(feature = "postgres")]
    pub(crate) fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.positive.invalidate_all();
        self.negative.invalidate_all();
    }

    pub(crate) fn invalidate(&self, id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.positive.invalidate(id);
        self.negative.invalidate(id);
    }

    /// Checks a presented key against a cached record at `now`.
    pub(crate) fn verify(
        &self,
        entry: &CachedKey,
        digest: &KeyDigest,
        now: i64,
    ) -> Result<ApiKeyIdentity, AuthError> {
        let id = entry.identity.id();
        if entry.digest != *digest {
            tracing::debug!(target: "tower_apikey", key_id = id, outcome = "not_found", "wrong secret");
            return Err(refused("not_found"));
        }
        if let Err(invalid) = entry.identity.key().check(now) {
            tracing::debug!(target: "tower_apikey", key_id = id, outcome = invalid.reason());
            return Err(refused(invalid.reason()));
        }
        self.touch(entry, now);
        tracing::trace!(target: "tower_apikey", key_id = id, outcome = "valid");
        Ok(entry.identity.clone())
    }

    /// Queues a last-used write at most once per interval per key; never waits.
    fn touch(&self, entry: &CachedKey, now: i64) {
        let Some(toucher) = &self.touch else { return };
        let last = entry.touched.load(Ordering::Relaxed);
        if now.saturating_sub(last) < toucher.interval_secs {
            return;
        }
        if entry
            .touched
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            // A full queue drops the update: last-used is advisory, never worth a wait.
            let _ = toucher.tx.try_send((Arc::from(entry.identity.id()), now));
        }
    }
}

/// Collects uses and writes them once per interval, deduplicated per key; a batch the store
/// refused is kept and written with the next one.
async fn write_touches(
    store: Arc<dyn KeyStore>,
    mut rx: mpsc::Receiver<(Arc<str>, i64)>,
    interval: Duration,
) {
    let mut pending: HashMap<Arc<str>, i64> = HashMap::new();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            used = rx.recv() => match used {
                Some((id, at)) => {
                    let slot = pending.entry(id).or_insert(at);
                    *slot = (*slot).max(at);
                }
                None => {
                    flush(&*store, &mut pending).await;
                    return;
                }
            },
            _ = tick.tick() => flush(&*store, &mut pending).await,
        }
    }
}

async fn flush(store: &dyn KeyStore, pending: &mut HashMap<Arc<str>, i64>) {
    if pending.is_empty() {
        return;
    }
    let batch: Vec<(String, i64)> = pending
        .drain()
        .map(|(id, at)| (id.to_string(), at))
        .collect();
    if let Err(error) = store.touch(&batch).await {
        // Kept for the next tick (one entry per key, so at most one per key in use): the
        // uses made while the store was down are written once it is back.
        tracing::warn!(target: "tower_apikey", %error, keys = batch.len(), "could not record last use; kept for the next write");
        for (id, at) in batch {
            let slot = pending.entry(Arc::from(id)).or_insert(at);
            *slot = (*slot).max(at);
        }
    }
}
