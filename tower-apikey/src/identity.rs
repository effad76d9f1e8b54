//! [`ApiKeyIdentity`]: what a handler learns about the key that authenticated the request.

use std::sync::Arc;

use auth_core::{AuthMethod, Identity, Principal};

use crate::limit::KeyLimit;
use crate::record::{KeyInfo, to_system_time};

/// The typed identity of a request authenticated by an API key: the key's record (never
/// its secret or digest) and the shared [`Principal`] (method `api_key`, subject = account,
/// the key's tenant, scopes and expiry). Cloning is two reference-count increments.
///
/// ```
/// # use tower_apikey::{ApiKeyIdentity, KeyInfo, Env};
/// # use auth_core::Identity;
/// # let info = KeyInfo { id: "k1".into(), env: Env::Live, account: "acme".into(), name: None,
/// #     scopes: vec!["read".into()], display_prefix: "sk_live_k1".into(), last_four: "abcd".into(),
/// #     created_at: 0, expires_at: None, not_before: None, revoked_at: None, last_used_at: None,
/// #     grace_ends_at: None, replaced_by: None, tenant: Some("t1".into()),
/// #     metadata: serde_json::Map::new(), rate: None, quota: None };
/// let identity = ApiKeyIdentity::new(info);
/// assert_eq!(identity.principal().subject(), "acme");
/// assert_eq!(identity.principal().method().as_str(), "api_key");
/// assert_eq!(identity.principal().tenant(), Some("t1"));
/// assert_eq!(identity.tenant(), Some("t1"));
/// assert!(identity.principal().has_scope("read"));
/// assert_eq!(identity.key().id, "k1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyIdentity {
    key: Arc<KeyInfo>,
    principal: Principal,
}

impl ApiKeyIdentity {
    /// The identity a valid key with this record yields.
    #[must_use]
    pub fn new(key: KeyInfo) -> Self {
        let mut principal =
            Principal::new(key.account.clone(), AuthMethod::ApiKey).with_scopes(key.scopes.clone());
        if let Some(tenant) = &key.tenant {
            principal = principal.with_tenant(tenant.clone());
        }
        if let Some(expiry) = key.effective_expiry() {
            principal = principal.with_expires_at(to_system_time(expiry));
        }
        Self {
            key: Arc::new(key),
            principal,
        }
    }

    /// The key's record, as of the last cache refresh.
    #[must_use]
    pub fn key(&self) -> &KeyInfo {
        &self.key
    }

    /// The key id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.key.id
    }

    /// The account that owns the key.
    #[must_use]
    pub fn account(&self) -> &str {
        &self.key.account
    }

    /// The key's tenant, also the principal's.
    #[must_use]
    pub fn tenant(&self) -> Option<&str> {
        self.key.tenant.as_deref()
    }

    /// The application data stored with the key (an empty object when none).
    #[must_use]
    pub fn metadata(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.key.metadata
    }

    /// The key's own rate limit, if it has one.
    #[must_use]
    pub fn rate(&self) -> Option<KeyLimit> {
        self.key.rate
    }

    /// The key's own quota, if it has one.
    #[must_use]
    pub fn quota(&self) -> Option<KeyLimit> {
        self.key.quota
    }
}

impl Identity for ApiKeyIdentity {
    fn principal(&self) -> &Principal {
        &self.principal
    }
}
