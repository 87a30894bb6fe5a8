//! WeChat `jscode2session`: the answer that turns a `wx.login` code into an openid.

use std::fmt;

use serde::Deserialize;
use thiserror::Error;

/// WeChat's session key for the user. Never printed, logged, stored or returned.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(String);

impl SessionKey {
    /// The raw key, for the rare code that must use it; the name makes every such read visible in review.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

/// A successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code2Session {
    /// The user's stable id within this mini program; what 2C2P's `openID` must carry for the payment.
    pub openid: String,
    /// Present when the mini program is bound to a WeChat Open Platform account.
    pub unionid: Option<String>,
    /// Key for decrypting the user's data sent by WeChat; must never leave the backend.
    pub session_key: SessionKey,
}

/// A refused login, one variant per documented errcode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Code2SessionError {
    /// errcode -1: a transient failure on WeChat's side; worth retrying later.
    #[error("WeChat is busy (errcode -1)")]
    SystemBusy,
    /// errcode 40029 (invalid) or 40163 (already used), whichever came: the mini program must `wx.login` again.
    #[error("WeChat says the login code is invalid or already used (errcode {0})")]
    InvalidCode(i64),
    /// errcode 40226: WeChat refuses this user as high-risk; retrying will not help.
    #[error("WeChat blocked the login of a high-risk user (errcode 40226)")]
    HighRiskBlocked,
    /// errcode 45011: more than 100 logins a minute for this user; wait before trying again.
    #[error("WeChat rate limit reached (errcode 45011)")]
    RateLimited,
    /// Any other errcode (40013, an invalid appid, for one), kept whole for the log.
    #[error("WeChat answered errcode {errcode}")]
    Other {
        /// The errcode as sent, to look up in WeChat's error list.
        errcode: i64,
        /// WeChat's own explanation (empty when it sent none); for the log only.
        errmsg: String,
    },
    /// The body is not JSON of WeChat's shape (a gateway's HTML error page, or a non-numeric errcode).
    #[error("WeChat answered something that is not JSON")]
    NotJson,
    /// WeChat reported success without a usable openid, so there is no user to log in.
    #[error("WeChat answered without an openid")]
    MissingOpenid,
}

#[derive(Deserialize)]
struct RawAnswer {
    openid: Option<String>,
    session_key: Option<String>,
    unionid: Option<String>,
    errcode: Option<i64>,
    errmsg: Option<String>,
}

/// Reads a jscode2session body as JSON, whatever its content type.
pub fn parse_code2session(body: &[u8]) -> Result<Code2Session, Code2SessionError> {
    let raw: RawAnswer = serde_json::from_slice(body).map_err(|_| Code2SessionError::NotJson)?;
    match raw.errcode.unwrap_or(0) {
        0 => {}
        -1 => return Err(Code2SessionError::SystemBusy),
        code @ (40029 | 40163) => return Err(Code2SessionError::InvalidCode(code)),
        40226 => return Err(Code2SessionError::HighRiskBlocked),
        45011 => return Err(Code2SessionError::RateLimited),
        errcode => return Err(Code2SessionError::Other { errcode, errmsg: raw.errmsg.unwrap_or_default() }),
    }
    let openid = raw.openid.filter(|o| !o.trim().is_empty()).ok_or(Code2SessionError::MissingOpenid)?;
    Ok(Code2Session {
        openid,
        unionid: raw.unionid.filter(|u| !u.is_empty()),
        session_key: SessionKey(raw.session_key.unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn success_with_and_without_unionid() {
        let ok = parse_code2session(br#"{"openid":"o1","session_key":"k=="}"#).expect("ok");
        assert_eq!(ok.openid, "o1");
        assert_eq!(ok.unionid, None);
        assert_eq!(ok.session_key.expose(), "k==");
        let ok = parse_code2session(br#"{"openid":"o1","session_key":"k","unionid":"u1","errcode":0,"errmsg":"ok"}"#)
            .expect("ok");
        assert_eq!(ok.unionid.as_deref(), Some("u1"));
    }

    #[test]
    fn session_key_never_prints() {
        let ok = parse_code2session(br#"{"openid":"o1","session_key":"SECRETKEY"}"#).expect("ok");
        let printed = format!("{ok:?}");
        assert!(!printed.contains("SECRETKEY"), "{printed}");
        assert!(printed.contains("<redacted>"));
    }

    #[test]
    fn each_documented_errcode_has_its_error() {
        let parse = |body: &str| parse_code2session(body.as_bytes());
        assert_eq!(parse(r#"{"errcode":-1,"errmsg":"system error"}"#), Err(Code2SessionError::SystemBusy));
        assert_eq!(parse(r#"{"errcode":40029,"errmsg":"invalid code"}"#), Err(Code2SessionError::InvalidCode(40029)));
        assert_eq!(parse(r#"{"errcode":40163,"errmsg":"code been used"}"#), Err(Code2SessionError::InvalidCode(40163)));
        assert_eq!(parse(r#"{"errcode":40226,"errmsg":"high risk"}"#), Err(Code2SessionError::HighRiskBlocked));
        assert_eq!(parse(r#"{"errcode":45011,"errmsg":"freq limit"}"#), Err(Code2SessionError::RateLimited));
        assert_eq!(
            parse(r#"{"errcode":40013,"errmsg":"invalid appid"}"#),
            Err(Code2SessionError::Other { errcode: 40013, errmsg: "invalid appid".into() })
        );
        assert_eq!(parse("<html>502</html>"), Err(Code2SessionError::NotJson));
        assert_eq!(parse(r#"{"errcode":0}"#), Err(Code2SessionError::MissingOpenid));
        assert_eq!(parse(r#"{"openid":"  ","session_key":"k"}"#), Err(Code2SessionError::MissingOpenid));
        assert_eq!(
            parse(r#"{"openid":"o","errcode":"x"}"#),
            Err(Code2SessionError::NotJson),
            "a non-numeric errcode is not WeChat's format"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_code2session(&bytes);
        }
    }
}
