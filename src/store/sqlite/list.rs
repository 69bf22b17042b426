//! Lists of calls in SQLite: the total, the facets and the page of a
//! [`ListRequest`], from one read transaction, with the SQL of
//! `store::query`.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::calls::{CALL_COLUMNS, CALL_NAMES, in_read_transaction, read_as_token, view_from_row};
use super::search;
use crate::domain::listing::{Sort, Window};
use crate::domain::{CallFilter, CallView};
use crate::store::query::{
    self, CountPart, DEEP_OFFSET, PageRead, Placeholder, SearchCondition, Sql, SqlValue, Start,
};
use crate::store::{ListOutcome, ListRequest, Reader, StoreResult};

const STYLE: Placeholder = Placeholder::Question;

fn bind(value: &SqlValue) -> Value {
    match value {
        SqlValue::Int(n) => Value::Integer(*n),
        SqlValue::Text(t) => Value::Text(t.clone()),
        // Never bound in SQLite (lists are written out).
        SqlValue::Ints(_) => Value::Null,
    }
}

fn args(sql: &Sql) -> impl Iterator<Item = Value> + '_ {
    sql.values.iter().map(bind)
}

/// The signed sum of counts.
fn sum(conn: &Connection, parts: &[CountPart]) -> StoreResult<u64> {
    let mut total = 0i64;
    for part in parts {
        let n: i64 = conn
            .prepare_cached(&part.sql.text)?
            .query_row(params_from_iter(args(&part.sql)), |r| r.get(0))?;
        total += part.sign * n;
    }
    Ok(total.max(0).unsigned_abs())
}

/// The signed sum of grouped counts, zeros left out, by key.
fn sum_grouped(conn: &Connection, parts: &[CountPart]) -> StoreResult<Vec<(i64, u64)>> {
    let mut by_key: BTreeMap<i64, i64> = BTreeMap::new();
    for part in parts {
        let mut stmt = conn.prepare_cached(&part.sql.text)?;
        let mut rows = stmt.query(params_from_iter(args(&part.sql)))?;
        while let Some(row) = rows.next()? {
            *by_key.entry(row.get(0)?).or_default() += part.sign * row.get::<_, i64>(1)?;
        }
    }
    Ok(by_key
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k, n.unsigned_abs()))
        .collect())
}

/// A list request's rows handed to `sink`, with its total and facets; one
/// read transaction, and a token reader checked in it.
pub fn list_into(
    conn: &Connection,
    reader: Reader<'_>,
    request: ListRequest<'_>,
    sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
) -> StoreResult<Option<ListOutcome>> {
    let mut list = |user_id: i64| read(conn, user_id, request, sink);
    match reader {
        // The total and the rows come from one snapshot even while an import
        // commits in between: the token's open statement holds it, or BEGIN.
        Reader::Token { hash, now, gate } => read_as_token(conn, hash, now, gate, list),
        Reader::User(user_id) => in_read_transaction(conn, || list(user_id)).map(Some),
    }
}

/// True when a search is all there is to the filter: its total is the
/// number of matches.
fn only_search(filter: &CallFilter) -> bool {
    filter.search.is_some()
        && CallFilter {
            search: None,
            ..filter.clone()
        } == CallFilter::default()
}

fn read(
    conn: &Connection,
    user_id: i64,
    request: ListRequest<'_>,
    sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
) -> StoreResult<ListOutcome> {
    let filter = request.filter;
    if query::matches_nothing(filter) {
        return Ok(ListOutcome::empty(request.facets));
    }
    let search = match &filter.search {
        Some(q) => Some(search::prepare(conn, user_id, q, request.window)?),
        None => None,
    };
    if search.as_ref().is_some_and(|s| s.matches == 0) {
        return Ok(ListOutcome::empty(request.facets));
    }
    let count_condition = search.as_ref().map(|s| &s.count);
    let page_condition = search.as_ref().map(|s| &s.page);

    // A deep page of a list by creation time starts on the day it falls on
    // (from the per-day rollup), so the skip stays within one day's rows
    // whatever the page number.
    let created = matches!(request.sort, Sort::CreatedDesc | Sort::CreatedAsc);
    let mut start = Start::default();
    let mut window = request.window;
    let mut total = None;
    if let Window::Offset { offset, limit } = window
        && offset >= DEEP_OFFSET
        && created
        && let Some((whole, edges)) =
            query::day_counts(user_id, filter, request.sort.descending(), STYLE)
    {
        let mut days: Vec<(i64, u64)> = conn
            .prepare_cached(&whole.text)?
            .query_map(params_from_iter(args(&whole)), |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?.unsigned_abs()))
            })?
            .collect::<rusqlite::Result<_>>()?;
        let mut edge_days = Vec::new();
        for (day, sql) in &edges {
            let n: i64 = conn
                .prepare_cached(&sql.text)?
                .query_row(params_from_iter(args(sql)), |r| r.get(0))?;
            edge_days.push((*day, n.unsigned_abs()));
        }
        days = query::merge_days(days, edge_days, request.sort.descending());
        total = Some(days.iter().map(|(_, n)| n).sum());
        match query::locate(&days, offset) {
            Some(at) => {
                start.day = Some(at.day);
                window = Window::Offset {
                    offset: at.offset,
                    limit,
                };
            }
            None => {
                window = Window::Offset {
                    offset: u64::MAX,
                    limit,
                }
            }
        }
    }
    let total = match total {
        Some(total) => total,
        None if only_search(filter) => search.as_ref().map_or(0, |s| s.matches),
        None => sum(
            conn,
            &query::count_plan(user_id, filter, None, count_condition, STYLE),
        )?,
    };
    let mut facets = Vec::with_capacity(request.facets.len());
    for facet in request.facets {
        let parts = query::count_plan(user_id, filter, Some(*facet), count_condition, STYLE);
        facets.push((*facet, sum_grouped(conn, &parts)?));
    }

    let past_the_end = matches!(window, Window::Offset { offset, .. } if offset >= total);
    if !past_the_end && total > 0 {
        page(conn, user_id, request, window, start, page_condition, sink)?;
    }
    Ok(ListOutcome { total, facets })
}

/// Hands the page's rows to `sink`, in order.
///
/// The page's rowids come from an index (the skip touches index entries,
/// never call bodies), in a subquery that SQLite runs as a co-routine: the
/// outer loop reads each row by rowid in the order the subquery yields them.
/// (An outer `ORDER BY` on the calls' own columns made SQLite copy every
/// full row into a temporary B-tree to sort them again; one on the
/// subquery's columns does not; `IN (...)` built an ephemeral index; one
/// statement per row paid 15 executions.)
fn page(
    conn: &Connection,
    user_id: i64,
    request: ListRequest<'_>,
    window: Window,
    start: Start,
    search: Option<&SearchCondition>,
    sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
) -> StoreResult<()> {
    let plan = query::page_plan(
        PageRead {
            user_id,
            filter: request.filter,
            sort: request.sort,
            window,
            start,
            search,
        },
        "rowid AS r",
        "page",
        STYLE,
    );
    // The outer order is already the subquery's, which SQLite keeps without
    // a sort (it knows the co-routine yields it so) when the subquery reads
    // forwards; written out so that the order is guaranteed rather than a
    // property of the plan.
    let sql = format!(
        "{CALL_COLUMNS} FROM ({}) AS page CROSS JOIN calls c ON c.rowid = page.r {CALL_NAMES} ORDER BY {}",
        plan.inner.text, plan.outer_order
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(params_from_iter(args(&plan.inner)))?;
    while let Some(row) = rows.next()? {
        sink(&view_from_row(row)?);
    }
    Ok(())
}
