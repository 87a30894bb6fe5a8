//! Simulated WeChat (`jscode2session`) and 2C2P (SecurePay WCMINI, Payment Action inquiry, and the
//! signed notification to a notify URL), speaking the exact wire formats of `protocol` and checking
//! what they receive as strictly as the real services: what 2C2P would refuse gets respCode 99,
//! status F and a failReason that names the problem.
//!
//! Simulator choices where the real services are not documented: login codes are not single-use (the
//! sandbox page reuses a typed code); an inquiry for an unknown invoice answers respCode `15`; an
//! inquiry with a bad hashValue answers respCode `99`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use protocol::description::{FORBIDDEN_SYMBOLS, MAX_DESC_CHARS};
use protocol::envelope;
use protocol::inquiry::{InquiryRequest, InquiryResponse};
use protocol::money::{Currency, from_pgw_amt};
use protocol::securepay::{PaymentRequest, PaymentResponse, ResponseMiniProgramData, WCMINI};
use serde_json::json;
use sha2::{Digest, Sha256};
use thiserror::Error;

/// Who the simulated services believe they are talking to.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    pub merchant_id: String,
    pub secret_key: String,
    pub app_id: String,
    pub app_secret: String,
    pub notify_url: String,
}

/// A misbehaviour to inject. SecurePay honours all of them; WeChat honours `Delay`, `Http500` and `Garbage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long before answering normally.
    Delay(Duration),
    /// Answer HTTP 500.
    Http500,
    /// Answer 200 with a body that is not the expected format.
    Garbage,
    /// Sign the answer with another key.
    BadSignature,
    /// respCode 32 without `miniProgramData`.
    MissingWechatData,
    /// respCode 99, status F, failReason "Simulated rejection".
    Reject,
}

/// What the user does in the simulated WeChat payment sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayResult {
    Success,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimError {
    #[error("no attempt has invoiceNo or prepay_id {0}")]
    UnknownKey(String),
    #[error("the notification could not be posted to the notify URL: {0}")]
    NotifyFailed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PaymentState {
    Created,
    Paid,
    Failed,
}

/// A WeChat order the simulated 2C2P created.
#[derive(Debug, Clone)]
struct SimPayment {
    invoice_no: String,
    prepay_id: String,
    amt: String,
    currency_code: String,
    order_ref: String,
    tran_ref: String,
    state: PaymentState,
}

struct Inner {
    config: SimulatorConfig,
    notify_url: Mutex<String>,
    payments: Mutex<HashMap<String, SimPayment>>,
    securepay_fault: Mutex<Option<Fault>>,
    wechat_fault: Mutex<Option<Fault>>,
    securepay_calls: AtomicUsize,
    last_request: Mutex<Option<PaymentRequest>>,
    sequence: AtomicU64,
    http: reqwest::Client,
}

/// The simulated services; cheap to clone (one shared state).
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-written; keep serving.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body.into()).into_response()
}

fn error_json(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

impl Simulator {
    pub fn new(config: SimulatorConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        let notify_url = Mutex::new(config.notify_url.clone());
        Self {
            inner: Arc::new(Inner {
                config,
                notify_url,
                payments: Mutex::new(HashMap::new()),
                securepay_fault: Mutex::new(None),
                wechat_fault: Mutex::new(None),
                securepay_calls: AtomicUsize::new(0),
                last_request: Mutex::new(None),
                sequence: AtomicU64::new(1),
                http,
            }),
        }
    }

    /// The routes: `/wechat/sns/jscode2session`, `/2c2p/SecurePayment/Payment.aspx`,
    /// `/2c2p/PaymentActionV2/PaymentProcess.aspx` and `/sandbox/pay/{key}`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/wechat/sns/jscode2session", get(jscode2session))
            .route("/2c2p/SecurePayment/Payment.aspx", post(securepay))
            .route("/2c2p/PaymentActionV2/PaymentProcess.aspx", post(inquiry))
            .route("/sandbox/pay/{key}", post(sandbox_pay))
            .with_state(self.clone())
    }

    /// Serves the router on 127.0.0.1 at a free port.
    pub async fn spawn(self) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = self.router();
        let handle = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "simulator stopped");
            }
        });
        Ok((addr, handle))
    }

    pub fn set_notify_url(&self, url: &str) {
        *lock(&self.inner.notify_url) = url.to_owned();
    }

    pub fn set_securepay_fault(&self, fault: Option<Fault>) {
        *lock(&self.inner.securepay_fault) = fault;
    }

    pub fn set_wechat_fault(&self, fault: Option<Fault>) {
        *lock(&self.inner.wechat_fault) = fault;
    }

    /// How many SecurePay requests arrived (valid or not).
    pub fn securepay_calls(&self) -> usize {
        self.inner.securepay_calls.load(Ordering::SeqCst)
    }

    /// The last SecurePay request whose signature held.
    pub fn last_payment_request(&self) -> Option<PaymentRequest> {
        lock(&self.inner.last_request).clone()
    }

    /// The stable openid simulated WeChat gives `sandbox-<name>`.
    pub fn openid_for(&self, name: &str) -> String {
        openid_of(name)
    }

    fn key(&self) -> &[u8] {
        self.inner.config.secret_key.as_bytes()
    }

    fn find(&self, key: &str) -> Option<SimPayment> {
        let payments = lock(&self.inner.payments);
        payments.get(key).or_else(|| payments.values().find(|p| p.prepay_id == key)).cloned()
    }

    /// The signed `paymentResponse` value 2C2P would post for `key` (an invoiceNo or a prepay_id).
    /// The same key and result always give the same envelope, so posting it twice is a replay.
    pub fn notification_envelope(&self, key: &str, result: PayResult) -> Result<String, SimError> {
        let payment = self.find(key).ok_or_else(|| SimError::UnknownKey(key.to_owned()))?;
        let (resp_code, status, fail_reason, approval) = match result {
            PayResult::Success => ("000", "A", "Approved", "A12345"),
            PayResult::Fail => ("99", "F", "Payment was declined", ""),
        };
        let notification = PaymentResponse {
            time_stamp: "261126120500".into(),
            merchant_id: self.inner.config.merchant_id.clone(),
            resp_code: resp_code.into(),
            amt: payment.amt.clone(),
            unique_transaction_code: payment.invoice_no.clone(),
            tran_ref: payment.tran_ref.clone(),
            approval_code: approval.into(),
            date_time: "261126120500".into(),
            status: status.into(),
            fail_reason: fail_reason.into(),
            user_defined1: payment.order_ref.clone(),
            paid_channel: "WECHAT".into(),
            payment_channel: WCMINI.into(),
            currency_code: payment.currency_code.clone(),
            ..PaymentResponse::default()
        };
        Ok(notification.seal(self.key()))
    }

    /// Plays the user paying (or declining) in WeChat, then posts 2C2P's signed notification to the
    /// notify URL. Returns the HTTP status the notify URL answered.
    pub async fn pay(&self, key: &str, result: PayResult) -> Result<u16, SimError> {
        let envelope = self.notification_envelope(key, result)?;
        if let Some(payment) = self.find(key) {
            let state = if result == PayResult::Success { PaymentState::Paid } else { PaymentState::Failed };
            if let Some(stored) = lock(&self.inner.payments).get_mut(&payment.invoice_no) {
                stored.state = state;
            }
        }
        let url = lock(&self.inner.notify_url).clone();
        let response = self
            .inner
            .http
            .post(url)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(envelope::form_body("paymentResponse", &envelope))
            .send()
            .await
            .map_err(|e| SimError::NotifyFailed(e.without_url().to_string()))?;
        Ok(response.status().as_u16())
    }

    /// Why 2C2P would refuse this request, if it would.
    fn refusal(&self, request: &PaymentRequest) -> Option<String> {
        let config = &self.inner.config;
        let invoice = &request.unique_transaction_code;
        let desc_chars = request.desc.chars().count();
        let checks: [(bool, String); 12] = [
            (request.merchant_id != config.merchant_id, format!("Invalid merchantID {}", request.merchant_id)),
            (
                request.time_stamp.len() != 12 || !request.time_stamp.bytes().all(|b| b.is_ascii_digit()),
                "Invalid timeStamp".into(),
            ),
            (invoice.is_empty() || invoice.len() > 20, "Invalid uniqueTransactionCode length".into()),
            (!invoice.bytes().all(|b| b.is_ascii_alphanumeric()), "Invalid uniqueTransactionCode".into()),
            (lock(&self.inner.payments).contains_key(invoice), "Duplicate uniqueTransactionCode".into()),
            (desc_chars == 0 || desc_chars > MAX_DESC_CHARS, "Invalid desc length".into()),
            (request.desc.contains(FORBIDDEN_SYMBOLS), "Invalid character in desc".into()),
            (from_pgw_amt(&request.amt).is_err(), "Invalid amt".into()),
            (Currency::from_numeric(&request.currency_code).is_none(), "Invalid currencyCode".into()),
            (request.payment_channel != WCMINI, "Invalid paymentChannel".into()),
            (request.mini_program_data.wechat.app_id != config.app_id, "Invalid appID".into()),
            (request.mini_program_data.wechat.open_id.is_empty(), "Invalid openID".into()),
        ];
        checks.into_iter().find(|(failed, _)| *failed).map(|(_, reason)| reason)
    }

    fn sealed_refusal(&self, invoice: &str, reason: &str) -> Response {
        let answer = PaymentResponse {
            time_stamp: "261126120001".into(),
            merchant_id: self.inner.config.merchant_id.clone(),
            resp_code: "99".into(),
            unique_transaction_code: invoice.into(),
            status: "F".into(),
            fail_reason: reason.into(),
            payment_channel: WCMINI.into(),
            ..PaymentResponse::default()
        };
        text(StatusCode::OK, answer.seal(self.key()))
    }

    fn next_sequence(&self) -> u64 {
        self.inner.sequence.fetch_add(1, Ordering::SeqCst)
    }
}

async fn apply_delay(fault: &Option<Fault>) {
    if let Some(Fault::Delay(delay)) = fault {
        tokio::time::sleep(*delay).await;
    }
}

async fn jscode2session(State(sim): State<Simulator>, Query(query): Query<HashMap<String, String>>) -> Response {
    let fault = lock(&sim.inner.wechat_fault).clone();
    apply_delay(&fault).await;
    match fault {
        Some(Fault::Http500) => return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        Some(Fault::Garbage) => return text(StatusCode::OK, "<html><body>502 Bad Gateway</body></html>"),
        _ => {}
    }
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let config = &sim.inner.config;
    let answer = if field("appid") != config.app_id {
        json!({"errcode": 40013, "errmsg": "invalid appid"})
    } else if field("secret") != config.app_secret {
        json!({"errcode": 40125, "errmsg": "invalid appsecret"})
    } else if field("grant_type") != "authorization_code" {
        json!({"errcode": 40002, "errmsg": "invalid grant_type"})
    } else if field("js_code").is_empty() {
        json!({"errcode": 41008, "errmsg": "missing code"})
    } else {
        match field("js_code").strip_prefix("sandbox-") {
            Some("invalid") | None => json!({"errcode": 40029, "errmsg": "invalid code"}),
            Some("busy") => json!({"errcode": -1, "errmsg": "system error"}),
            Some(name) if valid_name(name) => {
                let session_key = BASE64.encode(&Sha256::digest(format!("session:{name}").as_bytes())[..16]);
                json!({"openid": openid_of(name), "session_key": session_key})
            }
            Some(_) => json!({"errcode": 40029, "errmsg": "invalid code"}),
        }
    };
    text(StatusCode::OK, answer.to_string())
}

/// 28 characters derived from the name, like WeChat's openids: the same name is the same user.
fn openid_of(name: &str) -> String {
    let digest = Sha256::digest(format!("sandbox:{name}").as_bytes());
    let mut openid = String::from("o");
    openid.extend(URL_SAFE_NO_PAD.encode(digest).chars().take(27));
    openid
}

/// `<name>` of `sandbox-<name>`: 1 to 32 of a-z 0-9 -.
fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

async fn securepay(State(sim): State<Simulator>, body: Bytes) -> Response {
    sim.inner.securepay_calls.fetch_add(1, Ordering::SeqCst);
    let fault = lock(&sim.inner.securepay_fault).clone();
    apply_delay(&fault).await;
    match fault {
        Some(Fault::Http500) => return text(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        Some(Fault::Garbage) => return text(StatusCode::OK, "<html><body>Service Unavailable</body></html>"),
        _ => {}
    }
    let Ok(field) = envelope::base64_form_field(&body, "paymentRequest") else {
        return sim.sealed_refusal("", "Invalid request: no paymentRequest");
    };
    let verified = match envelope::open(&field, sim.key()) {
        Ok(verified) => verified,
        Err(envelope::EnvelopeError::BadSignature) => return sim.sealed_refusal("", "Invalid signature"),
        Err(error) => return sim.sealed_refusal("", &format!("Invalid request: {error}")),
    };
    if verified.require_version().is_err() {
        return sim.sealed_refusal("", "Invalid version");
    }
    let request = match verified
        .decode_payload()
        .map_err(|e| e.to_string())
        .and_then(|xml| PaymentRequest::from_xml(&xml).map_err(|e| e.to_string()))
    {
        Ok(request) => request,
        Err(error) => return sim.sealed_refusal("", &format!("Invalid payload: {error}")),
    };
    *lock(&sim.inner.last_request) = Some(request.clone());
    let invoice = request.unique_transaction_code.clone();
    if fault == Some(Fault::Reject) {
        return sim.sealed_refusal(&invoice, "Simulated rejection");
    }
    if let Some(reason) = sim.refusal(&request) {
        return sim.sealed_refusal(&invoice, &reason);
    }
    let sequence = sim.next_sequence();
    let digest = hex::encode(Sha256::digest(format!("{invoice}:{sequence}").as_bytes()));
    let payment = SimPayment {
        invoice_no: invoice.clone(),
        prepay_id: format!("wx{}", &digest[..30]),
        amt: request.amt.clone(),
        currency_code: request.currency_code.clone(),
        order_ref: request.user_defined1.clone().unwrap_or_default(),
        tran_ref: format!("{}", 8_800_000 + sequence),
        state: PaymentState::Created,
    };
    lock(&sim.inner.payments).insert(invoice.clone(), payment.clone());
    let nonce = digest[30..62].to_uppercase();
    let time_stamp = "1795694400";
    let package = format!("prepay_id={}", payment.prepay_id);
    let pay_sign = hex::encode_upper(Sha256::digest(format!("{time_stamp}{nonce}{package}").as_bytes()));
    let wechat = json!({"timeStamp": time_stamp, "package": package, "nonceStr": nonce, "signType": "HMAC-SHA256", "paySign": pay_sign});
    let answer = PaymentResponse {
        time_stamp: "261126120001".into(),
        merchant_id: sim.inner.config.merchant_id.clone(),
        resp_code: "32".into(),
        amt: request.amt.clone(),
        unique_transaction_code: invoice,
        tran_ref: payment.tran_ref.clone(),
        date_time: "261126120001".into(),
        status: "AP".into(),
        fail_reason: "Completed Partially".into(),
        user_defined1: payment.order_ref.clone(),
        payment_channel: WCMINI.into(),
        currency_code: request.currency_code,
        mini_program_data: (fault != Some(Fault::MissingWechatData))
            .then(|| ResponseMiniProgramData { wechat: wechat.to_string() }),
        ..PaymentResponse::default()
    };
    let key: &[u8] = if fault == Some(Fault::BadSignature) { b"a-key-that-is-not-the-merchant-key" } else { sim.key() };
    text(StatusCode::OK, answer.seal(key))
}

async fn inquiry(State(sim): State<Simulator>, body: Bytes) -> Response {
    let answer = |resp_code: &str, invoice: &str, status: &str, amount: &str| {
        InquiryResponse {
            version: protocol::inquiry::ACTION_VERSION.into(),
            resp_code: resp_code.into(),
            process_type: protocol::inquiry::INQUIRY.into(),
            invoice_no: invoice.into(),
            amount: amount.into(),
            status: status.into(),
            ..InquiryResponse::default()
        }
        .seal(sim.key())
    };
    let request = envelope::base64_form_field(&body, "paymentRequest")
        .ok()
        .and_then(|field| InquiryRequest::from_base64(&field).ok());
    let Some(request) = request else {
        return text(StatusCode::OK, answer("99", "", "", ""));
    };
    if !request.verify(sim.key()) || request.merchant_id != sim.inner.config.merchant_id {
        return text(StatusCode::OK, answer("99", &request.invoice_no, "", ""));
    }
    let Some(payment) = sim.find(&request.invoice_no) else {
        return text(StatusCode::OK, answer("15", &request.invoice_no, "", ""));
    };
    let status = match payment.state {
        PaymentState::Created => "AP",
        PaymentState::Paid => "A",
        PaymentState::Failed => "PF",
    };
    text(StatusCode::OK, answer("00", &payment.invoice_no, status, &payment.amt))
}

async fn sandbox_pay(State(sim): State<Simulator>, Path(key): Path<String>, body: Bytes) -> Response {
    // Read as JSON whatever the content type, so `curl -d '{"result":"success"}'` works.
    let result = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("result").and_then(|r| r.as_str()).map(str::to_owned));
    let result = match result.as_deref() {
        Some("success") => PayResult::Success,
        Some("fail") => PayResult::Fail,
        _ => {
            return error_json(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The body must be {\"result\": \"success\"} or {\"result\": \"fail\"}.",
            );
        }
    };
    match sim.pay(&key, result).await {
        Ok(status) => (StatusCode::OK, axum::Json(json!({"notifyStatus": status}))).into_response(),
        Err(SimError::UnknownKey(_)) => {
            error_json(StatusCode::NOT_FOUND, "not_found", "No attempt has this invoiceNo or prepay_id.")
        }
        Err(error) => error_json(StatusCode::BAD_GATEWAY, "upstream_error", &error.to_string()),
    }
}
