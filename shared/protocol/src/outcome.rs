//! What a SecurePay answer or a notification means for the order: one table, in one place.
//!
//! The rule that matters most: any combination not known to mean "paid" is never classified as paid.

/// The meaning of a respCode/status pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// respCode 32: 2C2P created the WeChat order; the `wx.requestPayment` parameters came with it. Nothing is paid.
    WechatOrderCreated,
    /// Money was taken.
    Paid,
    /// Money was taken, but 2C2P says its amount differs from the order (status `AL` less, `AM` more):
    /// a person must look, whatever `amt` says.
    PaidOtherAmount {
        /// `AL` or `AM` as 2C2P sent it, so the person looking knows which way the amount is off.
        status: String,
    },
    /// Not final yet: keep waiting.
    Pending,
    /// Final failure, with 2C2P's reason (or a description of the codes when it gave none).
    Failed {
        /// 2C2P's failReason, or a text naming respCode and status when it gave none.
        reason: String,
    },
    /// A combination this table does not know: keep it, log it, change nothing.
    Unrecognised,
}

/// Statuses that, with respCode 00/000, mean the money arrived as ordered.
pub const PAID_STATUSES: &[&str] = &["A", "S", "RS", "AE", ""];
/// Statuses that, with respCode 00/000, mean money arrived but not the amount ordered (less, more).
pub const PAID_OTHER_AMOUNT_STATUSES: &[&str] = &["AL", "AM"];
/// Statuses that end a payment without money.
pub const FAILED_STATUSES: &[&str] = &["F", "PF", "AR", "FF", "IP", "ROE", "V", "EX"];
const SUCCESS_CODES: &[&str] = &["00", "000"];
const PENDING_CODE: &str = "001";
const PENDING_STATUS: &str = "AP";
const ORDER_CREATED_CODE: &str = "32";

/// Classifies a SecurePay answer's respCode/status pair (protocol-notes.md "Codes"): respCode 32 is
/// the WeChat order created, anything else is read as [`classify_notification`] reads it.
pub fn classify(resp_code: &str, status: &str, fail_reason: &str) -> Outcome {
    if resp_code.trim() == ORDER_CREATED_CODE {
        Outcome::WechatOrderCreated
    } else {
        classify_notification(resp_code, status, fail_reason)
    }
}

/// Classifies a notification's respCode/status pair with the table of contract.md "POST /notify",
/// whose rows know no respCode 32 (SecurePay's "order created"): in a notification it is one more
/// respCode other than `00`, `000`, `001`, so with an empty status it is a failure.
pub fn classify_notification(resp_code: &str, status: &str, fail_reason: &str) -> Outcome {
    let resp_code = resp_code.trim();
    let status = status.trim();
    let failed = || Outcome::Failed {
        reason: match fail_reason.trim() {
            "" => format!("respCode {resp_code}, status {status}"),
            reason => reason.to_owned(),
        },
    };
    // The contract's rows in its order: success, still pending, failure, then nothing known.
    if SUCCESS_CODES.contains(&resp_code) && PAID_STATUSES.contains(&status) {
        Outcome::Paid
    } else if SUCCESS_CODES.contains(&resp_code) && PAID_OTHER_AMOUNT_STATUSES.contains(&status) {
        Outcome::PaidOtherAmount { status: status.to_owned() }
    } else if resp_code == PENDING_CODE || status == PENDING_STATUS {
        Outcome::Pending
    } else if FAILED_STATUSES.contains(&status) || (status.is_empty() && !resp_code.is_empty()) {
        failed()
    } else {
        Outcome::Unrecognised
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn respcode_32_is_order_created_for_securepay_and_a_plain_code_for_a_notification() {
        assert_eq!(classify("32", "", ""), Outcome::WechatOrderCreated);
        assert_eq!(classify_notification("32", "", ""), Outcome::Failed { reason: "respCode 32, status ".into() });
        let declined = Outcome::Failed { reason: "Transaction is declined".into() };
        assert_eq!(classify_notification("32", "F", "Transaction is declined"), declined);
        assert_eq!(classify_notification("32", "A", ""), Outcome::Unrecognised, "never paid without 00/000");
        assert_eq!(classify_notification("000", "A", ""), classify("000", "A", ""));
    }

    #[test]
    fn paid_needs_a_success_code_and_an_approved_or_empty_status() {
        for code in ["00", "000"] {
            for status in ["A", "S", "RS", "AE", ""] {
                assert_eq!(classify(code, status, ""), Outcome::Paid, "{code}/{status}");
            }
            for status in ["AL", "AM"] {
                assert_eq!(
                    classify(code, status, ""),
                    Outcome::PaidOtherAmount { status: status.into() },
                    "{code}/{status}: money arrived, but not the amount ordered"
                );
            }
        }
        assert_eq!(classify(" 000 ", " A ", ""), Outcome::Paid, "values are trimmed");
    }

    #[test]
    fn pending_and_order_created() {
        assert_eq!(classify("001", "", ""), Outcome::Pending);
        assert_eq!(classify("001", "A", ""), Outcome::Pending, "001 is never paid");
        assert_eq!(classify("00", "AP", ""), Outcome::Pending);
        assert_eq!(classify("001", "F", ""), Outcome::Pending, "the pending row comes before the failure row");
        assert_eq!(classify("32", "AP", "Completed Partially"), Outcome::WechatOrderCreated);
    }

    #[test]
    fn failures_carry_the_reason() {
        for status in FAILED_STATUSES {
            assert_eq!(classify("00", status, "Declined"), Outcome::Failed { reason: "Declined".into() }, "{status}");
        }
        assert_eq!(classify("99", "F", "Invalid amt"), Outcome::Failed { reason: "Invalid amt".into() });
        assert_eq!(classify("05", "", ""), Outcome::Failed { reason: "respCode 05, status ".into() });
    }

    #[test]
    fn unknown_combinations_are_unrecognised() {
        assert_eq!(classify("00", "RP", ""), Outcome::Unrecognised, "a refund status is not a payment");
        assert_eq!(classify("99", "A", ""), Outcome::Unrecognised);
        assert_eq!(classify("", "", ""), Outcome::Unrecognised);
        assert_eq!(classify("0000", "A", ""), Outcome::Unrecognised);
        assert_eq!(classify("00", "a", ""), Outcome::Unrecognised, "statuses are case-sensitive");
    }

    proptest! {
        #[test]
        fn nothing_outside_the_table_is_ever_paid(code in "\\PC{0,4}", status in "\\PC{0,3}") {
            let paid = matches!(classify(&code, &status, ""), Outcome::Paid | Outcome::PaidOtherAmount { .. });
            let known = SUCCESS_CODES.contains(&code.trim())
                && (PAID_STATUSES.contains(&status.trim()) || PAID_OTHER_AMOUNT_STATUSES.contains(&status.trim()));
            prop_assert_eq!(paid, known);
        }
    }
}
