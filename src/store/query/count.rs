//! Counts: the signed sum of rollup reads and row counts that makes a
//! filter's total (and its facets), and the per-day counts a deep page
//! starts from.

use crate::domain::CallFilter;
use crate::domain::listing::Facet;

use super::super::counts::{DAY, day_of};
use super::*;

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
pub struct DaySplit {
    /// Whole days, inclusive; `(i64::MIN, i64::MAX)` for all time.
    pub days: Option<(i64, i64)>,
    /// Partial days: `(sign, span)`.
    pub edges: Vec<(i64, Span)>,
}

/// Splits `[from, to]` into whole UTC days and the edges around them, each
/// edge taken the shorter way: the calls before midnight added, or the whole
/// day added and the calls outside the range taken away.
pub fn split_days(span: Span) -> DaySplit {
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
