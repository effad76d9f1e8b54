//! The application's accounts: an in-memory [`UserRepository`].

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;

/// An account of the application.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The account id; a credential's subject names it.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Contact address.
    pub email: String,
    /// A disabled account is refused even with a valid credential.
    pub disabled: bool,
}

impl User {
    /// An enabled account.
    pub fn new(id: impl Into<String>, name: impl Into<String>, email: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            email: email.into(),
            disabled: false,
        }
    }

    /// The same account, disabled.
    #[must_use]
    pub fn disabled(mut self) -> Self {
        self.disabled = true;
        self
    }
}

/// Accounts by id. Cloning shares the accounts.
#[derive(Debug, Clone, Default)]
pub struct UserRepository {
    users: Arc<RwLock<HashMap<String, User>>>,
}

impl UserRepository {
    /// An empty repository.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `user`.
    pub fn insert(&self, user: User) {
        self.users
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(user.id.clone(), user);
    }

    /// The account `id`, if it exists. Async like a real database lookup would be.
    pub async fn find(&self, id: &str) -> Option<User> {
        self.users
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            .cloned()
    }
}
