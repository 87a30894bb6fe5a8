//! The `payments-admin` binary itself against a DynamoDB-compatible server (moto), the table made
//! by scripts/create_table.py from template.yaml (so the `review` and `attempts` indexes are the
//! deployed ones). Orders are seeded through the store API, then the binary is run as an operator
//! would run it.
//!
//! `#[ignore]`d so a bare `cargo test` needs no server; run with `DYNAMODB_TEST_ENDPOINT=http://127.0.0.1:PORT
//! DYNAMODB_TEST_TABLE=NAME cargo test -p payments-admin -- --include-ignored`. Keys carry a per-run part.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use payments::ids::{InvoiceNo, OpenId, OrderId};
use payments::order::{Effect, Evidence, Order, OrderTerms, Verdict};
use payments::store::{Classification, DynamoStore, EvidenceKind, EvidenceRecord, OrderStore, ReportedFields};
use protocol::money::{Currency, MinorUnits};
use serde_json::Value;

const NEEDS_SERVER: &str = "needs a DynamoDB-compatible server (DYNAMODB_TEST_ENDPOINT, DYNAMODB_TEST_TABLE)";
/// The raw signed text of the seeded notification: it must never be printed.
const ENVELOPE: &str = "PFBheW1lbnRSZXNwb25zZT5TSUdORUQtRU5WRUxPUEU8L1BheW1lbnRSZXNwb25zZT4=";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {NEEDS_SERVER}"))
}

fn store() -> DynamoStore {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(env("DYNAMODB_TEST_ENDPOINT"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    DynamoStore::new(Client::from_conf(config), env("DYNAMODB_TEST_TABLE"))
}

fn raw_client() -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(env("DYNAMODB_TEST_ENDPOINT"))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .build();
    Client::from_conf(config)
}

/// Six letters and digits unique to this process.
fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mut n = (nanos ^ (u128::from(std::process::id()) << 40)) % 36u128.pow(6);
        (0..6)
            .map(|_| {
                let c = char::from(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n % 36) as usize]);
                n /= 36;
                c
            })
            .collect()
    })
}

fn order_id(case: &str) -> OrderId {
    OrderId::parse(&format!("ADM-{}-{case}", run_id())).expect("orderId")
}

fn invoice(case: &str, n: u32) -> InvoiceNo {
    InvoiceNo::parse(&format!("A{}{case}{n}", run_id())).expect("invoiceNo")
}

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Runs the binary with the environment pointing at the test server, as an operator's shell would.
fn admin(args: &[&str]) -> Output {
    admin_with(args, &[])
}

fn admin_with(args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_payments-admin"))
        .args(args)
        .env("AWS_ENDPOINT_URL_DYNAMODB", env("DYNAMODB_TEST_ENDPOINT"))
        .env("TABLE_NAME", env("DYNAMODB_TEST_TABLE"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
        .env_remove("SECRETS_ARN")
        .env_remove("PGW_MERCHANT_ID")
        .env_remove("PGW_SECRET_KEY")
        .envs(vars.iter().copied())
        .output()
        .expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json(output: &Output) -> Value {
    assert!(output.status.success(), "stderr: {}", stderr(output));
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

/// An order opened with attempt 1 (given its payment parameters) and, when `review`, paid with the
/// wrong amount by a kept notification: the order goes to review as `POST /notify` would move it.
async fn seed(store: &DynamoStore, case: &str, review: bool) -> Order {
    let at = now() - 600;
    let terms = OrderTerms {
        order_id: order_id(case),
        amount: MinorUnits::new(1250).expect("amount"),
        currency: Currency::from_code("SGD").expect("SGD"),
        description: "Latte x2".into(),
        desc_for_pgw: "Latte x2".into(),
    };
    let (order, attempt) = Order::open(&terms, OpenId::new("o-admin").expect("openid"), invoice(case, 1), 120, at);
    store.open_order(&order, &attempt).await.expect("open");
    if !review {
        return order;
    }
    let fields = ReportedFields {
        resp_code: "00".into(),
        status: "A".into(),
        amount: "000000001000".into(),
        currency_code: "702".into(),
        fail_reason: String::new(),
    };
    let record = EvidenceRecord::about(
        EvidenceKind::Notification,
        attempt.invoice_no.clone(),
        &format!("{ENVELOPE}{case}"),
        fields,
        Classification::Paid,
        at + 60,
    );
    store.record_evidence(&record).await.expect("kept");
    let evidence = Evidence {
        verdict: Verdict::Paid,
        amount: Some(MinorUnits::new(1000).expect("amount")),
        currency_numeric: Some("702".into()),
    };
    let Effect::Transition(next) = order.on_evidence(&attempt, &evidence, at + 60) else { panic!("to review") };
    store.replace_order(&next, &order, Some(&attempt.settled())).await.expect("review");
    *next
}

fn ids_in_review(listed: &Value) -> Vec<String> {
    listed["orders"].as_array().expect("orders").iter().map(|o| o["orderId"].as_str().expect("id").to_owned()).collect()
}

#[tokio::test]
#[ignore = "needs a DynamoDB-compatible server (DYNAMODB_TEST_ENDPOINT, DYNAMODB_TEST_TABLE)"]
async fn review_lists_the_orders_in_review_only() {
    let store = store();
    let first = seed(&store, "LA", true).await;
    let second = seed(&store, "LB", true).await;
    let pending = seed(&store, "LC", false).await;
    let listed = json(&admin(&["review", "--json", "--limit", "1000"]));
    let ids = ids_in_review(&listed);
    assert!(ids.contains(&first.order_id.to_string()) && ids.contains(&second.order_id.to_string()), "{ids:?}");
    assert!(!ids.contains(&pending.order_id.to_string()), "a pending order is not in the review index");
    let ours = listed["orders"].as_array().expect("orders").iter().find(|o| o["orderId"] == first.order_id.as_str());
    let ours = ours.expect("listed");
    assert_eq!((ours["status"].as_str(), ours["amount"].as_str()), (Some("review"), Some("12.50")));
    assert!(ours["reviewReason"].as_str().is_some_and(|r| r.contains("paid amount differs")), "{ours}");

    let text = admin(&["review", "--limit", "1000"]);
    assert!(text.status.success(), "{}", stderr(&text));
    assert!(stdout(&text).contains(first.order_id.as_str()) && stdout(&text).contains("longest waiting first"));
}

#[tokio::test]
#[ignore = "needs a DynamoDB-compatible server (DYNAMODB_TEST_ENDPOINT, DYNAMODB_TEST_TABLE)"]
async fn show_gives_the_whole_history_without_the_signed_text() {
    let store = store();
    // Attempt 1 refused at prepay, attempt 2 paid with the wrong amount.
    let opened = seed(&store, "SH", false).await;
    let refused = opened.with_failed_attempt("payment_rejected", opened.created_at + 1);
    store.replace_order(&refused, &opened, None).await.expect("refused");
    let (retried, second) = refused.with_new_attempt(invoice("SH", 2), 120, opened.created_at + 30);
    store.start_attempt(&retried, &refused, &second).await.expect("second attempt");
    let fields = ReportedFields {
        resp_code: "00".into(),
        status: "AL".into(),
        amount: "000000001000".into(),
        currency_code: "702".into(),
        fail_reason: String::new(),
    };
    let at = opened.created_at + 45; // within attempt 2's validity: it reads pending
    let record = EvidenceRecord::about(
        EvidenceKind::Notification,
        second.invoice_no.clone(),
        ENVELOPE,
        fields,
        Classification::PaidOtherAmount,
        at,
    );
    store.record_evidence(&record).await.expect("kept");
    let evidence = Evidence {
        verdict: Verdict::PaidOtherAmount { status: "AL".into() },
        amount: Some(MinorUnits::new(1000).expect("amount")),
        currency_numeric: Some("702".into()),
    };
    let Effect::Transition(review) = retried.on_evidence(&second, &evidence, at) else { panic!("to review") };
    store.replace_order(&review, &retried, Some(&second.settled())).await.expect("review");

    let output = admin(&["show", opened.order_id.as_str(), "--json"]);
    assert!(!stdout(&output).contains(ENVELOPE), "the signed text is never printed");
    let shown = json(&output);
    assert_eq!(shown["order"]["status"], "review");
    assert_eq!(shown["order"]["paidInvoiceNo"], second.invoice_no.as_str());
    let attempts = shown["attempts"].as_array().expect("attempts");
    let invoices: Vec<&str> = attempts.iter().map(|a| a["invoiceNo"].as_str().expect("invoice")).collect();
    assert_eq!(invoices, [invoice("SH", 1).as_str(), second.invoice_no.as_str()]);
    assert_eq!(attempts[0]["evidence"], serde_json::json!([]));
    let kept = &attempts[1]["evidence"][0];
    assert_eq!(
        (&kept["kind"], &kept["respCode"], &kept["status"], &kept["amount"], &kept["classification"]),
        (&"notification".into(), &"00".into(), &"AL".into(), &"000000001000".into(), &"paid_other_amount".into())
    );
    assert!(kept.get("raw").is_none() && kept.get("envelope").is_none() && kept.get("fingerprint").is_none());
    let steps: Vec<(Option<&str>, &str)> = shown["transitions"]
        .as_array()
        .expect("transitions")
        .iter()
        .map(|t| (t["from"].as_str(), t["to"].as_str().expect("to")))
        .collect();
    assert_eq!(steps, [(None, "pending"), (Some("failed"), "pending"), (Some("pending"), "review")]);

    let text = admin(&["show", opened.order_id.as_str()]);
    assert!(text.status.success(), "{}", stderr(&text));
    let text = stdout(&text);
    assert!(text.contains("paid_other_amount") && text.contains("transitions") && !text.contains(ENVELOPE), "{text}");

    let missing = admin(&["show", order_id("NONE").as_str()]);
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing).trim(), format!("payments-admin: no order {}", order_id("NONE")));
}

#[tokio::test]
#[ignore = "needs a DynamoDB-compatible server (DYNAMODB_TEST_ENDPOINT, DYNAMODB_TEST_TABLE)"]
async fn resolve_moves_a_review_and_keeps_the_reason() {
    let store = store();
    let review = seed(&store, "RE", true).await;
    let id = review.order_id.as_str();
    let stale = admin(&["resolve", id, "--to", "paid", "--reason", "x", "--version", "1"]);
    assert_eq!(stale.status.code(), Some(1), "a version the person did not see is refused");
    assert!(stderr(&stale).contains("changed since you looked"), "{}", stderr(&stale));

    let version = review.version.to_string();
    let done = json(&admin(&[
        "resolve",
        id,
        "--to",
        "paid",
        "--reason",
        "short payment accepted, ticket 42",
        "--version",
        &version,
        "--json",
    ]));
    assert_eq!(done["order"]["status"], "paid");
    assert_eq!(done["resolution"]["reason"], "short payment accepted, ticket 42");

    let stored = store.get_order(&review.order_id).await.expect("read").expect("exists");
    assert_eq!((stored.status.as_str(), stored.version), ("paid", review.version + 1));
    let item = raw_client()
        .get_item()
        .table_name(env("DYNAMODB_TEST_TABLE"))
        .key("pk", AttributeValue::S(format!("ORDER#{id}")))
        .key("sk", AttributeValue::S("ORDER".into()))
        .send()
        .await
        .expect("raw read")
        .item
        .expect("the order item");
    assert_eq!(item.get("resolution"), Some(&AttributeValue::S("short payment accepted, ticket 42".into())));
    assert!(matches!(item.get("resolvedAt"), Some(AttributeValue::N(_))));
    assert!(!item.contains_key("reviewKey"), "out of the review index");
    assert!(!ids_in_review(&json(&admin(&["review", "--json", "--limit", "1000"]))).contains(&id.to_owned()));

    let shown = json(&admin(&["show", id, "--json"]));
    assert_eq!(shown["resolutions"][0]["to"], "paid");
    assert_eq!(shown["transitions"].as_array().and_then(|t| t.last()).map(|t| t["to"].clone()), Some("paid".into()));

    let again = admin(&["resolve", id, "--to", "failed", "--reason", "second thoughts"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("is paid, not in review"), "{}", stderr(&again));
}

#[tokio::test]
#[ignore = "needs a DynamoDB-compatible server (DYNAMODB_TEST_ENDPOINT, DYNAMODB_TEST_TABLE)"]
async fn resolve_refuses_an_order_not_in_review() {
    let store = store();
    let pending = seed(&store, "RP", false).await;
    let id = pending.order_id.as_str();
    let refused = admin(&["resolve", id, "--to", "failed", "--reason", "customer asked"]);
    assert_eq!(refused.status.code(), Some(1));
    let message = stderr(&refused);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains(&format!("order {id} is pending, not in review")), "{message}");
    let stored = store.get_order(&pending.order_id).await.expect("read").expect("exists");
    assert_eq!(stored, pending, "nothing was written");

    let missing = admin(&["resolve", order_id("NONE").as_str(), "--to", "paid", "--reason", "x"]);
    assert_eq!(missing.status.code(), Some(1));
    let usage = admin(&["resolve", id, "--to", "paid"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error");
    assert!(stderr(&usage).contains("resolve needs --reason TEXT"));
}

#[tokio::test]
#[ignore = "needs a DynamoDB-compatible server (DYNAMODB_TEST_ENDPOINT, DYNAMODB_TEST_TABLE)"]
async fn reconcile_names_the_missing_setting() {
    let store = store();
    let pending = seed(&store, "RC", false).await;
    let output = admin(&["reconcile", pending.order_id.as_str()]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stderr(&output).trim(), "payments-admin: configuration: PGW_SECRET_KEY is required but not set");
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs a DynamoDB-compatible server (DYNAMODB_TEST_ENDPOINT, DYNAMODB_TEST_TABLE)"]
async fn reconcile_asks_2c2p_now_and_applies_the_answer() {
    let store = store();
    let pending = seed(&store, "RN", false).await;
    let config = simulator::SimulatorConfig {
        merchant_id: "M0001".into(),
        secret_key: "sim-secret-key".into(),
        app_id: "wx0000000000000000".into(),
        app_secret: "app-secret".into(),
        notify_url: "http://127.0.0.1:9/notify".into(),
    };
    let sim = simulator::Simulator::new(config);
    sim.set_inquiry_answer(pending.invoice_no.as_str(), "A", "12.50");
    let (addr, _server) = sim.clone().spawn().await.expect("simulator");
    let id = pending.order_id.to_string();
    let action_url = format!("http://{addr}/2c2p/PaymentActionV2/PaymentProcess.aspx");
    // The server runs on this runtime: the binary is waited for off it.
    let output = tokio::task::spawn_blocking(move || {
        admin_with(
            &["reconcile", &id, "--json"],
            &[("PGW_MERCHANT_ID", "M0001"), ("PGW_SECRET_KEY", "sim-secret-key"), ("PGW_ACTION_URL", &action_url)],
        )
    })
    .await
    .expect("ran");
    let answer = json(&output);
    assert_eq!(
        answer["summary"],
        serde_json::json!({"inquired": 1, "paid": 1, "failed": 0, "unchanged": 0, "errors": 0})
    );
    assert_eq!(answer["order"]["status"], "paid");
    assert_eq!(sim.inquiry_calls(), 1);
    let stored = store.get_order(&pending.order_id).await.expect("read").expect("exists");
    assert_eq!(stored.status.as_str(), "paid");
}
