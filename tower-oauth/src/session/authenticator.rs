//! [`SessionAuthenticator`]: session cookie -> [`OAuthSession`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth_core::{AuthError, Authenticate, Decided, Presence};
use http::Request;

use super::decoded::DecodedSessions;
use super::record::unix_now;
use super::sessions::Sessions;
use super::{OAuthSession, SessionUser};
use crate::store::StoreError;

/// Authenticates requests by their session cookie. Built by
/// [`OAuthClient::session_authenticator`](crate::OAuthClient::session_authenticator); wrap it
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
    type Future = SessionFuture<U>;

    fn authenticate(&mut self, request: &Request<B>) -> Self::Future {
        let Some(id) = self.sessions.read_id(request.headers()) else {
            return SessionFuture::Done(Decided::new(Err(AuthError::missing())));
        };
        let key = Sessions::key(id);
        // An in-process store answers now: a memoized record settles the request here.
        let raw = match self.sessions.load_now(&key) {
            None => None,
            Some(Err(error)) => return SessionFuture::Done(Decided::new(Err(store_down(&error)))),
            Some(Ok(None)) => return SessionFuture::Done(Decided::new(Err(AuthError::missing()))),
            Some(Ok(Some(raw))) => match self.decoded.get(&key, &raw, unix_now()) {
                Some(identity) => return SessionFuture::Done(Decided::new(Ok(identity))),
                None => Some(raw),
            },
        };
        let sessions = Arc::clone(&self.sessions);
        let decoded = Arc::clone(&self.decoded);
        SessionFuture::Lookup(Box::pin(async move {
            lookup(&sessions, &decoded, key, raw)
                .await
                .map_err(|error| store_down(&error))?
        }))
    }

    /// Settled unless the store must be waited for (or the record decoded).
    fn settle(future: &mut SessionFuture<U>) -> Option<Result<OAuthSession<U>, AuthError>> {
        match future {
            SessionFuture::Done(decided) => decided.take(),
            SessionFuture::Lookup(_) => None,
        }
    }

    /// Absent without a well-formed session cookie; otherwise known only after the lookup
    /// (an unknown or expired session is "no session", so a later method may still apply).
    fn presence(future: &SessionFuture<U>) -> Presence {
        match future {
            SessionFuture::Done(decided) => decided.presence(),
            SessionFuture::Lookup(_) => Presence::Unknown,
        }
    }
}

fn store_down(error: &StoreError) -> AuthError {
    tracing::warn!(%error, "session lookup failed");
    AuthError::unavailable("the session store is unavailable").with_reason("store_unavailable")
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

/// The future of [`SessionAuthenticator`]: ready at once without a cookie, a boxed store
/// lookup otherwise.
pub enum SessionFuture<U> {
    /// Answered without waiting.
    Done(Decided<OAuthSession<U>>),
    /// Waiting for the store.
    Lookup(Pin<Box<dyn Future<Output = Result<OAuthSession<U>, AuthError>> + Send>>),
}

impl<U> fmt::Debug for SessionFuture<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Done(_) => "SessionFuture::Done",
            Self::Lookup(_) => "SessionFuture::Lookup",
        })
    }
}

// Never pinned structurally: the boxed future is `Unpin`, the ready value is moved out.
impl<U> Unpin for SessionFuture<U> {}

impl<U> Future for SessionFuture<U> {
    type Output = Result<OAuthSession<U>, AuthError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Self::Done(decided) => Pin::new(decided).poll(cx),
            Self::Lookup(future) => future.as_mut().poll(cx),
        }
    }
}
