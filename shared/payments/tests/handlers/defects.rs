//! Regression tests for defects seen in the field: answers after the Lambda deadline, a write whose
//! response was lost, notifications lost to form decoding.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use payments::ids::{InvoiceNo, OrderId};
use payments::order::{Attempt, Order, StoredStatus, UnixSeconds};
use payments::store::{EvidenceRecord, EvidenceWrite, KeptAndApplied, MemoryStore, OrderStore, Recorded, StoreError};
use serde_json::json;
use simulator::Fault;

use crate::common::*;

/// A world whose handlers reach 2C2P with long client timeouts: only the request's deadline cuts a call.
async fn patient_world() -> World {
    let options = Options { upstream_timeout: LONG_TIMEOUT, ..Options::default() };
    World::build(options, Arc::new(MemoryStore::new())).await
}

#[tokio::test]
async fn a_prepay_answers_504_before_its_deadline_when_2c2p_and_the_store_are_slow() {
    for deadline_ms in [3_000, 6_000] {
        let world = patient_world().await;
        let session = world.login("alice").await;
        world.store.set_delay(Duration::from_millis(300));
        world.sim.set_securepay_fault(Some(Fault::Delay(Duration::from_secs(60))));
        let id = format!("DL-{deadline_ms}");
        let body = json!({"orderToken": world.order_token(&id, "3.00")}).to_string();
        let budget = Duration::from_millis(deadline_ms);
        let started = Instant::now();
        let response = world.prepay.handle(with_deadline(prepay_request(&session, &body), budget)).await;
        let took = started.elapsed();
        let (status, answer) = parts(response);
        assert_eq!((status, error_code(&answer)), (504, "upstream_timeout"), "{deadline_ms} ms: {answer}");
        assert!(took < budget, "{deadline_ms} ms: answered after {took:?}, past the deadline");
        world.store.set_delay(Duration::ZERO);
        let order = world.stored(&id).await;
        assert_eq!(order.status, StoredStatus::Failed, "{deadline_ms} ms: the attempt is recorded failed");
        assert!(order.fail_reason.as_deref().is_some_and(|r| r.contains("2C2P")), "{order:?}");
    }
}

#[tokio::test]
async fn a_notification_answers_500_before_its_deadline_when_the_store_hangs() {
    let world = patient_world().await;
    let session = world.login("alice").await;
    let invoice_no = world.prepaid(&session, "DL-N", "12.50").await;
    world.store.set_delay(Duration::from_secs(30));
    let form = protocol::envelope::form_body(
        "paymentResponse",
        &notification(&invoice_no, "000", "A", "000000001250").seal(KEY.as_bytes()),
    );
    let request = event("notify", |e| set_base64_body(e, form.as_bytes()));
    let budget = Duration::from_secs(3);
    let started = Instant::now();
    let (status, answer) = parts(world.notify.handle(with_deadline(request, budget)).await);
    let took = started.elapsed();
    assert_eq!((status, error_code(&answer)), (500, "internal"), "{answer}");
    assert!(took < budget, "answered after {took:?}, past the deadline");
    world.store.set_delay(Duration::ZERO);
    assert_eq!(world.stored("DL-N").await.status, StoredStatus::Pending, "nothing acknowledged");
    assert_eq!(world.notify_form(&form).await.0, 200, "2C2P's retry is kept");
    assert_eq!(world.stored("DL-N").await.status, StoredStatus::Paid);
}

/// The in-memory store, except that the response of the next successful `open_order` is lost: the
/// write is made, the caller hears `Unavailable` (a timeout after DynamoDB committed, say).
struct LosesAnOpenResponse {
    inner: MemoryStore,
    lose_next: AtomicBool,
}

impl OrderStore for LosesAnOpenResponse {
    async fn get_order(&self, order_id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.inner.get_order(order_id).await
    }

    async fn open_order(&self, order: &Order, attempt: &Attempt) -> Result<(), StoreError> {
        self.inner.open_order(order, attempt).await?;
        if self.lose_next.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("the response was lost".into()));
        }
        Ok(())
    }

    async fn start_attempt(&self, next: &Order, read: &Order, attempt: &Attempt) -> Result<(), StoreError> {
        self.inner.start_attempt(next, read, attempt).await
    }

    async fn replace_order(&self, next: &Order, read: &Order, attempt: Option<&Attempt>) -> Result<(), StoreError> {
        self.inner.replace_order(next, read, attempt).await
    }

    async fn get_attempt(&self, invoice_no: &InvoiceNo) -> Result<Option<Attempt>, StoreError> {
        self.inner.get_attempt(invoice_no).await
    }

    async fn reschedule_attempt(&self, next: &Attempt, expected_inquiries: u32) -> Result<(), StoreError> {
        self.inner.reschedule_attempt(next, expected_inquiries).await
    }

    async fn settle_attempt(&self, invoice_no: &InvoiceNo) -> Result<(), StoreError> {
        self.inner.settle_attempt(invoice_no).await
    }

    async fn claim_inquiry(
        &self,
        invoice_no: &InvoiceNo,
        now: UnixSeconds,
        min_gap_seconds: i64,
    ) -> Result<Option<Attempt>, StoreError> {
        self.inner.claim_inquiry(invoice_no, now, min_gap_seconds).await
    }

    async fn due_attempts(&self, now: UnixSeconds, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        self.inner.due_attempts(now, limit).await
    }

    async fn record_evidence(&self, record: &EvidenceRecord) -> Result<Recorded, StoreError> {
        self.inner.record_evidence(record).await
    }

    async fn keep_and_apply(&self, write: EvidenceWrite<'_>) -> Result<KeptAndApplied, StoreError> {
        self.inner.keep_and_apply(write).await
    }
}

#[tokio::test]
async fn after_a_lost_write_response_the_same_users_retry_is_served_not_refused() {
    let store = Arc::new(LosesAnOpenResponse { inner: MemoryStore::new(), lose_next: AtomicBool::new(true) });
    let world = World::build(Options::default(), store.clone()).await;
    let session = world.login("alice").await;
    let token = world.order_token("LW-1", "4.20");
    let body = json!({ "orderToken": token }).to_string();
    let (status, answer) = world.prepay_json(&session, &body).await;
    assert_eq!((status, error_code(&answer)), (500, "internal"), "{answer}");
    assert!(!store.lose_next.load(Ordering::SeqCst), "the lost response was played");
    assert_eq!(world.sim.securepay_calls(), 0);

    let started = Instant::now();
    let (status, answer) = world.prepay_json(&session, &body).await;
    let took = started.elapsed();
    assert_eq!(status, 200, "the same order from the same user is not a conflict: {answer}");
    assert!(took < Duration::from_secs(5), "served within a few seconds, took {took:?}");
    assert_eq!(world.sim.securepay_calls(), 1);
    let order = world.stored("LW-1").await;
    assert_eq!(
        (order.status, order.invoice_no.as_str()),
        (StoredStatus::Pending, answer["invoiceNo"].as_str().expect("invoice"))
    );

    // Another user still may not take the orderId over.
    let bob = world.login("bob").await;
    let (status, answer) = world.prepay_json(&bob, &body).await;
    assert_eq!((status, error_code(&answer)), (409, "order_conflict"), "{answer}");
}

#[tokio::test]
async fn a_notification_posted_unescaped_is_accepted_and_pays() {
    let world = World::new().await;
    let session = world.login("alice").await;
    let invoice_no = world.prepaid(&session, "FD-1", "12.50").await;
    // A notification whose envelope has a '+', sent without percent-encoding (raw base64 in the form).
    let sealed = (0..500)
        .map(|n| {
            let mut paid = notification(&invoice_no, "000", "A", "000000001250");
            paid.tran_ref = format!("ref{n}");
            paid.seal(KEY.as_bytes())
        })
        .find(|sealed| sealed.contains('+'))
        .expect("an envelope with a '+' among 500");
    let (status, body) = world.notify_form(&format!("paymentResponse={sealed}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(world.stored("FD-1").await.status, StoredStatus::Paid);

    // The same, arriving as plain text rather than base64 (isBase64Encoded false).
    let invoice_no = world.prepaid(&session, "FD-2", "12.50").await;
    let sealed = (0..500)
        .map(|n| {
            let mut paid = notification(&invoice_no, "000", "A", "000000001250");
            paid.tran_ref = format!("ref{n}");
            paid.seal(KEY.as_bytes())
        })
        .find(|sealed| sealed.contains('+'))
        .expect("an envelope with a '+' among 500");
    let request = event("notify", |e| set_body(e, &format!("paymentResponse={sealed}")));
    let (status, body) = parts(world.notify.handle(request).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(world.stored("FD-2").await.status, StoredStatus::Paid);
}
