//! Where sessions live: the [`SessionStore`] trait, [`MemorySessionStore`] (default) and
//! `RedisSessionStore` (feature `redis`) for sessions shared by several instances.
//!
//! Stores see opaque records under opaque keys: the key is the SHA-256 of the session id (a
//! dump of the store yields no usable cookie) and the record is JSON written by the session
//! layer, the provider's tokens in it sealed with the cookie key (a dump yields no usable
//! provider token either). A refreshed provider token is written back with
//! [`replace`](SessionStore::replace), a compare-and-set. A store enforces two lifetimes per
//! entry: the *idle* timeout, renewed by every [`load`](SessionStore::load), and the *ttl*
//! given at [`save`](SessionStore::save), the time left before the session's absolute
//! expiry. The session layer re-checks the absolute expiry inside the record too, so a store
//! that renews too generously cannot extend it.
//!
//! Sessions started by an OpenID provider are also [`link`](SessionStore::link)ed under
//! opaque tags derived from the provider's `sid` and `sub`, so a back-channel logout ends
//! them with [`delete_linked`](SessionStore::delete_linked).
//!
//! Every method fails with an [`auth_core::StoreError`]; on the request path it answers 503.

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use auth_core::StoreError;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisSessionStore;
pub use memory::MemorySessionStore;

/// Storage for sessions, their logout index and single-use markers.
///
/// Implementations must be safe to share between requests and, for shared stores, between
/// instances: [`claim`](Self::claim) in particular must be atomic across all of them.
#[async_trait]
pub trait SessionStore: fmt::Debug + Send + Sync + 'static {
    /// The record under `key`, renewing its idle timeout to `idle`; `None` if absent or
    /// expired.
    async fn load(&self, key: &str, idle: Duration) -> Result<Option<String>, StoreError>;

    /// [`load`](Self::load), answered without waiting, or `None` if this store must wait
    /// (a network store). An in-process store answers here, sharing its record instead of
    /// copying it, and the session layer then settles the request with no boxed future.
    /// Renews the idle timeout exactly as `load` does. The default is `None`.
    fn load_now(&self, key: &str, idle: Duration) -> Option<Result<Option<Arc<str>>, StoreError>> {
        let _ = (key, idle);
        None
    }

    /// Stores `record` under `key`, expiring after `idle` without a load and at the latest
    /// after `ttl`.
    async fn save(
        &self,
        key: &str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> Result<(), StoreError>;

    /// Compare-and-set: stores `record` under `key`, as [`save`](Self::save) would, only if
    /// the record there is still exactly `current` (what [`load`](Self::load) returned).
    /// `true` if written; `false`, writing nothing, if `key` is absent, expired or holds
    /// another record.
    ///
    /// Atomic with respect to every other write to `key`, across instances for a shared
    /// store: a [`delete`](Self::delete) (a logout) that lands first makes it fail, one
    /// that lands after removes what it wrote. A refreshed provider token is written back
    /// with it, so a session ended during the refresh stays ended.
    async fn replace(
        &self,
        key: &str,
        current: &str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Removes `key`. Removing an absent key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Marks `key` as used for `ttl`: `true` the first time, `false` while the mark lives.
    /// Used to consume each login `state` and each back-channel `logout_token` once.
    async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Adds the session `key` to the set of sessions under each of `tags`, each set living
    /// at least `ttl` more (the session's absolute lifetime, so an index entry never
    /// outlives what it could end by much). Atomic per tag across instances.
    async fn link(&self, key: &str, tags: &[String], ttl: Duration) -> Result<(), StoreError>;

    /// Deletes every session linked under `tag`, and the set itself; the number of
    /// session records deleted. Atomic across instances.
    async fn delete_linked(&self, tag: &str) -> Result<u64, StoreError>;
}
