//! The operator's port: what a person needs that the functions never do. Orders in review and an
//! order's attempts are read through indexes (never a scan), and a review is resolved by hand with a
//! reason that is kept. Used by `payments-admin`, with the operator's own credentials: no function
//! has rights on the `review` and `attempts` indexes, and none needs them.
//!
//! Kept apart from [`OrderStore`](super::OrderStore) so the functions' port does not grow.

use std::future::Future;

use thiserror::Error;

use super::StoreError;
use crate::ids::OrderId;
use crate::order::{Attempt, Order, StoredStatus, UnixSeconds};

/// The sparse index of the orders in review (template.yaml): partition `reviewKey`, sort `updatedAt`.
pub const REVIEW_INDEX: &str = "review";
/// The one `reviewKey` value. Reviews are rare (a few a day at worst), so one partition is plenty.
pub const REVIEW_KEY: &str = "REVIEW";
/// The index of every attempt by its order (template.yaml): partition `orderKey`, sort `createdAt`.
pub const ATTEMPTS_INDEX: &str = "attempts";
/// The `failReason` an order closed from review as failed shows: the operator's own reason stays
/// internal (the shopper sees `failReason` in `GET /orders`).
pub const FAILED_BY_OPERATOR: &str = "closed by the merchant after review";
/// The longest reason kept: a sentence or a ticket reference, not a document.
pub const MAX_REASON_CHARS: usize = 1000;

/// Where a person may move an order out of review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewOutcome {
    /// The money is right (or was settled with the customer): the order is paid.
    Paid,
    /// The money was refunded: the order did not go through, and may be paid again.
    Failed,
}

impl ReviewOutcome {
    /// The word an operator types and the tool prints (`paid` or `failed`).
    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }

    /// Reads an operator's choice; `None` for anything but `paid` or `failed`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "paid" => Some(Self::Paid),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }

    /// The stored status the order moves to.
    pub fn status(self) -> StoredStatus {
        match self {
            Self::Paid => StoredStatus::Paid,
            Self::Failed => StoredStatus::Failed,
        }
    }
}

/// A person's decision on an order in review. Each is kept as its own record beside the order, so a
/// later write of the order (a new attempt, another double payment) never loses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The order decided about.
    pub order_id: OrderId,
    /// Where the person moved it.
    pub to: ReviewOutcome,
    /// The operator's reason, as given.
    pub reason: String,
    /// When it was resolved, for the order's history.
    pub resolved_at: UnixSeconds,
    /// Why the order was in review: what was decided about.
    pub review_reason: Option<String>,
    /// The order's version that the resolution wrote.
    pub version: u64,
}

/// Why a review was not resolved.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ResolveError {
    /// The order is not in review, so there is nothing for a person to resolve.
    #[error("order {order_id} is {status}, not in review: only an order in review can be resolved")]
    NotInReview {
        /// The order the operator named.
        order_id: OrderId,
        /// Its status now, so the operator sees why nothing was done.
        status: &'static str,
    },
    /// The reason is empty or over [`MAX_REASON_CHARS`]; every resolution must say why.
    #[error("the reason must be 1 to {MAX_REASON_CHARS} characters")]
    BadReason,
    /// `ConditionFailed`: the order changed since it was read; read it again and decide again.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What operators read and do, on either store.
pub trait Operations: Send + Sync {
    /// Up to `limit` orders in review, longest waiting first, from the `review` index. An item that
    /// cannot be read is listed as its error (it names the item): one bad item must not hide the others
    /// from the person on call.
    fn orders_in_review(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Result<Order, StoreError>>, StoreError>> + Send;

    /// Every attempt of the order that the `attempts` index knows, oldest first.
    fn attempts_of(&self, order_id: &OrderId) -> impl Future<Output = Result<Vec<Attempt>, StoreError>> + Send;

    /// Moves `read` (an order in review, as read) to `to`, conditional on its version and status,
    /// and keeps the resolution, in one transaction. Answers the order as written.
    fn resolve_review(
        &self,
        read: &Order,
        to: ReviewOutcome,
        reason: &str,
        now: UnixSeconds,
    ) -> impl Future<Output = Result<(Order, Resolution), ResolveError>> + Send;

    /// The resolutions of an order, oldest first.
    fn resolutions_of(&self, order_id: &OrderId) -> impl Future<Output = Result<Vec<Resolution>, StoreError>> + Send;
}

/// The order once a person resolved its review, and the record of it: the decision itself, shared
/// by both stores. The paid attempt and time stay on a paid order; a failed one drops them (the
/// contract shows them only when paid) and the resolution record keeps why.
pub fn resolved(
    read: &Order,
    to: ReviewOutcome,
    reason: &str,
    now: UnixSeconds,
) -> Result<(Order, Resolution), ResolveError> {
    if read.status != StoredStatus::Review {
        return Err(ResolveError::NotInReview { order_id: read.order_id.clone(), status: read.status.as_str() });
    }
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ResolveError::BadReason);
    }
    let next = match to {
        ReviewOutcome::Paid => Order {
            status: StoredStatus::Paid,
            paid_invoice_no: read.paid_invoice_no.clone().or_else(|| Some(read.invoice_no.clone())),
            paid_at: read.paid_at.or(Some(now)),
            fail_reason: None,
            updated_at: now,
            version: read.version + 1,
            ..read.clone()
        },
        ReviewOutcome::Failed => Order {
            status: StoredStatus::Failed,
            paid_invoice_no: None,
            paid_at: None,
            fail_reason: Some(FAILED_BY_OPERATOR.to_owned()),
            updated_at: now,
            version: read.version + 1,
            ..read.clone()
        },
    };
    let resolution = Resolution {
        order_id: read.order_id.clone(),
        to,
        reason: reason.to_owned(),
        resolved_at: now,
        review_reason: read.review_reason.clone(),
        version: next.version,
    };
    Ok((next, resolution))
}

#[cfg(test)]
mod tests {
    use protocol::money::{Currency, MinorUnits};

    use super::*;
    use crate::ids::{InvoiceNo, OpenId};
    use crate::order::{Effect, Evidence, OrderTerms, Verdict};
    use crate::store::{MemoryStore, OrderStore};

    const T0: UnixSeconds = 1_800_000_000;

    fn inv(text: &str) -> InvoiceNo {
        InvoiceNo::parse(text).expect("invoice")
    }

    fn terms(order_id: &str) -> OrderTerms {
        OrderTerms {
            order_id: OrderId::parse(order_id).expect("id"),
            amount: MinorUnits::new(1250).expect("amount"),
            currency: Currency::from_code("SGD").expect("SGD"),
            description: "Latte".into(),
            desc_for_pgw: "Latte".into(),
        }
    }

    /// Opens `order_id` with attempt `invoice` at `at`, and pays it with the wrong amount (review)
    /// when `review` is set.
    async fn seed(store: &MemoryStore, order_id: &str, invoice: &str, at: UnixSeconds, review: bool) -> Order {
        let (order, attempt) = Order::open(&terms(order_id), OpenId::new("o1").expect("openid"), inv(invoice), 120, at);
        store.open_order(&order, &attempt).await.expect("open");
        if !review {
            return order;
        }
        let evidence = Evidence {
            verdict: Verdict::Paid,
            amount: Some(MinorUnits::new(1000).expect("amount")),
            currency_numeric: None,
        };
        let Effect::Transition(next) = order.on_evidence(&attempt, &evidence, at + 10) else {
            panic!("a wrong amount moves the order");
        };
        store.replace_order(&next, &order, None).await.expect("to review");
        *next
    }

    #[tokio::test]
    async fn orders_in_review_are_listed_longest_waiting_first() {
        let store = MemoryStore::new();
        seed(&store, "R-2", "INV2", T0 + 100, true).await;
        seed(&store, "R-1", "INV1", T0, true).await;
        seed(&store, "P-1", "INV3", T0, false).await;
        let listed: Vec<Order> =
            store.orders_in_review(10).await.expect("list").into_iter().collect::<Result<_, _>>().expect("readable");
        let ids: Vec<&str> = listed.iter().map(|o| o.order_id.as_str()).collect();
        assert_eq!(ids, ["R-1", "R-2"]);
        assert_eq!(store.orders_in_review(1).await.expect("list").len(), 1);
    }

    #[tokio::test]
    async fn attempts_of_an_order_are_its_own_oldest_first() {
        let store = MemoryStore::new();
        let order = seed(&store, "A-1", "INV1", T0, false).await;
        seed(&store, "A-2", "INV9", T0, false).await;
        let failed = order.with_failed_attempt("refused", T0 + 5);
        store.replace_order(&failed, &order, None).await.expect("failed");
        let (next, attempt) = failed.with_new_attempt(inv("INV2"), 120, T0 + 60);
        store.start_attempt(&next, &failed, &attempt).await.expect("second attempt");
        let attempts = store.attempts_of(&order.order_id).await.expect("attempts");
        let invoices: Vec<&str> = attempts.iter().map(|a| a.invoice_no.as_str()).collect();
        assert_eq!(invoices, ["INV1", "INV2"]);
    }

    #[tokio::test]
    async fn resolving_moves_review_to_paid_and_keeps_the_reason() {
        let store = MemoryStore::new();
        let review = seed(&store, "R-1", "INV1", T0, true).await;
        let (written, resolution) = store
            .resolve_review(&review, ReviewOutcome::Paid, "  difference waived, ticket 42 ", T0 + 99)
            .await
            .expect("resolve");
        assert_eq!(
            (written.status, written.version, written.updated_at),
            (StoredStatus::Paid, review.version + 1, T0 + 99)
        );
        assert_eq!(written.paid_invoice_no, Some(inv("INV1")));
        assert_eq!(store.get_order(&review.order_id).await.expect("read"), Some(written.clone()));
        assert_eq!(resolution.reason, "difference waived, ticket 42");
        assert_eq!(resolution.review_reason, review.review_reason);
        assert_eq!(store.resolutions_of(&review.order_id).await.expect("resolutions"), vec![resolution]);
        assert!(store.orders_in_review(10).await.expect("list").is_empty(), "out of the review list");
    }

    #[tokio::test]
    async fn resolving_to_failed_drops_the_payment_fields() {
        let store = MemoryStore::new();
        let review = seed(&store, "R-1", "INV1", T0, true).await;
        let (written, _) =
            store.resolve_review(&review, ReviewOutcome::Failed, "refunded in full", T0 + 99).await.expect("resolve");
        assert_eq!(written.status, StoredStatus::Failed);
        assert_eq!((written.paid_at, written.paid_invoice_no.clone()), (None, None));
        assert_eq!(written.fail_reason.as_deref(), Some(FAILED_BY_OPERATOR));
    }

    #[tokio::test]
    async fn resolving_refuses_orders_not_in_review_stale_reads_and_empty_reasons() {
        let store = MemoryStore::new();
        let pending = seed(&store, "P-1", "INV1", T0, false).await;
        assert!(matches!(
            store.resolve_review(&pending, ReviewOutcome::Paid, "x", T0).await,
            Err(ResolveError::NotInReview { status: "pending", .. })
        ));
        let review = seed(&store, "R-1", "INV2", T0, true).await;
        assert_eq!(store.resolve_review(&review, ReviewOutcome::Paid, " ", T0).await, Err(ResolveError::BadReason));
        let long = "x".repeat(MAX_REASON_CHARS + 1);
        assert_eq!(store.resolve_review(&review, ReviewOutcome::Paid, &long, T0).await, Err(ResolveError::BadReason));
        store.resolve_review(&review, ReviewOutcome::Paid, "ok", T0 + 1).await.expect("first resolution");
        assert_eq!(
            store.resolve_review(&review, ReviewOutcome::Failed, "again", T0 + 2).await,
            Err(ResolveError::Store(StoreError::ConditionFailed)),
            "a second person acting on the same read loses"
        );
        assert_eq!(store.resolutions_of(&review.order_id).await.expect("resolutions").len(), 1);
    }

    #[test]
    fn outcomes_parse() {
        assert_eq!(ReviewOutcome::parse("paid"), Some(ReviewOutcome::Paid));
        assert_eq!(ReviewOutcome::parse("failed").map(ReviewOutcome::as_str), Some("failed"));
        assert_eq!(ReviewOutcome::parse("review"), None);
    }
}
