//! Simulated 2C2P SecurePay 9.9 server-to-server payment (`POST /SecurePayment/Payment.aspx`), WCMINI only.
//!
//! Every answer is HTTP 200 with the bare base64 of a signed `<PaymentResponse>` envelope, as 2C2P sends
//! it: respCode `32`, status `AP`, "Completed Partially" and the `wx.requestPayment` object when the WeChat
//! order was created; respCode `99`, status `F` and a failReason naming the problem otherwise. A request
//! with a bad signature is answered signed with the merchant key as well (the sandbox contract's choice).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use hmac::{Hmac, KeyInit, Mac};
use protocol::description::{FORBIDDEN_SYMBOLS, MAX_DESC_CHARS};
use protocol::envelope::{self, EnvelopeError, FormError};
use protocol::money::{AmountError, Currency, from_pgw_amt};
use protocol::securepay::{PaymentRequest, PaymentResponse, ResponseMiniProgramData, WCMINI};
use serde_json::json;
use sha2::Sha256;

use crate::{Fault, PaymentState, SimPayment, Simulator, lock, pgw_now, text};

const CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The key simulated WeChat Pay signs `paySign` with; public so a test can check a `paySign`.
pub const WECHAT_PAY_KEY: &str = "sandbox-wechat-pay-key";

/// What [`Fault::BadSignature`] signs (and hashes inquiry answers) with: anything but the merchant key.
pub(crate) const WRONG_KEY: &[u8] = b"not-the-merchant-secret-key";

/// WeChat Pay v2's HMAC-SHA256 `paySign`: the parameters sorted by name, `&key=` appended, uppercase hex.
pub fn wechat_pay_sign(app_id: &str, time_stamp: &str, nonce_str: &str, package: &str) -> String {
    let text = format!(
        "appId={app_id}&nonceStr={nonce_str}&package={package}&signType=HMAC-SHA256&timeStamp={time_stamp}&key={WECHAT_PAY_KEY}"
    );
    // HMAC accepts keys of any length, so this constructor cannot fail; an empty string is never reached.
    let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(WECHAT_PAY_KEY.as_bytes()) else {
        return String::new();
    };
    mac.update(text.as_bytes());
    hex::encode_upper(mac.finalize().into_bytes())
}

pub(crate) async fn payment(State(sim): State<Simulator>, headers: HeaderMap, body: Bytes) -> Response {
    sim.inner.securepay_calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let fault = lock(&sim.inner.securepay_fault).clone();
    if let Some(Fault::Delay(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::Http500) => return text(StatusCode::INTERNAL_SERVER_ERROR, CONTENT_TYPE, "Internal Server Error"),
        Some(Fault::Garbage) => {
            return text(StatusCode::OK, CONTENT_TYPE, "<html><body>Service Unavailable</body></html>");
        }
        _ => {}
    }
    let answer = sim.answer_payment(&headers, &body, fault.as_ref());
    tracing::debug!(
        invoice = %answer.unique_transaction_code,
        resp_code = %answer.resp_code,
        fail_reason = %answer.fail_reason,
        "SecurePay answered"
    );
    let key = if fault == Some(Fault::BadSignature) { WRONG_KEY } else { sim.key() };
    text(StatusCode::OK, CONTENT_TYPE, answer.seal(key))
}

/// True for `application/x-www-form-urlencoded`, with or without parameters: ASP.NET reads a form only then.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

/// A base64 form field read as strictly as 2C2P's ASP.NET front end reads it.
///
/// `protocol::envelope::base64_form_field` mends a `+` a sender forgot to percent-encode (it arrives as a
/// space); 2C2P would not, so a space in the raw value is refused here to expose that sender bug.
pub(crate) fn strict_base64_field(headers: &HeaderMap, body: &[u8], field: &'static str) -> Result<String, String> {
    if !is_form(headers) {
        return Err("Invalid request: not a form post (application/x-www-form-urlencoded)".into());
    }
    let value = envelope::base64_form_field(body, field).map_err(|error| match error {
        FormError::NotForm => "Invalid request: body is not form data".to_owned(),
        FormError::MissingField(_) => format!("Invalid request: no {field} field"),
    })?;
    let raw: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    if raw.iter().any(|(name, raw_value)| name == field && raw_value.trim().contains(' ')) {
        return Err(format!("Invalid request: {field} is not base64 (a '+' was not percent-encoded)"));
    }
    Ok(value)
}

impl Simulator {
    fn answer_payment(&self, headers: &HeaderMap, body: &[u8], fault: Option<&Fault>) -> PaymentResponse {
        let request = match self.read_request(headers, body) {
            Ok(request) => request,
            Err(reason) => return self.refusal(None, &reason),
        };
        *lock(&self.inner.last_request) = Some(request.clone());
        if fault == Some(&Fault::Reject) {
            return self.refusal(Some(&request), "Simulated rejection");
        }
        if let Err(reason) = self.check(&request) {
            return self.refusal(Some(&request), &reason);
        }
        match self.create(&request) {
            Ok(payment) => self.created(&request, &payment, fault != Some(&Fault::MissingWechatData)),
            Err(reason) => self.refusal(Some(&request), &reason),
        }
    }

    /// Transport, envelope, signature, version and inner XML, in the order 2C2P must check them.
    fn read_request(&self, headers: &HeaderMap, body: &[u8]) -> Result<PaymentRequest, String> {
        let field = strict_base64_field(headers, body, "paymentRequest")?;
        let verified = envelope::open(&field, self.key()).map_err(|error| match error {
            EnvelopeError::NotBase64 => "Invalid request: paymentRequest is not base64".to_owned(),
            EnvelopeError::NotXml(_) => "Invalid request: paymentRequest is not an XML envelope".to_owned(),
            EnvelopeError::MissingElement(name) => format!("Invalid request: envelope has no {name}"),
            EnvelopeError::BadSignature => "Invalid signature".to_owned(),
            other => format!("Invalid request: {other}"),
        })?;
        if verified.require_version().is_err() {
            return Err(format!("Invalid version {:?}: expected {}", verified.version(), envelope::API_VERSION));
        }
        let xml = verified.decode_payload().map_err(|error| format!("Invalid payload: {error}"))?;
        PaymentRequest::from_xml(&xml).map_err(|error| format!("Invalid payload: {error}"))
    }

    /// The field rules, first failure wins; the duplicate check happens atomically in [`Self::create`].
    fn check(&self, request: &PaymentRequest) -> Result<(), String> {
        let config = &self.inner.config;
        if request.merchant_id != config.merchant_id {
            return Err(format!("Invalid merchantID {:?}", request.merchant_id));
        }
        if request.time_stamp.len() != 12 || !request.time_stamp.bytes().all(|b| b.is_ascii_digit()) {
            return Err("Invalid timeStamp: must be 12 digits (ddMMyyHHmmss)".into());
        }
        let invoice = &request.unique_transaction_code;
        if invoice.is_empty() || invoice.len() > 20 {
            return Err("Invalid uniqueTransactionCode: must be 1 to 20 characters".into());
        }
        if !invoice.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("Invalid uniqueTransactionCode: letters and digits only".into());
        }
        let desc_chars = request.desc.chars().count();
        if desc_chars == 0 || desc_chars > MAX_DESC_CHARS {
            return Err(format!("Invalid desc: must be 1 to {MAX_DESC_CHARS} characters"));
        }
        if let Some(symbol) = request.desc.chars().find(|c| FORBIDDEN_SYMBOLS.contains(c)) {
            return Err(format!("Invalid desc: forbidden symbol {symbol:?}"));
        }
        match from_pgw_amt(&request.amt) {
            Ok(_) => {}
            Err(AmountError::Zero) => return Err("Invalid amt: must be greater than zero".into()),
            Err(_) => return Err("Invalid amt: must be exactly 12 digits".into()),
        }
        if Currency::from_numeric(&request.currency_code).is_none() {
            return Err(format!("Invalid currencyCode {:?}: not a known ISO 4217 numeric code", request.currency_code));
        }
        if request.payment_channel != WCMINI {
            return Err(format!("Invalid paymentChannel {:?}: expected {WCMINI}", request.payment_channel));
        }
        let payer = &request.mini_program_data.wechat;
        if payer.app_id != config.app_id {
            return Err(format!("Invalid appID {:?}", payer.app_id));
        }
        if payer.open_id.is_empty() {
            return Err("Invalid openID: empty".into());
        }
        Ok(())
    }

    /// Records the WeChat order, refusing an invoice number already used (check and insert under one lock).
    fn create(&self, request: &PaymentRequest) -> Result<SimPayment, String> {
        let mut payments = lock(&self.inner.payments);
        if payments.contains(&request.unique_transaction_code) {
            return Err("Duplicate uniqueTransactionCode".into());
        }
        let ids = &self.inner.ids;
        let prepay_suffix = hex::encode(&ids.next("prepay_id")[..10]);
        let started = time::OffsetDateTime::now_utc();
        let format = time::macros::format_description!("[year][month][day][hour][minute][second]");
        let prepay_id = format!("wx{}{prepay_suffix}", started.format(&format).unwrap_or_default());
        let tran_ref = ids.next("tranRef")[..8].iter().fold(0u64, |n, b| n * 256 + u64::from(*b)) % 90_000_000;
        let defined = [
            &request.user_defined1,
            &request.user_defined2,
            &request.user_defined3,
            &request.user_defined4,
            &request.user_defined5,
        ];
        let payment = SimPayment {
            invoice_no: request.unique_transaction_code.clone(),
            prepay_id,
            merchant_id: request.merchant_id.clone(),
            amt: request.amt.clone(),
            currency_code: request.currency_code.clone(),
            user_defined: defined.map(|d| d.clone().unwrap_or_default()),
            tran_ref: (10_000_000 + tran_ref).to_string(),
            state: PaymentState::Created,
            success_at: None,
            fail_at: None,
        };
        payments.insert(payment.clone());
        Ok(payment)
    }

    /// respCode 32: the WeChat order exists, here are the `wx.requestPayment` parameters.
    fn created(&self, request: &PaymentRequest, payment: &SimPayment, with_wechat_data: bool) -> PaymentResponse {
        let now = pgw_now();
        let time_stamp = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
        let nonce_str: String = self.inner.ids.next("nonceStr").iter().map(|b| alphanumeric(*b)).collect();
        let package = format!("prepay_id={}", payment.prepay_id);
        let pay_sign = wechat_pay_sign(&self.inner.config.app_id, &time_stamp, &nonce_str, &package);
        let wechat = json!({
            "timeStamp": time_stamp,
            "nonceStr": nonce_str,
            "package": package,
            "signType": "HMAC-SHA256",
            "paySign": pay_sign,
        });
        PaymentResponse {
            time_stamp: now.clone(),
            resp_code: "32".into(),
            tran_ref: payment.tran_ref.clone(),
            date_time: now,
            status: "AP".into(),
            fail_reason: "Completed Partially".into(),
            mini_program_data: with_wechat_data.then(|| ResponseMiniProgramData { wechat: wechat.to_string() }),
            ..self.echo(Some(request))
        }
    }

    /// respCode 99, status F: what 2C2P answers a request it will not process.
    fn refusal(&self, request: Option<&PaymentRequest>, reason: &str) -> PaymentResponse {
        PaymentResponse {
            time_stamp: pgw_now(),
            resp_code: "99".into(),
            status: "F".into(),
            fail_reason: reason.into(),
            ..self.echo(request)
        }
    }

    /// The request fields 2C2P echoes in its answer.
    fn echo(&self, request: Option<&PaymentRequest>) -> PaymentResponse {
        let mut echo = PaymentResponse {
            merchant_id: self.inner.config.merchant_id.clone(),
            payment_channel: WCMINI.into(),
            ..PaymentResponse::default()
        };
        if let Some(request) = request {
            echo.amt = request.amt.clone();
            echo.unique_transaction_code = request.unique_transaction_code.clone();
            echo.currency_code = request.currency_code.clone();
            echo.payment_channel = request.payment_channel.clone();
            echo.user_defined1 = request.user_defined1.clone().unwrap_or_default();
            echo.user_defined2 = request.user_defined2.clone().unwrap_or_default();
            echo.user_defined3 = request.user_defined3.clone().unwrap_or_default();
            echo.user_defined4 = request.user_defined4.clone().unwrap_or_default();
            echo.user_defined5 = request.user_defined5.clone().unwrap_or_default();
        }
        echo
    }
}

/// Maps a byte to one of 62 letters and digits (a slight bias is irrelevant for a nonce in a simulator).
fn alphanumeric(byte: u8) -> char {
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    char::from(ALPHABET[usize::from(byte) % ALPHABET.len()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pay_sign_is_64_uppercase_hex_and_depends_on_every_field() {
        let sign = wechat_pay_sign("wx1", "1700000000", "nonce", "prepay_id=wx2");
        assert_eq!(sign.len(), 64);
        assert!(sign.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()));
        assert_ne!(sign, wechat_pay_sign("wx1", "1700000001", "nonce", "prepay_id=wx2"));
        assert_ne!(sign, wechat_pay_sign("wx1", "1700000000", "nonce", "prepay_id=wx3"));
    }

    #[test]
    fn form_content_type_is_recognised_with_parameters() {
        let mut headers = HeaderMap::new();
        assert!(!is_form(&headers));
        headers.insert(header::CONTENT_TYPE, "Application/X-WWW-Form-Urlencoded; charset=UTF-8".parse().unwrap());
        assert!(is_form(&headers));
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert!(!is_form(&headers));
    }
}
