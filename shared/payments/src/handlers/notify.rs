//! `POST /notify`: 2C2P's signed payment result.
//!
//! The signature is checked before anything else is parsed or written. Every verified notification
//! is stored before it is acknowledged; if the store fails we answer 500 so that 2C2P tries again.
//! Replays are recognised, and transitions are conditional writes, so repeats change nothing.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use protocol::envelope::{self, EnvelopeError, FormError, VerifiedEnvelope};
use protocol::money::from_pgw_amt;
use protocol::outcome::{Outcome, classify};
use protocol::securepay::{MessageError, PaymentResponse};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::api::{self, ApiError};
use crate::clock::Clock;
use crate::config::NotifyConfig;
use crate::order::NotificationEffect;
use crate::secret::Secret;
use crate::store::{NotificationRecord, OrderStore, Recorded, StoreError};

/// The form field 2C2P posts.
pub const FIELD: &str = "paymentResponse";
/// Conditional writes that lose a race re-read and try again this many times.
const MAX_TRANSITION_TRIES: usize = 8;

/// What `notify` needs, built once at start.
pub struct NotifyHandler<S> {
    store: S,
    merchant_id: String,
    key: Secret,
    clock: Clock,
}

fn store_failure(error: StoreError) -> ApiError {
    tracing::error!(error = %error, "order store failed during notify; answering 500 so 2C2P retries");
    ApiError::Internal
}

fn outcome_label(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::WechatOrderCreated => "order_created",
        Outcome::Paid => "paid",
        Outcome::Pending => "pending",
        Outcome::Failed { .. } => "failed",
        Outcome::Unrecognised => "unrecognised",
    }
}

impl<S: OrderStore> NotifyHandler<S> {
    pub fn new(config: &NotifyConfig, store: S, clock: Clock) -> Self {
        Self { store, merchant_id: config.merchant_id.clone(), key: config.pgw_secret_key.clone(), clock }
    }

    /// The store, for the sandbox and tests.
    pub fn store(&self) -> &S {
        &self.store
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        api::respond(&api::request_id(&request), self.receive(&request).await)
    }

    async fn receive(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body = api::body_bytes(request)?;
        let field = envelope::base64_form_field(body, FIELD).map_err(|e| match e {
            FormError::NotForm => {
                ApiError::InvalidRequest("The body must be form data with a paymentResponse field.".into())
            }
            FormError::MissingField(_) => ApiError::InvalidRequest("The form has no paymentResponse field.".into()),
        })?;
        let verified = envelope::open(&field, self.key.expose().as_bytes()).map_err(|e| match e {
            EnvelopeError::BadSignature => {
                tracing::warn!("notification with a bad signature refused");
                ApiError::Unauthorized("The notification signature does not match.".into())
            }
            other => ApiError::InvalidRequest(format!("paymentResponse: {other}.")),
        })?;
        let fingerprint = hex::encode(Sha256::digest(field.as_bytes()));
        match read_payload(&verified) {
            Ok(response) if !response.unique_transaction_code.is_empty() => {
                self.apply(&response, &field, fingerprint).await?;
            }
            Ok(_) => self.keep_unreadable(&field, fingerprint, "no uniqueTransactionCode").await?,
            Err(error) => self.keep_unreadable(&field, fingerprint, &error.to_string()).await?,
        }
        Ok(api::json_response(StatusCode::OK, &json!({"received": true})))
    }

    /// A verified notification we cannot act on: kept for a person, acknowledged.
    async fn keep_unreadable(&self, field: &str, fingerprint: String, why: &str) -> Result<(), ApiError> {
        tracing::error!(fingerprint = %fingerprint, reason = why, "verified notification is unreadable; kept for review");
        let record = NotificationRecord {
            invoice_no: None,
            fingerprint,
            received_at: self.clock.now(),
            resp_code: String::new(),
            status: String::new(),
            amt: String::new(),
            currency_code: String::new(),
            fail_reason: String::new(),
            classification: "unreadable".into(),
            envelope: field.to_owned(),
        };
        self.store.record_notification(&record).await.map_err(store_failure)?;
        Ok(())
    }

    async fn apply(&self, response: &PaymentResponse, field: &str, fingerprint: String) -> Result<(), ApiError> {
        let invoice = response.unique_transaction_code.as_str();
        if response.merchant_id != self.merchant_id {
            tracing::warn!(invoice, "notification for another merchant refused");
            return Err(ApiError::InvalidRequest("merchantID is not this merchant's.".into()));
        }
        let outcome = classify(&response.resp_code, &response.status, &response.fail_reason);
        let attempt = self.store.get_attempt(invoice).await.map_err(store_failure)?;
        let classification = if attempt.is_some() { outcome_label(&outcome) } else { "unknown_invoice" };
        let record = NotificationRecord {
            invoice_no: Some(invoice.to_owned()),
            fingerprint,
            received_at: self.clock.now(),
            resp_code: response.resp_code.clone(),
            status: response.status.clone(),
            amt: response.amt.clone(),
            currency_code: response.currency_code.clone(),
            fail_reason: response.fail_reason.clone(),
            classification: classification.to_owned(),
            envelope: field.to_owned(),
        };
        let recorded = self.store.record_notification(&record).await.map_err(store_failure)?;
        tracing::info!(
            invoice,
            resp_code = %response.resp_code,
            status = %response.status,
            classification,
            replay = recorded == Recorded::Replay,
            "notification kept"
        );
        let Some(attempt) = attempt else {
            tracing::warn!(invoice, "notification for an unknown invoice; kept, no order changed");
            return Ok(());
        };
        // A replay still runs the transition: the first delivery may have been kept but not applied.
        let amount = from_pgw_amt(&response.amt).ok();
        let currency = Some(response.currency_code.as_str()).filter(|c| !c.is_empty());
        for _ in 0..MAX_TRANSITION_TRIES {
            let Some(order) = self.store.get_order(&attempt.order_id).await.map_err(store_failure)? else {
                tracing::error!(invoice, "attempt without its order; kept, no order changed");
                return Ok(());
            };
            match order.on_notification(&attempt, &outcome, amount, currency, self.clock.now()) {
                NotificationEffect::NoChange(why) => {
                    tracing::info!(invoice, order_status = order.status.as_str(), why, "no transition");
                    return Ok(());
                }
                NotificationEffect::Transition(next) => {
                    match self.store.replace_order(&next, order.version, order.status).await {
                        Ok(()) => {
                            tracing::info!(
                                invoice,
                                from = order.status.as_str(),
                                to = next.status.as_str(),
                                "order moved"
                            );
                            return Ok(());
                        }
                        Err(StoreError::ConditionFailed) => continue,
                        Err(other) => return Err(store_failure(other)),
                    }
                }
            }
        }
        tracing::error!(invoice, "order kept changing under the notification; answering 500 so 2C2P retries");
        Err(ApiError::Internal)
    }
}

fn read_payload(verified: &VerifiedEnvelope) -> Result<PaymentResponse, MessageError> {
    verified.require_version()?;
    PaymentResponse::from_xml(&verified.decode_payload()?)
}
