//! SecurePay 9.9 messages for the WeChat Mini Program channel (`WCMINI`).
//!
//! Requests are built and responses read by quick-xml through serde: every value is escaped by the
//! library, unknown response elements are ignored, and text is trimmed.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::envelope::{self, EnvelopeError};

/// The payment channel this backend uses.
pub const WCMINI: &str = "WCMINI";

/// The five keys `wx.requestPayment` needs, all strings.
pub const WX_PAYMENT_KEYS: [&str; 5] = ["timeStamp", "nonceStr", "package", "signType", "paySign"];

/// Why an inner SecurePay document could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MessageError {
    /// The outer envelope failed (encoding, signature or version), so the payload was never read.
    #[error(transparent)]
    Envelope(#[from] EnvelopeError),
    /// The signed payload is not a message document quick-xml can read; carries the reason.
    #[error("payload is not a readable XML message: {0}")]
    NotXml(String),
    /// A field the caller needs (named) is empty or absent, such as `miniProgramData/wechat` after respCode 32.
    #[error("message has no {0}")]
    MissingField(&'static str),
    /// `miniProgramData/wechat` is not a JSON object, so there is nothing to hand to `wx.requestPayment`.
    #[error("miniProgramData/wechat is not a JSON object")]
    WechatNotJson,
    /// One of the five `wx.requestPayment` keys (named) is absent or not a string, so the payment cannot start.
    #[error("miniProgramData/wechat has no string {0}")]
    WechatKeyMissing(&'static str),
}

/// `miniProgramData/wechat` in a request: who pays, in which mini program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WechatPayer {
    /// The mini program's appID, the same one `jscode2session` was called with.
    #[serde(rename = "appID", default)]
    pub app_id: String,
    /// The payer's openid under that appID, as `jscode2session` returned it.
    #[serde(rename = "openID", default)]
    pub open_id: String,
}

/// The `<miniProgramData>` element 2C2P nests the payer in; it exists to give the XML its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestMiniProgramData {
    /// The payer, written as `<wechat><appID/><openID/></wechat>`.
    pub wechat: WechatPayer,
}

/// The inner `<PaymentRequest>` of a WCMINI payment, fields in 2C2P's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "PaymentRequest", rename_all = "camelCase")]
pub struct PaymentRequest {
    /// ddMMyyHHmmss.
    pub time_stamp: String,
    /// Our 2C2P merchant ID; the secret key that signs the envelope belongs to it.
    #[serde(rename = "merchantID")]
    pub merchant_id: String,
    /// The attempt's invoice number: at most 20 letters and digits.
    pub unique_transaction_code: String,
    /// Already cleaned by [`crate::description::clean_description`].
    pub desc: String,
    /// 12 digits, see [`crate::money::to_pgw_amt`].
    pub amt: String,
    /// ISO 4217 numeric, 3 digits.
    pub currency_code: String,
    /// A card field of 2C2P's list, left out for WCMINI; read when a sender includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pan_country: Option<String>,
    /// Another card field, left out for WCMINI; read when a sender includes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cardholder_name: Option<String>,
    /// The 2C2P channel to use: [`WCMINI`], which makes 2C2P answer with `wx.requestPayment` parameters.
    pub payment_channel: String,
    /// Free text 2C2P echoes back; the backend puts the order id here so 2C2P's reports show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_defined1: Option<String>,
    /// Free text 2C2P echoes back, like `userDefined1`; unused by this backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_defined2: Option<String>,
    /// Free text 2C2P echoes back, like `userDefined1`; unused by this backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_defined3: Option<String>,
    /// Free text 2C2P echoes back, like `userDefined1`; unused by this backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_defined4: Option<String>,
    /// Free text 2C2P echoes back, like `userDefined1`; unused by this backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_defined5: Option<String>,
    /// yyyy-MM-dd HH:mm:ss, when 2C2P should stop accepting the payment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_expiry: Option<String>,
    /// Who pays, in which mini program: what lets 2C2P create the WeChat order for this user.
    pub mini_program_data: RequestMiniProgramData,
}

/// The fields every WCMINI request needs; the rest start empty and are set by name.
#[derive(Debug, Clone, Copy)]
pub struct WcminiFields<'a> {
    /// The moment of the request, formatted ddMMyyHHmmss for `timeStamp`.
    pub time_stamp: &'a str,
    /// Our 2C2P merchant ID, for `merchantID`.
    pub merchant_id: &'a str,
    /// The attempt's invoice number, sent as `uniqueTransactionCode`: notifications and inquiries find it by that.
    pub invoice_no: &'a str,
    /// The order description, already cleaned by [`crate::description::clean_description`].
    pub desc: &'a str,
    /// The amount as 12 digits of minor units, from [`crate::money::to_pgw_amt`].
    pub amt: &'a str,
    /// The currency's ISO 4217 numeric code, as [`crate::money::Currency::numeric`] holds it.
    pub currency_code: &'a str,
    /// The mini program's appID, the one the user logged in with.
    pub app_id: &'a str,
    /// The payer's openid, from `jscode2session` for that appID.
    pub open_id: &'a str,
}

impl PaymentRequest {
    /// A WCMINI request with only what the payment needs; optional elements are left out.
    pub fn wcmini(fields: WcminiFields<'_>) -> Self {
        Self {
            time_stamp: fields.time_stamp.to_owned(),
            merchant_id: fields.merchant_id.to_owned(),
            unique_transaction_code: fields.invoice_no.to_owned(),
            desc: fields.desc.to_owned(),
            amt: fields.amt.to_owned(),
            currency_code: fields.currency_code.to_owned(),
            pan_country: None,
            cardholder_name: None,
            payment_channel: WCMINI.to_owned(),
            user_defined1: None,
            user_defined2: None,
            user_defined3: None,
            user_defined4: None,
            user_defined5: None,
            payment_expiry: None,
            mini_program_data: RequestMiniProgramData {
                wechat: WechatPayer { app_id: fields.app_id.to_owned(), open_id: fields.open_id.to_owned() },
            },
        }
    }

    /// The inner XML document.
    pub fn to_xml(&self) -> String {
        quick_xml::se::to_string(self).unwrap_or_default()
    }

    /// The full form body to POST to SecurePay: signed, enveloped and form-encoded.
    pub fn to_form_body(&self, key: &[u8]) -> String {
        envelope::request_form_body(&envelope::seal("PaymentRequest", &self.to_xml(), key))
    }

    /// Reads an inner `<PaymentRequest>` (what the simulated 2C2P receives).
    pub fn from_xml(xml: &str) -> Result<Self, MessageError> {
        let mut request: Self = quick_xml::de::from_str(xml).map_err(|e| MessageError::NotXml(e.to_string()))?;
        trim_all(&mut [
            &mut request.time_stamp,
            &mut request.merchant_id,
            &mut request.unique_transaction_code,
            &mut request.desc,
            &mut request.amt,
            &mut request.currency_code,
            &mut request.payment_channel,
            &mut request.mini_program_data.wechat.app_id,
            &mut request.mini_program_data.wechat.open_id,
        ]);
        Ok(request)
    }
}

/// `miniProgramData` in a response: the `wx.requestPayment` object as a JSON string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseMiniProgramData {
    /// The `wx.requestPayment` object as JSON text (escaped or CDATA in the XML); read it with
    /// [`PaymentResponse::wechat_payment`].
    #[serde(default)]
    pub wechat: String,
}

/// The inner `<PaymentResponse>` of a SecurePay answer or a backend notification.
///
/// Every observed field is kept as text (any may be empty); unknown elements are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "PaymentResponse", rename_all = "camelCase", default)]
pub struct PaymentResponse {
    /// When 2C2P produced the message, ddMMyyHHmmss; informational.
    pub time_stamp: String,
    /// The merchant the message is for; a notification for another merchant is refused.
    #[serde(rename = "merchantID")]
    pub merchant_id: String,
    /// The result code (`32`, `00`/`000`, `001`, `99`, ...), read with `status` by [`crate::outcome::classify`].
    pub resp_code: String,
    /// Masked card number, for card channels; nothing we act on for WCMINI.
    pub pan: String,
    /// The amount as 12 digits of minor units; read with [`crate::money::from_pgw_amt`] to check it against the order.
    pub amt: String,
    /// The invoice number we sent, which ties a notification to its attempt.
    pub unique_transaction_code: String,
    /// 2C2P's own transaction reference, for tracing a payment with 2C2P.
    pub tran_ref: String,
    /// The acquirer's approval code once paid; for tracing, not acted on.
    pub approval_code: String,
    /// A further reference from 2C2P or the acquirer; for tracing, not acted on.
    pub ref_number: String,
    /// 3-D Secure ECI of a card payment; nothing we act on for WCMINI.
    pub eci: String,
    /// When the transaction happened, in 2C2P's own format; informational.
    pub date_time: String,
    /// The transaction status (`A`, `AP`, `F`, ...), which refines respCode in [`crate::outcome::classify`].
    pub status: String,
    /// 2C2P's reason for a failure (a field of the wrong length, say), kept as the attempt's failure text.
    pub fail_reason: String,
    /// Echo of the request's `userDefined1`: the order id the backend put there.
    pub user_defined1: String,
    /// Echo of the request's `userDefined2`; unused by this backend.
    pub user_defined2: String,
    /// Echo of the request's `userDefined3`; unused by this backend.
    pub user_defined3: String,
    /// Echo of the request's `userDefined4`; unused by this backend.
    pub user_defined4: String,
    /// Echo of the request's `userDefined5`; unused by this backend.
    pub user_defined5: String,
    /// Instalment (IPP) period of a card instalment plan; unused by this backend.
    pub ipp_period: String,
    /// Instalment (IPP) interest type; unused by this backend.
    pub ipp_interest_type: String,
    /// Instalment (IPP) interest rate; unused by this backend.
    pub ipp_interest_rate: String,
    /// Share of instalment interest the merchant absorbs; unused by this backend.
    pub ipp_merchant_absorb_rate: String,
    /// The channel the money actually came through, as 2C2P names it; informational.
    pub paid_channel: String,
    /// Who collected the money (a bank or wallet), as 2C2P names it; informational.
    pub paid_agent: String,
    /// The channel the request asked for (`WCMINI`), echoed back.
    pub payment_channel: String,
    /// 2C2P's internal invoice number for the transaction; informational.
    pub backend_invoice: String,
    /// The card issuer's country code; informational.
    pub issuer_country: String,
    /// The card issuer's country as an ISO 3166 alpha-3 code; informational.
    pub issuer_country_a3: String,
    /// The issuing bank's name, for card payments; informational.
    pub bank_name: String,
    /// The kind of card used, for card payments; informational.
    pub card_type: String,
    /// The processor 2C2P routed the payment through; informational.
    pub process_by: String,
    /// The scheme (card brand or wallet) that carried the payment, as 2C2P reports it; informational.
    pub payment_scheme: String,
    /// Id of the FX rate quote when the payment was converted; unused by this backend.
    #[serde(rename = "rateQuoteID")]
    pub rate_quote_id: String,
    /// The amount before a currency conversion, when there was one; unused by this backend.
    pub original_amount: String,
    /// The conversion rate applied, when there was one; unused by this backend.
    pub fx_rate: String,
    /// ISO 4217 numeric currency of `amt`; 2C2P may leave it empty.
    pub currency_code: String,
    /// The `wx.requestPayment` parameters that come with respCode 32; `None` when the element is absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mini_program_data: Option<ResponseMiniProgramData>,
}

impl PaymentResponse {
    /// Reads an inner `<PaymentResponse>`, trimming every value.
    pub fn from_xml(xml: &str) -> Result<Self, MessageError> {
        let mut response: Self = quick_xml::de::from_str(xml).map_err(|e| MessageError::NotXml(e.to_string()))?;
        response.trim();
        Ok(response)
    }

    /// Opens a signed envelope (the bare base64 body of a SecurePay answer, or a notification's
    /// `paymentResponse` field), checks signature and version, then reads the inner document.
    pub fn open(envelope_b64: &str, key: &[u8]) -> Result<Self, MessageError> {
        Self::open_with_keys(envelope_b64, &[key])
    }

    /// Like [`Self::open`], accepting a signature made with any of `keys` (a key rotation).
    pub fn open_with_keys(envelope_b64: &str, keys: &[&[u8]]) -> Result<Self, MessageError> {
        let verified = envelope::open_with_keys(envelope_b64, keys)?;
        verified.require_version()?;
        Self::from_xml(&verified.decode_payload()?)
    }

    /// The inner XML document (what the simulated 2C2P sends).
    pub fn to_xml(&self) -> String {
        quick_xml::se::to_string(self).unwrap_or_default()
    }

    /// Signed and enveloped, as 2C2P sends it.
    pub fn seal(&self, key: &[u8]) -> String {
        envelope::seal("PaymentResponse", &self.to_xml(), key)
    }

    /// The `wx.requestPayment` object from `miniProgramData/wechat`, checked to hold the five keys as strings.
    pub fn wechat_payment(&self) -> Result<WechatPayment, MessageError> {
        let text = self.mini_program_data.as_ref().map(|m| m.wechat.as_str()).unwrap_or_default();
        if text.is_empty() {
            return Err(MessageError::MissingField("miniProgramData/wechat"));
        }
        WechatPayment::from_json(text)
    }

    fn trim(&mut self) {
        let mut fields = [
            &mut self.time_stamp,
            &mut self.merchant_id,
            &mut self.resp_code,
            &mut self.pan,
            &mut self.amt,
            &mut self.unique_transaction_code,
            &mut self.tran_ref,
            &mut self.approval_code,
            &mut self.ref_number,
            &mut self.eci,
            &mut self.date_time,
            &mut self.status,
            &mut self.fail_reason,
            &mut self.user_defined1,
            &mut self.user_defined2,
            &mut self.user_defined3,
            &mut self.user_defined4,
            &mut self.user_defined5,
            &mut self.ipp_period,
            &mut self.ipp_interest_type,
            &mut self.ipp_interest_rate,
            &mut self.ipp_merchant_absorb_rate,
            &mut self.paid_channel,
            &mut self.paid_agent,
            &mut self.payment_channel,
            &mut self.backend_invoice,
            &mut self.issuer_country,
            &mut self.issuer_country_a3,
            &mut self.bank_name,
            &mut self.card_type,
            &mut self.process_by,
            &mut self.payment_scheme,
            &mut self.rate_quote_id,
            &mut self.original_amount,
            &mut self.fx_rate,
            &mut self.currency_code,
        ];
        trim_all(&mut fields);
        if let Some(data) = self.mini_program_data.as_mut() {
            trim_all(&mut [&mut data.wechat]);
        }
    }
}

fn trim_all(fields: &mut [&mut String]) {
    for field in fields.iter_mut() {
        let trimmed = field.trim();
        if trimmed.len() != field.len() {
            **field = trimmed.to_owned();
        }
    }
}

/// The `wx.requestPayment` parameters exactly as 2C2P sent them (extra keys kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WechatPayment(Map<String, Value>);

impl WechatPayment {
    /// Parses and checks the JSON object: the five keys must be present as strings.
    pub fn from_json(text: &str) -> Result<Self, MessageError> {
        let value: Value = serde_json::from_str(text.trim()).map_err(|_| MessageError::WechatNotJson)?;
        let Value::Object(map) = value else {
            return Err(MessageError::WechatNotJson);
        };
        for key in WX_PAYMENT_KEYS {
            if !map.get(key).is_some_and(Value::is_string) {
                return Err(MessageError::WechatKeyMissing(key));
            }
        }
        Ok(Self(map))
    }

    /// The object as compact JSON text, for storage.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_default()
    }

    /// A key's string value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The `prepay_id` inside `package` (`prepay_id=...`).
    pub fn prepay_id(&self) -> Option<&str> {
        self.get("package").and_then(|p| p.strip_prefix("prepay_id="))
    }

    /// The whole object, for the JSON answer.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"S3cretKeyForTests";

    fn request() -> PaymentRequest {
        PaymentRequest {
            pan_country: Some("SG".into()),
            cardholder_name: Some("WeChat User".into()),
            ..PaymentRequest::wcmini(WcminiFields {
                time_stamp: "261126120000",
                merchant_id: "M0001",
                invoice_no: "INV20261126000001",
                desc: "Latte x2",
                amt: "000000001250",
                currency_code: "702",
                app_id: "wx1234567890abcdef",
                open_id: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            })
        }
    }

    const WECHAT_JSON: &str =
        r#"{"timeStamp":"1795689600","package":"prepay_id=wx1","nonceStr":"n","signType":"HMAC-SHA256","paySign":"S"}"#;

    #[test]
    fn request_xml_escapes_every_value() {
        let mut req = request();
        req.desc = "Tea & <cake> \"x\"".into();
        req.user_defined1 = Some("a</userDefined1><evil>".into());
        let xml = req.to_xml();
        assert!(xml.contains("<desc>Tea &amp; &lt;cake&gt;"), "{xml}");
        assert!(!xml.contains("<evil>"), "{xml}");
        assert_eq!(PaymentRequest::from_xml(&xml), Ok(req));
    }

    #[test]
    fn request_orders_optional_fields_as_2c2p_lists_them() {
        let mut req = request();
        req.user_defined1 = Some("u1".into());
        req.payment_expiry = Some("2026-11-26 12:15:00".into());
        let xml = req.to_xml();
        let position = |tag: &str| xml.find(tag).unwrap_or_else(|| panic!("{tag} in {xml}"));
        assert!(position("<paymentChannel>") < position("<userDefined1>"));
        assert!(position("<userDefined1>") < position("<paymentExpiry>"));
        assert!(position("<paymentExpiry>") < position("<miniProgramData>"));
    }

    #[test]
    fn request_form_body_opens_back_to_the_request() {
        let body = request().to_form_body(KEY);
        let field = envelope::base64_form_field(body.as_bytes(), "paymentRequest").expect("field");
        let inner = envelope::open(&field, KEY).expect("verifies").decode_payload().expect("decodes");
        assert_eq!(PaymentRequest::from_xml(&inner), Ok(request()));
    }

    #[test]
    fn response_reads_fields_and_ignores_unknown_elements() {
        let xml = format!(
            "<PaymentResponse><merchantID> M0001 </merchantID><respCode>32</respCode><unknownThing><deep>1</deep></unknownThing>\
             <amt>000000001250</amt><uniqueTransactionCode>INV1</uniqueTransactionCode><status>AP</status><currencyCode/>\
             <miniProgramData><wechat><![CDATA[ {WECHAT_JSON} ]]></wechat></miniProgramData></PaymentResponse>"
        );
        let response = PaymentResponse::from_xml(&xml).expect("parses");
        assert_eq!(response.merchant_id, "M0001");
        assert_eq!(response.resp_code, "32");
        assert_eq!(response.status, "AP");
        assert_eq!(response.currency_code, "");
        let payment = response.wechat_payment().expect("five keys");
        assert_eq!(payment.prepay_id(), Some("wx1"));
        assert_eq!(payment.get("signType"), Some("HMAC-SHA256"));
    }

    #[test]
    fn entity_escaped_wechat_json_with_whitespace_is_read() {
        let escaped = WECHAT_JSON.replace('"', "&quot;");
        let xml = format!(
            "<PaymentResponse><respCode>32</respCode><miniProgramData><wechat>\n  {escaped}\n</wechat></miniProgramData></PaymentResponse>"
        );
        let payment = PaymentResponse::from_xml(&xml).and_then(|r| r.wechat_payment()).expect("reads");
        assert_eq!(payment.get("timeStamp"), Some("1795689600"));
    }

    #[test]
    fn wechat_payment_keeps_extra_keys_and_checks_the_five() {
        let payment =
            WechatPayment::from_json(&WECHAT_JSON.replace('}', r#","appId":"wx9","extra":{"n":1}}"#)).expect("valid");
        assert_eq!(payment.get("appId"), Some("wx9"));
        assert_eq!(payment.as_map().len(), 7);
        let round_trip = WechatPayment::from_json(&payment.to_json()).expect("valid");
        assert_eq!(round_trip, payment);

        for key in WX_PAYMENT_KEYS {
            let mut map: Map<String, Value> = serde_json::from_str(WECHAT_JSON).expect("json");
            map.remove(key);
            let text = serde_json::to_string(&map).expect("json");
            assert_eq!(WechatPayment::from_json(&text), Err(MessageError::WechatKeyMissing(key)), "{key}");
            map.insert(key.to_owned(), Value::from(12));
            let text = serde_json::to_string(&map).expect("json");
            assert_eq!(WechatPayment::from_json(&text), Err(MessageError::WechatKeyMissing(key)), "{key} as number");
        }
        assert_eq!(WechatPayment::from_json("[1]"), Err(MessageError::WechatNotJson));
        assert_eq!(WechatPayment::from_json("{oops"), Err(MessageError::WechatNotJson));
        let missing = PaymentResponse::default().wechat_payment();
        assert_eq!(missing, Err(MessageError::MissingField("miniProgramData/wechat")));
    }

    #[test]
    fn sealed_response_opens_and_bad_versions_and_payloads_are_refused() {
        let response = PaymentResponse {
            resp_code: "000".into(),
            status: "A".into(),
            unique_transaction_code: "INV1".into(),
            fail_reason: "Approved & done".into(),
            ..PaymentResponse::default()
        };
        assert_eq!(PaymentResponse::open(&response.seal(KEY), KEY), Ok(response.clone()));
        assert_eq!(
            PaymentResponse::open(&response.seal(b"other"), KEY),
            Err(MessageError::Envelope(EnvelopeError::BadSignature))
        );
        let not_a_response = envelope::seal("PaymentResponse", "<PaymentResponse><oops>", KEY);
        assert!(matches!(PaymentResponse::open(&not_a_response, KEY), Err(MessageError::NotXml(_))));
    }

    #[test]
    fn a_response_signed_with_the_previous_key_opens_during_a_rotation() {
        let response = PaymentResponse { resp_code: "000".into(), status: "A".into(), ..PaymentResponse::default() };
        let previous: &[u8] = b"previous key";
        let sealed = response.seal(previous);
        assert_eq!(PaymentResponse::open_with_keys(&sealed, &[KEY, previous]), Ok(response));
        assert_eq!(
            PaymentResponse::open_with_keys(&sealed, &[KEY, b"unrelated"]),
            Err(MessageError::Envelope(EnvelopeError::BadSignature))
        );
    }

    #[test]
    fn not_xml_is_refused() {
        assert!(matches!(PaymentResponse::from_xml("plain text"), Err(MessageError::NotXml(_))));
        assert!(matches!(PaymentRequest::from_xml("<PaymentRequest>"), Err(MessageError::NotXml(_))));
    }

    proptest! {
        #[test]
        fn request_round_trips(desc in "[ -~\u{4e00}-\u{4e20}]{0,50}", openid in "[A-Za-z0-9_-]{1,40}", ud in proptest::option::of("[ -~]{0,30}")) {
            let mut req = request();
            req.desc = desc.trim().to_owned();
            req.mini_program_data.wechat.open_id = openid;
            req.user_defined2 = ud.map(|u| u.trim().to_owned());
            let opened = envelope::open(&envelope::base64_form_field(req.to_form_body(KEY).as_bytes(), "paymentRequest").expect("field"), KEY)
                .expect("verifies").decode_payload().expect("decodes");
            let parsed = PaymentRequest::from_xml(&opened).expect("parses");
            // An empty optional element reads back as present-and-empty or absent; compare the rest.
            prop_assert_eq!(parsed.desc, req.desc);
            prop_assert_eq!(parsed.mini_program_data, req.mini_program_data);
        }

        #[test]
        fn response_parsing_never_panics(text in "\\PC{0,300}") {
            if let Ok(response) = PaymentResponse::from_xml(&text) {
                let _ = response.wechat_payment();
            }
            let _ = PaymentResponse::open(&text, KEY);
            let _ = PaymentRequest::from_xml(&text);
            let _ = WechatPayment::from_json(&text);
        }
    }
}
