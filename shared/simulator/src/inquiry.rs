//! Simulated 2C2P Payment Action 3.4 inquiry (`POST /PaymentActionV2/PaymentProcess.aspx`, processType `I`).
//!
//! Every answer is HTTP 200 with a base64 `<PaymentProcessResponse>` carrying its hashValue. respCode `00`
//! means the inquiry worked and `status` tells the state: `A` paid, `PF` failed, `AP` still pending.
//! respCode `99` means the request was refused (not a form, not base64 XML, version not 3.4, processType not
//! `I`, merchantID not ours, or a wrong hashValue: 2C2P does not say which, and the answer says nothing
//! about the invoice). respCode `15` means 2C2P never saw the invoice; 2C2P does not publish a not-found
//! code, and a distinct one lets a reconciler tell "unknown" from "refused".
//!
//! A test may set an invoice's answer ([`Simulator::set_inquiry_answer`]) and inject a [`Fault`]; every
//! inquiry is counted, and so is the most answered at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use protocol::inquiry::{ACTION_VERSION, INQUIRY, InquiryOutcome, InquiryRequest, InquiryResponse, classify_inquiry};

use crate::securepay::{WRONG_KEY, strict_base64_field};
use crate::{Fault, Inner, PaymentState, Simulator, lock, pgw_now, text};

const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// Counts an inquiry in flight for as long as it lives, so a handler cancelled mid-delay is uncounted too.
struct InFlight(Arc<Inner>);

impl InFlight {
    fn enter(inner: Arc<Inner>) -> Self {
        let now = inner.inquiries_in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        inner.max_inquiries_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(inner)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inquiries_in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The inquiry could not be processed.
pub const INQUIRY_REFUSED: &str = "99";
/// No transaction has this invoiceNo.
pub const INQUIRY_NOT_FOUND: &str = "15";
/// The inquiry worked; see `status`.
pub const INQUIRY_OK: &str = "00";

pub(crate) async fn process(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    sim.inner.inquiry_calls.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight::enter(Arc::clone(&sim.inner));
    let fault = lock(&sim.inner.inquiry_fault).clone();
    if let Some(Fault::Delay(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    let answer = match fault {
        Some(Fault::Http500) => return text(StatusCode::INTERNAL_SERVER_ERROR, CONTENT_TYPE, "Internal Server Error"),
        Some(Fault::Garbage) => {
            return text(StatusCode::OK, CONTENT_TYPE, "<html><body>Service Unavailable</body></html>");
        }
        Some(Fault::Reject) => refused(),
        _ => sim.answer_inquiry(&headers, &body),
    };
    tracing::debug!(invoice = %answer.invoice_no, resp_code = %answer.resp_code, status = %answer.status, "inquiry answered");
    let key = if fault == Some(Fault::BadSignature) { WRONG_KEY } else { sim.key() };
    text(StatusCode::OK, CONTENT_TYPE, answer.seal(key))
}

/// respCode 99: the request was refused, and the answer says nothing about the invoice.
fn refused() -> InquiryResponse {
    InquiryResponse {
        version: ACTION_VERSION.into(),
        resp_code: INQUIRY_REFUSED.into(),
        process_type: INQUIRY.into(),
        ..InquiryResponse::default()
    }
}

impl Simulator {
    fn answer_inquiry(&self, headers: &HeaderMap, body: &[u8]) -> InquiryResponse {
        let base = refused();
        let request = strict_base64_field(headers, body, "paymentRequest")
            .ok()
            .and_then(|field| InquiryRequest::from_base64(&field).ok());
        let Some(request) = request else {
            return base;
        };
        let trusted = request.version.trim() == ACTION_VERSION
            && request.process_type.trim() == INQUIRY
            && request.merchant_id == self.inner.config.merchant_id
            && request.verify(self.key());
        if !trusted {
            return base;
        }
        let set = lock(&self.inner.inquiry_answers).get(&request.invoice_no).cloned();
        let payments = lock(&self.inner.payments);
        let Some(payment) = payments.get(&request.invoice_no) else {
            return match set {
                Some(set) => InquiryResponse {
                    resp_code: INQUIRY_OK.into(),
                    invoice_no: request.invoice_no,
                    status: set.status,
                    amount: set.amount,
                    transaction_date_time: pgw_now(),
                    ..base
                },
                None => InquiryResponse { resp_code: INQUIRY_NOT_FOUND.into(), invoice_no: request.invoice_no, ..base },
            };
        };
        let mut answer = InquiryResponse {
            resp_code: INQUIRY_OK.into(),
            invoice_no: payment.invoice_no.clone(),
            amount: payment.amt.clone(),
            reference_no: payment.tran_ref.clone(),
            transaction_date_time: pgw_now(),
            user_defined1: payment.user_defined[0].clone(),
            user_defined2: payment.user_defined[1].clone(),
            user_defined3: payment.user_defined[2].clone(),
            user_defined4: payment.user_defined[3].clone(),
            user_defined5: payment.user_defined[4].clone(),
            ..base
        };
        if let Some(set) = set {
            let paid = matches!(
                classify_inquiry(INQUIRY_OK, &set.status),
                InquiryOutcome::Paid | InquiryOutcome::PaidOtherAmount { .. }
            );
            answer.status = set.status;
            answer.amount = set.amount;
            if paid {
                answer.approval_code = crate::notification::approval_code(&payment.tran_ref);
                answer.paid_agent = "WECHAT".into();
                answer.paid_channel = "WECHAT".into();
            }
            return answer;
        }
        match payment.state {
            PaymentState::Created => answer.status = "AP".into(),
            PaymentState::Failed => answer.status = "PF".into(),
            PaymentState::Paid => {
                answer.status = "A".into();
                answer.approval_code = crate::notification::approval_code(&payment.tran_ref);
                answer.transaction_date_time = payment.success_at.clone().unwrap_or(answer.transaction_date_time);
                answer.paid_agent = "WECHAT".into();
                answer.paid_channel = "WECHAT".into();
            }
        }
        answer
    }
}
