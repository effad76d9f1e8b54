//! [`MemoryRefreshFamilyStore`]: refresh families in this process, bounded in time and number.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use async_trait::async_trait;
use auth_core::{ConfigError, ConfigErrorKind, StoreError};

use super::{RefreshFamilyStore, Rotation};

/// Default cap on the families a [`MemoryRefreshFamilyStore`] holds.
pub const DEFAULT_MAX_FAMILIES: usize = 100_000;

/// Refresh families in this process. Every login adds one, so the store is bounded twice:
///
/// * **In time**: a family is forgotten at the `until` it was given, which
///   [`TokenIssuer`](crate::issuer::TokenIssuer) sets to the end of its family lifetime plus
///   the leeway (default 30 days), the last moment a token of it could be presented. Expired
///   families are swept by every operation.
/// * **In number**: at most [`max_families`](MemoryRefreshFamilyStoreBuilder::max_families) (default
///   [`DEFAULT_MAX_FAMILIES`]). When a new login finds the store full, the family closest to
///   its end is dropped (and logged): its refresh tokens are refused from then on, as a
///   family the store does not know ([`Rotation::Unknown`], refused like a revoked one: the
///   user signs in again). A token of a dropped family is never accepted, replayed or not.
///   Size the cap for your live logins; several instances share families through the Redis
///   store (feature `redis`) instead.
///
/// About 250 bytes per family. Operations take one lock, held for a hash-map operation (and
/// the sweep of what expired): refreshes are rare next to requests.
#[derive(Clone)]
pub struct MemoryRefreshFamilyStore {
    inner: Arc<Mutex<Families>>,
    max_families: usize,
}

#[derive(Default)]
struct Families {
    map: HashMap<Arc<str>, Family>,
    /// Deadlines, earliest on top. A family extended since has a stale entry here, skipped
    /// when popped.
    expiry: BinaryHeap<Reverse<(SystemTime, Arc<str>)>>,
}

/// The state of one family.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Family {
    /// `None` once revoked.
    current: Option<String>,
    until: SystemTime,
}

impl Families {
    /// Drops the families whose deadline has passed.
    fn sweep(&mut self, now: SystemTime) {
        while let Some(Reverse((deadline, _))) = self.expiry.peek()
            && *deadline <= now
        {
            if let Some(Reverse((_, id))) = self.expiry.pop()
                && self.map.get(&id).is_some_and(|family| family.until <= now)
            {
                self.map.remove(&id);
            }
        }
    }

    /// Drops the live family closest to its deadline.
    fn drop_earliest(&mut self) {
        while let Some(Reverse((deadline, id))) = self.expiry.pop() {
            if self
                .map
                .get(&id)
                .is_some_and(|family| family.until == deadline)
            {
                self.map.remove(&id);
                tracing::warn!(
                    family = %id,
                    "refresh family store full: the family closest to its end was dropped"
                );
                return;
            }
        }
    }

    /// Records `family` until `until`, keeping the queue in step with the map.
    fn put(&mut self, id: &str, family: Family) {
        let until = family.until;
        match self.map.get_key_value(id) {
            Some((key, existing)) => {
                let key = Arc::clone(key);
                if until > existing.until {
                    self.expiry.push(Reverse((until, Arc::clone(&key))));
                }
                self.map.insert(key, family);
            }
            None => {
                let key: Arc<str> = Arc::from(id);
                self.expiry.push(Reverse((until, Arc::clone(&key))));
                self.map.insert(key, family);
            }
        }
        // Extensions leave stale deadlines behind: rebuild the queue when they dominate.
        if self.expiry.len() > 2 * self.map.len() + 1024 {
            self.expiry = self
                .map
                .iter()
                .map(|(id, family)| Reverse((family.until, Arc::clone(id))))
                .collect();
        }
    }
}

impl MemoryRefreshFamilyStore {
    /// An empty store holding at most [`DEFAULT_MAX_FAMILIES`] families.
    #[must_use]
    pub fn new() -> Self {
        Self::with_cap(DEFAULT_MAX_FAMILIES)
    }

    /// A builder, to set the cap.
    pub fn builder() -> MemoryRefreshFamilyStoreBuilder {
        MemoryRefreshFamilyStoreBuilder {
            max_families: DEFAULT_MAX_FAMILIES,
        }
    }

    fn with_cap(max_families: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Families::default())),
            max_families,
        }
    }

    /// How many families are held (expired ones included until the next operation).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether no family is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Families> {
        // Every operation leaves the map and the queue consistent between statements that
        // cannot panic, so a poisoned lock is used as is.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The families, swept of what expired, with room for one more if `id` is new.
    fn room_for(&self, id: &str, now: SystemTime) -> MutexGuard<'_, Families> {
        let mut families = self.lock();
        families.sweep(now);
        if !families.map.contains_key(id) && families.map.len() >= self.max_families {
            families.drop_earliest();
        }
        families
    }

    fn rotate_now(&self, family: &str, presented: &str, next: &str, until: SystemTime) -> Rotation {
        let now = SystemTime::now();
        let mut families = self.lock();
        families.sweep(now);
        let Some(state) = families.map.get(family) else {
            return Rotation::Unknown;
        };
        let (outcome, current, until) = match state.current.as_deref() {
            None => return Rotation::Revoked,
            Some(current) if current == presented => (
                Rotation::Rotated,
                Some(next.to_owned()),
                state.until.max(until),
            ),
            Some(_) => (Rotation::Reused, None, state.until),
        };
        families.put(family, Family { current, until });
        outcome
    }
}

impl Default for MemoryRefreshFamilyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryRefreshFamilyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryRefreshFamilyStore")
            .field("families", &self.len())
            .field("max_families", &self.max_families)
            .finish()
    }
}

#[async_trait]
impl RefreshFamilyStore for MemoryRefreshFamilyStore {
    async fn start(&self, family: &str, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        let now = SystemTime::now();
        if until > now {
            let current = Some(jti.to_owned());
            self.room_for(family, now)
                .put(family, Family { current, until });
        }
        Ok(())
    }

    async fn rotate(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        until: SystemTime,
    ) -> Result<Rotation, StoreError> {
        Ok(self.rotate_now(family, presented, next, until))
    }

    async fn revoke(&self, family: &str, until: SystemTime) -> Result<(), StoreError> {
        let now = SystemTime::now();
        let mut families = self.room_for(family, now);
        let until = families
            .map
            .get(family)
            .map_or(until, |existing| existing.until.max(until));
        if until > now {
            families.put(
                family,
                Family {
                    current: None,
                    until,
                },
            );
        }
        Ok(())
    }
}

/// Builds a [`MemoryRefreshFamilyStore`].
#[derive(Debug, Clone)]
#[must_use]
pub struct MemoryRefreshFamilyStoreBuilder {
    max_families: usize,
}

impl MemoryRefreshFamilyStoreBuilder {
    /// The most families held at once (default [`DEFAULT_MAX_FAMILIES`]); see
    /// [`MemoryRefreshFamilyStore`] for what happens at the cap.
    pub fn max_families(mut self, max_families: usize) -> Self {
        self.max_families = max_families;
        self
    }

    /// Builds the store.
    ///
    /// # Errors
    ///
    /// [`ConfigErrorKind::InvalidValue`] for a cap of zero.
    pub fn build(self) -> Result<MemoryRefreshFamilyStore, ConfigError> {
        if self.max_families == 0 {
            return Err(ConfigError::new(
                ConfigErrorKind::InvalidValue,
                "max_families",
                "must be at least 1",
            ));
        }
        Ok(MemoryRefreshFamilyStore::with_cap(self.max_families))
    }
}
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn rotation_then_reuse_revokes_the_family() {
        let store = MemoryRefreshFamilyStore::new();
        let until = SystemTime::now() + Duration::from_secs(60);
        store.start("f", "a", until).await.unwrap();
        assert_eq!(
            store.rotate("f", "a", "b", until).await.unwrap(),
            Rotation::Rotated
        );
        assert_eq!(
            store.rotate("f", "a", "c", until).await.unwrap(),
            Rotation::Reused
        );
        assert_eq!(
            store.rotate("f", "b", "c", until).await.unwrap(),
            Rotation::Revoked
        );
        assert_eq!(
            store.rotate("g", "a", "b", until).await.unwrap(),
            Rotation::Unknown
        );
        store.start("h", "a", until).await.unwrap();
        store.revoke("h", until).await.unwrap();
        assert_eq!(
            store.rotate("h", "a", "b", until).await.unwrap(),
            Rotation::Revoked
        );
    }

    #[tokio::test]
    async fn families_are_forgotten_at_their_deadline() {
        let store = MemoryRefreshFamilyStore::new();
        let now = SystemTime::now();
        store
            .start("short", "a", now + Duration::from_millis(100))
            .await
            .unwrap();
        store
            .start("long", "a", now + Duration::from_secs(60))
            .await
            .unwrap();
        store.start("past", "a", now).await.unwrap();
        assert_eq!(store.len(), 2, "a family already past its end is not kept");
        tokio::time::sleep(Duration::from_millis(150)).await;
        let later = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(
            store.rotate("short", "a", "b", later).await.unwrap(),
            Rotation::Unknown
        );
        assert_eq!(store.len(), 1, "swept by the rotation");
        assert_eq!(
            store.rotate("long", "a", "b", later).await.unwrap(),
            Rotation::Rotated
        );
    }

    #[tokio::test]
    async fn a_full_store_drops_the_family_closest_to_its_end_and_never_accepts_its_tokens() {
        let store = MemoryRefreshFamilyStore::builder()
            .max_families(3)
            .build()
            .unwrap();
        let now = SystemTime::now();
        let at = |secs| now + Duration::from_secs(secs);
        store.start("f1", "a", at(300)).await.unwrap();
        store.start("f2", "a", at(100)).await.unwrap();
        store.start("f3", "a", at(200)).await.unwrap();
        // A rotation extending f2 leaves a stale deadline behind: skipped at eviction.
        assert_eq!(
            store.rotate("f2", "a", "b", at(400)).await.unwrap(),
            Rotation::Rotated
        );
        store.start("f4", "a", at(500)).await.unwrap();
        assert_eq!(store.len(), 3);
        // f3 ended soonest: dropped. Neither its current token nor a replay passes.
        for presented in ["a", "old"] {
            assert_eq!(
                store.rotate("f3", presented, "c", at(600)).await.unwrap(),
                Rotation::Unknown
            );
        }
        for (family, current) in [("f1", "a"), ("f2", "b"), ("f4", "a")] {
            assert_eq!(
                store.rotate(family, current, "n", at(600)).await.unwrap(),
                Rotation::Rotated,
                "{family}"
            );
        }
        // A revocation of a known family is no new entry; a replay is still caught.
        store.revoke("f1", at(600)).await.unwrap();
        assert_eq!(store.len(), 3);
        assert_eq!(
            store.rotate("f1", "n", "m", at(600)).await.unwrap(),
            Rotation::Revoked
        );
        assert_eq!(
            MemoryRefreshFamilyStore::builder()
                .max_families(0)
                .build()
                .unwrap_err()
                .field(),
            "max_families"
        );
    }

    #[tokio::test]
    async fn many_rotations_keep_the_deadline_queue_bounded() {
        let store = MemoryRefreshFamilyStore::new();
        let start = SystemTime::now() + Duration::from_secs(60);
        store.start("f", "0", start).await.unwrap();
        for i in 0..5_000u64 {
            let until = start + Duration::from_secs(i + 1);
            let (current, next) = (i.to_string(), (i + 1).to_string());
            assert_eq!(
                store.rotate("f", &current, &next, until).await.unwrap(),
                Rotation::Rotated
            );
        }
        let families = store.lock();
        assert_eq!(families.map.len(), 1);
        assert!(families.expiry.len() <= 2 * families.map.len() + 1024 + 1);
    }
}
