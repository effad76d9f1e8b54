//! SQLite (feature `sqlite`) and PostgreSQL (feature `postgres`) through `sqlx`: one schema,
//! one set of queries, migrations embedded.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

use auth_core::{StoreError, StoreErrorKind};

use super::ApiKeyStore;
use retry::retry_once;

mod retry;
use crate::limit::KeyLimit;
use crate::record::{
    ApiKeyRecord, HourlyUsage, KeyDigest, KeyInfo, USAGE_RETENTION_SECS, hour_of, now,
};

/// The embedded migrations (`migrations/` in this crate), valid for both backends.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

const COLUMNS: &str = "id, env, account, name, scopes, digest, display_prefix, last_four, \
    created_at, expires_at, not_before, revoked_at, last_used_at, grace_ends_at, replaced_by, \
    tenant, metadata, rate, quota";

/// Opens the store a URL names, creating and migrating it as needed:
/// `sqlite://PATH` (the file is created) or `sqlite::memory:` with feature `sqlite`,
/// `postgres://…` / `postgresql://…` with feature `postgres`.
///
/// # Errors
///
/// [`StoreErrorKind::Unavailable`] when the URL is not understood (or names a backend this build
/// leaves out), the database cannot be reached or the migrations fail.
pub async fn connect(url: &str) -> Result<SqlApiKeyStore, StoreError> {
    SqlApiKeyStore::connect(url).await
}

#[derive(Clone)]
enum Pool {
    #[cfg(feature = "sqlite")]
    Sqlite(SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

/// A [`ApiKeyStore`] in SQLite or PostgreSQL. Cloning shares the connection pool.
///
/// **PostgreSQL outages.** Keys in an [`ApiKeys`](crate::ApiKeys) cache keep working (for
/// their cache TTL) while the database is down; a key that is not cached answers 503
/// (`store_unavailable`) within the 5 s pool timeout, never 401. Last-use times that cannot
/// be written are kept (one per key) and written with the next batch after the return.
/// Nothing is lost when it comes back: the data is PostgreSQL's. The pool opens fresh
/// connections by itself, and a read or last-use write that failed because its connection
/// was lost (an I/O error, SQLSTATE `08…` or `57P…`) is resent once on a fresh one within
/// the same 5 s; admin writes (`create`, `revoke`, `rotate`) are not resent, since their
/// outcome would be ambiguous, and answer [`StoreErrorKind::Unavailable`]. A
/// [`listen`](Self::listen)ing instance keeps its cache while the listening connection is
/// down, reconnects every second, and clears the cache once it listens again (a
/// notification may have been missed): revocations made meanwhile are enforced within
/// about a second of the return.
#[derive(Clone)]
pub struct SqlApiKeyStore {
    pool: Pool,
}

impl fmt::Debug for SqlApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlApiKeyStore")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Runs the same body against whichever pool this is.
macro_rules! with_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite($p) => $body,
            #[cfg(feature = "postgres")]
            Pool::Postgres($p) => $body,
        }
    };
}

fn unavailable(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::unavailable(e)
}

fn db_error(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::new(StoreErrorKind::Conflict, e)
        }
        _ => unavailable(e),
    }
}

impl SqlApiKeyStore {
    /// See [`connect`].
    ///
    /// # Errors
    ///
    /// As [`connect`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let sqlite = url.starts_with("sqlite:");
        let postgres = url.starts_with("postgres://") || url.starts_with("postgresql://");
        #[cfg(feature = "sqlite")]
        if sqlite {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(unavailable)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .busy_timeout(std::time::Duration::from_secs(5));
            let mut pool = SqlitePoolOptions::new();
            if url.contains(":memory:") || url.contains("mode=memory") {
                // An in-memory database lives as long as one connection to it does.
                pool = pool
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            }
            let pool = pool.connect_with(options).await.map_err(unavailable)?;
            return Self::sqlite(pool).await;
        }
        #[cfg(feature = "postgres")]
        if postgres {
            let options = PgConnectOptions::from_str(url).map_err(unavailable)?;
            return Self::postgres_with(options).await;
        }
        Err(StoreError::unavailable(match (sqlite, postgres) {
            (true, _) => "a sqlite:// URL needs tower-apikey's `sqlite` feature",
            (_, true) => "a postgres:// URL needs tower-apikey's `postgres` feature",
            _ => "unsupported database URL: expected sqlite:// or postgres://",
        }))
    }

    /// A PostgreSQL store from connection options (e.g. with a `search_path`), migrated.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    ///
    /// # Errors
    ///
    /// [`StoreErrorKind::Unavailable`] when the server cannot be reached or migrations fail.
    pub async fn postgres_with(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(retry::STORE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(unavailable)?;
        Self::postgres(pool).await
    }

    /// A SQLite store on `pool`, migrated.
    #[cfg(feature = "sqlite")]
    #[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
    ///
    /// # Errors
    ///
    /// [`StoreErrorKind::Unavailable`] when migrations fail.
    pub async fn sqlite(pool: SqlitePool) -> Result<Self, StoreError> {
        MIGRATOR.run(&pool).await.map_err(unavailable)?;
        Ok(Self {
            pool: Pool::Sqlite(pool),
        })
    }

    /// A PostgreSQL store on `pool`, migrated.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    ///
    /// # Errors
    ///
    /// [`StoreErrorKind::Unavailable`] when migrations fail.
    pub async fn postgres(pool: PgPool) -> Result<Self, StoreError> {
        MIGRATOR.run(&pool).await.map_err(unavailable)?;
        Ok(Self {
            pool: Pool::Postgres(pool),
        })
    }

    /// `"sqlite"` or `"postgres"`.
    #[must_use]
    pub fn backend(&self) -> &'static str {
        match self.pool {
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            Pool::Postgres(_) => "postgres",
        }
    }

    /// The PostgreSQL pool, if this is a PostgreSQL store.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    #[must_use]
    pub fn pg_pool(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(p) => Some(p),
            #[cfg(feature = "sqlite")]
            Pool::Sqlite(_) => None,
        }
    }

    /// On PostgreSQL, announces a change to key `id` to listening instances. A failure
    /// is logged, not returned: the change is stored, and the cache TTL still bounds it.
    #[cfg(feature = "postgres")]
    async fn notify(&self, id: &str) {
        let Some(pool) = self.pg_pool() else {
            return;
        };
        let sent = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(super::NOTIFY_CHANNEL)
            .bind(id)
            .execute(pool)
            .await;
        if let Err(error) = sent {
            tracing::warn!(target: "tower_apikey", key_id = id, %error, "could not notify other instances");
        }
    }

    /// Without PostgreSQL there is no one to notify.
    #[cfg(not(feature = "postgres"))]
    #[allow(clippy::unused_async)]
    async fn notify(&self, _id: &str) {}

    /// Closes every connection; later operations fail with [`StoreErrorKind::Unavailable`].
    pub async fn close(&self) {
        with_pool!(&self.pool, p => p.close().await);
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    env: String,
    account: String,
    name: Option<String>,
    scopes: String,
    digest: String,
    display_prefix: String,
    last_four: String,
    created_at: i64,
    expires_at: Option<i64>,
    not_before: Option<i64>,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
    grace_ends_at: Option<i64>,
    replaced_by: Option<String>,
    tenant: Option<String>,
    metadata: String,
    rate: Option<String>,
    quota: Option<String>,
}

impl Row {
    fn into_record(self) -> Result<ApiKeyRecord, StoreError> {
        let corrupt = |what: &str| {
            StoreError::new(
                StoreErrorKind::Corrupt,
                format!("{what} of key {}", self.id),
            )
        };
        let digest = KeyDigest::from_hex(&self.digest).ok_or_else(|| corrupt("digest"))?;
        let env = self.env.parse().map_err(|_| corrupt("env"))?;
        let metadata = serde_json::from_str(&self.metadata).map_err(|_| corrupt("metadata"))?;
        let limit = |text: Option<&str>, what| {
            text.map(|t| KeyLimit::parse(t).ok_or_else(|| corrupt(what)))
                .transpose()
        };
        let rate = limit(self.rate.as_deref(), "rate")?;
        let quota = limit(self.quota.as_deref(), "quota")?;
        Ok(ApiKeyRecord {
            info: KeyInfo {
                id: self.id,
                env,
                account: self.account,
                name: self.name,
                scopes: self.scopes.split_whitespace().map(str::to_owned).collect(),
                display_prefix: self.display_prefix,
                last_four: self.last_four,
                created_at: self.created_at,
                expires_at: self.expires_at,
                not_before: self.not_before,
                revoked_at: self.revoked_at,
                last_used_at: self.last_used_at,
                grace_ends_at: self.grace_ends_at,
                replaced_by: self.replaced_by,
                tenant: self.tenant,
                metadata,
                rate,
                quota,
            },
            digest,
        })
    }
}

/// Binds a record's columns in `COLUMNS` order.
macro_rules! bind_record {
    ($query:expr, $r:expr) => {{
        let info = &$r.info;
        $query
            .bind(info.id.clone())
            .bind(info.env.as_str())
            .bind(info.account.clone())
            .bind(info.name.clone())
            .bind(info.scopes.join(" "))
            .bind($r.digest.to_hex())
            .bind(info.display_prefix.clone())
            .bind(info.last_four.clone())
            .bind(info.created_at)
            .bind(info.expires_at)
            .bind(info.not_before)
            .bind(info.revoked_at)
            .bind(info.last_used_at)
            .bind(info.grace_ends_at)
            .bind(info.replaced_by.clone())
            .bind(info.tenant.clone())
            .bind(serde_json::Value::Object(info.metadata.clone()).to_string())
            .bind(info.rate.map(|r| r.to_string()))
            .bind(info.quota.map(|q| q.to_string()))
    }};
}

fn insert_sql() -> String {
    format!(
        "INSERT INTO api_keys ({COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
    )
}

#[async_trait]
impl ApiKeyStore for SqlApiKeyStore {
    async fn lookup(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM api_keys WHERE id = $1");
        let row = with_pool!(&self.pool, p => retry_once(|| sqlx::query_as::<_, Row>(&sql)
            .bind(id)
            .fetch_optional(p))
            .await
            .map_err(db_error)?);
        row.map(Row::into_record).transpose()
    }

    async fn create(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let sql = insert_sql();
        with_pool!(&self.pool, p => {
            bind_record!(sqlx::query(&sql), record)
                .execute(p)
                .await
                .map_err(db_error)?;
        });
        Ok(())
    }

    async fn list(&self, account: Option<&str>) -> Result<Vec<KeyInfo>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM api_keys WHERE ($1 IS NULL OR account = $1) \
             ORDER BY created_at, id"
        );
        let rows = with_pool!(&self.pool, p => retry_once(|| sqlx::query_as::<_, Row>(&sql)
            .bind(account)
            .fetch_all(p))
            .await
            .map_err(db_error)?);
        rows.into_iter()
            .map(|r| r.into_record().map(|r| r.info))
            .collect()
    }

    async fn revoke(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let done = with_pool!(&self.pool, p => sqlx::query(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id)
            .bind(at)
            .execute(p)
            .await
            .map_err(db_error)?
            .rows_affected());
        if done > 0 {
            self.notify(id).await;
            return Ok(true);
        }
        match self.lookup(id).await? {
            Some(_) => Ok(false),
            None => Err(super::not_found(id)),
        }
    }

    async fn rotate(
        &self,
        old_id: &str,
        replacement: &ApiKeyRecord,
        grace_ends_at: i64,
    ) -> Result<(), StoreError> {
        let insert = insert_sql();
        let update = "UPDATE api_keys SET \
            grace_ends_at = CASE WHEN grace_ends_at IS NULL OR grace_ends_at > $2 \
                THEN $2 ELSE grace_ends_at END, \
            replaced_by = $3 \
            WHERE id = $1 AND revoked_at IS NULL";
        with_pool!(&self.pool, p => {
            let mut tx = p.begin().await.map_err(db_error)?;
            let updated = sqlx::query(update)
                .bind(old_id)
                .bind(grace_ends_at)
                .bind(replacement.info.id.clone())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
            if updated == 0 {
                return Err(super::not_found(old_id));
            }
            bind_record!(sqlx::query(&insert), replacement)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
        });
        self.notify(old_id).await;
        Ok(())
    }

    async fn touch(
        &self,
        used: &[(String, i64)],
        usage: &[(String, HourlyUsage)],
    ) -> Result<(), StoreError> {
        if used.is_empty() && usage.is_empty() {
            return Ok(());
        }
        let update = "UPDATE api_keys SET last_used_at = $2 \
            WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)";
        // Only counts of existing keys: an id of no key leaves no row behind.
        let count = "INSERT INTO key_usage (key_id, hour, accepted, refused, limited) \
            SELECT id, $2, $3, $4, $5 FROM api_keys WHERE id = $1 \
            ON CONFLICT (key_id, hour) DO UPDATE SET \
            accepted = key_usage.accepted + excluded.accepted, \
            refused = key_usage.refused + excluded.refused, \
            limited = key_usage.limited + excluded.limited";
        let prune = "DELETE FROM key_usage WHERE hour < $1";
        let oldest = hour_of(now()) - USAGE_RETENTION_SECS;
        let wide = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        // One transaction, resent once if the connection was lost before it committed (a
        // loss between the commit and its acknowledgement can count a batch twice).
        with_pool!(&self.pool, p => retry_once(|| async {
            let mut tx = p.begin().await?;
            for (id, at) in used {
                sqlx::query(update)
                    .bind(id.as_str())
                    .bind(*at)
                    .execute(&mut *tx)
                    .await?;
            }
            for (id, counts) in usage {
                sqlx::query(count)
                    .bind(id.as_str())
                    .bind(hour_of(counts.hour))
                    .bind(wide(counts.accepted))
                    .bind(wide(counts.refused))
                    .bind(wide(counts.limited))
                    .execute(&mut *tx)
                    .await?;
            }
            if !usage.is_empty() {
                sqlx::query(prune).bind(oldest).execute(&mut *tx).await?;
            }
            tx.commit().await
        })
        .await
        .map_err(db_error))
    }

    async fn usage(&self, id: &str, since: i64) -> Result<Vec<HourlyUsage>, StoreError> {
        let sql = "SELECT hour, accepted, refused, limited FROM key_usage \
            WHERE key_id = $1 AND hour >= $2 ORDER BY hour";
        let rows: Vec<(i64, i64, i64, i64)> = with_pool!(&self.pool, p => retry_once(|| sqlx::query_as(sql)
            .bind(id)
            .bind(since)
            .fetch_all(p))
            .await
            .map_err(db_error)?);
        Ok(rows
            .into_iter()
            .map(|(hour, accepted, refused, limited)| HourlyUsage {
                hour,
                accepted: u64::try_from(accepted).unwrap_or(0),
                refused: u64::try_from(refused).unwrap_or(0),
                limited: u64::try_from(limited).unwrap_or(0),
            })
            .collect())
    }
}
