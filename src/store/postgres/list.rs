//! Lists of calls in PostgreSQL: the total, the facets and the page of a
//! [`ListRequest`], from one snapshot, with the SQL of `store::query`.

use std::collections::BTreeMap;

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use super::calls::CALL_SELECT;
use super::search::{self, bind};
use crate::domain::CallFilter;
use crate::domain::listing::{Sort, Window};
use crate::store::query::{
    self, CountPart, DEEP_OFFSET, PageRead, Placeholder, SearchCondition, Sql, Start,
};
use crate::store::{ListOutcome, ListRequest, StoreResult};

const STYLE: Placeholder = Placeholder::Dollar;

fn refs(args: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

async fn rows(tx: &Transaction<'_>, sql: &Sql) -> StoreResult<Vec<Row>> {
    let stmt = tx.prepare_cached(&sql.text).await?;
    Ok(tx.query(&stmt, &refs(&bind(&sql.values))).await?)
}

async fn sum(tx: &Transaction<'_>, parts: &[CountPart]) -> StoreResult<u64> {
    let mut total = 0i64;
    for part in parts {
        for row in rows(tx, &part.sql).await? {
            total += part.sign * row.try_get::<_, i64>(0)?;
        }
    }
    Ok(total.max(0).unsigned_abs())
}

async fn sum_grouped(tx: &Transaction<'_>, parts: &[CountPart]) -> StoreResult<Vec<(i64, u64)>> {
    let mut by_key: BTreeMap<i64, i64> = BTreeMap::new();
    for part in parts {
        for row in rows(tx, &part.sql).await? {
            let key: i64 = row.try_get(0)?;
            *by_key.entry(key).or_default() += part.sign * row.try_get::<_, i64>(1)?;
        }
    }
    Ok(by_key
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k, n.unsigned_abs()))
        .collect())
}

/// A read-only transaction whose reads all see one snapshot (a list's
/// total and rows, stats, an export).
pub(super) async fn snapshot(client: &mut Client) -> StoreResult<Transaction<'_>> {
    Ok(client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?)
}

fn only_search(filter: &CallFilter) -> bool {
    filter.search.is_some()
        && CallFilter {
            search: None,
            ..filter.clone()
        } == CallFilter::default()
}

/// The outcome and the page's rows (`CALL_SELECT`'s columns), in order.
pub async fn list(
    client: &mut Client,
    user_id: i64,
    request: ListRequest<'_>,
) -> StoreResult<(ListOutcome, Vec<Row>)> {
    let filter = request.filter;
    if query::matches_nothing(filter) {
        return Ok((ListOutcome::empty(request.facets), Vec::new()));
    }
    // The total, the facets and the rows come from one snapshot.
    let tx = snapshot(client).await?;
    let search = match &filter.search {
        Some(q) => Some(search::prepare(&tx, user_id, q).await?),
        None => None,
    };
    if search.as_ref().is_some_and(|s| s.matches == 0) {
        tx.commit().await?;
        return Ok((ListOutcome::empty(request.facets), Vec::new()));
    }
    let condition = search.as_ref().map(|s| &s.condition);

    // A deep page starts on the day it falls on (see the SQLite backend).
    let mut start = Start::default();
    let mut window = request.window;
    let mut total = None;
    if let Window::Offset { offset, limit } = window
        && offset >= DEEP_OFFSET
        && matches!(request.sort, Sort::CreatedDesc | Sort::CreatedAsc)
        && let Some((whole, edges)) =
            query::day_counts(user_id, filter, request.sort.descending(), STYLE)
    {
        let mut days = Vec::new();
        for row in rows(&tx, &whole).await? {
            days.push((
                row.try_get::<_, i64>(0)?,
                row.try_get::<_, i64>(1)?.unsigned_abs(),
            ));
        }
        let mut edge_days = Vec::new();
        for (day, sql) in &edges {
            let n: i64 = rows(&tx, sql)
                .await?
                .first()
                .map_or(Ok(0), |r| r.try_get(0))?;
            edge_days.push((*day, n.unsigned_abs()));
        }
        let days = query::merge_days(days, edge_days, request.sort.descending());
        total = Some(days.iter().map(|(_, n)| n).sum());
        window = match query::locate(&days, offset) {
            Some(at) => {
                start.day = Some(at.day);
                Window::Offset {
                    offset: at.offset,
                    limit,
                }
            }
            None => Window::Offset {
                offset: u64::MAX,
                limit,
            },
        };
    }
    let total = match total {
        Some(total) => total,
        None if only_search(filter) => search.as_ref().map_or(0, |s| s.matches),
        None => {
            sum(
                &tx,
                &query::count_plan(user_id, filter, None, condition, STYLE),
            )
            .await?
        }
    };
    let mut facets = Vec::with_capacity(request.facets.len());
    for facet in request.facets {
        let parts = query::count_plan(user_id, filter, Some(*facet), condition, STYLE);
        facets.push((*facet, sum_grouped(&tx, &parts).await?));
    }
    let past_the_end = matches!(window, Window::Offset { offset, .. } if offset >= total);
    let page = if past_the_end || total == 0 {
        Vec::new()
    } else {
        page(&tx, user_id, request, window, start, condition).await?
    };
    tx.commit().await?;
    Ok((ListOutcome { total, facets }, page))
}

/// The page's ids come from an index first; only those rows are read.
async fn page(
    tx: &Transaction<'_>,
    user_id: i64,
    request: ListRequest<'_>,
    window: Window,
    start: Start,
    search: Option<&SearchCondition>,
) -> StoreResult<Vec<Row>> {
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
        "id",
        "page",
        STYLE,
    );
    let sql = Sql {
        text: format!(
            "WITH page AS ({}) {CALL_SELECT} JOIN page ON page.id = c.id WHERE c.user_id = $1::bigint ORDER BY {}",
            plan.inner.text, plan.outer_order
        ),
        values: plan.inner.values,
    };
    rows(tx, &sql).await
}
