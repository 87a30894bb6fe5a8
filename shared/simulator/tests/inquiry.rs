//! Simulated Payment Action 3.4 inquiry over real HTTP.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{FORM, KEY, MERCHANT, Sim};
use protocol::envelope;
use protocol::inquiry::{InquiryError, InquiryRequest, InquiryResponse};
use simulator::{Fault, INQUIRY_NOT_FOUND, INQUIRY_OK, INQUIRY_REFUSED, PayResult};

const INQUIRY_PATH: &str = "/2c2p/PaymentActionV2/PaymentProcess.aspx";

#[tokio::test]
async fn pending_paid_and_failed_orders_report_their_status() {
    let sim = Sim::start().await;
    sim.created("INQPENDING").await;
    let pending = sim.inquiry("INQPENDING").await;
    assert_eq!((pending.resp_code.as_str(), pending.status.as_str()), (INQUIRY_OK, "AP"));
    assert_eq!(pending.invoice_no, "INQPENDING");
    assert_eq!(pending.amount, "000000001250");
    assert_eq!(pending.version, "3.4");
    assert_eq!(pending.process_type, "I");
    assert_eq!(pending.user_defined1, "A-1001");

    sim.created("INQPAID").await;
    // The notify URL is closed: the payment still happened in WeChat, so the inquiry says paid.
    assert!(sim.sim.pay("INQPAID", PayResult::Success).await.is_err());
    let paid = sim.inquiry("INQPAID").await;
    assert_eq!((paid.resp_code.as_str(), paid.status.as_str()), (INQUIRY_OK, "A"));
    assert_eq!(paid.amount, "000000001250");
    assert_eq!(paid.approval_code.len(), 6);
    assert!(!paid.reference_no.is_empty());

    let prepay_id = sim.created("INQFAILED").await;
    assert!(sim.sim.pay(&prepay_id, PayResult::Fail).await.is_err());
    let failed = sim.inquiry("INQFAILED").await;
    assert_eq!((failed.resp_code.as_str(), failed.status.as_str()), (INQUIRY_OK, "PF"));

    // Late money after a failure is real money; a decline after payment changes nothing.
    let _ = sim.sim.pay("INQFAILED", PayResult::Success).await;
    assert_eq!(sim.inquiry("INQFAILED").await.status, "A");
    let _ = sim.sim.pay("INQPAID", PayResult::Fail).await;
    assert_eq!(sim.inquiry("INQPAID").await.status, "A");
}

#[tokio::test]
async fn an_unknown_invoice_is_not_found() {
    let sim = Sim::start().await;
    let answer = sim.inquiry("NEVERSEEN").await;
    assert_eq!(answer.resp_code, INQUIRY_NOT_FOUND);
    assert_eq!(answer.invoice_no, "NEVERSEEN");
    assert_eq!(answer.status, "");
    // An inquiry is by invoiceNo only, not by prepay_id.
    let prepay_id = sim.created("INQBYINVOICE").await;
    assert_eq!(sim.inquiry(&prepay_id).await.resp_code, INQUIRY_NOT_FOUND);
}

#[tokio::test]
async fn a_wrong_hash_or_malformed_request_is_refused() {
    let sim = Sim::start().await;
    sim.created("INQ1").await;
    let key = KEY.as_bytes();
    let mut bad_hash = InquiryRequest::new(MERCHANT, "INQ1", key);
    bad_hash.hash_value = InquiryRequest::new(MERCHANT, "INQ1", b"another key").hash_value;
    let mut tampered = InquiryRequest::new(MERCHANT, "INQ2", key);
    tampered.invoice_no = "INQ1".into();
    let mut version = InquiryRequest::new(MERCHANT, "INQ1", key);
    version.version = "3.3".into();
    let other_merchant = InquiryRequest::new("JT02", "INQ1", key);
    let form = |xml: &str| envelope::form_body("paymentRequest", &BASE64.encode(xml));
    let cases = [
        ("hash under another key", bad_hash.to_form_body()),
        ("hash of another invoice", tampered.to_form_body()),
        ("version 3.3", version.to_form_body()),
        ("another merchant", other_merchant.to_form_body()),
        ("not base64", envelope::form_body("paymentRequest", "***")),
        ("not XML", form("<PaymentProcessRequest><version>")),
        (
            "no hashValue",
            form(
                "<PaymentProcessRequest><version>3.4</version><merchantID>JT01</merchantID><processType>I</processType><invoiceNo>INQ1</invoiceNo></PaymentProcessRequest>",
            ),
        ),
        ("no field", "invoiceNo=INQ1".to_owned()),
    ];
    for (case, body) in cases {
        let answer = sim.inquiry_raw(body).await;
        assert_eq!(answer.resp_code, INQUIRY_REFUSED, "{case}");
        assert_eq!(answer.status, "", "{case}: says nothing about the invoice");
        assert_eq!(answer.amount, "", "{case}");
    }
    let (status, _, body) = sim
        .post(
            "/2c2p/PaymentActionV2/PaymentProcess.aspx",
            Some("text/plain"),
            InquiryRequest::new(MERCHANT, "INQ1", key).to_form_body(),
        )
        .await;
    assert_eq!(status, 200);
    let answer = protocol::inquiry::InquiryResponse::open(&body, key).expect("hashed");
    assert_eq!(answer.resp_code, INQUIRY_REFUSED, "not a form post");
    assert_eq!(sim.sim.securepay_calls(), 1, "inquiries are not SecurePay calls");
}

#[tokio::test]
async fn a_set_answer_replaces_the_payment_state_until_cleared() {
    let sim = Sim::start().await;
    sim.created("INQSET1").await;
    sim.created("INQSET2").await;

    sim.sim.set_inquiry_answer("INQSET1", "AL", "12.50");
    let less = sim.inquiry("INQSET1").await;
    assert_eq!((less.resp_code.as_str(), less.status.as_str(), less.amount.as_str()), (INQUIRY_OK, "AL", "12.50"));
    assert_eq!(less.user_defined1, "A-1001", "the rest still comes from the payment");
    assert_eq!(less.approval_code.len(), 6, "money arrived, so it was approved");
    assert_eq!(sim.inquiry("INQSET2").await.status, "AP", "other invoices are untouched");

    for (status, amount) in [("RP", "000000001250"), ("EX", ""), ("RR1", "12.50")] {
        sim.sim.set_inquiry_answer("INQSET1", status, amount);
        let answer = sim.inquiry("INQSET1").await;
        assert_eq!((answer.status.as_str(), answer.amount.as_str()), (status, amount));
        assert_eq!(answer.approval_code, "", "{status}: no money arrived");
    }

    // Only a trusted inquiry learns the set answer.
    let mut forged = InquiryRequest::new(MERCHANT, "INQSET1", KEY.as_bytes());
    forged.hash_value = InquiryRequest::new(MERCHANT, "INQSET1", b"another key").hash_value;
    let refused = sim.inquiry_raw(forged.to_form_body()).await;
    assert_eq!((refused.resp_code.as_str(), refused.status.as_str()), (INQUIRY_REFUSED, ""));

    sim.sim.clear_inquiry_answer("INQSET1");
    let back = sim.inquiry("INQSET1").await;
    assert_eq!((back.status.as_str(), back.amount.as_str()), ("AP", "000000001250"));
}

#[tokio::test]
async fn an_answer_can_be_set_for_an_invoice_never_seen() {
    let sim = Sim::start().await;
    sim.sim.set_inquiry_answer("INQUNSEEN", "A", "12.50");
    let answer = sim.inquiry("INQUNSEEN").await;
    assert_eq!((answer.resp_code.as_str(), answer.status.as_str()), (INQUIRY_OK, "A"));
    assert_eq!((answer.invoice_no.as_str(), answer.amount.as_str()), ("INQUNSEEN", "12.50"));
    sim.sim.clear_inquiry_answer("INQUNSEEN");
    assert_eq!(sim.inquiry("INQUNSEEN").await.resp_code, INQUIRY_NOT_FOUND);
}

#[tokio::test]
async fn inquiry_faults_are_played_apart_from_securepay_faults() {
    let sim = Sim::start().await;
    sim.created("INQFAULT1").await;
    let body = || InquiryRequest::new(MERCHANT, "INQFAULT1", KEY.as_bytes()).to_form_body();

    sim.sim.set_inquiry_fault(Some(Fault::Http500));
    let (status, _, _) = sim.post(INQUIRY_PATH, Some(FORM), body()).await;
    assert_eq!(status, 500);
    sim.created("INQFAULT2").await; // SecurePay is unaffected.

    sim.sim.set_inquiry_fault(Some(Fault::Garbage));
    let (status, _, text) = sim.post(INQUIRY_PATH, Some(FORM), body()).await;
    assert_eq!(status, 200);
    assert!(
        matches!(InquiryResponse::open(&text, KEY.as_bytes()), Err(InquiryError::NotBase64 | InquiryError::NotXml(_))),
        "{text}"
    );

    sim.sim.set_inquiry_fault(Some(Fault::BadSignature));
    let (status, _, text) = sim.post(INQUIRY_PATH, Some(FORM), body()).await;
    assert_eq!(status, 200);
    assert_eq!(InquiryResponse::open(&text, KEY.as_bytes()), Err(InquiryError::BadHash));

    sim.sim.set_inquiry_fault(Some(Fault::Reject));
    let rejected = sim.inquiry("INQFAULT1").await;
    assert_eq!((rejected.resp_code.as_str(), rejected.status.as_str()), (INQUIRY_REFUSED, ""));
    assert_eq!(rejected.invoice_no, "", "a refusal says nothing about the invoice");

    sim.sim.set_inquiry_fault(Some(Fault::Delay(Duration::from_millis(300))));
    let started = Instant::now();
    let delayed = sim.inquiry("INQFAULT1").await;
    assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
    assert_eq!((delayed.resp_code.as_str(), delayed.status.as_str()), (INQUIRY_OK, "AP"), "then answers normally");

    sim.sim.set_inquiry_fault(None);
    sim.sim.set_securepay_fault(Some(Fault::Http500));
    assert_eq!(sim.inquiry("INQFAULT1").await.status, "AP", "a SecurePay fault leaves the inquiry alone");
    assert_eq!(sim.sim.inquiry_calls(), 6, "faulted inquiries count too");
    assert_eq!(sim.sim.securepay_calls(), 2);
}

#[tokio::test]
async fn inquiries_are_counted_with_the_most_in_flight_at_once() {
    let sim = Sim::start().await;
    sim.created("INQCOUNT1").await;
    for _ in 0..3 {
        sim.inquiry("INQCOUNT1").await;
    }
    assert_eq!(sim.sim.inquiry_calls(), 3);
    assert_eq!(sim.sim.max_inquiries_in_flight(), 1, "one after the other");
    assert_eq!(sim.sim.inquiries_in_flight(), 0);

    sim.sim.set_inquiry_fault(Some(Fault::Delay(Duration::from_millis(500))));
    let answers = tokio::join!(
        sim.inquiry("INQCOUNT1"),
        sim.inquiry("INQCOUNT1"),
        sim.inquiry("INQCOUNT1"),
        sim.inquiry("INQCOUNT1"),
    );
    assert_eq!(answers.0.status, "AP");
    assert_eq!(sim.sim.max_inquiries_in_flight(), 4, "the delay kept all four in flight together");
    assert_eq!(sim.sim.inquiries_in_flight(), 0);
    assert_eq!(sim.sim.inquiry_calls(), 7);

    // Refused and faulted inquiries count too; none of them is a SecurePay call.
    sim.sim.set_inquiry_fault(Some(Fault::Http500));
    sim.post(INQUIRY_PATH, Some(FORM), "not a form").await;
    assert_eq!(sim.sim.inquiry_calls(), 8);
    assert_eq!(sim.sim.max_inquiries_in_flight(), 4, "a high-water mark");
    assert_eq!(sim.sim.securepay_calls(), 1);
}
