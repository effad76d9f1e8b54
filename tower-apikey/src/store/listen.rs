//! Push invalidation across instances with PostgreSQL `LISTEN` / `NOTIFY`.
//!
//! A [`SqlApiKeyStore`] on PostgreSQL sends `NOTIFY tower_apikey_invalidate, '<key id>'` after
//! every revocation and rotation, whichever process made it (a server, the CLI).
//! [`SqlApiKeyStore::listen`] subscribes an [`ApiKeys`] handle: each notification evicts that
//! key from its cache, so a revocation reaches every listening instance in milliseconds
//! instead of within the cache TTL. If the listening connection drops, cached keys keep
//! answering (PostgreSQL being down is no reason to refuse a key it vouched for); the
//! listener reconnects every second, and once it listens again it clears the whole cache,
//! since notifications may have been missed. While it is down the cache TTL remains the
//! bound.

use std::fmt;
use std::sync::Weak;
use std::time::Duration;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use auth_core::{StoreError, StoreErrorKind};

use super::SqlApiKeyStore;
use crate::keys::{ApiKeys, Inner};

/// Between two reconnection attempts of the listener.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

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

impl SqlApiKeyStore {
    /// Evicts keys from `keys`' cache as other instances revoke or rotate them.
    /// PostgreSQL only; keep the returned listener alive for as long as you serve.
    ///
    /// # Errors
    ///
    /// [`StoreErrorKind::Unsupported`] on SQLite; [`StoreErrorKind::Unavailable`] if the listening
    /// connection cannot be opened.
    pub async fn listen(&self, keys: &ApiKeys) -> Result<InvalidationListener, StoreError> {
        let pool = self.pg_pool().ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Unsupported,
                "LISTEN/NOTIFY needs PostgreSQL",
            )
        })?;
        let mut listener = PgListener::connect_with(pool)
            .await
            .map_err(StoreError::unavailable)?;
        listener
            .listen(NOTIFY_CHANNEL)
            .await
            .map_err(StoreError::unavailable)?;
        let task = tokio::spawn(run(listener, keys.downgrade()));
        Ok(InvalidationListener { task })
    }
}

async fn run(mut listener: PgListener, keys: Weak<Inner>) {
    let mut lost = false;
    loop {
        if lost {
            // Reconnect and LISTEN (again: a fresh connection already listens, and a repeated
            // LISTEN is a no-op) before clearing: notifications sent while the connection
            // was down were missed, and a key read back meanwhile would be cached stale.
            // Cached keys keep answering until then.
            let relisten = format!("LISTEN {NOTIFY_CHANNEL}");
            match sqlx::query(&relisten).execute(&mut listener).await {
                Ok(_) => {
                    let Some(inner) = keys.upgrade() else { return };
                    tracing::warn!(target: "tower_apikey", "invalidation listener reconnected; clearing the key cache");
                    inner.cache.invalidate_all();
                    lost = false;
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(error) => {
                    if keys.strong_count() == 0 {
                        return;
                    }
                    tracing::debug!(target: "tower_apikey", %error, "invalidation listener still disconnected");
                    tokio::time::sleep(RECONNECT_DELAY).await;
                    continue;
                }
            }
        }
        let received = listener.try_recv().await;
        let Some(inner) = keys.upgrade() else { return };
        match received {
            Ok(Some(notification)) => inner.cache.invalidate(notification.payload()),
            Ok(None) => {
                tracing::warn!(target: "tower_apikey", "invalidation listener lost its connection; cached keys keep working until it is back");
                lost = true;
            }
            Err(sqlx::Error::PoolClosed) => return,
            Err(error) => {
                tracing::warn!(target: "tower_apikey", %error, "invalidation listener failed; reconnecting");
                lost = true;
                drop(inner);
                tokio::time::sleep(RECONNECT_DELAY).await;
            }
        }
    }
}
