//! Local days in an IANA time zone (CONTRACT §8, `timezone`): where a local
//! day starts and ends as Unix seconds, daylight-saving days of 23 and 25
//! hours and half-hour offsets included. The zone database is built into the
//! binary (jiff's bundled tzdb), so every machine reads a day the same.

use jiff::civil;
use jiff::tz::TimeZone;

/// A time zone by its IANA name. `UTC` is the default.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Zone {}

impl Default for Zone {
    fn default() -> Self {
        Self::utc()
    }
}

impl Zone {
    pub fn utc() -> Self {
        Self {
            name: "UTC".to_owned(),
            tz: TimeZone::UTC,
        }
    }

    /// The zone an IANA name names (case-insensitively, as the database
    /// does), or `None`. Fixed offsets such as `+02:00` are not zones.
    pub fn parse(name: &str) -> Option<Self> {
        let tz = TimeZone::get(name).ok()?;
        // `Etc/Unknown` is what the database answers for nothing known.
        if tz
            .iana_name()
            .is_none_or(|n| n.eq_ignore_ascii_case("Etc/Unknown"))
        {
            return None;
        }
        Some(Self {
            name: tz.iana_name().unwrap_or(name).to_owned(),
            tz,
        })
    }

    /// The zone's name as the database spells it (`Europe/Berlin`).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn is_utc(&self) -> bool {
        self.name == "UTC"
    }

    /// Unix seconds of the first instant of a local day: midnight, or the
    /// end of a daylight-saving gap that swallows midnight. `None` for a day
    /// outside the years 0000-9999.
    pub fn day_start(&self, day: time::Date) -> Option<i64> {
        let date = civil::Date::new(
            i16::try_from(day.year()).ok()?,
            i8::try_from(u8::from(day.month())).ok()?,
            i8::try_from(day.day()).ok()?,
        )
        .ok()?;
        // "Compatible" disambiguation: in a gap the later instant, in a fold
        // the earlier one; either way the first instant of the day.
        let start = date.to_zoned_datetime(self.tz.clone()).ok()?;
        Some(start.timestamp().as_second())
    }

    /// The local date of an instant; `None` outside the years 0000-9999.
    pub fn local_date(&self, unix: i64) -> Option<time::Date> {
        let at = jiff::Timestamp::from_second(unix).ok()?;
        let date = self.tz.to_datetime(at).date();
        let month = time::Month::try_from(u8::try_from(date.month()).ok()?).ok()?;
        time::Date::from_calendar_date(
            i32::from(date.year()),
            month,
            u8::try_from(date.day()).ok()?,
        )
        .ok()
    }

    /// Unix seconds of the last second of a local day; `None` past 9999.
    pub fn day_end(&self, day: time::Date) -> Option<i64> {
        self.day_start(day.next_day()?).map(|next| next - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> time::Date {
        crate::domain::timefmt::parse_day(text).expect("day")
    }

    fn hours(zone: &str, text: &str) -> (i64, i64) {
        let zone = Zone::parse(zone).expect("zone");
        let d = day(text);
        let (start, end) = (
            zone.day_start(d).expect("start"),
            zone.day_end(d).expect("end"),
        );
        (start, (end + 1 - start) / 3600)
    }

    #[test]
    fn local_days_follow_daylight_saving() {
        // 2024-03-31: Berlin springs forward, a day of 23 hours.
        assert_eq!(hours("Europe/Berlin", "2024-03-31"), (1_711_839_600, 23));
        // 2024-10-27: Berlin falls back, 25 hours.
        assert_eq!(hours("Europe/Berlin", "2024-10-27").1, 25);
        assert_eq!(hours("Europe/Berlin", "2024-01-15"), (1_705_273_200, 24));
        // Half-hour and quarter-hour offsets.
        assert_eq!(hours("Asia/Kolkata", "2024-01-15").0, 1_705_257_000);
        assert_eq!(hours("Asia/Kathmandu", "2024-01-15").0, 1_705_256_100);
        assert_eq!(hours("UTC", "2024-01-15"), (1_705_276_800, 24));
    }

    #[test]
    fn a_gap_at_midnight_starts_the_day_after_it() {
        // America/Havana moved from 00:00 to 01:00 on 2024-03-10.
        let zone = Zone::parse("America/Havana").expect("zone");
        let start = zone.day_start(day("2024-03-10")).expect("start");
        assert_eq!(start, 1_710_046_800);
        assert_eq!(zone.day_end(day("2024-03-09")), Some(start - 1));
    }

    #[test]
    fn names() {
        assert!(Zone::parse("europe/berlin").is_some_and(|z| z.name() == "Europe/Berlin"));
        for bad in [
            "Mars/Olympus",
            "",
            "+02:00",
            "Etc/Unknown",
            "../../etc/passwd",
        ] {
            assert!(Zone::parse(bad).is_none(), "{bad}");
        }
        assert!(Zone::parse("UTC").is_some_and(|z| z.is_utc()));
    }
}
