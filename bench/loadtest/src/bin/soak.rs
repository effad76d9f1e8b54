//! A soak of the release demo with Redis: many keep-alive connections for a minute mixing
//! valid API keys, access tokens and sessions with forged ones, through one Redis restart
//! (the soak's own `redis-server`, without persistence) in the middle. Fails on any
//! unexpected status, or when the demo's memory grows after the warm-up. `bench/soak`.

#[allow(dead_code, unreachable_pub)]
#[path = "../demo.rs"]
mod demo;
#[allow(dead_code, unreachable_pub)]
#[path = "../issuer.rs"]
mod issuer;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use clap::Parser;

use crate::demo::Demo;
use crate::issuer::Keys;

/// Soak the demo through a Redis restart.
#[derive(Debug, Parser)]
struct Args {
    /// The demo binary (default: `target/release/demo` of this workspace).
    #[arg(long)]
    demo: Option<PathBuf>,
    /// Keep-alive connections, one client task each.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Length of the run.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds without growth check at the start.
    #[arg(long, default_value_t = 15)]
    warmup: u64,
    /// How long Redis stays down, in the middle of the run (milliseconds).
    #[arg(long, default_value_t = 2000)]
    outage_ms: u64,
}

/// What a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ApiKey,
    Token,
    Session,
    ForgedKey,
    ForgedToken,
    ForgedSession,
}

const KINDS: [Kind; 6] = [
    Kind::ApiKey,
    Kind::Token,
    Kind::Session,
    Kind::ForgedKey,
    Kind::ForgedToken,
    Kind::ForgedSession,
];

/// The credentials, and the session cookie generation (bumped by the login after Redis
/// came back empty).
struct Credentials {
    api_key: String,
    token: String,
    session: RwLock<(u32, String)>,
}

/// Milliseconds since the start at which Redis went down and came back (0 = not yet).
#[derive(Default)]
struct Outage {
    down_ms: AtomicU64,
    up_ms: AtomicU64,
}

#[derive(Default)]
struct Tally {
    requests: AtomicU64,
    by_status: Mutex<std::collections::BTreeMap<(String, u16), u64>>,
    unexpected: Mutex<Vec<String>>,
    transport_errors: AtomicU64,
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn redis(port: u16) -> Result<Child, String> {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--maxclients", "10000"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start redis-server: {e}"))?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(child);
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    Err("redis-server did not listen within 5 s".to_owned())
}

/// The demo's resident memory in KiB (`VmRSS` of `/proc/PID/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Whether `status` is what `kind` must get when sent at `at_ms`, the session cookie being
/// of generation `generation`.
fn expected(kind: Kind, status: u16, generation: u32, at_ms: u64, outage: &Outage) -> bool {
    let down = outage.down_ms.load(Ordering::Acquire);
    let up = outage.up_ms.load(Ordering::Acquire);
    // Sent between the stop and the login after the return (the first request after it).
    let during = down != 0 && at_ms + 50 >= down && (up == 0 || at_ms <= up);
    let after = up != 0 && at_ms > up;
    match kind {
        // SQLite keys; a JWT's revocation store stays fresh through an outage shorter than
        // its 5 s staleness bound.
        Kind::ApiKey | Kind::Token => status == 200,
        // Forged credentials come from their own address, which the demo's API throttle
        // answers 429 once it has refused ten of them in a minute.
        Kind::ForgedKey | Kind::ForgedToken => matches!(status, 401 | 429),
        // A session id is only known to be forged by the store: 503 while it is down.
        Kind::ForgedSession => matches!(status, 401 | 429) || (during && status == 503),
        // Sessions come from a third address. The session of before the outage: 503 while
        // Redis is down, then 401 (Redis came back empty: logged out, never someone else);
        // those refusals may then get the address throttled (429) for the rest of the minute.
        Kind::Session if generation == 0 => {
            status == 200 && !after
                || (during && matches!(status, 503 | 401 | 429))
                || (after && matches!(status, 401 | 429))
        }
        // The login made after the return (throttled with the address, see above).
        Kind::Session => status == 200 || ((during || after) && status == 429),
    }
}

async fn worker(
    index: usize,
    base: String,
    credentials: Arc<Credentials>,
    outage: Arc<Outage>,
    tally: Arc<Tally>,
    started: Instant,
    until: Instant,
) {
    // One client address per kind of traffic (the demo throttles refused credentials per
    // address): valid keys and tokens, forged credentials, sessions.
    let from = |address: [u8; 4]| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(1)
            .timeout(Duration::from_secs(30))
            .local_address(std::net::IpAddr::from(address))
            .build()
            .expect("a plain HTTP client builds")
    };
    let (valid, forged, sessions) = (
        from([127, 0, 0, 1]),
        from([127, 0, 0, 2]),
        from([127, 0, 0, 3]),
    );
    let url = format!("{base}/api/whoami");
    // Bounded by time and by count.
    for round in index..index + 10_000_000 {
        if Instant::now() >= until {
            break;
        }
        let kind = KINDS[round % KINDS.len()];
        let mut generation = 0;
        let request = match kind {
            Kind::ApiKey => valid.get(&url).header("x-api-key", &credentials.api_key),
            Kind::Token => valid.get(&url).bearer_auth(&credentials.token),
            Kind::Session => {
                let session = credentials
                    .session
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone();
                generation = session.0;
                sessions.get(&url).header("cookie", session.1)
            }
            Kind::ForgedKey => forged
                .get(&url)
                .header("x-api-key", forge(&credentials.api_key)),
            Kind::ForgedToken => forged.get(&url).bearer_auth(forge(&credentials.token)),
            Kind::ForgedSession => {
                let cookie = credentials
                    .session
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .1
                    .clone();
                forged.get(&url).header("cookie", forge(&cookie))
            }
        };
        let at_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let _ = response.bytes().await;
                tally.requests.fetch_add(1, Ordering::Relaxed);
                *tally
                    .by_status
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry((format!("{kind:?}"), status))
                    .or_default() += 1;
                if !expected(kind, status, generation, at_ms, &outage) {
                    let mut unexpected = tally
                        .unexpected
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    if unexpected.len() < 1000 {
                        unexpected.push(format!("{kind:?} at {at_ms} ms: {status}"));
                    }
                }
            }
            Err(error) => {
                tally.transport_errors.fetch_add(1, Ordering::Relaxed);
                let mut unexpected = tally
                    .unexpected
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if unexpected.len() < 1000 {
                    unexpected.push(format!("{kind:?} at {at_ms} ms: {error}"));
                }
            }
        }
    }
}

/// The credential with its last characters changed (same shape, wrong secret or
/// signature).
fn forge(credential: &str) -> String {
    let mut forged = credential.to_owned();
    let tail: String = forged
        .chars()
        .rev()
        .take(4)
        .map(|c| if c == 'A' { 'B' } else { 'A' })
        .collect();
    for _ in 0..4 {
        forged.pop();
    }
    forged.push_str(&tail);
    forged
}

#[tokio::main]
async fn main() {
    if let Err(error) = run(Args::parse()).await {
        eprintln!("soak: FAILED: {error}");
        std::process::exit(1);
    }
}

#[allow(clippy::too_many_lines)]
async fn run(args: Args) -> Result<(), String> {
    let binary = args.demo.clone().unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
                PathBuf::from,
            )
            .join("release/demo")
    });
    if !binary.is_file() {
        return Err(format!("no demo binary at {}", binary.display()));
    }
    let dir = std::env::temp_dir().join(format!("towerauth-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let redis_port = free_port()?;
    let mut redis_child = redis(redis_port)?;
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
                format!("sqlite://{}/soak.db", dir.display()),
            ),
            ("DEMO_JWT_SECRET", secret),
            ("DEMO_REDIS_URL", format!("redis://127.0.0.1:{redis_port}")),
            ("DEMO_OIDC_ISSUER", issuer.url.clone()),
            ("DEMO_OIDC_CLIENT_ID", issuer::CLIENT_ID.to_owned()),
            ("DEMO_OIDC_CLIENT_SECRET", issuer::CLIENT_SECRET.to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect(),
    };
    let created: serde_json::Value = serde_json::from_str(&demo.cli(&[
        "keys",
        "create",
        "--account",
        "soak",
        "--scopes",
        "read",
    ])?)
    .map_err(|e| format!("demo keys create: {e}"))?;
    let api_key = created["key"].as_str().ok_or("no key")?.to_owned();
    let token = demo
        .cli(&["token", "--sub", "soak", "--scopes", "read", "--ttl", "1h"])?
        .trim()
        .to_owned();
    let server = demo.serve(0, &dir.join("demo.log"))?;
    let _ = Command::new("taskset")
        .args(["-a", "-p", "-c", "0-63", &server.pid().to_string()])
        .output();
    let base = server.url().to_owned();
    let session = demo::login(&demo::client(), &base).await?;
    let credentials = Arc::new(Credentials {
        api_key,
        token,
        session: RwLock::new((0, session)),
    });

    let (outage, tally) = (Arc::new(Outage::default()), Arc::new(Tally::default()));
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let workers: Vec<_> = (0..args.connections)
        .map(|index| {
            tokio::spawn(worker(
                index,
                base.clone(),
                Arc::clone(&credentials),
                Arc::clone(&outage),
                Arc::clone(&tally),
                started,
                until,
            ))
        })
        .collect();

    // Memory every second; Redis down in the middle.
    let samples = Arc::new(Mutex::new(Vec::new()));
    let middle = Duration::from_secs(args.seconds / 2);
    let mut restarted = false;
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(rss) = rss_kib(server.pid()) {
            samples
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push((started.elapsed().as_secs(), rss));
        }
        if !restarted && started.elapsed() >= middle {
            restarted = true;
            let ms = |i: Instant| u64::try_from(i.duration_since(started).as_millis()).unwrap_or(0);
            outage
                .down_ms
                .store(ms(Instant::now()).max(1), Ordering::Release);
            let _ = redis_child.kill();
            let _ = redis_child.wait();
            tokio::time::sleep(Duration::from_millis(args.outage_ms)).await;
            redis_child = redis(redis_port)?;
            let back = Instant::now();
            // Sessions were lost with Redis: log in again; the first attempt after the
            // return must succeed.
            let session = demo::login(&demo::client(), &base)
                .await
                .map_err(|e| format!("the first login after Redis returned: {e}"))?;
            *credentials
                .session
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = (1, session);
            outage.up_ms.store(ms(back).max(1), Ordering::Release);
            eprintln!(
                "Redis down {} ms, logged in again {} ms after its return",
                args.outage_ms,
                back.elapsed().as_millis()
            );
        }
    }
    for worker in workers {
        let _ = tokio::time::timeout(Duration::from_secs(60), worker).await;
    }
    let elapsed = started.elapsed();
    drop(server);
    let _ = redis_child.kill();
    let _ = redis_child.wait();
    drop(issuer);
    let _ = std::fs::remove_dir_all(&dir);

    let requests = tally.requests.load(Ordering::Relaxed);
    println!(
        "{} connections, {:.1} s: {requests} requests ({:.0}/s), {} transport errors",
        args.connections,
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        tally.transport_errors.load(Ordering::Relaxed)
    );
    for ((kind, status), count) in tally
        .by_status
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
    {
        println!("  {kind:<14} {status}: {count}");
    }
    let samples = samples
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let after_warmup: Vec<u64> = samples
        .iter()
        .filter(|(s, _)| *s >= args.warmup)
        .map(|(_, r)| *r)
        .collect();
    let (first, last, peak) = (
        after_warmup.first().copied().unwrap_or(0),
        after_warmup.last().copied().unwrap_or(0),
        after_warmup.iter().copied().max().unwrap_or(0),
    );
    println!(
        "  demo RSS after the {} s warm-up: {} MiB, at the end {} MiB, peak {} MiB",
        args.warmup,
        first / 1024,
        last / 1024,
        peak / 1024
    );
    let unexpected = tally
        .unexpected
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    if !unexpected.is_empty() {
        return Err(format!(
            "{} unexpected answers, the first: {:?}",
            unexpected.len(),
            &unexpected[..unexpected.len().min(10)]
        ));
    }
    // Flat: the end within 10 % (and 16 MiB) of the first sample after the warm-up.
    if first == 0 || last > first + (first / 10).max(16 * 1024) {
        return Err(format!(
            "the demo's memory grew after the warm-up: {first} KiB -> {last} KiB"
        ));
    }
    println!("  0 unexpected statuses; memory flat after the warm-up");
    Ok(())
}
