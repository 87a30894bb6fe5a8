//! Lambda entry point of `POST /notify`. Wiring only: the handler is `payments::handlers::notify`.

use lambda_http::{Error, run, service_fn};
use payments::clock::Clock;
use payments::config::{NotifyConfig, load_or_exit};
use payments::handlers::NotifyHandler;
use payments::store::DynamoStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    payments::telemetry::init();
    let config = load_or_exit(NotifyConfig::from_settings).await;
    let store = DynamoStore::from_env(config.table_name.clone()).await;
    let handler = NotifyHandler::new(&config, store, Clock::System);
    let handler = &handler;
    run(service_fn(move |request| async move { Ok::<_, Error>(handler.handle(request).await) })).await
}
