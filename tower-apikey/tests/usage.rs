//! Usage counts: requests a key made, accepted, refused and rate-limited, per UTC hour,
//! gathered with the last-use batch and read back through `ApiKeys::usage`, on every store.

mod common;

use std::time::{Duration, Instant};

use common::{PgSchema, app, bearer, send};
use tower_apikey::{ApiKeyStore, ApiKeys, HourlyUsage, MemoryApiKeyStore, NewKey};

/// Sums the hours `usage` answers as `(accepted, refused, limited)`, waiting (up to 10 s)
/// for the background writer until the sums are `expected`.
async fn wait_for(keys: &ApiKeys, id: &str, expected: (u64, u64, u64)) -> Vec<HourlyUsage> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let usage = keys.usage(id).await.unwrap();
        let sums = usage.iter().fold((0, 0, 0), |(a, r, l), h| {
            (a + h.accepted, r + h.refused, l + h.limited)
        });
        if sums == expected {
            return usage;
        }
        assert!(
            Instant::now() < deadline,
            "usage {usage:?} never summed to {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn counts_requests(store: impl ApiKeyStore) {
    let keys = ApiKeys::builder(store)
        .touch_interval(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    let app = app(&keys);
    let used = keys.create(NewKey::new("acme")).await.unwrap();
    let idle = keys.create(NewKey::new("acme")).await.unwrap();
    const N: u64 = 25;
    for _ in 0..N {
        let answer = send(&app, bearer("/whoami", used.key.expose())).await;
        assert_eq!(answer.status, 200);
    }
    let usage = wait_for(&keys, &used.info.id, (N, 0, 0)).await;
    let this_hour = tower_apikey::record::now() / 3600 * 3600;
    let last = usage.last().unwrap();
    assert!(
        last.hour == this_hour || last.hour == this_hour - 3600,
        "{usage:?} at {this_hour}"
    );
    assert!(usage.iter().all(|h| h.hour % 3600 == 0));

    // Requests a rate limiter refused after the key layer accepted them count as limited
    // (and stay accepted): on the cached entry, or once it is gone, through the writer.
    keys.record_limited(&used.info.id);
    keys.record_limited(&used.info.id);
    wait_for(&keys, &used.info.id, (N, 0, 2)).await;
    keys.invalidate(&used.info.id);
    keys.record_limited(&used.info.id);
    wait_for(&keys, &used.info.id, (N, 0, 3)).await;

    // Refusals of the key (revoked) count apart; a key never used has no rows.
    assert!(keys.revoke(&used.info.id).await.unwrap());
    for _ in 0..3 {
        let answer = send(&app, bearer("/whoami", used.key.expose())).await;
        assert_eq!((answer.status, answer.reason), (401, Some("revoked")));
    }
    wait_for(&keys, &used.info.id, (N, 3, 3)).await;
    assert!(keys.usage(&idle.info.id).await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_store_counts_requests_per_hour() {
    counts_requests(MemoryApiKeyStore::new()).await;
}

#[tokio::test]
async fn sqlite_store_counts_requests_per_hour() {
    let (store, path) = common::sqlite_store().await;
    counts_requests(store).await;
    common::remove_sqlite(&path);
}

#[tokio::test]
async fn postgres_store_counts_requests_per_hour() {
    let pg = PgSchema::new("usage").await;
    counts_requests(pg.store.clone()).await;
    pg.drop_schema().await;
}

#[tokio::test]
async fn nothing_is_counted_without_the_background_writer() {
    let keys = ApiKeys::builder(MemoryApiKeyStore::new())
        .touch_interval(None)
        .build()
        .unwrap();
    let created = keys.create(NewKey::new("acme")).await.unwrap();
    let answer = send(&app(&keys), bearer("/whoami", created.key.expose())).await;
    assert_eq!(answer.status, 200);
    keys.record_limited(&created.info.id);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(keys.usage(&created.info.id).await.unwrap().is_empty());
}
