//! Reconciliation: the attempts whose result never arrived are found in the `due` index and asked
//! about, a few at a time, within the run's deadline. One failed inquiry never stops the run.

use std::time::Duration;

use futures_util::StreamExt as _;
use serde::Serialize;

use super::apply::Applied;
use super::inquiry::inquire_attempt;
use crate::clock::Clock;
use crate::deadline::Deadline;
use crate::ids::OrderId;
use crate::metrics::{Metrics, Unit, names};
use crate::order::{Attempt, Verdict};
use crate::store::{OrderStore, StoreError};
use crate::upstream::PgwClient;

/// At most this many inquiries are in flight at once: 2C2P is a shared service, not ours to flood.
pub const MAX_CONCURRENT_INQUIRIES: usize = 5;
/// An inquiry is not started with less time than this left: it could not finish and be applied.
const MIN_TIME_TO_START: Duration = Duration::from_secs(2);
/// The longest one inquiry (call, record, apply) may take inside a run.
const ONE_INQUIRY: Duration = Duration::from_secs(10);

/// What a run did, as the function returns it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Attempts asked about this run, whatever the answer.
    pub inquired: u32,
    /// Paid or moved to review: the money arrived.
    pub paid: u32,
    /// Attempts that ended without money.
    pub failed: u32,
    /// Answers that changed nothing (still pending, refund status, unknown invoice, ...).
    pub unchanged: u32,
    /// Inquiries that gave nothing: unreachable, timed out, garbage, a bad hash, the store.
    pub errors: u32,
}

/// What reconciliation needs.
pub struct Reconciler<'a, S> {
    /// Where due attempts are found and answers applied.
    pub store: &'a S,
    /// 2C2P client for the Payment Action inquiries.
    pub pgw: &'a PgwClient,
    /// Source of "now" for what is due and the next schedule.
    pub clock: &'a Clock,
    /// `RECONCILE_AFTER_SECONDS`: the first interval, doubled after each inquiry.
    pub first_inquiry_after: i64,
    /// Recoveries (lost notifications) and failed inquiries are counted here.
    pub metrics: Metrics,
}

impl<S: OrderStore> Reconciler<'_, S> {
    /// Inquires up to `batch` due attempts, most overdue first; the rest wait for the next run.
    pub async fn run_due(&self, batch: usize, deadline: &Deadline) -> Result<Summary, StoreError> {
        let now = self.clock.now();
        let due = deadline.run(Duration::ZERO, self.store.due_attempts(now, batch), || StoreError::OutOfTime).await?;
        if due.is_empty() {
            tracing::debug!(batch, "reconciliation run: nothing due");
            return Ok(Summary::default());
        }
        tracing::info!(due = due.len(), batch, "reconciliation run");
        Ok(self.inquire_all(due, deadline, true).await)
    }

    /// Inquires one order's current attempt now, whatever its schedule.
    pub async fn run_order(&self, order_id: &OrderId, deadline: &Deadline) -> Result<Option<Summary>, StoreError> {
        let Some(order) =
            deadline.run(Duration::ZERO, self.store.get_order(order_id), || StoreError::OutOfTime).await?
        else {
            return Ok(None);
        };
        let attempt =
            deadline.run(Duration::ZERO, self.store.get_attempt(&order.invoice_no), || StoreError::OutOfTime).await?;
        Ok(Some(self.inquire_all(attempt.into_iter().collect(), deadline, false).await))
    }

    async fn inquire_all(&self, attempts: Vec<Attempt>, deadline: &Deadline, scheduled: bool) -> Summary {
        let results: Vec<Tally> = futures_util::stream::iter(attempts)
            .map(|attempt| self.inquire_one(attempt, deadline, scheduled))
            .buffer_unordered(MAX_CONCURRENT_INQUIRIES)
            .collect()
            .await;
        let mut summary = Summary::default();
        for tally in results {
            match tally {
                Tally::Skipped => continue,
                Tally::Paid => summary.paid += 1,
                Tally::Failed => summary.failed += 1,
                Tally::Unchanged => summary.unchanged += 1,
                Tally::Error => summary.errors += 1,
            }
            summary.inquired += 1;
        }
        tracing::info!(?summary, "reconciliation done");
        summary
    }

    async fn inquire_one(&self, attempt: Attempt, deadline: &Deadline, scheduled: bool) -> Tally {
        if deadline.budget(MIN_TIME_TO_START).is_zero() {
            return Tally::Skipped;
        }
        let bound = deadline.capped(ONE_INQUIRY);
        let result = Box::pin(inquire_attempt(
            self.store,
            self.pgw,
            &attempt,
            self.clock,
            &bound,
            Duration::ZERO,
            &self.metrics,
        ))
        .await;
        let tally = match &result {
            Ok(inquired) => match (&inquired.verdict, &inquired.applied) {
                (Verdict::Paid | Verdict::PaidOtherAmount { .. }, Applied::Moved { .. }) => {
                    // 2C2P took the money and we had not heard: a notification was lost.
                    tracing::warn!(invoice = %attempt.invoice_no, order = %attempt.order_id, "payment recovered by inquiry");
                    let notes = [("orderId", attempt.order_id.as_str()), ("invoiceNo", attempt.invoice_no.as_str())];
                    self.metrics.emit(names::RECONCILE_RECOVERIES, Unit::Count, &[], 1, &notes);
                    Tally::Paid
                }
                (Verdict::Failed { .. }, Applied::Moved { .. }) => Tally::Failed,
                _ => Tally::Unchanged,
            },
            Err(failure) => {
                tracing::warn!(invoice = %attempt.invoice_no, error = %failure, "inquiry failed; asked again later");
                let error = failure.to_string();
                let notes = [("invoiceNo", attempt.invoice_no.as_str()), ("error", error.as_str())];
                self.metrics.emit(names::RECONCILE_ERRORS, Unit::Count, &[], 1, &notes);
                Tally::Error
            }
        };
        // A final answer settles the attempt when applied; one whose order is missing was applied to
        // nothing and stays on the doubling schedule, so it leaves the index with its window instead of
        // heading every batch for ever.
        let settled = matches!(&result, Ok(inquired)
            if !matches!(inquired.verdict, Verdict::Inconclusive(_)) && !matches!(inquired.applied, Applied::NoOrder));
        if scheduled && !settled {
            self.reschedule(&attempt, &bound).await;
        }
        tally
    }

    /// The next inquiry after a doubling interval, or none past the window. Losing the condition means
    /// another run or a final result got there first: nothing to do.
    async fn reschedule(&self, attempt: &Attempt, deadline: &Deadline) {
        let next = attempt.after_inquiry(self.first_inquiry_after, self.clock.now());
        let write = self.store.reschedule_attempt(&next, attempt.inquiries);
        match deadline.run(Duration::ZERO, write, || StoreError::OutOfTime).await {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(error) => {
                tracing::warn!(invoice = %attempt.invoice_no, %error, "could not reschedule; asked again next run")
            }
        }
    }
}

enum Tally {
    Skipped,
    Paid,
    Failed,
    Unchanged,
    Error,
}
