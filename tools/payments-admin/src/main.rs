//! `payments-admin`: the operator's tool. It reads and writes the orders table with the same store
//! code as the functions (`payments::store`), with the caller's own AWS credentials. See `--help`
//! and docs/operations.md "payments-admin".

mod args;
mod history;
mod output;

use std::process::ExitCode;
use std::time::Duration;

use args::{Cli, Command, HELP};
use payments::clock::Clock;
use payments::config::{ConfigError, ReconcileConfig, SECRET_NAMES, Settings};
use payments::deadline::Deadline;
use payments::handlers::ReconcileHandler;
use payments::handlers::reconcile::ReconcileError;
use payments::ids::OrderId;
use payments::metrics::Metrics;
use payments::store::{DynamoStore, Operations, OrderStore, ResolveError, ReviewOutcome, StoreError};
use serde_json::json;
use thiserror::Error;

/// How long `reconcile ORDER` may take: one inquiry is bounded to 10 s inside it.
const RECONCILE_BUDGET: Duration = Duration::from_secs(30);

/// Why a command failed; every one is a single line on stderr and exit status 1.
#[derive(Debug, Error)]
enum AdminError {
    #[error("configuration: TABLE_NAME is not set; set it or pass --table NAME")]
    NoTable,
    #[error("no order {0}")]
    NoSuchOrder(OrderId),
    #[error("order {order_id} is at version {actual}, not {expected}: it changed since you looked; run show again")]
    VersionMoved { order_id: OrderId, expected: u64, actual: u64 },
    #[error("order {0} changed while it was being resolved; run show again and decide again")]
    Raced(OrderId),
    #[error(transparent)]
    Resolve(ResolveError),
    #[error("the store failed: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("reconcile: {0}")]
    Reconcile(#[from] ReconcileError),
    #[error(
        "the inquiry of order {0} failed: 2C2P could not be asked, or its answer did not verify (the warning above says which)"
    )]
    InquiryFailed(OrderId),
    #[error("order {0} has no attempt to inquire")]
    NothingInquired(OrderId),
    #[error("the HTTP client could not be built: {0}")]
    Http(String),
    #[error("could not write the output: {0}")]
    Output(#[from] std::io::Error),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match args::parse(std::env::args().skip(1)) {
        Ok(cli) => cli,
        Err(error) => {
            eprintln!("payments-admin: {error}");
            return ExitCode::from(2);
        }
    };
    if cli.command == Command::Help {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    log_to_stderr();
    match run(&cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("payments-admin: {error}");
            ExitCode::from(1)
        }
    }
}

/// The shared code logs why an inquiry failed (and little else) at warn: that goes to stderr, never
/// into the output. `RUST_LOG` asks for more, with the functions' caps on raw-printing targets.
fn log_to_stderr() {
    use lambda_http::tracing::subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG").ok().filter(|l| !l.trim().is_empty()) {
        Some(level) => payments::telemetry::filter(Some(&level)),
        None => EnvFilter::new("warn"),
    };
    let _ = lambda_http::tracing::subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .try_init();
}

async fn run(cli: &Cli) -> Result<(), AdminError> {
    let table = cli
        .table
        .clone()
        .or_else(|| std::env::var("TABLE_NAME").ok().filter(|t| !t.trim().is_empty()))
        .ok_or(AdminError::NoTable)?;
    let store = DynamoStore::from_env(table.clone()).await;
    let now = Clock::System.now();
    let out = output::Printer { json: cli.json, now };
    match &cli.command {
        Command::Help => Ok(()),
        Command::Review { limit } => Ok(out.review(&store.orders_in_review(*limit).await?)?),
        Command::Show { order_id } => {
            let history =
                history::gather(&store, order_id).await?.ok_or_else(|| AdminError::NoSuchOrder(order_id.clone()))?;
            Ok(out.history(&history)?)
        }
        Command::Reconcile { order_id } => reconcile(&out, store, &table, order_id).await,
        Command::Resolve { order_id, to, reason, version } => {
            resolve(&out, &store, order_id, *to, reason, *version, now).await
        }
    }
}

async fn resolve(
    out: &output::Printer,
    store: &DynamoStore,
    order_id: &OrderId,
    to: ReviewOutcome,
    reason: &str,
    version: Option<u64>,
    now: i64,
) -> Result<(), AdminError> {
    let read = store.get_order(order_id).await?.ok_or_else(|| AdminError::NoSuchOrder(order_id.clone()))?;
    if let Some(expected) = version
        && expected != read.version
    {
        return Err(AdminError::VersionMoved { order_id: order_id.clone(), expected, actual: read.version });
    }
    match store.resolve_review(&read, to, reason, now).await {
        Ok((order, resolution)) => Ok(out.resolved(&order, &resolution)?),
        Err(ResolveError::Store(StoreError::ConditionFailed)) => Err(AdminError::Raced(order_id.clone())),
        Err(error) => Err(AdminError::Resolve(error)),
    }
}

async fn reconcile(
    out: &output::Printer,
    store: DynamoStore,
    table: &str,
    order_id: &OrderId,
) -> Result<(), AdminError> {
    let config = reconcile_config(table).await?;
    let http = payments::upstream::http_client().map_err(|e| AdminError::Http(e.to_string()))?;
    // The function's metrics are lines on stdout for CloudWatch Logs: here they would only garble the output.
    let handler = ReconcileHandler::new(&config, store.clone(), http, Clock::System).with_metrics(Metrics::off());
    let deadline = Deadline::after(RECONCILE_BUDGET);
    let summary = handler.run(&json!({"orderId": order_id.as_str()}), &deadline).await?;
    if summary.errors > 0 {
        return Err(AdminError::InquiryFailed(order_id.clone()));
    }
    if summary.inquired == 0 {
        return Err(AdminError::NothingInquired(order_id.clone()));
    }
    let order = store.get_order(order_id).await?.ok_or_else(|| AdminError::NoSuchOrder(order_id.clone()))?;
    Ok(out.reconciled(&order, &summary)?)
}

/// The reconcile function's settings, read the same way (environment, then `SECRETS_ARN`), with the
/// table chosen here. `Settings` has no setter, so it is rebuilt from what was loaded.
async fn reconcile_config(table: &str) -> Result<ReconcileConfig, ConfigError> {
    let loaded = Settings::load().await?;
    let names = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .chain(SECRET_NAMES.iter().map(|name| (*name).to_owned()))
        .filter(|name| name != "TABLE_NAME");
    let mut pairs: Vec<(String, String)> = names.filter_map(|name| loaded.get(&name).map(|v| (name, v))).collect();
    pairs.push(("TABLE_NAME".to_owned(), table.to_owned()));
    ReconcileConfig::from_settings(&Settings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}
