//! Exports in SQLite: every row of the list's order, from one read
//! transaction on a connection of the export's own (see `Pool::read_long`).

use rusqlite::{Connection, params_from_iter};

use super::calls::{in_read_transaction, view_from_row};
use super::list::args;
use super::search;
use crate::domain::CallFilter;
use crate::domain::listing::Sort;
use crate::store::StoreResult;
use crate::store::export::Chunks;
use crate::store::query::{self, PageRead, Placeholder};

const STYLE: Placeholder = Placeholder::Question;

/// Streams the calls; returns how many were written (fewer when the reader
/// left midway).
pub fn export(
    conn: &Connection,
    user_id: i64,
    filter: &CallFilter,
    sort: Sort,
    chunks: &mut Chunks,
) -> StoreResult<u64> {
    in_read_transaction(conn, || {
        if query::matches_nothing(filter) {
            return Ok(0);
        }
        let search = filter
            .search
            .as_ref()
            .map(|q| search::condition(user_id, q));
        let plan = query::page_plan(
            PageRead::all(user_id, filter, sort, search.as_ref()),
            "rowid AS r",
            "page",
            STYLE,
        );
        let mut stmt = conn.prepare(&super::list::rows_of(&plan))?;
        let mut rows = stmt.query(params_from_iter(args(&plan.inner)))?;
        while let Some(row) = rows.next()? {
            if let Some(chunk) = chunks.push(&view_from_row(row)?)
                && !chunks.send_blocking(chunk)
            {
                return Ok(chunks.calls);
            }
        }
        let rest = chunks.take();
        chunks.send_blocking(rest);
        Ok(chunks.calls)
    })
}
