//! Tenant, metadata and a key's own rate and quota: set at creation, stored by every store,
//! returned by lookups and listings, carried by the identity and the principal, kept by a
//! rotation; oversized or malformed values are refused at creation.

mod common;

use std::time::Duration;

use auth_core::Identity;
use axum::Router;
use axum::routing::get;
use common::{PgSchema, bearer, send};
use serde_json::{Map, Value, json};
use tower_apikey::{
    ApiKeyIdentity, ApiKeyStore, ApiKeys, KeyError, KeyLimit, MAX_METADATA_BYTES,
    MemoryApiKeyStore, NewKey,
};

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// `/who` answers what the identity and its principal carry, as JSON.
fn app(keys: &ApiKeys) -> Router {
    Router::new()
        .route(
            "/who",
            get(
                |axum::Extension(id): axum::Extension<ApiKeyIdentity>| async move {
                    json!({
                        "tenant": id.tenant(),
                        "principal_tenant": id.principal().tenant(),
                        "metadata": id.metadata(),
                        "rate": id.rate().map(|r| r.to_string()),
                        "quota": id.quota().map(|q| q.to_string()),
                    })
                    .to_string()
                },
            ),
        )
        .layer(keys.layer())
}

async fn carried_everywhere(store: impl ApiKeyStore) {
    let keys = ApiKeys::builder(store).build().unwrap();
    let metadata = object(json!({"plan": "pro", "seats": 3, "owner": {"email": "a@acme.test"}}));
    let created = keys
        .create(
            NewKey::new("acme")
                .tenant("acme-eu")
                .metadata(metadata.clone())
                .rate(KeyLimit::parse_rate("20/s").unwrap())
                .quota(KeyLimit::parse_quota("1000/day").unwrap()),
        )
        .await
        .unwrap();
    let plain = keys.create(NewKey::new("acme")).await.unwrap();

    let expected = json!({
        "tenant": "acme-eu",
        "principal_tenant": "acme-eu",
        "metadata": metadata,
        "rate": "20/s",
        "quota": "1000/day",
    });
    let answer = send(&app(&keys), bearer("/who", created.key.expose())).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&answer.body).unwrap(),
        expected
    );
    let answer = send(&app(&keys), bearer("/who", plain.key.expose())).await;
    assert_eq!(
        serde_json::from_str::<Value>(&answer.body).unwrap(),
        json!({"tenant": null, "principal_tenant": null, "metadata": {}, "rate": null, "quota": null})
    );

    // Lookups and listings return them; a listing shows unset ones as null.
    let info = keys.info(&created.info.id).await.unwrap().unwrap();
    assert_eq!(info.tenant.as_deref(), Some("acme-eu"));
    assert_eq!(info.metadata, metadata);
    assert_eq!(info.rate, Some(KeyLimit::parse_rate("20/s").unwrap()));
    assert_eq!(info.quota, Some(KeyLimit::parse_quota("1000/day").unwrap()));
    let listed = serde_json::to_value(keys.list(Some("acme")).await.unwrap()).unwrap();
    let listed = |id: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()
            .clone()
    };
    let (with, without) = (listed(&created.info.id), listed(&plain.info.id));
    assert_eq!(with["tenant"], "acme-eu");
    assert_eq!(with["metadata"]["seats"], 3);
    assert_eq!(with["rate"], "20/s");
    assert_eq!(with["quota"], "1000/day");
    assert_eq!(without["rate"], Value::Null);
    assert_eq!(without["quota"], Value::Null);
    assert_eq!(without["tenant"], Value::Null);

    // A rotation keeps them.
    let rotated = keys
        .rotate(&created.info.id, Duration::from_secs(60))
        .await
        .unwrap();
    let answer = send(&app(&keys), bearer("/who", rotated.key.expose())).await;
    assert_eq!(
        serde_json::from_str::<Value>(&answer.body).unwrap(),
        expected
    );
}

#[tokio::test]
async fn memory_store_carries_tenant_metadata_and_limits() {
    carried_everywhere(MemoryApiKeyStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_carries_tenant_metadata_and_limits() {
    let (store, path) = common::sqlite_store().await;
    carried_everywhere(store).await;
    common::remove_sqlite(&path);
}

#[tokio::test]
async fn postgres_store_carries_tenant_metadata_and_limits() {
    let pg = PgSchema::new("tenant").await;
    carried_everywhere(pg.store.clone()).await;
    pg.drop_schema().await;
}

fn refused_field(result: Result<tower_apikey::CreatedKey, KeyError>) -> &'static str {
    match result {
        Err(KeyError::InvalidInput { field, .. }) => field,
        other => panic!("expected an invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn oversized_metadata_and_misplaced_limits_are_refused_at_creation() {
    let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build().unwrap();
    // `{"pad":"…"}` is 10 bytes of JSON around the string.
    let sized = |len: usize| object(json!({ "pad": "x".repeat(len - 10) }));
    assert_eq!(
        serde_json::to_vec(&sized(MAX_METADATA_BYTES))
            .unwrap()
            .len(),
        4096
    );
    let at_limit = keys
        .create(NewKey::new("acme").metadata(sized(MAX_METADATA_BYTES)))
        .await
        .unwrap();
    assert_eq!(
        at_limit.info.metadata,
        sized(MAX_METADATA_BYTES),
        "stored whole"
    );

    let over = keys
        .create(NewKey::new("acme").metadata(sized(MAX_METADATA_BYTES + 1)))
        .await;
    let message = over.as_ref().unwrap_err().to_string();
    assert_eq!(
        message,
        "invalid metadata: must be at most 4096 bytes of JSON"
    );
    assert_eq!(refused_field(over), "metadata");

    let quota_as_rate = KeyLimit::parse_quota("10/day").unwrap();
    let rate_as_quota = KeyLimit::parse_rate("10/s").unwrap();
    assert_eq!(
        refused_field(keys.create(NewKey::new("acme").rate(quota_as_rate)).await),
        "rate"
    );
    assert_eq!(
        refused_field(keys.create(NewKey::new("acme").quota(rate_as_quota)).await),
        "quota"
    );
    for tenant in ["", "a\nb"] {
        assert_eq!(
            refused_field(keys.create(NewKey::new("acme").tenant(tenant)).await),
            "tenant"
        );
    }
    assert_eq!(
        keys.list(None).await.unwrap().len(),
        1,
        "nothing refused was stored"
    );
}

/// A database created by the first migration, with a key in it, is upgraded in place: the
/// key reads back with no tenant, empty metadata and no limits.
#[tokio::test]
async fn keys_stored_before_the_upgrade_read_back_without_tenant_or_limits() {
    let path = std::env::temp_dir().join(format!("{}.db", common::unique("upgrade")));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(include_str!("../migrations/20261128000001_api_keys.sql"))
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO api_keys (id, env, account, name, scopes, digest, display_prefix, \
             last_four, created_at) VALUES ('abcdefghijkl', 'live', 'acme', NULL, 'read', $1, \
             'sk_live_abcdefghijkl', 'wxyz', 100)",
        )
        .bind("0".repeat(64))
        .execute(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
    }
    let store = tower_apikey::store::connect(&url).await.unwrap();
    let old = store.lookup("abcdefghijkl").await.unwrap().unwrap().info;
    assert_eq!(old.account, "acme");
    assert_eq!(old.scopes, ["read"]);
    assert_eq!(
        (old.tenant, old.metadata, old.rate, old.quota),
        (None, Map::new(), None, None)
    );
    store.close().await;
    common::remove_sqlite(&path);
}
