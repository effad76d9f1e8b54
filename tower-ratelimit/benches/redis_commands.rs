//! Redis commands per 1,000 requests with the leased local budget: one identity at
//! 1,000 requests/s offered against a 100/s limit, then one identity well under its limit;
//! commands counted with `INFO commandstats` before and after (loopback Redis at
//! 127.0.0.1:6379; other clients' commands in the meantime would be counted too).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tower_ratelimit::{Limit, RateLimiter, RedisConfig};

async fn script_calls(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter(|l| {
            l.starts_with("cmdstat_evalsha:")
                || l.starts_with("cmdstat_eval:")
                || l.starts_with("cmdstat_script|load:")
        })
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

async fn run(name: &str, limit: Limit, lease: Option<u64>, requests: u64, per_second: u64) {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut config =
        RedisConfig::new("redis://127.0.0.1:6379").prefix(&format!("bench-rl:{nanos}:"));
    if let Some(lease) = lease {
        config = config.lease(lease);
    }
    let limiter = RateLimiter::builder()
        .limit(limit)
        .redis(config)
        .build()
        .unwrap();
    let mut conn = redis::Client::open("redis://127.0.0.1:6379")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let before = script_calls(&mut conn).await;
    let mut tick = tokio::time::interval(Duration::from_nanos(1_000_000_000 / per_second));
    let (mut admitted, start) = (0u64, Instant::now());
    for _ in 0..requests {
        tick.tick().await;
        if limiter
            .check("alice", limiter.policy().unwrap())
            .await
            .unwrap()
            .is_allowed()
        {
            admitted += 1;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(100)).await; // background leases finish
    let calls = script_calls(&mut conn).await - before;
    println!(
        "{name}: {requests} requests in {elapsed:.1} s, {admitted} admitted, {} Redis script calls per 1,000 requests",
        calls * 1000 / requests
    );
}

#[tokio::main]
async fn main() {
    run(
        "over the limit (1,000/s offered, 100/s burst 100)",
        Limit::per_second("rate", 100),
        None,
        3000,
        1000,
    )
    .await;
    run(
        "under the limit (200/s offered, 1,000/s burst 1,000)",
        Limit::per_second("rate", 1000),
        None,
        1000,
        200,
    )
    .await;
    run(
        "lease 1 (every request asks Redis)",
        Limit::per_second("rate", 1000),
        Some(1),
        1000,
        200,
    )
    .await;
}
