//! The few timestamp formats the contract and 2C2P use, from Unix seconds (UTC).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::order::UnixSeconds;

fn at(seconds: UnixSeconds) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// RFC 3339, as the contract's JSON carries times: `2026-11-26T12:00:00Z`.
pub fn rfc3339(seconds: UnixSeconds) -> String {
    at(seconds).format(&Rfc3339).unwrap_or_default()
}

/// 2C2P's request `timeStamp`: ddMMyyHHmmss (the format lives in `protocol`, with the simulator's).
pub use protocol::timestamp::pgw_timestamp;

/// yyMMddHHmmss, the sortable start of an invoice number.
pub fn invoice_prefix(seconds: UnixSeconds) -> String {
    at(seconds)
        .format(format_description!("[year repr:last_two][month][day][hour][minute][second]"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        // 2026-11-26T12:00:00Z
        let t = 1_795_694_400;
        assert_eq!(rfc3339(t), "2026-11-26T12:00:00Z");
        assert_eq!(pgw_timestamp(t), "261126120000");
        assert_eq!(invoice_prefix(t), "261126120000");
        assert_eq!(invoice_prefix(t + 86_400 * 10 + 61), "261206120101");
    }
}
