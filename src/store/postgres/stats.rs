//! Stats in PostgreSQL: the reads of [`StatsPlan`] in one repeatable-read
//! snapshot.

use deadpool_postgres::{Client, Transaction};
use tokio_postgres::types::ToSql;

use super::list::snapshot;
use super::search::{self, bind};
use crate::domain::stats::StatsQuery;
use crate::store::StoreResult;
use crate::store::counts::Tally;
use crate::store::query::{self, Placeholder, Sql};
use crate::store::stats::{StatsAnswer, StatsData, StatsPlan, assistant_names, data_days};

const STYLE: Placeholder = Placeholder::Dollar;

async fn query_rows(tx: &Transaction<'_>, sql: &Sql) -> StoreResult<Vec<tokio_postgres::Row>> {
    let stmt = tx.prepare_cached(&sql.text).await?;
    let args = bind(&sql.values);
    let refs: Vec<&(dyn ToSql + Sync)> = args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    Ok(tx.query(&stmt, &refs).await?)
}

pub async fn stats(
    client: &mut Client,
    user_id: i64,
    query: &StatsQuery,
) -> StoreResult<StatsAnswer> {
    let tx = snapshot(client).await?;
    let mut data = StatsData::none(query);
    if !query::matches_nothing(&query.filter) {
        let days = data_days(user_id, STYLE);
        let span = query_rows(&tx, &days).await?;
        let data_span = match span.first() {
            Some(row) => row
                .try_get::<_, Option<i64>>(0)?
                .zip(row.try_get::<_, Option<i64>>(1)?),
            None => None,
        };
        let search = match &query.filter.search {
            Some(q) => Some(search::prepare(&tx, user_id, q).await?.condition),
            None => None,
        };
        let Ok(mut plan) = StatsPlan::new(user_id, query, data_span, search.as_ref(), STYLE) else {
            return Ok(StatsAnswer::TooManyPeriods);
        };
        for read in plan.take_reads() {
            for row in query_rows(&tx, &read.sql).await? {
                let mut keys = Vec::with_capacity(read.keys);
                for i in 0..read.keys {
                    keys.push(row.try_get::<_, i64>(i)?);
                }
                let k = read.keys;
                let tally = Tally {
                    n: row.try_get(k)?,
                    duration_sum: row.try_get(k + 1)?,
                    duration_n: row.try_get(k + 2)?,
                    total_cost: row.try_get(k + 3)?,
                    carrier_cost: row.try_get(k + 4)?,
                };
                plan.absorb(&read, &keys, tally);
            }
        }
        data = plan.finish();
    }
    let ids = data.assistant_ids();
    let mut assistants = Vec::new();
    if !ids.is_empty() {
        for row in query_rows(&tx, &assistant_names(user_id, ids, STYLE)).await? {
            assistants.push((row.try_get(0)?, row.try_get(1)?));
        }
    }
    tx.commit().await?;
    Ok(StatsAnswer::Stats { data, assistants })
}
