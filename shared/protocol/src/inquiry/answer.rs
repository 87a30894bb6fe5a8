//! What an inquiry answer means for reconciliation: its amount and its respCode/status pair.
//!
//! The inquiry has its own table, kept apart from [`crate::outcome`]: its respCode only says whether the
//! inquiry worked, and its statuses include refunds, which a notification never carries.

use crate::money::{Currency, MinorUnits, from_pgw_amt, parse_amount};

/// The meaning of an inquiry's respCode/status pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InquiryOutcome {
    /// The money arrived as ordered (the amount is still compared by the caller).
    Paid,
    /// The money arrived but 2C2P says its amount differs (`AL` less, `AM` more): a person must look.
    PaidOtherAmount {
        /// `AL` or `AM` as 2C2P sent it, so the person looking knows which way the amount is off.
        status: String,
    },
    /// The payment ended without money; `reason` names the status, since an inquiry has no failReason.
    Failed {
        /// Text naming the status (spelling out what `EX` means), stored as the attempt's failReason.
        reason: String,
    },
    /// Not final yet (`AP`, or no status at all): ask again later.
    Pending,
    /// A refund state (`RP`, `RF`, `RR*`): kept and logged for a person, no transition.
    Refund {
        /// The refund status as 2C2P sent it, for the log and the person reviewing it.
        status: String,
    },
    /// respCode other than `00`: 2C2P did not answer about the invoice (unknown invoice, refused inquiry),
    /// so the answer says nothing about the payment.
    NotAnswered {
        /// 2C2P's respCode, for the log: it tells why the inquiry said nothing.
        resp_code: String,
    },
    /// A status this table does not know: keep it, log it, change nothing.
    Unrecognised,
}

/// The respCode of an inquiry that worked; any other says nothing about the payment.
pub const INQUIRY_ANSWERED: &str = "00";
/// Inquiry statuses of money that arrived as ordered (protocol-notes "Codes").
pub const INQUIRY_PAID_STATUSES: &[&str] = &["A", "AE", "S", "RS"];
/// Inquiry statuses of money that arrived with another amount (less, more).
pub const INQUIRY_PAID_OTHER_AMOUNT_STATUSES: &[&str] = &["AL", "AM"];
/// Inquiry statuses of a payment that ended without money. `F` is a notification status only: an inquiry
/// saying `F` is not documented, so it stays unrecognised (no change) rather than failing an order.
pub const INQUIRY_FAILED_STATUSES: &[&str] = &["PF", "AR", "FF", "IP", "ROE", "V", "EX"];
/// Inquiry statuses that mean "not final yet"; the empty status is 2C2P having nothing to report yet.
pub const INQUIRY_PENDING_STATUSES: &[&str] = &["AP", ""];
/// Refund statuses; every status starting with [`REFUND_STATUS_PREFIX`] is one too.
pub const INQUIRY_REFUND_STATUSES: &[&str] = &["RP", "RF"];
/// `RR` and its variants (`RR`, `RR1`, ...), which protocol-notes writes `RR*`.
pub const REFUND_STATUS_PREFIX: &str = "RR";

/// Classifies an inquiry answer: respCode first (only `00` answers), then the status, case-sensitively.
pub fn classify_inquiry(resp_code: &str, status: &str) -> InquiryOutcome {
    let resp_code = resp_code.trim();
    let status = status.trim();
    if resp_code != INQUIRY_ANSWERED {
        InquiryOutcome::NotAnswered { resp_code: resp_code.to_owned() }
    } else if INQUIRY_PAID_STATUSES.contains(&status) {
        InquiryOutcome::Paid
    } else if INQUIRY_PAID_OTHER_AMOUNT_STATUSES.contains(&status) {
        InquiryOutcome::PaidOtherAmount { status: status.to_owned() }
    } else if INQUIRY_FAILED_STATUSES.contains(&status) {
        InquiryOutcome::Failed { reason: failure_reason(status) }
    } else if INQUIRY_PENDING_STATUSES.contains(&status) {
        InquiryOutcome::Pending
    } else if INQUIRY_REFUND_STATUSES.contains(&status) || status.starts_with(REFUND_STATUS_PREFIX) {
        InquiryOutcome::Refund { status: status.to_owned() }
    } else {
        InquiryOutcome::Unrecognised
    }
}

/// A failReason for an attempt failed by an inquiry; only `EX` has a documented meaning worth spelling out.
fn failure_reason(status: &str) -> String {
    match status {
        "EX" => "2C2P inquiry status EX (expired)".to_owned(),
        other => format!("2C2P inquiry status {other}"),
    }
}

/// Reads an inquiry answer's `amount` into minor units of `currency`, or `None` for any other form.
///
/// The form is undocumented (protocol-notes "Payment Action 3.4 inquiry"), so two are read:
/// - exactly 12 digits: SecurePay's minor units (`000000001250` → 1250);
/// - digits, a point, digits: major units with the currency's exponent (SGD `12.50` and `12.5` → 1250).
///   Fraction digits beyond the exponent are accepted only when they are zeros, since they change nothing
///   (JPY `1000.00` → 1000, SGD `12.500` → 1250); `12.505` SGD or `1000.5` JPY is `None`.
///
/// Surrounding whitespace is ignored. Zero, signs, exponents, empty parts (`12.`, `.5`), other lengths
/// of plain digits (`1250`) and amounts over 12 digits in minor units are all `None`: such an answer is
/// kept and changes nothing.
pub fn parse_inquiry_amount(text: &str, currency: &Currency) -> Option<MinorUnits> {
    let text = text.trim();
    let Some((whole, fraction)) = text.split_once('.') else {
        // Only the fixed 12-digit form is read without a point; from_pgw_amt checks length and digits.
        return from_pgw_amt(text).ok();
    };
    if !fraction.bytes().all(|b| b.is_ascii_digit()) {
        // Also keeps the split below on a character boundary.
        return None;
    }
    let exponent = usize::from(currency.exponent);
    if fraction.len() > exponent {
        let (kept, beyond) = fraction.split_at(exponent);
        if !beyond.bytes().all(|b| b == b'0') {
            return None;
        }
        return if kept.is_empty() {
            // Both sides of the point must be present, as parse_amount requires.
            (!whole.is_empty()).then(|| parse_amount(whole, currency).ok()).flatten()
        } else {
            parse_amount(&format!("{whole}.{kept}"), currency).ok()
        };
    }
    parse_amount(text, currency).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::{CURRENCIES, format_amount, to_pgw_amt};
    use proptest::prelude::*;

    fn currency(code: &str) -> &'static Currency {
        Currency::from_code(code).expect("in the table")
    }

    fn amount(text: &str, code: &str) -> Option<u64> {
        parse_inquiry_amount(text, currency(code)).map(MinorUnits::get)
    }

    #[test]
    fn twelve_digits_are_minor_units() {
        assert_eq!(amount("000000001250", "SGD"), Some(1250));
        assert_eq!(amount("000000001000", "JPY"), Some(1000));
        assert_eq!(amount(" 000000001250\n", "SGD"), Some(1250), "surrounding whitespace is ignored");
        assert_eq!(amount("999999999999", "SGD"), Some(999_999_999_999));
        assert_eq!(amount("000000000000", "SGD"), None, "zero is not an amount");
    }

    #[test]
    fn a_decimal_is_major_units_with_the_currency_exponent() {
        assert_eq!(amount("12.50", "SGD"), Some(1250));
        assert_eq!(amount("12.5", "SGD"), Some(1250));
        assert_eq!(amount("0.01", "SGD"), Some(1));
        assert_eq!(amount("12.500", "SGD"), Some(1250), "zeros beyond the exponent change nothing");
        assert_eq!(amount("1000.00", "JPY"), Some(1000));
        assert_eq!(amount("1000.0", "KRW"), Some(1000));
        assert_eq!(amount("0012.50", "SGD"), Some(1250));
        assert_eq!(amount("000000012.50", "SGD"), Some(1250), "12 characters with a point are a decimal");
    }

    #[test]
    fn every_other_form_is_unreadable() {
        for text in [
            "",
            " ",
            "1250",
            "12",
            "0000000012500",
            "00000000125a",
            "12.505",
            "12.501",
            "12.",
            ".5",
            ".",
            "1.2.3",
            "-12.50",
            "+12.50",
            "12,50",
            "1e3",
            "0.00",
            "12.50 SGD",
            "10000000000.00",
            "١٢.٥٠",
            "12.€",
        ] {
            assert_eq!(amount(text, "SGD"), None, "{text:?}");
        }
        for text in ["1000.5", "1000.05", "1000.", ".0", "0.0", "1000"] {
            assert_eq!(amount(text, "JPY"), None, "{text:?}");
        }
    }

    #[test]
    fn a_respcode_other_than_00_says_nothing() {
        for code in ["15", "99", "000", "0", "", "001"] {
            assert_eq!(
                classify_inquiry(code, "A"),
                InquiryOutcome::NotAnswered { resp_code: code.into() },
                "{code}: even with a paid status"
            );
        }
        assert_eq!(classify_inquiry(" 15 ", ""), InquiryOutcome::NotAnswered { resp_code: "15".into() });
    }

    #[test]
    fn statuses_follow_the_inquiry_table() {
        for status in ["A", "AE", "S", "RS", " A "] {
            assert_eq!(classify_inquiry("00", status), InquiryOutcome::Paid, "{status:?}");
        }
        for status in ["AL", "AM"] {
            assert_eq!(classify_inquiry("00", status), InquiryOutcome::PaidOtherAmount { status: status.into() });
        }
        for status in ["PF", "AR", "FF", "IP", "ROE", "V"] {
            assert_eq!(
                classify_inquiry("00", status),
                InquiryOutcome::Failed { reason: format!("2C2P inquiry status {status}") }
            );
        }
        assert_eq!(
            classify_inquiry("00", "EX"),
            InquiryOutcome::Failed { reason: "2C2P inquiry status EX (expired)".into() }
        );
        assert_eq!(classify_inquiry("00", "AP"), InquiryOutcome::Pending);
        assert_eq!(classify_inquiry("00", ""), InquiryOutcome::Pending, "no status yet is not paid");
        for status in ["RP", "RF", "RR", "RR1", "RRX"] {
            assert_eq!(classify_inquiry("00", status), InquiryOutcome::Refund { status: status.into() });
        }
        for status in ["F", "a", "ap", "R", "RX", "Z", "AA"] {
            assert_eq!(classify_inquiry("00", status), InquiryOutcome::Unrecognised, "{status:?}");
        }
    }

    proptest! {
        #[test]
        fn both_forms_of_every_amount_read_back(index in 0..CURRENCIES.len(), value in 1..=crate::money::MAX_MINOR_UNITS) {
            let currency = &CURRENCIES[index];
            let minor = MinorUnits::new(value).expect("in range");
            prop_assert_eq!(parse_inquiry_amount(&to_pgw_amt(minor), currency), Some(minor));
            let major = format_amount(minor, currency);
            let with_point = if currency.exponent == 0 { format!("{major}.00") } else { format!("{major}0") };
            prop_assert_eq!(parse_inquiry_amount(&with_point, currency), Some(minor));
        }

        #[test]
        fn only_the_paid_rows_are_ever_paid(code in "\\PC{0,3}", status in "\\PC{0,3}") {
            let paid = matches!(classify_inquiry(&code, &status), InquiryOutcome::Paid | InquiryOutcome::PaidOtherAmount { .. });
            let known = code.trim() == INQUIRY_ANSWERED
                && (INQUIRY_PAID_STATUSES.contains(&status.trim()) || INQUIRY_PAID_OTHER_AMOUNT_STATUSES.contains(&status.trim()));
            prop_assert_eq!(paid, known);
        }

        #[test]
        fn reading_never_panics(text in "\\PC{0,30}", index in 0..CURRENCIES.len()) {
            let _ = parse_inquiry_amount(&text, &CURRENCIES[index]);
        }
    }
}
