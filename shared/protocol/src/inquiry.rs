//! Payment Action 3.4 inquiry (`processType` I): asks 2C2P for an invoice's state.
//!
//! Request and response are plain base64 XML carrying an HMAC-SHA1 `hashValue` over listed fields.
//! [`classify_inquiry`] and [`parse_inquiry_amount`] say what a verified answer means for reconciliation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use thiserror::Error;

use crate::envelope;

mod answer;

pub use answer::{
    INQUIRY_ANSWERED, INQUIRY_FAILED_STATUSES, INQUIRY_PAID_OTHER_AMOUNT_STATUSES, INQUIRY_PAID_STATUSES,
    INQUIRY_PENDING_STATUSES, INQUIRY_REFUND_STATUSES, InquiryOutcome, REFUND_STATUS_PREFIX, classify_inquiry,
    parse_inquiry_amount,
};

/// The Payment Action version this crate speaks.
pub const ACTION_VERSION: &str = "3.4";
/// `processType` for an inquiry.
pub const INQUIRY: &str = "I";

/// Why an inquiry message could not be read or trusted; an answer refused this way must change nothing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InquiryError {
    /// The body does not decode as base64, so it is not a Payment Action message.
    #[error("inquiry answer is not base64")]
    NotBase64,
    /// The base64 decoded to something other than the expected XML document; carries the reason.
    #[error("inquiry answer is not XML: {0}")]
    NotXml(String),
    /// The answer carries no hashValue, so it cannot be authenticated and must not be believed.
    #[error("inquiry answer has no hashValue")]
    MissingHash,
    /// No accepted key made the hashValue: tampered, corrupted, or hashed with another key.
    #[error("inquiry answer hashValue does not match")]
    BadHash,
}

/// `None` only if the HMAC constructor refused the key, which it never does for HMAC.
fn hash(fields: &[&str], key: &[u8]) -> Option<Hmac<Sha1>> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).ok()?;
    for field in fields {
        mac.update(field.as_bytes());
    }
    Some(mac)
}

/// Hex of the hash; the empty fallback is never reached and never verifies.
fn hash_hex(fields: &[&str], key: &[u8], upper: bool) -> String {
    let Some(mac) = hash(fields, key) else {
        return String::new();
    };
    let bytes = mac.finalize().into_bytes();
    if upper { hex::encode_upper(bytes) } else { hex::encode(bytes) }
}

/// Constant-time check of `hash_hex` (either case) against the fields under any of `keys`.
fn verify_hex(fields: &[&str], hash_hex: &str, keys: &[&[u8]]) -> bool {
    let Ok(expected) = hex::decode(hash_hex.trim()) else {
        return false;
    };
    keys.iter().any(|key| hash(fields, key).is_some_and(|mac| mac.verify_slice(&expected).is_ok()))
}

/// The inquiry request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "PaymentProcessRequest", rename_all = "camelCase")]
pub struct InquiryRequest {
    /// Payment Action version, [`ACTION_VERSION`] when built here; the first of the four hashed fields.
    pub version: String,
    /// Our 2C2P merchant ID, which owns the invoice asked about; hashed with the rest.
    #[serde(rename = "merchantID")]
    pub merchant_id: String,
    /// Which action to run on the shared endpoint: [`INQUIRY`] here (void and refund use other values).
    pub process_type: String,
    /// The attempt's invoice number, the `uniqueTransactionCode` SecurePay was sent, whose state we want.
    pub invoice_no: String,
    /// Uppercase hex HMAC-SHA1 of the four fields above, proving the request comes from the key holder.
    pub hash_value: String,
}

impl InquiryRequest {
    /// An inquiry for `invoice_no`, its hashValue computed: HMAC-SHA1(version + merchantID + processType + invoiceNo).
    pub fn new(merchant_id: &str, invoice_no: &str, key: &[u8]) -> Self {
        let fields = [ACTION_VERSION, merchant_id, INQUIRY, invoice_no];
        Self {
            version: ACTION_VERSION.to_owned(),
            merchant_id: merchant_id.to_owned(),
            process_type: INQUIRY.to_owned(),
            invoice_no: invoice_no.to_owned(),
            hash_value: hash_hex(&fields, key, true),
        }
    }

    /// `paymentRequest=` + urlencoded base64 of the request XML.
    pub fn to_form_body(&self) -> String {
        let xml = quick_xml::se::to_string(self).unwrap_or_default();
        envelope::form_body("paymentRequest", &BASE64.encode(xml))
    }

    /// Checks the request's hashValue (what the simulated 2C2P does).
    pub fn verify(&self, key: &[u8]) -> bool {
        let fields = [self.version.as_str(), &self.merchant_id, &self.process_type, &self.invoice_no];
        verify_hex(&fields, &self.hash_value, &[key])
    }

    /// Reads a request from its base64 XML.
    pub fn from_base64(text: &str) -> Result<Self, InquiryError> {
        from_base64_xml(text)
    }
}

fn from_base64_xml<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, InquiryError> {
    let bytes = BASE64.decode(text.trim()).map_err(|_| InquiryError::NotBase64)?;
    let xml = std::str::from_utf8(&bytes).map_err(|_| InquiryError::NotXml("not UTF-8".into()))?;
    quick_xml::de::from_str(xml).map_err(|e| InquiryError::NotXml(e.to_string()))
}

/// The inquiry answer; `status` carries the invoice's state (see [`crate::outcome`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "PaymentProcessResponse", rename_all = "camelCase", default)]
pub struct InquiryResponse {
    /// Payment Action version of the answer; the first of the hashed fields.
    pub version: String,
    /// `00` when the inquiry worked; any other value says nothing about the payment (see [`classify_inquiry`]).
    pub resp_code: String,
    /// Echo of the request's processType (`I`); hashed like every field but hashValue.
    pub process_type: String,
    /// The invoice the answer is about, echoed so it can be matched to the attempt.
    pub invoice_no: String,
    /// What was paid, in an undocumented form (12-digit minor units or a major-unit decimal):
    /// read it with [`parse_inquiry_amount`].
    pub amount: String,
    /// The invoice's payment state (`A`, `PF`, `AP`, `RP`, ...), meaningful only when respCode is `00`.
    pub status: String,
    /// The acquirer's approval code once the payment is approved; for tracing, not acted on.
    pub approval_code: String,
    /// 2C2P's own reference for the transaction, for tracing it with 2C2P.
    pub reference_no: String,
    /// When 2C2P recorded the transaction, in 2C2P's own format; informational.
    pub transaction_date_time: String,
    /// The agent that collected the money (the simulator says `WECHAT`); informational.
    pub paid_agent: String,
    /// The channel the money came through, as 2C2P names it; informational.
    pub paid_channel: String,
    /// Masked card number for card payments; still part of the hash when empty.
    pub masked_pan: String,
    /// 3-D Secure ECI of a card payment; still part of the hash when empty.
    pub eci: String,
    /// The scheme (card brand or wallet) that carried the payment, as 2C2P reports it; informational.
    pub payment_scheme: String,
    /// The processor 2C2P routed the payment through; informational.
    pub process_by: String,
    /// 2C2P's reference for a refund, when the status is a refund one; for tracing.
    pub refund_reference_no: String,
    /// Echo of the payment request's `userDefined1`, where the backend puts the order id.
    pub user_defined1: String,
    /// Echo of the payment request's `userDefined2`; unused by this backend, but hashed.
    pub user_defined2: String,
    /// Echo of the payment request's `userDefined3`; unused by this backend, but hashed.
    pub user_defined3: String,
    /// Echo of the payment request's `userDefined4`; unused by this backend, but hashed.
    pub user_defined4: String,
    /// Echo of the payment request's `userDefined5`; unused by this backend, but hashed.
    pub user_defined5: String,
    /// HMAC-SHA1 hex over every field above, in order (lowercase in 2C2P's samples), checked by
    /// [`InquiryResponse::open`].
    pub hash_value: String,
}

impl InquiryResponse {
    fn hashed_fields(&self) -> [&str; 21] {
        [
            &self.version,
            &self.resp_code,
            &self.process_type,
            &self.invoice_no,
            &self.amount,
            &self.status,
            &self.approval_code,
            &self.reference_no,
            &self.transaction_date_time,
            &self.paid_agent,
            &self.paid_channel,
            &self.masked_pan,
            &self.eci,
            &self.payment_scheme,
            &self.process_by,
            &self.refund_reference_no,
            &self.user_defined1,
            &self.user_defined2,
            &self.user_defined3,
            &self.user_defined4,
            &self.user_defined5,
        ]
    }

    /// Reads an answer and checks its hashValue (either case) before handing it out.
    pub fn open(text: &str, key: &[u8]) -> Result<Self, InquiryError> {
        Self::open_with_keys(text, &[key])
    }

    /// Like [`Self::open`], accepting a hashValue made with any of `keys` (the current key and, during a
    /// rotation, the previous one); [`InquiryError::BadHash`] when none made it.
    pub fn open_with_keys(text: &str, keys: &[&[u8]]) -> Result<Self, InquiryError> {
        let response: Self = from_base64_xml(text)?;
        if response.hash_value.trim().is_empty() {
            return Err(InquiryError::MissingHash);
        }
        if !verify_hex(&response.hashed_fields(), &response.hash_value, keys) {
            return Err(InquiryError::BadHash);
        }
        Ok(response)
    }

    /// Computes hashValue and encodes the answer as 2C2P would (what the simulated 2C2P sends).
    pub fn seal(mut self, key: &[u8]) -> String {
        self.hash_value = hash_hex(&self.hashed_fields(), key, false);
        BASE64.encode(quick_xml::se::to_string(&self).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: &[u8] = b"S3cretKeyForTests";

    #[test]
    fn request_hash_is_hmac_sha1_over_the_four_fields() {
        let request = InquiryRequest::new("M0001", "INV1", KEY);
        let expected = hash_hex(&["3.4M0001IINV1"], KEY, true);
        assert_eq!(request.hash_value, expected);
        assert_eq!(request.hash_value.len(), 40);
        assert!(request.verify(KEY));
        assert!(!request.verify(b"other"));
        let mut tampered = request.clone();
        tampered.invoice_no = "INV2".into();
        assert!(!tampered.verify(KEY));
    }

    #[test]
    fn request_form_body_carries_the_xml() {
        let request = InquiryRequest::new("M0001", "INV1", KEY);
        let body = request.to_form_body();
        let field = envelope::base64_form_field(body.as_bytes(), "paymentRequest").expect("field");
        let xml = String::from_utf8(BASE64.decode(&field).expect("base64")).expect("utf8");
        assert!(xml.starts_with("<PaymentProcessRequest><version>3.4</version><merchantID>M0001</merchantID><processType>I</processType><invoiceNo>INV1</invoiceNo><hashValue>"), "{xml}");
        assert_eq!(InquiryRequest::from_base64(&field), Ok(request));
    }

    #[test]
    fn response_hash_is_verified_in_either_case() {
        let response = InquiryResponse {
            version: "3.4".into(),
            resp_code: "00".into(),
            process_type: "I".into(),
            invoice_no: "INV1".into(),
            amount: "000000001250".into(),
            status: "A".into(),
            ..InquiryResponse::default()
        };
        let sealed = response.clone().seal(KEY);
        let opened = InquiryResponse::open(&sealed, KEY).expect("verifies");
        assert_eq!(opened.status, "A");
        assert_eq!(opened.hash_value.to_lowercase(), opened.hash_value, "sealed lowercase, as samples show");
        let upper = InquiryResponse { hash_value: opened.hash_value.to_uppercase(), ..opened.clone() };
        let upper_xml = BASE64.encode(quick_xml::se::to_string(&upper).expect("xml"));
        assert!(InquiryResponse::open(&upper_xml, KEY).is_ok());
        assert_eq!(InquiryResponse::open(&sealed, b"other"), Err(InquiryError::BadHash));
        let changed = InquiryResponse { status: "PF".into(), ..opened };
        let changed_xml = BASE64.encode(quick_xml::se::to_string(&changed).expect("xml"));
        assert_eq!(InquiryResponse::open(&changed_xml, KEY), Err(InquiryError::BadHash));
    }

    #[test]
    fn an_answer_hashed_with_any_key_of_a_rotation_opens() {
        let (key_a, key_b): (&[u8], &[u8]) = (b"previous-key-A", b"current-key-B");
        let answer = InquiryResponse { resp_code: "00".into(), status: "A".into(), ..InquiryResponse::default() };
        let sealed = answer.seal(key_b);
        assert_eq!(InquiryResponse::open_with_keys(&sealed, &[key_a, key_b]).map(|r| r.status), Ok("A".into()));
        assert_eq!(InquiryResponse::open_with_keys(&sealed, &[key_a, b"unrelated"]), Err(InquiryError::BadHash));
        assert_eq!(InquiryResponse::open_with_keys(&sealed, &[]), Err(InquiryError::BadHash));
        assert_eq!(InquiryResponse::open(&sealed, key_a), Err(InquiryError::BadHash));
    }

    #[test]
    fn malformed_answers_are_typed() {
        assert_eq!(InquiryResponse::open("***", KEY), Err(InquiryError::NotBase64));
        assert!(matches!(InquiryResponse::open(&BASE64.encode("<a><b></a>"), KEY), Err(InquiryError::NotXml(_))));
        let no_hash = BASE64.encode("<PaymentProcessResponse><respCode>00</respCode></PaymentProcessResponse>");
        assert_eq!(InquiryResponse::open(&no_hash, KEY), Err(InquiryError::MissingHash));
    }

    proptest! {
        #[test]
        fn arbitrary_answers_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = InquiryResponse::open(&BASE64.encode(&bytes), KEY);
            let _ = InquiryResponse::open(&String::from_utf8_lossy(&bytes), KEY);
            let _ = InquiryRequest::from_base64(&BASE64.encode(&bytes));
        }
    }
}
