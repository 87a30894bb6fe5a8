//! The contract's HTTP surface shared by every route: the error JSON, the one mapping from
//! failures to status codes (every layer's error converts into [`ApiError`] here, and is logged in
//! one place, [`respond`]), body limits, JSON field checks and bearer tokens.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::deadline::Deadline;
use crate::ids::OpenId;
use crate::order::{TermsError, UnixSeconds};
use crate::session::{SessionTokens, TokenError};
use crate::store::StoreError;
use crate::upstream::{LoginError, UpstreamError};
use protocol::wechat::Code2SessionError;

/// Every route refuses bodies over 16 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// An error answer of ours. Each variant is one row of the contract's error table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// 400 `invalid_request`: a bad body; the message names the field at fault.
    InvalidRequest(String),
    /// 401 `unauthorized`: the bearer token is missing, malformed, forged or expired; the message says which.
    Unauthorized(String),
    /// 401 `invalid_code`: WeChat says the login code is invalid or already used (40029, 40163).
    InvalidCode,
    /// 403 `login_blocked`: WeChat blocked a high-risk user's login (40226).
    LoginBlocked,
    /// 400 `invalid_order_token`: the merchant's order token cannot be trusted or breaks a rule; the message says which.
    InvalidOrderToken(String),
    /// 403 `forbidden`: the order token's `sub` names another user.
    Forbidden(String),
    /// 404 `not_found`: no such order for this user, also used for another user's order so nothing leaks.
    NotFound,
    /// 409 `order_conflict`: the orderId is taken with other terms, or another prepay of it is under way.
    OrderConflict(&'static str),
    /// 409 `already_paid`: the order is paid (or in review), so a new attempt would risk paying twice.
    AlreadyPaid,
    /// 413 `payload_too_large`: the body is over [`MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// 429 `rate_limited`: WeChat's login rate limit (45011).
    RateLimited,
    /// 502 `payment_rejected`: 2C2P answered, correctly signed, but did not create the WeChat order.
    PaymentRejected {
        /// 2C2P's respCode, passed on so the developer can look it up.
        resp_code: String,
        /// 2C2P's own explanation of the refusal.
        fail_reason: String,
    },
    /// 502 `upstream_error`: WeChat or 2C2P unreachable, garbled, badly signed or an unlisted errcode.
    Upstream(String),
    /// 504 `upstream_timeout`: WeChat or 2C2P did not answer within our bound.
    UpstreamTimeout(String),
    /// Logged with the request id and this cause; the answer reveals nothing of it.
    Internal(String),
}

impl ApiError {
    /// The HTTP status of the contract's error table for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) | Self::InvalidOrderToken(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) | Self::InvalidCode => StatusCode::UNAUTHORIZED,
            Self::LoginBlocked | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::OrderConflict(_) | Self::AlreadyPaid => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::PaymentRejected { .. } | Self::Upstream(_) => StatusCode::BAD_GATEWAY,
            Self::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case `error.code` clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::InvalidCode => "invalid_code",
            Self::LoginBlocked => "login_blocked",
            Self::InvalidOrderToken(_) => "invalid_order_token",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound => "not_found",
            Self::OrderConflict(_) => "order_conflict",
            Self::AlreadyPaid => "already_paid",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::PaymentRejected { .. } => "payment_rejected",
            Self::Upstream(_) => "upstream_error",
            Self::UpstreamTimeout(_) => "upstream_timeout",
            Self::Internal(_) => "internal",
        }
    }

    /// The `error.message` a developer can act on; never a secret, a stack trace or an upstream body.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidRequest(m)
            | Self::Unauthorized(m)
            | Self::Upstream(m)
            | Self::UpstreamTimeout(m)
            | Self::InvalidOrderToken(m)
            | Self::Forbidden(m) => m.clone(),
            Self::OrderConflict(m) => (*m).to_owned(),
            Self::InvalidCode => "WeChat says the login code is invalid or already used; call wx.login again.".into(),
            Self::LoginBlocked => "WeChat blocked the login of this user as high-risk.".into(),
            Self::NotFound => "No such order for this user.".into(),
            Self::AlreadyPaid => "The order is paid already.".into(),
            Self::PayloadTooLarge => format!("The body is over {} KiB.", MAX_BODY_BYTES / 1024),
            Self::RateLimited => "WeChat's login rate limit was reached; try again in a minute.".into(),
            Self::PaymentRejected { resp_code, fail_reason } => {
                format!("2C2P did not create the WeChat order (respCode {resp_code}): {fail_reason}")
            }
            Self::Internal(_) => "Something went wrong on our side; it has been logged.".into(),
        }
    }

    /// The contract's error JSON with this error's status; an `internal` one carries the request id.
    pub fn to_response(&self, request_id: &str) -> Response<Body> {
        let mut error = json!({"code": self.code(), "message": self.message()});
        if let (Self::Internal(_), Some(fields)) = (self, error.as_object_mut()) {
            fields.insert("requestId".into(), Value::from(request_id));
        }
        json_response(self.status(), &json!({ "error": error }))
    }
}

/// 2C2P or WeChat gave no usable answer.
impl From<UpstreamError> for ApiError {
    fn from(error: UpstreamError) -> Self {
        match error {
            UpstreamError::Timeout(_) => Self::UpstreamTimeout(format!("{error}; try again.")),
            _ => Self::Upstream(format!("{error}; try again later.")),
        }
    }
}

/// The store failed (a failed condition that means something is handled where it happens).
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::Internal(format!("order store: {error}"))
    }
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Expired => Self::Unauthorized("The session token has expired; log in again.".into()),
            TokenError::Invalid => Self::Unauthorized("The session token is malformed or forged; log in again.".into()),
        }
    }
}

/// An order field of the client-priced body that breaks its rule names the field.
impl From<TermsError> for ApiError {
    fn from(error: TermsError) -> Self {
        Self::InvalidRequest(format!("{error}."))
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::Upstream(upstream) => upstream.into(),
            LoginError::Refused(Code2SessionError::InvalidCode(_)) => Self::InvalidCode,
            LoginError::Refused(Code2SessionError::HighRiskBlocked) => Self::LoginBlocked,
            LoginError::Refused(Code2SessionError::RateLimited) => Self::RateLimited,
            LoginError::Refused(refused) => Self::Upstream(format!("{refused}; try again later.")),
        }
    }
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The body as bytes (API Gateway may have base64-encoded it; lambda_http decoded it already).
pub fn body_bytes(request: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = match request.body() {
        Body::Empty => &[],
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => &[],
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(bytes)
}

/// The body as a JSON object; fields are then read with [`string_field`].
pub fn json_object(request: &Request) -> Result<Map<String, Value>, ApiError> {
    let bytes = body_bytes(request)?;
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::InvalidRequest("The body must be a JSON object.".into())),
        Err(_) => Err(ApiError::InvalidRequest("The body is not valid JSON.".into())),
    }
}

/// A required string field, 1 to `max_chars` characters, accepted only if `allowed` holds for every character.
pub fn string_field<'a>(
    body: &'a Map<String, Value>,
    name: &str,
    max_chars: usize,
    allowed: impl Fn(char) -> bool,
    rule: &str,
) -> Result<&'a str, ApiError> {
    let value = match body.get(name) {
        None | Some(Value::Null) => return Err(ApiError::InvalidRequest(format!("{name} is required."))),
        Some(Value::String(text)) => text.as_str(),
        Some(_) => return Err(ApiError::InvalidRequest(format!("{name} must be a string."))),
    };
    let count = value.chars().count();
    if count == 0 || count > max_chars {
        return Err(ApiError::InvalidRequest(format!("{name} must be 1 to {max_chars} characters.")));
    }
    if !value.chars().all(allowed) {
        return Err(ApiError::InvalidRequest(format!("{name} {rule}.")));
    }
    Ok(value)
}

/// The openid bound to the request's bearer token.
pub fn bearer_openid(request: &Request, tokens: &SessionTokens, now: UnixSeconds) -> Result<OpenId, ApiError> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthorized("The Authorization: Bearer <token> header is missing.".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::Unauthorized("The Authorization header must be Bearer <token>.".into()))?;
    let openid = tokens.verify(token, now)?;
    OpenId::new(openid).ok_or_else(|| ApiError::Unauthorized("The session token names no user; log in again.".into()))
}

/// The Lambda request id, for correlating an `internal` answer with its log line.
pub fn request_id(request: &Request) -> String {
    use lambda_http::RequestExt as _;
    request.lambda_context_ref().map(|c| c.request_id.clone()).unwrap_or_else(|| "local".to_owned())
}

/// How long a request without a Lambda context (the sandbox, tests) may take: the functions' Timeout.
pub const LOCAL_BUDGET: std::time::Duration = std::time::Duration::from_secs(15);

/// The request's deadline: the Lambda context's, or [`LOCAL_BUDGET`] from now without one.
pub fn deadline(request: &Request) -> Deadline {
    use lambda_http::RequestExt as _;
    request
        .lambda_context_ref()
        .map(|c| c.deadline)
        .filter(|ms| *ms > 0)
        .map_or_else(|| Deadline::after(LOCAL_BUDGET), |ms| Deadline::from_lambda(ms, LOCAL_BUDGET))
}

/// Turns a handler's result into the response: the one place errors are logged.
pub fn respond(request_id: &str, result: Result<Response<Body>, ApiError>) -> Response<Body> {
    match result {
        Ok(response) => response,
        Err(error) => {
            match &error {
                ApiError::Internal(cause) => tracing::error!(request_id, cause, "internal error answered 500"),
                ApiError::Upstream(message) | ApiError::UpstreamTimeout(message) => {
                    tracing::warn!(request_id, code = error.code(), message, "upstream failure answered");
                }
                _ => tracing::info!(request_id, code = error.code(), "request refused"),
            }
            error.to_response(request_id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).expect("json"),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn every_error_is_the_contract_json() {
        let cases = [
            (ApiError::InvalidRequest("amount is required.".into()), 400, "invalid_request"),
            (ApiError::Unauthorized("x".into()), 401, "unauthorized"),
            (ApiError::InvalidCode, 401, "invalid_code"),
            (ApiError::LoginBlocked, 403, "login_blocked"),
            (ApiError::NotFound, 404, "not_found"),
            (ApiError::OrderConflict("taken"), 409, "order_conflict"),
            (ApiError::AlreadyPaid, 409, "already_paid"),
            (ApiError::PayloadTooLarge, 413, "payload_too_large"),
            (ApiError::RateLimited, 429, "rate_limited"),
            (
                ApiError::PaymentRejected { resp_code: "99".into(), fail_reason: "Invalid amt".into() },
                502,
                "payment_rejected",
            ),
            (ApiError::Upstream("x".into()), 502, "upstream_error"),
            (ApiError::UpstreamTimeout("x".into()), 504, "upstream_timeout"),
            (ApiError::Internal("store down".into()), 500, "internal"),
            (ApiError::InvalidOrderToken("x".into()), 400, "invalid_order_token"),
            (ApiError::Forbidden("x".into()), 403, "forbidden"),
        ];
        for (error, status, code) in cases {
            let response = error.to_response("req-1");
            assert_eq!(response.status().as_u16(), status, "{code}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
            let body = body_of(&response);
            assert_eq!(body["error"]["code"], code);
            assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
            assert_eq!(body.as_object().map(|o| o.len()), Some(1));
            let has_request_id = body["error"]["requestId"] == "req-1";
            assert_eq!(has_request_id, status == 500, "{code}: only a 500 carries the request id");
            assert!(!body.to_string().contains("store down"), "the cause is logged, never answered");
        }
        let rejected = ApiError::PaymentRejected { resp_code: "99".into(), fail_reason: "Invalid amt".into() };
        assert!(rejected.message().contains("99") && rejected.message().contains("Invalid amt"));
    }

    #[test]
    fn upstream_failures_map_to_502_and_504() {
        assert_eq!(ApiError::from(UpstreamError::Timeout("2C2P")).status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(
            ApiError::from(UpstreamError::HttpStatus { service: "2C2P", status: 503 }).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(ApiError::from(UpstreamError::BadSignature("2C2P")).code(), "upstream_error");
    }

    #[test]
    fn string_fields_name_the_field() {
        let body: Map<String, Value> =
            serde_json::from_str(r#"{"a":"ok","n":12,"z":null,"long":"xxxx"}"#).expect("json");
        let any = |_: char| true;
        assert_eq!(string_field(&body, "a", 10, any, ""), Ok("ok"));
        assert_eq!(string_field(&body, "b", 10, any, ""), Err(ApiError::InvalidRequest("b is required.".into())));
        assert_eq!(string_field(&body, "z", 10, any, ""), Err(ApiError::InvalidRequest("z is required.".into())));
        assert_eq!(string_field(&body, "n", 10, any, ""), Err(ApiError::InvalidRequest("n must be a string.".into())));
        assert_eq!(
            string_field(&body, "long", 3, any, ""),
            Err(ApiError::InvalidRequest("long must be 1 to 3 characters.".into()))
        );
        assert_eq!(
            string_field(&body, "a", 10, |c| c == 'o', "may only contain o"),
            Err(ApiError::InvalidRequest("a may only contain o.".into()))
        );
    }
}
