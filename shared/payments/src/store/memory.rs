//! The in-memory store: the same conditional semantics as the DynamoDB one, for tests and the sandbox.
//!
//! Every operation takes the lock, decides and writes in one step, and releases it before returning:
//! a condition is checked and the write made atomically, exactly as one conditional `PutItem` does.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{NotificationRecord, OrderStore, Recorded, StoreError};
use crate::order::{Attempt, Order, StoredStatus};

/// What `fail_writes(true)` makes every write answer.
const INJECTED: &str = "injected failure";

#[derive(Default)]
struct Tables {
    orders: HashMap<String, Order>,
    attempts: HashMap<String, Attempt>,
    /// (invoice, fingerprint) of every kept notification: the replay key.
    notification_keys: HashSet<(Option<String>, String)>,
    /// Every kept notification, in arrival order.
    notifications: Vec<NotificationRecord>,
}

/// Orders, attempts and notifications in mutex-guarded maps; the lock is never held across an await.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    fail_writes: AtomicBool,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// While `true`, every write fails with `StoreError::Unavailable("injected failure")` and changes
    /// nothing, as an unreachable store would; reads still work.
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    fn with_tables<T>(&self, action: impl FnOnce(&mut Tables) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut tables =
            self.tables.lock().map_err(|_| StoreError::Unavailable("memory store lock poisoned".to_owned()))?;
        action(&mut tables)
    }

    fn write<T>(&self, action: impl FnOnce(&mut Tables) -> Result<T, StoreError>) -> Result<T, StoreError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(INJECTED.to_owned()));
        }
        self.with_tables(action)
    }
}

impl OrderStore for MemoryStore {
    async fn get_order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        self.with_tables(|t| Ok(t.orders.get(order_id).cloned()))
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
            // Missing, or changed since it was read: DynamoDB's condition fails the same way.
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
        self.with_tables(|t| Ok(t.attempts.get(invoice_no).cloned()))
    }

    async fn record_notification(&self, record: &NotificationRecord) -> Result<Recorded, StoreError> {
        self.write(|t| {
            // The first record with this key stays as it was.
            if !t.notification_keys.insert((record.invoice_no.clone(), record.fingerprint.clone())) {
                return Ok(Recorded::Replay);
            }
            t.notifications.push(record.clone());
            Ok(Recorded::New)
        })
    }

    async fn notifications(&self, invoice_no: Option<&str>) -> Result<Vec<NotificationRecord>, StoreError> {
        self.with_tables(|t| {
            let mut found: Vec<NotificationRecord> =
                t.notifications.iter().filter(|r| r.invoice_no.as_deref() == invoice_no).cloned().collect();
            // A stable sort: records received in the same second keep their arrival order.
            found.sort_by_key(|r| r.received_at);
            Ok(found)
        })
    }
}
