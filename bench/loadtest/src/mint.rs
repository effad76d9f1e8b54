//! Fresh tokens for the cache-miss rows: one file per algorithm and round, one token a
//! line, no token ever repeated, so every request of those rows verifies a signature.

use std::io::{BufRead as _, BufReader, BufWriter, Write as _};
use std::path::{Path, PathBuf};

use aws_lc_rs::hmac;
use serde_json::json;

use crate::issuer::{self, Alg, Keys, b64};

/// The demo's own tokens: `iss` (`DEMO_JWT_ISSUER` default), audience and key id.
const DEMO_ISSUER: &str = "demo";

/// The demo's `kid` for an HS256 secret: `hs-` and the first 12 hex digits of its SHA-256
/// (as `towerauth_demo`'s signing key names it).
fn demo_kid(secret: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret);
    let hex: String = digest.as_ref()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("hs-{hex}")
}

/// The files of each algorithm, indexed by round.
#[derive(Debug)]
pub(crate) struct Fresh {
    pub(crate) hs256: Vec<PathBuf>,
    pub(crate) rs256: Vec<PathBuf>,
    pub(crate) es256: Vec<PathBuf>,
}

/// Mints `counts` = `[hs256, rs256, es256]` tokens per round, on every core (the demo is
/// not running yet).
pub(crate) fn fresh_sets(
    dir: &Path,
    keys: &Keys,
    secret: &[u8],
    iss: &str,
    rounds: usize,
    counts: [u64; 3],
) -> Result<Fresh, String> {
    let file = |alg: &str, round: usize| dir.join(format!("{alg}-{round}.txt"));
    let fresh = Fresh {
        hs256: (0..rounds).map(|r| file("hs256", r)).collect(),
        rs256: (0..rounds).map(|r| file("rs256", r)).collect(),
        es256: (0..rounds).map(|r| file("es256", r)).collect(),
    };
    let hmac_key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let kid = demo_kid(secret);
    // RSA signing dominates: split each RSA file into its own job, so both cores share it.
    let mut jobs: Vec<(&Path, Option<Alg>, u64, String)> = Vec::new();
    for round in 0..rounds {
        jobs.push((&fresh.hs256[round], None, counts[0], format!("hs{round}-")));
        jobs.push((
            &fresh.rs256[round],
            Some(Alg::Rs256),
            counts[1],
            format!("rs{round}-"),
        ));
        jobs.push((
            &fresh.es256[round],
            Some(Alg::Es256),
            counts[2],
            format!("es{round}-"),
        ));
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((path, alg, count, prefix)) = jobs.get(i) else {
                            return Ok(());
                        };
                        write_set(path, *count, prefix, |jti| match alg {
                            None => Ok(hs256(&hmac_key, &kid, jti)),
                            Some(alg) => keys.sign(
                                *alg,
                                "at+jwt",
                                &issuer::access_claims(iss, issuer::AUDIENCE, "bench", jti, 3600),
                            ),
                        })?;
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a minting thread panicked".to_owned()))
            })
            .collect()
    });
    results.into_iter().collect::<Result<(), String>>()?;
    Ok(fresh)
}

fn write_set(
    path: &Path,
    count: u64,
    prefix: &str,
    mut mint: impl FnMut(&str) -> Result<String, String>,
) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = BufWriter::new(file);
    for n in 0..count {
        let token = mint(&format!("{prefix}{n}"))?;
        writeln!(out, "{token}").map_err(|e| format!("{}: {e}", path.display()))?;
    }
    out.flush().map_err(|e| format!("{}: {e}", path.display()))
}

/// A demo access token, as `demo token` prints it, signed with `DEMO_JWT_SECRET`.
fn hs256(key: &hmac::Key, kid: &str, jti: &str) -> String {
    let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid });
    let claims = issuer::access_claims(DEMO_ISSUER, issuer::AUDIENCE, "bench", jti, 3600);
    let mut token = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let tag = hmac::sign(key, token.as_bytes());
    token.push('.');
    token.push_str(&b64(tag));
    token
}

/// The first token of a set (checked against the demo before the run).
pub(crate) fn first_line(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    BufReader::new(file)
        .lines()
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| format!("{} is empty", path.display()))
}
