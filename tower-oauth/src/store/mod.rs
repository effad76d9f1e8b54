//! Where sessions live: the [`SessionStore`] trait, [`MemoryStore`] (default) and
//! `RedisStore` (feature `redis`) for sessions shared by several instances.
//!
//! Stores see opaque records under opaque keys: the key is the SHA-256 of the session id (a
//! dump of the store yields no usable cookie) and the record is JSON written by the session
//! layer, the provider's tokens in it sealed with the cookie key (a dump yields no usable
//! provider token either). A refreshed provider token is written back with
//! [`replace`](SessionStore::replace), a compare-and-set. A store enforces two lifetimes per entry: the *idle* timeout, renewed by every
//! [`load`](SessionStore::load), and the *ttl* given at [`save`](SessionStore::save), the
//! time left before the session's absolute expiry. The session layer re-checks the absolute
//! expiry inside the record too, so a store that renews too generously cannot extend it.

mod memory;
#[cfg(feature = "redis")]
mod redis;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisStore;
pub use memory::MemoryStore;

/// The future a [`SessionStore`] method returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Storage for sessions and single-use login markers.
///
/// Implementations must be safe to share between requests and, for shared stores, between
/// instances: [`claim`](Self::claim) in particular must be atomic across all of them.
pub trait SessionStore: fmt::Debug + Send + Sync + 'static {
    /// The record under `key`, renewing its idle timeout to `idle`; `None` if absent or
    /// expired.
    fn load<'a>(&'a self, key: &'a str, idle: Duration) -> StoreFuture<'a, Option<String>>;

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
    fn save<'a>(
        &'a self,
        key: &'a str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> StoreFuture<'a, ()>;

    /// Compare-and-set: stores `record` under `key`, as [`save`](Self::save) would, only if
    /// the record there is still exactly `current` (what [`load`](Self::load) returned).
    /// `true` if written; `false`, writing nothing, if `key` is absent, expired or holds
    /// another record.
    ///
    /// Atomic with respect to every other write to `key`, across instances for a shared
    /// store: a [`delete`](Self::delete) (a logout) that lands first makes it fail, one
    /// that lands after removes what it wrote. A refreshed provider token is written back
    /// with it, so a session ended during the refresh stays ended.
    fn replace<'a>(
        &'a self,
        key: &'a str,
        current: &'a str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> StoreFuture<'a, bool>;

    /// Removes `key`. Removing an absent key is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    /// Marks `key` as used for `ttl`: `true` the first time, `false` while the mark lives.
    /// Used to consume each login `state` once.
    fn claim<'a>(&'a self, key: &'a str, ttl: Duration) -> StoreFuture<'a, bool>;
}

/// A store could not answer (connection lost, timeout). Maps to 503.
#[derive(Debug, Clone)]
pub struct StoreError {
    message: String,
}

impl StoreError {
    /// A store error with a description (never include session ids or records).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "session store unavailable: {}", self.message)
    }
}

impl std::error::Error for StoreError {}
