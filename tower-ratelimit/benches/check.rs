//! The in-process check, every check admitted: for one identity (its entry stays in the CPU
//! cache) and among 100,000 tracked identities (each check a different entry, so mostly a
//! memory fetch); this crate's store (one limit, and two) against `governor`'s keyed
//! limiter, and the clock it reads.
//!
//! Each identity's limit is a day's worth of requests with a day's burst, so that no
//! identity runs out of its bucket during a run and none is swept as idle: the map keeps
//! all 100,000 entries and every check is a lookup of one of them.
#![allow(missing_docs)] // criterion_group! generates undocumented items

use std::hint::black_box;
use std::num::NonZeroU32;

use criterion::{Criterion, criterion_group, criterion_main};
use tower_ratelimit::{Decision, Limit, RateLimiter};

const IDENTITIES: usize = 100_000;

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

fn check(limiter: &RateLimiter, key: &str) -> Decision {
    let decision = now(limiter.check(key, limiter.policy().unwrap())).unwrap();
    assert!(decision.is_allowed(), "the bench measures admitted checks");
    decision
}

/// A limiter holding every key of `keys`.
fn tracking(limits: &[Limit], keys: &[String]) -> RateLimiter {
    let limiter = limits
        .iter()
        .fold(RateLimiter::builder(), |b, l| b.limit(l.clone()))
        .build()
        .unwrap();
    for key in keys {
        check(&limiter, key);
    }
    assert_eq!(limiter.tracked_identities(), keys.len());
    limiter
}

fn checks(c: &mut Criterion) {
    let keys: Vec<String> = (0..IDENTITIES).map(|i| format!("s:user-{i}")).collect();
    let daily = Limit::per_day("daily", 1_000_000);
    let one = tracking(std::slice::from_ref(&daily), &keys);
    let two = tracking(&[Limit::per_hour("hourly", 100_000), daily], &keys);
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000).unwrap());
    let governor = governor::RateLimiter::dashmap(quota);

    let mut group = c.benchmark_group("in_process_check");
    // One identity at 10^6/s with a burst of 10^9, more than a run takes: every check
    // admitted.
    let hot = RateLimiter::builder()
        .limit(Limit::per_second("fast", 1_000_000).with_burst(1_000_000_000))
        .build()
        .unwrap();
    group.bench_function("tower_ratelimit/one_identity", |b| {
        b.iter(|| check(&hot, black_box("s:user-1")))
    });
    // One identity slower than its rate, the common case: a manual clock moves 1 ms per
    // check against 1,000/s, so every check finds the limit whole and is answered with the
    // policy's prebuilt decision (the clock's move, one atomic add, is in the time).
    let clock = tower_ratelimit::ManualClock::new(std::time::Duration::from_secs(1_700_000_000));
    let under = RateLimiter::builder()
        .limit(Limit::per_second("rate", 1_000))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert!(check(&under, "s:user-1").is_allowed());
    group.bench_function("tower_ratelimit/one_identity_under_its_rate", |b| {
        b.iter(|| {
            clock.advance(std::time::Duration::from_millis(1));
            check(&under, black_box("s:user-1"))
        })
    });
    let fast = governor::Quota::per_second(NonZeroU32::new(1_000_000_000).unwrap());
    let governor_hot = governor::RateLimiter::dashmap(fast);
    let one_key = "s:user-1".to_owned();
    group.bench_function("governor/one_identity", |b| {
        b.iter(|| governor_hot.check_key(black_box(&one_key)))
    });
    for (name, limiter) in [
        ("tower_ratelimit/100k_identities", &one),
        ("tower_ratelimit/100k_identities_two_limits", &two),
    ] {
        let mut i = 0;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % keys.len();
                check(limiter, black_box(&keys[i]))
            })
        });
        assert_eq!(limiter.tracked_identities(), IDENTITIES, "{name}");
    }
    let mut i = 0;
    group.bench_function("governor/100k_identities", |b| {
        b.iter(|| {
            i = (i + 1) % keys.len();
            governor.check_key(black_box(&keys[i]))
        })
    });
    let clock = tower_ratelimit::SystemClock::new();
    group.bench_function("system_clock_now", |b| {
        b.iter(|| tower_ratelimit::Clock::now(black_box(&clock)))
    });
    group.finish();
}

criterion_group!(benches, checks);
criterion_main!(benches);
