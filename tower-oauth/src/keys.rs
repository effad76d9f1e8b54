//! The cookie keys: an ordered list, so a key can be rotated without ending the sessions
//! and logins in progress.
//!
//! Everything tower-oauth encrypts (transaction cookies, the provider tokens inside session
//! records) is sealed with AES-256-GCM by the `cookie` crate's private jar, under the
//! *first* key, and opened by trying each key in order. The jar binds each sealed value to
//! a name (its associated data): a value moved under another name does not open.

use cookie::{Cookie, CookieJar, Key};

/// At most this many keys: each value that does not open under the first key costs one
/// decryption attempt per key, and a hostile cookie must not cost more than a few.
pub(crate) const MAX_KEYS: usize = 8;

/// The cookie keys, newest first. Never printed.
#[derive(Clone)]
pub(crate) struct CookieKeys {
    /// Never empty: the builder refuses an empty list.
    keys: Vec<Key>,
}

impl std::fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieKeys")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl CookieKeys {
    /// The keys, the first sealing; `None` if `keys` is empty.
    pub(crate) fn new(keys: Vec<Key>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// `cookie` with its value sealed under the first key and bound to its name.
    pub(crate) fn seal(&self, cookie: Cookie<'static>) -> Option<Cookie<'static>> {
        let name = cookie.name().to_owned();
        let mut jar = CookieJar::new();
        jar.private_mut(&self.keys[0]).add(cookie);
        jar.get(&name).cloned()
    }

    /// `plaintext` sealed under the first key and bound to `name`, as base64 text.
    pub(crate) fn seal_value(&self, name: &str, plaintext: String) -> Option<String> {
        self.seal(Cookie::new(name.to_owned(), plaintext))
            .map(|sealed| sealed.value().to_owned())
    }

    /// The plaintext of `value` sealed under `name` by any of the keys; `None` if no key
    /// opens it (tampered, truncated, moved under another name, or sealed with a key no
    /// longer listed).
    pub(crate) fn open(&self, name: &str, value: &str) -> Option<String> {
        let jar = CookieJar::new();
        self.keys.iter().find_map(|key| {
            let cookie = Cookie::new(name.to_owned(), value.to_owned());
            jar.private(key)
                .decrypt(cookie)
                .map(|opened| opened.value().to_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&Key]) -> CookieKeys {
        CookieKeys::new(list.iter().map(|k| (*k).clone()).collect()).unwrap()
    }

    /// `value` sealed under `name`, as it would be sent.
    fn seal(keys: &CookieKeys, name: &str, value: &str) -> String {
        let cookie = Cookie::new(name.to_owned(), value.to_owned());
        keys.seal(cookie).unwrap().value().to_owned()
    }

    #[test]
    fn sealed_with_an_old_key_opens_after_rotation_and_new_values_use_the_new_key() {
        let (old, new) = (Key::generate(), Key::generate());
        let before = keys(&[&old]);
        let sealed = seal(&before, "tx", "secret");
        assert!(!sealed.contains("secret"));

        let rotated = keys(&[&new, &old]);
        assert_eq!(rotated.open("tx", &sealed).as_deref(), Some("secret"));

        let fresh = seal(&rotated, "tx", "again");
        assert_eq!(keys(&[&new]).open("tx", &fresh).as_deref(), Some("again"));
        assert_eq!(
            keys(&[&old]).open("tx", &fresh),
            None,
            "sealed with the first"
        );
        // Once the old key is dropped from the list, what it sealed no longer opens.
        assert_eq!(keys(&[&new]).open("tx", &sealed), None);
    }

    #[test]
    fn a_sealed_value_is_bound_to_its_name_and_refuses_tampering() {
        let k = keys(&[&Key::generate()]);
        let sealed = seal(&k, "a", "v");
        assert_eq!(k.open("b", &sealed), None);
        let mut bytes = sealed.clone().into_bytes();
        bytes[5] = if bytes[5] == b'A' { b'B' } else { b'A' };
        assert_eq!(k.open("a", &String::from_utf8(bytes).unwrap()), None);
        assert_eq!(k.open("a", &sealed[..sealed.len() - 2]), None);
        assert_eq!(k.open("a", ""), None);
        assert!(CookieKeys::new(Vec::new()).is_none());
        assert!(!format!("{k:?}").contains("Key {"));
    }
}
