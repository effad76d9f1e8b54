//! Where key records live: the [`KeyStore`] trait, [`MemoryStore`] and [`SqlStore`]
//! (SQLite and PostgreSQL through `sqlx`, one schema, migrations embedded).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use tower_apikey::store::{connect, KeyStore};
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

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use listen::{InvalidationListener, NOTIFY_CHANNEL};
pub use memory::MemoryStore;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use sql::{MIGRATOR, SqlStore, connect};

use crate::record::{ApiKeyRecord, KeyInfo};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No key with this id (or, for `rotate`, none that may be rotated).
    #[error("no such key")]
    NotFound,
    /// A key with this id already exists.
    #[error("a key with this id already exists")]
    Conflict,
    /// The store could not be reached or failed; requests it would answer get 503.
    #[error("the key store is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// This store cannot do what was asked.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
    /// A stored row could not be read back (corrupt data).
    #[error("a stored key record is corrupt: {0}")]
    Corrupt(String),
}

/// The operations the layer and the CLI need from a key store.
///
/// Implementations: [`MemoryStore`] and [`SqlStore`]. Every method is a single round trip
/// (`rotate` one transaction); none is called on the request path when the cache answers.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The record with this key id, if any.
    async fn lookup(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Stores a new record; [`StoreError::Conflict`] if the id exists.
    async fn create(&self, record: &ApiKeyRecord) -> Result<(), StoreError>;

    /// The keys of `account` (all keys when `None`), oldest first, without digests.
    async fn list(&self, account: Option<&str>) -> Result<Vec<KeyInfo>, StoreError>;

    /// Marks the key revoked at `at`. `Ok(true)` if this call revoked it, `Ok(false)` if it
    /// already was; [`StoreError::NotFound`] if there is no such key.
    async fn revoke(&self, id: &str, at: i64) -> Result<bool, StoreError>;

    /// In one transaction: stores `replacement` and ends the old key's life at
    /// `grace_ends_at` (recording `replaced_by`). [`StoreError::NotFound`] if the old key
    /// does not exist or is revoked.
    async fn rotate(
        &self,
        old_id: &str,
        replacement: &ApiKeyRecord,
        grace_ends_at: i64,
    ) -> Result<(), StoreError>;

    /// Records last use: `(id, unix seconds)` pairs, written as one batch. A later time
    /// never moves backwards.
    async fn touch(&self, used: &[(String, i64)]) -> Result<(), StoreError>;
}

#[async_trait]
impl<S: KeyStore + ?Sized> KeyStore for Arc<S> {
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

    async fn touch(&self, used: &[(String, i64)]) -> Result<(), StoreError> {
        (**self).touch(used).await
    }
}
