//! Phone-number comparison as the contract defines it for the `phone_number` filter.

/// Normalises a number for comparison: drops spaces, `-`, `/`, `(`, `)` and `.`,
/// and reads a leading `00` as `+`. Stored numbers and query values both go
/// through this, so `0049 151 2345-678` finds `+491512345678`.
pub fn normalize(number: &str) -> String {
    let compact: String = number
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '/' | '(' | ')' | '.'))
        .collect();
    match compact.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => compact,
    }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn strips_separators_and_reads_00_as_plus() {
        assert_eq!(
            normalize("+49 (151) 234-56/78.9"),
            "+491512345678 9".replace(' ', "")
        );
        assert_eq!(normalize("0049 151 23456789"), "+4915123456789");
        assert_eq!(normalize("015123456789"), "015123456789");
        assert_eq!(normalize(""), "");
    }
}
