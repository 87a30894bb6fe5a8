//! The JSON the contract shows of an order, derived with serde: optional fields are left out, never null.

use protocol::money::format_amount;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids::{InvoiceNo, OrderId};
use crate::order::{Order, OrderStatus, UnixSeconds};
use crate::timefmt;

/// `GET /orders/{orderId}`'s answer; the fulfilment events carry it too.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderView {
    /// The merchant's reference the mini program asked about.
    pub order_id: OrderId,
    /// The current attempt's invoice number.
    pub invoice_no: InvoiceNo,
    /// The contract's status word, with `expired` judged at read time.
    pub status: &'static str,
    /// Major units in the currency's canonical form ("12.5" comes back "12.50"), as a string so no float is involved.
    pub amount: String,
    /// ISO 4217 alphabetic code.
    pub currency: &'static str,
    /// As the first prepay gave it, not 2C2P's cleaned copy.
    pub description: String,
    /// When the order was recorded, RFC 3339.
    pub created_at: String,
    /// Last change this JSON shows, RFC 3339; bookkeeping writes leave it alone.
    pub updated_at: String,
    /// When it was paid, RFC 3339; only once paid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<String>,
    /// The attempt whose money arrived, when paid or in review.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_invoice_no: Option<InvoiceNo>,
    /// Why the current attempt failed; only while the status is `failed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
}

impl OrderView {
    /// The order as read at `now` (a pending attempt past its validity reads as expired).
    pub fn at(order: &Order, now: UnixSeconds) -> Self {
        Self::with_status(order, order.status_at(now))
    }

    /// The order with the status given (the stored one, for events; the one read at a time, for GET).
    pub fn with_status(order: &Order, status: OrderStatus) -> Self {
        Self {
            order_id: order.order_id.clone(),
            invoice_no: order.invoice_no.clone(),
            status: status.as_str(),
            amount: format_amount(order.amount, order.currency),
            currency: order.currency.code,
            description: order.description.clone(),
            created_at: timefmt::rfc3339(order.created_at),
            updated_at: timefmt::rfc3339(order.updated_at),
            paid_at: order.paid_at.map(timefmt::rfc3339),
            paid_invoice_no: order.paid_invoice_no.clone(),
            fail_reason: order.fail_reason.clone().filter(|_| status == OrderStatus::Failed),
        }
    }
}

/// `POST /prepay`'s answer: the current attempt and its `wx.requestPayment` parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrepayView {
    /// The order the parameters are for.
    pub order_id: OrderId,
    /// The attempt these parameters pay; a retry within their validity gets the same one.
    pub invoice_no: InvoiceNo,
    /// Always `pending`: parameters are only given for an unpaid order.
    pub status: &'static str,
    /// Major units in the currency's canonical form ("12.5" comes back "12.50").
    pub amount: String,
    /// ISO 4217 alphabetic code.
    pub currency: &'static str,
    /// 2C2P's object, keys and values unchanged.
    pub payment: Map<String, Value>,
}

impl PrepayView {
    /// The answer for `order`'s current attempt and the `payment` 2C2P gave for it.
    pub fn of(order: &Order, payment: &protocol::securepay::WechatPayment) -> Self {
        Self {
            order_id: order.order_id.clone(),
            invoice_no: order.invoice_no.clone(),
            status: OrderStatus::Pending.as_str(),
            amount: format_amount(order.amount, order.currency),
            currency: order.currency.code,
            payment: payment.as_map().clone(),
        }
    }
}
