//! The `events` function's use case: one DynamoDB stream batch in, events on the bus, in order.

use std::collections::HashSet;
use std::time::Duration;

use thiserror::Error;
use tokio::time::Instant;

use super::OrderEvent;
use super::image::{ImageError, event_from_images};
use super::publisher::{EntryOutcome, EventPublisher, MAX_ENTRIES, PublishError};
use crate::metrics::{Metrics, Unit, names};
use crate::store::dynamo::Item;

/// Time kept back from the Lambda deadline for answering the failed records (an invocation cut off
/// by Lambda reports nothing, and the whole batch is retried): the same margin every function keeps.
pub use crate::deadline::ANSWER_MARGIN;

/// Pauses before sending refused entries again, once per pause: what the bus refuses is most often
/// throttling, which a short wait clears. Entries still refused after the last are reported.
const REFUSED_RETRY_PAUSES: [Duration; 2] = [Duration::from_millis(50), Duration::from_millis(200)];

/// A batch's budget when the invocation carries no believable deadline (a local emulator).
const BUDGET_WITHOUT_DEADLINE: Duration = Duration::from_secs(60);

/// The deadline of a batch from the Lambda context's (milliseconds since the Unix epoch), less
/// [`ANSWER_MARGIN`]. A deadline already past gives now: the batch is then reported whole.
pub fn batch_deadline(lambda_deadline_ms: u64) -> Instant {
    let deadline = crate::deadline::Deadline::from_lambda(lambda_deadline_ms, BUDGET_WITHOUT_DEADLINE);
    Instant::now() + deadline.remaining().saturating_sub(ANSWER_MARGIN)
}

/// One stream record: its identifier for the batch-failure answer (the `SequenceNumber`) and its images.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamRecordInput {
    /// The record's `SequenceNumber`, echoed in `batchItemFailures` so Lambda retries from it.
    pub item_identifier: String,
    /// The order before the write; absent for a new order.
    pub old_image: Option<Item>,
    /// The order after the write; absent for a removal, which publishes nothing.
    pub new_image: Option<Item>,
}

/// Why a batch stopped short; the first failure only, the one that decides what is retried.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BatchFailure {
    /// A record's image could not be read as an order, so it cannot be turned into an event.
    #[error("stream record {item} is unreadable: {error}")]
    Unreadable {
        /// The record's identifier, to find it in the stream.
        item: String,
        /// What was wrong with its image.
        error: ImageError,
    },
    /// EventBridge took the call but refused this record's entry.
    #[error("EventBridge refused the event of stream record {item} ({code})")]
    Refused {
        /// The record whose entry was refused.
        item: String,
        /// EventBridge's error code for the entry, to tell throttling from a bad event.
        code: String,
    },
    /// The PutEvents call itself failed (network, throttling, timeout), so no entry of it can be trusted.
    #[error("PutEvents failed from stream record {item}: {error}")]
    Call {
        /// The first record of the failed call; it and every later record are retried.
        item: String,
        /// Why the call failed.
        error: PublishError,
    },
}

/// What became of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The identifiers to report in `batchItemFailures`, in stream order: the first failed record and
    /// every record after it.
    pub failed: Vec<String>,
    /// Events the bus accepted (some may be repeated when the failed records are retried).
    pub published: usize,
    /// The first failure, for the log line and the metric; `None` when the whole batch went through.
    pub failure: Option<BatchFailure>,
}

impl BatchOutcome {
    /// Counts the records reported failed (`EventsFailed`): many batches in a row mean EventBridge
    /// refuses our events. Nothing is written for a batch that went through.
    pub fn count_failed(&self, metrics: &Metrics) {
        if self.failed.is_empty() {
            return;
        }
        let error = self.failure.as_ref().map(ToString::to_string).unwrap_or_default();
        let count = u64::try_from(self.failed.len()).unwrap_or(u64::MAX);
        metrics.emit(names::EVENTS_FAILED, Unit::Count, &[], count, &[("error", error.as_str())]);
    }
}

/// Publishes the events of one stream batch, in stream order, and says which records to retry.
///
/// Entries the bus refuses are sent again on their own (twice, after short pauses, within the
/// deadline); the entries it accepted are not. Once a record fails for good (an unreadable image, an
/// entry still refused, a call that failed or ran out of time), it and every record after it are
/// reported, and nothing after it is published. Why:
/// Lambda retries a stream batch from the lowest reported sequence number whatever else is reported,
/// so reporting the tail costs nothing; and publishing past a failure could let a later change of
/// the same order (say `review`) reach the merchant before the earlier one (`paid`) that failed.
/// For the same reason one `PutEvents` call never carries two changes of one order: its entries
/// succeed or fail one by one. Records before the first failure are done and are not retried;
/// entries of the failing call that were accepted are published again on retry, with the same
/// `eventId`, which is what consumers deduplicate on.
pub async fn publish_stream_batch<P: EventPublisher + ?Sized>(
    publisher: &P,
    records: &[StreamRecordInput],
    source: &str,
    deadline: Instant,
) -> BatchOutcome {
    let mut events = Vec::new();
    let mut positions = Vec::new();
    let mut failure: Option<(usize, BatchFailure)> = None;
    for (position, record) in records.iter().enumerate() {
        match event_from_images(record.old_image.as_ref(), record.new_image.as_ref(), source) {
            Ok(Some(event)) => {
                events.push(event);
                positions.push(position);
            }
            Ok(None) => {}
            Err(error) => {
                let item = record.item_identifier.clone();
                failure = Some((position, BatchFailure::Unreadable { item, error }));
                break;
            }
        }
    }

    let mut published = 0;
    let mut start = 0;
    while start < events.len() {
        let end = start + call_len(&events[start..]);
        let first = positions[start];
        let outcomes = match put_checked(publisher, &events[start..end], deadline).await {
            Ok(outcomes) => outcomes,
            Err(error) => {
                failure = Some((first, BatchFailure::Call { item: records[first].item_identifier.clone(), error }));
                break;
            }
        };
        // Entries the bus refused (throttled, say) are sent again on their own, the accepted ones not.
        let mut refused = refused_among(start..end, outcomes);
        published += end - start - refused.len();
        let mut retry_failure = None;
        for pause in REFUSED_RETRY_PAUSES {
            if refused.is_empty() || Instant::now() + pause >= deadline {
                break;
            }
            tokio::time::sleep(pause).await;
            let again: Vec<OrderEvent> = refused.iter().map(|(at, _)| events[*at].clone()).collect();
            match put_checked(publisher, &again, deadline).await {
                Ok(outcomes) => {
                    refused = refused_among(refused.into_iter().map(|(at, _)| at), outcomes);
                    published += again.len() - refused.len();
                }
                Err(error) => {
                    retry_failure = Some(error);
                    break;
                }
            }
        }
        if let Some((at, code)) = refused.into_iter().next() {
            let item = records[positions[at]].item_identifier.clone();
            let cause = match retry_failure {
                Some(error) => BatchFailure::Call { item, error },
                None => BatchFailure::Refused { item, code },
            };
            failure = Some((positions[at], cause));
            break;
        }
        start = end;
    }

    let (failed, failure) = match failure {
        None => (Vec::new(), None),
        Some((position, failure)) => {
            let failed: Vec<String> = records[position..].iter().map(|r| r.item_identifier.clone()).collect();
            tracing::error!(error = %failure, retried = failed.len(), published, "fulfilment events: batch stopped short");
            (failed, Some(failure))
        }
    };
    BatchOutcome { failed, published, failure }
}

/// One `PutEvents` call within the deadline, its answer checked: one outcome per event, or the call
/// counts as failed (no entry of it can be trusted).
async fn put_checked<P: EventPublisher + ?Sized>(
    publisher: &P,
    events: &[OrderEvent],
    deadline: Instant,
) -> Result<Vec<EntryOutcome>, PublishError> {
    if Instant::now() >= deadline {
        return Err(PublishError::OutOfTime);
    }
    let outcomes = publisher.put_events(events, deadline).await?;
    if outcomes.len() != events.len() {
        let why = format!("the publisher answered {} outcomes for {} events", outcomes.len(), events.len());
        return Err(PublishError::Unavailable(why));
    }
    Ok(outcomes)
}

/// The refused entries among `outcomes`, each with the index of its event (from `at`, in the same
/// order) and the bus's error code.
fn refused_among(at: impl IntoIterator<Item = usize>, outcomes: Vec<EntryOutcome>) -> Vec<(usize, String)> {
    at.into_iter()
        .zip(outcomes)
        .filter_map(|(at, outcome)| match outcome {
            EntryOutcome::Refused { code } => Some((at, code)),
            EntryOutcome::Published => None,
        })
        .collect()
}

/// How many of `events` (in order) one call takes: at most [`MAX_ENTRIES`], and never two of one order.
fn call_len(events: &[OrderEvent]) -> usize {
    let mut orders = HashSet::new();
    events.iter().take(MAX_ENTRIES).take_while(|event| orders.insert(event.order_id())).count()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::fulfilment::fixtures::*;
    use crate::fulfilment::publisher::MemoryPublisher;
    use crate::fulfilment::{ORDER_PAID, ORDER_PENDING};
    use crate::order::Order;

    fn record(id: &str, old: Option<&Order>, new: Option<&Order>) -> StreamRecordInput {
        StreamRecordInput { item_identifier: id.into(), old_image: old.map(item), new_image: new.map(item) }
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    /// One order's life: inserted, parameters added (no event), paid; and another order inserted.
    fn life() -> Vec<StreamRecordInput> {
        let a = new_order("A-1");
        let a2 = with_payment(&a);
        let b = new_order("B-1");
        vec![
            record("1", None, Some(&a)),
            record("2", Some(&a), Some(&a2)),
            record("3", None, Some(&b)),
            record("4", Some(&a2), Some(&paid(&a2))),
        ]
    }

    /// Records the calls it gets, then hands them to the in-memory publisher.
    #[derive(Default)]
    struct Counting {
        inner: MemoryPublisher,
        calls: Mutex<Vec<Vec<String>>>,
    }

    impl EventPublisher for Counting {
        async fn put_events(
            &self,
            events: &[OrderEvent],
            deadline: Instant,
        ) -> Result<Vec<EntryOutcome>, PublishError> {
            let ids = events.iter().map(|e| e.detail.event_id.clone()).collect();
            self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(ids);
            self.inner.put_events(events, deadline).await
        }
    }

    impl Counting {
        fn calls(&self) -> Vec<Vec<String>> {
            self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
        }
    }

    #[tokio::test]
    async fn a_batch_is_published_in_stream_order() {
        let publisher = Counting::default();
        let outcome = publish_stream_batch(&publisher, &life(), SOURCE, soon()).await;
        assert_eq!(outcome, BatchOutcome { failed: vec![], published: 3, failure: None });
        assert_eq!(publisher.calls(), vec![vec!["A-1:1", "B-1:1"], vec!["A-1:3"]], "A-1 twice: two calls");
        let newest_first: Vec<_> = publisher.inner.events().iter().map(|e| e.detail_type).collect();
        assert_eq!(newest_first, vec![ORDER_PAID, ORDER_PENDING, ORDER_PENDING]);
    }

    #[tokio::test]
    async fn calls_carry_at_most_ten_entries() {
        let orders: Vec<Order> = (0..23).map(|i| new_order(&format!("O-{i}"))).collect();
        let records: Vec<_> = orders.iter().enumerate().map(|(i, o)| record(&i.to_string(), None, Some(o))).collect();
        let publisher = Counting::default();
        let outcome = publish_stream_batch(&publisher, &records, SOURCE, soon()).await;
        assert_eq!(outcome.published, 23);
        assert_eq!(publisher.calls().iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 3]);
    }

    #[tokio::test]
    async fn a_refused_entry_is_sent_again_on_its_own_and_the_batch_goes_through() {
        let publisher = Counting::default();
        publisher.inner.fail_next(1);
        let outcome = publish_stream_batch(&publisher, &life(), SOURCE, soon()).await;
        assert_eq!(outcome, BatchOutcome { failed: vec![], published: 3, failure: None });
        assert_eq!(publisher.calls(), vec![vec!["A-1:1", "B-1:1"], vec!["A-1:1"], vec!["A-1:3"]], "B-1 went once");
    }

    #[tokio::test]
    async fn an_entry_refused_every_time_is_reported_with_every_later_record_and_nothing_after_it_is_sent() {
        let publisher = Counting::default();
        publisher.inner.refuse_order("A-1", true);
        let outcome = publish_stream_batch(&publisher, &life(), SOURCE, soon()).await;
        assert_eq!(outcome.failed, vec!["1", "2", "3", "4"]);
        assert_eq!(outcome.failure, Some(BatchFailure::Refused { item: "1".into(), code: "InternalFailure".into() }));
        assert_eq!(outcome.published, 1, "B-1 went out in the first call, and only then");
        let calls = vec![vec!["A-1:1", "B-1:1"], vec!["A-1:1"], vec!["A-1:1"]];
        assert_eq!(publisher.calls(), calls, "tried three times; A-1's payment waits for its pending event");
    }

    #[tokio::test]
    async fn refused_entries_are_not_sent_again_past_the_deadline() {
        let publisher = Counting::default();
        publisher.inner.refuse_order("A-1", true);
        let outcome =
            publish_stream_batch(&publisher, &life(), SOURCE, Instant::now() + Duration::from_millis(30)).await;
        assert_eq!(outcome.failed, vec!["1", "2", "3", "4"]);
        assert_eq!(publisher.calls().len(), 1, "no time for a pause and another try");
    }

    #[tokio::test]
    async fn the_records_reported_failed_are_counted() {
        let metrics = Metrics::capture(crate::metrics::service::EVENTS);
        let publisher = Counting::default();
        publish_stream_batch(&publisher, &life(), SOURCE, soon()).await.count_failed(&metrics);
        assert!(metrics.lines().is_empty(), "a batch that went through counts nothing");
        publisher.inner.refuse_order("A-1", true);
        publish_stream_batch(&publisher, &life(), SOURCE, soon()).await.count_failed(&metrics);
        let lines = metrics.lines();
        assert_eq!(lines.len(), 1);
        let line: serde_json::Value = serde_json::from_str(&lines[0]).expect("json");
        assert_eq!(line["EventsFailed"], 4);
        assert_eq!(line["Service"], "events");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"], serde_json::json!([["Service"]]));
    }

    #[tokio::test]
    async fn a_later_refusal_leaves_the_earlier_records_done() {
        let a = new_order("A-1");
        let a2 = with_payment(&a);
        let records = vec![
            record("1", None, Some(&a)),
            record("2", Some(&a), Some(&a2)),
            record("3", Some(&a2), Some(&paid(&a2))),
        ];
        let publisher = Counting::default();
        // Fail nothing in the first call, the entry of the second.
        let outcome = {
            let first = publish_stream_batch(&publisher, &records[..1], SOURCE, soon()).await;
            assert!(first.failed.is_empty());
            publisher.inner.refuse_order("A-1", true);
            publish_stream_batch(&publisher, &records[1..], SOURCE, soon()).await
        };
        assert_eq!(outcome.failed, vec!["3"], "record 2 had no event and came before the failure");
        let publisher = MemoryPublisher::new();
        let outcome = publish_stream_batch(&publisher, &records, SOURCE, soon()).await;
        assert!(outcome.failed.is_empty());
        assert_eq!(publisher.events().len(), 2);
    }

    #[tokio::test]
    async fn an_unreadable_record_is_reported_from_there_and_what_came_before_is_published() {
        let mut records = life();
        records[2].new_image.as_mut().map(|i| i.remove("openid"));
        let publisher = Counting::default();
        let outcome = publish_stream_batch(&publisher, &records, SOURCE, soon()).await;
        assert_eq!(outcome.failed, vec!["3", "4"]);
        assert!(matches!(&outcome.failure, Some(BatchFailure::Unreadable { item, .. }) if item == "3"));
        assert_eq!(publisher.calls(), vec![vec!["A-1:1"]]);
    }

    #[tokio::test]
    async fn a_batch_out_of_time_is_reported_whole() {
        let publisher = Counting::default();
        let outcome = publish_stream_batch(&publisher, &life(), SOURCE, Instant::now()).await;
        assert_eq!(outcome.failed, vec!["1", "2", "3", "4"]);
        assert_eq!(outcome.failure, Some(BatchFailure::Call { item: "1".into(), error: PublishError::OutOfTime }));
        assert!(publisher.calls().is_empty());
    }

    #[tokio::test]
    async fn the_lambda_deadline_keeps_a_margin() {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let in_two_seconds = u64::try_from(now_ms + 2000).unwrap_or(u64::MAX);
        let left = batch_deadline(in_two_seconds).saturating_duration_since(Instant::now());
        assert!(left <= Duration::from_millis(1700) && left > Duration::from_millis(1500), "{left:?}");
        let a_second_ago = in_two_seconds - 3_000;
        assert!(batch_deadline(a_second_ago) <= Instant::now(), "a past deadline leaves nothing");
        let emulated = batch_deadline(600_000).saturating_duration_since(Instant::now());
        assert!(emulated > Duration::from_secs(50), "an emulator's constant is no deadline: {emulated:?}");
    }

    #[tokio::test]
    async fn a_batch_without_events_reports_nothing() {
        let a = new_order("A-1");
        let records = vec![record("1", Some(&a), Some(&with_payment(&a))), record("2", Some(&a), None)];
        let publisher = Counting::default();
        assert_eq!(publish_stream_batch(&publisher, &records, SOURCE, soon()).await, BatchOutcome::default());
        assert!(publisher.calls().is_empty());
        assert_eq!(publish_stream_batch(&publisher, &[], SOURCE, soon()).await, BatchOutcome::default());
    }

    #[tokio::test]
    async fn the_memory_publisher_keeps_the_newest_events_first_within_its_capacity() {
        let publisher = MemoryPublisher::with_capacity(2);
        let records: Vec<_> = ["X-1", "X-2", "X-3"].iter().map(|id| record(id, None, Some(&new_order(id)))).collect();
        publish_stream_batch(&publisher, &records, SOURCE, soon()).await;
        let kept: Vec<_> = publisher.events().iter().map(|e| e.order_id().to_owned()).collect();
        assert_eq!(kept, vec!["X-3", "X-2"]);
    }
}
