//! Push invalidation across instances with PostgreSQL `LISTEN` / `NOTIFY`.
//!
//! A [`SqlStore`] on PostgreSQL sends `NOTIFY tower_apikey_invalidate, '<key id>'` after
//! every revocation and rotation, whichever process made it (a server, the CLI).
//! [`SqlStore::listen`] subscribes an [`ApiKeys`] handle: each notification evicts that
//! key from its cache, so a revocation reaches every listening instance in milliseconds
//! instead of within the cache TTL. If the listening connection drops, notifications may
//! have been missed, so the whole cache is cleared when it comes back; while it is down
//! the cache TTL remains the bound.

use std::fmt;
use std::sync::Weak;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use super::{SqlStore, StoreError};
use crate::keys::{ApiKeys, Inner};

/// The notification channel revocations and rotations are announced on.
pub const NOTIFY_CHANNEL: &str = "tower_apikey_invalidate";

/// A running subscription; dropping it stops listening.
pub struct InvalidationListener {
    task: JoinHandle<()>,
}

impl fmt::Debug for InvalidationListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidationListener")
            .field("running", &!self.task.is_finished())
            .finish()
    }
}

impl Drop for InvalidationListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SqlStore {
    /// Evicts keys from `keys`' cache as other instances revoke or rotate them.
    /// PostgreSQL only; keep the returned listener alive for as long as you serve.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unsupported`] on SQLite; [`StoreError::Unavailable`] if the listening
    /// connection cannot be opened.
    pub async fn listen(&self, keys: &ApiKeys) -> Result<InvalidationListener, StoreError> {
        let pool = self
            .pg_pool()
            .ok_or(StoreError::Unsupported("LISTEN/NOTIFY needs PostgreSQL"))?;
        let mut listener = PgListener::connect_with(pool)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        listener
            .listen(NOTIFY_CHANNEL)
            .await
            .map_err(|e| StoreError::Unavailable(Box::new(e)))?;
        let task = tokio::spawn(run(listener, keys.downgrade()));
        Ok(InvalidationListener { task })
    }
}

async fn run(mut listener: PgListener, keys: Weak<Inner>) {
    loop {
        let received = listener.try_recv().await;
        let Some(inner) = keys.upgrade() else { return };
        match received {
            Ok(Some(notification)) => inner.cache.invalidate(notification.payload()),
            Ok(None) => {
                tracing::warn!(target: "tower_apikey", "invalidation listener reconnected; clearing the key cache");
                inner.cache.invalidate_all();
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(target: "tower_apikey", %error, "invalidation listener failed; retrying");
                inner.cache.invalidate_all();
                drop(inner);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
