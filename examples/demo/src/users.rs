//! Password-login users from `DEMO_USERS`: `name:password:scope scope;…`, each password
//! kept only as a salted Argon2id hash.

use std::fmt;
use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore as _};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use tokio::sync::Semaphore;

/// One password-login user.
#[derive(Clone)]
pub struct User {
    /// The login name: the token's `sub`.
    pub name: String,
    /// The password's Argon2id hash (PHC string format, salt included).
    password: String,
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
#[derive(Clone)]
pub struct Users {
    users: Vec<User>,
    /// The hash of a random password, verified against when the name is unknown, so an
    /// unknown name spends the same hashing time as a known one.
    decoy: String,
    /// Bounds the password checks running at once: each holds Argon2's memory (19 MiB).
    hashing: Arc<Semaphore>,
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users")
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

/// The Argon2id hash of `password` under a fresh random salt, with the `argon2` crate's
/// default parameters (19 MiB, 2 passes, 1 lane: OWASP's minimum).
fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| format!("hashing a password failed: {e}"))
}

/// Whether `password` matches `hash` (the hash outputs are compared in constant time).
fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|hash| {
        Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

/// How many password checks may run at once.
fn hashing_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().max(2))
}

impl Users {
    /// Parses `name:password:scope scope;…` (the password may not contain `:` or `;`) and
    /// hashes each password.
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
                password: hash(password)?,
                scopes: scopes.split_whitespace().map(str::to_owned).collect(),
            });
        }
        let mut random = [0u8; 32];
        OsRng.fill_bytes(&mut random);
        let decoy = hash(
            &random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
        )?;
        Ok(Self {
            users,
            decoy,
            hashing: Arc::new(Semaphore::new(hashing_slots())),
        })
    }

    /// The user named `name` if `password` is theirs. One Argon2 verification whether or
    /// not the name exists (an unknown name is checked against a decoy hash), so the answer
    /// takes the same time either way. Blocks for the hash: see [`login`](Self::login).
    #[must_use]
    pub fn check(&self, name: &str, password: &str) -> Option<&User> {
        let user = self.users.iter().find(|u| u.name == name);
        let hash = user.map_or(&self.decoy, |u| &u.password);
        let matches = verify(password, hash);
        user.filter(|_| matches)
    }

    /// The scopes `name` is granted now, if `name` is a user: what a refresh grants (the
    /// token issuer's regrant hook), so a user removed or narrowed in `DEMO_USERS` loses
    /// access at the next refresh instead of keeping the scopes of the login.
    #[must_use]
    pub fn scopes_of(&self, name: &str) -> Option<Vec<String>> {
        self.users
            .iter()
            .find(|u| u.name == name)
            .map(|u| u.scopes.clone())
    }

    /// [`check`](Self::check) on the blocking thread pool, at most one per CPU at a time (a
    /// burst of logins queues instead of taking a worker thread and 19 MiB each).
    pub async fn login(self: Arc<Self>, name: String, password: String) -> Option<User> {
        let permit = Arc::clone(&self.hashing).acquire_owned().await.ok()?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            self.check(&name, &password).cloned()
        })
        .await
        .ok()
        .flatten()
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
        assert!(Users::parse(";").unwrap().is_empty());
        assert!(!format!("{users:?}").contains("alice-password"));
    }

    #[test]
    fn passwords_are_kept_as_salted_argon2id_hashes() {
        let users = Users::parse("a:same-password;b:same-password").unwrap();
        let (a, b) = (&users.users[0].password, &users.users[1].password);
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(!a.contains("same-password"));
        assert_ne!(a, b, "a salt per password");
        assert!(users.check("a", "same-password").is_some());
        assert!(users.check("b", "same-password").is_some());
        assert!(users.check("a", "same-passworD").is_none());
    }

    #[test]
    fn an_unknown_name_is_checked_against_a_decoy_of_the_same_cost() {
        let users = Users::parse("alice:pw").unwrap();
        // `$argon2id$v=19$m=…,t=…,p=…$salt$hash`: everything before the salt sets the cost.
        let cost = |hash: &str| hash.rsplitn(3, '$').nth(2).unwrap().to_owned();
        assert_eq!(cost(&users.decoy), cost(&users.users[0].password));
        assert!(users.decoy.starts_with("$argon2id$"), "{}", users.decoy);
        // The decoy accepts no password, so an unknown name never logs in.
        assert!(users.check("mallory", "pw").is_none());
        assert!(users.check("mallory", "").is_none());
    }

    #[tokio::test]
    async fn login_checks_off_the_async_workers() {
        let users = Arc::new(Users::parse("carol:carol-pw:read").unwrap());
        let carol = Arc::clone(&users)
            .login("carol".to_owned(), "carol-pw".to_owned())
            .await
            .unwrap();
        assert_eq!(carol.scopes, ["read"]);
        assert!(
            users
                .login("carol".to_owned(), "nope".to_owned())
                .await
                .is_none()
        );
    }
}
