//! The order store port, and its two adapters: DynamoDB and in-memory, with the same conditional semantics.
//!
//! Every state change is one conditional write: an order is inserted only if its orderId is new,
//! replaced only if the stored version (and status) is still the one the caller read. Notifications
//! are append-only and recognise a replay.

use std::future::Future;

use thiserror::Error;

use crate::order::{Attempt, Order, StoredStatus, UnixSeconds};

pub mod dynamo;
pub mod memory;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

/// Why the store could not do what was asked. A failed condition is not an outage.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The item exists already, or is no longer at the expected version/status.
    #[error("the stored item changed or exists already (condition failed)")]
    ConditionFailed,
    /// The store is throttling us; retrying later may work.
    #[error("the store is throttling requests")]
    Throttled,
    /// The store could not be reached or failed.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// A stored item could not be read back into the domain (a bug or a manual edit).
    #[error("stored item {key} is unreadable: {reason}")]
    Corrupt { key: String, reason: String },
}

/// Whether a notification was new or a replay of one kept before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Replay,
}

/// One verified notification, exactly as 2C2P sent it, plus what we read from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    /// uniqueTransactionCode; `None` when the signed payload could not be read.
    pub invoice_no: Option<String>,
    /// SHA-256 hex of the raw envelope: the replay key.
    pub fingerprint: String,
    pub received_at: UnixSeconds,
    pub resp_code: String,
    pub status: String,
    pub amt: String,
    pub currency_code: String,
    pub fail_reason: String,
    /// What we made of it: `paid`, `failed`, `pending`, `unrecognised`, `unreadable`, `unknown_invoice`…
    pub classification: String,
    /// The raw signed envelope (the `paymentResponse` value), kept for audit; never logged.
    pub envelope: String,
}

/// The persistence port the handlers depend on.
pub trait OrderStore: Send + Sync + 'static {
    /// The order, if it exists.
    fn get_order(&self, order_id: &str) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    /// Stores a new order; `ConditionFailed` if the orderId exists.
    fn insert_order(&self, order: &Order) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces an order; `ConditionFailed` unless the stored one is still at `expected_version` and
    /// `expected_status`. `next.version` must be `expected_version + 1`.
    fn replace_order(
        &self,
        next: &Order,
        expected_version: u64,
        expected_status: StoredStatus,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Records an attempt in the invoice index; `ConditionFailed` if the invoiceNo exists.
    fn insert_attempt(&self, attempt: &Attempt) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The attempt behind an invoiceNo, if any.
    fn get_attempt(&self, invoice_no: &str) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send;

    /// Appends a verified notification; a record with the same invoice and fingerprint is a replay.
    fn record_notification(
        &self,
        record: &NotificationRecord,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// The notifications kept for an invoice (`None`: the unreadable ones), oldest first. For audit and tests.
    fn notifications(
        &self,
        invoice_no: Option<&str>,
    ) -> impl Future<Output = Result<Vec<NotificationRecord>, StoreError>> + Send;
}

/// One store shared by several handlers (the sandbox serves prepay and notify from one process).
impl<S: OrderStore> OrderStore for std::sync::Arc<S> {
    fn get_order(&self, order_id: &str) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        (**self).get_order(order_id)
    }

    fn insert_order(&self, order: &Order) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).insert_order(order)
    }

    fn replace_order(
        &self,
        next: &Order,
        expected_version: u64,
        expected_status: StoredStatus,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).replace_order(next, expected_version, expected_status)
    }

    fn insert_attempt(&self, attempt: &Attempt) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).insert_attempt(attempt)
    }

    fn get_attempt(&self, invoice_no: &str) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send {
        (**self).get_attempt(invoice_no)
    }

    fn record_notification(
        &self,
        record: &NotificationRecord,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        (**self).record_notification(record)
    }

    fn notifications(
        &self,
        invoice_no: Option<&str>,
    ) -> impl Future<Output = Result<Vec<NotificationRecord>, StoreError>> + Send {
        (**self).notifications(invoice_no)
    }
}
