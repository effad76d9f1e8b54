//! Session ids, cookies and store round trips, shared by the login flow and the
//! authenticator.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth_core::{AuthMethod, Principal, StoreError, StoreErrorKind};
use cookie::Cookie;
use http::HeaderMap;

use super::OAuthSession;
use super::record::{RECORD_VERSION, SessionRecord, unix_now};
use crate::cookies::CookiePolicy;
use crate::random;
use crate::store::SessionStore;

/// Length of a session id: 32 random bytes, base64url without padding.
const ID_LENGTH: usize = 43;

#[derive(Debug)]
pub(crate) struct Sessions {
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) policy: CookiePolicy,
    pub(crate) cookie_name: String,
    pub(crate) idle: Duration,
    pub(crate) absolute: Duration,
}

/// Only base64url characters. No early exit, so the loop over the fixed-length id
/// vectorizes.
fn is_url_safe(id: &str) -> bool {
    id.bytes().fold(true, |ok, b| {
        ok & (b.is_ascii_alphanumeric() | (b == b'-') | (b == b'_'))
    })
}

impl Sessions {
    /// The session id in the request's cookie, if one well-formed cookie holds one.
    pub(crate) fn read_id<'r>(&self, headers: &'r HeaderMap) -> Option<&'r str> {
        // A duplicated or malformed cookie is "no session", like a missing one.
        match auth_core::read_cookie(headers, &self.cookie_name) {
            Ok(Some(id)) if id.len() == ID_LENGTH && is_url_safe(id) => Some(id),
            _ => None,
        }
    }

    /// The store key of a session id.
    pub(crate) fn key(id: &str) -> String {
        random::digest_hex(id)
    }

    /// The live session under `key`, if any. Unreadable or expired records are no session.
    pub(crate) async fn load<U: super::SessionUser>(
        &self,
        key: &str,
    ) -> Result<Option<SessionRecord<U>>, StoreError> {
        match self.load_raw(key).await? {
            Some(raw) => self.decode(key, &raw).await,
            None => Ok(None),
        }
    }

    /// The stored record under `key` as the store holds it (this counts as activity for
    /// the idle timeout).
    pub(crate) async fn load_raw(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.store.load(key, self.idle).await
    }

    /// [`load_raw`](Self::load_raw), if the store can answer without waiting.
    pub(crate) fn load_now(&self, key: &str) -> Option<Result<Option<Arc<str>>, StoreError>> {
        self.store.load_now(key, self.idle)
    }

    /// Decodes a record loaded under `key`; an unreadable or expired one is deleted and is
    /// no session.
    pub(crate) async fn decode<U: super::SessionUser>(
        &self,
        key: &str,
        raw: &str,
    ) -> Result<Option<SessionRecord<U>>, StoreError> {
        match serde_json::from_str::<SessionRecord<U>>(raw) {
            Ok(record) if record.v == RECORD_VERSION && record.remaining(unix_now()).is_some() => {
                Ok(Some(record))
            }
            _ => {
                self.store.delete(key).await?;
                Ok(None)
            }
        }
    }

    /// A fresh session id and its store key.
    pub(crate) fn new_id() -> (String, String) {
        let id = random::token();
        let key = Self::key(&id);
        (id, key)
    }

    /// `record` as stored, and the time left before its absolute expiry; `None` when past.
    fn encode<U: super::SessionUser>(
        record: &SessionRecord<U>,
    ) -> Result<Option<(String, Duration)>, StoreError> {
        let Some(ttl) = record.remaining(unix_now()) else {
            return Ok(None);
        };
        let raw = serde_json::to_string(record)
            .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))?;
        Ok(Some((raw, ttl)))
    }

    /// Stores a new session under the id `id` (from [`new_id`](Self::new_id)), linked under
    /// `tags` in the logout index; returns its cookie.
    pub(crate) async fn create<U: super::SessionUser>(
        &self,
        id: String,
        record: &SessionRecord<U>,
        tags: &[String],
    ) -> Result<Cookie<'static>, StoreError> {
        let key = Self::key(&id);
        match Self::encode(record)? {
            Some((raw, ttl)) => {
                self.store.save(&key, raw, self.idle, ttl).await?;
                if !tags.is_empty() {
                    self.store.link(&key, tags, ttl).await?;
                }
            }
            None => self.store.delete(&key).await?,
        }
        Ok(self
            .policy
            .cookie(self.cookie_name.clone(), id, self.absolute))
    }

    /// Writes `record` under `key`, keeping its absolute expiry, only if the store still
    /// holds `current` there (the record as loaded): `false`, writing nothing, once the
    /// session has ended (logout, expiry) or was changed meanwhile.
    pub(crate) async fn replace<U: super::SessionUser>(
        &self,
        key: &str,
        current: &str,
        record: &SessionRecord<U>,
    ) -> Result<bool, StoreError> {
        match Self::encode(record)? {
            Some((raw, ttl)) => self.store.replace(key, current, raw, self.idle, ttl).await,
            None => Ok(false),
        }
    }

    /// Removes the session under `key`.
    pub(crate) async fn destroy(&self, key: &str) -> Result<(), StoreError> {
        self.store.delete(key).await
    }

    /// The `Set-Cookie` that clears the session cookie.
    pub(crate) fn removal(&self) -> Cookie<'static> {
        self.policy.removal(self.cookie_name.clone())
    }

    /// The typed identity of a loaded record.
    pub(crate) fn identity<U>(record: SessionRecord<U>, key: String) -> OAuthSession<U> {
        let principal = Principal::new(record.subject, AuthMethod::Session)
            .with_scopes(record.scopes)
            .with_roles(record.roles)
            .with_expires_at(UNIX_EPOCH + Duration::from_secs(record.expires_at));
        OAuthSession::new(
            record.user,
            principal,
            record.provider.map(Arc::from),
            record.csrf.into(),
            key.into(),
            UNIX_EPOCH + Duration::from_secs(record.created_at),
        )
    }

    /// The absolute expiry of a session created now, in Unix seconds.
    pub(crate) fn expiry_from_now(&self) -> u64 {
        SystemTime::now()
            .checked_add(self.absolute)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(u64::MAX, |d| d.as_secs())
    }
}

/// The logout index tag of the OpenID session `sid` at `provider`.
pub(crate) fn sid_tag(provider: &str, sid: &str) -> String {
    random::digest_hex(&format!("{provider}\0sid\0{sid}"))
}

/// The logout index tag of the user `sub` at `provider`.
pub(crate) fn sub_tag(provider: &str, sub: &str) -> String {
    random::digest_hex(&format!("{provider}\0sub\0{sub}"))
}

#[cfg(test)]
mod tests {
    use super::is_url_safe;

    #[test]
    fn only_base64url_bytes_are_url_safe() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            let mut id = vec![b'a'; 43];
            id[20] = b;
            let Ok(id) = String::from_utf8(id) else {
                continue; // not UTF-8: never a `&str` to check
            };
            assert_eq!(is_url_safe(&id), expected, "byte {b:#04x}");
        }
        assert!(is_url_safe("AZaz09-_"));
        assert!(!is_url_safe("abc="));
    }
}
