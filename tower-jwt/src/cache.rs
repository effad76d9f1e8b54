//! The verified-token cache (as Envoy's `jwt_cache_config`): a repeated token skips
//! signature verification and claim parsing.
//!
//! * Keyed on the *whole* token, compared byte for byte (as Envoy's `jwt_cache` does). A
//!   re-encoded or malleated signature (an ECDSA high-S twin; SECURITY.md, section
//!   'Verified-token cache') is a different key, so it is verified normally; the cache only
//!   ever answers for the exact bytes it verified. The lookup hashes only the token's last
//!   [`HASHED_TAIL`] bytes (the end of its signature, as unpredictable as any digest of it)
//!   with quick_cache's keyed hasher, then compares the whole token. Tokens sharing a tail
//!   only share a bucket, and only verified tokens are inserted, so no one can crowd a
//!   bucket. Hashing the whole token with SHA-256 would take half the time of a cache hit.
//! * The entries hold the tokens themselves, bearer credentials valid until they expire:
//!   they are never printed (the cache's `Debug` shows counts) and leave with their entry.
//! * Every hit still checks `exp`, the maximum age and the revocation store.
//! * Bounded: at most [`CacheConfig::capacity`] entries, each trusted at most
//!   [`CacheConfig::time_to_live`]; about 200 bytes plus the token and the claims per
//!   entry.
//! * A `quick_cache` (S3-FIFO, sharded) rather than moka: a hit is a shard read lock and a
//!   clone, 17 ns against moka's 147 ns for the same 32-byte key on this project's machine
//!   (moka's read log feeds its TinyLFU policy), and this cache sits on the hot path of every
//!   JWT request. The time to live is checked on read
//!   (an older entry is a miss and is dropped), so no background task is needed.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use quick_cache::Equivalent;

use crate::identity::Claims;

/// Size and lifetime of the verified-token cache.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct CacheConfig {
    pub(crate) capacity: u64,
    pub(crate) time_to_live: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            time_to_live: Duration::from_secs(300),
        }
    }
}

impl CacheConfig {
    /// Most tokens kept (default 10 000).
    pub fn capacity(mut self, capacity: u64) -> Self {
        self.capacity = capacity;
        self
    }

    /// Longest a verified token is trusted without re-verifying its signature (default
    /// 5 min): also how long a key removed from a JWKS keeps validating tokens it
    /// signed earlier.
    pub fn time_to_live(mut self, ttl: Duration) -> Self {
        self.time_to_live = ttl;
        self
    }
}

/// How many bytes at the end of a token its cache hash covers.
pub(crate) const HASHED_TAIL: usize = 32;

fn hash_tail<H: Hasher>(token: &str, state: &mut H) {
    let bytes = token.as_bytes();
    state.write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
}

/// A cached token: equal to another only byte for byte, hashed on its tail.
#[derive(PartialEq, Eq)]
struct Key(Box<str>);

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_tail(&self.0, state);
    }
}

/// A token being looked up, hashed as its [`Key`] would be.
struct Lookup<'a>(&'a str);

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_tail(self.0, state);
    }
}

impl Equivalent<Key> for Lookup<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        *self.0 == *key.0
    }
}

/// The cache of verified tokens for claims type `C`.
pub(crate) struct VerifiedCache<C> {
    entries: quick_cache::sync::Cache<Key, Entry<C>>,
    time_to_live: Duration,
}

/// A verified identity and when it was verified.
struct Entry<C> {
    identity: Claims<C>,
    verified_at: Instant,
}

impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Self {
            identity: self.identity.clone(),
            verified_at: self.verified_at,
        }
    }
}

impl<C> std::fmt::Debug for VerifiedCache<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("entries", &self.entries.len())
            .field("capacity", &self.entries.capacity())
            .field("time_to_live", &self.time_to_live)
            .finish()
    }
}

impl<C: Send + Sync + 'static> VerifiedCache<C> {
    pub(crate) fn new(config: CacheConfig) -> Self {
        let capacity = usize::try_from(config.capacity)
            .unwrap_or(usize::MAX)
            .max(1);
        Self {
            entries: quick_cache::sync::Cache::new(capacity),
            time_to_live: config.time_to_live,
        }
    }

    /// The identity verified for exactly `token`, if still within the time to live.
    pub(crate) fn get(&self, token: &str) -> Option<Claims<C>> {
        let entry = self.entries.get(&Lookup(token))?;
        if entry.verified_at.elapsed() < self.time_to_live {
            Some(entry.identity)
        } else {
            // Only this entry: one verified again meanwhile stays.
            let verified_at = entry.verified_at;
            self.entries
                .remove_if(&Lookup(token), |current| current.verified_at == verified_at);
            None
        }
    }

    pub(crate) fn insert(&self, token: &str, identity: Claims<C>) {
        self.entries.insert(
            Key(Box::from(token)),
            Entry {
                identity,
                verified_at: Instant::now(),
            },
        );
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use auth_core::{AuthMethod, Principal};

    use super::*;
    use crate::identity::Parts;

    fn identity(subject: &str) -> Claims<()> {
        Claims::new(Parts {
            principal: Principal::new(subject, AuthMethod::Jwt),
            claims: (),
            issuer: Arc::from("https://issuer.example"),
            jti: None,
            jkt: None,
            x5t: None,
            issued_at: 0,
            expires_at: i64::MAX,
            issuer_index: 0,
        })
    }

    #[test]
    fn a_hit_answers_for_the_exact_token_only() {
        let cache = VerifiedCache::new(CacheConfig::default());
        cache.insert("a.b.c", identity("alice"));
        let hit = cache.get("a.b.c").expect("the same bytes hit");
        assert_eq!(hit.principal().subject(), "alice");
        assert!(cache.get("a.b.C").is_none());
        assert!(cache.get("a.b.c ").is_none());
    }

    #[test]
    fn an_entry_older_than_the_time_to_live_is_a_miss_and_is_dropped() {
        let cache = VerifiedCache::new(CacheConfig::default().time_to_live(Duration::ZERO));
        cache.insert("t", identity("alice"));
        assert_eq!(cache.len(), 1);
        assert!(cache.get("t").is_none());
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn tokens_sharing_their_hashed_tail_are_told_apart() {
        let tail = "s".repeat(HASHED_TAIL);
        let (first, second) = (format!("a.b.{tail}"), format!("a.c.{tail}"));
        let cache = VerifiedCache::new(CacheConfig::default());
        cache.insert(&first, identity("alice"));
        assert!(cache.get(&second).is_none(), "same tail, other payload");
        cache.insert(&second, identity("bob"));
        assert_eq!(cache.get(&first).unwrap().principal().subject(), "alice");
        assert_eq!(cache.get(&second).unwrap().principal().subject(), "bob");
        // Shorter than the tail: hashed whole.
        cache.insert("x.y", identity("carol"));
        assert_eq!(cache.get("x.y").unwrap().principal().subject(), "carol");
        assert!(cache.get("x.z").is_none());
    }

    #[test]
    fn the_capacity_bounds_the_entries() {
        let cache = VerifiedCache::new(CacheConfig::default().capacity(100));
        for i in 0..5_000 {
            cache.insert(&format!("token-{i}"), identity("bob"));
        }
        assert!(cache.len() <= 100, "{} entries", cache.len());
        assert!(cache.len() > 0);
    }
}
