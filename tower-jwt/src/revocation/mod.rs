//! Token revocation: revoke by `iss` + `jti`, or every token of a subject issued before an
//! instant ("log out everywhere").
//!
//! The verifier calls [`RevocationStore::check`] on every request, cached or not, so it is
//! synchronous and must not do I/O: implementations keep their state in memory and learn of
//! remote revocations in the background. Revoking is asynchronous ([`RevocationStore::revoke`])
//! because a shared store writes through to its backend.
//!
//! - [`MemoryRevocationStore`]: the default, one process. It never forgets a live revocation:
//!   each entry expires at the token's `exp` plus the leeway, and nothing is evicted for space.
//!
//! A store keeps a revocation for its [`leeway`](RevocationStore::leeway) past the token's
//! `exp`, because a verifier still accepts the token for its own leeway past `exp`. A
//! [`JwtVerifier`](crate::JwtVerifier) therefore refuses to build with a store whose leeway
//! is shorter than the largest leeway of its issuers (a revoked token would be accepted
//! again between the two): give the store at least that leeway.
//! - `RedisRevocationStore` (feature `redis`): the memory store as the hot path, revocations
//!   persisted in Redis and published to every instance.
//!
//! Revocations are keyed on `iss` + `jti`, never on the token bytes or signature (ECDSA
//! signatures are malleable: a re-encoded signature would slip past such a blocklist).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use tower_jwt::revocation::{
//!     MemoryRevocationStore, Revocation, RevocationStatus, RevocationStore, TokenRef,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = MemoryRevocationStore::new();
//! let now = SystemTime::now();
//! let token = TokenRef {
//!     issuer: "https://auth.example.com",
//!     jti: Some("0b6e9c1e"),
//!     subject: "alice",
//!     issued_at: now,
//! };
//! assert_eq!(store.check(&token), RevocationStatus::Active);
//!
//! let exp = now + Duration::from_secs(900);
//! store.revoke(Revocation::token("https://auth.example.com", "0b6e9c1e", exp)).await?;
//! assert_eq!(store.check(&token), RevocationStatus::Revoked);
//!
//! // Log out everywhere: every token of bob issued before now.
//! let until = now + Duration::from_secs(7 * 24 * 3600);
//! store.revoke(Revocation::subject("https://auth.example.com", "bob", now, until)).await?;
//! let old = TokenRef { subject: "bob", jti: None, issued_at: now - Duration::from_secs(5), ..token };
//! assert_eq!(store.check(&old), RevocationStatus::Revoked);
//! # Ok(())
//! # }
//! ```

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use auth_core::StoreError;

mod memory;
#[cfg(feature = "redis")]
pub(crate) mod redis;

pub use memory::{MemoryRevocationStore, MemoryRevocationStoreBuilder};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis::{RedisRevocationStore, RedisRevocationStoreBuilder};

/// The parts of a verified token a revocation check needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenRef<'a> {
    /// The token's `iss`.
    pub issuer: &'a str,
    /// The token's `jti`, if it has one.
    pub jti: Option<&'a str>,
    /// The token's `sub`.
    pub subject: &'a str,
    /// The token's `iat`.
    pub issued_at: SystemTime,
}

/// The answer of a revocation check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevocationStatus {
    /// Not revoked.
    Active,
    /// Revoked: refuse with 401.
    Revoked,
    /// The store cannot answer (e.g. it has lost its source of truth and is configured to
    /// fail closed): refuse with 503.
    Unavailable,
}

/// One revocation.
///
/// Identifiers (`jti`, `sub`) are not secrets, so this type derives `Debug`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revocation {
    /// The token `jti` of `issuer`, until `expires_at` (the token's `exp`; the store adds its
    /// leeway).
    Token {
        /// The token's `iss`.
        issuer: String,
        /// The token's `jti`.
        jti: String,
        /// The token's `exp`.
        expires_at: SystemTime,
    },
    /// Every token of `subject` from `issuer` whose `iat` is before `issued_before`, remembered
    /// until `until` (the latest `exp` such a token can have; the store adds its leeway).
    Subject {
        /// The tokens' `iss`.
        issuer: String,
        /// The tokens' `sub`.
        subject: String,
        /// Tokens with `iat` strictly before this instant are revoked.
        issued_before: SystemTime,
        /// When the watermark may be forgotten: `issued_before` plus the longest token
        /// lifetime of this issuer.
        until: SystemTime,
    },
}

impl Revocation {
    /// Revoke the token `jti` of `issuer`, which expires at `expires_at`.
    #[must_use]
    pub fn token(
        issuer: impl Into<String>,
        jti: impl Into<String>,
        expires_at: SystemTime,
    ) -> Self {
        Self::Token {
            issuer: issuer.into(),
            jti: jti.into(),
            expires_at,
        }
    }

    /// Revoke every token of `subject` from `issuer` issued before `issued_before` ("log out
    /// everywhere"), remembering it until `until`.
    #[must_use]
    pub fn subject(
        issuer: impl Into<String>,
        subject: impl Into<String>,
        issued_before: SystemTime,
        until: SystemTime,
    ) -> Self {
        Self::Subject {
            issuer: issuer.into(),
            subject: subject.into(),
            issued_before,
            until,
        }
    }

    /// The instant after which this revocation no longer matters (before the store's leeway).
    #[must_use]
    pub fn until(&self) -> SystemTime {
        match self {
            Self::Token { expires_at, .. } => *expires_at,
            Self::Subject { until, .. } => *until,
        }
    }
}

/// Where revocations live. See the [module docs](self).
///
/// Written with [`async_trait`](https://docs.rs/async-trait) (add `#[async_trait]` to your
/// `impl`), so it is usable as `Arc<dyn RevocationStore>`; [`check`](Self::check), on the
/// request path, stays synchronous.
#[async_trait]
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether `token` is revoked. Hot path: no I/O, no blocking (goal <= 100 ns).
    fn check(&self, token: &TokenRef<'_>) -> RevocationStatus;

    /// Record `revocation`. Once this returns `Ok`, [`check`](Self::check) on this instance
    /// refuses the token(s) until they expire.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the revocation could not be recorded everywhere it should be:
    /// [`CapacityExceeded`](auth_core::StoreErrorKind::CapacityExceeded) from a bounded
    /// store that is full, [`Unavailable`](auth_core::StoreErrorKind::Unavailable) when a
    /// shared backend failed.
    async fn revoke(&self, revocation: Revocation) -> Result<(), StoreError>;

    /// How long past a revocation's [`until`](Revocation::until) this store still refuses
    /// the token(s). A verifier accepts a token for its leeway past `exp`, so
    /// [`JwtVerifierBuilder::build`](crate::JwtVerifierBuilder::build) refuses a store whose
    /// leeway is shorter than its issuers'. A store that never forgets answers
    /// [`Duration::MAX`].
    fn leeway(&self) -> Duration;
}
