//! The verified-record cache in front of the store, and batched last-used tracking and
//! usage counts.
//!
//! Two `quick_cache` maps (S3-FIFO, sharded), both keyed on the 12-byte key id: records the
//! store returned, each with its prebuilt identity, and ids the store did not know. Each
//! entry carries the instant it stops being trusted (the cache TTL, or the negative TTL),
//! checked on every read: a read past it is a miss and drops the entry, if it is still the
//! one read. No background task, no read log: a hit is a hash of the id, a shard read lock
//! and a reference-count increment (moka, used before, kept a read log for its eviction
//! policy and cost about four times as much per hit).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use auth_core::AuthError;
use quick_cache::sync::Cache;
use tokio::sync::mpsc;

use crate::identity::ApiKeyIdentity;
use crate::key::ID_LEN;
use crate::record::{self, ApiKeyRecord, HourlyUsage, KeyDigest};
use crate::store::ApiKeyStore;
use touch::{Note, write_touches};

#[cfg(test)]
mod tests;
mod touch;

/// A key id as the caches hold it: its [`ID_LEN`] bytes in one integer, which hashes in
/// one step.
type Id = u128;
const _: () = assert!(ID_LEN <= 16, "a key id fits in an Id");

/// `id` as a cache key; `None` for a string that is no key id (nothing is cached under it).
fn slot(id: &str) -> Option<Id> {
    let bytes: &[u8; ID_LEN] = id.as_bytes().try_into().ok()?;
    let mut wide = [0; 16];
    wide[..ID_LEN].copy_from_slice(bytes);
    Some(u128::from_le_bytes(wide))
}

/// `now + ttl`, or `now` (already stale) where `Instant` cannot hold the sum.
fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl).unwrap_or(now)
}

/// One cached record with its prebuilt identity.
#[derive(Debug)]
pub(crate) struct CachedKey {
    digest: KeyDigest,
    identity: ApiKeyIdentity,
    /// From this instant on the record is stale: the next read asks the store again.
    stale_at: Instant,
    /// Whether the record's validity depends on the time (an expiry or a not-before): only
    /// then does a use read the wall clock to check it.
    timed: bool,
    /// Before this instant no use is worth recording: the touch interval since the last
    /// recorded use has not passed (checked again with the wall clock once it has).
    touch_from: Instant,
    /// Set once a use of this entry was queued for writing.
    touched_once: AtomicBool,
    /// Last time a use was queued for writing (Unix seconds).
    touched: AtomicI64,
    /// Requests accepted since the writer last took the counts.
    accepted: AtomicU64,
    /// Requests refused (revoked, expired, not yet valid) since the writer last took them.
    refused: AtomicU64,
    /// Accepted requests a rate limiter refused, since the writer last took them.
    limited: AtomicU64,
    /// Whether the writer holds this entry, to take its counts at its next write.
    counted: AtomicBool,
}

impl CachedKey {
    /// Takes the counts gathered since the last call, as counts of `hour`. The writer
    /// releases the entry first, so a request counted after the take queues it again.
    pub(super) fn take_counts(&self, hour: i64) -> HourlyUsage {
        self.counted.store(false, Ordering::SeqCst);
        HourlyUsage {
            hour,
            accepted: self.accepted.swap(0, Ordering::SeqCst),
            refused: self.refused.swap(0, Ordering::SeqCst),
            limited: self.limited.swap(0, Ordering::SeqCst),
        }
    }

    pub(super) fn id(&self) -> &str {
        self.identity.id()
    }
}

impl CachedKey {
    /// `record` as cached at `at`, stale at `stale_at`; uses are recorded at most every
    /// `touch_interval` seconds.
    fn new(record: ApiKeyRecord, at: Instant, stale_at: Instant, touch_interval: i64) -> Self {
        let last_used = record.info.last_used_at;
        let wait = last_used.map_or(0, |last| {
            last.saturating_add(touch_interval)
                .saturating_sub(record::now())
        });
        let touch_from = match u64::try_from(wait) {
            Ok(secs) if secs > 0 => deadline(at, Duration::from_secs(secs)),
            _ => at,
        };
        Self {
            digest: record.digest,
            timed: record.info.is_time_bound(),
            identity: ApiKeyIdentity::new(record.info),
            stale_at,
            touch_from,
            touched_once: AtomicBool::new(false),
            touched: AtomicI64::new(last_used.unwrap_or(i64::MIN)),
            accepted: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            limited: AtomicU64::new(0),
            counted: AtomicBool::new(false),
        }
    }
}

/// The single 401 every refused key gets; only the logged reason differs.
pub(crate) fn refused(reason: &'static str) -> AuthError {
    AuthError::invalid_credential("the API key is not valid").with_reason(reason)
}

/// Positive and negative caches, plus the touch queue.
pub(crate) struct KeyCache {
    positive: Cache<Id, Arc<CachedKey>>,
    /// Ids the store did not know, each with the instant that answer goes stale.
    negative: Cache<Id, Instant>,
    ttl: Duration,
    negative_ttl: Duration,
    /// Bumped by every invalidation: a store read that raced one is not cached.
    epoch: AtomicU64,
    touch: Option<Toucher>,
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("positive", &self.positive.len())
            .field("negative", &self.negative.len())
            .field("ttl", &self.ttl)
            .field("negative_ttl", &self.negative_ttl)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct Toucher {
    tx: mpsc::Sender<Note>,
    interval_secs: i64,
    /// Whether an entry can live longer than the interval, and so record more than one use.
    rearms: bool,
}

pub(crate) struct CacheConfig {
    pub(crate) ttl: Duration,
    pub(crate) capacity: u64,
    pub(crate) negative_ttl: Duration,
    pub(crate) negative_capacity: u64,
    pub(crate) touch_interval: Option<Duration>,
}

#[derive(Debug)]
pub(crate) enum Lookup {
    Hit(Arc<CachedKey>),
    Unknown,
    Miss,
}

fn items(capacity: u64) -> usize {
    usize::try_from(capacity).unwrap_or(usize::MAX).max(1)
}

impl KeyCache {
    /// Builds the caches; spawns the touch writer on the current Tokio runtime if asked.
    pub(crate) fn new(config: &CacheConfig, store: Arc<dyn ApiKeyStore>) -> Self {
        let touch = config.touch_interval.map(|interval| {
            let (tx, rx) = mpsc::channel(4096);
            tokio::spawn(write_touches(store, rx, interval));
            tx
        });
        Self::with_touches(config, touch)
    }

    /// The caches, with uses queued to `touch` (every `config.touch_interval`) if given.
    fn with_touches(config: &CacheConfig, touch: Option<mpsc::Sender<Note>>) -> Self {
        let touch = touch
            .zip(config.touch_interval)
            .map(|(tx, interval)| Toucher {
                tx,
                interval_secs: i64::try_from(interval.as_secs().max(1)).unwrap_or(i64::MAX),
                rearms: config.ttl > interval,
            });
        Self {
            positive: Cache::new(items(config.capacity)),
            negative: Cache::new(items(config.negative_capacity)),
            ttl: config.ttl,
            negative_ttl: config.negative_ttl,
            epoch: AtomicU64::new(0),
            touch,
        }
    }

    /// What the caches know about `id` at `now`; a stale entry is dropped and missed.
    pub(crate) fn get(&self, id: &str, now: Instant) -> Lookup {
        let Some(id) = slot(id) else {
            return Lookup::Miss;
        };
        if let Some(entry) = self.positive.get(&id) {
            if now < entry.stale_at {
                return Lookup::Hit(entry);
            }
            // Only this entry: one cached again meanwhile stays.
            self.positive
                .remove_if(&id, |current| Arc::ptr_eq(current, &entry));
        }
        match self.negative.get(&id) {
            Some(stale_at) if now < stale_at => Lookup::Unknown,
            Some(stale_at) => {
                self.negative.remove_if(&id, |current| *current == stale_at);
                Lookup::Miss
            }
            None => Lookup::Miss,
        }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches a store answer, read at `now`, unless an invalidation happened since `epoch`
    /// was read.
    pub(crate) fn insert(
        &self,
        id: &str,
        record: Option<ApiKeyRecord>,
        epoch: u64,
        now: Instant,
    ) -> Option<Arc<CachedKey>> {
        let interval = self.touch.as_ref().map_or(0, |t| t.interval_secs);
        let stale_at = deadline(now, self.ttl);
        let entry = record.map(|r| Arc::new(CachedKey::new(r, now, stale_at, interval)));
        let Some(slot) = slot(id) else {
            return entry;
        };
        if self.epoch() != epoch {
            return entry;
        }
        match &entry {
            Some(e) => self.positive.insert(slot, Arc::clone(e)),
            None => self.negative.insert(slot, deadline(now, self.negative_ttl)),
        }
        // An invalidation that slipped in between the check and the insert wins.
        if self.epoch() != epoch {
            self.positive.remove(&slot);
            self.negative.remove(&slot);
        }
        entry
    }

    #[cfg(any(feature = "postgres", test))]
    pub(crate) fn invalidate_all(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.positive.clear();
        self.negative.clear();
    }

    pub(crate) fn invalidate(&self, id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        if let Some(slot) = slot(id) {
            self.positive.remove(&slot);
            self.negative.remove(&slot);
        }
    }

    /// Checks a presented key against a cached record at `now`, and counts the outcome.
    pub(crate) fn verify(
        &self,
        entry: &Arc<CachedKey>,
        digest: &KeyDigest,
        now: Instant,
    ) -> Result<ApiKeyIdentity, AuthError> {
        let id = entry.identity.id();
        if entry.digest != *digest {
            tracing::debug!(target: "tower_apikey", key_id = id, outcome = "not_found", "wrong secret");
            return Err(refused("not_found"));
        }
        // Without an expiry or a not-before, `check` refuses only a revoked key, at any time.
        let wall = entry.timed.then(record::now);
        if let Err(invalid) = entry.identity.key().check(wall.unwrap_or(i64::MIN)) {
            tracing::debug!(target: "tower_apikey", key_id = id, outcome = invalid.reason());
            self.count(entry, &entry.refused);
            return Err(refused(invalid.reason()));
        }
        self.count(entry, &entry.accepted);
        self.touch(entry, now, wall);
        tracing::trace!(target: "tower_apikey", key_id = id, outcome = "valid");
        Ok(entry.identity.clone())
    }

    /// Counts one request of key `id` that a rate limiter refused after the key was
    /// accepted: on its cache entry (stale or not: the counts are taken all the same) like
    /// every other count, or, when the entry is gone, as a note to the writer. Never waits;
    /// nothing is counted without the writer.
    pub(crate) fn count_limited(&self, id: &str) {
        let Some(toucher) = &self.touch else { return };
        match slot(id).and_then(|slot| self.positive.get(&slot)) {
            Some(entry) => self.count(&entry, &entry.limited),
            // A full queue drops it, as it drops a last use: counts never cost a wait.
            None => {
                let _ = toucher.tx.try_send(Note::Limited(Arc::from(id)));
            }
        }
    }

    /// Adds one to `counter` of `entry`, and hands the entry to the writer unless it holds it
    /// already: one queue message per entry and write, never a wait.
    fn count(&self, entry: &Arc<CachedKey>, counter: &AtomicU64) {
        let Some(toucher) = &self.touch else { return };
        counter.fetch_add(1, Ordering::SeqCst);
        if entry.counted.load(Ordering::SeqCst) || entry.counted.swap(true, Ordering::SeqCst) {
            return;
        }
        if toucher
            .tx
            .try_send(Note::Counted(Arc::clone(entry)))
            .is_err()
        {
            // A full queue: the counts stay in the entry, handed over by a later request.
            entry.counted.store(false, Ordering::SeqCst);
        }
    }

    /// Queues a last-used write at most once per interval per key; never waits. The wall
    /// clock (`wall`, if read already) is read only once the interval may have passed, and
    /// an entry that cannot outlive the interval records one use at most.
    fn touch(&self, entry: &CachedKey, now: Instant, wall: Option<i64>) {
        let Some(toucher) = &self.touch else { return };
        if now < entry.touch_from || (!toucher.rearms && entry.touched_once.load(Ordering::Relaxed))
        {
            return;
        }
        let wall = wall.unwrap_or_else(record::now);
        let last = entry.touched.load(Ordering::Relaxed);
        if wall.saturating_sub(last) < toucher.interval_secs {
            return;
        }
        if entry
            .touched
            .compare_exchange(last, wall, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            entry.touched_once.store(true, Ordering::Relaxed);
            // A full queue drops the update: last-used is advisory, never worth a wait.
            let _ = toucher
                .tx
                .try_send(Note::Used(Arc::from(entry.identity.id()), wall));
        }
    }
}
