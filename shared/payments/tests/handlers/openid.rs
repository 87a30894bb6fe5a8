//! `POST /openid` through the real handler, against simulated WeChat (and small fakes on loopback
//! for the answers the simulator does not give).

use std::time::Duration;

use axum::Router;
use axum::routing::get;

use crate::common::*;
use payments::secret::Secret;
use payments::session::SessionTokens;
use serde_json::Value;
use simulator::Fault;

async fn login_with(world: &World, body: &str) -> (u16, Value) {
    parts(world.openid.handle(event("openid", |e| set_body(e, body))).await)
}

/// A WeChat stand-in that answers every jscode2session with `answer` and `status`.
async fn fixed_wechat(status: u16, answer: &'static str) -> World {
    let app =
        Router::new().route(
            "/wechat/sns/jscode2session",
            get(move || async move {
                (axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK), answer)
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    World::with_upstream(simulator(), &format!("http://{addr}")).await
}

#[tokio::test]
async fn the_event_logs_in_and_the_token_carries_the_openid() {
    let world = World::new().await;
    let (status, body) = parts(world.openid.handle(event("openid", |_| {})).await);
    assert_eq!(status, 200, "{body}");
    let openid = world.sim.openid_for("alice");
    assert_eq!(body["openid"], openid.as_str());
    assert_eq!(body["expiresIn"], 7200);
    assert!(body.get("unionid").is_none(), "optional fields are left out, never null");
    assert!(body.get("session_key").is_none() && body.get("sessionKey").is_none());
    let token = body["token"].as_str().expect("token");
    let tokens = SessionTokens::new(&Secret::new(SESSION_SECRET), 7200);
    assert_eq!(tokens.verify(token, START + 7199).as_deref(), Ok(openid.as_str()));
    assert!(tokens.verify(token, START + 7200).is_err(), "expires after SESSION_TTL_SECONDS");
}

#[tokio::test]
async fn a_base64_encoded_body_works_too() {
    let world = World::new().await;
    let response = world.openid.handle(event("openid", |e| set_base64_body(e, br#"{"code":"sandbox-bob"}"#))).await;
    let (status, body) = parts(response);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["openid"], world.sim.openid_for("bob").as_str());
}

#[tokio::test]
async fn bad_bodies_are_400_naming_the_field() {
    let world = World::new().await;
    let long = format!(r#"{{"code":"{}"}}"#, "a".repeat(129));
    let cases = [
        ("not json", "The body is not valid JSON."),
        ("[1]", "The body must be a JSON object."),
        ("{}", "code is required."),
        (r#"{"code":null}"#, "code is required."),
        (r#"{"code":12}"#, "code must be a string."),
        (r#"{"code":""}"#, "code must be 1 to 128 characters."),
        (long.as_str(), "code must be 1 to 128 characters."),
        ("{\"code\":\"ab\\u0001\"}", "code must be printable ASCII."),
        (r#"{"code":"码"}"#, "code must be printable ASCII."),
    ];
    for (body, message) in cases {
        let (status, answer) = login_with(&world, body).await;
        assert_eq!((status, error_code(&answer)), (400, "invalid_request"), "{body}");
        assert_eq!(error_message(&answer), message, "{body}");
    }
}

#[tokio::test]
async fn bodies_over_16_kib_are_413() {
    let world = World::new().await;
    let body = format!(r#"{{"code":"sandbox-a","pad":"{}"}}"#, "x".repeat(16 * 1024));
    let (status, answer) = login_with(&world, &body).await;
    assert_eq!((status, error_code(&answer)), (413, "payload_too_large"));
}

#[tokio::test]
async fn wechat_refusals_map_to_the_contract() {
    let world = World::new().await;
    let (status, body) = login_with(&world, r#"{"code":"sandbox-invalid"}"#).await;
    assert_eq!((status, error_code(&body)), (401, "invalid_code"));
    let (status, body) = login_with(&world, r#"{"code":"sandbox-busy"}"#).await;
    assert_eq!((status, error_code(&body)), (502, "upstream_error"), "-1 system busy is an upstream error");

    for (answer, status, code) in [
        (r#"{"errcode":40163,"errmsg":"code been used"}"#, 401, "invalid_code"),
        (r#"{"errcode":40226,"errmsg":"high risk user"}"#, 403, "login_blocked"),
        (r#"{"errcode":45011,"errmsg":"api minute-quota reach limit"}"#, 429, "rate_limited"),
        (r#"{"errcode":40013,"errmsg":"invalid appid"}"#, 502, "upstream_error"),
        ("<html>gateway</html>", 502, "upstream_error"),
    ] {
        let world = fixed_wechat(200, answer).await;
        let (got, body) = login_with(&world, r#"{"code":"anything"}"#).await;
        assert_eq!((got, error_code(&body)), (status, code), "{answer}");
    }
    let world = fixed_wechat(503, "busy").await;
    let (status, body) = login_with(&world, r#"{"code":"anything"}"#).await;
    assert_eq!((status, error_code(&body)), (502, "upstream_error"));
}

#[tokio::test]
async fn unreachable_and_slow_wechat_are_502_and_504_without_leaking_the_secret() {
    let world = World::new().await;
    world.sim.set_wechat_fault(Some(Fault::Delay(Duration::from_secs(3))));
    let (status, body) = login_with(&world, r#"{"code":"sandbox-alice"}"#).await;
    assert_eq!((status, error_code(&body)), (504, "upstream_timeout"));
    assert!(!body.to_string().contains(APP_SECRET));

    world.sim.set_wechat_fault(Some(Fault::Http500));
    let (status, body) = login_with(&world, r#"{"code":"sandbox-alice"}"#).await;
    assert_eq!((status, error_code(&body)), (502, "upstream_error"));
    assert!(!body.to_string().contains(APP_SECRET), "the WeChat URL carries the secret: never echo it");

    let closed = World::with_upstream(world.sim.clone(), "http://127.0.0.1:9").await;
    let (status, body) = login_with(&closed, r#"{"code":"sandbox-alice"}"#).await;
    assert_eq!((status, error_code(&body)), (502, "upstream_error"));
    assert!(!body.to_string().contains(APP_SECRET));
}
