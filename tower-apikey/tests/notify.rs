//! PostgreSQL LISTEN/NOTIFY: a revocation on instance A (or by the CLI) reaches instance
//! B's cache in milliseconds instead of its TTL. Prints the measured propagation times.

mod common;

use std::time::{Duration, Instant};

use auth_core::StoreErrorKind;
use common::{PgSchema, app, bearer, send};
use tower_apikey::{ApiKeys, NewKey};

#[tokio::test]
async fn revocation_propagates_to_a_listening_instance_long_before_the_ttl() {
    let pg = PgSchema::new("notify").await;
    let b_store = pg.another_instance().await;
    let ttl = Duration::from_secs(60);
    let a = ApiKeys::builder(pg.store.clone())
        .cache_ttl(ttl)
        .build()
        .unwrap();
    let b = ApiKeys::builder(b_store.clone())
        .cache_ttl(ttl)
        .build()
        .unwrap();
    let _listener = b_store.listen(&b).await.unwrap();
    let app_b = app(&b);

    let mut samples = Vec::new();
    for _ in 0..100 {
        let created = a.create(NewKey::new("acme")).await.unwrap();
        let key = created.key.expose();
        assert_eq!(
            send(&app_b, bearer("/whoami", key)).await.status,
            200,
            "B caches it"
        );
        let start = Instant::now();
        a.revoke(&created.info.id).await.unwrap();
        loop {
            let answer = send(&app_b, bearer("/whoami", key)).await;
            if answer.status == 401 {
                assert_eq!(answer.reason, Some("revoked"));
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "B still accepts the key {:?} after revocation (TTL is 60 s)",
                start.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        samples.push(start.elapsed());
    }
    samples.sort();
    eprintln!(
        "revoke on A -> refused on B: p50 {:?}, p99/max {:?} over {} revocations",
        samples[samples.len() / 2],
        samples[samples.len() - 1],
        samples.len()
    );

    // Rotation is announced too: a zero-grace rotation ends the old key on B at once.
    let created = a.create(NewKey::new("acme")).await.unwrap();
    assert_eq!(
        send(&app_b, bearer("/whoami", created.key.expose()))
            .await
            .status,
        200
    );
    a.rotate(&created.info.id, Duration::ZERO).await.unwrap();
    let start = Instant::now();
    while send(&app_b, bearer("/whoami", created.key.expose()))
        .await
        .status
        == 200
    {
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "rotation not propagated"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    b_store.close().await;
    pg.drop_schema().await;
}

#[tokio::test]
async fn sqlite_cannot_listen() {
    let (store, path) = common::sqlite_store().await;
    let keys = ApiKeys::builder(store.clone()).build().unwrap();
    assert_eq!(
        store.listen(&keys).await.unwrap_err().kind(),
        StoreErrorKind::Unsupported
    );
    common::remove_sqlite(&path);
}
