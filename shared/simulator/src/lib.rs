//! Simulated WeChat (`jscode2session`) and 2C2P (SecurePay WCMINI, Payment Action inquiry, and the signed
//! notification to a notify URL) for tests and the sandbox.
//!
//! They speak the exact wire formats of the `protocol` crate and check what they receive as strictly as
//! the real services, so a backend bug shows up here rather than against 2C2P's demo server: whatever 2C2P
//! would refuse gets a signed PaymentResponse with respCode `99`, status `F` and a failReason naming the
//! field.
//!
//! Routes, relative to where [`Simulator::router`] is mounted:
//!
//! | route | answers |
//! | --- | --- |
//! | `GET /wechat/sns/jscode2session` | WeChat's JSON, as `text/plain` |
//! | `POST /2c2p/SecurePayment/Payment.aspx` | bare base64 of a signed `<PaymentResponse>` envelope, `text/plain` |
//! | `POST /2c2p/PaymentActionV2/PaymentProcess.aspx` | base64 `<PaymentProcessResponse>` with its hashValue, `text/plain` |
//! | `POST /sandbox/pay/{key}` | `{"notified": true, "notifyStatus": n}` or `{"notified": false}`, or the contract's error JSON |
//!
//! What a test can steer and observe, so every path of a client is reachable:
//!
//! - a [`Fault`] per service ([`Simulator::set_securepay_fault`], [`Simulator::set_wechat_fault`],
//!   [`Simulator::set_inquiry_fault`]), each independent of the others;
//! - the user paying with or without 2C2P's notification ([`Simulator::pay`],
//!   [`Simulator::pay_without_notify`], `"notify": false` on `/sandbox/pay`): a lost notification;
//! - the inquiry's answer for one invoice ([`Simulator::set_inquiry_answer`]): states the simulated
//!   payment never reaches by itself (`AL`, `RP`, `EX`, ...) and amounts in another form (`12.50`);
//! - counters: [`Simulator::securepay_calls`] ("2C2P was not called again"), [`Simulator::inquiry_calls`]
//!   and [`Simulator::max_inquiries_in_flight`] (a bound on concurrent inquiries; an inquiry
//!   [`Fault::Delay`] makes it observable).
//!
//! Choices where the real services are undocumented or unsuited to a sandbox:
//!
//! - login codes are not single-use, so the sandbox page can reuse a typed code; `sandbox-<name>` logs in
//!   as [`openid_for`]`(name)`, and the other codes are listed on [`wechat`];
//! - an inquiry answers respCode `99` when the request itself is wrong (not a form, not base64 XML,
//!   version not 3.4, processType not `I`, merchantID not ours, hashValue wrong) and `15` for an invoice
//!   2C2P never saw; `00` means the inquiry worked and `status` says `A` (paid), `PF` (failed) or `AP`
//!   (pending), unless a test set the invoice's answer;
//! - the user's confirmation (`/sandbox/pay`) produces respCode `000`/status `A`/"Approved", or respCode
//!   `99`/status `F`/"Payment was declined".

#![warn(missing_docs)]

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use protocol::securepay::PaymentRequest;
use serde_json::json;
use sha2::{Digest, Sha256};
use thiserror::Error;

mod inquiry;
mod notification;
mod securepay;
pub mod wechat;

pub use inquiry::{INQUIRY_NOT_FOUND, INQUIRY_OK, INQUIRY_REFUSED};
pub use securepay::{WECHAT_PAY_KEY, wechat_pay_sign};
pub use wechat::{openid_for, unionid_for};

/// Who the simulated services believe they are talking to: one merchant, one mini program.
#[derive(Clone)]
pub struct SimulatorConfig {
    /// The only merchantID the simulated 2C2P accepts, and the one its answers and notifications carry.
    pub merchant_id: String,
    /// The 2C2P secret key: signs every envelope and inquiry hashValue, and must verify what the backend sends.
    pub secret_key: String,
    /// The only appid (and SecurePay `appID`) accepted, so a backend sending the wrong mini program is caught.
    pub app_id: String,
    /// The AppSecret `jscode2session` must be called with; any other gets errcode 40125.
    pub app_secret: String,
    /// Where notifications go until [`Simulator::set_notify_url`] changes it.
    pub notify_url: String,
}

impl fmt::Debug for SimulatorConfig {
    // Secrets must never reach a log line, even through a stray `{:?}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatorConfig")
            .field("merchant_id", &self.merchant_id)
            .field("secret_key", &"<redacted>")
            .field("app_id", &self.app_id)
            .field("app_secret", &"<redacted>")
            .field("notify_url", &self.notify_url)
            .finish()
    }
}

/// A misbehaviour to inject, so tests can drive every failure path of a client.
///
/// SecurePay (`Payment.aspx`) honours them all. WeChat honours `Delay`, `Http500`, `Garbage` and
/// `MissingWechatData` (a success answer without `openid`); it ignores `BadSignature` and `Reject`, which
/// have no WeChat meaning. The inquiry honours `Delay`, `Http500`, `Garbage`, `BadSignature` (a
/// hashValue made with another key) and `Reject` (respCode `99`, nothing about the invoice); it ignores
/// `MissingWechatData`. `/sandbox/pay` ignores faults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then answer normally (a long one plays a hung service).
    Delay(Duration),
    /// Answer HTTP 500 with a plain-text body; nothing is created.
    Http500,
    /// Answer 200 with a body that is not the expected format; nothing is created.
    Garbage,
    /// Process normally (the payment is created), but sign the answer with another key.
    BadSignature,
    /// respCode 32 without `miniProgramData` (the payment is created).
    MissingWechatData,
    /// respCode 99, status F, failReason "Simulated rejection"; nothing is created.
    Reject,
}

/// What the user does in the simulated WeChat payment sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayResult {
    /// The user confirms: 2C2P notifies respCode `000`, status `A`, and the order becomes paid.
    Success,
    /// The user declines: 2C2P notifies respCode `99`, status `F`; an already paid order stays paid.
    Fail,
}

/// Why a sandbox payment could not be played.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimError {
    /// Neither an invoiceNo nor a prepay_id of any created attempt matches the key (`/sandbox/pay` answers 404).
    #[error("no attempt has invoiceNo or prepay_id {0}")]
    UnknownKey(String),
    /// The result was recorded, but the post got no HTTP answer (refused, timed out): `/sandbox/pay` answers 502.
    #[error("the notification could not be posted to the notify URL: {0}")]
    NotifyFailed(String),
}

/// Where a created WeChat order stands, as the inquiry reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaymentState {
    Created,
    Paid,
    Failed,
}

/// What a test made the inquiry answer for one invoice, whatever the simulated payment's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InquiryAnswer {
    pub status: String,
    pub amount: String,
}

/// A WeChat order the simulated 2C2P created for one attempt.
#[derive(Debug, Clone)]
pub(crate) struct SimPayment {
    pub invoice_no: String,
    pub prepay_id: String,
    pub merchant_id: String,
    pub amt: String,
    pub currency_code: String,
    pub user_defined: [String; 5],
    pub tran_ref: String,
    pub state: PaymentState,
    /// When each result was first notified, so that the same result always yields the same envelope.
    pub success_at: Option<String>,
    pub fail_at: Option<String>,
}

#[derive(Default)]
pub(crate) struct Payments {
    by_invoice: HashMap<String, SimPayment>,
    invoice_by_prepay_id: HashMap<String, String>,
}

impl Payments {
    pub fn contains(&self, invoice: &str) -> bool {
        self.by_invoice.contains_key(invoice)
    }

    pub fn insert(&mut self, payment: SimPayment) {
        self.invoice_by_prepay_id.insert(payment.prepay_id.clone(), payment.invoice_no.clone());
        self.by_invoice.insert(payment.invoice_no.clone(), payment);
    }

    pub fn get(&self, invoice: &str) -> Option<&SimPayment> {
        self.by_invoice.get(invoice)
    }

    /// By invoiceNo first, then by prepay_id.
    pub fn find_mut(&mut self, key: &str) -> Option<&mut SimPayment> {
        if self.by_invoice.contains_key(key) {
            return self.by_invoice.get_mut(key);
        }
        let invoice = self.invoice_by_prepay_id.get(key)?.clone();
        self.by_invoice.get_mut(&invoice)
    }
}

/// Random-looking but unique identifiers: SHA-256 of a per-instance random seed and a counter.
pub(crate) struct Ids {
    seed: [u8; 32],
    counter: AtomicU64,
}

impl Ids {
    fn new() -> Self {
        let mut seed = [0u8; 32];
        if getrandom::fill(&mut seed).is_err() {
            // Uniqueness within one instance comes from the counter; the seed only varies ids across runs.
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            seed = Sha256::digest(nanos.as_nanos().to_le_bytes()).into();
        }
        Self { seed, counter: AtomicU64::new(0) }
    }

    pub fn next(&self, label: &str) -> [u8; 32] {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut hasher = Sha256::new();
        hasher.update(self.seed);
        hasher.update(label.as_bytes());
        hasher.update(n.to_le_bytes());
        hasher.finalize().into()
    }
}

pub(crate) struct Inner {
    pub config: SimulatorConfig,
    pub notify_url: Mutex<String>,
    pub payments: Mutex<Payments>,
    pub securepay_fault: Mutex<Option<Fault>>,
    pub wechat_fault: Mutex<Option<Fault>>,
    pub securepay_calls: AtomicUsize,
    pub inquiry_fault: Mutex<Option<Fault>>,
    pub inquiry_answers: Mutex<HashMap<String, InquiryAnswer>>,
    pub inquiry_calls: AtomicUsize,
    pub inquiries_in_flight: AtomicUsize,
    pub max_inquiries_in_flight: AtomicUsize,
    pub last_request: Mutex<Option<PaymentRequest>>,
    pub ids: Ids,
    pub http: reqwest::Client,
}

/// The simulated services. Cheap to clone: every clone shares one state.
#[derive(Clone)]
pub struct Simulator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // No critical section here can leave its data half-written, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A `text/plain` answer, which is how both WeChat and 2C2P label their bodies.
pub(crate) fn text(status: StatusCode, content_type: &'static str, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, content_type)], body.into()).into_response()
}

/// 2C2P's `ddMMyyHHmmss` (timeStamp, dateTime) for now, in UTC.
pub(crate) fn pgw_now() -> String {
    protocol::timestamp::pgw_timestamp(time::OffsetDateTime::now_utc().unix_timestamp())
}

/// The contract's error body.
pub(crate) fn error_json(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": code, "message": message}}))).into_response()
}

impl Simulator {
    /// Fresh simulated services with no payments, no faults and counters at zero.
    pub fn new(config: SimulatorConfig) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_else(|error| {
                tracing::warn!(%error, "simulator HTTP client falls back to defaults");
                reqwest::Client::new()
            });
        let notify_url = Mutex::new(config.notify_url.clone());
        Self {
            inner: Arc::new(Inner {
                config,
                notify_url,
                payments: Mutex::new(Payments::default()),
                securepay_fault: Mutex::new(None),
                wechat_fault: Mutex::new(None),
                securepay_calls: AtomicUsize::new(0),
                inquiry_fault: Mutex::new(None),
                inquiry_answers: Mutex::new(HashMap::new()),
                inquiry_calls: AtomicUsize::new(0),
                inquiries_in_flight: AtomicUsize::new(0),
                max_inquiries_in_flight: AtomicUsize::new(0),
                last_request: Mutex::new(None),
                ids: Ids::new(),
                http,
            }),
        }
    }

    /// All four routes, ready to be merged at the root of a server.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/wechat/sns/jscode2session", get(wechat::jscode2session))
            .route("/2c2p/SecurePayment/Payment.aspx", post(securepay::payment))
            .route("/2c2p/PaymentActionV2/PaymentProcess.aspx", post(inquiry::process))
            .route("/sandbox/pay/{key}", post(notification::sandbox_pay))
            .with_state(self.clone())
    }

    /// Serves the router on 127.0.0.1 at a free port, for tests that reach it over real HTTP.
    pub async fn spawn(self) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = self.router();
        let handle = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "simulator stopped serving");
            }
        });
        Ok((addr, handle))
    }

    /// Where later notifications go (the sandbox learns its own address only once bound).
    pub fn set_notify_url(&self, url: &str) {
        *lock(&self.inner.notify_url) = url.to_owned();
    }

    /// The fault SecurePay plays from now on; `None` restores normal service.
    pub fn set_securepay_fault(&self, fault: Option<Fault>) {
        *lock(&self.inner.securepay_fault) = fault;
    }

    /// The fault WeChat plays from now on; `None` restores normal service.
    pub fn set_wechat_fault(&self, fault: Option<Fault>) {
        *lock(&self.inner.wechat_fault) = fault;
    }

    /// The fault the inquiry endpoint plays from now on; `None` restores normal service.
    pub fn set_inquiry_fault(&self, fault: Option<Fault>) {
        *lock(&self.inner.inquiry_fault) = fault;
    }

    /// How many SecurePay requests arrived, valid or not, so a test can prove 2C2P was not called again.
    pub fn securepay_calls(&self) -> usize {
        self.inner.securepay_calls.load(Ordering::SeqCst)
    }

    /// How many inquiries arrived, valid, refused or faulted alike.
    pub fn inquiry_calls(&self) -> usize {
        self.inner.inquiry_calls.load(Ordering::SeqCst)
    }

    /// How many inquiries are being answered right now.
    pub fn inquiries_in_flight(&self) -> usize {
        self.inner.inquiries_in_flight.load(Ordering::SeqCst)
    }

    /// The most inquiries ever answered at the same time, so a test can check a client's concurrency bound.
    pub fn max_inquiries_in_flight(&self) -> usize {
        self.inner.max_inquiries_in_flight.load(Ordering::SeqCst)
    }

    /// Makes every trusted inquiry for `invoice_no` answer respCode `00` with this `status` and `amount`
    /// text as given (`"AL"`, `"12.50"`), even for an invoice the simulator never saw. The rest of the
    /// answer still comes from the simulated payment when there is one.
    pub fn set_inquiry_answer(&self, invoice_no: &str, status: &str, amount: &str) {
        let answer = InquiryAnswer { status: status.to_owned(), amount: amount.to_owned() };
        lock(&self.inner.inquiry_answers).insert(invoice_no.to_owned(), answer);
    }

    /// Goes back to answering `invoice_no` from the simulated payment's state.
    pub fn clear_inquiry_answer(&self, invoice_no: &str) {
        lock(&self.inner.inquiry_answers).remove(invoice_no);
    }

    /// The last SecurePay request whose signature held, so a test can check what the backend sent.
    pub fn last_payment_request(&self) -> Option<PaymentRequest> {
        lock(&self.inner.last_request).clone()
    }

    /// The stable openid simulated WeChat gives the code `sandbox-<name>` (same as [`openid_for`]).
    pub fn openid_for(&self, name: &str) -> String {
        openid_for(name)
    }

    /// The signed `paymentResponse` value 2C2P would post for `key` (an invoiceNo or a prepay_id).
    ///
    /// It changes no state, and the same key and result always give the same envelope, so posting it
    /// again is an exact replay.
    pub fn notification_envelope(&self, key: &str, result: PayResult) -> Result<String, SimError> {
        notification::envelope(self, key, result, false)
    }

    /// Plays the user paying (or declining) in WeChat, then posts 2C2P's signed notification to the
    /// notify URL; returns the HTTP status the notify URL answered.
    ///
    /// The simulated order records the result even when the post fails, as WeChat would: a success
    /// makes it paid (also after a failure: late money is real money), and a paid order stays paid.
    /// Paying twice re-sends the same notification, a replay.
    pub async fn pay(&self, key: &str, result: PayResult) -> Result<u16, SimError> {
        notification::pay(self, key, result).await
    }

    /// Plays the user paying (or declining) like [`Self::pay`], but 2C2P's notification is lost: nothing
    /// is posted, and only an inquiry (or a later [`Self::pay`], which sends the same notification) can
    /// tell the backend.
    pub fn pay_without_notify(&self, key: &str, result: PayResult) -> Result<(), SimError> {
        notification::envelope(self, key, result, true)?;
        tracing::debug!(key, ?result, "notification lost on purpose");
        Ok(())
    }

    pub(crate) fn key(&self) -> &[u8] {
        self.inner.config.secret_key.as_bytes()
    }
}
