//! Exact list totals without counting rows: the rollups, and how a write
//! changes them.
//!
//! Every write keeps four rollups per user in the same transaction:
//! `call_user_totals` (all calls), `call_totals` (status × type × assistant ×
//! campaign × answered_by), `call_counts` (the same per UTC day) and
//! `call_days` (calls per day). The unfiltered total is one row; any other
//! filter on those dimensions and on dates is a sum over rollup rows, whatever
//! the tenant's size (see `store::query`, which reads them).
//!
//! `call_totals` and `call_counts` also sum what the stats report
//! (CONTRACT §9): seconds, calls with a duration, and both costs in money
//! units, so that stats cost as many rows as the rollups have, not calls.

use std::collections::BTreeMap;

use crate::domain::{AnsweredBy, CallStatus, CallType};

/// Seconds in a day: rollups are by UTC day.
pub const DAY: i64 = 86_400;

/// Seconds in an hour: the stats' hourly rollup (local days in other zones).
pub const HOUR: i64 = 3_600;

/// The UTC day number of a Unix time (floor division, also before 1970).
pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(DAY)
}

/// What a call adds to the sums of its rollup rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Measures {
    pub duration: i64,
    /// Money units; 0 for a call with no cost.
    pub total_cost: i64,
    pub carrier_cost: i64,
}

impl Measures {
    pub fn new(duration: i64, total_cost: Option<i64>, carrier_cost: Option<i64>) -> Self {
        Self {
            duration,
            total_cost: total_cost.unwrap_or(0),
            carrier_cost: carrier_cost.unwrap_or(0),
        }
    }
}

/// The sums of a rollup row (or a change to one).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub n: i64,
    pub duration_sum: i64,
    /// Calls with a duration > 0 (what an average divides by).
    pub duration_n: i64,
    pub total_cost: i64,
    pub carrier_cost: i64,
}

impl Tally {
    fn of(m: Measures, sign: i64) -> Self {
        Self {
            n: sign,
            duration_sum: sign * m.duration,
            duration_n: if m.duration > 0 { sign } else { 0 },
            total_cost: sign * m.total_cost,
            carrier_cost: sign * m.carrier_cost,
        }
    }

    /// Adds `other` times `sign`.
    pub fn add(&mut self, other: &Self, sign: i64) {
        self.n += sign * other.n;
        self.duration_sum += sign * other.duration_sum;
        self.duration_n += sign * other.duration_n;
        self.total_cost += sign * other.total_cost;
        self.carrier_cost += sign * other.carrier_cost;
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

/// The summed columns of the rollups that keep sums, in [`Tally`]'s order.
pub const SUM_COLUMNS: &str = "n, duration_sum, duration_n, total_cost, carrier_cost";

/// `col = table.col + excluded.col` for each of [`SUM_COLUMNS`]: an upsert's
/// `DO UPDATE SET` (the same SQL on both backends).
pub fn sums_added(table: &str) -> String {
    SUM_COLUMNS
        .split(", ")
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The rollup coordinates of one call, and what it adds to their sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub day: i64,
    /// Hours since 1970 (floor): only `call_hour_stats` is kept by hour.
    pub hour: i64,
    pub status: i64,
    pub call_type: i64,
    /// 0 when the call has no assistant.
    pub assistant_id: i64,
    /// 0 when the call has no campaign.
    pub campaign_id: i64,
    /// 0 when nobody answered (yet).
    pub answered_by: i64,
    pub measures: Measures,
}

/// Where a call sits in the rollups, as its columns describe it.
#[derive(Debug, Clone, Copy)]
pub struct RollupCall {
    pub created_at: i64,
    pub status: CallStatus,
    pub call_type: CallType,
    pub assistant_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub answered_by: Option<AnsweredBy>,
    pub measures: Measures,
}

impl RollupKey {
    pub fn new(call: RollupCall) -> Self {
        Self::from_codes(
            call.created_at,
            call.status.code(),
            call.call_type.code(),
            call.assistant_id,
            call.campaign_id,
            call.answered_by.map(AnsweredBy::code),
            call.measures,
        )
    }

    /// From the stored columns (codes, nullable ids).
    pub fn from_codes(
        created_at: i64,
        status: i64,
        call_type: i64,
        assistant_id: Option<i64>,
        campaign_id: Option<i64>,
        answered_by: Option<i64>,
        measures: Measures,
    ) -> Self {
        Self {
            day: day_of(created_at),
            hour: created_at.div_euclid(HOUR),
            status,
            call_type,
            assistant_id: assistant_id.unwrap_or(0),
            campaign_id: campaign_id.unwrap_or(0),
            answered_by: answered_by.unwrap_or(0),
            measures,
        }
    }
}

/// Changes to the rollups made by one transaction, applied at its end in key
/// order (so concurrent writers lock rollup rows in the same order).
#[derive(Debug, Default)]
pub struct CountDeltas {
    detail: BTreeMap<RollupKey, i64>,
}

/// A `call_totals` row: status, type, assistant, campaign, answered_by.
pub type TotalsKey = (i64, i64, i64, i64, i64);

/// One row of each rollup to add to.
pub struct RollupDeltas {
    /// (status, type, assistant, campaign, answered_by) → delta
    pub totals: Vec<(TotalsKey, Tally)>,
    /// (day, status, type, assistant, campaign, answered_by) → delta; the
    /// keys' hour and measures are zero.
    pub counts: Vec<(RollupKey, Tally)>,
    /// day → delta
    pub days: Vec<(i64, i64)>,
    /// (day, status) → delta, for the stats' series
    pub day_stats: Vec<((i64, i64), Tally)>,
    /// (hour, status) → delta, for the stats' series in other zones
    pub hour_stats: Vec<((i64, i64), Tally)>,
    /// The user's all-time total → delta
    pub all: i64,
}

impl CountDeltas {
    pub fn add(&mut self, key: RollupKey, delta: i64) {
        *self.detail.entry(key).or_default() += delta;
    }

    /// A row moved from `old` to `new` (an update): nothing when unchanged.
    pub fn moved(&mut self, old: RollupKey, new: RollupKey) {
        if old != new {
            self.add(old, -1);
            self.add(new, 1);
        }
    }

    /// The non-zero changes per rollup, each sorted by key.
    pub fn into_rollups(self) -> RollupDeltas {
        let mut totals: BTreeMap<TotalsKey, Tally> = BTreeMap::new();
        let mut counts: BTreeMap<RollupKey, Tally> = BTreeMap::new();
        let mut days: BTreeMap<i64, i64> = BTreeMap::new();
        let mut day_stats: BTreeMap<(i64, i64), Tally> = BTreeMap::new();
        let mut hour_stats: BTreeMap<(i64, i64), Tally> = BTreeMap::new();
        let mut all = 0;
        for (key, delta) in self.detail {
            if delta == 0 {
                continue;
            }
            let tally = Tally::of(key.measures, delta);
            all += delta;
            totals
                .entry((
                    key.status,
                    key.call_type,
                    key.assistant_id,
                    key.campaign_id,
                    key.answered_by,
                ))
                .or_default()
                .add(&tally, 1);
            let row = RollupKey {
                hour: 0,
                measures: Measures::default(),
                ..key
            };
            counts.entry(row).or_default().add(&tally, 1);
            *days.entry(key.day).or_default() += delta;
            day_stats
                .entry((key.day, key.status))
                .or_default()
                .add(&tally, 1);
            hour_stats
                .entry((key.hour, key.status))
                .or_default()
                .add(&tally, 1);
        }
        let nonzero = |map: BTreeMap<(i64, i64), Tally>| {
            map.into_iter()
                .filter(|(_, t)| !t.is_zero())
                .collect::<Vec<_>>()
        };
        RollupDeltas {
            totals: totals.into_iter().filter(|(_, t)| !t.is_zero()).collect(),
            counts: counts.into_iter().filter(|(_, t)| !t.is_zero()).collect(),
            days: days.into_iter().filter(|(_, d)| *d != 0).collect(),
            day_stats: nonzero(day_stats),
            hour_stats: nonzero(hour_stats),
            all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_floor() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(86_399), 0);
        assert_eq!(day_of(86_400), 1);
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn deltas_cancel_and_group() {
        let m = Measures::new(30, Some(5), None);
        let a = RollupKey::from_codes(0, 6, 1, None, None, Some(1), m);
        let b = RollupKey::from_codes(86_400, 6, 1, Some(3), None, None, m);
        let mut deltas = CountDeltas::default();
        deltas.add(a, 1);
        deltas.moved(a, b);
        deltas.moved(b, b);
        let rollups = deltas.into_rollups();
        let one = Tally {
            n: 1,
            duration_sum: 30,
            duration_n: 1,
            total_cost: 5,
            carrier_cost: 0,
        };
        let row = RollupKey {
            hour: 0,
            measures: Measures::default(),
            ..b
        };
        assert_eq!(rollups.counts, [(row, one)]);
        assert_eq!(rollups.totals, [((6, 1, 3, 0, 0), one)]);
        assert_eq!(rollups.days, [(1, 1)]);
        assert_eq!(rollups.day_stats, [((1, 6), one)]);
        assert_eq!(rollups.hour_stats, [((24, 6), one)]);
        assert_eq!(rollups.all, 1);
    }

    #[test]
    fn a_changed_cost_moves_the_sums_not_the_count() {
        let before = RollupKey::from_codes(0, 6, 1, None, None, None, Measures::new(0, None, None));
        let after = RollupKey::from_codes(
            0,
            6,
            1,
            None,
            None,
            None,
            Measures::new(42, Some(7), Some(2)),
        );
        let mut deltas = CountDeltas::default();
        deltas.moved(before, after);
        let rollups = deltas.into_rollups();
        let moved = Tally {
            n: 0,
            duration_sum: 42,
            duration_n: 1,
            total_cost: 7,
            carrier_cost: 2,
        };
        assert_eq!(rollups.totals, [((6, 1, 0, 0, 0), moved)]);
        assert!(rollups.days.is_empty());
        assert_eq!(rollups.all, 0);
    }
}
