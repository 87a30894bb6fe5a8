//! Fixtures shared by this crate's unit tests and the integration tests (the `test-support` feature):
//! one order literal and its parts, so that a new field of `Order` is added in one place.
#![allow(clippy::expect_used)]

use protocol::money::{Currency, MinorUnits};
use protocol::securepay::WechatPayment;

use crate::ids::{InvoiceNo, OpenId, OrderId};
use crate::order::{Attempt, Order, StoredStatus, UnixSeconds};

/// 2026-11-26T12:00:00Z: the tests' "now".
pub const T0: UnixSeconds = 1_795_694_400;

/// An invoice number from a literal.
pub fn inv(text: &str) -> InvoiceNo {
    InvoiceNo::parse(text).expect("a valid invoiceNo")
}

/// An orderId from a literal.
pub fn order_id(text: &str) -> OrderId {
    OrderId::parse(text).expect("a valid orderId")
}

/// An openid from a literal.
pub fn openid(text: &str) -> OpenId {
    OpenId::new(text).expect("a non-empty openid")
}

/// Singapore dollars, the tests' usual currency.
pub fn sgd() -> &'static Currency {
    Currency::from_code("SGD").expect("SGD is supported")
}

/// Minor units from a literal.
pub fn minor(value: u64) -> MinorUnits {
    MinorUnits::new(value).expect("a valid amount")
}

/// `wx.requestPayment` parameters as 2C2P returns them, for `prepay_id`.
pub fn payment(prepay_id: &str) -> WechatPayment {
    let json = format!(
        r#"{{"timeStamp":"1795694405","nonceStr":"5K8264ILTKCH16CQ","package":"prepay_id={prepay_id}","signType":"RSA","paySign":"c2lnbmVk"}}"#
    );
    WechatPayment::from_json(&json).expect("valid payment parameters")
}

/// A new order for SGD 12.50, pending and held in flight (2C2P not answered yet), version 1.
pub fn order(id: &str, invoice_no: &str) -> Order {
    Order {
        order_id: order_id(id),
        openid: openid("o-alice"),
        amount: minor(1250),
        currency: sgd(),
        description: "Latte x2".into(),
        status: StoredStatus::Pending,
        invoice_no: inv(invoice_no),
        payment: None,
        attempt_expires_at: T0 + 60,
        paid_invoice_no: None,
        fail_reason: None,
        review_reason: None,
        created_at: T0,
        updated_at: T0,
        paid_at: None,
        version: 1,
    }
}

/// The current attempt of `order`, as prepay records it (due 120 s after its creation).
pub fn attempt(order: &Order) -> Attempt {
    Attempt {
        invoice_no: order.invoice_no.clone(),
        order_id: order.order_id.clone(),
        openid: order.openid.clone(),
        amount: order.amount,
        currency: order.currency,
        created_at: order.created_at,
        valid_until: order.attempt_expires_at,
        due_at: Some(order.created_at + 120),
        inquiries: 0,
        last_inquiry_at: None,
    }
}
