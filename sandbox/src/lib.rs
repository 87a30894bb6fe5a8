//! The whole payment flow in one process: the contract's four routes served by the very handlers the
//! Lambda binaries run, simulated WeChat and 2C2P reached over HTTP on loopback, and a demo page.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{Request as AxumRequest, State};
use axum::response::{Html, IntoResponse, Response as AxumResponse};
use axum::routing::{get, post};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use lambda_http::{Body as LambdaBody, RequestExt as _};
use payments::api::ApiError;
use payments::clock::Clock;
use payments::config::{NotifyConfig, OpenidConfig, PrepayConfig, Settings};
use payments::handlers::{NotifyHandler, OpenidHandler, PrepayHandler};
use payments::store::{DynamoStore, MemoryStore, OrderStore};
use payments::upstream::http_client;
use simulator::{Simulator, SimulatorConfig};
use tokio::net::TcpListener;

/// The sandbox's fixed merchant and mini program: it is a sandbox, so nothing here is secret.
pub const MERCHANT_ID: &str = "SANDBOX01";
pub const PGW_SECRET_KEY: &str = "sandbox-2c2p-secret-key";
pub const WECHAT_APP_ID: &str = "wxsandbox0000000001";
pub const WECHAT_APP_SECRET: &str = "sandbox-wechat-app-secret";

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
    /// DynamoDB table `TABLE_NAME` (honours `AWS_ENDPOINT_URL_DYNAMODB` for a local server).
    Dynamo { table_name: String },
}

struct Handlers<S> {
    openid: OpenidHandler,
    prepay: PrepayHandler<Arc<S>>,
    notify: NotifyHandler<Arc<S>>,
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

/// Binds `listener`'s address into the handlers and the simulator, and serves until `shutdown` resolves.
pub async fn start(
    listener: TcpListener,
    store: StoreChoice,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<Running, String> {
    let addr = listener.local_addr().map_err(|e| format!("cannot read the listening address: {e}"))?;
    let table_name = match &store {
        StoreChoice::Memory => "in-memory".to_owned(),
        StoreChoice::Dynamo { table_name } => table_name.clone(),
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
        StoreChoice::Memory => app(&settings, MemoryStore::new(), &simulator)?,
        StoreChoice::Dynamo { table_name } => app(&settings, DynamoStore::from_env(table_name).await, &simulator)?,
    };
    let server = tokio::spawn(async move { axum::serve(listener, router).with_graceful_shutdown(shutdown).await });
    Ok(Running { addr, simulator, server })
}

/// The sandbox's router over one store.
pub fn app<S: OrderStore>(settings: &Settings, store: S, simulator: &Simulator) -> Result<Router, String> {
    let err = |e: payments::config::ConfigError| e.to_string();
    let http = http_client();
    let store = Arc::new(store);
    let handlers = Arc::new(Handlers {
        openid: OpenidHandler::new(&OpenidConfig::from_settings(settings).map_err(err)?, http.clone(), Clock::System),
        prepay: PrepayHandler::new(
            &PrepayConfig::from_settings(settings).map_err(err)?,
            store.clone(),
            http,
            Clock::System,
        ),
        notify: NotifyHandler::new(&NotifyConfig::from_settings(settings).map_err(err)?, store, Clock::System),
    });
    let api = Router::new()
        .route("/openid", post(openid::<S>))
        .route("/prepay", post(prepay::<S>))
        .route("/orders/{order_id}", get(prepay::<S>))
        .route("/notify", post(notify::<S>))
        .with_state(handlers);
    Ok(Router::new()
        .route("/", get(|| async { Html(INDEX_HTML) }))
        .route("/web/wx-standin.js", get(|| async { javascript(STANDIN_JS) }))
        .route("/web/app.js", get(|| async { javascript(APP_JS) }))
        .route("/client/payments.js", get(|| async { javascript(CLIENT_JS) }))
        .merge(api)
        .merge(simulator.router()))
}

fn javascript(source: &'static str) -> AxumResponse {
    ([(CONTENT_TYPE, "text/javascript; charset=utf-8"), (CACHE_CONTROL, "no-cache")], source).into_response()
}

async fn openid<S: OrderStore>(State(h): State<Arc<Handlers<S>>>, request: AxumRequest) -> AxumResponse {
    match to_lambda(request).await {
        Ok(request) => from_lambda(h.openid.handle(request).await),
        Err(refused) => refused,
    }
}

async fn prepay<S: OrderStore>(State(h): State<Arc<Handlers<S>>>, request: AxumRequest) -> AxumResponse {
    match to_lambda(request).await {
        Ok(request) => from_lambda(h.prepay.handle(request).await),
        Err(refused) => refused,
    }
}

async fn notify<S: OrderStore>(State(h): State<Arc<Handlers<S>>>, request: AxumRequest) -> AxumResponse {
    match to_lambda(request).await {
        Ok(request) => from_lambda(h.notify.handle(request).await),
        Err(refused) => refused,
    }
}

/// An HTTP request as API Gateway would hand it to the function (path parameters included).
async fn to_lambda(request: AxumRequest) -> Result<lambda_http::Request, AxumResponse> {
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, READ_LIMIT).await.map_err(|_| from_lambda(ApiError::PayloadTooLarge.to_response()))?;
    let body = if bytes.is_empty() { LambdaBody::Empty } else { LambdaBody::Binary(bytes.to_vec()) };
    let order_id = parts.uri.path().strip_prefix("/orders/").map(str::to_owned);
    let request = http::Request::from_parts(parts, body);
    Ok(match order_id {
        Some(id) => request.with_path_parameters(HashMap::from([("orderId".to_owned(), id)])),
        None => request,
    })
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
