//! The whole payment flow in one process: the contract's four routes served by the very handlers the
//! Lambda binaries run, simulated WeChat and 2C2P reached over HTTP on loopback, reconciliation on a
//! short timer, fulfilment events from the same mapping as the `events` function, and a demo page.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Path, Request as AxumRequest, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response as AxumResponse};
use axum::routing::{get, post};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::{Body as LambdaBody, RequestExt as _};
use payments::api::ApiError;
use payments::clock::Clock;
use payments::config::{NotifyConfig, OpenidConfig, PrepayConfig, ReconcileConfig, Settings};
use payments::deadline::Deadline;
use payments::fulfilment::{EventPublisher, MemoryPublisher, OrderEvent, order_event};
use payments::handlers::{NotifyHandler, OpenidHandler, PrepayHandler, ReconcileHandler};
use payments::metrics::Metrics;
use payments::order::OrderTerms;
use payments::order_token::{OrderClaims, sign_order_token};
use payments::secret::Secret;
use payments::store::{DynamoStore, MemoryStore, OrderStore};
use payments::upstream::http_client;
use serde::Deserialize;
use serde_json::{Value, json};
use simulator::{Simulator, SimulatorConfig};
use tokio::net::TcpListener;

/// The sandbox's fixed merchant and mini program: it is a sandbox, so nothing here is secret.
pub const MERCHANT_ID: &str = "SANDBOX01";
pub const PGW_SECRET_KEY: &str = "sandbox-2c2p-secret-key";
pub const WECHAT_APP_ID: &str = "wxsandbox0000000001";
pub const WECHAT_APP_SECRET: &str = "sandbox-wechat-app-secret";
/// The key the sandbox signs order tokens with, playing the merchant's backend.
pub const ORDER_SIGNING_KEY: &str = "sandbox-order-signing-key-0123456789abcdef";
/// The sandbox inquires an attempt this soon after its parameters, so a lost notification is found fast.
pub const RECONCILE_AFTER_SECONDS: &str = "2";
/// How often the sandbox runs reconciliation.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(2);
/// How often the sandbox turns committed order changes into events (its stand-in for the stream).
pub const EVENTS_EVERY: Duration = Duration::from_millis(250);
/// How long an order token minted by `POST /sandbox/orders` stays valid.
const ORDER_TOKEN_TTL: i64 = 600;
/// The events' `Source`, as the `events` function's default.
const EVENT_SOURCE: &str = "wcmini.payments";

/// Bodies larger than this are not even read; the handlers refuse anything over 16 KiB anyway.
const READ_LIMIT: usize = 1024 * 1024;

const INDEX_HTML: &str = include_str!("../web/index.html");
const STANDIN_JS: &str = include_str!("../web/wx-standin.js");
const APP_JS: &str = include_str!("../web/app.js");
const CLIENT_JS: &str = include_str!("../../miniprogram/payments.js");

/// Which store the sandbox keeps orders in.
pub enum StoreChoice {
    /// In memory, gone at exit (the default).
    Memory,
    /// DynamoDB table `TABLE_NAME` on a local server (`AWS_ENDPOINT_URL_DYNAMODB` on loopback).
    Dynamo { table_name: String },
}

/// A started sandbox.
pub struct Running {
    pub addr: SocketAddr,
    pub simulator: Simulator,
    pub server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The settings the handlers read, pointing every upstream URL at the simulator on `addr`.
pub fn settings(addr: SocketAddr, table_name: &str) -> Settings {
    let base = format!("http://{addr}");
    let session_secret = random_secret();
    Settings::from_pairs([
        ("TABLE_NAME", table_name),
        ("PGW_MERCHANT_ID", MERCHANT_ID),
        ("PGW_SECRET_KEY", PGW_SECRET_KEY),
        ("PGW_PAYMENT_URL", &format!("{base}/2c2p/SecurePayment/Payment.aspx")),
        ("PGW_ACTION_URL", &format!("{base}/2c2p/PaymentActionV2/PaymentProcess.aspx")),
        ("WECHAT_APP_ID", WECHAT_APP_ID),
        ("WECHAT_APP_SECRET", WECHAT_APP_SECRET),
        ("WECHAT_API_URL", &format!("{base}/wechat")),
        ("SESSION_SECRET", &session_secret),
        ("ORDER_SIGNING_KEY", ORDER_SIGNING_KEY),
        ("RECONCILE_AFTER_SECONDS", RECONCILE_AFTER_SECONDS),
    ])
}

/// A fresh session key per start: tokens from an earlier run are simply refused.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    if getrandom::fill(&mut bytes).is_err() {
        return "sandbox-session-secret-when-no-randomness".to_owned();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sandbox's keys are public: it refuses any DynamoDB endpoint but a loopback one, so it can never
/// touch a real table (a notification it signs would otherwise mark a real order paid). `ignore_configured`
/// is `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`: when true the SDK would skip the endpoint checked here and
/// go to the region's real DynamoDB, so it is refused too.
pub fn check_local_endpoint(endpoint: Option<&str>, ignore_configured: Option<&str>) -> Result<(), String> {
    if ignore_configured.is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
        return Err("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true, so AWS_ENDPOINT_URL_DYNAMODB would be ignored \
                    and the real DynamoDB used: the sandbox only runs against a local DynamoDB on loopback"
            .to_owned());
    }
    let Some(endpoint) = endpoint.map(str::trim).filter(|e| !e.is_empty()) else {
        return Err("TABLE_NAME is set but AWS_ENDPOINT_URL_DYNAMODB is not: the sandbox only runs against a \
                    local DynamoDB on loopback (its keys are public), never a real table"
            .to_owned());
    };
    let url =
        reqwest::Url::parse(endpoint).map_err(|_| format!("AWS_ENDPOINT_URL_DYNAMODB {endpoint:?} is not a URL"))?;
    let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
    let loopback = match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    };
    if loopback {
        Ok(())
    } else {
        Err(format!(
            "AWS_ENDPOINT_URL_DYNAMODB {endpoint:?} is not on loopback: the sandbox's keys are public, so it only \
             runs against a local DynamoDB (127.0.0.1, ::1 or localhost)"
        ))
    }
}

/// Binds `listener`'s address into the handlers and the simulator, and serves until `shutdown` resolves.
pub async fn start(
    listener: TcpListener,
    store: StoreChoice,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running, String> {
    let addr = listener.local_addr().map_err(|e| format!("cannot read the listening address: {e}"))?;
    let table_name = match &store {
        StoreChoice::Memory => "in-memory".to_owned(),
        StoreChoice::Dynamo { table_name } => {
            let variable = |name: &str| std::env::var(name).ok();
            check_local_endpoint(
                variable("AWS_ENDPOINT_URL_DYNAMODB").as_deref(),
                variable("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").as_deref(),
            )?;
            table_name.clone()
        }
    };
    let settings = settings(addr, &table_name);
    let simulator = Simulator::new(SimulatorConfig {
        merchant_id: MERCHANT_ID.to_owned(),
        secret_key: PGW_SECRET_KEY.to_owned(),
        app_id: WECHAT_APP_ID.to_owned(),
        app_secret: WECHAT_APP_SECRET.to_owned(),
        notify_url: format!("http://{addr}/notify"),
    });
    let router = match store {
        StoreChoice::Memory => {
            let store = Arc::new(MemoryStore::new());
            let sandbox = Sandbox::new(&settings, store.clone())?;
            spawn_event_feed(store, sandbox.events.clone());
            app(sandbox, &simulator)
        }
        StoreChoice::Dynamo { table_name } => {
            // A DynamoDB store has its stream for events; the sandbox lists none in this mode.
            let store = Arc::new(DynamoStore::from_env(table_name).await);
            app(Sandbox::new(&settings, store)?, &simulator)
        }
    };
    let server = tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(shutdown).await });
    Ok(Running { addr, simulator, server })
}

/// Everything the sandbox's routes share.
pub struct Sandbox<S> {
    openid: OpenidHandler,
    /// Prepay as deployed: the order comes from a merchant-signed token.
    prepay: PrepayHandler<Arc<S>>,
    /// Prepay with `CLIENT_PRICING=true`, for the page's comparison switch.
    prepay_client_priced: PrepayHandler<Arc<S>>,
    client_pricing: AtomicBool,
    notify: NotifyHandler<Arc<S>>,
    reconcile: ReconcileHandler<Arc<S>>,
    events: Arc<MemoryPublisher>,
    clock: Clock,
}

impl<S: OrderStore> Sandbox<S> {
    /// The handlers over one store, configured from `settings`.
    pub fn new(settings: &Settings, store: Arc<S>) -> Result<Arc<Self>, String> {
        let err = |e: payments::config::ConfigError| e.to_string();
        let http = http_client().map_err(|e| e.to_string())?;
        let prepay_config = PrepayConfig::from_settings(settings).map_err(err)?;
        let client_priced = PrepayConfig { client_pricing: true, ..prepay_config.clone() };
        // Metric lines are for CloudWatch; on a terminal they would drown the sandbox's own log.
        let quiet = Metrics::off;
        let sandbox = Sandbox {
            openid: OpenidHandler::new(
                &OpenidConfig::from_settings(settings).map_err(err)?,
                http.clone(),
                Clock::System,
            )
            .with_metrics(quiet()),
            prepay: PrepayHandler::new(&prepay_config, store.clone(), http.clone(), Clock::System)
                .with_metrics(quiet()),
            prepay_client_priced: PrepayHandler::new(&client_priced, store.clone(), http.clone(), Clock::System)
                .with_metrics(quiet()),
            client_pricing: AtomicBool::new(false),
            notify: NotifyHandler::new(
                &NotifyConfig::from_settings(settings).map_err(err)?,
                store.clone(),
                Clock::System,
            )
            .with_metrics(quiet()),
            reconcile: ReconcileHandler::new(
                &ReconcileConfig::from_settings(settings).map_err(err)?,
                store,
                http,
                Clock::System,
            )
            .with_metrics(quiet()),
            events: Arc::new(MemoryPublisher::new()),
            clock: Clock::System,
        };
        let sandbox = Arc::new(sandbox);
        spawn_reconciliation(sandbox.clone());
        Ok(sandbox)
    }

    fn prepay_handler(&self) -> &PrepayHandler<Arc<S>> {
        if self.client_pricing.load(Ordering::SeqCst) { &self.prepay_client_priced } else { &self.prepay }
    }
}

/// Runs reconciliation every [`RECONCILE_EVERY`], as the schedule does in AWS, and says what it found.
fn spawn_reconciliation<S: OrderStore>(sandbox: Arc<Sandbox<S>>) {
    let weak = Arc::downgrade(&sandbox);
    drop(sandbox);
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(RECONCILE_EVERY);
        loop {
            timer.tick().await;
            let Some(sandbox) = weak.upgrade() else { return };
            match sandbox.reconcile.run(&json!({}), &Deadline::after(Duration::from_secs(30))).await {
                Ok(summary) if summary.paid > 0 => {
                    tracing::warn!(?summary, "reconciliation recovered a payment whose notification was lost");
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reconciliation run failed"),
            }
        }
    });
}

/// Turns the memory store's committed order changes into fulfilment events with the `events`
/// function's mapping, and publishes them to the in-memory bus that `GET /sandbox/events` lists.
fn spawn_event_feed(store: Arc<MemoryStore>, events: Arc<MemoryPublisher>) {
    let weak = Arc::downgrade(&store);
    drop(store);
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(EVENTS_EVERY);
        loop {
            timer.tick().await;
            let Some(store) = weak.upgrade() else { return };
            let batch: Vec<OrderEvent> = store
                .take_order_changes()
                .iter()
                .filter_map(|(old, new)| order_event(old.as_ref(), Some(new), EVENT_SOURCE))
                .collect();
            for chunk in batch.chunks(10) {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                if let Err(error) = events.put_events(chunk, deadline).await {
                    tracing::warn!(%error, "sandbox events could not be published");
                }
            }
        }
    });
}

/// The sandbox's router.
pub fn app<S: OrderStore>(sandbox: Arc<Sandbox<S>>, simulator: &Simulator) -> Router {
    let api = Router::new()
        .route("/openid", post(openid::<S>))
        .route("/prepay", post(prepay::<S>))
        .route("/orders/{order_id}", get(order::<S>))
        .route("/notify", post(notify::<S>))
        .route("/sandbox/orders", post(merchant_order::<S>))
        .route("/sandbox/settings", get(get_settings::<S>).put(put_settings::<S>))
        .route("/sandbox/events", get(list_events::<S>))
        .with_state(sandbox);
    Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/web/wx-standin.js", get(|| async { javascript(STANDIN_JS) }))
        .route("/web/app.js", get(|| async { javascript(APP_JS) }))
        .route("/client/payments.js", get(|| async { javascript(CLIENT_JS) }))
        .merge(api)
        .merge(simulator.router())
}

fn javascript(source: &'static str) -> AxumResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "no-cache")], source).into_response()
}

async fn openid<S: OrderStore>(State(s): State<Arc<Sandbox<S>>>, request: AxumRequest) -> AxumResponse {
    serve(request, None, |r| s.openid.handle(r)).await
}

async fn prepay<S: OrderStore>(State(s): State<Arc<Sandbox<S>>>, request: AxumRequest) -> AxumResponse {
    serve(request, None, |r| s.prepay_handler().handle(r)).await
}

async fn order<S: OrderStore>(
    State(s): State<Arc<Sandbox<S>>>,
    Path(order_id): Path<String>,
    request: AxumRequest,
) -> AxumResponse {
    serve(request, Some(("orderId", order_id)), |r| s.prepay.handle(r)).await
}

async fn notify<S: OrderStore>(State(s): State<Arc<Sandbox<S>>>, request: AxumRequest) -> AxumResponse {
    serve(request, None, |r| s.notify.handle(r)).await
}

/// Hands an HTTP request to a Lambda handler as API Gateway would (body as bytes, the route's path
/// parameter), and its answer back: the one adapter between axum and the handlers.
async fn serve<F, Fut>(request: AxumRequest, path_parameter: Option<(&str, String)>, handler: F) -> AxumResponse
where
    F: FnOnce(lambda_http::Request) -> Fut,
    Fut: std::future::Future<Output = lambda_http::Response<LambdaBody>>,
{
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, READ_LIMIT).await else {
        return from_lambda(ApiError::PayloadTooLarge.to_response("local"));
    };
    let body = if bytes.is_empty() { LambdaBody::Empty } else { LambdaBody::Binary(bytes.to_vec()) };
    let mut request = http::Request::from_parts(parts, body);
    if let Some((name, value)) = path_parameter {
        request = request.with_path_parameters(HashMap::from([(name.to_owned(), value)]));
    }
    from_lambda(handler(request).await)
}

fn from_lambda(response: lambda_http::Response<LambdaBody>) -> AxumResponse {
    let (parts, body) = response.into_parts();
    let body = match body {
        LambdaBody::Text(text) => AxumBody::from(text),
        LambdaBody::Binary(bytes) => AxumBody::from(bytes),
        _ => AxumBody::empty(),
    };
    AxumResponse::from_parts(parts, body)
}

/// `POST /sandbox/orders`: the merchant's backend, signing an order.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MerchantOrder {
    order_id: String,
    amount: String,
    currency: String,
    description: String,
    #[serde(default)]
    sub: Option<String>,
}

fn sandbox_error(status: StatusCode, message: String) -> AxumResponse {
    (status, Json(json!({"error": {"code": "invalid_request", "message": message}}))).into_response()
}

async fn merchant_order<S: OrderStore>(State(s): State<Arc<Sandbox<S>>>, body: axum::body::Bytes) -> AxumResponse {
    let order: MerchantOrder = match serde_json::from_slice(&body) {
        Ok(order) => order,
        Err(e) => {
            return sandbox_error(
                StatusCode::BAD_REQUEST,
                format!("The body must be {{\"orderId\", \"amount\", \"currency\", \"description\", \"sub\"?}}: {e}."),
            );
        }
    };
    // A real merchant checks its own order before signing; so does the sandbox, with prepay's rules.
    if let Err(e) = OrderTerms::parse(&order.order_id, &order.amount, &order.currency, &order.description) {
        return sandbox_error(StatusCode::BAD_REQUEST, format!("{e}."));
    }
    let claims = OrderClaims {
        order_id: order.order_id,
        amount: order.amount,
        currency: order.currency,
        description: order.description,
        sub: order.sub.filter(|s| !s.is_empty()),
    };
    match sign_order_token(&Secret::new(ORDER_SIGNING_KEY), &claims, s.clock.now() + ORDER_TOKEN_TTL) {
        Ok(token) => Json(json!({"orderToken": token})).into_response(),
        Err(e) => sandbox_error(StatusCode::INTERNAL_SERVER_ERROR, format!("The order could not be signed: {e}.")),
    }
}

fn settings_view<S>(s: &Sandbox<S>) -> AxumResponse {
    Json(json!({"clientPricing": s.client_pricing.load(Ordering::SeqCst)})).into_response()
}

async fn get_settings<S: OrderStore>(State(s): State<Arc<Sandbox<S>>>) -> AxumResponse {
    settings_view(&s)
}

async fn put_settings<S: OrderStore>(State(s): State<Arc<Sandbox<S>>>, body: axum::body::Bytes) -> AxumResponse {
    match serde_json::from_slice::<Value>(&body).ok().and_then(|v| v.get("clientPricing").and_then(Value::as_bool)) {
        Some(on) => {
            s.client_pricing.store(on, Ordering::SeqCst);
            tracing::info!(client_pricing = on, "sandbox pricing switched");
            settings_view(&s)
        }
        None => sandbox_error(StatusCode::BAD_REQUEST, "The body must be {\"clientPricing\": true|false}.".into()),
    }
}

async fn list_events<S: OrderStore>(State(s): State<Arc<Sandbox<S>>>) -> AxumResponse {
    let events: Vec<Value> = s
        .events
        .events()
        .into_iter()
        .map(|e| json!({"source": e.source, "detailType": e.detail_type, "detail": e.detail}))
        .collect();
    Json(json!({ "events": events })).into_response()
}
