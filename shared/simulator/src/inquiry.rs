//! Simulated 2C2P Payment Action 3.4 inquiry (`POST /PaymentActionV2/PaymentProcess.aspx`, processType `I`).
//!
//! Every answer is HTTP 200 with a base64 `<PaymentProcessResponse>` carrying its hashValue. respCode `00`
//! means the inquiry worked and `status` tells the state: `A` paid, `PF` failed, `AP` still pending.
//! respCode `99` means the request was refused (not a form, not base64 XML, version not 3.4, processType not
//! `I`, merchantID not ours, or a wrong hashValue: 2C2P does not say which, and the answer says nothing
//! about the invoice). respCode `15` means 2C2P never saw the invoice; 2C2P does not publish a not-found
//! code, and a distinct one lets a reconciler tell "unknown" from "refused".

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use protocol::inquiry::{ACTION_VERSION, INQUIRY, InquiryRequest, InquiryResponse};

use crate::securepay::strict_base64_field;
use crate::{PaymentState, Simulator, lock, pgw_now, text};

/// The inquiry could not be processed.
pub const INQUIRY_REFUSED: &str = "99";
/// No transaction has this invoiceNo.
pub const INQUIRY_NOT_FOUND: &str = "15";
/// The inquiry worked; see `status`.
pub const INQUIRY_OK: &str = "00";

pub(crate) async fn process(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    let answer = sim.answer_inquiry(&headers, &body);
    tracing::debug!(invoice = %answer.invoice_no, resp_code = %answer.resp_code, status = %answer.status, "inquiry answered");
    text(StatusCode::OK, "text/plain; charset=utf-8", answer.seal(sim.key()))
}

impl Simulator {
    fn answer_inquiry(&self, headers: &HeaderMap, body: &[u8]) -> InquiryResponse {
        let base = InquiryResponse {
            version: ACTION_VERSION.into(),
            resp_code: INQUIRY_REFUSED.into(),
            process_type: INQUIRY.into(),
            ..InquiryResponse::default()
        };
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
        let payments = lock(&self.inner.payments);
        let Some(payment) = payments.get(&request.invoice_no) else {
            return InquiryResponse { resp_code: INQUIRY_NOT_FOUND.into(), invoice_no: request.invoice_no, ..base };
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
