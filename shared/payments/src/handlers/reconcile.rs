//! The `reconcile` function's edge: any event runs the due attempts (the schedule's, or `{}` by
//! hand); `{"orderId": "..."}` inquires that order now. The answer is the run's summary.

use serde_json::Value;

use crate::clock::Clock;
use crate::config::ReconcileConfig;
use crate::deadline::Deadline;
use crate::ids::OrderId;
use crate::metrics::{MeteredStore, Metrics, service};
use crate::store::OrderStore;
use crate::upstream::{PgwClient, PgwKeys};
use crate::usecases::reconcile::{Reconciler, Summary};

/// Why a run could not be done; Lambda records it as the invocation's error.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// A by-hand `{"orderId": ...}` event named something that cannot be an orderId.
    #[error("orderId {0:?} is not an orderId (1 to 64 of A-Z a-z 0-9 _ -)")]
    BadOrderId(String),
    /// A by-hand `{"orderId": ...}` event named an order the table does not hold.
    #[error("no order {0}")]
    NoSuchOrder(String),
    /// The store failed, so the run could not find or update what is due; the next run retries.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// A run's budget when the invocation carries no believable deadline (a local emulator).
const RUN_BUDGET_WITHOUT_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);

/// What `reconcile` needs, built once at start.
pub struct ReconcileHandler<S> {
    /// Its failures count `StoreFailures`.
    store: MeteredStore<S>,
    pgw: PgwClient,
    clock: Clock,
    first_inquiry_after: i64,
    batch: usize,
    metrics: Metrics,
}

impl<S: OrderStore> ReconcileHandler<S> {
    /// Metrics go to stdout as the `reconcile` service; [`Self::with_metrics`] sends them elsewhere.
    pub fn new(config: &ReconcileConfig, store: S, http: reqwest::Client, clock: Clock) -> Self {
        let keys = PgwKeys::new(config.pgw_secret_key.clone(), config.pgw_secret_key_previous.clone());
        let metrics = Metrics::for_service(service::RECONCILE);
        Self {
            store: MeteredStore::new(store, metrics.clone()),
            // Reconciliation never creates payments: no SecurePay URL is needed.
            pgw: PgwClient::new(http, "", &config.pgw_action_url, &config.merchant_id, keys),
            clock,
            first_inquiry_after: config.reconcile_after_seconds,
            batch: config.reconcile_batch,
            metrics,
        }
    }

    /// The same handler counting into `metrics` (a capture in tests, or [`Metrics::off`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.store.set_metrics(metrics.clone());
        self.metrics = metrics;
        self
    }

    /// Runs one reconciliation for `event` within the Lambda context's deadline (epoch milliseconds).
    pub async fn handle(&self, event: &Value, deadline_ms: u64) -> Result<Summary, ReconcileError> {
        let deadline = Deadline::from_lambda(deadline_ms, RUN_BUDGET_WITHOUT_DEADLINE);
        self.run(event, &deadline).await
    }

    /// Runs one reconciliation for `event` within `deadline` (the sandbox's timer calls this).
    pub async fn run(&self, event: &Value, deadline: &Deadline) -> Result<Summary, ReconcileError> {
        let reconciler = Reconciler {
            store: &self.store,
            pgw: &self.pgw,
            clock: &self.clock,
            first_inquiry_after: self.first_inquiry_after,
            metrics: self.metrics.clone(),
        };
        match event.get("orderId") {
            None | Some(Value::Null) => Ok(reconciler.run_due(self.batch, deadline).await?),
            Some(value) => {
                let text = value.as_str().unwrap_or_default();
                let order_id = OrderId::parse(text).map_err(|_| ReconcileError::BadOrderId(value.to_string()))?;
                reconciler
                    .run_order(&order_id, deadline)
                    .await?
                    .ok_or(ReconcileError::NoSuchOrder(order_id.to_string()))
            }
        }
    }
}
