//! Compact JSON text of a receiver's answer.
//!
//! Answers are kept for the delivery log, so they are stored compact, but
//! otherwise as the receiver wrote them: going through `serde_json::Value`
//! would sort object keys and round large numbers, which would make the log
//! lie about what was answered. Instead the text is validated, then the
//! whitespace between tokens is dropped.

/// The body without insignificant whitespace when it is one valid JSON value;
/// None for empty, non-UTF-8 or invalid text.
pub(crate) fn compact_json(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    // Strictly: the answer is served as the call's `webhook_response`, and a
    // `1e400` or lone `\ud800` there breaks strict JSON clients.
    crate::domain::json::check_strict(text).ok()?;
    Some(crate::domain::json::compact(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_whitespace_between_tokens_only() {
        let body = b"{\n  \"b\" : [1, 2.50, {\"x y\": \"a \\\" b\"}],\r\n\t\"a\": null }\n";
        assert_eq!(
            compact_json(body).as_deref(),
            Some(r#"{"b":[1,2.50,{"x y":"a \" b"}],"a":null}"#)
        );
    }

    #[test]
    fn keeps_key_order_numbers_and_escapes_as_written() {
        let body = r#"{"z": 123456789012345678901234567890, "a": "\\", "é": "\u00e9"}"#;
        assert_eq!(
            compact_json(body.as_bytes()).as_deref(),
            Some(r#"{"z":123456789012345678901234567890,"a":"\\","é":"\u00e9"}"#)
        );
    }

    #[test]
    fn scalars_are_json_too() {
        assert_eq!(compact_json(b" \"ok\" ").as_deref(), Some("\"ok\""));
        assert_eq!(compact_json(b"true").as_deref(), Some("true"));
    }

    #[test]
    fn rejects_what_is_not_one_json_value() {
        for body in [
            &b""[..],
            b"   ",
            b"OK",
            b"{\"a\":1} {}",
            b"{\"a\":}",
            b"\xff\"x\"",
            b"{\"a\":1e400}",
            b"[\"\\ud800\"]",
        ] {
            assert_eq!(
                compact_json(body),
                None,
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
