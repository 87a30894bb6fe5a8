//! `GET /orders/{orderId}` asks 2C2P when the result may be late: at most once per 10 seconds per
//! order, bounded to 3 seconds, and the stored state when 2C2P cannot answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use payments::order::StoredStatus;
use payments::store::{AuditTrail, EvidenceKind, MemoryStore};
use simulator::{Fault, PayResult};

use crate::common::*;

#[tokio::test]
async fn a_payment_whose_notification_was_dropped_reads_paid() {
    let world = World::new().await;
    let session = world.login("alice").await;
    let invoice_no = world.prepaid(&session, "O-1", "12.50").await;
    world.sim.pay_without_notify(&invoice_no, PayResult::Success).expect("paid in WeChat");
    let (status, order) = world.get_order(&session, "O-1").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "paid", "{order}");
    assert_eq!(order["paidInvoiceNo"], invoice_no.as_str());
    assert_eq!(world.stored("O-1").await.status, StoredStatus::Paid, "the inquiry's answer was applied");
    let records = world.store.evidence(Some(&invoice(&invoice_no))).await.expect("records");
    assert_eq!(records.iter().map(|r| r.kind).collect::<Vec<_>>(), [EvidenceKind::Inquiry], "the answer is kept");
    world.get_order(&session, "O-1").await;
    assert_eq!(world.sim.inquiry_calls(), 1, "a paid order is not inquired again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_polls_make_at_most_one_inquiry_per_ten_seconds() {
    let world = Arc::new(World::new().await);
    let session = world.login("alice").await;
    world.prepaid(&session, "O-2", "12.50").await;
    let poll = || async {
        let mut polls = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (world, session) = (world.clone(), session.clone());
            polls.spawn(async move { world.get_order(&session, "O-2").await });
        }
        for (status, order) in polls.join_all().await {
            assert_eq!((status, order["status"].as_str()), (200, Some("pending")), "{order}");
        }
    };
    poll().await;
    assert_eq!(world.sim.inquiry_calls(), 1);
    world.clock.advance(9);
    poll().await;
    assert_eq!(world.sim.inquiry_calls(), 1, "nine seconds later: not yet");
    world.clock.advance(1);
    poll().await;
    assert_eq!(world.sim.inquiry_calls(), 2, "ten seconds later: once more");
}

#[tokio::test]
async fn a_hanging_inquiry_still_gets_the_stored_state_within_three_seconds() {
    let options = Options { upstream_timeout: LONG_TIMEOUT, ..Options::default() };
    let world = World::build(options, Arc::new(MemoryStore::new())).await;
    let session = world.login("alice").await;
    world.prepaid(&session, "O-3", "12.50").await;
    world.sim.set_inquiry_fault(Some(Fault::Delay(Duration::from_secs(60))));
    let started = Instant::now();
    let (status, order) = world.get_order(&session, "O-3").await;
    let took = started.elapsed();
    assert_eq!((status, order["status"].as_str()), (200, Some("pending")), "{order}");
    assert!(took < Duration::from_millis(3_300), "answered after {took:?}");
    assert_eq!(world.sim.inquiry_calls(), 1, "2C2P was asked");
}

#[tokio::test]
async fn an_order_past_the_reconciliation_window_is_not_inquired_on_read() {
    let world = World::new().await;
    let session = world.login("alice").await;
    world.prepaid(&session, "O-4", "12.50").await;
    world.clock.advance(PAYMENT_TTL + 24 * 3600);
    let session = world.login("alice").await;
    let (status, order) = world.get_order(&session, "O-4").await;
    assert_eq!((status, order["status"].as_str()), (200, Some("expired")), "{order}");
    assert_eq!(world.sim.inquiry_calls(), 0);
}

#[tokio::test]
async fn a_body_over_16_kib_is_413_on_this_route_too() {
    let world = World::new().await;
    let session = world.login("alice").await;
    world.prepaid(&session, "O-413", "12.50").await;
    let padded = order_request(&session, "O-413");
    let (head, _) = padded.into_parts();
    let request = lambda_http::Request::from_parts(head, lambda_http::Body::Text("x".repeat(16 * 1024 + 1)));
    let (status, answer) = parts(world.prepay.handle(request).await);
    assert_eq!((status, error_code(&answer)), (413, "payload_too_large"), "{answer}");
    assert_eq!(world.get_order(&session, "O-413").await.0, 200, "without a body it reads as before");
}
