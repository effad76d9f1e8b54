//! Refresh-token families: which refresh token of a login is current, for reuse detection.

use std::time::SystemTime;

use async_trait::async_trait;
use auth_core::StoreError;

mod memory;

pub use memory::{DEFAULT_MAX_FAMILIES, MemoryRefreshFamilyStore, MemoryRefreshFamilyStoreBuilder};

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

/// Where refresh-token families live: per family, the `jti` of its one current refresh token,
/// or "revoked". Every operation is atomic per family, so two instances presenting the same
/// token at once cannot both rotate it.
///
/// Written with [`async_trait`](https://docs.rs/async-trait) (add `#[async_trait]` to your
/// `impl`), so it is usable as `Arc<dyn RefreshFamilyStore>`. Every method fails with a
/// [`StoreError`] (kind [`Unavailable`](auth_core::StoreErrorKind::Unavailable) when the
/// backend cannot be reached, [`Corrupt`](auth_core::StoreErrorKind::Corrupt) for an answer
/// it cannot read); the [`TokenIssuer`](crate::issuer::TokenIssuer) then answers 503.
#[async_trait]
pub trait RefreshFamilyStore: Send + Sync + 'static {
    /// Starts `family` with `jti` as its current token, remembered until `until`.
    async fn start(&self, family: &str, jti: &str, until: SystemTime) -> Result<(), StoreError>;

    /// If `presented` is current, makes `next` current (remembered until `until`) and answers
    /// [`Rotation::Rotated`]; if it is not, revokes the family and answers
    /// [`Rotation::Reused`].
    async fn rotate(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        until: SystemTime,
    ) -> Result<Rotation, StoreError>;

    /// Revokes `family` (logout), remembered until `until`.
    async fn revoke(&self, family: &str, until: SystemTime) -> Result<(), StoreError>;
}
