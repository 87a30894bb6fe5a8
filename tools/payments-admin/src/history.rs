//! One order's whole history: the order, its attempts with their evidence, the resolutions, and the
//! transitions they show. Transitions are not stored: they are derived by replaying the evidence
//! through the domain's own rules (`Order::on_evidence`), so what is shown is what the code did.

use payments::ids::OrderId;
use payments::order::{
    Attempt, Effect, Evidence, NOT_ANSWERED, Order, OrderStatus, REFUND_STATUS, STILL_PENDING, StoredStatus,
    UNRECOGNISED, UnixSeconds, Verdict,
};
use payments::store::{
    AuditTrail, Classification, EvidenceKind, EvidenceRecord, Operations, OrderStore, Resolution, StoreError,
};
use protocol::inquiry::parse_inquiry_amount;
use protocol::money::from_pgw_amt;

/// An attempt and the evidence kept about it, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptHistory {
    pub attempt: Attempt,
    pub evidence: Vec<EvidenceRecord>,
}

/// One change of the order's status, as the records show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at: UnixSeconds,
    /// `None` for the order's creation.
    pub from: Option<&'static str>,
    pub to: &'static str,
    pub cause: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub order: Order,
    pub attempts: Vec<AttemptHistory>,
    pub resolutions: Vec<Resolution>,
    pub transitions: Vec<Transition>,
}

/// Reads everything about `order_id`; `None` if there is no such order.
pub async fn gather<S: OrderStore + AuditTrail + Operations>(
    store: &S,
    order_id: &OrderId,
) -> Result<Option<History>, StoreError> {
    let Some(order) = store.get_order(order_id).await? else { return Ok(None) };
    let mut attempts = store.attempts_of(order_id).await?;
    // Attempts written before the `attempts` index existed are not in it; the order still names these.
    for invoice_no in [Some(&order.invoice_no), order.paid_invoice_no.as_ref()].into_iter().flatten() {
        if !attempts.iter().any(|a| a.invoice_no == *invoice_no)
            && let Some(attempt) = store.get_attempt(invoice_no).await?
        {
            attempts.push(attempt);
        }
    }
    attempts.sort_by(|a, b| (a.created_at, &a.invoice_no).cmp(&(b.created_at, &b.invoice_no)));
    let mut histories = Vec::with_capacity(attempts.len());
    for attempt in attempts {
        let evidence = store.evidence(Some(&attempt.invoice_no)).await?;
        histories.push(AttemptHistory { attempt, evidence });
    }
    let resolutions = store.resolutions_of(order_id).await?;
    let transitions = derive(&order, &histories, &resolutions);
    Ok(Some(History { order, attempts: histories, resolutions, transitions }))
}

/// What happened, in time order; at one second, an attempt before its evidence before a resolution.
enum Step<'a> {
    NewAttempt(&'a Attempt),
    Evidence(&'a Attempt, &'a EvidenceRecord),
    Resolved(&'a Resolution),
}

/// Replays the attempts, the evidence and the resolutions from the order's creation. What leaves no
/// record (a prepay that 2C2P refused) shows up as the `failed` a new attempt started from.
pub fn derive(order: &Order, attempts: &[AttemptHistory], resolutions: &[Resolution]) -> Vec<Transition> {
    let Some(first) = attempts.first().map(|h| &h.attempt) else { return Vec::new() };
    let mut steps: Vec<(UnixSeconds, u8, Step)> = Vec::new();
    for history in attempts {
        steps.push((history.attempt.created_at, 0, Step::NewAttempt(&history.attempt)));
        for record in &history.evidence {
            steps.push((record.received_at, 1, Step::Evidence(&history.attempt, record)));
        }
    }
    for resolution in resolutions {
        steps.push((resolution.resolved_at, 2, Step::Resolved(resolution)));
    }
    steps.sort_by_key(|(at, rank, _)| (*at, *rank));

    let mut state = Order {
        status: StoredStatus::Pending,
        invoice_no: first.invoice_no.clone(),
        payment: None,
        attempt_expires_at: first.valid_until,
        paid_invoice_no: None,
        fail_reason: None,
        review_reason: None,
        paid_at: None,
        ..order.clone()
    };
    let mut transitions = vec![Transition {
        at: order.created_at,
        from: None,
        to: StoredStatus::Pending.as_str(),
        cause: format!("order opened, attempt {}", first.invoice_no),
    }];
    for (at, _, step) in steps {
        match step {
            Step::NewAttempt(attempt) if attempt.invoice_no == first.invoice_no => {}
            Step::NewAttempt(attempt) => {
                let (from, cause) = match state.status_at(at) {
                    OrderStatus::Pending => {
                        ("failed", format!("new attempt {} (the previous one failed at prepay)", attempt.invoice_no))
                    }
                    shown => (shown.as_str(), format!("new attempt {}", attempt.invoice_no)),
                };
                state = Order {
                    status: StoredStatus::Pending,
                    invoice_no: attempt.invoice_no.clone(),
                    attempt_expires_at: attempt.valid_until,
                    fail_reason: None,
                    ..state
                };
                transitions.push(Transition { at, from: Some(from), to: StoredStatus::Pending.as_str(), cause });
            }
            Step::Evidence(attempt, record) => {
                if let Effect::Transition(next) = state.on_evidence(attempt, &evidence_of(attempt, record), at) {
                    let mut cause = format!(
                        "{} for {} (respCode {:?}, status {:?}: {})",
                        record.kind.as_str(),
                        attempt.invoice_no,
                        record.resp_code,
                        record.status,
                        record.classification.as_str()
                    );
                    if let (StoredStatus::Review, Some(reason)) = (next.status, &next.review_reason) {
                        cause.push_str(&format!("; {reason}"));
                    }
                    transitions.push(Transition {
                        at,
                        from: Some(state.status_at(at).as_str()),
                        to: next.status.as_str(),
                        cause,
                    });
                    state = *next;
                }
            }
            Step::Resolved(resolution) => {
                transitions.push(Transition {
                    at,
                    from: Some(state.status.as_str()),
                    to: resolution.to.as_str(),
                    cause: format!("resolved by a person: {}", resolution.reason),
                });
                state.status = resolution.to.status();
            }
        }
    }
    transitions
}

/// The evidence a record stood for, read back the way the notification and inquiry use cases read it.
fn evidence_of(attempt: &Attempt, record: &EvidenceRecord) -> Evidence {
    let verdict = match record.classification {
        Classification::Paid => Verdict::Paid,
        Classification::PaidOtherAmount => Verdict::PaidOtherAmount { status: record.status.clone() },
        Classification::Failed => Verdict::Failed { reason: record.fail_reason.clone() },
        Classification::Pending => Verdict::Inconclusive(STILL_PENDING),
        Classification::Refund => Verdict::Inconclusive(REFUND_STATUS),
        Classification::NotAnswered => Verdict::Inconclusive(NOT_ANSWERED),
        Classification::Unrecognised | Classification::Unreadable | Classification::UnknownInvoice => {
            Verdict::Inconclusive(UNRECOGNISED)
        }
    };
    let (amount, currency_numeric) = match record.kind {
        EvidenceKind::Notification => (
            from_pgw_amt(record.amount.trim()).ok(),
            Some(record.currency_code.trim().to_owned()).filter(|c| !c.is_empty()),
        ),
        EvidenceKind::Inquiry => (parse_inquiry_amount(&record.amount, attempt.currency), None),
    };
    Evidence { verdict, amount, currency_numeric }
}

#[cfg(test)]
mod tests {
    use payments::ids::{InvoiceNo, OpenId};
    use payments::order::OrderTerms;
    use payments::store::{MemoryStore, ReviewOutcome, fingerprint};
    use protocol::money::{Currency, MinorUnits};

    use super::*;

    const T0: UnixSeconds = 1_800_000_000;

    fn inv(text: &str) -> InvoiceNo {
        InvoiceNo::parse(text).expect("invoice")
    }

    fn record(
        invoice: &str,
        at: UnixSeconds,
        status: &str,
        amt: &str,
        classification: Classification,
    ) -> EvidenceRecord {
        EvidenceRecord {
            kind: EvidenceKind::Notification,
            invoice_no: Some(inv(invoice)),
            fingerprint: fingerprint(&format!("{invoice}{at}")),
            received_at: at,
            resp_code: "00".into(),
            status: status.into(),
            amount: amt.into(),
            currency_code: "702".into(),
            fail_reason: String::new(),
            classification,
            raw: "SIGNED".into(),
        }
    }

    /// An order whose first attempt was refused at prepay, whose second was paid with the wrong
    /// amount (review), then resolved as paid by a person.
    #[tokio::test]
    async fn the_history_replays_into_the_transitions_the_code_made() {
        let store = MemoryStore::new();
        let terms = OrderTerms {
            order_id: OrderId::parse("A-1").expect("id"),
            amount: MinorUnits::new(1250).expect("amount"),
            currency: Currency::from_code("SGD").expect("SGD"),
            description: "Latte".into(),
            desc_for_pgw: "Latte".into(),
        };
        let (opened, first) = Order::open(&terms, OpenId::new("o1").expect("openid"), inv("INV1"), 120, T0);
        store.open_order(&opened, &first).await.expect("open");
        let refused = opened.with_failed_attempt("payment_rejected", T0 + 1);
        store.replace_order(&refused, &opened, None).await.expect("refused");
        let (retried, second) = refused.with_new_attempt(inv("INV2"), 120, T0 + 30);
        store.start_attempt(&retried, &refused, &second).await.expect("retry");
        let short = record("INV2", T0 + 60, "A", "000000001000", Classification::Paid);
        store.record_evidence(&short).await.expect("kept");
        let evidence = evidence_of(&second, &short);
        let Effect::Transition(review) = retried.on_evidence(&second, &evidence, T0 + 60) else { panic!("review") };
        store.replace_order(&review, &retried, None).await.expect("review");
        store.resolve_review(&review, ReviewOutcome::Paid, "difference waived", T0 + 99).await.expect("resolved");

        let history = gather(&store, &terms.order_id).await.expect("read").expect("the order exists");
        let invoices: Vec<&str> = history.attempts.iter().map(|h| h.attempt.invoice_no.as_str()).collect();
        assert_eq!(invoices, ["INV1", "INV2"]);
        assert_eq!(history.attempts[1].evidence, vec![short]);
        let steps: Vec<(Option<&str>, &str)> = history.transitions.iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(
            steps,
            [(None, "pending"), (Some("failed"), "pending"), (Some("pending"), "review"), (Some("review"), "paid")]
        );
        assert!(history.transitions[2].cause.contains("paid amount differs"), "{:?}", history.transitions[2]);
        assert!(history.transitions[3].cause.ends_with("difference waived"));
        assert!(gather(&store, &OrderId::parse("NONE").expect("id")).await.expect("read").is_none());
    }
}
