//! When to retry a failed delivery.
//!
//! The schedule is a short list of delays written as an operator would say
//! it (`5s,30s,2m,10m,1h,6h`): quick retries catch a receiver that blinked,
//! the long tail rides out a deploy or an outage of several hours. Jitter
//! keeps the deliveries that failed together (a receiver went down) from
//! all coming back at the same instant when it is up again.

use std::time::Duration;

use anyhow::{Context, bail};
use rand::Rng;

/// The retry schedule used when none is configured: six retries spread
/// over about 7 hours 12 minutes after the first attempt.
pub const DEFAULT_SCHEDULE: &str = "5s,30s,2m,10m,1h,6h";

/// Random jitter applied to every delay: ±20%.
const JITTER: f64 = 0.2;

/// Delay before the retry that follows failed attempt number `attempts_made`
/// (1-based): `schedule[attempts_made - 1]` with ±20% random jitter; None
/// when the schedule is exhausted (give up). `attempts_made == 0` is taken
/// as 1, so a caller that counts from zero by mistake still retries rather
/// than giving up before the first retry.
pub fn retry_delay(schedule: &[Duration], attempts_made: u32) -> Option<Duration> {
    let index = usize::try_from(attempts_made.max(1) - 1).ok()?;
    let base = *schedule.get(index)?;
    let factor = rand::rng().random_range((1.0 - JITTER)..=(1.0 + JITTER));
    Some(base.mul_f64(factor))
}

/// Parses `"5s,30s,2m,10m,1h,6h"` (units ms, s, m, h; non-negative
/// integers; spaces around entries allowed) into durations. Errors name the
/// offending entry, since the text comes from a command-line flag.
pub fn parse_schedule(text: &str) -> anyhow::Result<Vec<Duration>> {
    if text.trim().is_empty() {
        bail!("the retry schedule is empty; expected e.g. \"{DEFAULT_SCHEDULE}\"");
    }
    text.split(',')
        .map(|entry| {
            parse_delay(entry.trim()).with_context(|| {
                format!(
                    "invalid retry schedule entry {:?} in {text:?}; expected e.g. \"{DEFAULT_SCHEDULE}\"",
                    entry.trim()
                )
            })
        })
        .collect()
}

/// One entry: digits followed by a unit.
fn parse_delay(entry: &str) -> anyhow::Result<Duration> {
    let split = entry
        .find(|c: char| !c.is_ascii_digit())
        .context("missing unit (ms, s, m or h)")?;
    let (digits, unit) = entry.split_at(split);
    if digits.is_empty() {
        bail!("a delay starts with a whole number");
    }
    let value: u64 = digits.parse().context("number too large")?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => bail!("unknown unit {unit:?} (use ms, s, m or h)"),
    };
    let millis = value
        .checked_mul(millis_per_unit)
        .context("number too large")?;
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn parses_the_default_and_every_unit() {
        let parsed = parse_schedule(DEFAULT_SCHEDULE).expect("valid");
        let expected = [5, 30, 120, 600, 3600, 21600].map(secs);
        assert_eq!(parsed, expected);

        let parsed = parse_schedule(" 250ms, 1s ,0s,2m,1h").expect("valid");
        let expected = [
            Duration::from_millis(250),
            secs(1),
            secs(0),
            secs(120),
            secs(3600),
        ];
        assert_eq!(parsed, expected);
    }

    #[test]
    fn rejects_bad_schedules_with_a_clear_message() {
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("5", "missing unit"),
            ("5s,", "\"\""),
            ("5s,,30s", "\"\""),
            ("s", "whole number"),
            ("-5s", "whole number"),
            ("1.5s", "unknown unit"),
            ("5d", "unknown unit"),
            ("5 s", "unknown unit"),
            ("5S", "unknown unit"),
            ("99999999999999999999s", "too large"),
            ("18446744073709551615h", "too large"),
        ];
        for (input, expected) in cases {
            let error = format!("{:#}", parse_schedule(input).expect_err(input));
            assert!(error.contains(expected), "{input:?}: {error}");
        }
        let error = format!("{:#}", parse_schedule("5s,10x").expect_err("bad unit"));
        assert!(error.contains("\"10x\""), "names the entry: {error}");
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_varies() {
        let schedule = [secs(10), secs(100)];
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let first = retry_delay(&schedule, 1).expect("a delay");
            assert!(first >= Duration::from_millis(8_000), "{first:?}");
            assert!(first <= Duration::from_millis(12_000), "{first:?}");
            let second = retry_delay(&schedule, 2).expect("a delay");
            assert!(second >= secs(80) && second <= secs(120), "{second:?}");
            seen.insert(first);
        }
        assert!(
            seen.len() > 100,
            "jitter is random: {} distinct",
            seen.len()
        );
    }

    #[test]
    fn gives_up_after_the_schedule() {
        let schedule = parse_schedule(DEFAULT_SCHEDULE).expect("valid");
        assert!(retry_delay(&schedule, 6).is_some());
        assert_eq!(retry_delay(&schedule, 7), None);
        assert_eq!(retry_delay(&schedule, u32::MAX), None);
        assert_eq!(retry_delay(&[], 1), None);
        assert_eq!(retry_delay(&[secs(0)], 1), Some(secs(0)));
    }

    #[test]
    fn attempt_zero_is_treated_as_the_first() {
        let delay = retry_delay(&[secs(10)], 0).expect("a delay");
        assert!(delay >= secs(8) && delay <= secs(12), "{delay:?}");
    }
}
