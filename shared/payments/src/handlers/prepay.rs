//! The HTTP edge of `POST /prepay` and `GET /orders/{orderId}`: parse, call the use case, map the
//! result to the contract. What a prepay decides lives in `usecases::prepay`.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt as _, Response};
use serde_json::{Map, Value};

use crate::api::{self, ApiError};
use crate::clock::Clock;
use crate::config::PrepayConfig;
use crate::ids::{OpenId, OrderId};
use crate::metrics::{MeteredStore, Metrics, service};
use crate::order::OrderTerms;
use crate::order_token::{OrderTokenError, OrderTokens};
use crate::session::SessionTokens;
use crate::store::OrderStore;
use crate::upstream::{PgwClient, PgwKeys};
use crate::usecases::prepay::{Prepay, PrepayError};
use crate::usecases::read_order::read_order;
use crate::views::{OrderView, PrepayView};

/// The order fields a client-priced body carries, and which a token-priced body must not carry.
const ORDER_FIELDS: [&str; 4] = ["orderId", "amount", "currency", "description"];

/// What `prepay` needs, built once at start.
pub struct PrepayHandler<S> {
    /// Its store's failures count `StoreFailures`.
    prepay: Prepay<MeteredStore<S>>,
    sessions: SessionTokens,
    order_tokens: Option<OrderTokens>,
    client_pricing: bool,
}

impl<S: OrderStore> PrepayHandler<S> {
    /// Metrics go to stdout as the `prepay` service; [`Self::with_metrics`] sends them elsewhere.
    pub fn new(config: &PrepayConfig, store: S, http: reqwest::Client, clock: Clock) -> Self {
        let keys = PgwKeys::new(config.pgw_secret_key.clone(), config.pgw_secret_key_previous.clone());
        let metrics = Metrics::for_service(service::PREPAY);
        Self {
            prepay: Prepay {
                store: MeteredStore::new(store, metrics.clone()),
                pgw: PgwClient::new(http, &config.pgw_payment_url, &config.pgw_action_url, &config.merchant_id, keys),
                clock,
                merchant_id: config.merchant_id.clone(),
                app_id: config.wechat_app_id.clone(),
                payment_ttl_seconds: config.payment_ttl_seconds,
                first_inquiry_after: config.reconcile_after_seconds,
                metrics,
            },
            sessions: SessionTokens::with_previous(&config.session_secret, config.session_secret_previous.as_ref(), 0),
            order_tokens: config
                .order_signing_key
                .as_ref()
                .map(|key| OrderTokens::new(key, config.order_signing_key_previous.as_ref())),
            client_pricing: config.client_pricing,
        }
    }

    /// The same handler counting into `metrics` (a capture in tests, or [`Metrics::off`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.prepay.store.set_metrics(metrics.clone());
        self.prepay.metrics = metrics;
        self
    }

    /// The store, for the sandbox and tests.
    pub fn store(&self) -> &S {
        self.prepay.store.inner()
    }

    /// The same handler with client pricing on or off (the sandbox's "let the client choose" switch).
    pub fn set_client_pricing(&mut self, on: bool) {
        self.client_pricing = on;
    }

    /// Serves both routes of this function, `POST /prepay` and `GET /orders/{orderId}`, every failure as the contract's JSON.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let result = if request.method() == Method::GET {
            self.get_order(&request).await
        } else if request.method() == Method::POST {
            self.post_prepay(&request).await
        } else {
            Err(ApiError::InvalidRequest(format!("{} is not supported on this route.", request.method())))
        };
        api::respond(&api::request_id(&request), result)
    }

    async fn post_prepay(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let deadline = api::deadline(request);
        let openid = api::bearer_openid(request, &self.sessions, self.prepay.clock.now())?;
        let body = api::json_object(request)?;
        let terms = self.order_terms(&body, &openid)?;
        let (order, payment) = self.prepay.run(&openid, &terms, &deadline).await?;
        Ok(api::json_response(StatusCode::OK, &PrepayView::of(&order, &payment)))
    }

    /// The order to pay: from the merchant's token, or (with client pricing, and no token) the body.
    fn order_terms(&self, body: &Map<String, Value>, openid: &OpenId) -> Result<OrderTerms, ApiError> {
        let token = match body.get("orderToken") {
            Some(Value::String(token)) => Some(token.as_str()),
            // null is sent, and not a string: refused even with client pricing (contract "POST /prepay").
            None => None,
            Some(_) => return Err(ApiError::InvalidRequest("orderToken must be a string.".into())),
        };
        let Some(token) = token else {
            if self.client_pricing {
                return client_terms(body);
            }
            return Err(ApiError::InvalidRequest(
                "orderToken is required: the order comes from the merchant's backend, signed.".into(),
            ));
        };
        if let Some(field) = ORDER_FIELDS.iter().find(|f| body.contains_key(**f)) {
            return Err(ApiError::InvalidRequest(format!(
                "{field} must not be sent beside orderToken: the token is the only source of the order."
            )));
        }
        let tokens = self.order_tokens.as_ref().ok_or_else(|| {
            ApiError::InvalidOrderToken("No ORDER_SIGNING_KEY is configured, so no order token can be checked.".into())
        })?;
        let claims = tokens.verify(token, self.prepay.clock.now()).map_err(token_error)?;
        // The claims follow the same rules as the client's fields; a broken claim is the token's fault.
        let terms = OrderTerms::parse(&claims.order_id, &claims.amount, &claims.currency, &claims.description)
            .map_err(|e| ApiError::InvalidOrderToken(format!("Claim {e}.")))?;
        if claims.sub.as_deref().is_some_and(|sub| sub != openid.as_str()) {
            return Err(ApiError::Forbidden("The order token names another user.".into()));
        }
        Ok(terms)
    }

    async fn get_order(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        // A GET has no use for a body, but one over the limit is refused as on every route.
        api::body_bytes(request)?;
        let deadline = api::deadline(request);
        let openid = api::bearer_openid(request, &self.sessions, self.prepay.clock.now())?;
        let raw = request.path_parameters_ref().and_then(|p| p.first("orderId")).unwrap_or_default();
        let order_id = OrderId::parse(raw).map_err(|e| ApiError::InvalidRequest(format!("{e}.")))?;
        let p = &self.prepay;
        let order = read_order(&p.store, &p.pgw, &p.clock, &openid, &order_id, &deadline, &p.metrics).await?;
        let order = order.ok_or(ApiError::NotFound)?;
        Ok(api::json_response(StatusCode::OK, &OrderView::at(&order, p.clock.now())))
    }
}

/// The client-priced order (`CLIENT_PRICING=true` only).
fn client_terms(body: &Map<String, Value>) -> Result<OrderTerms, ApiError> {
    let any = |_: char| true;
    let order_id = api::string_field(body, "orderId", 64, any, "")?;
    let amount = api::string_field(body, "amount", 32, any, "")?;
    let currency = api::string_field(body, "currency", 3, any, "")?;
    let description = api::string_field(body, "description", 128, any, "")?;
    Ok(OrderTerms::parse(order_id, amount, currency, description)?)
}

fn token_error(error: OrderTokenError) -> ApiError {
    ApiError::InvalidOrderToken(format!("{error}."))
}

impl From<PrepayError> for ApiError {
    fn from(error: PrepayError) -> Self {
        match error {
            PrepayError::Conflict(message) => Self::OrderConflict(message),
            PrepayError::AlreadyPaid => Self::AlreadyPaid,
            PrepayError::Rejected { resp_code, fail_reason } => Self::PaymentRejected { resp_code, fail_reason },
            PrepayError::Upstream(upstream) => upstream.into(),
            PrepayError::Store(store) => store.into(),
            PrepayError::NoInvoice(id) => Self::Internal(id.to_string()),
        }
    }
}
