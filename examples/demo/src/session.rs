//! The dashboard's users: who a password or OAuth login is.

use serde::{Deserialize, Serialize};
use tower_oauth::{OAuthSession, SessionUser};

/// Scopes a dashboard session has, and the only scopes a dashboard user may give a key.
pub const SESSION_SCOPES: [&str; 2] = ["read", "write"];

/// A user logged in with a password (`DEMO_USERS`) or through an OAuth / OpenID provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    /// `{provider}:{subject}` (`password:{name}` for a password login): the principal's
    /// subject and the owner of their API keys.
    pub id: String,
    /// The provider's display name or login (the user name for a password login), for the
    /// page.
    pub display_name: String,
    /// The provider that logged them in, or `password`.
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
