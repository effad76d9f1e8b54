//! The key-management command line (feature `cli`): [`KeysCommand`] is a
//! [`clap::Subcommand`] an application embeds (the demo's `demo keys …`); the `apikey`
//! binary wraps it with `--database-url`.
//!
//! | command | prints |
//! |---|---|
//! | `create --account NAME [--scopes "a b"] [--expires-in 30d] [--env live\|test] [--name N] [--tenant T] [--metadata '{json}'] [--rate N/s\|N/m] [--quota N/day\|N/month]` | `{"id","key","account","scopes","expires_at","tenant","metadata","rate","quota"}`: the only time the key is shown |
//! | `list [--account NAME]` | a JSON array of key records (with `"tenant"`, `"metadata"`, `"rate"`, `"quota"`, null when unset), never a secret or digest |
//! | `revoke ID` | `{"id","revoked"}` |
//! | `rotate ID [--grace 24h]` | the new key, as `create` does |
//!
//! Durations are written `90s`, `15m`, `24h`, `30d`. `expires_at` is in Unix seconds.
//! `--metadata` is a JSON object of at most 4 KiB; `--rate` and `--quota` are the key's own
//! limit and quota, for a rate limiter to apply (see [`KeyLimit`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use clap::Parser;
//! use tower_apikey::cli::KeysCommand;
//! use tower_apikey::{ApiKeys, MemoryApiKeyStore};
//!
//! #[derive(Parser)]
//! struct Demo {
//!     #[command(subcommand)]
//!     keys: KeysCommand,
//! }
//!
//! let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build().unwrap();
//! let cmd = Demo::parse_from(["demo", "create", "--account", "acme", "--scopes", "read write"]);
//! let mut out = Vec::new();
//! cmd.keys.run(&keys, &mut out).await.unwrap();
//! let created: serde_json::Value = serde_json::from_slice(&out).unwrap();
//! assert_eq!(created["account"], "acme");
//! assert_eq!(created["scopes"], serde_json::json!(["read", "write"]));
//! assert!(created["key"].as_str().unwrap().starts_with("sk_live_"));
//! # }
//! ```

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use crate::key::Env;
use crate::keys::{ApiKeys, CreatedKey, KeyError, NewKey};
use crate::limit::KeyLimit;
use auth_core::StoreError;

/// Key-management subcommands; see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it (the only time it is shown).
    Create {
        /// The owning account: the authenticated subject.
        #[arg(long)]
        account: String,
        /// Space-separated scopes.
        #[arg(long, default_value = "")]
        scopes: String,
        /// Lifetime, such as `90s`, `15m`, `24h`, `30d`; no expiry when absent.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<Duration>,
        /// `live` or `test`.
        #[arg(long, default_value = "live")]
        env: Env,
        /// A human name for the key.
        #[arg(long)]
        name: Option<String>,
        /// The tenant the key belongs to.
        #[arg(long)]
        tenant: Option<String>,
        /// Application data: a JSON object of at most 4 KiB.
        #[arg(long, value_parser = parse_metadata)]
        metadata: Option<serde_json::Map<String, serde_json::Value>>,
        /// The key's own rate limit: `N/s` or `N/m`.
        #[arg(long, value_parser = |s: &str| KeyLimit::parse_rate(s).map_err(|e| e.to_string()))]
        rate: Option<KeyLimit>,
        /// The key's own quota: `N/day` or `N/month`.
        #[arg(long, value_parser = |s: &str| KeyLimit::parse_quota(s).map_err(|e| e.to_string()))]
        quota: Option<KeyLimit>,
    },
    /// List keys as JSON (never a secret or digest).
    List {
        /// Only this account's keys.
        #[arg(long)]
        account: Option<String>,
    },
    /// Revoke a key.
    Revoke {
        /// The key id.
        id: String,
    },
    /// Replace a key; the old one keeps working until the grace window ends.
    Rotate {
        /// The key id.
        id: String,
        /// How long the old key keeps working.
        #[arg(long, value_parser = parse_duration, default_value = "24h")]
        grace: Duration,
    },
}

/// A command failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The key operation failed.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// Writing the output failed.
    #[error("could not write the output: {0}")]
    Io(#[from] std::io::Error),
    /// Encoding the output failed.
    #[error("could not encode the output: {0}")]
    Json(#[from] serde_json::Error),
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        Self::Key(KeyError::Store(e))
    }
}

fn created_json(created: &CreatedKey) -> serde_json::Value {
    json!({
        "id": created.info.id,
        "key": created.key.expose(),
        "account": created.info.account,
        "scopes": created.info.scopes,
        "expires_at": created.info.expires_at,
        "tenant": created.info.tenant,
        "metadata": created.info.metadata,
        "rate": created.info.rate,
        "quota": created.info.quota,
    })
}

impl KeysCommand {
    /// Runs the command against `keys`, writing JSON and a newline to `out`.
    ///
    /// # Errors
    ///
    /// [`CliError`] when the operation or the output fails.
    pub async fn run(self, keys: &ApiKeys, out: &mut impl Write) -> Result<(), CliError> {
        let value = match self {
            Self::Create {
                account,
                scopes,
                expires_in,
                env,
                name,
                tenant,
                metadata,
                rate,
                quota,
            } => {
                let mut new = NewKey::new(account)
                    .env(env)
                    .scopes(scopes.split_whitespace());
                new.name = name;
                new.tenant = tenant;
                new.metadata = metadata.unwrap_or_default();
                new.rate = rate;
                new.quota = quota;
                if let Some(ttl) = expires_in {
                    new = new.expires_in(ttl);
                }
                created_json(&keys.create(new).await?)
            }
            Self::List { account } => serde_json::to_value(keys.list(account.as_deref()).await?)?,
            Self::Revoke { id } => {
                keys.revoke(&id).await?;
                json!({ "id": id, "revoked": true })
            }
            Self::Rotate { id, grace } => created_json(&keys.rotate(&id, grace).await?),
        };
        serde_json::to_writer_pretty(&mut *out, &value)?;
        writeln!(out)?;
        Ok(())
    }
}

/// Parses `--metadata`: a JSON object (its size is checked when the key is created).
fn parse_metadata(text: &str) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err("expected a JSON object, such as '{\"plan\":\"pro\"}'".to_owned()),
        Err(error) => Err(format!("not valid JSON: {error}")),
    }
}

/// Parses `90s`, `15m`, `24h` or `30d`.
///
/// ```
/// use std::time::Duration;
/// use tower_apikey::cli::parse_duration;
///
/// assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
/// assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
/// assert!(parse_duration("15").is_err());
/// ```
///
/// # Errors
///
/// A message naming the accepted forms.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const FORMS: &str = "expected a number followed by s, m, h or d (90s, 15m, 24h, 30d)";
    let split = s.len().saturating_sub(1);
    let (number, unit) = (s.get(..split).unwrap_or(""), s.get(split..).unwrap_or(""));
    let n: u64 = number
        .parse()
        .ok()
        .filter(|_| number.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| format!("invalid duration `{s}`: {FORMS}"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("invalid duration `{s}`: {FORMS}")),
    };
    n.checked_mul(unit_secs)
        .filter(|&secs| secs <= 100 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("duration `{s}` is longer than 100 years"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in [
            "",
            "s",
            "10",
            "1.5h",
            "-1d",
            "+1d",
            "10w",
            "1 d",
            "99999999999999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
        assert!(parse_duration("36501d").unwrap_err().contains("100 years"));
    }
}
