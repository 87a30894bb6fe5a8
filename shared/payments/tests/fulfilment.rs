//! Fulfilment events end to end: the sample stream event of events/stream.json, the batch use case
//! with the in-memory publisher, and the EventBridge adapter against moto's EventBridge (a rule on
//! the bus forwards `wcmini.payments` events to an SQS queue, which the tests read back).
//!
//! The moto runs are `#[ignore]`d so a bare `cargo test` needs no server; scripts/test starts moto and
//! exports `DYNAMODB_TEST_ENDPOINT` (the same server speaks EventBridge and SQS). By hand:
//! `DYNAMODB_TEST_ENDPOINT=http://127.0.0.1:PORT cargo test -p payments --test fulfilment -- --include-ignored`.
//! Every bus and queue carries a per-run suffix, so runs against the same server never collide.
//! The last test is the whole path: prepay and notify on the streamed test table, the table's stream
//! read back, the `events` use case, and the events found on the bus.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::dynamodb::Event;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_eventbridge::types::Target;
use payments::fulfilment::{
    BatchFailure, EventBridgePublisher, MemoryPublisher, StreamRecordInput, batch_response, publish_stream_batch,
    records_from_event,
};
use payments::order::{Order, StoredStatus};
use payments::store::dynamo::{Item, order_from_item};
use payments::testing;
use protocol::securepay::WechatPayment;
use serde_json::{Value, json};
use tokio::time::Instant;

const SOURCE: &str = "wcmini.payments";
/// 2026-11-26T12:00:00Z.
const T0: i64 = 1_795_694_400;
const SEQUENCE: &str = "4421584500000000017450439091";

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

// ---------------------------------------------------------------------------------------------
// events/stream.json

fn stream_file() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/stream.json");
    let text = std::fs::read_to_string(path).expect("events/stream.json is readable");
    serde_json::from_str(&text).expect("events/stream.json is JSON")
}

fn stream_records() -> Vec<StreamRecordInput> {
    let event: Event = serde_json::from_value(stream_file()).expect("events/stream.json is a DynamoDB stream event");
    records_from_event(event)
}

fn payment() -> WechatPayment {
    WechatPayment::from_json(
        r#"{"timeStamp":"1795694405","nonceStr":"5K8264ILTKCH16CQ2502SI8ZNMTM67VS","package":"prepay_id=wx26120005123456789012345678901234","signType":"RSA","paySign":"c2lnbmVkLWJ5LXdlY2hhdC1wbGFjZWhvbGRlcg=="}"#,
    )
    .expect("payment")
}

/// The order of events/stream.json before it was paid.
fn pending_order() -> Order {
    Order {
        openid: testing::openid("oSandboxAlice0000000000000000"),
        payment: Some(payment()),
        attempt_expires_at: T0 + 900,
        version: 2,
        ..testing::order("A-1001", "INV20261126000001")
    }
}

fn paid_order() -> Order {
    let pending = pending_order();
    Order {
        status: StoredStatus::Paid,
        paid_invoice_no: Some(pending.invoice_no.clone()),
        paid_at: Some(T0 + 95),
        updated_at: T0 + 95,
        version: 3,
        ..pending
    }
}

/// The `Detail` the contract promises for the paid order of events/stream.json.
fn paid_detail() -> Value {
    json!({
        "eventId": "A-1001:3", "orderId": "A-1001", "invoiceNo": "INV20261126000001", "status": "paid",
        "amount": "12.50", "currency": "SGD", "description": "Latte x2", "openid": "oSandboxAlice0000000000000000",
        "createdAt": "2026-11-26T12:00:00Z", "updatedAt": "2026-11-26T12:01:35Z",
        "paidAt": "2026-11-26T12:01:35Z", "paidInvoiceNo": "INV20261126000001",
    })
}

fn names(item: &Item) -> BTreeSet<&str> {
    item.keys().map(String::as_str).collect()
}

#[test]
fn the_stream_file_is_one_modify_of_an_order_item_in_the_store_layout() {
    let file = stream_file();
    let record = &file["Records"][0];
    assert_eq!(file["Records"].as_array().map(Vec::len), Some(1));
    assert_eq!(record["eventName"], "MODIFY");
    assert_eq!(record["dynamodb"]["StreamViewType"], "NEW_AND_OLD_IMAGES");
    assert_eq!(record["dynamodb"]["Keys"], json!({"pk": {"S": "ORDER#A-1001"}, "sk": {"S": "ORDER"}}));

    let records = stream_records();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].item_identifier, SEQUENCE);
    let old = records[0].old_image.as_ref().expect("old image");
    let new = records[0].new_image.as_ref().expect("new image");
    assert_eq!(order_from_item(old), Ok(pending_order()));
    assert_eq!(order_from_item(new), Ok(paid_order()));
    let required = [
        "pk",
        "sk",
        "orderId",
        "openid",
        "amountMinor",
        "currency",
        "description",
        "status",
        "invoiceNo",
        "attemptExpiresAt",
        "createdAt",
        "updatedAt",
        "version",
        "payment",
    ];
    let mut paid_names: BTreeSet<&str> = required.into_iter().collect();
    assert_eq!(names(old), paid_names, "no attribute beyond what order_to_item writes for a pending order");
    paid_names.extend(["paidInvoiceNo", "paidAt"]);
    assert_eq!(names(new), paid_names);
    assert_eq!(new.get("amountMinor"), Some(&AttributeValue::N("1250".into())), "minor units, as a number");
    assert_eq!(
        new.get("payment"),
        Some(&AttributeValue::S(payment().to_json())),
        "the payment as the store writes it, byte for byte"
    );
}

#[tokio::test]
async fn the_stream_file_maps_to_exactly_one_order_paid() {
    let publisher = MemoryPublisher::new();
    let outcome = publish_stream_batch(&publisher, &stream_records(), SOURCE, soon()).await;
    assert_eq!(outcome.failed, Vec::<String>::new());
    assert_eq!(outcome.published, 1);
    let events = publisher.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].source, SOURCE);
    assert_eq!(events[0].detail_type, "Order Paid");
    assert_eq!(serde_json::to_value(&events[0].detail).expect("JSON"), paid_detail());
}

// ---------------------------------------------------------------------------------------------
// Batches of several records (built from the stream file's images).

/// The stream file's images, moved to another order (`A-1001` → `order_id`) at another sequence number.
fn record_for(order_id: &str, sequence: &str, old: Option<&Order>, new: Option<&Order>) -> StreamRecordInput {
    let template = stream_records().remove(0);
    let retarget = |order: &Order, template: &Item| {
        let mut item = template.clone();
        let set = |item: &mut Item, name: &str, value: AttributeValue| drop(item.insert(name.to_owned(), value));
        set(&mut item, "pk", AttributeValue::S(format!("ORDER#{order_id}")));
        set(&mut item, "orderId", AttributeValue::S(order_id.to_owned()));
        set(&mut item, "status", AttributeValue::S(order.status.as_str().to_owned()));
        set(&mut item, "version", AttributeValue::N(order.version.to_string()));
        if order.status == StoredStatus::Pending {
            for name in ["paidInvoiceNo", "paidAt"] {
                item.remove(name);
            }
            set(&mut item, "updatedAt", AttributeValue::N(order.updated_at.to_string()));
        }
        item
    };
    let old_template = template.old_image.as_ref().expect("old image");
    let new_template = template.new_image.as_ref().expect("new image");
    StreamRecordInput {
        item_identifier: sequence.to_owned(),
        old_image: old.map(|o| retarget(o, old_template)),
        new_image: new.map(|o| retarget(o, new_template)),
    }
}

/// Three orders, each pending → paid, in three records.
fn three_paid_orders() -> Vec<StreamRecordInput> {
    let (pending, paid) = (pending_order(), paid_order());
    ["B-1", "B-2", "B-3"]
        .iter()
        .enumerate()
        .map(|(i, id)| record_for(id, &format!("{}", 100 + i), Some(&pending), Some(&paid)))
        .collect()
}

#[tokio::test]
async fn a_refused_entry_fails_its_record_and_the_later_ones_only() {
    let records = three_paid_orders();
    let publisher = MemoryPublisher::new();
    // B-1 goes through; then B-2 is refused every time it is sent, and B-3 goes through.
    let outcome = {
        let first = publish_stream_batch(&publisher, &records[..1], SOURCE, soon()).await;
        assert!(first.failed.is_empty());
        publisher.refuse_order("B-2", true);
        publish_stream_batch(&publisher, &records[1..], SOURCE, soon()).await
    };
    assert_eq!(outcome.failed, vec!["101", "102"], "B-1's record is done; B-2 failed; B-3 comes after it");
    assert_eq!(
        outcome.failure,
        Some(BatchFailure::Refused { item: "101".into(), code: "InternalFailure".into() }),
        "the cause names the record and EventBridge's code, never the detail"
    );
    assert_eq!(
        serde_json::to_value(batch_response(&outcome)).expect("JSON"),
        json!({"batchItemFailures": [{"itemIdentifier": "101"}, {"itemIdentifier": "102"}]})
    );

    // Lambda retries from the first reported record: the retry publishes B-2 and B-3 again.
    publisher.refuse_order("B-2", false);
    let retry: Vec<_> = records.iter().filter(|r| outcome.failed.contains(&r.item_identifier)).cloned().collect();
    let again = publish_stream_batch(&publisher, &retry, SOURCE, soon()).await;
    assert!(again.failed.is_empty());
    let mut ids: Vec<_> = publisher.events().iter().map(|e| e.detail.event_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, vec!["B-1:3", "B-2:3", "B-3:3", "B-3:3"], "B-3 twice, with one eventId to deduplicate on");
}

#[tokio::test]
async fn a_refusal_in_a_whole_batch_is_retried_for_the_refused_entry_only() {
    let records = three_paid_orders();
    let publisher = MemoryPublisher::new();
    publisher.fail_next(1);
    let outcome = publish_stream_batch(&publisher, &records, SOURCE, soon()).await;
    assert!(outcome.failed.is_empty(), "{outcome:?}");
    let mut ids: Vec<_> = publisher.events().iter().map(|e| e.detail.event_id.clone()).collect();
    ids.sort();
    assert_eq!(ids, vec!["B-1:3", "B-2:3", "B-3:3"], "each once: the accepted ones were not sent again");

    let publisher = MemoryPublisher::new();
    publisher.refuse_order("B-1", true);
    let outcome = publish_stream_batch(&publisher, &records, SOURCE, soon()).await;
    assert_eq!(outcome.failed, vec!["100", "101", "102"], "refused every time: reported from there");
    assert_eq!(outcome.published, 2, "the rest of the call went out and will be repeated");
}

// ---------------------------------------------------------------------------------------------
// Against moto's EventBridge.

fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        format!("{:x}{:x}", nanos, std::process::id())
    })
}

fn endpoint() -> String {
    std::env::var("DYNAMODB_TEST_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "DYNAMODB_TEST_ENDPOINT is not set: these tests need moto (EventBridge and SQS). scripts/test starts \
             one; by hand, run moto_server on 127.0.0.1 and set DYNAMODB_TEST_ENDPOINT=http://127.0.0.1:PORT"
        )
    })
}

fn credentials() -> Credentials {
    Credentials::new("test", "test", None, None, "test")
}

/// A bus with a rule that forwards this service's events to a queue, and the publisher to that bus.
struct Bus {
    publisher: EventBridgePublisher,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Bus {
    async fn new(case: &str) -> Self {
        let endpoint = endpoint();
        let events = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .endpoint_url(&endpoint)
                .region(Region::new("us-east-1"))
                .credentials_provider(credentials())
                .build(),
        );
        let sqs = aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::Config::builder()
                .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
                .endpoint_url(&endpoint)
                .region(aws_sdk_sqs::config::Region::new("us-east-1"))
                .credentials_provider(credentials())
                .build(),
        );
        let name = format!("fulfilment-{}-{case}", run_id());
        events.create_event_bus().name(&name).send().await.expect("create the bus");
        let queue_url = sqs.create_queue().queue_name(&name).send().await.expect("create the queue").queue_url;
        let queue_url = queue_url.expect("a queue URL");
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes");
        let queue_arn = attributes
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .expect("the queue's ARN");
        events
            .put_rule()
            .name(&name)
            .event_bus_name(&name)
            .event_pattern(json!({"source": [SOURCE]}).to_string())
            .send()
            .await
            .expect("create the rule");
        let target = Target::builder().id("queue").arn(queue_arn).build().expect("a target");
        events.put_targets().rule(&name).event_bus_name(&name).targets(target).send().await.expect("the target");
        Self { publisher: EventBridgePublisher::new(events, name), sqs, queue_url }
    }

    /// Reads the queue until `expected` messages came, then once more to see that no other follows.
    async fn received(&self, expected: usize) -> Vec<Value> {
        let mut messages = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let answer = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive");
            let batch = answer.messages();
            for message in batch {
                let body = message.body().expect("a body");
                messages.push(serde_json::from_str(body).expect("the message is EventBridge's JSON"));
                let handle = message.receipt_handle().expect("a receipt handle");
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("delete");
            }
            if (messages.len() >= expected && batch.is_empty()) || Instant::now() > give_up {
                return messages;
            }
        }
    }
}

#[tokio::test]
#[ignore = "needs moto: run through scripts/test"]
async fn one_paid_order_gives_exactly_one_order_paid_on_the_bus() {
    let bus = Bus::new("paid").await;
    let outcome = publish_stream_batch(&bus.publisher, &stream_records(), SOURCE, soon()).await;
    assert_eq!(outcome.failed, Vec::<String>::new(), "{:?}", outcome.failure);
    assert_eq!(outcome.published, 1);
    let messages = bus.received(1).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["source"], SOURCE);
    assert_eq!(messages[0]["detail-type"], "Order Paid");
    assert_eq!(messages[0]["detail"], paid_detail());
}

#[tokio::test]
#[ignore = "needs moto: run through scripts/test"]
async fn the_same_batch_delivered_twice_gives_the_same_event_ids() {
    let bus = Bus::new("twice").await;
    let mut records = three_paid_orders();
    // And a write that changes no status: no event, in either delivery.
    let (pending, paid) = (pending_order(), paid_order());
    records.push(record_for("B-1", "103", Some(&paid), Some(&Order { version: 4, ..paid.clone() })));
    records.insert(0, record_for("B-9", "99", Some(&pending), Some(&Order { version: 3, ..pending.clone() })));
    for _ in 0..2 {
        let outcome = publish_stream_batch(&bus.publisher, &records, SOURCE, soon()).await;
        assert_eq!(outcome.failed, Vec::<String>::new(), "{:?}", outcome.failure);
        assert_eq!(outcome.published, 3);
    }
    let messages = bus.received(6).await;
    let mut ids: Vec<String> =
        messages.iter().map(|m| m["detail"]["eventId"].as_str().expect("an eventId").to_owned()).collect();
    ids.sort();
    assert_eq!(ids, vec!["B-1:3", "B-1:3", "B-2:3", "B-2:3", "B-3:3", "B-3:3"]);
    assert!(messages.iter().all(|m| m["detail-type"] == "Order Paid"));
}

#[tokio::test]
#[ignore = "needs moto: run through scripts/test"]
async fn a_bus_that_does_not_exist_fails_the_batch_from_its_first_event() {
    let bus = Bus::new("gone").await;
    let client = {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(credentials())
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    };
    let publisher = EventBridgePublisher::new(client, format!("no-such-bus-{}", run_id()));
    let outcome = publish_stream_batch(&publisher, &three_paid_orders(), SOURCE, soon()).await;
    assert_eq!(outcome.failed, vec!["100", "101", "102"], "{:?}", outcome.failure);
    assert!(bus.received(0).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// The whole path: a real flow on the streamed table, its stream, the use case, the bus.

/// A stream image as the DynamoDB SDK's item: the two SDKs have twin attribute types.
fn from_stream(value: aws_sdk_dynamodbstreams::types::AttributeValue) -> AttributeValue {
    use aws_sdk_dynamodbstreams::types::AttributeValue as S;
    match value {
        S::S(text) => AttributeValue::S(text),
        S::N(number) => AttributeValue::N(number),
        S::Bool(flag) => AttributeValue::Bool(flag),
        S::B(blob) => AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(blob.into_inner())),
        S::Ss(set) => AttributeValue::Ss(set),
        S::Ns(set) => AttributeValue::Ns(set),
        S::L(list) => AttributeValue::L(list.into_iter().map(from_stream).collect()),
        S::M(map) => AttributeValue::M(map.into_iter().map(|(k, v)| (k, from_stream(v))).collect()),
        _ => AttributeValue::Null(true),
    }
}

/// Every stream record of the test table about `order_id`'s order item, oldest first.
async fn stream_records_of(order_id: &str) -> Vec<StreamRecordInput> {
    let table = common::dynamo::required_env("DYNAMODB_TEST_TABLE");
    let described = common::dynamo::test_client().describe_table().table_name(&table).send().await.expect("table");
    let arn = described.table().and_then(|t| t.latest_stream_arn()).expect("the test table has a stream").to_owned();
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(
        aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(aws_sdk_dynamodbstreams::config::BehaviorVersion::latest())
            .endpoint_url(endpoint())
            .region(aws_sdk_dynamodbstreams::config::Region::new("us-east-1"))
            .credentials_provider(credentials())
            .build(),
    );
    let stream = streams.describe_stream().stream_arn(&arn).send().await.expect("describe the stream");
    let shards = stream.stream_description().map(|d| d.shards().to_vec()).unwrap_or_default();
    let key = format!("ORDER#{order_id}");
    let mut found = Vec::new();
    for shard in shards {
        let Some(shard_id) = shard.shard_id() else { continue };
        let iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard_id)
            .shard_iterator_type(aws_sdk_dynamodbstreams::types::ShardIteratorType::TrimHorizon)
            .send()
            .await
            .expect("a shard iterator");
        let mut next = iterator.shard_iterator().map(str::to_owned);
        // moto hands out every record on the first reads; a bounded loop stops at the first empty page.
        for _ in 0..1000 {
            let Some(iterator) = next.take() else { break };
            let page = streams.get_records().shard_iterator(iterator).limit(1000).send().await.expect("records");
            for record in page.records() {
                let Some(change) = record.dynamodb() else { continue };
                let is_ours = change.keys().and_then(|k| k.get("pk")).and_then(|v| v.as_s().ok()) == Some(&key);
                if !is_ours {
                    continue;
                }
                let image = |image: Option<
                    &std::collections::HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>,
                >| {
                    image.map(|i| i.clone().into_iter().map(|(k, v)| (k, from_stream(v))).collect::<Item>())
                };
                found.push(StreamRecordInput {
                    item_identifier: change.sequence_number().unwrap_or_default().to_owned(),
                    old_image: image(change.old_image()),
                    new_image: image(change.new_image()),
                });
            }
            if page.records().is_empty() {
                break;
            }
            next = page.next_shard_iterator().map(str::to_owned);
        }
    }
    found
}

#[tokio::test]
#[ignore = "needs moto: run through scripts/test"]
async fn a_real_payment_on_the_streamed_table_reaches_the_bus() {
    let world = common::World::build(common::Options::default(), common::dynamo::shared_store()).await;
    let order_id = format!("STREAM-{}", common::dynamo::run_id());
    let token = world.login("stream").await;
    let invoice = world.prepaid(&token, &order_id, "12.50").await;
    let (status, body) = world.notify(&common::notification(&invoice, "000", "A", "000000001250")).await;
    assert_eq!(status, 200, "{body}");

    let records = stream_records_of(&order_id).await;
    assert_eq!(records.len(), 3, "opened, parameters added, paid: three writes of the order item");
    let bus = Bus::new("stream").await;
    let outcome = publish_stream_batch(&bus.publisher, &records, SOURCE, soon()).await;
    assert_eq!(outcome.failed, Vec::<String>::new(), "{:?}", outcome.failure);
    assert_eq!(outcome.published, 2, "the parameters' write changes no status: no event");
    let messages = bus.received(2).await;
    let kinds: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| (m["detail-type"].as_str().unwrap_or_default(), m["detail"]["eventId"].as_str().unwrap_or_default()))
        .collect();
    let (pending, paid) = (format!("{order_id}:1"), format!("{order_id}:3"));
    assert_eq!(
        kinds,
        vec![("Order Pending", pending.as_str()), ("Order Paid", paid.as_str())],
        "in the order committed"
    );
    let detail = &messages[1]["detail"];
    assert_eq!(detail["status"], "paid");
    assert_eq!(detail["paidInvoiceNo"], json!(invoice));
    assert_eq!(detail["amount"], "12.50");
    assert_eq!(detail["openid"], json!(simulator::openid_for("stream")));
}
