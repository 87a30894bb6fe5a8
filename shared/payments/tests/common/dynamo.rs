//! The DynamoDB store against a DynamoDB-compatible server (moto, started by `scripts/test`, which
//! creates `DYNAMODB_TEST_TABLE` from template.yaml and exports `DYNAMODB_TEST_ENDPOINT`).
//!
//! Tests that look at the whole reconciliation index (which every attempt of every test shares) get
//! a fresh table: a copy of the test table's keys and indexes under a new name, so what they find
//! due is theirs alone.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::types::{BillingMode, GlobalSecondaryIndex};
use payments::store::DynamoStore;

pub const NEEDS_SERVER: &str = "needs a DynamoDB-compatible server; scripts/test starts one";

pub fn required_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the DynamoDB tests need a DynamoDB-compatible server. \
             Start one (scripts/test starts moto and creates the table with scripts/create_table.py), then set \
             DYNAMODB_TEST_ENDPOINT (e.g. http://127.0.0.1:8765) and DYNAMODB_TEST_TABLE"
        )
    })
}

pub fn client_for(endpoint: &str, retry: RetryConfig) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

pub fn test_client() -> Client {
    client_for(&required_env("DYNAMODB_TEST_ENDPOINT"), RetryConfig::standard())
}

/// The store on the shared test table (keys must be unique per run and test).
pub fn shared_store() -> DynamoStore {
    DynamoStore::new(test_client(), required_env("DYNAMODB_TEST_TABLE"))
}

/// Letters and digits unique to this process, short enough for an invoiceNo (8 characters).
pub fn run_id() -> &'static str {
    static RUN: OnceLock<String> = OnceLock::new();
    RUN.get_or_init(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        let mut n = (nanos ^ (u128::from(std::process::id()) << 40)) % 36u128.pow(8);
        let mut text = String::new();
        for _ in 0..8 {
            text.push(char::from(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[(n % 36) as usize]));
            n /= 36;
        }
        text
    })
}

/// A store on a new table with the test table's keys and indexes (the `due` index included).
pub async fn fresh_store(case: &str) -> DynamoStore {
    let client = test_client();
    let source = required_env("DYNAMODB_TEST_TABLE");
    let described = client.describe_table().table_name(&source).send().await.expect("the test table exists");
    let table = described.table.expect("a table description");
    let name = format!("{source}-{}-{case}", run_id().to_ascii_lowercase());
    let indexes: Vec<GlobalSecondaryIndex> = table
        .global_secondary_indexes()
        .iter()
        .map(|index| {
            GlobalSecondaryIndex::builder()
                .index_name(index.index_name().expect("index name"))
                .set_key_schema(Some(index.key_schema().to_vec()))
                .set_projection(index.projection().cloned())
                .build()
                .expect("an index")
        })
        .collect();
    assert!(!indexes.is_empty(), "the test table has the due index (scripts/create_table.py)");
    client
        .create_table()
        .table_name(&name)
        .set_key_schema(Some(table.key_schema().to_vec()))
        .set_attribute_definitions(Some(table.attribute_definitions().to_vec()))
        .set_global_secondary_indexes(Some(indexes))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("a fresh table");
    DynamoStore::new(client, name)
}
