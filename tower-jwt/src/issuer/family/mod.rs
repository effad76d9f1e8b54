//! Refresh-token families: which refresh token of a login is current, for reuse detection.

use std::time::SystemTime;

use crate::revocation::BoxFuture;

mod memory;

pub use memory::{DEFAULT_MAX_FAMILIES, MemoryFamilyStore, MemoryFamilyStoreBuilder};

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
    /// No such family (never started, expired, or dropped by a full store): refused like a
    /// revoked one.
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
