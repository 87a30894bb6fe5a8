//! The world handler tests run in: the real handlers over the in-memory store, with simulated WeChat
//! and 2C2P listening on loopback, a hand-moved clock, and requests built from `events/`.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use lambda_http::{Body, Request, Response};
use payments::clock::Clock;
use payments::config::{NotifyConfig, OpenidConfig, PrepayConfig, Settings};
use payments::handlers::{NotifyHandler, OpenidHandler, PrepayHandler};
use payments::store::MemoryStore;
use payments::upstream::http_client_with;
use serde_json::Value;
use simulator::{Simulator, SimulatorConfig};

/// The key and merchant of `events/notify.json` (and of vectors.json).
pub const KEY: &str = "S3cretKeyForTests";
pub const MERCHANT: &str = "M0001";
pub const APP_ID: &str = "wx1234567890abcdef";
pub const APP_SECRET: &str = "app-secret-for-tests";
pub const SESSION_SECRET: &str = "session-secret-for-tests-0123456789";
/// 2026-11-26T12:00:00Z.
pub const START: i64 = 1_795_694_400;
/// Short enough that a delayed upstream times out quickly in tests.
pub const TEST_TIMEOUT: Duration = Duration::from_millis(700);

pub struct World {
    pub sim: Simulator,
    pub store: Arc<MemoryStore>,
    pub clock: Clock,
    pub openid: OpenidHandler,
    pub prepay: PrepayHandler<Arc<MemoryStore>>,
    pub notify: NotifyHandler<Arc<MemoryStore>>,
}

pub fn settings(base: &str) -> Settings {
    let pairs = vec![
        ("TABLE_NAME", "unused-by-memory-store".to_owned()),
        ("PGW_MERCHANT_ID", MERCHANT.to_owned()),
        ("PGW_SECRET_KEY", KEY.to_owned()),
        ("PGW_PAYMENT_URL", format!("{base}/2c2p/SecurePayment/Payment.aspx")),
        ("PGW_ACTION_URL", format!("{base}/2c2p/PaymentActionV2/PaymentProcess.aspx")),
        ("WECHAT_APP_ID", APP_ID.to_owned()),
        ("WECHAT_APP_SECRET", APP_SECRET.to_owned()),
        ("WECHAT_API_URL", format!("{base}/wechat")),
        ("SESSION_SECRET", SESSION_SECRET.to_owned()),
    ];
    Settings::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())))
}

impl World {
    pub async fn new() -> World {
        let sim = Simulator::new(SimulatorConfig {
            merchant_id: MERCHANT.into(),
            secret_key: KEY.into(),
            app_id: APP_ID.into(),
            app_secret: APP_SECRET.into(),
            notify_url: "http://127.0.0.1:9/notify".into(),
        });
        let (addr, _server) = sim.clone().spawn().await.expect("simulator listens");
        World::with_upstream(sim, &format!("http://{addr}")).await
    }

    /// The handlers pointed at `base` for both WeChat and 2C2P.
    pub async fn with_upstream(sim: Simulator, base: &str) -> World {
        let settings = settings(base);
        let clock = Clock::manual(START);
        let store = Arc::new(MemoryStore::new());
        let http = http_client_with(TEST_TIMEOUT, TEST_TIMEOUT);
        World {
            openid: OpenidHandler::new(
                &OpenidConfig::from_settings(&settings).expect("config"),
                http.clone(),
                clock.clone(),
            ),
            prepay: PrepayHandler::new(
                &PrepayConfig::from_settings(&settings).expect("config"),
                store.clone(),
                http,
                clock.clone(),
            ),
            notify: NotifyHandler::new(
                &NotifyConfig::from_settings(&settings).expect("config"),
                store.clone(),
                clock.clone(),
            ),
            sim,
            store,
            clock,
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
        parts(
            self.prepay
                .handle(event("prepay", |e| {
                    set_body(e, body);
                    set_bearer(e, token);
                }))
                .await,
        )
    }

    pub async fn prepay_order(&self, token: &str, order_id: &str, amount: &str) -> (u16, Value) {
        let body =
            format!(r#"{{"orderId":"{order_id}","amount":"{amount}","currency":"SGD","description":"Latte x2"}}"#);
        self.prepay_json(token, &body).await
    }

    pub async fn get_order(&self, token: &str, order_id: &str) -> (u16, Value) {
        parts(
            self.prepay
                .handle(event("order", |e| {
                    e["rawPath"] = Value::from(format!("/orders/{order_id}"));
                    e["requestContext"]["http"]["path"] = Value::from(format!("/orders/{order_id}"));
                    e["pathParameters"]["orderId"] = Value::from(order_id);
                    set_bearer(e, token);
                }))
                .await,
        )
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
