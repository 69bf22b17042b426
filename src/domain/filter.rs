//! The list endpoints' query parameters: parsing and validation (CONTRACT §3).

use super::call::{CallStatus, CallType};
use super::validation::{FieldErrors, must_be_integer, parse_int, selected_invalid};
use super::{phone, timefmt};

/// Which calls a list shows. Every bound is inclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallFilter {
    pub status: Option<CallStatus>,
    pub call_type: Option<CallType>,
    /// Already normalised with [`phone::normalize`].
    pub phone_number: Option<String>,
    pub assistant_id: Option<i64>,
    pub campaign_id: Option<i64>,
    /// Unix seconds: first second of `date_from`.
    pub created_from: Option<i64>,
    /// Unix seconds: last second of `date_to`.
    pub created_to: Option<i64>,
}

/// Which page of a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageQuery {
    /// 1-based; may lie past the last page.
    pub page: u64,
    /// 1 to 100.
    pub per_page: u64,
}

impl PageQuery {
    /// Rows to skip; saturates instead of overflowing on absurd pages.
    pub fn offset(self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }
}

/// A validated `GET /api/user/calls` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallListQuery {
    pub filter: CallFilter,
    pub page: PageQuery,
    /// The filters and `per_page` as the client sent them, in their order, for
    /// the paginator's page URLs.
    pub echo: Vec<(String, String)>,
}

/// The parameters the call list understands, in validation-rule order.
const CALL_FILTERS: [&str; 8] = [
    "status",
    "type",
    "phone_number",
    "assistant_id",
    "campaign_id",
    "date_from",
    "date_to",
    "per_page",
];

/// One query parameter after Laravel's input middleware: the last occurrence
/// wins, values are trimmed, empty means absent, `name[]=` makes an array.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Param {
    Absent,
    Value(String),
    Array,
}

impl Param {
    fn of(pairs: &[(String, String)], name: &str) -> Self {
        let mut found = Self::Absent;
        for (key, value) in pairs {
            if key == name {
                let value = value.trim();
                found = if value.is_empty() {
                    Self::Absent
                } else {
                    Self::Value(value.to_owned())
                };
            } else if key
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('['))
            {
                found = Self::Array;
            }
        }
        found
    }
}

/// Parses `page` and `per_page`, shared by every paginated list.
pub fn parse_page_query(
    pairs: &[(String, String)],
    default_per_page: u64,
    errors: &mut FieldErrors,
) -> PageQuery {
    let per_page = match Param::of(pairs, "per_page") {
        Param::Absent => default_per_page,
        Param::Array => {
            errors.add("per_page", must_be_integer("per_page"));
            default_per_page
        }
        Param::Value(text) => match parse_int(&text) {
            None => {
                errors.add("per_page", must_be_integer("per_page"));
                default_per_page
            }
            Some(n) if n < 1 => {
                errors.add("per_page", "The per page field must be at least 1.");
                default_per_page
            }
            Some(n) if n > 100 => {
                errors.add(
                    "per_page",
                    "The per page field must not be greater than 100.",
                );
                default_per_page
            }
            Some(n) => n.unsigned_abs(),
        },
    };
    // Laravel's paginator reads anything that is not an integer >= 1 as page 1.
    let page = match Param::of(pairs, "page") {
        Param::Value(text) => parse_int(&text)
            .filter(|p| *p >= 1)
            .map_or(1, i64::unsigned_abs),
        _ => 1,
    };
    PageQuery { page, per_page }
}

/// Validates a `GET /api/user/calls` query string given as decoded pairs.
pub fn parse_call_list(pairs: &[(String, String)]) -> Result<CallListQuery, FieldErrors> {
    let mut errors = FieldErrors::new();
    let mut filter = CallFilter::default();

    let value = |name: &str| Param::of(pairs, name);
    let mut one_of = |name: &str, parse: &dyn Fn(&str) -> bool| match value(name) {
        Param::Absent => {}
        Param::Value(text) if parse(&text) => {}
        _ => errors.add(name, selected_invalid(name)),
    };
    one_of("status", &|t| CallStatus::parse(t).is_some());
    one_of("type", &|t| CallType::parse(t).is_some());
    if let Param::Value(text) = value("status") {
        filter.status = CallStatus::parse(&text);
    }
    if let Param::Value(text) = value("type") {
        filter.call_type = CallType::parse(&text);
    }
    if let Param::Value(text) = value("phone_number") {
        filter.phone_number = Some(phone::normalize(&text));
    }
    filter.assistant_id = integer_param(pairs, "assistant_id", &mut errors);
    filter.campaign_id = integer_param(pairs, "campaign_id", &mut errors);

    let from_day = day_param(pairs, "date_from", &mut errors);
    let to_day = day_param(pairs, "date_to", &mut errors);
    if let (Some(from), Some(to)) = (from_day, to_day)
        && to < from
    {
        errors.add(
            "date_to",
            "The date to field must be a date after or equal to date from.",
        );
    }
    filter.created_from = from_day.map(timefmt::day_start);
    filter.created_to = to_day.map(timefmt::day_end);

    let page = parse_page_query(pairs, 15, &mut errors);

    let echo = echo_params(pairs, &CALL_FILTERS);
    errors.into_result(CallListQuery { filter, page, echo })
}

/// The given parameters among `names`, as Laravel reads them (last value wins,
/// empty means absent), in the order the client first sent them: what page
/// URLs carry over.
pub fn echo_params(pairs: &[(String, String)], names: &[&str]) -> Vec<(String, String)> {
    let mut echo: Vec<(String, String)> = Vec::new();
    for (key, _) in pairs {
        if names.contains(&key.as_str())
            && !echo.iter().any(|(k, _)| k == key)
            && let Param::Value(text) = Param::of(pairs, key)
        {
            echo.push((key.clone(), text));
        }
    }
    echo
}

fn integer_param(pairs: &[(String, String)], name: &str, errors: &mut FieldErrors) -> Option<i64> {
    match Param::of(pairs, name) {
        Param::Absent => None,
        Param::Value(text) => {
            let parsed = parse_int(&text);
            if parsed.is_none() {
                errors.add(name, must_be_integer(name));
            }
            parsed
        }
        Param::Array => {
            errors.add(name, must_be_integer(name));
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
                name.replace('_', " ")
            ),
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn empty_values_count_as_absent_and_last_wins() {
        let q = parse_call_list(&pairs("status=&type=web&type=inbound&limit=5")).expect("valid");
        assert_eq!(q.filter.status, None);
        assert_eq!(q.filter.call_type, Some(CallType::Inbound));
        assert_eq!(q.echo, vec![("type".to_owned(), "inbound".to_owned())]);
        assert_eq!(
            q.page,
            PageQuery {
                page: 1,
                per_page: 15
            }
        );
    }

    #[test]
    fn errors_in_rule_order() {
        let err = parse_call_list(&pairs("per_page=0&status=nope&date_from=2024-13-01"))
            .expect_err("invalid");
        let fields: Vec<&str> = err.fields().iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["status", "date_from", "per_page"]);
        assert_eq!(
            err.summary(),
            "The selected status is invalid. (and 2 more errors)"
        );
    }

    #[test]
    fn pages_fall_back_to_one() {
        for bad in ["0", "-1", "abc", "1.5", "99999999999999999999"] {
            let q = parse_call_list(&pairs(&format!("page={bad}"))).expect("valid");
            assert_eq!(q.page.page, 1, "{bad}");
        }
        let q = parse_call_list(&pairs("page=7&per_page=100")).expect("valid");
        assert_eq!(
            q.page,
            PageQuery {
                page: 7,
                per_page: 100
            }
        );
        assert_eq!(q.page.offset(), 600);
    }
}
