//! Simulated WeChat `GET /sns/jscode2session`.
//!
//! Answers are JSON labelled `text/plain`, as WeChat labels them, with WeChat's own errcodes, checked in
//! WeChat's order:
//!
//! | request | errcode |
//! | --- | --- |
//! | no `appid` / no `secret` | 41002 / 41004 |
//! | `appid` not the configured one | 40013 "invalid appid" |
//! | `secret` not the configured one | 40125 "invalid appsecret" |
//! | `grant_type` not `authorization_code` | 40002 "invalid grant_type" |
//! | no or empty `js_code` | 41008 "missing code" |
//! | `sandbox-invalid`, or any code not of the form `sandbox-<name>` | 40029 "invalid code" |
//! | `sandbox-busy` | -1 "system error" |
//! | `sandbox-used` | 40163 "code been used" |
//! | `sandbox-blocked` | 40226 "high risk user" |
//! | `sandbox-limited` | 45011 "api minute-quota reach limit" |
//! | `sandbox-<name>` (`<name>`: 1 to 32 of `a-z 0-9 -`) | `openid` = [`openid_for`]`(name)` and a `session_key` |
//! | `sandbox-union-<x>` | as above, plus `unionid` = [`unionid_for`]`(x)` |
//!
//! The real 41002/41004/40002/41008 codes are kept rather than 40029: a backend that sends no code or a
//! wrong grant_type has a bug, and should see an unexpected errcode, not a user's bad code. Unlike WeChat,
//! codes are not single-use and never expire, so the sandbox page can reuse a typed code.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{Fault, Simulator, lock, text};

const CONTENT_TYPE: &str = "text/plain";

/// The openid WeChat gives `sandbox-<name>`: `o` and 27 base64url characters of a hash of the name,
/// 28 characters like WeChat's, the same for the same name in every run.
pub fn openid_for(name: &str) -> String {
    derived_id("sandbox:", name)
}

/// The unionid WeChat gives `sandbox-union-<x>`, derived from `<x>` alone (one person across apps).
pub fn unionid_for(x: &str) -> String {
    derived_id("sandbox-union:", x)
}

fn derived_id(domain: &str, name: &str) -> String {
    let digest = Sha256::digest(format!("{domain}{name}").as_bytes());
    let mut id = String::from("o");
    id.extend(URL_SAFE_NO_PAD.encode(digest).chars().take(27));
    id
}

/// 16 bytes in base64, like WeChat's session_key; derived, so it needs no storage.
fn session_key_for(name: &str) -> String {
    BASE64.encode(&Sha256::digest(format!("sandbox-session:{name}").as_bytes())[..16])
}

/// `<name>` of `sandbox-<name>`: 1 to 32 of a-z 0-9 -.
fn valid_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(crate) async fn jscode2session(
    State(sim): State<Simulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let fault = lock(&sim.inner.wechat_fault).clone();
    if let Some(Fault::Delay(delay)) = fault {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Some(Fault::Http500) => return text(StatusCode::INTERNAL_SERVER_ERROR, CONTENT_TYPE, "Internal Server Error"),
        Some(Fault::Garbage) => return text(StatusCode::OK, CONTENT_TYPE, "<html><body>502 Bad Gateway</body></html>"),
        _ => {}
    }
    let answer = answer(&sim, &query, fault == Some(Fault::MissingWechatData));
    let errcode = answer.get("errcode").and_then(Value::as_i64).unwrap_or(0);
    tracing::debug!(errcode, "jscode2session answered");
    text(StatusCode::OK, CONTENT_TYPE, answer.to_string())
}

fn answer(sim: &Simulator, query: &HashMap<String, String>, without_openid: bool) -> Value {
    let config = &sim.inner.config;
    let field = |name: &str| query.get(name).map(String::as_str);
    let error = |errcode: i64, errmsg: &str| {
        // WeChat appends a request id to every errmsg; clients must not match errmsg exactly.
        let rid = hex::encode(&sim.inner.ids.next("rid")[..12]);
        json!({"errcode": errcode, "errmsg": format!("{errmsg}, rid: {}-{}-{}", &rid[..8], &rid[8..16], &rid[16..])})
    };
    let Some(appid) = field("appid").filter(|a| !a.is_empty()) else {
        return error(41002, "appid missing");
    };
    let Some(secret) = field("secret").filter(|s| !s.is_empty()) else {
        return error(41004, "appsecret missing");
    };
    if appid != config.app_id {
        return error(40013, "invalid appid");
    }
    if secret != config.app_secret {
        return error(40125, "invalid appsecret");
    }
    if field("grant_type") != Some("authorization_code") {
        return error(40002, "invalid grant_type");
    }
    let Some(code) = field("js_code").filter(|c| !c.is_empty()) else {
        return error(41008, "missing code");
    };
    let name = match code.strip_prefix("sandbox-") {
        Some("busy") => return error(-1, "system error"),
        Some("used") => return error(40163, "code been used"),
        Some("blocked") => return error(40226, "high risk user"),
        Some("limited") => return error(45011, "api minute-quota reach limit"),
        Some(name) if name != "invalid" && valid_name(name) => name,
        _ => return error(40029, "invalid code"),
    };
    let mut session = json!({"session_key": session_key_for(name), "openid": openid_for(name)});
    if let Some(union) = name.strip_prefix("union-").filter(|x| !x.is_empty()) {
        session["unionid"] = Value::from(unionid_for(union));
    }
    if without_openid && let Some(map) = session.as_object_mut() {
        map.remove("openid");
    }
    session
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_look_like_wechat_ones() {
        let openid = openid_for("alice");
        assert_eq!(openid.len(), 28);
        assert!(openid.starts_with('o'));
        assert_eq!(openid, openid_for("alice"));
        assert_ne!(openid, openid_for("bob"));
        assert_ne!(unionid_for("alice"), openid_for("alice"));
        assert_eq!(BASE64.decode(session_key_for("alice")).map(|k| k.len()), Ok(16));
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("a"));
        assert!(valid_name("alice-2"));
        assert!(valid_name(&"a".repeat(32)));
        assert!(!valid_name(""));
        assert!(!valid_name(&"a".repeat(33)));
        assert!(!valid_name("Alice"));
        assert!(!valid_name("a_b"));
    }
}
