//! Exact money: a decimal with at most 8 fractional digits, stored as an integer
//! count of 10^-8 units so that storage and sums never touch binary floats.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// Fractional digits kept.
pub const SCALE: u32 = 8;

/// An exact amount of money, in units of 10^-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Money(i64);

/// Why a text is not an amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a number")]
    NotANumber,
    #[error("must have at most 8 decimal places")]
    TooPrecise,
    #[error("must not be negative")]
    Negative,
    #[error("is too large")]
    TooLarge,
}

impl Money {
    pub fn from_units(units: i64) -> Self {
        Self(units)
    }

    /// The amount in 10^-8 units, as stored.
    pub fn units(self) -> i64 {
        self.0
    }

    /// Parses a JSON number's text (or a numeric string, as the real Famulor API
    /// sends costs): plain or scientific notation, at most 8 significant
    /// fractional digits after trailing zeros are dropped.
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let text = text.trim();
        let decimal = if text.contains(['e', 'E']) {
            Decimal::from_scientific(text)
        } else {
            Decimal::from_str_exact(text)
        }
        .map_err(|_| MoneyError::NotANumber)?
        .normalize();
        if decimal.is_sign_negative() && !decimal.is_zero() {
            return Err(MoneyError::Negative);
        }
        if decimal.scale() > SCALE {
            return Err(MoneyError::TooPrecise);
        }
        let mut scaled = decimal;
        scaled.rescale(SCALE);
        i64::try_from(scaled.mantissa())
            .map(Self)
            .map_err(|_| MoneyError::TooLarge)
    }

    /// The shortest exact spelling (see `Display`), appended to `out`: written
    /// digit by digit, without `Decimal` and the formatting machinery, which
    /// were 3% of a list page (two amounts per call).
    pub fn write_to(self, out: &mut Vec<u8>) {
        if self.0 < 0 {
            out.push(b'-');
        }
        let units = self.0.unsigned_abs();
        let one = 10u64.pow(SCALE);
        let (whole, mut fraction) = (units / one, units % one);
        out.extend_from_slice(itoa::Buffer::new().format(whole).as_bytes());
        if fraction != 0 {
            let mut digits = SCALE as usize;
            while fraction % 10 == 0 {
                fraction /= 10;
                digits -= 1;
            }
            let mut buffer = itoa::Buffer::new();
            let text = buffer.format(fraction);
            out.push(b'.');
            out.resize(out.len() + (digits - text.len()), b'0');
            out.extend_from_slice(text.as_bytes());
        }
    }
}

impl FromStr for Money {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Shortest exact decimal spelling, valid as a JSON number: `0.08`, `12`, `0.00000001`.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = Vec::with_capacity(24);
        self.write_to(&mut text);
        // Digits, '-' and '.' only.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The hand-written spelling is `Decimal`'s normalized one.
        #[test]
        fn spelled_as_decimal_spells_it(units in proptest::prelude::any::<i64>()) {
            let expected = Decimal::new(units, SCALE).normalize().to_string();
            proptest::prop_assert_eq!(Money::from_units(units).to_string(), expected);
        }
    }

    #[test]
    fn parses_and_prints_exactly() {
        for (input, shown) in [
            ("0.08", "0.08"),
            ("0.12", "0.12"),
            ("0.08000000", "0.08"),
            ("12", "12"),
            ("1e-2", "0.01"),
            ("0.00000001", "0.00000001"),
            ("92233720368.54775807", "92233720368.54775807"),
            ("-0", "0"),
        ] {
            assert_eq!(
                Money::parse(input).map(|m| m.to_string()),
                Ok(shown.to_owned()),
                "{input}"
            );
        }
        assert_eq!(Money::parse("0.123456789"), Err(MoneyError::TooPrecise));
        assert_eq!(Money::parse("abc"), Err(MoneyError::NotANumber));
        assert_eq!(Money::parse("-1"), Err(MoneyError::Negative));
        assert_eq!(
            Money::parse("92233720368.54775808"),
            Err(MoneyError::TooLarge)
        );
    }
}
