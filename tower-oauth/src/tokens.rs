//! The provider's tokens of a session: handed out by [`OAuthClient::access_token`],
//! refreshed when expired, one refresh per session at a time, written back only over the
//! record they were refreshed from.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::AuthError;
use oauth2::{RefreshToken, TokenResponse as _};

use crate::client::OAuthClient;
use crate::session::record::{ProviderTokens, SessionRecord, token_expiry, unix_now};
use crate::session::{OAuthSession, SessionUser};

/// Access tokens this close to expiry are refreshed before being handed out.
const REFRESH_MARGIN: u64 = 30;

/// How many times a refresh is tried when the session changed while its refresh ran
/// (another instance refreshed it) before giving up with 503.
const ATTEMPTS: usize = 3;

/// A provider access token handed to the application, fresh when handed.
#[derive(Clone)]
pub struct ProviderAccessToken {
    secret: String,
    expires_at: Option<SystemTime>,
}

impl ProviderAccessToken {
    /// The token, for calls to the provider's APIs. Never log it.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// When it expires, if the provider said.
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }
}

impl fmt::Debug for ProviderAccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderAccessToken")
            .field("secret", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl From<ProviderTokens> for ProviderAccessToken {
    fn from(tokens: ProviderTokens) -> Self {
        Self {
            secret: tokens.access_token,
            expires_at: tokens
                .expires_at
                .map(|unix| UNIX_EPOCH + Duration::from_secs(unix)),
        }
    }
}

/// Whether `tokens` may be handed out as they are.
fn fresh(tokens: &ProviderTokens, now: u64) -> bool {
    tokens
        .expires_at
        .is_none_or(|exp| exp > now.saturating_add(REFRESH_MARGIN))
}

/// The refreshes in flight in this process, one gate per session: a second caller waits for
/// the first refresh and then finds the fresh token, instead of spending the refresh token
/// again (which a provider rotating refresh tokens would treat as a replay).
#[derive(Debug, Default)]
pub(crate) struct RefreshFlights {
    gates: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// A place in the refresh flight of one session; leaving the last place removes the gate.
struct Flight<'a> {
    flights: &'a RefreshFlights,
    key: &'a str,
    gate: Arc<tokio::sync::Mutex<()>>,
}

impl RefreshFlights {
    fn join<'a>(&'a self, key: &'a str) -> Flight<'a> {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        let gate = Arc::clone(gates.entry(key.to_owned()).or_default());
        Flight {
            flights: self,
            key,
            gate,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.gates
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut gates = self
            .flights
            .gates
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Only the map and this place hold the gate: nobody else waits for it, and a new
        // place can only be taken under the map's lock, held here.
        if Arc::strong_count(&self.gate) == 2 {
            gates.remove(self.key);
        }
    }
}

impl<U: SessionUser> OAuthClient<U> {
    /// The provider's access token for this session, refreshed with the refresh token first
    /// when it has expired (or expires within 30 s). Tokens never leave the server otherwise.
    ///
    /// One refresh per session runs at a time in this process; callers arriving meanwhile
    /// get its result. The refreshed tokens are written back only if the session still
    /// holds the record they were refreshed from: a session that ended during the refresh
    /// (a logout) stays ended and the answer is 401. When another instance sharing the
    /// store refreshed the session first, its tokens are handed out.
    ///
    /// # Errors
    /// 401 when the session has ended or has no provider tokens (started by
    /// [`start_session`](Self::start_session)), its tokens cannot be opened with the configured
    /// cookie keys, or the token expired without a usable refresh token; 503 when the store
    /// or the provider cannot be reached.
    pub async fn access_token(
        &self,
        session: &OAuthSession<U>,
    ) -> Result<ProviderAccessToken, AuthError> {
        let key = session.key();
        let (_, record) = self.current(key).await?;
        let tokens = self.open_tokens(key, &record)?;
        if fresh(&tokens, unix_now()) {
            return Ok(tokens.into());
        }
        let flight = self.inner.refreshes.join(key);
        let _turn = flight.gate.lock().await;
        for _ in 0..ATTEMPTS {
            // Read again under the gate: a refresh that finished meanwhile is used as is.
            let (raw, mut record) = self.current(key).await?;
            let tokens = self.open_tokens(key, &record)?;
            if fresh(&tokens, unix_now()) {
                return Ok(tokens.into());
            }
            let id_token = tokens.id_token.clone();
            let refreshed = match self.refresh(record.provider.as_deref(), tokens).await {
                Ok(refreshed) => refreshed,
                // Another instance may have spent the refresh token first (a provider
                // rotating refresh tokens then refuses it here): its tokens are stored.
                Err(error) if self.changed(key, &raw).await => {
                    tracing::debug!(reason = error.reason(), "refresh lost to another writer");
                    continue;
                }
                Err(error) => return Err(error),
            };
            let refreshed = ProviderTokens {
                id_token,
                ..refreshed
            };
            record.tokens = Some(refreshed.seal(&self.inner.keys, key).ok_or_else(|| {
                AuthError::unavailable("the provider tokens could not be sealed")
            })?);
            let sessions = &self.inner.sessions;
            if sessions
                .replace(key, &raw, &record)
                .await
                .map_err(AuthError::from)?
            {
                return Ok(refreshed.into());
            }
            // The session ended (read again: 401) or another instance wrote it meanwhile.
        }
        Err(AuthError::unavailable(
            "the session kept changing while its provider token was refreshed",
        ))
    }

    /// The stored record of the session under `key` and its decoded form; 401 once ended.
    async fn current(&self, key: &str) -> Result<(String, SessionRecord<U>), AuthError> {
        let sessions = &self.inner.sessions;
        let ended = || AuthError::invalid_credential("the session has ended");
        let raw = sessions
            .load_raw(key)
            .await
            .map_err(AuthError::from)?
            .ok_or_else(ended)?;
        let record = sessions
            .decode::<U>(key, &raw)
            .await
            .map_err(AuthError::from)?
            .ok_or_else(ended)?;
        Ok((raw, record))
    }

    /// Whether the session under `key` no longer holds `raw` but still exists.
    async fn changed(&self, key: &str, raw: &str) -> bool {
        matches!(
            self.inner.sessions.load_raw(key).await,
            Ok(Some(now)) if now != raw
        )
    }

    fn open_tokens(
        &self,
        key: &str,
        record: &SessionRecord<U>,
    ) -> Result<ProviderTokens, AuthError> {
        let Some(tokens) = &record.tokens else {
            return Err(AuthError::invalid_credential(
                "the session was not started by a provider: it has no provider token",
            )
            .with_reason("no_provider_token"));
        };
        tokens.open(&self.inner.keys, key).ok_or_else(|| {
            AuthError::invalid_credential(
                "the session's provider tokens cannot be opened with the configured cookie keys",
            )
            .with_reason("tokens_unreadable")
        })
    }

    /// Spends `tokens`' refresh token at `provider`'s token endpoint.
    async fn refresh(
        &self,
        provider: Option<&str>,
        tokens: ProviderTokens,
    ) -> Result<ProviderTokens, AuthError> {
        let refresh = tokens.refresh_token.ok_or_else(|| {
            AuthError::invalid_credential("the provider token expired and cannot be refreshed")
                .with_reason("expired")
        })?;
        let provider = provider
            .and_then(|name| self.inner.providers.get(name))
            .ok_or_else(|| AuthError::invalid_credential("the session's provider is gone"))?;
        let unreachable = |_| AuthError::unavailable("the provider could not be reached");
        let resolved = provider
            .resolve(&self.inner.http)
            .await
            .map_err(unreachable)?;
        let response = resolved
            .oauth
            .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
            .request_async(&self.inner.http)
            .await
            .map_err(|error| match error {
                oauth2::RequestTokenError::ServerResponse(_) => {
                    AuthError::invalid_credential("the provider refused the refresh token")
                        .with_reason("refresh_refused")
                }
                _ => AuthError::unavailable("the provider could not refresh the token"),
            })?;
        Ok(ProviderTokens {
            access_token: response.access_token().secret().clone(),
            // A provider that does not rotate refresh tokens keeps the one it has.
            refresh_token: Some(
                response
                    .refresh_token()
                    .map_or(refresh, |rotated| rotated.secret().clone()),
            ),
            expires_at: response.expires_in().map(|d| token_expiry(unix_now(), d)),
            id_token: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn one_refresh_per_session_at_a_time_and_no_gate_left_behind() {
        let flights = RefreshFlights::default();
        let first = flights.join("k1");
        let turn = first.gate.lock().await;
        let second = flights.join("k1");
        assert!(second.gate.try_lock().is_err(), "the second caller waits");
        let other = flights.join("k2");
        assert!(other.gate.try_lock().is_ok(), "another session does not");
        drop(other);
        drop(turn);
        drop(first);
        assert_eq!(flights.len(), 1, "the gate stays while someone waits");
        assert!(second.gate.try_lock().is_ok());
        drop(second);
        assert_eq!(flights.len(), 0);
        // A caller giving up while waiting (a dropped request) leaves nothing either.
        let holder = flights.join("k3");
        let turn = holder.gate.lock().await;
        let waiting = async {
            let flight = flights.join("k3");
            let _turn = flight.gate.lock().await;
        };
        assert!(
            tokio::time::timeout(Duration::from_millis(20), waiting)
                .await
                .is_err()
        );
        drop(turn);
        drop(holder);
        assert_eq!(flights.len(), 0);
    }

    #[test]
    fn tokens_close_to_expiry_are_not_fresh() {
        let tokens = |expires_at| ProviderTokens {
            access_token: "a".to_owned(),
            refresh_token: None,
            expires_at,
            id_token: None,
        };
        assert!(fresh(&tokens(None), 1_000));
        assert!(fresh(&tokens(Some(1_031)), 1_000));
        assert!(!fresh(&tokens(Some(1_030)), 1_000));
        assert!(!fresh(&tokens(Some(10)), u64::MAX));
    }
}
