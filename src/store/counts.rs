//! Exact list totals without counting rows: the rollups, and how a write
//! changes them.
//!
//! Every write keeps four rollups per user in the same transaction:
//! `call_user_totals` (all calls), `call_totals` (status × type × assistant ×
//! campaign × answered_by), `call_counts` (the same per UTC day) and
//! `call_days` (calls per day). The unfiltered total is one row; any other
//! filter on those dimensions and on dates is a sum over rollup rows, whatever
//! the tenant's size (see `store::query`, which reads them).

use std::collections::BTreeMap;

use crate::domain::{AnsweredBy, CallStatus, CallType};

/// Seconds in a day: rollups are by UTC day.
pub const DAY: i64 = 86_400;

/// The UTC day number of a Unix time (floor division, also before 1970).
pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(DAY)
}

/// The rollup coordinates of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RollupKey {
    pub day: i64,
    pub status: i64,
    pub call_type: i64,
    /// 0 when the call has no assistant.
    pub assistant_id: i64,
    /// 0 when the call has no campaign.
    pub campaign_id: i64,
    /// 0 when nobody answered (yet).
    pub answered_by: i64,
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
    ) -> Self {
        Self {
            day: day_of(created_at),
            status,
            call_type,
            assistant_id: assistant_id.unwrap_or(0),
            campaign_id: campaign_id.unwrap_or(0),
            answered_by: answered_by.unwrap_or(0),
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
    pub totals: Vec<(TotalsKey, i64)>,
    /// (day, status, type, assistant, campaign, answered_by) → delta
    pub counts: Vec<(RollupKey, i64)>,
    /// day → delta
    pub days: Vec<(i64, i64)>,
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
        let mut totals: BTreeMap<TotalsKey, i64> = BTreeMap::new();
        let mut days: BTreeMap<i64, i64> = BTreeMap::new();
        let mut counts = Vec::new();
        let mut all = 0;
        for (key, delta) in self.detail {
            if delta == 0 {
                continue;
            }
            all += delta;
            *totals
                .entry((
                    key.status,
                    key.call_type,
                    key.assistant_id,
                    key.campaign_id,
                    key.answered_by,
                ))
                .or_default() += delta;
            *days.entry(key.day).or_default() += delta;
            counts.push((key, delta));
        }
        RollupDeltas {
            totals: totals.into_iter().filter(|(_, d)| *d != 0).collect(),
            counts,
            days: days.into_iter().filter(|(_, d)| *d != 0).collect(),
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
        let a = RollupKey::from_codes(0, 6, 1, None, None, Some(1));
        let b = RollupKey::from_codes(86_400, 6, 1, Some(3), None, None);
        let mut deltas = CountDeltas::default();
        deltas.add(a, 1);
        deltas.moved(a, b);
        deltas.moved(b, b);
        let rollups = deltas.into_rollups();
        assert_eq!(rollups.counts, [(b, 1)]);
        assert_eq!(rollups.totals, [((6, 1, 3, 0, 0), 1)]);
        assert_eq!(rollups.days, [(1, 1)]);
        assert_eq!(rollups.all, 1);
    }
}
