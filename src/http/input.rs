//! JSON request bodies checked field by field with Laravel's rules and
//! messages, so that write endpoints answer 422 exactly as Famulor's do.

use axum::body::Bytes;
use axum::extract::FromRequest;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::live::{Segment, Sender, is_e164};
use crate::domain::validation::{display_name, must_be_integer, parse_int, selected_invalid};
use crate::domain::{FieldErrors, JsonText, Money};

/// A JSON object body. An empty body reads as `{}`; anything that is not JSON
/// answers 400; JSON that is not an object reads as `{}` (as Laravel's input
/// bag does), so its required fields are reported missing.
pub struct JsonObject(pub Map<String, Value>, RawTexts);

/// The text of each top-level value of the body, by key. serde_json reads
/// numbers as binary floats, which cannot hold every cost exactly
/// (`99999999.99999999` became `100000000`) nor keep a document's number
/// spellings (`8.50`, integers beyond 64 bits); costs, `variables` and
/// evaluation values are taken from the text instead.
type RawTexts = std::collections::HashMap<String, String>;

impl JsonObject {
    /// The body's fields, reading costs and documents from their text.
    pub fn fields(&self) -> Fields<'_> {
        let mut fields = Fields::new(&self.0);
        fields.raw_texts = Some(&self.1);
        fields
    }
}

/// See [`RawTexts`]. The body parsed as JSON already, so this parse succeeds;
/// should it not, the values' own spellings are used.
fn raw_texts(bytes: &[u8]) -> RawTexts {
    serde_json::from_slice::<std::collections::HashMap<String, &RawValue>>(bytes)
        .map(|raw| {
            raw.into_iter()
                .map(|(key, value)| (key, value.get().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection: BytesRejection| {
                    // 413 past the body limit, as every other answer: `{"message"}`
                    // with the status's standard reason.
                    let status = rejection.status();
                    ApiError::Message(status, status.canonical_reason().unwrap_or("Error").into())
                })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new(), RawTexts::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Self(map, raw_texts(&bytes))),
            Ok(_) => Ok(Self(Map::new(), RawTexts::new())),
            Err(_) => Err(ApiError::Message(
                StatusCode::BAD_REQUEST,
                "The request body is not valid JSON.".into(),
            )),
        }
    }
}

/// Reads fields of a body, collecting every failure in rule order.
pub struct Fields<'a> {
    map: &'a Map<String, Value>,
    /// Set by [`JsonObject::fields`] for the body's top level.
    raw_texts: Option<&'a RawTexts>,
    pub errors: FieldErrors,
}

/// A field that is absent, `null`, or has a value.
pub enum Given<T> {
    Absent,
    Null,
    Value(T),
}

impl<T> Given<T> {
    /// `Some(None)` for an explicit null, `Some(Some(v))` for a value.
    pub fn nullable(self) -> Option<Option<T>> {
        match self {
            Self::Absent => None,
            Self::Null => Some(None),
            Self::Value(v) => Some(Some(v)),
        }
    }

    /// The value; absent and null alike are `None`.
    pub fn value(self) -> Option<T> {
        match self {
            Self::Value(v) => Some(v),
            _ => None,
        }
    }
}

pub fn required_message(field: &str) -> String {
    format!("The {} field is required.", display_name(field))
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            raw_texts: None,
            errors: FieldErrors::new(),
        }
    }

    /// The field's text as sent, at the body's top level.
    fn raw(&self, field: &str) -> Option<&'a str> {
        self.raw_texts
            .and_then(|texts| texts.get(field))
            .map(String::as_str)
    }

    fn fail(&mut self, field: &str, message: String) {
        self.errors.add(field, message);
    }

    /// The raw value, or a "required" error when absent, null or "".
    fn get(&mut self, field: &str, required: bool) -> Given<&'a Value> {
        match self.map.get(field) {
            None => {
                if required {
                    self.fail(field, required_message(field));
                }
                Given::Absent
            }
            Some(Value::Null) => {
                if required {
                    self.fail(field, required_message(field));
                }
                Given::Null
            }
            // Laravel turns empty strings into null.
            Some(Value::String(s)) if s.is_empty() => {
                if required {
                    self.fail(field, required_message(field));
                }
                Given::Null
            }
            Some(value) => Given::Value(value),
        }
    }

    /// A string of at most `max` characters.
    pub fn string(&mut self, field: &str, required: bool, max: usize) -> Given<String> {
        match self.get(field, required) {
            Given::Value(Value::String(s)) => {
                // PostgreSQL's text cannot hold NUL (it answered 500); the
                // import refuses it too.
                if s.contains('\0') {
                    self.fail(
                        field,
                        format!(
                            "The {} field must not contain NUL characters.",
                            display_name(field)
                        ),
                    );
                    return Given::Absent;
                }
                if s.chars().count() > max {
                    self.fail(
                        field,
                        format!(
                            "The {} field must not be greater than {max} characters.",
                            display_name(field)
                        ),
                    );
                    return Given::Absent;
                }
                Given::Value(s.clone())
            }
            Given::Value(_) => {
                self.fail(
                    field,
                    format!("The {} field must be a string.", display_name(field)),
                );
                Given::Absent
            }
            Given::Absent => Given::Absent,
            Given::Null => Given::Null,
        }
    }

    /// An integer, also given as a string (`"5"`), at least `min`.
    pub fn integer(&mut self, field: &str, required: bool, min: Option<i64>) -> Given<i64> {
        let value = match self.get(field, required) {
            Given::Value(Value::Number(n)) => n.as_i64(),
            Given::Value(Value::String(s)) => parse_int(s),
            Given::Value(_) => None,
            Given::Absent => return Given::Absent,
            Given::Null => return Given::Null,
        };
        let Some(n) = value else {
            self.fail(field, must_be_integer(field));
            return Given::Absent;
        };
        if let Some(min) = min.filter(|min| n < *min) {
            self.fail(
                field,
                format!("The {} field must be at least {min}.", display_name(field)),
            );
            return Given::Absent;
        }
        Given::Value(n)
    }

    /// Laravel's `boolean`: true, false, 1, 0, "1", "0".
    pub fn boolean(&mut self, field: &str) -> Given<bool> {
        let value = match self.get(field, false) {
            Given::Value(Value::Bool(b)) => Some(*b),
            Given::Value(Value::Number(n)) => match n.as_i64() {
                Some(1) => Some(true),
                Some(0) => Some(false),
                _ => None,
            },
            Given::Value(Value::String(s)) => match s.as_str() {
                "1" => Some(true),
                "0" => Some(false),
                _ => None,
            },
            Given::Value(_) => None,
            Given::Absent => return Given::Absent,
            Given::Null => return Given::Null,
        };
        match value {
            Some(b) => Given::Value(b),
            None => {
                self.fail(
                    field,
                    format!("The {} field must be true or false.", display_name(field)),
                );
                Given::Absent
            }
        }
    }

    /// One of a closed list of spellings.
    pub fn one_of<T>(
        &mut self,
        field: &str,
        required: bool,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Given<T> {
        match self.get(field, required) {
            Given::Value(Value::String(s)) => match parse(s) {
                Some(v) => Given::Value(v),
                None => {
                    self.fail(field, selected_invalid(field));
                    Given::Absent
                }
            },
            Given::Value(_) => {
                self.fail(field, selected_invalid(field));
                Given::Absent
            }
            Given::Absent => Given::Absent,
            Given::Null => Given::Null,
        }
    }

    /// An E.164 phone number.
    pub fn phone(&mut self, field: &str, required: bool) -> Given<String> {
        match self.string(field, required, 32) {
            Given::Value(s) if !is_e164(&s) => {
                self.fail(
                    field,
                    format!("The {} field format is invalid.", display_name(field)),
                );
                Given::Absent
            }
            other => other,
        }
    }

    /// An absolute http(s) URL.
    pub fn url(&mut self, field: &str) -> Given<String> {
        match self.string(field, false, 2048) {
            // The URL is stored as sent, so it must be one as written: the
            // WHATWG parser behind check_url forgives spaces, tabs and
            // newlines and `https:host` or `http:\\host`, which it rewrites.
            Given::Value(s)
                if crate::webhook::check_url(&s).is_err()
                    || s.chars().any(|c| c.is_whitespace() || c.is_control())
                    || !["http://", "https://"].iter().any(|scheme| {
                        s.get(..scheme.len())
                            .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
                    }) =>
            {
                self.fail(
                    field,
                    format!("The {} field must be a valid URL.", display_name(field)),
                );
                Given::Absent
            }
            other => other,
        }
    }

    /// An amount of money: a number or numeric string, ≥ 0, ≤ 8 decimals.
    pub fn money(&mut self, field: &str) -> Given<Money> {
        let text = match self.get(field, false) {
            Given::Value(Value::Number(n)) => {
                self.raw(field).map_or_else(|| n.to_string(), str::to_owned)
            }
            Given::Value(Value::String(s)) => s.clone(),
            Given::Value(_) => String::new(),
            Given::Absent => return Given::Absent,
            Given::Null => return Given::Null,
        };
        let name = display_name(field);
        match Money::parse(&text) {
            Ok(m) => Given::Value(m),
            Err(err) => {
                use crate::domain::money::MoneyError;
                let message = match err {
                    MoneyError::NotANumber | MoneyError::TooLarge => {
                        format!("The {name} field must be a number.")
                    }
                    MoneyError::TooPrecise => {
                        format!("The {name} field must have 0-8 decimal places.")
                    }
                    MoneyError::Negative => format!("The {name} field must be at least 0."),
                };
                self.fail(field, message);
                Given::Absent
            }
        }
    }

    /// A JSON object (PHP's empty array `[]` reads as `{}`), kept compact.
    pub fn object(&mut self, field: &str) -> Given<JsonText> {
        match self.get(field, false) {
            Given::Value(v @ Value::Object(_)) => Given::Value(JsonText::from_trusted(
                self.raw(field)
                    .map_or_else(|| v.to_string(), crate::domain::json::compact),
            )),
            Given::Value(Value::Array(a)) if a.is_empty() => Given::Value(JsonText::empty_object()),
            Given::Value(_) => {
                self.fail(
                    field,
                    format!("The {} field must be an array.", display_name(field)),
                );
                Given::Absent
            }
            Given::Absent => Given::Absent,
            Given::Null => Given::Null,
        }
    }

    /// A JSON list.
    fn list(&mut self, field: &str, required: bool) -> Option<&'a Vec<Value>> {
        match self.get(field, required) {
            Given::Value(Value::Array(items)) => Some(items),
            Given::Value(_) => {
                self.fail(
                    field,
                    format!("The {} field must be a list.", display_name(field)),
                );
                None
            }
            _ => None,
        }
    }

    /// The evaluation: `[{"name", "type", "value", "description"}]`.
    pub fn evaluation(&mut self, field: &str) -> Given<JsonText> {
        if matches!(self.map.get(field), Some(Value::Null)) {
            return Given::Value(JsonText::empty_array());
        }
        let Some(items) = self.list(field, false) else {
            return Given::Absent;
        };
        let before = self.errors.fields().len();
        // Each item's `value` as sent (read again from the field's text).
        let raw_values: Vec<Option<String>> = self
            .raw(field)
            .and_then(|raw| {
                serde_json::from_str::<Vec<std::collections::HashMap<String, &RawValue>>>(raw).ok()
            })
            .map(|items| {
                items
                    .iter()
                    .map(|item| {
                        item.get("value")
                            .map(|v| crate::domain::json::compact(v.get()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut normalized = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let empty = Map::new();
            let item_map = item.as_object().unwrap_or(&empty);
            let mut inner = Fields::new(item_map);
            let name = inner.string("name", true, 255).value();
            let kind = inner
                .one_of("type", true, |t| {
                    ["bool", "string", "integer", "number"]
                        .contains(&t)
                        .then(|| t.to_owned())
                })
                .value();
            if !item_map.contains_key("value") {
                inner.fail("value", required_message("value"));
            }
            let description = inner.string("description", false, 2048).value();
            self.nest(field, i, inner.errors);
            // Stored in the contract's shape and order, whatever came in; the
            // value with its spelling.
            let value = raw_values
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| item_map.get("value").unwrap_or(&Value::Null).to_string());
            let text = |s: Option<String>| Value::String(s.unwrap_or_default()).to_string();
            normalized.push(format!(
                r#"{{"name":{},"type":{},"value":{value},"description":{}}}"#,
                text(name),
                text(kind),
                text(description)
            ));
        }
        if self.errors.fields().len() > before {
            return Given::Absent;
        }
        Given::Value(JsonText::from_trusted(format!(
            "[{}]",
            normalized.join(",")
        )))
    }

    /// Transcript segments: `[{"text", "sender", "timestamp"}]`, 1 to `max`.
    pub fn segments(&mut self, field: &str, required: bool, max: usize) -> Vec<Segment> {
        let Some(items) = self.list(field, required) else {
            return Vec::new();
        };
        if required && items.is_empty() {
            self.fail(field, required_message(field));
            return Vec::new();
        }
        if items.len() > max {
            self.fail(
                field,
                format!(
                    "The {} field must not have more than {max} items.",
                    display_name(field)
                ),
            );
            return Vec::new();
        }
        let mut segments = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let empty = Map::new();
            let mut inner = Fields::new(item.as_object().unwrap_or(&empty));
            let text = inner.string("text", true, 100_000);
            let sender = inner.one_of("sender", true, Sender::parse);
            let timestamp = match inner.get("timestamp", true) {
                Given::Value(Value::Number(n)) if n.as_f64().is_some_and(|f| f >= 0.0) => {
                    Some(n.clone())
                }
                Given::Value(_) => {
                    inner.fail(
                        "timestamp",
                        "The timestamp field must be a number.".to_owned(),
                    );
                    None
                }
                _ => None,
            };
            let ok = inner.errors.is_empty();
            self.nest(field, i, inner.errors);
            if let (true, Some(text), Some(sender), Some(timestamp)) =
                (ok, text.value(), sender.value(), timestamp)
            {
                segments.push(Segment {
                    text,
                    sender,
                    timestamp,
                });
            }
        }
        segments
    }

    /// Files an item's errors under `field.i.name`, with Laravel's wording
    /// (`The segments.0.text field is required.`).
    fn nest(&mut self, field: &str, index: usize, errors: FieldErrors) {
        for (name, messages) in errors.fields() {
            let path = format!("{field}.{index}.{name}");
            for message in messages {
                let spoken = display_name(name);
                self.fail(&path, message.replacen(&spoken, &path, 1));
            }
        }
    }

    pub fn finish(self) -> Result<(), ApiError> {
        self.errors.into_result(()).map_err(ApiError::Validation)
    }
}
