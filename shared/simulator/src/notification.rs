//! The user's confirmation in WeChat and 2C2P's signed backend notification that follows it.
//!
//! `POST /sandbox/pay/{key}` with `{"result": "success" | "fail"}` plays the confirmation for the attempt
//! whose invoiceNo or prepay_id is `{key}`, posts the notification to the notify URL as
//! `application/x-www-form-urlencoded` `paymentResponse=<envelope>`, and answers 200
//! `{"notified": true, "notifyStatus": <the notify URL's HTTP status>}`. With `"notify": false` the result
//! is recorded but the notification is lost (nothing is posted) and the answer is `{"notified": false}`.
//! 404 `not_found` for an unknown key, 400 `invalid_request` for another body, 502 `upstream_error` when
//! the notify URL cannot be reached.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use protocol::envelope;
use protocol::securepay::{PaymentResponse, WCMINI};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::{PayResult, PaymentState, SimError, Simulator, error_json, lock, pgw_now};

/// A six-digit approval code, stable for a transaction so a replayed notification is identical.
pub(crate) fn approval_code(tran_ref: &str) -> String {
    let digest = Sha256::digest(format!("approval:{tran_ref}").as_bytes());
    let n = digest[..4].iter().fold(0u32, |n, b| n.wrapping_mul(256).wrapping_add(u32::from(*b)));
    format!("{:06}", n % 1_000_000)
}

/// Builds the sealed notification for `key`; with `record`, the simulated order takes the result first.
pub(crate) fn envelope(sim: &Simulator, key: &str, result: PayResult, record: bool) -> Result<String, SimError> {
    let mut payments = lock(&sim.inner.payments);
    let payment = payments.find_mut(key).ok_or_else(|| SimError::UnknownKey(key.to_owned()))?;
    if record {
        payment.state = match (result, payment.state) {
            (PayResult::Success, _) => PaymentState::Paid,
            (PayResult::Fail, PaymentState::Created) => PaymentState::Failed,
            // Money that arrived cannot be declined afterwards.
            (PayResult::Fail, state) => state,
        };
    }
    let slot = match result {
        PayResult::Success => &mut payment.success_at,
        PayResult::Fail => &mut payment.fail_at,
    };
    let at = slot.get_or_insert_with(pgw_now).clone();
    let [ud1, ud2, ud3, ud4, ud5] = payment.user_defined.clone();
    let mut notification = PaymentResponse {
        time_stamp: at.clone(),
        merchant_id: payment.merchant_id.clone(),
        amt: payment.amt.clone(),
        unique_transaction_code: payment.invoice_no.clone(),
        tran_ref: payment.tran_ref.clone(),
        date_time: at,
        user_defined1: ud1,
        user_defined2: ud2,
        user_defined3: ud3,
        user_defined4: ud4,
        user_defined5: ud5,
        payment_channel: WCMINI.into(),
        currency_code: payment.currency_code.clone(),
        ..PaymentResponse::default()
    };
    match result {
        PayResult::Success => {
            notification.resp_code = "000".into();
            notification.status = "A".into();
            notification.fail_reason = "Approved".into();
            notification.approval_code = approval_code(&payment.tran_ref);
            notification.paid_agent = "WECHAT".into();
            notification.paid_channel = "WECHAT".into();
        }
        PayResult::Fail => {
            notification.resp_code = "99".into();
            notification.status = "F".into();
            notification.fail_reason = "Payment was declined".into();
        }
    }
    Ok(notification.seal(sim.key()))
}

pub(crate) async fn pay(sim: &Simulator, key: &str, result: PayResult) -> Result<u16, SimError> {
    let sealed = envelope(sim, key, result, true)?;
    let url = lock(&sim.inner.notify_url).clone();
    let response = sim
        .inner
        .http
        .post(url)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(envelope::form_body("paymentResponse", &sealed))
        .send()
        .await
        .map_err(|error| SimError::NotifyFailed(error.without_url().to_string()))?;
    let status = response.status().as_u16();
    tracing::debug!(key, ?result, notify_status = status, "notification posted");
    Ok(status)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayBody {
    result: String,
    /// `false` loses 2C2P's notification; absent means it is sent, as the contract's plain form implies.
    #[serde(default = "notify_by_default")]
    notify: bool,
}

fn notify_by_default() -> bool {
    true
}

pub(crate) async fn sandbox_pay(State(sim): State<Simulator>, Path(key): Path<String>, body: Bytes) -> Response {
    // Read as JSON whatever the content type, so a bare `curl -d '{"result":"success"}'` works.
    let parsed = serde_json::from_slice::<PayBody>(&body);
    let (result, notify) = match parsed {
        Ok(PayBody { result, notify }) if result == "success" => (PayResult::Success, notify),
        Ok(PayBody { result, notify }) if result == "fail" => (PayResult::Fail, notify),
        _ => {
            let message =
                r#"The body must be {"result": "success"} or {"result": "fail"}, optionally with "notify": false."#;
            return error_json(StatusCode::BAD_REQUEST, "invalid_request", message);
        }
    };
    let outcome = if notify {
        sim.pay(&key, result).await.map(Some)
    } else {
        sim.pay_without_notify(&key, result).map(|()| None)
    };
    match outcome {
        Ok(Some(status)) => {
            (StatusCode::OK, axum::Json(json!({"notified": true, "notifyStatus": status}))).into_response()
        }
        Ok(None) => (StatusCode::OK, axum::Json(json!({"notified": false}))).into_response(),
        Err(SimError::UnknownKey(_)) => {
            error_json(StatusCode::NOT_FOUND, "not_found", "No payment attempt has this invoiceNo or prepay_id.")
        }
        Err(error @ SimError::NotifyFailed(_)) => {
            error_json(StatusCode::BAD_GATEWAY, "upstream_error", &error.to_string())
        }
    }
}
