//! Lambda entry point of `events`: the table's DynamoDB stream in, fulfilment events on EventBridge out.
//! Wiring only: the use case is `payments::fulfilment::publish_stream_batch`.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use payments::config::{EventsConfig, load_or_exit};
use payments::fulfilment::{
    EventBridgePublisher, batch_deadline, batch_response, publish_stream_batch, records_from_event,
};
use payments::metrics::{Metrics, service};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    payments::telemetry::init();
    let config = load_or_exit(EventsConfig::from_settings).await;
    let publisher = EventBridgePublisher::from_env(config.event_bus_name.clone()).await;
    let metrics = Metrics::for_service(service::EVENTS);
    let (publisher, source, metrics) = (&publisher, config.event_source.as_str(), &metrics);
    run(service_fn(move |event: LambdaEvent<Event>| async move {
        let deadline = batch_deadline(event.context.deadline);
        let records = records_from_event(event.payload);
        let outcome = publish_stream_batch(publisher, &records, source, deadline).await;
        outcome.count_failed(metrics);
        Ok::<DynamoDbEventResponse, Error>(batch_response(&outcome))
    }))
    .await
}
