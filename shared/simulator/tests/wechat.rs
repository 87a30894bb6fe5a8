//! Simulated WeChat jscode2session over real HTTP.

// A test that panics has failed: its helpers may unwrap.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{APP_ID, APP_SECRET, Sim};
use protocol::wechat::{Code2SessionError, parse_code2session};
use serde_json::Value;
use simulator::Fault;

fn params(code: &str) -> Vec<(&'static str, &str)> {
    vec![("appid", APP_ID), ("secret", APP_SECRET), ("js_code", code), ("grant_type", "authorization_code")]
}

#[tokio::test]
async fn a_sandbox_code_logs_in_as_a_stable_openid() {
    let sim = Sim::start().await;
    let (status, content_type, body) = sim.jscode2session(&params("sandbox-alice")).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain", "WeChat labels its JSON text/plain");
    let session = parse_code2session(body.as_bytes()).expect("a login");
    assert_eq!(session.openid, simulator::openid_for("alice"));
    assert_eq!(session.openid, sim.sim.openid_for("alice"));
    assert_eq!(session.openid.len(), 28);
    assert_eq!(session.unionid, None);
    assert_eq!(session.session_key.expose().len(), 24, "16 bytes in base64");
    let json: Value = serde_json::from_str(&body).expect("JSON");
    assert!(json.get("errcode").is_none() && json.get("unionid").is_none(), "{json}");

    // Not single-use: the sandbox page may send the same code again.
    let again = sim.login("sandbox-alice").await;
    assert_eq!(again["openid"], session.openid.as_str());
    assert_ne!(sim.login("sandbox-bob").await["openid"], session.openid.as_str());
    // The same name gives the same openid in another simulator too.
    let other = Sim::start().await;
    assert_eq!(other.login("sandbox-alice").await["openid"], session.openid.as_str());
}

#[tokio::test]
async fn a_union_code_also_gets_a_unionid() {
    let sim = Sim::start().await;
    let json = sim.login("sandbox-union-carol").await;
    assert_eq!(json["openid"], simulator::openid_for("union-carol").as_str());
    assert_eq!(json["unionid"], simulator::unionid_for("carol").as_str());
}

#[tokio::test]
async fn each_code_error_has_wechats_errcode() {
    let sim = Sim::start().await;
    let cases = [
        ("sandbox-invalid", 40029),
        ("sandbox-busy", -1),
        ("sandbox-used", 40163),
        ("sandbox-blocked", 40226),
        ("sandbox-limited", 45011),
        ("081aBcDe0abc", 40029),
        ("sandbox-", 40029),
        ("sandbox-Alice", 40029),
        ("sandbox-a_b", 40029),
        ("SANDBOX-alice", 40029),
    ];
    let long = format!("sandbox-{}", "a".repeat(33));
    for (code, errcode) in cases.into_iter().chain([(long.as_str(), 40029)]) {
        let json = sim.login(code).await;
        assert_eq!(json["errcode"], errcode, "{code}: {json}");
        assert!(json["errmsg"].as_str().is_some_and(|m| m.contains("rid: ")), "{code}: {json}");
        assert!(json.get("openid").is_none(), "{code}");
    }
    assert!(sim.login(&format!("sandbox-{}", "a".repeat(32))).await["openid"].is_string());
    // The parser the backend uses reads them as the contract expects.
    let (_, _, body) = sim.jscode2session(&params("sandbox-busy")).await;
    assert_eq!(parse_code2session(body.as_bytes()), Err(Code2SessionError::SystemBusy));
    let (_, _, body) = sim.jscode2session(&params("sandbox-invalid")).await;
    assert_eq!(parse_code2session(body.as_bytes()), Err(Code2SessionError::InvalidCode(40029)));
}

#[tokio::test]
async fn credentials_and_parameters_are_checked() {
    let sim = Sim::start().await;
    let code = "sandbox-alice";
    let grant = "authorization_code";
    type Query<'a> = Vec<(&'a str, &'a str)>;
    let cases: [(&str, Query, i64); 8] = [
        (
            "wrong appid",
            vec![("appid", "wxother"), ("secret", APP_SECRET), ("js_code", code), ("grant_type", grant)],
            40013,
        ),
        ("wrong secret", vec![("appid", APP_ID), ("secret", "nope"), ("js_code", code), ("grant_type", grant)], 40125),
        ("no appid", vec![("secret", APP_SECRET), ("js_code", code), ("grant_type", grant)], 41002),
        ("no secret", vec![("appid", APP_ID), ("js_code", code), ("grant_type", grant)], 41004),
        (
            "wrong grant_type",
            vec![("appid", APP_ID), ("secret", APP_SECRET), ("js_code", code), ("grant_type", "client_credential")],
            40002,
        ),
        ("no grant_type", vec![("appid", APP_ID), ("secret", APP_SECRET), ("js_code", code)], 40002),
        ("no js_code", vec![("appid", APP_ID), ("secret", APP_SECRET), ("grant_type", grant)], 41008),
        (
            "empty js_code",
            vec![("appid", APP_ID), ("secret", APP_SECRET), ("js_code", ""), ("grant_type", grant)],
            41008,
        ),
    ];
    for (case, query, errcode) in cases {
        let (status, content_type, body) = sim.jscode2session(&query).await;
        assert_eq!((status, content_type.as_str()), (200, "text/plain"), "{case}");
        let json: Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(json["errcode"], errcode, "{case}: {json}");
    }
    let (_, _, body) = sim.jscode2session(&params(code)).await;
    assert!(body.contains(r#""openid""#), "the right credentials still work: {body}");
}

#[tokio::test]
async fn faults_behave_as_documented() {
    let sim = Sim::start().await;
    sim.sim.set_wechat_fault(Some(Fault::Http500));
    assert_eq!(sim.jscode2session(&params("sandbox-alice")).await.0, 500);

    sim.sim.set_wechat_fault(Some(Fault::Garbage));
    let (status, _, body) = sim.jscode2session(&params("sandbox-alice")).await;
    assert_eq!(status, 200);
    assert_eq!(parse_code2session(body.as_bytes()), Err(Code2SessionError::NotJson));

    sim.sim.set_wechat_fault(Some(Fault::MissingWechatData));
    let (_, _, body) = sim.jscode2session(&params("sandbox-alice")).await;
    assert_eq!(parse_code2session(body.as_bytes()), Err(Code2SessionError::MissingOpenid));

    for ignored in [Fault::BadSignature, Fault::Reject] {
        sim.sim.set_wechat_fault(Some(ignored.clone()));
        let (_, _, body) = sim.jscode2session(&params("sandbox-alice")).await;
        assert!(parse_code2session(body.as_bytes()).is_ok(), "{ignored:?} is ignored by WeChat");
    }

    sim.sim.set_wechat_fault(Some(Fault::Delay(Duration::from_secs(5))));
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().expect("client");
    let error = impatient
        .get(sim.url("/wechat/sns/jscode2session"))
        .query(&params("sandbox-alice"))
        .send()
        .await
        .expect_err("times out");
    assert!(error.is_timeout(), "{error}");

    sim.sim.set_wechat_fault(None);
    assert!(sim.login("sandbox-alice").await["openid"].is_string());
    assert_eq!(sim.sim.securepay_calls(), 0, "WeChat calls are not SecurePay calls");
}
