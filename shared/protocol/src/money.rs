//! Money as integer minor units, with the one currency table the whole project uses.
//!
//! Amounts are parsed from the contract's decimal strings and formatted back only at the edges;
//! everything in between works on [`MinorUnits`]. There are no floats anywhere.

use std::fmt;

use thiserror::Error;

/// A currency 2C2P accepts for WCMINI, with what the wire formats need to know about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    /// ISO 4217 alphabetic code, as the contract's JSON carries it.
    pub code: &'static str,
    /// ISO 4217 numeric code, three digits, as 2C2P's `currencyCode` carries it.
    pub numeric: &'static str,
    /// Number of minor digits (ISO 4217 exponent), as 2C2P's plugins use it for `amt`.
    pub exponent: u8,
}

/// The supported currencies. The single place where codes and exponents live.
pub const CURRENCIES: &[Currency] = &[
    Currency { code: "SGD", numeric: "702", exponent: 2 },
    Currency { code: "THB", numeric: "764", exponent: 2 },
    Currency { code: "MYR", numeric: "458", exponent: 2 },
    Currency { code: "HKD", numeric: "344", exponent: 2 },
    Currency { code: "CNY", numeric: "156", exponent: 2 },
    Currency { code: "USD", numeric: "840", exponent: 2 },
    Currency { code: "IDR", numeric: "360", exponent: 2 },
    Currency { code: "PHP", numeric: "608", exponent: 2 },
    Currency { code: "TWD", numeric: "901", exponent: 2 },
    Currency { code: "MMK", numeric: "104", exponent: 2 },
    Currency { code: "JPY", numeric: "392", exponent: 0 },
    Currency { code: "KRW", numeric: "410", exponent: 0 },
    Currency { code: "VND", numeric: "704", exponent: 0 },
];

impl Currency {
    /// Looks a currency up by its alphabetic code (exact, upper case, as ISO writes it).
    pub fn from_code(code: &str) -> Option<&'static Currency> {
        CURRENCIES.iter().find(|c| c.code == code)
    }

    /// Looks a currency up by its numeric code, as found in 2C2P's `currencyCode`.
    pub fn from_numeric(numeric: &str) -> Option<&'static Currency> {
        CURRENCIES.iter().find(|c| c.numeric == numeric)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

/// The largest amount 2C2P's 12-digit `amt` can carry.
pub const MAX_MINOR_UNITS: u64 = 999_999_999_999;

/// An amount in the minor units of its currency (cents for SGD, yen for JPY). Always > 0 once parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinorUnits(u64);

impl MinorUnits {
    /// Wraps a count of minor units, refusing zero and anything over 12 digits.
    pub fn new(value: u64) -> Result<Self, AmountError> {
        if value == 0 {
            Err(AmountError::Zero)
        } else if value > MAX_MINOR_UNITS {
            Err(AmountError::TooLarge)
        } else {
            Ok(Self(value))
        }
    }

    /// The raw count of minor units.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Why an amount string was refused. Each message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AmountError {
    /// No text at all: a missing amount is an error, never zero.
    #[error("amount is empty")]
    Empty,
    /// A leading `+` or `-`: amounts are positive by construction, so no sign is accepted, not even `+`.
    #[error("amount must not have a sign")]
    Signed,
    /// Whitespace around the number, refused rather than trimmed so a malformed client value is noticed.
    #[error("amount must not have leading or trailing whitespace")]
    Whitespace,
    /// Something other than ASCII digits and one point: an exponent, a separator, non-ASCII digits.
    #[error("amount must be plain digits with an optional decimal point (no exponent or other characters)")]
    NotDecimal,
    /// A point with nothing on one side (`12.`, `.5`); the canonical form always has both.
    #[error("amount has an empty integer or fraction part")]
    EmptyPart,
    /// More fraction digits than the currency has minor digits (SGD `12.505`, JPY `1000.5`): not payable exactly.
    #[error("amount has more than {max} decimal places for {currency}")]
    TooManyDecimals {
        /// The currency's alphabetic code, so the message names it.
        currency: &'static str,
        /// The currency's exponent: the most fraction digits it allows.
        max: u8,
    },
    /// The amount is zero, which is no payment at all.
    #[error("amount must be greater than zero")]
    Zero,
    /// More than 12 digits once in minor units, which 2C2P's `amt` cannot carry.
    #[error("amount is more than 12 digits in minor units")]
    TooLarge,
    /// A 2C2P `amt` that is not exactly 12 ASCII digits, so not what 2C2P sends.
    #[error("2C2P amt must be exactly 12 digits")]
    BadPgwAmount,
}

/// Parses a decimal string in major units ("12.50", "12.5", "1000") for `currency`.
///
/// Refuses signs, exponents, blanks, empty parts ("12.", ".5"), more minor digits than the
/// currency has, zero, and amounts over 12 digits once in minor units.
pub fn parse_amount(text: &str, currency: &Currency) -> Result<MinorUnits, AmountError> {
    if text.is_empty() {
        return Err(AmountError::Empty);
    }
    if text.trim() != text {
        return Err(AmountError::Whitespace);
    }
    if text.starts_with(['+', '-']) {
        return Err(AmountError::Signed);
    }
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text, None),
    };
    let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !fraction.is_none_or(all_digits) {
        return Err(AmountError::NotDecimal);
    }
    if whole.is_empty() || fraction.is_some_and(str::is_empty) {
        return Err(AmountError::EmptyPart);
    }
    let fraction = fraction.unwrap_or("");
    let exponent = usize::from(currency.exponent);
    if fraction.len() > exponent {
        return Err(AmountError::TooManyDecimals { currency: currency.code, max: currency.exponent });
    }
    // Digits in minor units, leading zeros dropped, so the 12-digit bound is a length check.
    let mut minor_digits = String::with_capacity(whole.len() + exponent);
    minor_digits.push_str(whole);
    minor_digits.push_str(fraction);
    minor_digits.extend(std::iter::repeat_n('0', exponent - fraction.len()));
    let significant = minor_digits.trim_start_matches('0');
    if significant.is_empty() {
        return Err(AmountError::Zero);
    }
    if significant.len() > 12 {
        return Err(AmountError::TooLarge);
    }
    let value = significant.parse::<u64>().map_err(|_| AmountError::TooLarge)?;
    MinorUnits::new(value)
}

/// Formats minor units in the currency's canonical major-unit form: SGD 1250 → "12.50", JPY 1000 → "1000".
pub fn format_amount(amount: MinorUnits, currency: &Currency) -> String {
    let exponent = u32::from(currency.exponent);
    if exponent == 0 {
        return amount.get().to_string();
    }
    let scale = 10u64.pow(exponent);
    format!("{}.{:0width$}", amount.get() / scale, amount.get() % scale, width = exponent as usize)
}

/// 2C2P's `amt`: minor units left-padded with zeros to 12 digits (SGD 12.50 → "000000001250").
pub fn to_pgw_amt(amount: MinorUnits) -> String {
    format!("{:012}", amount.get())
}

/// Reads 2C2P's 12-digit `amt` back into minor units.
pub fn from_pgw_amt(amt: &str) -> Result<MinorUnits, AmountError> {
    if amt.len() != 12 || !amt.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AmountError::BadPgwAmount);
    }
    let value = amt.parse::<u64>().map_err(|_| AmountError::BadPgwAmount)?;
    MinorUnits::new(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sgd() -> &'static Currency {
        Currency::from_code("SGD").expect("SGD is in the table")
    }
    fn jpy() -> &'static Currency {
        Currency::from_code("JPY").expect("JPY is in the table")
    }

    #[test]
    fn table_covers_the_contract_with_iso_numbers_and_exponents() {
        let expected = [
            ("SGD", "702", 2),
            ("THB", "764", 2),
            ("MYR", "458", 2),
            ("HKD", "344", 2),
            ("CNY", "156", 2),
            ("USD", "840", 2),
            ("IDR", "360", 2),
            ("PHP", "608", 2),
            ("TWD", "901", 2),
            ("MMK", "104", 2),
            ("JPY", "392", 0),
            ("KRW", "410", 0),
            ("VND", "704", 0),
        ];
        for (code, numeric, exponent) in expected {
            let currency = Currency::from_code(code).expect(code);
            assert_eq!(currency.numeric, numeric, "{code}");
            assert_eq!(currency.exponent, exponent, "{code}");
            assert_eq!(Currency::from_numeric(numeric), Some(currency));
        }
        assert_eq!(Currency::from_code("sgd"), None, "codes are upper case");
        assert_eq!(Currency::from_code("EUR"), None);
        assert_eq!(Currency::from_numeric("978"), None);
        assert_eq!(sgd().to_string(), "SGD");
    }

    #[test]
    fn parses_valid_amounts() {
        assert_eq!(parse_amount("12.50", sgd()).map(MinorUnits::get), Ok(1250));
        assert_eq!(parse_amount("12.5", sgd()).map(MinorUnits::get), Ok(1250));
        assert_eq!(parse_amount("12", sgd()).map(MinorUnits::get), Ok(1200));
        assert_eq!(parse_amount("0.01", sgd()).map(MinorUnits::get), Ok(1));
        assert_eq!(parse_amount("007.10", sgd()).map(MinorUnits::get), Ok(710));
        assert_eq!(parse_amount("1000", jpy()).map(MinorUnits::get), Ok(1000));
        assert_eq!(parse_amount("9999999999.99", sgd()).map(MinorUnits::get), Ok(MAX_MINOR_UNITS));
        assert_eq!(parse_amount("999999999999", jpy()).map(MinorUnits::get), Ok(MAX_MINOR_UNITS));
        assert_eq!(
            parse_amount("0000000000001", jpy()).map(MinorUnits::get),
            Ok(1),
            "leading zeros are not digits of the amount"
        );
    }

    #[test]
    fn refuses_each_malformed_amount_with_its_reason() {
        let cases = [
            ("", AmountError::Empty),
            ("-1.00", AmountError::Signed),
            ("+1.00", AmountError::Signed),
            (" 1.00", AmountError::Whitespace),
            ("1.00 ", AmountError::Whitespace),
            ("1 000", AmountError::NotDecimal),
            ("1e3", AmountError::NotDecimal),
            ("1.2.3", AmountError::NotDecimal),
            ("1,50", AmountError::NotDecimal),
            ("١٢", AmountError::NotDecimal),
            ("12.", AmountError::EmptyPart),
            (".5", AmountError::EmptyPart),
            (".", AmountError::EmptyPart),
            ("12.505", AmountError::TooManyDecimals { currency: "SGD", max: 2 }),
            ("0", AmountError::Zero),
            ("0.00", AmountError::Zero),
            ("10000000000.00", AmountError::TooLarge),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_amount(text, sgd()), Err(expected.clone()), "{text:?}");
        }
        assert_eq!(parse_amount("1000.5", jpy()), Err(AmountError::TooManyDecimals { currency: "JPY", max: 0 }));
        assert_eq!(parse_amount("1000000000000", jpy()), Err(AmountError::TooLarge));
        assert_eq!(parse_amount("99999999999999999999999", jpy()), Err(AmountError::TooLarge));
    }

    #[test]
    fn error_messages_name_the_problem() {
        assert_eq!(
            AmountError::TooManyDecimals { currency: "SGD", max: 2 }.to_string(),
            "amount has more than 2 decimal places for SGD"
        );
        assert_eq!(AmountError::Zero.to_string(), "amount must be greater than zero");
    }

    #[test]
    fn minor_units_refuse_zero_and_thirteen_digits() {
        assert_eq!(MinorUnits::new(0), Err(AmountError::Zero));
        assert_eq!(MinorUnits::new(MAX_MINOR_UNITS + 1), Err(AmountError::TooLarge));
        assert_eq!(MinorUnits::new(MAX_MINOR_UNITS).map(MinorUnits::get), Ok(MAX_MINOR_UNITS));
    }

    #[test]
    fn formats_canonically() {
        let amount = |v| MinorUnits::new(v).expect("valid");
        assert_eq!(format_amount(amount(1250), sgd()), "12.50");
        assert_eq!(format_amount(amount(5), sgd()), "0.05");
        assert_eq!(format_amount(amount(1000), jpy()), "1000");
        assert_eq!(to_pgw_amt(amount(1250)), "000000001250");
        assert_eq!(to_pgw_amt(amount(MAX_MINOR_UNITS)), "999999999999");
    }

    #[test]
    fn reads_pgw_amt() {
        assert_eq!(from_pgw_amt("000000001250").map(MinorUnits::get), Ok(1250));
        for bad in ["", "1250", "0000000012500", "00000000125a", "-00000001250", "000000000000"] {
            assert!(from_pgw_amt(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn amounts_round_trip_for_every_currency(index in 0..CURRENCIES.len(), value in 1..=MAX_MINOR_UNITS) {
            let currency = &CURRENCIES[index];
            let amount = MinorUnits::new(value).expect("in range");
            let text = format_amount(amount, currency);
            prop_assert_eq!(parse_amount(&text, currency), Ok(amount));
            prop_assert_eq!(from_pgw_amt(&to_pgw_amt(amount)), Ok(amount));
        }

        #[test]
        fn parsing_never_panics(text in ".{0,40}", index in 0..CURRENCIES.len()) {
            let _ = parse_amount(&text, &CURRENCIES[index]);
            let _ = from_pgw_amt(&text);
        }
    }
}
