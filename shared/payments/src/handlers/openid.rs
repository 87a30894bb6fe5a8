//! `POST /openid`: a `wx.login` code in, the user's openid and a session token out.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use protocol::wechat::Code2SessionError;
use serde_json::{Map, Value};

use crate::api::{self, ApiError};
use crate::clock::Clock;
use crate::config::OpenidConfig;
use crate::session::SessionTokens;
use crate::upstream::{LoginError, WechatClient};

/// What `POST /openid` needs, built once at start.
#[derive(Clone)]
pub struct OpenidHandler {
    wechat: WechatClient,
    tokens: SessionTokens,
    clock: Clock,
}

impl OpenidHandler {
    pub fn new(config: &OpenidConfig, http: reqwest::Client, clock: Clock) -> Self {
        Self {
            wechat: WechatClient::new(
                http,
                &config.wechat_api_url,
                &config.wechat_app_id,
                config.wechat_app_secret.clone(),
            ),
            tokens: SessionTokens::new(&config.session_secret, config.session_ttl_seconds),
            clock,
        }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        api::respond(&api::request_id(&request), self.login(&request).await)
    }

    async fn login(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body = api::json_object(request)?;
        let code = api::string_field(&body, "code", 128, |c| (' '..='~').contains(&c), "must be printable ASCII")?;
        let session = self.wechat.code2session(code).await.map_err(|error| {
            tracing::warn!(error = %error, "login refused or failed");
            login_error(&error)
        })?;
        let issued = self.tokens.issue(&session.openid, self.clock.now()).map_err(|_| ApiError::Internal)?;
        let mut answer = Map::new();
        answer.insert("openid".into(), Value::from(session.openid));
        if let Some(unionid) = session.unionid {
            answer.insert("unionid".into(), Value::from(unionid));
        }
        answer.insert("token".into(), Value::from(issued.token));
        answer.insert("expiresIn".into(), Value::from(issued.expires_in));
        Ok(api::json_response(StatusCode::OK, &answer))
    }
}

fn login_error(error: &LoginError) -> ApiError {
    match error {
        LoginError::Refused(Code2SessionError::InvalidCode(_)) => ApiError::InvalidCode,
        LoginError::Refused(Code2SessionError::HighRiskBlocked) => ApiError::LoginBlocked,
        LoginError::Refused(Code2SessionError::RateLimited) => ApiError::RateLimited,
        LoginError::Refused(refused) => ApiError::Upstream(format!("{refused}; try again later.")),
        LoginError::Upstream(upstream) => ApiError::from_upstream(upstream),
    }
}
