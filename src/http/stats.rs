//! `GET /api/user/calls/stats` (CONTRACT §9): totals by status, type,
//! answered_by and assistant, duration and cost sums, and a series by
//! period, for the list's filters.

use std::collections::BTreeMap;

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use rust_decimal::{Decimal, RoundingStrategy};

use super::AppState;
use super::auth::CurrentUser;
use super::calls::query_pairs;
use super::error::ApiError;
use super::views::JsonBuf;
use crate::domain::stats::{TOO_MANY_PERIODS, label, parse_stats};
use crate::domain::{AnsweredBy, CallStatus, CallType, FieldErrors, Money};
use crate::store::counts::Tally;
use crate::store::stats::{StatsAnswer, StatsData};

#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn stats(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let query = parse_stats(&pairs)?;
    match state.store.call_stats(user.0, &query).await? {
        StatsAnswer::TooManyPeriods => {
            Err(FieldErrors::single("interval", TOO_MANY_PERIODS).into())
        }
        StatsAnswer::Stats { data, assistants } => {
            let names: BTreeMap<i64, String> = assistants.into_iter().collect();
            let mut out = JsonBuf::with_capacity(4096);
            write_stats(&mut out, &data, &names);
            Ok(out.into_response())
        }
    }
}

/// `{"name": n, ...}` of the non-zero counts, keys in code order.
fn write_counts(out: &mut JsonBuf, counts: &BTreeMap<i64, i64>, name: impl Fn(i64) -> String) {
    out.raw("{");
    for (code, n) in counts.iter().filter(|(_, n)| **n != 0) {
        if !matches!(out.as_bytes().last(), Some(b'{')) {
            out.raw(",");
        }
        out.string(&name(*code));
        out.raw(":");
        out.number(*n);
    }
    out.raw("}");
}

fn status_name(code: i64) -> String {
    CallStatus::from_code(code).map_or_else(|| code.to_string(), |s| s.as_str().to_owned())
}

fn write_stats(out: &mut JsonBuf, data: &StatsData, names: &BTreeMap<i64, String>) {
    let mut all = Tally::default();
    let (mut by_status, mut by_type, mut by_answered, mut by_assistant) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::<i64, i64>::new(),
    );
    for (&(status, kind, answered, assistant), tally) in &data.cells {
        all.add(tally, 1);
        *by_status.entry(status).or_default() += tally.n;
        *by_type.entry(kind).or_default() += tally.n;
        *by_answered.entry(answered).or_default() += tally.n;
        *by_assistant.entry(assistant).or_default() += tally.n;
    }
    out.raw("{");
    out.key("total");
    out.number(all.n);
    out.key("by_status");
    write_counts(out, &by_status, status_name);
    out.key("by_type");
    write_counts(out, &by_type, |code| {
        CallType::from_code(code).map_or_else(|| code.to_string(), |t| t.as_str().to_owned())
    });
    out.key("by_answered_by");
    // "Nobody answered" is 0 in the rollups and `null` on a call.
    let answered_name = |code: i64| match AnsweredBy::from_code(code) {
        Some(a) => a.as_str().to_owned(),
        None => "null".to_owned(),
    };
    write_counts(out, &by_answered, answered_name);
    out.key("by_assistant");
    // By total descending, then id; "no assistant" (0, written as null)
    // after every id of the same total.
    let mut assistants: Vec<(i64, i64)> =
        by_assistant.into_iter().filter(|(_, n)| *n != 0).collect();
    assistants.sort_by_key(|&(id, n)| (std::cmp::Reverse(n), id <= 0, id));
    out.raw("[");
    for (i, (id, n)) in assistants.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.raw("{");
        out.key("id");
        if *id > 0 {
            out.number(*id);
        } else {
            out.raw("null");
        }
        out.key("name");
        out.opt_string(names.get(id).map(String::as_str));
        out.key("total");
        out.number(*n);
        out.raw("}");
    }
    out.raw("]");
    out.key("duration");
    out.raw("{");
    out.key("sum");
    out.number(all.duration_sum);
    out.key("avg");
    match all.duration_n {
        0 => out.raw("null"),
        n => {
            let avg = (Decimal::from(all.duration_sum) / Decimal::from(n))
                .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
                .normalize();
            out.raw(&avg.to_string());
        }
    }
    out.raw("}");
    out.key("cost");
    out.raw("{");
    out.key("total_cost");
    out.money(Some(Money::from_units(all.total_cost)));
    out.key("carrier_cost");
    out.money(Some(Money::from_units(all.carrier_cost)));
    out.raw("}");
    if let Some(series) = &data.series {
        out.key("series");
        out.raw("[");
        for (i, (period, by_status)) in series.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            let mut sum = Tally::default();
            let counts: BTreeMap<i64, i64> = by_status
                .iter()
                .map(|(status, tally)| {
                    sum.add(tally, 1);
                    (*status, tally.n)
                })
                .collect();
            out.raw("{");
            out.key("period");
            out.string(&label(period.first_day));
            out.key("total");
            out.number(sum.n);
            out.key("by_status");
            write_counts(out, &counts, status_name);
            out.key("duration_sum");
            out.number(sum.duration_sum);
            out.key("total_cost");
            out.money(Some(Money::from_units(sum.total_cost)));
            out.raw("}");
        }
        out.raw("]");
    }
    out.raw("}");
}
