//! The DPoP replay check: [`DpopReplayStore`] and its in-memory implementation.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use auth_core::{StoreError, StoreErrorKind};

/// Where used DPoP proofs are recorded, so each is accepted once (RFC 9449 §11.1).
///
/// A proof is named by a 32-byte key (SHA-256 over its key's thumbprint and its `jti`);
/// [`first_use`](DpopReplayStore::first_use) records it for `ttl` (the proof's whole
/// acceptance window, so it cannot be forgotten while it would still be accepted) and tells
/// whether it was new. Record atomically: two instances sharing a store must never both see
/// a proof as new. A failure becomes a 503 on the request path.
#[async_trait]
pub trait DpopReplayStore: Send + Sync + 'static {
    /// Records `proof` for `ttl`: `Ok(true)` when it was not recorded yet, `Ok(false)` when it
    /// was (a replay).
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the store cannot answer (unreachable, or full).
    async fn first_use(&self, proof: &[u8; 32], ttl: Duration) -> Result<bool, StoreError>;
}

/// Default [`MemoryDpopReplayStore`] capacity.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// Used proofs kept in this process, bounded: for one instance (several instances share a
/// [`RedisDpopReplayStore`](crate::dpop::RedisDpopReplayStore) instead).
///
/// Each entry is 32 bytes of key plus its expiry; expired entries are dropped as new ones
/// arrive. When `capacity` live entries are held, a new proof is refused with
/// [`StoreErrorKind::CapacityExceeded`] (503) rather than an entry forgotten early, which
/// would let its proof be replayed.
///
/// ```
/// use std::time::Duration;
/// use tower_jwt::dpop::{DpopReplayStore, MemoryDpopReplayStore};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let store = MemoryDpopReplayStore::new(10_000);
/// let proof = [7u8; 32];
/// assert!(store.first_use(&proof, Duration::from_secs(65)).await.unwrap());
/// assert!(!store.first_use(&proof, Duration::from_secs(65)).await.unwrap());
/// # }
/// ```
pub struct MemoryDpopReplayStore {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    expiries: HashMap<[u8; 32], Instant>,
    /// Keys in the order they were recorded, with their expiry, for purging.
    order: VecDeque<([u8; 32], Instant)>,
}

impl MemoryDpopReplayStore {
    /// A store holding at most `capacity` live proofs (at least 1).
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// How many proofs are recorded (expired ones not purged yet included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().expiries.len()
    }

    /// Whether no proof is recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn record(&self, proof: &[u8; 32], ttl: Duration, now: Instant) -> Result<bool, StoreError> {
        let mut state = self.lock();
        if state.expiries.get(proof).is_some_and(|until| *until > now) {
            return Ok(false);
        }
        state.purge(now);
        if state.expiries.len() >= self.capacity {
            return Err(StoreErrorKind::CapacityExceeded.into());
        }
        let until = now + ttl;
        state.expiries.insert(*proof, until);
        state.order.push_back((*proof, until));
        Ok(true)
    }
}

impl State {
    /// Drops entries expired at `now`, oldest first (with one TTL per store, recording order
    /// is expiry order; a longer-lived entry in front only delays the purge behind it).
    fn purge(&mut self, now: Instant) {
        while let Some((key, until)) = self.order.front().copied() {
            if until > now {
                break;
            }
            self.order.pop_front();
            if self.expiries.get(&key) == Some(&until) {
                self.expiries.remove(&key);
            }
        }
    }
}

impl Default for MemoryDpopReplayStore {
    /// [`DEFAULT_REPLAY_CAPACITY`] proofs.
    fn default() -> Self {
        Self::new(DEFAULT_REPLAY_CAPACITY)
    }
}

impl fmt::Debug for MemoryDpopReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDpopReplayStore")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .finish()
    }
}

#[async_trait]
impl DpopReplayStore for MemoryDpopReplayStore {
    async fn first_use(&self, proof: &[u8; 32], ttl: Duration) -> Result<bool, StoreError> {
        self.record(proof, ttl, Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_new_once_until_it_expires() {
        let store = MemoryDpopReplayStore::new(10);
        let now = Instant::now();
        let ttl = Duration::from_secs(60);
        assert!(store.record(&[1; 32], ttl, now).unwrap());
        assert!(
            !store
                .record(&[1; 32], ttl, now + Duration::from_secs(59))
                .unwrap()
        );
        assert!(store.record(&[2; 32], ttl, now).unwrap());
        // Past its window the proof is refused by its `iat` anyway; the entry may go.
        assert!(
            store
                .record(&[1; 32], ttl, now + Duration::from_secs(61))
                .unwrap()
        );
    }

    #[test]
    fn a_full_store_refuses_rather_than_forgets() {
        let store = MemoryDpopReplayStore::new(2);
        let now = Instant::now();
        let ttl = Duration::from_secs(60);
        assert!(store.record(&[1; 32], ttl, now).unwrap());
        assert!(store.record(&[2; 32], ttl, now).unwrap());
        let err = store.record(&[3; 32], ttl, now).unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::CapacityExceeded);
        // Still a replay, not a capacity error, for a proof it holds.
        assert!(!store.record(&[1; 32], ttl, now).unwrap());
        // Once the first two expire, room again.
        assert!(store.record(&[3; 32], ttl, now + ttl).unwrap());
        assert_eq!(store.len(), 1);
    }
}
