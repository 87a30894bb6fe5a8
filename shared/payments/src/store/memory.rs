//! The in-memory store: the same conditional semantics as DynamoDB, for tests and the sandbox.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{NotificationRecord, OrderStore, Recorded, StoreError};
use crate::order::{Attempt, Order, StoredStatus};

#[derive(Default)]
struct Tables {
    orders: HashMap<String, Order>,
    attempts: HashMap<String, Attempt>,
    /// Keyed by (invoice, fingerprint); the Vec keeps arrival order.
    notification_keys: HashMap<(Option<String>, String), usize>,
    notifications: Vec<NotificationRecord>,
}

/// Orders in a mutex-guarded map; the lock is never held across an await.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    fail_writes: AtomicBool,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes every write fail as an unavailable store would (tests of "the store failing during notify").
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    fn write<T>(&self, change: impl FnOnce(&mut Tables) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected failure".into()));
        }
        self.read(change)
    }

    fn read<T>(&self, look: impl FnOnce(&mut Tables) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut tables =
            self.tables.lock().map_err(|_| StoreError::Unavailable("memory store lock poisoned".into()))?;
        look(&mut tables)
    }
}

impl OrderStore for MemoryStore {
    async fn get_order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        self.read(|t| Ok(t.orders.get(order_id).cloned()))
    }

    async fn insert_order(&self, order: &Order) -> Result<(), StoreError> {
        self.write(|t| {
            if t.orders.contains_key(&order.order_id) {
                return Err(StoreError::ConditionFailed);
            }
            t.orders.insert(order.order_id.clone(), order.clone());
            Ok(())
        })
    }

    async fn replace_order(
        &self,
        next: &Order,
        expected_version: u64,
        expected_status: StoredStatus,
    ) -> Result<(), StoreError> {
        self.write(|t| match t.orders.get_mut(&next.order_id) {
            Some(stored) if stored.version == expected_version && stored.status == expected_status => {
                *stored = next.clone();
                Ok(())
            }
            _ => Err(StoreError::ConditionFailed),
        })
    }

    async fn insert_attempt(&self, attempt: &Attempt) -> Result<(), StoreError> {
        self.write(|t| {
            if t.attempts.contains_key(&attempt.invoice_no) {
                return Err(StoreError::ConditionFailed);
            }
            t.attempts.insert(attempt.invoice_no.clone(), attempt.clone());
            Ok(())
        })
    }

    async fn get_attempt(&self, invoice_no: &str) -> Result<Option<Attempt>, StoreError> {
        self.read(|t| Ok(t.attempts.get(invoice_no).cloned()))
    }

    async fn record_notification(&self, record: &NotificationRecord) -> Result<Recorded, StoreError> {
        self.write(|t| {
            let key = (record.invoice_no.clone(), record.fingerprint.clone());
            if t.notification_keys.contains_key(&key) {
                return Ok(Recorded::Replay);
            }
            t.notification_keys.insert(key, t.notifications.len());
            t.notifications.push(record.clone());
            Ok(Recorded::New)
        })
    }

    async fn notifications(&self, invoice_no: Option<&str>) -> Result<Vec<NotificationRecord>, StoreError> {
        self.read(|t| {
            let mut found: Vec<NotificationRecord> =
                t.notifications.iter().filter(|r| r.invoice_no.as_deref() == invoice_no).cloned().collect();
            // Stable: equal times keep arrival order.
            found.sort_by_key(|r| r.received_at);
            Ok(found)
        })
    }
}
