//! The DynamoDB adapter. One table, keys `pk`/`sk` (as template.yaml defines them):
//!
//! | item | pk | sk |
//! | --- | --- | --- |
//! | order | `ORDER#{orderId}` | `ORDER` |
//! | attempt (invoice → order) | `INVOICE#{invoiceNo}` | `ATTEMPT` |
//! | notification | `INVOICE#{invoiceNo}` (`UNREADABLE` when unreadable) | `NOTIFY#{sha256 of the envelope}` |
//!
//! Every write is a conditional `PutItem`; reads are strongly consistent.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use protocol::money::{Currency, MinorUnits};
use protocol::securepay::WechatPayment;

use super::{NotificationRecord, OrderStore, Recorded, StoreError};
use crate::order::{Attempt, Order, StoredStatus};

type Item = HashMap<String, AttributeValue>;

const ORDER_SK: &str = "ORDER";
const ATTEMPT_SK: &str = "ATTEMPT";
const NOTIFY_PREFIX: &str = "NOTIFY#";
const UNREADABLE_PK: &str = "UNREADABLE";

/// Orders, attempts and notifications in one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// A client from the standard AWS configuration (honours `AWS_ENDPOINT_URL_DYNAMODB`).
    /// Builds the client only: no network I/O happens until the first request.
    pub async fn from_env(table: String) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
        Self::new(Client::new(&config), table)
    }

    async fn put(&self, item: Item, condition: &str, values: Option<Item>) -> Result<(), StoreError> {
        let mut request =
            self.client.put_item().table_name(&self.table).set_item(Some(item)).condition_expression(condition);
        if let Some(values) = values {
            request = request
                .set_expression_attribute_values(Some(values))
                .expression_attribute_names("#version", "version")
                .expression_attribute_names("#status", "status");
        }
        request.send().await.map(|_| ()).map_err(store_error)
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(&pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(answer.item)
    }
}

/// Keeps the kind of failure: a failed condition is not a throttle, and neither is an outage.
fn store_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: SdkError<E, R>,
) -> StoreError {
    match error.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("ThrottlingException" | "ProvisionedThroughputExceededException" | "RequestLimitExceeded") => {
            StoreError::Throttled
        }
        _ => {
            let mut text = DisplayErrorContext(&error).to_string();
            text.truncate(300);
            StoreError::Unavailable(text)
        }
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn order_pk(order_id: &str) -> String {
    format!("ORDER#{order_id}")
}

fn invoice_pk(invoice_no: &str) -> String {
    format!("INVOICE#{invoice_no}")
}

fn notification_pk(invoice_no: Option<&str>) -> String {
    invoice_no.map(invoice_pk).unwrap_or_else(|| UNREADABLE_PK.to_owned())
}

/// Reads attributes of one item, naming the item in every error.
struct Reader<'a> {
    item: &'a Item,
    key: String,
}

impl<'a> Reader<'a> {
    fn new(item: &'a Item) -> Self {
        let part = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str).unwrap_or("?");
        Self { item, key: format!("{}/{}", part("pk"), part("sk")) }
    }

    fn corrupt(&self, reason: String) -> StoreError {
        StoreError::Corrupt { key: self.key.clone(), reason }
    }

    fn opt_s(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(text)) => Ok(Some(text.clone())),
            Some(_) => Err(self.corrupt(format!("{name} is not a string"))),
        }
    }

    fn req_s(&self, name: &str) -> Result<String, StoreError> {
        self.opt_s(name)?.ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    fn opt_n<T: FromStr>(&self, name: &str) -> Result<Option<T>, StoreError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(text)) => {
                text.parse().map(Some).map_err(|_| self.corrupt(format!("{name} is not a valid number")))
            }
            Some(_) => Err(self.corrupt(format!("{name} is not a number"))),
        }
    }

    fn req_n<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.opt_n(name)?.ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    fn currency(&self) -> Result<&'static Currency, StoreError> {
        let code = self.req_s("currency")?;
        Currency::from_code(&code).ok_or_else(|| self.corrupt(format!("currency {code} is not supported")))
    }

    fn amount(&self) -> Result<MinorUnits, StoreError> {
        MinorUnits::new(self.req_n("amountMinor")?).map_err(|e| self.corrupt(format!("amountMinor: {e}")))
    }
}

fn put_opt_s(item: &mut Item, name: &str, value: Option<&str>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), s(value));
    }
}

/// The order as a DynamoDB item; optional fields are absent when unset.
pub fn order_to_item(order: &Order) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(&order_pk(&order.order_id))),
        ("sk".to_owned(), s(ORDER_SK)),
        ("orderId".to_owned(), s(&order.order_id)),
        ("openid".to_owned(), s(&order.openid)),
        ("amountMinor".to_owned(), n(order.amount.get())),
        ("currency".to_owned(), s(order.currency.code)),
        ("description".to_owned(), s(&order.description)),
        ("status".to_owned(), s(order.status.as_str())),
        ("invoiceNo".to_owned(), s(&order.invoice_no)),
        ("attemptExpiresAt".to_owned(), n(order.attempt_expires_at)),
        ("createdAt".to_owned(), n(order.created_at)),
        ("updatedAt".to_owned(), n(order.updated_at)),
        ("version".to_owned(), n(order.version)),
    ]);
    put_opt_s(&mut item, "payment", order.payment.as_ref().map(WechatPayment::to_json).as_deref());
    put_opt_s(&mut item, "paidInvoiceNo", order.paid_invoice_no.as_deref());
    put_opt_s(&mut item, "failReason", order.fail_reason.as_deref());
    put_opt_s(&mut item, "reviewReason", order.review_reason.as_deref());
    if let Some(paid_at) = order.paid_at {
        item.insert("paidAt".to_owned(), n(paid_at));
    }
    item
}

/// Reads an order item back; anything that does not fit the domain is `Corrupt`, never a panic.
pub fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let r = Reader::new(item);
    let status_text = r.req_s("status")?;
    let status =
        StoredStatus::parse(&status_text).ok_or_else(|| r.corrupt(format!("status {status_text:?} is unknown")))?;
    let payment = match r.opt_s("payment")? {
        None => None,
        Some(json) => Some(WechatPayment::from_json(&json).map_err(|e| r.corrupt(format!("payment: {e}")))?),
    };
    Ok(Order {
        order_id: r.req_s("orderId")?,
        openid: r.req_s("openid")?,
        amount: r.amount()?,
        currency: r.currency()?,
        description: r.req_s("description")?,
        status,
        invoice_no: r.req_s("invoiceNo")?,
        payment,
        attempt_expires_at: r.req_n("attemptExpiresAt")?,
        paid_invoice_no: r.opt_s("paidInvoiceNo")?,
        fail_reason: r.opt_s("failReason")?,
        review_reason: r.opt_s("reviewReason")?,
        created_at: r.req_n("createdAt")?,
        updated_at: r.req_n("updatedAt")?,
        paid_at: r.opt_n("paidAt")?,
        version: r.req_n("version")?,
    })
}

pub fn attempt_to_item(attempt: &Attempt) -> Item {
    Item::from([
        ("pk".to_owned(), s(&invoice_pk(&attempt.invoice_no))),
        ("sk".to_owned(), s(ATTEMPT_SK)),
        ("invoiceNo".to_owned(), s(&attempt.invoice_no)),
        ("orderId".to_owned(), s(&attempt.order_id)),
        ("openid".to_owned(), s(&attempt.openid)),
        ("amountMinor".to_owned(), n(attempt.amount.get())),
        ("currency".to_owned(), s(attempt.currency.code)),
        ("createdAt".to_owned(), n(attempt.created_at)),
    ])
}

pub fn attempt_from_item(item: &Item) -> Result<Attempt, StoreError> {
    let r = Reader::new(item);
    Ok(Attempt {
        invoice_no: r.req_s("invoiceNo")?,
        order_id: r.req_s("orderId")?,
        openid: r.req_s("openid")?,
        amount: r.amount()?,
        currency: r.currency()?,
        created_at: r.req_n("createdAt")?,
    })
}

pub fn notification_to_item(record: &NotificationRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(&notification_pk(record.invoice_no.as_deref()))),
        ("sk".to_owned(), s(&format!("{NOTIFY_PREFIX}{}", record.fingerprint))),
        ("fingerprint".to_owned(), s(&record.fingerprint)),
        ("receivedAt".to_owned(), n(record.received_at)),
        ("respCode".to_owned(), s(&record.resp_code)),
        ("status".to_owned(), s(&record.status)),
        ("amt".to_owned(), s(&record.amt)),
        ("currencyCode".to_owned(), s(&record.currency_code)),
        ("failReason".to_owned(), s(&record.fail_reason)),
        ("classification".to_owned(), s(&record.classification)),
        ("envelope".to_owned(), s(&record.envelope)),
    ]);
    put_opt_s(&mut item, "invoiceNo", record.invoice_no.as_deref());
    item
}

pub fn notification_from_item(item: &Item) -> Result<NotificationRecord, StoreError> {
    let r = Reader::new(item);
    Ok(NotificationRecord {
        invoice_no: r.opt_s("invoiceNo")?,
        fingerprint: r.req_s("fingerprint")?,
        received_at: r.req_n("receivedAt")?,
        resp_code: r.req_s("respCode")?,
        status: r.req_s("status")?,
        amt: r.req_s("amt")?,
        currency_code: r.req_s("currencyCode")?,
        fail_reason: r.req_s("failReason")?,
        classification: r.req_s("classification")?,
        envelope: r.req_s("envelope")?,
    })
}

impl OrderStore for DynamoStore {
    async fn get_order(&self, order_id: &str) -> Result<Option<Order>, StoreError> {
        self.get(order_pk(order_id), ORDER_SK).await?.as_ref().map(order_from_item).transpose()
    }

    async fn insert_order(&self, order: &Order) -> Result<(), StoreError> {
        self.put(order_to_item(order), "attribute_not_exists(pk)", None).await
    }

    async fn replace_order(
        &self,
        next: &Order,
        expected_version: u64,
        expected_status: StoredStatus,
    ) -> Result<(), StoreError> {
        let values = Item::from([
            (":expected_version".to_owned(), n(expected_version)),
            (":expected_status".to_owned(), s(expected_status.as_str())),
        ]);
        self.put(order_to_item(next), "#version = :expected_version AND #status = :expected_status", Some(values)).await
    }

    async fn insert_attempt(&self, attempt: &Attempt) -> Result<(), StoreError> {
        self.put(attempt_to_item(attempt), "attribute_not_exists(pk)", None).await
    }

    async fn get_attempt(&self, invoice_no: &str) -> Result<Option<Attempt>, StoreError> {
        self.get(invoice_pk(invoice_no), ATTEMPT_SK).await?.as_ref().map(attempt_from_item).transpose()
    }

    async fn record_notification(&self, record: &NotificationRecord) -> Result<Recorded, StoreError> {
        match self.put(notification_to_item(record), "attribute_not_exists(pk)", None).await {
            Ok(()) => Ok(Recorded::New),
            Err(StoreError::ConditionFailed) => Ok(Recorded::Replay),
            Err(other) => Err(other),
        }
    }

    async fn notifications(&self, invoice_no: Option<&str>) -> Result<Vec<NotificationRecord>, StoreError> {
        let mut records = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(&notification_pk(invoice_no)))
                .expression_attribute_values(":prefix", s(NOTIFY_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(store_error)?;
            for item in page.items() {
                records.push(notification_from_item(item)?);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        records.sort_by_key(|r| r.received_at);
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        Order {
            order_id: "A-1".into(),
            openid: "o1".into(),
            amount: MinorUnits::new(1250).expect("amount"),
            currency: Currency::from_code("SGD").expect("SGD"),
            description: "Latte & cake".into(),
            status: StoredStatus::Paid,
            invoice_no: "INV1".into(),
            payment: Some(
                WechatPayment::from_json(r#"{"timeStamp":"1","nonceStr":"n","package":"prepay_id=p","signType":"RSA","paySign":"s","extra":1}"#)
                    .expect("payment"),
            ),
            attempt_expires_at: 1_900,
            paid_invoice_no: Some("INV1".into()),
            fail_reason: None,
            review_reason: Some("why".into()),
            created_at: 1_000,
            updated_at: 1_100,
            paid_at: Some(1_050),
            version: 4,
        }
    }

    #[test]
    fn order_items_round_trip_and_leave_unset_fields_out() {
        let order = order();
        let item = order_to_item(&order);
        assert_eq!(item.get("pk"), Some(&s("ORDER#A-1")));
        assert_eq!(item.get("sk"), Some(&s("ORDER")));
        assert!(!item.contains_key("failReason"), "optional fields are absent, not null");
        assert_eq!(order_from_item(&item), Ok(order.clone()));
        let bare = Order { payment: None, paid_invoice_no: None, review_reason: None, paid_at: None, ..order };
        assert_eq!(order_from_item(&order_to_item(&bare)), Ok(bare));
    }

    #[test]
    fn corrupt_items_are_named_not_panics() {
        let corrupt = |change: &dyn Fn(&mut Item)| {
            let mut item = order_to_item(&order());
            change(&mut item);
            match order_from_item(&item) {
                Err(StoreError::Corrupt { key, reason }) => {
                    assert_eq!(key, "ORDER#A-1/ORDER");
                    reason
                }
                other => panic!("expected corrupt, got {other:?}"),
            }
        };
        assert_eq!(corrupt(&|i| drop(i.remove("openid"))), "openid is missing");
        assert!(corrupt(&|i| drop(i.insert("currency".into(), s("EUR")))).contains("EUR"));
        assert!(corrupt(&|i| drop(i.insert("status".into(), s("expired")))).contains("unknown"));
        assert!(corrupt(&|i| drop(i.insert("amountMinor".into(), n(0)))).starts_with("amountMinor"));
        assert!(corrupt(&|i| drop(i.insert("version".into(), s("4")))).contains("not a number"));
        assert!(corrupt(&|i| drop(i.insert("payment".into(), s("{}")))).starts_with("payment"));
        assert!(corrupt(&|i| drop(i.insert("createdAt".into(), n("x")))).contains("not a valid number"));
    }

    #[test]
    fn attempts_and_notifications_round_trip() {
        let attempt = Attempt {
            invoice_no: "INV1".into(),
            order_id: "A-1".into(),
            openid: "o1".into(),
            amount: MinorUnits::new(5).expect("amount"),
            currency: Currency::from_code("JPY").expect("JPY"),
            created_at: 7,
        };
        assert_eq!(attempt_from_item(&attempt_to_item(&attempt)), Ok(attempt));
        let record = NotificationRecord {
            invoice_no: None,
            fingerprint: "ab".into(),
            received_at: 9,
            resp_code: "".into(),
            status: "".into(),
            amt: "".into(),
            currency_code: "".into(),
            fail_reason: "".into(),
            classification: "unreadable".into(),
            envelope: "PFg+".into(),
        };
        let item = notification_to_item(&record);
        assert_eq!(item.get("pk"), Some(&s("UNREADABLE")));
        assert_eq!(item.get("sk"), Some(&s("NOTIFY#ab")));
        assert_eq!(notification_from_item(&item), Ok(record));
    }
}
