//! One conformance suite for every `OrderStore`: the in-memory store in every `cargo test`, and the
//! DynamoDB store against a real DynamoDB-compatible server (moto, started by `scripts/test`).
//!
//! The DynamoDB runs are `#[ignore]`d so a bare `cargo test` needs no server; run them with
//! `DYNAMODB_TEST_ENDPOINT=http://127.0.0.1:PORT DYNAMODB_TEST_TABLE=NAME cargo test -p payments
//! --test store_conformance -- --include-ignored`. Every key carries a per-run part, so runs against
//! the same server never collide; the tests of the reconciliation index get a table of their own.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dynamo::{client_for, fresh_store, required_env, run_id, shared_store, test_client};
use payments::ids::{InvoiceNo, OpenId, OrderId};
use payments::order::{Attempt, Order, StoredStatus};
use payments::store::{
    AuditTrail, Classification, DynamoStore, EvidenceKind, EvidenceRecord, EvidenceWrite, KeptAndApplied, MemoryStore,
    OrderStore, Recorded, StoreError,
};
use protocol::money::{Currency, MinorUnits};
use protocol::securepay::WechatPayment;
use tokio::sync::Barrier;

/// How many tasks race for one key in the concurrency tests.
const RACERS: usize = 16;
const T0: i64 = 1_795_694_400;

/// What every store in the suite is.
pub trait Store: OrderStore + AuditTrail + Send + Sync {}
impl<S: OrderStore + AuditTrail + Send + Sync> Store for S {}

// ---------------------------------------------------------------------------------------------
// Unique keys per run and per test.

/// The keys of one test: `case` is 1 to 4 capital letters, unique within this file.
struct Ids {
    case: &'static str,
}

impl Ids {
    fn new(case: &'static str) -> Self {
        assert!(case.len() <= 4 && case.bytes().all(|b| b.is_ascii_uppercase()), "{case}");
        Self { case }
    }

    fn order(&self, n: u32) -> OrderId {
        OrderId::parse(&format!("T-{}-{}-{n}", run_id(), self.case)).expect("orderId")
    }

    /// Letters and digits only, at most 20, as 2C2P's uniqueTransactionCode.
    fn invoice(&self, n: u32) -> InvoiceNo {
        InvoiceNo::parse(&format!("I{}{}{n}", run_id(), self.case)).expect("invoiceNo")
    }

    fn fingerprint(&self, n: u32) -> String {
        format!("{}{n:02}", self.fingerprint_prefix())
    }

    fn fingerprint_prefix(&self) -> String {
        format!("{}{}", run_id(), self.case)
    }
}

// ---------------------------------------------------------------------------------------------
// Values.

fn sgd() -> &'static Currency {
    Currency::from_code("SGD").expect("SGD is supported")
}

fn amount(minor: u64) -> MinorUnits {
    MinorUnits::new(minor).expect("a valid amount")
}

fn openid(text: &str) -> OpenId {
    OpenId::new(text).expect("openid")
}

fn payment(prepay_id: &str) -> WechatPayment {
    let json = format!(
        r#"{{"timeStamp":"1795694400","nonceStr":"n0nce","package":"prepay_id={prepay_id}","signType":"RSA","paySign":"c2ln+/=","appId":"wx1234567890abcdef","extra":{{"nested":[1,"two",null]}}}}"#
    );
    WechatPayment::from_json(&json).expect("valid payment parameters")
}

/// A fresh order: pending, 2C2P not answered yet, every optional field unset; a description XML and
/// JSON would both have to escape.
fn new_order(order_id: &OrderId, invoice_no: &InvoiceNo) -> Order {
    Order {
        openid: openid("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        description: "Latte x2 & <cake> \"50%\" 拿铁 ☕".to_owned(),
        ..payments::testing::order(order_id.as_str(), invoice_no.as_str())
    }
}

/// An order with every optional field set.
fn full_order(order_id: &OrderId, invoice_no: &InvoiceNo) -> Order {
    Order {
        amount: amount(999_999_999_999),
        currency: Currency::from_code("JPY").expect("JPY is supported"),
        status: StoredStatus::Review,
        payment: Some(payment("wx26120000000000000000000000")),
        attempt_expires_at: T0 + 900,
        paid_invoice_no: Some(InvoiceNo::parse(&format!("{invoice_no}P")).expect("invoice")),
        fail_reason: Some("Transaction is declined".to_owned()),
        review_reason: Some(format!("paid amount differs from the order (invoice {invoice_no})")),
        updated_at: T0 + 30,
        paid_at: Some(T0 + 20),
        version: 9,
        ..new_order(order_id, invoice_no)
    }
}

fn attempt(invoice_no: &InvoiceNo, order_id: &OrderId) -> Attempt {
    Attempt {
        invoice_no: invoice_no.clone(),
        order_id: order_id.clone(),
        openid: openid("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        amount: amount(1250),
        currency: sgd(),
        created_at: T0,
        valid_until: T0 + 60,
        due_at: Some(T0 + 120),
        inquiries: 0,
        last_inquiry_at: None,
    }
}

/// An order and its first attempt, opened.
async fn opened<S: Store>(store: &S, ids: &Ids, n: u32) -> (Order, Attempt) {
    let order = new_order(&ids.order(n), &ids.invoice(n));
    let first = attempt(&ids.invoice(n), &ids.order(n));
    store.open_order(&order, &first).await.expect("open");
    (order, first)
}

fn record(kind: EvidenceKind, invoice_no: Option<&InvoiceNo>, fingerprint: &str, received_at: i64) -> EvidenceRecord {
    EvidenceRecord {
        kind,
        invoice_no: invoice_no.cloned(),
        fingerprint: fingerprint.to_owned(),
        received_at,
        resp_code: "000".to_owned(),
        status: "A".to_owned(),
        amount: "000000001250".to_owned(),
        currency_code: "702".to_owned(),
        fail_reason: String::new(),
        classification: if invoice_no.is_some() { Classification::Paid } else { Classification::Unreadable },
        raw: format!("PFBheW1lbnRSZXNwb25zZT4{fingerprint}+/="),
    }
}

fn notification(invoice_no: Option<&InvoiceNo>, fingerprint: &str, received_at: i64) -> EvidenceRecord {
    record(EvidenceKind::Notification, invoice_no, fingerprint, received_at)
}

// ---------------------------------------------------------------------------------------------
// The suite: each function is one behaviour every store must have.

mod suite {
    use super::*;

    /// The notification path's one transaction: evidence kept, attempt checked (and settled), order
    /// moved, all together or not at all.
    pub async fn evidence_is_kept_and_applied_together_or_not_at_all<S: Store>(store: &S, ids: &Ids) {
        let (v1, first) = opened(store, ids, 1).await;
        let record = notification(Some(&first.invoice_no), &ids.fingerprint(1), T0);
        let paid = Order {
            status: StoredStatus::Paid,
            paid_invoice_no: Some(first.invoice_no.clone()),
            paid_at: Some(T0 + 5),
            version: v1.version + 1,
            ..v1.clone()
        };
        let write = |record: Option<&'static EvidenceRecord>, order_id, transition| EvidenceWrite {
            record,
            invoice_no: &first.invoice_no,
            order_id,
            settle: true,
            transition,
        };
        let record: &'static EvidenceRecord = Box::leak(Box::new(record));
        let nothing_written = || async {
            assert_eq!(store.evidence(Some(&first.invoice_no)).await, Ok(vec![]), "no evidence kept");
            assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v1.clone())), "the order as it was");
            assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(first.clone())), "still due");
        };
        let other = ids.order(2);
        let outcome = store.keep_and_apply(write(Some(record), &other, Some((&paid, &v1)))).await;
        assert_eq!(outcome, Ok(KeptAndApplied::AttemptNotOfOrder), "the attempt is not the other order's");
        nothing_written().await;
        let stale = Order { version: v1.version + 7, ..v1.clone() };
        let outcome = store.keep_and_apply(write(Some(record), &v1.order_id, Some((&paid, &stale)))).await;
        assert_eq!(outcome, Ok(KeptAndApplied::OrderChanged), "a stale read moves nothing");
        nothing_written().await;

        let outcome = store.keep_and_apply(write(Some(record), &v1.order_id, Some((&paid, &v1)))).await;
        assert_eq!(outcome, Ok(KeptAndApplied::Done));
        assert_eq!(store.evidence(Some(&first.invoice_no)).await, Ok(vec![record.clone()]));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(paid.clone())));
        let settled = store.get_attempt(&first.invoice_no).await.expect("read").expect("attempt");
        assert_eq!(settled.due_at, None, "final evidence takes the attempt off the schedule");

        let review = Order { status: StoredStatus::Review, version: paid.version + 1, ..paid.clone() };
        let outcome = store.keep_and_apply(write(Some(record), &v1.order_id, Some((&review, &paid)))).await;
        assert_eq!(outcome, Ok(KeptAndApplied::RecordExisted), "a replay is recognised");
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(paid.clone())), "and moves nothing with it");
        let outcome = store.keep_and_apply(write(None, &v1.order_id, None)).await;
        assert_eq!(outcome, Ok(KeptAndApplied::Done), "without a record or a move, only the check");
    }

    pub async fn missing_items_read_as_none<S: Store>(store: &S, ids: &Ids) {
        assert_eq!(store.get_order(&ids.order(1)).await, Ok(None));
        assert_eq!(store.get_attempt(&ids.invoice(1)).await, Ok(None));
        assert_eq!(store.evidence(Some(&ids.invoice(1))).await, Ok(vec![]));
        assert_eq!(store.claim_inquiry(&ids.invoice(1), T0, 10).await, Ok(None), "no attempt, no claim");
        assert_eq!(store.settle_attempt(&ids.invoice(1)).await, Err(StoreError::ConditionFailed));
    }

    pub async fn opened_orders_and_attempts_round_trip_every_field<S: Store>(store: &S, ids: &Ids) {
        let (bare, first) = opened(store, ids, 1).await;
        let full = full_order(&ids.order(2), &ids.invoice(2));
        let booked = Attempt {
            currency: Currency::from_code("JPY").expect("JPY"),
            amount: amount(999_999_999_999),
            inquiries: 3,
            last_inquiry_at: Some(T0 + 7),
            due_at: None,
            ..attempt(&ids.invoice(2), &ids.order(2))
        };
        store.open_order(&full, &booked).await.expect("open the full order");
        assert_eq!(store.get_order(&bare.order_id).await, Ok(Some(bare)), "optional fields unset");
        assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(first)));
        assert_eq!(store.get_attempt(&booked.invoice_no).await, Ok(Some(booked)), "books set, not due");
        let read = store.get_order(&full.order_id).await.expect("read").expect("found");
        assert_eq!(read, full, "optional fields set");
        let read_payment = read.payment.expect("payment kept");
        assert_eq!(read_payment.get("appId"), Some("wx1234567890abcdef"), "extra keys are kept");
        assert!(read_payment.to_json().contains(r#""nested":[1,"two",null]"#), "extra values are kept as they were");
    }

    pub async fn opening_is_atomic_a_taken_order_id_or_invoice_writes_neither<S: Store>(store: &S, ids: &Ids) {
        let (first, first_attempt) = opened(store, ids, 1).await;
        // The orderId is taken: the new attempt (a fresh invoice) is not written either.
        let again = Order { openid: openid("someone-else"), ..full_order(&ids.order(1), &ids.invoice(2)) };
        let again_attempt = attempt(&ids.invoice(2), &ids.order(1));
        assert_eq!(store.open_order(&again, &again_attempt).await, Err(StoreError::ConditionFailed));
        assert_eq!(store.get_order(&first.order_id).await, Ok(Some(first.clone())), "the first order stays");
        assert_eq!(store.get_attempt(&ids.invoice(2)).await, Ok(None), "no attempt without its order");
        // The invoice is taken: the new order is not written either.
        let other = new_order(&ids.order(3), &ids.invoice(1));
        let other_attempt = Attempt { amount: amount(1), ..attempt(&ids.invoice(1), &ids.order(3)) };
        assert_eq!(store.open_order(&other, &other_attempt).await, Err(StoreError::ConditionFailed));
        assert_eq!(store.get_order(&ids.order(3)).await, Ok(None), "no order without its attempt");
        assert_eq!(store.get_attempt(&ids.invoice(1)).await, Ok(Some(first_attempt)), "the first attempt stays");
    }

    pub async fn a_new_attempt_is_conditional_on_version_and_status<S: Store>(store: &S, ids: &Ids) {
        let (v1, _) = opened(store, ids, 1).await;
        let failed = v1.with_failed_attempt("declined", T0 + 5);
        store.replace_order(&failed, &v1, None).await.expect("fail");
        let (next, second) = failed.with_new_attempt(ids.invoice(2), 120, T0 + 10);

        let stale = Order { version: v1.version, ..failed.clone() };
        assert_eq!(
            store.start_attempt(&next, &stale, &second).await,
            Err(StoreError::ConditionFailed),
            "stale version"
        );
        let wrong_status = Order { status: StoredStatus::Pending, ..failed.clone() };
        assert_eq!(
            store.start_attempt(&next, &wrong_status, &second).await,
            Err(StoreError::ConditionFailed),
            "the right version but another status"
        );
        assert_eq!(store.get_attempt(&ids.invoice(2)).await, Ok(None), "a failed condition writes no attempt");
        let reused = Attempt { order_id: failed.order_id.clone(), ..attempt(&ids.invoice(1), &ids.order(1)) };
        let (reusing, _) = failed.with_new_attempt(ids.invoice(1), 120, T0 + 10);
        assert_eq!(
            store.start_attempt(&reusing, &failed, &reused).await,
            Err(StoreError::ConditionFailed),
            "an invoice that exists"
        );
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(failed.clone())), "failed conditions change nothing");

        assert_eq!(store.start_attempt(&next, &failed, &second).await, Ok(()));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(next)));
        assert_eq!(store.get_attempt(&ids.invoice(2)).await, Ok(Some(second)));
    }

    pub async fn replace_is_conditional_and_writes_the_books_with_the_order<S: Store>(store: &S, ids: &Ids) {
        let (v1, first) = opened(store, ids, 1).await;
        let v2 = v1.with_payment(payment("p1"), T0 + 900);
        let books = first.with_parameters(T0 + 900, 120, T0 + 3);
        assert_eq!(store.replace_order(&v2, &v1, Some(&books)).await, Ok(()));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v2.clone())), "replaced and bumped");
        assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(books.clone())), "books written with it");

        let paid = Order {
            status: StoredStatus::Paid,
            paid_invoice_no: Some(first.invoice_no.clone()),
            paid_at: Some(T0 + 5),
            updated_at: T0 + 5,
            version: v2.version + 1,
            ..v2.clone()
        };
        let settled = books.settled();
        assert_eq!(store.replace_order(&paid, &v1, Some(&settled)).await, Err(StoreError::ConditionFailed), "stale");
        let wrong_status = Order { status: StoredStatus::Failed, ..v2.clone() };
        assert_eq!(
            store.replace_order(&paid, &wrong_status, Some(&settled)).await,
            Err(StoreError::ConditionFailed),
            "the right version but another status"
        );
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v2.clone())), "failed conditions change nothing");
        assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(books.clone())), "nor the books");
        let no_such_attempt = attempt(&ids.invoice(9), &ids.order(1));
        assert_eq!(
            store.replace_order(&paid, &v2, Some(&no_such_attempt)).await,
            Err(StoreError::ConditionFailed),
            "books of an attempt that does not exist"
        );
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v2.clone())), "the order is not written alone");

        assert_eq!(store.replace_order(&paid, &v2, Some(&settled)).await, Ok(()));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(paid.clone())));
        assert_eq!(store.get_attempt(&first.invoice_no).await.map(|a| a.map(|a| a.due_at)), Ok(Some(None)));

        // A replace writes the whole order: fields cleared in `next` are cleared in the store.
        let review = Order {
            status: StoredStatus::Review,
            payment: None,
            paid_at: None,
            review_reason: Some("a person must look".into()),
            version: paid.version + 1,
            ..paid.clone()
        };
        assert_eq!(store.replace_order(&review, &paid, None).await, Ok(()));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(review)));
    }

    pub async fn replacing_a_missing_order_fails<S: Store>(store: &S, ids: &Ids) {
        let read = new_order(&ids.order(1), &ids.invoice(1));
        let next = Order { version: 2, ..read.clone() };
        assert_eq!(store.replace_order(&next, &read, None).await, Err(StoreError::ConditionFailed));
        assert_eq!(store.get_order(&next.order_id).await, Ok(None), "nothing was created");
    }

    /// Needs a store of its own: the index is shared by every attempt in the store.
    pub async fn due_attempts_come_most_overdue_first_and_settled_ones_leave<S: Store>(store: &S, ids: &Ids) {
        let now = T0 + 1_000;
        // n → due_at (None: not due at all)
        let plan = [
            (1, Some(now - 10)),
            (2, Some(now + 1)),
            (3, Some(now - 300)),
            (4, Some(now)),
            (5, None),
            (6, Some(now - 50)),
        ];
        for (n, due_at) in plan {
            let order = new_order(&ids.order(n), &ids.invoice(n));
            store
                .open_order(&order, &Attempt { due_at, ..attempt(&ids.invoice(n), &ids.order(n)) })
                .await
                .expect("open");
        }
        let invoices = |due: Vec<Attempt>| due.into_iter().map(|a| a.invoice_no).collect::<Vec<_>>();
        let due = invoices(store.due_attempts(now, 100).await.expect("due"));
        assert_eq!(
            due,
            [ids.invoice(3), ids.invoice(6), ids.invoice(1), ids.invoice(4)],
            "only dueAt <= now, oldest first"
        );
        let first_two = invoices(store.due_attempts(now, 2).await.expect("due"));
        assert_eq!(first_two, [ids.invoice(3), ids.invoice(6)], "at most `limit`, the most overdue");
        assert_eq!(store.due_attempts(now - 301, 100).await, Ok(vec![]), "nothing due yet");

        store.settle_attempt(&ids.invoice(3)).await.expect("settle");
        let order6 = store.get_order(&ids.order(6)).await.expect("read").expect("order");
        let attempt6 = store.get_attempt(&ids.invoice(6)).await.expect("read").expect("attempt");
        let failed6 = order6.with_failed_attempt("refused", now);
        store.replace_order(&failed6, &order6, Some(&attempt6.settled())).await.expect("settled with the order");
        let attempt1 = store.get_attempt(&ids.invoice(1)).await.expect("read").expect("attempt");
        let ended = payments::order::Attempt { due_at: None, inquiries: 1, last_inquiry_at: Some(now), ..attempt1 };
        store.reschedule_attempt(&ended, 0).await.expect("the window ended");
        let due = invoices(store.due_attempts(now + 10, 100).await.expect("due"));
        assert_eq!(due, [ids.invoice(4), ids.invoice(2)], "settled attempts leave the index");
    }

    pub async fn reschedule_is_conditional_on_inquiries_and_still_due<S: Store>(store: &S, ids: &Ids) {
        let (_, first) = opened(store, ids, 1).await;
        let next = first.after_inquiry(120, T0 + 120);
        assert_eq!(store.reschedule_attempt(&next, 1).await, Err(StoreError::ConditionFailed), "another count");
        assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(first.clone())), "unchanged");
        assert_eq!(store.reschedule_attempt(&next, 0).await, Ok(()));
        assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(next.clone())));
        assert_eq!(store.reschedule_attempt(&next, 0).await, Err(StoreError::ConditionFailed), "another run was first");
        store.settle_attempt(&first.invoice_no).await.expect("settle");
        let after = next.after_inquiry(120, T0 + 360);
        assert_eq!(store.reschedule_attempt(&after, 1).await, Err(StoreError::ConditionFailed), "no longer due");
        let stored = store.get_attempt(&first.invoice_no).await.expect("read").expect("attempt");
        assert_eq!((stored.due_at, stored.inquiries), (None, 1), "a settled attempt stays settled");
        let missing = attempt(&ids.invoice(2), &ids.order(2));
        assert_eq!(store.reschedule_attempt(&missing, 0).await, Err(StoreError::ConditionFailed));
    }

    pub async fn inquiries_are_claimed_once_per_gap<S: Store>(store: &S, ids: &Ids) {
        let (_, first) = opened(store, ids, 1).await;
        let claimed = store.claim_inquiry(&first.invoice_no, T0 + 100, 10).await.expect("claim");
        assert_eq!(claimed, Some(Attempt { last_inquiry_at: Some(T0 + 100), ..first.clone() }));
        assert_eq!(store.claim_inquiry(&first.invoice_no, T0 + 109, 10).await, Ok(None), "within the gap");
        let again = store.claim_inquiry(&first.invoice_no, T0 + 110, 10).await.expect("claim");
        assert_eq!(again.and_then(|a| a.last_inquiry_at), Some(T0 + 110), "once the gap has passed");
    }

    pub async fn evidence_is_kept_once_per_invoice_kind_and_fingerprint<S: Store>(store: &S, ids: &Ids) {
        let invoice = ids.invoice(1);
        let first = notification(Some(&invoice), &ids.fingerprint(1), T0 + 10);
        assert_eq!(store.record_evidence(&first).await, Ok(Recorded::New));
        let replay = EvidenceRecord { received_at: T0 + 99, classification: Classification::Pending, ..first.clone() };
        assert_eq!(store.record_evidence(&replay).await, Ok(Recorded::Replay));
        assert_eq!(store.record_evidence(&first).await, Ok(Recorded::Replay));
        // The same text as an inquiry answer is another record, of its own kind.
        let inquiry = record(EvidenceKind::Inquiry, Some(&invoice), &ids.fingerprint(1), T0 + 20);
        assert_eq!(store.record_evidence(&inquiry).await, Ok(Recorded::New));
        assert_eq!(store.record_evidence(&inquiry).await, Ok(Recorded::Replay));
        assert_eq!(store.evidence(Some(&invoice)).await, Ok(vec![first.clone(), inquiry.clone()]));

        // The same text under another invoice is another record.
        let elsewhere = notification(Some(&ids.invoice(2)), &ids.fingerprint(1), T0 + 11);
        assert_eq!(store.record_evidence(&elsewhere).await, Ok(Recorded::New));
        assert_eq!(store.evidence(Some(&ids.invoice(2))).await, Ok(vec![elsewhere]));
        assert_eq!(store.evidence(Some(&invoice)).await, Ok(vec![first, inquiry]));
    }

    pub async fn evidence_comes_back_oldest_first_kinds_apart<S: Store>(store: &S, ids: &Ids) {
        let invoice = ids.invoice(1);
        // An attempt shares the invoice's partition; it is not evidence.
        opened(store, ids, 1).await;
        // Fingerprints (the sort key) in the opposite order to the times, so key order is not enough.
        let times = [T0 + 50, T0 + 10, T0 + 40, T0 + 20, T0 + 30];
        let kinds = [EvidenceKind::Inquiry, EvidenceKind::Notification];
        let records: Vec<_> = times
            .iter()
            .enumerate()
            .map(|(i, &at)| record(kinds[i % 2], Some(&invoice), &ids.fingerprint(i as u32), at))
            .collect();
        for r in &records {
            assert_eq!(store.record_evidence(r).await, Ok(Recorded::New));
        }
        let mut expected = records.clone();
        expected.sort_by_key(|r| r.received_at);
        let read = store.evidence(Some(&invoice)).await.expect("read");
        assert_eq!(read, expected);
        let kinds_read: Vec<_> = read.iter().map(|r| (r.fingerprint.clone(), r.kind)).collect();
        let kinds_written: Vec<_> = expected.iter().map(|r| (r.fingerprint.clone(), r.kind)).collect();
        assert_eq!(kinds_read, kinds_written, "each record keeps its kind");
    }

    pub async fn unreadable_notifications_are_kept_apart<S: Store>(store: &S, ids: &Ids) {
        let later = notification(None, &ids.fingerprint(1), T0 + 2);
        let earlier = notification(None, &ids.fingerprint(2), T0 + 1);
        assert_eq!(store.record_evidence(&later).await, Ok(Recorded::New));
        assert_eq!(store.record_evidence(&earlier).await, Ok(Recorded::New));
        assert_eq!(store.record_evidence(&later).await, Ok(Recorded::Replay));
        // A shared server keeps other tests' unreadable records too: look at this test's only.
        let mine: Vec<_> = store
            .evidence(None)
            .await
            .expect("read")
            .into_iter()
            .filter(|r| r.fingerprint.starts_with(&ids.fingerprint_prefix()))
            .collect();
        assert_eq!(mine, vec![earlier, later]);
        assert!(mine.iter().all(|r| r.invoice_no.is_none()));
    }

    // -----------------------------------------------------------------------------------------
    // Concurrency: RACERS tasks start together on one key; exactly one may win.

    async fn race<S, T, F, Fut>(store: Arc<S>, act: F) -> Vec<T>
    where
        S: Store + 'static,
        T: Send + 'static,
        F: Fn(Arc<S>, usize) -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let barrier = Arc::new(Barrier::new(RACERS));
        let tasks: Vec<_> = (0..RACERS)
            .map(|i| {
                let barrier = barrier.clone();
                let attempt = act(store.clone(), i);
                tokio::spawn(async move {
                    barrier.wait().await;
                    attempt.await
                })
            })
            .collect();
        let mut results = Vec::with_capacity(RACERS);
        for task in tasks {
            results.push(task.await.expect("a racer panicked"));
        }
        results
    }

    /// The one racer that won, after checking every other lost with `ConditionFailed`.
    fn single_winner(results: &[Result<(), StoreError>]) -> usize {
        let winners: Vec<usize> = results.iter().enumerate().filter(|(_, r)| r.is_ok()).map(|(i, _)| i).collect();
        assert_eq!(winners.len(), 1, "exactly one racer wins: {results:?}");
        let lost = results.iter().filter(|r| **r == Err(StoreError::ConditionFailed)).count();
        assert_eq!(lost, RACERS - 1, "every other racer fails its condition: {results:?}");
        winners[0]
    }

    pub async fn racing_replaces_have_one_winner<S: Store + 'static>(store: Arc<S>, ids: &Ids) {
        let (v1, _) = opened(&*store, ids, 1).await;
        let next = |i: usize| Order {
            description: format!("racer {i}"),
            status: StoredStatus::Paid,
            version: 2,
            ..v1.clone()
        };
        let results = race(store.clone(), |store, i| {
            let (mine, read) = (next(i), v1.clone());
            async move { store.replace_order(&mine, &read, None).await }
        })
        .await;
        let winner = single_winner(&results);
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(next(winner))), "the winner's write is stored");
    }

    pub async fn racing_opens_have_one_winner<S: Store + 'static>(store: Arc<S>, ids: &Ids) {
        // Every racer has its own invoice: only the orderId is contested.
        let order = |i: usize| Order {
            openid: openid(&format!("racer-{i}")),
            ..new_order(&ids.order(1), &ids.invoice(i as u32 + 1))
        };
        let results = race(store.clone(), |store, i| {
            let mine = order(i);
            let first = attempt(&mine.invoice_no, &mine.order_id);
            async move { store.open_order(&mine, &first).await }
        })
        .await;
        let winner = single_winner(&results);
        assert_eq!(store.get_order(&ids.order(1)).await, Ok(Some(order(winner))));
        for i in 0..RACERS {
            let exists = store.get_attempt(&ids.invoice(i as u32 + 1)).await.expect("read").is_some();
            assert_eq!(exists, i == winner, "only the winner's attempt is written");
        }
    }

    pub async fn racing_claims_have_one_winner<S: Store + 'static>(store: Arc<S>, ids: &Ids) {
        let (_, first) = opened(&*store, ids, 1).await;
        let started = Instant::now();
        let results = race(store.clone(), |store, _| {
            let invoice = first.invoice_no.clone();
            async move { store.claim_inquiry(&invoice, T0 + 500, 10).await }
        })
        .await;
        assert!(started.elapsed() < Duration::from_secs(10), "16 claims took {:?}", started.elapsed());
        let won = results.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
        let lost = results.iter().filter(|r| **r == Ok(None)).count();
        assert_eq!((won, lost), (1, RACERS - 1), "exactly one claim wins: {results:?}");
    }

    pub async fn racing_records_have_one_new<S: Store + 'static>(store: Arc<S>, ids: &Ids) {
        let invoice = ids.invoice(1);
        let the_record = notification(Some(&invoice), &ids.fingerprint(1), T0);
        let results = race(store.clone(), |store, _| {
            let mine = the_record.clone();
            async move { store.record_evidence(&mine).await }
        })
        .await;
        let new = results.iter().filter(|r| **r == Ok(Recorded::New)).count();
        let replays = results.iter().filter(|r| **r == Ok(Recorded::Replay)).count();
        assert_eq!((new, replays), (1, RACERS - 1), "one new, every other a replay: {results:?}");
        assert_eq!(store.evidence(Some(&invoice)).await, Ok(vec![the_record]));
    }
}

// ---------------------------------------------------------------------------------------------
// The suite, once per store: `$make` the store to share, `$fresh` one of its own.

macro_rules! conformance {
    ($store:ident, $make:expr, $fresh:expr $(, #[$attr:meta])?) => {
        mod $store {
            use super::*;

            macro_rules! case {
                ($name:ident, $case:literal) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    $(#[$attr])?
                    async fn $name() {
                        suite::$name(&$make, &Ids::new($case)).await;
                    }
                };
            }
            macro_rules! race {
                ($name:ident, $case:literal) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                    $(#[$attr])?
                    async fn $name() {
                        suite::$name(Arc::new($make), &Ids::new($case)).await;
                    }
                };
            }

            case!(missing_items_read_as_none, "MISS");
            case!(evidence_is_kept_and_applied_together_or_not_at_all, "KEEP");
            case!(opened_orders_and_attempts_round_trip_every_field, "RT");
            case!(opening_is_atomic_a_taken_order_id_or_invoice_writes_neither, "ATOM");
            case!(a_new_attempt_is_conditional_on_version_and_status, "NEW");
            case!(replace_is_conditional_and_writes_the_books_with_the_order, "REPL");
            case!(replacing_a_missing_order_fails, "GONE");
            case!(reschedule_is_conditional_on_inquiries_and_still_due, "RESC");
            case!(inquiries_are_claimed_once_per_gap, "CLM");
            case!(evidence_is_kept_once_per_invoice_kind_and_fingerprint, "EVID");
            case!(evidence_comes_back_oldest_first_kinds_apart, "ORD");
            case!(unreadable_notifications_are_kept_apart, "UNR");
            race!(racing_replaces_have_one_winner, "RREP");
            race!(racing_opens_have_one_winner, "ROPN");
            race!(racing_claims_have_one_winner, "RCLM");
            race!(racing_records_have_one_new, "RREC");

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$attr])?
            async fn due_attempts_come_most_overdue_first_and_settled_ones_leave() {
                let store = $fresh;
                suite::due_attempts_come_most_overdue_first_and_settled_ones_leave(&store, &Ids::new("DUE")).await;
            }
        }
    };
}

conformance!(memory, MemoryStore::new(), MemoryStore::new());
conformance!(dynamo, shared_store(), fresh_store("due").await, #[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]);

// ---------------------------------------------------------------------------------------------
// What only one of the stores has.

mod memory_only {
    use super::*;

    #[tokio::test]
    async fn injected_failures_fail_every_write_and_change_nothing() {
        let store = MemoryStore::new();
        let ids = Ids::new("INJ");
        let (v1, first) = opened(&store, &ids, 1).await;

        store.fail_writes(true);
        let injected = Err(StoreError::Unavailable("injected failure".into()));
        let other = new_order(&ids.order(2), &ids.invoice(2));
        assert_eq!(store.open_order(&other, &attempt(&ids.invoice(2), &ids.order(2))).await, injected);
        let v2 = Order { status: StoredStatus::Paid, version: 2, ..v1.clone() };
        assert_eq!(store.replace_order(&v2, &v1, Some(&first.settled())).await, injected);
        assert_eq!(store.settle_attempt(&first.invoice_no).await, injected);
        assert_eq!(store.claim_inquiry(&first.invoice_no, T0, 10).await, injected.clone().map(|()| None));
        let note = notification(Some(&ids.invoice(1)), &ids.fingerprint(1), T0);
        assert_eq!(store.record_evidence(&note).await, injected.map(|()| Recorded::New));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v1.clone())), "reads still work");
        assert_eq!(store.get_order(&ids.order(2)).await, Ok(None));
        assert_eq!(store.get_attempt(&ids.invoice(1)).await, Ok(Some(first.clone())));
        assert_eq!(store.evidence(Some(&ids.invoice(1))).await, Ok(vec![]));

        store.fail_writes(false);
        assert_eq!(store.replace_order(&v2, &v1, None).await, Ok(()));
        assert_eq!(store.record_evidence(&note).await, Ok(Recorded::New), "the failed write kept nothing");
    }

    #[tokio::test]
    async fn evidence_received_in_the_same_second_keeps_its_arrival_order() {
        let store = MemoryStore::new();
        let ids = Ids::new("TIES");
        let invoice = ids.invoice(1);
        let records: Vec<_> =
            [9, 3, 7, 1].iter().map(|&n| notification(Some(&invoice), &ids.fingerprint(n), T0)).collect();
        for r in &records {
            assert_eq!(store.record_evidence(r).await, Ok(Recorded::New));
        }
        assert_eq!(store.evidence(Some(&invoice)).await, Ok(records));
    }

    #[tokio::test]
    async fn order_changes_are_taken_oldest_first() {
        let store = MemoryStore::new();
        let ids = Ids::new("CHG");
        let (v1, _) = opened(&store, &ids, 1).await;
        let v2 = v1.with_failed_attempt("declined", T0 + 1);
        store.replace_order(&v2, &v1, None).await.expect("replace");
        assert_eq!(store.take_order_changes(), vec![(None, v1.clone()), (Some(v1), v2)]);
        assert_eq!(store.take_order_changes(), vec![], "taken once");
    }
}

mod dynamo_only {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::config::retry::RetryConfig;
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_not_a_condition() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let store =
            DynamoStore::new(client_for(&format!("http://127.0.0.1:{port}"), RetryConfig::disabled()), "t".into());
        let ids = Ids::new("UNRE");
        let order = new_order(&ids.order(1), &ids.invoice(1));
        let unavailable = |result: Result<(), StoreError>| match result {
            Err(StoreError::Unavailable(why)) => why,
            other => panic!("expected unavailable, got {other:?}"),
        };
        let why = unavailable(store.open_order(&order, &attempt(&ids.invoice(1), &ids.order(1))).await);
        assert!(!why.contains(order.openid.as_str()) && !why.contains(&order.description), "no item contents: {why}");
        unavailable(store.get_order(&order.order_id).await.map(drop));
        unavailable(store.record_evidence(&notification(None, "f", T0)).await.map(drop));
        unavailable(store.due_attempts(T0, 10).await.map(drop));
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]
    async fn an_unreadable_due_attempt_is_skipped_and_the_others_still_come() {
        // A table of its own: the due index must hold only this test's attempts.
        let case = "unreadable-due";
        let store = fresh_store(case).await;
        let table = format!("{}-{}-{case}", required_env("DYNAMODB_TEST_TABLE"), run_id().to_ascii_lowercase());
        let ids = Ids::new("UDUE");
        for n in 1..=2 {
            store
                .open_order(&new_order(&ids.order(n), &ids.invoice(n)), &attempt(&ids.invoice(n), &ids.order(n)))
                .await
                .expect("open");
        }
        let client = test_client();
        let key = |invoice: &InvoiceNo| {
            HashMap::from([
                ("pk".to_owned(), AttributeValue::S(format!("INVOICE#{invoice}"))),
                ("sk".to_owned(), AttributeValue::S("ATTEMPT".to_owned())),
            ])
        };
        let read = client.get_item().table_name(&table).set_key(Some(key(&ids.invoice(1)))).consistent_read(true);
        let mut broken = read.send().await.expect("raw read").item.expect("the attempt");
        broken.insert("pk".into(), AttributeValue::S(format!("INVOICE#{}", ids.invoice(3))));
        broken.remove("orderId");
        client.put_item().table_name(&table).set_item(Some(broken)).send().await.expect("raw write");
        let due: Vec<InvoiceNo> =
            store.due_attempts(T0 + 1_000, 100).await.expect("due").into_iter().map(|a| a.invoice_no).collect();
        assert_eq!(due, [ids.invoice(1), ids.invoice(2)], "the unreadable one is left out, not the run");
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]
    async fn a_missing_table_is_unavailable() {
        let store = DynamoStore::new(test_client(), format!("no-such-table-{}", run_id()));
        let got = store.get_order(&OrderId::parse("A-1").expect("id")).await;
        assert_eq!(got, Err(StoreError::Unavailable("DynamoDB answered ResourceNotFoundException".into())));
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]
    async fn items_are_laid_out_as_documented_and_corrupt_ones_are_named() {
        let client = test_client();
        let table = required_env("DYNAMODB_TEST_TABLE");
        let store = DynamoStore::new(client.clone(), table.clone());
        let ids = Ids::new("LAY");
        let order = full_order(&ids.order(1), &ids.invoice(1));
        store.open_order(&order, &attempt(&ids.invoice(1), &ids.order(1))).await.expect("open");

        let raw_item = |pk: String, sk: &'static str| {
            let client = client.clone();
            let table = table.clone();
            async move {
                client
                    .get_item()
                    .table_name(&table)
                    .key("pk", AttributeValue::S(pk))
                    .key("sk", AttributeValue::S(sk.into()))
                    .consistent_read(true)
                    .send()
                    .await
                    .expect("raw read")
                    .item
                    .expect("the item is where the layout says")
            }
        };
        let raw = raw_item(format!("ORDER#{}", order.order_id), "ORDER").await;
        assert_eq!(raw.get("amountMinor"), Some(&AttributeValue::N("999999999999".into())));
        assert_eq!(raw.get("currency"), Some(&AttributeValue::S("JPY".into())));
        assert_eq!(raw.get("status"), Some(&AttributeValue::S("review".into())));
        assert_eq!(raw.get("version"), Some(&AttributeValue::N("9".into())));
        let raw_attempt = raw_item(format!("INVOICE#{}", ids.invoice(1)), "ATTEMPT").await;
        assert_eq!(raw_attempt.get("dueAt"), Some(&AttributeValue::N((T0 + 120).to_string())), "in the due index");
        assert!(
            matches!(raw_attempt.get("dueShard"), Some(AttributeValue::S(shard)) if shard.starts_with("DUE#")),
            "{raw_attempt:?}"
        );
        store.settle_attempt(&ids.invoice(1)).await.expect("settle");
        let raw_attempt = raw_item(format!("INVOICE#{}", ids.invoice(1)), "ATTEMPT").await;
        assert!(!raw_attempt.contains_key("dueAt") && !raw_attempt.contains_key("dueShard"), "out of the index");

        let mut broken: HashMap<String, AttributeValue> = raw;
        broken.insert("orderId".into(), AttributeValue::S(ids.order(2).to_string()));
        broken.insert("pk".into(), AttributeValue::S(format!("ORDER#{}", ids.order(2))));
        broken.insert("currency".into(), AttributeValue::S("XXX".into()));
        client.put_item().table_name(&table).set_item(Some(broken)).send().await.expect("raw write");
        match store.get_order(&ids.order(2)).await {
            Err(StoreError::Corrupt { key, reason }) => {
                assert_eq!(key, format!("ORDER#{}/ORDER", ids.order(2)));
                assert!(reason.contains("XXX"), "{reason}");
            }
            other => panic!("expected a corrupt item, got {other:?}"),
        }
    }
}
