//! Orders at each step of the state machine, and their stored items, for the tests of this module.

use aws_sdk_dynamodb::types::AttributeValue;
use protocol::securepay::WechatPayment;

use crate::order::{Order, StoredStatus};
use crate::store::dynamo::Item;

pub const SOURCE: &str = "wcmini.payments";
pub use crate::testing::T0;

pub use crate::testing::inv;

pub fn new_order(order_id: &str) -> Order {
    crate::testing::order(order_id, "INV1")
}

pub fn with_payment(order: &Order) -> Order {
    let payment = WechatPayment::from_json(
        r#"{"timeStamp":"1","nonceStr":"n","package":"prepay_id=p","signType":"RSA","paySign":"s"}"#,
    )
    .expect("payment");
    Order { payment: Some(payment), attempt_expires_at: T0 + 900, version: order.version + 1, ..order.clone() }
}

pub fn paid(order: &Order) -> Order {
    Order {
        status: StoredStatus::Paid,
        paid_invoice_no: Some(order.invoice_no.clone()),
        paid_at: Some(T0 + 30),
        updated_at: T0 + 30,
        version: order.version + 1,
        ..order.clone()
    }
}

pub fn failed(order: &Order) -> Order {
    Order {
        status: StoredStatus::Failed,
        fail_reason: Some("Declined".into()),
        updated_at: T0 + 20,
        version: order.version + 1,
        ..order.clone()
    }
}

pub fn review(order: &Order, reason: &str) -> Order {
    Order {
        status: StoredStatus::Review,
        paid_invoice_no: order.paid_invoice_no.clone().or_else(|| Some(order.invoice_no.clone())),
        paid_at: order.paid_at.or(Some(T0 + 40)),
        review_reason: Some(reason.into()),
        updated_at: T0 + 40,
        version: order.version + 1,
        ..order.clone()
    }
}

/// A new attempt after a failure, as prepay writes it.
pub fn retried(order: &Order) -> Order {
    Order {
        status: StoredStatus::Pending,
        invoice_no: inv("INV2"),
        payment: None,
        fail_reason: None,
        updated_at: T0 + 50,
        version: order.version + 1,
        ..order.clone()
    }
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// The order's item, in store/dynamo.rs's layout (its encoder is private; the round trip through
/// `order_from_item` is checked by the tests that use this).
pub fn item(order: &Order) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(&format!("ORDER#{}", order.order_id))),
        ("sk".to_owned(), s("ORDER")),
        ("orderId".to_owned(), s(order.order_id.as_str())),
        ("openid".to_owned(), s(order.openid.as_str())),
        ("amountMinor".to_owned(), n(order.amount.get())),
        ("currency".to_owned(), s(order.currency.code)),
        ("description".to_owned(), s(&order.description)),
        ("status".to_owned(), s(order.status.as_str())),
        ("invoiceNo".to_owned(), s(order.invoice_no.as_str())),
        ("attemptExpiresAt".to_owned(), n(order.attempt_expires_at)),
        ("createdAt".to_owned(), n(order.created_at)),
        ("updatedAt".to_owned(), n(order.updated_at)),
        ("version".to_owned(), n(order.version)),
    ]);
    let optional = [
        ("payment", order.payment.as_ref().map(|p| s(&p.to_json()))),
        ("paidInvoiceNo", order.paid_invoice_no.as_ref().map(|i| s(i.as_str()))),
        ("failReason", order.fail_reason.as_deref().map(s)),
        ("reviewReason", order.review_reason.as_deref().map(s)),
        ("paidAt", order.paid_at.map(n)),
    ];
    item.extend(optional.into_iter().filter_map(|(name, value)| Some((name.to_owned(), value?))));
    item
}
