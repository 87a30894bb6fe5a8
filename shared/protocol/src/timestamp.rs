//! 2C2P's timestamp format (`timeStamp`, `dateTime`): `ddMMyyHHmmss`, UTC. In one place, because the
//! backend writes it into requests and the simulator into answers.

use time::OffsetDateTime;
use time::macros::format_description;

/// `ddMMyyHHmmss` for a Unix time in seconds; a time outside `time`'s range formats as the epoch's.
pub fn pgw_timestamp(unix_seconds: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    at.format(format_description!("[day][month][year repr:last_two][hour][minute][second]")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_month_two_digit_year_then_time() {
        // 2026-11-26T12:00:00Z
        assert_eq!(pgw_timestamp(1_795_694_400), "261126120000");
        assert_eq!(pgw_timestamp(1_795_694_400 + 86_400 * 10 + 61), "061226120101");
    }
}
