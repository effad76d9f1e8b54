//! End-to-end load harness for the towerauth demo (method in `BENCHMARKS.md`).
//!
//! Starts the release demo pinned to one core, a local OIDC issuer (RS256 + ES256) on a
//! loopback port, and loads every authentication path with `wrk` from the other core, in
//! interleaved rounds, each starting at a different row; prints req/s, p50, p99 and the ratio to `/health` of the same run,
//! the server's CPU time per request, and with `--perf` the kernel's share of it and the
//! kernel-normalised ratio (see the `perf` module). Three floor rows (the demo's
//! `DEMO_BENCH_FLOORS` routes) show what a whoami route costs before any credential is
//! checked. Any non-2xx answer, socket error or reused "fresh" token fails the run.

mod demo;
mod issuer;
mod mint;
mod perf;
mod wrk;

use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;

use crate::demo::Demo;
use crate::issuer::Keys;
use crate::wrk::{Load, Run, Wrk, precise};

/// Load the demo on one core from the other and compare every auth path with `/health`.
#[derive(Debug, Parser)]
struct Args {
    /// The demo binary (default: `target/release/demo` of this workspace).
    #[arg(long)]
    demo: Option<PathBuf>,
    /// Rounds; each round runs every row once, in order.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds per row per round.
    #[arg(long, default_value_t = 2)]
    seconds: u32,
    /// Keep-alive connections.
    #[arg(long, default_value_t = 50)]
    connections: u32,
    /// The core the demo is pinned to.
    #[arg(long, default_value_t = 0)]
    server_core: u32,
    /// The core wrk is pinned to.
    #[arg(long, default_value_t = 1)]
    load_core: u32,
    /// Fresh tokens minted per second of run, per algorithm, as `HS256,RS256,ES256`: the
    /// most requests per second a fresh-token row can take before it would reuse one.
    #[arg(long, default_value = "200000,45000,30000")]
    fresh_budget: String,
    /// Also sample the server with `perf record -e cpu-clock` during every run and report
    /// each row's cost relative to `/health` from the kernel's share of its CPU time, which
    /// a noisy host disturbs far less than req/s (see `BENCHMARKS.md`).
    #[arg(long)]
    perf: bool,
}

/// A row of the table: a URL (of the cached or the cache-off demo) and how its requests
/// authenticate.
#[derive(Debug)]
struct Row {
    name: &'static str,
    url: String,
    load: Load,
    /// The `method` `/api/whoami` must report, checked before and after the run.
    method: Option<&'static str>,
    check: Vec<(String, String)>,
    runs: Vec<Run>,
}

fn bearer(token: &str) -> Vec<(String, String)> {
    vec![("Authorization".to_owned(), format!("Bearer {token}"))]
}

fn workspace_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(error) = run(Args::parse()).await {
        eprintln!("loadtest: FAILED: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let budget: Vec<u64> = args
        .fresh_budget
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("--fresh-budget: {e}"))?;
    let [hs_rate, rs_rate, es_rate] = budget[..] else {
        return Err("--fresh-budget takes three numbers".to_owned());
    };
    let binary = args.demo.clone().unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| workspace_dir().join("target"), PathBuf::from)
            .join("release/demo")
    });
    if !binary.is_file() {
        return Err(format!(
            "no demo binary at {}: run `cargo build --release --bin demo`",
            binary.display()
        ));
    }
    let dir = std::env::temp_dir().join(format!("towerauth-loadtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = measure(&args, binary, &dir, [hs_rate, rs_rate, es_rate]).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(
    args: &Args,
    binary: PathBuf,
    dir: &std::path::Path,
    [hs_rate, rs_rate, es_rate]: [u64; 3],
) -> Result<(), String> {
    let wrk = Wrk::new(dir, args.load_core, args.connections, args.seconds)?;
    let sampler = args.perf.then(|| perf::Sampler::new(dir)).transpose()?;
    let keys = Arc::new(Keys::generate()?);
    let issuer = issuer::serve(Arc::clone(&keys)).await?;
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let secret = issuer::random_id(&rng) + &issuer::random_id(&rng);
    let demo = Demo {
        binary,
        env: [
            ("DEMO_ADDR", "127.0.0.1:0".to_owned()),
            (
                "DEMO_DATABASE_URL",
                format!("sqlite://{}/bench.db", dir.display()),
            ),
            ("DEMO_JWT_SECRET", secret.clone()),
            ("DEMO_OIDC_ISSUER", issuer.url.clone()),
            ("DEMO_OIDC_CLIENT_ID", issuer::CLIENT_ID.to_owned()),
            ("DEMO_OIDC_CLIENT_SECRET", issuer::CLIENT_SECRET.to_owned()),
            ("RUST_LOG", "info".to_owned()),
            // The `/bench/whoami*` floor rows: what a route costs before authentication.
            ("DEMO_BENCH_FLOORS", "on".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    };

    eprintln!("creating an API key and a demo token with the demo CLI");
    let created: serde_json::Value = serde_json::from_str(&demo.cli(&[
        "keys",
        "create",
        "--account",
        "bench",
        "--scopes",
        "read write",
    ])?)
    .map_err(|e| format!("demo keys create: {e}"))?;
    let api_key = created["key"]
        .as_str()
        .ok_or("demo keys create printed no key")?
        .to_owned();
    let hs_token = demo
        .cli(&[
            "token",
            "--sub",
            "bench",
            "--scopes",
            "read write",
            "--ttl",
            "1h",
        ])?
        .trim()
        .to_owned();
    let iss = issuer.url.as_str();
    let rs_token = keys.sign(
        issuer::Alg::Rs256,
        "at+jwt",
        &issuer::access_claims(iss, issuer::AUDIENCE, "bench", "hit-rs256", 3600),
    )?;
    let es_token = keys.sign(
        issuer::Alg::Es256,
        "at+jwt",
        &issuer::access_claims(iss, issuer::AUDIENCE, "bench", "hit-es256", 3600),
    )?;

    let seconds = u64::from(args.seconds);
    let started = std::time::Instant::now();
    let fresh = mint::fresh_sets(
        dir,
        &keys,
        secret.as_bytes(),
        iss,
        args.rounds,
        [hs_rate * seconds, rs_rate * seconds, es_rate * seconds],
    )?;
    eprintln!(
        "minted the fresh tokens in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let log = dir.join("demo.log");
    let server = demo.serve(args.server_core, &log)?;
    let base = server.url().to_owned();
    eprintln!(
        "demo listening on {base} (core {}), issuer {iss}",
        args.server_core
    );
    // A second demo, idle unless its rows run, on the same core and store, with the
    // verified-token cache off: every request verifies the signature and parses the claims.
    let mut uncached_demo = demo.clone();
    uncached_demo
        .env
        .push(("DEMO_JWT_CACHE".to_owned(), "off".to_owned()));
    let uncached_server = uncached_demo.serve(args.server_core, &dir.join("demo-uncached.log"))?;
    eprintln!(
        "demo with DEMO_JWT_CACHE=off listening on {}",
        uncached_server.url()
    );
    let client = demo::client();
    let session = demo::login(&client, &base).await?;
    let cookie = vec![("Cookie".to_owned(), session)];

    let rotate = |header: &'static str, prefix: &'static str, files: &Vec<PathBuf>| Load::Rotate {
        header,
        prefix,
        files: files.clone(),
    };
    let first = |files: &Vec<PathBuf>| mint::first_line(&files[0]);
    let whoami = format!("{base}/api/whoami");
    let uncached = format!("{}/api/whoami", uncached_server.url());
    let mut rows = vec![
        Row::new(
            "/health (no auth)",
            format!("{base}/health"),
            Load::Static(vec![]),
            None,
            vec![],
        ),
        Row::new(
            "/health, a fresh header per request (wrk Lua control)",
            format!("{base}/health"),
            rotate("X-Bench-Token", "", &fresh.hs256),
            None,
            vec![],
        ),
        Row::new(
            "floor: whoami JSON, no layer, no credential",
            format!("{base}/bench/whoami"),
            Load::Static(vec![]),
            Some("bench_floor"),
            vec![],
        ),
        Row::new(
            "floor: the same behind a no-op tower layer",
            format!("{base}/bench/whoami/layered"),
            Load::Static(vec![]),
            Some("bench_floor"),
            vec![],
        ),
        Row::new(
            "floor: the same behind an accept-all AuthLayer",
            format!("{base}/bench/whoami/engine"),
            Load::Static(vec![]),
            Some("bench_floor"),
            vec![],
        ),
        Row::new(
            "API key (key cache hit)",
            whoami.clone(),
            Load::Static(bearer(&api_key)),
            Some("api_key"),
            bearer(&api_key),
        ),
        Row::new(
            "HS256 demo token, verified-token cache hit",
            whoami.clone(),
            Load::Static(bearer(&hs_token)),
            Some("jwt"),
            bearer(&hs_token),
        ),
        Row::new(
            "HS256, fresh token per request (cache miss)",
            whoami.clone(),
            rotate("Authorization", "Bearer ", &fresh.hs256),
            Some("jwt"),
            bearer(&first(&fresh.hs256)?),
        ),
        Row::new(
            "RS256 local issuer, cache hit",
            whoami.clone(),
            Load::Static(bearer(&rs_token)),
            Some("jwt"),
            bearer(&rs_token),
        ),
        Row::new(
            "RS256, fresh token per request (cache miss)",
            whoami.clone(),
            rotate("Authorization", "Bearer ", &fresh.rs256),
            Some("jwt"),
            bearer(&first(&fresh.rs256)?),
        ),
        Row::new(
            "ES256 local issuer, cache hit",
            whoami.clone(),
            Load::Static(bearer(&es_token)),
            Some("jwt"),
            bearer(&es_token),
        ),
        Row::new(
            "ES256, fresh token per request (cache miss)",
            whoami.clone(),
            rotate("Authorization", "Bearer ", &fresh.es256),
            Some("jwt"),
            bearer(&first(&fresh.es256)?),
        ),
        Row::new(
            "HS256, verified-token cache off (same token)",
            uncached.clone(),
            Load::Static(bearer(&hs_token)),
            Some("jwt"),
            bearer(&hs_token),
        ),
        Row::new(
            "RS256, verified-token cache off (same token)",
            uncached.clone(),
            Load::Static(bearer(&rs_token)),
            Some("jwt"),
            bearer(&rs_token),
        ),
        Row::new(
            "ES256, verified-token cache off (same token)",
            uncached.clone(),
            Load::Static(bearer(&es_token)),
            Some("jwt"),
            bearer(&es_token),
        ),
        Row::new(
            "session cookie (OIDC login)",
            whoami.clone(),
            Load::Static(cookie.clone()),
            Some("session"),
            cookie,
        ),
    ];

    for row in &rows {
        demo::check(&client, &row.url, &row.check, row.method)
            .await
            .map_err(|e| format!("before the run, {}: {e}", row.name))?;
    }
    eprintln!(
        "{} rows x {} rounds x {} s, {} connections, wrk on core {}",
        rows.len(),
        args.rounds,
        args.seconds,
        args.connections,
        args.load_core
    );
    eprintln!("load average before the run: {}", loadavg());
    // Each row's server, for its CPU time: the cache-off rows load the second demo.
    let uncached_prefix = format!("{}/", uncached_server.url());
    for round in 0..args.rounds {
        for index in round_order(round, args.rounds, rows.len()) {
            let row = &mut rows[index];
            let target = if row.url.starts_with(&uncached_prefix) {
                &uncached_server
            } else {
                &server
            };
            let recording = sampler
                .as_ref()
                .map(|s| s.start(target.pid()))
                .transpose()?;
            let before = target.cpu_time()?;
            let mut run = wrk
                .run(&row.url, &row.load, round)
                .map_err(|e| format!("{}: {e}", row.name))?;
            let used = target.cpu_time()?.saturating_sub(before);
            run.server_cpu_us = u64::try_from(used.as_micros()).unwrap_or(u64::MAX);
            if let Some(recording) = recording {
                run.kernel_ppm = recording
                    .kernel_ppm()
                    .map_err(|e| format!("{}: {e}", row.name))?;
            }
            eprintln!(
                "round {} {:<55} {:>9.0} req/s {:>7.2} µs CPU/req (server busy {:>3.0} %, kernel {:>4.1} %)",
                round + 1,
                row.name,
                run.rate(),
                precise(run.cpu_ns_per_request()) / 1000.0,
                precise(run.server_cpu_us) * 100.0 / precise(run.duration_us).max(1.0),
                precise(run.kernel_ppm) / 10_000.0,
            );
            row.runs.push(run);
        }
    }
    for row in &rows {
        demo::check(&client, &row.url, &row.check, row.method)
            .await
            .map_err(|e| format!("after the run, {}: {e}", row.name))?;
    }
    drop(server);
    drop(uncached_server);
    eprintln!("load average after the run: {}", loadavg());
    print_table(&rows);
    Ok(())
}

/// The order of the rows in `round`: all of them, starting `round / rounds` of the way
/// through the list. The host slows down and speeds up over a round; rotating the start
/// spreads that over every row instead of always favouring the first ones.
fn round_order(round: usize, rounds: usize, rows: usize) -> impl Iterator<Item = usize> {
    let start = (round * rows).checked_div(rounds).unwrap_or(0);
    (0..rows).map(move |i| (start + i) % rows)
}

impl Row {
    fn new(
        name: &'static str,
        url: String,
        load: Load,
        method: Option<&'static str>,
        check: Vec<(String, String)>,
    ) -> Self {
        Self {
            name,
            url,
            load,
            method,
            check,
            runs: Vec::new(),
        }
    }

    /// Total requests over total time, all rounds.
    fn rate(&self) -> f64 {
        let requests: u64 = self.runs.iter().map(|r| r.requests).sum();
        let micros: u64 = self.runs.iter().map(|r| r.duration_us).sum();
        precise(requests) * 1e6 / precise(micros).max(1.0)
    }

    /// The median over the rounds of a per-round figure.
    fn median(&self, figure: impl Fn(&Run) -> u64) -> u64 {
        let mut values: Vec<u64> = self.runs.iter().map(figure).collect();
        values.sort_unstable();
        values.get(values.len() / 2).copied().unwrap_or_default()
    }
}

/// The table: throughput and its ratio to `/health`, the server's CPU time per request
/// (median over the rounds), and with `--perf` the kernel's share of that CPU time
/// (median) with the kernel-normalised ratio taken from it (the row's kernel share over
/// `/health`'s: see the `perf` module).
fn print_table(rows: &[Row]) {
    let baseline = rows[0].rate();
    let baseline_kernel = precise(rows[0].median(|r| r.kernel_ppm));
    println!(
        "| row | req/s | p50 | p99 | / health | server CPU / req | kernel share | / health (kernel-normalised) | rounds (req/s) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for row in rows {
        let rounds: Vec<String> = row
            .runs
            .iter()
            .map(|r| format!("{:.0}", r.rate()))
            .collect();
        let kernel = precise(row.median(|r| r.kernel_ppm));
        let (share, normalised) = if kernel > 0.0 {
            (
                format!("{:.1} %", kernel / 10_000.0),
                format!("{:.3}", kernel / baseline_kernel),
            )
        } else {
            ("—".to_owned(), "—".to_owned())
        };
        println!(
            "| {} | {:.0} | {} | {} | {:.3} | {:.2} µs | {share} | {normalised} | {} |",
            row.name,
            row.rate(),
            micros(row.median(|r| r.p50_us)),
            micros(row.median(|r| r.p99_us)),
            row.rate() / baseline,
            precise(row.median(Run::cpu_ns_per_request)) / 1000.0,
            rounds.join(" / "),
        );
    }
}

/// Installs Debian's `package` with `apt-get install -y` when `command probe` cannot run.
pub(crate) fn install_if_missing(command: &str, probe: &str, package: &str) -> Result<(), String> {
    if std::process::Command::new(command)
        .arg(probe)
        .output()
        .is_ok()
    {
        return Ok(());
    }
    eprintln!("{command} not found: apt-get install -y {package}");
    let installed = std::process::Command::new("apt-get")
        .args(["install", "-y", package])
        .status()
        .is_ok_and(|s| s.success());
    if installed {
        Ok(())
    } else {
        Err(format!(
            "{command} is needed: install Debian's `{package}` package"
        ))
    }
}

/// `/proc/loadavg`: other processes on these two cores skew every row alike, but say so.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "unknown".to_owned(), |s| s.trim().to_owned())
}

fn micros(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", precise(us) / 1000.0)
    } else {
        format!("{us} µs")
    }
}

#[cfg(test)]
mod tests {
    use super::round_order;

    #[test]
    fn every_round_runs_every_row_once_from_a_different_start() {
        let orders: Vec<Vec<usize>> = (0..4)
            .map(|round| round_order(round, 4, 16).collect())
            .collect();
        for order in &orders {
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..16).collect::<Vec<_>>());
        }
        let starts: Vec<usize> = orders.iter().map(|order| order[0]).collect();
        assert_eq!(starts, [0, 4, 8, 12]);
        assert_eq!(orders[1][..3], [4, 5, 6]);
        assert_eq!(orders[3][4..6], [0, 1]);
        // More rounds than rows, and no rows at all, still work.
        assert_eq!(round_order(5, 8, 3).collect::<Vec<_>>(), [1, 2, 0]);
        assert_eq!(round_order(0, 3, 0).count(), 0);
    }
}
