//! What a store holds for one session.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The provider's tokens, kept server-side only.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ProviderTokens {
    pub(crate) access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) expires_at: Option<u64>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// One session as stored (JSON). Version 1.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionRecord<U> {
    pub(crate) v: u8,
    pub(crate) user: U,
    pub(crate) subject: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) provider: String,
    pub(crate) csrf: String,
    /// Unix seconds.
    pub(crate) created_at: u64,
    /// Unix seconds: the absolute expiry, never extended.
    pub(crate) expires_at: u64,
    pub(crate) tokens: ProviderTokens,
}

impl<U> SessionRecord<U> {
    /// Time left before the absolute expiry; `None` when past it.
    pub(crate) fn remaining(&self, now: u64) -> Option<Duration> {
        (self.expires_at > now).then(|| Duration::from_secs(self.expires_at - now))
    }
}
