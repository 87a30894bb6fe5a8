//! The HTTP edge of `POST /notify`. What happens to a notification lives in `usecases::notification`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use crate::api::{self, ApiError};
use crate::clock::Clock;
use crate::config::NotifyConfig;
use crate::store::OrderStore;
use crate::upstream::PgwKeys;
use crate::usecases::notification::{NotificationError, receive_notification};

/// What `notify` needs, built once at start.
pub struct NotifyHandler<S> {
    store: S,
    merchant_id: String,
    keys: PgwKeys,
    clock: Clock,
}

impl<S: OrderStore> NotifyHandler<S> {
    pub fn new(config: &NotifyConfig, store: S, clock: Clock) -> Self {
        Self {
            store,
            merchant_id: config.merchant_id.clone(),
            keys: PgwKeys::new(config.pgw_secret_key.clone(), config.pgw_secret_key_previous.clone()),
            clock,
        }
    }

    /// The store, for the sandbox and tests.
    pub fn store(&self) -> &S {
        &self.store
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        api::respond(&api::request_id(&request), self.receive(&request).await)
    }

    async fn receive(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let deadline = api::deadline(request);
        let body = api::body_bytes(request)?;
        receive_notification(&self.store, &self.merchant_id, &self.keys, body, &self.clock, &deadline).await?;
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
