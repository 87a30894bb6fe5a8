//! A simulator on loopback, a client, request builders, and a tiny notify receiver.
#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use protocol::inquiry::{InquiryRequest, InquiryResponse};
use protocol::securepay::{PaymentRequest, PaymentResponse, WcminiFields};
use simulator::{Simulator, SimulatorConfig};
use tokio::sync::mpsc;

pub const MERCHANT: &str = "JT01";
pub const KEY: &str = "S3cretKeyForTests";
pub const APP_ID: &str = "wx0123456789abcdef";
pub const APP_SECRET: &str = "app-secret-for-tests";
pub const FORM: &str = "application/x-www-form-urlencoded";

pub struct Sim {
    pub sim: Simulator,
    pub base: String,
    pub http: reqwest::Client,
}

impl Sim {
    pub async fn start() -> Sim {
        let sim = Simulator::new(SimulatorConfig {
            merchant_id: MERCHANT.into(),
            secret_key: KEY.into(),
            app_id: APP_ID.into(),
            app_secret: APP_SECRET.into(),
            // Port 9 (discard) is closed on loopback: a test that needs notifications sets a receiver.
            notify_url: "http://127.0.0.1:9/notify".into(),
        });
        let (addr, _server) = sim.clone().spawn().await.expect("simulator listens");
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        Sim { sim, base: format!("http://{addr}"), http }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` with `content_type` (none when `None`); returns status, content type and body.
    pub async fn post(&self, path: &str, content_type: Option<&str>, body: impl Into<String>) -> (u16, String, String) {
        let mut request = self.http.post(self.url(path)).body(body.into());
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let response = request.send().await.expect("simulator answers");
        let status = response.status().as_u16();
        let content_type = content_type_of(response.headers());
        (status, content_type, response.text().await.expect("body"))
    }

    /// The raw SecurePay answer to a form body.
    pub async fn securepay_raw(&self, content_type: Option<&str>, body: impl Into<String>) -> (u16, String, String) {
        self.post("/2c2p/SecurePayment/Payment.aspx", content_type, body).await
    }

    /// Sends `request` signed with the test key; opens the answer, which must verify.
    pub async fn securepay(&self, request: &PaymentRequest) -> PaymentResponse {
        let (status, content_type, body) = self.securepay_raw(Some(FORM), request.to_form_body(KEY.as_bytes())).await;
        assert_eq!(status, 200, "{body}");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        PaymentResponse::open(&body, KEY.as_bytes()).expect("a signed PaymentResponse")
    }

    /// Creates a WeChat order for `invoice`; returns its prepay_id.
    pub async fn created(&self, invoice: &str) -> String {
        let answer = self.securepay(&request(invoice)).await;
        assert_eq!(answer.resp_code, "32", "{}", answer.fail_reason);
        let payment = answer.wechat_payment().expect("wechat object");
        payment.prepay_id().expect("prepay_id").to_owned()
    }

    pub async fn inquiry_raw(&self, body: impl Into<String>) -> InquiryResponse {
        let (status, _, body) = self.post("/2c2p/PaymentActionV2/PaymentProcess.aspx", Some(FORM), body).await;
        assert_eq!(status, 200, "{body}");
        InquiryResponse::open(&body, KEY.as_bytes()).expect("a hashed inquiry answer")
    }

    pub async fn inquiry(&self, invoice: &str) -> InquiryResponse {
        self.inquiry_raw(InquiryRequest::new(MERCHANT, invoice, KEY.as_bytes()).to_form_body()).await
    }

    /// GET jscode2session with `params`; returns status, content type and body.
    pub async fn jscode2session(&self, params: &[(&str, &str)]) -> (u16, String, String) {
        let response = self
            .http
            .get(self.url("/wechat/sns/jscode2session"))
            .query(params)
            .send()
            .await
            .expect("simulator answers");
        let status = response.status().as_u16();
        let content_type = content_type_of(response.headers());
        (status, content_type, response.text().await.expect("body"))
    }

    pub async fn login(&self, code: &str) -> serde_json::Value {
        let params =
            [("appid", APP_ID), ("secret", APP_SECRET), ("js_code", code), ("grant_type", "authorization_code")];
        let (status, _, body) = self.jscode2session(&params).await;
        assert_eq!(status, 200);
        serde_json::from_str(&body).expect("JSON")
    }

    pub async fn sandbox_pay(&self, key: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, content_type, body) = self.post(&format!("/sandbox/pay/{key}"), None, body).await;
        assert!(content_type.starts_with("application/json"), "{content_type}");
        (status, serde_json::from_str(&body).expect("JSON"))
    }
}

fn content_type_of(headers: &reqwest::header::HeaderMap) -> String {
    headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
}

/// A valid WCMINI request for `invoice`.
pub fn request(invoice: &str) -> PaymentRequest {
    let open_id = simulator::openid_for("alice");
    PaymentRequest {
        user_defined1: Some("A-1001".into()),
        ..PaymentRequest::wcmini(WcminiFields {
            time_stamp: "261126120000",
            merchant_id: MERCHANT,
            invoice_no: invoice,
            desc: "Latte x2",
            amt: "000000001250",
            currency_code: "702",
            app_id: APP_ID,
            open_id: &open_id,
        })
    }
}

/// One notification as the receiver got it.
#[derive(Debug)]
pub struct Received {
    pub content_type: String,
    pub body: String,
}

/// A notify endpoint on loopback that records every POST and answers `status`.
pub struct Receiver {
    pub url: String,
    pub rx: mpsc::UnboundedReceiver<Received>,
}

impl Receiver {
    pub async fn start(status: u16) -> Receiver {
        let (tx, rx) = mpsc::unbounded_channel();
        let status = StatusCode::from_u16(status).expect("status");
        let app = Router::new().route(
            "/notify",
            post(move |headers: HeaderMap, body: Bytes| {
                let tx = tx.clone();
                async move {
                    let content_type =
                        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                    let _ = tx.send(Received { content_type, body: String::from_utf8_lossy(&body).into_owned() });
                    status
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url: format!("http://{addr}/notify"), rx }
    }

    /// The next notification, opened and verified with the merchant key.
    pub async fn next(&mut self) -> (Received, PaymentResponse) {
        let received = self.rx.recv().await.expect("a notification");
        assert_eq!(received.content_type, FORM);
        let field = protocol::envelope::base64_form_field(received.body.as_bytes(), "paymentResponse")
            .expect("paymentResponse field");
        let opened = PaymentResponse::open(&field, KEY.as_bytes()).expect("verifies with the merchant key");
        (received, opened)
    }
}
