//! The functions' own metrics, as CloudWatch embedded metric format (EMF) lines on stdout.
//!
//! Lambda ships stdout to CloudWatch Logs, which turns each EMF line into a data point: no CloudWatch
//! call on the request path, no extra permission, and every data point sits in the log with the order
//! it is about. The names and dimension sets are the ones template.yaml's alarms and dashboard read;
//! a dimension set that differs is another metric, and its alarm would never fire.
//!
//! Emitting never fails a request: a line that cannot be written is dropped.

use std::future::Future;
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::ids::{InvoiceNo, OrderId};
use crate::order::{Attempt, Order, StoredStatus, UnixSeconds};
use crate::store::{EvidenceRecord, EvidenceWrite, KeptAndApplied, OrderStore, Recorded, StoreError};
use crate::upstream::UpstreamError;

/// The namespace of every metric of ours.
pub const NAMESPACE: &str = "WcminiPayments";

/// The `Service` dimension: the functions' short names.
pub mod service {
    /// `Service` of the login function, whose upstream is WeChat.
    pub const OPENID: &str = "openid";
    /// `Service` of the prepay function (which also serves `GET /orders`).
    pub const PREPAY: &str = "prepay";
    /// `Service` of the 2C2P notification receiver.
    pub const NOTIFY: &str = "notify";
    /// `Service` of the scheduled inquiry run.
    pub const RECONCILE: &str = "reconcile";
    /// `Service` of the stream-to-EventBridge publisher.
    pub const EVENTS: &str = "events";
}

/// The metric names.
pub mod names {
    /// An order moved to paid (dimension `Service`).
    pub const PAYMENTS_PAID: &str = "PaymentsPaid";
    /// Its amount in minor units (dimensions `Service`, `Currency`).
    pub const PAYMENTS_PAID_AMOUNT: &str = "PaymentsPaidAmount";
    /// An order went to review (a person must look: amount mismatch or double payment); dimension `Service`.
    pub const ORDERS_TO_REVIEW: &str = "OrdersToReview";
    /// Dimensions `Service`, `Reason` (one of [`super::reason`]).
    pub const NOTIFICATIONS_REFUSED: &str = "NotificationsRefused";
    /// A store call failed for a reason other than a lost race; dimension `Service`.
    pub const STORE_FAILURES: &str = "StoreFailures";
    /// Dimensions `Service`, `Upstream` (`2C2P` or `WeChat`).
    pub const UPSTREAM_ERRORS: &str = "UpstreamErrors";
    /// Dimensions `Service`, `Upstream` (`2C2P` or `WeChat`).
    pub const UPSTREAM_TIMEOUTS: &str = "UpstreamTimeouts";
    /// A payment found by reconciliation's inquiry: 2C2P's notification for it was lost or late.
    pub const RECONCILE_RECOVERIES: &str = "ReconcileRecoveries";
    /// An inquiry of a reconcile run failed (unreachable, timed out, garbage, bad hash); it is retried later.
    pub const RECONCILE_ERRORS: &str = "ReconcileErrors";
    /// Stream records the `events` function reported failed; a run of them means EventBridge refuses our events.
    pub const EVENTS_FAILED: &str = "EventsFailed";
}

/// The `Reason` of `NotificationsRefused`.
pub mod reason {
    /// The notification's signature did not verify (answered 401): forged, or a key rotation gone wrong.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// A verified notification named a merchant ID other than ours (answered 400).
    pub const OTHER_MERCHANT: &str = "other_merchant";
    /// The body was not a form, lacked `paymentResponse`, or its envelope could not be read (answered 400).
    pub const MALFORMED: &str = "malformed";
}

/// A metric's CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Occurrences, for counters.
    Count,
    /// CloudWatch has no currency unit: amounts go unitless.
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::None => "None",
        }
    }
}

/// Where lines go.
#[derive(Clone)]
enum Sink {
    Stdout,
    /// Kept in memory, for tests.
    Memory(Arc<Mutex<Vec<String>>>),
    Off,
}

/// One function's metrics: its `Service` name and where the lines go. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    service: &'static str,
    sink: Sink,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sink = match self.sink {
            Sink::Stdout => "stdout",
            Sink::Memory(_) => "memory",
            Sink::Off => "off",
        };
        f.debug_struct("Metrics").field("service", &self.service).field("sink", &sink).finish()
    }
}

impl Metrics {
    /// The function's metrics, written to stdout (what Lambda ships to CloudWatch Logs).
    pub fn for_service(service: &'static str) -> Self {
        Self { service, sink: Sink::Stdout }
    }

    /// Metrics kept in memory, read back with [`Self::lines`] (tests).
    pub fn capture(service: &'static str) -> Self {
        Self { service, sink: Sink::Memory(Arc::default()) }
    }

    /// Metrics that go nowhere.
    pub fn off() -> Self {
        Self { service: "", sink: Sink::Off }
    }

    /// The function name these metrics carry as `Service` (empty for [`Self::off`]).
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// The lines captured so far (only [`Self::capture`] keeps any), oldest first.
    pub fn lines(&self) -> Vec<String> {
        match &self.sink {
            Sink::Memory(lines) => lines.lock().unwrap_or_else(PoisonError::into_inner).clone(),
            Sink::Stdout | Sink::Off => Vec::new(),
        }
    }

    /// Adds `value` to the count `name` with `Service` and these dimensions.
    pub fn count(&self, name: &str, dimensions: &[(&str, &str)], value: u64) {
        self.emit(name, Unit::Count, dimensions, value, &[]);
    }

    /// One EMF line: the metric, its dimensions (`Service` first), and `notes`, plain properties a
    /// person reads in the log beside the data point (never secrets: they are logged as they are).
    pub fn emit(&self, name: &str, unit: Unit, dimensions: &[(&str, &str)], value: u64, notes: &[(&str, &str)]) {
        if matches!(self.sink, Sink::Off) {
            return;
        }
        let line = self.line(name, unit, dimensions, value, notes);
        match &self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                // Dropped if stdout is gone: a metric is never worth failing the request for.
                let _ = out.write_all(line.as_bytes()).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
            }
            Sink::Memory(lines) => lines.lock().unwrap_or_else(PoisonError::into_inner).push(line),
            Sink::Off => {}
        }
    }

    fn line(&self, name: &str, unit: Unit, dimensions: &[(&str, &str)], value: u64, notes: &[(&str, &str)]) -> String {
        let mut object = Map::new();
        // Notes first, so that a note can never overwrite a dimension, the value or `_aws`.
        for (key, note) in notes {
            object.insert((*key).to_owned(), Value::from(*note));
        }
        let mut keys = vec![Value::from("Service")];
        object.insert("Service".to_owned(), Value::from(self.service));
        for (key, dimension) in dimensions {
            keys.push(Value::from(*key));
            object.insert((*key).to_owned(), Value::from(*dimension));
        }
        object.insert(name.to_owned(), Value::from(value));
        let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        object.insert(
            "_aws".to_owned(),
            json!({
                "Timestamp": u64::try_from(millis).unwrap_or(u64::MAX),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [keys],
                    "Metrics": [{"Name": name, "Unit": unit.as_str()}],
                }],
            }),
        );
        Value::Object(object).to_string()
    }

    /// An order moved from `from` to `order` on evidence about `invoice`: a payment counts
    /// `PaymentsPaid` and its amount, a review counts `OrdersToReview` with what a person needs.
    pub fn order_moved(&self, from: StoredStatus, order: &Order, invoice: &InvoiceNo) {
        let order_id = order.order_id.as_str();
        match order.status {
            StoredStatus::Paid if from != StoredStatus::Paid => {
                let notes = [("orderId", order_id), ("invoiceNo", invoice.as_str())];
                self.emit(names::PAYMENTS_PAID, Unit::Count, &[], 1, &notes);
                let currency = [("Currency", order.currency.code)];
                self.emit(names::PAYMENTS_PAID_AMOUNT, Unit::None, &currency, order.amount.get(), &notes);
            }
            StoredStatus::Review if from != StoredStatus::Review => {
                let paid_invoice = order.paid_invoice_no.as_ref().map_or("", InvoiceNo::as_str);
                let notes = [
                    ("orderId", order_id),
                    ("invoiceNo", invoice.as_str()),
                    ("paidInvoiceNo", paid_invoice),
                    ("reviewReason", order.review_reason.as_deref().unwrap_or("")),
                ];
                self.emit(names::ORDERS_TO_REVIEW, Unit::Count, &[], 1, &notes);
            }
            _ => {}
        }
    }

    /// A store call failed (a failed condition is a lost race, not a failure, and is not counted).
    pub fn store_failure(&self, operation: &str, error: &StoreError) {
        if *error == StoreError::ConditionFailed {
            return;
        }
        let error = error.to_string();
        let notes = [("operation", operation), ("error", error.as_str())];
        self.emit(names::STORE_FAILURES, Unit::Count, &[], 1, &notes);
    }

    /// 2C2P or WeChat gave no usable answer: `UpstreamTimeouts` or `UpstreamErrors`.
    pub fn upstream_failure(&self, error: &UpstreamError) {
        let (name, upstream) = match error {
            UpstreamError::Timeout(service) => (names::UPSTREAM_TIMEOUTS, *service),
            UpstreamError::Unreachable(service)
            | UpstreamError::BadSignature(service)
            | UpstreamError::HttpStatus { service, .. }
            | UpstreamError::Garbage { service, .. } => (names::UPSTREAM_ERRORS, *service),
        };
        let error = error.to_string();
        self.emit(name, Unit::Count, &[("Upstream", upstream)], 1, &[("error", error.as_str())]);
    }

    /// A notification refused for `reason` (one of [`reason`]).
    pub fn notification_refused(&self, reason: &str) {
        self.count(names::NOTIFICATIONS_REFUSED, &[("Reason", reason)], 1);
    }
}

/// A store whose failed calls count `StoreFailures`, naming the operation and the error: one place
/// sees every call, including those whose failure the use case shrugs off (a reschedule, a settle).
/// A call cut short by the request's deadline is not the store's answer and is not seen here.
pub struct MeteredStore<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> MeteredStore<S> {
    /// Wraps `inner` so each failed call is counted under `metrics`' service.
    pub fn new(inner: S, metrics: Metrics) -> Self {
        Self { inner, metrics }
    }

    /// The store underneath, for the sandbox and tests.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Counts into `metrics` from now on.
    pub fn set_metrics(&mut self, metrics: Metrics) {
        self.metrics = metrics;
    }

    async fn observe<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let result = call.await;
        if let Err(error) = &result {
            self.metrics.store_failure(operation, error);
        }
        result
    }
}

impl<S: OrderStore> OrderStore for MeteredStore<S> {
    fn get_order(&self, order_id: &OrderId) -> impl Future<Output = Result<Option<Order>, StoreError>> + Send {
        self.observe("get_order", self.inner.get_order(order_id))
    }

    fn open_order(&self, order: &Order, attempt: &Attempt) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.observe("open_order", self.inner.open_order(order, attempt))
    }

    fn start_attempt(
        &self,
        next: &Order,
        read: &Order,
        attempt: &Attempt,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.observe("start_attempt", self.inner.start_attempt(next, read, attempt))
    }

    fn replace_order(
        &self,
        next: &Order,
        read: &Order,
        attempt: Option<&Attempt>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.observe("replace_order", self.inner.replace_order(next, read, attempt))
    }

    fn get_attempt(&self, invoice_no: &InvoiceNo) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send {
        self.observe("get_attempt", self.inner.get_attempt(invoice_no))
    }

    fn reschedule_attempt(
        &self,
        next: &Attempt,
        expected_inquiries: u32,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.observe("reschedule_attempt", self.inner.reschedule_attempt(next, expected_inquiries))
    }

    fn settle_attempt(&self, invoice_no: &InvoiceNo) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.observe("settle_attempt", self.inner.settle_attempt(invoice_no))
    }

    fn claim_inquiry(
        &self,
        invoice_no: &InvoiceNo,
        now: UnixSeconds,
        min_gap_seconds: i64,
    ) -> impl Future<Output = Result<Option<Attempt>, StoreError>> + Send {
        self.observe("claim_inquiry", self.inner.claim_inquiry(invoice_no, now, min_gap_seconds))
    }

    fn due_attempts(
        &self,
        now: UnixSeconds,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Attempt>, StoreError>> + Send {
        self.observe("due_attempts", self.inner.due_attempts(now, limit))
    }

    fn record_evidence(&self, record: &EvidenceRecord) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        self.observe("record_evidence", self.inner.record_evidence(record))
    }

    fn keep_and_apply(
        &self,
        write: EvidenceWrite<'_>,
    ) -> impl Future<Output = Result<KeptAndApplied, StoreError>> + Send {
        self.observe("keep_and_apply", self.inner.keep_and_apply(write))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Value {
        serde_json::from_str(line).expect("one JSON object per line")
    }

    #[test]
    fn a_line_is_an_emf_object_with_its_dimensions_and_value() {
        let metrics = Metrics::capture(service::NOTIFY);
        metrics.emit("NotificationsRefused", Unit::Count, &[("Reason", "bad_signature")], 2, &[("note", "x")]);
        let lines = metrics.lines();
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'), "one line per metric");
        let line = parse(&lines[0]);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "WcminiPayments");
        assert_eq!(directive["Dimensions"], json!([["Service", "Reason"]]));
        assert_eq!(directive["Metrics"], json!([{"Name": "NotificationsRefused", "Unit": "Count"}]));
        assert!(line["_aws"]["Timestamp"].as_u64().is_some_and(|t| t > 1_700_000_000_000));
        assert_eq!(line["Service"], "notify");
        assert_eq!(line["Reason"], "bad_signature");
        assert_eq!(line["NotificationsRefused"], 2);
        assert_eq!(line["note"], "x");
    }

    #[test]
    fn a_note_cannot_overwrite_the_metric() {
        let metrics = Metrics::capture(service::PREPAY);
        metrics.emit("StoreFailures", Unit::Count, &[], 1, &[("StoreFailures", "x"), ("Service", "y"), ("_aws", "z")]);
        let line = parse(&metrics.lines()[0]);
        assert_eq!(line["StoreFailures"], 1);
        assert_eq!(line["Service"], "prepay");
        assert!(line["_aws"].is_object());
    }

    #[test]
    fn a_failed_condition_is_not_a_store_failure() {
        let metrics = Metrics::capture(service::NOTIFY);
        metrics.store_failure("replace_order", &StoreError::ConditionFailed);
        assert!(metrics.lines().is_empty());
        metrics.store_failure("replace_order", &StoreError::Throttled);
        let line = parse(&metrics.lines()[0]);
        assert_eq!(line["StoreFailures"], 1);
        assert_eq!(line["operation"], "replace_order");
    }

    #[test]
    fn upstream_failures_name_their_upstream() {
        let metrics = Metrics::capture(service::OPENID);
        metrics.upstream_failure(&UpstreamError::Timeout(crate::upstream::WECHAT));
        metrics.upstream_failure(&UpstreamError::HttpStatus { service: crate::upstream::PGW, status: 503 });
        let lines: Vec<Value> = metrics.lines().iter().map(|l| parse(l)).collect();
        assert_eq!(lines[0]["UpstreamTimeouts"], 1);
        assert_eq!(lines[0]["Upstream"], "WeChat");
        assert_eq!(lines[1]["UpstreamErrors"], 1);
        assert_eq!(lines[1]["Upstream"], "2C2P");
    }

    #[test]
    fn off_and_stdout_keep_nothing() {
        let off = Metrics::off();
        off.count("X", &[], 1);
        assert!(off.lines().is_empty());
        let copy = Metrics::capture(service::EVENTS);
        copy.clone().count("EventsFailed", &[], 3);
        assert_eq!(copy.lines().len(), 1, "clones share their lines");
    }
}
