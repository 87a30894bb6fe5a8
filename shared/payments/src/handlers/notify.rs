//! The HTTP edge of `POST /notify`. What happens to a notification lives in `usecases::notification`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::api::{self, ApiError};
use crate::clock::Clock;
use crate::config::NotifyConfig;
use crate::metrics::{MeteredStore, Metrics, reason, service};
use crate::store::OrderStore;
use crate::upstream::PgwKeys;
use crate::usecases::notification::{NotificationError, receive_notification};

/// What `notify` needs, built once at start.
pub struct NotifyHandler<S> {
    /// Its failures count `StoreFailures`.
    store: MeteredStore<S>,
    merchant_id: String,
    keys: PgwKeys,
    clock: Clock,
    metrics: Metrics,
}

impl<S: OrderStore> NotifyHandler<S> {
    /// Metrics go to stdout as the `notify` service; [`Self::with_metrics`] sends them elsewhere.
    pub fn new(config: &NotifyConfig, store: S, clock: Clock) -> Self {
        let metrics = Metrics::for_service(service::NOTIFY);
        Self {
            store: MeteredStore::new(store, metrics.clone()),
            merchant_id: config.merchant_id.clone(),
            keys: PgwKeys::new(config.pgw_secret_key.clone(), config.pgw_secret_key_previous.clone()),
            clock,
            metrics,
        }
    }

    /// The same handler counting into `metrics` (a capture in tests, or [`Metrics::off`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.store.set_metrics(metrics.clone());
        self.metrics = metrics;
        self
    }

    /// The store, for the sandbox and tests.
    pub fn store(&self) -> &S {
        self.store.inner()
    }

    /// Answers one `POST /notify` from 2C2P; every failure becomes the contract's JSON, and a store failure a 500 so 2C2P retries.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        api::respond(&api::request_id(&request), self.receive(&request).await)
    }

    async fn receive(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let deadline = api::deadline(request);
        // An oversized body is no notification of 2C2P's.
        let body = api::body_bytes(request).inspect_err(|_| self.metrics.notification_refused(reason::MALFORMED))?;
        let (store, clock) = (&self.store, &self.clock);
        receive_notification(store, &self.merchant_id, &self.keys, body, clock, &deadline, &self.metrics).await?;
        Ok(api::json_response(StatusCode::OK, &json!({"received": true})))
    }
}

impl From<NotificationError> for ApiError {
    fn from(error: NotificationError) -> Self {
        match error {
            NotificationError::NotForm | NotificationError::MissingField | NotificationError::OtherMerchant => {
                Self::InvalidRequest(format!("{error}."))
            }
            NotificationError::Malformed(_) => Self::InvalidRequest(format!("{error}.")),
            NotificationError::BadSignature => {
                tracing::warn!("notification with a bad signature refused");
                Self::Unauthorized("The notification signature does not match.".into())
            }
            // Not kept, so not acknowledged: 2C2P tries again.
            NotificationError::Store(store) => store.into(),
        }
    }
}
