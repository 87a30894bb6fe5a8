//! The audit trail: every verified notification and every inquiry answer, kept as 2C2P sent it.

use sha2::{Digest, Sha256};

use crate::ids::InvoiceNo;
use crate::order::{UnixSeconds, Verdict};

/// How the evidence reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EvidenceKind {
    /// 2C2P's signed notification to `POST /notify`.
    Notification,
    /// 2C2P's answer to our Payment Action inquiry.
    Inquiry,
}

/// What we made of a piece of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Classification {
    /// A success for the amount ordered: the order may become paid.
    Paid,
    /// Money arrived but not the amount ordered (AL/AM): the order goes to review.
    PaidOtherAmount,
    /// The attempt ended without money.
    Failed,
    /// 2C2P says the payment is not final yet; nothing changes.
    Pending,
    /// Not a known combination: kept and logged, never paid, never failed.
    Unrecognised,
    /// A refund status, left to a person.
    Refund,
    /// The inquiry worked but 2C2P said nothing about the payment (respCode other than 00).
    NotAnswered,
    /// Verified, but the payload could not be read or had no invoice.
    Unreadable,
    /// Verified, for an invoice we never issued.
    UnknownInvoice,
}

impl Classification {
    /// The word stored with the record, so the audit trail reads without this code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "paid",
            Self::PaidOtherAmount => "paid_other_amount",
            Self::Failed => "failed",
            Self::Pending => "pending",
            Self::Unrecognised => "unrecognised",
            Self::Refund => "refund",
            Self::NotAnswered => "not_answered",
            Self::Unreadable => "unreadable",
            Self::UnknownInvoice => "unknown_invoice",
        }
    }

    /// Reads a stored classification back; `None` for a word this code never writes.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Paid,
            Self::PaidOtherAmount,
            Self::Failed,
            Self::Pending,
            Self::Unrecognised,
            Self::Refund,
            Self::NotAnswered,
            Self::Unreadable,
            Self::UnknownInvoice,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }

    /// The classification of a verdict about a known attempt.
    pub fn of(verdict: &Verdict) -> Self {
        match verdict {
            Verdict::Paid => Self::Paid,
            Verdict::PaidOtherAmount { .. } => Self::PaidOtherAmount,
            Verdict::Failed { .. } => Self::Failed,
            Verdict::Inconclusive(why) => match *why {
                crate::order::STILL_PENDING => Self::Pending,
                crate::order::REFUND_STATUS => Self::Refund,
                crate::order::NOT_ANSWERED => Self::NotAnswered,
                _ => Self::Unrecognised,
            },
        }
    }
}

impl EvidenceKind {
    /// The word stored with the record, telling notifications and inquiries apart in the audit trail.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "notification",
            Self::Inquiry => "inquiry",
        }
    }

    /// Reads a stored kind back; `None` for a word this code never writes.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "notification" => Some(Self::Notification),
            "inquiry" => Some(Self::Inquiry),
            _ => None,
        }
    }
}

/// One verified piece of evidence, exactly as 2C2P sent it, plus what we read from it.
#[derive(Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    /// Whether 2C2P pushed it to us or we asked, since only notifications are acknowledged to 2C2P.
    pub kind: EvidenceKind,
    /// The attempt it is about; `None` when a notification's signed payload could not be read.
    pub invoice_no: Option<InvoiceNo>,
    /// SHA-256 hex of the raw text: the replay key.
    pub fingerprint: String,
    /// When we received it, by our clock, for auditing the order's history.
    pub received_at: UnixSeconds,
    /// 2C2P's respCode as sent, empty when the payload was unreadable.
    pub resp_code: String,
    /// 2C2P's status as sent (A, S, F, AL, ...), possibly empty.
    pub status: String,
    /// The amount as 2C2P wrote it (`amt` of a notification, `amount` of an inquiry answer).
    pub amount: String,
    /// 2C2P's numeric currency code as sent; empty when 2C2P left it out.
    pub currency_code: String,
    /// 2C2P's failReason as sent, for a person reading the trail.
    pub fail_reason: String,
    /// What we made of it, so the trail says why the order moved or did not.
    pub classification: Classification,
    /// The raw signed text (the `paymentResponse` value, or the inquiry answer); kept for audit, never logged.
    pub raw: String,
}

/// Written by hand so that the raw signed text never reaches a log or a test failure message.
impl std::fmt::Debug for EvidenceRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvidenceRecord")
            .field("kind", &self.kind)
            .field("invoice_no", &self.invoice_no)
            .field("fingerprint", &self.fingerprint)
            .field("received_at", &self.received_at)
            .field("resp_code", &self.resp_code)
            .field("status", &self.status)
            .field("amount", &self.amount)
            .field("currency_code", &self.currency_code)
            .field("fail_reason", &self.fail_reason)
            .field("classification", &self.classification)
            .field("raw", &protocol::envelope::NotShown(&self.raw))
            .finish()
    }
}

/// What 2C2P's message said, field by field, for the record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportedFields {
    /// respCode as 2C2P sent it.
    pub resp_code: String,
    /// Transaction status as 2C2P sent it (A, S, F, AL, ...), possibly empty.
    pub status: String,
    /// Amount as 2C2P wrote it, unparsed, so an odd form is still kept.
    pub amount: String,
    /// Numeric currency code as 2C2P sent it, possibly empty.
    pub currency_code: String,
    /// 2C2P's failReason text, possibly empty.
    pub fail_reason: String,
}

impl EvidenceRecord {
    /// A readable piece of evidence about `invoice_no`.
    pub fn about(
        kind: EvidenceKind,
        invoice_no: InvoiceNo,
        raw: &str,
        fields: ReportedFields,
        classification: Classification,
        now: UnixSeconds,
    ) -> Self {
        Self {
            kind,
            invoice_no: Some(invoice_no),
            fingerprint: fingerprint(raw),
            received_at: now,
            resp_code: fields.resp_code,
            status: fields.status,
            amount: fields.amount,
            currency_code: fields.currency_code,
            fail_reason: fields.fail_reason,
            classification,
            raw: raw.to_owned(),
        }
    }

    /// A verified notification whose payload we cannot act on: kept for a person.
    pub fn unreadable_notification(raw: &str, now: UnixSeconds) -> Self {
        Self {
            kind: EvidenceKind::Notification,
            invoice_no: None,
            fingerprint: fingerprint(raw),
            received_at: now,
            resp_code: String::new(),
            status: String::new(),
            amount: String::new(),
            currency_code: String::new(),
            fail_reason: String::new(),
            classification: Classification::Unreadable,
            raw: raw.to_owned(),
        }
    }
}

/// SHA-256 hex of the raw text: two deliveries of one message share it.
pub fn fingerprint(raw: &str) -> String {
    hex::encode(Sha256::digest(raw.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_never_shows_its_raw_signed_text_in_debug_output() {
        let raw = "SIGNED-ENVELOPE-TEXT-THAT-MUST-NOT-BE-LOGGED";
        let record = EvidenceRecord::unreadable_notification(raw, 1_800_000_000);
        let shown = format!("{record:?}");
        assert!(!shown.contains(raw) && shown.contains(&record.fingerprint), "{shown}");
    }

    #[test]
    fn labels_round_trip() {
        for c in [
            Classification::Paid,
            Classification::PaidOtherAmount,
            Classification::Failed,
            Classification::Pending,
            Classification::Unrecognised,
            Classification::Refund,
            Classification::NotAnswered,
            Classification::Unreadable,
            Classification::UnknownInvoice,
        ] {
            assert_eq!(Classification::parse(c.as_str()), Some(c));
        }
        assert_eq!(Classification::parse("expired"), None);
        for k in [EvidenceKind::Notification, EvidenceKind::Inquiry] {
            assert_eq!(EvidenceKind::parse(k.as_str()), Some(k));
        }
    }

    #[test]
    fn the_fingerprint_is_of_the_raw_text() {
        let a = EvidenceRecord::unreadable_notification("PFg+", 1);
        let b = EvidenceRecord::unreadable_notification("PFg+", 2);
        assert_eq!(a.fingerprint, b.fingerprint);
        assert_eq!(a.fingerprint.len(), 64);
        assert_ne!(a.fingerprint, EvidenceRecord::unreadable_notification("PFg/", 1).fingerprint);
    }
}
