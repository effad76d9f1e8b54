//! [`SessionAuthenticator`]: session cookie -> [`OAuthSession`].

use std::fmt;
use std::sync::Arc;

use auth_core::{AuthError, Authenticate, CheckFuture, Outcome, StoreError};
use http::Request;

use super::decoded::DecodedSessions;
use super::record::unix_now;
use super::sessions::Sessions;
use super::{OAuthSession, SessionUser};

/// Authenticates requests by their session cookie. Built by
/// [`OAuthClient::authenticator`](crate::OAuthClient::authenticator); wrap it
/// in an [`AuthLayer`](auth_core::AuthLayer) (alias [`SessionLayer`](crate::SessionLayer)).
///
/// No cookie, or one that is not a well-formed session id, answers at once without touching
/// the store; a well-formed id is looked up. A store that answers without waiting
/// ([`SessionStore::load_now`](crate::store::SessionStore::load_now): the memory store) is
/// asked during `authenticate`; a network store is asked in a boxed future. A record that is
/// byte-for-byte the one this client decoded before is not decoded again (see the memo in
/// `session/decoded.rs`): the store is still asked on every request, so a deleted session
/// ends at once.
pub struct SessionAuthenticator<U> {
    sessions: Arc<Sessions>,
    decoded: Arc<DecodedSessions<U>>,
}

impl<U> SessionAuthenticator<U> {
    pub(crate) fn new(sessions: Arc<Sessions>, decoded: Arc<DecodedSessions<U>>) -> Self {
        Self { sessions, decoded }
    }
}

impl<U> Clone for SessionAuthenticator<U> {
    fn clone(&self) -> Self {
        Self::new(Arc::clone(&self.sessions), Arc::clone(&self.decoded))
    }
}

impl<U> fmt::Debug for SessionAuthenticator<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionAuthenticator")
            .field("cookie", &self.sessions.cookie_name)
            .field("store", &self.sessions.store)
            .finish()
    }
}

impl<B, U: SessionUser> Authenticate<B> for SessionAuthenticator<U> {
    type Identity = OAuthSession<U>;
    type Future = CheckFuture<OAuthSession<U>>;

    /// Decided at once without a well-formed session cookie, or when an in-process store
    /// holds a record already decoded; otherwise the store lookup waits. An unknown or expired
    /// session is "no session", so a later method may still apply.
    fn authenticate(&mut self, request: &Request<B>) -> Outcome<OAuthSession<U>, Self::Future> {
        let Some(id) = self.sessions.read_id(request.headers()) else {
            return Outcome::Missing;
        };
        let key = Sessions::key(id);
        // An in-process store answers now: a memoized record settles the request here.
        let raw = match self.sessions.load_now(&key) {
            None => None,
            Some(Err(error)) => return Outcome::Decided(Err(AuthError::from(error))),
            Some(Ok(None)) => return Outcome::Missing,
            Some(Ok(Some(raw))) => match self.decoded.get(&key, &raw, unix_now()) {
                Some(identity) => return Outcome::Decided(Ok(identity)),
                None => Some(raw),
            },
        };
        let sessions = Arc::clone(&self.sessions);
        let decoded = Arc::clone(&self.decoded);
        Outcome::Pending(CheckFuture::new(async move {
            lookup(&sessions, &decoded, key, raw)
                .await
                .map_err(AuthError::from)?
        }))
    }
}

/// The session under `key`: its record (`raw`, if already loaded, or loaded from the store
/// now), decoded unless the memo holds exactly this record.
async fn lookup<U: SessionUser>(
    sessions: &Sessions,
    decoded: &DecodedSessions<U>,
    key: String,
    raw: Option<Arc<str>>,
) -> Result<Result<OAuthSession<U>, AuthError>, StoreError> {
    let raw: Arc<str> = match raw {
        Some(raw) => raw,
        None => match sessions.load_raw(&key).await? {
            Some(raw) => raw.into(),
            None => return Ok(Err(AuthError::missing())),
        },
    };
    if let Some(identity) = decoded.get(&key, &raw, unix_now()) {
        return Ok(Ok(identity));
    }
    let Some(record) = sessions.decode::<U>(&key, &raw).await? else {
        return Ok(Err(AuthError::missing()));
    };
    let expires_at = record.expires_at;
    let identity = Sessions::identity(record, key.clone());
    decoded.insert(key, raw, identity.clone(), expires_at);
    Ok(Ok(identity))
}
