//! A memo of decoded session records, so a session cookie does not cost a JSON decode on
//! every request.
//!
//! The store stays the source of truth: every request still loads the record (a deleted
//! session is gone at once, on every instance). Only the decode is skipped, and only when
//! the record loaded now is byte-for-byte the one decoded before under the same store key;
//! the absolute expiry is checked on every hit. Any change to a record (a refresh of the
//! provider's tokens, new roles) is a different string and is decoded afresh. The memo
//! holds at most [`CAPACITY`] records, the same bytes the store already returns to this
//! process; `quick_cache` evicts the coldest.

use std::sync::Arc;

use super::OAuthSession;

/// Records kept decoded.
pub(crate) const CAPACITY: usize = 10_000;

pub(crate) struct DecodedSessions<U> {
    entries: quick_cache::sync::Cache<String, Entry<U>>,
}

struct Entry<U> {
    raw: Arc<str>,
    identity: OAuthSession<U>,
    /// Unix seconds: the record's absolute expiry.
    expires_at: u64,
}

impl<U> Clone for Entry<U> {
    fn clone(&self) -> Self {
        Self {
            raw: Arc::clone(&self.raw),
            identity: self.identity.clone(),
            expires_at: self.expires_at,
        }
    }
}

impl<U> std::fmt::Debug for DecodedSessions<U> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodedSessions").finish_non_exhaustive()
    }
}

impl<U: Clone + Send + Sync + 'static> DecodedSessions<U> {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    /// The identity decoded from exactly `raw` under `key`, unless it has expired by `now`.
    /// A record shared with the store (the memory store's own `Arc`) is recognized by
    /// address; any other is compared byte for byte.
    pub(crate) fn get(&self, key: &str, raw: &Arc<str>, now: u64) -> Option<OAuthSession<U>> {
        let entry = self.entries.get(key)?;
        let same = Arc::ptr_eq(&entry.raw, raw) || *entry.raw == **raw;
        (same && entry.expires_at > now).then_some(entry.identity)
    }

    pub(crate) fn insert(
        &self,
        key: String,
        raw: Arc<str>,
        identity: OAuthSession<U>,
        expires_at: u64,
    ) {
        self.entries.insert(
            key,
            Entry {
                raw,
                identity,
                expires_at,
            },
        );
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use auth_core::{AuthMethod, Principal};

    use super::*;

    fn raw(record: &str) -> Arc<str> {
        Arc::from(record)
    }

    fn session(subject: &str) -> OAuthSession<String> {
        OAuthSession::new(
            subject.to_owned(),
            Principal::new(subject, AuthMethod::Session),
            Some(Arc::from("oidc")),
            Arc::from("csrf"),
            Arc::from("k1"),
            UNIX_EPOCH,
        )
    }

    #[test]
    fn only_the_same_bytes_under_the_same_key_skip_the_decode() {
        let memo = DecodedSessions::new(16);
        memo.insert("k1".to_owned(), raw(r#"{"v":1}"#), session("alice"), 100);
        let hit = memo
            .get("k1", &raw(r#"{"v":1}"#), 10)
            .expect("same key, same record");
        assert_eq!(auth_core::Identity::principal(&hit).subject(), "alice");
        // The store now holds another record under that key (roles changed, tokens
        // refreshed): decode it again.
        assert!(memo.get("k1", &raw(r#"{"v":1,"x":2}"#), 10).is_none());
        // The same record under another key is another session.
        assert!(memo.get("k2", &raw(r#"{"v":1}"#), 10).is_none());
    }

    #[test]
    fn a_record_past_its_absolute_expiry_is_never_served() {
        let memo = DecodedSessions::new(16);
        memo.insert("k1".to_owned(), raw("r"), session("alice"), 100);
        assert!(memo.get("k1", &raw("r"), 99).is_some());
        assert!(memo.get("k1", &raw("r"), 100).is_none());
        assert!(memo.get("k1", &raw("r"), 5_000).is_none());
    }

    #[test]
    fn the_capacity_bounds_the_memo() {
        let memo = DecodedSessions::new(50);
        for i in 0..2_000 {
            memo.insert(format!("k{i}"), raw("r"), session("bob"), u64::MAX);
        }
        assert!(memo.len() <= 50, "{} records", memo.len());
    }

    #[test]
    fn the_stores_own_record_is_recognized_by_address() {
        let memo = DecodedSessions::new(16);
        let record = raw(r#"{"v":1}"#);
        memo.insert("k1".to_owned(), Arc::clone(&record), session("alice"), 100);
        assert!(memo.get("k1", &record, 10).is_some());
        assert!(
            memo.get("k1", &raw(r#"{"v":1}"#), 10).is_some(),
            "equal bytes"
        );
        assert!(memo.get("k1", &raw(r#"{"v":2}"#), 10).is_none());
    }
}
