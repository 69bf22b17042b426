//! The one shape of query behind the list, its totals and facets (and the
//! stats and exports that follow): conditions, counts and pages written as
//! SQL both backends run, each binding the values its own way. Only
//! transcript search differs by backend; a backend hands in its search
//! condition as a [`Part`] (see `sqlite::search`, `postgres::search`).
//!
//! Counts come from the rollups (`store::counts`) whenever the filter only
//! narrows by their dimensions and dates. Dates that do not fall on UTC
//! midnights (a local day in another zone, `created_after`) are whole UTC
//! days from the rollups plus the calls of the partial days at the edges,
//! counted from rows: the shorter way round, so at most half a day's calls
//! per edge. Any other filter (a phone number, ranges, search) counts rows.

use crate::domain::CallFilter;
use crate::domain::listing::Facet;

mod count;
mod page;
#[cfg(test)]
mod tests;

pub use count::{
    CountPart, DEEP_OFFSET, DaySplit, PageStart, count_plan, day_counts, locate, merge_days,
    split_days,
};
pub use page::{PagePlan, PageRead, Start, page_plan};

/// The phone index's second column: the 30-day period a call falls in,
/// counted from 0000-01-01 (the earliest time callbase takes), so that it
/// never goes negative and integer division floors on both backends.
/// Periods start at UTC midnights: the offset and the period are whole days.
/// The expression must stay exactly as migration 7 writes it for the
/// databases to use the index.
///
/// Calls arrive in time order (live calls now, imports mostly oldest first),
/// so an index led by the period takes each new entry in the current
/// period's part. Led by the number itself, every call went to a random
/// place among all of the tenant's numbers: an import batch of 5,000 calls
/// rewrote nearly every page of that index (importing the 400k-call tenant:
/// 8.3 s with it, 6.2 s without any phone index, 5.9 s with this one).
pub const PHONE_PERIOD: &str = "(created_at + 62167219200) / 2592000";

/// [`PHONE_PERIOD`] of the calls of a `call_days` row: its `day` plus the
/// days from 0000-01-01 to 1970-01-01, in periods of 30 days.
const PHONE_PERIOD_OF_DAY: &str = "(day + 719528) / 30";

/// A value bound into generated SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Int(i64),
    Text(String),
    Ints(Vec<i64>),
}

/// Numbered placeholders: `?1` in SQLite, `$1` in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    Question,
    Dollar,
}

impl Placeholder {
    /// Appends the `n`th placeholder for `value`. PostgreSQL gets explicit
    /// types, so that one i64 binds to any integer column.
    pub fn write_nth(self, out: &mut String, n: usize, value: &SqlValue) {
        out.push(if self == Self::Question { '?' } else { '$' });
        out.push_str(itoa::Buffer::new().format(n));
        if self == Self::Dollar {
            out.push_str(match value {
                SqlValue::Int(_) => "::bigint",
                SqlValue::Text(_) => "::text",
                SqlValue::Ints(_) => "::bigint[]",
            });
        }
    }
}

/// Stands for a placeholder in a [`Part`]'s SQL until it is numbered.
pub const MARK: char = '\u{1}';

/// One condition: SQL with a [`MARK`] for each of its values, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub sql: String,
    pub values: Vec<SqlValue>,
}

impl Part {
    pub fn new(sql: impl Into<String>, values: Vec<SqlValue>) -> Self {
        Self {
            sql: sql.into(),
            values,
        }
    }

    pub fn compare(column_op: &str, value: SqlValue) -> Self {
        // (Pushed, not `format!`ed: a list request writes a dozen of these
        // and the formatting machinery showed in its profile.)
        let mut sql = String::with_capacity(column_op.len() + 2);
        sql.push_str(column_op);
        sql.push(' ');
        sql.push(MARK);
        Self::new(sql, vec![value])
    }

    /// `column = v`, or `column IN (v, w, ...)` for several.
    pub fn any_of(column: &str, values: &[i64]) -> Self {
        if let [one] = values {
            let mut column_op = String::with_capacity(column.len() + 2);
            column_op.push_str(column);
            column_op.push_str(" =");
            return Self::compare(&column_op, SqlValue::Int(*one));
        }
        let marks = vec![MARK.to_string(); values.len()].join(", ");
        Self::new(
            format!("{column} IN ({marks})"),
            values.iter().map(|v| SqlValue::Int(*v)).collect(),
        )
    }
}

/// A statement and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sql {
    pub text: String,
    pub values: Vec<SqlValue>,
}

/// Conditions joined with `AND`.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    parts: Vec<Part>,
}

/// Numbers the marks of `sql`, from `first`.
fn number(sql: &str, values: &[SqlValue], style: Placeholder, first: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 12 * values.len());
    for (n, piece) in sql.split(MARK).enumerate() {
        if n > 0 {
            match values.get(n - 1) {
                Some(value) => style.write_nth(&mut out, first + n - 1, value),
                // A mark without a value is a bug here; NULL matches nothing.
                None => out.push_str("NULL"),
            }
        }
        out.push_str(piece);
    }
    out
}

impl Conditions {
    pub fn push(&mut self, part: Part) {
        self.parts.push(part);
    }

    /// The `WHERE` body, numbering placeholders from `first`.
    pub fn render(&self, style: Placeholder, first: usize) -> String {
        let mut next = first;
        self.parts
            .iter()
            .map(|part| {
                let text = number(&part.sql, &part.values, style, next);
                next += part.values.len();
                text
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    pub fn values(&self) -> Vec<SqlValue> {
        self.parts.iter().flat_map(|p| p.values.clone()).collect()
    }

    /// `SELECT {select} FROM {table} WHERE ... {tail}`, tail's marks numbered after.
    pub fn statement(&self, select: &str, table: &str, tail: &Part, style: Placeholder) -> Sql {
        let mut values = self.values();
        let body = self.render(style, 1);
        let tail_text = number(&tail.sql, &tail.values, style, values.len() + 1);
        values.extend(tail.values.iter().cloned());
        Sql {
            text: [
                "SELECT ", select, " FROM ", table, " WHERE ", &body, &tail_text,
            ]
            .concat(),
            values,
        }
    }

    /// The dimension filters (status, type, answered_by, assistant, campaign).
    /// Rollups keep "none" as 0 and calls as NULL; ids are positive, so the
    /// same values match the same calls in both.
    fn dimensions(&mut self, filter: &CallFilter) {
        if let Some(set) = &filter.status {
            self.push(Part::any_of(
                "status",
                &set.iter().map(|s| s.code()).collect::<Vec<_>>(),
            ));
        }
        if let Some(set) = &filter.call_type {
            self.push(Part::any_of(
                "type",
                &set.iter().map(|t| t.code()).collect::<Vec<_>>(),
            ));
        }
        if let Some(set) = &filter.answered_by {
            self.push(Part::any_of(
                "answered_by",
                &set.iter().map(|a| a.code()).collect::<Vec<_>>(),
            ));
        }
        if let Some(ids) = &filter.assistant_id {
            self.push(Part::any_of("assistant_id", ids));
        }
        if let Some(ids) = &filter.campaign_id {
            self.push(Part::any_of("campaign_id", ids));
        }
    }

    /// The conditions on `calls`: every filter, with `created` instead of
    /// the filter's own dates, and the backend's search condition.
    pub fn for_calls(
        user_id: i64,
        filter: &CallFilter,
        created: Span,
        search: Option<&SearchCondition>,
        style: Placeholder,
    ) -> Self {
        let mut c = Self::default();
        let user = if search.is_some_and(|s| s.drives) {
            // Unary plus: the user's indexes must not drive this read; the
            // search's few matches do (SQLite's way of saying so).
            "+user_id ="
        } else {
            "user_id ="
        };
        c.push(Part::compare(user, SqlValue::Int(user_id)));
        c.dimensions(filter);
        if let Some(phone) = &filter.phone_number {
            // The phone index is searched once per period the user has calls
            // in (the `call_days` rollup knows which), then by the number.
            let periods =
                format!("SELECT {PHONE_PERIOD_OF_DAY} FROM call_days WHERE user_id = {MARK}");
            c.push(Part::new(
                format!("{PHONE_PERIOD} {}", in_periods(&periods, style)),
                vec![SqlValue::Int(user_id)],
            ));
            c.push(Part::compare(
                "client_phone_key =",
                SqlValue::Text(phone.clone()),
            ));
        }
        if let Some(min) = filter.duration_min {
            c.push(Part::compare("duration >=", SqlValue::Int(min)));
        }
        if let Some(max) = filter.duration_max {
            c.push(Part::compare("duration <=", SqlValue::Int(max)));
        }
        if let Some(min) = filter.cost_min {
            c.push(Part::compare("total_cost >=", SqlValue::Int(min)));
        }
        if let Some(max) = filter.cost_max {
            c.push(Part::compare("total_cost <=", SqlValue::Int(max)));
        }
        if let Some(from) = created.from {
            c.push(Part::compare("created_at >=", SqlValue::Int(from)));
        }
        if let Some(to) = created.to {
            c.push(Part::compare("created_at <=", SqlValue::Int(to)));
        }
        if let Some(search) = search {
            c.push(search.part.clone());
        }
        c
    }

    /// The conditions on a rollup: dimensions, and whole days.
    pub fn for_rollup(user_id: i64, filter: &CallFilter, days: Option<(i64, i64)>) -> Self {
        let mut c = Self::default();
        c.push(Part::compare("user_id =", SqlValue::Int(user_id)));
        c.dimensions(filter);
        if let Some((first, last)) = days {
            if first != i64::MIN {
                c.push(Part::compare("day >=", SqlValue::Int(first)));
            }
            if last != i64::MAX {
                c.push(Part::compare("day <=", SqlValue::Int(last)));
            }
        }
        c
    }
}

/// "Is one of the user's phone periods". On PostgreSQL an array of them, not
/// `IN`: the generic plan of a prepared statement (used from its sixth run
/// on) turned `IN (SELECT ...)` into a scan of all of the user's entries,
/// filtered by period afterwards (a review measured 1-5 ms, then 64-79 ms on
/// a 400k-call tenant); `= ANY(ARRAY(...))` stays an index condition in
/// every plan.
fn in_periods(periods: &str, style: Placeholder) -> String {
    match style {
        Placeholder::Question => format!("IN ({periods})"),
        Placeholder::Dollar => format!("= ANY(ARRAY({periods}))"),
    }
}

/// The search condition a backend adds to a read of `calls`.
#[derive(Debug, Clone)]
pub struct SearchCondition {
    pub part: Part,
    /// The search finds few calls: they are looked up by id and the rest of
    /// the conditions checked on them, rather than walking the user's calls.
    pub drives: bool,
}

/// Created times, both bounds inclusive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl Span {
    pub fn of(filter: &CallFilter) -> Self {
        Self {
            from: filter.created_from,
            to: filter.created_to,
        }
    }
}

/// True when the filter can match nothing whatever the data: an empty set,
/// ids that are not positive (the rollups store "none" as 0), a number with a
/// NUL (PostgreSQL text cannot hold one), bounds the wrong way round.
pub fn matches_nothing(filter: &CallFilter) -> bool {
    let empty = |n: Option<usize>| n == Some(0);
    let ids_none =
        |ids: &Option<Vec<i64>>| ids.as_ref().is_some_and(|v| v.iter().all(|id| *id <= 0));
    empty(filter.status.as_ref().map(Vec::len))
        || empty(filter.call_type.as_ref().map(Vec::len))
        || empty(filter.answered_by.as_ref().map(Vec::len))
        || ids_none(&filter.assistant_id)
        || ids_none(&filter.campaign_id)
        || filter
            .phone_number
            .as_deref()
            .is_some_and(|p| p.contains('\0'))
        || matches!((filter.duration_min, filter.duration_max), (Some(a), Some(b)) if b < a)
        || matches!((filter.cost_min, filter.cost_max), (Some(a), Some(b)) if b < a)
        || matches!((filter.created_from, filter.created_to), (Some(a), Some(b)) if b < a)
}

/// The column a facet groups by, the same on `calls` and on the rollups
/// ("none" is 0 in both).
/// (As a bigint: PostgreSQL's codes are smallints.)
pub fn facet_column(facet: Facet) -> &'static str {
    match facet {
        Facet::Status => "CAST(status AS BIGINT)",
        Facet::Type => "CAST(type AS BIGINT)",
        Facet::AnsweredBy => "CAST(coalesce(answered_by, 0) AS BIGINT)",
        Facet::AssistantId => "CAST(coalesce(assistant_id, 0) AS BIGINT)",
        Facet::CampaignId => "CAST(coalesce(campaign_id, 0) AS BIGINT)",
    }
}

/// `SELECT {select} FROM calls WHERE` every condition of the filter but the
/// search: what a backend streams to test against matches it gathered.
pub fn rows_without_search(
    user_id: i64,
    filter: &CallFilter,
    select: &str,
    style: Placeholder,
) -> Sql {
    Conditions::for_calls(user_id, filter, Span::of(filter), None, style).statement(
        select,
        "calls",
        &Part::new("", Vec::new()),
        style,
    )
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
