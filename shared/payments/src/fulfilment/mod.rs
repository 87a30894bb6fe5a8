//! Fulfilment events: order status changes, as the merchant's systems receive them (contract.md "Fulfilment events").
//!
//! The core is pure: [`order_event`] turns one stored change of an order into at most one event. Around
//! it, [`image`] reads the DynamoDB stream's images, [`publisher`] is the port to EventBridge (with an
//! EventBridge adapter and an in-memory one), and [`batch`] publishes one stream batch in order.

use serde::Serialize;

use crate::ids::OpenId;
use crate::order::{Order, OrderStatus, StoredStatus};
use crate::views::OrderView;

pub mod batch;
pub mod eventbridge;
#[cfg(test)]
mod fixtures;
pub mod image;
pub mod publisher;

pub use batch::{BatchFailure, BatchOutcome, StreamRecordInput, batch_deadline, publish_stream_batch};
pub use eventbridge::EventBridgePublisher;
pub use image::{ImageError, ImageSide, batch_response, event_from_images, records_from_event};
pub use publisher::{EntryOutcome, EventPublisher, MAX_ENTRIES, MemoryPublisher, PublishError};

/// `DetailType` of a new order, or of a new attempt after a failure; merchant rules match on it.
pub const ORDER_PENDING: &str = "Order Pending";
/// `DetailType` when money arrived and the order is paid: the one to ship on.
pub const ORDER_PAID: &str = "Order Paid";
/// `DetailType` when the current attempt failed; the user may still retry.
pub const ORDER_FAILED: &str = "Order Failed";
/// `DetailType` when a person must look (amount mismatch or a double payment).
pub const ORDER_NEEDS_REVIEW: &str = "Order Needs Review";

/// One EventBridge entry, bus aside: serialized with EventBridge's own field names.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderEvent {
    /// EventBridge `Source`, from `EVENT_SOURCE`, so merchants' rules can pick our events out.
    pub source: String,
    /// One of the `ORDER_*` detail types, naming the new status for rule matching.
    pub detail_type: &'static str,
    /// The JSON body merchants' targets receive.
    pub detail: EventDetail,
}

/// The event's `Detail`: the order's `GET /orders` JSON (with its stored status), plus what the
/// merchant needs to deduplicate and to reach the payer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventDetail {
    /// `{orderId}:{version}`: the same on every delivery of one change, so consumers deduplicate on it.
    pub event_id: String,
    /// The order as `GET /orders` shows it, flattened into the detail.
    #[serde(flatten)]
    pub order: OrderView,
    /// Who paid, so the merchant can reach the payer; never sent to the mini program.
    pub openid: OpenId,
    /// Why the order went to review, for the person who must look; only on review events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_reason: Option<String>,
}

impl OrderEvent {
    /// The order the event is about: events of one order must keep their order.
    pub fn order_id(&self) -> &str {
        self.detail.order.order_id.as_str()
    }
}

/// The event of one stored change, if it is one: the stored status changed (a new order counts as a
/// change to pending). A removal, or a write that only keeps books, publishes nothing.
pub fn order_event(old: Option<&Order>, new: Option<&Order>, source: &str) -> Option<OrderEvent> {
    let new = new?;
    if old.is_some_and(|old| old.status == new.status) {
        return None;
    }
    Some(OrderEvent {
        source: source.to_owned(),
        detail_type: detail_type(new.status),
        detail: EventDetail {
            event_id: format!("{}:{}", new.order_id, new.version),
            order: OrderView::with_status(new, shown(new.status)),
            openid: new.openid.clone(),
            // Like failReason in the view: shown only with the status it explains.
            review_reason: new.review_reason.clone().filter(|_| new.status == StoredStatus::Review),
        },
    })
}

/// The stored status as the contract shows it; `expired` is judged when read, so never an event.
fn shown(status: StoredStatus) -> OrderStatus {
    match status {
        StoredStatus::Pending => OrderStatus::Pending,
        StoredStatus::Paid => OrderStatus::Paid,
        StoredStatus::Failed => OrderStatus::Failed,
        StoredStatus::Review => OrderStatus::Review,
    }
}

fn detail_type(status: StoredStatus) -> &'static str {
    match status {
        StoredStatus::Pending => ORDER_PENDING,
        StoredStatus::Paid => ORDER_PAID,
        StoredStatus::Failed => ORDER_FAILED,
        StoredStatus::Review => ORDER_NEEDS_REVIEW,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::fixtures::*;
    use super::*;

    fn order() -> Order {
        new_order("A-1001")
    }

    fn event(old: Option<&Order>, new: &Order) -> OrderEvent {
        order_event(old, Some(new), SOURCE).expect("a status change is an event")
    }

    fn detail_json(event: &OrderEvent) -> serde_json::Value {
        serde_json::to_value(&event.detail).expect("detail serializes")
    }

    #[test]
    fn a_new_order_is_order_pending_with_the_contract_fields() {
        let event = event(None, &order());
        assert_eq!(event.source, SOURCE);
        assert_eq!(event.detail_type, "Order Pending");
        assert_eq!(
            detail_json(&event),
            json!({
                "eventId": "A-1001:1", "orderId": "A-1001", "invoiceNo": "INV1", "status": "pending",
                "amount": "12.50", "currency": "SGD", "description": "Latte x2", "openid": "o-alice",
                "createdAt": "2026-11-26T12:00:00Z", "updatedAt": "2026-11-26T12:00:00Z",
            })
        );
    }

    #[test]
    fn a_pending_order_paid_is_order_paid() {
        let pending = with_payment(&order());
        let event = event(Some(&pending), &paid(&pending));
        assert_eq!(event.detail_type, "Order Paid");
        assert_eq!(event.order_id(), "A-1001");
        let detail = detail_json(&event);
        assert_eq!(detail["eventId"], "A-1001:3");
        assert_eq!(detail["status"], "paid");
        assert_eq!(detail["paidInvoiceNo"], "INV1");
        assert_eq!(detail["paidAt"], "2026-11-26T12:00:30Z");
        assert_eq!(detail["updatedAt"], "2026-11-26T12:00:30Z");
        assert!(detail.get("failReason").is_none() && detail.get("reviewReason").is_none(), "{detail}");
    }

    #[test]
    fn a_pending_order_failed_is_order_failed_with_its_reason() {
        let pending = with_payment(&order());
        let event = event(Some(&pending), &failed(&pending));
        assert_eq!(event.detail_type, "Order Failed");
        let detail = detail_json(&event);
        assert_eq!(detail["status"], "failed");
        assert_eq!(detail["failReason"], "Declined");
        assert!(detail.get("paidAt").is_none(), "{detail}");
    }

    #[test]
    fn money_that_differs_puts_a_pending_order_in_review() {
        let pending = with_payment(&order());
        let event = event(Some(&pending), &review(&pending, "paid amount differs (invoice INV1)"));
        assert_eq!(event.detail_type, "Order Needs Review");
        let detail = detail_json(&event);
        assert_eq!(detail["status"], "review");
        assert_eq!(detail["reviewReason"], "paid amount differs (invoice INV1)");
        assert_eq!(detail["paidInvoiceNo"], "INV1");
    }

    #[test]
    fn a_double_payment_puts_a_paid_order_in_review() {
        let paid = paid(&with_payment(&order()));
        let event = event(Some(&paid), &review(&paid, "double payment (invoice INV2)"));
        assert_eq!(event.detail_type, "Order Needs Review");
        let detail = detail_json(&event);
        assert_eq!(detail["eventId"], "A-1001:4");
        assert_eq!(detail["paidInvoiceNo"], "INV1", "the first payment stays named");
        assert_eq!(detail["paidAt"], "2026-11-26T12:00:30Z");
        assert_eq!(detail["reviewReason"], "double payment (invoice INV2)");
    }

    #[test]
    fn a_new_attempt_after_a_failure_is_order_pending_again() {
        let failed = failed(&with_payment(&order()));
        let event = event(Some(&failed), &retried(&failed));
        assert_eq!(event.detail_type, "Order Pending");
        let detail = detail_json(&event);
        assert_eq!(detail["eventId"], "A-1001:4");
        assert_eq!(detail["invoiceNo"], "INV2");
        assert!(detail.get("failReason").is_none(), "{detail}");
    }

    #[test]
    fn a_pending_order_past_its_validity_is_still_pending_in_its_event() {
        // Expired is judged when read: the event carries the stored status, whenever it is mapped.
        let order = Order { attempt_expires_at: 0, ..order() };
        assert_eq!(detail_json(&event(None, &order))["status"], "pending");
    }

    #[test]
    fn writes_that_keep_the_status_publish_nothing() {
        let pending = order();
        assert_eq!(order_event(Some(&pending), Some(&with_payment(&pending)), SOURCE), None, "payment parameters");
        let replaced = Order { invoice_no: inv("INV2"), version: 3, ..with_payment(&pending) };
        assert_eq!(order_event(Some(&pending), Some(&replaced), SOURCE), None, "expired, then a new attempt");
        let paid = paid(&pending);
        assert_eq!(order_event(Some(&paid), Some(&Order { version: 9, ..paid.clone() }), SOURCE), None);
    }

    #[test]
    fn a_removal_publishes_nothing() {
        assert_eq!(order_event(Some(&order()), None, SOURCE), None);
        assert_eq!(order_event(None, None, SOURCE), None);
    }

    #[test]
    fn the_event_serializes_with_eventbridge_names() {
        let json = serde_json::to_value(event(None, &order())).expect("event serializes");
        assert_eq!(json["Source"], SOURCE);
        assert_eq!(json["DetailType"], "Order Pending");
        assert_eq!(json["Detail"]["eventId"], "A-1001:1");
    }
}
