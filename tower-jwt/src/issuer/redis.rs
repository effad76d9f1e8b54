//! Refresh families shared through Redis (feature `redis`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use auth_core::{ConfigError, ConfigErrorKind, StoreError, StoreErrorKind};
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::family::{RefreshFamilyStore, Rotation};
use crate::revocation::redis::retry::retry_once;

/// The longest a family operation waits for Redis, its retry on a fresh connection included.
const TIMEOUT: Duration = Duration::from_secs(1);

/// Compare-and-swap of the current token, in one Lua script so it is atomic across every
/// instance: `c:<jti>` is the current token, `r` a revoked family.
const ROTATE: &str = r"
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if current == 'r' then return 1 end
if current == 'c:' .. ARGV[1] then
  redis.call('SET', KEYS[1], 'c:' .. ARGV[2], 'PXAT', ARGV[3])
  return 2
end
redis.call('SET', KEYS[1], 'r', 'KEEPTTL')
return 3
";

/// Refresh families in Redis, so a refresh token used on instance A and replayed on B is
/// caught: one key `{prefix}family:{id}` per family, expiring with its latest refresh token;
/// rotation is a Lua compare-and-swap (atomic). When Redis is unreachable, logins and
/// refreshes fail within 1 s with
/// [`RefreshError::Unavailable`](super::RefreshError::Unavailable) (503): a refresh is
/// never granted without the reuse check.
///
/// A Redis that comes back empty has lost every family: their refresh tokens are refused
/// as unknown, so every user logs in again, and no revoked or replayed family can come
/// back. A command that failed because the connection was lost is resent once on a fresh
/// connection within the same 1 s, so the first login or refresh after the return
/// succeeds; a rotation whose reply was lost is resent and then reads as a reuse (the
/// family is revoked, the user logs in again), never as a second grant.
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[derive(Clone)]
pub struct RedisRefreshFamilyStore {
    connection: ConnectionManager,
    prefix: String,
    rotate: Script,
}

impl RedisRefreshFamilyStore {
    /// Connects to the Redis at `url`, keys prefixed with `prefix` (e.g. `myapp:`).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for an invalid URL or when Redis cannot be reached within 2 s.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self, ConfigError> {
        let client = redis::Client::open(url).map_err(|_| {
            ConfigError::new(ConfigErrorKind::InvalidValue, "url", "not a Redis URL")
        })?;
        let timeout = TIMEOUT;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1);
        let connection = tokio::time::timeout(
            timeout * 2,
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|error| unreachable(&error))?
        .map_err(|error| unreachable(&error))?;
        Ok(Self {
            connection,
            prefix: prefix.into(),
            rotate: Script::new(ROTATE),
        })
    }

    /// Sends an idempotent `command`, once more on a fresh connection if it was lost.
    async fn query(&self, command: &redis::Cmd) -> Result<(), StoreError> {
        retry_once(TIMEOUT, || {
            let mut connection = self.connection.clone();
            async move { command.query_async::<()>(&mut connection).await }
        })
        .await
        .map_err(StoreError::unavailable)
    }

    fn key(&self, family: &str) -> String {
        format!("{}family:{family}", self.prefix)
    }
}

fn unreachable(error: &dyn fmt::Display) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::Setup,
        "redis",
        format!("cannot reach Redis: {error}"),
    )
}

fn unix_ms(at: SystemTime) -> u64 {
    u64::try_from(
        at.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(u64::MAX)
}

impl fmt::Debug for RedisRefreshFamilyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisRefreshFamilyStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl RefreshFamilyStore for RedisRefreshFamilyStore {
    async fn start(&self, family: &str, jti: &str, until: SystemTime) -> Result<(), StoreError> {
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(family))
            .arg(format!("c:{jti}"))
            .arg("PXAT")
            .arg(unix_ms(until));
        self.query(&command).await
    }

    async fn rotate(
        &self,
        family: &str,
        presented: &str,
        next: &str,
        until: SystemTime,
    ) -> Result<Rotation, StoreError> {
        let key = self.key(family);
        let until = unix_ms(until);
        // Resent only when the connection was lost: if the first call did rotate, the
        // second finds `next` current instead of `presented` and revokes the family
        // (the user logs in again): a lost reply never grants a second refresh.
        let outcome: i64 = retry_once(TIMEOUT, || {
            let mut connection = self.connection.clone();
            let mut invocation = self.rotate.key(&key);
            invocation.arg(presented).arg(next).arg(until);
            async move { invocation.invoke_async(&mut connection).await }
        })
        .await
        .map_err(StoreError::unavailable)?;
        match outcome {
            0 => Ok(Rotation::Unknown),
            1 => Ok(Rotation::Revoked),
            2 => Ok(Rotation::Rotated),
            3 => Ok(Rotation::Reused),
            other => Err(StoreError::new(
                StoreErrorKind::Corrupt,
                format!("unexpected rotation answer {other}"),
            )),
        }
    }

    async fn revoke(&self, family: &str, until: SystemTime) -> Result<(), StoreError> {
        let mut command = redis::cmd("SET");
        command
            .arg(self.key(family))
            .arg("r")
            .arg("PXAT")
            .arg(unix_ms(until));
        self.query(&command).await
    }
}
