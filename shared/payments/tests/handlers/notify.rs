//! `POST /notify` through the real handler: signature first, everything verified kept, replays and
//! races change nothing twice, a failing store answers 500.

use std::sync::Arc;

use payments::ids::OpenId;
use payments::order::{Order, OrderTerms, StoredStatus};
use payments::store::{AuditTrail, Classification, EvidenceKind, EvidenceRecord, MemoryStore, OrderStore};

use crate::common::*;

/// An order with one attempt that got its payment parameters at START: SGD 12.50, merchant M0001.
async fn seed(store: &MemoryStore, id: &str, invoice_no: &str) -> Order {
    let terms = OrderTerms::parse(id, "12.50", "SGD", "Latte x2").expect("terms");
    let openid = OpenId::new("oAlice").expect("openid");
    let (opened, attempt) = Order::open(&terms, openid, invoice(invoice_no), FIRST_INQUIRY_AFTER, START);
    store.open_order(&opened, &attempt).await.expect("open");
    let payment = protocol::securepay::WechatPayment::from_json(
        r#"{"timeStamp":"1","nonceStr":"n","package":"prepay_id=wx1","signType":"HMAC-SHA256","paySign":"s"}"#,
    )
    .expect("payment");
    let with_payment = opened.with_payment(payment, START + PAYMENT_TTL);
    let books = attempt.with_parameters(START + PAYMENT_TTL, FIRST_INQUIRY_AFTER, START);
    store.replace_order(&with_payment, &opened, Some(&books)).await.expect("parameters");
    with_payment
}

async fn kept(world: &World, invoice_no: Option<&str>) -> Vec<EvidenceRecord> {
    world.store.evidence(invoice_no.map(invoice).as_ref()).await.expect("records")
}

const INVOICE: &str = "INV20261126000001";

#[tokio::test]
async fn the_signed_event_pays_the_order_and_is_kept() {
    let world = World::new().await;
    let seeded = seed(&world.store, "A-1001", INVOICE).await;
    let (status, _) = parts(world.notify.handle(event("notify", |_| {})).await);
    assert_eq!(status, 200);
    let paid = world.stored("A-1001").await;
    assert_eq!(paid.status, StoredStatus::Paid);
    assert_eq!(paid.paid_invoice_no, Some(invoice(INVOICE)));
    assert_eq!(paid.version, seeded.version + 1);
    let records = kept(&world, Some(INVOICE)).await;
    assert_eq!(records.len(), 1);
    assert_eq!((records[0].resp_code.as_str(), records[0].status.as_str()), ("000", "A"));
    assert_eq!((records[0].kind, records[0].classification), (EvidenceKind::Notification, Classification::Paid));
    assert!(!records[0].raw.is_empty(), "the raw signed envelope is kept for audit");
    let attempt = world.store.get_attempt(&invoice(INVOICE)).await.expect("read").expect("attempt");
    assert_eq!(attempt.due_at, None, "a final result takes the attempt off the schedule");
}

#[tokio::test]
async fn replays_are_recognised_and_change_nothing() {
    let world = World::new().await;
    let seeded = seed(&world.store, "A-1", "INV1").await;
    let paid = notification("INV1", "000", "A", "000000001250");
    for _ in 0..3 {
        assert_eq!(world.notify(&paid).await.0, 200);
    }
    assert_eq!(world.stored("A-1").await.version, seeded.version + 1, "exactly one transition");
    assert_eq!(kept(&world, Some("INV1")).await.len(), 1, "one record, replays recognised");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_simultaneous_copies_all_200_exactly_one_transition() {
    let world = Arc::new(World::new().await);
    let seeded = seed(&world.store, "A-2", "INV2").await;
    let form = protocol::envelope::form_body(
        "paymentResponse",
        &notification("INV2", "000", "A", "000000001250").seal(KEY.as_bytes()),
    );
    let mut copies = tokio::task::JoinSet::new();
    for _ in 0..24 {
        let (world, form) = (world.clone(), form.clone());
        copies.spawn(async move { world.notify_form(&form).await });
    }
    let answers = copies.join_all().await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    let paid = world.stored("A-2").await;
    assert_eq!((paid.status, paid.version), (StoredStatus::Paid, seeded.version + 1), "exactly one transition");
    assert_eq!(kept(&world, Some("INV2")).await.len(), 1);
}

#[tokio::test]
async fn refused_before_anything_is_written() {
    let world = World::new().await;
    seed(&world.store, "A-3", "INV3").await;
    let good = notification("INV3", "000", "A", "000000001250");
    let other_key = protocol::envelope::form_body("paymentResponse", &good.seal(b"not-our-key"));
    let (status, body) = world.notify_form(&other_key).await;
    assert_eq!((status, error_code(&body)), (401, "unauthorized"));

    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let no_payload = protocol::envelope::form_body(
        "paymentResponse",
        &b64("<PaymentResponse><version>9.9</version><signature>AA</signature></PaymentResponse>"),
    );
    let no_signature = protocol::envelope::form_body(
        "paymentResponse",
        &b64("<PaymentResponse><version>9.9</version><payload>PGEvPg==</payload></PaymentResponse>"),
    );
    for (form, what) in [
        ("".to_owned(), "empty body"),
        ("foo=bar".to_owned(), "no paymentResponse"),
        ("paymentResponse=%%%not-base64".to_owned(), "not base64"),
        (protocol::envelope::form_body("paymentResponse", &b64("not xml <<")), "not XML"),
        (no_payload, "no payload"),
        (no_signature, "no signature"),
    ] {
        let (status, body) = world.notify_form(&form).await;
        assert_eq!((status, error_code(&body)), (400, "invalid_request"), "{what}: {body}");
    }
    let mut foreign = good.clone();
    foreign.merchant_id = "M9999".into();
    let (status, body) = world.notify(&foreign).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_request"));
    assert!(error_message(&body).contains("merchantID"));

    assert_eq!(world.stored("A-3").await.status, StoredStatus::Pending);
    assert!(kept(&world, Some("INV3")).await.is_empty());
    assert!(kept(&world, None).await.is_empty());
}

#[tokio::test]
async fn verified_but_unreadable_or_unknown_is_kept_and_acknowledged() {
    let world = World::new().await;
    let garbage = protocol::envelope::seal("PaymentResponse", "this is not xml <", KEY.as_bytes());
    let (status, _) = world.notify_form(&protocol::envelope::form_body("paymentResponse", &garbage)).await;
    assert_eq!(status, 200);
    let no_invoice = notification("", "000", "A", "000000001250");
    assert_eq!(world.notify(&no_invoice).await.0, 200);
    let unreadable = kept(&world, None).await;
    assert_eq!(unreadable.len(), 2);
    assert!(unreadable.iter().all(|r| r.classification == Classification::Unreadable && r.invoice_no.is_none()));

    assert_eq!(world.notify(&notification("INVNOBODY", "000", "A", "000000001250")).await.0, 200);
    let records = kept(&world, Some("INVNOBODY")).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].classification, Classification::UnknownInvoice);
}

#[tokio::test]
async fn failures_pending_and_unknown_codes() {
    let world = World::new().await;
    seed(&world.store, "A-5", "INV5").await;
    assert_eq!(world.notify(&notification("INV5", "001", "", "000000001250")).await.0, 200);
    assert_eq!(world.stored("A-5").await.status, StoredStatus::Pending, "pending: kept, no transition");
    assert_eq!(world.notify(&notification("INV5", "99", "A", "000000001250")).await.0, 200);
    assert_eq!(world.stored("A-5").await.status, StoredStatus::Pending, "unrecognised: never paid");
    assert_eq!(world.notify(&notification("INV5", "00", "F", "000000001250")).await.0, 200);
    let failed = world.stored("A-5").await;
    assert_eq!(failed.status, StoredStatus::Failed);
    assert_eq!(failed.fail_reason.as_deref(), Some("Declined by the bank"));
    let classes: Vec<Classification> = kept(&world, Some("INV5")).await.into_iter().map(|r| r.classification).collect();
    assert_eq!(classes, [Classification::Pending, Classification::Unrecognised, Classification::Failed]);
    assert_eq!(world.notify(&notification("INV5", "000", "A", "000000001250")).await.0, 200);
    assert_eq!(
        world.stored("A-5").await.status,
        StoredStatus::Paid,
        "money that arrived after a failure is not dropped"
    );
}

#[tokio::test]
async fn respcode_32_in_a_notification_is_one_more_failure_code() {
    // SecurePay's "WeChat order created" is not a row of the notification table (contract "POST /notify"):
    // with an empty status it is a respCode other than 00/000/001, so a failure.
    let world = World::new().await;
    seed(&world.store, "A-32", "INV32").await;
    let mut response = notification("INV32", "32", "", "000000001250");
    response.fail_reason = String::new();
    assert_eq!(world.notify(&response).await.0, 200);
    let order = world.stored("A-32").await;
    assert_eq!(order.status, StoredStatus::Failed);
    assert_eq!(order.fail_reason.as_deref(), Some("respCode 32, status "));
    let classes: Vec<Classification> =
        kept(&world, Some("INV32")).await.into_iter().map(|r| r.classification).collect();
    assert_eq!(classes, [Classification::Failed]);
}

#[tokio::test]
async fn money_that_differs_or_arrives_twice_goes_to_review() {
    let world = World::new().await;
    seed(&world.store, "A-6", "INV6").await;
    assert_eq!(world.notify(&notification("INV6", "000", "A", "000000001000")).await.0, 200);
    assert_eq!(world.stored("A-6").await.status, StoredStatus::Review);

    seed(&world.store, "A-7", "INV7").await;
    let mut other_currency = notification("INV7", "000", "A", "000000001250");
    other_currency.currency_code = "840".into();
    assert_eq!(world.notify(&other_currency).await.0, 200);
    assert_eq!(world.stored("A-7").await.status, StoredStatus::Review);

    // A-8's first attempt expires and a second one starts; then both are paid.
    let first = seed(&world.store, "A-8", "INV8").await;
    let later = START + PAYMENT_TTL + 1;
    let (second, attempt) = first.with_new_attempt(invoice("INV8B"), FIRST_INQUIRY_AFTER, later);
    world.store.start_attempt(&second, &first, &attempt).await.expect("second attempt");
    assert_eq!(world.notify(&notification("INV8", "000", "A", "000000001250")).await.0, 200);
    let paid = world.stored("A-8").await;
    assert_eq!(paid.status, StoredStatus::Paid, "money for an older attempt is never dropped");
    assert_eq!(paid.paid_invoice_no, Some(invoice("INV8")));
    assert_eq!(world.notify(&notification("INV8B", "000", "A", "000000001250")).await.0, 200);
    let double = world.stored("A-8").await;
    assert_eq!(double.status, StoredStatus::Review, "a double payment needs a person");
    assert_eq!(double.paid_invoice_no, Some(invoice("INV8")));
    assert!(double.review_reason.as_deref().is_some_and(|r| r.contains("INV8B")), "{double:?}");
}

#[tokio::test]
async fn al_and_am_go_to_review_whatever_the_amount_says() {
    let world = World::new().await;
    for (n, status) in ["AL", "AM"].into_iter().enumerate() {
        let (id, invoice_no) = (format!("A-1{n}"), format!("INVAL{n}"));
        seed(&world.store, &id, &invoice_no).await;
        let (code, body) = world.notify(&notification(&invoice_no, "00", status, "000000001250")).await;
        assert_eq!(code, 200, "{status}: {body}");
        let order = world.stored(&id).await;
        assert_eq!(order.status, StoredStatus::Review, "{status}: the amount matches, the status says otherwise");
        assert_eq!(order.paid_invoice_no, Some(invoice(&invoice_no)));
        let records = kept(&world, Some(&invoice_no)).await;
        assert_eq!(records[0].classification, Classification::PaidOtherAmount, "{status}");
    }
}

#[tokio::test]
async fn a_failing_store_answers_500_so_2c2p_retries() {
    let world = World::new().await;
    seed(&world.store, "A-9", "INV9").await;
    world.store.fail_writes(true);
    let paid = notification("INV9", "000", "A", "000000001250");
    let (status, body) = world.notify(&paid).await;
    assert_eq!((status, error_code(&body)), (500, "internal"));
    assert!(body["error"]["requestId"].is_string(), "{body}");
    world.store.fail_writes(false);
    assert_eq!(world.stored("A-9").await.status, StoredStatus::Pending, "nothing acknowledged, nothing changed");
    assert!(kept(&world, Some("INV9")).await.is_empty(), "nothing kept");
    assert_eq!(world.notify(&paid).await.0, 200, "2C2P's retry goes through");
    assert_eq!(world.stored("A-9").await.status, StoredStatus::Paid);
}
