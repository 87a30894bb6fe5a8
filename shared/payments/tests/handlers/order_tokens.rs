//! The merchant's order token (contract "POST /prepay"), and the keys that may still sign during a
//! rotation: order keys, session keys and 2C2P's key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use payments::order::StoredStatus;
use payments::secret::Secret;
use payments::session::SessionTokens;
use serde_json::{Value, json};

use crate::common::*;

/// A JWT with any header algorithm the library can sign, and any claims.
fn jwt(alg: Algorithm, key: &str, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key.as_bytes())).expect("signed")
}

fn good_claims(world: &World) -> Value {
    json!({"orderId": "T-1", "amount": "12.50", "currency": "SGD", "description": "Latte x2",
           "exp": world.clock.now() + 600})
}

async fn prepay_with(world: &World, session: &str, token: &str) -> (u16, Value) {
    world.prepay_json(session, &json!({ "orderToken": token }).to_string()).await
}

fn refused(answer: &(u16, Value), fragment: &str, what: &str) {
    let (status, body) = answer;
    assert_eq!((*status, error_code(body)), (400, "invalid_order_token"), "{what}: {body}");
    let message = error_message(body);
    assert!(message.contains(fragment), "{what}: {message:?} should mention {fragment:?}");
    assert!(!message.contains(ORDER_KEY) && !message.contains(ORDER_KEY_PREVIOUS), "{what}: no key in a message");
}

#[tokio::test]
async fn a_good_token_pays_and_a_tampered_or_foreign_one_does_not() {
    let world = World::new().await;
    let session = world.login("alice").await;
    let good = jwt(Algorithm::HS256, ORDER_KEY, &good_claims(&world));
    let (status, body) = prepay_with(&world, &session, &good).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["orderId"].as_str(), body["amount"].as_str()), (Some("T-1"), Some("12.50")));

    // One character of the signature changed (in its middle: every bit there counts).
    let signature_at = good.rfind('.').expect("three parts") + 10;
    let mut tampered = good.clone().into_bytes();
    tampered[signature_at] = if tampered[signature_at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let claims = json!({"orderId": "T-2", "amount": "12.50", "currency": "SGD", "description": "x",
                        "exp": world.clock.now() + 600});
    let other_key = "some-other-merchant-key-0123456789abcdef";
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let unsigned = format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()));
    for (token, fragment, what) in [
        (tampered, "not signed with the merchant's order key", "a changed signature character"),
        (jwt(Algorithm::HS256, other_key, &claims), "not signed with the merchant's order key", "another key"),
        (unsigned, "HS256", "alg none"),
        (jwt(Algorithm::HS512, ORDER_KEY, &claims), "HS256", "HS512 with the right key"),
        ("not-a-jwt".to_owned(), "not a JWT", "garbage"),
    ] {
        refused(&prepay_with(&world, &session, &token).await, fragment, what);
    }
    assert_eq!(world.sim.securepay_calls(), 1, "only the good token reached 2C2P");
}

#[tokio::test]
async fn expiry_has_no_leeway_and_exp_is_required() {
    let world = World::new().await;
    let session = world.login("alice").await;
    let now = world.clock.now();
    let with_exp = |exp: Value| {
        let mut claims = good_claims(&world);
        claims["exp"] = exp;
        jwt(Algorithm::HS256, ORDER_KEY, &claims)
    };
    refused(&prepay_with(&world, &session, &with_exp(json!(now - 1))).await, "expired", "expired a second ago");
    refused(&prepay_with(&world, &session, &with_exp(json!(now))).await, "expired", "expires this second");
    refused(&prepay_with(&world, &session, &with_exp(json!("tomorrow"))).await, "exp", "exp not a number");
    let mut no_exp = good_claims(&world);
    no_exp.as_object_mut().expect("object").remove("exp");
    refused(&prepay_with(&world, &session, &jwt(Algorithm::HS256, ORDER_KEY, &no_exp)).await, "no exp", "no exp");
    assert_eq!(world.sim.securepay_calls(), 0);
    let (status, body) = prepay_with(&world, &session, &with_exp(json!(now as f64 + 0.5))).await;
    assert_eq!(status, 200, "a fractional exp half a second ahead is still valid: {body}");
}

#[tokio::test]
async fn every_claim_is_required_and_follows_the_order_rules() {
    let world = World::new().await;
    let session = world.login("alice").await;
    for claim in ["orderId", "amount", "currency", "description"] {
        let mut claims = good_claims(&world);
        claims.as_object_mut().expect("object").remove(claim);
        let answer = prepay_with(&world, &session, &jwt(Algorithm::HS256, ORDER_KEY, &claims)).await;
        refused(&answer, claim, &format!("no {claim}"));
        claims[claim] = json!(12);
        let answer = prepay_with(&world, &session, &jwt(Algorithm::HS256, ORDER_KEY, &claims)).await;
        refused(&answer, claim, &format!("{claim} not a string"));
    }
    for (claim, value) in [
        ("orderId", "A 1"),
        ("orderId", &*"x".repeat(65)),
        ("amount", "12.505"),
        ("amount", "0"),
        ("amount", "-1"),
        ("currency", "EUR"),
        ("description", ""),
        ("description", "(!@#)"),
    ] {
        let mut claims = good_claims(&world);
        claims[claim] = json!(value);
        let answer = prepay_with(&world, &session, &jwt(Algorithm::HS256, ORDER_KEY, &claims)).await;
        refused(&answer, claim, &format!("{claim} = {value:?}"));
    }
    let mut claims = good_claims(&world);
    claims["sub"] = json!(7);
    refused(&prepay_with(&world, &session, &jwt(Algorithm::HS256, ORDER_KEY, &claims)).await, "sub", "sub a number");
    assert_eq!(world.sim.securepay_calls(), 0, "no broken token reached 2C2P");
    assert!(world.store.orders().is_empty(), "nothing was written");
}

#[tokio::test]
async fn sub_names_the_only_user_who_may_pay() {
    let world = World::new().await;
    let alice = world.login("alice").await;
    let bob = world.login("bob").await;
    let mut claims = good_claims(&world);
    claims["sub"] = json!(world.sim.openid_for("alice"));
    let token = jwt(Algorithm::HS256, ORDER_KEY, &claims);
    let (status, body) = prepay_with(&world, &bob, &token).await;
    assert_eq!((status, error_code(&body)), (403, "forbidden"), "{body}");
    // The claims are checked before sub: a broken token naming another user is still a 400.
    let mut broken = claims.clone();
    broken["amount"] = json!("12.505");
    refused(&prepay_with(&world, &bob, &jwt(Algorithm::HS256, ORDER_KEY, &broken)).await, "amount", "broken, bob");
    assert_eq!(world.sim.securepay_calls(), 0);
    let (status, body) = prepay_with(&world, &alice, &token).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn the_token_is_the_only_source_of_the_order() {
    let world = World::new().await;
    let session = world.login("alice").await;
    let token = world.order_token("T-3", "12.50");
    for field in ["orderId", "amount", "currency", "description"] {
        let mut body = json!({"orderToken": token});
        body[field] = json!("1.00");
        let (status, answer) = world.prepay_json(&session, &body.to_string()).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"), "{field}: {answer}");
        assert!(error_message(&answer).starts_with(field), "{field}: {answer}");
    }
    for body in [r#"{}"#, r#"{"orderToken":null}"#, r#"{"orderToken":12}"#] {
        let (status, answer) = world.prepay_json(&session, body).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"), "{body}: {answer}");
        assert!(error_message(&answer).contains("orderToken"), "{body}: {answer}");
    }
    assert_eq!(world.sim.securepay_calls(), 0);
}

#[tokio::test]
async fn the_same_token_twice_is_the_same_attempt_and_another_amount_conflicts() {
    let world = World::new().await;
    let session = world.login("alice").await;
    let token = world.order_token("T-4", "12.50");
    let (status, first) = prepay_with(&world, &session, &token).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = prepay_with(&world, &session, &token).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["invoiceNo"], first["invoiceNo"]);
    let (status, body) = prepay_with(&world, &session, &world.order_token("T-4", "13.00")).await;
    assert_eq!((status, error_code(&body)), (409, "order_conflict"), "{body}");
    assert_eq!(world.sim.securepay_calls(), 1);
}

#[tokio::test]
async fn during_a_rotation_the_previous_order_key_signs_too_but_no_older_one() {
    let world = World::new().await;
    let session = world.login("alice").await;
    let previous = sign(ORDER_KEY_PREVIOUS, &claims("T-5", "1.00", None), world.clock.now() + 60);
    let (status, body) = prepay_with(&world, &session, &previous).await;
    assert_eq!(status, 200, "{body}");
    let older = sign("an-even-older-order-key-0123456789abcdef", &claims("T-6", "1.00", None), START + 60);
    refused(&prepay_with(&world, &session, &older).await, "not signed", "an older key");
}

#[tokio::test]
async fn with_client_pricing_a_sent_token_is_still_checked() {
    let world = World::client_priced().await;
    let session = world.login("alice").await;
    let (status, body) = prepay_with(&world, &session, &world.order_token("T-7", "2.00")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["amount"], "2.00");
    let forged = sign("some-other-merchant-key-0123456789abcdef", &claims("T-8", "0.01", None), START + 60);
    refused(&prepay_with(&world, &session, &forged).await, "not signed", "client pricing, forged token");

    let keyless = World::build(
        Options { client_pricing: true, order_key: false, ..Options::default() },
        std::sync::Arc::new(payments::store::MemoryStore::new()),
    )
    .await;
    let session = keyless.login("alice").await;
    refused(&prepay_with(&keyless, &session, &keyless.order_token("T-9", "2.00")).await, "ORDER_SIGNING_KEY", "no key");
    assert_eq!(keyless.prepay_order(&session, "T-9", "2.00").await.0, 200, "the body prices it");
    // A token that is sent but null is not a string, with client pricing too (not "absent").
    let body = r#"{"orderToken":null,"orderId":"T-10","amount":"2.00","currency":"SGD","description":"x"}"#;
    let (status, answer) = keyless.prepay_json(&session, body).await;
    assert_eq!((status, error_code(&answer)), (400, "invalid_request"), "{answer}");
    assert!(error_message(&answer).contains("orderToken"), "{answer}");
}

#[tokio::test]
async fn a_session_signed_with_the_previous_secret_is_accepted_an_unrelated_one_is_not() {
    let world = World::new().await;
    let openid = world.sim.openid_for("alice");
    let previous =
        SessionTokens::new(&Secret::new(SESSION_SECRET_PREVIOUS), 7200).issue(&openid, START).expect("issued").token;
    let (status, body) = world.prepay_order(&previous, "S-1", "1.00").await;
    assert_eq!(status, 200, "{body}");
    let unrelated = SessionTokens::new(&Secret::new("an-unrelated-session-secret-0123456789"), 7200)
        .issue(&openid, START)
        .expect("issued")
        .token;
    let (status, body) = world.prepay_order(&unrelated, "S-2", "1.00").await;
    assert_eq!((status, error_code(&body)), (401, "unauthorized"), "{body}");
}

#[tokio::test]
async fn a_notification_signed_with_the_previous_2c2p_key_is_accepted_an_unrelated_one_is_not() {
    let world = World::new().await;
    let session = world.login("alice").await;
    let invoice_no = world.prepaid(&session, "N-1", "12.50").await;
    let paid = notification(&invoice_no, "000", "A", "000000001250");
    let unrelated = protocol::envelope::form_body("paymentResponse", &paid.seal(b"Unrelated1234"));
    let (status, body) = world.notify_form(&unrelated).await;
    assert_eq!((status, error_code(&body)), (401, "unauthorized"), "{body}");
    assert_eq!(world.stored("N-1").await.status, StoredStatus::Pending);
    let previous = protocol::envelope::form_body("paymentResponse", &paid.seal(KEY_PREVIOUS.as_bytes()));
    let (status, body) = world.notify_form(&previous).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(world.stored("N-1").await.status, StoredStatus::Paid);
}
