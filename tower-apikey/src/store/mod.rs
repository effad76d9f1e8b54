//! Where key records live: the [`ApiKeyStore`] trait, [`MemoryApiKeyStore`] and [`SqlApiKeyStore`]
//! (SQLite and PostgreSQL through `sqlx`, one schema, migrations embedded).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tower_apikey::store::{connect, ApiKeyStore};
//!
//! // `sqlite://PATH` creates and migrates the file; `postgres://…` uses the server.
//! let store = connect("sqlite::memory:").await.unwrap();
//! assert!(store.list(Some("nobody")).await.unwrap().is_empty());
//! # }
//! ```

#[cfg(feature = "postgres")]
mod listen;
mod memory;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;

use std::sync::Arc;

use async_trait::async_trait;
use auth_core::{StoreError, StoreErrorKind};

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use listen::{InvalidationListener, NOTIFY_CHANNEL};
pub use memory::MemoryApiKeyStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use sql::{MIGRATOR, SqlApiKeyStore, connect};

use crate::record::{ApiKeyRecord, HourlyUsage, KeyInfo};

/// The error for a key that does not exist (or may not be changed): kind
/// [`NotFound`](StoreErrorKind::NotFound), naming the id.
pub(crate) fn not_found(id: &str) -> StoreError {
    StoreError::new(StoreErrorKind::NotFound, format!("key {id}"))
}

/// The operations the layer and the CLI need from a key store.
///
/// Implementations: [`MemoryApiKeyStore`] and [`SqlApiKeyStore`]. Every method is a single round trip
/// (`rotate` one transaction); none is called on the request path when the cache answers.
#[async_trait]
pub trait ApiKeyStore: Send + Sync + 'static {
    /// The record with this key id, if any.
    async fn lookup(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Stores a new record; [`StoreErrorKind::Conflict`] if the id exists.
    async fn create(&self, record: &ApiKeyRecord) -> Result<(), StoreError>;

    /// The keys of `account` (all keys when `None`), oldest first, without digests.
    async fn list(&self, account: Option<&str>) -> Result<Vec<KeyInfo>, StoreError>;

    /// Marks the key revoked at `at`. `Ok(true)` if this call revoked it, `Ok(false)` if it
    /// already was; [`StoreErrorKind::NotFound`] if there is no such key.
    async fn revoke(&self, id: &str, at: i64) -> Result<bool, StoreError>;

    /// In one transaction: stores `replacement` and ends the old key's life at
    /// `grace_ends_at` (recording `replaced_by`). [`StoreErrorKind::NotFound`] if the old key
    /// does not exist or is revoked.
    async fn rotate(
        &self,
        old_id: &str,
        replacement: &ApiKeyRecord,
        grace_ends_at: i64,
    ) -> Result<(), StoreError>;

    /// Writes one batch: last use as `(id, unix seconds)` pairs (a later time never moves
    /// backwards), and usage counts, each added to its key's hour. Usage rows older than 48
    /// hours are pruned. Ids of no key are ignored.
    async fn touch(
        &self,
        used: &[(String, i64)],
        usage: &[(String, HourlyUsage)],
    ) -> Result<(), StoreError>;

    /// The usage of key `id` in the hours starting at or after `since` (Unix seconds),
    /// oldest first; hours without traffic are absent.
    async fn usage(&self, id: &str, since: i64) -> Result<Vec<HourlyUsage>, StoreError>;
}

#[async_trait]
impl<S: ApiKeyStore + ?Sized> ApiKeyStore for Arc<S> {
    async fn lookup(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        (**self).lookup(id).await
    }

    async fn create(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        (**self).create(record).await
    }

    async fn list(&self, account: Option<&str>) -> Result<Vec<KeyInfo>, StoreError> {
        (**self).list(account).await
    }

    async fn revoke(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        (**self).revoke(id, at).await
    }

    async fn rotate(
        &self,
        old_id: &str,
        replacement: &ApiKeyRecord,
        grace_ends_at: i64,
    ) -> Result<(), StoreError> {
        (**self).rotate(old_id, replacement, grace_ends_at).await
    }

    async fn touch(
        &self,
        used: &[(String, i64)],
        usage: &[(String, HourlyUsage)],
    ) -> Result<(), StoreError> {
        (**self).touch(used, usage).await
    }

    async fn usage(&self, id: &str, since: i64) -> Result<Vec<HourlyUsage>, StoreError> {
        (**self).usage(id, since).await
    }
}
