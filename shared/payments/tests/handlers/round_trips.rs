//! How many store calls each route makes on its happy path: each is a DynamoDB round trip, and they
//! are most of a warm invocation's latency (issue: prepay ≤ 3, notify 2, GET 1).

use std::sync::{Arc, Mutex};

use payments::ids::{InvoiceNo, OrderId};
use payments::order::{Attempt, Order, StoredStatus, UnixSeconds};
use payments::store::{EvidenceRecord, EvidenceWrite, KeptAndApplied, MemoryStore, OrderStore, Recorded, StoreError};

use crate::common::*;

/// The memory store, writing down the name of every call.
#[derive(Clone, Default)]
struct Counted {
    inner: Arc<MemoryStore>,
    calls: Arc<Mutex<Vec<&'static str>>>,
}

impl Counted {
    fn note(&self, call: &'static str) {
        self.calls.lock().expect("lock").push(call);
    }

    /// The calls made since the last look.
    fn take(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().expect("lock"))
    }
}

impl OrderStore for Counted {
    async fn get_order(&self, order_id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.note("get_order");
        self.inner.get_order(order_id).await
    }
    async fn open_order(&self, order: &Order, attempt: &Attempt) -> Result<(), StoreError> {
        self.note("open_order");
        self.inner.open_order(order, attempt).await
    }
    async fn start_attempt(&self, next: &Order, read: &Order, attempt: &Attempt) -> Result<(), StoreError> {
        self.note("start_attempt");
        self.inner.start_attempt(next, read, attempt).await
    }
    async fn replace_order(&self, next: &Order, read: &Order, attempt: Option<&Attempt>) -> Result<(), StoreError> {
        self.note("replace_order");
        self.inner.replace_order(next, read, attempt).await
    }
    async fn get_attempt(&self, invoice_no: &InvoiceNo) -> Result<Option<Attempt>, StoreError> {
        self.note("get_attempt");
        self.inner.get_attempt(invoice_no).await
    }
    async fn reschedule_attempt(&self, next: &Attempt, expected_inquiries: u32) -> Result<(), StoreError> {
        self.note("reschedule_attempt");
        self.inner.reschedule_attempt(next, expected_inquiries).await
    }
    async fn settle_attempt(&self, invoice_no: &InvoiceNo) -> Result<(), StoreError> {
        self.note("settle_attempt");
        self.inner.settle_attempt(invoice_no).await
    }
    async fn claim_inquiry(
        &self,
        invoice_no: &InvoiceNo,
        now: UnixSeconds,
        min_gap_seconds: i64,
    ) -> Result<Option<Attempt>, StoreError> {
        self.note("claim_inquiry");
        self.inner.claim_inquiry(invoice_no, now, min_gap_seconds).await
    }
    async fn due_attempts(&self, now: UnixSeconds, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        self.note("due_attempts");
        self.inner.due_attempts(now, limit).await
    }
    async fn record_evidence(&self, record: &EvidenceRecord) -> Result<Recorded, StoreError> {
        self.note("record_evidence");
        self.inner.record_evidence(record).await
    }
    async fn keep_and_apply(&self, write: EvidenceWrite<'_>) -> Result<KeptAndApplied, StoreError> {
        self.note("keep_and_apply");
        self.inner.keep_and_apply(write).await
    }
}

#[tokio::test]
async fn prepay_takes_three_round_trips_notify_two_and_a_paid_read_one() {
    let store = Counted::default();
    let world = World::build(Options::default(), store.clone()).await;
    let session = world.login("alice").await;
    store.take();

    let invoice_no = world.prepaid(&session, "RT-1", "12.50").await;
    assert_eq!(store.take(), ["get_order", "open_order", "replace_order"], "a first prepay");

    // 2C2P echoes userDefined1, where prepay put the orderId.
    let paid = protocol::securepay::PaymentResponse {
        user_defined1: "RT-1".into(),
        ..notification(&invoice_no, "000", "A", "000000001250")
    };
    let (status, body) = world.notify(&paid).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(store.take(), ["get_order", "keep_and_apply"], "a notification");
    assert_eq!(world.stored("RT-1").await.status, StoredStatus::Paid);
    store.take();

    let (status, order) = world.get_order(&session, "RT-1").await;
    assert_eq!((status, order["status"].as_str()), (200, Some("paid")));
    assert_eq!(store.take(), ["get_order"], "reading a paid order");

    // A replay is recognised in the same transaction, and changes nothing.
    let (status, _) = world.notify(&paid).await;
    assert_eq!(status, 200);
    assert_eq!(store.take(), ["get_order", "keep_and_apply", "get_order", "keep_and_apply"], "a replay");
    assert_eq!(world.stored("RT-1").await.version, 3, "opened, parameters, paid: nothing since");
}

#[tokio::test]
async fn without_the_echo_a_notification_finds_its_order_through_the_attempt() {
    let store = Counted::default();
    let world = World::build(Options::default(), store.clone()).await;
    let session = world.login("alice").await;
    let invoice_no = world.prepaid(&session, "RT-2", "12.50").await;
    // No userDefined1, or one naming another order: the general path, which reads the attempt first.
    for echo in ["", "RT-OTHER"] {
        store.take();
        let paid = protocol::securepay::PaymentResponse {
            user_defined1: echo.into(),
            ..notification(&invoice_no, "000", "A", "000000001250")
        };
        let (status, body) = world.notify(&paid).await;
        assert_eq!(status, 200, "{body}");
        let calls = store.take();
        assert!(calls.contains(&"get_attempt"), "{echo:?}: {calls:?}");
        assert_eq!(world.stored("RT-2").await.status, StoredStatus::Paid, "{echo:?}");
    }
}
