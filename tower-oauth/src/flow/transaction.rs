//! The login transaction: state, PKCE verifier, nonce and `return_to` of one login attempt,
//! in its own short-lived encrypted cookie.
//!
//! The cookie is named after a digest of the attempt's `state`
//! (`__Host-oauth-tx-{16 hex}`), so several tabs can log in at once without overwriting each
//! other, and the callback finds the cookie of its attempt from the `state` it receives.
//! The value is sealed with AES-256-GCM by the `cookie` crate's private jar, which also
//! binds it to the cookie's name: a value moved under another name does not open.

use std::time::Duration;

use cookie::{Cookie, CookieJar, Key};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::cookies::CookiePolicy;
use crate::random;
use crate::session::record::unix_now;

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
    /// Unix seconds.
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

/// The cookie name of the attempt with this `state`.
pub(crate) fn cookie_name(policy: &CookiePolicy, state: &str) -> String {
    policy.name(&format!("oauth-tx-{}", &random::digest_hex(state)[..16]))
}

impl Transaction {
    /// Seals the transaction into its cookie.
    pub(crate) fn seal(
        &self,
        key: &Key,
        policy: &CookiePolicy,
        ttl: Duration,
    ) -> Option<Cookie<'static>> {
        let name = cookie_name(policy, &self.state);
        let json = serde_json::to_string(self).ok()?;
        let mut jar = CookieJar::new();
        jar.private_mut(key)
            .add(policy.cookie(name.clone(), json, ttl));
        jar.get(&name).cloned()
    }

    /// Opens the cookie `value` found under `name`; `None` if it does not decrypt, does not
    /// parse or is not the transaction of `state`.
    pub(crate) fn open(key: &Key, name: &str, value: &str, state: &str) -> Option<Self> {
        let jar = CookieJar::new();
        let cookie = Cookie::new(name.to_owned(), value.to_owned());
        let opened = jar.private(key).decrypt(cookie)?;
        let transaction: Self = serde_json::from_str(opened.value()).ok()?;
        bool::from(transaction.state.as_bytes().ct_eq(state.as_bytes())).then_some(transaction)
    }

    /// Whether the attempt is older than `ttl` (or dated in the future).
    pub(crate) fn expired(&self, ttl: Duration) -> bool {
        let now = unix_now();
        self.created_at > now.saturating_add(60)
            || now.saturating_sub(self.created_at) > ttl.as_secs()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(state: &str) -> Transaction {
        Transaction {
            provider: "op".to_owned(),
            state: state.to_owned(),
            verifier: "v".repeat(43),
            nonce: Some("n".to_owned()),
            return_to: "/".to_owned(),
            created_at: unix_now(),
        }
    }

    #[test]
    fn round_trip_and_tampering() {
        let key = Key::generate();
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
            Transaction::open(&Key::generate(), cookie.name(), cookie.value(), "state-1").is_none()
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
        t.created_at -= 601;
        assert!(t.expired(Duration::from_secs(600)));
        t.created_at = unix_now() + 3600;
        assert!(t.expired(Duration::from_secs(600)));
    }
}
