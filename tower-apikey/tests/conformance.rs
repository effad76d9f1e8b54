//! One conformance suite, run against the memory store, SQLite (a temp file) and the real
//! PostgreSQL on 127.0.0.1:5432 (a schema per test).

mod common;

use auth_core::StoreErrorKind;
use tower_apikey::store::ApiKeyStore;
use tower_apikey::{ApiKeyRecord, Env, Hasher, KeyFormat, KeyInfo, MemoryApiKeyStore};
use tower_apikey::{HourlyUsage, KeyLimit};

fn record(account: &str, created_at: i64) -> ApiKeyRecord {
    let key = KeyFormat::default().generate(Env::Test).unwrap();
    ApiKeyRecord {
        info: KeyInfo {
            id: key.id().to_owned(),
            env: Env::Test,
            account: account.to_owned(),
            name: Some("ci deploy".to_owned()),
            scopes: vec!["read".to_owned(), "write:all".to_owned()],
            display_prefix: key.display_prefix().to_owned(),
            last_four: key.last_four().to_owned(),
            created_at,
            expires_at: Some(created_at + 3600),
            not_before: None,
            revoked_at: None,
            last_used_at: None,
            grace_ends_at: None,
            replaced_by: None,
            tenant: Some(format!("{account}-tenant")),
            metadata: serde_json::json!({"plan": "pro", "seats": 3, "tags": ["ci", "é"]})
                .as_object()
                .cloned()
                .unwrap(),
            rate: Some(KeyLimit::parse_rate("100/s").unwrap()),
            quota: Some(KeyLimit::parse_quota("5000/month").unwrap()),
        },
        digest: Hasher::sha256().digest(key.expose()),
    }
}

async fn suite(store: &dyn ApiKeyStore) {
    // create / lookup round trip, every field
    let a1 = record("acme", 100);
    let mut a2 = record("acme", 200);
    a2.info.name = None;
    a2.info.scopes = vec![];
    a2.info.expires_at = None;
    a2.info.env = Env::Live;
    let b1 = record("globex", 150);
    for r in [&a1, &a2, &b1] {
        store.create(r).await.unwrap();
    }
    assert_eq!(store.lookup(&a1.info.id).await.unwrap().as_ref(), Some(&a1));
    assert_eq!(store.lookup(&a2.info.id).await.unwrap().as_ref(), Some(&a2));
    assert_eq!(store.lookup("000000000000").await.unwrap(), None);
    assert_eq!(
        store.create(&a1).await.unwrap_err().kind(),
        StoreErrorKind::Conflict
    );

    // list: by account, oldest first; all
    let listed = store.list(Some("acme")).await.unwrap();
    assert_eq!(listed, vec![a1.info.clone(), a2.info.clone()]);
    assert_eq!(store.list(None).await.unwrap().len(), 3);
    assert!(store.list(Some("nobody")).await.unwrap().is_empty());

    // revoke: once, idempotent, unknown
    assert!(store.revoke(&a1.info.id, 300).await.unwrap());
    assert!(!store.revoke(&a1.info.id, 400).await.unwrap());
    let revoked = store.lookup(&a1.info.id).await.unwrap().unwrap();
    assert_eq!(revoked.info.revoked_at, Some(300));
    assert_eq!(
        store.revoke("000000000000", 1).await.unwrap_err().kind(),
        StoreErrorKind::NotFound
    );

    // rotate: new key stored, old gets grace + replaced_by, atomically
    let a3 = record("acme", 500);
    store.rotate(&a2.info.id, &a3, 900).await.unwrap();
    let old = store.lookup(&a2.info.id).await.unwrap().unwrap();
    assert_eq!(old.info.grace_ends_at, Some(900));
    assert_eq!(old.info.replaced_by.as_deref(), Some(a3.info.id.as_str()));
    assert_eq!(store.lookup(&a3.info.id).await.unwrap().as_ref(), Some(&a3));
    // a later rotation never extends an earlier grace window
    let a4 = record("acme", 600);
    store.rotate(&a2.info.id, &a4, 5000).await.unwrap();
    let old = store.lookup(&a2.info.id).await.unwrap().unwrap();
    assert_eq!(old.info.grace_ends_at, Some(900));
    // revoked or unknown keys cannot be rotated, and nothing is inserted
    let a5 = record("acme", 700);
    assert_eq!(
        store.rotate(&a1.info.id, &a5, 1).await.unwrap_err().kind(),
        StoreErrorKind::NotFound
    );
    assert_eq!(
        store
            .rotate("000000000000", &a5, 1)
            .await
            .unwrap_err()
            .kind(),
        StoreErrorKind::NotFound
    );
    assert_eq!(store.lookup(&a5.info.id).await.unwrap(), None);

    // touch: batch, never backwards, unknown ids ignored
    store
        .touch(
            &[(b1.info.id.clone(), 1000), ("000000000000".to_owned(), 5)],
            &[],
        )
        .await
        .unwrap();
    store
        .touch(&[(b1.info.id.clone(), 900)], &[])
        .await
        .unwrap();
    let touched = store.lookup(&b1.info.id).await.unwrap().unwrap();
    assert_eq!(touched.info.last_used_at, Some(1000));
    store.touch(&[], &[]).await.unwrap();

    // usage: added per key and hour, read from an hour on, oldest first; rows older than
    // 48 hours pruned on write; unknown ids ignored
    let hour = tower_apikey::record::now() / 3600 * 3600;
    let counts = |hour, accepted, refused, limited| HourlyUsage {
        hour,
        accepted,
        refused,
        limited,
    };
    let id = b1.info.id.clone();
    store
        .touch(
            &[],
            &[
                (id.clone(), counts(hour - 49 * 3600, 7, 0, 0)),
                (id.clone(), counts(hour - 3600, 2, 1, 0)),
                (id.clone(), counts(hour, 5, 0, 1)),
                ("000000000000".to_owned(), counts(hour, 9, 9, 9)),
            ],
        )
        .await
        .unwrap();
    store
        .touch(&[], &[(id.clone(), counts(hour, 3, 2, 2))])
        .await
        .unwrap();
    assert_eq!(
        store.usage(&id, hour - 72 * 3600).await.unwrap(),
        [counts(hour - 3600, 2, 1, 0), counts(hour, 8, 2, 3)],
        "the row of 49 hours ago is pruned"
    );
    assert_eq!(
        store.usage(&id, hour).await.unwrap(),
        [counts(hour, 8, 2, 3)]
    );
    assert!(store.usage("000000000000", 0).await.unwrap().is_empty());
    assert!(store.usage(&a2.info.id, 0).await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_store_conforms() {
    suite(&MemoryApiKeyStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_conforms() {
    let (store, path) = common::sqlite_store().await;
    assert_eq!(store.backend(), "sqlite");
    assert!(path.exists(), "the SQLite file is created on first use");
    suite(&store).await;
    store.close().await;
    // Reopening migrates nothing twice and keeps the data.
    let reopened = tower_apikey::store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert_eq!(reopened.list(None).await.unwrap().len(), 5);
    reopened.close().await;
    common::remove_sqlite(&path);
}

#[tokio::test]
async fn postgres_store_conforms() {
    let pg = common::PgSchema::new("conf").await;
    assert_eq!(pg.store.backend(), "postgres");
    suite(&pg.store).await;
    pg.drop_schema().await;
}

#[tokio::test]
async fn unsupported_urls_are_refused() {
    let err = tower_apikey::store::connect("mysql://localhost/x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Unavailable);
    assert!(err.to_string().contains("unsupported database URL"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_sqlite_url_keeps_one_database_for_the_pool() {
    let store = tower_apikey::store::connect("sqlite::memory:")
        .await
        .unwrap();
    suite(&store).await;
    // Concurrent reads open several connections: all see the same database.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.list(None).await.unwrap().len() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 5);
    }
}
