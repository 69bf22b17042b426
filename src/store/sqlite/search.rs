//! Transcript search in SQLite: the FTS5 table `call_words` (migration 8),
//! kept in the same transaction as every write of a transcript, and the
//! condition a search adds to a read of `calls`.
//!
//! FTS5 decides which calls match exactly (the words are callbase's own, see
//! `store::search`). How its matches are joined with the rest of a read
//! depends on how many there are, counted first (FTS5 counts a word's
//! entries without reading any call):
//! - few: each match is looked up by id and the other filters checked on it;
//! - many: the user's calls are walked in the list's order and each is
//!   checked against the index (`rowid = id`), which stops after one page;
//!   a count with other filters probes the matches, gathered once, from the
//!   covering index.

use rusqlite::{Connection, params};

use crate::domain::listing::Window;
use crate::domain::search::{SearchQuery, index_words};
use crate::store::StoreResult;
use crate::store::query::{MARK, Part, SearchCondition, SqlValue};
use crate::store::search::{fts5_document, fts5_match};

/// Adds a call's words to the index (a call without one).
pub fn index(conn: &Connection, user_id: i64, call_id: i64, words: &str) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT INTO call_words (rowid, words) VALUES (?1, ?2)")?
        .execute(params![call_id, fts5_document(user_id, words)])?;
    Ok(())
}

/// Takes a call out of the index.
pub fn unindex(conn: &Connection, call_id: i64) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM call_words WHERE rowid = ?1")?
        .execute([call_id])?;
    Ok(())
}

/// Replaces a call's words in the index (its transcript changed).
pub fn reindex(conn: &Connection, user_id: i64, call_id: i64, words: &str) -> rusqlite::Result<()> {
    unindex(conn, call_id)?;
    index(conn, user_id, call_id, words)
}

/// Indexes every call (migration 8), in the migration's transaction.
pub fn backfill(conn: &Connection) -> anyhow::Result<()> {
    let mut calls = conn.prepare("SELECT id, user_id, transcript FROM calls")?;
    let mut rows = calls.query([])?;
    let mut done = 0u64;
    while let Some(row) = rows.next()? {
        let (id, user_id): (i64, i64) = (row.get(0)?, row.get(1)?);
        let transcript = row.get_ref(2)?.as_bytes()?;
        index(conn, user_id, id, &index_words(transcript))?;
        done += 1;
        if done.is_multiple_of(100_000) {
            tracing::info!(calls = done, "indexing transcripts for search");
        }
    }
    Ok(())
}

/// What a search adds to one read.
pub struct Search {
    /// How many calls of the user match the query alone.
    pub matches: u64,
    /// The condition for counting the filter's calls.
    pub count: SearchCondition,
    /// The condition for reading the page.
    pub page: SearchCondition,
}

/// Rough costs, in microseconds, from profiles of the benchmark's data: a
/// call looked up by id (index and row), a call of the walk checked against
/// the index, a match gathered for probing.
const LOOKUP_US: u64 = 2;
const CHECK_US: u64 = 10;
const GATHER_US: u64 = 1;

/// Counts the query's matches and picks how the read joins them.
pub fn prepare(
    conn: &Connection,
    user_id: i64,
    query: &SearchQuery,
    window: Window,
) -> StoreResult<Search> {
    let expression = fts5_match(user_id, query);
    let matches: i64 = conn
        .prepare_cached("SELECT count(*) FROM call_words WHERE call_words MATCH ?1")?
        .query_row([&expression], |r| r.get(0))?;
    let matches = matches.unsigned_abs();
    let calls: i64 = conn
        .prepare_cached("SELECT coalesce(sum(n), 0) FROM call_user_totals WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?;
    let calls = calls.unsigned_abs().max(1);
    let text = || vec![SqlValue::Text(expression.clone())];
    let lookup = || SearchCondition {
        part: Part::new(
            format!("id IN (SELECT rowid FROM call_words WHERE call_words MATCH {MARK})"),
            text(),
        ),
        drives: true,
    };
    // A count with other filters: the matches looked up one by one, or
    // gathered once and probed while the covering index is scanned.
    let count = if matches * LOOKUP_US <= matches * GATHER_US + calls / 4 {
        lookup()
    } else {
        SearchCondition {
            part: Part::new(
                format!("+id IN (SELECT rowid FROM call_words WHERE call_words MATCH {MARK})"),
                text(),
            ),
            drives: false,
        }
    };
    // A page: every match looked up (and sorted), or the walk, which reads
    // about calls/matches calls for each one it keeps.
    let wanted = match window {
        Window::Offset { offset, limit } => offset.saturating_add(limit),
        Window::Keyset { limit, .. } => limit,
    };
    let walk = wanted.saturating_mul(calls) / matches.max(1) * CHECK_US;
    let page = if matches * LOOKUP_US <= walk {
        lookup()
    } else {
        SearchCondition {
            part: Part::new(
                format!(
                    "EXISTS (SELECT 1 FROM call_words WHERE call_words MATCH {MARK} AND rowid = calls.id)"
                ),
                text(),
            ),
            drives: false,
        }
    };
    Ok(Search {
        matches,
        count,
        page,
    })
}
