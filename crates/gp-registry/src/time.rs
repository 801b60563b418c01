//! Time as the registry stores it: microseconds since the Unix epoch, UTC.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

/// Now, in µs since the epoch.
pub fn now_us() -> i64 {
    Utc::now().timestamp_micros()
}

/// Today's (day, month, two-digit year) in UTC.
pub fn today_utc() -> (u8, u8, u8) {
    let now = Utc::now();
    (
        u8::try_from(now.day()).unwrap_or(1),
        u8::try_from(now.month()).unwrap_or(1),
        u8::try_from(now.year().rem_euclid(100)).unwrap_or(0),
    )
}

/// `2026-01-23T10:00:00Z` (whole seconds).
pub fn format_utc(us: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(us)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| us.to_string())
}

/// Parses RFC 3339 (`2026-01-23T10:00:00Z`, with any offset or fraction),
/// `2026-01-23 10:00:00` (UTC), `2026-01-23` (midnight UTC) or whole epoch
/// seconds.
pub fn parse_utc(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc).timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return d
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc().timestamp_micros());
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        // Seconds too many for microseconds are no time.
        return s.parse::<i64>().ok().and_then(|v| v.checked_mul(1_000_000));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let us = parse_utc("2026-01-23T10:00:00Z").unwrap();
        assert_eq!(format_utc(us), "2026-01-23T10:00:00Z");
        assert_eq!(parse_utc("2026-01-23 10:00:00"), Some(us));
        assert_eq!(parse_utc("2026-01-23T11:00:00+01:00"), Some(us));
        assert_eq!(parse_utc("2026-01-23"), parse_utc("2026-01-23T00:00:00Z"));
        assert_eq!(parse_utc("yesterday"), None);
        assert_eq!(parse_utc("1737104400"), Some(1_737_104_400_000_000));
        // Huge epoch seconds: none, never an overflow.
        assert_eq!(parse_utc("9223372036854775807"), None);
        assert_eq!(parse_utc("99999999999999"), None);
        assert_eq!(parse_utc("99999999999999999999999"), None);
    }
}
