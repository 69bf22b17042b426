//! Exports in PostgreSQL: every row of the list's order, from one
//! repeatable-read snapshot, fetched through a portal a batch at a time so
//! that neither side holds more than a batch.

use deadpool_postgres::Client;
use tokio_postgres::types::ToSql;

use super::calls::{CALL_SELECT, view_from_row};
use super::list::snapshot;
use super::search::{self, bind};
use crate::domain::CallFilter;
use crate::domain::listing::Sort;
use crate::store::StoreResult;
use crate::store::export::Chunks;
use crate::store::query::{self, PageRead, Placeholder};

const STYLE: Placeholder = Placeholder::Dollar;

/// Rows fetched per round trip.
const BATCH: i32 = 500;

pub async fn export(
    client: &mut Client,
    user_id: i64,
    filter: &CallFilter,
    sort: Sort,
    chunks: &mut Chunks,
) -> StoreResult<u64> {
    let tx = snapshot(client).await?;
    if query::matches_nothing(filter) {
        return Ok(0);
    }
    let search = match &filter.search {
        Some(q) => Some(search::prepare(&tx, user_id, q).await?.condition),
        None => None,
    };
    let plan = query::page_plan(
        PageRead::all(user_id, filter, sort, search.as_ref()),
        "id",
        "page",
        STYLE,
    );
    let sql = format!(
        "WITH page AS ({}) {CALL_SELECT} JOIN page ON page.id = c.id WHERE c.user_id = $1::bigint ORDER BY {}",
        plan.inner.text, plan.outer_order
    );
    let stmt = tx.prepare(&sql).await?;
    let args = bind(&plan.inner.values);
    let refs: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let portal = tx.bind(&stmt, &refs).await?;
    loop {
        let rows = tx.query_portal(&portal, BATCH).await?;
        let last = rows.len() < usize::try_from(BATCH).unwrap_or(usize::MAX);
        for row in &rows {
            if let Some(chunk) = chunks.push(&view_from_row(row)?)
                && !chunks.send(chunk).await
            {
                return Ok(chunks.calls);
            }
        }
        if last {
            break;
        }
    }
    let rest = chunks.take();
    chunks.send(rest).await;
    tx.commit().await?;
    Ok(chunks.calls)
}
