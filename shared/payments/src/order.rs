//! The order, its payment attempts, and the state machine, as pure data and decisions.
//!
//! Nothing here does I/O: the handlers read an order, ask it what a notification or a prepay
//! means, and write the answer back with one conditional write on the version they read.

use protocol::money::{Currency, MinorUnits};
use protocol::outcome::Outcome;
use protocol::securepay::WechatPayment;

/// Unix time in seconds, UTC.
pub type UnixSeconds = i64;

/// How long a prepay may hold an attempt before 2C2P has answered. Longer than the prepay
/// function's timeout, so an attempt whose prepay died reads as expired instead of blocking forever.
pub const IN_FLIGHT_SECONDS: i64 = 60;

/// What is stored. `expired` is never stored: it is read from a pending attempt past its validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoredStatus {
    Pending,
    Paid,
    Failed,
    Review,
}

/// What the contract shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    Pending,
    Paid,
    Failed,
    Expired,
    Review,
}

impl StoredStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Review => "review",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "paid" => Some(Self::Paid),
            "failed" => Some(Self::Failed),
            "review" => Some(Self::Review),
            _ => None,
        }
    }
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Review => "review",
        }
    }
}

/// One order, with its current attempt inline.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The merchant's reference: 1 to 64 of `A-Z a-z 0-9 _ -`.
    pub order_id: String,
    /// The payer, from the session token.
    pub openid: String,
    pub amount: MinorUnits,
    pub currency: &'static Currency,
    /// As the client gave it (the first prepay's).
    pub description: String,
    pub status: StoredStatus,
    /// The current attempt's invoice number (2C2P's uniqueTransactionCode).
    pub invoice_no: String,
    /// The current attempt's `wx.requestPayment` parameters; `None` while 2C2P is being asked.
    pub payment: Option<WechatPayment>,
    /// When the current attempt stops being payable (or, before 2C2P answered, stops being in flight).
    pub attempt_expires_at: UnixSeconds,
    /// The attempt that was paid, once paid.
    pub paid_invoice_no: Option<String>,
    pub fail_reason: Option<String>,
    /// Why the order is in review, for the person who looks.
    pub review_reason: Option<String>,
    pub created_at: UnixSeconds,
    pub updated_at: UnixSeconds,
    pub paid_at: Option<UnixSeconds>,
    /// Incremented by every write; each write is conditional on the version it read.
    pub version: u64,
}

/// The invoice → order index: every attempt ever made, so a notification for any of them finds its order.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub invoice_no: String,
    pub order_id: String,
    pub openid: String,
    pub amount: MinorUnits,
    pub currency: &'static Currency,
    pub created_at: UnixSeconds,
}

/// What a prepay request finds when the orderId already exists.
#[derive(Debug, Clone, PartialEq)]
pub enum PrepayDecision {
    /// Same order, pending, parameters still valid: answer them again, 2C2P is not called.
    Reuse(WechatPayment),
    /// Failed, or expired: start a new attempt from this version.
    NewAttempt,
    /// Another amount, currency or user.
    Conflict,
    /// Another prepay holds the attempt and 2C2P has not answered it yet.
    InFlight,
    /// Paid, or in review.
    AlreadyPaid,
}

/// What a verified notification does to the order.
#[derive(Debug, Clone, PartialEq)]
pub enum NotificationEffect {
    /// Write this order (conditional on the version read). Boxed: an order is large, "no change" is not.
    Transition(Box<Order>),
    /// Nothing to write; the reason is logged.
    NoChange(&'static str),
}

impl Order {
    /// The status the contract shows at `now`: a pending attempt past its validity reads as expired.
    pub fn status_at(&self, now: UnixSeconds) -> OrderStatus {
        match self.status {
            StoredStatus::Pending if now >= self.attempt_expires_at => OrderStatus::Expired,
            StoredStatus::Pending => OrderStatus::Pending,
            StoredStatus::Paid => OrderStatus::Paid,
            StoredStatus::Failed => OrderStatus::Failed,
            StoredStatus::Review => OrderStatus::Review,
        }
    }

    /// "The same order": same user, same currency, same amount as a number.
    pub fn is_same_order(&self, openid: &str, amount: MinorUnits, currency: &Currency) -> bool {
        self.openid == openid && self.amount == amount && self.currency.code == currency.code
    }

    /// Decides what a prepay for an existing orderId does.
    pub fn decide_prepay(
        &self,
        openid: &str,
        amount: MinorUnits,
        currency: &Currency,
        now: UnixSeconds,
    ) -> PrepayDecision {
        if !self.is_same_order(openid, amount, currency) {
            return PrepayDecision::Conflict;
        }
        match (self.status_at(now), &self.payment) {
            (OrderStatus::Paid | OrderStatus::Review, _) => PrepayDecision::AlreadyPaid,
            (OrderStatus::Failed | OrderStatus::Expired, _) => PrepayDecision::NewAttempt,
            (OrderStatus::Pending, Some(payment)) => PrepayDecision::Reuse(payment.clone()),
            (OrderStatus::Pending, None) => PrepayDecision::InFlight,
        }
    }

    /// The order with a new attempt started: pending, no parameters yet, held in flight.
    pub fn with_new_attempt(&self, invoice_no: &str, now: UnixSeconds) -> Order {
        Order {
            status: StoredStatus::Pending,
            invoice_no: invoice_no.to_owned(),
            payment: None,
            attempt_expires_at: now + IN_FLIGHT_SECONDS,
            fail_reason: None,
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The order once 2C2P created the WeChat order for the current attempt.
    pub fn with_payment(&self, payment: WechatPayment, valid_until: UnixSeconds, now: UnixSeconds) -> Order {
        Order {
            payment: Some(payment),
            attempt_expires_at: valid_until,
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// The order once its current attempt failed at prepay time (refused, unreachable, timed out).
    pub fn with_failed_attempt(&self, reason: &str, now: UnixSeconds) -> Order {
        Order {
            status: StoredStatus::Failed,
            fail_reason: Some(reason.to_owned()),
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }

    /// Applies a verified notification for `attempt` (an attempt of this order).
    ///
    /// `notified_amount` is `None` when `amt` was unreadable; `notified_currency` is 2C2P's numeric
    /// `currencyCode`, `None` when it was left empty (then only the amount is compared).
    pub fn on_notification(
        &self,
        attempt: &Attempt,
        outcome: &Outcome,
        notified_amount: Option<MinorUnits>,
        notified_currency: Option<&str>,
        now: UnixSeconds,
    ) -> NotificationEffect {
        match outcome {
            Outcome::Paid => self.on_success(attempt, notified_amount, notified_currency, now),
            Outcome::Failed { reason } => self.on_failure(attempt, reason, now),
            Outcome::Pending | Outcome::WechatOrderCreated => NotificationEffect::NoChange("still pending"),
            Outcome::Unrecognised => NotificationEffect::NoChange("unrecognised respCode/status"),
        }
    }

    fn on_success(
        &self,
        attempt: &Attempt,
        notified_amount: Option<MinorUnits>,
        notified_currency: Option<&str>,
        now: UnixSeconds,
    ) -> NotificationEffect {
        let amount_differs = notified_amount != Some(attempt.amount);
        let currency_differs = notified_currency.is_some_and(|numeric| numeric != attempt.currency.numeric);
        let mismatch = match (amount_differs, currency_differs) {
            (true, true) => Some("paid amount and currency differ from the order"),
            (true, false) => Some("paid amount differs from the order"),
            (false, true) => Some("paid currency differs from the order"),
            (false, false) => None,
        };
        match (self.status, mismatch) {
            (StoredStatus::Review, _) => NotificationEffect::NoChange("order is in review"),
            (StoredStatus::Paid, _) if self.paid_invoice_no.as_deref() == Some(attempt.invoice_no.as_str()) => {
                NotificationEffect::NoChange("already paid by this attempt")
            }
            (StoredStatus::Paid, _) => NotificationEffect::Transition(Box::new(self.to_review(
                attempt,
                "a second attempt of a paid order was paid too (double payment to refund)",
                now,
            ))),
            (StoredStatus::Pending | StoredStatus::Failed, Some(reason)) => {
                NotificationEffect::Transition(Box::new(self.to_review(attempt, reason, now)))
            }
            (StoredStatus::Pending | StoredStatus::Failed, None) => NotificationEffect::Transition(Box::new(Order {
                status: StoredStatus::Paid,
                paid_invoice_no: Some(attempt.invoice_no.clone()),
                paid_at: Some(now),
                fail_reason: None,
                updated_at: now,
                version: self.version + 1,
                ..self.clone()
            })),
        }
    }

    fn to_review(&self, attempt: &Attempt, reason: &str, now: UnixSeconds) -> Order {
        Order {
            status: StoredStatus::Review,
            paid_invoice_no: self.paid_invoice_no.clone().or_else(|| Some(attempt.invoice_no.clone())),
            paid_at: self.paid_at.or(Some(now)),
            review_reason: Some(format!("{reason} (invoice {})", attempt.invoice_no)),
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        }
    }

    fn on_failure(&self, attempt: &Attempt, reason: &str, now: UnixSeconds) -> NotificationEffect {
        if self.invoice_no != attempt.invoice_no {
            return NotificationEffect::NoChange("failure for an attempt that is no longer current");
        }
        match self.status {
            StoredStatus::Pending => NotificationEffect::Transition(Box::new(self.with_failed_attempt(reason, now))),
            StoredStatus::Failed => NotificationEffect::NoChange("attempt already failed"),
            StoredStatus::Paid | StoredStatus::Review => {
                NotificationEffect::NoChange("a failure never undoes a payment")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::securepay::WechatPayment;

    const NOW: UnixSeconds = 1_800_000_000;

    fn sgd() -> &'static Currency {
        Currency::from_code("SGD").expect("SGD")
    }
    fn amount(v: u64) -> MinorUnits {
        MinorUnits::new(v).expect("valid")
    }
    fn payment() -> WechatPayment {
        WechatPayment::from_json(
            r#"{"timeStamp":"1","nonceStr":"n","package":"prepay_id=p1","signType":"RSA","paySign":"s"}"#,
        )
        .expect("valid")
    }
    fn order() -> Order {
        Order {
            order_id: "A-1".into(),
            openid: "o1".into(),
            amount: amount(1250),
            currency: sgd(),
            description: "Latte".into(),
            status: StoredStatus::Pending,
            invoice_no: "INV1".into(),
            payment: Some(payment()),
            attempt_expires_at: NOW + 900,
            paid_invoice_no: None,
            fail_reason: None,
            review_reason: None,
            created_at: NOW,
            updated_at: NOW,
            paid_at: None,
            version: 2,
        }
    }
    fn attempt(invoice: &str) -> Attempt {
        Attempt {
            invoice_no: invoice.into(),
            order_id: "A-1".into(),
            openid: "o1".into(),
            amount: amount(1250),
            currency: sgd(),
            created_at: NOW,
        }
    }
    fn transition(effect: NotificationEffect) -> Order {
        match effect {
            NotificationEffect::Transition(order) => *order,
            NotificationEffect::NoChange(why) => panic!("expected a transition, got no change: {why}"),
        }
    }

    #[test]
    fn pending_reads_expired_exactly_at_its_validity() {
        let order = order();
        assert_eq!(order.status_at(NOW + 899), OrderStatus::Pending);
        assert_eq!(order.status_at(NOW + 900), OrderStatus::Expired);
        assert_eq!(StoredStatus::parse("expired"), None, "expired is never stored");
        for status in [StoredStatus::Pending, StoredStatus::Paid, StoredStatus::Failed, StoredStatus::Review] {
            assert_eq!(StoredStatus::parse(status.as_str()), Some(status));
        }
    }

    #[test]
    fn prepay_decisions_follow_the_contract() {
        let order = order();
        assert_eq!(order.decide_prepay("o1", amount(1250), sgd(), NOW), PrepayDecision::Reuse(payment()));
        assert_eq!(order.decide_prepay("o2", amount(1250), sgd(), NOW), PrepayDecision::Conflict);
        assert_eq!(order.decide_prepay("o1", amount(1251), sgd(), NOW), PrepayDecision::Conflict);
        let usd = Currency::from_code("USD").expect("USD");
        assert_eq!(order.decide_prepay("o1", amount(1250), usd, NOW), PrepayDecision::Conflict);
        assert_eq!(order.decide_prepay("o1", amount(1250), sgd(), NOW + 900), PrepayDecision::NewAttempt);
        let in_flight = Order { payment: None, ..order.clone() };
        assert_eq!(in_flight.decide_prepay("o1", amount(1250), sgd(), NOW), PrepayDecision::InFlight);
        let failed = order.with_failed_attempt("refused", NOW);
        assert_eq!(failed.decide_prepay("o1", amount(1250), sgd(), NOW), PrepayDecision::NewAttempt);
        let paid = transition(order.on_notification(&attempt("INV1"), &Outcome::Paid, Some(amount(1250)), None, NOW));
        assert_eq!(paid.decide_prepay("o1", amount(1250), sgd(), NOW), PrepayDecision::AlreadyPaid);
        assert_eq!(
            paid.decide_prepay("o2", amount(1250), sgd(), NOW),
            PrepayDecision::Conflict,
            "conflict first: reveal nothing"
        );
    }

    #[test]
    fn new_attempt_is_held_in_flight_and_bumps_the_version() {
        let next = order().with_failed_attempt("x", NOW).with_new_attempt("INV2", NOW + 5);
        assert_eq!(next.status, StoredStatus::Pending);
        assert_eq!(next.invoice_no, "INV2");
        assert_eq!(next.payment, None);
        assert_eq!(next.fail_reason, None);
        assert_eq!(next.attempt_expires_at, NOW + 5 + IN_FLIGHT_SECONDS);
        assert_eq!(next.version, 4);
        assert_eq!(next.status_at(NOW + 5 + IN_FLIGHT_SECONDS), OrderStatus::Expired, "a dead prepay frees the order");
    }

    #[test]
    fn success_pays_pending_failed_and_expired_orders() {
        let paid = transition(order().on_notification(
            &attempt("INV1"),
            &Outcome::Paid,
            Some(amount(1250)),
            Some("702"),
            NOW + 1,
        ));
        assert_eq!(paid.status, StoredStatus::Paid);
        assert_eq!(paid.paid_invoice_no.as_deref(), Some("INV1"));
        assert_eq!(paid.paid_at, Some(NOW + 1));
        assert_eq!(paid.version, 3);

        let failed = order().with_failed_attempt("declined", NOW);
        let paid = transition(failed.on_notification(&attempt("INV1"), &Outcome::Paid, Some(amount(1250)), None, NOW));
        assert_eq!(paid.status, StoredStatus::Paid);
        assert_eq!(paid.fail_reason, None);

        let expired_then_retried = order().with_new_attempt("INV2", NOW);
        let paid = transition(expired_then_retried.on_notification(
            &attempt("INV1"),
            &Outcome::Paid,
            Some(amount(1250)),
            None,
            NOW,
        ));
        assert_eq!(paid.status, StoredStatus::Paid, "money for an older attempt is never dropped");
        assert_eq!(paid.paid_invoice_no.as_deref(), Some("INV1"));
    }

    #[test]
    fn replays_and_double_payments() {
        let paid = transition(order().on_notification(&attempt("INV1"), &Outcome::Paid, Some(amount(1250)), None, NOW));
        assert_eq!(
            paid.on_notification(&attempt("INV1"), &Outcome::Paid, Some(amount(1250)), None, NOW),
            NotificationEffect::NoChange("already paid by this attempt")
        );
        let review = transition(paid.on_notification(&attempt("INV2"), &Outcome::Paid, Some(amount(1250)), None, NOW));
        assert_eq!(review.status, StoredStatus::Review);
        assert_eq!(review.paid_invoice_no.as_deref(), Some("INV1"), "the first payment stays recorded");
        assert!(review.review_reason.as_deref().is_some_and(|r| r.contains("double payment") && r.contains("INV2")));
        assert!(matches!(
            review.on_notification(&attempt("INV2"), &Outcome::Paid, Some(amount(1250)), None, NOW),
            NotificationEffect::NoChange(_)
        ));
    }

    #[test]
    fn mismatched_money_goes_to_review() {
        let review =
            transition(order().on_notification(&attempt("INV1"), &Outcome::Paid, Some(amount(1000)), None, NOW));
        assert_eq!(review.status, StoredStatus::Review);
        assert!(review.review_reason.as_deref().is_some_and(|r| r.starts_with("paid amount differs")));
        let review =
            transition(order().on_notification(&attempt("INV1"), &Outcome::Paid, Some(amount(1250)), Some("840"), NOW));
        assert!(review.review_reason.as_deref().is_some_and(|r| r.starts_with("paid currency differs")));
        let review = transition(order().on_notification(&attempt("INV1"), &Outcome::Paid, None, None, NOW));
        assert_eq!(review.status, StoredStatus::Review, "an unreadable amount is not a match");
    }

    #[test]
    fn failures_touch_only_the_current_pending_attempt() {
        let failed = transition(order().on_notification(
            &attempt("INV1"),
            &Outcome::Failed { reason: "Declined".into() },
            Some(amount(1250)),
            None,
            NOW,
        ));
        assert_eq!(failed.status, StoredStatus::Failed);
        assert_eq!(failed.fail_reason.as_deref(), Some("Declined"));
        let fail = Outcome::Failed { reason: "x".into() };
        assert!(matches!(
            order().on_notification(&attempt("INV0"), &fail, None, None, NOW),
            NotificationEffect::NoChange(_)
        ));
        let paid = transition(order().on_notification(&attempt("INV1"), &Outcome::Paid, Some(amount(1250)), None, NOW));
        assert!(matches!(
            paid.on_notification(&attempt("INV1"), &fail, None, None, NOW),
            NotificationEffect::NoChange(_)
        ));
    }

    #[test]
    fn pending_and_unknown_outcomes_change_nothing() {
        for outcome in [Outcome::Pending, Outcome::Unrecognised, Outcome::WechatOrderCreated] {
            assert!(matches!(
                order().on_notification(&attempt("INV1"), &outcome, Some(amount(1250)), None, NOW),
                NotificationEffect::NoChange(_)
            ));
        }
    }
}
