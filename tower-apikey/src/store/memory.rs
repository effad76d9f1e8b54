//! An in-process store, for tests and single-instance development.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use async_trait::async_trait;

use auth_core::{StoreError, StoreErrorKind};

use super::ApiKeyStore;
use crate::record::{ApiKeyRecord, HourlyUsage, KeyInfo, USAGE_RETENTION_SECS, hour_of, now};

/// Keys in a `HashMap` behind a lock, with their hourly usage; cloning shares the map.
#[derive(Clone, Default)]
pub struct MemoryApiKeyStore {
    keys: Arc<RwLock<HashMap<String, Stored>>>,
}

#[derive(Clone)]
struct Stored {
    record: ApiKeyRecord,
    /// Hour → its counts.
    usage: BTreeMap<i64, HourlyUsage>,
}

impl MemoryApiKeyStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Stored>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Stored>> {
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

impl Stored {
    fn new(record: &ApiKeyRecord) -> Self {
        Self {
            record: record.clone(),
            usage: BTreeMap::new(),
        }
    }
}

#[async_trait]
impl ApiKeyStore for MemoryApiKeyStore {
    async fn lookup(&self, id: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        Ok(self.read().get(id).map(|s| s.record.clone()))
    }

    async fn create(&self, record: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut keys = self.write();
        if keys.contains_key(&record.info.id) {
            return Err(StoreErrorKind::Conflict.into());
        }
        keys.insert(record.info.id.clone(), Stored::new(record));
        Ok(())
    }

    async fn list(&self, account: Option<&str>) -> Result<Vec<KeyInfo>, StoreError> {
        let mut out: Vec<KeyInfo> = self
            .read()
            .values()
            .map(|s| &s.record)
            .filter(|r| account.is_none_or(|a| r.info.account == a))
            .map(|r| r.info.clone())
            .collect();
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn revoke(&self, id: &str, at: i64) -> Result<bool, StoreError> {
        let mut keys = self.write();
        let record = &mut keys.get_mut(id).ok_or_else(|| super::not_found(id))?.record;
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
            .map(|s| &mut s.record)
            .filter(|r| r.info.revoked_at.is_none())
            .ok_or_else(|| super::not_found(old_id))?;
        old.info.grace_ends_at = Some(
            old.info
                .grace_ends_at
                .map_or(grace_ends_at, |g| g.min(grace_ends_at)),
        );
        old.info.replaced_by = Some(replacement.info.id.clone());
        keys.insert(replacement.info.id.clone(), Stored::new(replacement));
        Ok(())
    }

    async fn touch(
        &self,
        used: &[(String, i64)],
        usage: &[(String, HourlyUsage)],
    ) -> Result<(), StoreError> {
        let mut keys = self.write();
        for (id, at) in used {
            if let Some(stored) = keys.get_mut(id) {
                let info = &mut stored.record.info;
                info.last_used_at = Some(info.last_used_at.map_or(*at, |t| t.max(*at)));
            }
        }
        for (id, counts) in usage {
            if let Some(stored) = keys.get_mut(id) {
                let hour = hour_of(counts.hour);
                stored
                    .usage
                    .entry(hour)
                    .or_insert_with(|| HourlyUsage::empty(hour))
                    .add(counts);
            }
        }
        if !usage.is_empty() {
            let oldest = hour_of(now()) - USAGE_RETENTION_SECS;
            for stored in keys.values_mut() {
                stored.usage.retain(|&hour, _| hour >= oldest);
            }
        }
        Ok(())
    }

    async fn usage(&self, id: &str, since: i64) -> Result<Vec<HourlyUsage>, StoreError> {
        let keys = self.read();
        let Some(stored) = keys.get(id) else {
            return Ok(Vec::new());
        };
        Ok(stored.usage.range(since..).map(|(_, &hour)| hour).collect())
    }
}
