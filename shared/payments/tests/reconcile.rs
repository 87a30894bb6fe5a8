//! Reconciliation (contract "Reconciliation"): `Reconciler` over the in-memory store and over
//! DynamoDB (a fresh table per test, so the `due` index holds only that test's attempts), asking the
//! simulated 2C2P about attempts whose result never arrived.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use payments::deadline::Deadline;
use payments::order::StoredStatus;
use payments::store::{AuditTrail, EvidenceKind, MemoryStore, OrderStore};
use payments::usecases::reconcile::Summary;
use simulator::{Fault, PayResult};

/// What each scenario needs of a store.
pub trait Store: OrderStore + AuditTrail + Clone {}
impl<S: OrderStore + AuditTrail + Clone> Store for S {}

fn summary(inquired: u32, paid: u32, failed: u32, unchanged: u32, errors: u32) -> Summary {
    Summary { inquired, paid, failed, unchanged, errors }
}

async fn run<S: Store>(world: &World<S>, batch: usize) -> Summary {
    world.reconciler().run_due(batch, &Deadline::after(Duration::from_secs(30))).await.expect("the run")
}

async fn status<S: Store>(world: &World<S>, id: &str) -> StoredStatus {
    world.stored(id).await.status
}

mod scenarios {
    use super::*;

    pub async fn a_dropped_notification_ends_paid_after_one_run<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        let invoice_no = world.prepaid(&session, "R-1", "12.50").await;
        world.sim.pay_without_notify(&invoice_no, PayResult::Success).expect("paid in WeChat");
        world.clock.advance(FIRST_INQUIRY_AFTER);
        assert_eq!(run(&world, 100).await, summary(1, 1, 0, 0, 0));
        let order = world.stored("R-1").await;
        assert_eq!((order.status, order.paid_invoice_no), (StoredStatus::Paid, Some(invoice(&invoice_no))));
        let kept = world.store.evidence(Some(&invoice(&invoice_no))).await.expect("records");
        assert_eq!(kept.iter().map(|r| r.kind).collect::<Vec<_>>(), [EvidenceKind::Inquiry], "the answer is kept");
        world.clock.advance(3600);
        assert_eq!(run(&world, 100).await, Summary::default(), "a paid attempt left the index");
        assert_eq!(world.sim.inquiry_calls(), 1);
    }

    pub async fn a_failed_payment_ends_failed<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        let invoice_no = world.prepaid(&session, "R-2", "12.50").await;
        world.sim.pay_without_notify(&invoice_no, PayResult::Fail).expect("declined in WeChat");
        world.clock.advance(FIRST_INQUIRY_AFTER);
        assert_eq!(run(&world, 100).await, summary(1, 0, 1, 0, 0));
        assert_eq!(status(&world, "R-2").await, StoredStatus::Failed);
        world.clock.advance(3600);
        assert_eq!(run(&world, 100).await, Summary::default(), "a failed attempt left the index");
    }

    pub async fn a_pending_one_is_asked_again_on_schedule_not_earlier<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        world.prepaid(&session, "R-3", "12.50").await;
        world.clock.advance(FIRST_INQUIRY_AFTER - 1);
        assert_eq!(run(&world, 100).await, Summary::default(), "not due a second early");
        world.clock.advance(1);
        assert_eq!(run(&world, 100).await, summary(1, 0, 0, 1, 0));
        // The interval doubles: next at +240.
        world.clock.advance(2 * FIRST_INQUIRY_AFTER - 1);
        assert_eq!(run(&world, 100).await, Summary::default(), "not before its schedule");
        world.clock.advance(1);
        assert_eq!(run(&world, 100).await, summary(1, 0, 0, 1, 0));
        assert_eq!(world.sim.inquiry_calls(), 2);
        assert_eq!(status(&world, "R-3").await, StoredStatus::Pending);
    }

    pub async fn attempts_a_day_past_their_validity_leave_the_index<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        let invoice_no = world.prepaid(&session, "R-4", "12.50").await;
        world.clock.advance(PAYMENT_TTL + 24 * 3600);
        assert_eq!(run(&world, 100).await, summary(1, 0, 0, 1, 0), "asked one last time");
        let attempt = world.store.get_attempt(&invoice(&invoice_no)).await.expect("read").expect("attempt");
        assert_eq!(attempt.due_at, None, "out of the index");
        assert!(world.store.due_attempts(world.clock.now() + 365 * 24 * 3600, 100).await.expect("due").is_empty());
        world.clock.advance(3600);
        assert_eq!(run(&world, 100).await, Summary::default());
        assert_eq!(world.sim.inquiry_calls(), 1);
    }

    pub async fn one_unreachable_inquiry_counts_one_error_and_the_others_are_done<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        let mut invoices = Vec::new();
        for n in 0..3 {
            let invoice_no = world.prepaid(&session, &format!("R-5{n}"), "12.50").await;
            world.sim.pay_without_notify(&invoice_no, PayResult::Success).expect("paid in WeChat");
            invoices.push(invoice_no);
        }
        world.take_down(&invoices[1]);
        world.clock.advance(FIRST_INQUIRY_AFTER);
        assert_eq!(run(&world, 100).await, summary(3, 2, 0, 0, 1));
        let statuses = [status(&world, "R-50").await, status(&world, "R-51").await, status(&world, "R-52").await];
        assert_eq!(statuses, [StoredStatus::Paid, StoredStatus::Pending, StoredStatus::Paid]);
        let attempt = world.store.get_attempt(&invoice(&invoices[1])).await.expect("read").expect("attempt");
        assert!(attempt.due_at.is_some(), "the failed inquiry is retried later");
        world.down.lock().expect("lock").clear();
        world.clock.advance(2 * FIRST_INQUIRY_AFTER);
        assert_eq!(run(&world, 100).await, summary(1, 1, 0, 0, 0), "2C2P is back");
        assert_eq!(status(&world, "R-51").await, StoredStatus::Paid);
    }

    pub async fn more_due_than_the_batch_leaves_the_rest_for_the_next_run<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        for n in 0..3 {
            let invoice_no = world.prepaid(&session, &format!("R-6{n}"), "12.50").await;
            world.sim.pay_without_notify(&invoice_no, PayResult::Success).expect("paid in WeChat");
            world.clock.advance(10);
        }
        world.clock.advance(FIRST_INQUIRY_AFTER);
        assert_eq!(run(&world, 2).await, summary(2, 2, 0, 0, 0));
        let statuses = [status(&world, "R-60").await, status(&world, "R-61").await, status(&world, "R-62").await];
        assert_eq!(statuses, [StoredStatus::Paid, StoredStatus::Paid, StoredStatus::Pending], "most overdue first");
        assert_eq!(run(&world, 2).await, summary(1, 1, 0, 0, 0));
        assert_eq!(status(&world, "R-62").await, StoredStatus::Paid);
    }

    pub async fn at_most_five_inquiries_at_once<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        for n in 0..12 {
            world.prepaid(&session, &format!("R-7{n:02}"), "12.50").await;
        }
        world.sim.set_inquiry_fault(Some(Fault::Delay(Duration::from_millis(300))));
        world.clock.advance(FIRST_INQUIRY_AFTER);
        assert_eq!(run(&world, 100).await, summary(12, 0, 0, 12, 0));
        let most = world.sim.max_inquiries_in_flight();
        assert!((2..=5).contains(&most), "{most} inquiries at once: some concurrency, never more than 5");
    }

    pub async fn one_order_is_inquired_now_whatever_its_schedule<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        let invoice_no = world.prepaid(&session, "R-8", "12.50").await;
        world.sim.pay_without_notify(&invoice_no, PayResult::Success).expect("paid in WeChat");
        let deadline = Deadline::after(Duration::from_secs(30));
        let got = world.reconciler().run_order(&order_id("R-8"), &deadline).await.expect("the run");
        assert_eq!(got, Some(summary(1, 1, 0, 0, 0)), "not due yet, asked all the same");
        assert_eq!(status(&world, "R-8").await, StoredStatus::Paid);
        assert_eq!(world.reconciler().run_order(&order_id("R-9"), &deadline).await, Ok(None));
    }

    pub async fn an_answer_whose_amount_cannot_be_read_changes_nothing<S: Store>(world: World<S>) {
        let session = world.login("alice").await;
        let deadline = Deadline::after(Duration::from_secs(30));
        for (id, status, amount) in [("R-11", "A", "12,50"), ("R-12", "PF", ""), ("R-13", "PF", "twelve")] {
            let invoice_no = world.prepaid(&session, id, "12.50").await;
            world.sim.set_inquiry_answer(&invoice_no, status, amount);
            let got = world.reconciler().run_order(&order_id(id), &deadline).await.expect("the run");
            assert_eq!(got, Some(summary(1, 0, 0, 1, 0)), "{status} with amount {amount:?}");
            assert_eq!(world.stored(id).await.status, StoredStatus::Pending, "{status} with amount {amount:?}");
            let kept = world.store.evidence(Some(&invoice(&invoice_no))).await.expect("records");
            assert_eq!(kept.len(), 1, "the answer is kept all the same");
        }
    }
}

macro_rules! reconciliation {
    ($store:ident, $make:expr $(, #[$attr:meta])?) => {
        mod $store {
            use super::*;

            macro_rules! case {
                ($name:ident) => {
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    $(#[$attr])?
                    async fn $name() {
                        let store = $make(stringify!($name));
                        scenarios::$name(World::build(Options::default(), store.await).await).await;
                    }
                };
            }

            case!(a_dropped_notification_ends_paid_after_one_run);
            case!(a_failed_payment_ends_failed);
            case!(a_pending_one_is_asked_again_on_schedule_not_earlier);
            case!(attempts_a_day_past_their_validity_leave_the_index);
            case!(one_unreachable_inquiry_counts_one_error_and_the_others_are_done);
            case!(more_due_than_the_batch_leaves_the_rest_for_the_next_run);
            case!(at_most_five_inquiries_at_once);
            case!(one_order_is_inquired_now_whatever_its_schedule);
            case!(an_answer_whose_amount_cannot_be_read_changes_nothing);
        }
    };
}

async fn memory_store(_case: &str) -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new())
}

async fn dynamo_store(case: &str) -> payments::store::DynamoStore {
    // Table names allow letters, digits, '-', '_' and '.': the test's name fits.
    common::dynamo::fresh_store(&case.replace('_', "-")).await
}

reconciliation!(memory, memory_store);
reconciliation!(dynamo, dynamo_store, #[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]);

/// An attempt whose order item is gone (deleted by hand): the answer is kept, nothing is moved, and
/// the attempt stays on its doubling schedule instead of heading every run's batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]
async fn an_attempt_without_its_order_is_not_asked_about_every_run() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let case = "orphan-attempt";
    let world = World::build(Options::default(), dynamo_store(case).await).await;
    let table = format!(
        "{}-{}-{}",
        common::dynamo::required_env("DYNAMODB_TEST_TABLE"),
        common::dynamo::run_id().to_ascii_lowercase(),
        case
    );
    let session = world.login("alice").await;
    let invoice_no = world.prepaid(&session, "R-14", "12.50").await;
    world.sim.pay_without_notify(&invoice_no, PayResult::Success).expect("paid in WeChat");
    common::dynamo::test_client()
        .delete_item()
        .table_name(&table)
        .key("pk", AttributeValue::S("ORDER#R-14".into()))
        .key("sk", AttributeValue::S("ORDER".into()))
        .send()
        .await
        .expect("the order is deleted by hand");
    world.clock.advance(FIRST_INQUIRY_AFTER);
    assert_eq!(run(&world, 100).await, summary(1, 0, 0, 1, 0), "asked, kept, nothing to move");
    assert_eq!(run(&world, 100).await, Summary::default(), "rescheduled: not asked again at once");
    world.clock.advance(2 * FIRST_INQUIRY_AFTER);
    assert_eq!(run(&world, 100).await, summary(1, 0, 0, 1, 0), "asked again on its schedule");
    assert_eq!(world.sim.inquiry_calls(), 2);
}

/// The deadline, not the HTTP client's own timeout, decides here: the client waits up to a minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_is_awaited_only_while_there_is_time_to_keep_it() {
    let options = Options { upstream_timeout: LONG_TIMEOUT, ..Options::default() };
    let world = World::build(options, Arc::new(MemoryStore::new())).await;
    let session = world.login("alice").await;
    let invoice_no = world.prepaid(&session, "R-10", "12.50").await;
    world.sim.pay_without_notify(&invoice_no, PayResult::Success).expect("paid in WeChat");
    // 3 s left: 0.3 s to answer, 0.5 s to keep and apply, so 2C2P gets 2.2 s and this answer
    // (2.5 s) is not waited for: taken so late, it might not be kept, and a "paid" would be lost.
    world.sim.set_inquiry_fault(Some(Fault::Delay(Duration::from_millis(2500))));
    let short = Deadline::after(Duration::from_secs(3));
    let got = world.reconciler().run_order(&order_id("R-10"), &short).await.expect("the run");
    assert_eq!(got, Some(summary(1, 0, 0, 0, 1)), "an upstream timeout, counted as an error");
    assert_eq!(status(&world, "R-10").await, StoredStatus::Pending);
    let kept = world.store.evidence(Some(&invoice(&invoice_no))).await.expect("records");
    assert!(kept.is_empty(), "nothing half-kept: {kept:?}");
    world.sim.set_inquiry_fault(None);
    let deadline = Deadline::after(Duration::from_secs(30));
    let got = world.reconciler().run_order(&order_id("R-10"), &deadline).await.expect("the run");
    assert_eq!(got, Some(summary(1, 1, 0, 0, 0)), "asked again with time to spare, and kept");
    assert_eq!(status(&world, "R-10").await, StoredStatus::Paid);
}
