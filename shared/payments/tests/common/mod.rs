//! The world the integration tests run in: the real handlers over a store (in memory unless a test
//! brings another), simulated WeChat and 2C2P listening on loopback, a hand-moved clock, and requests
//! built from `events/`.
#![allow(dead_code)]

pub mod dynamo;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request as AxumRequest, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response as AxumResponse};
use lambda_http::{Body, Context, Request, RequestExt as _, Response};
use payments::clock::Clock;
use payments::config::{NotifyConfig, OpenidConfig, PrepayConfig, Settings};
use payments::handlers::{NotifyHandler, OpenidHandler, PrepayHandler};
use payments::ids::{InvoiceNo, OrderId};
use payments::metrics::Metrics;
use payments::order::Order;
use payments::order_token::{OrderClaims, sign_order_token};
use payments::secret::Secret;
use payments::store::{MemoryStore, OrderStore};
use payments::upstream::{PgwClient, PgwKeys, http_client_with};
use payments::usecases::reconcile::Reconciler;
use serde_json::{Value, json};
use simulator::{Simulator, SimulatorConfig};

/// The key and merchant of `events/notify.json` (and of vectors.json).
pub const KEY: &str = "S3cretKeyForTests";
/// The 2C2P key before a rotation: notifications signed with it still verify.
pub const KEY_PREVIOUS: &str = "OldS3cretKey";
pub const MERCHANT: &str = "M0001";
pub const APP_ID: &str = "wx1234567890abcdef";
pub const APP_SECRET: &str = "app-secret-for-tests";
pub const SESSION_SECRET: &str = "session-secret-for-tests-0123456789";
pub const SESSION_SECRET_PREVIOUS: &str = "previous-session-secret-0123456789abc";
/// The merchant's order key of `events/prepay.json` (scripts/make_prepay_event.py).
pub const ORDER_KEY: &str = "test-order-signing-key-0123456789abcdef";
pub const ORDER_KEY_PREVIOUS: &str = "previous-order-signing-key-0123456789ab";
/// 2026-11-26T12:00:00Z.
pub const START: i64 = 1_795_694_400;
/// Short enough that a delayed upstream times out quickly in tests.
pub const TEST_TIMEOUT: Duration = Duration::from_millis(700);
/// Long enough that only a request's deadline can cut a call short.
pub const LONG_TIMEOUT: Duration = Duration::from_secs(60);
/// RECONCILE_AFTER_SECONDS and PAYMENT_TTL_SECONDS as the tests leave them (the defaults).
pub const FIRST_INQUIRY_AFTER: i64 = 120;
pub const PAYMENT_TTL: i64 = 900;

/// How a world is configured.
#[derive(Clone)]
pub struct Options {
    /// `CLIENT_PRICING=true`: the mini program may send the order itself.
    pub client_pricing: bool,
    /// Whether `ORDER_SIGNING_KEY` (and its previous key) are set.
    pub order_key: bool,
    /// The handlers' HTTP client timeouts (connect and total).
    pub upstream_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self { client_pricing: false, order_key: true, upstream_timeout: TEST_TIMEOUT }
    }
}

pub struct World<S = Arc<MemoryStore>> {
    pub sim: Simulator,
    pub store: S,
    pub clock: Clock,
    pub openid: OpenidHandler,
    pub prepay: PrepayHandler<S>,
    pub notify: NotifyHandler<S>,
    /// 2C2P as the reconciler reaches it.
    pub pgw: PgwClient,
    /// Invoices whose inquiries the upstream answers HTTP 500 (2C2P down for them only).
    pub down: Down,
    pub client_pricing: bool,
}

pub fn settings(base: &str, options: &Options) -> Settings {
    let mut pairs = vec![
        ("TABLE_NAME", "unused-by-the-tests".to_owned()),
        ("PGW_MERCHANT_ID", MERCHANT.to_owned()),
        ("PGW_SECRET_KEY", KEY.to_owned()),
        ("PGW_SECRET_KEY_PREVIOUS", KEY_PREVIOUS.to_owned()),
        ("PGW_PAYMENT_URL", format!("{base}/2c2p/SecurePayment/Payment.aspx")),
        ("PGW_ACTION_URL", format!("{base}/2c2p/PaymentActionV2/PaymentProcess.aspx")),
        ("WECHAT_APP_ID", APP_ID.to_owned()),
        ("WECHAT_APP_SECRET", APP_SECRET.to_owned()),
        ("WECHAT_API_URL", format!("{base}/wechat")),
        ("SESSION_SECRET", SESSION_SECRET.to_owned()),
        ("SESSION_SECRET_PREVIOUS", SESSION_SECRET_PREVIOUS.to_owned()),
    ];
    if options.order_key {
        pairs.push(("ORDER_SIGNING_KEY", ORDER_KEY.to_owned()));
        pairs.push(("ORDER_SIGNING_KEY_PREVIOUS", ORDER_KEY_PREVIOUS.to_owned()));
    }
    if options.client_pricing {
        pairs.push(("CLIENT_PRICING", "true".to_owned()));
    }
    Settings::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
}

pub fn simulator() -> Simulator {
    Simulator::new(SimulatorConfig {
        merchant_id: MERCHANT.into(),
        secret_key: KEY.into(),
        app_id: APP_ID.into(),
        app_secret: APP_SECRET.into(),
        notify_url: "http://127.0.0.1:9/notify".into(),
    })
}

/// Invoices for which 2C2P's inquiry endpoint is down.
pub type Down = Arc<Mutex<HashSet<String>>>;

/// The simulator's routes, except that an inquiry about an invoice in `down` answers HTTP 500.
async fn serve_upstream(sim: &Simulator, down: Down) -> String {
    async fn gate(State(down): State<Down>, request: AxumRequest, next: Next) -> AxumResponse {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
            return axum::http::StatusCode::BAD_REQUEST.into_response();
        };
        let invoice = protocol::envelope::base64_form_field(&bytes, "paymentRequest")
            .ok()
            .and_then(|field| protocol::inquiry::InquiryRequest::from_base64(&field).ok())
            .map(|r| r.invoice_no);
        let is_down = invoice.is_some_and(|i| down.lock().expect("lock").contains(&i));
        if is_down {
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down").into_response();
        }
        next.run(AxumRequest::from_parts(parts, axum::body::Body::from(bytes))).await
    }
    let router = sim.router().layer(axum::middleware::from_fn_with_state(down, gate));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}

impl World {
    /// Token-priced (the default configuration), in memory.
    pub async fn new() -> World {
        World::build(Options::default(), Arc::new(MemoryStore::new())).await
    }

    /// `CLIENT_PRICING=true`, in memory.
    pub async fn client_priced() -> World {
        World::build(Options { client_pricing: true, ..Options::default() }, Arc::new(MemoryStore::new())).await
    }

    /// The handlers pointed at `base` for both WeChat and 2C2P.
    pub async fn with_upstream(sim: Simulator, base: &str) -> World {
        World::assemble(sim, base, Options::default(), Arc::new(MemoryStore::new()), Down::default())
    }
}

impl<S: OrderStore + Clone> World<S> {
    /// A world over `store`, with its own simulator on loopback.
    pub async fn build(options: Options, store: S) -> World<S> {
        let sim = simulator();
        let down = Down::default();
        let base = serve_upstream(&sim, down.clone()).await;
        World::assemble(sim, &base, options, store, down)
    }

    fn assemble(sim: Simulator, base: &str, options: Options, store: S, down: Down) -> World<S> {
        let settings = settings(base, &options);
        let clock = Clock::manual(START);
        let http = http_client_with(options.upstream_timeout, options.upstream_timeout).expect("http client");
        let keys = PgwKeys::new(Secret::new(KEY), Some(Secret::new(KEY_PREVIOUS)));
        let pgw = PgwClient::new(
            http.clone(),
            &format!("{base}/2c2p/SecurePayment/Payment.aspx"),
            &format!("{base}/2c2p/PaymentActionV2/PaymentProcess.aspx"),
            MERCHANT,
            keys,
        );
        World {
            // Metric lines go to stdout by default; tests/metrics.rs reads them, here they are noise.
            openid: OpenidHandler::new(
                &OpenidConfig::from_settings(&settings).expect("config"),
                http.clone(),
                clock.clone(),
            )
            .with_metrics(Metrics::off()),
            prepay: PrepayHandler::new(
                &PrepayConfig::from_settings(&settings).expect("config"),
                store.clone(),
                http,
                clock.clone(),
            )
            .with_metrics(Metrics::off()),
            notify: NotifyHandler::new(
                &NotifyConfig::from_settings(&settings).expect("config"),
                store.clone(),
                clock.clone(),
            )
            .with_metrics(Metrics::off()),
            pgw,
            down,
            client_pricing: options.client_pricing,
            sim,
            store,
            clock,
        }
    }

    /// Reconciliation over this world's store and 2C2P, with the default schedule.
    pub fn reconciler(&self) -> Reconciler<'_, S> {
        Reconciler {
            store: &self.store,
            pgw: &self.pgw,
            clock: &self.clock,
            first_inquiry_after: FIRST_INQUIRY_AFTER,
            metrics: Metrics::off(),
        }
    }

    /// Logs `sandbox-<name>` in and returns the session token.
    pub async fn login(&self, name: &str) -> String {
        let response =
            self.openid.handle(event("openid", |e| set_body(e, &format!(r#"{{"code":"sandbox-{name}"}}"#)))).await;
        let (status, body) = parts(response);
        assert_eq!(status, 200, "login failed: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    pub async fn prepay_json(&self, token: &str, body: &str) -> (u16, Value) {
        parts(self.prepay.handle(prepay_request(token, body)).await)
    }

    /// A merchant-signed token for an SGD order, valid for an hour from the world's now.
    pub fn order_token(&self, order_id: &str, amount: &str) -> String {
        sign(ORDER_KEY, &claims(order_id, amount, None), self.clock.now() + 3600)
    }

    /// Prepays `order_id` the way the world is configured: a merchant token, or (client pricing) the body.
    pub async fn prepay_order(&self, token: &str, order_id: &str, amount: &str) -> (u16, Value) {
        let body = if self.client_pricing {
            json!({"orderId": order_id, "amount": amount, "currency": "SGD", "description": "Latte x2"})
        } else {
            json!({"orderToken": self.order_token(order_id, amount)})
        };
        self.prepay_json(token, &body.to_string()).await
    }

    /// Prepays and returns the new attempt's invoice, asserting a 200.
    pub async fn prepaid(&self, token: &str, order_id: &str, amount: &str) -> String {
        let (status, body) = self.prepay_order(token, order_id, amount).await;
        assert_eq!(status, 200, "{body}");
        body["invoiceNo"].as_str().expect("invoiceNo").to_owned()
    }

    pub async fn get_order(&self, token: &str, order_id: &str) -> (u16, Value) {
        parts(self.prepay.handle(order_request(token, order_id)).await)
    }

    /// The stored order.
    pub async fn stored(&self, order_id: &str) -> Order {
        let id = OrderId::parse(order_id).expect("orderId");
        self.store.get_order(&id).await.expect("store").expect("order exists")
    }

    /// Posts a `paymentResponse` form body to the notify handler, as API Gateway would (base64).
    pub async fn notify_form(&self, form_body: &str) -> (u16, Value) {
        parts(self.notify.handle(event("notify", |e| set_base64_body(e, form_body.as_bytes()))).await)
    }

    /// Seals a notification with the test key and posts it.
    pub async fn notify(&self, response: &protocol::securepay::PaymentResponse) -> (u16, Value) {
        let form = protocol::envelope::form_body("paymentResponse", &response.seal(KEY.as_bytes()));
        self.notify_form(&form).await
    }

    /// Makes 2C2P's inquiry endpoint answer HTTP 500 for this invoice only.
    pub fn take_down(&self, invoice: &str) {
        self.down.lock().expect("lock").insert(invoice.to_owned());
    }
}

pub fn claims(order_id: &str, amount: &str, sub: Option<&str>) -> OrderClaims {
    OrderClaims {
        order_id: order_id.into(),
        amount: amount.into(),
        currency: "SGD".into(),
        description: "Latte x2".into(),
        sub: sub.map(str::to_owned),
    }
}

/// An order token signed with `key`, as a merchant's backend signs it.
pub fn sign(key: &str, claims: &OrderClaims, exp: i64) -> String {
    sign_order_token(&Secret::new(key), claims, exp).expect("signed")
}

pub fn invoice(text: &str) -> InvoiceNo {
    InvoiceNo::parse(text).expect("invoiceNo")
}

pub fn order_id(text: &str) -> OrderId {
    OrderId::parse(text).expect("orderId")
}

pub fn prepay_request(token: &str, body: &str) -> Request {
    event("prepay", |e| {
        set_body(e, body);
        set_bearer(e, token);
    })
}

pub fn order_request(token: &str, order_id: &str) -> Request {
    event("order", |e| {
        e["rawPath"] = Value::from(format!("/orders/{order_id}"));
        e["requestContext"]["http"]["path"] = Value::from(format!("/orders/{order_id}"));
        e["pathParameters"]["orderId"] = Value::from(order_id);
        set_bearer(e, token);
    })
}

/// A notification as 2C2P would send it for `invoice`.
pub fn notification(invoice: &str, resp_code: &str, status: &str, amt: &str) -> protocol::securepay::PaymentResponse {
    protocol::securepay::PaymentResponse {
        time_stamp: "261126120500".into(),
        merchant_id: MERCHANT.into(),
        resp_code: resp_code.into(),
        amt: amt.into(),
        unique_transaction_code: invoice.into(),
        tran_ref: "8812345".into(),
        date_time: "261126120500".into(),
        status: status.into(),
        fail_reason: if status == "A" { "Approved".into() } else { "Declined by the bank".into() },
        payment_channel: "WCMINI".into(),
        currency_code: "702".into(),
        ..Default::default()
    }
}

/// An event from `events/`, adjusted by `patch`, as lambda_http hands it to a handler.
pub fn event(name: &str, patch: impl FnOnce(&mut Value)) -> Request {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut value: Value = serde_json::from_str(&text).expect("event is JSON");
    patch(&mut value);
    lambda_http::request::from_str(&value.to_string()).expect("event is an API Gateway request")
}

/// The request as the Lambda runtime hands it over: with a context whose deadline is `budget` from now.
pub fn with_deadline(request: Request, budget: Duration) -> Request {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis();
    let mut context = Context::default();
    context.request_id = "test-request".into();
    context.deadline = u64::try_from(now + budget.as_millis()).expect("millis");
    request.with_lambda_context(context)
}

pub fn set_body(event: &mut Value, body: &str) {
    event["body"] = Value::from(body);
    event["isBase64Encoded"] = Value::from(false);
}

pub fn set_base64_body(event: &mut Value, body: &[u8]) {
    use base64::Engine as _;
    event["body"] = Value::from(base64::engine::general_purpose::STANDARD.encode(body));
    event["isBase64Encoded"] = Value::from(true);
}

pub fn set_bearer(event: &mut Value, token: &str) {
    event["headers"]["authorization"] = Value::from(format!("Bearer {token}"));
}

pub fn parts(response: Response<Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let body = match response.body() {
        Body::Text(text) => serde_json::from_str(text).unwrap_or_else(|_| Value::from(text.clone())),
        Body::Binary(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

pub fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<no error code>")
}

pub fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or("<no error message>")
}
