//! Token revocation: revoke by `iss` + `jti`, or every token of a subject issued before an
//! instant ("log out everywhere").
//!
//! The verifier calls [`RevocationStore::check`] on every request, cached or not, so it is
//! synchronous and must not do I/O: implementations keep their state in memory and learn of
//! remote revocations in the background.

use std::time::SystemTime;

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

/// Where revocations live. See the [module docs](self).
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether `token` is revoked. Hot path: no I/O, no blocking (goal <= 100 ns).
    fn check(&self, token: &TokenRef<'_>) -> RevocationStatus;
}
