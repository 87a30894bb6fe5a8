//! `POST /prepay` and `GET /orders/{orderId}` through the real handler, against simulated 2C2P: the
//! merchant-signed order by default, the client-priced body with `CLIENT_PRICING=true`.

use std::time::Duration;

use payments::store::OrderStore;
use serde_json::{Value, json};
use simulator::{Fault, PayResult};

use crate::common::*;

#[tokio::test]
async fn the_event_prepays_with_the_openid_from_the_session() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let (status, body) = parts(world.prepay.handle(event("prepay", |e| set_bearer(e, &token))).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["orderId"], "A-1001");
    assert_eq!(body["status"], "pending");
    assert_eq!(body["amount"], "12.50");
    assert_eq!(body["currency"], "SGD");
    let invoice = body["invoiceNo"].as_str().expect("invoiceNo");
    assert!(invoice.len() <= 20 && invoice.chars().all(|c| c.is_ascii_alphanumeric()), "{invoice}");
    for key in ["timeStamp", "nonceStr", "package", "signType", "paySign"] {
        assert!(body["payment"][key].is_string(), "payment.{key} in {body}");
    }
    let sent = world.sim.last_payment_request().expect("2C2P was called");
    assert_eq!(sent.mini_program_data.wechat.open_id, world.sim.openid_for("alice"));
    assert_eq!(sent.mini_program_data.wechat.app_id, APP_ID);
    assert_eq!(sent.unique_transaction_code, invoice);
    assert_eq!(sent.amt, "000000001250");
    assert_eq!(sent.currency_code, "702");
    assert_eq!(sent.payment_channel, "WCMINI");
    assert_eq!(sent.desc, "Latte x2");

    // The event's token names alice (`sub`): bob's session may not pay it.
    let bob = world.login("bob").await;
    let (status, body) = parts(world.prepay.handle(event("prepay", |e| set_bearer(e, &bob))).await);
    assert_eq!((status, error_code(&body)), (403, "forbidden"), "{body}");
}

#[tokio::test]
async fn an_openid_in_the_body_is_ignored() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let body = json!({"orderToken": world.order_token("B-1", "1.00"), "openid": "oAttacker", "openID": "oAttacker"});
    let (status, answer) = world.prepay_json(&token, &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let sent = world.sim.last_payment_request().expect("2C2P was called");
    assert_eq!(sent.mini_program_data.wechat.open_id, world.sim.openid_for("alice"));

    let priced = World::client_priced().await;
    let token = priced.login("alice").await;
    let body = r#"{"orderId":"B-1","amount":"1.00","currency":"SGD","description":"Tea","openid":"oAttacker"}"#;
    assert_eq!(priced.prepay_json(&token, body).await.0, 200);
    let sent = priced.sim.last_payment_request().expect("2C2P was called");
    assert_eq!(sent.mini_program_data.wechat.open_id, priced.sim.openid_for("alice"));
}

#[tokio::test]
async fn session_tokens_are_required_and_checked() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let no_header = world.prepay.handle(event("prepay", |e| {
        if let Some(headers) = e["headers"].as_object_mut() {
            headers.remove("authorization");
        }
    }));
    let (status, body) = parts(no_header.await);
    assert_eq!((status, error_code(&body)), (401, "unauthorized"));
    for bad in ["not-a-token", "a.b.c", ""] {
        let (status, body) = world.prepay_order(bad, "A-1", "1.00").await;
        assert_eq!((status, error_code(&body)), (401, "unauthorized"), "{bad:?}");
    }
    let (status, body) = parts(
        world
            .prepay
            .handle(event("prepay", |e| {
                e["headers"]["authorization"] = Value::from(format!("Basic {token}"));
            }))
            .await,
    );
    assert_eq!((status, error_code(&body)), (401, "unauthorized"));
    world.clock.advance(7199);
    let (status, body) = world.prepay_order(&token, "A-1", "1.00").await;
    assert_eq!(status, 200, "valid until the last second: {body}");
    world.clock.advance(1);
    let (status, body) = world.prepay_order(&token, "A-2", "1.00").await;
    assert_eq!((status, error_code(&body)), (401, "unauthorized"));
    assert!(error_message(&body).contains("expired"));
    assert_eq!(world.sim.securepay_calls(), 1, "nothing else reached 2C2P");
}

#[tokio::test]
async fn client_priced_bad_requests_are_400_naming_the_field_and_change_nothing() {
    let world = World::client_priced().await;
    let token = world.login("alice").await;
    let long_id = "x".repeat(65);
    let long_desc = "d".repeat(129);
    let body = |order_id: &str, amount: &str, currency: &str, description: &str| {
        json!({"orderId": order_id, "amount": amount, "currency": currency, "description": description}).to_string()
    };
    // (body, the message's start, a part of the rule it must mention)
    let cases = [
        ("not json".to_owned(), "The body is not valid JSON", ""),
        (r#"{"amount":"1.00","currency":"SGD","description":"x"}"#.to_owned(), "orderId is required", ""),
        (body("A 1", "1.00", "SGD", "x"), "orderId", "A-Z a-z 0-9 _ -"),
        (body(&long_id, "1.00", "SGD", "x"), "orderId", "64"),
        (r#"{"orderId":"A-1","amount":12.5,"currency":"SGD","description":"x"}"#.to_owned(), "amount", "string"),
        (body("A-1", "12.505", "SGD", "x"), "amount", "2 decimal places"),
        (body("A-1", "1000.5", "JPY", "x"), "amount", "0 decimal places"),
        (body("A-1", "-1", "SGD", "x"), "amount", "sign"),
        (body("A-1", "1e3", "SGD", "x"), "amount", "digits"),
        (body("A-1", "0.00", "SGD", "x"), "amount", "greater than zero"),
        (body("A-1", "10000000000.00", "SGD", "x"), "amount", "12 digits"),
        (body("A-1", "1.00", "EUR", "x"), "currency", "SGD, THB"),
        (body("A-1", "1.00", "sgd", "x"), "currency", ""),
        (body("A-1", "1.00", "SGD", ""), "description", "1 to 128"),
        (body("A-1", "1.00", "SGD", &long_desc), "description", "1 to 128"),
        (body("A-1", "1.00", "SGD", "(!@#)"), "description", ""),
    ];
    for (request, start, rule) in cases {
        let (status, answer) = world.prepay_json(&token, &request).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"), "{request}");
        let message = error_message(&answer);
        assert!(message.starts_with(start) && message.contains(rule), "{request}: {message}");
    }
    assert_eq!(world.store.get_order(&order_id("A-1")).await, Ok(None), "nothing was written");
    assert_eq!(world.sim.securepay_calls(), 0);
}

#[tokio::test]
async fn without_client_pricing_the_body_cannot_set_the_order() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let (status, body) =
        world.prepay_json(&token, r#"{"orderId":"A-1","amount":"1.00","currency":"SGD","description":"x"}"#).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_request"));
    assert!(error_message(&body).contains("orderToken"), "{body}");
    assert_eq!(world.sim.securepay_calls(), 0);
}

#[tokio::test]
async fn description_is_kept_as_given_and_cleaned_for_2c2p() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let description = "Latte (large) & <cake>   x2! 咖啡";
    let order = payments::order_token::OrderClaims { description: description.into(), ..claims("C-1", "12.5", None) };
    let body = json!({"orderToken": sign(ORDER_KEY, &order, START + 60)});
    let (status, answer) = world.prepay_json(&token, &body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["amount"], "12.50", "amount comes back canonical");
    assert_eq!(world.sim.last_payment_request().expect("sent").desc, "Latte large cake x2 咖啡");
    let (_, order) = world.get_order(&token, "C-1").await;
    assert_eq!(order["description"], description);
}

#[tokio::test]
async fn the_same_order_again_gets_the_same_answer_without_calling_2c2p() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let (_, first) = world.prepay_order(&token, "D-1", "12.50").await;
    let (status, again) = world.prepay_order(&token, "D-1", "12.5").await;
    assert_eq!(status, 200);
    assert_eq!(again, first, "same invoiceNo and payment");
    assert_eq!(world.sim.securepay_calls(), 1);
    let other = payments::order_token::OrderClaims { description: "Other".into(), ..claims("D-1", "12.50", None) };
    let body = json!({"orderToken": sign(ORDER_KEY, &other, START + 60)});
    assert_eq!(world.prepay_json(&token, &body.to_string()).await.1, first, "the description does not count");
    assert_eq!(world.sim.securepay_calls(), 1);
}

#[tokio::test]
async fn another_amount_currency_or_user_is_a_conflict() {
    let world = World::new().await;
    let alice = world.login("alice").await;
    let bob = world.login("bob").await;
    world.prepaid(&alice, "E-1", "12.50").await;
    let (status, body) = world.prepay_order(&alice, "E-1", "12.51").await;
    assert_eq!((status, error_code(&body)), (409, "order_conflict"));
    let usd = payments::order_token::OrderClaims { currency: "USD".into(), ..claims("E-1", "12.50", None) };
    let body = json!({"orderToken": sign(ORDER_KEY, &usd, START + 60)});
    let (status, body) = world.prepay_json(&alice, &body.to_string()).await;
    assert_eq!((status, error_code(&body)), (409, "order_conflict"));
    let (status, body) = world.prepay_order(&bob, "E-1", "12.50").await;
    assert_eq!((status, error_code(&body)), (409, "order_conflict"));
    assert_eq!(world.sim.securepay_calls(), 1);
}

#[tokio::test]
async fn two_first_prepays_racing_one_proceeds_the_other_conflicts() {
    let world = World::new().await;
    let token = world.login("alice").await;
    // A slow store: both read "no such order" before either writes it.
    world.store.set_delay(Duration::from_millis(50));
    let (a, b) = tokio::join!(world.prepay_order(&token, "F-1", "5.00"), world.prepay_order(&token, "F-1", "5.00"));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let loser = if a.0 == 409 { a.1 } else { b.1 };
    assert_eq!(error_code(&loser), "order_conflict");
    assert_eq!(world.sim.securepay_calls(), 1);
}

#[tokio::test]
async fn a_duplicate_that_finds_the_first_prepay_under_way_gets_its_answer() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let (a, b) = tokio::join!(world.prepay_order(&token, "F-2", "5.00"), world.prepay_order(&token, "F-2", "5.00"));
    assert_eq!((a.0, b.0), (200, 200), "{a:?} {b:?}");
    assert_eq!(a.1, b.1, "the same invoiceNo and payment");
    assert_eq!(world.sim.securepay_calls(), 1);
}

#[tokio::test]
async fn a_refusal_is_502_recorded_failed_and_a_retry_starts_a_new_attempt() {
    let world = World::new().await;
    let token = world.login("alice").await;
    world.sim.set_securepay_fault(Some(Fault::Reject));
    let (status, body) = world.prepay_order(&token, "G-1", "3.00").await;
    assert_eq!((status, error_code(&body)), (502, "payment_rejected"));
    assert!(error_message(&body).contains("respCode 99"), "{body}");
    let (_, order) = world.get_order(&token, "G-1").await;
    assert_eq!(order["status"], "failed");
    let first_invoice = order["invoiceNo"].as_str().expect("invoice").to_owned();
    assert!(order["failReason"].as_str().is_some_and(|r| r.contains("respCode 99")), "{order}");
    let attempt = world.store.get_attempt(&invoice(&first_invoice)).await.expect("read").expect("attempt");
    assert_eq!(attempt.due_at, None, "a signed refusal takes the attempt off the schedule");

    world.sim.set_securepay_fault(None);
    let (status, body) = world.prepay_order(&token, "G-1", "3.00").await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["invoiceNo"], first_invoice.as_str());
    let (_, order) = world.get_order(&token, "G-1").await;
    assert_eq!(order["status"], "pending");
    assert!(order.get("failReason").is_none(), "{order}");
}

#[tokio::test]
async fn upstream_failures_are_502_or_504_and_recorded_failed() {
    let cases = [
        (Fault::Http500, 502, "upstream_error"),
        (Fault::Garbage, 502, "upstream_error"),
        (Fault::BadSignature, 502, "upstream_error"),
        (Fault::MissingWechatData, 502, "upstream_error"),
        (Fault::Delay(Duration::from_secs(3)), 504, "upstream_timeout"),
    ];
    for (index, (fault, status, code)) in cases.into_iter().enumerate() {
        let world = World::new().await;
        let token = world.login("alice").await;
        world.sim.set_securepay_fault(Some(fault.clone()));
        let order_id = format!("H-{index}");
        let (got, body) = world.prepay_order(&token, &order_id, "3.00").await;
        assert_eq!((got, error_code(&body)), (status, code), "{fault:?}");
        assert!(!body.to_string().contains(KEY), "no secret in an answer");
        let (_, order) = world.get_order(&token, &order_id).await;
        assert_eq!(order["status"], "failed", "{fault:?}: {order}");
        assert!(order["failReason"].as_str().is_some_and(|r| r.contains("2C2P")), "{order}");
        let invoice_no = invoice(order["invoiceNo"].as_str().expect("invoice"));
        let attempt = world.store.get_attempt(&invoice_no).await.expect("read").expect("attempt");
        assert!(attempt.due_at.is_some(), "{fault:?}: 2C2P may have created the order, so it stays due");
    }
}

#[tokio::test]
async fn an_attempt_past_its_validity_reads_expired_and_prepay_starts_another() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let (_, first) = world.prepay_order(&token, "I-1", "3.00").await;
    world.clock.advance(899);
    assert_eq!(world.get_order(&token, "I-1").await.1["status"], "pending");
    world.clock.advance(1);
    assert_eq!(world.get_order(&token, "I-1").await.1["status"], "expired");
    let (status, second) = world.prepay_order(&token, "I-1", "3.00").await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(second["invoiceNo"], first["invoiceNo"]);
    assert_eq!(world.sim.securepay_calls(), 2);
}

#[tokio::test]
async fn an_expired_attempt_that_was_paid_is_409_already_paid_not_a_second_payment() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let invoice_no = world.prepaid(&token, "I-2", "3.00").await;
    world.sim.pay_without_notify(&invoice_no, PayResult::Success).expect("paid in WeChat");
    world.clock.advance(PAYMENT_TTL + 1);
    let (status, body) = world.prepay_order(&token, "I-2", "3.00").await;
    assert_eq!((status, error_code(&body)), (409, "already_paid"), "{body}");
    assert_eq!(world.sim.securepay_calls(), 1, "no second WeChat order");
    let order = world.stored("I-2").await;
    assert_eq!(order.status, payments::order::StoredStatus::Paid);
    assert_eq!(order.paid_invoice_no, Some(invoice(&invoice_no)));
}

#[tokio::test]
async fn a_paid_order_is_409_already_paid() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let invoice_no = world.prepaid(&token, "J-1", "12.50").await;
    let (status, _) = world.notify(&notification(&invoice_no, "000", "A", "000000001250")).await;
    assert_eq!(status, 200);
    let (status, body) = world.prepay_order(&token, "J-1", "12.50").await;
    assert_eq!((status, error_code(&body)), (409, "already_paid"));
    let (_, order) = world.get_order(&token, "J-1").await;
    assert_eq!(order["status"], "paid");
    assert!(order["paidAt"].is_string());
    assert_eq!(order["paidInvoiceNo"], invoice_no.as_str());
}

#[tokio::test]
async fn get_order_shows_the_contract_fields_and_hides_other_users_orders() {
    let world = World::new().await;
    let alice = world.login("alice").await;
    let bob = world.login("bob").await;
    world.prepaid(&alice, "K-1", "12.50").await;
    let (status, order) = world.get_order(&alice, "K-1").await;
    assert_eq!(status, 200);
    let mut keys: Vec<&str> = order.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["amount", "createdAt", "currency", "description", "invoiceNo", "orderId", "status", "updatedAt"]);
    assert_eq!(order["createdAt"], "2026-11-26T12:00:00Z");
    let (status, body) = world.get_order(&bob, "K-1").await;
    assert_eq!((status, error_code(&body)), (404, "not_found"), "another user's order is not found");
    let (status, body) = world.get_order(&alice, "NOPE").await;
    assert_eq!((status, error_code(&body)), (404, "not_found"));
    let (status, body) = world.get_order(&alice, "bad%20id").await;
    assert_eq!((status, error_code(&body)), (400, "invalid_request"), "{body}");
    let (status, body) = world.get_order("bad", "K-1").await;
    assert_eq!((status, error_code(&body)), (401, "unauthorized"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn money_that_arrives_while_a_retry_asks_2c2p_answers_already_paid() {
    let world = World::new().await;
    let token = world.login("alice").await;
    let first = world.prepaid(&token, "RP-1", "12.50").await;
    assert_eq!(world.notify(&notification(&first, "00", "F", "000000001250")).await.0, 200);
    // The retry opens a second attempt and waits on 2C2P; meanwhile the first attempt's money arrives.
    world.sim.set_securepay_fault(Some(Fault::Delay(Duration::from_millis(600))));
    let late_money = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        world.notify(&notification(&first, "000", "A", "000000001250")).await
    };
    let ((status, body), (notified, _)) = tokio::join!(world.prepay_order(&token, "RP-1", "12.50"), late_money);
    assert_eq!(notified, 200);
    assert_eq!((status, error_code(&body)), (409, "already_paid"), "{body}");
    assert_eq!(world.stored("RP-1").await.status, payments::order::StoredStatus::Paid);
}
