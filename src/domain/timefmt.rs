//! Timestamps: stored as Unix seconds (UTC), shown as RFC 3339 with `Z`, whole seconds.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Formats Unix seconds as `2024-01-15T10:30:00Z`.
pub fn format_rfc3339(unix: i64) -> String {
    match rfc3339_bytes(unix) {
        // ASCII digits and separators only.
        Some(bytes) => bytes.iter().map(|&b| char::from(b)).collect(),
        None => {
            // Outside four-digit years: let the general formatter spell it.
            let at =
                OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
            at.format(&format).unwrap_or_default()
        }
    }
}

/// [`format_rfc3339`] as bytes, for years 0 to 9999 (`None` outside them).
///
/// Written by hand for this one fixed shape: `time`'s general formatter was
/// 6% of a list request (two timestamps per call, fifteen calls a page).
pub fn rfc3339_bytes(unix: i64) -> Option<[u8; 20]> {
    let at = OffsetDateTime::from_unix_timestamp(unix).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (date, clock) = (at.date(), at.time());
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = [0u8; 20];
    let digits = |out: &mut [u8], value: u32| {
        let mut v = value;
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut out[0..4], year.unsigned_abs());
    out[4] = b'-';
    digits(&mut out[5..7], u32::from(u8::from(date.month())));
    out[7] = b'-';
    digits(&mut out[8..10], u32::from(date.day()));
    out[10] = b'T';
    digits(&mut out[11..13], u32::from(clock.hour()));
    out[13] = b':';
    digits(&mut out[14..16], u32::from(clock.minute()));
    out[16] = b':';
    digits(&mut out[17..19], u32::from(clock.second()));
    out[19] = b'Z';
    Some(out)
}

/// Reads a timestamp as clients and exports write it: RFC 3339 with any offset or
/// fraction (`2024-01-15T10:30:00Z`, `2024-01-15T10:30:00.000000Z`,
/// `2024-01-15T12:30:00+02:00`), or Famulor's `2025-08-04 14:30:00`, taken as UTC.
/// Fractions of a second are dropped: the contract keeps whole seconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let plain = format_description!(
        version = 2,
        "[year]-[month]-[day][first [T] [ ]][hour]:[minute]:[second][optional [.[subsecond]]]"
    );
    let unix = match OffsetDateTime::parse(text, &Rfc3339) {
        Ok(at) => at.unix_timestamp(),
        Err(_) => PrimitiveDateTime::parse(text, &plain)
            .ok()?
            .assume_offset(UtcOffset::UTC)
            .unix_timestamp(),
    };
    // Served as `YYYY-MM-DDTHH:MM:SSZ`: an offset must not carry a time out of
    // the four-digit UTC years (`9999-12-31T23:30:00-01:00` is year 10000).
    (FIRST_SERVABLE..=LAST_SERVABLE)
        .contains(&unix)
        .then_some(unix)
}

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z, as Unix seconds.
const FIRST_SERVABLE: i64 = -62_167_219_200;
const LAST_SERVABLE: i64 = 253_402_300_799;

/// Parses a strict `YYYY-MM-DD` calendar date (Laravel's `date_format:Y-m-d`).
pub fn parse_day(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

/// Unix seconds of the day's first second, 00:00:00 UTC.
pub fn day_start(day: Date) -> i64 {
    day.midnight().assume_utc().unix_timestamp()
}

/// Unix seconds of the day's last second, 23:59:59 UTC.
pub fn day_end(day: Date) -> i64 {
    day_start(day) + 86_399
}

/// Now, as Unix seconds.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        assert_eq!(format_rfc3339(1_705_314_600), "2024-01-15T10:30:00Z");
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(951_868_799), "2000-02-29T23:59:59Z");
        assert_eq!(format_rfc3339(253_402_300_799), "9999-12-31T23:59:59Z");
        for t in [-62_135_596_800, 1, 86_399, 1_754_055_268, 4_102_444_800] {
            let general = OffsetDateTime::from_unix_timestamp(t).expect("valid");
            let expected = general
                .format(&format_description!(
                    "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                ))
                .expect("formats");
            assert_eq!(format_rfc3339(t), expected, "{t}");
        }
        for text in [
            "2024-01-15T10:30:00Z",
            "2024-01-15T10:30:00.000000Z",
            "2024-01-15T12:30:00+02:00",
            "2024-01-15 10:30:00",
            "2024-01-15T10:30:00",
        ] {
            assert_eq!(parse_timestamp(text), Some(1_705_314_600), "{text}");
        }
        assert_eq!(parse_timestamp("2024-01-15"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
    }

    #[test]
    fn only_four_digit_utc_years_are_read() {
        for (text, unix) in [
            ("0000-01-01T00:00:00Z", Some(FIRST_SERVABLE)),
            ("9999-12-31T23:59:59Z", Some(LAST_SERVABLE)),
            ("9999-12-31T23:59:59+01:00", Some(LAST_SERVABLE - 3600)),
            // Year 10000 and year -1 in UTC.
            ("9999-12-31T23:30:00-01:00", None),
            ("0000-01-01T00:30:00+01:00", None),
            ("-0001-01-01 00:00:00", None),
        ] {
            assert_eq!(parse_timestamp(text), unix, "{text}");
        }
        assert_eq!(format_rfc3339(FIRST_SERVABLE), "0000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(LAST_SERVABLE), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn days_are_strict() {
        assert!(parse_day("2024-02-29").is_some());
        for bad in [
            "2023-02-29",
            "2024-1-05",
            "2024-01-5",
            "24-01-05",
            "2024/01/05",
            "2024-01-05T00:00:00Z",
            "",
        ] {
            assert!(parse_day(bad).is_none(), "{bad}");
        }
        let day = parse_day("2024-01-15").expect("valid");
        assert_eq!(day_start(day), 1_705_276_800);
        assert_eq!(day_end(day), 1_705_363_199);
    }
}
