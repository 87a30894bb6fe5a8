//! Lambda entry point of `POST /prepay` and `GET /orders/{orderId}`. Wiring only: the handler is
//! `payments::handlers::prepay`.

use lambda_http::{Error, run, service_fn};
use payments::clock::Clock;
use payments::config::{PrepayConfig, load_or_exit};
use payments::handlers::PrepayHandler;
use payments::startup::or_exit;
use payments::store::DynamoStore;
use payments::upstream::http_client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    payments::telemetry::init();
    let config = load_or_exit(PrepayConfig::from_settings).await;
    let store = DynamoStore::from_env(config.table_name.clone()).await;
    let handler = PrepayHandler::new(&config, store, or_exit(http_client()), Clock::System);
    let handler = &handler;
    run(service_fn(move |request| async move { Ok::<_, Error>(handler.handle(request).await) })).await
}
