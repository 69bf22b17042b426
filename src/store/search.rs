//! Search documents and queries in each database's full-text language: a
//! SQLite FTS5 table and a PostgreSQL `tsvector` with a GIN index. Neither
//! database tokenizes or normalises anything: both get the words of
//! `domain::search` ([`index_words`](crate::domain::search::index_words)),
//! so they cannot disagree on what a word is.
//!
//! Every word in an index carries its owner's id (`7_kundigen`): a user's
//! search looks up only that user's entries, so a small tenant does not pay
//! for a big tenant's data, and one user's words never match another's.
//! Segments are kept apart (a phrase is within one segment): in FTS5 by a
//! `_` word between them, which no query word can be; in a `tsvector` by a
//! gap of one position.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::domain::search::{Part, SearchQuery};

/// The FTS5 document of a call: its words, each with the owner's id.
pub fn fts5_document(user_id: i64, words: &str) -> String {
    let mut out = String::with_capacity(words.len() + words.len() / 2);
    for (i, segment) in words.split('\n').enumerate() {
        if i > 0 {
            out.push_str(" _");
        }
        for word in segment.split(' ').filter(|w| !w.is_empty()) {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{user_id}_{word}");
        }
    }
    out
}

/// A word as the FTS5 index holds it: with its owner's id.
pub fn fts5_term(user_id: i64, word: &str) -> String {
    format!("{user_id}_{word}")
}

fn fts5_part(user_id: i64, part: &Part) -> String {
    // Words hold letters, digits and the owner's `_` only: nothing to escape.
    format!(
        "\"{user_id}_{}\"{}",
        part.word,
        if part.prefix { " *" } else { "" }
    )
}

/// The FTS5 `MATCH` expression of a query: every term (implicit AND), a
/// phrase as its words joined by `+`.
pub fn fts5_match(user_id: i64, query: &SearchQuery) -> String {
    query
        .terms
        .iter()
        .map(|term| {
            term.parts
                .iter()
                .map(|p| fts5_part(user_id, p))
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// How much of a transcript a `tsvector` holds exactly (stored beside it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(i16)]
pub enum Fidelity {
    /// Every word at every position.
    Exact = 0,
    /// Every word, not every position: phrases must be checked on the text.
    Words = 1,
    /// Not every word: every query must be checked on the text.
    None = 2,
}

/// PostgreSQL keeps at most 256 positions of a word, positions up to 16,383,
/// and 1 MB of words in a `tsvector`; a transcript beyond these is indexed
/// with less ([`Fidelity`]) and its matches checked on its text.
const MAX_POSITIONS_PER_WORD: usize = 256;
const MAX_POSITION: u32 = 16_383;
const MAX_LITERAL_BYTES: usize = 900_000;

/// A call's `tsvector`, as the text of its literal (cast with `::tsvector`,
/// which reads lexemes and positions as written, normalising nothing).
pub fn tsvector_document(user_id: i64, words: &str) -> (String, Fidelity) {
    let mut positions: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut fidelity = Fidelity::Exact;
    let mut at = 0u32;
    for segment in words.split('\n') {
        // One position between segments, so no phrase spans two.
        at += 1;
        for word in segment.split(' ').filter(|w| !w.is_empty()) {
            at += 1;
            let list = positions.entry(word).or_default();
            if at > MAX_POSITION || list.len() == MAX_POSITIONS_PER_WORD {
                fidelity = Fidelity::Words;
            } else {
                list.push(at);
            }
        }
    }
    let literal = |with_positions: bool| {
        let mut out = String::new();
        for (word, at) in &positions {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "'{user_id}_{word}'");
            if with_positions && !at.is_empty() {
                out.push(':');
                for (i, p) in at.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{p}");
                }
            }
        }
        out
    };
    let full = literal(true);
    if full.len() <= MAX_LITERAL_BYTES {
        return (full, fidelity);
    }
    let words_only = literal(false);
    if words_only.len() <= MAX_LITERAL_BYTES {
        return (words_only, Fidelity::Words);
    }
    (String::new(), Fidelity::None)
}

fn tsquery_part(user_id: i64, part: &Part) -> String {
    format!(
        "'{user_id}_{}'{}",
        part.word,
        if part.prefix { ":*" } else { "" }
    )
}

/// The `tsquery` literal of a query; with `phrases` false, every word of a
/// phrase is only required somewhere (for documents without positions).
pub fn tsquery(user_id: i64, query: &SearchQuery, phrases: bool) -> String {
    let joiner = if phrases { " <-> " } else { " & " };
    query
        .terms
        .iter()
        .map(|term| {
            let inner = term
                .parts
                .iter()
                .map(|p| tsquery_part(user_id, p))
                .collect::<Vec<_>>()
                .join(joiner);
            if term.parts.len() > 1 {
                format!("({inner})")
            } else {
                inner
            }
        })
        .collect::<Vec<_>>()
        .join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str) -> SearchQuery {
        SearchQuery::parse(q).expect("valid")
    }

    #[test]
    fn fts5() {
        assert_eq!(
            fts5_document(7, "guten tag\n\nja"),
            "7_guten 7_tag _ _ 7_ja"
        );
        assert_eq!(fts5_document(7, ""), "");
        assert_eq!(
            fts5_match(7, &query(r#"kündigen termin* "guten ta*""#)),
            r#""7_kundigen" "7_termin" * "7_guten" + "7_ta" *"#
        );
    }

    #[test]
    fn postgres() {
        assert_eq!(
            tsvector_document(7, "guten tag guten\nja"),
            (
                "'7_guten':2,4 '7_ja':6 '7_tag':3".to_owned(),
                Fidelity::Exact
            )
        );
        assert_eq!(
            tsquery(7, &query(r#"kündigen termin* "guten ta*""#), true),
            "'7_kundigen' & '7_termin':* & ('7_guten' <-> '7_ta':*)"
        );
        assert_eq!(
            tsquery(7, &query(r#""guten tag""#), false),
            "('7_guten' & '7_tag')"
        );
        let many = vec!["ja"; 300].join(" ");
        let (doc, fidelity) = tsvector_document(7, &many);
        assert_eq!(fidelity, Fidelity::Words);
        assert_eq!(doc.matches(',').count(), 255);
        let huge: Vec<String> = (0..200_000).map(|i| format!("w{i}")).collect();
        assert_eq!(tsvector_document(7, &huge.join(" ")).1, Fidelity::None);
    }
}
