//! One conformance suite for every `OrderStore`: the in-memory store in every `cargo test`, and the
//! DynamoDB store against a real DynamoDB-compatible server (moto, started by `scripts/test`).
//!
//! The DynamoDB runs are `#[ignore]`d so a bare `cargo test` needs no server; run them with
//! `DYNAMODB_TEST_ENDPOINT=http://127.0.0.1:PORT DYNAMODB_TEST_TABLE=NAME cargo test -p payments
//! --test store_conformance -- --include-ignored`. Every key carries a per-run suffix, so runs
//! against the same server never collide.

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use payments::order::{Attempt, Order, StoredStatus};
use payments::store::{DynamoStore, MemoryStore, NotificationRecord, OrderStore, Recorded, StoreError};
use protocol::money::{Currency, MinorUnits};
use protocol::securepay::WechatPayment;
use tokio::sync::Barrier;

/// How many tasks race for one key in the concurrency tests.
const RACERS: usize = 16;
const T0: i64 = 1_795_694_400;

// ---------------------------------------------------------------------------------------------
// Unique keys per run and per test.

/// Letters and digits unique to this process: the time in nanoseconds and the process id.
fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        format!("{:x}{:x}", nanos, std::process::id())
    })
}

/// The keys of one test: `case` is letters and digits, unique within this file.
struct Ids {
    case: &'static str,
}

impl Ids {
    fn new(case: &'static str) -> Self {
        Self { case }
    }

    fn order(&self, n: u32) -> String {
        format!("T-{}-{}-{n}", run_id(), self.case)
    }

    /// Letters and digits only, as 2C2P's uniqueTransactionCode.
    fn invoice(&self, n: u32) -> String {
        format!("I{}{}{n}", run_id(), self.case)
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

fn payment(prepay_id: &str) -> WechatPayment {
    let json = format!(
        r#"{{"timeStamp":"1795694400","nonceStr":"n0nce","package":"prepay_id={prepay_id}","signType":"RSA","paySign":"c2ln+/=","appId":"wx1234567890abcdef","extra":{{"nested":[1,"two",null]}}}}"#
    );
    WechatPayment::from_json(&json).expect("valid payment parameters")
}

/// A fresh order: pending, 2C2P not answered yet, every optional field unset.
fn new_order(order_id: &str, invoice_no: &str) -> Order {
    Order {
        order_id: order_id.to_owned(),
        openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
        amount: amount(1250),
        currency: sgd(),
        description: "Latte x2 & <cake> \"50%\" 拿铁 ☕".to_owned(),
        status: StoredStatus::Pending,
        invoice_no: invoice_no.to_owned(),
        payment: None,
        attempt_expires_at: T0 + 60,
        paid_invoice_no: None,
        fail_reason: None,
        review_reason: None,
        created_at: T0,
        updated_at: T0,
        paid_at: None,
        version: 1,
    }
}

/// An order with every optional field set.
fn full_order(order_id: &str, invoice_no: &str) -> Order {
    Order {
        amount: amount(999_999_999_999),
        currency: Currency::from_code("JPY").expect("JPY is supported"),
        status: StoredStatus::Review,
        payment: Some(payment("wx26120000000000000000000000")),
        attempt_expires_at: T0 + 900,
        paid_invoice_no: Some(format!("{invoice_no}P")),
        fail_reason: Some("Transaction is declined".to_owned()),
        review_reason: Some(format!("paid amount differs from the order (invoice {invoice_no})")),
        updated_at: T0 + 30,
        paid_at: Some(T0 + 20),
        version: 9,
        ..new_order(order_id, invoice_no)
    }
}

fn attempt(invoice_no: &str, order_id: &str) -> Attempt {
    Attempt {
        invoice_no: invoice_no.to_owned(),
        order_id: order_id.to_owned(),
        openid: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned(),
        amount: amount(1250),
        currency: sgd(),
        created_at: T0,
    }
}

fn record(invoice_no: Option<&str>, fingerprint: &str, received_at: i64) -> NotificationRecord {
    NotificationRecord {
        invoice_no: invoice_no.map(str::to_owned),
        fingerprint: fingerprint.to_owned(),
        received_at,
        resp_code: "000".to_owned(),
        status: "A".to_owned(),
        amt: "000000001250".to_owned(),
        currency_code: "702".to_owned(),
        fail_reason: String::new(),
        classification: if invoice_no.is_some() { "paid" } else { "unreadable" }.to_owned(),
        envelope: format!("PFBheW1lbnRSZXNwb25zZT4{fingerprint}+/="),
    }
}

// ---------------------------------------------------------------------------------------------
// The suite: each function is one behaviour every store must have.

mod suite {
    use super::*;

    pub async fn missing_items_read_as_none<S: OrderStore>(store: &S, ids: &Ids) {
        assert_eq!(store.get_order(&ids.order(1)).await, Ok(None));
        assert_eq!(store.get_attempt(&ids.invoice(1)).await, Ok(None));
        assert_eq!(store.notifications(Some(&ids.invoice(1))).await, Ok(vec![]));
    }

    pub async fn inserted_orders_round_trip_every_field<S: OrderStore>(store: &S, ids: &Ids) {
        let bare = new_order(&ids.order(1), &ids.invoice(1));
        let full = full_order(&ids.order(2), &ids.invoice(2));
        store.insert_order(&bare).await.expect("insert the bare order");
        store.insert_order(&full).await.expect("insert the full order");
        assert_eq!(store.get_order(&bare.order_id).await, Ok(Some(bare)), "optional fields unset");
        let read = store.get_order(&full.order_id).await.expect("read").expect("found");
        assert_eq!(read, full, "optional fields set");
        let read_payment = read.payment.expect("payment kept");
        assert_eq!(read_payment.get("appId"), Some("wx1234567890abcdef"), "extra keys are kept");
        assert!(read_payment.to_json().contains(r#""nested":[1,"two",null]"#), "extra values are kept as they were");
    }

    pub async fn a_second_insert_fails_and_the_first_stays<S: OrderStore>(store: &S, ids: &Ids) {
        let first = new_order(&ids.order(1), &ids.invoice(1));
        store.insert_order(&first).await.expect("first insert");
        let second = Order { openid: "someone-else".into(), version: 5, ..full_order(&ids.order(1), &ids.invoice(2)) };
        assert_eq!(store.insert_order(&second).await, Err(StoreError::ConditionFailed));
        assert_eq!(store.get_order(&first.order_id).await, Ok(Some(first)));
    }

    pub async fn replace_succeeds_only_on_the_expected_version_and_status<S: OrderStore>(store: &S, ids: &Ids) {
        let v1 = Order { payment: Some(payment("p1")), ..new_order(&ids.order(1), &ids.invoice(1)) };
        store.insert_order(&v1).await.expect("insert");

        let v2 = Order {
            status: StoredStatus::Paid,
            paid_invoice_no: Some(ids.invoice(1)),
            paid_at: Some(T0 + 5),
            updated_at: T0 + 5,
            version: 2,
            ..v1.clone()
        };
        assert_eq!(store.replace_order(&v2, 1, StoredStatus::Pending).await, Ok(()));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v2.clone())), "replaced and bumped");

        let stale = Order { status: StoredStatus::Failed, version: 2, ..v1.clone() };
        assert_eq!(
            store.replace_order(&stale, 1, StoredStatus::Pending).await,
            Err(StoreError::ConditionFailed),
            "a stale version"
        );
        let wrong_status = Order { status: StoredStatus::Failed, version: 3, ..v2.clone() };
        assert_eq!(
            store.replace_order(&wrong_status, 2, StoredStatus::Pending).await,
            Err(StoreError::ConditionFailed),
            "the right version but another status"
        );
        let ahead = Order { version: 4, ..v2.clone() };
        assert_eq!(store.replace_order(&ahead, 3, StoredStatus::Paid).await, Err(StoreError::ConditionFailed));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v2.clone())), "failed conditions change nothing");

        // A replace writes the whole order: fields cleared in `next` are cleared in the store.
        let v3 = Order {
            status: StoredStatus::Review,
            payment: None,
            paid_at: None,
            review_reason: Some("a person must look".into()),
            version: 3,
            ..v2.clone()
        };
        assert_eq!(store.replace_order(&v3, 2, StoredStatus::Paid).await, Ok(()));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v3)));
    }

    pub async fn replacing_a_missing_order_fails<S: OrderStore>(store: &S, ids: &Ids) {
        let next = Order { version: 2, ..new_order(&ids.order(1), &ids.invoice(1)) };
        assert_eq!(store.replace_order(&next, 1, StoredStatus::Pending).await, Err(StoreError::ConditionFailed));
        assert_eq!(store.get_order(&next.order_id).await, Ok(None), "nothing was created");
    }

    pub async fn attempts_are_inserted_once<S: OrderStore>(store: &S, ids: &Ids) {
        let first = attempt(&ids.invoice(1), &ids.order(1));
        store.insert_attempt(&first).await.expect("insert");
        assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(first.clone())));
        let other = Attempt {
            order_id: ids.order(2),
            amount: amount(5),
            currency: Currency::from_code("THB").expect("THB"),
            ..first.clone()
        };
        assert_eq!(store.insert_attempt(&other).await, Err(StoreError::ConditionFailed));
        assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(first.clone())), "the first stays");
        // An invoice's attempt and its notifications share a partition; neither hides the other.
        let note = record(Some(&first.invoice_no), &ids.fingerprint(1), T0);
        assert_eq!(store.record_notification(&note).await, Ok(Recorded::New));
        assert_eq!(store.get_attempt(&first.invoice_no).await, Ok(Some(first.clone())));
        assert_eq!(store.notifications(Some(&first.invoice_no)).await, Ok(vec![note]));
        // An order and an attempt never collide, even with the same text as key.
        let order = new_order(&first.invoice_no, &first.invoice_no);
        assert_eq!(store.insert_order(&order).await, Ok(()));
    }

    pub async fn a_replayed_notification_keeps_the_first_record<S: OrderStore>(store: &S, ids: &Ids) {
        let invoice = ids.invoice(1);
        let first = record(Some(&invoice), &ids.fingerprint(1), T0 + 10);
        assert_eq!(store.record_notification(&first).await, Ok(Recorded::New));
        let replay = NotificationRecord { received_at: T0 + 99, classification: "replay".into(), ..first.clone() };
        assert_eq!(store.record_notification(&replay).await, Ok(Recorded::Replay));
        assert_eq!(store.record_notification(&first).await, Ok(Recorded::Replay));
        assert_eq!(store.notifications(Some(&invoice)).await, Ok(vec![first.clone()]));

        // The same envelope under another invoice is another record.
        let elsewhere = record(Some(&ids.invoice(2)), &ids.fingerprint(1), T0 + 11);
        assert_eq!(store.record_notification(&elsewhere).await, Ok(Recorded::New));
        assert_eq!(store.notifications(Some(&ids.invoice(2))).await, Ok(vec![elsewhere]));
        assert_eq!(store.notifications(Some(&invoice)).await, Ok(vec![first]));
    }

    pub async fn notifications_come_back_oldest_first<S: OrderStore>(store: &S, ids: &Ids) {
        let invoice = ids.invoice(1);
        // Fingerprints (the sort key) in the opposite order to the times, so key order is not enough.
        let times = [T0 + 50, T0 + 10, T0 + 40, T0 + 20, T0 + 30];
        let records: Vec<_> =
            times.iter().enumerate().map(|(i, &at)| record(Some(&invoice), &ids.fingerprint(i as u32), at)).collect();
        for r in &records {
            assert_eq!(store.record_notification(r).await, Ok(Recorded::New));
        }
        let mut expected = records.clone();
        expected.sort_by_key(|r| r.received_at);
        assert_eq!(store.notifications(Some(&invoice)).await, Ok(expected));
    }

    pub async fn unreadable_notifications_are_kept_apart<S: OrderStore>(store: &S, ids: &Ids) {
        let later = record(None, &ids.fingerprint(1), T0 + 2);
        let earlier = record(None, &ids.fingerprint(2), T0 + 1);
        assert_eq!(store.record_notification(&later).await, Ok(Recorded::New));
        assert_eq!(store.record_notification(&earlier).await, Ok(Recorded::New));
        assert_eq!(store.record_notification(&later).await, Ok(Recorded::Replay));
        // A shared server keeps earlier runs' unreadable records too: look at this test's only.
        let mine: Vec<_> = store
            .notifications(None)
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
        S: OrderStore,
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

    pub async fn racing_replaces_have_one_winner<S: OrderStore>(store: Arc<S>, ids: &Ids) {
        let v1 = new_order(&ids.order(1), &ids.invoice(1));
        store.insert_order(&v1).await.expect("insert");
        let next = |i: usize| Order {
            description: format!("racer {i}"),
            status: StoredStatus::Paid,
            version: 2,
            ..v1.clone()
        };
        let results = race(store.clone(), |store, i| {
            let mine = next(i);
            async move { store.replace_order(&mine, 1, StoredStatus::Pending).await }
        })
        .await;
        let winner = single_winner(&results);
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(next(winner))), "the winner's write is stored");
    }

    pub async fn racing_inserts_have_one_winner<S: OrderStore>(store: Arc<S>, ids: &Ids) {
        let order = |i: usize| Order { openid: format!("racer-{i}"), ..new_order(&ids.order(1), &ids.invoice(1)) };
        let results = race(store.clone(), |store, i| {
            let mine = order(i);
            async move { store.insert_order(&mine).await }
        })
        .await;
        let winner = single_winner(&results);
        assert_eq!(store.get_order(&ids.order(1)).await, Ok(Some(order(winner))));

        let attempt = |i: usize| Attempt { order_id: format!("racer-{i}"), ..attempt(&ids.invoice(1), "x") };
        let results = race(store.clone(), |store, i| {
            let mine = attempt(i);
            async move { store.insert_attempt(&mine).await }
        })
        .await;
        let winner = single_winner(&results);
        assert_eq!(store.get_attempt(&ids.invoice(1)).await, Ok(Some(attempt(winner))));
    }

    pub async fn racing_records_have_one_new<S: OrderStore>(store: Arc<S>, ids: &Ids) {
        let invoice = ids.invoice(1);
        let the_record = record(Some(&invoice), &ids.fingerprint(1), T0);
        let results = race(store.clone(), |store, _| {
            let mine = the_record.clone();
            async move { store.record_notification(&mine).await }
        })
        .await;
        let new = results.iter().filter(|r| **r == Ok(Recorded::New)).count();
        let replays = results.iter().filter(|r| **r == Ok(Recorded::Replay)).count();
        assert_eq!((new, replays), (1, RACERS - 1), "one new, every other a replay: {results:?}");
        assert_eq!(store.notifications(Some(&invoice)).await, Ok(vec![the_record]));
    }
}

// ---------------------------------------------------------------------------------------------
// The suite, once per store.

macro_rules! conformance {
    ($store:ident, $make:expr $(, #[$attr:meta])?) => {
        mod $store {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn missing_items_read_as_none() {
                suite::missing_items_read_as_none(&$make, &Ids::new("missing")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn inserted_orders_round_trip_every_field() {
                suite::inserted_orders_round_trip_every_field(&$make, &Ids::new("roundtrip")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn a_second_insert_fails_and_the_first_stays() {
                suite::a_second_insert_fails_and_the_first_stays(&$make, &Ids::new("dupinsert")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn replace_succeeds_only_on_the_expected_version_and_status() {
                suite::replace_succeeds_only_on_the_expected_version_and_status(&$make, &Ids::new("replace")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn replacing_a_missing_order_fails() {
                suite::replacing_a_missing_order_fails(&$make, &Ids::new("replacemissing")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn attempts_are_inserted_once() {
                suite::attempts_are_inserted_once(&$make, &Ids::new("attempts")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn a_replayed_notification_keeps_the_first_record() {
                suite::a_replayed_notification_keeps_the_first_record(&$make, &Ids::new("replay")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn notifications_come_back_oldest_first() {
                suite::notifications_come_back_oldest_first(&$make, &Ids::new("ordering")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn unreadable_notifications_are_kept_apart() {
                suite::unreadable_notifications_are_kept_apart(&$make, &Ids::new("unreadable")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn racing_replaces_have_one_winner() {
                suite::racing_replaces_have_one_winner(Arc::new($make), &Ids::new("racereplace")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn racing_inserts_have_one_winner() {
                suite::racing_inserts_have_one_winner(Arc::new($make), &Ids::new("raceinsert")).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            $(#[$attr])?
            async fn racing_records_have_one_new() {
                suite::racing_records_have_one_new(Arc::new($make), &Ids::new("racerecord")).await;
            }
        }
    };
}

conformance!(memory, MemoryStore::new());
conformance!(dynamo, dynamo_store().await, #[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]);

// ---------------------------------------------------------------------------------------------
// The DynamoDB store's connection, and what only one of the stores has.

fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the DynamoDB conformance tests need a DynamoDB-compatible server. \
             Start one (scripts/test starts moto and creates the table with scripts/create_table.py), then set \
             DYNAMODB_TEST_ENDPOINT (e.g. http://127.0.0.1:8765) and DYNAMODB_TEST_TABLE"
        )
    })
}

fn client_for(endpoint: &str, retry: RetryConfig) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

fn test_client() -> Client {
    client_for(&required_env("DYNAMODB_TEST_ENDPOINT"), RetryConfig::standard())
}

async fn dynamo_store() -> DynamoStore {
    DynamoStore::new(test_client(), required_env("DYNAMODB_TEST_TABLE"))
}

mod memory_only {
    use super::*;

    #[tokio::test]
    async fn injected_failures_fail_every_write_and_change_nothing() {
        let store = MemoryStore::new();
        let ids = Ids::new("inject");
        let v1 = new_order(&ids.order(1), &ids.invoice(1));
        store.insert_order(&v1).await.expect("insert");

        store.fail_writes(true);
        let injected = Err(StoreError::Unavailable("injected failure".into()));
        assert_eq!(store.insert_order(&new_order(&ids.order(2), &ids.invoice(2))).await, injected);
        let v2 = Order { status: StoredStatus::Paid, version: 2, ..v1.clone() };
        assert_eq!(store.replace_order(&v2, 1, StoredStatus::Pending).await, injected);
        assert_eq!(store.insert_attempt(&attempt(&ids.invoice(1), &ids.order(1))).await, injected);
        let note = record(Some(&ids.invoice(1)), &ids.fingerprint(1), T0);
        assert_eq!(store.record_notification(&note).await, injected.map(|()| Recorded::New));
        assert_eq!(store.get_order(&v1.order_id).await, Ok(Some(v1.clone())), "reads still work");
        assert_eq!(store.get_order(&ids.order(2)).await, Ok(None));
        assert_eq!(store.get_attempt(&ids.invoice(1)).await, Ok(None));
        assert_eq!(store.notifications(Some(&ids.invoice(1))).await, Ok(vec![]));

        store.fail_writes(false);
        assert_eq!(store.replace_order(&v2, 1, StoredStatus::Pending).await, Ok(()));
        assert_eq!(store.record_notification(&note).await, Ok(Recorded::New), "the failed write kept nothing");
    }

    #[tokio::test]
    async fn notifications_received_in_the_same_second_keep_their_arrival_order() {
        let store = MemoryStore::new();
        let ids = Ids::new("ties");
        let invoice = ids.invoice(1);
        let records: Vec<_> = [9, 3, 7, 1].iter().map(|&n| record(Some(&invoice), &ids.fingerprint(n), T0)).collect();
        for r in &records {
            assert_eq!(store.record_notification(r).await, Ok(Recorded::New));
        }
        assert_eq!(store.notifications(Some(&invoice)).await, Ok(records));
    }
}

mod dynamo_only {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_not_a_condition() {
        // A port that was free a moment ago: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
        let store =
            DynamoStore::new(client_for(&format!("http://127.0.0.1:{port}"), RetryConfig::disabled()), "t".into());
        let ids = Ids::new("unreachable");
        let order = new_order(&ids.order(1), &ids.invoice(1));
        let unavailable = |result: Result<(), StoreError>| match result {
            Err(StoreError::Unavailable(why)) => why,
            other => panic!("expected unavailable, got {other:?}"),
        };
        let why = unavailable(store.insert_order(&order).await);
        assert!(!why.contains(&order.openid) && !why.contains(&order.description), "no item contents: {why}");
        unavailable(store.get_order(&order.order_id).await.map(drop));
        unavailable(store.record_notification(&record(None, "f", T0)).await.map(drop));
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]
    async fn a_missing_table_is_unavailable() {
        let store = DynamoStore::new(test_client(), format!("no-such-table-{}", run_id()));
        let got = store.get_order("A-1").await;
        assert_eq!(got, Err(StoreError::Unavailable("DynamoDB answered ResourceNotFoundException".into())));
    }

    #[tokio::test]
    #[ignore = "needs a DynamoDB-compatible server; scripts/test starts one"]
    async fn items_are_laid_out_as_documented_and_corrupt_ones_are_named() {
        let client = test_client();
        let table = required_env("DYNAMODB_TEST_TABLE");
        let store = DynamoStore::new(client.clone(), table.clone());
        let ids = Ids::new("layout");
        let order = full_order(&ids.order(1), &ids.invoice(1));
        store.insert_order(&order).await.expect("insert");

        let raw = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(format!("ORDER#{}", order.order_id)))
            .key("sk", AttributeValue::S("ORDER".into()))
            .consistent_read(true)
            .send()
            .await
            .expect("raw read")
            .item
            .expect("the order is at ORDER#{orderId} / ORDER");
        assert_eq!(raw.get("amountMinor"), Some(&AttributeValue::N("999999999999".into())));
        assert_eq!(raw.get("currency"), Some(&AttributeValue::S("JPY".into())));
        assert_eq!(raw.get("status"), Some(&AttributeValue::S("review".into())));
        assert_eq!(raw.get("version"), Some(&AttributeValue::N("9".into())));

        let mut broken: HashMap<String, AttributeValue> = raw;
        broken.insert("orderId".into(), AttributeValue::S(ids.order(2)));
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
