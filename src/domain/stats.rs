//! `GET /api/user/calls/stats` (CONTRACT §9): the request (the list's filters
//! plus `interval`) and the periods of its series, local days, weeks from
//! Monday or months in the request's time zone.

use time::{Date, Duration, Month};

use super::filter::{CallFilter, parse_filter};
use super::params::Param;
use super::validation::{FieldErrors, selected_invalid};
use super::zone::Zone;

/// The length of a series' periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    /// Weeks starting on Monday.
    Week,
    Month,
}

impl Interval {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    /// The first local day of the period holding `day`.
    pub fn first_day(self, day: Date) -> Date {
        match self {
            Self::Day => day,
            Self::Week => {
                let back = i64::from(day.weekday().number_days_from_monday());
                day.checked_sub(Duration::days(back)).unwrap_or(day)
            }
            Self::Month => day.replace_day(1).unwrap_or(day),
        }
    }

    /// The first local day of the period after the one starting on `first`.
    pub fn next(self, first: Date) -> Option<Date> {
        match self {
            Self::Day => first.next_day(),
            Self::Week => first.checked_add(Duration::days(7)),
            Self::Month => {
                let (year, month) = match first.month() {
                    Month::December => (first.year().checked_add(1)?, Month::January),
                    m => (first.year(), m.next()),
                };
                Date::from_calendar_date(year, month, 1).ok()
            }
        }
    }
}

/// What a stats request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    pub filter: CallFilter,
    pub zone: Zone,
    pub interval: Option<Interval>,
}

/// The list's filters (CONTRACT §3 and §8) and `interval`. The list's other
/// parameters (`page`, `per_page`, `sort`, `fields`, `facets`, cursors) do
/// not apply to stats and are ignored, as Laravel ignores what a route does
/// not read.
pub fn parse_stats(pairs: &[(String, String)]) -> Result<StatsQuery, FieldErrors> {
    let mut errors = FieldErrors::new();
    let (filter, zone) = parse_filter(pairs, &mut errors);
    let interval = match Param::of(pairs, "interval") {
        Param::Absent => None,
        Param::Value(text) => Interval::parse(&text).or_else(|| {
            errors.add("interval", selected_invalid("interval"));
            None
        }),
        Param::Array => {
            errors.add("interval", selected_invalid("interval"));
            None
        }
    };
    errors.into_result(StatsQuery {
        filter,
        zone,
        interval,
    })
}

/// One period of a series: its first local day, and its instants
/// `[start, end)` in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub first_day: Date,
    pub start: i64,
    pub end: i64,
}

/// A series may have at most this many periods (27 years of days): more is
/// a 422, not a response of unbounded size.
pub const MAX_PERIODS: usize = 10_000;

/// More periods than [`MAX_PERIODS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyPeriods;

/// The message of a series that would be too long.
pub const TOO_MANY_PERIODS: &str =
    "The interval field gives too many periods for these calls (at most 10000); narrow the dates.";

/// The periods that hold the instants `[lo, hi]`, oldest first (as far as
/// the zone database reaches, the years 0000-9999).
pub fn periods(
    zone: &Zone,
    interval: Interval,
    lo: i64,
    hi: i64,
) -> Result<Vec<Period>, TooManyPeriods> {
    let mut out = Vec::new();
    let Some(mut first) = zone.local_date(lo).map(|d| interval.first_day(d)) else {
        return Ok(out);
    };
    loop {
        let (Some(start), Some(next)) = (zone.day_start(first), interval.next(first)) else {
            return Ok(out);
        };
        let Some(end) = zone.day_start(next) else {
            return Ok(out);
        };
        if out.len() == MAX_PERIODS {
            return Err(TooManyPeriods);
        }
        out.push(Period {
            first_day: first,
            start,
            end,
        });
        if end > hi {
            return Ok(out);
        }
        first = next;
    }
}

/// A period's label: the local date it starts on (`2024-01-15`).
pub fn label(day: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::timefmt::parse_day;

    fn day(text: &str) -> Date {
        parse_day(text).expect("day")
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2024-01-17 is a Wednesday.
        assert_eq!(
            Interval::Week.first_day(day("2024-01-17")),
            day("2024-01-15")
        );
        assert_eq!(
            Interval::Week.first_day(day("2024-01-15")),
            day("2024-01-15")
        );
        assert_eq!(
            Interval::Week.first_day(day("2024-01-14")),
            day("2024-01-08")
        );
        assert_eq!(
            Interval::Month.first_day(day("2024-02-29")),
            day("2024-02-01")
        );
        assert_eq!(
            Interval::Month.next(day("2024-12-01")),
            Some(day("2025-01-01"))
        );
        assert_eq!(day("2024-01-15").weekday(), time::Weekday::Monday);
    }

    #[test]
    fn local_days_across_a_dst_change_are_23_and_25_hours() {
        let berlin = Zone::parse("Europe/Berlin").expect("zone");
        // 2024-03-31 (23 h) and 2024-10-27 (25 h) in Berlin.
        let spring = berlin.day_start(day("2024-03-31")).expect("start");
        let p = periods(&berlin, Interval::Day, spring, spring).expect("few");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].end - p[0].start, 23 * 3600);
        let autumn = berlin.day_start(day("2024-10-27")).expect("start");
        let p = periods(&berlin, Interval::Day, autumn, autumn + 3600).expect("few");
        assert_eq!(p[0].end - p[0].start, 25 * 3600);
    }

    #[test]
    fn periods_tile_the_span() {
        let zone = Zone::parse("Asia/Kolkata").expect("zone");
        let (lo, hi) = (1_700_000_000, 1_700_000_000 + 90 * 86_400);
        for interval in [Interval::Day, Interval::Week, Interval::Month] {
            let p = periods(&zone, interval, lo, hi).expect("few");
            assert!(p[0].start <= lo && p.last().expect("last").end > hi);
            for pair in p.windows(2) {
                assert_eq!(pair[0].end, pair[1].start);
            }
        }
    }

    #[test]
    fn a_series_has_a_bound() {
        let utc = Zone::utc();
        let years = 30 * 366 * 86_400;
        assert_eq!(periods(&utc, Interval::Day, 0, years), Err(TooManyPeriods));
        assert!(periods(&utc, Interval::Month, 0, years).is_ok());
    }

    #[test]
    fn an_unknown_interval_is_refused() {
        let pairs = vec![("interval".to_owned(), "year".to_owned())];
        let errors = parse_stats(&pairs).expect_err("refused");
        assert_eq!(
            errors.fields(),
            [(
                "interval".to_owned(),
                vec!["The selected interval is invalid.".to_owned()]
            )]
        );
    }
}
