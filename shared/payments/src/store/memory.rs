//! The in-memory store: the same conditional semantics as the DynamoDB one, for tests and the sandbox.
//!
//! Every operation takes the lock, decides and writes in one step, and releases it before returning:
//! a condition is checked and the write made atomically, exactly as one conditional write or one
//! transaction does in DynamoDB.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::operations::{self, Operations, Resolution, ResolveError, ReviewOutcome};
use super::{
    AuditTrail, EvidenceKind, EvidenceRecord, EvidenceWrite, KeptAndApplied, OrderStore, Recorded, StoreError,
};
use crate::ids::{InvoiceNo, OrderId};
use crate::order::{Attempt, Order, StoredStatus, UnixSeconds};

/// What `fail_writes(true)` makes every write answer.
const INJECTED: &str = "injected failure";

/// One committed change of an order item: what it was, and what it became. The DynamoDB table's
/// stream carries the same pair as old and new images.
pub type OrderChange = (Option<Order>, Order);

#[derive(Default)]
struct Tables {
    orders: HashMap<OrderId, Order>,
    attempts: HashMap<InvoiceNo, Attempt>,
    /// (invoice, kind, fingerprint) of every kept record: the replay key.
    evidence_keys: HashSet<(Option<InvoiceNo>, EvidenceKind, String)>,
    /// Every kept record, in arrival order.
    evidence: Vec<EvidenceRecord>,
    /// Order changes not yet taken by [`MemoryStore::take_order_changes`].
    changes: Vec<OrderChange>,
    /// Every review resolved by a person, in the order they were made.
    resolutions: Vec<Resolution>,
}

/// Orders, attempts and evidence in mutex-guarded maps; the lock is never held across an await.
#[derive(Default)]
pub struct MemoryStore {
    tables: Mutex<Tables>,
    fail_writes: AtomicBool,
    /// Milliseconds every call waits before it runs, to play a slow store.
    delay_ms: AtomicU64,
}

impl MemoryStore {
    /// An empty store, for tests and the sandbox's default mode; nothing survives the process.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `true`, every write fails with `StoreError::Unavailable("injected failure")` and changes
    /// nothing, as an unreachable store would; reads still work.
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    /// Makes every call take `delay` before it runs (a slow store); zero for none.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// The order changes committed since the last call, oldest first: the sandbox's stand-in for the
    /// table's stream.
    pub fn take_order_changes(&self) -> Vec<OrderChange> {
        self.tables.lock().map(|mut t| std::mem::take(&mut t.changes)).unwrap_or_default()
    }

    /// Every order, for the sandbox and tests.
    pub fn orders(&self) -> Vec<Order> {
        self.tables.lock().map(|t| t.orders.values().cloned().collect()).unwrap_or_default()
    }

    async fn pause(&self) {
        let ms = self.delay_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }

    async fn read<T>(&self, action: impl FnOnce(&Tables) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.pause().await;
        let tables =
            self.tables.lock().map_err(|_| StoreError::Unavailable("memory store lock poisoned".to_owned()))?;
        action(&tables)
    }

    async fn write<T>(&self, action: impl FnOnce(&mut Tables) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.pause().await;
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(INJECTED.to_owned()));
        }
        let mut tables =
            self.tables.lock().map_err(|_| StoreError::Unavailable("memory store lock poisoned".to_owned()))?;
        action(&mut tables)
    }
}

impl Tables {
    fn is_unchanged(&self, read: &Order) -> bool {
        self.orders.get(&read.order_id).is_some_and(|s| s.version == read.version && s.status == read.status)
    }

    fn put_order(&mut self, next: &Order) {
        let old = self.orders.insert(next.order_id.clone(), next.clone());
        self.changes.push((old, next.clone()));
    }

    /// Writes an attempt's books (validity and schedule), as the DynamoDB adapter's update does.
    fn put_books(&mut self, attempt: &Attempt) {
        if let Some(stored) = self.attempts.get_mut(&attempt.invoice_no) {
            stored.valid_until = attempt.valid_until;
            stored.due_at = attempt.due_at;
        }
    }
}

impl OrderStore for MemoryStore {
    async fn get_order(&self, order_id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.read(|t| Ok(t.orders.get(order_id).cloned())).await
    }

    async fn open_order(&self, order: &Order, attempt: &Attempt) -> Result<(), StoreError> {
        self.write(|t| {
            if t.orders.contains_key(&order.order_id) || t.attempts.contains_key(&attempt.invoice_no) {
                return Err(StoreError::ConditionFailed);
            }
            t.put_order(order);
            t.attempts.insert(attempt.invoice_no.clone(), attempt.clone());
            Ok(())
        })
        .await
    }

    async fn start_attempt(&self, next: &Order, read: &Order, attempt: &Attempt) -> Result<(), StoreError> {
        self.write(|t| {
            if !t.is_unchanged(read) || t.attempts.contains_key(&attempt.invoice_no) {
                return Err(StoreError::ConditionFailed);
            }
            t.put_order(next);
            t.attempts.insert(attempt.invoice_no.clone(), attempt.clone());
            Ok(())
        })
        .await
    }

    async fn replace_order(&self, next: &Order, read: &Order, attempt: Option<&Attempt>) -> Result<(), StoreError> {
        self.write(|t| {
            // Missing, or changed since it was read: DynamoDB's condition fails the same way.
            if !t.is_unchanged(read) || attempt.is_some_and(|a| !t.attempts.contains_key(&a.invoice_no)) {
                return Err(StoreError::ConditionFailed);
            }
            t.put_order(next);
            if let Some(attempt) = attempt {
                t.put_books(attempt);
            }
            Ok(())
        })
        .await
    }

    async fn get_attempt(&self, invoice_no: &InvoiceNo) -> Result<Option<Attempt>, StoreError> {
        self.read(|t| Ok(t.attempts.get(invoice_no).cloned())).await
    }

    async fn reschedule_attempt(&self, next: &Attempt, expected_inquiries: u32) -> Result<(), StoreError> {
        self.write(|t| match t.attempts.get_mut(&next.invoice_no) {
            Some(stored) if stored.due_at.is_some() && stored.inquiries == expected_inquiries => {
                stored.due_at = next.due_at;
                stored.inquiries = next.inquiries;
                stored.last_inquiry_at = next.last_inquiry_at;
                Ok(())
            }
            _ => Err(StoreError::ConditionFailed),
        })
        .await
    }

    async fn settle_attempt(&self, invoice_no: &InvoiceNo) -> Result<(), StoreError> {
        self.write(|t| match t.attempts.get_mut(invoice_no) {
            Some(stored) => {
                stored.due_at = None;
                Ok(())
            }
            None => Err(StoreError::ConditionFailed),
        })
        .await
    }

    async fn claim_inquiry(
        &self,
        invoice_no: &InvoiceNo,
        now: UnixSeconds,
        min_gap_seconds: i64,
    ) -> Result<Option<Attempt>, StoreError> {
        self.write(|t| match t.attempts.get_mut(invoice_no) {
            Some(stored) if stored.last_inquiry_at.is_none_or(|last| last <= now - min_gap_seconds) => {
                stored.last_inquiry_at = Some(now);
                Ok(Some(stored.clone()))
            }
            _ => Ok(None),
        })
        .await
    }

    async fn due_attempts(&self, now: UnixSeconds, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        self.read(|t| {
            let mut due: Vec<Attempt> =
                t.attempts.values().filter(|a| a.due_at.is_some_and(|at| at <= now)).cloned().collect();
            due.sort_by_key(|a| (a.due_at, a.invoice_no.clone()));
            due.truncate(limit);
            Ok(due)
        })
        .await
    }

    async fn record_evidence(&self, record: &EvidenceRecord) -> Result<Recorded, StoreError> {
        self.write(|t| {
            // The first record with this key stays as it was.
            let key = (record.invoice_no.clone(), record.kind, record.fingerprint.clone());
            if !t.evidence_keys.insert(key) {
                return Ok(Recorded::Replay);
            }
            t.evidence.push(record.clone());
            Ok(Recorded::New)
        })
        .await
    }

    async fn keep_and_apply(&self, write: EvidenceWrite<'_>) -> Result<KeptAndApplied, StoreError> {
        self.write(|t| {
            // The same checks as the DynamoDB transaction, all before anything is written.
            let of_order = t.attempts.get(write.invoice_no).is_some_and(|a| a.order_id == *write.order_id);
            if !of_order {
                return Ok(KeptAndApplied::AttemptNotOfOrder);
            }
            let key = write.record.map(|r| (r.invoice_no.clone(), r.kind, r.fingerprint.clone()));
            if key.as_ref().is_some_and(|k| t.evidence_keys.contains(k)) {
                return Ok(KeptAndApplied::RecordExisted);
            }
            if write.transition.is_some_and(|(_, read)| !t.is_unchanged(read)) {
                return Ok(KeptAndApplied::OrderChanged);
            }
            if let (Some(record), Some(key)) = (write.record, key) {
                t.evidence_keys.insert(key);
                t.evidence.push(record.clone());
            }
            if let Some((next, _)) = write.transition {
                t.put_order(next);
            }
            if write.settle
                && let Some(attempt) = t.attempts.get_mut(write.invoice_no)
            {
                attempt.due_at = None;
            }
            Ok(KeptAndApplied::Done)
        })
        .await
    }
}

impl AuditTrail for MemoryStore {
    async fn evidence(&self, invoice_no: Option<&InvoiceNo>) -> Result<Vec<EvidenceRecord>, StoreError> {
        self.read(|t| {
            let mut found: Vec<EvidenceRecord> =
                t.evidence.iter().filter(|r| r.invoice_no.as_ref() == invoice_no).cloned().collect();
            // A stable sort: records received in the same second keep their arrival order.
            found.sort_by_key(|r| r.received_at);
            Ok(found)
        })
        .await
    }
}

/// Memory has no indexes: the operator queries look through the maps.
impl Operations for MemoryStore {
    async fn orders_in_review(&self, limit: usize) -> Result<Vec<Result<Order, StoreError>>, StoreError> {
        self.read(|t| {
            let mut found: Vec<Order> =
                t.orders.values().filter(|o| o.status == StoredStatus::Review).cloned().collect();
            found.sort_by(|a, b| (a.updated_at, &a.order_id).cmp(&(b.updated_at, &b.order_id)));
            found.truncate(limit);
            // Memory holds domain values: nothing in it can be unreadable.
            Ok(found.into_iter().map(Ok).collect())
        })
        .await
    }

    async fn attempts_of(&self, order_id: &OrderId) -> Result<Vec<Attempt>, StoreError> {
        self.read(|t| {
            let mut found: Vec<Attempt> = t.attempts.values().filter(|a| a.order_id == *order_id).cloned().collect();
            found.sort_by(|a, b| (a.created_at, &a.invoice_no).cmp(&(b.created_at, &b.invoice_no)));
            Ok(found)
        })
        .await
    }

    async fn resolve_review(
        &self,
        read: &Order,
        to: ReviewOutcome,
        reason: &str,
        now: UnixSeconds,
    ) -> Result<(Order, Resolution), ResolveError> {
        let (next, resolution) = operations::resolved(read, to, reason, now)?;
        self.write(|t| {
            if !t.is_unchanged(read) {
                return Err(StoreError::ConditionFailed);
            }
            t.put_order(&next);
            t.resolutions.push(resolution.clone());
            Ok(())
        })
        .await?;
        Ok((next, resolution))
    }

    async fn resolutions_of(&self, order_id: &OrderId) -> Result<Vec<Resolution>, StoreError> {
        self.read(|t| Ok(t.resolutions.iter().filter(|r| r.order_id == *order_id).cloned().collect())).await
    }
}
