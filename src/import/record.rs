//! One call object from an import file, checked field by field and turned into
//! a [`NewCall`]. JSON documents (transcript, variables, evaluation,
//! webhook_response) are kept as the text that came in, minus insignificant
//! whitespace, so they come back exactly as imported.

use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::domain::json::{compact, compact_strict};
use crate::domain::{AnsweredBy, CallStatus, CallType, JsonText, Money, NewCall, timefmt};

/// Largest call id imported: 2^53 - 1, the largest integer a JavaScript
/// client (n8n, the MCP server) reads exactly. New calls are numbered after
/// the largest id in the database, so one absurd id (`i64::MAX`) would leave
/// no room for any user's next call.
const MAX_ID: i64 = (1 << 53) - 1;

/// Longest name of an assistant or campaign.
const MAX_NAME: usize = 255;
/// Longest phone number or URL.
const MAX_SHORT_TEXT: usize = 2048;

/// The fields of a call object. `None` means absent or `null`; unknown fields are ignored.
#[derive(Deserialize)]
struct RawCall<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
    #[serde(borrow)]
    assistant_name: Option<&'a RawValue>,
    #[serde(borrow)]
    campaign_name: Option<&'a RawValue>,
    #[serde(borrow, rename = "type")]
    call_type: Option<&'a RawValue>,
    #[serde(borrow)]
    duration: Option<&'a RawValue>,
    #[serde(borrow)]
    assistant_phone_number: Option<&'a RawValue>,
    #[serde(borrow)]
    client_phone_number: Option<&'a RawValue>,
    #[serde(borrow)]
    status: Option<&'a RawValue>,
    #[serde(borrow)]
    transcript: Option<&'a RawValue>,
    #[serde(borrow)]
    variables: Option<&'a RawValue>,
    #[serde(borrow)]
    evaluation: Option<&'a RawValue>,
    #[serde(borrow)]
    webhook_response: Option<&'a RawValue>,
    #[serde(borrow)]
    carrier_cost: Option<&'a RawValue>,
    #[serde(borrow)]
    total_cost: Option<&'a RawValue>,
    #[serde(borrow)]
    answered_by: Option<&'a RawValue>,
    #[serde(borrow)]
    recording_url: Option<&'a RawValue>,
    #[serde(borrow)]
    created_at: Option<&'a RawValue>,
    #[serde(borrow)]
    updated_at: Option<&'a RawValue>,
}

type FieldResult<T> = Result<T, String>;

/// Parses and validates one call object given as JSON text.
pub fn parse_call(text: &str) -> Result<NewCall, String> {
    // One parse: a syntax error is "not JSON", a shape error "not a call object".
    let raw: RawCall<'_> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            format!("not a call object: {e}")
        } else {
            format!("not valid JSON: {e}")
        }
    })?;
    // serde reads a struct from an array of its fields in order too, so
    // `[7, "Sales", null, "inbound", ...]` would pass as a call.
    if !text.trim_start().starts_with('{') {
        return Err("not a call object: expected a JSON object".to_owned());
    }
    // The documents are kept as raw text, which serde_json only skims: check
    // that every number and string in them is one strict clients read (a
    // `1e400` or a lone `\ud800` broke whole list pages for them), in the
    // pass that compacts them. The other fields are read as values, which
    // serde_json checks itself; unknown ones are not kept. (The full check of
    // every whole line was ~28% of the parsing thread's instructions; see
    // `compact_strict`.)
    let transcript_doc = Stored::read("transcript", raw.transcript)?;
    let variables_doc = Stored::read("variables", raw.variables)?;
    let evaluation_doc = Stored::read("evaluation", raw.evaluation)?;
    let webhook_doc = Stored::read("webhook_response", raw.webhook_response)?;

    // Checked in the contract's field order, so the first problem reported is
    // the first one a reader of the line meets.
    let id = required("id", raw.id).and_then(|v| integer("id", v))?;
    if id < 1 {
        return Err("id: must be a positive integer".to_owned());
    }
    if id > MAX_ID {
        return Err(format!("id: must be at most {MAX_ID}"));
    }
    let assistant_name = opt_text("assistant_name", raw.assistant_name, MAX_NAME)?;
    let campaign_name = opt_text("campaign_name", raw.campaign_name, MAX_NAME)?;
    let call_type = required("type", raw.call_type)
        .and_then(|v| one_of("type", v, CallType::parse, CallType::ALL))?;
    let duration = raw.duration.map_or(Ok(0), |v| integer("duration", v))?;
    if duration < 0 {
        return Err("duration: must not be negative".to_owned());
    }
    let assistant_phone_number = opt_text(
        "assistant_phone_number",
        raw.assistant_phone_number,
        MAX_SHORT_TEXT,
    )?;
    let client_phone_number = opt_text(
        "client_phone_number",
        raw.client_phone_number,
        MAX_SHORT_TEXT,
    )?;
    let status = required("status", raw.status)
        .and_then(|v| one_of("status", v, CallStatus::parse, CallStatus::ALL))?;
    let transcript = transcript_doc.map_or(Ok(JsonText::empty_array()), transcript)?;
    let variables = variables_doc.map_or(Ok(JsonText::empty_object()), variables)?;
    let evaluation = evaluation_doc.map_or(Ok(JsonText::empty_array()), evaluation)?;
    let webhook_response = webhook_doc.map(|doc| JsonText::from_trusted(doc.compact));
    let carrier_cost = raw
        .carrier_cost
        .map(|v| money("carrier_cost", v))
        .transpose()?;
    let total_cost = raw.total_cost.map(|v| money("total_cost", v)).transpose()?;
    let answered_by = raw
        .answered_by
        .map(|v| one_of("answered_by", v, AnsweredBy::parse, AnsweredBy::ALL))
        .transpose()?;
    let recording_url = opt_text("recording_url", raw.recording_url, MAX_SHORT_TEXT)?;
    let created_at =
        required("created_at", raw.created_at).and_then(|v| timestamp("created_at", v))?;
    let updated_at = raw
        .updated_at
        .map_or(Ok(created_at), |v| timestamp("updated_at", v))?;
    let words = crate::domain::search::index_words(transcript.as_str().as_bytes());
    Ok(NewCall {
        id,
        assistant_name,
        campaign_name,
        call_type,
        duration,
        assistant_phone_number,
        client_phone_number,
        status,
        transcript,
        variables,
        evaluation,
        webhook_response,
        carrier_cost,
        total_cost,
        answered_by,
        recording_url,
        created_at,
        updated_at,
        words,
    })
}

fn required<'a>(field: &str, value: Option<&'a RawValue>) -> FieldResult<&'a RawValue> {
    value.ok_or_else(|| format!("{field}: is required"))
}

/// A document kept as sent: as it came, and compacted.
struct Stored<'a> {
    raw: &'a RawValue,
    compact: String,
}

impl<'a> Stored<'a> {
    /// Compacted, if strict parsers read it (see [`compact_strict`]).
    fn read(field: &str, raw: Option<&'a RawValue>) -> FieldResult<Option<Self>> {
        let Some(raw) = raw else { return Ok(None) };
        let compact = compact_strict(raw.get()).map_err(|e| not_strict(field, &e))?;
        Ok(Some(Self { raw, compact }))
    }
}

/// "not valid JSON: number out of range in transcript": serde_json's message
/// without its position, which counts within the document, not the line.
fn not_strict(field: &str, error: &serde_json::Error) -> String {
    let message = error.to_string();
    let position = format!(" at line {} column {}", error.line(), error.column());
    let message = message.strip_suffix(&position).unwrap_or(&message);
    format!("not valid JSON: {message} in {field}")
}

fn string(field: &str, value: &RawValue) -> FieldResult<String> {
    serde_json::from_str::<String>(value.get())
        .map_err(|_| format!("{field}: must be a string, got {}", value.get()))
}

fn opt_text(field: &str, value: Option<&RawValue>, max: usize) -> FieldResult<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    let text = string(field, value)?;
    if text.contains('\0') {
        return Err(format!("{field}: must not contain NUL characters"));
    }
    if text.chars().count() > max {
        return Err(format!("{field}: longer than {max} characters"));
    }
    Ok(Some(text))
}

/// An integer, or a string holding one (clients send both).
fn integer(field: &str, value: &RawValue) -> FieldResult<i64> {
    let text = value.get();
    let digits = if text.starts_with('"') {
        string(field, value)?
    } else {
        text.to_owned()
    };
    crate::domain::validation::parse_int(digits.trim())
        .ok_or_else(|| format!("{field}: must be an integer, got {text}"))
}

fn one_of<T: std::fmt::Display>(
    field: &str,
    value: &RawValue,
    parse: fn(&str) -> Option<T>,
    all: &[T],
) -> FieldResult<T> {
    let text = string(field, value)?;
    parse(&text).ok_or_else(|| {
        let allowed: Vec<String> = all.iter().map(ToString::to_string).collect();
        format!("{field}: {text:?} is not one of {}", allowed.join(", "))
    })
}

fn timestamp(field: &str, value: &RawValue) -> FieldResult<i64> {
    let text = string(field, value)?;
    timefmt::parse_timestamp(&text)
        .ok_or_else(|| format!("{field}: {text:?} is not a timestamp like 2024-01-15T10:30:00Z"))
}

/// A JSON number, or a numeric string as the real Famulor API sends costs.
fn money(field: &str, value: &RawValue) -> FieldResult<Money> {
    let text = value.get();
    let number = if text.starts_with('"') {
        string(field, value)?
    } else {
        text.to_owned()
    };
    Money::parse(&number).map_err(|e| format!("{field}: {e}, got {text}"))
}

/// A transcript segment's fields, borrowed as raw JSON for cheap checks
/// (`null` is kept as the raw text `null`).
///
/// Read only from a JSON object: serde's derive would also read one from an
/// array of its fields in order. Hand-written so that a whole transcript is
/// checked in one pass, without first splitting it into raw segments.
#[derive(Default)]
struct RawSegment<'a> {
    text: Option<&'a RawValue>,
    kind: Option<&'a RawValue>,
    sender: Option<&'a RawValue>,
    timestamp: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum SegmentField {
    Text,
    Type,
    Sender,
    Timestamp,
    #[serde(other)]
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawSegment<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Fields<'a> {
            type Value = RawSegment<'a>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a transcript segment object")
            }

            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Self::Value, M::Error> {
                let mut segment = RawSegment::default();
                while let Some(field) = map.next_key::<SegmentField>()? {
                    let (slot, name) = match field {
                        SegmentField::Text => (&mut segment.text, "text"),
                        SegmentField::Type => (&mut segment.kind, "type"),
                        SegmentField::Sender => (&mut segment.sender, "sender"),
                        SegmentField::Timestamp => (&mut segment.timestamp, "timestamp"),
                        SegmentField::Other => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        return Err(serde::de::Error::duplicate_field(name));
                    }
                    *slot = Some(map.next_value()?);
                }
                Ok(segment)
            }
        }
        deserializer.deserialize_map(Fields(std::marker::PhantomData))
    }
}

fn transcript(doc: Stored<'_>) -> FieldResult<JsonText> {
    let value = doc.raw;
    // One typed pass over the whole transcript; only when it fails is it read
    // again, segment by segment, to say which segment is wrong.
    let segments: Vec<RawSegment<'_>> =
        serde_json::from_str(value.get()).map_err(|_| transcript_shape_error(value))?;
    let mut timestamps = Vec::with_capacity(segments.len());
    for (i, raw) in segments.iter().enumerate() {
        let is = |v: Option<&RawValue>, text: &str| v.is_some_and(|v| v.get() == text);
        // `1e400` reads as infinity: not a time, and not JSON strict parsers read.
        let timestamp = raw
            .timestamp
            .and_then(|t| t.get().parse::<f64>().ok())
            .filter(|t| t.is_finite());
        let problem = if !raw.text.is_some_and(|t| t.get().starts_with('"')) {
            Some("text must be a string")
        } else if !is(raw.kind, "\"transcript\"") {
            Some("type must be \"transcript\"")
        } else if !is(raw.sender, "\"bot\"") && !is(raw.sender, "\"human\"") {
            Some("sender must be \"bot\" or \"human\"")
        } else if timestamp.is_none() {
            Some("timestamp must be a number (Unix seconds)")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(format!("transcript[{i}]: {problem}"));
        }
        timestamps.push(timestamp.unwrap_or(0.0));
    }
    // Segments are served in time order; a stable sort keeps equal timestamps as given.
    if timestamps.windows(2).any(|w| w[0] > w[1]) {
        let texts: Vec<&RawValue> = serde_json::from_str(value.get())
            .map_err(|_| "transcript: must be an array of segments".to_owned())?;
        let mut keyed: Vec<(f64, &RawValue)> = timestamps.into_iter().zip(texts).collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        let joined: Vec<String> = keyed.iter().map(|(_, s)| compact(s.get())).collect();
        return Ok(JsonText::from_trusted(format!("[{}]", joined.join(","))));
    }
    Ok(JsonText::from_trusted(doc.compact))
}

/// Why a transcript is not an array of segment objects.
fn transcript_shape_error(value: &RawValue) -> String {
    let Ok(segments) = serde_json::from_str::<Vec<&RawValue>>(value.get()) else {
        return "transcript: must be an array of segments".to_owned();
    };
    segments
        .iter()
        .position(|segment| serde_json::from_str::<RawSegment<'_>>(segment.get()).is_err())
        .map_or_else(
            || "transcript: must be an array of segments".to_owned(),
            |i| format!("transcript[{i}]: must be an object"),
        )
}

fn variables(doc: Stored<'_>) -> FieldResult<JsonText> {
    let text = doc.raw.get();
    if text.starts_with('{') {
        return Ok(JsonText::from_trusted(doc.compact));
    }
    // PHP encodes an empty associative array as `[]`; read it as the empty object.
    if serde_json::from_str::<Vec<Value>>(text).is_ok_and(|v| v.is_empty()) {
        return Ok(JsonText::empty_object());
    }
    Err("variables: must be an object".to_owned())
}

/// An evaluation result's fields, borrowed as raw JSON (read only from
/// objects: each item is checked to start with `{` first).
#[derive(Deserialize)]
struct RawResult<'a> {
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow, rename = "type")]
    kind: Option<&'a RawValue>,
    /// Present, even as `null`.
    #[serde(default, deserialize_with = "present")]
    value: bool,
    #[serde(borrow)]
    description: Option<&'a RawValue>,
}

fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(deserializer).map(|_| true)
}

fn evaluation(doc: Stored<'_>) -> FieldResult<JsonText> {
    let value = doc.raw;
    let items: Vec<&RawValue> = serde_json::from_str(value.get())
        .map_err(|_| "evaluation: must be an array of results".to_owned())?;
    let is_string = |v: Option<&RawValue>| v.is_some_and(|v| v.get().starts_with('"'));
    for (i, item) in items.iter().enumerate() {
        let raw = Some(item.get())
            .filter(|text| text.starts_with('{'))
            .and_then(|text| serde_json::from_str::<RawResult<'_>>(text).ok());
        let problem = match raw {
            None => Some("must be an object"),
            Some(raw) if !is_string(raw.name) => Some("name must be a string"),
            Some(raw)
                if !raw
                    .kind
                    .and_then(|k| serde_json::from_str::<std::borrow::Cow<'_, str>>(k.get()).ok())
                    .is_some_and(|k| matches!(&*k, "bool" | "string" | "integer" | "number")) =>
            {
                Some("type must be one of bool, string, integer, number")
            }
            Some(raw) if !raw.value => Some("value is required"),
            Some(raw) if !is_string(raw.description) => Some("description must be a string"),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            return Err(format!("evaluation[{i}]: {problem}"));
        }
    }
    Ok(JsonText::from_trusted(doc.compact))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"{"id": 123456, "assistant_name": "Sales Assistant", "campaign_name": null,
        "type": "outbound", "duration": 180, "assistant_phone_number": "+4912345678",
        "client_phone_number": "+4915123456789", "status": "completed",
        "transcript": [{"text": "Hallo?", "type": "transcript", "sender": "human", "timestamp": 1754055272.069057},
                       {"text": "Hallo, hier ist \"Max\"", "type": "transcript", "sender": "bot", "timestamp": 1754055268.525861}],
        "variables": {"customer_name": "John", "big": 123456789012345678901234567890},
        "evaluation": [{"name": "status", "type": "bool", "value": true, "description": "ok"}],
        "webhook_response": {"crm_updated": true}, "carrier_cost": "0.08000000", "total_cost": 0.12,
        "answered_by": "human", "recording_url": null,
        "created_at": "2024-01-15T10:30:00Z", "updated_at": "2024-01-15 10:33:00"}"#;

    #[test]
    fn keeps_documents_exactly_and_sorts_segments() {
        let call = parse_call(SEED).expect("valid");
        assert_eq!(call.id, 123456);
        assert_eq!(
            call.transcript.as_str(),
            r#"[{"text":"Hallo, hier ist \"Max\"","type":"transcript","sender":"bot","timestamp":1754055268.525861},{"text":"Hallo?","type":"transcript","sender":"human","timestamp":1754055272.069057}]"#
        );
        assert_eq!(
            call.variables.as_str(),
            r#"{"customer_name":"John","big":123456789012345678901234567890}"#
        );
        assert_eq!(
            call.carrier_cost.map(|m| m.to_string()),
            Some("0.08".to_owned())
        );
        assert_eq!(call.updated_at - call.created_at, 180);
    }

    #[test]
    fn explains_what_is_wrong() {
        for (broken, reason) in [
            (
                SEED.replace("\"completed\"", "\"done\""),
                "status: \"done\" is not one of",
            ),
            (
                SEED.replace("123456,", "\"abc\","),
                "id: must be an integer",
            ),
            (
                SEED.replace("\"human\", \"timestamp\"", "\"robot\", \"timestamp\""),
                "transcript[0]: sender",
            ),
            (
                SEED.replace("\"0.08000000\"", "0.123456789"),
                "carrier_cost: must have at most 8",
            ),
            (
                SEED.replace("2024-01-15T10:30:00Z", "yesterday"),
                "created_at:",
            ),
            (
                SEED.replace("2024-01-15T10:30:00Z", "9999-12-31T23:30:00-01:00"),
                "created_at:",
            ),
            (
                SEED.replace("123456,", "9007199254740992,"),
                "id: must be at most 9007199254740991",
            ),
            (
                SEED.replace("1754055272.069057", "1e400"),
                "not valid JSON: number out of range",
            ),
            (
                SEED.replace("\"customer_name\": \"John\"", "\"customer_name\": \"\\ud800\""),
                "not valid JSON: unexpected end of hex escape",
            ),
            (
                SEED.replace("\"crm_updated\": true", "\"crm_updated\": -1e999"),
                "not valid JSON: number out of range",
            ),
            ("[1]".to_owned(), "not a call object"),
            (
                r#"[7,"A",null,"inbound",1,null,null,"completed",[],{},[],null,null,null,null,null,"2024-01-15T10:30:00Z",null]"#.to_owned(),
                "not a call object: expected a JSON object",
            ),
            (
                SEED.replace(
                    r#"{"text": "Hallo?", "type": "transcript", "sender": "human", "timestamp": 1754055272.069057}"#,
                    r#"["Hallo?", "transcript", "human", 1754055272.069057]"#,
                ),
                "transcript[0]: must be an object",
            ),
            ("{".to_owned(), "not valid JSON"),
        ] {
            let err = parse_call(&broken).expect_err(reason);
            assert!(err.starts_with(reason), "{err} should start with {reason}");
        }
    }

    #[test]
    fn checks_segments_and_results_as_before() {
        let seg = r#"{"text": "Hallo?", "type": "transcript", "sender": "human", "timestamp": 1754055272.069057}"#;
        let result = r#"{"name": "status", "type": "bool", "value": true, "description": "ok"}"#;
        let with =
            |segments: &str, results: &str| SEED.replace(seg, segments).replace(result, results);
        // Accepted: unknown fields, `null` as a result's value, an escaped type.
        for (segments, results) in [
            (
                r#"{"text": "a", "type": "transcript", "sender": "bot", "timestamp": 1, "confidence": 0.9}"#,
                result,
            ),
            (
                seg,
                r#"{"name": "n", "type": "\u0062ool", "value": null, "description": "d", "extra": [1]}"#,
            ),
        ] {
            parse_call(&with(segments, results)).expect("valid");
        }
        // Refused, with the same messages as the two-pass checks gave.
        for (segments, results, reason) in [
            ("7", result, "transcript[0]: must be an object"),
            (
                &format!(r#"{seg}, "x""#),
                result,
                "transcript[1]: must be an object",
            ),
            (
                r#"{"text": "a", "text": "b", "type": "transcript", "sender": "bot", "timestamp": 1}"#,
                result,
                "transcript[0]: must be an object",
            ),
            (
                r#"{"text": null, "type": "transcript", "sender": "bot", "timestamp": 1}"#,
                result,
                "transcript[0]: text must be a string",
            ),
            (
                r#"{"text": "a", "type": "transcript", "sender": "bot", "timestamp": "1"}"#,
                result,
                "transcript[0]: timestamp must be a number",
            ),
            (seg, "[]", "evaluation[0]: must be an object"),
            (
                seg,
                r#"{"name": "a", "name": "b", "type": "bool", "value": 1, "description": "d"}"#,
                "evaluation[0]: must be an object",
            ),
            (
                seg,
                r#"{"name": "n", "type": "bool", "description": "d"}"#,
                "evaluation[0]: value is required",
            ),
            (
                seg,
                r#"{"name": "n", "type": "date", "value": 1, "description": "d"}"#,
                "evaluation[0]: type must be one of",
            ),
            (
                seg,
                r#"{"name": 1, "type": "bool", "value": 1, "description": "d"}"#,
                "evaluation[0]: name must be a string",
            ),
        ] {
            let err = parse_call(&with(segments, results)).expect_err(reason);
            assert!(err.starts_with(reason), "{err} should start with {reason}");
        }
        let not_array = SEED.replace(&format!("[{seg},"), "{\"a\": 1, \"b\": [");
        let err = parse_call(&not_array.replacen("}],", "}]},", 1)).expect_err("object");
        assert!(err.starts_with("transcript: must be an array"), "{err}");
    }

    #[test]
    fn refuses_numbers_strict_parsers_cannot_read() {
        let long = SEED.replace(
            "\"big\": 123456789012345678901234567890",
            &format!("\"big\": {}", "9".repeat(400)),
        );
        let err = parse_call(&long).expect_err("400 digits");
        assert_eq!(err, "not valid JSON: number out of range in variables");
        // A field read as a value says what it wanted.
        let long = SEED.replace("180,", &format!("{},", "9".repeat(400)));
        let err = parse_call(&long).expect_err("400 digits");
        assert!(err.starts_with("duration: must be an integer"), "{err}");
        // Fields not kept are not checked.
        let ignored = SEED.replacen('{', "{\"extra\": [1e400, \"\\ud800\"], ", 1);
        parse_call(&ignored).expect("unknown fields are not kept");
        for (field, from, to) in [
            ("transcript", "1754055272.069057", "1754055272e400"),
            (
                "webhook_response",
                "\"crm_updated\": true",
                "\"crm_updated\": \"\\uDC00\"",
            ),
            ("evaluation", "\"value\": true", "\"value\": -1E999"),
        ] {
            let err = parse_call(&SEED.replace(from, to)).expect_err(field);
            assert!(
                err.starts_with("not valid JSON: ") && err.ends_with(&format!(" in {field}")),
                "{err}"
            );
        }
        let name = SEED.replace("\"Sales Assistant\"", "\"Sales \\ud800\"");
        let err = parse_call(&name).expect_err("lone surrogate in a name");
        assert!(err.starts_with("assistant_name: must be a string"), "{err}");
        let big = SEED.replace("\"big\": 123456789012345678901234567890", "\"big\": 1e308");
        parse_call(&big).expect("1e308 is a double");
    }
}
