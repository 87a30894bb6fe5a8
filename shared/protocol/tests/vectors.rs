//! Reproduces `vectors.json` (copied from the design folder) exactly, byte for byte.

use protocol::envelope::{self, API_VERSION};
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

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
