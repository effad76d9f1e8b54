//! The in-process store: sessions in a `quick_cache` whose entries carry their own
//! deadline and idle timeout, login markers in moka, the logout index in a map.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use auth_core::StoreError;
use moka::sync::Cache;
use quick_cache::sync::{EntryAction, EntryResult};

use super::SessionStore;

/// A stored session. The idle timeout and the last use change on every read, so they are
/// atomics in a shared entry rather than a new entry per read.
struct Entry {
    record: Arc<str>,
    /// The absolute timeout; `None` when it lies beyond what `Instant` can hold.
    deadline: Option<Instant>,
    /// The idle timeout, in milliseconds (the latest asked for).
    idle_ms: AtomicU64,
    /// The last save or read, in milliseconds since the store's epoch.
    seen_ms: AtomicU64,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Sessions in this process's memory: idle and absolute timeouts per entry, gone at
/// restart, not shared between instances (use `RedisSessionStore` for that).
///
/// Capacity is bounded (default 100,000 sessions); beyond it the coldest sessions are
/// evicted, which logs their users out. A session past either timeout is gone for every
/// read from then on, and its slot is taken back by that read or by eviction. Login
/// markers live in a separate cache so a flood of logins cannot evict sessions.
///
/// The logout index (sessions linked under a provider's `sid` and `sub`) is a map whose
/// expired tags are dropped whenever it has doubled since the last sweep: it holds about
/// twice the tags of the sessions linked in the last absolute timeout at most.
///
/// A read is a `quick_cache` lookup (a shard read lock) plus two atomic stores: moka's
/// per-entry expiry, used before, cost about four times as much per read.
///
/// ```
/// use std::time::Duration;
/// use tower_oauth::store::{MemorySessionStore, SessionStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemorySessionStore::new();
/// store.save("k", "{}".to_owned(), Duration::from_secs(60), Duration::from_secs(3600)).await.unwrap();
/// assert_eq!(store.load("k", Duration::from_secs(60)).await.unwrap().as_deref(), Some("{}"));
/// assert!(store.claim("state", Duration::from_secs(60)).await.unwrap());
/// assert!(!store.claim("state", Duration::from_secs(60)).await.unwrap());
/// # });
/// ```
#[derive(Clone)]
pub struct MemorySessionStore {
    sessions: Arc<quick_cache::sync::Cache<String, Arc<Entry>>>,
    /// The zero of every entry's `seen_ms`.
    epoch: Instant,
    claims: Cache<String, Instant>,
    /// The logout index: tag -> the sessions linked under it, and when the link expires.
    links: Arc<Mutex<Links>>,
}

/// The logout index of [`MemorySessionStore`]. Expired tags are dropped whenever the map
/// has doubled since the last sweep, so it holds at most about twice the live tags.
#[derive(Default)]
struct Links {
    tags: HashMap<String, Link>,
    /// The size after the last sweep.
    swept: usize,
}

struct Link {
    keys: Vec<String>,
    deadline: Option<Instant>,
}

impl Links {
    fn sweep(&mut self, now: Instant) {
        if self.tags.len() >= 2 * self.swept.max(1024) {
            self.tags
                .retain(|_, link| link.deadline.is_none_or(|deadline| deadline > now));
            self.swept = self.tags.len();
        }
    }
}

impl std::fmt::Debug for MemorySessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemorySessionStore")
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemorySessionStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemorySessionStore {
    /// A store holding up to 100,000 sessions.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(100_000)
    }

    /// A store holding up to `sessions` sessions.
    #[must_use]
    pub fn with_capacity(sessions: u64) -> Self {
        let items = usize::try_from(sessions).unwrap_or(usize::MAX).max(1);
        Self {
            sessions: Arc::new(quick_cache::sync::Cache::new(items)),
            epoch: Instant::now(),
            claims: Cache::builder()
                .max_capacity(sessions.saturating_mul(4))
                .time_to_live(Duration::from_secs(3600))
                .build(),
            links: Arc::default(),
        }
    }

    /// Whether `entry` is past its deadline or has been idle for longer than its idle
    /// timeout at `now` (`now_ms` since the epoch).
    fn expired(entry: &Entry, now: Instant, now_ms: u64) -> bool {
        let idle_for = now_ms.saturating_sub(entry.seen_ms.load(Ordering::Relaxed));
        let past_deadline = entry.deadline.is_some_and(|deadline| deadline <= now);
        past_deadline || idle_for >= entry.idle_ms.load(Ordering::Relaxed)
    }

    /// A new entry holding `record`, last used now.
    fn entry(&self, record: String, idle: Duration, ttl: Duration) -> Arc<Entry> {
        let now = Instant::now();
        Arc::new(Entry {
            record: record.into(),
            deadline: now.checked_add(ttl),
            idle_ms: AtomicU64::new(millis(idle)),
            seen_ms: AtomicU64::new(millis(now.saturating_duration_since(self.epoch))),
        })
    }

    /// The record under `key` unless past its deadline or idle for longer than its idle
    /// timeout; renews its idle timeout to `idle` from now.
    fn live(&self, key: &str, idle: Duration) -> Option<Arc<str>> {
        let entry = self.sessions.get(key)?;
        let now = Instant::now();
        let now_ms = millis(now.saturating_duration_since(self.epoch));
        if Self::expired(&entry, now, now_ms) {
            // Only this entry: a session saved again under the key meanwhile stays.
            self.sessions
                .remove_if(key, |current| Arc::ptr_eq(current, &entry));
            return None;
        }
        entry.idle_ms.store(millis(idle), Ordering::Relaxed);
        entry.seen_ms.fetch_max(now_ms, Ordering::Relaxed);
        Some(Arc::clone(&entry.record))
    }
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn load(&self, key: &str, idle: Duration) -> Result<Option<String>, StoreError> {
        Ok(self.live(key, idle).map(|record| record.to_string()))
    }

    fn load_now(&self, key: &str, idle: Duration) -> Option<Result<Option<Arc<str>>, StoreError>> {
        Some(Ok(self.live(key, idle)))
    }

    async fn save(
        &self,
        key: &str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.sessions
            .insert(key.to_owned(), self.entry(record, idle, ttl));
        Ok(())
    }

    /// Compares and swaps under the cache shard's write lock, so no save, delete or expiry
    /// of `key` lands between the comparison and the write.
    async fn replace(
        &self,
        key: &str,
        current: &str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let replacement = self.entry(record, idle, ttl);
        let now = Instant::now();
        let now_ms = millis(now.saturating_duration_since(self.epoch));
        // A zero timeout: a key being filled elsewhere is absent here, never waited for.
        let result = self.sessions.entry(key, Some(Duration::ZERO), |_, entry| {
            if Self::expired(entry, now, now_ms) {
                EntryAction::Remove
            } else if *entry.record == *current {
                *entry = replacement;
                EntryAction::Retain(true)
            } else {
                EntryAction::Retain(false)
            }
        });
        // Absent (`Vacant`: its guard, dropped here, inserts nothing), expired or changed.
        Ok(matches!(result, EntryResult::Retained(true)))
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.sessions.remove(key);
        Ok(())
    }

    async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let now = Instant::now();
        let entry = self
            .claims
            .entry(key.to_owned())
            .or_insert_with(|| now + ttl);
        // A claim older than its own ttl (but not yet evicted) may be taken again.
        let fresh = entry.is_fresh() || {
            let expired = *entry.value() <= now;
            if expired {
                self.claims.insert(key.to_owned(), now + ttl);
            }
            expired
        };
        Ok(fresh)
    }

    async fn link(&self, key: &str, tags: &[String], ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let deadline = now.checked_add(ttl);
        let mut links = self.links.lock().unwrap_or_else(PoisonError::into_inner);
        links.sweep(now);
        for tag in tags {
            let link = links.tags.entry(tag.clone()).or_insert_with(|| Link {
                keys: Vec::new(),
                deadline,
            });
            if link.deadline.is_some_and(|d| d <= now) {
                link.keys.clear();
                link.deadline = deadline;
            }
            link.deadline = match (link.deadline, deadline) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            if !link.keys.iter().any(|k| k == key) {
                link.keys.push(key.to_owned());
            }
        }
        Ok(())
    }

    async fn delete_linked(&self, tag: &str) -> Result<u64, StoreError> {
        let link = self
            .links
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tags
            .remove(tag);
        let Some(link) = link else {
            return Ok(0);
        };
        if link.deadline.is_some_and(|d| d <= Instant::now()) {
            return Ok(0);
        }
        let mut deleted = 0;
        for key in &link.keys {
            if self.sessions.remove(key).is_some() {
                deleted += 1;
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn absolute_deadline_wins_over_idle_renewal() {
        let store = MemorySessionStore::new();
        let idle = Duration::from_secs(60);
        store
            .save("k", "r".to_owned(), idle, Duration::from_millis(150))
            .await
            .unwrap();
        assert!(store.load("k", idle).await.unwrap().is_some());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(store.load("k", idle).await.unwrap(), None);
    }

    #[tokio::test]
    async fn load_now_answers_at_once_and_shares_the_record() {
        let store = MemorySessionStore::new();
        let idle = Duration::from_secs(60);
        store
            .save("k", "r".to_owned(), idle, Duration::from_millis(150))
            .await
            .unwrap();
        let first = store.load_now("k", idle).unwrap().unwrap().unwrap();
        let second = store.load_now("k", idle).unwrap().unwrap().unwrap();
        assert_eq!(&*first, "r");
        assert!(Arc::ptr_eq(&first, &second), "no copy of the record");
        assert!(store.load_now("absent", idle).unwrap().unwrap().is_none());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(store.load_now("k", idle).unwrap().unwrap().is_none());
    }

    #[tokio::test]
    async fn idle_timeout_expires_unused_sessions() {
        let store = MemorySessionStore::new();
        let idle = Duration::from_millis(150);
        store
            .save("k", "r".to_owned(), idle, Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(store.load("k", idle).await.unwrap().is_some(), "renewed");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            store.load("k", idle).await.unwrap().is_some(),
            "renewed again"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(store.load("k", idle).await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_latest_idle_timeout_applies_and_expired_entries_are_taken_back() {
        let store = MemorySessionStore::new();
        let long = Duration::from_secs(60);
        store.save("k", "r".to_owned(), long, long).await.unwrap();
        // Read with a short idle timeout: from now on the session expires after it.
        assert!(
            store
                .load_now("k", Duration::from_millis(50))
                .unwrap()
                .unwrap()
                .is_some()
        );
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert!(store.load_now("k", long).unwrap().unwrap().is_none());
        assert_eq!(store.sessions.len(), 0, "the expired entry is removed");
        // A session saved again under the key is a new one.
        store.save("k", "r2".to_owned(), long, long).await.unwrap();
        assert_eq!(store.load("k", long).await.unwrap().as_deref(), Some("r2"));
    }

    #[tokio::test]
    async fn capacity_bounds_the_sessions() {
        let store = MemorySessionStore::with_capacity(50);
        let d = Duration::from_secs(60);
        for i in 0..1_000 {
            store
                .save(&format!("k{i}"), "r".to_owned(), d, d)
                .await
                .unwrap();
        }
        assert!(
            store.sessions.len() <= 50,
            "{} sessions",
            store.sessions.len()
        );
        assert!(
            store.load_now("k999", d).unwrap().unwrap().is_some(),
            "the newest stays"
        );
    }

    #[tokio::test]
    async fn a_time_to_live_beyond_any_instant_never_expires_and_never_panics() {
        let store = MemorySessionStore::new();
        let idle = Duration::from_secs(60);
        store
            .save("k", "r".to_owned(), idle, Duration::MAX)
            .await
            .unwrap();
        assert_eq!(store.load("k", idle).await.unwrap().as_deref(), Some("r"));
    }

    #[tokio::test]
    async fn replace_writes_only_over_the_record_read() {
        let store = MemorySessionStore::new();
        let d = Duration::from_secs(60);
        store.save("k", "r1".to_owned(), d, d).await.unwrap();
        assert!(
            store
                .replace("k", "r1", "r2".to_owned(), d, d)
                .await
                .unwrap()
        );
        assert_eq!(store.load("k", d).await.unwrap().as_deref(), Some("r2"));
        // Another version is there now: nothing is written.
        assert!(
            !store
                .replace("k", "r1", "r3".to_owned(), d, d)
                .await
                .unwrap()
        );
        assert_eq!(store.load("k", d).await.unwrap().as_deref(), Some("r2"));
        // Deleted (a logout): the session is not brought back.
        store.delete("k").await.unwrap();
        assert!(
            !store
                .replace("k", "r2", "r4".to_owned(), d, d)
                .await
                .unwrap()
        );
        assert_eq!(store.load("k", d).await.unwrap(), None);
        assert_eq!(store.sessions.len(), 0, "no placeholder left behind");
        // Expired: neither.
        let short = Duration::from_millis(50);
        store.save("e", "r".to_owned(), d, short).await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(
            !store
                .replace("e", "r", "r2".to_owned(), d, d)
                .await
                .unwrap()
        );
        assert_eq!(store.load("e", d).await.unwrap(), None);
    }

    #[tokio::test]
    async fn linked_sessions_end_together_and_links_expire() {
        let store = MemorySessionStore::new();
        let d = Duration::from_secs(60);
        for key in ["a1", "a2", "b1"] {
            store.save(key, "r".to_owned(), d, d).await.unwrap();
        }
        let (sid_a, sub_a) = ("sid-a".to_owned(), "sub-a".to_owned());
        store
            .link("a1", &[sid_a.clone(), sub_a.clone()], d)
            .await
            .unwrap();
        store
            .link("a2", std::slice::from_ref(&sub_a), d)
            .await
            .unwrap();
        store
            .link("a2", std::slice::from_ref(&sub_a), d)
            .await
            .unwrap();
        store.link("b1", &["sub-b".to_owned()], d).await.unwrap();

        assert_eq!(store.delete_linked(&sid_a).await.unwrap(), 1);
        assert_eq!(store.load("a1", d).await.unwrap(), None);
        assert!(store.load("a2", d).await.unwrap().is_some());
        assert_eq!(
            store.delete_linked(&sub_a).await.unwrap(),
            1,
            "a1 already gone"
        );
        assert_eq!(store.load("a2", d).await.unwrap(), None);
        assert!(
            store.load("b1", d).await.unwrap().is_some(),
            "another user's"
        );
        assert_eq!(
            store.delete_linked(&sub_a).await.unwrap(),
            0,
            "the set went too"
        );

        // A link lives as long as its longest session, then ends nothing.
        let short = Duration::from_millis(50);
        store.save("c1", "r".to_owned(), d, d).await.unwrap();
        store
            .link("c1", &["sub-c".to_owned()], short)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(store.delete_linked("sub-c").await.unwrap(), 0);
        assert!(store.load("c1", d).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn delete_and_claim() {
        let store = MemorySessionStore::new();
        let d = Duration::from_secs(60);
        store.save("k", "r".to_owned(), d, d).await.unwrap();
        store.delete("k").await.unwrap();
        assert_eq!(store.load("k", d).await.unwrap(), None);
        assert!(store.claim("c", Duration::from_millis(50)).await.unwrap());
        assert!(!store.claim("c", Duration::from_millis(50)).await.unwrap());
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(store.claim("c", Duration::from_millis(50)).await.unwrap());
    }
}
