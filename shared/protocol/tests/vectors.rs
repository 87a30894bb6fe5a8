//! Reproduces `vectors.json` (copied from the design folder) exactly, byte for byte, and checks the
//! Payment Action 3.4 inquiry against values computed outside this crate.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use protocol::envelope::{self, API_VERSION};
use protocol::inquiry::{
    InquiryError, InquiryOutcome, InquiryRequest, InquiryResponse, classify_inquiry, parse_inquiry_amount,
};
use protocol::money::{Currency, parse_amount, to_pgw_amt};
use protocol::outcome::{Outcome, classify};
use protocol::securepay::{PaymentRequest, PaymentResponse, WcminiFields};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/vectors.json")).expect("vectors.json is JSON")
}

fn text<'a>(vectors: &'a Value, name: &str) -> &'a str {
    vectors[name].as_str().unwrap_or_else(|| panic!("{name} in vectors.json"))
}

fn vector_request() -> PaymentRequest {
    let sgd = Currency::from_code("SGD").expect("SGD");
    let amt = to_pgw_amt(parse_amount("12.50", sgd).expect("amount"));
    PaymentRequest {
        pan_country: Some("SG".into()),
        cardholder_name: Some("WeChat User".into()),
        ..PaymentRequest::wcmini(WcminiFields {
            time_stamp: "261126120000",
            merchant_id: "M0001",
            invoice_no: "INV20261126000001",
            desc: "Latte x2",
            amt: &amt,
            currency_code: sgd.numeric,
            app_id: "wx1234567890abcdef",
            open_id: "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        })
    }
}

#[test]
fn request_is_reproduced_exactly() {
    let v = vectors();
    let key = text(&v, "key").as_bytes();
    let request = vector_request();
    assert_eq!(request.to_xml(), text(&v, "request_inner"));
    let payload = base64_of(text(&v, "request_inner"));
    assert_eq!(payload, text(&v, "request_payload_b64"));
    assert_eq!(envelope::sign(&payload, key), text(&v, "request_signature"));
    assert_eq!(request.to_form_body(key), text(&v, "request_form_body"));
}

#[test]
fn response_is_verified_and_read() {
    let v = vectors();
    let key = text(&v, "key").as_bytes();
    let body = text(&v, "response_body");

    let verified = envelope::open(body, key).expect("signature verifies");
    assert_eq!(verified.version(), API_VERSION);
    assert_eq!(verified.decode_payload().as_deref(), Ok(text(&v, "response_inner")));
    assert_eq!(envelope::sign(text(&v, "response_payload_b64"), key), text(&v, "response_signature"));

    let response = PaymentResponse::open(body, key).expect("opens");
    assert_eq!(response.merchant_id, "M0001");
    assert_eq!(response.resp_code, "32");
    assert_eq!(response.amt, "000000001250");
    assert_eq!(response.unique_transaction_code, "INV20261126000001");
    assert_eq!(response.tran_ref, "8812345");
    assert_eq!(response.status, "AP");
    assert_eq!(response.fail_reason, "Completed Partially");
    assert_eq!(response.payment_channel, "WCMINI");
    assert_eq!(response.currency_code, "702");
    assert_eq!(classify(&response.resp_code, &response.status, &response.fail_reason), Outcome::WechatOrderCreated);

    let payment = response.wechat_payment().expect("five keys");
    let expected: Value = v["wechat"].clone();
    assert_eq!(Value::Object(payment.as_map().clone()), expected);
    assert_eq!(payment.prepay_id(), Some("wx26120000000000abcdef0123456789"));
}

#[test]
fn response_with_another_key_or_a_flipped_byte_is_refused() {
    let v = vectors();
    let body = text(&v, "response_body");
    assert_eq!(envelope::open(body, b"wrong key"), Err(envelope::EnvelopeError::BadSignature));
    let signature = text(&v, "response_signature");
    let tampered_payload = text(&v, "response_payload_b64").replacen("PFBheW1l", "PFBheW1m", 1);
    assert!(!envelope::verify(&tampered_payload, signature, text(&v, "key").as_bytes()));
}

// Computed once with Python's standard library, independently of this crate:
//   python3 -c 'import hmac,hashlib; print(hmac.new(b"S3cretKeyForTests",
//     b"3.4"+b"JT01"+b"I"+b"INV0000000000000001", hashlib.sha1).hexdigest().upper())'
const INQUIRY_REQUEST_HASH: &str = "B2E48EA1908952F9F0873022D75CB62ECE5A6BD8";
// "paymentRequest=" + urllib.parse.quote(base64.b64encode(xml), safe=""), where xml is
// <PaymentProcessRequest><version>3.4</version><merchantID>JT01</merchantID><processType>I</processType>
// <invoiceNo>INV0000000000000001</invoiceNo><hashValue>{INQUIRY_REQUEST_HASH}</hashValue></PaymentProcessRequest>
// written on one line.
const INQUIRY_REQUEST_FORM_BODY: &str = "paymentRequest=PFBheW1lbnRQcm9jZXNzUmVxdWVzdD48dmVyc2lvbj4zLjQ8L3ZlcnNpb24%2BPG1lcmNoYW50SUQ%2BSlQwMTwvbWVyY2hhbnRJRD48cHJvY2Vzc1R5cGU%2BSTwvcHJvY2Vzc1R5cGU%2BPGludm9pY2VObz5JTlYwMDAwMDAwMDAwMDAwMDAxPC9pbnZvaWNlTm8%2BPGhhc2hWYWx1ZT5CMkU0OEVBMTkwODk1MkY5RjA4NzMwMjJENzVDQjYyRUNFNUE2QkQ4PC9oYXNoVmFsdWU%2BPC9QYXltZW50UHJvY2Vzc1JlcXVlc3Q%2B";

#[test]
fn inquiry_request_matches_an_independent_computation() {
    let request = InquiryRequest::new("JT01", "INV0000000000000001", b"S3cretKeyForTests");
    assert_eq!(request.hash_value, INQUIRY_REQUEST_HASH);
    assert_eq!(request.to_form_body(), INQUIRY_REQUEST_FORM_BODY);
}

// The hashValue of INQUIRY_ANSWER_XML, computed once with Python over the 21 documented fields in order
// (version, respCode, processType, invoiceNo, amount, status, approvalCode, referenceNo,
// transactionDateTime, paidAgent, paidChannel, maskedPan, eci, paymentScheme, processBy,
// refundReferenceNo, userDefined1..5), empty ones contributing nothing:
//   python3 -c 'import hmac,hashlib; print(hmac.new(b"S3cretKeyForTests",
//     b"3.400IINV000000000000000112.50A48291310293847261126120500WECHATWECHATA-1001", hashlib.sha1).hexdigest())'
// Lowercase, as 2C2P's samples show it.
const INQUIRY_ANSWER_HASH: &str = "873d8b00e699256984e9b81028d3b7453d6b198e";

/// Written by hand: indented, some empty elements self-closed, an amount in major units.
fn inquiry_answer_xml(hash_value: &str) -> String {
    format!(
        "<PaymentProcessResponse>
  <version>3.4</version>
  <respCode>00</respCode>
  <processType>I</processType>
  <invoiceNo>INV0000000000000001</invoiceNo>
  <amount>12.50</amount>
  <status>A</status>
  <approvalCode>482913</approvalCode>
  <referenceNo>10293847</referenceNo>
  <transactionDateTime>261126120500</transactionDateTime>
  <paidAgent>WECHAT</paidAgent>
  <paidChannel>WECHAT</paidChannel>
  <maskedPan></maskedPan>
  <eci/>
  <paymentScheme/>
  <processBy/>
  <refundReferenceNo/>
  <userDefined1>A-1001</userDefined1>
  <userDefined2/>
  <userDefined3/>
  <userDefined4/>
  <userDefined5/>
  <hashValue>{hash_value}</hashValue>
</PaymentProcessResponse>"
    )
}

#[test]
fn inquiry_answer_matches_an_independent_computation() {
    let key = b"S3cretKeyForTests";
    let answer = InquiryResponse::open(&base64_of(&inquiry_answer_xml(INQUIRY_ANSWER_HASH)), key).expect("verifies");
    assert_eq!(answer.invoice_no, "INV0000000000000001");
    assert_eq!(answer.user_defined1, "A-1001");
    assert_eq!(classify_inquiry(&answer.resp_code, &answer.status), InquiryOutcome::Paid);
    let sgd = Currency::from_code("SGD").expect("SGD");
    assert_eq!(parse_inquiry_amount(&answer.amount, sgd).map(|a| a.get()), Some(1250));

    let upper = inquiry_answer_xml(&INQUIRY_ANSWER_HASH.to_uppercase());
    assert!(InquiryResponse::open(&base64_of(&upper), key).is_ok(), "either case verifies");

    // One hex digit changed: the first, from 8 to 9.
    let forged = inquiry_answer_xml(&INQUIRY_ANSWER_HASH.replacen('8', "9", 1));
    assert_eq!(InquiryResponse::open(&base64_of(&forged), key), Err(InquiryError::BadHash));
    // The right hash over a changed field (A → AL) is refused too.
    let changed = inquiry_answer_xml(INQUIRY_ANSWER_HASH).replace("<status>A</status>", "<status>AL</status>");
    assert_eq!(InquiryResponse::open(&base64_of(&changed), key), Err(InquiryError::BadHash));
    assert_eq!(
        InquiryResponse::open(&base64_of(&inquiry_answer_xml(INQUIRY_ANSWER_HASH)), b"another key"),
        Err(InquiryError::BadHash)
    );
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
