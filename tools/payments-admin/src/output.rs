//! What the commands print: text for a person by default, JSON with `--json`. Evidence is shown
//! field by field; the raw signed text 2C2P sent is never printed.

use payments::store::StoreError;
use std::io::{self, Write};

use payments::order::{Attempt, Order, UnixSeconds};
use payments::store::{EvidenceRecord, Resolution};
use payments::timefmt::rfc3339;
use payments::usecases::reconcile::Summary;
use protocol::money::format_amount;
use serde::Serialize;
use serde_json::{Value, json};

use crate::history::{History, Transition};

/// Prints in the chosen format; `now` decides whether a pending order reads as expired.
pub struct Printer {
    pub json: bool,
    pub now: UnixSeconds,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderOut<'a> {
    order_id: &'a str,
    /// As stored.
    status: &'static str,
    /// As `GET /orders` shows it now (a pending order past its validity reads as expired).
    shown_status: &'static str,
    amount: String,
    currency: &'static str,
    description: &'a str,
    openid: &'a str,
    invoice_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    paid_invoice_no: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paid_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fail_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    review_reason: Option<&'a str>,
    created_at: String,
    updated_at: String,
    version: u64,
}

impl<'a> OrderOut<'a> {
    fn of(order: &'a Order, now: UnixSeconds) -> Self {
        Self {
            order_id: order.order_id.as_str(),
            status: order.status.as_str(),
            shown_status: order.status_at(now).as_str(),
            amount: format_amount(order.amount, order.currency),
            currency: order.currency.code,
            description: &order.description,
            openid: order.openid.as_str(),
            invoice_no: order.invoice_no.as_str(),
            paid_invoice_no: order.paid_invoice_no.as_ref().map(|i| i.as_str()),
            paid_at: order.paid_at.map(rfc3339),
            fail_reason: order.fail_reason.as_deref(),
            review_reason: order.review_reason.as_deref(),
            created_at: rfc3339(order.created_at),
            updated_at: rfc3339(order.updated_at),
            version: order.version,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EvidenceOut<'a> {
    kind: &'static str,
    received_at: String,
    resp_code: &'a str,
    status: &'a str,
    amount: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    currency_code: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    fail_reason: &'a str,
    classification: &'static str,
}

impl<'a> EvidenceOut<'a> {
    /// Every field but `raw` (and the fingerprint, which is only its hash).
    fn of(record: &'a EvidenceRecord) -> Self {
        Self {
            kind: record.kind.as_str(),
            received_at: rfc3339(record.received_at),
            resp_code: &record.resp_code,
            status: &record.status,
            amount: &record.amount,
            currency_code: &record.currency_code,
            fail_reason: &record.fail_reason,
            classification: record.classification.as_str(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttemptOut<'a> {
    invoice_no: &'a str,
    amount: String,
    currency: &'static str,
    created_at: String,
    valid_until: String,
    /// The next scheduled inquiry; absent once nothing can change.
    #[serde(skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
    inquiries: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_inquiry_at: Option<String>,
    evidence: Vec<EvidenceOut<'a>>,
}

impl<'a> AttemptOut<'a> {
    fn of(attempt: &'a Attempt, evidence: &'a [EvidenceRecord]) -> Self {
        Self {
            invoice_no: attempt.invoice_no.as_str(),
            amount: format_amount(attempt.amount, attempt.currency),
            currency: attempt.currency.code,
            created_at: rfc3339(attempt.created_at),
            valid_until: rfc3339(attempt.valid_until),
            due_at: attempt.due_at.map(rfc3339),
            inquiries: attempt.inquiries,
            last_inquiry_at: attempt.last_inquiry_at.map(rfc3339),
            evidence: evidence.iter().map(EvidenceOut::of).collect(),
        }
    }
}

fn resolution_json(resolution: &Resolution) -> Value {
    let mut value = json!({
        "to": resolution.to.as_str(),
        "reason": resolution.reason,
        "resolvedAt": rfc3339(resolution.resolved_at),
        "version": resolution.version,
    });
    if let (Some(reason), Some(map)) = (&resolution.review_reason, value.as_object_mut()) {
        map.insert("reviewReason".to_owned(), json!(reason));
    }
    value
}

fn transition_json(transition: &Transition) -> Value {
    let mut value = json!({"at": rfc3339(transition.at), "to": transition.to, "cause": transition.cause});
    if let (Some(from), Some(map)) = (transition.from, value.as_object_mut()) {
        map.insert("from".to_owned(), json!(from));
    }
    value
}

impl Printer {
    fn emit_json(&self, value: &Value) -> io::Result<()> {
        let mut stdout = io::stdout().lock();
        serde_json::to_writer_pretty(&mut stdout, value).map_err(io::Error::other)?;
        writeln!(stdout)
    }

    fn order_json(&self, order: &Order) -> io::Result<Value> {
        serde_json::to_value(OrderOut::of(order, self.now)).map_err(io::Error::other)
    }

    pub fn review(&self, listed: &[Result<Order, StoreError>]) -> io::Result<()> {
        let orders: Vec<&Order> = listed.iter().filter_map(|o| o.as_ref().ok()).collect();
        let unreadable: Vec<String> = listed.iter().filter_map(|o| o.as_ref().err()).map(ToString::to_string).collect();
        if self.json {
            let orders = orders.iter().map(|o| self.order_json(o)).collect::<io::Result<Vec<_>>>()?;
            return self.emit_json(&json!({ "orders": orders, "unreadable": unreadable }));
        }
        let mut out = io::stdout().lock();
        for problem in &unreadable {
            writeln!(out, "UNREADABLE {problem}")?;
        }
        if orders.is_empty() {
            return writeln!(out, "no orders in review");
        }
        writeln!(out, "{} in review, longest waiting first:", plural(orders.len(), "order"))?;
        writeln!(out, "{:<24} {:<21} {:>14} {:<21} REASON", "ORDER", "SINCE", "AMOUNT", "PAID INVOICE")?;
        for order in orders {
            writeln!(
                out,
                "{:<24} {:<21} {:>14} {:<21} {}",
                order.order_id.as_str(),
                rfc3339(order.updated_at),
                format!("{} {}", format_amount(order.amount, order.currency), order.currency.code),
                order.paid_invoice_no.as_ref().map_or("-", |i| i.as_str()),
                order.review_reason.as_deref().unwrap_or("-"),
            )?;
        }
        Ok(())
    }

    pub fn history(&self, history: &History) -> io::Result<()> {
        if self.json {
            let attempts: Vec<AttemptOut> =
                history.attempts.iter().map(|h| AttemptOut::of(&h.attempt, &h.evidence)).collect();
            return self.emit_json(&json!({
                "order": self.order_json(&history.order)?,
                "attempts": serde_json::to_value(attempts).map_err(io::Error::other)?,
                "resolutions": history.resolutions.iter().map(resolution_json).collect::<Vec<_>>(),
                "transitions": history.transitions.iter().map(transition_json).collect::<Vec<_>>(),
            }));
        }
        let mut out = io::stdout().lock();
        self.write_order(&mut out, &history.order)?;
        writeln!(out)?;
        writeln!(out, "attempts ({}), oldest first:", history.attempts.len())?;
        for h in &history.attempts {
            let a = &h.attempt;
            let schedule = a
                .due_at
                .map_or("off the reconciliation schedule".to_owned(), |due| format!("next inquiry {}", rfc3339(due)));
            writeln!(
                out,
                "  {}  {} {}  created {}  valid until {}  {} inquiries{}  {}",
                a.invoice_no,
                format_amount(a.amount, a.currency),
                a.currency.code,
                rfc3339(a.created_at),
                rfc3339(a.valid_until),
                a.inquiries,
                a.last_inquiry_at.map(|t| format!(" (last {})", rfc3339(t))).unwrap_or_default(),
                schedule,
            )?;
            if h.evidence.is_empty() {
                writeln!(out, "    no notification or inquiry answer kept")?;
            }
            for r in &h.evidence {
                writeln!(
                    out,
                    "    {}  {:<12}  respCode {:?}  status {:?}  amount {:?}{}{}  -> {}",
                    rfc3339(r.received_at),
                    r.kind.as_str(),
                    r.resp_code,
                    r.status,
                    r.amount,
                    if r.currency_code.is_empty() { String::new() } else { format!("  currency {}", r.currency_code) },
                    if r.fail_reason.is_empty() { String::new() } else { format!("  failReason {:?}", r.fail_reason) },
                    r.classification.as_str(),
                )?;
            }
        }
        if !history.resolutions.is_empty() {
            writeln!(out)?;
            writeln!(out, "resolutions:")?;
            for r in &history.resolutions {
                writeln!(
                    out,
                    "  {}  review -> {}  (version {})  {:?}",
                    rfc3339(r.resolved_at),
                    r.to.as_str(),
                    r.version,
                    r.reason
                )?;
            }
        }
        writeln!(out)?;
        writeln!(out, "transitions (derived from the attempts, the evidence and the resolutions):")?;
        for t in &history.transitions {
            writeln!(out, "  {}  {:>8} -> {:<8} {}", rfc3339(t.at), t.from.unwrap_or("(new)"), t.to, t.cause)?;
        }
        if let Some(last) = history.transitions.last()
            && last.to != history.order.status.as_str()
        {
            writeln!(
                out,
                "  note: the order is stored {}, the records end at {}: some change left no record here",
                history.order.status.as_str(),
                last.to
            )?;
        }
        Ok(())
    }

    pub fn resolved(&self, order: &Order, resolution: &Resolution) -> io::Result<()> {
        if self.json {
            return self
                .emit_json(&json!({"order": self.order_json(order)?, "resolution": resolution_json(resolution)}));
        }
        let mut out = io::stdout().lock();
        writeln!(
            out,
            "order {} moved from review to {} (version {}), reason kept: {:?}",
            order.order_id,
            resolution.to.as_str(),
            order.version,
            resolution.reason
        )
    }

    pub fn reconciled(&self, order: &Order, summary: &Summary) -> io::Result<()> {
        if self.json {
            let summary = serde_json::to_value(summary).map_err(io::Error::other)?;
            return self.emit_json(&json!({"summary": summary, "order": self.order_json(order)?}));
        }
        let mut out = io::stdout().lock();
        let what = if summary.paid > 0 {
            "2C2P reports it paid"
        } else if summary.failed > 0 {
            "2C2P reports it failed"
        } else {
            "the answer changed nothing"
        };
        writeln!(
            out,
            "order {}: asked 2C2P about attempt {}: {what}; the order is now {}",
            order.order_id,
            order.invoice_no,
            order.status_at(self.now).as_str()
        )
    }

    fn write_order(&self, out: &mut impl Write, order: &Order) -> io::Result<()> {
        let shown = order.status_at(self.now).as_str();
        writeln!(out, "order {}  status {}  version {}", order.order_id, order.status.as_str(), order.version)?;
        if shown != order.status.as_str() {
            writeln!(out, "  reads as {shown} (its attempt is past its validity)")?;
        }
        writeln!(
            out,
            "  {} {}  {:?}  openid {}",
            format_amount(order.amount, order.currency),
            order.currency.code,
            order.description,
            order.openid
        )?;
        writeln!(
            out,
            "  created {}  updated {}  current attempt {}",
            rfc3339(order.created_at),
            rfc3339(order.updated_at),
            order.invoice_no
        )?;
        if let (Some(paid_at), Some(invoice)) = (order.paid_at, &order.paid_invoice_no) {
            writeln!(out, "  paid {} by attempt {}", rfc3339(paid_at), invoice)?;
        }
        if let Some(reason) = &order.review_reason {
            writeln!(out, "  review reason: {reason}")?;
        }
        if let Some(reason) = &order.fail_reason {
            writeln!(out, "  fail reason: {reason}")?;
        }
        Ok(())
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
