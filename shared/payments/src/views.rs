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
    pub order_id: OrderId,
    pub invoice_no: InvoiceNo,
    pub status: &'static str,
    pub amount: String,
    pub currency: &'static str,
    pub description: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_invoice_no: Option<InvoiceNo>,
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
    pub order_id: OrderId,
    pub invoice_no: InvoiceNo,
    pub status: &'static str,
    pub amount: String,
    pub currency: &'static str,
    /// 2C2P's object, keys and values unchanged.
    pub payment: Map<String, Value>,
}

impl PrepayView {
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
