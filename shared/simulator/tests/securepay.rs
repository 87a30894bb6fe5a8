//! Simulated SecurePay over real HTTP: what it creates, what it refuses and why, and its faults.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{FORM, KEY, Sim, request};
use protocol::description::FORBIDDEN_SYMBOLS;
use protocol::envelope::{self, EnvelopeError};
use protocol::securepay::{MessageError, PaymentRequest, PaymentResponse, WX_PAYMENT_KEYS};
use simulator::Fault;

#[tokio::test]
async fn a_correct_request_creates_the_wechat_order() {
    let sim = Sim::start().await;
    let mut sent = request("INV0001");
    sent.user_defined3 = Some("echo me".into());
    let answer = sim.securepay(&sent).await;
    assert_eq!(answer.resp_code, "32");
    assert_eq!(answer.status, "AP");
    assert_eq!(answer.fail_reason, "Completed Partially");
    assert_eq!(answer.merchant_id, common::MERCHANT);
    assert_eq!(answer.unique_transaction_code, "INV0001");
    assert_eq!(answer.amt, "000000001250");
    assert_eq!(answer.currency_code, "702");
    assert_eq!(answer.payment_channel, "WCMINI");
    assert_eq!(answer.user_defined1, "A-1001");
    assert_eq!(answer.user_defined3, "echo me");
    assert!(!answer.tran_ref.is_empty());
    assert_eq!(answer.time_stamp.len(), 12);

    let text = &answer.mini_program_data.as_ref().expect("miniProgramData").wechat;
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text).expect("JSON object");
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, WX_PAYMENT_KEYS.into_iter().collect(), "exactly the five wx.requestPayment keys");
    let payment = answer.wechat_payment().expect("five string keys");
    let time_stamp = payment.get("timeStamp").expect("timeStamp");
    assert!(time_stamp.len() >= 10 && time_stamp.bytes().all(|b| b.is_ascii_digit()), "{time_stamp}");
    let nonce = payment.get("nonceStr").expect("nonceStr");
    assert_eq!(nonce.len(), 32);
    assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
    let prepay_id = payment.prepay_id().expect("package is prepay_id=…");
    assert!(prepay_id.starts_with("wx") && prepay_id.len() > 20, "{prepay_id}");
    assert_eq!(payment.get("signType"), Some("HMAC-SHA256"));
    let package = payment.get("package").expect("package");
    let expected = simulator::wechat_pay_sign(common::APP_ID, time_stamp, nonce, package);
    assert_eq!(payment.get("paySign"), Some(expected.as_str()));

    assert_eq!(sim.sim.last_payment_request(), Some(sent));
    assert_eq!(sim.sim.securepay_calls(), 1);
}

#[tokio::test]
async fn each_attempt_gets_its_own_prepay_id_and_nonce() {
    let sim = Sim::start().await;
    let first = sim.securepay(&request("INV1")).await.wechat_payment().expect("wechat");
    let second = sim.securepay(&request("INV2")).await.wechat_payment().expect("wechat");
    assert_ne!(first.prepay_id(), second.prepay_id());
    assert_ne!(first.get("nonceStr"), second.get("nonceStr"));
    assert_ne!(first.get("paySign"), second.get("paySign"));
}

#[tokio::test]
async fn limits_are_accepted_up_to_the_edge() {
    let sim = Sim::start().await;
    let mut edge = request(&"A1".repeat(10));
    edge.desc = "咖".repeat(50);
    edge.amt = "999999999999".into();
    edge.currency_code = "392".into();
    assert_eq!(sim.securepay(&edge).await.resp_code, "32");
    // XML escaping is the library's business; such characters arrive intact and are allowed.
    let mut quoted = request("INV3");
    quoted.desc = "Tea \"for\" two; 'extra' - no. 5 / 6 ~ [x]".into();
    assert_eq!(sim.securepay(&quoted).await.resp_code, "32");
}

/// Asserts a signed respCode 99 / status F answer whose failReason contains `reason`.
fn assert_refused(answer: &PaymentResponse, reason: &str, case: &str) {
    assert_eq!((answer.resp_code.as_str(), answer.status.as_str()), ("99", "F"), "{case}: {}", answer.fail_reason);
    assert!(answer.fail_reason.contains(reason), "{case}: {:?} should name {reason:?}", answer.fail_reason);
    assert_eq!(answer.merchant_id, common::MERCHANT, "{case}");
    assert!(answer.mini_program_data.is_none(), "{case}");
}

#[tokio::test]
async fn each_bad_field_is_refused_with_a_reason_naming_it() {
    type Change = fn(&mut PaymentRequest);
    let cases: Vec<(&str, Change, &str)> = vec![
        ("other merchant", |r| r.merchant_id = "JT02".into(), "merchantID"),
        ("empty merchant", |r| r.merchant_id = String::new(), "merchantID"),
        ("short timeStamp", |r| r.time_stamp = "2611261200".into(), "timeStamp"),
        ("long timeStamp", |r| r.time_stamp = "2611261200001".into(), "timeStamp"),
        ("letters in timeStamp", |r| r.time_stamp = "26112612000a".into(), "timeStamp"),
        ("empty invoice", |r| r.unique_transaction_code = String::new(), "uniqueTransactionCode"),
        ("21-char invoice", |r| r.unique_transaction_code = "A".repeat(21), "uniqueTransactionCode"),
        ("dash in invoice", |r| r.unique_transaction_code = "INV-1".into(), "uniqueTransactionCode"),
        ("underscore in invoice", |r| r.unique_transaction_code = "INV_1".into(), "uniqueTransactionCode"),
        ("non-ASCII invoice", |r| r.unique_transaction_code = "INVé1".into(), "uniqueTransactionCode"),
        ("empty desc", |r| r.desc = String::new(), "desc"),
        ("blank desc", |r| r.desc = "   ".into(), "desc"),
        ("51-char desc", |r| r.desc = "a".repeat(51), "desc"),
        ("51 CJK chars desc", |r| r.desc = "咖".repeat(51), "desc"),
        ("short amt", |r| r.amt = "1250".into(), "amt"),
        ("13-digit amt", |r| r.amt = "0000000001250".into(), "amt"),
        ("decimal amt", |r| r.amt = "0000000012.5".into(), "amt"),
        ("zero amt", |r| r.amt = "000000000000".into(), "amt"),
        ("signed amt", |r| r.amt = "-00000001250".into(), "amt"),
        ("unknown currency", |r| r.currency_code = "999".into(), "currencyCode"),
        ("alphabetic currency", |r| r.currency_code = "SGD".into(), "currencyCode"),
        ("short currency", |r| r.currency_code = "72".into(), "currencyCode"),
        ("empty currency", |r| r.currency_code = String::new(), "currencyCode"),
        ("card channel", |r| r.payment_channel = "CC".into(), "paymentChannel"),
        ("lowercase channel", |r| r.payment_channel = "wcmini".into(), "paymentChannel"),
        ("other appID", |r| r.mini_program_data.wechat.app_id = "wxother".into(), "appID"),
        ("empty appID", |r| r.mini_program_data.wechat.app_id = String::new(), "appID"),
        ("empty openID", |r| r.mini_program_data.wechat.open_id = String::new(), "openID"),
    ];
    let sim = Sim::start().await;
    for (number, (case, change, reason)) in cases.into_iter().enumerate() {
        let invoice = format!("BAD{number}");
        let mut sent = request(&invoice);
        change(&mut sent);
        let answer = sim.securepay(&sent).await;
        assert_refused(&answer, reason, case);
        assert_eq!(answer.unique_transaction_code, sent.unique_transaction_code, "{case}: echoed");
        let as_read = PaymentRequest::from_xml(&sent.to_xml()).expect("readable");
        assert_eq!(sim.sim.last_payment_request(), Some(as_read), "{case}: recorded as read");
        // A refused request does not use up its invoice number.
        if sent.unique_transaction_code == invoice {
            assert_eq!(sim.securepay(&request(&invoice)).await.resp_code, "32", "{case}: invoice still free");
        }
    }
}

#[tokio::test]
async fn each_forbidden_symbol_in_desc_is_refused() {
    let sim = Sim::start().await;
    for (number, symbol) in FORBIDDEN_SYMBOLS.iter().enumerate() {
        let mut sent = request(&format!("SYM{number}"));
        sent.desc = format!("Latte {symbol} cake");
        assert_refused(&sim.securepay(&sent).await, "desc", &format!("symbol {symbol}"));
    }
}

#[tokio::test]
async fn a_used_invoice_is_refused_as_a_duplicate() {
    let sim = Sim::start().await;
    let first = sim.created("INVDUP").await;
    let again = sim.securepay(&request("INVDUP")).await;
    assert_refused(&again, "Duplicate uniqueTransactionCode", "second use");
    assert_eq!(sim.sim.securepay_calls(), 2);
    // The first attempt is untouched.
    assert_eq!(sim.inquiry("INVDUP").await.status, "AP");
    assert!(!first.is_empty());
}

fn outer(root: &str, version: &str, payload: &str, signature: &str) -> String {
    BASE64.encode(format!(
        "<{root}><version>{version}</version><payload>{payload}</payload><signature>{signature}</signature></{root}>"
    ))
}

#[tokio::test]
async fn transport_envelope_and_signature_problems_are_refused() {
    let key = KEY.as_bytes();
    let inner = request("ENV1").to_xml();
    let payload = BASE64.encode(&inner);
    let good = envelope::seal("PaymentRequest", &inner, key);
    let form = |value: &str| envelope::form_body("paymentRequest", value);
    // An envelope with a '+' in its base64, to send without percent-encoding.
    let with_plus = (1..=50)
        .map(|n| {
            let mut sent = request("ENV1");
            sent.desc = "a".repeat(n);
            envelope::seal("PaymentRequest", &sent.to_xml(), key)
        })
        .find(|sealed| sealed.contains('+'))
        .expect("some envelope has a '+'");
    let cases: Vec<(&str, Option<&str>, String, &str)> = vec![
        ("JSON content type", Some("application/json"), form(&good), "not a form post"),
        ("no content type", None, form(&good), "not a form post"),
        ("no paymentRequest field", Some(FORM), form(&good).replace("paymentRequest", "payment"), "no paymentRequest"),
        ("empty body", Some(FORM), String::new(), "no paymentRequest"),
        ("not base64", Some(FORM), form("!!not*base64!!"), "not base64"),
        ("unencoded plus signs", Some(FORM), format!("paymentRequest={with_plus}"), "percent-encoded"),
        ("not XML", Some(FORM), form(&BASE64.encode("just text")), "not an XML envelope"),
        ("broken XML", Some(FORM), form(&BASE64.encode("<PaymentRequest><version>9.9</version>")), "XML"),
        (
            "no signature",
            Some(FORM),
            form(&BASE64.encode(format!(
                "<PaymentRequest><version>9.9</version><payload>{payload}</payload></PaymentRequest>"
            ))),
            "no signature",
        ),
        (
            "no payload",
            Some(FORM),
            form(&BASE64.encode("<PaymentRequest><version>9.9</version><signature>AB</signature></PaymentRequest>")),
            "no payload",
        ),
        ("signed with another key", Some(FORM), form(&envelope::seal("PaymentRequest", &inner, b"other")), "signature"),
        (
            "tampered payload",
            Some(FORM),
            form(&outer(
                "PaymentRequest",
                "9.9",
                &BASE64.encode(inner.replace("1250", "0001")),
                &envelope::sign(&payload, key),
            )),
            "signature",
        ),
        ("short signature", Some(FORM), form(&outer("PaymentRequest", "9.9", &payload, "ABCDEF")), "signature"),
        (
            "version 9.4",
            Some(FORM),
            form(&outer("PaymentRequest", "9.4", &payload, &envelope::sign(&payload, key))),
            "version",
        ),
        (
            "no version",
            Some(FORM),
            form(&outer("PaymentRequest", "", &payload, &envelope::sign(&payload, key))),
            "version",
        ),
        (
            "signed payload that is not a PaymentRequest",
            Some(FORM),
            {
                let other = BASE64.encode("<PaymentRequest><amt>1</amt></PaymentRequest>");
                form(&outer("PaymentRequest", "9.9", &other, &envelope::sign(&other, key)))
            },
            "Invalid payload",
        ),
    ];
    let sim = Sim::start().await;
    for (case, content_type, body, reason) in cases {
        let (status, answer_type, body) = sim.securepay_raw(content_type, body).await;
        assert_eq!(status, 200, "{case}");
        assert!(answer_type.starts_with("text/plain"), "{case}");
        let answer = PaymentResponse::open(&body, key).unwrap_or_else(|e| panic!("{case}: answer is signed: {e}"));
        assert_refused(&answer, reason, case);
        assert_eq!(sim.sim.last_payment_request(), None, "{case}: nothing was read past the envelope");
    }
    assert_eq!(sim.sim.securepay_calls(), 16);
    // None of them created the order.
    assert_eq!(sim.securepay(&request("ENV1")).await.resp_code, "32");
}

#[tokio::test]
async fn an_indented_request_with_a_lowercase_signature_is_accepted() {
    let sim = Sim::start().await;
    let inner = request("INDENT1").to_xml().replace("><", ">\n  <");
    let payload = BASE64.encode(&inner);
    let signature = envelope::sign(&payload, KEY.as_bytes()).to_lowercase();
    let body = envelope::form_body("paymentRequest", &outer("PaymentRequest", " 9.9 ", &payload, &signature));
    let (_, _, body) = sim.securepay_raw(Some("application/x-www-form-urlencoded; charset=utf-8"), body).await;
    let answer = PaymentResponse::open(&body, KEY.as_bytes()).expect("signed");
    assert_eq!(answer.resp_code, "32", "{}", answer.fail_reason);
}

#[tokio::test]
async fn faults_behave_as_documented() {
    let sim = Sim::start().await;
    let body = |invoice: &str| request(invoice).to_form_body(KEY.as_bytes());

    sim.sim.set_securepay_fault(Some(Fault::Http500));
    let (status, _, _) = sim.securepay_raw(Some(FORM), body("F500")).await;
    assert_eq!(status, 500);

    sim.sim.set_securepay_fault(Some(Fault::Garbage));
    let (status, _, text) = sim.securepay_raw(Some(FORM), body("FGARBAGE")).await;
    assert_eq!(status, 200);
    assert!(PaymentResponse::open(&text, KEY.as_bytes()).is_err(), "not an envelope: {text}");

    sim.sim.set_securepay_fault(Some(Fault::BadSignature));
    let (status, _, text) = sim.securepay_raw(Some(FORM), body("FSIG")).await;
    assert_eq!(status, 200);
    assert_eq!(PaymentResponse::open(&text, KEY.as_bytes()), Err(MessageError::Envelope(EnvelopeError::BadSignature)));
    assert_eq!(sim.inquiry("FSIG").await.status, "AP", "the order exists behind the bad signature");

    sim.sim.set_securepay_fault(Some(Fault::MissingWechatData));
    let answer = sim.securepay(&request("FMISSING")).await;
    assert_eq!(answer.resp_code, "32");
    assert!(answer.mini_program_data.is_none());
    assert!(answer.wechat_payment().is_err());

    sim.sim.set_securepay_fault(Some(Fault::Reject));
    let answer = sim.securepay(&request("FREJECT")).await;
    assert_refused(&answer, "Simulated rejection", "Reject");
    assert_eq!(sim.sim.last_payment_request().map(|r| r.unique_transaction_code).as_deref(), Some("FREJECT"));

    sim.sim.set_securepay_fault(Some(Fault::Delay(Duration::from_secs(5))));
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().expect("client");
    let error = impatient
        .post(sim.url("/2c2p/SecurePayment/Payment.aspx"))
        .header("content-type", FORM)
        .body(body("FDELAY"))
        .send()
        .await
        .expect_err("times out");
    assert!(error.is_timeout(), "{error}");

    sim.sim.set_securepay_fault(None);
    // Faults that answered without processing left their invoices free.
    for invoice in ["F500", "FGARBAGE", "FREJECT"] {
        assert_eq!(sim.securepay(&request(invoice)).await.resp_code, "32", "{invoice}");
    }
    assert_eq!(sim.sim.securepay_calls(), 9, "every request that arrived is counted");
}
