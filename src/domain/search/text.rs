//! Words and their normal form: the one normalisation that both the index
//! (whatever the database) and every query go through, so that SQLite and
//! PostgreSQL can only agree (CONTRACT §8, "Search").
//!
//! A word is a maximal run of letters and digits (`char::is_alphanumeric`);
//! combining marks inside a run belong to it. Its normal form is the word
//! decomposed (NFKD), without its combining marks, in lower case, with `ß`
//! read as `ss`: `Kündigen` and `KUNDIGEN` are both `kundigen`, `Straße` is
//! `strasse`, `ﬁle` is `file`.
//!
//! Hand-written around `unicode-normalization` rather than a tokenizer crate:
//! the positions of words must be counted in code points of the original
//! text (for `matches`), and ASCII, most of every transcript, takes a fast
//! path (the import normalises every transcript it writes).

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// One word of a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The normal form.
    pub norm: String,
    /// Where it stands in the text, in code points; `end` exclusive.
    pub start: usize,
    pub end: usize,
}

/// Appends the normal form of `c` to `out`.
fn push_normal(c: char, out: &mut String) {
    if c.is_ascii() {
        out.push(c.to_ascii_lowercase());
        return;
    }
    for d in std::iter::once(c).nfkd() {
        if is_combining_mark(d) {
            continue;
        }
        for l in d.to_lowercase() {
            match l {
                'ß' => out.push_str("ss"),
                l if is_combining_mark(l) || !l.is_alphanumeric() => {}
                l => out.push(l),
            }
        }
    }
}

/// Whether `c` continues a word (`in_word`) or starts one.
#[inline]
fn is_word_char(c: char, in_word: bool) -> bool {
    c.is_alphanumeric() || (in_word && !c.is_ascii() && is_combining_mark(c))
}

/// Calls `each` with every word of `text`, in order; `each` gets the
/// normal form (a buffer reused between calls), the start and end in code
/// points, and the code point just after the word (`None` at the end).
///
/// ASCII bytes, most of every transcript, are handled as bytes; only other
/// characters are decoded and decomposed.
pub fn for_each_word(text: &str, mut each: impl FnMut(&str, usize, usize, Option<char>)) {
    let bytes = text.as_bytes();
    let mut norm = String::new();
    let mut start = None;
    // Code points so far, and the byte position.
    let (mut index, mut at) = (0, 0);
    while at < bytes.len() {
        let byte = bytes[at];
        let (c, len) = if byte.is_ascii() {
            (char::from(byte), 1)
        } else {
            let c = text[at..]
                .chars()
                .next()
                .unwrap_or(char::REPLACEMENT_CHARACTER);
            (c, c.len_utf8())
        };
        if is_word_char(c, start.is_some()) {
            if start.is_none() {
                start = Some(index);
                norm.clear();
            }
            if byte.is_ascii() {
                norm.push(char::from(byte.to_ascii_lowercase()));
            } else {
                push_normal(c, &mut norm);
            }
        } else if let Some(from) = start.take() {
            // A word whose letters all normalise to nothing (a lone mark
            // that is also a letter) is no word.
            if !norm.is_empty() {
                each(&norm, from, index, Some(c));
            }
        }
        index += 1;
        at += len;
    }
    if let Some(from) = start
        && !norm.is_empty()
    {
        each(&norm, from, index, None);
    }
}

/// Every word of `text`.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    for_each_word(text, |norm, start, end, _| {
        out.push(Word {
            norm: norm.to_owned(),
            start,
            end,
        });
    });
    out
}

/// The normal form of every word of `text`, without positions.
pub fn normal_forms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |norm, _, _, _| out.push(norm.to_owned()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(text: &str) -> Vec<String> {
        normal_forms(text)
    }

    #[test]
    fn words_are_runs_of_letters_and_digits() {
        assert_eq!(
            norms("Hallo, mein Name ist Maximilian! IT-Unternehmens (24/7)"),
            [
                "hallo",
                "mein",
                "name",
                "ist",
                "maximilian",
                "it",
                "unternehmens",
                "24",
                "7"
            ]
        );
        assert_eq!(norms(""), Vec::<String>::new());
        assert_eq!(norms(" ... ?! "), Vec::<String>::new());
    }

    #[test]
    fn case_and_diacritics_are_ignored() {
        assert_eq!(norms("Kündigen KÜNDIGEN kundigen"), ["kundigen"; 3]);
        assert_eq!(norms("Straße STRASSE"), ["strasse", "strasse"]);
        assert_eq!(
            norms("Ærøskøbing café naïve"),
            ["ærøskøbing", "cafe", "naive"]
        );
        assert_eq!(norms("ﬁle Ⅻ ½"), ["file", "xii", "12"]);
        // Decomposed input: the mark belongs to the word it follows.
        assert_eq!(norms("ku\u{308}ndigen"), ["kundigen"]);
        assert_eq!(norms("Ελληνικά ΣΟΦΊΑ"), ["ελληνικα", "σοφια"]);
        assert_eq!(norms("İstanbul"), ["istanbul"]);
    }

    #[test]
    fn positions_count_code_points() {
        let found = words("Grüße, Jürgen!");
        assert_eq!(
            found,
            [
                Word {
                    norm: "grusse".into(),
                    start: 0,
                    end: 5
                },
                Word {
                    norm: "jurgen".into(),
                    start: 7,
                    end: 13
                },
            ]
        );
        // A leading mark is no word and does not shift the next one.
        assert_eq!(words("\u{308}ab")[0].start, 1);
    }

    #[test]
    fn scripts_without_spaces_are_one_word_per_run() {
        assert_eq!(norms("東京都に住む"), ["東京都に住む"]);
        assert_eq!(norms("हिन्दी भाषा").len(), 2);
    }
}
