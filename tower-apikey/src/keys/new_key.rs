//! [`NewKey`], [`CreatedKey`] and [`KeyError`].

use std::time::Duration;

use crate::key::{ApiKey, Env, RandomError};
use crate::limit::KeyLimit;
use crate::record::{KeyInfo, now};
use auth_core::StoreError;

/// A key-management operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An argument is not acceptable (empty account, a scope with a space…).
    #[error("invalid {field}: {message}")]
    InvalidInput {
        /// The argument.
        field: &'static str,
        /// What is wrong with it.
        message: &'static str,
    },
    /// No randomness.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The largest key metadata accepted, as compact JSON: 4 KiB. Larger metadata is refused at
/// creation ([`KeyError::InvalidInput`], field `metadata`), never truncated.
pub const MAX_METADATA_BYTES: usize = 4096;

/// What to create: [`ApiKeys::create`](super::ApiKeys::create) fills in the key, id and timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKey {
    /// The owner; becomes the principal's subject.
    pub account: String,
    /// A human name.
    pub name: Option<String>,
    /// Granted scopes (RFC 6749 scope tokens).
    pub scopes: Vec<String>,
    /// `live` (default) or `test`.
    pub env: Env,
    /// Refused from this instant (Unix seconds).
    pub expires_at: Option<i64>,
    /// Refused before this instant (Unix seconds).
    pub not_before: Option<i64>,
    /// The tenant: becomes the principal's tenant.
    pub tenant: Option<String>,
    /// Application data, at most [`MAX_METADATA_BYTES`] as JSON.
    pub metadata: serde_json::Map<String, serde_json::Value>,
    /// The key's own rate limit (`N/s` or `N/m`).
    pub rate: Option<KeyLimit>,
    /// The key's own quota (`N/day` or `N/month`).
    pub quota: Option<KeyLimit>,
}

impl NewKey {
    /// A live key for `account`, no scopes, no expiry, no tenant, metadata or limits.
    pub fn new(account: impl Into<String>) -> Self {
        Self {
            account: account.into(),
            name: None,
            scopes: Vec::new(),
            env: Env::Live,
            expires_at: None,
            not_before: None,
            tenant: None,
            metadata: serde_json::Map::new(),
            rate: None,
            quota: None,
        }
    }

    /// Sets the name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the scopes.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the environment.
    #[must_use]
    pub fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// Expires `ttl` from now.
    #[must_use]
    pub fn expires_in(mut self, ttl: Duration) -> Self {
        self.expires_at = Some(now().saturating_add(secs(ttl)));
        self
    }

    /// Expires at `at` (Unix seconds).
    #[must_use]
    pub fn expires_at(mut self, at: i64) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Not valid before `at` (Unix seconds).
    #[must_use]
    pub fn not_before(mut self, at: i64) -> Self {
        self.not_before = Some(at);
        self
    }

    /// Sets the tenant.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the metadata: a JSON object of at most [`MAX_METADATA_BYTES`], checked by
    /// [`ApiKeys::create`](super::ApiKeys::create).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use tower_apikey::{ApiKeys, MemoryApiKeyStore, NewKey};
    ///
    /// let keys = ApiKeys::builder(MemoryApiKeyStore::new()).build().unwrap();
    /// let serde_json::Value::Object(plan) = serde_json::json!({"plan": "pro"}) else { unreachable!() };
    /// let created = keys.create(NewKey::new("acme").tenant("acme-eu").metadata(plan)).await.unwrap();
    /// assert_eq!(created.info.tenant.as_deref(), Some("acme-eu"));
    /// assert_eq!(created.info.metadata["plan"], "pro");
    /// # }
    /// ```
    #[must_use]
    pub fn metadata(mut self, metadata: serde_json::Map<String, serde_json::Value>) -> Self {
        self.metadata = metadata;
        self
    }

    /// Sets the key's own rate limit (parse one with [`KeyLimit::parse_rate`]).
    #[must_use]
    pub fn rate(mut self, rate: KeyLimit) -> Self {
        self.rate = Some(rate);
        self
    }

    /// Sets the key's own quota (parse one with [`KeyLimit::parse_quota`]).
    #[must_use]
    pub fn quota(mut self, quota: KeyLimit) -> Self {
        self.quota = Some(quota);
        self
    }

    pub(super) fn validate(&self) -> Result<(), KeyError> {
        let text_ok = |s: &str| s.len() <= 256 && !s.chars().any(char::is_control);
        if self.account.is_empty() || !text_ok(&self.account) {
            return Err(KeyError::InvalidInput {
                field: "account",
                message: "must be 1 to 256 characters without control characters",
            });
        }
        if self.name.as_deref().is_some_and(|n| !text_ok(n)) {
            return Err(KeyError::InvalidInput {
                field: "name",
                message: "must be at most 256 characters without control characters",
            });
        }
        // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
        let scope_ok = |s: &String| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        };
        if !self.scopes.iter().all(scope_ok) {
            return Err(KeyError::InvalidInput {
                field: "scopes",
                message: "each scope must be a non-empty RFC 6749 scope token",
            });
        }
        if self
            .tenant
            .as_deref()
            .is_some_and(|t| t.is_empty() || !text_ok(t))
        {
            return Err(KeyError::InvalidInput {
                field: "tenant",
                message: "must be 1 to 256 characters without control characters",
            });
        }
        // Compact JSON, as stored; a map of JSON values always serialises.
        let metadata_len = serde_json::to_vec(&self.metadata).map_or(usize::MAX, |json| json.len());
        if metadata_len > MAX_METADATA_BYTES {
            return Err(KeyError::InvalidInput {
                field: "metadata",
                message: "must be at most 4096 bytes of JSON",
            });
        }
        if self.rate.is_some_and(|r| !r.is_rate()) {
            return Err(KeyError::InvalidInput {
                field: "rate",
                message: "must be N/s or N/m (N/day and N/month are quotas)",
            });
        }
        if self.quota.is_some_and(|q| q.is_rate()) {
            return Err(KeyError::InvalidInput {
                field: "quota",
                message: "must be N/day or N/month (N/s and N/m are rates)",
            });
        }
        Ok(())
    }
}

/// A key just created or rotated: the plaintext (shown once) and its record.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    /// The plaintext key; `Debug` redacts it.
    pub key: ApiKey,
    /// The stored record, without the digest.
    pub info: KeyInfo,
}

pub(super) fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}
