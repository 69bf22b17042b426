//! Query parameters as Laravel reads them: after its input middleware the last
//! occurrence of a name wins, values are trimmed and an empty one counts as
//! absent; `name[]=a&name[]=b` (or `name[0]=a`) is an array.

use super::validation::{FieldErrors, must_be_integer, parse_int};

/// One plain (non-array) parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Absent,
    Value(String),
    /// Sent as an array where a single value is expected.
    Array,
}

impl Param {
    /// The parameter `name`; a bracketed `name[...]` after the last plain one
    /// turns it into an array (PHP's reading: the later wins).
    pub fn of(pairs: &[(String, String)], name: &str) -> Self {
        let mut found = Self::Absent;
        for (key, value) in pairs {
            if key == name {
                found = trimmed(value).map_or(Self::Absent, |v| Self::Value(v.to_owned()));
            } else if is_item_of(key, name) {
                found = Self::Array;
            }
        }
        found
    }
}

fn trimmed(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

/// `status[]`, `status[0]`, ...: an item of the array `name`.
fn is_item_of(key: &str, name: &str) -> bool {
    key.strip_prefix(name)
        .is_some_and(|rest| rest.starts_with('[') && rest.ends_with(']'))
}

/// The singular form of a parameter that also has an array form: only the
/// plain `name=` counts (the array is read by [`items`]), the last one wins.
pub fn singular(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| trimmed(value).map(str::to_owned))
}

/// The items of the array `name` (`name[]=` or `name[N]=`), in the order
/// sent, empty ones left out (as a plain empty value counts as not given);
/// `None` when no item has a value.
pub fn items(pairs: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let found: Vec<String> = pairs
        .iter()
        .filter(|(key, _)| is_item_of(key, name))
        .filter_map(|(_, value)| trimmed(value).map(str::to_owned))
        .collect();
    (!found.is_empty()).then_some(found)
}

/// An integer parameter (no array form); errors are added under `name`.
pub fn integer(pairs: &[(String, String)], name: &str, errors: &mut FieldErrors) -> Option<i64> {
    match Param::of(pairs, name) {
        Param::Absent => None,
        Param::Value(text) => {
            let parsed = parse_int(&text);
            if parsed.is_none() {
                errors.add(name, must_be_integer(name));
            }
            parsed
        }
        Param::Array => {
            errors.add(name, must_be_integer(name));
            None
        }
    }
}

/// The given parameters among `names`, as Laravel reads them, in the order
/// the client first sent them: what page URLs carry over. An array comes as
/// its items, `name[0]`, `name[1]`, ... (as Laravel's `Arr::query` writes
/// them), where its first item stood; `arrays` says which names have an
/// array form.
pub fn echo(pairs: &[(String, String)], names: &[&str], arrays: &[&str]) -> Vec<(String, String)> {
    let mut echo: Vec<(String, String)> = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for (key, _) in pairs {
        let array = arrays
            .iter()
            .find(|name| is_item_of(key, name))
            .map(|name| format!("{name}[]"));
        let plain = names.contains(&key.as_str()).then(|| key.clone());
        let Some(seen) = array.or(plain) else {
            continue;
        };
        if done.contains(&seen) {
            continue;
        }
        if let Some(name) = seen.strip_suffix("[]") {
            let values = items(pairs, name).unwrap_or_default();
            echo.extend(
                values
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (format!("{name}[{i}]"), v)),
            );
        } else if arrays.contains(&key.as_str()) {
            if let Some(value) = singular(pairs, key) {
                echo.push((key.clone(), value));
            }
        } else if let Param::Value(value) = Param::of(pairs, key) {
            echo.push((key.clone(), value));
        }
        done.push(seen);
    }
    echo
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(query: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }

    #[test]
    fn plain_and_array_forms() {
        let p = pairs("status=a&status[]=b&status[]=&status[3]=c&type=x&type=&per_page[]=1");
        assert_eq!(singular(&p, "status").as_deref(), Some("a"));
        assert_eq!(
            items(&p, "status"),
            Some(vec!["b".to_owned(), "c".to_owned()])
        );
        assert_eq!(singular(&p, "type"), None);
        assert_eq!(items(&p, "type"), None);
        assert_eq!(Param::of(&p, "per_page"), Param::Array);
        assert_eq!(items(&pairs("status[]="), "status"), None);
        // `statusx[]` is not an item of `status`.
        assert_eq!(items(&pairs("statusx[]=a"), "status"), None);
    }

    #[test]
    fn echo_keeps_first_seen_order_and_indexes_arrays() {
        let p = pairs("q=hi&status[]=b&per_page=5&status=a&status[]=c&limit=3");
        assert_eq!(
            echo(&p, &["q", "status", "per_page"], &["status"]),
            [
                ("q".to_owned(), "hi".to_owned()),
                ("status[0]".to_owned(), "b".to_owned()),
                ("status[1]".to_owned(), "c".to_owned()),
                ("per_page".to_owned(), "5".to_owned()),
                ("status".to_owned(), "a".to_owned()),
            ]
        );
    }
}
