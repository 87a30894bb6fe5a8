//! The order store port, and its two adapters: DynamoDB and in-memory, with the same conditional semantics.
//!
//! Every state change is a conditional write: an order is opened only if its orderId is new, replaced
//! only if the stored version (and status) is still the one the caller read, and an order and its
//! attempt that must change together are written in one transaction. Evidence records are append-only
//! and recognise a replay.

use std::future::Future;

use thiserror::Error;

use crate::ids::{InvoiceNo, OrderId};
use crate::order::{Attempt, Order, UnixSeconds};

pub mod dynamo;
mod evidence;
pub mod memory;
pub mod operations;

pub use dynamo::DynamoStore;
pub use evidence::{Classification, EvidenceKind, EvidenceRecord, ReportedFields, fingerprint};
pub use memory::MemoryStore;
pub use operations::{Operations, Resolution, ResolveError, ReviewOutcome};

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
    /// The request ran out of time before the store answered.
    #[error("the store did not answer before the request's deadline")]
    OutOfTime,
    /// A stored item could not be read back into the domain (a bug or a manual edit).
    #[error("stored item {key} is unreadable: {reason}")]
    Corrupt {
        /// The item's `pk/sk`, so a person can find and fix it.
        key: String,
        /// Which attribute is missing or ill-formed, and how.
        reason: String,
    },
}

/// Whether a piece of evidence was new or a replay of one kept before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// First time this evidence is kept: act on it.
    New,
    /// The same evidence was kept before: answer as before, change nothing.
    Replay,
}

/// What [`OrderStore::keep_and_apply`] did. Nothing was written unless `Done`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptAndApplied {
    /// The record (if given) was kept and the change (if any) applied, together.
    Done,
    /// A record with the same key was kept before: a replay.
    RecordExisted,
    /// No attempt with that invoice belongs to that order.
    AttemptNotOfOrder,
    /// The order is no longer the one read.
    OrderChanged,
    /// Another transaction was writing the same items at that moment: nothing was decided, try again.
    Contended,
}

/// What evidence about one attempt changes, for [`OrderStore::keep_and_apply`].
#[derive(Debug, Clone, Copy)]
pub struct EvidenceWrite<'a> {
    /// The evidence to keep; `None` once it is known to be kept already.
    pub record: Option<&'a EvidenceRecord>,
    /// The attempt it is about, which must belong to `order_id`.
    pub invoice_no: &'a InvoiceNo,
    /// The order the attempt must belong to; the write is refused otherwise.
    pub order_id: &'a OrderId,
    /// Take the attempt out of the reconciliation index (the evidence is final).
    pub settle: bool,
    /// The order's transition: (next, as read).
    pub transition: Option<(&'a Order, &'a Order)>,
}

/// The persistence port the use cases depend on.
pub trait OrderStore: Send + Sync + 'static {
    /// The order, if it exists.
    fn get_order(&self, order_id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send;

    /// Stores a new order and its first attempt in one transaction; `ConditionFailed` if the orderId
    /// (or the invoiceNo) exists already, and then neither is written.
    fn open_order(&self, order: &Order, attempt: &Attempt) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces `read` by `next` (conditional on `read`'s version and status) and adds the new attempt
    /// `attempt`, in one transaction.
    fn start_attempt(
        &self,
        next: &Order,
        read: &Order,
        attempt: &Attempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Replaces `read` by `next`, conditional on `read`'s version and status; with `attempt`, that
    /// attempt's reconciliation books (validity, due time) are written in the same transaction.
    fn replace_order(
        &self,
        next: &Order,
        read: &Order,
        attempt: Option<&Attempt>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The attempt behind an invoiceNo, if any.
    fn get_attempt(&self, invoice_no: &InvoiceNo) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send;

    /// Writes an attempt's schedule after a scheduled inquiry: `ConditionFailed` unless it is still due
    /// and still at `expected_inquiries` (another run, or a final result, got there first).
    fn reschedule_attempt(
        &self,
        next: &Attempt,
        expected_inquiries: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes the attempt out of the reconciliation index: nothing about it can change any more.
    fn settle_attempt(&self, invoice_no: &InvoiceNo) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Claims the right to inquire about an attempt at `now`: the attempt's last inquiry time becomes
    /// `now` only if there was none at or after `now - min_gap_seconds`. `None`: someone else asked
    /// recently (or there is no such attempt), so don't.
    fn claim_inquiry(
        &self,
        invoice_no: &InvoiceNo,
        now: UnixSeconds,
        min_gap_seconds: i64,
    ) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send;

    /// Up to `limit` attempts due for reconciliation at `now`, most overdue first, read from an index.
    fn due_attempts(
        &self,
        now: UnixSeconds,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Attempt>, StoreError>> + Send;

    /// Appends verified evidence; a record with the same invoice, kind and fingerprint is a replay.
    fn record_evidence(&self, record: &EvidenceRecord) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// Keeps evidence and applies what it changes in one transaction, checking that the attempt belongs
    /// to the order: with the order read before, a notification costs two round trips.
    fn keep_and_apply(
        &self,
        write: EvidenceWrite<'_>,
    ) -> impl Future<Output = Result<KeptAndApplied, StoreError>> + Send;
}

/// Reading the audit trail back: for operators and tests, not for the functions (no function has
/// Query rights on the table's main key).
pub trait AuditTrail {
    /// The evidence kept for an invoice (`None`: the unreadable notifications), oldest first.
    fn evidence(
        &self,
        invoice_no: Option<&InvoiceNo>,
    ) -> impl Future<Output = Result<Vec<EvidenceRecord>, StoreError>> + Send;
}

/// The reconciliation index is spread over this many partitions, so that it holds at thousands of
/// attempts a second (one partition key throttles at about a thousand writes a second).
pub const DUE_SHARDS: u32 = 16;

/// The index partition an attempt's schedule lives in: fixed by its invoice number.
pub fn due_shard(invoice_no: &InvoiceNo) -> u32 {
    invoice_no.as_str().bytes().fold(0u32, |sum, b| sum.wrapping_mul(31).wrapping_add(u32::from(b))) % DUE_SHARDS
}

/// One store shared by several use cases (the sandbox serves every route from one process).
impl<S: OrderStore> OrderStore for std::sync::Arc<S> {
    fn get_order(&self, order_id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        (**self).get_order(order_id)
    }

    fn open_order(&self, order: &Order, attempt: &Attempt) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).open_order(order, attempt)
    }

    fn start_attempt(
        &self,
        next: &Order,
        read: &Order,
        attempt: &Attempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).start_attempt(next, read, attempt)
    }

    fn replace_order(
        &self,
        next: &Order,
        read: &Order,
        attempt: Option<&Attempt>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).replace_order(next, read, attempt)
    }

    fn get_attempt(&self, invoice_no: &InvoiceNo) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send {
        (**self).get_attempt(invoice_no)
    }

    fn reschedule_attempt(
        &self,
        next: &Attempt,
        expected_inquiries: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).reschedule_attempt(next, expected_inquiries)
    }

    fn settle_attempt(&self, invoice_no: &InvoiceNo) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).settle_attempt(invoice_no)
    }

    fn claim_inquiry(
        &self,
        invoice_no: &InvoiceNo,
        now: UnixSeconds,
        min_gap_seconds: i64,
    ) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send {
        (**self).claim_inquiry(invoice_no, now, min_gap_seconds)
    }

    fn due_attempts(
        &self,
        now: UnixSeconds,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Attempt>, StoreError>> + Send {
        (**self).due_attempts(now, limit)
    }

    fn record_evidence(&self, record: &EvidenceRecord) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        (**self).record_evidence(record)
    }

    fn keep_and_apply(
        &self,
        write: EvidenceWrite<'_>,
    ) -> impl Future<Output = Result<KeptAndApplied, StoreError>> + Send {
        (**self).keep_and_apply(write)
    }
}

impl<S: AuditTrail + Sync + Send> AuditTrail for std::sync::Arc<S> {
    fn evidence(
        &self,
        invoice_no: Option<&InvoiceNo>,
    ) -> impl Future<Output = Result<Vec<EvidenceRecord>, StoreError>> + Send {
        (**self).evidence(invoice_no)
    }
}
