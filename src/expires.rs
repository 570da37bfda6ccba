//! The `--expires` grammar.
//!
//! qs-jwt 1.x handed `--expires` to the `ms` package, so scripts in the field use its forms:
//! `60m`, `48h`, `365d`, `5y`, decimals (`1.5h`), a space before the unit (`2 days`), long unit
//! names, any letter case, `m` for minutes and `y` for 365.25 days. We accept all of those and
//! also compound forms (`1h 30m`). humantime's grammar differs (case-sensitive, `M` = months, no
//! decimals), so the terms are read here and humantime only prints durations back.

use std::time::Duration;

/// The last second a token may expire: 9999-12-31T23:59:59Z. Dates past it have no
/// four-digit year, and many JWT libraries reject or overflow on them.
pub const MAX_TIMESTAMP: u64 = 253_402_300_799;

const EXAMPLES: &str = "for example 60m, 48h, 365d or 1h 30m";

/// Decimals are kept to the nanosecond while adding terms, then cut to whole seconds.
const MAX_DECIMALS: u32 = 9;
const NANOS: u128 = 1_000_000_000;

/// Reads a validity such as `60m`, `1.5h`, `2 days` or `1h 30m` as whole seconds.
///
/// The error is a sentence that clap places after "invalid value '...' for '--expires <time>':".
pub fn parse_expires(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("the validity is empty; {EXAMPLES}"));
    }
    if text.starts_with('-') {
        return Err(format!("a validity cannot be negative; {EXAMPLES}"));
    }

    let mut rest = text;
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let (number, after_number) = split_number(rest)?;
        let after_space = after_number.trim_start();
        let unit_len = after_space
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after_space.len());
        let (unit, after_unit) = after_space.split_at(unit_len);
        if unit.is_empty() {
            return Err(if after_space.is_empty() {
                // A bare number alone is a 1.x script's milliseconds; a unitless term after
                // others (`1h 30`) is a forgotten unit.
                if rest.len() == text.len() {
                    bare_number(number)
                } else {
                    no_unit(number)
                }
            } else {
                format!("expected a unit after '{number}'; {EXAMPLES}")
            });
        }
        let unit_seconds = unit_seconds(unit).ok_or_else(|| {
            format!("unknown unit '{unit}'; use s, m, h, d, w or y (or sec, min, hours, days, weeks, years), {EXAMPLES}")
        })?;
        let term = scaled(number)?
            .checked_mul(unit_seconds)
            .ok_or_else(too_large)?;
        total_nanos = total_nanos.checked_add(term).ok_or_else(too_large)?;
        rest = after_unit.trim_start();
    }

    let seconds = total_nanos / NANOS;
    if seconds == 0 {
        return Err(format!(
            "the validity must be at least one second; {EXAMPLES}"
        ));
    }
    u64::try_from(seconds)
        .ok()
        .filter(|s| *s <= MAX_TIMESTAMP)
        .map(Duration::from_secs)
        .ok_or_else(too_large)
}

/// When a token issued at `now` (seconds since 1970) with this validity expires.
pub fn expires_at(now: u64, validity: Duration) -> Result<u64, String> {
    now.checked_add(validity.as_secs())
        .filter(|exp| *exp <= MAX_TIMESTAMP)
        .ok_or_else(too_large)
}

/// `--expires 3600000`: qs-jwt 1.x handed a bare number to `ms`, which reads it as
/// milliseconds, so a script moved from 1.x means a thousandth of it in seconds; proposing the
/// number with a unit (`3600000m`, 6.8 years) would turn its hour into years. Under a second of
/// milliseconds (`--expires 60`) the script cannot have meant that, and the units are proposed.
fn bare_number(number: &str) -> String {
    match milliseconds_as_validity(number) {
        Some(same) => format!(
            "'{number}' has no unit; qs-jwt 1.x read a bare number as milliseconds: for the \
             validity 1.x gave, write {same}"
        ),
        None => no_unit(number),
    }
}

/// A number of milliseconds as a validity this grammar reads back to the same whole seconds,
/// in the largest unit that keeps it whole (`3600000` is `60m`, `172800000` is `48h`), or
/// `None` when it is under a second or past the year 9999.
fn milliseconds_as_validity(number: &str) -> Option<String> {
    // `scaled` gives the number in billionths; as milliseconds, a thousandth of that is
    // nanoseconds.
    let nanos = scaled(number).ok()? / 1_000;
    let seconds = u64::try_from(nanos / NANOS).ok()?;
    let text = match seconds {
        0 => return None,
        s if s % 86_400 == 0 && s >= 2 * 86_400 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 && s >= 2 * 3_600 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    };
    parse_expires(&text).ok().map(|_| text)
}

/// "'5' has no unit": proposes the number with each unit, but only the forms that are valid
/// themselves (`0m` is not, nor is a number of days past the year 9999).
fn no_unit(number: &str) -> String {
    let valid: Vec<String> = ["m", "h", "d"]
        .iter()
        .map(|unit| format!("{number}{unit}"))
        .filter(|candidate| parse_expires(candidate).is_ok())
        .collect();
    match valid.as_slice() {
        [] => format!(
            "'{number}' has no unit, and is too small or too large with any unit; {EXAMPLES}"
        ),
        [one] => format!("'{number}' has no unit; write for example {one}"),
        [init @ .., last] => format!(
            "'{number}' has no unit; write for example {} or {last}",
            init.join(", ")
        ),
    }
}

fn too_large() -> String {
    format!("the token would expire after the year 9999; choose a shorter validity, {EXAMPLES}")
}

/// Splits a leading decimal number (`5`, `1.5`, `.5`) off `text`.
fn split_number(text: &str) -> Result<(&str, &str), String> {
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let number = &text[..end];
    let well_formed = number.bytes().any(|b| b.is_ascii_digit())
        && number.matches('.').count() <= 1
        && !number.ends_with('.');
    if !well_formed {
        let shown = if number.is_empty() { text } else { number };
        return Err(format!("expected a number at '{shown}'; {EXAMPLES}"));
    }
    Ok((number, &text[end..]))
}

/// The number in billionths: `1.5` becomes 1_500_000_000.
fn scaled(number: &str) -> Result<u128, String> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if fraction.len() > MAX_DECIMALS as usize {
        return Err(format!("'{number}' has more than {MAX_DECIMALS} decimals"));
    }
    format!("{whole}{fraction}")
        .parse::<u128>()
        .ok()
        .and_then(|digits| digits.checked_mul(10u128.pow(MAX_DECIMALS - fraction.len() as u32)))
        .ok_or_else(too_large)
}

fn unit_seconds(unit: &str) -> Option<u128> {
    let seconds = match unit.to_ascii_lowercase().as_str() {
        "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600,
        "d" | "day" | "days" => 86_400,
        "w" | "week" | "weeks" => 604_800,
        // 365.25 days, as the `ms` package that qs-jwt 1.x used.
        "y" | "yr" | "yrs" | "year" | "years" => 31_557_600,
        _ => return None,
    };
    Some(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_qs_jwt_accepts() {
        let cases: &[(&str, u64)] = &[
            ("60m", 3_600),
            ("48h", 172_800),
            ("365d", 31_536_000),
            ("5y", 157_788_000),
            ("90s", 90),
            ("2w", 1_209_600),
            ("1.5h", 5_400),
            (".5h", 1_800),
            ("0.25d", 21_600),
            ("2 days", 172_800),
            ("1 hour", 3_600),
            ("10 sec", 10),
            ("10 secs", 10),
            ("1 second", 1),
            ("30 seconds", 30),
            ("5 min", 300),
            ("5 mins", 300),
            ("1 minute", 60),
            ("15 minutes", 900),
            ("2 hr", 7_200),
            ("2 hrs", 7_200),
            ("3 hours", 10_800),
            ("1 day", 86_400),
            ("1 week", 604_800),
            ("3 weeks", 1_814_400),
            ("1 yr", 31_557_600),
            ("2 yrs", 63_115_200),
            ("1 year", 31_557_600),
            ("2 years", 63_115_200),
            ("60M", 3_600),
            ("48H", 172_800),
            ("2 Days", 172_800),
            ("1 HOUR", 3_600),
            ("1h 30m", 5_400),
            ("1h30m", 5_400),
            ("1d 2h 3m 4s", 93_784),
            ("  60m  ", 3_600),
            ("1.5s", 1),
        ];
        for (text, seconds) in cases {
            assert_eq!(
                parse_expires(text),
                Ok(Duration::from_secs(*seconds)),
                "--expires {text:?}"
            );
        }
    }

    #[test]
    fn rejects_with_a_reason_and_an_example() {
        let cases: &[(&str, &str)] = &[
            ("5", "'5' has no unit"),
            ("1.5", "'1.5' has no unit"),
            ("1h 30", "'30' has no unit"),
            ("0m", "at least one second"),
            (
                "0",
                "'0' has no unit, and is too small or too large with any unit; for example 60m",
            ),
            ("5", "write for example 5m, 5h or 5d"),
            ("0.01", "write for example 0.01h or 0.01d"),
            ("0.4s", "at least one second"),
            ("-5m", "cannot be negative"),
            ("-1h", "cannot be negative"),
            ("", "is empty"),
            ("   ", "is empty"),
            ("abc", "expected a number at 'abc'"),
            ("m", "expected a number at 'm'"),
            ("5 fortnights", "unknown unit 'fortnights'"),
            ("5ms", "unknown unit 'ms'"),
            ("1.2.3h", "expected a number at '1.2.3'"),
            ("5.h", "expected a number at '5.'"),
            ("1h, 30m", "expected a number at ', 30m'"),
            ("5 5m", "expected a unit after '5'"),
            ("5m!", "expected a number at '!'"),
            ("+5m", "expected a number at '+5m'"),
            ("10000y", "after the year 9999"),
            (
                "99999999999999999999999999999999999999999999y",
                "after the year 9999",
            ),
            ("1.0000000001h", "more than 9 decimals"),
            // 1.x read a bare number as milliseconds: the same validity, not 3600000 minutes.
            (
                "3600000",
                "qs-jwt 1.x read a bare number as milliseconds: for the validity 1.x gave, \
                 write 60m",
            ),
            ("86400000", "write 24h"),
            ("172800000", "write 2d"),
            ("5400000", "write 90m"),
            ("7200000", "write 2h"),
            ("90000", "write 90s"),
            ("1000", "write 1s"),
            ("1500", "write 1s"),
            (" 3600000 ", "write 60m"),
            ("3600000.0", "write 60m"),
            // Under a second of milliseconds: no 1.x script meant that; the units are proposed.
            (
                "999",
                "'999' has no unit; write for example 999m, 999h or 999d",
            ),
            ("60", "write for example 60m, 60h or 60d"),
            // Past the year 9999 either way.
            (
                "99999999999999999999",
                "too small or too large with any unit",
            ),
            // Only a number alone is a 1.x value; after another term it lacks its unit.
            (
                "1h 3600000",
                "'3600000' has no unit; write for example 3600000m",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_expires(text).expect_err(text);
            assert!(err.contains(expected), "--expires {text:?}: {err}");
        }
    }

    #[test]
    fn errors_show_an_example() {
        for text in [
            "abc",
            "",
            "0m",
            "-5m",
            "5 fortnights",
            "10000y",
            "1h, 30m",
            "5 5m",
        ] {
            assert!(
                parse_expires(text).unwrap_err().contains("for example"),
                "{text:?}"
            );
        }
        assert!(parse_expires("5").unwrap_err().contains("for example 5m"));
    }

    #[test]
    fn expiry_stops_at_the_year_9999() {
        let now = crate::times::EXAMPLE_NOW;
        assert_eq!(expires_at(now, Duration::from_secs(3_600)), Ok(now + 3_600));
        let last = MAX_TIMESTAMP - now;
        assert_eq!(
            expires_at(now, Duration::from_secs(last)),
            Ok(MAX_TIMESTAMP)
        );
        assert!(
            expires_at(now, Duration::from_secs(last + 1))
                .unwrap_err()
                .contains("9999")
        );
        // 7000 years parse, but not from 2026.
        let validity = parse_expires("7975y").unwrap();
        assert!(expires_at(now, validity).is_err());
    }
}
