//! `POST /openid`: a `wx.login` code in, the user's openid and a session token out.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use crate::api::{self, ApiError};
use crate::clock::Clock;
use crate::config::OpenidConfig;
use crate::metrics::{Metrics, Unit, names, service};
use crate::session::SessionTokens;
use crate::upstream::{LoginError, UpstreamError, WECHAT, WechatClient};
use protocol::wechat::Code2SessionError;

/// The answer of `POST /openid`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginView {
    openid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    unionid: Option<String>,
    token: String,
    expires_in: i64,
}

/// What `POST /openid` needs, built once at start.
#[derive(Clone)]
pub struct OpenidHandler {
    wechat: WechatClient,
    tokens: SessionTokens,
    clock: Clock,
    metrics: Metrics,
}

impl OpenidHandler {
    /// Metrics go to stdout as the `openid` service; [`Self::with_metrics`] sends them elsewhere.
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
            metrics: Metrics::for_service(service::OPENID),
        }
    }

    /// The same handler counting into `metrics` (a capture in tests, or [`Metrics::off`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Answers one `POST /openid`: a `wx.login` code in, a session token out, every failure as the contract's JSON.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        api::respond(&api::request_id(&request), self.login(&request).await)
    }

    async fn login(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let body = api::json_object(request)?;
        let code = api::string_field(&body, "code", 128, |c| (' '..='~').contains(&c), "must be printable ASCII")?;
        let deadline = api::deadline(request);
        let session = deadline
            .run(std::time::Duration::ZERO, self.wechat.code2session(code), || UpstreamError::Timeout(WECHAT).into())
            .await
            .inspect_err(|error| self.count_failure(error))?;
        let issued = self
            .tokens
            .issue(&session.openid, self.clock.now())
            .map_err(|e| ApiError::Internal(format!("session token could not be signed: {e}")))?;
        let view = LoginView {
            openid: session.openid,
            unionid: session.unionid,
            token: issued.token,
            expires_in: issued.expires_in,
        };
        Ok(api::json_response(StatusCode::OK, &view))
    }

    /// WeChat's failures are counted; its refusals of a code or a user are the user's, and are not.
    fn count_failure(&self, error: &LoginError) {
        match error {
            LoginError::Upstream(upstream) => self.metrics.upstream_failure(upstream),
            LoginError::Refused(
                Code2SessionError::InvalidCode(_) | Code2SessionError::HighRiskBlocked | Code2SessionError::RateLimited,
            ) => {}
            LoginError::Refused(refused) => {
                let error = refused.to_string();
                let notes = [("error", error.as_str())];
                self.metrics.emit(names::UPSTREAM_ERRORS, Unit::Count, &[("Upstream", WECHAT)], 1, &notes);
            }
        }
    }
}
