//! The in-process check: this crate's store against `governor`'s keyed limiter, one key and
//! 100,000 keys.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::num::NonZeroU32;

use criterion::{Criterion, criterion_group, criterion_main};
use tower_ratelimit::{Limit, RateLimiter};

/// Polls the check once: in process it is ready at once, so no executor is measured.
fn now<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => unreachable!("an in-process check never waits"),
    }
}

fn checks(c: &mut Criterion) {
    let limiter = RateLimiter::builder()
        .limit(Limit::per_second("burst", 1_000_000_000 / 1_000))
        .build()
        .unwrap();
    let two = RateLimiter::builder()
        .limit(Limit::per_second("burst", 1_000_000))
        .limit(Limit::per_day("daily", 1_000_000_000))
        .build()
        .unwrap();
    let keys: Vec<String> = (0..100_000).map(|i| format!("s:user-{i}")).collect();
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000).unwrap());
    let governor = governor::RateLimiter::dashmap(quota);

    let mut group = c.benchmark_group("in_process_check");
    group.bench_function("tower_ratelimit/one_key", |b| {
        b.iter(|| now(limiter.check(black_box("s:alice"), limiter.policy().unwrap())))
    });
    group.bench_function("tower_ratelimit/one_key_two_limits", |b| {
        b.iter(|| now(two.check(black_box("s:alice"), two.policy().unwrap())))
    });
    let mut i = 0;
    group.bench_function("tower_ratelimit/100k_keys", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            now(limiter.check(black_box(&keys[i]), limiter.policy().unwrap()))
        })
    });
    let clock = tower_ratelimit::SystemClock::new();
    group.bench_function("system_clock_now", |b| {
        b.iter(|| tower_ratelimit::Clock::now(black_box(&clock)))
    });
    group.bench_function("governor/one_key", |b| {
        let key = "s:alice".to_owned();
        b.iter(|| governor.check_key(black_box(&key)))
    });
    let mut i = 0;
    group.bench_function("governor/100k_keys", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            governor.check_key(black_box(&keys[i]))
        })
    });
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
