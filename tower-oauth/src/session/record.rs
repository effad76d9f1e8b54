//! What a store holds for one session.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::keys::CookieKeys;

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The longest provider token lifetime taken at its word: 100 years.
const LONGEST_TOKEN_LIFETIME: u64 = 100 * 365 * 24 * 3600;

/// When a provider token issued at `now` (Unix seconds) with `expires_in` expires. A
/// provider's `expires_in` is not trusted to be sane: beyond 100 years it is read as 100
/// years, so the sum cannot overflow and converts to a `SystemTime` on every platform.
pub(crate) fn token_expiry(now: u64, expires_in: Duration) -> u64 {
    now.saturating_add(expires_in.as_secs().min(LONGEST_TOKEN_LIFETIME))
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
    /// The ID token of the login (OpenID providers), sent back as `id_token_hint` at an
    /// RP-initiated logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
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
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl ProviderTokens {
    /// The tokens sealed for the session stored under `session_key` (AES-256-GCM under the
    /// first cookie key, bound to that session).
    pub(crate) fn seal(&self, keys: &CookieKeys, session_key: &str) -> Option<SealedTokens> {
        let json = serde_json::to_string(self).ok()?;
        keys.seal_value(&sealing_name(session_key), json)
            .map(SealedTokens)
    }
}

/// The associated data binding sealed tokens to their session: tokens copied into another
/// session's record do not open there.
fn sealing_name(session_key: &str) -> String {
    format!("tower-oauth-provider-tokens:{session_key}")
}

/// [`ProviderTokens`] as a store holds them: encrypted and authenticated, never in clear.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct SealedTokens(String);

impl SealedTokens {
    /// The tokens of the session stored under `session_key`, if one of the cookie keys
    /// opens them.
    pub(crate) fn open(&self, keys: &CookieKeys, session_key: &str) -> Option<ProviderTokens> {
        let json = keys.open(&sealing_name(session_key), &self.0)?;
        serde_json::from_str(&json).ok()
    }
}

impl std::fmt::Debug for SealedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedTokens")
    }
}

/// The record format written now. Version 1 held the provider tokens in clear; its records
/// are no session. Version 2 records without `sid` or with a provider and tokens read as
/// they always did.
pub(crate) const RECORD_VERSION: u8 = 2;

/// One session as stored (JSON), version [`RECORD_VERSION`].
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionRecord<U> {
    pub(crate) v: u8,
    pub(crate) user: U,
    pub(crate) subject: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) roles: Vec<String>,
    /// The provider that logged the user in; `None` for a session the application started
    /// itself ([`OAuthClient::start_session`](crate::OAuthClient::start_session)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) provider: Option<String>,
    pub(crate) csrf: String,
    /// Unix seconds.
    pub(crate) created_at: u64,
    /// Unix seconds: the absolute expiry, never extended.
    pub(crate) expires_at: u64,
    /// The provider's tokens; `None` without a provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tokens: Option<SealedTokens>,
    /// The OpenID provider's session id (`sid` of the ID token), if it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sid: Option<String>,
}

impl<U> SessionRecord<U> {
    /// Time left before the absolute expiry; `None` when past it.
    pub(crate) fn remaining(&self, now: u64) -> Option<Duration> {
        (self.expires_at > now).then(|| Duration::from_secs(self.expires_at - now))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn tokens_are_sealed_for_one_session() {
        let keys = CookieKeys::new(vec![cookie::Key::generate()]).unwrap();
        let tokens = ProviderTokens {
            access_token: "access-token-in-clear".to_owned(),
            refresh_token: Some("refresh-token-in-clear".to_owned()),
            expires_at: Some(7),
            id_token: None,
        };
        let sealed = tokens.seal(&keys, "k1").unwrap();
        let stored = serde_json::to_string(&sealed).unwrap();
        assert!(!stored.contains("in-clear"), "{stored}");
        let opened = sealed.open(&keys, "k1").unwrap();
        assert_eq!(opened.access_token, "access-token-in-clear");
        assert_eq!(
            opened.refresh_token.as_deref(),
            Some("refresh-token-in-clear")
        );
        assert_eq!(opened.expires_at, Some(7));
        assert!(sealed.open(&keys, "k2").is_none(), "bound to its session");
        let other = CookieKeys::new(vec![cookie::Key::generate()]).unwrap();
        assert!(sealed.open(&other, "k1").is_none());
    }

    #[test]
    fn a_provider_lifetime_is_capped_and_never_overflows() {
        assert_eq!(token_expiry(1_000, Duration::from_secs(3600)), 4_600);
        let capped = token_expiry(1_000, Duration::from_secs(u64::MAX));
        assert_eq!(capped, 1_000 + 100 * 365 * 24 * 3600);
        assert_eq!(token_expiry(u64::MAX, Duration::from_secs(10)), u64::MAX);
        assert!(
            UNIX_EPOCH
                .checked_add(Duration::from_secs(capped))
                .is_some()
        );
    }
}
