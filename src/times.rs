//! Times in a token (NumericDate: seconds since 1970, RFC 7519) as people and JSON read them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::expires::MAX_TIMESTAMP;

/// A fixed moment, 2026-11-18T11:06:40Z, for tests, fuzz targets and examples: every test that
/// needs a `now` takes this one.
pub const EXAMPLE_NOW: u64 = 1_795_000_000;

/// The clock as a NumericDate; read once per run by the command and passed down from there.
pub fn unix_seconds(now: SystemTime) -> Result<u64> {
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .context("the system clock is set before 1970; fix the clock and try again")
}

/// `2026-11-23T10:00:00Z`, or "N/A" for a time that no calendar date in years 1970 to 9999 shows.
pub fn iso8601(seconds: u64) -> String {
    if seconds > MAX_TIMESTAMP {
        return "N/A".to_owned();
    }
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(seconds)).to_string()
}

/// A claim's time: `Ok(None)` when absent, `Err` with the value when it is not a NumericDate
/// that fits a date. Fractions of a second (allowed by RFC 7519) are cut off.
pub fn numeric_date(value: Option<&Value>) -> Result<Option<u64>, String> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.as_f64() {
        Some(seconds) if (0.0..=MAX_TIMESTAMP as f64).contains(&seconds) => {
            Ok(Some(seconds.trunc() as u64))
        }
        _ => Err(value.to_string()),
    }
}

/// "365d", "1h 30m", "59s": a span in at most two units, the ones --expires takes.
/// (humantime would write a year as "11months 30days 3h 50m 24s", counting 365.25 days.)
pub fn span(seconds: u64) -> String {
    let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let mut parts = Vec::new();
    let mut rest = seconds;
    for (size, name) in units {
        if rest >= size || (parts.is_empty() && size == 1) {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        }
        if parts.len() == 2 || (rest == 0 && !parts.is_empty()) {
            break;
        }
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_in_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(EXAMPLE_NOW), "2026-11-18T11:06:40Z");
        assert_eq!(iso8601(MAX_TIMESTAMP), "9999-12-31T23:59:59Z");
        assert_eq!(iso8601(MAX_TIMESTAMP + 1), "N/A");
    }

    #[test]
    fn numeric_dates_accept_numbers_only() {
        assert_eq!(numeric_date(None), Ok(None));
        assert_eq!(numeric_date(Some(&json!(12))), Ok(Some(12)));
        assert_eq!(numeric_date(Some(&json!(12.9))), Ok(Some(12)));
        assert_eq!(numeric_date(Some(&json!(-1))), Err("-1".to_owned()));
        assert_eq!(numeric_date(Some(&json!("12"))), Err("\"12\"".to_owned()));
        assert_eq!(numeric_date(Some(&json!(1e300))), Err("1e+300".to_owned()));
    }

    #[test]
    fn spans_read_like_expires() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(59), "59s");
        assert_eq!(span(90), "1m 30s");
        assert_eq!(span(3_600), "1h");
        assert_eq!(span(3_601), "1h 1s");
        assert_eq!(span(5_400), "1h 30m");
        assert_eq!(span(365 * 86_400), "365d");
        assert_eq!(span(86_400 + 7_200 + 5), "1d 2h");
    }
}
