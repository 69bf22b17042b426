//! Stats in SQLite: the reads of [`StatsPlan`] in one read transaction.

use rusqlite::{Connection, params_from_iter};

use super::calls::in_read_transaction;
use super::list::args;
use super::search;
use crate::domain::stats::StatsQuery;
use crate::store::StoreResult;
use crate::store::counts::Tally;
use crate::store::query::{self, Placeholder, Sql};
use crate::store::stats::{StatsAnswer, StatsData, StatsPlan, assistant_names, data_days};

const STYLE: Placeholder = Placeholder::Question;

pub fn stats(conn: &Connection, user_id: i64, query: &StatsQuery) -> StoreResult<StatsAnswer> {
    in_read_transaction(conn, || read(conn, user_id, query))
}

fn read(conn: &Connection, user_id: i64, query: &StatsQuery) -> StoreResult<StatsAnswer> {
    let mut data = StatsData::none(query);
    if !query::matches_nothing(&query.filter) {
        let days = data_days(user_id, STYLE);
        let span: (Option<i64>, Option<i64>) = conn
            .prepare_cached(&days.text)?
            .query_row(params_from_iter(args(&days)), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let search = query
            .filter
            .search
            .as_ref()
            .map(|q| search::condition(user_id, q));
        let data_span = span.0.zip(span.1);
        let Ok(mut plan) = StatsPlan::new(user_id, query, data_span, search.as_ref(), STYLE) else {
            return Ok(StatsAnswer::TooManyPeriods);
        };
        for read in plan.take_reads() {
            each_row(conn, &read.sql, read.keys, |keys, tally| {
                plan.absorb(&read, keys, tally);
            })?;
        }
        data = plan.finish();
    }
    let ids = data.assistant_ids();
    let mut assistants = Vec::new();
    if !ids.is_empty() {
        let sql = assistant_names(user_id, ids, STYLE);
        let mut stmt = conn.prepare_cached(&sql.text)?;
        let mut rows = stmt.query(params_from_iter(args(&sql)))?;
        while let Some(row) = rows.next()? {
            assistants.push((row.get(0)?, row.get(1)?));
        }
    }
    Ok(StatsAnswer::Stats { data, assistants })
}

/// Hands each row's `keys` leading columns and the five sums after them.
fn each_row(
    conn: &Connection,
    sql: &Sql,
    keys: usize,
    mut f: impl FnMut(&[i64], Tally),
) -> StoreResult<()> {
    let mut stmt = conn.prepare_cached(&sql.text)?;
    let mut rows = stmt.query(params_from_iter(args(sql)))?;
    let mut key = Vec::with_capacity(keys);
    while let Some(row) = rows.next()? {
        key.clear();
        for i in 0..keys {
            key.push(row.get::<_, i64>(i)?);
        }
        let tally = Tally {
            n: row.get(keys)?,
            duration_sum: row.get(keys + 1)?,
            duration_n: row.get(keys + 2)?,
            total_cost: row.get(keys + 3)?,
            carrier_cost: row.get(keys + 4)?,
        };
        f(&key, tally);
    }
    Ok(())
}
