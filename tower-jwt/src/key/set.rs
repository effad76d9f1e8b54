//! [`KeySet`]: an ordered set of keys, looked up by `kid` and algorithm.

use jsonwebtoken::Algorithm;

use super::Key;

/// What looking a token's key up in a [`KeySet`] found.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    Found(&'a Key),
    /// A key with this `kid` exists, but not for this algorithm.
    WrongAlgorithm,
    /// Several keys match: the set is ambiguous for this token.
    Ambiguous,
    NotFound,
}

/// An ordered set of verification keys. See the [`key` module docs](crate::key).
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    pub(crate) keys: Vec<Key>,
}

impl KeySet {
    /// A set of `keys`.
    #[must_use]
    pub fn new(keys: impl IntoIterator<Item = Key>) -> Self {
        Self {
            keys: keys.into_iter().collect(),
        }
    }

    /// The keys.
    #[must_use]
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Whether the set holds no key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The one key for a token with header `kid` and `alg`.
    ///
    /// With a `kid`, the keys with that id and the keys with no id are candidates; without,
    /// every key is (a `kid` only routes, the signature decides). Among the candidates
    /// exactly one must be pinned to `alg`.
    pub(crate) fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        let mut found = None;
        let mut candidates = 0usize;
        for key in &self.keys {
            if kid.is_some() && key.kid.is_some() && key.kid.as_deref() != kid {
                continue;
            }
            candidates += 1;
            if key.alg == alg {
                if found.is_some() {
                    return Lookup::Ambiguous;
                }
                found = Some(key);
            }
        }
        match found {
            Some(key) => Lookup::Found(key),
            None if candidates > 0 && kid.is_some() => Lookup::WrongAlgorithm,
            None => Lookup::NotFound,
        }
    }
}
