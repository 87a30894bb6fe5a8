//! The EventBridge adapter of [`EventPublisher`].

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::types::{PutEventsRequestEntry, PutEventsResultEntry};
use tokio::time::Instant;

use super::OrderEvent;
use super::publisher::{EntryOutcome, EventPublisher, MAX_ENTRIES, PublishError};

/// Puts events on one bus.
#[derive(Clone, Debug)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
}

impl EventBridgePublisher {
    /// A publisher for `bus_name` on a client the caller built (tests point it at a local endpoint).
    pub fn new(client: Client, bus_name: String) -> Self {
        Self { client, bus_name }
    }

    /// A client from the standard AWS configuration (which honours `AWS_ENDPOINT_URL_EVENTBRIDGE`),
    /// built once per process. Each request is bounded like the store's, so a stuck bus fails the
    /// batch well before Lambda's timeout and the records are retried.
    pub async fn from_env(bus_name: String) -> Self {
        Self::new(Client::new(&crate::aws::sdk_config().await), bus_name)
    }

    fn entry(&self, event: &OrderEvent) -> Result<PutEventsRequestEntry, PublishError> {
        let detail = serde_json::to_string(&event.detail).map_err(|e| PublishError::Encoding(e.to_string()))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(event.detail_type)
            .detail(detail)
            .build())
    }
}

impl EventPublisher for EventBridgePublisher {
    async fn put_events(&self, events: &[OrderEvent], deadline: Instant) -> Result<Vec<EntryOutcome>, PublishError> {
        if events.is_empty() || events.len() > MAX_ENTRIES {
            return Err(PublishError::BatchSize(events.len()));
        }
        let entries = events.iter().map(|event| self.entry(event)).collect::<Result<Vec<_>, _>>()?;
        let call = self.client.put_events().set_entries(Some(entries)).send();
        let answer = match tokio::time::timeout_at(deadline, call).await {
            Err(_) => return Err(PublishError::OutOfTime),
            Ok(answer) => answer.map_err(publish_error)?,
        };
        outcomes(answer.entries(), events.len())
    }
}

/// EventBridge answers entry by entry, in the order sent. An answer that does not line up with what
/// was sent cannot say which entries were kept, so it fails them all.
fn outcomes(results: &[PutEventsResultEntry], sent: usize) -> Result<Vec<EntryOutcome>, PublishError> {
    if results.len() != sent {
        return Err(PublishError::Unavailable(format!(
            "EventBridge answered {} results for {sent} entries",
            results.len()
        )));
    }
    Ok(results
        .iter()
        .map(|result| match (result.error_code(), result.event_id()) {
            (Some(code), _) => EntryOutcome::Refused { code: short(code) },
            (None, Some(_)) => EntryOutcome::Published,
            (None, None) => EntryOutcome::Refused { code: "NoEventId".to_owned() },
        })
        .collect())
}

/// Keeps the kind of failure; names what went wrong, never what was sent (service messages may quote it).
fn publish_error<E: ProvideErrorMetadata, R>(error: SdkError<E, R>) -> PublishError {
    match &error {
        SdkError::ServiceError(service) => match service.err().code() {
            Some("ThrottlingException") => PublishError::Throttled,
            Some(code) => PublishError::Unavailable(format!("EventBridge answered {}", short(code))),
            None => unavailable("EventBridge answered an error without a code"),
        },
        SdkError::DispatchFailure(failure) if failure.is_timeout() => unavailable("EventBridge request timed out"),
        SdkError::DispatchFailure(failure) if failure.is_io() => unavailable("could not connect to EventBridge"),
        SdkError::DispatchFailure(_) => unavailable("EventBridge request could not be sent"),
        SdkError::TimeoutError(_) => unavailable("EventBridge request timed out"),
        SdkError::ResponseError(_) => unavailable("EventBridge response could not be read"),
        SdkError::ConstructionFailure(_) => unavailable("EventBridge request could not be built"),
        _ => unavailable("EventBridge request failed"),
    }
}

fn unavailable(what: &str) -> PublishError {
    PublishError::Unavailable(what.to_owned())
}

/// An error code is a short identifier; anything longer is cut so a log line stays a line.
fn short(code: &str) -> String {
    code.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_eventbridge::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_eventbridge::operation::put_events::PutEventsError;
    use serde_json::json;

    use super::*;
    use crate::fulfilment::order_event;
    use crate::order::{Order, StoredStatus};

    fn service(code: &str) -> SdkError<PutEventsError, ()> {
        let meta = ErrorMetadata::builder().code(code).message("entry {\"openid\": \"o-secret\"}").build();
        SdkError::service_error(PutEventsError::generic(meta), ())
    }

    #[test]
    fn sdk_errors_keep_their_kind_and_never_quote_the_request() {
        assert_eq!(publish_error(service("ThrottlingException")), PublishError::Throttled);
        assert_eq!(
            publish_error(service("ResourceNotFoundException")),
            PublishError::Unavailable("EventBridge answered ResourceNotFoundException".into())
        );
        let refused = SdkError::<PutEventsError, ()>::dispatch_failure(ConnectorError::io("refused".into()));
        assert_eq!(publish_error(refused), PublishError::Unavailable("could not connect to EventBridge".into()));
        let slow = SdkError::<PutEventsError, ()>::timeout_error("slow");
        assert_eq!(publish_error(slow), PublishError::Unavailable("EventBridge request timed out".into()));
    }

    #[test]
    fn each_entry_gets_its_own_outcome_in_order() {
        let ok = PutEventsResultEntry::builder().event_id("e1").build();
        let refused = PutEventsResultEntry::builder()
            .error_code("InternalFailure")
            .error_message("detail {\"openid\": \"o-secret\"}")
            .build();
        assert_eq!(
            outcomes(&[ok.clone(), refused, PutEventsResultEntry::builder().build()], 3),
            Ok(vec![
                EntryOutcome::Published,
                EntryOutcome::Refused { code: "InternalFailure".into() },
                EntryOutcome::Refused { code: "NoEventId".into() },
            ])
        );
        assert!(matches!(outcomes(&[ok], 2), Err(PublishError::Unavailable(_))), "a short answer fails all");
    }

    fn publisher(endpoint: &str) -> EventBridgePublisher {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
            .endpoint_url(endpoint)
            .build();
        EventBridgePublisher::new(Client::from_conf(config), "orders".into())
    }

    fn event() -> OrderEvent {
        let order = Order {
            order_id: crate::ids::OrderId::parse("A-1").expect("order id"),
            openid: crate::ids::OpenId::new("o1").expect("openid"),
            amount: protocol::money::MinorUnits::new(100).expect("amount"),
            currency: protocol::money::Currency::from_code("SGD").expect("SGD"),
            description: "x".into(),
            status: StoredStatus::Pending,
            invoice_no: crate::ids::InvoiceNo::parse("INV1").expect("invoice"),
            payment: None,
            attempt_expires_at: 60,
            paid_invoice_no: None,
            fail_reason: None,
            review_reason: None,
            created_at: 0,
            updated_at: 0,
            paid_at: None,
            version: 1,
        };
        order_event(None, Some(&order), "wcmini.payments").expect("a new order is an event")
    }

    #[test]
    fn an_entry_carries_the_bus_the_source_the_detail_type_and_the_detail_json() {
        let entry = publisher("http://127.0.0.1:9").entry(&event()).expect("entry");
        assert_eq!(entry.event_bus_name(), Some("orders"));
        assert_eq!(entry.source(), Some("wcmini.payments"));
        assert_eq!(entry.detail_type(), Some("Order Pending"));
        let detail: serde_json::Value = serde_json::from_str(entry.detail().unwrap_or_default()).expect("JSON");
        assert_eq!(detail["eventId"], json!("A-1:1"));
    }

    #[tokio::test]
    async fn batch_sizes_outside_one_to_ten_are_refused_before_any_call() {
        let publisher = publisher("http://127.0.0.1:9");
        let deadline = Instant::now() + Duration::from_secs(5);
        assert_eq!(publisher.put_events(&[], deadline).await, Err(PublishError::BatchSize(0)));
        let eleven = vec![event(); 11];
        assert_eq!(publisher.put_events(&eleven, deadline).await, Err(PublishError::BatchSize(11)));
    }

    #[tokio::test]
    async fn a_bus_that_never_answers_is_cut_off_at_the_deadline() {
        // Accepts connections and never answers: only the deadline ends the call.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("address"));
        let hold = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let started = Instant::now();
        let answer = publisher(&endpoint).put_events(&[event()], started + Duration::from_millis(300)).await;
        hold.abort();
        assert_eq!(answer, Err(PublishError::OutOfTime));
        assert!(started.elapsed() < Duration::from_millis(1500), "took {:?}", started.elapsed());
    }
}
