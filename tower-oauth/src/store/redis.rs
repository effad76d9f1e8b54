//! Sessions in Redis, shared by every instance.

use std::time::Duration;

use async_trait::async_trait;
use auth_core::StoreError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult, Script};

use super::SessionStore;

/// Compare-and-set of a session record, in one Lua script so it is atomic across every
/// instance: `KEYS[1]` gets `ARGV[2]` (expiring after `ARGV[3]` ms) only if it still holds
/// `ARGV[1]`. An absent key reads as `false`, never equal.
const REPLACE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
";

/// Adds the session key `ARGV[1]` to each set `KEYS[i]`, and makes each live at least
/// `ARGV[2]` ms more, in one script so no instance sees a set without its expiry.
const LINK: &str = r"
for _, set in ipairs(KEYS) do
  redis.call('SADD', set, ARGV[1])
  if redis.call('PTTL', set) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', set, ARGV[2])
  end
end
return 1
";

/// Deletes every session whose key (under the prefix `ARGV[1]`) is in the set `KEYS[1]`,
/// then the set; the number of sessions deleted. One script: a session linked meanwhile is
/// either deleted with the others or linked to a new set.
const DELETE_LINKED: &str = r"
local deleted = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  deleted = deleted + redis.call('DEL', ARGV[1] .. key)
end
redis.call('DEL', KEYS[1])
return deleted
";

/// Sessions in Redis (feature `redis`): a login on one instance is valid on all, a logout on
/// one ends the session everywhere.
///
/// Each session is one string key `{prefix}{sha256(id)}` with a `PX` expiry of the idle
/// timeout (never past the absolute deadline); loads renew it with `GETEX`. Login markers are
/// `SET NX PX` keys under `{prefix}claim:`, atomic across instances; a refreshed provider
/// token is written back by a Lua compare-and-set, so a session deleted meanwhile stays
/// deleted. The logout index is one set per tag, `{prefix}link:{tag}`, holding the keys of
/// the sessions linked under it and expiring with the longest of them; a back-channel
/// logout deletes them in one script. Requires Redis >= 6.2 (standalone or one primary: the
/// scripts touch session keys they are not given, which Redis Cluster refuses).
///
/// **Outages.** Nothing is cached locally: while Redis is down, every request that needs the
/// session store (a request carrying a session cookie, a login, a logout) answers 503
/// within 2 s, never anonymous and never 500. A Redis that comes back empty has lost every
/// session and login marker: their users are logged out and log in again. A session is
/// never read as someone else's: keys are the SHA-256 of a 256-bit random id, and an
/// emptied store has no record for any of them. A logout made while Redis was down did not
/// reach it (the request answered 503). A command that failed because the connection was
/// lost is resent once on a fresh connection within the 2 s, so the first request after
/// the return succeeds; a compare-and-set or login marker whose reply was lost is resent
/// and then refuses (the token refresh is not written back, the login starts again), never
/// grants twice.
#[derive(Clone)]
pub struct RedisSessionStore {
    connection: ConnectionManager,
    prefix: String,
    replace: Script,
    link: Script,
    delete_linked: Script,
}

/// The longest one store operation waits for Redis, its retry on a fresh connection
/// included (the command timeout of [`RedisSessionStore::connect`]).
const TIMEOUT: Duration = Duration::from_secs(2);

/// Whether `error` means the connection was lost (broken pipe, reset, EOF, refused while the
/// connection manager reconnects); an answer of Redis or a response timeout is not.
fn connection_lost(error: &RedisError) -> bool {
    error.is_connection_dropped() && !error.is_timeout()
}

/// Runs `op`, and once more when the connection was lost (the manager reconnects on such an
/// error and the second call waits for the new connection), both within [`TIMEOUT`].
async fn retry_once<T, F, Fut>(mut op: F) -> RedisResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = RedisResult<T>>,
{
    let attempts = async {
        match op().await {
            Err(error) if connection_lost(&error) => {
                tracing::debug!(%error, "Redis connection lost; retrying once on a fresh connection");
                op().await
            }
            other => other,
        }
    };
    tokio::time::timeout(TIMEOUT, attempts)
        .await
        .unwrap_or_else(|_| {
            Err(RedisError::from(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the session store did not answer in time",
            )))
        })
}

impl std::fmt::Debug for RedisSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn unavailable(e: &redis::RedisError) -> StoreError {
    StoreError::unavailable(format!("redis: {}", e.category()))
}

impl RedisSessionStore {
    /// A store over `connection` with the key prefix `towerauth:session:`.
    #[must_use]
    pub fn new(connection: ConnectionManager) -> Self {
        Self {
            connection,
            prefix: "towerauth:session:".to_owned(),
            replace: Script::new(REPLACE),
            link: Script::new(LINK),
            delete_linked: Script::new(DELETE_LINKED),
        }
    }

    /// Connects to `url` (e.g. `redis://127.0.0.1:6379`): 2 s to connect, 2 s per
    /// command (a slow Redis answers 503 instead of hanging requests), reconnecting in the
    /// background.
    ///
    /// # Errors
    /// When the URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(|e| unavailable(&e))?;
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500))
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(Self::new(connection))
    }

    /// Sends an idempotent `command`, once more on a fresh connection if it was lost.
    async fn query(&self, command: &redis::Cmd) -> Result<(), StoreError> {
        retry_once(|| {
            let mut connection = self.connection.clone();
            async move { command.query_async::<()>(&mut connection).await }
        })
        .await
        .map_err(|e| unavailable(&e))
    }

    /// The prefix of every key this store writes (one per application or test).
    #[must_use]
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, key: &str, idle: Duration) -> Result<Option<String>, StoreError> {
        let mut command = redis::cmd("GETEX");
        command
            .arg(format!("{}{key}", self.prefix))
            .arg("PX")
            .arg(millis(idle));
        let command = &command;
        retry_once(|| {
            let mut connection = self.connection.clone();
            async move { command.query_async(&mut connection).await }
        })
        .await
        .map_err(|e| unavailable(&e))
    }

    async fn save(
        &self,
        key: &str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{}{key}", self.prefix))
            .arg(record)
            .arg("PX")
            .arg(millis(idle.min(ttl)));
        self.query(&command).await
    }

    async fn replace(
        &self,
        key: &str,
        current: &str,
        record: String,
        idle: Duration,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = format!("{}{key}", self.prefix);
        let px = millis(idle.min(ttl));
        // Resent only when the connection was lost: if the first call wrote, the second
        // finds `record` instead of `current` and reports "not written", which keeps the
        // stored record (the newer one) as it is.
        let written: i64 = retry_once(|| {
            let mut connection = self.connection.clone();
            let mut invocation = self.replace.key(&key);
            invocation.arg(current).arg(&record).arg(px);
            async move { invocation.invoke_async(&mut connection).await }
        })
        .await
        .map_err(|e| unavailable(&e))?;
        Ok(written == 1)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut command = redis::cmd("DEL");
        command.arg(format!("{}{key}", self.prefix));
        self.query(&command).await
    }

    async fn claim(&self, key: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{}claim:{key}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl));
        // Resent only when the connection was lost: if the first call set the marker,
        // the second reports it taken and the login is refused (the user starts again),
        // never accepted twice.
        let command = &command;
        let set: Option<String> = retry_once(|| {
            let mut connection = self.connection.clone();
            async move { command.query_async(&mut connection).await }
        })
        .await
        .map_err(|e| unavailable(&e))?;
        Ok(set.is_some())
    }

    async fn link(&self, key: &str, tags: &[String], ttl: Duration) -> Result<(), StoreError> {
        if tags.is_empty() {
            return Ok(());
        }
        let sets: Vec<String> = tags
            .iter()
            .map(|tag| format!("{}link:{tag}", self.prefix))
            .collect();
        let px = millis(ttl);
        // Idempotent: resent as is when the connection was lost.
        retry_once(|| {
            let mut connection = self.connection.clone();
            let mut invocation = self.link.prepare_invoke();
            for set in &sets {
                invocation.key(set);
            }
            invocation.arg(key).arg(px);
            async move { invocation.invoke_async::<i64>(&mut connection).await }
        })
        .await
        .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    async fn delete_linked(&self, tag: &str) -> Result<u64, StoreError> {
        let set = format!("{}link:{tag}", self.prefix);
        // Resent when the connection was lost: the second run finds nothing left to delete.
        let deleted: u64 = retry_once(|| {
            let mut connection = self.connection.clone();
            let mut invocation = self.delete_linked.key(&set);
            invocation.arg(&self.prefix);
            async move { invocation.invoke_async(&mut connection).await }
        })
        .await
        .map_err(|e| unavailable(&e))?;
        Ok(deleted)
    }
}
