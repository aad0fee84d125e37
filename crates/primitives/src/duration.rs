//! The one duration grammar of the project: the node's config, the load generator and the Python
//! validator all read durations with it (the Python copy is `coinjecture.validator.parse_duration_ms`;
//! both run the cases of `crates/primitives/tests/data/durations.json`).
//!
//! Grammar (after trimming surrounding whitespace): `DIGITS [ "." DIGITS ] UNIT`, where `UNIT` is
//! `ms`, `s`, `m` or `h`. The value must be a whole number of milliseconds (`1.5s` yes, `0.5ms`
//! no) and at most [`MAX_MILLIS`]; a missing unit, a sign, an exponent, inner spaces are refused.
//! Callers apply their own bounds (the node's `consensus.block_time` is 1 ms to 1 h).

use std::time::Duration;

/// The largest duration the grammar reads: 100 days (so `u64` milliseconds never overflow and a
/// typo of a few extra digits is refused rather than read as centuries).
pub const MAX_MILLIS: u64 = 100 * 24 * 3600 * 1000;

/// Why a duration was refused; the message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not `DIGITS [. DIGITS] UNIT`.
    #[error("{0:?} is not a duration like 2s, 500ms, 1.5m or 1h")]
    Syntax(String),
    /// A number without `ms`, `s`, `m` or `h`.
    #[error("{0:?} has no unit (use ms, s, m or h)")]
    NoUnit(String),
    /// An unknown unit.
    #[error("{0:?}: unknown unit {1:?} (use ms, s, m or h)")]
    Unit(String, String),
    /// A fraction of a millisecond.
    #[error("{0:?} is not a whole number of milliseconds")]
    SubMillisecond(String),
    /// Above [`MAX_MILLIS`].
    #[error("{0:?} is longer than 100 days")]
    TooLong(String),
    /// Outside the bounds a caller set (see [`parse_between`]).
    #[error("{0:?} must be between {1} and {2}")]
    OutOfBounds(String, String, String),
}

/// Milliseconds of `text` (see the module docs for the grammar).
pub fn parse_millis(text: &str) -> Result<u64, DurationError> {
    let s = text.trim();
    let number_len = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (number, unit) = s.split_at(number_len);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (number.contains('.') && !digits(fraction)) {
        return Err(DurationError::Syntax(s.to_string()));
    }
    let unit_millis: u128 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return Err(DurationError::NoUnit(s.to_string())),
        other if other.chars().all(|c| c.is_ascii_alphabetic()) => {
            return Err(DurationError::Unit(s.to_string(), other.to_string()));
        }
        _ => return Err(DurationError::Syntax(s.to_string())),
    };
    // Exact decimal arithmetic: whole·unit + fraction·unit / 10^len(fraction).
    let too_long = || DurationError::TooLong(s.to_string());
    let whole: u128 = if whole.len() > 20 { return Err(too_long()) } else { whole.parse().map_err(|_| too_long())? };
    let fraction = fraction.trim_end_matches('0');
    if fraction.len() > 12 {
        return Err(DurationError::SubMillisecond(s.to_string()));
    }
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() { 0 } else { fraction.parse().map_err(|_| too_long())? };
    if !(fraction * unit_millis).is_multiple_of(scale) {
        return Err(DurationError::SubMillisecond(s.to_string()));
    }
    let millis = whole.checked_mul(unit_millis).and_then(|w| w.checked_add(fraction * unit_millis / scale));
    match millis {
        Some(m) if m <= u128::from(MAX_MILLIS) => Ok(m as u64),
        _ => Err(too_long()),
    }
}

/// `text` as a [`Duration`] (see the module docs for the grammar).
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    parse_millis(text).map(Duration::from_millis)
}

/// `text` as a [`Duration`] within `min..=max`; the error shows the bounds as the grammar writes them.
pub fn parse_between(text: &str, min: Duration, max: Duration) -> Result<Duration, DurationError> {
    let d = parse(text)?;
    if d < min || d > max {
        return Err(DurationError::OutOfBounds(text.trim().to_string(), format_duration(min), format_duration(max)));
    }
    Ok(d)
}

/// The shortest spelling of `d` in the grammar (`1h`, `90s`, `1500ms`), whole milliseconds.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0ms".into(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_formatting() {
        let (min, max) = (Duration::from_millis(1), Duration::from_secs(3600));
        assert_eq!(parse_between("2s", min, max), Ok(Duration::from_secs(2)));
        assert_eq!(parse_between("0ms", min, max).unwrap_err().to_string(), "\"0ms\" must be between 1ms and 1h");
        assert!(parse_between("61m", min, max).is_err());
        for d in ["1h", "90s", "1500ms", "2m", "0ms"] {
            assert_eq!(format_duration(parse(d).unwrap()), d);
        }
    }
}
