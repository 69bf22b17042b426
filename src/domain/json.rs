//! JSON text kept as it came: compacting without re-serializing, so that
//! number spellings, key order and escapes stay exactly as sent. Used by the
//! import and by the write API for the documents they store.

/// Drops whitespace outside strings. `raw` must be valid JSON.
///
/// Works on bytes: in UTF-8 every byte of a multi-byte character is >= 0x80,
/// so it can never be mistaken for a quote, backslash or space. Runs between
/// dropped spaces are copied whole as `&str` slices (cut next to ASCII bytes,
/// so on character boundaries): no UTF-8 check of the result, which the
/// import profile showed as 1.6%. String literals are skipped with memchr
/// (they are most of a call).
pub fn compact(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    // Where the run of bytes not yet copied starts.
    let mut run = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                // To just past the closing quote: the first one not escaped by
                // a backslash.
                i += 1;
                while let Some(n) = memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    i += n;
                    if bytes[i] == b'\\' {
                        i += 2;
                    } else {
                        i += 1;
                        break;
                    }
                }
                i = i.min(bytes.len());
            }
            b' ' | b'\t' | b'\n' | b'\r' => {
                out.push_str(&raw[run..i]);
                i += 1;
                run = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&raw[run..]);
    out
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

    use super::compact;

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
