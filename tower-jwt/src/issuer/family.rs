//! Refresh-token families: which refresh token of a login is current, for reuse detection.

use std::fmt;
use std::time::{Duration, Instant, SystemTime};

use moka::Expiry;
use moka::ops::compute::{CompResult, Op};
use moka::sync::Cache;

use crate::revocation::BoxFuture;

/// What [`RefreshFamilyStore::rotate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotation {
    /// The presented token was the family's current one; the successor is now current.
    Rotated,
    /// The presented token was already used: the family is now revoked.
    Reused,
    /// The family was already revoked.
    Revoked,
    /// No such family (never started, or expired).
    Unknown,
}

/// The family store could not be reached or answered garbage.
#[derive(Debug, thiserror::Error)]
#[error("refresh family store: {0}")]
pub struct FamilyStoreError(pub String);

/// Where refresh-token families live: per family, the `jti` of its one current refresh token,
/// or "revoked". Every operation is atomic per family, so two instances presenting the same
/// token at once cannot both rotate it.
pub trait RefreshFamilyStore: Send + Sync + 'static {
    /// Starts `family` with `jti` as its current token, remembered until `until`.
    fn start<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<(), FamilyStoreError>>;

    /// If `presented` is current, makes `next` current (remembered until `until`) and answers
    /// [`Rotation::Rotated`]; if it is not, revokes the family and answers
    /// [`Rotation::Reused`].
    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<Rotation, FamilyStoreError>>;

    /// Revokes `family` (logout), remembered until `until`.
    fn revoke<'a>(
        &'a self,
        family: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<(), FamilyStoreError>>;
}

/// The state of a family in [`MemoryFamilyStore`].
#[derive(Debug, Clone, PartialEq, Eq)]
struct Family {
    /// `None` once revoked.
    current: Option<String>,
    until: SystemTime,
}

struct UntilExpiry;

impl UntilExpiry {
    fn remaining(family: &Family) -> Option<Duration> {
        Some(
            family
                .until
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    }
}

impl Expiry<String, Family> for UntilExpiry {
    fn expire_after_create(&self, _: &String, family: &Family, _: Instant) -> Option<Duration> {
        Self::remaining(family)
    }

    fn expire_after_update(
        &self,
        _: &String,
        family: &Family,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Self::remaining(family)
    }
}

/// Refresh families in this process: a moka cache with **no capacity** (nothing is evicted
/// for space) and per-family expiry at the latest refresh token's `exp` plus leeway. About
/// 300 bytes per live family. For several instances use the Redis store (feature `redis`).
#[derive(Clone)]
pub struct MemoryFamilyStore {
    families: Cache<String, Family>,
}

impl MemoryFamilyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self {
            families: Cache::builder().expire_after(UntilExpiry).build(),
        }
    }

    fn rotate_now(&self, family: &str, presented: &str, next: &str, until: SystemTime) -> Rotation {
        let mut outcome = Rotation::Unknown;
        let result = self
            .families
            .entry_by_ref(family)
            .and_compute_with(|existing| {
                let Some(existing) = existing else {
                    return Op::Nop;
                };
                let state = existing.into_value();
                match state.current.as_deref() {
                    None => {
                        outcome = Rotation::Revoked;
                        Op::Nop
                    }
                    Some(current) if current == presented => {
                        outcome = Rotation::Rotated;
                        Op::Put(Family {
                            current: Some(next.to_owned()),
                            until: state.until.max(until),
                        })
                    }
                    Some(_) => {
                        outcome = Rotation::Reused;
                        Op::Put(Family {
                            current: None,
                            until: state.until,
                        })
                    }
                }
            });
        debug_assert!(!matches!(result, CompResult::Inserted(_)));
        outcome
    }
}

impl Default for MemoryFamilyStore {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryFamilyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryFamilyStore")
            .field("families", &self.families.entry_count())
            .finish()
    }
}

impl RefreshFamilyStore for MemoryFamilyStore {
    fn start<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<(), FamilyStoreError>> {
        self.families.insert(
            family.to_owned(),
            Family {
                current: Some(jti.to_owned()),
                until,
            },
        );
        Box::pin(std::future::ready(Ok(())))
    }

    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<Rotation, FamilyStoreError>> {
        let outcome = self.rotate_now(family, presented, next, until);
        Box::pin(std::future::ready(Ok(outcome)))
    }

    fn revoke<'a>(
        &'a self,
        family: &'a str,
        until: SystemTime,
    ) -> BoxFuture<'a, Result<(), FamilyStoreError>> {
        self.families
            .entry_by_ref(family)
            .and_compute_with(|existing| {
                let until =
                    existing.map_or(until, |existing| existing.into_value().until.max(until));
                Op::Put(Family {
                    current: None,
                    until,
                })
            });
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rotation_then_reuse_revokes_the_family() {
        let store = MemoryFamilyStore::new();
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
}
