//! Lambda entry point of `POST /openid`. Wiring only: the handler is `payments::handlers::openid`.

use lambda_http::{Error, run, service_fn};
use payments::clock::Clock;
use payments::config::{OpenidConfig, load_or_exit};
use payments::handlers::OpenidHandler;
use payments::startup::or_exit;
use payments::upstream::http_client;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    payments::telemetry::init();
    let config = load_or_exit(OpenidConfig::from_settings).await;
    let handler = OpenidHandler::new(&config, or_exit(http_client()), Clock::System);
    let handler = &handler;
    run(service_fn(move |request| async move { Ok::<_, Error>(handler.handle(request).await) })).await
}
