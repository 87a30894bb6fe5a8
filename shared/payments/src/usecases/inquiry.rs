//! Ask 2C2P about an attempt (Payment Action 3.4 inquiry), keep the verified answer in the audit
//! trail, and apply it with the notification rules. Reconciliation, `GET /orders` and prepay all
//! come through here: one code path for "ask 2C2P and apply the answer".

use std::time::Duration;

use protocol::inquiry::{InquiryOutcome, classify_inquiry, parse_inquiry_amount};
use thiserror::Error;

use super::apply::{Applied, apply_evidence};
use crate::clock::Clock;
use crate::deadline::Deadline;
use crate::metrics::Metrics;
use crate::order::{Attempt, Evidence, NOT_ANSWERED, REFUND_STATUS, STILL_PENDING, UNRECOGNISED, Verdict};
use crate::store::{Classification, EvidenceKind, EvidenceRecord, OrderStore, ReportedFields, StoreError};
use crate::upstream::{PGW, PgwClient, UpstreamError};

/// Why an inquiry gave nothing to apply. Either way the attempt stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InquiryFailure {
    /// 2C2P gave no usable answer (unreachable, timed out, garbage, bad hash); asked again later.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The answer could not be kept or applied; it is asked again later rather than lost.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A verified answer, kept and applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Inquired {
    /// What 2C2P's answer means for the attempt.
    pub verdict: Verdict,
    /// What applying it did to the order.
    pub applied: Applied,
}

/// Asks 2C2P about `attempt` within `deadline` (keeping `reserve` for the caller), keeps the answer,
/// applies it. An answer that does not come, or cannot be used, counts as an upstream failure.
pub async fn inquire_attempt<S: OrderStore>(
    store: &S,
    pgw: &PgwClient,
    attempt: &Attempt,
    clock: &Clock,
    deadline: &Deadline,
    reserve: Duration,
    metrics: &Metrics,
) -> Result<Inquired, InquiryFailure> {
    let answer = deadline
        .run(reserve + KEEP_RESERVE, pgw.inquire(attempt.invoice_no.as_str()), || UpstreamError::Timeout(PGW))
        .await
        .inspect_err(|error| metrics.upstream_failure(error))?;
    let response = &answer.response;
    if response.resp_code.trim() == "00" && response.invoice_no.trim() != attempt.invoice_no.as_str() {
        // Signed, but about another invoice: nothing in it can be applied to this attempt.
        let error = UpstreamError::Garbage { service: PGW, reason: "the inquiry answer names another invoice".into() };
        metrics.upstream_failure(&error);
        return Err(error.into());
    }
    let verdict = verdict_of(&classify_inquiry(&response.resp_code, &response.status));
    let amount = parse_inquiry_amount(&response.amount, attempt.currency);
    // An answer whose amount cannot be read is kept and changes nothing (contract "Reconciliation"):
    // paying on it would guess, and so would failing an order on an answer we only half read.
    let verdict = match (&verdict, amount) {
        (Verdict::Paid | Verdict::PaidOtherAmount { .. } | Verdict::Failed { .. }, None) => {
            Verdict::Inconclusive(UNREADABLE_AMOUNT)
        }
        _ => verdict,
    };
    let fields = ReportedFields {
        resp_code: response.resp_code.clone(),
        status: response.status.clone(),
        amount: response.amount.clone(),
        currency_code: String::new(),
        fail_reason: String::new(),
    };
    let record = EvidenceRecord::about(
        EvidenceKind::Inquiry,
        attempt.invoice_no.clone(),
        &answer.raw,
        fields,
        Classification::of(&verdict),
        clock.now(),
    );
    deadline.run(reserve, store.record_evidence(&record), || StoreError::OutOfTime).await?;
    if let Verdict::Inconclusive(why) = &verdict
        && (*why == REFUND_STATUS || *why == UNREADABLE_AMOUNT)
    {
        tracing::warn!(invoice = %attempt.invoice_no, status = %response.status, why, "inquiry answer kept for a person");
    }
    let evidence = Evidence { verdict: verdict.clone(), amount, currency_numeric: None };
    // Boxed: the store's and 2C2P's futures nest deep, and a caller's stack need not hold them all.
    let applied = Box::pin(apply_evidence(store, attempt, &evidence, clock, deadline, reserve, metrics)).await?;
    Ok(Inquired { verdict, applied })
}

/// Time the 2C2P call leaves for keeping and applying its answer (a few DynamoDB calls of ~10 ms each).
/// An answer that arrives with no time left to keep it would be thrown away; one that might say "paid"
/// must not be, or prepay would open a second attempt on an order that is paid already.
pub const KEEP_RESERVE: Duration = Duration::from_millis(500);

/// Why an inquiry answer changed nothing: its amount was in no form we read.
pub const UNREADABLE_AMOUNT: &str = "the inquiry's amount is in no known form";

/// The inquiry rows of contract.md "Reconciliation", as evidence.
fn verdict_of(outcome: &InquiryOutcome) -> Verdict {
    match outcome {
        InquiryOutcome::Paid => Verdict::Paid,
        InquiryOutcome::PaidOtherAmount { status } => Verdict::PaidOtherAmount { status: status.clone() },
        InquiryOutcome::Failed { reason } => Verdict::Failed { reason: reason.clone() },
        InquiryOutcome::Pending => Verdict::Inconclusive(STILL_PENDING),
        InquiryOutcome::Refund { .. } => Verdict::Inconclusive(REFUND_STATUS),
        InquiryOutcome::NotAnswered { .. } => Verdict::Inconclusive(NOT_ANSWERED),
        InquiryOutcome::Unrecognised => Verdict::Inconclusive(UNRECOGNISED),
    }
}
