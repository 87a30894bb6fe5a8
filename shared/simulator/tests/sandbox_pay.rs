//! `/sandbox/pay/{key}` and `Simulator::pay`: the signed notification reaches a real notify endpoint.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Receiver, Sim};
use protocol::envelope;
use protocol::outcome::{Outcome, classify};
use protocol::securepay::PaymentResponse;
use serde_json::json;
use simulator::{PayResult, SimError};

#[tokio::test]
async fn paying_by_invoice_posts_a_signed_paid_notification() {
    let sim = Sim::start().await;
    let mut receiver = Receiver::start(200).await;
    sim.sim.set_notify_url(&receiver.url);
    sim.created("PAYINV1").await;

    let (status, body) = sim.sandbox_pay("PAYINV1", r#"{"result":"success"}"#).await;
    assert_eq!((status, body), (200, json!({"notified": true, "notifyStatus": 200})));
    let (received, notification) = receiver.next().await;
    let value = received.body.strip_prefix("paymentResponse=").expect("one paymentResponse field");
    assert!(!value.contains(['+', '=', '/', ' ']), "the envelope is percent-encoded: {value}");
    assert_eq!(classify(&notification.resp_code, &notification.status, &notification.fail_reason), Outcome::Paid);
    assert_eq!(
        (notification.resp_code.as_str(), notification.status.as_str(), notification.fail_reason.as_str()),
        ("000", "A", "Approved")
    );
    assert_eq!(notification.merchant_id, common::MERCHANT);
    assert_eq!(notification.unique_transaction_code, "PAYINV1");
    assert_eq!(notification.amt, "000000001250");
    assert_eq!(notification.currency_code, "702");
    assert_eq!(notification.payment_channel, "WCMINI");
    assert_eq!(notification.user_defined1, "A-1001");
    assert_eq!(notification.date_time.len(), 12);
    assert!(!notification.tran_ref.is_empty());
    assert!(notification.mini_program_data.is_none());

    // Paying again re-sends the very same notification: a replay.
    let (status, _) = sim.sandbox_pay("PAYINV1", r#"{"result":"success"}"#).await;
    assert_eq!(status, 200);
    let (replayed, _) = receiver.next().await;
    assert_eq!(replayed.body, received.body);
    let field = envelope::base64_form_field(received.body.as_bytes(), "paymentResponse").expect("field");
    assert_eq!(sim.sim.notification_envelope("PAYINV1", PayResult::Success), Ok(field));
}

#[tokio::test]
async fn paying_by_prepay_id_and_declining_work_too() {
    let sim = Sim::start().await;
    let mut receiver = Receiver::start(200).await;
    sim.sim.set_notify_url(&receiver.url);
    let prepay_id = sim.created("PAYPREPAY1").await;
    let (status, _) = sim.sandbox_pay(&prepay_id, r#"{"result": "success"}"#).await;
    assert_eq!(status, 200);
    let (_, paid) = receiver.next().await;
    assert_eq!(paid.unique_transaction_code, "PAYPREPAY1");
    assert_eq!(paid.status, "A");

    let prepay_id = sim.created("PAYFAIL1").await;
    let (status, body) = sim.sandbox_pay(&prepay_id, r#"{"result":"fail"}"#).await;
    assert_eq!((status, body), (200, json!({"notified": true, "notifyStatus": 200})));
    let (_, failed) = receiver.next().await;
    assert_eq!(
        (failed.resp_code.as_str(), failed.status.as_str(), failed.fail_reason.as_str()),
        ("99", "F", "Payment was declined")
    );
    assert_eq!(
        classify(&failed.resp_code, &failed.status, &failed.fail_reason),
        Outcome::Failed { reason: "Payment was declined".into() }
    );
    assert_eq!(failed.unique_transaction_code, "PAYFAIL1");
    assert_eq!(failed.approval_code, "");
}

#[tokio::test]
async fn the_notify_status_is_passed_back() {
    let sim = Sim::start().await;
    let mut receiver = Receiver::start(401).await;
    sim.sim.set_notify_url(&receiver.url);
    sim.created("PAYSTATUS1").await;
    assert_eq!(sim.sim.pay("PAYSTATUS1", PayResult::Success).await, Ok(401));
    receiver.next().await;
    let (status, body) = sim.sandbox_pay("PAYSTATUS1", r#"{"result":"success"}"#).await;
    assert_eq!((status, body), (200, json!({"notified": true, "notifyStatus": 401})));
}

#[tokio::test]
async fn unknown_keys_bad_bodies_and_an_unreachable_notify_url_are_errors() {
    let sim = Sim::start().await;
    let (status, body) = sim.sandbox_pay("NOSUCHINVOICE", r#"{"result":"success"}"#).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
    assert!(body["error"]["message"].is_string());
    assert_eq!(
        sim.sim.pay("NOSUCHINVOICE", PayResult::Success).await,
        Err(SimError::UnknownKey("NOSUCHINVOICE".into()))
    );
    assert_eq!(
        sim.sim.notification_envelope("NOSUCHINVOICE", PayResult::Fail),
        Err(SimError::UnknownKey("NOSUCHINVOICE".into()))
    );

    sim.created("PAYBAD1").await;
    for bad in [
        "",
        "success",
        r#"{"result":"maybe"}"#,
        r#"{"result":true}"#,
        r#"{}"#,
        r#"{"result":"success","x":1}"#,
        r#"{"result":"success","notify":"no"}"#,
        r#"{"result":"success","notify":null}"#,
        r#"{"notify":false}"#,
    ] {
        let (status, body) = sim.sandbox_pay("PAYBAD1", bad).await;
        assert_eq!((status, &body["error"]["code"]), (400, &json!("invalid_request")), "{bad}");
    }

    // The default notify URL is closed.
    let (status, body) = sim.sandbox_pay("PAYBAD1", r#"{"result":"success"}"#).await;
    assert_eq!((status, &body["error"]["code"]), (502, &json!("upstream_error")), "{body}");
    assert!(matches!(sim.sim.pay("PAYBAD1", PayResult::Success).await, Err(SimError::NotifyFailed(_))));
}

#[tokio::test]
async fn notification_envelopes_are_stable_and_change_nothing() {
    let sim = Sim::start().await;
    let prepay_id = sim.created("PAYENV1").await;
    let success = sim.sim.notification_envelope("PAYENV1", PayResult::Success).expect("known");
    assert_eq!(sim.sim.notification_envelope(&prepay_id, PayResult::Success), Ok(success.clone()));
    let fail = sim.sim.notification_envelope("PAYENV1", PayResult::Fail).expect("known");
    assert_ne!(success, fail);
    let opened = PaymentResponse::open(&success, common::KEY.as_bytes()).expect("signed with the merchant key");
    assert_eq!(opened.status, "A");
    assert!(PaymentResponse::open(&success, b"another key").is_err());
    assert_eq!(sim.inquiry("PAYENV1").await.status, "AP", "building an envelope pays nothing");
}

#[tokio::test]
async fn notify_false_pays_but_loses_the_notification() {
    let sim = Sim::start().await;
    let mut receiver = Receiver::start(200).await;
    sim.sim.set_notify_url(&receiver.url);
    let prepay_id = sim.created("PAYLOST1").await;

    let (status, body) = sim.sandbox_pay(&prepay_id, r#"{"result":"success","notify":false}"#).await;
    assert_eq!((status, body), (200, json!({"notified": false})));
    // /sandbox/pay answers only after the notify URL did, so a posted notification would be queued by now.
    assert!(receiver.rx.try_recv().is_err(), "nothing was posted");
    assert_eq!(sim.inquiry("PAYLOST1").await.status, "A", "the money arrived all the same");

    // A later delivery is the very notification that was lost, not a new one.
    let lost = sim.sim.notification_envelope("PAYLOST1", PayResult::Success).expect("known");
    let (status, body) = sim.sandbox_pay("PAYLOST1", r#"{"result":"success","notify":true}"#).await;
    assert_eq!((status, body), (200, json!({"notified": true, "notifyStatus": 200})));
    let (received, _) = receiver.next().await;
    assert_eq!(envelope::base64_form_field(received.body.as_bytes(), "paymentResponse"), Ok(lost));
}

#[tokio::test]
async fn notify_false_never_touches_the_notify_url() {
    let sim = Sim::start().await;
    sim.created("PAYLOST2").await;
    sim.created("PAYLOST3").await;
    // The default notify URL is closed: notifying fails there, not notifying cannot.
    let (status, body) = sim.sandbox_pay("PAYLOST2", r#"{"result":"fail","notify":false}"#).await;
    assert_eq!((status, body), (200, json!({"notified": false})));
    assert_eq!(sim.inquiry("PAYLOST2").await.status, "PF");

    assert_eq!(sim.sim.pay_without_notify("PAYLOST3", PayResult::Success), Ok(()));
    assert_eq!(sim.inquiry("PAYLOST3").await.status, "A");
    assert_eq!(sim.sim.pay_without_notify("PAYLOST3", PayResult::Fail), Ok(()));
    assert_eq!(sim.inquiry("PAYLOST3").await.status, "A", "a paid order stays paid");
    assert_eq!(
        sim.sim.pay_without_notify("NOSUCHINVOICE", PayResult::Success),
        Err(SimError::UnknownKey("NOSUCHINVOICE".into()))
    );
    let (status, body) = sim.sandbox_pay("NOSUCHINVOICE", r#"{"result":"success","notify":false}"#).await;
    assert_eq!((status, &body["error"]["code"]), (404, &json!("not_found")));
}
