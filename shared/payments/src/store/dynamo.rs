//! The DynamoDB adapter. One table, keys `pk`/`sk` (both strings, as template.yaml defines them):
//!
//! | item | pk | sk |
//! | --- | --- | --- |
//! | order | `ORDER#{orderId}` | `ORDER` |
//! | attempt (invoice → order) | `INVOICE#{invoiceNo}` | `ATTEMPT` |
//! | notification | `INVOICE#{invoiceNo}` (`UNREADABLE` when unreadable) | `NOTIFY#{fingerprint}` |
//! | inquiry answer | `INVOICE#{invoiceNo}` | `INQUIRY#{fingerprint}` |
//!
//! | resolution of a review (operators) | `ORDER#{orderId}` | `RESOLUTION#{version}` |
//!
//! An order in review carries `reviewKey` (the sparse index `review`), and every attempt carries
//! `orderKey` (`ORDER#{orderId}`, the index `attempts`): operators find them through those.
//! An attempt due for reconciliation also carries `dueShard` (`DUE#0`..`DUE#15`) and `dueAt`, the keys of
//! the sparse global index `due`; it loses both once nothing about it can change.
//!
//! Other attributes are camelCase; optional ones are absent when unset (never NULL). Every write is
//! conditional; an order and its attempt that change together are one `TransactWriteItems`; every
//! read of the main key is strongly consistent. Encoding and decoding are pure functions, tested
//! here; the conformance suite in `tests/` runs the adapter against a server.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, ReturnValue, TransactWriteItem, Update};
use protocol::money::{Currency, MinorUnits};
use protocol::securepay::WechatPayment;

use super::operations::{
    self, ATTEMPTS_INDEX, Operations, REVIEW_INDEX, REVIEW_KEY, Resolution, ResolveError, ReviewOutcome,
};
use super::{
    AuditTrail, Classification, EvidenceKind, EvidenceRecord, EvidenceWrite, KeptAndApplied, OrderStore, Recorded,
    StoreError, due_shard,
};
use crate::ids::{InvoiceNo, OpenId, OrderId};
use crate::order::{Attempt, IN_FLIGHT_SECONDS, Order, StoredStatus, UnixSeconds};

/// One DynamoDB item as the SDK and the stream images give it: attribute name to value.
pub type Item = HashMap<String, AttributeValue>;

const ORDER_SK: &str = "ORDER";
const ATTEMPT_SK: &str = "ATTEMPT";
const NOTIFY_PREFIX: &str = "NOTIFY#";
const INQUIRY_PREFIX: &str = "INQUIRY#";
const UNREADABLE_PK: &str = "UNREADABLE";
/// A person's resolution of a review, kept beside its order (`ORDER#{orderId}`), one per resolution.
const RESOLUTION_PREFIX: &str = "RESOLUTION#";
/// The reconciliation index (see template.yaml).
pub const DUE_INDEX: &str = "due";
/// Claims a key: the put succeeds only if no item has it yet.
const IS_NEW: &str = "attribute_not_exists(pk)";
/// Replaces an order only if it is still what the caller read (a missing order fails it too).
const IS_UNCHANGED: &str = "#version = :expected_version AND #status = :expected_status";

/// Orders, attempts and notifications in one DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    /// A store on a client the caller built (tests give one with their own endpoint and retries).
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// A client from the standard AWS configuration (which honours `AWS_ENDPOINT_URL_DYNAMODB`).
    /// Only builds the client: nothing goes over the network until the first request.
    ///
    /// Every request is bounded (retries included), so a stuck store makes the function answer an
    /// error well before Lambda's own timeout cuts it off.
    pub async fn from_env(table: String) -> Self {
        Self::new(Client::new(&crate::aws::sdk_config().await), table)
    }

    /// Puts `item` if no item with its key exists yet.
    async fn put_new(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(IS_NEW)
            .send()
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(store_error)?;
        Ok(answer.item)
    }
}

impl DynamoStore {
    fn put_order_if_unchanged(&self, next: &Order, read: &Order) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(order_to_item(next)))
            .condition_expression(IS_UNCHANGED)
            // Both are DynamoDB reserved words.
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":expected_version", n(read.version))
            .expression_attribute_values(":expected_status", s(read.status.as_str()))
            .build()
            .map_err(|_| unavailable("DynamoDB request could not be built"))
    }

    fn put_new_item(&self, item: Item) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(IS_NEW)
            .build()
            .map_err(|_| unavailable("DynamoDB request could not be built"))
    }

    /// Writes an attempt's validity and schedule (or takes it out of the index) if the attempt exists.
    fn update_books(&self, attempt: &Attempt) -> Result<Update, StoreError> {
        let builder = Update::builder()
            .table_name(&self.table)
            .key("pk", s(invoice_pk(&attempt.invoice_no)))
            .key("sk", s(ATTEMPT_SK))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":valid_until", n(attempt.valid_until));
        let builder = match attempt.due_at {
            Some(due_at) => builder
                .update_expression("SET validUntil = :valid_until, dueShard = :shard, dueAt = :due_at")
                .expression_attribute_values(":shard", s(shard_key(&attempt.invoice_no)))
                .expression_attribute_values(":due_at", n(due_at)),
            None => builder.update_expression("SET validUntil = :valid_until REMOVE dueShard, dueAt"),
        };
        builder.build().map_err(|_| unavailable("DynamoDB request could not be built"))
    }

    /// Every item `query` finds, page after page, up to `limit` items.
    async fn query_all(&self, query: QueryFluentBuilder, limit: usize) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = query.clone().set_exclusive_start_key(start.take()).send().await.map_err(store_error)?;
            items.extend(page.items().iter().cloned());
            if items.len() >= limit {
                items.truncate(limit);
                return Ok(items);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(items),
            }
        }
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map(drop)
            .map_err(transaction_error)
    }
}

impl OrderStore for DynamoStore {
    async fn get_order(&self, order_id: &OrderId) -> Result<Option<Order>, StoreError> {
        self.get(order_pk(order_id), ORDER_SK).await?.as_ref().map(order_from_item).transpose()
    }

    async fn open_order(&self, order: &Order, attempt: &Attempt) -> Result<(), StoreError> {
        self.transact(vec![
            TransactWriteItem::builder().put(self.put_new_item(order_to_item(order))?).build(),
            TransactWriteItem::builder().put(self.put_new_item(attempt_to_item(attempt))?).build(),
        ])
        .await
    }

    async fn start_attempt(&self, next: &Order, read: &Order, attempt: &Attempt) -> Result<(), StoreError> {
        self.transact(vec![
            TransactWriteItem::builder().put(self.put_order_if_unchanged(next, read)?).build(),
            TransactWriteItem::builder().put(self.put_new_item(attempt_to_item(attempt))?).build(),
        ])
        .await
    }

    async fn replace_order(&self, next: &Order, read: &Order, attempt: Option<&Attempt>) -> Result<(), StoreError> {
        let order = self.put_order_if_unchanged(next, read)?;
        match attempt {
            None => self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(order.item))
                .condition_expression(IS_UNCHANGED)
                .set_expression_attribute_names(order.expression_attribute_names)
                .set_expression_attribute_values(order.expression_attribute_values)
                .send()
                .await
                .map(drop)
                .map_err(store_error),
            Some(attempt) => {
                self.transact(vec![
                    TransactWriteItem::builder().put(order).build(),
                    TransactWriteItem::builder().update(self.update_books(attempt)?).build(),
                ])
                .await
            }
        }
    }

    async fn get_attempt(&self, invoice_no: &InvoiceNo) -> Result<Option<Attempt>, StoreError> {
        self.get(invoice_pk(invoice_no), ATTEMPT_SK).await?.as_ref().map(attempt_from_item).transpose()
    }

    async fn reschedule_attempt(&self, next: &Attempt, expected_inquiries: u32) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(invoice_pk(&next.invoice_no)))
            .key("sk", s(ATTEMPT_SK))
            .condition_expression("attribute_exists(dueAt) AND inquiries = :expected")
            .expression_attribute_values(":expected", n(expected_inquiries))
            .expression_attribute_values(":inquiries", n(next.inquiries))
            .expression_attribute_values(":last", n(next.last_inquiry_at.unwrap_or_default()));
        let update = match next.due_at {
            Some(due_at) => update
                .update_expression("SET inquiries = :inquiries, lastInquiryAt = :last, dueAt = :due_at")
                .expression_attribute_values(":due_at", n(due_at)),
            None => {
                update.update_expression("SET inquiries = :inquiries, lastInquiryAt = :last REMOVE dueShard, dueAt")
            }
        };
        update.send().await.map(drop).map_err(store_error)
    }

    async fn settle_attempt(&self, invoice_no: &InvoiceNo) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(invoice_pk(invoice_no)))
            .key("sk", s(ATTEMPT_SK))
            .condition_expression("attribute_exists(pk)")
            .update_expression("REMOVE dueShard, dueAt")
            .send()
            .await
            .map(drop)
            .map_err(store_error)
    }

    async fn claim_inquiry(
        &self,
        invoice_no: &InvoiceNo,
        now: UnixSeconds,
        min_gap_seconds: i64,
    ) -> Result<Option<Attempt>, StoreError> {
        let answer = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(invoice_pk(invoice_no)))
            .key("sk", s(ATTEMPT_SK))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(lastInquiryAt) OR lastInquiryAt <= :cutoff)",
            )
            .update_expression("SET lastInquiryAt = :now")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":cutoff", n(now - min_gap_seconds))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match answer.map_err(store_error) {
            Ok(output) => output.attributes.as_ref().map(attempt_from_item).transpose(),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn due_attempts(&self, now: UnixSeconds, limit: usize) -> Result<Vec<Attempt>, StoreError> {
        let page_limit = i32::try_from(limit.max(1)).unwrap_or(i32::MAX);
        let mut due = Vec::new();
        for shard in 0..super::DUE_SHARDS {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(DUE_INDEX)
                .key_condition_expression("dueShard = :shard AND dueAt <= :now")
                .expression_attribute_values(":shard", s(format!("DUE#{shard}")))
                .expression_attribute_values(":now", n(now))
                .limit(page_limit)
                .send()
                .await
                .map_err(store_error)?;
            for item in page.items() {
                // One unreadable attempt (edited by hand, say) must not stop every run: it is named in the
                // log for a person and the others are reconciled.
                match attempt_from_item(item) {
                    Ok(attempt) => due.push(attempt),
                    Err(error) => tracing::error!(%error, "a due attempt is unreadable; skipped"),
                }
            }
        }
        due.sort_by_key(|a| (a.due_at, a.invoice_no.clone()));
        due.truncate(limit);
        Ok(due)
    }

    async fn record_evidence(&self, record: &EvidenceRecord) -> Result<Recorded, StoreError> {
        match self.put_new(evidence_to_item(record)).await {
            Ok(()) => Ok(Recorded::New),
            // The first record stays untouched: the condition failing means it was kept before.
            Err(StoreError::ConditionFailed) => Ok(Recorded::Replay),
            Err(other) => Err(other),
        }
    }

    async fn keep_and_apply(&self, write: EvidenceWrite<'_>) -> Result<KeptAndApplied, StoreError> {
        const OF_ORDER: &str = "attribute_exists(pk) AND orderId = :order";
        let built = |e: aws_sdk_dynamodb::error::BuildError| unavailable_built(&e);
        let mut items = Vec::new();
        let mut record_at = None;
        if let Some(record) = write.record {
            record_at = Some(items.len());
            items.push(TransactWriteItem::builder().put(self.put_new_item(evidence_to_item(record))?).build());
        }
        let attempt_at = items.len();
        let attempt_key = |pk: String| [("pk".to_owned(), s(pk)), ("sk".to_owned(), s(ATTEMPT_SK))];
        let [pk, sk] = attempt_key(invoice_pk(write.invoice_no));
        let attempt = if write.settle {
            let update = Update::builder()
                .table_name(&self.table)
                .key(pk.0, pk.1)
                .key(sk.0, sk.1)
                .condition_expression(OF_ORDER)
                .update_expression("REMOVE dueShard, dueAt")
                .expression_attribute_values(":order", s(write.order_id.as_str()))
                .build()
                .map_err(built)?;
            TransactWriteItem::builder().update(update).build()
        } else {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .key(pk.0, pk.1)
                .key(sk.0, sk.1)
                .condition_expression(OF_ORDER)
                .expression_attribute_values(":order", s(write.order_id.as_str()))
                .build()
                .map_err(built)?;
            TransactWriteItem::builder().condition_check(check).build()
        };
        items.push(attempt);
        let mut order_at = None;
        if let Some((next, read)) = write.transition {
            order_at = Some(items.len());
            items.push(TransactWriteItem::builder().put(self.put_order_if_unchanged(next, read)?).build());
        }
        let answer = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let error = match answer {
            Ok(_) => return Ok(KeptAndApplied::Done),
            Err(error) => error,
        };
        let reasons: Vec<Option<&str>> = match &error {
            SdkError::ServiceError(service) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    cancelled.cancellation_reasons().iter().map(|r| r.code()).collect()
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        };
        let slots = TransactionSlots { record: record_at, attempt: attempt_at, order: order_at };
        match slots.outcome(&reasons) {
            Some(outcome) => Ok(outcome),
            None => Err(transaction_error(error)),
        }
    }
}

/// Where each part of a keep-and-apply transaction sits among its items.
struct TransactionSlots {
    record: Option<usize>,
    attempt: usize,
    order: Option<usize>,
}

impl TransactionSlots {
    /// What a cancelled transaction means, from its cancellation reasons (one per item); `None` when
    /// it was cancelled for something else (throttling, an outage), which is an error.
    ///
    /// Only a failed condition says something about the stored items. A `TransactionConflict` (another
    /// transaction was writing one of the same items) says nothing: the whole write is tried again as
    /// it was, record included, or two deliveries that collide could each take the other's record for
    /// kept and neither keep it.
    fn outcome(&self, reasons: &[Option<&str>]) -> Option<KeptAndApplied> {
        let failed_at = |slot: usize| reasons.get(slot).copied().flatten() == Some("ConditionalCheckFailed");
        // The attempt's check decides first: evidence about another order's attempt is not ours to apply.
        if failed_at(self.attempt) {
            Some(KeptAndApplied::AttemptNotOfOrder)
        } else if self.record.is_some_and(failed_at) {
            Some(KeptAndApplied::RecordExisted)
        } else if self.order.is_some_and(failed_at) {
            Some(KeptAndApplied::OrderChanged)
        } else if reasons.contains(&Some("TransactionConflict")) {
            Some(KeptAndApplied::Contended)
        } else {
            None
        }
    }
}

impl AuditTrail for DynamoStore {
    async fn evidence(&self, invoice_no: Option<&InvoiceNo>) -> Result<Vec<EvidenceRecord>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_values(":pk", s(evidence_pk(invoice_no)))
            .consistent_read(true);
        let mut records = Vec::new();
        for item in self.query_all(query, usize::MAX).await? {
            let is_evidence = matches!(item.get("sk"), Some(AttributeValue::S(sk))
                if sk.starts_with(NOTIFY_PREFIX) || sk.starts_with(INQUIRY_PREFIX));
            if is_evidence {
                records.push(evidence_from_item(&item)?);
            }
        }
        // Stable: records received in the same second stay in key (fingerprint) order.
        records.sort_by_key(|r| r.received_at);
        Ok(records)
    }
}

impl Operations for DynamoStore {
    async fn orders_in_review(&self, limit: usize) -> Result<Vec<Result<Order, StoreError>>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(REVIEW_INDEX)
            .key_condition_expression("reviewKey = :review")
            .expression_attribute_values(":review", s(REVIEW_KEY))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX));
        Ok(self.query_all(query, limit).await?.iter().map(order_from_item).collect())
    }

    /// The index holds keys only (it would otherwise be rewritten at every reschedule), so each
    /// attempt is then read from the table itself, strongly consistent.
    async fn attempts_of(&self, order_id: &OrderId) -> Result<Vec<Attempt>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ATTEMPTS_INDEX)
            .key_condition_expression("orderKey = :order")
            .expression_attribute_values(":order", s(order_pk(order_id)));
        let mut invoices = Vec::new();
        for item in self.query_all(query, usize::MAX).await? {
            let r = Reader::new(&item);
            let pk = r.req_s("pk")?;
            let text = pk.strip_prefix("INVOICE#").ok_or_else(|| r.corrupt("pk is not an invoice's".to_owned()))?;
            invoices.push(r.parse_invoice("pk", text)?);
        }
        let mut attempts = Vec::new();
        for invoice_no in &invoices {
            if let Some(attempt) = self.get_attempt(invoice_no).await? {
                attempts.push(attempt);
            }
        }
        attempts.sort_by(|a, b| (a.created_at, &a.invoice_no).cmp(&(b.created_at, &b.invoice_no)));
        Ok(attempts)
    }

    /// The order (with `resolution` and `resolvedAt` beside it, which the domain does not read) and
    /// the resolution record, in one transaction conditional on the version and status read.
    async fn resolve_review(
        &self,
        read: &Order,
        to: ReviewOutcome,
        reason: &str,
        now: UnixSeconds,
    ) -> Result<(Order, Resolution), ResolveError> {
        let (next, resolution) = operations::resolved(read, to, reason, now)?;
        let mut order = self.put_order_if_unchanged(&next, read)?;
        order.item.insert("resolution".to_owned(), s(&resolution.reason));
        order.item.insert("resolvedAt".to_owned(), n(now));
        let record = self.put_new_item(resolution_to_item(&resolution))?;
        self.transact(vec![
            TransactWriteItem::builder().put(order).build(),
            TransactWriteItem::builder().put(record).build(),
        ])
        .await?;
        Ok((next, resolution))
    }

    async fn resolutions_of(&self, order_id: &OrderId) -> Result<Vec<Resolution>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", "pk")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":pk", s(order_pk(order_id)))
            .expression_attribute_values(":prefix", s(RESOLUTION_PREFIX))
            .consistent_read(true);
        let mut found =
            self.query_all(query, usize::MAX).await?.iter().map(resolution_from_item).collect::<Result<Vec<_>, _>>()?;
        found.sort_by_key(|r| r.version);
        Ok(found)
    }
}

fn unavailable_built(_: &aws_sdk_dynamodb::error::BuildError) -> StoreError {
    unavailable("DynamoDB request could not be built")
}

/// A transaction fails as a whole; a failed condition on any of its items is a failed condition, and
/// so is a conflict with another transaction on the same items (the caller re-reads either way).
fn transaction_error<R>(error: SdkError<TransactWriteItemsError, R>) -> StoreError {
    if let SdkError::ServiceError(service) = &error
        && let TransactWriteItemsError::TransactionCanceledException(cancelled) = service.err()
    {
        let reasons: Vec<&str> = cancelled.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
        if reasons.iter().any(|code| matches!(*code, "ConditionalCheckFailed" | "TransactionConflict")) {
            return StoreError::ConditionFailed;
        }
        if reasons.iter().any(|code| matches!(*code, "ThrottlingError" | "ProvisionedThroughputExceeded")) {
            return StoreError::Throttled;
        }
        return unavailable("DynamoDB cancelled the transaction");
    }
    store_error(error)
}

/// Keeps the kind of failure: a failed condition is not a throttle, and neither is an outage.
/// The description names what went wrong, never what was being written.
fn store_error<E: ProvideErrorMetadata, R>(error: SdkError<E, R>) -> StoreError {
    match &error {
        SdkError::ServiceError(service) => from_service_code(service.err().code()),
        SdkError::DispatchFailure(failure) if failure.is_timeout() => unavailable("DynamoDB request timed out"),
        SdkError::DispatchFailure(failure) if failure.is_io() => unavailable("could not connect to DynamoDB"),
        SdkError::DispatchFailure(_) => unavailable("DynamoDB request could not be sent"),
        SdkError::TimeoutError(_) => unavailable("DynamoDB request timed out"),
        SdkError::ResponseError(_) => unavailable("DynamoDB response could not be read"),
        SdkError::ConstructionFailure(_) => unavailable("DynamoDB request could not be built"),
        _ => unavailable("DynamoDB request failed"),
    }
}

fn from_service_code(code: Option<&str>) -> StoreError {
    match code {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
            StoreError::Throttled
        }
        // The code only: a service message may quote what was sent.
        Some(code) => {
            StoreError::Unavailable(format!("DynamoDB answered {}", code.chars().take(80).collect::<String>()))
        }
        None => unavailable("DynamoDB answered an error without a code"),
    }
}

fn unavailable(what: &str) -> StoreError {
    StoreError::Unavailable(what.to_owned())
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn order_pk(order_id: &OrderId) -> String {
    format!("ORDER#{order_id}")
}

fn invoice_pk(invoice_no: &InvoiceNo) -> String {
    format!("INVOICE#{invoice_no}")
}

fn evidence_pk(invoice_no: Option<&InvoiceNo>) -> String {
    invoice_no.map_or_else(|| UNREADABLE_PK.to_owned(), invoice_pk)
}

/// The `due` index partition of an attempt.
fn shard_key(invoice_no: &InvoiceNo) -> String {
    format!("DUE#{}", due_shard(invoice_no))
}

fn put_opt(item: &mut Item, name: &str, value: Option<AttributeValue>) {
    if let Some(value) = value {
        item.insert(name.to_owned(), value);
    }
}

fn item<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(name, value)| (name.to_owned(), value)).collect()
}

/// The order as an item; optional fields are left out when unset.
fn order_to_item(order: &Order) -> Item {
    let mut out = item([
        ("pk", s(order_pk(&order.order_id))),
        ("sk", s(ORDER_SK)),
        ("orderId", s(order.order_id.as_str())),
        ("openid", s(order.openid.as_str())),
        ("amountMinor", n(order.amount.get())),
        ("currency", s(order.currency.code)),
        ("description", s(&order.description)),
        ("status", s(order.status.as_str())),
        ("invoiceNo", s(order.invoice_no.as_str())),
        ("attemptExpiresAt", n(order.attempt_expires_at)),
        ("createdAt", n(order.created_at)),
        ("updatedAt", n(order.updated_at)),
        ("version", n(order.version)),
    ]);
    put_opt(&mut out, "payment", order.payment.as_ref().map(|p| s(p.to_json())));
    put_opt(&mut out, "paidInvoiceNo", order.paid_invoice_no.as_ref().map(|i| s(i.as_str())));
    put_opt(&mut out, "failReason", order.fail_reason.as_deref().map(s));
    put_opt(&mut out, "reviewReason", order.review_reason.as_deref().map(s));
    put_opt(&mut out, "paidAt", order.paid_at.map(n));
    // Only while in review: the sparse `review` index lists them for operators (one partition: reviews are rare).
    put_opt(&mut out, "reviewKey", (order.status == StoredStatus::Review).then(|| s(REVIEW_KEY)));
    out
}

/// Reads an order item back; anything that does not fit the domain is `Corrupt`, never a panic.
pub fn order_from_item(item: &Item) -> Result<Order, StoreError> {
    let r = Reader::new(item);
    let status = r.req_s("status")?;
    let status = StoredStatus::parse(&status).ok_or_else(|| r.corrupt(format!("status {status:?} is not known")))?;
    let payment = match r.opt_s("payment")? {
        None => None,
        Some(json) => Some(WechatPayment::from_json(&json).map_err(|e| r.corrupt(format!("payment: {e}")))?),
    };
    Ok(Order {
        order_id: r.order_id()?,
        openid: r.openid()?,
        amount: r.amount()?,
        currency: r.currency()?,
        description: r.req_s("description")?,
        status,
        invoice_no: r.invoice_no("invoiceNo")?,
        payment,
        attempt_expires_at: r.req_n("attemptExpiresAt")?,
        paid_invoice_no: r.opt_s("paidInvoiceNo")?.map(|text| r.parse_invoice("paidInvoiceNo", &text)).transpose()?,
        fail_reason: r.opt_s("failReason")?,
        review_reason: r.opt_s("reviewReason")?,
        created_at: r.req_n("createdAt")?,
        updated_at: r.req_n("updatedAt")?,
        paid_at: r.opt_n("paidAt")?,
        version: r.req_n("version")?,
    })
}

fn attempt_to_item(attempt: &Attempt) -> Item {
    let mut out = item([
        ("pk", s(invoice_pk(&attempt.invoice_no))),
        ("sk", s(ATTEMPT_SK)),
        ("invoiceNo", s(attempt.invoice_no.as_str())),
        ("orderId", s(attempt.order_id.as_str())),
        // The `attempts` index: an order's attempts, for operators.
        ("orderKey", s(order_pk(&attempt.order_id))),
        ("openid", s(attempt.openid.as_str())),
        ("amountMinor", n(attempt.amount.get())),
        ("currency", s(attempt.currency.code)),
        ("createdAt", n(attempt.created_at)),
        ("validUntil", n(attempt.valid_until)),
        ("inquiries", n(attempt.inquiries)),
    ]);
    if let Some(due_at) = attempt.due_at {
        out.insert("dueShard".to_owned(), s(shard_key(&attempt.invoice_no)));
        out.insert("dueAt".to_owned(), n(due_at));
    }
    put_opt(&mut out, "lastInquiryAt", attempt.last_inquiry_at.map(n));
    out
}

/// Reads an attempt back; attempts written before reconciliation existed have no books and read as
/// held in flight from their creation and never due.
fn attempt_from_item(item: &Item) -> Result<Attempt, StoreError> {
    let r = Reader::new(item);
    let created_at: UnixSeconds = r.req_n("createdAt")?;
    Ok(Attempt {
        invoice_no: r.invoice_no("invoiceNo")?,
        order_id: r.order_id()?,
        openid: r.openid()?,
        amount: r.amount()?,
        currency: r.currency()?,
        created_at,
        valid_until: r.opt_n("validUntil")?.unwrap_or(created_at + IN_FLIGHT_SECONDS),
        due_at: r.opt_n("dueAt")?,
        inquiries: r.opt_n("inquiries")?.unwrap_or(0),
        last_inquiry_at: r.opt_n("lastInquiryAt")?,
    })
}

/// The version, zero-padded, keeps an order's resolutions in key order and makes each key unique.
fn resolution_to_item(resolution: &Resolution) -> Item {
    let mut out = item([
        ("pk", s(order_pk(&resolution.order_id))),
        ("sk", s(format!("{RESOLUTION_PREFIX}{:020}", resolution.version))),
        ("orderId", s(resolution.order_id.as_str())),
        ("to", s(resolution.to.as_str())),
        ("reason", s(&resolution.reason)),
        ("resolvedAt", n(resolution.resolved_at)),
        ("version", n(resolution.version)),
    ]);
    put_opt(&mut out, "reviewReason", resolution.review_reason.as_deref().map(s));
    out
}

fn resolution_from_item(item: &Item) -> Result<Resolution, StoreError> {
    let r = Reader::new(item);
    let to = r.req_s("to")?;
    Ok(Resolution {
        order_id: r.order_id()?,
        to: ReviewOutcome::parse(&to).ok_or_else(|| r.corrupt(format!("to {to:?} is not paid or failed")))?,
        reason: r.req_s("reason")?,
        resolved_at: r.req_n("resolvedAt")?,
        review_reason: r.opt_s("reviewReason")?,
        version: r.req_n("version")?,
    })
}

fn evidence_to_item(record: &EvidenceRecord) -> Item {
    let prefix = match record.kind {
        EvidenceKind::Notification => NOTIFY_PREFIX,
        EvidenceKind::Inquiry => INQUIRY_PREFIX,
    };
    let mut out = item([
        ("pk", s(evidence_pk(record.invoice_no.as_ref()))),
        ("sk", s(format!("{prefix}{}", record.fingerprint))),
        ("kind", s(record.kind.as_str())),
        ("fingerprint", s(&record.fingerprint)),
        ("receivedAt", n(record.received_at)),
        ("respCode", s(&record.resp_code)),
        ("status", s(&record.status)),
        ("amt", s(&record.amount)),
        ("currencyCode", s(&record.currency_code)),
        ("failReason", s(&record.fail_reason)),
        ("classification", s(record.classification.as_str())),
        ("envelope", s(&record.raw)),
    ]);
    put_opt(&mut out, "invoiceNo", record.invoice_no.as_ref().map(|i| s(i.as_str())));
    out
}

fn evidence_from_item(item: &Item) -> Result<EvidenceRecord, StoreError> {
    let r = Reader::new(item);
    let kind = match r.opt_s("kind")? {
        // Records kept before inquiries existed were all notifications.
        None => EvidenceKind::Notification,
        Some(text) => EvidenceKind::parse(&text).ok_or_else(|| r.corrupt(format!("kind {text:?} is not known")))?,
    };
    let classification = r.req_s("classification")?;
    let classification = Classification::parse(&classification)
        .ok_or_else(|| r.corrupt(format!("classification {classification:?} is not known")))?;
    Ok(EvidenceRecord {
        kind,
        invoice_no: r.opt_s("invoiceNo")?.map(|text| r.parse_invoice("invoiceNo", &text)).transpose()?,
        fingerprint: r.req_s("fingerprint")?,
        received_at: r.req_n("receivedAt")?,
        resp_code: r.req_s("respCode")?,
        status: r.req_s("status")?,
        amount: r.req_s("amt")?,
        currency_code: r.req_s("currencyCode")?,
        fail_reason: r.req_s("failReason")?,
        classification,
        raw: r.req_s("envelope")?,
    })
}

/// Reads the attributes of one item, naming the item (by its key) in every error.
struct Reader<'a> {
    item: &'a Item,
    key: String,
}

impl<'a> Reader<'a> {
    fn new(item: &'a Item) -> Self {
        let part = |name: &str| match item.get(name) {
            Some(AttributeValue::S(text)) => text.as_str(),
            _ => "?",
        };
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
                text.parse().map(Some).map_err(|_| self.corrupt(format!("{name} {text:?} is not a valid integer")))
            }
            Some(_) => Err(self.corrupt(format!("{name} is not a number"))),
        }
    }

    fn req_n<T: FromStr>(&self, name: &str) -> Result<T, StoreError> {
        self.opt_n(name)?.ok_or_else(|| self.corrupt(format!("{name} is missing")))
    }

    fn currency(&self) -> Result<&'static Currency, StoreError> {
        let code = self.req_s("currency")?;
        Currency::from_code(&code).ok_or_else(|| self.corrupt(format!("currency {code:?} is not supported")))
    }

    fn order_id(&self) -> Result<OrderId, StoreError> {
        let text = self.req_s("orderId")?;
        OrderId::parse(&text).map_err(|e| self.corrupt(format!("orderId: {e}")))
    }

    fn openid(&self) -> Result<OpenId, StoreError> {
        OpenId::new(self.req_s("openid")?).ok_or_else(|| self.corrupt("openid is empty".to_owned()))
    }

    fn invoice_no(&self, name: &str) -> Result<InvoiceNo, StoreError> {
        let text = self.req_s(name)?;
        self.parse_invoice(name, &text)
    }

    fn parse_invoice(&self, name: &str, text: &str) -> Result<InvoiceNo, StoreError> {
        InvoiceNo::parse(text).map_err(|e| self.corrupt(format!("{name}: {e}")))
    }

    fn amount(&self) -> Result<MinorUnits, StoreError> {
        MinorUnits::new(self.req_n("amountMinor")?).map_err(|e| self.corrupt(format!("amountMinor: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;

    use super::*;

    fn payment() -> WechatPayment {
        WechatPayment::from_json(
            r#"{"timeStamp":"1","nonceStr":"n","package":"prepay_id=p","signType":"RSA","paySign":"s","extra":{"k":[1,2]}}"#,
        )
        .expect("payment")
    }

    fn inv(text: &str) -> InvoiceNo {
        InvoiceNo::parse(text).expect("invoice")
    }

    fn full_order() -> Order {
        Order {
            order_id: OrderId::parse("A-1").expect("id"),
            openid: OpenId::new("o1").expect("openid"),
            amount: MinorUnits::new(1250).expect("amount"),
            currency: Currency::from_code("SGD").expect("SGD"),
            description: "Latte & cake <x2> 拿铁".into(),
            status: StoredStatus::Review,
            invoice_no: inv("INV2"),
            payment: Some(payment()),
            attempt_expires_at: 1_900,
            paid_invoice_no: Some(inv("INV1")),
            fail_reason: Some("declined".into()),
            review_reason: Some("double payment (invoice INV2)".into()),
            created_at: 1_000,
            updated_at: 1_100,
            paid_at: Some(1_050),
            version: 7,
        }
    }

    fn bare_order() -> Order {
        Order {
            status: StoredStatus::Pending,
            payment: None,
            paid_invoice_no: None,
            fail_reason: None,
            review_reason: None,
            paid_at: None,
            version: 1,
            ..full_order()
        }
    }

    fn attempt() -> Attempt {
        Attempt {
            invoice_no: inv("INV1"),
            order_id: OrderId::parse("A-1").expect("id"),
            openid: OpenId::new("o1").expect("openid"),
            amount: MinorUnits::new(5).expect("amount"),
            currency: Currency::from_code("JPY").expect("JPY"),
            created_at: 7,
            valid_until: 907,
            due_at: Some(127),
            inquiries: 2,
            last_inquiry_at: Some(100),
        }
    }

    fn record(invoice_no: Option<&str>) -> EvidenceRecord {
        EvidenceRecord {
            kind: EvidenceKind::Notification,
            invoice_no: invoice_no.map(inv),
            fingerprint: "ab12".into(),
            received_at: 9,
            resp_code: "00".into(),
            status: "A".into(),
            amount: "000000001250".into(),
            currency_code: "702".into(),
            fail_reason: "".into(),
            classification: Classification::Paid,
            raw: "PFg+".into(),
        }
    }

    fn corrupt_reason(result: Result<impl std::fmt::Debug, StoreError>, key: &str) -> String {
        match result {
            Err(StoreError::Corrupt { key: got, reason }) => {
                assert_eq!(got, key);
                reason
            }
            other => panic!("expected a corrupt item, got {other:?}"),
        }
    }

    #[test]
    fn an_order_round_trips_with_every_field_set() {
        let order = full_order();
        let item = order_to_item(&order);
        assert_eq!(item.get("pk"), Some(&s("ORDER#A-1")));
        assert_eq!(item.get("sk"), Some(&s("ORDER")));
        assert_eq!(item.get("amountMinor"), Some(&n(1250)));
        assert_eq!(item.get("currency"), Some(&s("SGD")));
        assert_eq!(item.get("status"), Some(&s("review")));
        assert_eq!(item.get("version"), Some(&n(7)));
        assert_eq!(item.get("paidAt"), Some(&n(1_050)));
        let json = item.get("payment").and_then(|v| v.as_s().ok()).expect("payment is a string");
        assert_eq!(WechatPayment::from_json(json).expect("payment JSON"), payment(), "extra keys are kept");
        assert_eq!(order_from_item(&item), Ok(order));
    }

    #[test]
    fn unset_fields_are_absent_not_null() {
        let order = bare_order();
        let item = order_to_item(&order);
        for name in ["payment", "paidInvoiceNo", "failReason", "reviewReason", "paidAt"] {
            assert!(!item.contains_key(name), "{name} is left out when unset");
        }
        assert_eq!(order_from_item(&item), Ok(order.clone()));
        let mut with_nulls = item;
        with_nulls.insert("failReason".into(), AttributeValue::Null(true));
        assert_eq!(order_from_item(&with_nulls), Ok(order), "a NULL written by hand reads as unset");
    }

    #[test]
    fn corrupt_orders_are_named_not_panics() {
        let key = "ORDER#A-1/ORDER";
        let changed = |change: &dyn Fn(&mut Item)| {
            let mut item = order_to_item(&full_order());
            change(&mut item);
            corrupt_reason(order_from_item(&item), key)
        };
        assert_eq!(changed(&|i| drop(i.remove("openid"))), "openid is missing");
        assert_eq!(changed(&|i| drop(i.remove("version"))), "version is missing");
        assert_eq!(changed(&|i| drop(i.remove("status"))), "status is missing");
        assert_eq!(changed(&|i| drop(i.insert("currency".into(), s("EUR")))), "currency \"EUR\" is not supported");
        assert_eq!(changed(&|i| drop(i.insert("status".into(), s("expired")))), "status \"expired\" is not known");
        assert!(changed(&|i| drop(i.insert("amountMinor".into(), n(0)))).starts_with("amountMinor: "));
        assert!(changed(&|i| drop(i.insert("amountMinor".into(), n(10_u64.pow(12))))).starts_with("amountMinor: "));
        assert!(changed(&|i| drop(i.insert("amountMinor".into(), n(-5)))).contains("not a valid integer"));
        assert_eq!(changed(&|i| drop(i.insert("version".into(), s("4")))), "version is not a number");
        assert_eq!(changed(&|i| drop(i.insert("openid".into(), n(4)))), "openid is not a string");
        assert!(changed(&|i| drop(i.insert("createdAt".into(), n("1.5")))).contains("not a valid integer"));
        assert!(changed(&|i| drop(i.insert("payment".into(), s("not json")))).starts_with("payment: "));
        assert!(changed(&|i| drop(i.insert("payment".into(), s("{}")))).starts_with("payment: "));
        let mut keyless = order_to_item(&full_order());
        keyless.remove("pk");
        keyless.remove("currency");
        assert_eq!(corrupt_reason(order_from_item(&keyless), "?/ORDER"), "currency is missing");
    }

    #[test]
    fn attempts_round_trip_and_corrupt_ones_are_named() {
        let item = attempt_to_item(&attempt());
        assert_eq!(item.get("pk"), Some(&s("INVOICE#INV1")));
        assert_eq!(item.get("sk"), Some(&s("ATTEMPT")));
        assert_eq!(item.get("dueAt"), Some(&n(127)), "a due attempt is in the index");
        assert_eq!(item.get("dueShard"), Some(&s(format!("DUE#{}", due_shard(&inv("INV1"))))));
        assert_eq!(attempt_from_item(&item), Ok(attempt()));
        let settled = attempt_to_item(&attempt().settled());
        assert!(!settled.contains_key("dueAt") && !settled.contains_key("dueShard"), "a settled one is not");
        let mut old = item.clone();
        for name in ["validUntil", "inquiries", "dueAt", "dueShard", "lastInquiryAt"] {
            old.remove(name);
        }
        let read = attempt_from_item(&old).expect("an attempt from before reconciliation");
        assert_eq!((read.valid_until, read.due_at, read.inquiries), (7 + IN_FLIGHT_SECONDS, None, 0));
        let mut missing = item.clone();
        missing.remove("orderId");
        assert_eq!(corrupt_reason(attempt_from_item(&missing), "INVOICE#INV1/ATTEMPT"), "orderId is missing");
        let mut zero = item;
        zero.insert("amountMinor".into(), n(0));
        assert!(corrupt_reason(attempt_from_item(&zero), "INVOICE#INV1/ATTEMPT").starts_with("amountMinor: "));
    }

    #[test]
    fn operators_find_reviews_and_attempts_through_their_index_keys() {
        assert_eq!(order_to_item(&full_order()).get("reviewKey"), Some(&s(REVIEW_KEY)), "in review: indexed");
        assert!(!order_to_item(&bare_order()).contains_key("reviewKey"), "not in review: not in the index");
        assert_eq!(attempt_to_item(&attempt()).get("orderKey"), Some(&s("ORDER#A-1")));
        let resolution = Resolution {
            order_id: OrderId::parse("A-1").expect("id"),
            to: ReviewOutcome::Failed,
            reason: "refunded".into(),
            resolved_at: 9,
            review_reason: Some("double payment".into()),
            version: 8,
        };
        let item = resolution_to_item(&resolution);
        assert_eq!(item.get("sk"), Some(&s("RESOLUTION#00000000000000000008")));
        assert_eq!(resolution_from_item(&item), Ok(resolution));
    }

    #[test]
    fn inquiry_answers_are_kept_apart_from_notifications() {
        let inquiry = EvidenceRecord { kind: EvidenceKind::Inquiry, ..record(Some("INV1")) };
        let item = evidence_to_item(&inquiry);
        assert_eq!(item.get("sk"), Some(&s("INQUIRY#ab12")));
        assert_eq!(evidence_from_item(&item), Ok(inquiry));
        let mut old = evidence_to_item(&record(Some("INV1")));
        old.remove("kind");
        assert_eq!(evidence_from_item(&old).map(|r| r.kind), Ok(EvidenceKind::Notification));
    }

    #[test]
    fn notifications_round_trip_readable_or_not() {
        let readable = record(Some("INV1"));
        let item = evidence_to_item(&readable);
        assert_eq!(item.get("pk"), Some(&s("INVOICE#INV1")));
        assert_eq!(item.get("sk"), Some(&s("NOTIFY#ab12")));
        assert_eq!(item.get("invoiceNo"), Some(&s("INV1")));
        assert_eq!(evidence_from_item(&item), Ok(readable));

        let unreadable = EvidenceRecord { classification: Classification::Unreadable, ..record(None) };
        let item = evidence_to_item(&unreadable);
        assert_eq!(item.get("pk"), Some(&s("UNREADABLE")));
        assert!(!item.contains_key("invoiceNo"));
        assert_eq!(evidence_from_item(&item), Ok(unreadable));

        let mut broken = evidence_to_item(&record(Some("INV1")));
        broken.remove("envelope");
        assert_eq!(corrupt_reason(evidence_from_item(&broken), "INVOICE#INV1/NOTIFY#ab12"), "envelope is missing");
        broken.insert("envelope".into(), s("x"));
        broken.insert("receivedAt".into(), s("9"));
        assert_eq!(
            corrupt_reason(evidence_from_item(&broken), "INVOICE#INV1/NOTIFY#ab12"),
            "receivedAt is not a number"
        );
    }

    fn service(code: &str) -> SdkError<PutItemError, ()> {
        let error = if code == "ConditionalCheckFailedException" {
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("The conditional request failed")
                    .meta(ErrorMetadata::builder().code(code).build())
                    .build(),
            )
        } else {
            PutItemError::generic(ErrorMetadata::builder().code(code).message("item {\"openid\": \"secret\"}").build())
        };
        SdkError::service_error(error, ())
    }

    #[test]
    fn sdk_errors_keep_their_kind_and_never_quote_the_request() {
        assert_eq!(store_error(service("ConditionalCheckFailedException")), StoreError::ConditionFailed);
        for code in ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"] {
            assert_eq!(store_error(service(code)), StoreError::Throttled, "{code}");
        }
        assert_eq!(
            store_error(service("ResourceNotFoundException")),
            StoreError::Unavailable("DynamoDB answered ResourceNotFoundException".into()),
            "the code only, never the message"
        );
        let refused = SdkError::<PutItemError, ()>::dispatch_failure(ConnectorError::io("connection refused".into()));
        assert_eq!(store_error(refused), StoreError::Unavailable("could not connect to DynamoDB".into()));
        let slow = SdkError::<PutItemError, ()>::timeout_error("slow");
        assert_eq!(store_error(slow), StoreError::Unavailable("DynamoDB request timed out".into()));
        let garbled = SdkError::<PutItemError, ()>::response_error("bad json", ());
        assert_eq!(store_error(garbled), StoreError::Unavailable("DynamoDB response could not be read".into()));
    }

    /// A notification's transaction: record, attempt, order (contract: kept, then applied, together).
    const ALL_THREE: TransactionSlots = TransactionSlots { record: Some(0), attempt: 1, order: Some(2) };

    #[test]
    fn a_failed_condition_names_what_the_cancelled_transaction_means() {
        let failed = Some("ConditionalCheckFailed");
        let none = Some("None");
        assert_eq!(ALL_THREE.outcome(&[none, failed, none]), Some(KeptAndApplied::AttemptNotOfOrder));
        assert_eq!(ALL_THREE.outcome(&[failed, failed, failed]), Some(KeptAndApplied::AttemptNotOfOrder));
        assert_eq!(ALL_THREE.outcome(&[failed, none, failed]), Some(KeptAndApplied::RecordExisted));
        assert_eq!(ALL_THREE.outcome(&[none, none, failed]), Some(KeptAndApplied::OrderChanged));
        let without_record = TransactionSlots { record: None, attempt: 0, order: Some(1) };
        assert_eq!(without_record.outcome(&[none, failed]), Some(KeptAndApplied::OrderChanged));
    }

    #[test]
    fn a_conflict_with_another_transaction_is_never_taken_for_a_kept_record() {
        // Two deliveries of one notification collide on the record: neither wrote it, both must retry with it.
        let conflict = Some("TransactionConflict");
        let none = Some("None");
        assert_eq!(ALL_THREE.outcome(&[conflict, none, none]), Some(KeptAndApplied::Contended));
        assert_eq!(ALL_THREE.outcome(&[none, conflict, none]), Some(KeptAndApplied::Contended));
        assert_eq!(ALL_THREE.outcome(&[none, none, conflict]), Some(KeptAndApplied::Contended));
        // A failed condition elsewhere still decides.
        let failed = Some("ConditionalCheckFailed");
        assert_eq!(ALL_THREE.outcome(&[conflict, none, failed]), Some(KeptAndApplied::OrderChanged));
    }

    #[test]
    fn a_transaction_cancelled_for_other_reasons_is_an_error() {
        let throttled = Some("ThrottlingError");
        assert_eq!(ALL_THREE.outcome(&[Some("None"), throttled, Some("None")]), None);
        assert_eq!(ALL_THREE.outcome(&[]), None, "no reasons at all (not a cancellation)");
    }
}
