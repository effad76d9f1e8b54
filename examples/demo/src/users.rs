//! Password-login users from `DEMO_USERS`: `name:password:scope scope;…`.

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// One password-login user.
#[derive(Clone)]
pub struct User {
    /// The login name: the token's `sub`.
    pub name: String,
    password: [u8; 32],
    /// The scopes granted at login.
    pub scopes: Vec<String>,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"[redacted]")
            .field("scopes", &self.scopes)
            .finish()
    }
}

/// The password-login users.
#[derive(Debug, Clone)]
pub struct Users {
    users: Vec<User>,
    /// Compared against when the name is unknown, so both paths do the same work.
    decoy: [u8; 32],
}

fn digest(password: &str) -> [u8; 32] {
    Sha256::digest(password.as_bytes()).into()
}

impl Users {
    /// Parses `name:password:scope scope;…` (the password may not contain `:` or `;`).
    ///
    /// # Errors
    ///
    /// A message for an entry without a name or password, or a duplicate name.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut users: Vec<User> = Vec::new();
        for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let mut parts = entry.splitn(3, ':');
            let name = parts.next().unwrap_or("").trim();
            let password = parts.next().unwrap_or("");
            let scopes = parts.next().unwrap_or("");
            if name.is_empty() || password.is_empty() {
                return Err("each user needs `name:password[:scopes]`".to_owned());
            }
            if users.iter().any(|u| u.name == name) {
                return Err(format!("the user `{name}` is listed twice"));
            }
            users.push(User {
                name: name.to_owned(),
                password: digest(password),
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            });
        }
        Ok(Self {
            users,
            decoy: digest("no such user"),
        })
    }

    /// The user named `name` if `password` is theirs. Passwords are compared as SHA-256
    /// digests in constant time; an unknown name costs the same comparison.
    #[must_use]
    pub fn check(&self, name: &str, password: &str) -> Option<&User> {
        let presented = digest(password);
        let user = self.users.iter().find(|u| u.name == name);
        let expected = user.map_or(&self.decoy, |u| &u.password);
        let matches: bool = presented.ct_eq(expected).into();
        user.filter(|_| matches)
    }

    /// The number of users.
    #[must_use]
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether there is no user.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks() {
        let users = Users::parse(crate::config::DEFAULT_USERS).unwrap();
        assert_eq!(users.len(), 2);
        let admin = users.check("admin", "admin-password").unwrap();
        assert_eq!(admin.scopes, ["read", "write", "admin"]);
        assert!(users.check("alice", "admin-password").is_none());
        assert!(users.check("nobody", "no such user").is_none());
        assert!(Users::parse("a:").is_err());
        assert!(Users::parse("a:x;a:y").is_err());
        assert!(!format!("{users:?}").contains("alice-password"));
    }
}
