//! The cache of answers, keyed on a keyed 128-bit SipHash of the token (the token itself is
//! never stored): active answers until the token's `exp` or the
//! configured bound, whichever comes first; `active: false` briefly, in a cache of its own so
//! a flood of bad tokens cannot evict the good ones.

use std::fmt;
use std::hash::Hasher;
use std::time::{Duration, SystemTime};

use auth_core::AuthError;
use quick_cache::sync::Cache as QuickCache;
use siphasher::sip128::{Hasher128, SipHasher13};

use crate::identity::Introspected;

/// The cache key of a token.
pub(crate) type Key = u128;

#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) identity: Introspected,
    /// The earlier of `exp` and the moment the answer was cached plus the bound.
    valid_until: SystemTime,
}

/// What the cache knows about a token at a given instant.
pub(crate) enum Lookup {
    /// An active answer that may still be used.
    Hit(Introspected),
    /// A verdict without asking: inactive lately, or past its `exp`.
    Refused(AuthError),
    /// Ask the endpoint.
    Miss,
}

pub(crate) struct AnswerCache {
    /// SipHash-1-3 (the variant Rust's `HashMap` keys with) with a secret random 128-bit key
    /// and 128-bit output: the key of a token is `SipHash128(secret, token)`. SipHash is a
    /// PRF made for keying maps on attacker input: without the secret (and its output never
    /// leaves the process) no one can make a token land on another token's entry, except by
    /// a 2^-128 chance per cached token. It costs a fraction of one SHA-256 compression.
    keyed: SipHasher13,
    ttl: Duration,
    inactive_ttl: Duration,
    pub(crate) active: QuickCache<Key, Entry>,
    inactive: QuickCache<Key, SystemTime>,
}

impl AnswerCache {
    pub(crate) fn new(
        ttl: Duration,
        capacity: usize,
        inactive_ttl: Duration,
        inactive_capacity: usize,
    ) -> Self {
        let (k0, k1): (u64, u64) = rand::random();
        Self {
            keyed: SipHasher13::new_with_keys(k0, k1),
            ttl,
            inactive_ttl,
            active: QuickCache::new(capacity.max(1)),
            inactive: QuickCache::new(inactive_capacity.max(1)),
        }
    }

    pub(crate) fn key(&self, token: &str) -> Key {
        let mut hasher = self.keyed;
        hasher.write(token.as_bytes());
        hasher.finish128().as_u128()
    }

    pub(crate) fn lookup(&self, key: &Key, now: SystemTime) -> Lookup {
        if let Some(entry) = self.active.get(key) {
            if now < entry.valid_until {
                return Lookup::Hit(entry.identity);
            }
            self.active
                .remove_if(key, |e| e.valid_until == entry.valid_until);
            if entry.identity.expires_at().is_some_and(|exp| exp <= now) {
                return Lookup::Refused(expired());
            }
        }
        self.inactive_verdict(key, now)
    }

    /// The verdict of a recent `active: false`, if any.
    pub(crate) fn inactive_verdict(&self, key: &Key, now: SystemTime) -> Lookup {
        match self.inactive.get(key) {
            Some(until) if now < until => Lookup::Refused(inactive()),
            _ => Lookup::Miss,
        }
    }

    /// The entry for an active answer received at `now`, or `None` when it must not be
    /// cached (a zero bound).
    pub(crate) fn entry(&self, identity: &Introspected, now: SystemTime) -> Option<Entry> {
        let mut valid_until = now + self.ttl;
        if let Some(exp) = identity.expires_at() {
            valid_until = valid_until.min(exp);
        }
        (valid_until > now).then(|| Entry {
            identity: identity.clone(),
            valid_until,
        })
    }

    pub(crate) fn remember_inactive(&self, key: Key, now: SystemTime) {
        if !self.inactive_ttl.is_zero() {
            self.inactive.insert(key, now + self.inactive_ttl);
        }
    }
}

impl fmt::Debug for AnswerCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnswerCache")
            .field("ttl", &self.ttl)
            .field("inactive_ttl", &self.inactive_ttl)
            .field("active", &self.active.len())
            .field("inactive", &self.inactive.len())
            .finish_non_exhaustive()
    }
}

pub(crate) fn inactive() -> AuthError {
    AuthError::invalid_credential("the token is not active").with_reason("inactive")
}

pub(crate) fn expired() -> AuthError {
    AuthError::invalid_credential("the token has expired").with_reason("expired")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_keyed_per_cache_and_never_the_token() {
        let cache = || AnswerCache::new(Duration::from_secs(60), 10, Duration::from_secs(5), 10);
        let (a, b) = (cache(), cache());
        let token = "Au35xzLFPV8xX-VY6JIE8TpFMrynsF9meUW4yKRp9Yr";
        assert_eq!(a.key(token), a.key(token));
        assert_ne!(
            a.key(token),
            a.key("Au35xzLFPV8xX-VY6JIE8TpFMrynsF9meUW4yKRp9Ys")
        );
        // Another secret, another key; and no key is the token's SipHash under a zero key.
        assert_ne!(a.key(token), b.key(token));
        let mut unkeyed = SipHasher13::new();
        unkeyed.write(token.as_bytes());
        assert_ne!(a.key(token), unkeyed.finish128().as_u128());
    }
}
