//! Simulated Payment Action 3.4 inquiry over real HTTP.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{KEY, MERCHANT, Sim};
use protocol::envelope;
use protocol::inquiry::InquiryRequest;
use simulator::{INQUIRY_NOT_FOUND, INQUIRY_OK, INQUIRY_REFUSED, PayResult};

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
