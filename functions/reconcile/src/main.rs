//! Lambda entry point of `reconcile`: asks 2C2P about attempts whose result never arrived. Wiring
//! only: the work is `payments::handlers::reconcile`.

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use payments::clock::Clock;
use payments::config::{ReconcileConfig, load_or_exit};
use payments::handlers::ReconcileHandler;
use payments::startup::or_exit;
use payments::store::DynamoStore;
use payments::upstream::http_client;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    payments::telemetry::init();
    let config = load_or_exit(ReconcileConfig::from_settings).await;
    let store = DynamoStore::from_env(config.table_name.clone()).await;
    let handler = ReconcileHandler::new(&config, store, or_exit(http_client()), Clock::System);
    let handler = &handler;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(&event.payload, event.context.deadline).await.map_err(Error::from)
    }))
    .await
}
