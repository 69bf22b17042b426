//! JSON text kept as it came: compacting without re-serializing, so that
//! number spellings, key order and escapes stay exactly as sent. Used by the
//! import and by the write API for the documents they store.

/// Drops whitespace outside strings. `raw` must be valid JSON.
pub fn compact(raw: &str) -> String {
    scan(raw).0
}

/// [`compact`], refusing what [`check_strict`] refuses, for a document that is
/// valid JSON already (read by serde_json as a raw value). The full check
/// runs only when the compacting pass met something it could refuse: the
/// import's profile had the full check of every whole line at ~28% of the
/// parsing thread's instructions, and a separate scan for it at as much as
/// compacting.
pub fn compact_strict(raw: &str) -> serde_json::Result<String> {
    let (compacted, may_be_refused) = scan(raw);
    if may_be_refused {
        check_strict(raw)?;
    }
    Ok(compacted)
}

/// The compacted text, and whether `raw` may hold what [`check_strict`]
/// refuses: a number with an exponent or longer than 300 characters (only
/// those can pass a double's range), or a `\u` escape in the UTF-16
/// surrogate range (`\uD800`–`\uDFFF`; a valid pair is flagged too and passes
/// the full check). False alarms only cost the full check; it must never
/// miss.
///
/// Works on bytes: in UTF-8 every byte of a multi-byte character is >= 0x80,
/// so it can never be mistaken for a quote, backslash or space. Runs between
/// dropped spaces are copied whole as `&str` slices (cut next to ASCII bytes,
/// so on character boundaries): no UTF-8 check of the result, which the
/// import profile showed as 1.6%. String literals are skipped with memchr
/// (they are most of a call).
fn scan(raw: &str) -> (String, bool) {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut may_be_refused = false;
    // Where the run of bytes not yet copied starts.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // To just past the closing quote: the first one not escaped by
                // a backslash.
                i += 1;
                loop {
                    let Some(n) = memchr::memchr2(b'"', b'\\', &bytes[i..]) else {
                        // Unterminated: not valid JSON, let the parser say so.
                        may_be_refused = true;
                        i = bytes.len();
                        break;
                    };
                    i += n;
                    if bytes[i] == b'"' {
                        i += 1;
                        break;
                    }
                    // A backslash: `\uD8..`–`\uDF..` is a surrogate.
                    if bytes.get(i + 1) == Some(&b'u')
                        && matches!(bytes.get(i + 2), Some(b'd' | b'D'))
                        && matches!(
                            bytes.get(i + 3),
                            Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
                        )
                    {
                        may_be_refused = true;
                    }
                    // Past the escaped character (a quote or backslash
                    // included); the hex digits of `\u` hold neither.
                    i += 2;
                }
                i = i.min(bytes.len());
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push_str(&raw[run..i]);
                i += 1;
                run = i;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while let Some(&b) = bytes.get(i) {
                    match b {
                        b'e' | b'E' => {
                            may_be_refused = true;
                            i += 1;
                        }
                        b'0'..=b'9' | b'.' | b'-' | b'+' => i += 1,
                        _ => break,
                    }
                }
                if i - start > 300 {
                    may_be_refused = true;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&raw[run..]);
    (out, may_be_refused)
}

/// Checks that `text` is one JSON value that strict parsers read: numbers
/// within a double's range and no lone UTF-16 surrogates, which serde_json
/// lets through when it only skims a value (`IgnoredAny`, `RawValue`).
pub fn check_strict(text: &str) -> serde_json::Result<()> {
    serde_json::from_str::<Strict>(text).map(|_| ())
}

/// Any JSON value, read fully but kept nowhere: serde_json refuses numbers
/// beyond f64's range and lone UTF-16 surrogates in escapes only when it
/// reads them, not when it skips them (`IgnoredAny`, `RawValue`).
struct Strict;

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_str<E>(self, _: &str) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        while seq.next_element::<Strict>()?.is_some() {}
        Ok(Strict)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        while map.next_key::<Strict>()?.is_some() {
            map.next_value::<Strict>()?;
        }
        Ok(Strict)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::{check_strict, compact, compact_strict, scan};

    /// Any JSON document: strings of any characters (quotes, backslashes,
    /// control characters, spaces, non-ASCII), numbers, nesting.
    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::vec((any::<String>(), inner), 0..6)
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// Pretty-printed JSON compacts to exactly serde's compact spelling.
        #[test]
        fn compacts_pretty_json_to_serdes_spelling(value in json_value()) {
            let pretty = serde_json::to_string_pretty(&value).expect("serializable");
            let compact_text = serde_json::to_string(&value).expect("serializable");
            proptest::prop_assert_eq!(compact(&pretty), compact_text.clone());
            proptest::prop_assert_eq!(compact(&compact_text), compact_text);
        }
    }

    /// Numbers of any length and exponent, strings with any `\u` escapes
    /// (surrogates, lone or paired, included) and escaped backslashes, in
    /// arrays and objects: JSON that serde_json reads as raw values, some of
    /// which strict parsers refuse.
    fn risky_document() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let number = "-?(0|[1-9][0-9]{0,400})(\\.[0-9]{1,20})?([eE][+-]?[0-9]{1,4})?";
        let piece = prop_oneof![
            Just("\\\\".to_owned()),
            Just("\\\"".to_owned()),
            Just("ud800".to_owned()),
            "[a-z ]{0,4}",
            "\\\\u[dD][0-9a-fA-F]{3}",
            "\\\\u[0-9a-fA-F]{4}",
        ];
        let string =
            proptest::collection::vec(piece, 0..6).prop_map(|p| format!("\"{}\"", p.concat()));
        let nines = (290usize..330).prop_map(|n| "9".repeat(n));
        let leaf = prop_oneof![
            number.prop_map(|n| n),
            nines,
            string,
            Just("true".to_owned())
        ];
        leaf.prop_recursive(3, 24, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                proptest::collection::vec(inner, 0..5).prop_map(|items| {
                    let pairs: Vec<String> = items
                        .iter()
                        .enumerate()
                        .map(|(k, v)| format!("\"k{k}\": {v}"))
                        .collect();
                    format!("{{ {} }}", pairs.join(", "))
                }),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// The quick check refuses exactly what the full check refuses, and
        /// compacts as `compact` does.
        #[test]
        fn quick_check_agrees_with_the_full_one(doc in risky_document()) {
            // Only documents serde_json reads as raw values get here.
            proptest::prop_assume!(serde_json::from_str::<&serde_json::value::RawValue>(&doc).is_ok());
            let quick = compact_strict(&doc);
            proptest::prop_assert_eq!(quick.is_ok(), check_strict(&doc).is_ok(), "{}", doc);
            if let Ok(compacted) = quick {
                proptest::prop_assert_eq!(compacted, compact(&doc));
            }
        }
    }

    #[test]
    fn quick_check_flags_only_what_may_be_refused() {
        for refused in [
            "1e400",
            "[-1E+999]",
            "{\"a\": \"\\ud800\"}",
            "[\"x\\uDFFF\"]",
            &"9".repeat(400),
            &"9".repeat(320),
        ] {
            assert!(check_strict(refused).is_err(), "{refused}");
            assert!(compact_strict(refused).is_err(), "{refused}");
        }
        for plain in [
            "[1.5, -0.25, 1754055268.525861, 12345678901234567890]",
            "{\"a\\\\ud800\": \"\\\\ud800 \\u00fc \\\" e1\"}",
            "\"1e400\"",
            &"9".repeat(300),
        ] {
            assert!(!scan(plain).1, "{plain}");
            assert!(compact_strict(plain).is_ok(), "{plain}");
        }
        // Flagged, then passed by the full check.
        for fine in ["1.5e3", "\"\\ud83d\\ude00\""] {
            assert!(scan(fine).1, "{fine}");
            assert!(compact_strict(fine).is_ok(), "{fine}");
        }
    }

    #[test]
    fn compacts_outside_strings_only() {
        assert_eq!(
            compact("{ \"a b\" : [1, 2],\n \"c\\\" d\": \" \" }"),
            "{\"a b\":[1,2],\"c\\\" d\":\" \"}"
        );
        // A backslash escaping a backslash does not escape the quote after it.
        assert_eq!(
            compact(r#"{ "a\\" : "b \" c" , "d" : [ 1 ] }"#),
            r#"{"a\\":"b \" c","d":[1]}"#
        );
        assert_eq!(compact("[ \"ü ß 👋\" ]"), "[\"ü ß 👋\"]");
        assert_eq!(compact("  "), "");
    }
}
