//! Transcript search in PostgreSQL: `call_search` (migration 8), a
//! `tsvector` per call kept in the same transaction as every write of its
//! transcript (a deleted call's goes with it by cascade), and the condition
//! a search adds to a read of `calls`.
//!
//! The GIN index decides exactly for every call whose document holds all of
//! its words at all of their positions (`fidelity` 0), and for words and
//! prefixes on documents that hold all words (1). The rare transcripts beyond
//! PostgreSQL's limits (see `store::search`) are checked on their text by
//! `domain::search`, so both backends find the same calls.

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use crate::domain::search::matches::transcript_matches;
use crate::domain::search::{SearchQuery, index_words};
use crate::store::StoreResult;
use crate::store::query::{MARK, Part, SearchCondition, SqlValue};
use crate::store::search::{Fidelity, tsquery, tsvector_document};

/// Writes documents, replacing what their calls had (unless the same).
const INDEX_SQL: &str = "INSERT INTO call_search (user_id, call_id, fidelity, doc)
     SELECT u, c, f, d::tsvector FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::text[]) AS t(u, c, f, d)
     ON CONFLICT (user_id, call_id) DO UPDATE SET fidelity = excluded.fidelity, doc = excluded.doc
     WHERE call_search.doc IS DISTINCT FROM excluded.doc";

/// [`INDEX_SQL`]'s arrays for calls given as `(user, call, words)`.
type IndexArgs = (Vec<i64>, Vec<i64>, Vec<i16>, Vec<String>);

fn index_args(calls: &[(i64, i64, &str)]) -> IndexArgs {
    let mut args: IndexArgs = (vec![], vec![], vec![], vec![]);
    for (user_id, call_id, words) in calls {
        let (doc, fidelity) = tsvector_document(*user_id, words);
        args.0.push(*user_id);
        args.1.push(*call_id);
        args.2.push(fidelity as i16);
        args.3.push(doc);
    }
    args
}

/// Writes the documents of these calls (`(user, call, words)`), replacing
/// what they had: one statement for the lot.
pub async fn index<C: GenericClient>(client: &C, calls: &[(i64, i64, &str)]) -> StoreResult<()> {
    if calls.is_empty() {
        return Ok(());
    }
    let (users, ids, fidelity, docs) = index_args(calls);
    let stmt = client.prepare_cached(INDEX_SQL).await?;
    client
        .execute(&stmt, &[&users, &ids, &fidelity, &docs])
        .await?;
    Ok(())
}

/// Indexes every call (migration 8), in the migration's transaction.
pub async fn backfill(client: &impl tokio_postgres::GenericClient) -> anyhow::Result<()> {
    let mut after = (i64::MIN, i64::MIN);
    loop {
        let rows = client
            .query(
                "SELECT user_id, id, transcript FROM calls WHERE (user_id, id) > ($1, $2)
                 ORDER BY user_id, id LIMIT 2000",
                &[&after.0, &after.1],
            )
            .await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        after = (last.get(0), last.get(1));
        let words: Vec<(i64, i64, String)> = rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    r.get(1),
                    index_words(r.get::<_, &str>(2).as_bytes()),
                )
            })
            .collect();
        let calls: Vec<(i64, i64, &str)> =
            words.iter().map(|(u, c, w)| (*u, *c, w.as_str())).collect();
        let (users, ids, fidelity, docs) = index_args(&calls);
        client
            .execute(INDEX_SQL, &[&users, &ids, &fidelity, &docs])
            .await?;
    }
}

/// What a search adds to one read.
pub struct Search {
    /// How many calls of the user match the query alone.
    pub matches: u64,
    pub condition: SearchCondition,
}

/// Checks the user's inexact documents on their text, counts the matches,
/// and writes the condition.
pub async fn prepare<C: GenericClient>(
    client: &C,
    user_id: i64,
    query: &SearchQuery,
) -> StoreResult<Search> {
    let phrases = query.has_phrase();
    // Which documents the index decides alone.
    let exact = if phrases {
        Fidelity::Exact
    } else {
        Fidelity::Words
    } as i16;
    let q = tsquery(user_id, query, true);
    let words_only = tsquery(user_id, query, false);
    let inexact = client
        .prepare_cached(
            "SELECT c.id, c.transcript FROM call_search s
             JOIN calls c ON c.user_id = s.user_id AND c.id = s.call_id
             WHERE s.user_id = $1 AND s.fidelity > $2
               AND (s.fidelity = 2 OR s.doc @@ $3::text::tsquery)",
        )
        .await?;
    let verified: Vec<i64> = client
        .query(&inexact, &[&user_id, &exact, &words_only])
        .await?
        .iter()
        .filter(|row| transcript_matches(query, row.get::<_, &str>(1).as_bytes()))
        .map(|row| row.get(0))
        .collect();
    let count = client
        .prepare_cached(
            "SELECT count(*) FROM call_search WHERE user_id = $1 AND fidelity <= $2 AND doc @@ $3::text::tsquery",
        )
        .await?;
    let found: i64 = client
        .query_one(&count, &[&user_id, &exact, &q])
        .await?
        .get(0);
    let matches = found.unsigned_abs() + verified.len() as u64;
    let mut values = vec![
        SqlValue::Int(user_id),
        SqlValue::Int(i64::from(exact)),
        SqlValue::Text(q),
    ];
    let mut sql = format!(
        "id IN (SELECT call_id FROM call_search WHERE user_id = {MARK} AND (fidelity <= {MARK} AND doc @@ {MARK}::tsquery"
    );
    if !verified.is_empty() {
        sql.push_str(&format!(" OR call_id = ANY({MARK})"));
        values.push(SqlValue::Ints(verified));
    }
    sql.push_str("))");
    Ok(Search {
        matches,
        condition: SearchCondition {
            part: Part::new(sql, values),
            drives: false,
        },
    })
}

/// Generated values, typed as their casts say.
pub fn bind(values: &[SqlValue]) -> Vec<Box<dyn ToSql + Sync + Send>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync + Send> {
            match v {
                SqlValue::Int(n) => Box::new(*n),
                SqlValue::Text(t) => Box::new(t.clone()),
                SqlValue::Ints(ns) => Box::new(ns.clone()),
            }
        })
        .collect()
}
