//! An in-process store, for tests and single-instance development.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;

use auth_core::{StoreError, StoreErrorKind};

use super::ApiKeyStore;
use crate::record::{ApiKeyRecord, KeyInfo};

/// Keys in a `HashMap` behind a lock; cloning shares the map.
#[derive(Clone, Default)]
pub struct MemoryApiKeyStore {
    keys: Arc<RwLock<HashMap<String, ApiKeyRecord>>>,
}

impl MemoryApiKeyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, ApiKeyRecord>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, ApiKeyRecord>> {
        self.keys.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryApiKeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryApiKeyStore")
            .field("keys", &self.read().len())
            .finish()
    }
}

#[async_trait]
impl ApiKeyStore for MemoryApiKeyStore {
    async fn lookup(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.read().get(id).cloned())
    }

    async fn create(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut keys = self.write();
        if keys.contains_key(&record.info.id) {
            return Err(StoreErrorKind::Conflict.into());
        }
        keys.insert(record.info.id.clone(), record.clone());
        Ok(())
    }

    async fn list(&self, account: Option<&str>) -> Result<Vec<KeyInfo>, StoreError> {
        let mut out: Vec<KeyInfo> = self
            .read()
            .values()
            .filter(|r| account.is_none_or(|a| r.info.account == a))
            .map(|r| r.info.clone())
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn revoke(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let mut keys = self.write();
        let record = keys.get_mut(id).ok_or_else(|| super::not_found(id))?;
        if record.info.revoked_at.is_some() {
            return Ok(false);
        }
        record.info.revoked_at = Some(at);
        Ok(true)
    }

    async fn rotate(
        &self,
        old_id: &str,
        replacement: &ApiKeyRecord,
        grace_ends_at: i64,
    ) -> Result<(), StoreError> {
        let mut keys = self.write();
        if keys.contains_key(&replacement.info.id) {
            return Err(StoreErrorKind::Conflict.into());
        }
        let old = keys
            .get_mut(old_id)
            .filter(|r| r.info.revoked_at.is_none())
            .ok_or_else(|| super::not_found(old_id))?;
        old.info.grace_ends_at = Some(
            old.info
                .grace_ends_at
                .map_or(grace_ends_at, |g| g.min(grace_ends_at)),
        );
        old.info.replaced_by = Some(replacement.info.id.clone());
        keys.insert(replacement.info.id.clone(), replacement.clone());
        Ok(())
    }

    async fn touch(&self, used: &[(String, i64)]) -> Result<(), StoreError> {
        let mut keys = self.write();
        for (id, at) in used {
            if let Some(record) = keys.get_mut(id) {
                record.info.last_used_at =
                    Some(record.info.last_used_at.map_or(*at, |t| t.max(*at)));
            }
        }
        Ok(())
    }
}
