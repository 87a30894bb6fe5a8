//! The order, its payment attempts, and the state machine, as pure data and decisions.
//!
//! Nothing here does I/O: the use cases read an order, ask it what a prepay or a piece of evidence
//! (a notification, an inquiry answer) means, and write the answer back with one conditional write
//! on the version they read.

use protocol::description::clean_description;
use protocol::money::{CURRENCIES, Currency, MinorUnits, parse_amount};
use protocol::securepay::WechatPayment;
use thiserror::Error;

use crate::ids::{InvoiceNo, OpenId, OrderId};

/// Unix time in seconds, UTC.
pub type UnixSeconds = i64;

/// How long a prepay may hold an attempt before 2C2P has answered. Longer than the prepay
/// function's timeout, so an attempt whose prepay died reads as expired instead of blocking forever.
pub const IN_FLIGHT_SECONDS: i64 = 60;
/// How long after its validity an attempt is still inquired: late money still finds its order.
pub const RECONCILE_WINDOW_SECONDS: i64 = 24 * 60 * 60;
/// The longest wait between two scheduled inquiries of one attempt.
pub const RECONCILE_MAX_INTERVAL_SECONDS: i64 = 30 * 60;

/// What is stored. `expired` is never stored: it is read from a pending attempt past its validity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StoredStatus {
    /// Awaiting payment; reads as expired once the current attempt is past its validity.
    Pending,
    /// Money arrived for some attempt; never goes back to pending, failed or expired.
    Paid,
    /// The current attempt ended without money; a new prepay may start another.
    Failed,
    /// A person must look: the money differs from the order, or it was paid twice.
    Review,
}

/// What the contract shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    /// Awaiting payment, the current attempt's parameters still valid (or 2C2P still being asked).
    Pending,
    /// Paid: the one status the merchant may ship on.
    Paid,
    /// The current attempt ended without money; `failReason` says why.
    Failed,
    /// Never stored: a pending attempt past its validity, so a retry starts a new attempt.
    Expired,
    /// A person must look; the mini program should not offer to pay again.
    Review,
}

impl StoredStatus {
    /// The word stored in the table and shown in events; [`Self::parse`] reads it back.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Paid => "paid",
            Self::Failed => "failed",
            Self::Review => "review",
        }
    }

    /// Reads a stored status back; `None` for anything the table should never hold.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "paid" => Some(Self::Paid),
            "failed" => Some(Self::Failed),
            "review" => Some(Self::Review),
            _ => None,
        }
    }

    /// Paid and review are final for the order: only a person moves a review.
    pub fn is_settled(self) -> bool {
        matches!(self, Self::Paid | Self::Review)
    }
}

impl OrderStatus {
    /// The `status` word of the contract's JSON.
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

/// What the shopper is asked to pay, checked: the order's terms, wherever they came from.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderTerms {
    /// The merchant's reference, unique per order in the table.
    pub order_id: OrderId,
    /// Minor units of the currency, never a float, and greater than zero.
    pub amount: MinorUnits,
    /// An entry of the supported-currency table, which also fixes the minor digits.
    pub currency: &'static Currency,
    /// As the merchant (or, with client pricing, the client) gave it.
    pub description: String,
    /// The cleaned copy 2C2P receives as `desc`.
    pub desc_for_pgw: String,
}

/// An order field that breaks its rule: the field's name and a sentence about the rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{field} {rule}")]
pub struct TermsError {
    /// The order field at fault, as the contract's JSON names it.
    pub field: &'static str,
    /// What the rule is, phrased to follow the field's name in one sentence.
    pub rule: String,
}

impl OrderTerms {
    /// The rules of contract.md "POST /prepay", wherever the order comes from (the merchant's token,
    /// or the client's body with client pricing): one place, one set of messages.
    pub fn parse(order_id: &str, amount: &str, currency: &str, description: &str) -> Result<Self, TermsError> {
        let order_id = OrderId::parse(order_id)
            .map_err(|_| TermsError { field: "orderId", rule: "must be 1 to 64 of A-Z a-z 0-9 _ -".into() })?;
        let currency = Currency::from_code(currency).ok_or_else(|| {
            let supported: Vec<&str> = CURRENCIES.iter().map(|c| c.code).collect();
            TermsError {
                field: "currency",
                rule: format!("{currency:?} is not supported; use one of {}", supported.join(", ")),
            }
        })?;
        if amount.chars().count() > 32 {
            return Err(TermsError { field: "amount", rule: "must be 1 to 32 characters".into() });
        }
        let amount = parse_amount(amount, currency).map_err(|e| TermsError {
            field: "amount",
            rule: e.to_string().trim_start_matches("amount ").to_owned(),
        })?;
        if description.is_empty() || description.chars().count() > 128 {
            return Err(TermsError { field: "description", rule: "must be 1 to 128 characters".into() });
        }
        let desc_for_pgw = clean_description(description)
            .map_err(|e| TermsError { field: "description", rule: format!("is refused: {e}") })?;
        Ok(Self { order_id, amount, currency, description: description.to_owned(), desc_for_pgw })
    }
}

/// One order, with its current attempt inline.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The merchant's reference and the table key of the order.
    pub order_id: OrderId,
    /// The payer, from the session token.
    pub openid: OpenId,
    /// What the payer owes, in minor units; a notification for another amount sends the order to review.
    pub amount: MinorUnits,
    /// The order's currency; it never changes once recorded.
    pub currency: &'static Currency,
    /// As given by the first prepay.
    pub description: String,
    /// Stored status; the contract's status is derived from it and the time of reading.
    pub status: StoredStatus,
    /// The current attempt's invoice number (2C2P's uniqueTransactionCode).
    pub invoice_no: InvoiceNo,
    /// The current attempt's `wx.requestPayment` parameters; `None` while 2C2P is being asked.
    pub payment: Option<WechatPayment>,
    /// When the current attempt stops being payable (or, before 2C2P answered, stops being in flight).
    pub attempt_expires_at: UnixSeconds,
    /// The attempt that was paid, once paid.
    pub paid_invoice_no: Option<InvoiceNo>,
    /// Why the current attempt failed (2C2P's refusal, an unreachable 2C2P, a timeout), as `GET /orders` shows it.
    pub fail_reason: Option<String>,
    /// Why the order is in review, for the person who looks.
    pub review_reason: Option<String>,
    /// When the first prepay recorded the order.
    pub created_at: UnixSeconds,
    /// The last change `GET /orders` shows; writes that only keep books leave it as it was.
    pub updated_at: UnixSeconds,
    /// When the order became paid, for `paidAt`.
    pub paid_at: Option<UnixSeconds>,
    /// Incremented by every write; each write is conditional on the version it read.
    pub version: u64,
}

/// One attempt to pay an order: the invoice → order index, and the attempt's reconciliation books.
///
/// Every attempt ever made is kept, so evidence for any of them finds its order. While `due_at` is set
/// the attempt is in the reconciliation index; it leaves once its result is final or its window ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// This attempt's uniqueTransactionCode, the key notifications and inquiries find it by.
    pub invoice_no: InvoiceNo,
    /// The order it belongs to, so evidence about any attempt reaches its order.
    pub order_id: OrderId,
    /// The payer when the attempt began.
    pub openid: OpenId,
    /// What this attempt asked 2C2P for, in minor units, to compare with the money reported.
    pub amount: MinorUnits,
    /// The currency this attempt asked for, to compare with the money reported.
    pub currency: &'static Currency,
    /// When the prepay began this attempt.
    pub created_at: UnixSeconds,
    /// When its payment parameters stop being valid (while in flight: when the hold ends).
    pub valid_until: UnixSeconds,
    /// When reconciliation should next ask 2C2P about it; `None` once nothing can change.
    pub due_at: Option<UnixSeconds>,
    /// Scheduled inquiries made so far: the interval doubles with each.
    pub inquiries: u32,
    /// The last inquiry of any caller, so concurrent readers do not multiply calls.
    pub last_inquiry_at: Option<UnixSeconds>,
}

/// What a prepay request finds when the orderId already exists.
#[derive(Debug, Clone, PartialEq)]
pub enum PrepayDecision {
    /// Same order, pending, parameters still valid: answer them again, 2C2P is not called.
    Reuse(WechatPayment),
    /// Failed, or expired: start a new attempt from this version. `inquire_first` names an expired
    /// attempt that had payment parameters: 2C2P is asked about it before it is replaced.
    NewAttempt {
        /// The expired attempt to ask 2C2P about first, so one order is not paid twice.
        inquire_first: Option<InvoiceNo>,
    },
    /// Another amount, currency or user.
    Conflict,
    /// A prepay of this same order holds the attempt and 2C2P has not answered it yet.
    InFlight,
    /// Paid, or in review.
    AlreadyPaid,
}

/// Why evidence changed nothing: 2C2P says the payment is not final yet.
pub const STILL_PENDING: &str = "still pending";
/// Why evidence changed nothing: a refund status, left to a person.
pub const REFUND_STATUS: &str = "a refund status, left to a person";
/// Why evidence changed nothing: 2C2P did not answer about the payment (respCode other than 00).
pub const NOT_ANSWERED: &str = "2C2P gave no state for the invoice";
/// Why evidence changed nothing: a combination the table does not know.
pub const UNRECOGNISED: &str = "unrecognised respCode/status";

/// What 2C2P's evidence about one attempt says, whichever way it came (notification or inquiry).
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The money arrived.
    Paid,
    /// Money arrived, but 2C2P says not the amount ordered (status AL/AM).
    PaidOtherAmount {
        /// 2C2P's status (AL or AM), kept for the person who reviews the order.
        status: String,
    },
    /// The attempt ended without money, with 2C2P's reason.
    Failed {
        /// 2C2P's failReason, shown as the order's `failReason`.
        reason: String,
    },
    /// Nothing final: pending, unrecognised, a refund status, 2C2P did not know the invoice.
    Inconclusive(&'static str),
}

/// One piece of verified evidence about an attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    /// What the evidence means for the attempt.
    pub verdict: Verdict,
    /// The amount 2C2P reports; `None` when it was unreadable.
    pub amount: Option<MinorUnits>,
    /// 2C2P's numeric currency code, `None` when it was left empty (then only the amount is compared).
    pub currency_numeric: Option<String>,
}

/// What evidence does to the order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Write this order (conditional on the version read). Boxed: an order is large, "no change" is not.
    Transition(Box<Order>),
    /// Nothing to write; the reason is logged.
    NoChange(&'static str),
}

impl Order {
    /// A new order and its first attempt, held in flight until 2C2P answers.
    pub fn open(
        terms: &OrderTerms,
        openid: OpenId,
        invoice_no: InvoiceNo,
        first_inquiry_after: i64,
        now: UnixSeconds,
    ) -> (Order, Attempt) {
        let order = Order {
            order_id: terms.order_id.clone(),
            openid,
            amount: terms.amount,
            currency: terms.currency,
            description: terms.description.clone(),
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
        let attempt = order.current_attempt(first_inquiry_after, now);
        (order, attempt)
    }

    /// The current attempt as it is first recorded. It is due for reconciliation from the start:
    /// a prepay that dies after calling 2C2P may still have created a payable WeChat order.
    fn current_attempt(&self, first_inquiry_after: i64, now: UnixSeconds) -> Attempt {
        Attempt { created_at: now, due_at: Some(now + first_inquiry_after), ..self.attempt_named(&self.invoice_no) }
    }

    /// The attempt `invoice_no` as evidence about it sees it: every attempt of an order is for the
    /// order's amount and currency, so the order alone decides what the evidence does (its books are
    /// not needed, and not written, from here).
    pub fn attempt_named(&self, invoice_no: &InvoiceNo) -> Attempt {
        Attempt {
            invoice_no: invoice_no.clone(),
            order_id: self.order_id.clone(),
            openid: self.openid.clone(),
            amount: self.amount,
            currency: self.currency,
            created_at: self.created_at,
            valid_until: self.attempt_expires_at,
            due_at: None,
            inquiries: 0,
            last_inquiry_at: None,
        }
    }

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
    pub fn is_same_order(&self, openid: &OpenId, terms: &OrderTerms) -> bool {
        self.openid == *openid && self.amount == terms.amount && self.currency.code == terms.currency.code
    }

    /// Whether reading this order should ask 2C2P first: pending or expired, with payment parameters,
    /// and not past the reconciliation window.
    pub fn worth_inquiring(&self, now: UnixSeconds) -> bool {
        self.status == StoredStatus::Pending
            && self.payment.is_some()
            && now < self.attempt_expires_at + RECONCILE_WINDOW_SECONDS
    }

    /// Decides what a prepay for an existing orderId does.
    pub fn decide_prepay(&self, openid: &OpenId, terms: &OrderTerms, now: UnixSeconds) -> PrepayDecision {
        if !self.is_same_order(openid, terms) {
            return PrepayDecision::Conflict;
        }
        match (self.status_at(now), &self.payment) {
            (OrderStatus::Paid | OrderStatus::Review, _) => PrepayDecision::AlreadyPaid,
            (OrderStatus::Failed, _) | (OrderStatus::Expired, None) => {
                PrepayDecision::NewAttempt { inquire_first: None }
            }
            (OrderStatus::Expired, Some(_)) => {
                PrepayDecision::NewAttempt { inquire_first: Some(self.invoice_no.clone()) }
            }
            (OrderStatus::Pending, Some(payment)) => PrepayDecision::Reuse(payment.clone()),
            (OrderStatus::Pending, None) => PrepayDecision::InFlight,
        }
    }

    /// The order with a new attempt started (pending, no parameters yet, held in flight), and that attempt.
    pub fn with_new_attempt(
        &self,
        invoice_no: InvoiceNo,
        first_inquiry_after: i64,
        now: UnixSeconds,
    ) -> (Order, Attempt) {
        let order = Order {
            status: StoredStatus::Pending,
            invoice_no,
            payment: None,
            attempt_expires_at: now + IN_FLIGHT_SECONDS,
            fail_reason: None,
            updated_at: now,
            version: self.version + 1,
            ..self.clone()
        };
        let attempt = order.current_attempt(first_inquiry_after, now);
        (order, attempt)
    }

    /// The order once 2C2P created the WeChat order for the current attempt. Keeping books is not a
    /// change the contract shows, so `updatedAt` stays.
    pub fn with_payment(&self, payment: WechatPayment, valid_until: UnixSeconds) -> Order {
        Order { payment: Some(payment), attempt_expires_at: valid_until, version: self.version + 1, ..self.clone() }
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

    /// Applies verified evidence about `attempt` (an attempt of this order).
    pub fn on_evidence(&self, attempt: &Attempt, evidence: &Evidence, now: UnixSeconds) -> Effect {
        match &evidence.verdict {
            Verdict::Paid => self.on_success(attempt, evidence.money_mismatch(attempt), now),
            Verdict::PaidOtherAmount { .. } => self.on_success(
                attempt,
                Some("2C2P reports that the amount paid differs from the order".to_owned()),
                now,
            ),
            Verdict::Failed { reason } => self.on_failure(attempt, reason, now),
            Verdict::Inconclusive(why) => Effect::NoChange(why),
        }
    }

    fn on_success(&self, attempt: &Attempt, mismatch: Option<String>, now: UnixSeconds) -> Effect {
        match (self.status, mismatch) {
            (StoredStatus::Review, _) => Effect::NoChange("order is in review"),
            (StoredStatus::Paid, _) if self.paid_invoice_no.as_ref() == Some(&attempt.invoice_no) => {
                Effect::NoChange("already paid by this attempt")
            }
            (StoredStatus::Paid, _) => Effect::Transition(Box::new(self.to_review(
                attempt,
                "a second attempt of a paid order was paid too (double payment to refund)",
                now,
            ))),
            (StoredStatus::Pending | StoredStatus::Failed, Some(reason)) => {
                Effect::Transition(Box::new(self.to_review(attempt, &reason, now)))
            }
            (StoredStatus::Pending | StoredStatus::Failed, None) => Effect::Transition(Box::new(Order {
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

    fn on_failure(&self, attempt: &Attempt, reason: &str, now: UnixSeconds) -> Effect {
        if self.invoice_no != attempt.invoice_no {
            return Effect::NoChange("failure for an attempt that is no longer current");
        }
        match self.status {
            StoredStatus::Pending => Effect::Transition(Box::new(self.with_failed_attempt(reason, now))),
            StoredStatus::Failed => Effect::NoChange("attempt already failed"),
            StoredStatus::Paid | StoredStatus::Review => Effect::NoChange("a failure never undoes a payment"),
        }
    }
}

impl Evidence {
    /// Why the money reported differs from the attempt's, if it does.
    fn money_mismatch(&self, attempt: &Attempt) -> Option<String> {
        let amount_differs = self.amount != Some(attempt.amount);
        let currency_differs =
            self.currency_numeric.as_deref().is_some_and(|numeric| numeric != attempt.currency.numeric);
        let reason = match (amount_differs, currency_differs) {
            (true, true) => "paid amount and currency differ from the order",
            (true, false) => "paid amount differs from the order",
            (false, true) => "paid currency differs from the order",
            (false, false) => return None,
        };
        Some(reason.to_owned())
    }

    /// Whether this evidence ends the attempt's reconciliation: a payment or a failure is final.
    pub fn is_final(&self) -> bool {
        !matches!(self.verdict, Verdict::Inconclusive(_))
    }
}

impl Attempt {
    /// The attempt once 2C2P answered its prepay with payment parameters valid until `valid_until`:
    /// first inquired `first_inquiry_after` seconds from `now`.
    pub fn with_parameters(&self, valid_until: UnixSeconds, first_inquiry_after: i64, now: UnixSeconds) -> Attempt {
        Attempt { valid_until, due_at: Some(now + first_inquiry_after), ..self.clone() }
    }

    /// The attempt with nothing left to ask 2C2P about: out of the reconciliation index.
    pub fn settled(&self) -> Attempt {
        Attempt { due_at: None, ..self.clone() }
    }

    /// The attempt after a scheduled inquiry at `now` that changed nothing final: asked again after a
    /// doubling interval (at most every 30 minutes), until 24 hours past its validity.
    pub fn after_inquiry(&self, first_inquiry_after: i64, now: UnixSeconds) -> Attempt {
        let inquiries = self.inquiries.saturating_add(1);
        let interval = first_inquiry_after
            .max(1)
            .saturating_mul(1_i64.checked_shl(inquiries.min(20)).unwrap_or(i64::MAX))
            .min(RECONCILE_MAX_INTERVAL_SECONDS);
        let window_ends = self.valid_until + RECONCILE_WINDOW_SECONDS;
        let due_at = if now >= window_ends { None } else { Some((now + interval).min(window_ends)) };
        Attempt { inquiries, due_at, last_inquiry_at: Some(now), ..self.clone() }
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
    fn inv(text: &str) -> InvoiceNo {
        InvoiceNo::parse(text).expect("invoice")
    }
    fn o1() -> OpenId {
        OpenId::new("o1").expect("openid")
    }
    fn payment() -> WechatPayment {
        WechatPayment::from_json(
            r#"{"timeStamp":"1","nonceStr":"n","package":"prepay_id=p1","signType":"RSA","paySign":"s"}"#,
        )
        .expect("valid")
    }
    fn terms(minor: u64, currency: &'static Currency) -> OrderTerms {
        OrderTerms {
            order_id: OrderId::parse("A-1").expect("id"),
            amount: amount(minor),
            currency,
            description: "Latte".into(),
            desc_for_pgw: "Latte".into(),
        }
    }
    /// A pending order whose first attempt INV1 got its parameters, valid for 900 s.
    fn order() -> Order {
        let (opened, _) = Order::open(&terms(1250, sgd()), o1(), inv("INV1"), 120, NOW);
        opened.with_payment(payment(), NOW + 900)
    }
    fn attempt(invoice: &str) -> Attempt {
        let (_, first) = Order::open(&terms(1250, sgd()), o1(), inv(invoice), 120, NOW);
        first
    }
    fn evidence(verdict: Verdict, minor: Option<u64>, currency: Option<&str>) -> Evidence {
        Evidence { verdict, amount: minor.map(amount), currency_numeric: currency.map(str::to_owned) }
    }
    fn paid() -> Evidence {
        evidence(Verdict::Paid, Some(1250), None)
    }
    fn transition(effect: Effect) -> Order {
        match effect {
            Effect::Transition(order) => *order,
            Effect::NoChange(why) => panic!("expected a transition, got no change: {why}"),
        }
    }

    #[test]
    fn terms_follow_the_rules_and_name_the_field() {
        let ok = OrderTerms::parse("A-1001", "12.5", "SGD", "Latte x2!").expect("valid");
        assert_eq!((ok.amount, ok.desc_for_pgw.as_str()), (amount(1250), "Latte x2"));
        let field = |r: Result<OrderTerms, TermsError>| r.map(|_| ()).map_err(|e| e.field);
        assert_eq!(field(OrderTerms::parse("A 1", "1", "SGD", "x")), Err("orderId"));
        assert_eq!(field(OrderTerms::parse("A", "12.505", "SGD", "x")), Err("amount"));
        assert_eq!(field(OrderTerms::parse("A", "1000.5", "JPY", "x")), Err("amount"));
        assert_eq!(field(OrderTerms::parse("A", "0", "SGD", "x")), Err("amount"));
        assert_eq!(field(OrderTerms::parse("A", "1", "EUR", "x")), Err("currency"));
        assert_eq!(field(OrderTerms::parse("A", "1", "SGD", "")), Err("description"));
        assert_eq!(field(OrderTerms::parse("A", "1", "SGD", "!!!")), Err("description"));
        assert_eq!(field(OrderTerms::parse("A", "1", "SGD", &"x".repeat(129))), Err("description"));
        let e = OrderTerms::parse("A", "12.505", "SGD", "x").expect_err("too many decimals");
        assert!(e.to_string().starts_with("amount has more than 2 decimal places"), "{e}");
    }

    #[test]
    fn opening_holds_the_attempt_in_flight_and_schedules_its_first_inquiry() {
        let (order, attempt) = Order::open(&terms(1250, sgd()), o1(), inv("INV1"), 120, NOW);
        assert_eq!((order.status, order.version, order.payment.clone()), (StoredStatus::Pending, 1, None));
        assert_eq!(order.attempt_expires_at, NOW + IN_FLIGHT_SECONDS);
        assert_eq!(attempt.invoice_no, order.invoice_no);
        assert_eq!(attempt.due_at, Some(NOW + 120), "a prepay that dies is still reconciled");
        let with_payment = order.with_payment(payment(), NOW + 900);
        assert_eq!(with_payment.updated_at, order.updated_at, "payment parameters only keep books");
        assert_eq!(with_payment.version, 2);
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
        let same = terms(1250, sgd());
        assert_eq!(order.decide_prepay(&o1(), &same, NOW), PrepayDecision::Reuse(payment()));
        let o2 = OpenId::new("o2").expect("openid");
        assert_eq!(order.decide_prepay(&o2, &same, NOW), PrepayDecision::Conflict);
        assert_eq!(order.decide_prepay(&o1(), &terms(1251, sgd()), NOW), PrepayDecision::Conflict);
        let usd = Currency::from_code("USD").expect("USD");
        assert_eq!(order.decide_prepay(&o1(), &terms(1250, usd), NOW), PrepayDecision::Conflict);
        assert_eq!(
            order.decide_prepay(&o1(), &same, NOW + 900),
            PrepayDecision::NewAttempt { inquire_first: Some(inv("INV1")) },
            "an expired attempt with parameters is inquired before it is replaced"
        );
        let in_flight = Order { payment: None, ..order.clone() };
        assert_eq!(in_flight.decide_prepay(&o1(), &same, NOW), PrepayDecision::InFlight);
        assert_eq!(
            in_flight.decide_prepay(&o1(), &same, NOW + 900),
            PrepayDecision::NewAttempt { inquire_first: None },
            "a dead prepay's attempt had no parameters to ask about"
        );
        let failed = order.with_failed_attempt("refused", NOW);
        assert_eq!(failed.decide_prepay(&o1(), &same, NOW), PrepayDecision::NewAttempt { inquire_first: None });
        let paid = transition(order.on_evidence(&attempt("INV1"), &paid(), NOW));
        assert_eq!(paid.decide_prepay(&o1(), &same, NOW), PrepayDecision::AlreadyPaid);
        assert_eq!(paid.decide_prepay(&o2, &same, NOW), PrepayDecision::Conflict, "conflict first: reveal nothing");
    }

    #[test]
    fn new_attempt_is_held_in_flight_and_bumps_the_version() {
        let (next, attempt) = order().with_failed_attempt("x", NOW).with_new_attempt(inv("INV2"), 120, NOW + 5);
        assert_eq!(next.status, StoredStatus::Pending);
        assert_eq!(next.invoice_no, "INV2");
        assert_eq!(next.payment, None);
        assert_eq!(next.fail_reason, None);
        assert_eq!(next.attempt_expires_at, NOW + 5 + IN_FLIGHT_SECONDS);
        assert_eq!(next.version, 4);
        assert_eq!(attempt.invoice_no, "INV2");
        assert_eq!(attempt.due_at, Some(NOW + 125));
        assert_eq!(next.status_at(NOW + 5 + IN_FLIGHT_SECONDS), OrderStatus::Expired, "a dead prepay frees the order");
    }

    #[test]
    fn success_pays_pending_failed_and_expired_orders() {
        let paid_order = transition(order().on_evidence(
            &attempt("INV1"),
            &evidence(Verdict::Paid, Some(1250), Some("702")),
            NOW + 1,
        ));
        assert_eq!(paid_order.status, StoredStatus::Paid);
        assert_eq!(paid_order.paid_invoice_no, Some(inv("INV1")));
        assert_eq!(paid_order.paid_at, Some(NOW + 1));
        assert_eq!(paid_order.version, 3);

        let failed = order().with_failed_attempt("declined", NOW);
        let paid_order = transition(failed.on_evidence(&attempt("INV1"), &paid(), NOW));
        assert_eq!(paid_order.status, StoredStatus::Paid);
        assert_eq!(paid_order.fail_reason, None);

        let (expired_then_retried, _) = order().with_new_attempt(inv("INV2"), 120, NOW);
        let paid_order = transition(expired_then_retried.on_evidence(&attempt("INV1"), &paid(), NOW));
        assert_eq!(paid_order.status, StoredStatus::Paid, "money for an older attempt is never dropped");
        assert_eq!(paid_order.paid_invoice_no, Some(inv("INV1")));
    }

    #[test]
    fn replays_and_double_payments() {
        let paid_order = transition(order().on_evidence(&attempt("INV1"), &paid(), NOW));
        assert_eq!(
            paid_order.on_evidence(&attempt("INV1"), &paid(), NOW),
            Effect::NoChange("already paid by this attempt")
        );
        let review = transition(paid_order.on_evidence(&attempt("INV2"), &paid(), NOW));
        assert_eq!(review.status, StoredStatus::Review);
        assert_eq!(review.paid_invoice_no, Some(inv("INV1")), "the first payment stays recorded");
        assert!(review.review_reason.as_deref().is_some_and(|r| r.contains("double payment") && r.contains("INV2")));
        assert!(matches!(review.on_evidence(&attempt("INV2"), &paid(), NOW), Effect::NoChange(_)));
    }

    #[test]
    fn mismatched_money_goes_to_review() {
        let review = transition(order().on_evidence(&attempt("INV1"), &evidence(Verdict::Paid, Some(1000), None), NOW));
        assert_eq!(review.status, StoredStatus::Review);
        assert!(review.review_reason.as_deref().is_some_and(|r| r.starts_with("paid amount differs")));
        let review =
            transition(order().on_evidence(&attempt("INV1"), &evidence(Verdict::Paid, Some(1250), Some("840")), NOW));
        assert!(review.review_reason.as_deref().is_some_and(|r| r.starts_with("paid currency differs")));
        let review = transition(order().on_evidence(&attempt("INV1"), &evidence(Verdict::Paid, None, None), NOW));
        assert_eq!(review.status, StoredStatus::Review, "an unreadable amount is not a match");
    }

    #[test]
    fn al_and_am_go_to_review_whatever_the_amount_says() {
        for status in ["AL", "AM"] {
            let verdict = Verdict::PaidOtherAmount { status: status.into() };
            let review =
                transition(order().on_evidence(&attempt("INV1"), &evidence(verdict, Some(1250), Some("702")), NOW));
            assert_eq!(review.status, StoredStatus::Review, "{status}");
            assert_eq!(review.paid_invoice_no, Some(inv("INV1")));
            assert!(review.review_reason.as_deref().is_some_and(|r| r.contains("differs")), "{status}");
        }
    }

    #[test]
    fn failures_touch_only_the_current_pending_attempt() {
        let fail = evidence(Verdict::Failed { reason: "Declined".into() }, Some(1250), None);
        let failed = transition(order().on_evidence(&attempt("INV1"), &fail, NOW));
        assert_eq!(failed.status, StoredStatus::Failed);
        assert_eq!(failed.fail_reason.as_deref(), Some("Declined"));
        assert!(matches!(order().on_evidence(&attempt("INV0"), &fail, NOW), Effect::NoChange(_)));
        let paid_order = transition(order().on_evidence(&attempt("INV1"), &paid(), NOW));
        assert!(matches!(paid_order.on_evidence(&attempt("INV1"), &fail, NOW), Effect::NoChange(_)));
    }

    #[test]
    fn inconclusive_evidence_changes_nothing() {
        let pending = evidence(Verdict::Inconclusive("still pending"), Some(1250), None);
        assert_eq!(order().on_evidence(&attempt("INV1"), &pending, NOW), Effect::NoChange("still pending"));
        assert!(!pending.is_final());
        assert!(paid().is_final());
    }

    #[test]
    fn the_reconciliation_schedule_doubles_up_to_thirty_minutes_and_ends_a_day_past_validity() {
        let first = attempt("INV1").with_parameters(NOW + 900, 120, NOW);
        assert_eq!(first.due_at, Some(NOW + 120));
        let mut at = NOW + 120;
        let mut current = first.after_inquiry(120, at);
        assert_eq!(current.due_at, Some(at + 240), "doubling after the first inquiry");
        assert_eq!(current.last_inquiry_at, Some(at));
        let mut intervals = Vec::new();
        while let Some(due) = current.due_at {
            intervals.push(due - at);
            at = due;
            current = current.after_inquiry(120, at);
        }
        assert!(intervals.windows(2).all(|w| w[1] >= w[0] || w[1] < RECONCILE_MAX_INTERVAL_SECONDS));
        assert!(intervals.iter().all(|i| *i <= RECONCILE_MAX_INTERVAL_SECONDS), "{intervals:?}");
        assert!(intervals.contains(&RECONCILE_MAX_INTERVAL_SECONDS));
        assert_eq!(at, NOW + 900 + RECONCILE_WINDOW_SECONDS, "the last inquiry is at the end of the window");
        assert_eq!(first.settled().due_at, None);
    }
}
