//! Shared test helpers: stores on real databases, apps, requests.
#![allow(dead_code, unreachable_pub)]

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use auth_core::StoreError;
use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, Response};
use http_body_util::BodyExt;
use sqlx::postgres::{PgConnectOptions, PgPool};
use tower::ServiceExt;
use tower_apikey::store::ApiKeyStore;
use tower_apikey::{ApiKeyIdentity, ApiKeyRecord, ApiKeys, HourlyUsage, KeyInfo, SqlApiKeyStore};

/// The PostgreSQL these tests use (`TEST_POSTGRES_URL`), checked reachable.
pub fn postgres_url() -> String {
    testkit::require_postgres()
}

pub fn unique(tag: &str) -> String {
    use rand::Rng;
    let suffix: u64 = rand::rng().random();
    format!("apikey_{tag}_{suffix:016x}")
}

/// A PostgreSQL store in a fresh schema of its own. Panics with a clear message when no
/// server answers: these tests never pass silently without PostgreSQL.
pub struct PgSchema {
    pub store: SqlApiKeyStore,
    pub schema: String,
    admin: PgPool,
}

impl PgSchema {
    pub async fn new(tag: &str) -> Self {
        let url = postgres_url();
        let admin = PgPool::connect(&url).await.unwrap_or_else(|e| {
            panic!("these tests need PostgreSQL at {url} (TEST_POSTGRES_URL): {e}")
        });
        let schema = unique(tag);
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .expect("create schema");
        let store = Self::connect_schema(&url, &schema).await;
        Self {
            store,
            schema,
            admin,
        }
    }

    async fn connect_schema(url: &str, schema: &str) -> SqlApiKeyStore {
        let options = PgConnectOptions::from_str(url)
            .unwrap()
            .options([("search_path", schema)]);
        SqlApiKeyStore::postgres_with(options)
            .await
            .expect("migrate schema")
    }

    /// A second, independent connection pool to the same schema (another instance).
    pub async fn another_instance(&self) -> SqlApiKeyStore {
        Self::connect_schema(&postgres_url(), &self.schema).await
    }

    pub async fn drop_schema(self) {
        self.store.close().await;
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&self.admin)
            .await
            .expect("drop schema");
    }
}

/// A fresh SQLite file in the temp directory, created by `connect`.
pub async fn sqlite_store() -> (SqlApiKeyStore, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("{}.db", unique("sqlite")));
    let store = tower_apikey::store::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("sqlite store");
    (store, path)
}

/// Removes a SQLite database and its WAL files.
pub fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

/// One `touch` call's arguments.
pub type Batch = Vec<(String, i64)>;

/// Counts lookups and touches on a real store, to prove what was (not) asked.
#[derive(Clone)]
pub struct Counting<S> {
    pub inner: S,
    pub lookups: Arc<AtomicUsize>,
    pub touches: Arc<std::sync::Mutex<Vec<Batch>>>,
}

impl<S> Counting<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            lookups: Arc::default(),
            touches: Arc::default(),
        }
    }

    pub fn lookups(&self) -> usize {
        self.lookups.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl<S: ApiKeyStore> ApiKeyStore for Counting<S> {
    async fn lookup(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        self.inner.lookup(id).await
    }
    async fn create(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        self.inner.create(record).await
    }
    async fn list(&self, account: Option<&str>) -> Result<Vec<KeyInfo>, StoreError> {
        self.inner.list(account).await
    }
    async fn revoke(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        self.inner.revoke(id, at).await
    }
    async fn rotate(&self, old: &str, new: &ApiKeyRecord, grace: i64) -> Result<(), StoreError> {
        self.inner.rotate(old, new, grace).await
    }
    async fn touch(
        &self,
        used: &[(String, i64)],
        usage: &[(String, HourlyUsage)],
    ) -> Result<(), StoreError> {
        if !used.is_empty() {
            self.touches.lock().unwrap().push(used.to_vec());
        }
        self.inner.touch(used, usage).await
    }
    async fn usage(&self, id: &str, since: i64) -> Result<Vec<HourlyUsage>, StoreError> {
        self.inner.usage(id, since).await
    }
}

/// `/whoami` answers the account; `/admin` also needs scope `admin`.
pub fn app(keys: &ApiKeys) -> Router {
    let whoami = get(
        |axum::Extension(id): axum::Extension<ApiKeyIdentity>| async move { id.account().to_owned() },
    );
    Router::new()
        .route("/whoami", whoami.clone())
        .route("/admin", whoami.layer(auth_core::require_scopes(["admin"])))
        .layer(keys.layer())
}

pub fn bearer(path: &str, key: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

pub fn x_api_key(path: &str, key: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header("x-api-key", key)
        .body(Body::empty())
        .unwrap()
}

/// Status, `WWW-Authenticate`, body and the logged reason of a response.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub challenge: Option<String>,
    pub body: String,
    pub reason: Option<&'static str>,
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    let response: Response<Body> = app.clone().oneshot(request).await.unwrap();
    let reason = response
        .extensions()
        .get::<auth_core::AuthError>()
        .map(auth_core::AuthError::reason);
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    Answer {
        status,
        challenge,
        body,
        reason,
    }
}
