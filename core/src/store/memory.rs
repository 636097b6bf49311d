//! The in-memory grant store (development and tests).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{Consume, GrantStore, Record, RecordKind, StoreError, Stored};

type Key = (RecordKind, String);

#[derive(Default)]
struct MemoryInner {
    records: HashMap<Key, Stored>,
    grants: HashMap<String, HashSet<Key>>,
}

impl MemoryInner {
    fn remove(&mut self, key: &Key) -> Option<Stored> {
        let old = self.records.remove(key)?;
        if let Some(g) = &old.record.grant_id
            && let Some(set) = self.grants.get_mut(g)
        {
            set.remove(key);
            if set.is_empty() {
                self.grants.remove(g);
            }
        }
        Some(old)
    }
}

/// An in-memory grant store: for development and tests only (nothing survives a restart,
/// nothing is shared between instances). Construction logs a warning.
#[derive(Default)]
pub struct MemoryGrantStore {
    inner: Mutex<MemoryInner>,
}

impl std::fmt::Debug for MemoryGrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryGrantStore").finish_non_exhaustive()
    }
}

impl MemoryGrantStore {
    /// An empty store. Logs a warning that it is for development.
    pub fn new() -> Self {
        tracing::warn!(
            "idpkit: using the IN-MEMORY grant store; codes, refresh tokens and sessions are lost \
             on restart and not shared between instances. Use a persistent store in production."
        );
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Number of records held (expired ones included until purged).
    pub fn len(&self) -> usize {
        self.lock().records.len()
    }

    /// Whether the store holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl GrantStore for MemoryGrantStore {
    async fn put(&self, kind: RecordKind, id: &str, record: Record) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let key = (kind, id.to_owned());
        inner.remove(&key);
        if let Some(g) = &record.grant_id {
            inner
                .grants
                .entry(g.clone())
                .or_default()
                .insert(key.clone());
        }
        inner.records.insert(
            key,
            Stored {
                record,
                consumed_at: None,
            },
        );
        Ok(())
    }

    async fn get(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<Stored>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .records
            .get(&(kind, id.to_owned()))
            .filter(|s| s.record.expires_at > now)
            .cloned())
    }

    async fn consume(
        &self,
        kind: RecordKind,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Consume, StoreError> {
        let mut inner = self.lock();
        match inner.records.get_mut(&(kind, id.to_owned())) {
            Some(s) if s.record.expires_at > now => match s.consumed_at {
                Some(at) => Ok(Consume::AlreadyConsumed {
                    record: s.record.clone(),
                    consumed_at: at,
                }),
                None => {
                    s.consumed_at = Some(now);
                    Ok(Consume::Consumed(s.record.clone()))
                }
            },
            _ => Ok(Consume::NotFound),
        }
    }

    async fn increment(
        &self,
        id: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let key = (RecordKind::Counter, id.to_owned());
        let count = match inner.records.get(&key) {
            Some(s) if s.record.expires_at > now => super::counter_value(&s.record.payload)
                .map_err(|reason| StoreError::Corrupt {
                    kind: RecordKind::Counter.as_str(),
                    id: id.to_owned(),
                    reason,
                })?
                .saturating_add(1),
            _ => 1,
        };
        inner.records.insert(
            key,
            Stored {
                record: Record {
                    grant_id: None,
                    payload: count.to_string().into_bytes(),
                    expires_at,
                },
                consumed_at: None,
            },
        );
        Ok(count)
    }

    async fn delete(&self, kind: RecordKind, id: &str) -> Result<(), StoreError> {
        self.lock().remove(&(kind, id.to_owned()));
        Ok(())
    }

    async fn revoke_grant(&self, grant_id: &str) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let keys = inner.grants.remove(grant_id).unwrap_or_default();
        let mut n = 0;
        for key in keys {
            if inner.records.remove(&key).is_some() {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn purge_expired(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let mut inner = self.lock();
        let expired: Vec<Key> = inner
            .records
            .iter()
            .filter(|(_, s)| s.record.expires_at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in &expired {
            inner.remove(key);
        }
        Ok(expired.len() as u64)
    }

    fn is_development(&self) -> bool {
        true
    }
}
