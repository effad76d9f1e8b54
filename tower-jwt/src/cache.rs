//! The verified-token cache (as Envoy's `jwt_cache_config`): a repeated token skips
//! signature verification and claim parsing.
//!
//! * Keyed on the SHA-256 of the *whole* token. A re-encoded or malleated signature (an
//!   ECDSA high-S twin, SECURITY.md #10) is a different key, so it is verified normally; the
//!   cache only ever answers for the exact bytes it verified.
//! * Every hit still checks `exp`, the maximum age and the revocation store.
//! * Bounded: at most [`CacheConfig::capacity`] entries, each kept at most
//!   [`CacheConfig::time_to_live`]; about 200 bytes plus the claims per entry.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::identity::JwtIdentity;

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

pub(crate) type TokenDigest = [u8; 32];

pub(crate) fn digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// The cache of verified tokens for claims type `C`.
pub(crate) struct VerifiedCache<C> {
    entries: moka::sync::Cache<TokenDigest, JwtIdentity<C>>,
}

impl<C> std::fmt::Debug for VerifiedCache<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl<C: Send + Sync + 'static> VerifiedCache<C> {
    pub(crate) fn new(config: CacheConfig) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.time_to_live)
                .build(),
        }
    }

    pub(crate) fn get(&self, digest: &TokenDigest) -> Option<JwtIdentity<C>> {
        self.entries.get(digest)
    }

    pub(crate) fn insert(&self, digest: TokenDigest, identity: JwtIdentity<C>) {
        self.entries.insert(digest, identity);
    }
}
