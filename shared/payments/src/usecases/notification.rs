//! What happens to a notification: the signature is checked before anything else is read, every
//! verified notification is kept before it is acknowledged, and then it is applied to its order.
//! Each store call is bounded by the request's deadline: out of time means not kept, so 500 and a retry.

use protocol::envelope::{self, EnvelopeError, FormError};
use protocol::money::from_pgw_amt;
use protocol::outcome::{Outcome, classify_notification};
use protocol::securepay::{MessageError, PaymentResponse};
use thiserror::Error;

use std::time::Duration;

use super::apply::{Applied, apply_evidence};
use crate::clock::Clock;
use crate::deadline::Deadline;
use crate::ids::{InvoiceNo, OrderId};
use crate::metrics::{Metrics, reason};
use crate::order::{Effect, Evidence, NOT_ANSWERED, STILL_PENDING, UNRECOGNISED, Verdict};
use crate::store::{
    Classification, EvidenceKind, EvidenceRecord, EvidenceWrite, KeptAndApplied, OrderStore, Recorded, ReportedFields,
    StoreError,
};
use crate::upstream::PgwKeys;

/// The form field 2C2P posts.
pub const FIELD: &str = "paymentResponse";

/// Why a notification was not taken. Nothing was written for any of these but `Store`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NotificationError {
    /// The body is not form data (400, nothing written).
    #[error("the body must be form data with a paymentResponse field")]
    NotForm,
    /// The form lacks `paymentResponse` (400, nothing written).
    #[error("the form has no paymentResponse field")]
    MissingField,
    /// The outer envelope is not base64 XML with payload and signature (400, nothing written).
    #[error("paymentResponse: {0}")]
    Malformed(EnvelopeError),
    /// The signature does not verify under our keys (401, nothing written): forged, or a key mismatch.
    #[error("the notification signature does not match")]
    BadSignature,
    /// Verified, but for another merchant ID (400, nothing written).
    #[error("merchantID is not this merchant's")]
    OtherMerchant,
    /// Not kept: 2C2P must try again.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What became of a notification that was kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// Verified but unreadable: kept for a person.
    Unreadable,
    /// For an invoice we never issued: kept, nothing moved.
    UnknownInvoice,
    /// Kept (or recognised as a replay) and applied.
    Applied {
        /// The same notification was kept before; answered 200 all the same.
        replay: bool,
        /// What it did to the order.
        applied: Applied,
    },
}

/// Verifies the form body of `POST /notify` (the raw bytes, before anything else), keeps it, applies it.
/// A refusal counts `NotificationsRefused` by reason: many bad signatures mean a key mismatch or a probe.
pub async fn receive_notification<S: OrderStore>(
    store: &S,
    merchant_id: &str,
    keys: &PgwKeys,
    body: &[u8],
    clock: &Clock,
    deadline: &Deadline,
    metrics: &Metrics,
) -> Result<Received, NotificationError> {
    let received = receive(store, merchant_id, keys, body, clock, deadline, metrics).await;
    let refused = match &received {
        Err(NotificationError::BadSignature) => Some(reason::BAD_SIGNATURE),
        Err(NotificationError::OtherMerchant) => Some(reason::OTHER_MERCHANT),
        Err(NotificationError::NotForm | NotificationError::MissingField | NotificationError::Malformed(_)) => {
            Some(reason::MALFORMED)
        }
        Ok(_) | Err(NotificationError::Store(_)) => None,
    };
    if let Some(reason) = refused {
        metrics.notification_refused(reason);
    }
    received
}

async fn receive<S: OrderStore>(
    store: &S,
    merchant_id: &str,
    keys: &PgwKeys,
    body: &[u8],
    clock: &Clock,
    deadline: &Deadline,
    metrics: &Metrics,
) -> Result<Received, NotificationError> {
    let field = envelope::base64_form_field(body, FIELD).map_err(|e| match e {
        FormError::NotForm => NotificationError::NotForm,
        FormError::MissingField(_) => NotificationError::MissingField,
    })?;
    let verified = envelope::open_with_keys(&field, &keys.verifying()).map_err(|e| match e {
        EnvelopeError::BadSignature => NotificationError::BadSignature,
        other => NotificationError::Malformed(other),
    })?;
    let response = verified
        .require_version()
        .map_err(MessageError::from)
        .and_then(|()| verified.decode_payload().map_err(MessageError::from))
        .and_then(|xml| PaymentResponse::from_xml(&xml));
    let readable = match response {
        Ok(response) => {
            InvoiceNo::parse(response.unique_transaction_code.trim()).ok().map(|invoice| (response, invoice))
        }
        Err(error) => {
            tracing::error!(%error, "verified notification is unreadable; kept for review");
            None
        }
    };
    let Some((response, invoice_no)) = readable else {
        let record = EvidenceRecord::unreadable_notification(&field, clock.now());
        tracing::error!(fingerprint = %record.fingerprint, "verified notification has no usable invoice; kept for review");
        keep(store, &record, deadline).await?;
        return Ok(Received::Unreadable);
    };
    if response.merchant_id.trim() != merchant_id {
        tracing::warn!(invoice = %invoice_no, "notification for another merchant refused");
        return Err(NotificationError::OtherMerchant);
    }
    let verdict = verdict_of(&classify_notification(&response.resp_code, &response.status, &response.fail_reason));
    let fields = ReportedFields {
        resp_code: response.resp_code.clone(),
        status: response.status.clone(),
        amount: response.amt.clone(),
        currency_code: response.currency_code.clone(),
        fail_reason: response.fail_reason.clone(),
    };
    let evidence = Evidence {
        verdict: verdict.clone(),
        amount: from_pgw_amt(response.amt.trim()).ok(),
        currency_numeric: Some(response.currency_code.trim().to_owned()).filter(|c| !c.is_empty()),
    };
    // 2C2P echoes userDefined1, where prepay put the orderId: the order can be read first and the
    // notification kept and applied in one transaction (two round trips). Anything unexpected (no echo,
    // an attempt of another order) takes the general path below, which reads the attempt first.
    if let Ok(order_id) = OrderId::parse(response.user_defined1.trim()) {
        let record = EvidenceRecord::about(
            EvidenceKind::Notification,
            invoice_no.clone(),
            &field,
            fields.clone(),
            Classification::of(&verdict),
            clock.now(),
        );
        let direct =
            Direct { store, order_id: &order_id, invoice_no: &invoice_no, record: &record, evidence: &evidence };
        if let Some(received) = direct.keep_and_apply(clock, deadline, metrics).await? {
            return Ok(received);
        }
    }
    let attempt = deadline.run(Duration::ZERO, store.get_attempt(&invoice_no), || StoreError::OutOfTime).await?;
    let classification = if attempt.is_some() { Classification::of(&verdict) } else { Classification::UnknownInvoice };
    let record = EvidenceRecord::about(
        EvidenceKind::Notification,
        invoice_no.clone(),
        &field,
        fields,
        classification,
        clock.now(),
    );
    let recorded = keep(store, &record, deadline).await?;
    tracing::info!(
        invoice = %invoice_no,
        resp_code = %response.resp_code,
        status = %response.status,
        classification = classification.as_str(),
        replay = recorded == Recorded::Replay,
        "notification kept"
    );
    let Some(attempt) = attempt else {
        tracing::warn!(invoice = %invoice_no, "notification for an unknown invoice; kept, no order changed");
        return Ok(Received::UnknownInvoice);
    };
    // A replay still runs the transition: the first delivery may have been kept but not applied.
    let applied =
        Box::pin(apply_evidence(store, &attempt, &evidence, clock, deadline, Duration::ZERO, metrics)).await?;
    Ok(Received::Applied { replay: recorded == Recorded::Replay, applied })
}

/// Conditional writes that lose a race re-read and try again this many times.
const MAX_TRIES: usize = 8;

/// A notification whose order is known from its echo: read the order, then keep and apply in one go.
struct Direct<'a, S> {
    store: &'a S,
    order_id: &'a OrderId,
    invoice_no: &'a InvoiceNo,
    record: &'a EvidenceRecord,
    evidence: &'a Evidence,
}

impl<S: OrderStore> Direct<'_, S> {
    /// `None` when the general path must decide (no such order, or the invoice is not one of its attempts).
    async fn keep_and_apply(
        &self,
        clock: &Clock,
        deadline: &Deadline,
        metrics: &Metrics,
    ) -> Result<Option<Received>, StoreError> {
        let mut replay = false;
        for _ in 0..MAX_TRIES {
            let read = deadline.run(Duration::ZERO, self.store.get_order(self.order_id), || StoreError::OutOfTime);
            let Some(order) = read.await? else { return Ok(None) };
            let attempt = order.attempt_named(self.invoice_no);
            let effect = order.on_evidence(&attempt, self.evidence, clock.now());
            let transition = match &effect {
                Effect::Transition(next) => Some((next.as_ref(), &order)),
                Effect::NoChange(_) => None,
            };
            let write = EvidenceWrite {
                // A replay is kept already; its transition still runs, as the first delivery may have died
                // between being kept and being applied.
                record: (!replay).then_some(self.record),
                invoice_no: self.invoice_no,
                order_id: self.order_id,
                settle: self.evidence.is_final(),
                transition,
            };
            let outcome = deadline.run(Duration::ZERO, self.store.keep_and_apply(write), || StoreError::OutOfTime);
            match outcome.await? {
                KeptAndApplied::Done => {
                    tracing::info!(
                        invoice = %self.invoice_no,
                        resp_code = %self.record.resp_code,
                        status = %self.record.status,
                        classification = self.record.classification.as_str(),
                        replay,
                        "notification kept"
                    );
                    let applied = match effect {
                        Effect::Transition(next) => {
                            tracing::info!(
                                invoice = %self.invoice_no,
                                order = %order.order_id,
                                from = order.status.as_str(),
                                to = next.status.as_str(),
                                "order moved"
                            );
                            metrics.order_moved(order.status, &next, self.invoice_no);
                            Applied::Moved { from: order.status, order: next }
                        }
                        Effect::NoChange(why) => {
                            tracing::info!(invoice = %self.invoice_no, order_status = order.status.as_str(), why, "no transition");
                            Applied::Unchanged { order: Box::new(order), why }
                        }
                    };
                    return Ok(Some(Received::Applied { replay, applied }));
                }
                KeptAndApplied::RecordExisted => replay = true,
                // Read the order again and retry, the record still included unless it is known kept.
                KeptAndApplied::OrderChanged | KeptAndApplied::Contended => {}
                KeptAndApplied::AttemptNotOfOrder => return Ok(None),
            }
        }
        tracing::error!(invoice = %self.invoice_no, "order kept changing under the notification");
        Err(StoreError::Unavailable("the order kept changing; try again".to_owned()))
    }
}

async fn keep<S: OrderStore>(store: &S, record: &EvidenceRecord, deadline: &Deadline) -> Result<Recorded, StoreError> {
    deadline.run(Duration::ZERO, store.record_evidence(record), || StoreError::OutOfTime).await
}

/// The notification table of contract.md "POST /notify", as evidence.
pub fn verdict_of(outcome: &Outcome) -> Verdict {
    match outcome {
        Outcome::Paid => Verdict::Paid,
        Outcome::PaidOtherAmount { status } => Verdict::PaidOtherAmount { status: status.clone() },
        Outcome::Failed { reason } => Verdict::Failed { reason: reason.clone() },
        Outcome::Pending => Verdict::Inconclusive(STILL_PENDING),
        // Not a row of the notification table (classify_notification never answers it).
        Outcome::WechatOrderCreated => Verdict::Inconclusive(NOT_ANSWERED),
        Outcome::Unrecognised => Verdict::Inconclusive(UNRECOGNISED),
    }
}
