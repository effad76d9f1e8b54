//! Reading the live revocations back, for a shared store to republish.

use std::time::SystemTime;

use super::{MemoryRevocationStore, Revocation, TOKEN_KIND};

impl MemoryRevocationStore {
    /// Every live revocation, as revoked (the leeway this store adds taken off again), for
    /// republishing to a shared store that lost them.
    pub(crate) fn live(&self) -> Vec<Revocation> {
        let now = SystemTime::now();
        let mut out = Vec::with_capacity(self.len());
        for table in [&self.inner.tokens, &self.inner.subjects] {
            for item in &table.map {
                let entry = *item.value();
                if entry.until <= now {
                    continue;
                }
                let Some((kind, issuer, id)) = decode_key(item.key()) else {
                    continue;
                };
                let until = entry
                    .until
                    .checked_sub(self.inner.leeway)
                    .unwrap_or(entry.until);
                out.push(if kind == TOKEN_KIND {
                    Revocation::token(issuer, id, until)
                } else {
                    Revocation::subject(issuer, id, entry.issued_before, until)
                });
            }
        }
        out
    }
}

/// The parts of a key [`encode_key`] wrote.
fn decode_key(key: &str) -> Option<(char, &str, &str)> {
    let kind = key.chars().next()?;
    let rest = &key[kind.len_utf8()..];
    let (length, rest) = rest.split_once(':')?;
    let length: usize = length.parse().ok()?;
    let issuer = rest.get(..length)?;
    let id = rest.get(length..)?;
    Some((kind, issuer, id))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn live_revocations_read_back_as_written() {
        let store = MemoryRevocationStore::new();
        let until = SystemTime::now() + Duration::from_secs(600);
        let before = SystemTime::now();
        store
            .revoke_now(&Revocation::token("https://i:8443/x", "j:1", until))
            .unwrap();
        store
            .revoke_now(&Revocation::subject("https://i", "alice", before, until))
            .unwrap();
        store
            .revoke_now(&Revocation::token(
                "https://i",
                "gone",
                SystemTime::UNIX_EPOCH,
            ))
            .unwrap();
        let mut live = store.live();
        live.sort_by_key(|r| matches!(r, Revocation::Subject { .. }));
        assert_eq!(
            live,
            vec![
                Revocation::token("https://i:8443/x", "j:1", until),
                Revocation::subject("https://i", "alice", before, until),
            ]
        );
    }
}
