//! HTTP clients for 2C2P and WeChat: built once, with connect and total timeouts well inside the
//! Lambda timeout. Errors never carry a URL (WeChat's carries the app secret) or a raw body.

use std::time::Duration;

use protocol::inquiry::{InquiryError, InquiryRequest, InquiryResponse};
use protocol::securepay::{MessageError, PaymentRequest, PaymentResponse};
use protocol::wechat::{Code2Session, Code2SessionError, parse_code2session};
use thiserror::Error;

use crate::secret::Secret;

/// Connecting must be quick; an upstream that cannot take the connection in 2 s is down for us.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Whole call, well inside the 10-15 s Lambda timeouts, so we can still record the failure and answer.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(8);

/// An upstream call that did not give us a usable answer. Each kind maps to its contract error.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpstreamError {
    /// No answer before the client's timeout or the request's deadline: 504 `upstream_timeout`.
    #[error("{0} did not answer in time")]
    Timeout(&'static str),
    /// The connection failed: the service is down for us.
    #[error("{0} could not be reached")]
    Unreachable(&'static str),
    /// An HTTP error status; the body is not read, it may quote what we sent.
    #[error("{service} answered HTTP {status}")]
    HttpStatus {
        /// Which service ([`PGW`] or [`WECHAT`]).
        service: &'static str,
        /// The HTTP status it answered.
        status: u16,
    },
    /// A body we could not read as the service's format.
    #[error("{service} answered something unreadable: {reason}")]
    Garbage {
        /// Which service ([`PGW`] or [`WECHAT`]).
        service: &'static str,
        /// What was wrong with it, never the body itself.
        reason: String,
    },
    /// Signed, but not with our key: never trusted.
    #[error("{0} answered with a signature that does not match")]
    BadSignature(&'static str),
}

/// 2C2P's name in errors, logs and metrics.
pub const PGW: &str = "2C2P";
/// WeChat's name in errors, logs and metrics.
pub const WECHAT: &str = "WeChat";

/// The HTTP client could not be built (its TLS set-up failed): the function must not start, since a
/// default client would run without our timeouts.
#[derive(Debug, Error)]
#[error("the HTTP client could not be built: {0}")]
pub struct ClientBuildError(String);

/// One HTTP client for every outbound call of a function, on the compiled-in roots of [`crate::tls`].
pub fn http_client() -> Result<reqwest::Client, ClientBuildError> {
    http_client_with(CONNECT_TIMEOUT, TOTAL_TIMEOUT)
}

/// The same client with other timeouts (tests use short ones to see a timeout without waiting 8 s).
pub fn http_client_with(connect: Duration, total: Duration) -> Result<reqwest::Client, ClientBuildError> {
    let tls = crate::tls::client_config().map_err(|e| ClientBuildError(e.to_string()))?;
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(connect)
        .timeout(total)
        .user_agent(concat!("wechat-2c2p-payments/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ClientBuildError(e.to_string()))
}

fn transport_error(service: &'static str, error: &reqwest::Error) -> UpstreamError {
    if error.is_timeout() { UpstreamError::Timeout(service) } else { UpstreamError::Unreachable(service) }
}

async fn post_form(
    http: &reqwest::Client,
    service: &'static str,
    url: &str,
    body: String,
) -> Result<String, UpstreamError> {
    let response = http
        .post(url)
        .header(http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| transport_error(service, &e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(UpstreamError::HttpStatus { service, status: status.as_u16() });
    }
    response.text().await.map_err(|e| transport_error(service, &e))
}

/// 2C2P SecurePay and Payment Action.
#[derive(Clone)]
pub struct PgwClient {
    http: reqwest::Client,
    payment_url: String,
    action_url: String,
    merchant_id: String,
    keys: PgwKeys,
}

/// 2C2P's keys: requests are signed with the current one; answers signed with the previous one
/// (during a rotation) still verify.
#[derive(Clone, Debug)]
pub struct PgwKeys {
    /// Signs every request, and verifies first.
    pub current: Secret,
    /// The key before a rotation: verifies answers and notifications only.
    pub previous: Option<Secret>,
}

impl PgwKeys {
    /// The keys of `PGW_SECRET_KEY` and `PGW_SECRET_KEY_PREVIOUS`.
    pub fn new(current: Secret, previous: Option<Secret>) -> Self {
        Self { current, previous }
    }

    /// The keys to verify with, current first.
    pub fn verifying(&self) -> Vec<&[u8]> {
        std::iter::once(&self.current).chain(self.previous.as_ref()).map(|k| k.expose().as_bytes()).collect()
    }
}

/// An inquiry answer, verified, and its raw text for the audit trail.
#[derive(Clone)]
pub struct InquiryAnswer {
    /// The answer's fields, its hash checked.
    pub response: InquiryResponse,
    /// The answer exactly as received, for the audit trail.
    pub raw: String,
}

/// Written by hand: the whole signed answer never reaches a log.
impl std::fmt::Debug for InquiryAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InquiryAnswer")
            .field("response", &self.response)
            .field("raw", &protocol::envelope::NotShown(&self.raw))
            .finish()
    }
}

impl PgwClient {
    /// A client for one merchant's SecurePay and Payment Action endpoints, over the shared HTTP client.
    pub fn new(http: reqwest::Client, payment_url: &str, action_url: &str, merchant_id: &str, keys: PgwKeys) -> Self {
        Self {
            http,
            payment_url: payment_url.to_owned(),
            action_url: action_url.to_owned(),
            merchant_id: merchant_id.to_owned(),
            keys,
        }
    }

    /// Sends a signed WCMINI payment request; the answer's signature is checked before it is read.
    pub async fn create_payment(&self, request: &PaymentRequest) -> Result<PaymentResponse, UpstreamError> {
        let body = request.to_form_body(self.keys.current.expose().as_bytes());
        let answer = post_form(&self.http, PGW, &self.payment_url, body).await?;
        PaymentResponse::open(answer.trim(), self.keys.current.expose().as_bytes()).map_err(|e| match e {
            MessageError::Envelope(protocol::envelope::EnvelopeError::BadSignature) => UpstreamError::BadSignature(PGW),
            other => UpstreamError::Garbage { service: PGW, reason: other.to_string() },
        })
    }

    /// Asks 2C2P for an invoice's state (Payment Action 3.4 inquiry); the answer's hash is checked
    /// against the current and the previous key.
    pub async fn inquire(&self, invoice_no: &str) -> Result<InquiryAnswer, UpstreamError> {
        let request = InquiryRequest::new(&self.merchant_id, invoice_no, self.keys.current.expose().as_bytes());
        let answer = post_form(&self.http, PGW, &self.action_url, request.to_form_body()).await?;
        let raw = answer.trim();
        let response = InquiryResponse::open_with_keys(raw, &self.keys.verifying()).map_err(|e| match e {
            InquiryError::BadHash | InquiryError::MissingHash => UpstreamError::BadSignature(PGW),
            other => UpstreamError::Garbage { service: PGW, reason: other.to_string() },
        })?;
        Ok(InquiryAnswer { response, raw: raw.to_owned() })
    }
}

/// Why a login failed: WeChat's own refusal, or no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LoginError {
    /// WeChat answered and said no (an invalid code, a blocked user, its rate limit...).
    #[error(transparent)]
    Refused(Code2SessionError),
    /// WeChat gave no usable answer.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

/// WeChat's jscode2session.
#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    api_url: String,
    app_id: String,
    app_secret: Secret,
}

impl WechatClient {
    /// A client for one mini program's code2Session, over the shared HTTP client.
    pub fn new(http: reqwest::Client, api_url: &str, app_id: &str, app_secret: Secret) -> Self {
        Self { http, api_url: api_url.trim_end_matches('/').to_owned(), app_id: app_id.to_owned(), app_secret }
    }

    /// Exchanges a `wx.login` code for the user's openid. The body is read as JSON whatever its type.
    pub async fn code2session(&self, code: &str) -> Result<Code2Session, LoginError> {
        let url = format!("{}/sns/jscode2session", self.api_url);
        let query = [
            ("appid", self.app_id.as_str()),
            ("secret", self.app_secret.expose()),
            ("js_code", code),
            ("grant_type", "authorization_code"),
        ];
        let response = self.http.get(url).query(&query).send().await.map_err(|e| transport_error(WECHAT, &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(UpstreamError::HttpStatus { service: WECHAT, status: status.as_u16() }.into());
        }
        let body = response.bytes().await.map_err(|e| transport_error(WECHAT, &e))?;
        parse_code2session(&body).map_err(|e| match e {
            Code2SessionError::NotJson | Code2SessionError::MissingOpenid => {
                UpstreamError::Garbage { service: WECHAT, reason: e.to_string() }.into()
            }
            refused => LoginError::Refused(refused),
        })
    }
}
