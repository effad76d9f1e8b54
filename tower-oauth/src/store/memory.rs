//! The in-process store: moka with a per-entry deadline and idle timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use super::{SessionStore, StoreError, StoreFuture};

#[derive(Clone)]
struct Entry {
    record: Arc<str>,
    idle: Duration,
    deadline: Instant,
}

impl Entry {
    fn remaining(&self, now: Instant) -> Duration {
        self.idle.min(self.deadline.saturating_duration_since(now))
    }
}

struct EntryExpiry;

impl Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &String, entry: &Entry, now: Instant) -> Option<Duration> {
        Some(entry.remaining(now))
    }

    fn expire_after_read(
        &self,
        _: &String,
        entry: &Entry,
        now: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        Some(entry.remaining(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        entry: &Entry,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(entry.remaining(now))
    }
}

/// Sessions in this process's memory (moka): idle and absolute timeouts per entry, gone at
/// restart, not shared between instances (use `RedisStore` for that).
///
/// Capacity is bounded (default 100,000 sessions); beyond it moka evicts, which logs the
/// evicted users out. Login markers live in a separate cache so a flood of logins cannot
/// evict sessions.
///
/// ```
/// use std::time::Duration;
/// use tower_oauth::store::{MemoryStore, SessionStore};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// store.save("k", "{}".to_owned(), Duration::from_secs(60), Duration::from_secs(3600)).await.unwrap();
/// assert_eq!(store.load("k", Duration::from_secs(60)).await.unwrap().as_deref(), Some("{}"));
/// assert!(store.claim("state", Duration::from_secs(60)).await.unwrap());
/// assert!(!store.claim("state", Duration::from_secs(60)).await.unwrap());
/// # });
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    sessions: Cache<String, Entry>,
    claims: Cache<String, Instant>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("sessions", &self.sessions.entry_count())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store holding up to 100,000 sessions.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(100_000)
    }

    /// A store holding up to `sessions` sessions.
    #[must_use]
    pub fn with_capacity(sessions: u64) -> Self {
        Self {
            sessions: Cache::builder()
                .max_capacity(sessions)
                .expire_after(EntryExpiry)
                .build(),
            claims: Cache::builder()
                .max_capacity(sessions.saturating_mul(4))
                .time_to_live(Duration::from_secs(3600))
                .build(),
        }
    }
}

impl MemoryStore {
    /// The record under `key` unless past its deadline; renews its idle timeout to `idle`.
    fn live(&self, key: &str, idle: Duration) -> Option<Arc<str>> {
        let now = Instant::now();
        let entry = self.sessions.get(key)?;
        if entry.deadline <= now {
            return None;
        }
        if entry.idle != idle {
            self.sessions.insert(
                key.to_owned(),
                Entry {
                    idle,
                    ..entry.clone()
                },
            );
        }
        Some(entry.record)
    }
}

impl SessionStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a str, idle: Duration) -> StoreFuture<'a, Option<String>> {
        let found = self.live(key, idle).map(|record| record.to_string());
        Box::pin(std::future::ready(Ok(found)))
    }

    fn load_now(&self, key: &str, idle: Duration) -> Option<Result<Option<Arc<str>>, StoreError>> {
        Some(Ok(self.live(key, idle)))
    }

    fn save<'a>(
        &'a self,
        key: &'a str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> StoreFuture<'a, ()> {
        let entry = Entry {
            record: record.into(),
            idle,
            deadline: Instant::now() + ttl,
        };
        self.sessions.insert(key.to_owned(), entry);
        Box::pin(std::future::ready(Ok(())))
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        self.sessions.invalidate(key);
        Box::pin(std::future::ready(Ok(())))
    }

    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
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
        Box::pin(std::future::ready(Ok(fresh)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn absolute_deadline_wins_over_idle_renewal() {
        let store = MemoryStore::new();
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
        let store = MemoryStore::new();
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
        let store = MemoryStore::new();
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
    async fn delete_and_claim() {
        let store = MemoryStore::new();
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
