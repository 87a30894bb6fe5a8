//! Apply a payment result: the one read-decide-write loop that moves an order on 2C2P's evidence,
//! whichever path brought it (a notification, a scheduled inquiry, a read, a prepay).

use std::time::Duration;

use crate::clock::Clock;
use crate::deadline::Deadline;
use crate::metrics::Metrics;
use crate::order::{Attempt, Effect, Evidence, Order, StoredStatus};
use crate::store::{OrderStore, StoreError};

/// Conditional writes that lose a race re-read and try again this many times.
const MAX_TRANSITION_TRIES: usize = 8;

/// What the evidence did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The order moved from `from` to the order now stored.
    Moved {
        /// The status before, so callers can count what changed (paid, to review).
        from: StoredStatus,
        /// The order as the winning write stored it.
        order: Box<Order>,
    },
    /// Nothing to write; the order as read, and why.
    Unchanged {
        /// The order as last read, still what the caller should answer with.
        order: Box<Order>,
        /// A short reason for the log (still pending, order in review, already paid, ...).
        why: &'static str,
    },
    /// The attempt's order does not exist (a bug, or a manual edit): the evidence is kept, nothing moves.
    NoOrder,
}

impl Applied {
    /// The order after the evidence, if there is one.
    pub fn order(&self) -> Option<&Order> {
        match self {
            Self::Moved { order, .. } | Self::Unchanged { order, .. } => Some(order),
            Self::NoOrder => None,
        }
    }
}

/// Applies verified evidence about `attempt` to its order: read, decide, conditional write, and on a
/// lost race read again. Final evidence also takes the attempt out of the reconciliation index (in
/// the same transaction when the order moves). Every store call is bounded by `deadline`, leaving
/// `reserve` for what the caller still has to do. A move to paid or review is counted in `metrics`,
/// here, so that every path that brings evidence counts it once.
pub async fn apply_evidence<S: OrderStore>(
    store: &S,
    attempt: &Attempt,
    evidence: &Evidence,
    clock: &Clock,
    deadline: &Deadline,
    reserve: Duration,
    metrics: &Metrics,
) -> Result<Applied, StoreError> {
    let settled = attempt.settled();
    for _ in 0..MAX_TRANSITION_TRIES {
        let read = deadline.run(reserve, store.get_order(&attempt.order_id), || StoreError::OutOfTime).await?;
        let Some(order) = read else {
            tracing::error!(invoice = %attempt.invoice_no, "attempt without its order; evidence kept, no order changed");
            return Ok(Applied::NoOrder);
        };
        match order.on_evidence(attempt, evidence, clock.now()) {
            Effect::NoChange(why) => {
                if evidence.is_final() && attempt.due_at.is_some() {
                    let settle = store.settle_attempt(&attempt.invoice_no);
                    // Bookkeeping only: if it fails, the next inquiry finds the same answer and settles.
                    if let Err(error) = deadline.run(reserve, settle, || StoreError::OutOfTime).await {
                        tracing::warn!(invoice = %attempt.invoice_no, %error, "could not take the attempt off the schedule");
                    }
                }
                tracing::info!(invoice = %attempt.invoice_no, order_status = order.status.as_str(), why, "no transition");
                return Ok(Applied::Unchanged { order: Box::new(order), why });
            }
            Effect::Transition(next) => {
                let books = evidence.is_final().then_some(&settled);
                let write = store.replace_order(&next, &order, books);
                match deadline.run(reserve, write, || StoreError::OutOfTime).await {
                    Ok(()) => {
                        tracing::info!(
                            invoice = %attempt.invoice_no,
                            order = %order.order_id,
                            from = order.status.as_str(),
                            to = next.status.as_str(),
                            "order moved"
                        );
                        metrics.order_moved(order.status, &next, &attempt.invoice_no);
                        return Ok(Applied::Moved { from: order.status, order: next });
                    }
                    Err(StoreError::ConditionFailed) => continue,
                    Err(other) => return Err(other),
                }
            }
        }
    }
    tracing::error!(invoice = %attempt.invoice_no, "order kept changing under the evidence");
    Err(StoreError::Unavailable("the order kept changing; try again".to_owned()))
}
