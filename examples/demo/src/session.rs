//! The dashboard's users: who an OAuth login is, and the session authenticator that works
//! whether or not a login provider is configured.

use auth_core::{Authenticate, CheckFuture, Outcome};
use http::Request;
use serde::{Deserialize, Serialize};
use tower_oauth::{OAuthSession, SessionAuthenticator, SessionUser};

/// Scopes a dashboard session has, and the only scopes a dashboard user may give a key.
pub const SESSION_SCOPES: [&str; 2] = ["read", "write"];

/// A user logged in through an OAuth / OpenID provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// `{provider}:{subject}`: the principal's subject and the owner of their API keys.
    pub id: String,
    /// The provider's display name or login, for the page.
    pub display_name: String,
    /// The provider that logged them in.
    pub provider: String,
}

impl SessionUser for Account {
    fn subject(&self) -> String {
        self.id.clone()
    }

    fn scopes(&self) -> Vec<String> {
        SESSION_SCOPES.iter().map(|s| (*s).to_owned()).collect()
    }
}

/// A demo session.
pub type Session = OAuthSession<Account>;

/// The session authenticator, or "no credential" for every request when no login provider
/// is configured (so `first_of(api_key, jwt).or(session)` has the same type either way).
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<SessionAuthenticator<Account>>);

impl<B> Authenticate<B> for MaybeSession {
    type Identity = Session;
    type Future = CheckFuture<Session>;

    fn authenticate(&mut self, request: &Request<B>) -> Outcome<Session, Self::Future> {
        match &mut self.0 {
            Some(sessions) => sessions.authenticate(request),
            None => Outcome::Missing,
        }
    }
}
