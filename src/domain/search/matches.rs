//! Where a query matches a transcript: whether the call matches at all, and
//! the segments that show it, with the matched words marked (the `matches`
//! of an answer with `q`). The stores decide which calls match with their
//! full-text indexes; this decides it again from the transcript itself for
//! the few calls an index cannot decide exactly (see `store::search`).

use std::borrow::Cow;

use serde::Deserialize;

use super::text::for_each_word;
use super::{SearchQuery, Term};

/// Most segments listed in `matches`.
pub const MAX_SEGMENTS: usize = 5;

/// A transcript segment as stored: only what search reads.
#[derive(Debug, Deserialize)]
pub struct Segment<'a> {
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    #[serde(borrow)]
    pub sender: Cow<'a, str>,
    pub timestamp: f64,
}

/// Reads a stored transcript (compact JSON, validated when written); an
/// unreadable one has no segments.
pub fn segments(transcript: &[u8]) -> Vec<Segment<'_>> {
    serde_json::from_slice(transcript).unwrap_or_default()
}

/// One segment that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentMatch<'a> {
    /// Its index in the transcript.
    pub segment: usize,
    pub sender: &'a str,
    /// Seconds since the first segment, to the millisecond.
    pub offset: f64,
    pub text: &'a str,
    /// Matched words, `[start, end)` in code points of `text`, in order.
    pub ranges: Vec<(usize, usize)>,
}

/// One segment's words, in a buffer reused from segment to segment (a page
/// of matches reads every segment of fifteen transcripts, and a `String` per
/// word showed in the profile).
#[derive(Default)]
struct Words {
    /// Every word's normal form, one after the other.
    norms: String,
    /// Per word: its normal form's bytes in `norms`, and where it stands in
    /// the text, in code points.
    spans: Vec<(usize, usize, usize, usize)>,
}

impl Words {
    fn read(&mut self, text: &str) {
        self.norms.clear();
        self.spans.clear();
        let (norms, spans) = (&mut self.norms, &mut self.spans);
        for_each_word(text, |norm, start, end, _| {
            let at = norms.len();
            norms.push_str(norm);
            spans.push((at, norms.len(), start, end));
        });
    }

    fn norm(&self, i: usize) -> &str {
        let (from, to, _, _) = self.spans[i];
        &self.norms[from..to]
    }

    /// `(start, end)` of every word of every occurrence of `term`.
    fn occurrences(&self, term: &Term, out: &mut Vec<(usize, usize)>) -> bool {
        let n = term.parts.len();
        let mut found = false;
        for i in 0..(self.spans.len() + 1).saturating_sub(n) {
            if term
                .parts
                .iter()
                .enumerate()
                .all(|(k, part)| part.accepts(self.norm(i + k)))
            {
                found = true;
                out.extend(self.spans[i..i + n].iter().map(|&(_, _, s, e)| (s, e)));
            }
        }
        found
    }
}

/// False when `text` cannot hold any term of `query`: an ASCII text that
/// does not contain, in any case, the first word of any term (a word's
/// normal form from ASCII is its lower case). Most segments of a page's
/// transcripts hold no term; this skips reading their words.
fn could_hold(query: &SearchQuery, text: &str, lower: &mut Vec<u8>) -> bool {
    if !text.is_ascii() {
        return true;
    }
    lower.clear();
    lower.extend(text.bytes().map(|b| b.to_ascii_lowercase()));
    query.terms.iter().any(|term| {
        term.parts.first().is_some_and(|part| {
            !part.word.is_ascii() || memchr::memmem::find(lower, part.word.as_bytes()).is_some()
        })
    })
}

/// The segments of `transcript` that hold a term of `query` (at most
/// [`MAX_SEGMENTS`], in transcript order), or `None` when the call does not
/// match (some term occurs in no segment).
pub fn find<'a>(
    query: &SearchQuery,
    transcript: &'a [Segment<'a>],
) -> Option<Vec<SegmentMatch<'a>>> {
    let mut found = vec![false; query.terms.len()];
    let mut shown = Vec::new();
    let first = transcript.first().map_or(0.0, |s| s.timestamp);
    let mut words = Words::default();
    let mut lower = Vec::new();
    for (index, segment) in transcript.iter().enumerate() {
        if !could_hold(query, &segment.text, &mut lower) {
            continue;
        }
        words.read(&segment.text);
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        for (seen, term) in found.iter_mut().zip(&query.terms) {
            *seen |= words.occurrences(term, &mut ranges);
        }
        if ranges.is_empty() || shown.len() == MAX_SEGMENTS {
            continue;
        }
        ranges.sort_unstable();
        ranges.dedup();
        shown.push(SegmentMatch {
            segment: index,
            sender: &segment.sender,
            offset: ((segment.timestamp - first) * 1000.0).round() / 1000.0,
            text: &segment.text,
            ranges,
        });
    }
    found.iter().all(|f| *f).then_some(shown)
}

/// Whether a transcript (as stored) matches `query`.
pub fn transcript_matches(query: &SearchQuery, transcript: &[u8]) -> bool {
    find(query, &segments(transcript)).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRANSCRIPT: &str = r#"[{"text":"Guten Tag, Sie möchten kündigen?","type":"transcript","sender":"bot","timestamp":1754055268.525861},{"text":"Ja, ich will KÜNDIGEN. Termin bitte!","type":"transcript","sender":"human","timestamp":1754055272.069057},{"text":"Tag! Guten Morgen.","type":"transcript","sender":"bot","timestamp":1754055280.0}]"#;

    /// Segment indexes with their ranges.
    type Found = Vec<(usize, Vec<(usize, usize)>)>;

    fn run(q: &str) -> Option<Found> {
        let query = SearchQuery::parse(q).expect("valid");
        let segments = segments(TRANSCRIPT.as_bytes());
        find(&query, &segments)
            .map(|found| found.into_iter().map(|m| (m.segment, m.ranges)).collect())
    }

    #[test]
    fn every_term_must_occur_somewhere() {
        assert_eq!(
            run("kundigen"),
            Some(vec![(0, vec![(23, 31)]), (1, vec![(13, 21)])])
        );
        assert_eq!(
            run("kundigen termin*"),
            Some(vec![(0, vec![(23, 31)]), (1, vec![(13, 21), (23, 29)])])
        );
        assert_eq!(run("kundigen absagen"), None);
    }

    #[test]
    fn phrases_stay_inside_one_segment_in_order() {
        assert_eq!(run(r#""guten tag""#), Some(vec![(0, vec![(0, 5), (6, 9)])]));
        // "Tag! Guten" in segment 2: punctuation between the words does not matter.
        assert_eq!(
            run(r#""tag guten""#),
            Some(vec![(2, vec![(0, 3), (5, 10)])])
        );
        // "bitte tag" would span segments 1 and 2.
        assert_eq!(run(r#""bitte tag""#), None);
        assert_eq!(
            run(r#""guten mo*""#),
            Some(vec![(2, vec![(5, 10), (11, 17)])])
        );
    }

    #[test]
    fn offsets_and_senders() {
        let query = SearchQuery::parse("tag").expect("valid");
        let segments = segments(TRANSCRIPT.as_bytes());
        let found = find(&query, &segments).expect("match");
        assert_eq!(
            found
                .iter()
                .map(|m| (m.sender, m.offset))
                .collect::<Vec<_>>(),
            [("bot", 0.0), ("bot", 11.474)]
        );
    }

    #[test]
    fn at_most_five_segments_are_shown() {
        let many: Vec<String> = (0..8)
            .map(|i| {
                format!(
                    r#"{{"text":"eins {i}","type":"transcript","sender":"bot","timestamp":{i}}}"#
                )
            })
            .collect();
        let transcript = format!("[{}]", many.join(","));
        let query = SearchQuery::parse("eins 7").expect("valid");
        let segments = segments(transcript.as_bytes());
        let found = find(&query, &segments).expect("7 is in the eighth segment");
        assert_eq!(found.len(), MAX_SEGMENTS);
        assert_eq!(found[4].segment, 4);
    }
}
