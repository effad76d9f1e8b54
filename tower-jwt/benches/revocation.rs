//! The revocation check alone: a hit and a miss in a store holding 100,000 revocations,
//! beside a bare `HashSet<String>` lookup of the same key as the baseline.
//!
//! Also prints the measured memory per live revocation (resident set growth / entries).

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::collections::HashSet;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use tower_jwt::revocation::{
    MemoryRevocationStore, Revocation, RevocationStatus, RevocationStore, TokenRef,
};

const ISS: &str = "https://auth.example.com";
const ENTRIES: usize = 100_000;

fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn jti(i: usize) -> String {
    format!("{i:08x}-8d2b-4c1e-9f3a-5b7c0e1d2f3a")
}

fn bench(c: &mut Criterion) {
    let exp = SystemTime::now() + Duration::from_secs(3600);
    let before = resident_bytes();
    let store = MemoryRevocationStore::new();
    for i in 0..ENTRIES {
        store
            .revoke_now(&Revocation::token(ISS, jti(i), exp))
            .unwrap();
    }
    store.purge_expired();
    if let (Some(before), Some(after)) = (before, resident_bytes()) {
        let per_entry = after.saturating_sub(before) / ENTRIES;
        println!(
            "memory: ~{per_entry} bytes per live revocation (jti of 36 bytes, iss of {} bytes)",
            ISS.len()
        );
    }
    let baseline: HashSet<String> = (0..ENTRIES).map(|i| format!("{ISS}{}", jti(i))).collect();

    let now = SystemTime::now();
    let hit_jti = jti(ENTRIES / 2);
    let miss_jti = jti(ENTRIES + 7);
    let hit = TokenRef {
        issuer: ISS,
        jti: Some(&hit_jti),
        subject: "alice",
        issued_at: now,
    };
    let miss = TokenRef {
        jti: Some(&miss_jti),
        ..hit
    };
    assert_eq!(store.check(&hit), RevocationStatus::Revoked);
    assert_eq!(store.check(&miss), RevocationStatus::Active);

    let mut group = c.benchmark_group("revocation_check_100k");
    group.bench_function("memory_store_hit", |b| {
        b.iter(|| store.check(black_box(&hit)))
    });
    group.bench_function("memory_store_miss", |b| {
        b.iter(|| store.check(black_box(&miss)))
    });
    let hit_key = format!("{ISS}{hit_jti}");
    let miss_key = format!("{ISS}{miss_jti}");
    group.bench_function("baseline_hashset_hit", |b| {
        b.iter(|| baseline.contains(black_box(hit_key.as_str())));
    });
    group.bench_function("baseline_hashset_miss", |b| {
        b.iter(|| baseline.contains(black_box(miss_key.as_str())));
    });

    // With subject watermarks live too, a miss does both lookups.
    let until = now + Duration::from_secs(3600);
    store
        .revoke_now(&Revocation::subject(ISS, "bob", now, until))
        .unwrap();
    group.bench_function("memory_store_miss_with_watermarks", |b| {
        b.iter(|| store.check(black_box(&miss)));
    });
    group.finish();
    redis_store(c, &hit_jti, &miss_jti, exp);
}

/// The same check through the Redis-shared store (memory hot path plus one atomic load),
/// with 100,000 revocations loaded from Redis at connect.
#[cfg(feature = "redis")]
fn redis_store(c: &mut Criterion, hit_jti: &str, miss_jti: &str, exp: SystemTime) {
    use tower_jwt::revocation::RedisRevocationStore;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prefix = format!("bench:{}:", uuid::Uuid::new_v4());
    let connect = || {
        runtime.block_on(
            RedisRevocationStore::builder("redis://127.0.0.1:6379")
                .key_prefix(&prefix)
                .timeout(Duration::from_secs(5))
                .connect(),
        )
    };
    let writer = match connect() {
        Ok(store) => store,
        Err(error) => {
            println!("skipping the Redis store bench: {error}");
            return;
        }
    };
    runtime.block_on(async {
        for i in 0..ENTRIES {
            writer
                .revoke(Revocation::token(ISS, jti(i), exp))
                .await
                .unwrap();
        }
    });
    let start = std::time::Instant::now();
    let store = connect().unwrap();
    println!(
        "redis: a new instance loaded {} revocations in {:?}",
        store.memory().len(),
        start.elapsed()
    );
    let now = SystemTime::now();
    let hit = TokenRef {
        issuer: ISS,
        jti: Some(hit_jti),
        subject: "alice",
        issued_at: now,
    };
    let miss = TokenRef {
        jti: Some(miss_jti),
        ..hit
    };
    assert_eq!(store.check(&hit), RevocationStatus::Revoked);
    assert_eq!(store.check(&miss), RevocationStatus::Active);
    let mut group = c.benchmark_group("revocation_check_100k");
    group.bench_function("redis_store_hit", |b| {
        b.iter(|| store.check(black_box(&hit)))
    });
    group.bench_function("redis_store_miss", |b| {
        b.iter(|| store.check(black_box(&miss)))
    });
    group.finish();
}

#[cfg(not(feature = "redis"))]
fn redis_store(_: &mut Criterion, _: &str, _: &str, _: SystemTime) {}

criterion_group!(benches, bench);
criterion_main!(benches);
