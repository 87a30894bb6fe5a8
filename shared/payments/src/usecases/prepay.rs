//! What a prepay decides: open a new order, answer its valid attempt again, or start a new attempt,
//! and then ask 2C2P for the WeChat order. The order is recorded (pending, held in flight) before 2C2P
//! is called, so a crash never leaves a WeChat order we know nothing of.

use std::time::Duration;

use protocol::money::to_pgw_amt;
use protocol::outcome::{Outcome, classify};
use protocol::securepay::{PaymentRequest, WcminiFields, WechatPayment};
use thiserror::Error;

use super::STORE_CALL;
use super::apply::Applied;
use super::inquiry::inquire_attempt;
use crate::clock::Clock;
use crate::deadline::Deadline;
use crate::ids::{IdError, InvoiceNo, OpenId};
use crate::metrics::Metrics;
use crate::order::{Attempt, IN_FLIGHT_SECONDS, Order, OrderTerms, PrepayDecision};
use crate::store::{OrderStore, StoreError};
use crate::timefmt;
use crate::upstream::{PGW, PgwClient, UpstreamError};

/// An expired attempt is asked about for at most this long before a new one replaces it.
pub const REPLACE_INQUIRY_BOUND: Duration = Duration::from_secs(3);
/// A retry of the same order waits this long for an attempt held in flight by an earlier prepay...
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(2);
/// ...and takes it over once the hold is this old (its prepay most likely died after writing it).
const TAKEOVER_AFTER_SECONDS: i64 = 3;
/// How often a waiting retry looks again.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(200);

/// Why a prepay did not give payment parameters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PrepayError {
    /// 409 `order_conflict`; the message says whether the orderId is taken or a prepay is under way.
    #[error("{0}")]
    Conflict(&'static str),
    /// The order is paid or in review: no new attempt, so it is not paid twice.
    #[error("the order is paid already")]
    AlreadyPaid,
    /// 2C2P refused to create the WeChat order; the attempt is recorded failed.
    #[error("2C2P did not create the WeChat order (respCode {resp_code}): {fail_reason}")]
    Rejected {
        /// 2C2P's respCode, passed on to the developer.
        resp_code: String,
        /// 2C2P's reason, also recorded as the attempt's failReason.
        fail_reason: String,
    },
    /// 2C2P unreachable, timed out or unreadable; the attempt is recorded failed and stays due for inquiry.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The order or attempt could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No random bytes for a new invoice number.
    #[error("no invoice number could be made: {0}")]
    NoInvoice(#[from] IdError),
}

const TAKEN: &str = "This orderId is already used by another order (another amount, currency or user).";
const UNDER_WAY: &str = "Another prepay for this orderId is under way; retry shortly.";
const CHANGED: &str = "The order changed while this prepay was under way; ask GET /orders.";

/// What prepay needs, built once at start.
pub struct Prepay<S> {
    /// Where orders and attempts are kept.
    pub store: S,
    /// 2C2P client for SecurePay and for the inquiry before an expired attempt is replaced.
    pub pgw: PgwClient,
    /// Source of "now" for validity and expiry.
    pub clock: Clock,
    /// Our 2C2P merchant ID, sent in every payment request.
    pub merchant_id: String,
    /// Mini program appID, sent to 2C2P so the WeChat order is for our mini program.
    pub app_id: String,
    /// How long new payment parameters are answered again instead of starting a new attempt.
    pub payment_ttl_seconds: i64,
    /// Seconds after parameters are issued before reconciliation first inquires the attempt.
    pub first_inquiry_after: i64,
    /// Payments found by its inquiries, reviews, and 2C2P's failures are counted here.
    pub metrics: Metrics,
}

impl<S: OrderStore> Prepay<S> {
    /// The payment parameters of `terms` for `openid`: the order as it now stands and its parameters.
    pub async fn run(
        &self,
        openid: &OpenId,
        terms: &OrderTerms,
        deadline: &Deadline,
    ) -> Result<(Order, WechatPayment), PrepayError> {
        let waiting_since = tokio::time::Instant::now();
        let mut inquired = false;
        let (order, attempt) = loop {
            let read = self.store_call(deadline, self.store.get_order(&terms.order_id)).await?;
            let Some(existing) = read else {
                break self.open(openid, terms, deadline).await?;
            };
            match existing.decide_prepay(openid, terms, self.clock.now()) {
                PrepayDecision::Conflict => return Err(PrepayError::Conflict(TAKEN)),
                PrepayDecision::AlreadyPaid => return Err(PrepayError::AlreadyPaid),
                PrepayDecision::Reuse(payment) => return Ok((existing, payment)),
                PrepayDecision::InFlight => {
                    let held_for = self.clock.now() - (existing.attempt_expires_at - IN_FLIGHT_SECONDS);
                    if held_for < TAKEOVER_AFTER_SECONDS && waiting_since.elapsed() < IN_FLIGHT_WAIT {
                        tokio::time::sleep(IN_FLIGHT_POLL.min(deadline.budget(STORE_CALL))).await;
                        continue;
                    }
                    tracing::info!(order = %existing.order_id, invoice = %existing.invoice_no, "taking over an attempt held in flight");
                    break self.next_attempt(&existing, deadline).await?;
                }
                PrepayDecision::NewAttempt { inquire_first: Some(invoice) } if !inquired => {
                    inquired = true;
                    if self.paid_after_all(&invoice, deadline).await {
                        return Err(PrepayError::AlreadyPaid);
                    }
                    // The inquiry may have moved the order: decide again on what is stored now.
                    continue;
                }
                PrepayDecision::NewAttempt { .. } => break self.next_attempt(&existing, deadline).await?,
            }
        };
        self.ask_pgw(order, attempt, terms, deadline).await
    }

    async fn store_call<T>(
        &self,
        deadline: &Deadline,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        // Leave room to record a failure and answer.
        deadline.run(Duration::ZERO, call, || StoreError::OutOfTime).await
    }

    /// A new order and its first attempt in one transaction; losing a race for the orderId is a conflict.
    async fn open(
        &self,
        openid: &OpenId,
        terms: &OrderTerms,
        deadline: &Deadline,
    ) -> Result<(Order, Attempt), PrepayError> {
        let now = self.clock.now();
        let (order, attempt) =
            Order::open(terms, openid.clone(), InvoiceNo::generate(now)?, self.first_inquiry_after, now);
        match self.store_call(deadline, self.store.open_order(&order, &attempt)).await {
            Ok(()) => Ok((order, attempt)),
            Err(StoreError::ConditionFailed) => Err(PrepayError::Conflict(UNDER_WAY)),
            Err(other) => Err(other.into()),
        }
    }

    /// A new attempt on a failed or expired order (or one taken over), conditional on the version read.
    async fn next_attempt(&self, existing: &Order, deadline: &Deadline) -> Result<(Order, Attempt), PrepayError> {
        let now = self.clock.now();
        let (next, attempt) = existing.with_new_attempt(InvoiceNo::generate(now)?, self.first_inquiry_after, now);
        match self.store_call(deadline, self.store.start_attempt(&next, existing, &attempt)).await {
            Ok(()) => Ok((next, attempt)),
            Err(StoreError::ConditionFailed) => Err(self.lost_race(existing, deadline, UNDER_WAY).await),
            Err(other) => Err(other.into()),
        }
    }

    /// After a conditional write on `read` lost: `already_paid` when what moved the order paid it (a
    /// notification or an inquiry got there first), so the mini program stops; else 409 `conflict`.
    async fn lost_race(&self, read: &Order, deadline: &Deadline, conflict: &'static str) -> PrepayError {
        match self.store_call(deadline, self.store.get_order(&read.order_id)).await {
            Ok(Some(now)) if now.status.is_settled() => PrepayError::AlreadyPaid,
            _ => PrepayError::Conflict(conflict),
        }
    }

    /// Asks 2C2P about an expired attempt before it is replaced: money that arrived must not be asked
    /// for twice. If 2C2P cannot be asked, the new attempt goes ahead (a double payment ends in review).
    async fn paid_after_all(&self, invoice: &InvoiceNo, deadline: &Deadline) -> bool {
        let bound = deadline.capped(REPLACE_INQUIRY_BOUND);
        let attempt = match bound.run(Duration::ZERO, self.store.get_attempt(invoice), || StoreError::OutOfTime).await {
            Ok(Some(attempt)) => attempt,
            Ok(None) => return false,
            Err(error) => {
                tracing::warn!(invoice = %invoice, %error, "could not read the expired attempt; replacing it");
                return false;
            }
        };
        match Box::pin(inquire_attempt(
            &self.store,
            &self.pgw,
            &attempt,
            &self.clock,
            &bound,
            Duration::ZERO,
            &self.metrics,
        ))
        .await
        {
            Ok(inquired) => {
                let settled = matches!(&inquired.applied, Applied::Moved { order, .. } | Applied::Unchanged { order, .. } if order.status.is_settled());
                if settled {
                    tracing::warn!(invoice = %invoice, "the expired attempt was paid after all; no new attempt");
                }
                settled
            }
            Err(error) => {
                tracing::warn!(invoice = %invoice, %error, "could not ask 2C2P about the expired attempt; replacing it");
                false
            }
        }
    }

    /// Asks 2C2P for the WeChat order and records the answer, whatever it is.
    async fn ask_pgw(
        &self,
        order: Order,
        attempt: Attempt,
        terms: &OrderTerms,
        deadline: &Deadline,
    ) -> Result<(Order, WechatPayment), PrepayError> {
        let time_stamp = timefmt::pgw_timestamp(self.clock.now());
        let amt = to_pgw_amt(order.amount);
        let request = PaymentRequest {
            // The merchant's own reference travels along, so 2C2P's reports show it.
            user_defined1: Some(order.order_id.to_string()),
            ..PaymentRequest::wcmini(WcminiFields {
                time_stamp: &time_stamp,
                merchant_id: &self.merchant_id,
                invoice_no: order.invoice_no.as_str(),
                desc: &terms.desc_for_pgw,
                amt: &amt,
                currency_code: order.currency.numeric,
                app_id: &self.app_id,
                open_id: order.openid.as_str(),
            })
        };
        // 2C2P gets what is left once a store write (recording the failure) and the answer are reserved.
        let call = deadline.run(STORE_CALL, self.pgw.create_payment(&request), || UpstreamError::Timeout(PGW));
        let response = match call.await {
            Ok(response) => response,
            Err(upstream) => {
                tracing::warn!(invoice = %order.invoice_no, error = %upstream, "SecurePay call failed");
                self.metrics.upstream_failure(&upstream);
                // 2C2P may have created the WeChat order all the same: the attempt stays due.
                self.fail_attempt(&order, None, &upstream.to_string(), deadline).await;
                return Err(upstream.into());
            }
        };
        if classify(&response.resp_code, &response.status, &response.fail_reason) != Outcome::WechatOrderCreated {
            let reason =
                format!("2C2P refused the payment (respCode {}): {}", response.resp_code, response.fail_reason);
            tracing::warn!(invoice = %order.invoice_no, resp_code = %response.resp_code, "SecurePay refused");
            // A signed refusal: nothing was created, nothing to reconcile.
            self.fail_attempt(&order, Some(&attempt.settled()), &reason, deadline).await;
            return Err(PrepayError::Rejected { resp_code: response.resp_code, fail_reason: response.fail_reason });
        }
        let payment = match response.wechat_payment() {
            Ok(payment) => payment,
            Err(error) => {
                let reason = format!("2C2P answered respCode 32 without usable payment parameters: {error}");
                tracing::warn!(invoice = %order.invoice_no, "{reason}");
                self.fail_attempt(&order, None, &reason, deadline).await;
                let error = UpstreamError::Garbage { service: PGW, reason };
                self.metrics.upstream_failure(&error);
                return Err(error.into());
            }
        };
        let now = self.clock.now();
        let valid_until = now + self.payment_ttl_seconds;
        let next = order.with_payment(payment.clone(), valid_until);
        let books = attempt.with_parameters(valid_until, self.first_inquiry_after, now);
        match self.store_call(deadline, self.store.replace_order(&next, &order, Some(&books))).await {
            Ok(()) => Ok((next, payment)),
            // Something moved the order while 2C2P answered (a notification, a take-over); its state wins.
            Err(StoreError::ConditionFailed) => Err(self.lost_race(&order, deadline, CHANGED).await),
            Err(other) => Err(other.into()),
        }
    }

    /// Records the current attempt as failed; if that write fails, the attempt simply expires.
    async fn fail_attempt(&self, order: &Order, books: Option<&Attempt>, reason: &str, deadline: &Deadline) {
        let failed = order.with_failed_attempt(reason, self.clock.now());
        let write = self.store.replace_order(&failed, order, books);
        if let Err(error) = deadline.run(Duration::ZERO, write, || StoreError::OutOfTime).await {
            tracing::error!(invoice = %order.invoice_no, %error, "could not record the failed attempt");
        }
    }
}
