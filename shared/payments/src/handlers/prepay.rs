//! `POST /prepay` and `GET /orders/{orderId}`.
//!
//! Prepay records the order (pending, in flight) before it calls 2C2P, so a crash never leaves a
//! WeChat order we know nothing of; it then records what 2C2P said with a conditional write.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt as _, Response};
use protocol::description::clean_description;
use protocol::money::{CURRENCIES, Currency, MinorUnits, format_amount, parse_amount, to_pgw_amt};
use protocol::outcome::{Outcome, classify};
use protocol::securepay::{PaymentRequest, WcminiFields, WechatPayment};
use serde_json::{Map, Value, json};

use crate::api::{self, ApiError};
use crate::clock::Clock;
use crate::config::PrepayConfig;
use crate::order::{Attempt, IN_FLIGHT_SECONDS, Order, OrderStatus, PrepayDecision, StoredStatus, UnixSeconds};
use crate::session::SessionTokens;
use crate::store::{OrderStore, StoreError};
use crate::timefmt;
use crate::upstream::PgwClient;

/// What `prepay` needs, built once at start.
pub struct PrepayHandler<S> {
    store: S,
    pgw: PgwClient,
    tokens: SessionTokens,
    clock: Clock,
    merchant_id: String,
    app_id: String,
    payment_ttl_seconds: i64,
}

/// A prepay request, checked.
struct PrepayInput {
    order_id: String,
    amount: MinorUnits,
    currency: &'static Currency,
    description: String,
    desc_for_pgw: String,
}

fn is_order_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn store_failure(error: StoreError) -> ApiError {
    tracing::error!(error = %error, "order store failed");
    ApiError::Internal
}

impl<S: OrderStore> PrepayHandler<S> {
    pub fn new(config: &PrepayConfig, store: S, http: reqwest::Client, clock: Clock) -> Self {
        Self {
            store,
            pgw: PgwClient::new(
                http,
                &config.pgw_payment_url,
                &config.pgw_action_url,
                &config.merchant_id,
                config.pgw_secret_key.clone(),
            ),
            tokens: SessionTokens::new(&config.session_secret, 0),
            clock,
            merchant_id: config.merchant_id.clone(),
            app_id: config.wechat_app_id.clone(),
            payment_ttl_seconds: config.payment_ttl_seconds,
        }
    }

    /// The store, for the sandbox and tests.
    pub fn store(&self) -> &S {
        &self.store
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let result = if request.method() == Method::GET {
            self.get_order(&request).await
        } else if request.method() == Method::POST {
            self.prepay(&request).await
        } else {
            Err(ApiError::InvalidRequest(format!("{} is not supported on this route.", request.method())))
        };
        api::respond(&api::request_id(&request), result)
    }

    async fn prepay(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let openid = api::bearer_openid(request, &self.tokens, self.clock.now())?;
        let input = read_prepay(request)?;
        let now = self.clock.now();
        let order = match self.store.get_order(&input.order_id).await.map_err(store_failure)? {
            None => self.first_attempt(&input, &openid, now).await?,
            Some(existing) => match existing.decide_prepay(&openid, input.amount, input.currency, now) {
                PrepayDecision::Conflict => {
                    return Err(ApiError::OrderConflict(
                        "This orderId is already used by another order (another amount, currency or user).",
                    ));
                }
                PrepayDecision::AlreadyPaid => return Err(ApiError::AlreadyPaid),
                PrepayDecision::InFlight => {
                    return Err(ApiError::OrderConflict(
                        "Another prepay for this orderId is under way; retry shortly.",
                    ));
                }
                PrepayDecision::Reuse(payment) => return Ok(prepay_answer(&existing, &payment)),
                PrepayDecision::NewAttempt => self.next_attempt(&existing, now).await?,
            },
        };
        self.call_pgw(order, &input).await
    }

    /// Records a new order, held in flight; losing a race for the orderId is a conflict.
    async fn first_attempt(&self, input: &PrepayInput, openid: &str, now: UnixSeconds) -> Result<Order, ApiError> {
        let invoice_no = self.record_attempt(&input.order_id, openid, input.amount, input.currency, now).await?;
        let order = Order {
            order_id: input.order_id.clone(),
            openid: openid.to_owned(),
            amount: input.amount,
            currency: input.currency,
            description: input.description.clone(),
            status: StoredStatus::Pending,
            invoice_no,
            payment: None,
            attempt_expires_at: now + IN_FLIGHT_SECONDS,
            paid_invoice_no: None,
            fail_reason: None,
            review_reason: None,
            created_at: now,
            updated_at: now,
            paid_at: None,
            version: 1,
        };
        match self.store.insert_order(&order).await {
            Ok(()) => Ok(order),
            Err(StoreError::ConditionFailed) => {
                Err(ApiError::OrderConflict("Another prepay for this orderId is under way; retry shortly."))
            }
            Err(other) => Err(store_failure(other)),
        }
    }

    /// Starts a new attempt on a failed or expired order, conditional on the version read.
    async fn next_attempt(&self, existing: &Order, now: UnixSeconds) -> Result<Order, ApiError> {
        let invoice_no =
            self.record_attempt(&existing.order_id, &existing.openid, existing.amount, existing.currency, now).await?;
        let next = existing.with_new_attempt(&invoice_no, now);
        match self.store.replace_order(&next, existing.version, existing.status).await {
            Ok(()) => Ok(next),
            Err(StoreError::ConditionFailed) => {
                Err(ApiError::OrderConflict("Another prepay for this orderId is under way; retry shortly."))
            }
            Err(other) => Err(store_failure(other)),
        }
    }

    /// Adds the attempt to the invoice index, so a notification for it always finds its order.
    async fn record_attempt(
        &self,
        order_id: &str,
        openid: &str,
        amount: MinorUnits,
        currency: &'static Currency,
        now: UnixSeconds,
    ) -> Result<String, ApiError> {
        let attempt = Attempt {
            invoice_no: new_invoice_no(now)?,
            order_id: order_id.to_owned(),
            openid: openid.to_owned(),
            amount,
            currency,
            created_at: now,
        };
        self.store.insert_attempt(&attempt).await.map_err(store_failure)?;
        Ok(attempt.invoice_no)
    }

    /// Asks 2C2P for the WeChat order and records the answer, whatever it is.
    async fn call_pgw(&self, order: Order, input: &PrepayInput) -> Result<Response<Body>, ApiError> {
        let time_stamp = timefmt::pgw_timestamp(self.clock.now());
        let amt = to_pgw_amt(order.amount);
        let request = PaymentRequest {
            // The merchant's own reference travels along, so 2C2P's reports show it.
            user_defined1: Some(order.order_id.clone()),
            ..PaymentRequest::wcmini(WcminiFields {
                time_stamp: &time_stamp,
                merchant_id: &self.merchant_id,
                invoice_no: &order.invoice_no,
                desc: &input.desc_for_pgw,
                amt: &amt,
                currency_code: order.currency.numeric,
                app_id: &self.app_id,
                open_id: &order.openid,
            })
        };
        let response = match self.pgw.create_payment(&request).await {
            Ok(response) => response,
            Err(upstream) => {
                tracing::warn!(invoice = %order.invoice_no, error = %upstream, "SecurePay call failed");
                self.fail_attempt(&order, &upstream.to_string()).await;
                return Err(ApiError::from_upstream(&upstream));
            }
        };
        if classify(&response.resp_code, &response.status, &response.fail_reason) != Outcome::WechatOrderCreated {
            let reason =
                format!("2C2P refused the payment (respCode {}): {}", response.resp_code, response.fail_reason);
            tracing::warn!(invoice = %order.invoice_no, resp_code = %response.resp_code, "SecurePay refused");
            self.fail_attempt(&order, &reason).await;
            return Err(ApiError::PaymentRejected { resp_code: response.resp_code, fail_reason: response.fail_reason });
        }
        let payment = match response.wechat_payment() {
            Ok(payment) => payment,
            Err(error) => {
                let reason = format!("2C2P answered respCode 32 without usable payment parameters: {error}");
                tracing::warn!(invoice = %order.invoice_no, "{reason}");
                self.fail_attempt(&order, &reason).await;
                return Err(ApiError::Upstream(format!("{reason}; try again later.")));
            }
        };
        let now = self.clock.now();
        let next = order.with_payment(payment.clone(), now + self.payment_ttl_seconds, now);
        match self.store.replace_order(&next, order.version, StoredStatus::Pending).await {
            Ok(()) => Ok(prepay_answer(&next, &payment)),
            Err(StoreError::ConditionFailed) => {
                // Something moved the order while 2C2P answered (a notification); its state wins.
                Err(ApiError::OrderConflict("The order changed while this prepay was under way; ask GET /orders."))
            }
            Err(other) => Err(store_failure(other)),
        }
    }

    /// Records the current attempt as failed; if that write fails, the attempt simply expires.
    async fn fail_attempt(&self, order: &Order, reason: &str) {
        let failed = order.with_failed_attempt(reason, self.clock.now());
        if let Err(error) = self.store.replace_order(&failed, order.version, StoredStatus::Pending).await {
            tracing::error!(invoice = %order.invoice_no, error = %error, "could not record the failed attempt");
        }
    }

    async fn get_order(&self, request: &Request) -> Result<Response<Body>, ApiError> {
        let now = self.clock.now();
        let openid = api::bearer_openid(request, &self.tokens, now)?;
        let order_id = path_order_id(request)?;
        let order = self.store.get_order(&order_id).await.map_err(store_failure)?;
        let order = order.filter(|o| o.openid == openid).ok_or(ApiError::NotFound)?;
        Ok(api::json_response(StatusCode::OK, &order_view(&order, now)))
    }
}

fn read_prepay(request: &Request) -> Result<PrepayInput, ApiError> {
    let body = api::json_object(request)?;
    let order_id = api::string_field(&body, "orderId", 64, is_order_id_char, "may only contain A-Z a-z 0-9 _ -")?;
    let currency_code =
        api::string_field(&body, "currency", 3, |c| c.is_ascii_uppercase(), "must be an ISO 4217 code")?;
    let currency = Currency::from_code(currency_code).ok_or_else(|| {
        let supported: Vec<&str> = CURRENCIES.iter().map(|c| c.code).collect();
        ApiError::InvalidRequest(format!(
            "currency {currency_code} is not supported; use one of {}.",
            supported.join(", ")
        ))
    })?;
    let amount_text = api::string_field(&body, "amount", 32, |_| true, "")?;
    let amount = parse_amount(amount_text, currency).map_err(|e| ApiError::InvalidRequest(format!("{e}.")))?;
    let description = api::string_field(&body, "description", 128, |_| true, "")?;
    let desc_for_pgw = clean_description(description).map_err(|e| ApiError::InvalidRequest(format!("{e}.")))?;
    Ok(PrepayInput {
        order_id: order_id.to_owned(),
        amount,
        currency,
        description: description.to_owned(),
        desc_for_pgw,
    })
}

/// The orderId from API Gateway's path parameters, or from the path itself (sandbox, other stages).
fn path_order_id(request: &Request) -> Result<String, ApiError> {
    let from_params = request.path_parameters_ref().and_then(|p| p.first("orderId")).map(str::to_owned);
    let from_path = || request.uri().path().rsplit_once("/orders/").map(|(_, id)| id.to_owned());
    let order_id = from_params.or_else(from_path).unwrap_or_default();
    if order_id.is_empty() || order_id.len() > 64 || !order_id.chars().all(is_order_id_char) {
        return Err(ApiError::InvalidRequest("orderId must be 1 to 64 of A-Z a-z 0-9 _ -.".into()));
    }
    Ok(order_id)
}

fn prepay_answer(order: &Order, payment: &WechatPayment) -> Response<Body> {
    api::json_response(
        StatusCode::OK,
        &json!({
            "orderId": order.order_id,
            "invoiceNo": order.invoice_no,
            "status": OrderStatus::Pending.as_str(),
            "amount": format_amount(order.amount, order.currency),
            "currency": order.currency.code,
            "payment": payment.as_map(),
        }),
    )
}

/// The contract's order JSON; optional fields are left out, never null.
pub fn order_view(order: &Order, now: UnixSeconds) -> Map<String, Value> {
    let status = order.status_at(now);
    let mut view = Map::new();
    view.insert("orderId".into(), Value::from(order.order_id.clone()));
    view.insert("invoiceNo".into(), Value::from(order.invoice_no.clone()));
    view.insert("status".into(), Value::from(status.as_str()));
    view.insert("amount".into(), Value::from(format_amount(order.amount, order.currency)));
    view.insert("currency".into(), Value::from(order.currency.code));
    view.insert("description".into(), Value::from(order.description.clone()));
    view.insert("createdAt".into(), Value::from(timefmt::rfc3339(order.created_at)));
    view.insert("updatedAt".into(), Value::from(timefmt::rfc3339(order.updated_at)));
    if let Some(paid_at) = order.paid_at {
        view.insert("paidAt".into(), Value::from(timefmt::rfc3339(paid_at)));
    }
    if let (OrderStatus::Failed, Some(reason)) = (status, &order.fail_reason) {
        view.insert("failReason".into(), Value::from(reason.clone()));
    }
    view
}

/// A fresh invoice number: yyMMddHHmmss (sortable, readable in the 2C2P portal) and 8 random
/// letters/digits, 20 in all, as 2C2P allows for uniqueTransactionCode.
fn new_invoice_no(now: UnixSeconds) -> Result<String, ApiError> {
    const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|_| ApiError::Internal)?;
    let suffix: String = random.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
    Ok(format!("{}{suffix}", timefmt::invoice_prefix(now)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoice_numbers_are_twenty_letters_and_digits_and_differ() {
        let a = new_invoice_no(1_800_000_000).expect("random");
        let b = new_invoice_no(1_800_000_000).expect("random");
        assert_eq!(a.len(), 20);
        assert!(a.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{a}");
        assert!(a.starts_with("270115"), "{a}");
        assert_ne!(a, b);
    }
}
