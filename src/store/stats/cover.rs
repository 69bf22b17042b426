//! A span of time as the fewest rollup rows: whole UTC days, whole hours and,
//! only where an edge falls inside an hour (a half-hour zone), calls counted
//! from rows. Each edge is taken the shorter way round: a local day in
//! Berlin is one UTC day plus or minus an hour or two, never 22 hours added
//! one by one.

use crate::store::counts::{DAY, HOUR};

/// One part of a span: a rollup row's day or hour, or calls in `[lo, hi)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Piece {
    Day(i64),
    Hour(i64),
    Rows(i64, i64),
}

/// Signed pieces whose sum is exactly the calls in `[lo, hi)`, using the
/// rollup units given (largest first; `[DAY]` when there is no hourly one).
pub fn cover(lo: i64, hi: i64, units: &[i64]) -> Vec<(i64, Piece)> {
    let mut out = Vec::new();
    add(&mut out, 1, lo, hi, units);
    out
}

fn piece(unit: i64, n: i64) -> Piece {
    if unit == DAY {
        Piece::Day(n)
    } else {
        Piece::Hour(n)
    }
}

fn add(out: &mut Vec<(i64, Piece)>, sign: i64, lo: i64, hi: i64, units: &[i64]) {
    if lo >= hi {
        return;
    }
    let Some((&unit, finer)) = units.split_first() else {
        out.push((sign, Piece::Rows(lo, hi)));
        return;
    };
    debug_assert!(unit == DAY || unit == HOUR);
    let first = lo.div_euclid(unit) + i64::from(lo.rem_euclid(unit) != 0);
    let last = hi.div_euclid(unit);
    if first > last {
        // Inside one unit: its part, or the whole unit less the rest.
        let cell = lo.div_euclid(unit);
        if hi - lo > unit / 2 {
            out.push((sign, piece(unit, cell)));
            add(out, -sign, cell * unit, lo, finer);
            add(out, -sign, hi, (cell + 1) * unit, finer);
        } else {
            add(out, sign, lo, hi, finer);
        }
        return;
    }
    for n in first..last {
        out.push((sign, piece(unit, n)));
    }
    // The part before the first whole unit, and after the last.
    edge(out, sign, lo, first * unit, unit, finer, true);
    edge(out, sign, last * unit, hi, unit, finer, false);
}

/// `[lo, hi)` lies inside one unit, touching its end (`before`) or its start.
fn edge(
    out: &mut Vec<(i64, Piece)>,
    sign: i64,
    lo: i64,
    hi: i64,
    unit: i64,
    finer: &[i64],
    before: bool,
) {
    if lo >= hi {
        return;
    }
    if hi - lo <= unit / 2 {
        add(out, sign, lo, hi, finer);
        return;
    }
    let cell = if before {
        hi.div_euclid(unit) - 1
    } else {
        lo.div_euclid(unit)
    };
    out.push((sign, piece(unit, cell)));
    if before {
        add(out, -sign, cell * unit, lo, finer);
    } else {
        add(out, -sign, hi, (cell + 1) * unit, finer);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The seconds a cover counts, as a signed multiplicity per second
    /// bucket of a small window.
    fn weight(pieces: &[(i64, Piece)], at: i64) -> i64 {
        pieces
            .iter()
            .map(|(sign, p)| {
                let (lo, hi) = match *p {
                    Piece::Day(d) => (d * DAY, (d + 1) * DAY),
                    Piece::Hour(h) => (h * HOUR, (h + 1) * HOUR),
                    Piece::Rows(lo, hi) => (lo, hi),
                };
                if (lo..hi).contains(&at) { *sign } else { 0 }
            })
            .sum()
    }

    #[test]
    fn a_berlin_day_is_one_day_and_an_hour() {
        // 2024-01-15 in Berlin: [2024-01-14T23:00Z, 2024-01-15T23:00Z).
        let day = 19_737;
        let (lo, hi) = (day * DAY - HOUR, (day + 1) * DAY - HOUR);
        let pieces = cover(lo, hi, &[DAY, HOUR]);
        assert_eq!(
            pieces,
            [
                (1, Piece::Hour(day * 24 - 1)),
                (1, Piece::Day(day)),
                (-1, Piece::Hour(day * 24 + 23)),
            ]
        );
        // A half-hour zone needs rows for the half hours only.
        let (lo, hi) = (
            day * DAY - 5 * HOUR - 1800,
            (day + 1) * DAY - 5 * HOUR - 1800,
        );
        let pieces = cover(lo, hi, &[DAY, HOUR]);
        assert_eq!(
            pieces
                .iter()
                .filter(|(_, p)| matches!(p, Piece::Rows(..)))
                .count(),
            2
        );
        assert!(pieces.len() <= 2 + 2 * 6 + 1);
        // A UTC day is one row.
        assert_eq!(
            cover(day * DAY, (day + 1) * DAY, &[DAY, HOUR]),
            [(1, Piece::Day(day))]
        );
    }

    proptest! {
        #[test]
        fn covers_count_every_second_once(
            lo in -3 * DAY..3 * DAY,
            len in 0..4 * DAY,
            hours in any::<bool>(),
            probe in 0..400usize,
        ) {
            let hi = lo + len;
            let units: &[i64] = if hours { &[DAY, HOUR] } else { &[DAY] };
            let pieces = cover(lo, hi, units);
            // Probe seconds near the edges and some inside.
            let mut at = vec![lo - 1, lo, lo + 1, hi - 1, hi, hi + 1];
            at.push(lo + i64::try_from(probe).unwrap_or(0) * len.max(1) / 400);
            for t in at {
                let want = i64::from((lo..hi).contains(&t));
                prop_assert_eq!(weight(&pieces, t), want, "at {}", t);
            }
            // Rows only where an edge is not on a unit boundary.
            for (_, p) in &pieces {
                if let Piece::Rows(a, b) = p {
                    let bound = if hours { HOUR / 2 } else { DAY / 2 };
                    prop_assert!(b - a <= bound, "{:?}", p);
                }
            }
        }
    }
}
