//! Lists of calls in SQLite: the total, the facets and the page of a
//! [`ListRequest`], from one read transaction, with the SQL of
//! `store::query`.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::calls::{
    CALL_BY_ROWID, CALL_COLUMNS, CALL_NAMES, in_read_transaction, read_as_token, view_from_row,
};
use super::search::{self, Matches, Membership};
use crate::domain::listing::{Sort, Window};
use crate::domain::{CallFilter, CallView};
use crate::store::query::{
    self, CountPart, DEEP_OFFSET, PagePlan, PageRead, Placeholder, SearchCondition, Sql, SqlValue,
    Start,
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

pub(super) fn args(sql: &Sql) -> impl Iterator<Item = Value> + '_ {
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
    let narrowed = !only_search(filter);
    let search = match &filter.search {
        Some(q) => Some(search::prepare(conn, user_id, q, request.window, narrowed)?),
        None => None,
    };
    if search.as_ref().is_some_and(|s| s.matches == 0) {
        return Ok(ListOutcome::empty(request.facets));
    }

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
    let total = match (total, &search) {
        (Some(total), _) => total,
        (None, None) => sum(conn, &query::count_plan(user_id, filter, None, None, STYLE))?,
        (None, Some(s)) if !narrowed => s.matches,
        (None, Some(s)) => match &s.count {
            Matches::Lookup(condition) => sum(
                conn,
                &query::count_plan(user_id, filter, None, Some(condition), STYLE),
            )?,
            Matches::Walk(matches) => {
                let rows = query::rows_without_search(user_id, filter, "id", STYLE);
                stream_grouped(conn, &rows, matches.all().unwrap_or_default(), false)?
                    .first()
                    .map_or(0, |(_, n)| *n)
            }
        },
    };
    let mut facets = Vec::with_capacity(request.facets.len());
    for facet in request.facets {
        let counts = match search.as_ref().map(|s| &s.count) {
            Some(Matches::Walk(matches)) => {
                let select = format!("id, {}", query::facet_column(*facet));
                let rows = query::rows_without_search(user_id, filter, &select, STYLE);
                stream_grouped(conn, &rows, matches.all().unwrap_or_default(), true)?
            }
            lookup => {
                let condition = match lookup {
                    Some(Matches::Lookup(condition)) => Some(condition),
                    _ => None,
                };
                let parts = query::count_plan(user_id, filter, Some(*facet), condition, STYLE);
                sum_grouped(conn, &parts)?
            }
        };
        facets.push((*facet, counts));
    }

    let past_the_end = matches!(window, Window::Offset { offset, .. } if offset >= total);
    if !past_the_end && total > 0 {
        match search.map(|s| s.page) {
            Some(Matches::Walk(mut matches)) => walk(conn, user_id, request, &mut matches, sink)?,
            Some(Matches::Lookup(condition)) => {
                page(
                    conn,
                    user_id,
                    request,
                    window,
                    start,
                    Some(&condition),
                    sink,
                )?;
            }
            None => page(conn, user_id, request, window, start, None, sink)?,
        }
    }
    Ok(ListOutcome { total, facets })
}

/// Counts the rows of `rows` (`SELECT id[, key]`) whose id is among `ids`,
/// by key (`grouped`) or all under key 0; keys without any are left out.
fn stream_grouped(
    conn: &Connection,
    rows: &Sql,
    ids: &[i64],
    grouped: bool,
) -> StoreResult<Vec<(i64, u64)>> {
    let mut by_key: BTreeMap<i64, u64> = BTreeMap::new();
    let mut stmt = conn.prepare_cached(&rows.text)?;
    let mut found = stmt.query(params_from_iter(args(rows)))?;
    while let Some(row) = found.next()? {
        if ids.binary_search(&row.get(0)?).is_ok() {
            let key = if grouped { row.get(1)? } else { 0 };
            *by_key.entry(key).or_default() += 1;
        }
    }
    Ok(by_key.into_iter().collect())
}

/// The page of a search with many matches: the user's calls walked in the
/// list's order (an index, no call bodies) a stretch at a time, those that
/// match kept, then read whole.
fn walk(
    conn: &Connection,
    user_id: i64,
    request: ListRequest<'_>,
    matches: &mut Membership,
    sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
) -> StoreResult<()> {
    let plan = query::page_plan(
        PageRead {
            user_id,
            filter: request.filter,
            sort: request.sort,
            window: request.window,
            start: Start::default(),
            search: None,
            bounded: false,
        },
        "rowid AS r",
        "page",
        STYLE,
    );
    let (mut skip, take, backward) = match request.window {
        Window::Offset { offset, limit } => (offset, limit, false),
        Window::Keyset { forward, limit, .. } => (0, limit, !forward),
    };
    let take = usize::try_from(take).unwrap_or(usize::MAX);
    let mut rowids = Vec::new();
    {
        let mut stmt = conn.prepare_cached(&plan.inner.text)?;
        let id_column = stmt.column_count() - 1;
        let mut rows = stmt.query(params_from_iter(args(&plan.inner)))?;
        // Stretches grow, so a sparse walk makes few trips to the index.
        let mut stretch = 64;
        let mut done = false;
        while !done && rowids.len() < take {
            let mut chunk: Vec<(i64, i64)> = Vec::with_capacity(stretch);
            while chunk.len() < stretch {
                match rows.next()? {
                    Some(row) => chunk.push((row.get(0)?, row.get(id_column)?)),
                    None => {
                        done = true;
                        break;
                    }
                }
            }
            let ids: Vec<i64> = chunk.iter().map(|(_, id)| *id).collect();
            if ids.is_empty() {
                break;
            }
            let hits = matches.among(conn, &ids)?;
            for ((rowid, _), hit) in chunk.iter().zip(hits) {
                if !hit {
                    continue;
                }
                if skip > 0 {
                    skip -= 1;
                } else if rowids.len() < take {
                    rowids.push(*rowid);
                }
            }
            stretch = (stretch * 2).min(4_096);
        }
    }
    // Read backwards, the nearest come first: the list's order is the other way.
    if backward {
        rowids.reverse();
    }
    let mut stmt = conn.prepare_cached(CALL_BY_ROWID)?;
    for rowid in rowids {
        let mut rows = stmt.query([rowid])?;
        if let Some(row) = rows.next()? {
            sink(&view_from_row(row)?);
        }
    }
    Ok(())
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
/// The full rows of a page plan's ids (`rowid AS r`), in its order.
pub(super) fn rows_of(plan: &PagePlan) -> String {
    // The outer order is already the subquery's, which SQLite keeps without
    // a sort (it knows the co-routine yields it so) when the subquery reads
    // forwards; written out so that the order is guaranteed rather than a
    // property of the plan.
    format!(
        "{CALL_COLUMNS} FROM ({}) AS page CROSS JOIN calls c ON c.rowid = page.r {CALL_NAMES} ORDER BY {}",
        plan.inner.text, plan.outer_order
    )
}

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
            bounded: true,
        },
        "rowid AS r",
        "page",
        STYLE,
    );
    let mut stmt = conn.prepare_cached(&rows_of(&plan))?;
    let mut rows = stmt.query(params_from_iter(args(&plan.inner)))?;
    while let Some(row) = rows.next()? {
        sink(&view_from_row(row)?);
    }
    Ok(())
}
