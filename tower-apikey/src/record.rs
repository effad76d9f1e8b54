//! What a store keeps about a key: [`ApiKeyRecord`] = [`KeyInfo`] + [`KeyDigest`].
//!
//! Timestamps are Unix seconds (`i64`), so SQLite and PostgreSQL share one schema.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::key::Env;
use crate::limit::KeyLimit;

/// Everything known about a key except its digest: safe to list, log and show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyInfo {
    /// The public key id (also inside the key).
    pub id: String,
    /// The key's environment.
    pub env: Env,
    /// The owner: the [`Principal`](auth_core::Principal)'s subject.
    pub account: String,
    /// A human name ("billing sync").
    pub name: Option<String>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// `{prefix}_{env}_{id}`: what a dashboard shows.
    pub display_prefix: String,
    /// The key's last four characters.
    pub last_four: String,
    /// Creation time.
    pub created_at: i64,
    /// The key is refused from this instant on.
    pub expires_at: Option<i64>,
    /// The key is refused before this instant.
    pub not_before: Option<i64>,
    /// Revocation time; a revoked key is refused.
    pub revoked_at: Option<i64>,
    /// Last successful use, written in batches (see the crate docs).
    pub last_used_at: Option<i64>,
    /// Set by a rotation: the old key keeps working until this instant.
    pub grace_ends_at: Option<i64>,
    /// Set by a rotation: the id of the key that replaced this one.
    pub replaced_by: Option<String>,
    /// The tenant the key belongs to: the [`Principal`](auth_core::Principal)'s tenant.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Application data set at creation: a JSON object of at most
    /// [`MAX_METADATA_BYTES`](crate::MAX_METADATA_BYTES) serialised (empty when none).
    #[serde(default)]
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The key's own rate limit (`N/s`, `N/m`), for a rate limiter to apply.
    #[serde(default)]
    pub rate: Option<KeyLimit>,
    /// The key's own quota (`N/day`, `N/month`), for a rate limiter to apply.
    #[serde(default)]
    pub quota: Option<KeyLimit>,
}

/// Why a key that exists is not valid now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Revoked.
    Revoked,
    /// Past `expires_at` or past the end of its rotation grace window.
    Expired,
    /// Before `not_before`.
    NotYetValid,
}

impl Invalid {
    /// The reason code logged for it.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Revoked => "revoked",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
        }
    }
}

impl KeyInfo {
    /// The instant the key stops working: the earlier of `expires_at` and `grace_ends_at`.
    #[must_use]
    pub fn effective_expiry(&self) -> Option<i64> {
        match (self.expires_at, self.grace_ends_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether [`check`](Self::check)'s answer depends on the time: the key has an expiry, a
    /// rotation grace window or a not-before. Without them only a revocation refuses it.
    #[must_use]
    pub(crate) fn is_time_bound(&self) -> bool {
        self.effective_expiry().is_some() || self.not_before.is_some()
    }

    /// Whether the key may be used at `now` (Unix seconds).
    ///
    /// # Errors
    ///
    /// The reason it may not.
    pub fn check(&self, now: i64) -> Result<(), Invalid> {
        if self.revoked_at.is_some() {
            return Err(Invalid::Revoked);
        }
        if self.effective_expiry().is_some_and(|t| now >= t) {
            return Err(Invalid::Expired);
        }
        if self.not_before.is_some_and(|t| now < t) {
            return Err(Invalid::NotYetValid);
        }
        Ok(())
    }
}

/// A stored key: its [`KeyInfo`] and the digest of the full key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Everything but the digest.
    pub info: KeyInfo,
    /// SHA-256 (or HMAC-SHA-256 with a pepper) of the full key.
    pub digest: KeyDigest,
}

/// The SHA-256 or HMAC-SHA-256 digest of a key. Compared in constant time; `Debug` redacts.
#[derive(Clone, Copy, Eq)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    /// Wraps raw digest bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as stored in SQL.
    #[must_use]
    pub fn to_hex(&self) -> String {
        use fmt::Write;
        self.0.iter().fold(String::with_capacity(64), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }

    /// Parses 64 hex characters.
    #[must_use]
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
            let s = std::str::from_utf8(pair).ok()?;
            *slot = u8::from_str_radix(s, 16).ok()?;
        }
        Some(Self(out))
    }
}

impl PartialEq for KeyDigest {
    /// Constant time: the XOR of the two digests, folded a 64-bit word at a time with no
    /// branch, is compared with zero by `subtle` (over `[u8; 32]` it would take 32 steps).
    fn eq(&self, other: &Self) -> bool {
        let (ours, theirs) = (self.0.as_chunks::<8>().0, other.0.as_chunks::<8>().0);
        let difference = ours.iter().zip(theirs).fold(0, |acc, (a, b)| {
            acc | (u64::from_ne_bytes(*a) ^ u64::from_ne_bytes(*b))
        });
        difference.ct_eq(&0).into()
    }
}

impl fmt::Debug for KeyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyDigest([redacted])")
    }
}

/// How keys are digested: SHA-256, or HMAC-SHA-256 with a server-side pepper.
///
/// Keys carry 256 bits of entropy, so a slow password hash would buy nothing; a pepper
/// additionally makes a leaked table useless without the server's secret.
#[derive(Clone, Default)]
pub struct Hasher {
    pepper: Option<Hmac<Sha256>>,
}

impl Hasher {
    /// Plain SHA-256.
    #[must_use]
    pub fn sha256() -> Self {
        Self { pepper: None }
    }

    /// HMAC-SHA-256 keyed with `pepper`; `None` if the pepper is shorter than 32 bytes.
    #[must_use]
    pub fn with_pepper(pepper: &[u8]) -> Option<Self> {
        if pepper.len() < 32 {
            return None;
        }
        let mac = Hmac::<Sha256>::new_from_slice(pepper).ok()?;
        Some(Self { pepper: Some(mac) })
    }

    /// The digest of `key`.
    #[must_use]
    pub fn digest(&self, key: &str) -> KeyDigest {
        match &self.pepper {
            None => KeyDigest(Sha256::digest(key.as_bytes()).into()),
            Some(mac) => {
                let mut mac = mac.clone();
                mac.update(key.as_bytes());
                KeyDigest(mac.finalize().into_bytes().into())
            }
        }
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.pepper.is_some() {
            "Hasher(HMAC-SHA-256, pepper [redacted])"
        } else {
            "Hasher(SHA-256)"
        })
    }
}

/// One UTC hour of a key's traffic as the key layer saw it; [`ApiKeys::usage`](crate::ApiKeys::usage)
/// returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourlyUsage {
    /// The start of the hour, Unix seconds (a multiple of 3600).
    pub hour: i64,
    /// Requests the key authenticated, including those a rate limiter then refused.
    pub accepted: u64,
    /// Requests refused because the key is revoked, expired or not yet valid.
    pub refused: u64,
    /// Of the accepted requests, those a rate limit or quota refused afterwards, as
    /// reported through [`ApiKeys::record_limited`](crate::ApiKeys::record_limited).
    #[serde(default)]
    pub limited: u64,
}

impl HourlyUsage {
    /// No requests in `hour`.
    pub(crate) fn empty(hour: i64) -> Self {
        Self {
            hour,
            accepted: 0,
            refused: 0,
            limited: 0,
        }
    }

    /// Adds the counts of `other` (saturating), keeping this hour.
    pub(crate) fn add(&mut self, other: &Self) {
        self.accepted = self.accepted.saturating_add(other.accepted);
        self.refused = self.refused.saturating_add(other.refused);
        self.limited = self.limited.saturating_add(other.limited);
    }

    /// Whether no request is counted.
    pub(crate) fn is_empty(&self) -> bool {
        self.accepted == 0 && self.refused == 0 && self.limited == 0
    }
}

/// How long stores keep usage rows: older hours are pruned on write.
pub(crate) const USAGE_RETENTION_SECS: i64 = 48 * 3600;

/// The start of the UTC hour holding `secs`.
pub(crate) fn hour_of(secs: i64) -> i64 {
    secs - secs.rem_euclid(3600)
}

/// The current time in Unix seconds.
#[must_use]
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix seconds to a [`SystemTime`] (negative values clamp to the epoch).
#[must_use]
pub fn to_system_time(secs: i64) -> SystemTime {
    UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> KeyInfo {
        KeyInfo {
            id: "abc".into(),
            env: Env::Test,
            account: "acct".into(),
            name: None,
            scopes: vec![],
            display_prefix: "sk_test_abc".into(),
            last_four: "wxyz".into(),
            created_at: 100,
            expires_at: None,
            not_before: None,
            revoked_at: None,
            last_used_at: None,
            grace_ends_at: None,
            replaced_by: None,
            tenant: None,
            metadata: serde_json::Map::new(),
            rate: None,
            quota: None,
        }
    }

    #[test]
    fn validity_windows() {
        let mut k = info();
        assert_eq!(k.check(150), Ok(()));
        k.expires_at = Some(200);
        assert_eq!(k.check(199), Ok(()));
        assert_eq!(k.check(200), Err(Invalid::Expired));
        k.grace_ends_at = Some(180);
        assert_eq!(k.effective_expiry(), Some(180));
        assert_eq!(k.check(180), Err(Invalid::Expired));
        k.not_before = Some(120);
        assert_eq!(k.check(119), Err(Invalid::NotYetValid));
        k.revoked_at = Some(130);
        assert_eq!(k.check(150), Err(Invalid::Revoked));
    }

    #[test]
    fn only_time_bound_keys_depend_on_the_time() {
        let mut k = info();
        assert!(!k.is_time_bound());
        for now in [i64::MIN, 0, 150, i64::MAX] {
            assert_eq!(k.check(now), Ok(()));
        }
        k.revoked_at = Some(130);
        for now in [i64::MIN, 0, 150, i64::MAX] {
            assert_eq!(k.check(now), Err(Invalid::Revoked));
        }
        let bounds: [fn(&mut KeyInfo); 3] = [
            |k| k.expires_at = Some(200),
            |k| k.grace_ends_at = Some(200),
            |k| k.not_before = Some(120),
        ];
        for bound in bounds {
            let mut k = info();
            bound(&mut k);
            assert!(k.is_time_bound(), "{k:?}");
        }
    }

    #[test]
    fn digests_hex_round_trip_and_redact() {
        let d = Hasher::sha256().digest("sk_test_x");
        assert_eq!(KeyDigest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(KeyDigest::from_hex("zz"), None);
        assert_eq!(KeyDigest::from_hex(&"+f".repeat(32)), None);
        assert_eq!(format!("{d:?}"), "KeyDigest([redacted])");
    }

    #[test]
    fn pepper_changes_the_digest_and_must_be_long() {
        assert!(Hasher::with_pepper(b"short").is_none());
        let peppered = Hasher::with_pepper(&[7; 32]).unwrap();
        assert_ne!(peppered.digest("k"), Hasher::sha256().digest("k"));
        assert_eq!(peppered.digest("k"), peppered.digest("k"));
        assert!(!format!("{peppered:?}").contains('7'));
    }

    #[test]
    fn digests_differing_in_any_byte_are_unequal() {
        let digest = Hasher::sha256().digest("sk_test_x");
        assert_eq!(digest, Hasher::sha256().digest("sk_test_x"));
        for byte in 0..32 {
            let mut other = digest;
            other.0[byte] ^= 1;
            assert_ne!(digest, other, "byte {byte}");
        }
    }
}
