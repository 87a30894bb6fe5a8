//! The DynamoDB stream's side: images of table items in, events out, and the batch-failure answer.
//!
//! The table holds orders, attempts and notifications; only order items (`sk` = `ORDER`) have events.

use std::fmt;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use aws_sdk_dynamodb::types::AttributeValue;
use thiserror::Error;

use super::batch::{BatchOutcome, StreamRecordInput};
use super::{OrderEvent, order_event};
use crate::store::StoreError;
use crate::store::dynamo::{Item, order_from_item};

/// The sort key of order items (store/dynamo.rs).
const ORDER_SK: &str = "ORDER";

/// Which image of a stream record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageSide {
    /// The image before the write.
    Old,
    /// The image after the write.
    New,
}

impl fmt::Display for ImageSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Old => "old",
            Self::New => "new",
        })
    }
}

/// Why a stream record could not be read. The record is reported failed, never skipped: a change
/// that cannot be read would otherwise be lost without a trace.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImageError {
    /// Neither image is there: the stream is not `NEW_AND_OLD_IMAGES` (template.yaml's job).
    #[error("the stream record carries no image; the stream must be NEW_AND_OLD_IMAGES")]
    NoImage,
    /// The image's sort key is missing or not a string, so it cannot be told an order or not.
    #[error("the {0} image has no string sort key (sk)")]
    NoSortKey(ImageSide),
    /// The image is an order item the store cannot read back, so its event cannot be built.
    #[error("the {side} image is not a readable order: {source}")]
    Malformed {
        /// Which image was unreadable.
        side: ImageSide,
        /// What the store's decoder found wrong with it.
        #[source]
        source: StoreError,
    },
}

/// The event of one stream record: `None` for items other than orders and for writes that leave
/// the order's status as it was.
pub fn event_from_images(
    old: Option<&Item>,
    new: Option<&Item>,
    source: &str,
) -> Result<Option<OrderEvent>, ImageError> {
    // The key never changes between the images, so either tells what the item is.
    let (side, image) = match (new, old) {
        (Some(new), _) => (ImageSide::New, new),
        (None, Some(old)) => (ImageSide::Old, old),
        (None, None) => return Err(ImageError::NoImage),
    };
    match image.get("sk") {
        Some(AttributeValue::S(sk)) if sk == ORDER_SK => {}
        Some(AttributeValue::S(_)) => return Ok(None),
        _ => return Err(ImageError::NoSortKey(side)),
    }
    let read = |side: ImageSide, image: Option<&Item>| {
        image.map(order_from_item).transpose().map_err(|source| ImageError::Malformed { side, source })
    };
    let old = read(ImageSide::Old, old)?;
    let new = read(ImageSide::New, new)?;
    Ok(order_event(old.as_ref(), new.as_ref(), source))
}

/// The records of a Lambda DynamoDB stream event, in stream order, with the SDK's attribute values.
///
/// A record without a sequence number gets an empty identifier: should it fail, Lambda takes that as
/// a failure of the whole batch and retries it, which is safe.
pub fn records_from_event(event: Event) -> Vec<StreamRecordInput> {
    event
        .records
        .into_iter()
        .map(|record| {
            let change = record.change;
            StreamRecordInput {
                item_identifier: change.sequence_number.unwrap_or_default(),
                old_image: image(change.old_image),
                new_image: image(change.new_image),
            }
        })
        .collect()
}

/// An absent image arrives as an empty map.
fn image(item: serde_dynamo::Item) -> Option<Item> {
    if item.is_empty() { None } else { Some(Item::from(item)) }
}

/// Lambda's `ReportBatchItemFailures` answer: `{"batchItemFailures": [{"itemIdentifier": "<SequenceNumber>"}]}`.
pub fn batch_response(outcome: &BatchOutcome) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = outcome
        .failed
        .iter()
        .map(|identifier| {
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(identifier.clone());
            failure
        })
        .collect();
    response
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fulfilment::fixtures::*;
    use crate::fulfilment::{ORDER_PAID, ORDER_PENDING};

    fn map(old: Option<&Item>, new: Option<&Item>) -> Result<Option<OrderEvent>, ImageError> {
        event_from_images(old, new, SOURCE)
    }

    #[test]
    fn the_fixture_items_are_what_the_store_reads() {
        let order = review(&paid(&with_payment(&new_order("A-1"))), "double payment");
        assert_eq!(order_from_item(&item(&order)), Ok(order));
    }

    #[test]
    fn an_inserted_order_is_order_pending_and_a_paid_one_order_paid() {
        let pending = new_order("A-1");
        let inserted = map(None, Some(&item(&pending))).expect("readable").expect("an event");
        assert_eq!(inserted.detail_type, ORDER_PENDING);
        let with_payment = with_payment(&pending);
        let paid = paid(&with_payment);
        let event = map(Some(&item(&with_payment)), Some(&item(&paid))).expect("readable").expect("an event");
        assert_eq!(event.detail_type, ORDER_PAID);
        assert_eq!(event.detail.event_id, "A-1:3");
        assert_eq!(event.source, SOURCE);
    }

    #[test]
    fn a_write_that_keeps_the_status_is_no_event() {
        let pending = new_order("A-1");
        assert_eq!(map(Some(&item(&pending)), Some(&item(&with_payment(&pending)))), Ok(None));
    }

    #[test]
    fn items_other_than_orders_are_no_event_even_when_unreadable_as_orders() {
        let attempt = Item::from([
            ("pk".to_owned(), AttributeValue::S("INVOICE#INV1".into())),
            ("sk".to_owned(), AttributeValue::S("ATTEMPT".into())),
            ("status".to_owned(), AttributeValue::S("whatever".into())),
        ]);
        assert_eq!(map(None, Some(&attempt)), Ok(None));
        assert_eq!(map(Some(&attempt), Some(&attempt)), Ok(None));
        assert_eq!(map(Some(&attempt), None), Ok(None));
    }

    #[test]
    fn a_removed_order_is_no_event() {
        assert_eq!(map(Some(&item(&paid(&new_order("A-1")))), None), Ok(None));
    }

    #[test]
    fn malformed_images_are_errors_naming_the_image() {
        let pending = new_order("A-1");
        let mut broken = item(&paid(&pending));
        broken.insert("status".into(), AttributeValue::S("expired".into()));
        match map(Some(&item(&pending)), Some(&broken)) {
            Err(ImageError::Malformed { side: ImageSide::New, source: StoreError::Corrupt { key, reason } }) => {
                assert_eq!(key, "ORDER#A-1/ORDER");
                assert!(reason.contains("status"), "{reason}");
            }
            other => panic!("expected a malformed new image, got {other:?}"),
        }
        let mut no_version = item(&pending);
        no_version.remove("version");
        assert!(matches!(
            map(Some(&no_version), Some(&item(&paid(&pending)))),
            Err(ImageError::Malformed { side: ImageSide::Old, .. })
        ));
        let mut no_sk = item(&pending);
        no_sk.insert("sk".into(), AttributeValue::N("1".into()));
        assert_eq!(map(None, Some(&no_sk)), Err(ImageError::NoSortKey(ImageSide::New)));
        assert_eq!(map(None, None), Err(ImageError::NoImage));
    }

    #[test]
    fn a_lambda_stream_event_becomes_records_in_order_and_failures_become_the_answer() {
        let event: Event = serde_json::from_value(json!({"Records": [
            {"eventID": "1", "eventName": "INSERT", "awsRegion": "us-east-1", "eventSource": "aws:dynamodb",
             "dynamodb": {"Keys": {"pk": {"S": "ORDER#A-1"}, "sk": {"S": "ORDER"}},
                          "NewImage": {"pk": {"S": "ORDER#A-1"}, "sk": {"S": "ORDER"}, "version": {"N": "1"}},
                          "SequenceNumber": "100", "SizeBytes": 120, "StreamViewType": "NEW_AND_OLD_IMAGES"}},
            {"eventID": "2", "eventName": "REMOVE", "awsRegion": "us-east-1", "eventSource": "aws:dynamodb",
             "dynamodb": {"Keys": {"pk": {"S": "ORDER#A-1"}, "sk": {"S": "ORDER"}},
                          "OldImage": {"pk": {"S": "ORDER#A-1"}, "sk": {"S": "ORDER"}},
                          "SequenceNumber": "200", "SizeBytes": 80, "StreamViewType": "NEW_AND_OLD_IMAGES"}}
        ]}))
        .expect("a stream event");
        let records = records_from_event(event);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].item_identifier, "100");
        assert_eq!(records[0].old_image, None);
        let new = records[0].new_image.as_ref().expect("new image");
        assert_eq!(new.get("version"), Some(&AttributeValue::N("1".into())));
        assert_eq!(records[1].item_identifier, "200");
        assert_eq!(records[1].new_image, None);
        assert!(records[1].old_image.is_some());

        let outcome = BatchOutcome { failed: vec!["200".into()], ..BatchOutcome::default() };
        assert_eq!(
            serde_json::to_value(batch_response(&outcome)).expect("JSON"),
            json!({"batchItemFailures": [{"itemIdentifier": "200"}]})
        );
        assert_eq!(
            serde_json::to_value(batch_response(&BatchOutcome::default())).expect("JSON"),
            json!({"batchItemFailures": []})
        );
    }
}
