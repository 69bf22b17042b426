//! Transcript search in SQLite: the FTS5 table `call_words` (migration 8),
//! kept in the same transaction as every write of a transcript, and the
//! condition a search adds to a read of `calls`.
//!
//! FTS5 decides which calls match exactly (the words are callbase's own, see
//! `store::search`). How its matches are joined with the rest of a read
//! depends on how many there are, counted first (FTS5 counts a word's
//! entries without reading any call; a single word's count comes from the
//! index's vocabulary table):
//! - few: each match is looked up by id and the other filters checked on it;
//! - many: the user's calls are walked in the list's order and each is
//!   checked against the index (`rowid = id`), which stops after one page;
//!   a count with other filters probes the matches, gathered once, from the
//!   covering index.

use std::rc::Rc;

use rusqlite::{Connection, params};

use crate::domain::listing::Window;
use crate::domain::search::{SearchQuery, index_words};
use crate::store::StoreResult;
use crate::store::query::{MARK, Part, SearchCondition, SqlValue};
use crate::store::search::{fts5_document, fts5_match, fts5_term};

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

/// How a read joins a search's matches.
pub enum Matches {
    /// Few: each looked up by id (a condition on the read), the rest of the
    /// conditions checked on it.
    Lookup(SearchCondition),
    /// Many: the read walks the user's calls in order and keeps those that
    /// match (see [`Membership`]).
    Walk(Membership),
}

/// Tells which calls of a walk match, a stretch of the walk at a time: the
/// matches among the stretch's ids are read from the index by id range
/// (FTS5 seeks to a rowid), so a page needs only the matches near it. Ids
/// grow with creation time, so in a list by time a stretch's ids are close
/// together; where they are not (a list by duration), a stretch would read
/// most matches, and every match is read once instead.
pub struct Membership {
    expression: String,
    /// Every match's id, sorted, once read in full.
    all: Option<Rc<Vec<i64>>>,
}

/// A stretch whose id range holds more matches than this (and 8 times its
/// own size) reads every match instead.
const STRETCH_MATCHES: usize = 4_096;

impl Membership {
    /// Every match, gathered now (a count of many matches needs them all).
    pub fn gathered(conn: &Connection, expression: &str) -> StoreResult<Self> {
        let ids = matching(conn, expression, None)?;
        Ok(Self {
            expression: expression.to_owned(),
            all: Some(Rc::new(ids)),
        })
    }

    /// The matching ids, when gathered in full.
    pub fn all(&self) -> Option<&[i64]> {
        self.all.as_deref().map(Vec::as_slice)
    }

    /// Which of `ids` match.
    pub fn among(&mut self, conn: &Connection, ids: &[i64]) -> StoreResult<Vec<bool>> {
        if self.all.is_none() {
            let (lo, hi) = ids.iter().fold((i64::MAX, i64::MIN), |(lo, hi), id| {
                (lo.min(*id), hi.max(*id))
            });
            let near = matching(conn, &self.expression, Some((lo, hi)))?;
            if near.len() <= STRETCH_MATCHES.max(8 * ids.len()) {
                return Ok(ids
                    .iter()
                    .map(|id| near.binary_search(id).is_ok())
                    .collect());
            }
            self.all = Some(Rc::new(matching(conn, &self.expression, None)?));
        }
        let all = self.all.as_deref().map_or(&[][..], Vec::as_slice);
        Ok(ids.iter().map(|id| all.binary_search(id).is_ok()).collect())
    }
}

/// The ids matching an FTS5 expression (within an id range), sorted.
fn matching(
    conn: &Connection,
    expression: &str,
    range: Option<(i64, i64)>,
) -> StoreResult<Vec<i64>> {
    let (lo, hi) = range.unwrap_or((i64::MIN, i64::MAX));
    let mut ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT rowid FROM call_words WHERE call_words MATCH ?1 AND rowid >= ?2 AND rowid <= ?3",
        )?
        .query_map(params![expression, lo, hi], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    // FTS5 yields rowids in order; sorted whatever it does.
    ids.sort_unstable();
    Ok(ids)
}

/// What a search adds to one read.
/// The search as a condition on `calls`: the matching ids, looked up.
fn lookup_condition(expression: &str) -> SearchCondition {
    SearchCondition {
        part: Part::new(
            format!("id IN (SELECT rowid FROM call_words WHERE call_words MATCH {MARK})"),
            vec![SqlValue::Text(expression.to_owned())],
        ),
        drives: true,
    }
}

/// The condition for reads that visit every match anyway (stats, export):
/// the matches drive the read.
pub fn condition(user_id: i64, query: &SearchQuery) -> SearchCondition {
    lookup_condition(&fts5_match(user_id, query))
}

pub struct Search {
    /// How many calls of the user match the query alone.
    pub matches: u64,
    /// For the counts (the total, facets) when other filters narrow too:
    /// looked up, or every match gathered.
    pub count: Matches,
    /// For the page.
    pub page: Matches,
}

/// Rough costs, in nanoseconds, from profiles of the benchmark's data: a
/// call looked up by id (index and row), a row of a walk or a stream tested
/// against matches, a match read from the index.
const LOOKUP_NS: u64 = 2_000;
const WALK_NS: u64 = 250;
const GATHER_NS: u64 = 40;

/// Counts the query's matches (FTS5 counts a word's entries without reading
/// any call: ~26 ns a match) and picks how the read joins them.
pub fn prepare(
    conn: &Connection,
    user_id: i64,
    query: &SearchQuery,
    window: Window,
    narrowed: bool,
) -> StoreResult<Search> {
    let expression = fts5_match(user_id, query);
    let matches: i64 = match query.terms.as_slice() {
        // One whole word: its number of calls, which the vocabulary table
        // reads from the index's structures (with deleted calls taken out)
        // without a row per match: 4.1 ms -> 1.9 ms for a word in 152k calls.
        // (Not for a prefix: a call with two words of the prefix would count
        // twice.)
        [term] if term.parts.len() == 1 && !term.parts[0].prefix => conn
            .prepare_cached(
                "SELECT coalesce(sum(doc), 0) FROM call_words_vocabulary WHERE term = ?1",
            )?
            .query_row([fts5_term(user_id, &term.parts[0].word)], |r| r.get(0))?,
        _ => conn
            .prepare_cached("SELECT count(*) FROM call_words WHERE call_words MATCH ?1")?
            .query_row([&expression], |r| r.get(0))?,
    };
    let matches = matches.unsigned_abs();
    let calls: i64 = conn
        .prepare_cached("SELECT coalesce(sum(n), 0) FROM call_user_totals WHERE user_id = ?1")?
        .query_row([user_id], |r| r.get(0))?;
    let calls = calls.unsigned_abs().max(1);
    let lookup_cost = matches.saturating_mul(LOOKUP_NS);
    // A page walks about calls/matches calls for each one it keeps.
    let wanted = match window {
        Window::Offset { offset, limit } => offset.saturating_add(limit),
        Window::Keyset { limit, .. } => limit,
    };
    let walk_cost = wanted.saturating_mul(calls) / matches.max(1) * WALK_NS;
    // A count with other filters streams (up to) all of the user's calls.
    let stream_cost = calls.saturating_mul(WALK_NS) + matches.saturating_mul(GATHER_NS);
    let lookup = || Matches::Lookup(lookup_condition(&expression));
    let count = if !narrowed || lookup_cost <= stream_cost {
        lookup()
    } else {
        Matches::Walk(Membership::gathered(conn, &expression)?)
    };
    let page = if lookup_cost <= walk_cost {
        lookup()
    } else {
        // What the count gathered already serves the page too.
        let all = match &count {
            Matches::Walk(m) => m.all.clone(),
            Matches::Lookup(_) => None,
        };
        Matches::Walk(Membership {
            expression: expression.clone(),
            all,
        })
    };
    Ok(Search {
        matches,
        count,
        page,
    })
}
