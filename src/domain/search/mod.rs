//! Transcript search (CONTRACT §8, `q`): what a query means, independent of
//! any database. The stores turn a [`SearchQuery`] into their full-text
//! index's own query language (`store::search`), over documents built from
//! the same words ([`text`]); [`matches`] finds the matching segments of a
//! call, for the `matches` of an answer.
//!
//! - Words are runs of letters and digits; case and diacritics are ignored.
//! - Every term must occur in the transcript, in any segment and any order.
//! - `word*` matches words that start with `word`.
//! - `"several words"` must occur next to each other, in that order, inside
//!   one segment (what lies between the words, punctuation or spaces, does not
//!   matter). A `*` after a word inside quotes makes that word a prefix too.

pub mod matches;
pub mod text;

/// Longest `q`, in characters (a bound on the work one request can ask for).
pub const MAX_QUERY_CHARS: usize = 500;
/// Longest word of a query, in characters of its normal form.
pub const MAX_QUERY_WORD_CHARS: usize = 64;
/// Indexed words are cut to this many characters: one more than a query word
/// may have, so a cut word never equals a query word it did not equal whole,
/// and every prefix a query can ask for is kept. (PostgreSQL refuses index
/// words over 2 KB; a pasted blob of base64 would be one word.)
pub const INDEX_WORD_CHARS: usize = MAX_QUERY_WORD_CHARS + 1;

/// One word of a query.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Part {
    /// The normal form (see [`text`]).
    pub word: String,
    /// `word*`: any word starting with `word`.
    pub prefix: bool,
}

impl Part {
    /// Whether an indexed word (a normal form) is this part.
    pub fn accepts(&self, norm: &str) -> bool {
        if self.prefix {
            norm.starts_with(self.word.as_str())
        } else {
            norm == self.word
        }
    }
}

/// A word, or a phrase of several words next to each other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Term {
    /// One or more; more is a phrase.
    pub parts: Vec<Part>,
}

impl Term {
    pub fn is_phrase(&self) -> bool {
        self.parts.len() > 1
    }
}

/// A parsed `q`: every term must occur.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SearchQuery {
    pub terms: Vec<Term>,
}

/// Why a `q` is refused (the messages of the 422).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryError {
    NoWord,
    TooLong,
    WordTooLong,
}

impl QueryError {
    pub fn message(self) -> String {
        match self {
            Self::NoWord => "The q field must contain at least one word.".to_owned(),
            Self::TooLong => {
                format!("The q field must not be greater than {MAX_QUERY_CHARS} characters.")
            }
            Self::WordTooLong => format!(
                "The q field must not contain words longer than {MAX_QUERY_WORD_CHARS} characters."
            ),
        }
    }
}

impl SearchQuery {
    /// Reads `q`: bare words are terms of their own, words between double
    /// quotes one phrase (an unclosed quote runs to the end), and a `*` right
    /// after a word makes it a prefix.
    pub fn parse(q: &str) -> Result<Self, QueryError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        // Which quoted stretch each code point is in (`None`: outside).
        let mut stretch = Vec::new();
        let (mut open, mut count) = (None, 0usize);
        for c in q.chars() {
            if c == '"' {
                open = match open {
                    Some(_) => None,
                    None => {
                        count += 1;
                        Some(count)
                    }
                };
            }
            stretch.push(open);
        }
        let mut terms: Vec<Term> = Vec::new();
        // The quoted stretch the last term came from, to add a phrase's
        // next word to it.
        let mut last_stretch = None;
        let mut too_long = false;
        text::for_each_word(q, |norm, start, _, next| {
            too_long |= norm.chars().count() > MAX_QUERY_WORD_CHARS;
            let part = Part {
                word: norm.to_owned(),
                prefix: next == Some('*'),
            };
            let here = stretch.get(start).copied().flatten();
            match (here, terms.last_mut()) {
                (Some(s), Some(term)) if last_stretch == Some(s) => term.parts.push(part),
                _ => terms.push(Term { parts: vec![part] }),
            }
            last_stretch = here;
        });
        if too_long {
            return Err(QueryError::WordTooLong);
        }
        if terms.is_empty() {
            return Err(QueryError::NoWord);
        }
        Ok(Self { terms })
    }

    /// Every part of every term, phrases taken apart: what a call must
    /// contain somewhere for it to match (all of it is needed, not always
    /// enough).
    pub fn parts(&self) -> impl Iterator<Item = &Part> {
        self.terms.iter().flat_map(|t| t.parts.iter())
    }

    pub fn has_phrase(&self) -> bool {
        self.terms.iter().any(Term::is_phrase)
    }
}

/// A transcript's words as the search index keeps them: the normal form of
/// every word, cut to [`INDEX_WORD_CHARS`], a space between words and a line
/// break between segments. Computed where a call is parsed (the import's
/// reading thread), so the writer only copies it into the index.
pub fn index_words(transcript: &[u8]) -> String {
    let segments = matches::segments(transcript);
    let mut out = String::with_capacity(transcript.len());
    for (i, segment) in segments.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut first = true;
        text::for_each_word(&segment.text, |norm, _, _, _| {
            if !first {
                out.push(' ');
            }
            first = false;
            match norm.char_indices().nth(INDEX_WORD_CHARS) {
                Some((cut, _)) => out.push_str(&norm[..cut]),
                None => out.push_str(norm),
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(word: &str, prefix: bool) -> Part {
        Part {
            word: word.to_owned(),
            prefix,
        }
    }

    fn terms(q: &str) -> Vec<Vec<Part>> {
        SearchQuery::parse(q)
            .expect("valid")
            .terms
            .into_iter()
            .map(|t| t.parts)
            .collect()
    }

    #[test]
    fn words_prefixes_and_phrases() {
        assert_eq!(
            terms("Kündigen termin*"),
            [vec![part("kundigen", false)], vec![part("termin", true)]]
        );
        assert_eq!(
            terms(r#"rückruf "Vielen Dank, für" Ihre*"#),
            [
                vec![part("ruckruf", false)],
                vec![
                    part("vielen", false),
                    part("dank", false),
                    part("fur", false)
                ],
                vec![part("ihre", true)],
            ]
        );
        // Two phrases next to each other stay two; an unclosed one runs to the end.
        assert_eq!(
            terms(r#""a b""c d" "e f*"#),
            [
                vec![part("a", false), part("b", false)],
                vec![part("c", false), part("d", false)],
                vec![part("e", false), part("f", true)],
            ]
        );
        // A star not right after a word does nothing; one word in quotes is a word.
        assert_eq!(
            terms(r#"a * "b""#),
            [vec![part("a", false)], vec![part("b", false)]]
        );
        // Punctuation inside a bare item splits it into words.
        assert_eq!(
            terms("e-mail"),
            [vec![part("e", false)], vec![part("mail", false)]]
        );
    }

    #[test]
    fn index_words_keep_segments_apart() {
        let transcript = br#"[{"text":"Guten Tag!","type":"transcript","sender":"bot","timestamp":1},{"text":"","type":"transcript","sender":"human","timestamp":2},{"text":"Ja, bitte.","type":"transcript","sender":"human","timestamp":3}]"#;
        assert_eq!(index_words(transcript), "guten tag\n\nja bitte");
        let long = format!(
            r#"[{{"text":"{}","type":"transcript","sender":"bot","timestamp":1}}]"#,
            "é".repeat(70)
        );
        assert_eq!(index_words(long.as_bytes()), "e".repeat(INDEX_WORD_CHARS));
        assert_eq!(index_words(b"[]"), "");
    }

    #[test]
    fn refused_queries() {
        for q in ["", "  ", "***", r#""""#, "?!"] {
            assert_eq!(SearchQuery::parse(q), Err(QueryError::NoWord), "{q:?}");
        }
        assert_eq!(
            SearchQuery::parse(&"a ".repeat(251)),
            Err(QueryError::TooLong)
        );
        assert_eq!(
            SearchQuery::parse(&"x".repeat(65)),
            Err(QueryError::WordTooLong)
        );
        assert!(SearchQuery::parse(&"x".repeat(64)).is_ok());
    }
}
