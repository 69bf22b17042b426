//! Exact list totals without counting rows.
//!
//! Every write keeps four rollups per user in the same transaction:
//! `call_user_totals` (all calls), `call_totals` (status × type × assistant ×
//! campaign), `call_counts` (the same per UTC day) and `call_days` (calls per
//! day). The unfiltered total is one row; any other is a sum over at most a few
//! hundred rollup rows, whatever the tenant's size, and a deep page
//! can jump to the day it starts on. Only the `phone_number` filter counts rows,
//! through its own index (a number has few calls). This module is shared by the
//! backends: it picks the rollup and writes the conditions; each backend binds
//! the values its own way.

use std::collections::BTreeMap;

use crate::domain::{CallFilter, CallStatus, CallType};

/// Seconds in a day: rollups are by UTC day.
pub const DAY: i64 = 86_400;

/// The UTC day number of a Unix time (floor division, also before 1970).
pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(DAY)
}

/// A value bound into generated SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqlValue {
    Int(i64),
    Text(String),
}

/// Numbered placeholders: `?1` in SQLite, `$1` in PostgreSQL.
#[derive(Debug, Clone, Copy)]
pub enum Placeholder {
    Question,
    Dollar,
}

impl Placeholder {
    pub fn nth(self, n: usize) -> String {
        match self {
            Self::Question => format!("?{n}"),
            Self::Dollar => format!("${n}"),
        }
    }
}

/// The phone index's second column: the 30-day period a call falls in,
/// counted from 0000-01-01 (the earliest time callbase takes), so that it
/// never goes negative and integer division floors on both backends.
/// Periods start at UTC midnights: the offset and the period are whole days.
///
/// Calls arrive in time order (live calls now, imports mostly oldest first),
/// so an index led by the period takes each new entry in the current
/// period's part. Led by the number itself, every call went to a random
/// place among all of the tenant's numbers: an import batch of 5,000 calls
/// rewrote nearly every page of that index (importing the 400k-call tenant:
/// 8.3 s with it, 6.2 s without any phone index, 5.9 s with this one).
macro_rules! phone_period {
    () => {
        "(created_at + 62167219200) / 2592000"
    };
}
const PHONE_PERIOD: &str = phone_period!();

/// [`PHONE_PERIOD`] of the calls of a `call_days` row: its `day` plus the
/// days from 0000-01-01 to 1970-01-01, in periods of 30 days.
const PHONE_PERIOD_OF_DAY: &str = "(day + 719528) / 30";

/// One condition: `column op` and its value, or the phone index's periods.
#[derive(Debug, Clone)]
enum Condition {
    Compare(String),
    /// The periods the user has calls in, for the phone index; the value is
    /// the user's id.
    PhonePeriods,
}

/// Conditions joined with `AND`, each with one value.
#[derive(Debug, Clone, Default)]
pub struct Conditions {
    parts: Vec<(Condition, SqlValue)>,
}

impl Conditions {
    fn push(&mut self, column_op: &str, value: SqlValue) {
        self.parts
            .push((Condition::Compare(column_op.to_owned()), value));
    }

    /// The `WHERE` body, numbering placeholders from `first`. PostgreSQL gets
    /// explicit parameter types, so that one i64 binds to any integer column.
    pub fn render(&self, style: Placeholder, first: usize) -> String {
        self.parts
            .iter()
            .enumerate()
            .map(|(i, (condition, value))| {
                let cast = match (style, value) {
                    (Placeholder::Question, _) => "",
                    (Placeholder::Dollar, SqlValue::Int(_)) => "::bigint",
                    (Placeholder::Dollar, SqlValue::Text(_)) => "::text",
                };
                let value = format!("{}{cast}", style.nth(first + i));
                let periods = || {
                    format!("SELECT {PHONE_PERIOD_OF_DAY} FROM call_days WHERE user_id = {value}")
                };
                match (condition, style) {
                    (Condition::Compare(column_op), _) => format!("{column_op} {value}"),
                    (Condition::PhonePeriods, Placeholder::Question) => {
                        format!("{PHONE_PERIOD} IN ({})", periods())
                    }
                    // An array of the periods, not `IN`: PostgreSQL's generic
                    // plan of a prepared statement (used from its sixth run
                    // on) turned `IN (SELECT ...)` into a scan of all of the
                    // user's entries, filtered by period afterwards (a review
                    // measured 1-5 ms, then 64-79 ms on a 400k-call tenant);
                    // `= ANY(ARRAY(...))` stays an index condition in every
                    // plan.
                    (Condition::PhonePeriods, Placeholder::Dollar) => {
                        format!("{PHONE_PERIOD} = ANY(ARRAY({}))", periods())
                    }
                }
            })
            .collect::<Vec<_>>()
            .join(" AND ")
    }

    pub fn values(&self) -> impl Iterator<Item = &SqlValue> {
        self.parts.iter().map(|(_, v)| v)
    }

    /// The conditions on `calls` for a list: every filter, dates on `created_at`.
    pub fn for_calls(user_id: i64, filter: &CallFilter) -> Self {
        let mut c = Self::default();
        c.push("user_id =", SqlValue::Int(user_id));
        c.dimensions(filter);
        if let Some(phone) = &filter.phone_number {
            // The phone index is searched once per period the user has calls
            // in (the `call_days` rollup knows which), then by the number.
            c.parts
                .push((Condition::PhonePeriods, SqlValue::Int(user_id)));
            c.push("client_phone_key =", SqlValue::Text(phone.clone()));
        }
        if let Some(from) = filter.created_from {
            c.push("created_at >=", SqlValue::Int(from));
        }
        if let Some(to) = filter.created_to {
            c.push("created_at <=", SqlValue::Int(to));
        }
        c
    }

    /// The conditions on a rollup: dimensions, and dates as whole days.
    fn for_rollup(user_id: i64, filter: &CallFilter, by_day: bool) -> Self {
        let mut c = Self::default();
        c.push("user_id =", SqlValue::Int(user_id));
        c.dimensions(filter);
        if by_day {
            if let Some(from) = filter.created_from {
                c.push("day >=", SqlValue::Int(day_of(from)));
            }
            if let Some(to) = filter.created_to {
                c.push("day <=", SqlValue::Int(day_of(to)));
            }
        }
        c
    }

    fn dimensions(&mut self, filter: &CallFilter) {
        if let Some(status) = filter.status {
            self.push("status =", SqlValue::Int(status.code()));
        }
        if let Some(call_type) = filter.call_type {
            self.push("type =", SqlValue::Int(call_type.code()));
        }
        if let Some(id) = filter.assistant_id {
            self.push("assistant_id =", SqlValue::Int(id));
        }
        if let Some(id) = filter.campaign_id {
            self.push("campaign_id =", SqlValue::Int(id));
        }
    }
}

fn has_dimensions(filter: &CallFilter) -> bool {
    filter.status.is_some()
        || filter.call_type.is_some()
        || filter.assistant_id.is_some()
        || filter.campaign_id.is_some()
}

/// True when the filter can match nothing whatever the data: ids are positive
/// (the rollups store "no assistant/campaign" as 0), and numbers hold no NUL
/// (import refuses them; PostgreSQL text cannot hold one).
pub fn matches_nothing(filter: &CallFilter) -> bool {
    filter.assistant_id.is_some_and(|id| id <= 0)
        || filter.campaign_id.is_some_and(|id| id <= 0)
        || filter
            .phone_number
            .as_deref()
            .is_some_and(|p| p.contains('\0'))
}

/// How to count a filter's calls: one statement and its values.
pub struct CountQuery {
    pub sql: String,
    pub values: Vec<SqlValue>,
}

/// `SELECT` of the total. Phone filters count rows through their index.
pub fn total_query(user_id: i64, filter: &CallFilter, style: Placeholder) -> CountQuery {
    let dated = filter.created_from.is_some() || filter.created_to.is_some();
    let (table, conditions) = if filter.phone_number.is_some() {
        ("calls", Conditions::for_calls(user_id, filter))
    } else if !dated && !has_dimensions(filter) {
        // The default list: one row, however many combinations the user has.
        (
            "call_user_totals",
            Conditions::for_rollup(user_id, filter, false),
        )
    } else if !dated {
        (
            "call_totals",
            Conditions::for_rollup(user_id, filter, false),
        )
    } else if has_dimensions(filter) {
        ("call_counts", Conditions::for_rollup(user_id, filter, true))
    } else {
        ("call_days", Conditions::for_rollup(user_id, filter, true))
    };
    // CAST: PostgreSQL's sum of bigints is numeric.
    let aggregate = if table == "calls" {
        "count(*)"
    } else {
        "CAST(coalesce(sum(n), 0) AS BIGINT)"
    };
    CountQuery {
        sql: format!(
            "SELECT {aggregate} FROM {table} WHERE {}",
            conditions.render(style, 1)
        ),
        values: conditions.values().cloned().collect(),
    }
}

/// The order of a list: newest first. With a phone filter the page comes
/// from the phone index, one period after the other; ordering by the period
/// first (which grows with `created_at`, so the order is the same) lets
/// SQLite read the periods newest first instead of sorting what it found.
pub fn page_order(filter: &CallFilter) -> &'static str {
    if filter.phone_number.is_some() {
        concat!(
            "ORDER BY ",
            phone_period!(),
            " DESC, created_at DESC, id DESC"
        )
    } else {
        "ORDER BY created_at DESC, id DESC"
    }
}

/// `SELECT day, count` per day, newest first, for locating a deep page; `None`
/// for phone filters (their totals are small: no need).
pub fn per_day_query(user_id: i64, filter: &CallFilter, style: Placeholder) -> Option<CountQuery> {
    if filter.phone_number.is_some() {
        return None;
    }
    let table = if has_dimensions(filter) {
        "call_counts"
    } else {
        "call_days"
    };
    let conditions = Conditions::for_rollup(user_id, filter, true);
    Some(CountQuery {
        sql: format!(
            "SELECT day, CAST(sum(n) AS BIGINT) FROM {table} WHERE {} GROUP BY day HAVING sum(n) > 0 ORDER BY day DESC",
            conditions.render(style, 1)
        ),
        values: conditions.values().cloned().collect(),
    })
}

/// Pages deeper than this many rows start from the day they fall on.
pub const DEEP_OFFSET: u64 = 1_000;

/// Where a page starts: on `day`, after skipping `offset` of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageStart {
    pub day: i64,
    pub offset: u64,
}

/// Walks per-day counts (newest first) to the day holding row `offset`.
pub fn locate(days_newest_first: &[(i64, u64)], offset: u64) -> Option<PageStart> {
    let mut before = 0u64;
    for &(day, n) in days_newest_first {
        if offset < before + n {
            return Some(PageStart {
                day,
                offset: offset - before,
            });
        }
        before += n;
    }
    None
}

/// The rollup coordinates of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub day: i64,
    pub status: i64,
    pub call_type: i64,
    /// 0 when the call has no assistant.
    pub assistant_id: i64,
    /// 0 when the call has no campaign.
    pub campaign_id: i64,
}

impl RollupKey {
    pub fn new(
        created_at: i64,
        status: CallStatus,
        call_type: CallType,
        assistant_id: Option<i64>,
        campaign_id: Option<i64>,
    ) -> Self {
        Self::from_codes(
            created_at,
            status.code(),
            call_type.code(),
            assistant_id,
            campaign_id,
        )
    }

    pub fn from_codes(
        created_at: i64,
        status: i64,
        call_type: i64,
        assistant_id: Option<i64>,
        campaign_id: Option<i64>,
    ) -> Self {
        Self {
            day: day_of(created_at),
            status,
            call_type,
            assistant_id: assistant_id.unwrap_or(0),
            campaign_id: campaign_id.unwrap_or(0),
        }
    }
}

/// Changes to the rollups made by one transaction, applied at its end in key
/// order (so concurrent writers lock rollup rows in the same order).
#[derive(Debug, Default)]
pub struct CountDeltas {
    detail: BTreeMap<RollupKey, i64>,
}

/// One row of each rollup to add to.
pub struct RollupDeltas {
    /// (status, type, assistant, campaign) → delta
    pub totals: Vec<((i64, i64, i64, i64), i64)>,
    /// (day, status, type, assistant, campaign) → delta
    pub counts: Vec<(RollupKey, i64)>,
    /// day → delta
    pub days: Vec<(i64, i64)>,
    /// The user's all-time total → delta
    pub all: i64,
}

impl CountDeltas {
    pub fn add(&mut self, key: RollupKey, delta: i64) {
        *self.detail.entry(key).or_default() += delta;
    }

    /// A row moved from `old` to `new` (an update): nothing when unchanged.
    pub fn moved(&mut self, old: RollupKey, new: RollupKey) {
        if old != new {
            self.add(old, -1);
            self.add(new, 1);
        }
    }

    /// The non-zero changes per rollup, each sorted by key.
    pub fn into_rollups(self) -> RollupDeltas {
        let mut totals: BTreeMap<(i64, i64, i64, i64), i64> = BTreeMap::new();
        let mut days: BTreeMap<i64, i64> = BTreeMap::new();
        let mut counts = Vec::new();
        let mut all = 0;
        for (key, delta) in self.detail {
            if delta == 0 {
                continue;
            }
            all += delta;
            *totals
                .entry((key.status, key.call_type, key.assistant_id, key.campaign_id))
                .or_default() += delta;
            *days.entry(key.day).or_default() += delta;
            counts.push((key, delta));
        }
        RollupDeltas {
            totals: totals.into_iter().filter(|(_, d)| *d != 0).collect(),
            counts,
            days: days.into_iter().filter(|(_, d)| *d != 0).collect(),
            all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_floor_and_pages_locate() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
        assert_eq!(day_of(-1), -1);
        let days = [(30, 5), (29, 0), (28, 10), (27, 3)];
        assert_eq!(locate(&days, 0), Some(PageStart { day: 30, offset: 0 }));
        assert_eq!(locate(&days, 4), Some(PageStart { day: 30, offset: 4 }));
        assert_eq!(locate(&days, 5), Some(PageStart { day: 28, offset: 0 }));
        assert_eq!(locate(&days, 17), Some(PageStart { day: 27, offset: 2 }));
        assert_eq!(locate(&days, 18), None);
    }

    #[test]
    fn totals_come_from_the_smallest_rollup() {
        let style = Placeholder::Question;
        let plain = CallFilter::default();
        let sum = "SELECT CAST(coalesce(sum(n), 0) AS BIGINT)";
        assert_eq!(
            total_query(1, &plain, style).sql,
            format!("{sum} FROM call_user_totals WHERE user_id = ?1")
        );
        let completed = CallFilter {
            status: Some(CallStatus::Completed),
            ..CallFilter::default()
        };
        assert_eq!(
            total_query(1, &completed, style).sql,
            format!("{sum} FROM call_totals WHERE user_id = ?1 AND status = ?2")
        );
        let dated = CallFilter {
            created_from: Some(86_400),
            ..CallFilter::default()
        };
        assert_eq!(
            total_query(1, &dated, style).sql,
            format!("{sum} FROM call_days WHERE user_id = ?1 AND day >= ?2")
        );
        let both = CallFilter {
            status: Some(CallStatus::Busy),
            created_to: Some(86_399),
            ..CallFilter::default()
        };
        let q = total_query(1, &both, Placeholder::Dollar);
        assert_eq!(
            q.sql,
            format!(
                "{sum} FROM call_counts WHERE user_id = $1::bigint AND status = $2::bigint AND day <= $3::bigint"
            )
        );
        assert_eq!(
            q.values,
            [SqlValue::Int(1), SqlValue::Int(3), SqlValue::Int(0)]
        );
        let phone = CallFilter {
            phone_number: Some("+49".into()),
            ..CallFilter::default()
        };
        assert!(
            total_query(1, &phone, style)
                .sql
                .starts_with("SELECT count(*) FROM calls WHERE")
        );
    }

    #[test]
    fn deltas_cancel_and_group() {
        let a = RollupKey::from_codes(0, 6, 1, None, None);
        let b = RollupKey::from_codes(86_400, 6, 1, Some(3), None);
        let mut deltas = CountDeltas::default();
        deltas.add(a, 1);
        deltas.moved(a, b);
        deltas.moved(b, b);
        let rollups = deltas.into_rollups();
        assert_eq!(rollups.counts, [(b, 1)]);
        assert_eq!(rollups.totals, [((6, 1, 3, 0), 1)]);
        assert_eq!(rollups.days, [(1, 1)]);
        assert_eq!(rollups.all, 1);
    }
}
