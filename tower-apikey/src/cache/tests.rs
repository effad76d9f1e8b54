//! Unit tests of the key cache: TTLs, invalidation, capacity, concurrency, last-use records.

use super::*;
use crate::key::Env;
use crate::record::{Hasher, KeyInfo};
use crate::store::MemoryApiKeyStore;

const TTL: Duration = Duration::from_secs(30);
const NEGATIVE_TTL: Duration = Duration::from_secs(10);

/// A change to a record's info.
type Change = fn(&mut KeyInfo);

fn cache(capacity: u64) -> KeyCache {
    let config = CacheConfig {
        ttl: TTL,
        capacity,
        negative_ttl: NEGATIVE_TTL,
        negative_capacity: capacity,
        touch_interval: None,
    };
    KeyCache::new(&config, Arc::new(MemoryApiKeyStore::new()))
}

/// A twelve-character id made of `n`.
fn id(n: usize) -> String {
    format!("id{n:010}")
}

fn record(id: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        info: KeyInfo {
            id: id.to_owned(),
            env: Env::Test,
            account: format!("account-of-{id}"),
            name: None,
            scopes: vec!["read".to_owned()],
            display_prefix: format!("sk_test_{id}"),
            last_four: "abcd".to_owned(),
            created_at: 0,
            expires_at: None,
            not_before: None,
            revoked_at: None,
            last_used_at: None,
            grace_ends_at: None,
            replaced_by: None,
            tenant: None,
            metadata: serde_json::Map::new(),
            rate: None,
            quota: None,
        },
        digest: Hasher::sha256().digest(id),
    }
}

fn hit_account(lookup: Lookup) -> Option<String> {
    match lookup {
        Lookup::Hit(entry) => Some(entry.identity.account().to_owned()),
        Lookup::Unknown | Lookup::Miss => None,
    }
}

#[test]
fn a_record_is_trusted_for_the_ttl_then_dropped() {
    let cache = cache(100);
    let t0 = Instant::now();
    let key = id(1);
    let epoch = cache.epoch();
    assert!(cache.insert(&key, Some(record(&key)), epoch, t0).is_some());
    let just_before = t0 + TTL - Duration::from_millis(1);
    assert_eq!(
        hit_account(cache.get(&key, just_before)).as_deref(),
        Some("account-of-id0000000001")
    );
    assert!(matches!(cache.get(&key, t0 + TTL), Lookup::Miss));
    assert_eq!(
        cache.positive.len(),
        0,
        "the stale entry is dropped by the read"
    );
    assert!(matches!(cache.get(&key, t0), Lookup::Miss));
}

#[test]
fn caching_a_record_again_restarts_its_ttl() {
    let cache = cache(100);
    let t0 = Instant::now();
    let key = id(2);
    cache.insert(&key, Some(record(&key)), cache.epoch(), t0);
    cache.insert(&key, Some(record(&key)), cache.epoch(), t0 + TTL / 2);
    assert!(matches!(cache.get(&key, t0 + TTL), Lookup::Hit(_)));
    assert!(matches!(cache.get(&key, t0 + TTL / 2 + TTL), Lookup::Miss));
}

#[test]
fn an_unknown_id_is_remembered_for_the_negative_ttl() {
    let cache = cache(100);
    let t0 = Instant::now();
    let key = id(3);
    assert!(cache.insert(&key, None, cache.epoch(), t0).is_none());
    assert!(matches!(
        cache.get(&key, t0 + NEGATIVE_TTL - Duration::from_millis(1)),
        Lookup::Unknown
    ));
    assert!(matches!(cache.get(&key, t0 + NEGATIVE_TTL), Lookup::Miss));
    assert_eq!(cache.negative.len(), 0);
}

#[test]
fn invalidation_forgets_and_wins_over_a_store_read_that_raced_it() {
    let cache = cache(100);
    let (a, b) = (id(4), id(5));
    cache.insert(&a, Some(record(&a)), cache.epoch(), Instant::now());
    cache.insert(&b, None, cache.epoch(), Instant::now());
    cache.invalidate(&a);
    cache.invalidate(&b);
    assert!(matches!(cache.get(&a, Instant::now()), Lookup::Miss));
    assert!(matches!(cache.get(&b, Instant::now()), Lookup::Miss));

    // A lookup that read the store before a revocation must not cache what it read.
    let epoch = cache.epoch();
    cache.invalidate(&a);
    let entry = cache.insert(&a, Some(record(&a)), epoch, Instant::now());
    assert!(entry.is_some(), "the caller still gets the record it read");
    assert!(matches!(cache.get(&a, Instant::now()), Lookup::Miss));

    cache.insert(&a, Some(record(&a)), cache.epoch(), Instant::now());
    cache.insert(&b, None, cache.epoch(), Instant::now());
    cache.invalidate_all();
    assert!(matches!(cache.get(&a, Instant::now()), Lookup::Miss));
    assert!(matches!(cache.get(&b, Instant::now()), Lookup::Miss));
}

#[test]
fn strings_that_are_no_key_id_are_never_cached() {
    let cache = cache(100);
    assert!(
        cache
            .insert(
                "short",
                Some(record("short")),
                cache.epoch(),
                Instant::now()
            )
            .is_some()
    );
    assert!(matches!(cache.get("short", Instant::now()), Lookup::Miss));
    cache.invalidate("not a key id at all");
    assert_eq!(cache.positive.len(), 0);
}

#[test]
fn capacity_bounds_both_caches() {
    let cache = cache(64);
    for n in 0..5_000 {
        let key = id(n);
        cache.insert(&key, Some(record(&key)), cache.epoch(), Instant::now());
        cache.insert(&id(n + 100_000), None, cache.epoch(), Instant::now());
    }
    assert!(
        cache.positive.len() <= 64,
        "{} records",
        cache.positive.len()
    );
    assert!(
        cache.negative.len() <= 64,
        "{} unknown ids",
        cache.negative.len()
    );
    let newest = id(4_999);
    assert!(
        matches!(cache.get(&newest, Instant::now()), Lookup::Hit(_)),
        "the newest record stays"
    );
}

#[test]
fn concurrent_readers_writers_and_invalidations() {
    let cache = Arc::new(cache(1_000));
    let keys: Vec<String> = (0..8).map(|n| id(1_000 + n)).collect();
    for key in &keys {
        cache.insert(key, Some(record(key)), cache.epoch(), Instant::now());
    }
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (cache, keys) = (Arc::clone(&cache), keys.clone());
            std::thread::spawn(move || {
                let mut hits = 0;
                for round in 0..5_000 {
                    let key = &keys[(round + t) % keys.len()];
                    match cache.get(key, Instant::now()) {
                        Lookup::Hit(entry) => {
                            assert_eq!(entry.identity.id(), key, "a hit is the record of its id");
                            hits += 1;
                        }
                        Lookup::Miss => {
                            cache.insert(key, Some(record(key)), cache.epoch(), Instant::now());
                        }
                        Lookup::Unknown => panic!("{key} was never unknown"),
                    }
                    if t == 0 && round % 100 == 0 {
                        cache.invalidate(key);
                    }
                }
                hits
            })
        })
        .collect();
    let hits: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(hits > 10_000, "{hits} hits out of 20 000 reads");
    cache.invalidate_all();
    for key in &keys {
        assert!(
            matches!(cache.get(key, Instant::now()), Lookup::Miss),
            "{key} after invalidate_all"
        );
    }
}

fn touching(ttl: Duration, interval: Duration) -> (KeyCache, mpsc::Receiver<Note>) {
    let config = CacheConfig {
        ttl,
        capacity: 100,
        negative_ttl: NEGATIVE_TTL,
        negative_capacity: 100,
        touch_interval: Some(interval),
    };
    let (tx, rx) = mpsc::channel(100);
    (KeyCache::with_touches(&config, Some(tx)), rx)
}

/// The ids of the last uses queued (the entries handed over for counting are left out).
fn queued(rx: &mut mpsc::Receiver<Note>) -> Vec<String> {
    std::iter::from_fn(|| rx.try_recv().ok())
        .filter_map(|note| match note {
            Note::Used(id, _) => Some(id.to_string()),
            Note::Counted(_) | Note::Limited(_) => None,
        })
        .collect()
}

#[test]
fn an_entry_that_cannot_outlive_the_interval_records_one_use() {
    let (cache, mut rx) = touching(TTL, Duration::from_secs(60));
    let key = id(20);
    let t0 = Instant::now();
    let entry = cache
        .insert(&key, Some(record(&key)), cache.epoch(), t0)
        .unwrap();
    let digest = Hasher::sha256().digest(&key);
    for n in 0..100 {
        let at = t0 + Duration::from_millis(n);
        assert!(cache.verify(&entry, &digest, at).is_ok());
    }
    assert_eq!(queued(&mut rx), [key]);
}

#[test]
fn a_recent_use_is_not_recorded_again_before_the_interval() {
    let (cache, mut rx) = touching(TTL, Duration::from_secs(60));
    let (recent, old) = (id(21), id(22));
    let t0 = Instant::now();
    let mut used = record(&recent);
    used.info.last_used_at = Some(record::now() - 5);
    let entry = cache
        .insert(&recent, Some(used), cache.epoch(), t0)
        .unwrap();
    let digest = Hasher::sha256().digest(&recent);
    for at in [t0, t0 + Duration::from_secs(29)] {
        assert!(cache.verify(&entry, &digest, at).is_ok());
    }
    let mut long_ago = record(&old);
    long_ago.info.last_used_at = Some(record::now() - 61);
    let entry = cache
        .insert(&old, Some(long_ago), cache.epoch(), t0)
        .unwrap();
    assert!(
        cache
            .verify(&entry, &Hasher::sha256().digest(&old), t0)
            .is_ok()
    );
    assert_eq!(queued(&mut rx), [old]);
}

#[test]
fn an_entry_outliving_the_interval_records_again_after_it() {
    let (cache, mut rx) = touching(TTL, Duration::from_secs(5));
    let key = id(23);
    let t0 = Instant::now();
    let entry = cache
        .insert(&key, Some(record(&key)), cache.epoch(), t0)
        .unwrap();
    let digest = Hasher::sha256().digest(&key);
    assert!(cache.verify(&entry, &digest, t0).is_ok());
    assert!(cache.verify(&entry, &digest, t0).is_ok());
    assert_eq!(
        queued(&mut rx),
        std::slice::from_ref(&key),
        "once within the interval"
    );
    // The interval passes (by the wall clock, which decides).
    entry.touched.store(record::now() - 6, Ordering::Relaxed);
    assert!(
        cache
            .verify(&entry, &digest, t0 + Duration::from_secs(6))
            .is_ok()
    );
    assert_eq!(queued(&mut rx), [key]);
}

#[test]
fn time_bounds_and_revocation_are_checked_on_every_hit() {
    let cache = cache(100);
    let t0 = Instant::now();
    let cases: [(Change, &str); 4] = [
        (|k| k.expires_at = Some(record::now() - 1), "expired"),
        (|k| k.grace_ends_at = Some(record::now() - 1), "expired"),
        (|k| k.not_before = Some(record::now() + 60), "not_yet_valid"),
        (|k| k.revoked_at = Some(1), "revoked"),
    ];
    for (n, (change, reason)) in cases.into_iter().enumerate() {
        let key = id(30 + n);
        let mut changed = record(&key);
        change(&mut changed.info);
        let entry = cache
            .insert(&key, Some(changed), cache.epoch(), t0)
            .unwrap();
        let refused = cache
            .verify(&entry, &Hasher::sha256().digest(&key), t0)
            .unwrap_err();
        assert_eq!(refused.reason(), reason);
    }
    let key = id(40);
    let mut valid = record(&key);
    valid.info.expires_at = Some(record::now() + 60);
    let entry = cache.insert(&key, Some(valid), cache.epoch(), t0).unwrap();
    let digest = Hasher::sha256().digest(&key);
    assert!(cache.verify(&entry, &digest, t0).is_ok());
    let wrong = Hasher::sha256().digest("another key");
    assert_eq!(
        cache.verify(&entry, &wrong, t0).unwrap_err().reason(),
        "not_found"
    );
}

#[test]
fn counts_are_gathered_in_the_entry_and_handed_over_once_per_write() {
    let (cache, mut rx) = touching(TTL, Duration::from_secs(60));
    let key = id(50);
    let t0 = Instant::now();
    let entry = cache
        .insert(&key, Some(record(&key)), cache.epoch(), t0)
        .unwrap();
    let digest = Hasher::sha256().digest(&key);
    for _ in 0..100 {
        assert!(cache.verify(&entry, &digest, t0).is_ok());
    }
    let handed: Vec<Arc<CachedKey>> = std::iter::from_fn(|| rx.try_recv().ok())
        .filter_map(|note| match note {
            Note::Counted(entry) => Some(entry),
            Note::Used(..) | Note::Limited(_) => None,
        })
        .collect();
    assert_eq!(handed.len(), 1, "one hand-over for 100 requests");
    assert!(Arc::ptr_eq(&handed[0], &entry));
    assert_eq!(counts(&entry), (100, 0, 0));
    assert_eq!(counts(&entry), (0, 0, 0));

    // Once taken, the next request hands the entry over again; refusals count apart.
    let mut revoked = record(&key);
    revoked.info.revoked_at = Some(1);
    let refused = cache
        .insert(&key, Some(revoked), cache.epoch(), t0)
        .unwrap();
    assert!(cache.verify(&refused, &digest, t0).is_err());
    assert!(cache.verify(&refused, &digest, t0).is_err());
    assert!(cache.verify(&entry, &digest, t0).is_ok());
    let handed = std::iter::from_fn(|| rx.try_recv().ok())
        .filter(|note| matches!(note, Note::Counted(_)))
        .count();
    assert_eq!(handed, 2);
    assert_eq!(counts(&refused), (0, 2, 0));
    assert_eq!(counts(&entry), (1, 0, 0));
    // A wrong secret is no use of the key: not counted.
    let wrong = Hasher::sha256().digest("another key");
    assert!(cache.verify(&entry, &wrong, t0).is_err());
    assert_eq!(counts(&entry), (0, 0, 0));
}

/// `(accepted, refused, limited)` taken from `entry`.
fn counts(entry: &CachedKey) -> (u64, u64, u64) {
    let taken = entry.take_counts(3600);
    assert_eq!(taken.hour, 3600);
    (taken.accepted, taken.refused, taken.limited)
}

#[test]
fn limited_requests_count_on_the_entry_or_reach_the_writer_without_it() {
    let (cache, mut rx) = touching(TTL, Duration::from_secs(60));
    let key = id(60);
    let t0 = Instant::now();
    let entry = cache
        .insert(&key, Some(record(&key)), cache.epoch(), t0)
        .unwrap();
    let digest = Hasher::sha256().digest(&key);
    for _ in 0..3 {
        assert!(cache.verify(&entry, &digest, t0).is_ok());
    }
    cache.count_limited(&key);
    cache.count_limited(&key);
    let notes: Vec<Note> = std::iter::from_fn(|| rx.try_recv().ok())
        .filter(|note| !matches!(note, Note::Used(..)))
        .collect();
    assert!(
        matches!(notes.as_slice(), [Note::Counted(handed)] if Arc::ptr_eq(handed, &entry)),
        "one hand-over for the accepted and limited requests: {notes:?}"
    );
    assert_eq!(
        counts(&entry),
        (3, 0, 2),
        "limited ones were accepted first"
    );

    // Once the entry is gone (invalidated, evicted), the writer hears of each one.
    cache.invalidate(&key);
    cache.count_limited(&key);
    let notes: Vec<Note> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
    assert!(
        matches!(notes.as_slice(), [Note::Limited(id)] if **id == *key),
        "{notes:?}"
    );
    // Without the writer nothing is counted, and nothing fails.
    let quiet = self::cache(10);
    let entry = quiet
        .insert(&key, Some(record(&key)), quiet.epoch(), t0)
        .unwrap();
    quiet.count_limited(&key);
    quiet.count_limited("not a key id");
    assert_eq!(counts(&entry), (0, 0, 0));
}
