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
use crate::domain::cursor::SortKey;
use crate::domain::listing::{Facet, Sort, Window};

use super::counts::{DAY, day_of};

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

    fn compare(column_op: &str, value: SqlValue) -> Self {
        // (Pushed, not `format!`ed: a list request writes a dozen of these
        // and the formatting machinery showed in its profile.)
        let mut sql = String::with_capacity(column_op.len() + 2);
        sql.push_str(column_op);
        sql.push(' ');
        sql.push(MARK);
        Self::new(sql, vec![value])
    }

    /// `column = v`, or `column IN (v, w, ...)` for several.
    fn any_of(column: &str, values: &[i64]) -> Self {
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
    fn for_rollup(user_id: i64, filter: &CallFilter, days: Option<(i64, i64)>) -> Self {
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

/// A count to add (`sign` 1) or take away (-1): one number, or with a
/// facet, `(key, n)` rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountPart {
    pub sign: i64,
    pub sql: Sql,
}

/// How a filter's calls are split for counting: whole UTC days from the
/// rollups, and the calls of partial days from rows.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DaySplit {
    /// Whole days, inclusive; `(i64::MIN, i64::MAX)` for all time.
    days: Option<(i64, i64)>,
    /// Partial days: `(sign, span)`.
    edges: Vec<(i64, Span)>,
}

/// Splits `[from, to]` into whole UTC days and the edges around them, each
/// edge taken the shorter way: the calls before midnight added, or the whole
/// day added and the calls outside the range taken away.
fn split_days(span: Span) -> DaySplit {
    if span.from.is_none() && span.to.is_none() {
        return DaySplit {
            days: None,
            edges: Vec::new(),
        };
    }
    // Half-open [lo, hi).
    let lo = span.from.unwrap_or(i64::MIN);
    let hi = span.to.map_or(i64::MAX, |t| t.saturating_add(1));
    let mut edges = Vec::new();
    let mut first = if lo == i64::MIN { i64::MIN } else { day_of(lo) };
    if lo != i64::MIN && lo != first * DAY {
        if (first + 1) * DAY - lo <= DAY / 2 {
            edges.push((
                1,
                Span {
                    from: Some(lo),
                    to: Some((first + 1) * DAY - 1),
                },
            ));
            first += 1;
        } else {
            edges.push((
                -1,
                Span {
                    from: Some(first * DAY),
                    to: Some(lo - 1),
                },
            ));
        }
    }
    let mut last = if hi == i64::MAX {
        i64::MAX
    } else {
        day_of(hi) - 1
    };
    if hi != i64::MAX && hi != (last + 1) * DAY {
        // `hi` falls inside day `last + 1`.
        let day = last + 1;
        if hi - day * DAY <= DAY / 2 {
            edges.push((
                1,
                Span {
                    from: Some(day * DAY),
                    to: Some(hi - 1),
                },
            ));
        } else {
            edges.push((
                -1,
                Span {
                    from: Some(hi),
                    to: Some((day + 1) * DAY - 1),
                },
            ));
            last = day;
        }
    }
    if first > last {
        // Inside one UTC day: count its rows.
        return DaySplit {
            days: Some((0, -1)),
            edges: vec![(1, span)],
        };
    }
    DaySplit {
        days: Some((first, last)),
        edges,
    }
}

/// The counts whose signed sum is the number of the filter's calls (grouped
/// by `group` when given). Search needs the backend's condition. The
/// default list's one count is written once per thread (see [`page_plan`]).
pub fn count_plan(
    user_id: i64,
    filter: &CallFilter,
    group: Option<Facet>,
    search: Option<&SearchCondition>,
    style: Placeholder,
) -> Vec<CountPart> {
    if group.is_some() || search.is_some() || *filter != CallFilter::default() {
        return build_count_plan(user_id, filter, group, search, style);
    }
    thread_local! {
        static PLAIN: std::cell::RefCell<Vec<(Placeholder, String)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let text = PLAIN.with_borrow_mut(|cache| {
        if let Some((_, text)) = cache.iter().find(|(s, _)| *s == style) {
            return text.clone();
        }
        let built = build_count_plan(user_id, filter, group, search, style);
        let text = built
            .first()
            .map(|p| p.sql.text.clone())
            .unwrap_or_default();
        cache.push((style, text.clone()));
        text
    });
    let plan = vec![CountPart {
        sign: 1,
        sql: Sql {
            text,
            values: vec![SqlValue::Int(user_id)],
        },
    }];
    debug_assert_eq!(
        plan,
        build_count_plan(user_id, filter, group, search, style)
    );
    plan
}

fn build_count_plan(
    user_id: i64,
    filter: &CallFilter,
    group: Option<Facet>,
    search: Option<&SearchCondition>,
    style: Placeholder,
) -> Vec<CountPart> {
    let (select, tail) = match group {
        Some(facet) => {
            let column = facet_column(facet);
            (
                format!("{column}, CAST(sum(n) AS BIGINT)"),
                format!(" GROUP BY {column}"),
            )
        }
        // CAST: PostgreSQL's sum of bigints is numeric.
        None => (
            "CAST(coalesce(sum(n), 0) AS BIGINT)".to_owned(),
            String::new(),
        ),
    };
    let rows_select = match group {
        Some(facet) => format!("{}, count(*)", facet_column(facet)),
        None => "count(*)".to_owned(),
    };
    let tail = Part::new(tail, Vec::new());
    let rows = |span: Span| {
        Conditions::for_calls(user_id, filter, span, search, style).statement(
            &rows_select,
            "calls",
            &tail,
            style,
        )
    };
    if !filter.is_rollup_only() {
        return vec![CountPart {
            sign: 1,
            sql: rows(Span::of(filter)),
        }];
    }
    let split = split_days(Span::of(filter));
    let mut parts = Vec::new();
    match split.days {
        Some((first, last)) if first > last => {}
        Some(days) => {
            let table = if filter.has_dimensions() || group.is_some() {
                "call_counts"
            } else {
                "call_days"
            };
            let c = Conditions::for_rollup(user_id, filter, Some(days));
            parts.push(CountPart {
                sign: 1,
                sql: c.statement(&select, table, &tail, style),
            });
        }
        None => {
            let table = if group.is_some() || filter.has_dimensions() {
                "call_totals"
            } else {
                // The default list: one row, however many combinations the user has.
                "call_user_totals"
            };
            let c = Conditions::for_rollup(user_id, filter, None);
            parts.push(CountPart {
                sign: 1,
                sql: c.statement(&select, table, &tail, style),
            });
        }
    }
    for (sign, span) in split.edges {
        parts.push(CountPart {
            sign,
            sql: rows(span),
        });
    }
    parts
}

/// Pages deeper than this many rows start from the day they fall on.
pub const DEEP_OFFSET: u64 = 1_000;

/// Where a page starts: on `day`, after skipping `offset` of its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageStart {
    pub day: i64,
    pub offset: u64,
}

/// Walks per-day counts (in the list's order) to the day holding row `offset`.
pub fn locate(days: &[(i64, u64)], offset: u64) -> Option<PageStart> {
    let mut before = 0u64;
    for &(day, n) in days {
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

/// Calls per day of the filter, for a deep page of a list by creation time:
/// the whole days from the rollup (`SELECT day, n`, newest first when
/// `descending`), and each partial day at an edge as a row count. `None`
/// when the filter needs rows anyway (a deep page then skips rows).
pub fn day_counts(
    user_id: i64,
    filter: &CallFilter,
    descending: bool,
    style: Placeholder,
) -> Option<(Sql, Vec<(i64, Sql)>)> {
    if !filter.is_rollup_only() {
        return None;
    }
    let span = Span::of(filter);
    let lo = span.from.map(day_of);
    let hi = span.to.map(day_of);
    // Whole days strictly inside, and the partial edge days.
    let mut first = lo.unwrap_or(i64::MIN);
    let mut last = hi.unwrap_or(i64::MAX);
    let mut edges = Vec::new();
    if let Some(from) = span.from
        && from != first * DAY
    {
        let to = span.to.unwrap_or(i64::MAX).min((first + 1) * DAY - 1);
        edges.push((
            first,
            Span {
                from: Some(from),
                to: Some(to),
            },
        ));
        first += 1;
    }
    if let Some(to) = span.to
        && to != (last + 1) * DAY - 1
        && last >= first
    {
        edges.push((
            last,
            Span {
                from: Some(span.from.unwrap_or(i64::MIN).max(last * DAY)),
                to: Some(to),
            },
        ));
        last -= 1;
    }
    let table = if filter.has_dimensions() {
        "call_counts"
    } else {
        "call_days"
    };
    let c = Conditions::for_rollup(user_id, filter, Some((first, last)));
    let order = if descending { "DESC" } else { "ASC" };
    let tail = Part::new(
        format!(" GROUP BY day HAVING sum(n) > 0 ORDER BY day {order}"),
        Vec::new(),
    );
    let whole = c.statement("day, CAST(sum(n) AS BIGINT)", table, &tail, style);
    let none = Part::new("", Vec::new());
    let edge_counts = edges
        .into_iter()
        .map(|(day, span)| {
            let sql = Conditions::for_calls(user_id, filter, span, None, style)
                .statement("count(*)", "calls", &none, style);
            (day, sql)
        })
        .collect();
    Some((whole, edge_counts))
}

/// Merges whole-day counts with the edge days' counts, in the list's order.
pub fn merge_days(
    mut days: Vec<(i64, u64)>,
    edges: Vec<(i64, u64)>,
    descending: bool,
) -> Vec<(i64, u64)> {
    days.extend(edges.into_iter().filter(|(_, n)| *n > 0));
    days.sort_by_key(|(day, _)| if descending { -*day } else { *day });
    days
}

/// The sort key columns of a list (then `id`), each with its direction.
fn sort_keys(sort: Sort, phone: bool) -> Vec<(&'static str, bool)> {
    let desc = sort.descending();
    let mut keys = Vec::new();
    match sort {
        Sort::CreatedDesc | Sort::CreatedAsc => {
            // With a phone filter the page comes from the phone index, one
            // period after the other; ordering by the period first (which
            // grows with `created_at`, so the order is the same) lets SQLite
            // read the periods in order instead of sorting what it found.
            if phone {
                keys.push((PHONE_PERIOD, desc));
            }
            keys.push(("created_at", desc));
        }
        Sort::DurationDesc | Sort::DurationAsc => keys.push(("duration", desc)),
        // Calls without a cost last in both directions: by these two keys,
        // which the indexes of migration 8 hold as they are written here.
        Sort::CostAsc => {
            keys.push((COST_NULLS_LAST_ASC, false));
            keys.push(("coalesce(total_cost, 0)", false));
        }
        Sort::CostDesc => {
            keys.push((COST_NULLS_LAST_DESC, true));
            keys.push(("coalesce(total_cost, 0)", true));
        }
    }
    keys.push(("id", desc));
    keys
}

const COST_NULLS_LAST_ASC: &str = "(CASE WHEN total_cost IS NULL THEN 1 ELSE 0 END)";
const COST_NULLS_LAST_DESC: &str = "(CASE WHEN total_cost IS NULL THEN 0 ELSE 1 END)";

/// The values of [`sort_keys`] for a row's key.
fn key_values(sort: Sort, phone: bool, key: SortKey) -> Vec<i64> {
    let value = key.value.unwrap_or(0);
    let mut out = Vec::new();
    match sort {
        Sort::CreatedDesc | Sort::CreatedAsc => {
            if phone {
                out.push((value + 62_167_219_200).div_euclid(2_592_000));
            }
            out.push(value);
        }
        Sort::DurationDesc | Sort::DurationAsc => out.push(value),
        Sort::CostAsc => {
            out.push(i64::from(key.value.is_none()));
            out.push(value);
        }
        Sort::CostDesc => {
            out.push(i64::from(key.value.is_some()));
            out.push(value);
        }
    }
    out.push(key.id);
    out
}

/// The statement that picks a page's rows: `SELECT {first}, k0, k1, ..., i
/// FROM calls WHERE ... ORDER BY ... LIMIT ...` (the sort keys as `k0`...,
/// the id as `i`), and the order to read its output in (`page.k0 DESC,
/// ...`). `first` is what each backend fetches the full row by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagePlan {
    pub inner: Sql,
    /// `ORDER BY` over the inner statement's columns, prefixed by `alias.`.
    pub outer_order: String,
}

/// Where a page starts, beyond the window: a deep page's day.
#[derive(Debug, Clone, Copy, Default)]
pub struct Start {
    pub day: Option<i64>,
}

/// A page to read.
#[derive(Debug, Clone, Copy)]
pub struct PageRead<'a> {
    pub user_id: i64,
    pub filter: &'a CallFilter,
    pub sort: Sort,
    pub window: Window,
    pub start: Start,
    pub search: Option<&'a SearchCondition>,
    /// False: every row from the window's start on, in order (no `LIMIT`,
    /// no `OFFSET`), for a caller that picks the page's rows itself.
    pub bounded: bool,
}

/// [`page_plan`], with the statements of the default list (no filter, newest
/// first, by page number) written once per thread and reused: it is the
/// request Famulor's clients make most, and writing its SQL anew was ~5% of
/// it (callgrind, docs/PERFORMANCE.md). The same builder writes them.
pub fn page_plan(read: PageRead<'_>, first: &str, alias: &str, style: Placeholder) -> PagePlan {
    let Window::Offset { offset, limit } = read.window else {
        return build_page_plan(read, first, alias, style);
    };
    let plain = read.sort == Sort::CreatedDesc
        && read.start.day.is_none()
        && read.search.is_none()
        && read.bounded
        && *read.filter == CallFilter::default();
    if !plain {
        return build_page_plan(read, first, alias, style);
    }
    thread_local! {
        static PLAIN: std::cell::RefCell<Vec<(Placeholder, String, String, PagePlan)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let values = vec![
        SqlValue::Int(read.user_id),
        SqlValue::Int(to_i64(limit)),
        SqlValue::Int(to_i64(offset)),
    ];
    PLAIN.with_borrow_mut(|cache| {
        let found = cache
            .iter()
            .find(|(s, f, a, _)| *s == style && f == first && a == alias)
            .map(|(_, _, _, plan)| plan);
        let plan = match found {
            Some(plan) => PagePlan {
                inner: Sql {
                    text: plan.inner.text.clone(),
                    values,
                },
                outer_order: plan.outer_order.clone(),
            },
            None => {
                let plan = build_page_plan(read, first, alias, style);
                cache.push((style, first.to_owned(), alias.to_owned(), plan.clone()));
                plan
            }
        };
        debug_assert_eq!(plan, build_page_plan(read, first, alias, style));
        plan
    })
}

fn build_page_plan(read: PageRead<'_>, first: &str, alias: &str, style: Placeholder) -> PagePlan {
    let PageRead {
        user_id,
        filter,
        sort,
        window,
        start,
        search,
        bounded,
    } = read;
    let phone = filter.phone_number.is_some();
    let keys = sort_keys(sort, phone);
    let mut conditions = Conditions::for_calls(user_id, filter, Span::of(filter), search, style);
    if let Some(day) = start.day {
        if sort.descending() {
            conditions.push(Part::compare(
                "created_at <=",
                SqlValue::Int(day * DAY + DAY - 1),
            ));
        } else {
            conditions.push(Part::compare("created_at >=", SqlValue::Int(day * DAY)));
        }
    }
    // Reading backwards (a previous page) runs the order the other way.
    let (forward, limit, offset) = match window {
        Window::Offset { offset, limit } => (true, limit, Some(offset)),
        Window::Keyset {
            after,
            forward,
            limit,
        } => {
            if let Some(key) = after {
                let columns: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
                let values = key_values(sort, phone, key);
                // After the key in the list's order: smaller in a descending list.
                let op = if sort.descending() == forward {
                    "<"
                } else {
                    ">"
                };
                let marks = vec![MARK.to_string(); values.len()].join(", ");
                conditions.push(Part::new(
                    format!("({}) {op} ({marks})", columns.join(", ")),
                    values.into_iter().map(SqlValue::Int).collect(),
                ));
            }
            (forward, limit, None)
        }
    };
    let order = |prefix: &str, forward: bool| {
        keys.iter()
            .enumerate()
            .map(|(i, (expr, desc))| {
                let mut column = String::new();
                if prefix.is_empty() {
                    column.push_str(expr);
                } else if i + 1 == keys.len() {
                    column.extend([prefix, ".i"]);
                } else {
                    column.extend([prefix, ".k", itoa::Buffer::new().format(i)]);
                }
                if *desc == forward {
                    column.push_str(" DESC");
                }
                column
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut select = vec![first.to_owned()];
    for (i, (expr, _)) in keys.iter().enumerate() {
        if i + 1 == keys.len() {
            select.push([expr, " AS i"].concat());
        } else {
            select.push([expr, " AS k", itoa::Buffer::new().format(i)].concat());
        }
    }
    let limit_mark = match style {
        // CAST: with a bare parameter as LIMIT, SQLite plans with its value and
        // recompiles the statement at every bind (seen as sqlite3Reprepare in
        // the profile, a fifth of a list request).
        Placeholder::Question => format!("CAST({MARK} AS INTEGER)"),
        Placeholder::Dollar => MARK.to_string(),
    };
    let mut tail_values = Vec::new();
    let mut tail = [" ORDER BY ", &order("", forward)].concat();
    if bounded {
        tail.push_str(" LIMIT ");
        tail.push_str(&limit_mark);
        tail_values.push(SqlValue::Int(to_i64(limit)));
        if let Some(offset) = offset {
            tail.push_str(" OFFSET ");
            tail.push(MARK);
            tail_values.push(SqlValue::Int(to_i64(offset)));
        }
    }
    let inner = conditions.statement(
        &select.join(", "),
        "calls",
        &Part::new(tail, tail_values),
        style,
    );
    PagePlan {
        inner,
        outer_order: order(alias, true),
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

#[cfg(test)]
mod tests;
