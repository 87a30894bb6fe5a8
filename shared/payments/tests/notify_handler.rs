//! `POST /notify` through the real handler: signature first, everything verified kept, replays and
//! races change nothing twice, a failing store answers 500.

mod common;

use common::*;
use payments::order::{Attempt, Order, StoredStatus};
use payments::store::{MemoryStore, OrderStore};
use protocol::money::{Currency, MinorUnits};

/// The order behind `events/notify.json`: invoice INV20261126000001, SGD 12.50, merchant M0001.
async fn seed(store: &MemoryStore, order_id: &str, invoice: &str) {
    let sgd = Currency::from_code("SGD").expect("SGD");
    let amount = MinorUnits::new(1250).expect("amount");
    let attempt = Attempt {
        invoice_no: invoice.into(),
        order_id: order_id.into(),
        openid: "oAlice".into(),
        amount,
        currency: sgd,
        created_at: START,
    };
    store.insert_attempt(&attempt).await.expect("attempt");
    let payment = protocol::securepay::WechatPayment::from_json(
        r#"{"timeStamp":"1","nonceStr":"n","package":"prepay_id=wx1","signType":"HMAC-SHA256","paySign":"s"}"#,
    )
    .expect("payment");
    let order = Order {
        order_id: order_id.into(),
        openid: "oAlice".into(),
        amount,
        currency: sgd,
        description: "Latte x2".into(),
        status: StoredStatus::Pending,
        invoice_no: invoice.into(),
        payment: Some(payment),
        attempt_expires_at: START + 900,
        paid_invoice_no: None,
        fail_reason: None,
        review_reason: None,
        created_at: START,
        updated_at: START,
        paid_at: None,
        version: 2,
    };
    store.insert_order(&order).await.expect("order");
}

async fn order(world: &World, order_id: &str) -> Order {
    world.store.get_order(order_id).await.expect("store").expect("order exists")
}

const INVOICE: &str = "INV20261126000001";

#[tokio::test]
async fn the_signed_event_pays_the_order_and_is_kept() {
    let world = World::new().await;
    seed(&world.store, "A-1001", INVOICE).await;
    let (status, _) = parts(world.notify.handle(event("notify", |_| {})).await);
    assert_eq!(status, 200);
    let paid = order(&world, "A-1001").await;
    assert_eq!(paid.status, StoredStatus::Paid);
    assert_eq!(paid.paid_invoice_no.as_deref(), Some(INVOICE));
    assert_eq!(paid.version, 3);
    let kept = world.store.notifications(Some(INVOICE)).await.expect("records");
    assert_eq!(kept.len(), 1);
    assert_eq!((kept[0].resp_code.as_str(), kept[0].status.as_str()), ("000", "A"));
    assert_eq!(kept[0].classification, "paid");
    assert!(!kept[0].envelope.is_empty(), "the raw signed envelope is kept for audit");
}

#[tokio::test]
async fn replays_are_recognised_and_change_nothing() {
    let world = World::new().await;
    seed(&world.store, "A-1", "INV1").await;
    let paid = notification("INV1", "000", "A", "000000001250");
    for _ in 0..3 {
        assert_eq!(world.notify(&paid).await.0, 200);
    }
    assert_eq!(order(&world, "A-1").await.version, 3, "exactly one transition");
    assert_eq!(
        world.store.notifications(Some("INV1")).await.expect("records").len(),
        1,
        "one record, replays recognised"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_simultaneous_copies_all_200_exactly_one_transition() {
    let world = std::sync::Arc::new(World::new().await);
    seed(&world.store, "A-2", "INV2").await;
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
    let paid = order(&world, "A-2").await;
    assert_eq!((paid.status, paid.version), (StoredStatus::Paid, 3), "exactly one transition");
    assert_eq!(world.store.notifications(Some("INV2")).await.expect("records").len(), 1);
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
        assert_eq!((status, error_code(&body)), (400, "invalid_request"), "{what}");
    }
    let mut foreign = good.clone();
    foreign.merchant_id = "M9999".into();
    let (status, body) = world.notify(&foreign).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_request"));
    assert!(error_message(&body).contains("merchantID"));

    assert_eq!(order(&world, "A-3").await.status, StoredStatus::Pending);
    assert!(world.store.notifications(Some("INV3")).await.expect("records").is_empty());
    assert!(world.store.notifications(None).await.expect("records").is_empty());
}

#[tokio::test]
async fn bare_plus_signs_from_a_careless_sender_still_verify() {
    let world = World::new().await;
    seed(&world.store, "A-4", "INV4").await;
    // Find a notification whose envelope has a '+', then send it without percent-encoding.
    let mut sent = false;
    for tran_ref in 0..200 {
        let mut paid = notification("INV4", "000", "A", "000000001250");
        paid.tran_ref = format!("ref{tran_ref}");
        let sealed = paid.seal(KEY.as_bytes());
        if sealed.contains('+') {
            let (status, body) = world.notify_form(&format!("paymentResponse={sealed}")).await;
            assert_eq!(status, 200, "{body}");
            sent = true;
            break;
        }
    }
    assert!(sent, "no envelope with a '+' among 200 tries");
    assert_eq!(order(&world, "A-4").await.status, StoredStatus::Paid);
}

#[tokio::test]
async fn verified_but_unreadable_or_unknown_is_kept_and_acknowledged() {
    let world = World::new().await;
    let garbage = protocol::envelope::seal("PaymentResponse", "this is not xml <", KEY.as_bytes());
    let (status, _) = world.notify_form(&protocol::envelope::form_body("paymentResponse", &garbage)).await;
    assert_eq!(status, 200);
    let no_invoice = notification("", "000", "A", "000000001250");
    assert_eq!(world.notify(&no_invoice).await.0, 200);
    let unreadable = world.store.notifications(None).await.expect("records");
    assert_eq!(unreadable.len(), 2);
    assert!(unreadable.iter().all(|r| r.classification == "unreadable"));

    assert_eq!(world.notify(&notification("INVNOBODY", "000", "A", "000000001250")).await.0, 200);
    let kept = world.store.notifications(Some("INVNOBODY")).await.expect("records");
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].classification, "unknown_invoice");
}

#[tokio::test]
async fn failures_pending_and_unknown_codes() {
    let world = World::new().await;
    seed(&world.store, "A-5", "INV5").await;
    assert_eq!(world.notify(&notification("INV5", "001", "", "000000001250")).await.0, 200);
    assert_eq!(order(&world, "A-5").await.status, StoredStatus::Pending, "pending: kept, no transition");
    assert_eq!(world.notify(&notification("INV5", "99", "A", "000000001250")).await.0, 200);
    assert_eq!(order(&world, "A-5").await.status, StoredStatus::Pending, "unrecognised: never paid");
    assert_eq!(world.notify(&notification("INV5", "00", "F", "000000001250")).await.0, 200);
    let failed = order(&world, "A-5").await;
    assert_eq!(failed.status, StoredStatus::Failed);
    assert_eq!(failed.fail_reason.as_deref(), Some("Declined by the bank"));
    let classes: Vec<String> =
        world.store.notifications(Some("INV5")).await.expect("records").into_iter().map(|r| r.classification).collect();
    assert_eq!(classes, ["pending", "unrecognised", "failed"]);
    assert_eq!(world.notify(&notification("INV5", "000", "A", "000000001250")).await.0, 200);
    assert_eq!(
        order(&world, "A-5").await.status,
        StoredStatus::Paid,
        "money that arrived after a failure is not dropped"
    );
}

#[tokio::test]
async fn money_that_differs_or_arrives_twice_goes_to_review() {
    let world = World::new().await;
    seed(&world.store, "A-6", "INV6").await;
    assert_eq!(world.notify(&notification("INV6", "000", "A", "000000001000")).await.0, 200);
    let review = order(&world, "A-6").await;
    assert_eq!(review.status, StoredStatus::Review);

    seed(&world.store, "A-7", "INV7").await;
    let mut other_currency = notification("INV7", "000", "A", "000000001250");
    other_currency.currency_code = "840".into();
    assert_eq!(world.notify(&other_currency).await.0, 200);
    assert_eq!(order(&world, "A-7").await.status, StoredStatus::Review);

    seed(&world.store, "A-8", "INV8").await;
    let sgd = Currency::from_code("SGD").expect("SGD");
    let second_attempt = Attempt {
        invoice_no: "INV8B".into(),
        order_id: "A-8".into(),
        openid: "oAlice".into(),
        amount: MinorUnits::new(1250).expect("amount"),
        currency: sgd,
        created_at: START,
    };
    world.store.insert_attempt(&second_attempt).await.expect("attempt");
    assert_eq!(world.notify(&notification("INV8", "000", "A", "000000001250")).await.0, 200);
    assert_eq!(order(&world, "A-8").await.status, StoredStatus::Paid);
    assert_eq!(world.notify(&notification("INV8B", "000", "A", "000000001250")).await.0, 200);
    let double = order(&world, "A-8").await;
    assert_eq!(double.status, StoredStatus::Review, "a double payment needs a person");
    assert_eq!(double.paid_invoice_no.as_deref(), Some("INV8"));
}

#[tokio::test]
async fn a_failing_store_answers_500_so_2c2p_retries() {
    let world = World::new().await;
    seed(&world.store, "A-9", "INV9").await;
    world.store.fail_writes(true);
    let paid = notification("INV9", "000", "A", "000000001250");
    let (status, body) = world.notify(&paid).await;
    assert_eq!((status, error_code(&body)), (500, "internal"));
    world.store.fail_writes(false);
    assert_eq!(order(&world, "A-9").await.status, StoredStatus::Pending, "nothing acknowledged, nothing changed");
    assert_eq!(world.notify(&paid).await.0, 200, "2C2P's retry goes through");
    assert_eq!(order(&world, "A-9").await.status, StoredStatus::Paid);
}
