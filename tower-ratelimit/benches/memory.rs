//! Memory per tracked identity: resident set size before and after 1,000,000 identities
//! are checked once each by an in-process limiter (Linux `/proc/self/statm`).

use std::time::Duration;

use tower_ratelimit::{Limit, ManualClock, RateLimiter};

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn main() {
    const N: usize = 1_000_000;
    let clock = ManualClock::new(Duration::from_secs(1_700_000_000));
    let limiter = RateLimiter::builder()
        .limit(Limit::per_second("burst", 100))
        .limit(Limit::per_day("daily", 10_000))
        .clock(clock)
        .build()
        .unwrap();
    let keys: Vec<String> = (0..N).map(|i| format!("s:user-{i:07}")).collect();
    let before = rss_bytes();
    let waker = std::task::Waker::noop();
    for key in &keys {
        let mut check = std::pin::pin!(limiter.check(key, limiter.policy().unwrap()));
        let _ = check
            .as_mut()
            .poll(&mut std::task::Context::from_waker(waker));
    }
    let after = rss_bytes();
    assert_eq!(limiter.tracked_identities(), N);
    let per = (after - before) as f64 / N as f64;
    println!(
        "{N} identities (2 limits, 14-byte keys): {:.1} MiB, {per:.0} bytes per identity",
        (after - before) as f64 / (1024.0 * 1024.0)
    );
}
