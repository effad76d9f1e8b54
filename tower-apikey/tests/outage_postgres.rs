//! A PostgreSQL that stops and starts again (the test's own cluster): cached keys keep
//! working, uncached ones answer 503 (never 401), the last uses made meanwhile are written
//! after the return, and LISTEN/NOTIFY invalidation works again.
#![cfg(feature = "postgres")]

mod common;

use std::time::{Duration, Instant};

use common::{app, bearer, send};
use testkit::PgCluster;
use tower_apikey::store::ApiKeyStore;
use tower_apikey::{ApiKeys, NewKey, SqlApiKeyStore};

/// Waits (bounded) until the instance's listener has subscribed again.
async fn listening(admin: &sqlx::PgPool, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let listeners: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%'")
                .fetch_one(admin)
                .await
                .unwrap_or(0);
        if listeners > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the invalidation listener did not subscribe again within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_survive_a_postgres_restart() {
    let started = Instant::now();
    let mut pg = tokio::task::block_in_place(PgCluster::start);
    let store = SqlApiKeyStore::connect(&pg.url()).await.unwrap();
    let keys = ApiKeys::builder(store.clone())
        .cache_ttl(Duration::from_secs(3600))
        .touch_interval(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    let _listener = store.listen(&keys).await.unwrap();
    let app = app(&keys);
    // Another instance (or the CLI), writing to the same database.
    let other = ApiKeys::builder(SqlApiKeyStore::connect(&pg.url()).await.unwrap())
        .touch_interval(None)
        .build()
        .unwrap();
    let cached = keys.create(NewKey::new("acme")).await.unwrap();
    let uncached = other.create(NewKey::new("acme")).await.unwrap();
    assert_eq!(
        send(&app, bearer("/whoami", cached.key.expose()))
            .await
            .status,
        200
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;

    tokio::task::block_in_place(|| pg.stop());
    let outage_use = tower_apikey::record::now();
    let answer = send(&app, bearer("/whoami", cached.key.expose())).await;
    assert_eq!(
        answer.status, 200,
        "a cached key works while the store is down"
    );
    let down = Instant::now();
    let answer = send(&app, bearer("/whoami", uncached.key.expose())).await;
    assert_eq!(
        (answer.status, answer.reason),
        (503, Some("store_unavailable")),
        "an uncached key cannot be checked: 503, never 401"
    );
    assert!(
        down.elapsed() < Duration::from_secs(8),
        "bounded by the 5 s store timeout: {:?}",
        down.elapsed()
    );
    // Let the touch writer fail at least once.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tokio::task::block_in_place(|| pg.restart());

    let answer = send(&app, bearer("/whoami", uncached.key.expose())).await;
    assert_eq!(answer.status, 200, "the first lookup after the return");

    // The use made during the outage is written once the store is back.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let record = other
            .store()
            .lookup(&cached.info.id)
            .await
            .unwrap()
            .unwrap();
        if record.info.last_used_at.is_some_and(|t| t >= outage_use) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the last use made during the outage was not written: {:?} < {outage_use}",
            record.info.last_used_at
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // So are its counts: the request before the outage and the one during it.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let usage = keys.usage(&cached.info.id).await.unwrap();
        let accepted: u64 = usage.iter().map(|h| h.accepted).sum();
        if accepted == 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the requests counted during the outage were not written: {usage:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // NOTIFY reaches this instance again: a revocation elsewhere is refused at once despite
    // the one-hour cache.
    let admin = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    listening(&admin, Duration::from_secs(15)).await;
    // The listener clears the cache right after its LISTEN; let it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        send(&app, bearer("/whoami", cached.key.expose()))
            .await
            .status,
        200
    );
    assert!(other.revoke(&cached.info.id).await.unwrap());
    let revoked = Instant::now();
    loop {
        let answer = send(&app, bearer("/whoami", cached.key.expose())).await;
        if answer.status == 401 {
            break;
        }
        assert_eq!(answer.status, 200);
        assert!(
            revoked.elapsed() < Duration::from_secs(2),
            "the revocation did not reach the cache within 2 s of NOTIFY"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "postgres outage test: {:?}; NOTIFY after the restart took {:?}",
        started.elapsed(),
        revoked.elapsed()
    );
}
