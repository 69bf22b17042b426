//! Field errors in Laravel's validation shape.

/// Failed fields with their messages, in rule order (the order clients see).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors {
    fields: Vec<(String, Vec<String>)>,
}

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// A single failing field.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Adds a message to a field, keeping first-seen field order.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        match self.fields.iter_mut().find(|(name, _)| *name == field) {
            Some((_, messages)) => messages.push(message.into()),
            None => self.fields.push((field, vec![message.into()])),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    pub fn fields(&self) -> &[(String, Vec<String>)] {
        &self.fields
    }

    /// `Ok(value)` when nothing failed.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// Laravel's summary: the first message, plus ` (and N more error[s])`
    /// counting every other message.
    pub fn summary(&self) -> String {
        let mut all = self.fields.iter().flat_map(|(_, messages)| messages);
        let Some(first) = all.next() else {
            return "The given data was invalid.".to_owned();
        };
        match all.count() {
            0 => first.clone(),
            1 => format!("{first} (and 1 more error)"),
            n => format!("{first} (and {n} more errors)"),
        }
    }
}

/// Serialises as a JSON object of field -> messages, keeping rule order.
impl serde::Serialize for FieldErrors {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for (field, messages) in &self.fields {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// Laravel's human name of a field: `per_page` reads `per page`.
pub fn display_name(field: &str) -> String {
    field.replace('_', " ")
}

/// `The <field> field must be an integer.`
pub fn must_be_integer(field: &str) -> String {
    format!("The {} field must be an integer.", display_name(field))
}

/// `The selected <field> is invalid.`
pub fn selected_invalid(field: &str) -> String {
    format!("The selected {} is invalid.", display_name(field))
}

/// Reads an integer the way PHP's `FILTER_VALIDATE_INT` (behind Laravel's
/// `integer` rule) does: an optional sign, then `0` or digits without a
/// leading zero, within 64 bits.
pub fn parse_int(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    let well_formed =
        digits.bytes().all(|b| b.is_ascii_digit()) && (digits == "0" || !digits.starts_with('0'));
    if digits.is_empty() || !well_formed {
        return None;
    }
    text.strip_prefix('+').unwrap_or(text).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_other_messages() {
        let mut errors = FieldErrors::single("status", "The selected status is invalid.");
        assert_eq!(errors.summary(), "The selected status is invalid.");
        errors.add("type", "The selected type is invalid.");
        assert_eq!(
            errors.summary(),
            "The selected status is invalid. (and 1 more error)"
        );
        errors.add("per_page", "x");
        assert_eq!(
            errors.summary(),
            "The selected status is invalid. (and 2 more errors)"
        );
    }

    #[test]
    fn integers_like_php() {
        assert_eq!(parse_int("5"), Some(5));
        assert_eq!(parse_int("+5"), Some(5));
        assert_eq!(parse_int("-5"), Some(-5));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("-0"), Some(0));
        for bad in [
            "",
            "+",
            "007",
            "00",
            "1.5",
            "1e3",
            "abc",
            " 1",
            "99999999999999999999",
        ] {
            assert_eq!(parse_int(bad), None, "{bad}");
        }
    }
}
