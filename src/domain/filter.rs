//! Which calls a request means: the filters of CONTRACT §3 and §8, parsed and
//! validated into one [`CallFilter`] that the list, stats, export and the
//! dashboard all use.

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::call::{AnsweredBy, CallStatus, CallType};
use super::money::SCALE;
use super::params::{self, Param, items, singular};
use super::search::SearchQuery;
use super::validation::{FieldErrors, display_name, must_be_integer, parse_int, selected_invalid};
use super::zone::Zone;
use super::{phone, timefmt};

/// Which calls a list shows. `None` is no condition; a set holds any of its
/// values (an empty set matches nothing). Bounds are inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub status: Option<Vec<CallStatus>>,
    pub call_type: Option<Vec<CallType>>,
    pub answered_by: Option<Vec<AnsweredBy>>,
    pub assistant_id: Option<Vec<i64>>,
    pub campaign_id: Option<Vec<i64>>,
    /// Already normalised with [`phone::normalize`].
    pub phone_number: Option<String>,
    pub duration_min: Option<i64>,
    pub duration_max: Option<i64>,
    /// `total_cost` in 10^-8 units.
    pub cost_min: Option<i64>,
    pub cost_max: Option<i64>,
    /// Unix seconds, first second included.
    pub created_from: Option<i64>,
    /// Unix seconds, last second included.
    pub created_to: Option<i64>,
    pub search: Option<SearchQuery>,
}

impl CallFilter {
    /// True when only the dimensions the rollups are keyed by, and dates,
    /// narrow the calls: counts need no rows.
    pub fn is_rollup_only(&self) -> bool {
        self.phone_number.is_none()
            && self.duration_min.is_none()
            && self.duration_max.is_none()
            && self.cost_min.is_none()
            && self.cost_max.is_none()
            && self.search.is_none()
    }

    /// True when some dimension narrows the calls (not only dates).
    pub fn has_dimensions(&self) -> bool {
        self.status.is_some()
            || self.call_type.is_some()
            || self.answered_by.is_some()
            || self.assistant_id.is_some()
            || self.campaign_id.is_some()
    }
}

/// A set of values: what both a singular and an array form allow.
fn narrowed<T: PartialEq + Ord + Clone>(one: Option<T>, many: Option<Vec<T>>) -> Option<Vec<T>> {
    let mut set = match (one, many) {
        (None, None) => return None,
        (Some(v), None) => vec![v],
        (None, Some(vs)) => vs,
        (Some(v), Some(vs)) => vs.into_iter().filter(|x| *x == v).collect(),
    };
    set.sort();
    set.dedup();
    Some(set)
}

/// A closed vocabulary with a singular and an array form (`status`,
/// `status[]`); items failing are named like Laravel names them (`status.1`).
fn vocabulary<T: PartialEq + Ord + Clone>(
    pairs: &[(String, String)],
    name: &str,
    parse: fn(&str) -> Option<T>,
    errors: &mut FieldErrors,
) -> Option<Vec<T>> {
    let one = singular(pairs, name).and_then(|text| {
        let parsed = parse(&text);
        if parsed.is_none() {
            errors.add(name, selected_invalid(name));
        }
        parsed
    });
    let invalid_one = singular(pairs, name).is_some() && one.is_none();
    let many = items(pairs, name).map(|values| {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, text)| {
                let parsed = parse(text);
                if parsed.is_none() {
                    let item = format!("{name}.{i}");
                    errors.add(&item, selected_invalid(&item));
                }
                parsed
            })
            .collect()
    });
    if invalid_one {
        return None;
    }
    narrowed(one, many)
}

/// Ids with a singular and an array form (`assistant_id`, `assistant_id[]`).
fn ids(pairs: &[(String, String)], name: &str, errors: &mut FieldErrors) -> Option<Vec<i64>> {
    let one = singular(pairs, name).and_then(|text| {
        let parsed = parse_int(&text);
        if parsed.is_none() {
            errors.add(name, must_be_integer(name));
        }
        parsed
    });
    let many = items(pairs, name).map(|values| {
        values
            .iter()
            .enumerate()
            .filter_map(|(i, text)| {
                let parsed = parse_int(text);
                if parsed.is_none() {
                    let item = format!("{name}.{i}");
                    errors.add(&item, must_be_integer(&item));
                }
                parsed
            })
            .collect()
    });
    narrowed(one, many)
}

/// An integer of at least 0 (`duration_min`).
fn seconds(pairs: &[(String, String)], name: &str, errors: &mut FieldErrors) -> Option<i64> {
    let n = params::integer(pairs, name, errors)?;
    if n < 0 {
        errors.add(
            name,
            format!("The {} field must be at least 0.", display_name(name)),
        );
        return None;
    }
    Some(n)
}

/// A decimal amount (`cost_min`), as it was sent.
fn amount(pairs: &[(String, String)], name: &str, errors: &mut FieldErrors) -> Option<Decimal> {
    let parsed = match Param::of(pairs, name) {
        Param::Absent => return None,
        Param::Value(text) if text.contains(['e', 'E']) => Decimal::from_scientific(&text).ok(),
        Param::Value(text) => Decimal::from_str_exact(&text).ok(),
        Param::Array => None,
    };
    if parsed.is_none() {
        errors.add(
            name,
            format!("The {} field must be a number.", display_name(name)),
        );
    }
    parsed
}

/// An amount as a bound in 10^-8 units: a lower bound rounds up, an upper
/// bound down, so that "at least 0.123456789" means at least 0.12345679.
fn units(amount: Decimal, lower: bool) -> i64 {
    let scaled = amount * Decimal::from(10u64.pow(SCALE));
    let whole = if lower { scaled.ceil() } else { scaled.floor() };
    whole.to_i64().unwrap_or(if whole.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// `gte` of Laravel against another field: `The duration max field must be
/// greater than or equal to 60.`
fn not_below<T: PartialOrd + std::fmt::Display>(
    errors: &mut FieldErrors,
    low: Option<T>,
    (high_name, high): (&str, Option<T>),
) {
    if let (Some(low), Some(high)) = (low, high)
        && high < low
    {
        errors.add(
            high_name,
            format!(
                "The {} field must be greater than or equal to {low}.",
                display_name(high_name)
            ),
        );
    }
}

/// An RFC 3339 instant with an offset, as Unix seconds and nanoseconds.
fn instant(pairs: &[(String, String)], name: &str, errors: &mut FieldErrors) -> Option<(i64, u32)> {
    let parsed = match Param::of(pairs, name) {
        Param::Absent => return None,
        Param::Value(text) => OffsetDateTime::parse(&text, &Rfc3339).ok(),
        Param::Array => None,
    };
    match parsed {
        Some(at) => Some((at.unix_timestamp(), at.nanosecond())),
        None => {
            errors.add(
                name,
                format!("The {} field must be a valid date.", display_name(name)),
            );
            None
        }
    }
}

fn day_param(
    pairs: &[(String, String)],
    name: &str,
    errors: &mut FieldErrors,
) -> Option<time::Date> {
    let parsed = match Param::of(pairs, name) {
        Param::Absent => return None,
        Param::Value(text) => timefmt::parse_day(&text),
        Param::Array => None,
    };
    if parsed.is_none() {
        errors.add(
            name,
            format!(
                "The {} field must match the format Y-m-d.",
                display_name(name)
            ),
        );
    }
    parsed
}

/// The filters of a request, and its time zone; errors are added in
/// validation-rule order.
pub fn parse_filter(pairs: &[(String, String)], errors: &mut FieldErrors) -> (CallFilter, Zone) {
    let mut filter = CallFilter {
        status: vocabulary(pairs, "status", CallStatus::parse, errors),
        call_type: vocabulary(pairs, "type", CallType::parse, errors),
        answered_by: vocabulary(pairs, "answered_by", AnsweredBy::parse, errors),
        ..CallFilter::default()
    };
    if let Param::Value(text) = Param::of(pairs, "phone_number") {
        filter.phone_number = Some(phone::normalize(&text));
    }
    filter.assistant_id = ids(pairs, "assistant_id", errors);
    filter.campaign_id = ids(pairs, "campaign_id", errors);

    filter.duration_min = seconds(pairs, "duration_min", errors);
    filter.duration_max = seconds(pairs, "duration_max", errors);
    not_below(
        errors,
        filter.duration_min,
        ("duration_max", filter.duration_max),
    );
    let (cost_min, cost_max) = (
        amount(pairs, "cost_min", errors),
        amount(pairs, "cost_max", errors),
    );
    not_below(errors, cost_min, ("cost_max", cost_max));
    filter.cost_min = cost_min.map(|a| units(a, true));
    filter.cost_max = cost_max.map(|a| units(a, false));

    let from_day = day_param(pairs, "date_from", errors);
    let to_day = day_param(pairs, "date_to", errors);
    if let (Some(from), Some(to)) = (from_day, to_day)
        && to < from
    {
        errors.add(
            "date_to",
            "The date to field must be a date after or equal to date from.",
        );
    }
    let after = instant(pairs, "created_after", errors);
    let before = instant(pairs, "created_before", errors);
    if let (Some(after), Some(before)) = (after, before)
        && before <= after
    {
        errors.add(
            "created_before",
            "The created before field must be a date after created after.",
        );
    }
    let zone = match Param::of(pairs, "timezone") {
        Param::Absent => Zone::utc(),
        Param::Value(name) => Zone::parse(&name).unwrap_or_else(|| {
            errors.add("timezone", "The timezone field must be a valid timezone.");
            Zone::utc()
        }),
        Param::Array => {
            errors.add("timezone", "The timezone field must be a valid timezone.");
            Zone::utc()
        }
    };
    // Whole local days; an instant's fraction of a second moves the bound
    // to the next whole second (times are stored in whole seconds).
    let starts = [
        from_day.map(|d| zone.day_start(d).unwrap_or(i64::MIN)),
        after.map(|(s, nanos)| s + i64::from(nanos > 0)),
    ];
    let ends = [
        to_day.map(|d| zone.day_end(d).unwrap_or(i64::MAX)),
        before.map(|(s, nanos)| s + i64::from(nanos > 0) - 1),
    ];
    filter.created_from = starts.into_iter().flatten().max();
    filter.created_to = ends.into_iter().flatten().min();

    if let Param::Value(q) = Param::of(pairs, "q") {
        match SearchQuery::parse(&q) {
            Ok(query) => filter.search = Some(query),
            Err(error) => errors.add("q", error.message()),
        }
    } else if Param::of(pairs, "q") == Param::Array {
        errors.add("q", "The q field must be a string.");
    }
    (filter, zone)
}

/// The filter parameters, in validation-rule order: what page URLs keep.
pub const FILTER_PARAMS: [&str; 18] = [
    "status",
    "type",
    "answered_by",
    "phone_number",
    "assistant_id",
    "campaign_id",
    "duration_min",
    "duration_max",
    "cost_min",
    "cost_max",
    "date_from",
    "date_to",
    "created_after",
    "created_before",
    "timezone",
    "q",
    "sort",
    "per_page",
];

/// The filters with an array form.
pub const ARRAY_PARAMS: [&str; 5] = [
    "status",
    "type",
    "answered_by",
    "assistant_id",
    "campaign_id",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    fn parse(query: &str) -> Result<CallFilter, FieldErrors> {
        let mut errors = FieldErrors::new();
        let (filter, _) = parse_filter(&pairs(query), &mut errors);
        errors.into_result(filter)
    }

    #[test]
    fn singular_and_array_forms_must_both_hold() {
        let f = parse("status=completed&status[]=failed&status[]=completed").expect("valid");
        assert_eq!(f.status, Some(vec![CallStatus::Completed]));
        let f = parse("status=busy&status[]=failed").expect("valid");
        assert_eq!(f.status, Some(vec![]));
        let f = parse("type[]=web&type[]=inbound&type[]=web").expect("valid");
        assert_eq!(f.call_type, Some(vec![CallType::Inbound, CallType::Web]));
        let f = parse("assistant_id=3&assistant_id[]=3&assistant_id[]=4").expect("valid");
        assert_eq!(f.assistant_id, Some(vec![3]));
        let f = parse("status=&status[]=").expect("valid");
        assert_eq!(f.status, None, "empty values count as not given");
    }

    #[test]
    fn array_items_are_named_like_laravel() {
        let err = parse("status[]=completed&status[]=done&answered_by[]=bot&assistant_id[]=x")
            .expect_err("invalid");
        let messages: Vec<&str> = err
            .fields()
            .iter()
            .flat_map(|(_, m)| m.iter().map(String::as_str))
            .collect();
        assert_eq!(
            messages,
            [
                "The selected status.1 is invalid.",
                "The selected answered by.0 is invalid.",
                "The assistant id.0 field must be an integer.",
            ]
        );
        assert_eq!(err.fields()[0].0, "status.1");
    }

    #[test]
    fn ranges() {
        let f = parse("duration_min=60&duration_max=60&cost_min=0.123456789&cost_max=1.5")
            .expect("valid");
        assert_eq!((f.duration_min, f.duration_max), (Some(60), Some(60)));
        assert_eq!(
            (f.cost_min, f.cost_max),
            (Some(12_345_679), Some(150_000_000))
        );
        let err = parse("duration_min=-1&duration_max=x&cost_min=abc").expect_err("invalid");
        assert_eq!(
            err.summary(),
            "The duration min field must be at least 0. (and 2 more errors)"
        );
        let err =
            parse("duration_min=90&duration_max=60&cost_min=2&cost_max=1").expect_err("invalid");
        assert_eq!(
            err.fields()
                .iter()
                .map(|(f, m)| format!("{f}: {}", m[0]))
                .collect::<Vec<_>>(),
            [
                "duration_max: The duration max field must be greater than or equal to 90.",
                "cost_max: The cost max field must be greater than or equal to 2.",
            ]
        );
    }

    #[test]
    fn instants_and_local_days() {
        let f = parse(
            "created_after=2024-01-15T10:30:00%2B01:00&created_before=2024-01-15T10:30:00.5Z",
        )
        .expect("valid");
        assert_eq!(f.created_from, Some(1_705_311_000));
        assert_eq!(f.created_to, Some(1_705_314_600));
        let f =
            parse("date_from=2024-03-31&date_to=2024-03-31&timezone=Europe/Berlin").expect("valid");
        assert_eq!(f.created_from, Some(1_711_839_600));
        assert_eq!(f.created_to, Some(1_711_839_600 + 23 * 3600 - 1));
        // Both kinds of bound: the narrower holds.
        let f = parse("date_from=2024-01-15&created_after=2024-01-15T12:00:00Z").expect("valid");
        assert_eq!(f.created_from, Some(1_705_320_000));
        let err = parse("timezone=Mars/Base&created_after=yesterday").expect_err("invalid");
        assert_eq!(
            err.summary(),
            "The created after field must be a valid date. (and 1 more error)"
        );
        let err = parse("created_after=2024-01-15T10:00:00Z&created_before=2024-01-15T10:00:00Z")
            .expect_err("invalid");
        assert_eq!(err.fields()[0].0, "created_before");
    }

    #[test]
    fn search() {
        let f = parse("q=K%C3%BCndigen").expect("valid");
        assert_eq!(f.search.map(|s| s.terms.len()), Some(1));
        assert_eq!(
            parse("q=%22%22").expect_err("no word").summary(),
            "The q field must contain at least one word."
        );
        assert!(parse("q=").expect("empty is absent").search.is_none());
    }
}
