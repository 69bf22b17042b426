//! `GET /api/user/calls/export` (CONTRACT §10): the list's filters and
//! `sort`, and the format.

use super::filter::{CallFilter, parse_filter};
use super::listing::Sort;
use super::params::Param;
use super::validation::{FieldErrors, selected_invalid};

/// What an export is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Ndjson,
    Csv,
}

impl ExportFormat {
    pub fn extension(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportQuery {
    pub filter: CallFilter,
    pub sort: Sort,
    pub format: ExportFormat,
}

/// One of `choices` for parameter `name`, `default` when absent.
fn choice<T: Copy>(
    pairs: &[(String, String)],
    name: &str,
    default: T,
    parse: impl Fn(&str) -> Option<T>,
    errors: &mut FieldErrors,
) -> T {
    match Param::of(pairs, name) {
        Param::Absent => default,
        Param::Value(text) => parse(&text).unwrap_or_else(|| {
            errors.add(name, selected_invalid(name));
            default
        }),
        Param::Array => {
            errors.add(name, selected_invalid(name));
            default
        }
    }
}

/// The list's filters and sort, and `format` (`ndjson`, the default, or
/// `csv`). Paging parameters do not apply and are ignored.
pub fn parse_export(pairs: &[(String, String)]) -> Result<ExportQuery, FieldErrors> {
    let mut errors = FieldErrors::new();
    let (filter, _zone) = parse_filter(pairs, &mut errors);
    let sort = choice(pairs, "sort", Sort::CreatedDesc, Sort::parse, &mut errors);
    let format = choice(
        pairs,
        "format",
        ExportFormat::Ndjson,
        |t| match t {
            "ndjson" => Some(ExportFormat::Ndjson),
            "csv" => Some(ExportFormat::Csv),
            _ => None,
        },
        &mut errors,
    );
    errors.into_result(ExportQuery {
        filter,
        sort,
        format,
    })
}

/// A CSV cell that a spreadsheet would run as a formula gets a leading `'`.
pub fn guard_formula(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_guarded() {
        for cell in ["=1+1", "+4915", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard_formula(cell), format!("'{cell}"));
        }
        for cell in ["", "hello", "1.5", "{\"a\":1}", " =x"] {
            assert_eq!(guard_formula(cell), cell);
        }
    }

    #[test]
    fn the_format_is_one_of_two() {
        let pairs = vec![("format".to_owned(), "xlsx".to_owned())];
        let errors = parse_export(&pairs).expect_err("refused");
        assert_eq!(errors.summary(), "The selected format is invalid.");
    }
}
