//! Identifiers, parsed once at the edge: past this point an `OrderId` is known to follow the rule, an
//! `InvoiceNo` is one 2C2P accepts, and an `OpenId` came from a verified session token.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use crate::order::UnixSeconds;
use crate::timefmt;

/// Why an identifier was refused; the message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// Refused `orderId`, so the caller gets a 400 naming the field.
    #[error("orderId must be 1 to 64 of A-Z a-z 0-9 _ -")]
    OrderId,
    /// Refused `invoiceNo`; one from 2C2P or the table that breaks 2C2P's rule is not ours.
    #[error("invoiceNo must be 1 to 20 letters and digits")]
    InvoiceNo,
    /// The OS gave no random bytes, so no unguessable invoice number can be made.
    #[error("the randomness source failed")]
    NoRandomness,
}

/// The merchant's own reference: 1 to 64 of `A-Z a-z 0-9 _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OrderId(String);

/// 2C2P's uniqueTransactionCode for one attempt: at most 20 letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct InvoiceNo(String);

/// The payer, as WeChat names them to this mini program.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct OpenId(String);

impl OrderId {
    /// The one place the orderId rule lives.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let valid =
            (1..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if valid { Ok(Self(text.to_owned())) } else { Err(IdError::OrderId) }
    }

    /// The orderId as the merchant sent it, for keys, logs and answers.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl InvoiceNo {
    /// The one place the invoiceNo rule lives (2C2P's uniqueTransactionCode: 1 to 20 letters and digits).
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let valid = (1..=20).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric());
        if valid { Ok(Self(text.to_owned())) } else { Err(IdError::InvoiceNo) }
    }

    /// A fresh invoice number: yyMMddHHmmss (sortable, readable in the 2C2P portal) and 8 random
    /// letters/digits, 20 in all, as 2C2P allows for uniqueTransactionCode.
    pub fn generate(now: UnixSeconds) -> Result<Self, IdError> {
        const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|_| IdError::NoRandomness)?;
        let suffix: String = random.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect();
        Ok(Self(format!("{}{suffix}", timefmt::invoice_prefix(now))))
    }

    /// The invoiceNo as 2C2P knows it, for requests, keys and answers.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl OpenId {
    /// An openid as a verified session token (or a stored item) carries it; empty is never valid.
    pub fn new(text: impl Into<String>) -> Option<Self> {
        let text = text.into();
        if text.is_empty() { None } else { Some(Self(text)) }
    }

    /// The openid as WeChat gave it, for keys, 2C2P requests and ownership checks.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! display_as_str {
    ($($name:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    )*};
}
display_as_str!(OrderId, InvoiceNo, OpenId);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_follow_the_rule() {
        assert!(OrderId::parse("A-1001_x").is_ok());
        assert!(OrderId::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "A 1", "A/1", "é", &"a".repeat(65)] {
            assert_eq!(OrderId::parse(bad), Err(IdError::OrderId), "{bad:?}");
        }
    }

    #[test]
    fn invoice_numbers_are_twenty_letters_and_digits_and_differ() {
        let a = InvoiceNo::generate(1_800_000_000).expect("random");
        let b = InvoiceNo::generate(1_800_000_000).expect("random");
        assert_eq!(a.as_str().len(), 20);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{a}");
        assert!(a.as_str().starts_with("270115"), "{a}");
        assert_ne!(a, b);
        assert_eq!(InvoiceNo::parse(a.as_str()), Ok(a));
        assert_eq!(InvoiceNo::parse("INV-1"), Err(IdError::InvoiceNo));
        assert_eq!(InvoiceNo::parse(&"1".repeat(21)), Err(IdError::InvoiceNo));
    }

    #[test]
    fn openids_are_never_empty() {
        assert_eq!(OpenId::new(""), None);
        assert_eq!(OpenId::new("o1").map(|o| o.to_string()), Some("o1".to_owned()));
    }
}
