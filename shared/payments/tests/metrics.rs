//! The metrics template.yaml's alarms and dashboard read come out of real flows: prepay, notify and
//! reconciliation over the in-memory store and the simulated 2C2P, each counting into a capture. Each
//! metric is found by its name and its exact dimension set, the one the alarm names: a line with one
//! dimension more or less is another metric, and the alarm would never fire.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request};
use payments::clock::Clock;
use payments::config::{NotifyConfig, Settings};
use payments::deadline::Deadline;
use payments::handlers::NotifyHandler;
use payments::ids::OpenId;
use payments::metrics::{MeteredStore, Metrics, service};
use payments::order::{OrderTerms, StoredStatus};
use payments::secret::Secret;
use payments::store::{MemoryStore, OrderStore};
use payments::upstream::{PgwClient, PgwKeys, UpstreamError, http_client_with};
use payments::usecases::prepay::{Prepay, PrepayError};
use payments::usecases::reconcile::Reconciler;
use protocol::securepay::PaymentResponse;
use serde_json::{Value, json};
use simulator::{Fault, PayResult, Simulator, SimulatorConfig};

const KEY: &str = "MetricsTestS3cretKey";
const MERCHANT: &str = "M0001";
const APP_ID: &str = "wx1234567890abcdef";
/// 2026-11-26T12:00:00Z.
const START: i64 = 1_795_694_400;
const FIRST_INQUIRY_AFTER: i64 = 120;
/// Short, so that a hung 2C2P times out quickly.
const UPSTREAM_TIMEOUT: Duration = Duration::from_millis(500);

/// The simulated 2C2P on loopback, one store, and the functions' pieces, each with its own capture.
struct Setup {
    sim: Simulator,
    store: Arc<MemoryStore>,
    clock: Clock,
    pgw: PgwClient,
    prepay: Prepay<MeteredStore<Arc<MemoryStore>>>,
    notify: NotifyHandler<Arc<MemoryStore>>,
    notify_metrics: Metrics,
    reconcile_metrics: Metrics,
}

impl Setup {
    async fn new() -> Setup {
        let sim = Simulator::new(SimulatorConfig {
            merchant_id: MERCHANT.into(),
            secret_key: KEY.into(),
            app_id: APP_ID.into(),
            app_secret: "app-secret".into(),
            notify_url: "http://127.0.0.1:9/notify".into(),
        });
        let (addr, _server) = sim.clone().spawn().await.expect("simulator listens");
        let base = format!("http://{addr}");
        let http = http_client_with(UPSTREAM_TIMEOUT, UPSTREAM_TIMEOUT).expect("http client");
        let pgw = PgwClient::new(
            http,
            &format!("{base}/2c2p/SecurePayment/Payment.aspx"),
            &format!("{base}/2c2p/PaymentActionV2/PaymentProcess.aspx"),
            MERCHANT,
            PgwKeys::new(Secret::new(KEY), None),
        );
        let store = Arc::new(MemoryStore::new());
        let clock = Clock::manual(START);
        let prepay_metrics = Metrics::capture(service::PREPAY);
        let prepay = Prepay {
            store: MeteredStore::new(store.clone(), prepay_metrics.clone()),
            pgw: pgw.clone(),
            clock: clock.clone(),
            merchant_id: MERCHANT.into(),
            app_id: APP_ID.into(),
            payment_ttl_seconds: 900,
            first_inquiry_after: FIRST_INQUIRY_AFTER,
            metrics: prepay_metrics,
        };
        let settings =
            Settings::from_pairs([("TABLE_NAME", "unused"), ("PGW_MERCHANT_ID", MERCHANT), ("PGW_SECRET_KEY", KEY)]);
        let config = NotifyConfig::from_settings(&settings).expect("notify config");
        let notify_metrics = Metrics::capture(service::NOTIFY);
        let notify = NotifyHandler::new(&config, store.clone(), clock.clone()).with_metrics(notify_metrics.clone());
        Setup {
            sim,
            store,
            clock,
            pgw,
            prepay,
            notify,
            notify_metrics,
            reconcile_metrics: Metrics::capture(service::RECONCILE),
        }
    }

    /// Prepays a 12.50 SGD order and returns its invoice.
    async fn prepaid(&self, order_id: &str) -> String {
        let (order, _) = self.prepay_order(order_id).await.expect("prepay gave parameters");
        order.invoice_no.as_str().to_owned()
    }

    async fn prepay_order(
        &self,
        order_id: &str,
    ) -> Result<(payments::order::Order, protocol::securepay::WechatPayment), PrepayError> {
        let openid = OpenId::new("o-metrics-user").expect("openid");
        let terms = OrderTerms::parse(order_id, "12.50", "SGD", "Latte x2").expect("terms");
        self.prepay.run(&openid, &terms, &Deadline::after(Duration::from_secs(15))).await
    }

    /// Posts a form body to the notify handler; the answer's status.
    async fn post_notify(&self, form: String) -> u16 {
        let request: Request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/notify")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form))
            .expect("request");
        self.notify.handle(request).await.status().as_u16()
    }

    /// 2C2P's notification for `invoice`, as the simulator signs it.
    async fn notify_paid(&self, invoice: &str) -> u16 {
        let envelope = self.sim.notification_envelope(invoice, PayResult::Success).expect("known invoice");
        self.post_notify(protocol::envelope::form_body("paymentResponse", &envelope)).await
    }

    async fn notify_sealed(&self, response: &PaymentResponse, key: &str) -> u16 {
        self.post_notify(protocol::envelope::form_body("paymentResponse", &response.seal(key.as_bytes()))).await
    }

    async fn reconcile(&self) -> payments::usecases::reconcile::Summary {
        let store = MeteredStore::new(self.store.clone(), self.reconcile_metrics.clone());
        let reconciler = Reconciler {
            store: &store,
            pgw: &self.pgw,
            clock: &self.clock,
            first_inquiry_after: FIRST_INQUIRY_AFTER,
            metrics: self.reconcile_metrics.clone(),
        };
        reconciler.run_due(10, &Deadline::after(Duration::from_secs(15))).await.expect("run")
    }
}

/// A notification as 2C2P would send it for `invoice`, paid, with this `amt` (12 digits, minor units).
fn paid_notification(invoice: &str, amt: &str) -> PaymentResponse {
    PaymentResponse {
        time_stamp: "261126120500".into(),
        merchant_id: MERCHANT.into(),
        resp_code: "000".into(),
        amt: amt.into(),
        unique_transaction_code: invoice.into(),
        tran_ref: "8812345".into(),
        date_time: "261126120500".into(),
        status: "A".into(),
        fail_reason: "Approved".into(),
        payment_channel: "WCMINI".into(),
        currency_code: "702".into(),
        ..Default::default()
    }
}

/// The captured lines of `metric` whose dimension set is exactly `Service` plus `dimensions` (in
/// that order) with those values, parsed; each is checked to be a well-formed EMF object.
fn find(metrics: &Metrics, metric: &str, dimensions: &[(&str, &str)]) -> Vec<Value> {
    let mut keys = vec!["Service"];
    keys.extend(dimensions.iter().map(|(k, _)| *k));
    metrics
        .lines()
        .iter()
        .map(|line| serde_json::from_str::<Value>(line).expect("each line is one JSON object"))
        .filter(|line| {
            let directives = &line["_aws"]["CloudWatchMetrics"];
            assert_eq!(directives.as_array().map(Vec::len), Some(1), "{line}");
            assert_eq!(directives[0]["Namespace"], "WcminiPayments", "{line}");
            assert!(line["_aws"]["Timestamp"].is_u64(), "{line}");
            directives[0]["Metrics"][0]["Name"] == metric
                && directives[0]["Dimensions"] == json!([keys])
                && line["Service"] == metrics.service()
                && dimensions.iter().all(|(k, v)| line[*k] == *v)
        })
        .collect()
}

/// The sum of `metric`'s values over the lines [`find`] finds.
fn total(metrics: &Metrics, metric: &str, dimensions: &[(&str, &str)]) -> u64 {
    find(metrics, metric, dimensions).iter().map(|line| line[metric].as_u64().expect("numeric value")).sum()
}

#[tokio::test]
async fn a_paid_notification_counts_the_payment_and_its_amount() {
    let setup = Setup::new().await;
    let invoice = setup.prepaid("M-PAID-1").await;
    assert_eq!(setup.notify_paid(&invoice).await, 200);

    let m = &setup.notify_metrics;
    assert_eq!(total(m, "PaymentsPaid", &[]), 1);
    let paid = find(m, "PaymentsPaid", &[]);
    assert_eq!(paid[0]["orderId"], "M-PAID-1");
    assert_eq!(paid[0]["invoiceNo"], invoice.as_str());
    assert_eq!(paid[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Count");
    assert_eq!(total(m, "PaymentsPaidAmount", &[("Currency", "SGD")]), 1250);

    // 2C2P's retry of the same notification moves nothing, so counts nothing.
    assert_eq!(setup.notify_paid(&invoice).await, 200);
    assert_eq!(total(m, "PaymentsPaid", &[]), 1, "a replay is not a second payment");
    assert_eq!(find(m, "NotificationsRefused", &[("Reason", "bad_signature")]).len(), 0);
}

#[tokio::test]
async fn refused_notifications_are_counted_by_reason() {
    let setup = Setup::new().await;
    let invoice = setup.prepaid("M-REFUSED-1").await;
    let response = paid_notification(&invoice, "000000001250");

    assert_eq!(setup.notify_sealed(&response, "not-our-key").await, 401);
    let other = PaymentResponse { merchant_id: "M9999".into(), ..response.clone() };
    assert_eq!(setup.notify_sealed(&other, KEY).await, 400);
    assert_eq!(setup.post_notify("paymentResponse=%%%".into()).await, 400);

    let m = &setup.notify_metrics;
    assert_eq!(total(m, "NotificationsRefused", &[("Reason", "bad_signature")]), 1);
    assert_eq!(total(m, "NotificationsRefused", &[("Reason", "other_merchant")]), 1);
    assert_eq!(total(m, "NotificationsRefused", &[("Reason", "malformed")]), 1);
    assert_eq!(total(m, "PaymentsPaid", &[]), 0);
    assert_eq!(setup.store.orders()[0].status, StoredStatus::Pending);
}

#[tokio::test]
async fn money_that_differs_from_the_order_counts_a_review_with_what_a_person_needs() {
    let setup = Setup::new().await;
    let invoice = setup.prepaid("M-REVIEW-1").await;
    assert_eq!(setup.notify_sealed(&paid_notification(&invoice, "000000001000"), KEY).await, 200);

    let m = &setup.notify_metrics;
    let review = find(m, "OrdersToReview", &[]);
    assert_eq!(review.len(), 1);
    assert_eq!(review[0]["OrdersToReview"], 1);
    assert_eq!(review[0]["orderId"], "M-REVIEW-1");
    assert_eq!(review[0]["invoiceNo"], invoice.as_str());
    let reason = review[0]["reviewReason"].as_str().expect("reviewReason on the metric's line");
    assert!(reason.contains("amount") && reason.contains(&invoice), "{reason}");
    assert_eq!(total(m, "PaymentsPaid", &[]), 0, "a review is not a payment");
}

#[tokio::test]
async fn a_lost_notification_found_by_reconciliation_counts_a_recovery() {
    let setup = Setup::new().await;
    let invoice = setup.prepaid("M-LOST-1").await;
    setup.sim.pay_without_notify(&invoice, PayResult::Success).expect("paid");
    setup.clock.advance(FIRST_INQUIRY_AFTER + 1);

    let summary = setup.reconcile().await;
    assert_eq!(summary.paid, 1, "{summary:?}");

    let m = &setup.reconcile_metrics;
    assert_eq!(total(m, "ReconcileRecoveries", &[]), 1);
    assert_eq!(find(m, "ReconcileRecoveries", &[])[0]["orderId"], "M-LOST-1");
    assert_eq!(total(m, "PaymentsPaid", &[]), 1, "the reconcile service counts the payment too");
    assert_eq!(total(m, "PaymentsPaidAmount", &[("Currency", "SGD")]), 1250);
    assert_eq!(total(m, "ReconcileErrors", &[]), 0);

    // 2C2P unreachable for the next attempt: one error per failed inquiry.
    let invoice = setup.prepaid("M-LOST-2").await;
    setup.sim.set_inquiry_fault(Some(Fault::Http500));
    setup.clock.advance(FIRST_INQUIRY_AFTER + 1);
    assert_eq!(setup.reconcile().await.errors, 1);
    assert_eq!(total(m, "ReconcileErrors", &[]), 1);
    assert_eq!(find(m, "ReconcileErrors", &[])[0]["invoiceNo"], invoice.as_str());
    assert_eq!(total(m, "UpstreamErrors", &[("Upstream", "2C2P")]), 1);
}

#[tokio::test]
async fn a_store_that_fails_counts_store_failures_and_a_lost_race_does_not() {
    let setup = Setup::new().await;
    let invoice = setup.prepaid("M-STORE-1").await;
    setup.store.fail_writes(true);
    assert_eq!(setup.notify_paid(&invoice).await, 500, "not kept, so not acknowledged");

    let m = &setup.notify_metrics;
    let failures = find(m, "StoreFailures", &[]);
    assert_eq!(failures.len(), 1, "{failures:?}");
    // The notification is kept and applied in one transaction (the order read first).
    assert_eq!(failures[0]["operation"], "keep_and_apply");
    assert!(failures[0]["error"].as_str().is_some_and(|e| e.contains("injected failure")));

    setup.store.fail_writes(false);
    assert_eq!(setup.notify_paid(&invoice).await, 200, "2C2P's retry is kept");
    assert_eq!(total(m, "StoreFailures", &[]), 1);
    assert_eq!(total(m, "PaymentsPaid", &[]), 1);

    // Writing an order that exists loses a condition: a race, not a store failure.
    let order = setup.store.orders().pop().expect("order");
    let invoice = payments::ids::InvoiceNo::parse(&invoice).expect("invoice");
    let attempt = setup.store.get_attempt(&invoice).await.expect("read").expect("attempt");
    let lost = setup.prepay.store.open_order(&order, &attempt).await;
    assert_eq!(lost, Err(payments::store::StoreError::ConditionFailed));
    assert_eq!(total(&setup.prepay.metrics, "StoreFailures", &[]), 0);
}

#[tokio::test]
async fn a_2c2p_that_does_not_answer_counts_an_upstream_timeout() {
    let setup = Setup::new().await;
    setup.sim.set_securepay_fault(Some(Fault::Delay(Duration::from_secs(3))));
    let result = setup.prepay_order("M-SLOW-1").await;
    assert!(matches!(result, Err(PrepayError::Upstream(UpstreamError::Timeout(_)))), "{result:?}");

    let m = &setup.prepay.metrics;
    assert_eq!(total(m, "UpstreamTimeouts", &[("Upstream", "2C2P")]), 1);
    assert_eq!(total(m, "UpstreamErrors", &[("Upstream", "2C2P")]), 0);
    assert_eq!(total(m, "StoreFailures", &[]), 0, "the failed attempt was recorded");
}
