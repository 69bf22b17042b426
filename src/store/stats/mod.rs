//! Stats (CONTRACT §9) as reads both backends run: the query of
//! `store::query` (the list's conditions) over the rollups wherever the
//! filter allows, rows where it does not, and how their results add up.
//!
//! - Totals (counts by dimension, sums): `call_totals` for all time,
//!   `call_counts` for whole UTC days plus the calls at the edges of the
//!   range, as the list's total does; a filter the rollups cannot answer
//!   (search, ranges, a phone number) sums its rows.
//! - The series: every period is covered by whole UTC days
//!   (`call_day_stats`), hours (`call_hour_stats`) and, where a local
//!   midnight falls inside an hour, rows ([`cover`]). A filter on type,
//!   answered_by, assistant or campaign has no hourly rollup: whole days come
//!   from `call_counts` and the edges from rows. A filter the rollups cannot
//!   answer reads each matching call's time and adds it to its period.
//!
//! A backend runs [`StatsPlan::take_reads`] in one snapshot, hands every row to
//! [`StatsPlan::absorb`], and takes the result from [`StatsPlan::finish`].

pub mod cover;

use std::collections::{BTreeMap, HashMap};

use crate::domain::CallFilter;
use crate::domain::stats::{Period, StatsQuery, TooManyPeriods, periods};
use crate::store::counts::{DAY, HOUR, Tally};
use crate::store::query::{
    Conditions, Part, Placeholder, SearchCondition, Span, Sql, SqlValue, facet_column, split_days,
};
use cover::{Piece, cover};

/// The dimensions totals are kept by: status, type, answered_by, assistant
/// ("none" is 0).
pub type CellKey = (i64, i64, i64, i64);

/// What a stats request adds up to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatsData {
    pub cells: BTreeMap<CellKey, Tally>,
    /// With an interval: each period and its tallies by status, oldest
    /// first, from the first period with a call to the last.
    pub series: Option<Vec<(Period, BTreeMap<i64, Tally>)>>,
}

/// What a read's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `(status, type, answered_by, assistant)` and sums, added with a sign.
    Cells(i64),
    /// `(day, status)` and sums.
    Days,
    /// `(hour, status)` and sums.
    Hours,
    /// `(status)` and sums of the calls of row piece `n`.
    Rows(usize),
    /// `(created_at, status)` and one call's values.
    Calls,
}

/// One statement of a plan, and how many key columns lead its rows (the
/// five sums follow).
#[derive(Debug, Clone)]
pub struct Read {
    pub sql: Sql,
    pub keys: usize,
    target: Target,
}

/// The reads of a stats request, and what their rows add up to so far.
#[derive(Debug)]
pub struct StatsPlan {
    reads: Vec<Read>,
    cells: BTreeMap<CellKey, Tally>,
    periods: Option<Vec<Period>>,
    /// Each period's pieces, with their signs.
    covers: Vec<Vec<(i64, Piece)>>,
    /// What each rollup row or row piece holds, by status.
    pieces: HashMap<Piece, BTreeMap<i64, Tally>>,
    /// The row pieces, by index in `Target::Rows`.
    row_pieces: Vec<Piece>,
    /// Each period's tallies, for `Target::Calls`.
    direct: Vec<BTreeMap<i64, Tally>>,
}

/// The sums of rollup rows, in [`Tally`]'s order.
const ROLLUP_SUMS: &str = "CAST(sum(n) AS BIGINT), CAST(sum(duration_sum) AS BIGINT), \
     CAST(sum(duration_n) AS BIGINT), CAST(sum(total_cost) AS BIGINT), \
     CAST(sum(carrier_cost) AS BIGINT)";

/// A row of `call_day_stats` or `call_hour_stats` after its day or hour.
const STATS_ROW: &str =
    "CAST(status AS BIGINT), n, duration_sum, duration_n, total_cost, carrier_cost";

/// The same sums over calls.
const ROW_SUMS: &str = "count(*), CAST(coalesce(sum(duration), 0) AS BIGINT), \
     CAST(coalesce(sum(CASE WHEN duration > 0 THEN 1 ELSE 0 END), 0) AS BIGINT), \
     CAST(coalesce(sum(total_cost), 0) AS BIGINT), CAST(coalesce(sum(carrier_cost), 0) AS BIGINT)";

/// One call's values, as sums of one.
/// (Literals cast: PostgreSQL's are 4-byte integers.)
const CALL_VALUES: &str = "created_at, CAST(status AS BIGINT), CAST(1 AS BIGINT), duration, \
     CAST(CASE WHEN duration > 0 THEN 1 ELSE 0 END AS BIGINT), coalesce(total_cost, 0), \
     coalesce(carrier_cost, 0)";

fn cell_columns() -> String {
    [
        facet_column(crate::domain::listing::Facet::Status),
        facet_column(crate::domain::listing::Facet::Type),
        facet_column(crate::domain::listing::Facet::AnsweredBy),
        facet_column(crate::domain::listing::Facet::AssistantId),
    ]
    .join(", ")
}

/// `SELECT min(day), max(day)` of the user's calls: where a series can start
/// and end (its empty periods at either end are left out afterwards).
pub fn data_days(user_id: i64, style: Placeholder) -> Sql {
    let mut c = Conditions::default();
    c.push(Part::compare("user_id =", SqlValue::Int(user_id)));
    c.push(Part::new("n > 0", Vec::new()));
    c.statement(
        "min(day), max(day)",
        "call_days",
        &Part::new("", Vec::new()),
        style,
    )
}

/// True when only status narrows the calls among the rollups' dimensions:
/// the hourly and daily series rollups, kept by status, can answer.
fn status_only(filter: &CallFilter) -> bool {
    filter.call_type.is_none()
        && filter.answered_by.is_none()
        && filter.assistant_id.is_none()
        && filter.campaign_id.is_none()
}

impl StatsPlan {
    /// The reads for `query`, given the first and last UTC day the user has
    /// calls on (from [`data_days`]) and the backend's search condition.
    pub fn new(
        user_id: i64,
        query: &StatsQuery,
        data: Option<(i64, i64)>,
        search: Option<&SearchCondition>,
        style: Placeholder,
    ) -> Result<Self, TooManyPeriods> {
        let filter = &query.filter;
        let mut plan = Self {
            reads: Vec::new(),
            cells: BTreeMap::new(),
            periods: None,
            covers: Vec::new(),
            pieces: HashMap::new(),
            row_pieces: Vec::new(),
            direct: Vec::new(),
        };
        let none = Part::new("", Vec::new());
        let cells = cell_columns();
        let grouped = Part::new(format!(" GROUP BY {cells}"), Vec::new());
        let rows = |span: Span, select: &str, tail: &Part| {
            Conditions::for_calls(user_id, filter, span, search, style)
                .statement(select, "calls", tail, style)
        };
        let cell_read = |sql, sign| Read {
            sql,
            keys: 4,
            target: Target::Cells(sign),
        };

        // Totals.
        if filter.is_rollup_only() {
            let split = split_days(Span::of(filter));
            let select = format!("{cells}, {ROLLUP_SUMS}");
            match split.days {
                None => {
                    let c = Conditions::for_rollup(user_id, filter, None);
                    let sql = c.statement(&select, "call_totals", &grouped, style);
                    plan.reads.push(cell_read(sql, 1));
                }
                Some((first, last)) if first <= last => {
                    let c = Conditions::for_rollup(user_id, filter, Some((first, last)));
                    let sql = c.statement(&select, "call_counts", &grouped, style);
                    plan.reads.push(cell_read(sql, 1));
                }
                Some(_) => {}
            }
            for (sign, span) in split.edges {
                let sql = rows(span, &format!("{cells}, {ROW_SUMS}"), &grouped);
                plan.reads.push(cell_read(sql, sign));
            }
        } else {
            let sql = rows(Span::of(filter), &format!("{cells}, {ROW_SUMS}"), &grouped);
            plan.reads.push(cell_read(sql, 1));
        }

        // The series.
        let Some(interval) = query.interval else {
            return Ok(plan);
        };
        let Some((first_day, last_day)) = data else {
            plan.periods = Some(Vec::new());
            return Ok(plan);
        };
        let span = Span::of(filter);
        let lo = span
            .from
            .unwrap_or(i64::MIN)
            .max(first_day.saturating_mul(DAY));
        let hi = span
            .to
            .unwrap_or(i64::MAX)
            .min(last_day.saturating_add(1).saturating_mul(DAY) - 1);
        let list = if lo <= hi {
            periods(&query.zone, interval, lo, hi)?
        } else {
            Vec::new()
        };
        plan.direct = vec![BTreeMap::new(); list.len()];
        if list.is_empty() {
            plan.periods = Some(list);
            return Ok(plan);
        }
        if !filter.is_rollup_only() {
            let sql = rows(span, CALL_VALUES, &none);
            plan.reads.push(Read {
                sql,
                keys: 2,
                target: Target::Calls,
            });
            plan.periods = Some(list);
            return Ok(plan);
        }
        let hourly = status_only(filter);
        let units: &[i64] = if hourly { &[DAY, HOUR] } else { &[DAY] };
        let mut days = (i64::MAX, i64::MIN);
        let mut hours = Vec::new();
        let mut row_index: HashMap<Piece, usize> = HashMap::new();
        for period in &list {
            // The period, clipped to the filter's instants.
            let pieces = cover(period.start.max(lo), period.end.min(hi + 1), units);
            for (_, piece) in &pieces {
                match *piece {
                    Piece::Day(d) => days = (days.0.min(d), days.1.max(d)),
                    Piece::Hour(h) => hours.push(h),
                    Piece::Rows(..) => {
                        let next = plan.row_pieces.len();
                        if *row_index.entry(*piece).or_insert(next) == next {
                            plan.row_pieces.push(*piece);
                        }
                    }
                }
            }
            plan.covers.push(pieces);
        }
        let by_status = |unit: &str| {
            Part::new(
                format!(" GROUP BY {unit}, CAST(status AS BIGINT)"),
                Vec::new(),
            )
        };
        if days.0 <= days.1 {
            let c = Conditions::for_rollup(user_id, filter, Some(days));
            // `call_day_stats` has a row per day and status already: read
            // in key order, with no grouping (a temporary B-tree for the
            // GROUP BY took half of a Berlin series' time).
            let sql = if hourly {
                c.statement(&format!("day, {STATS_ROW}"), "call_day_stats", &none, style)
            } else {
                let select = format!("day, CAST(status AS BIGINT), {ROLLUP_SUMS}");
                c.statement(&select, "call_counts", &by_status("day"), style)
            };
            plan.reads.push(Read {
                sql,
                keys: 2,
                target: Target::Days,
            });
        }
        if !hours.is_empty() {
            hours.sort_unstable();
            hours.dedup();
            let mut c = Conditions::for_rollup(user_id, filter, None);
            c.push(in_list("hour", hours, style));
            let select = format!("hour, {STATS_ROW}");
            plan.reads.push(Read {
                sql: c.statement(&select, "call_hour_stats", &none, style),
                keys: 2,
                target: Target::Hours,
            });
        }
        for (n, piece) in plan.row_pieces.iter().enumerate() {
            let Piece::Rows(a, b) = *piece else { continue };
            let span = Span {
                from: Some(a),
                to: Some(b - 1),
            };
            let tail = Part::new(" GROUP BY CAST(status AS BIGINT)", Vec::new());
            let sql = rows(span, &format!("CAST(status AS BIGINT), {ROW_SUMS}"), &tail);
            plan.reads.push(Read {
                sql,
                keys: 1,
                target: Target::Rows(n),
            });
        }
        plan.periods = Some(list);
        Ok(plan)
    }

    /// The statements to run, in order; each row of one goes to [`absorb`].
    ///
    /// [`absorb`]: Self::absorb
    pub fn take_reads(&mut self) -> Vec<Read> {
        std::mem::take(&mut self.reads)
    }

    /// One row of `read`: its key columns and its sums.
    pub fn absorb(&mut self, read: &Read, keys: &[i64], tally: Tally) {
        let key = |i: usize| keys.get(i).copied().unwrap_or(0);
        match read.target {
            Target::Cells(sign) => {
                let cell = (key(0), key(1), key(2), key(3));
                self.cells.entry(cell).or_default().add(&tally, sign);
            }
            Target::Days => self.piece(Piece::Day(key(0)), key(1), tally),
            Target::Hours => self.piece(Piece::Hour(key(0)), key(1), tally),
            Target::Rows(n) => {
                if let Some(piece) = self.row_pieces.get(n).copied() {
                    self.piece(piece, key(0), tally);
                }
            }
            Target::Calls => {
                let Some(periods) = &self.periods else { return };
                // The last period starting at or before the call.
                let at = periods.partition_point(|p| p.start <= key(0));
                if let Some(slot) = at.checked_sub(1).and_then(|i| self.direct.get_mut(i)) {
                    slot.entry(key(1)).or_default().add(&tally, 1);
                }
            }
        }
    }

    fn piece(&mut self, piece: Piece, status: i64, tally: Tally) {
        self.pieces
            .entry(piece)
            .or_default()
            .entry(status)
            .or_default()
            .add(&tally, 1);
    }

    /// The totals, and the series trimmed to the periods from the first with
    /// a call to the last.
    pub fn finish(self) -> StatsData {
        let cells = self
            .cells
            .into_iter()
            .filter(|(_, t)| !t.is_zero())
            .collect();
        let Some(periods) = self.periods else {
            return StatsData {
                cells,
                series: None,
            };
        };
        let mut series: Vec<(Period, BTreeMap<i64, Tally>)> = Vec::with_capacity(periods.len());
        for (i, period) in periods.into_iter().enumerate() {
            let mut by_status = self.direct.get(i).cloned().unwrap_or_default();
            for (sign, piece) in self.covers.get(i).map_or(&[][..], Vec::as_slice) {
                for (status, tally) in self.pieces.get(piece).into_iter().flatten() {
                    by_status.entry(*status).or_default().add(tally, *sign);
                }
            }
            by_status.retain(|_, t| t.n != 0);
            series.push((period, by_status));
        }
        let has_calls = |(_, s): &(Period, BTreeMap<i64, Tally>)| !s.is_empty();
        let first = series.iter().position(has_calls).unwrap_or(series.len());
        let last = series.iter().rposition(has_calls).map_or(first, |i| i + 1);
        let series = series.drain(first..last).collect();
        StatsData {
            cells,
            series: Some(series),
        }
    }
}

/// `column` is one of `values`: a JSON array through `json_each` in SQLite
/// (one placeholder however many), an array in PostgreSQL.
fn in_list(column: &str, values: Vec<i64>, style: Placeholder) -> Part {
    match style {
        Placeholder::Question => {
            let json = serde_json::to_string(&values).unwrap_or_else(|_| "[]".to_owned());
            Part::new(
                format!(
                    "{column} IN (SELECT value FROM json_each({}))",
                    crate::store::query::MARK
                ),
                vec![SqlValue::Text(json)],
            )
        }
        Placeholder::Dollar => Part::new(
            format!("{column} = ANY({})", crate::store::query::MARK),
            vec![SqlValue::Ints(values)],
        ),
    }
}

/// What a store answers a stats request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsAnswer {
    Stats {
        data: StatsData,
        /// The names of the assistants in `data` (deleted ones included:
        /// their calls keep their name).
        assistants: Vec<(i64, String)>,
    },
    TooManyPeriods,
}

/// `SELECT id, name FROM assistants` of the user, for `ids`.
pub fn assistant_names(user_id: i64, ids: Vec<i64>, style: Placeholder) -> Sql {
    let mut c = Conditions::default();
    c.push(Part::compare("user_id =", SqlValue::Int(user_id)));
    c.push(in_list("id", ids, style));
    c.statement("id, name", "assistants", &Part::new("", Vec::new()), style)
}

impl StatsData {
    /// The stats of no calls: zeros, and an empty series if one is asked for.
    pub fn none(query: &StatsQuery) -> Self {
        Self {
            cells: BTreeMap::new(),
            series: query.interval.map(|_| Vec::new()),
        }
    }

    /// The assistants the totals name (not "none").
    pub fn assistant_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self
            .cells
            .keys()
            .map(|k| k.3)
            .filter(|id| *id > 0)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}
