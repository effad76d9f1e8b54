//! The login transaction: state, PKCE verifier, nonce and `return_to` of one login attempt,
//! in its own short-lived encrypted cookie.
//!
//! The cookie is named after a digest of the attempt's `state`
//! (`__Host-oauth-tx-{16 hex}`), so several tabs can log in at once without overwriting each
//! other, and the callback finds the cookie of its attempt from the `state` it receives.
//! The value is sealed with AES-256-GCM by the `cookie` crate's private jar under the first
//! cookie key, which also binds it to the cookie's name: a value moved under another name
//! does not open. It opens under any of the cookie keys, so a login in progress survives a
//! key rotation.

use std::time::Duration;

use cookie::Cookie;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::cookies::CookiePolicy;
use crate::keys::CookieKeys;
use crate::random;

/// Milliseconds since the Unix epoch.
pub(crate) fn unix_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// One login attempt, as sealed in its cookie.
#[derive(Serialize, Deserialize)]
pub(crate) struct Transaction {
    /// Provider name.
    #[serde(rename = "p")]
    pub(crate) provider: String,
    #[serde(rename = "s")]
    pub(crate) state: String,
    /// PKCE code verifier.
    #[serde(rename = "v")]
    pub(crate) verifier: String,
    /// OpenID nonce.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub(crate) nonce: Option<String>,
    #[serde(rename = "r")]
    pub(crate) return_to: String,
    /// Unix milliseconds.
    #[serde(rename = "t")]
    pub(crate) created_at: u64,
}

impl std::fmt::Debug for Transaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("provider", &self.provider)
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// At most this many login attempts are pending per browser; starting another drops the
/// oldest, so a user clicking "log in" again and again cannot grow the `Cookie` header
/// until the server refuses it.
pub(crate) const MAX_PENDING: usize = 5;

/// The prefix of every transaction cookie name.
pub(crate) fn cookie_prefix(policy: &CookiePolicy) -> String {
    policy.name("oauth-tx-")
}

/// The cookie name of the attempt with this `state`.
pub(crate) fn cookie_name(policy: &CookiePolicy, state: &str) -> String {
    format!(
        "{}{}",
        cookie_prefix(policy),
        &random::digest_hex(state)[..16]
    )
}

/// Removals for the pending attempts in `headers` that must go before one more starts:
/// unreadable or expired ones, then the oldest beyond [`MAX_PENDING`]` - 1`.
pub(crate) fn prune(
    headers: &http::HeaderMap,
    keys: &CookieKeys,
    policy: &CookiePolicy,
    ttl: Duration,
) -> Vec<Cookie<'static>> {
    let mut live = Vec::new();
    let mut removals = Vec::new();
    for (name, value) in crate::cookies::with_prefix(headers, &cookie_prefix(policy)) {
        match Transaction::unseal(keys, name, value) {
            Some(t) if !t.expired(ttl) => live.push((t.created_at, name)),
            _ => removals.push(policy.removal(name.to_owned())),
        }
    }
    live.sort_unstable();
    let excess = (live.len() + 1).saturating_sub(MAX_PENDING);
    removals.extend(
        live.iter()
            .take(excess)
            .map(|(_, name)| policy.removal((*name).to_owned())),
    );
    removals
}

impl Transaction {
    /// Seals the transaction into its cookie.
    pub(crate) fn seal(
        &self,
        keys: &CookieKeys,
        policy: &CookiePolicy,
        ttl: Duration,
    ) -> Option<Cookie<'static>> {
        let name = cookie_name(policy, &self.state);
        let json = serde_json::to_string(self).ok()?;
        keys.seal(policy.cookie(name, json, ttl))
    }

    /// Opens the cookie `value` found under `name`; `None` if it does not decrypt, does not
    /// parse or is not the transaction of `state`.
    pub(crate) fn open(keys: &CookieKeys, name: &str, value: &str, state: &str) -> Option<Self> {
        let transaction = Self::unseal(keys, name, value)?;
        bool::from(transaction.state.as_bytes().ct_eq(state.as_bytes())).then_some(transaction)
    }

    /// Decrypts and parses a transaction cookie, whatever its state.
    fn unseal(keys: &CookieKeys, name: &str, value: &str) -> Option<Self> {
        serde_json::from_str(&keys.open(name, value)?).ok()
    }

    /// Whether the attempt is older than `ttl` (or dated in the future).
    pub(crate) fn expired(&self, ttl: Duration) -> bool {
        let now = unix_millis();
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.created_at > now.saturating_add(60_000) || now.saturating_sub(self.created_at) > ttl
    }
}

#[cfg(test)]
mod tests {
    use cookie::Key;

    use super::*;

    fn sample(state: &str) -> Transaction {
        Transaction {
            provider: "op".to_owned(),
            state: state.to_owned(),
            verifier: "v".repeat(43),
            nonce: Some("n".to_owned()),
            return_to: "/".to_owned(),
            created_at: unix_millis(),
        }
    }

    fn keys(list: &[&Key]) -> CookieKeys {
        CookieKeys::new(list.iter().map(|k| (*k).clone()).collect()).unwrap()
    }

    #[test]
    fn round_trip_and_tampering() {
        let key = keys(&[&Key::generate()]);
        let policy = CookiePolicy::new(true);
        let cookie = sample("state-1")
            .seal(&key, &policy, Duration::from_secs(600))
            .unwrap();
        assert!(cookie.name().starts_with("__Host-oauth-tx-"));
        assert_ne!(cookie.value(), "state-1");
        let opened = Transaction::open(&key, cookie.name(), cookie.value(), "state-1").unwrap();
        assert_eq!(opened.provider, "op");
        // Another state, another key, a flipped byte, a truncation, another name: closed.
        assert!(Transaction::open(&key, cookie.name(), cookie.value(), "state-2").is_none());
        assert!(
            Transaction::open(
                &keys(&[&Key::generate()]),
                cookie.name(),
                cookie.value(),
                "state-1"
            )
            .is_none()
        );
        let mut bytes = cookie.value().as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        assert!(Transaction::open(&key, cookie.name(), &flipped, "state-1").is_none());
        let truncated = &cookie.value()[..cookie.value().len() - 4];
        assert!(Transaction::open(&key, cookie.name(), truncated, "state-1").is_none());
        assert!(
            Transaction::open(&key, "__Host-oauth-tx-other", cookie.value(), "state-1").is_none()
        );
    }

    #[test]
    fn expiry() {
        let mut t = sample("s");
        assert!(!t.expired(Duration::from_secs(600)));
        t.created_at -= 601_000;
        assert!(t.expired(Duration::from_secs(600)));
        t.created_at = unix_millis() + 3_600_000;
        assert!(t.expired(Duration::from_secs(600)));
    }
}
