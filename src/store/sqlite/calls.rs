//! Call-record queries for SQLite.

use std::collections::HashMap;
use std::sync::LazyLock;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params, params_from_iter};

use super::search;
use crate::domain::timefmt::now_unix;
use crate::domain::{
    AnsweredBy, CallRecord, CallStatus, CallType, CallView, Money, NewCall, phone,
};
use crate::store::counts::{CountDeltas, Measures, RollupCall, RollupKey, SUM_COLUMNS, sums_added};
use crate::store::{Gate, ImportOutcome, Reader, StoreResult};

/// The Call object's columns, in the contract's field order, for `SELECT`s
/// joined with the assistant (`a`) and campaign (`p`) names.
macro_rules! call_columns {
    () => {
        "SELECT c.id, a.name, p.name, c.type, c.duration, c.assistant_phone_number,
        c.client_phone_number, c.status, c.transcript, c.variables, c.evaluation,
        c.webhook_response, c.carrier_cost, c.total_cost, c.answered_by, c.recording_url,
        c.created_at, c.updated_at"
    };
}
macro_rules! call_names {
    () => {
        "LEFT JOIN assistants a ON a.id = c.assistant_id
        LEFT JOIN campaigns p ON p.id = c.campaign_id"
    };
}
/// [`call_columns!`] and [`call_names!`], for statements written at run time.
pub(super) const CALL_COLUMNS: &str = call_columns!();
pub(super) const CALL_NAMES: &str = call_names!();

/// One call by its row (the walk of a search, whose user is checked already).
pub(super) const CALL_BY_ROWID: &str = concat!(
    call_columns!(),
    " FROM calls c ",
    call_names!(),
    " WHERE c.rowid = ?1"
);

/// One call of one user. (A literal: the statement cache is looked up by the
/// SQL text, which should not be formatted anew for every request.)
const CALL_BY_ID: &str = concat!(
    call_columns!(),
    " FROM calls c ",
    call_names!(),
    " WHERE c.id = ?1 AND c.user_id = ?2"
);

/// Writable columns after `id` and `user_id`, bound as ?3.. in this order.
const WRITE_COLUMNS: [&str; 18] = [
    "assistant_id",
    "campaign_id",
    "type",
    "status",
    "duration",
    "assistant_phone_number",
    "client_phone_number",
    "client_phone_key",
    "transcript",
    "variables",
    "evaluation",
    "webhook_response",
    "carrier_cost",
    "total_cost",
    "answered_by",
    "recording_url",
    "created_at",
    "updated_at",
];

static INSERT_SQL: LazyLock<String> = LazyLock::new(|| {
    let placeholders: Vec<String> = (1..=WRITE_COLUMNS.len() + 2)
        .map(|i| format!("?{i}"))
        .collect();
    format!(
        "INSERT INTO calls (id, user_id, {}) VALUES ({})",
        WRITE_COLUMNS.join(", "),
        placeholders.join(", ")
    )
});

/// [`INSERT_SQL`] that inserts nothing when the id is taken (by anyone).
static INSERT_NEW_SQL: LazyLock<String> =
    LazyLock::new(|| format!("{} ON CONFLICT (id) DO NOTHING", *INSERT_SQL));

/// Updates only when something differs, so re-importing a file is a no-op
/// that reports "unchanged".
static UPDATE_SQL: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = WRITE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} = ?{}", i + 3))
        .collect();
    let diffs: Vec<String> = WRITE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{c} IS NOT ?{}", i + 3))
        .collect();
    format!(
        "UPDATE calls SET {} WHERE id = ?1 AND user_id = ?2 AND ({})",
        sets.join(", "),
        diffs.join(" OR ")
    )
});

fn bad_code(column: usize, what: &str, code: i64) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Integer,
        format!("unknown {what} code {code}").into(),
    )
}

fn call_from_row(row: &Row<'_>) -> rusqlite::Result<CallRecord> {
    view_from_row(row).map(|view| view.to_record())
}

/// Checks a token and runs `read` as its user, in one read transaction
/// without `BEGIN` and `COMMIT`: the token's statement stays open (stepped to
/// its row, not reset) while `read` runs, and an implicit read transaction
/// lasts until its last statement is reset (SQLite, "Transactions"). So
/// `read` sees the snapshot the token was checked in, and the request takes
/// the WAL read lock once instead of twice: two `fcntl`s and ~3k
/// instructions fewer than a check of its own, where `BEGIN` and `COMMIT`
/// around both cost more than they saved. `None` when refused.
pub(super) fn read_as_token<T>(
    conn: &Connection,
    hash: [u8; 32],
    now: i64,
    gate: &mut dyn Gate,
    read: impl FnOnce(i64) -> StoreResult<T>,
) -> StoreResult<Option<T>> {
    let mut stmt = conn.prepare_cached(super::PRINCIPAL)?;
    let mut token = stmt.query(params![&hash[..], now])?;
    let Some(row) = token.next()? else {
        return Ok(None);
    };
    let principal = super::principal_from_row(row)?;
    if !gate.admit(principal) {
        return Ok(None);
    }
    let answer = read(principal.user_id)?;
    // Resets the token's statement, which ends the read transaction.
    drop(token);
    Ok(Some(answer))
}

/// Runs `f` in one read transaction: the total and the rows come from the
/// same snapshot even while an import commits in between. (Cached
/// statements: execute_batch would parse BEGIN and COMMIT each time.)
pub(super) fn in_read_transaction<T>(
    conn: &Connection,
    f: impl FnOnce() -> StoreResult<T>,
) -> StoreResult<T> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = f();
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.prepare_cached(end)?.execute([])?;
    result
}

/// A row of [`call_columns!`] as a borrowed view.
pub(super) fn view_from_row<'r>(row: &'r Row<'_>) -> rusqlite::Result<CallView<'r>> {
    let text =
        |i: usize| -> rusqlite::Result<Option<&'r str>> { Ok(row.get_ref(i)?.as_str_or_null()?) };
    let json = |i: usize| -> rusqlite::Result<&'r [u8]> { Ok(row.get_ref(i)?.as_bytes()?) };
    let type_code: i64 = row.get(3)?;
    let status_code: i64 = row.get(7)?;
    let answered_code: Option<i64> = row.get(14)?;
    Ok(CallView {
        id: row.get(0)?,
        assistant_name: text(1)?,
        campaign_name: text(2)?,
        call_type: CallType::from_code(type_code).ok_or_else(|| bad_code(3, "type", type_code))?,
        duration: row.get(4)?,
        assistant_phone_number: text(5)?,
        client_phone_number: text(6)?,
        status: CallStatus::from_code(status_code)
            .ok_or_else(|| bad_code(7, "status", status_code))?,
        transcript: json(8)?,
        variables: json(9)?,
        evaluation: json(10)?,
        webhook_response: row.get_ref(11)?.as_bytes_or_null()?,
        carrier_cost: row.get::<_, Option<i64>>(12)?.map(Money::from_units),
        total_cost: row.get::<_, Option<i64>>(13)?.map(Money::from_units),
        answered_by: match answered_code {
            None => None,
            Some(code) => {
                Some(AnsweredBy::from_code(code).ok_or_else(|| bad_code(14, "answered_by", code))?)
            }
        },
        recording_url: text(15)?,
        created_at: row.get(16)?,
        updated_at: row.get(17)?,
    })
}

/// [`get`], handing the row to `sink` as a borrowed view; a token reader is
/// checked in the same read transaction.
pub fn get_into(
    conn: &Connection,
    reader: Reader<'_>,
    call_id: i64,
    sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
) -> StoreResult<Option<bool>> {
    let mut get = |user_id: i64| -> StoreResult<bool> {
        let mut stmt = conn.prepare_cached(CALL_BY_ID)?;
        let mut rows = stmt.query(params![call_id, user_id])?;
        let Some(row) = rows.next()? else {
            return Ok(false);
        };
        sink(&view_from_row(row)?);
        Ok(true)
    };
    match reader {
        Reader::Token { hash, now, gate } => read_as_token(conn, hash, now, gate, get),
        Reader::User(user_id) => get(user_id).map(Some),
    }
}

pub fn get(conn: &Connection, user_id: i64, call_id: i64) -> StoreResult<Option<CallRecord>> {
    let mut stmt = conn.prepare_cached(CALL_BY_ID)?;
    Ok(stmt
        .query_row(params![call_id, user_id], call_from_row)
        .optional()?)
}

/// Finds an assistant or campaign of the user by name, creating it if needed.
fn find_or_create(
    conn: &Connection,
    table: &str,
    user_id: i64,
    name: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    conn.prepare_cached(&format!(
        "INSERT INTO {table} (user_id, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
         ON CONFLICT (user_id, name) DO NOTHING"
    ))?
    .execute(params![user_id, name, now])?;
    conn.prepare_cached(&format!(
        "SELECT id FROM {table} WHERE user_id = ?1 AND name = ?2"
    ))?
    .query_row(params![user_id, name], |r| r.get(0))
}

pub fn import(
    conn: &mut Connection,
    user_id: i64,
    batch: &[NewCall],
) -> StoreResult<Vec<ImportOutcome>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_unix();
    // Names already resolved in this batch.
    let (mut assistants, mut campaigns) = (HashMap::new(), HashMap::new());
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut deltas = CountDeltas::default();
    for call in batch {
        // A new call whose names this batch has met already is inserted
        // straight away: no lookup of its id first (the insert's own check
        // of the unique id is that lookup). The first call of a batch to name
        // an assistant, and a call whose id is taken, go the long way below,
        // so that a refused call creates no assistant.
        let known = |known: &HashMap<String, i64>, name: &Option<String>| match name.as_deref() {
            None => Some(None),
            Some(name) => known.get(name).map(|id| Some(*id)),
        };
        if let (Some(assistant_id), Some(campaign_id)) = (
            known(&assistants, &call.assistant_name),
            known(&campaigns, &call.campaign_name),
        ) {
            let args = import_args(call, user_id, assistant_id, campaign_id);
            if tx
                .prepare_cached(&INSERT_NEW_SQL)?
                .execute(params_from_iter(args))?
                == 1
            {
                deltas.add(import_key(call, assistant_id, campaign_id), 1);
                search::index(&tx, user_id, call.id, &call.words)?;
                outcomes.push(ImportOutcome::Inserted);
                continue;
            }
        }
        // The owner, where the call sits in the rollups now, and whether its
        // transcript (so its search words) stays as it is.
        let existing: Option<(i64, RollupKey, bool)> = tx
            .prepare_cached(
                "SELECT user_id, created_at, status, type, assistant_id, campaign_id, answered_by,
                    duration, total_cost, carrier_cost, transcript = ?2
                 FROM calls WHERE id = ?1",
            )?
            .query_row(params![call.id, call.transcript.as_str()], |r| {
                let key = RollupKey::from_codes(
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    Measures::new(r.get(7)?, r.get(8)?, r.get(9)?),
                );
                Ok((r.get(0)?, key, r.get(10)?))
            })
            .optional()?;
        // Another user's id: refused before anything (assistants included) is written.
        if existing.is_some_and(|(owner, _, _)| owner != user_id) {
            outcomes.push(ImportOutcome::ForeignId);
            continue;
        }
        let resolve = |table: &str,
                       known: &mut HashMap<String, i64>,
                       name: &Option<String>|
         -> rusqlite::Result<Option<i64>> {
            let Some(name) = name.as_deref() else {
                return Ok(None);
            };
            if let Some(id) = known.get(name) {
                return Ok(Some(*id));
            }
            let id = find_or_create(&tx, table, user_id, name, now)?;
            known.insert(name.to_owned(), id);
            Ok(Some(id))
        };
        let assistant_id = resolve("assistants", &mut assistants, &call.assistant_name)?;
        let campaign_id = resolve("campaigns", &mut campaigns, &call.campaign_name)?;

        let args = import_args(call, user_id, assistant_id, campaign_id);
        let key = import_key(call, assistant_id, campaign_id);
        let outcome = match existing {
            None => {
                tx.prepare_cached(&INSERT_SQL)?
                    .execute(params_from_iter(args))?;
                deltas.add(key, 1);
                search::index(&tx, user_id, call.id, &call.words)?;
                ImportOutcome::Inserted
            }
            Some((_, old, same_transcript)) => match tx
                .prepare_cached(&UPDATE_SQL)?
                .execute(params_from_iter(args))?
            {
                0 => ImportOutcome::Unchanged,
                _ => {
                    deltas.moved(old, key);
                    if !same_transcript {
                        search::reindex(&tx, user_id, call.id, &call.words)?;
                    }
                    ImportOutcome::Updated
                }
            },
        };
        outcomes.push(outcome);
    }
    apply_deltas(&tx, user_id, deltas)?;
    tx.commit()?;
    Ok(outcomes)
}

/// An imported call's parameters for [`INSERT_SQL`] and [`UPDATE_SQL`].
fn import_args(
    call: &NewCall,
    user_id: i64,
    assistant_id: Option<i64>,
    campaign_id: Option<i64>,
) -> impl Iterator<Item = Value> {
    [Value::Integer(call.id), Value::Integer(user_id)]
        .into_iter()
        .chain(write_values(call, assistant_id, campaign_id))
}

/// Where an imported call counts in the rollups.
fn import_key(call: &NewCall, assistant_id: Option<i64>, campaign_id: Option<i64>) -> RollupKey {
    RollupKey::new(RollupCall {
        created_at: call.created_at,
        status: call.status,
        call_type: call.call_type,
        assistant_id,
        campaign_id,
        answered_by: call.answered_by,
        measures: Measures::new(
            call.duration,
            call.total_cost.map(Money::units),
            call.carrier_cost.map(Money::units),
        ),
    })
}

/// Deletes a call of the user, keeping the rollups exact; false when there is none.
pub fn delete(conn: &mut Connection, user_id: i64, call_id: i64) -> StoreResult<bool> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let removed: Option<RollupKey> = tx
        .prepare_cached(
            "DELETE FROM calls WHERE id = ?1 AND user_id = ?2
             RETURNING created_at, status, type, assistant_id, campaign_id, answered_by,
                 duration, total_cost, carrier_cost",
        )?
        .query_row(params![call_id, user_id], |r| {
            Ok(RollupKey::from_codes(
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                Measures::new(r.get(6)?, r.get(7)?, r.get(8)?),
            ))
        })
        .optional()?;
    if let Some(key) = removed {
        search::unindex(&tx, call_id)?;
        // Its webhook deliveries go with it (their attempts by cascade).
        tx.prepare_cached("DELETE FROM webhook_deliveries WHERE user_id = ?1 AND call_id = ?2")?
            .execute(params![user_id, call_id])?;
        let mut deltas = CountDeltas::default();
        deltas.add(key, -1);
        apply_deltas(&tx, user_id, deltas)?;
    }
    tx.commit()?;
    Ok(removed.is_some())
}

/// Adds a transaction's count changes to the rollups.
pub(super) fn apply_deltas(
    tx: &Connection,
    user_id: i64,
    deltas: CountDeltas,
) -> rusqlite::Result<()> {
    let rollups = deltas.into_rollups();
    let mut totals = tx.prepare_cached(&format!(
        "INSERT INTO call_totals (user_id, status, type, assistant_id, campaign_id, answered_by,
                 {SUM_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO UPDATE SET {}",
        sums_added("call_totals")
    ))?;
    for ((status, call_type, assistant, campaign, answered_by), t) in rollups.totals {
        totals.execute(params![
            user_id,
            status,
            call_type,
            assistant,
            campaign,
            answered_by,
            t.n,
            t.duration_sum,
            t.duration_n,
            t.total_cost,
            t.carrier_cost
        ])?;
    }
    let mut counts = tx.prepare_cached(
        &format!(
            "INSERT INTO call_counts (user_id, day, status, type, assistant_id, campaign_id,
                 answered_by, {SUM_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO UPDATE SET {}",
            sums_added("call_counts")
        ),
    )?;
    for (key, t) in rollups.counts {
        counts.execute(params![
            user_id,
            key.day,
            key.status,
            key.call_type,
            key.assistant_id,
            key.campaign_id,
            key.answered_by,
            t.n,
            t.duration_sum,
            t.duration_n,
            t.total_cost,
            t.carrier_cost
        ])?;
    }
    for (table, unit, rows) in [
        ("call_day_stats", "day", &rollups.day_stats),
        ("call_hour_stats", "hour", &rollups.hour_stats),
    ] {
        let mut stmt = tx.prepare_cached(&format!(
            "INSERT INTO {table} (user_id, {unit}, status, {SUM_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO UPDATE SET {}",
            sums_added(table)
        ))?;
        for ((at, status), t) in rows {
            stmt.execute(params![
                user_id,
                at,
                status,
                t.n,
                t.duration_sum,
                t.duration_n,
                t.total_cost,
                t.carrier_cost
            ])?;
        }
    }
    let mut days = tx.prepare_cached(
        "INSERT INTO call_days (user_id, day, n) VALUES (?1, ?2, ?3) ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?;
    for (day, delta) in rollups.days {
        days.execute(params![user_id, day, delta])?;
    }
    if rollups.all != 0 {
        tx.prepare_cached(
            "INSERT INTO call_user_totals (user_id, n) VALUES (?1, ?2) ON CONFLICT DO UPDATE SET n = n + excluded.n",
        )?
        .execute(params![user_id, rollups.all])?;
    }
    Ok(())
}

/// Values for [`WRITE_COLUMNS`], in order.
fn write_values(
    call: &NewCall,
    assistant_id: Option<i64>,
    campaign_id: Option<i64>,
) -> [Value; 18] {
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::Text);
    let int = |n: Option<i64>| n.map_or(Value::Null, Value::Integer);
    [
        int(assistant_id),
        int(campaign_id),
        Value::Integer(call.call_type.code()),
        Value::Integer(call.status.code()),
        Value::Integer(call.duration),
        text(&call.assistant_phone_number),
        text(&call.client_phone_number),
        text(&call.client_phone_number.as_deref().map(phone::normalize)),
        Value::Text(call.transcript.as_str().to_owned()),
        Value::Text(call.variables.as_str().to_owned()),
        Value::Text(call.evaluation.as_str().to_owned()),
        text(
            &call
                .webhook_response
                .as_ref()
                .map(|j| j.as_str().to_owned()),
        ),
        int(call.carrier_cost.map(Money::units)),
        int(call.total_cost.map(Money::units)),
        int(call.answered_by.map(AnsweredBy::code)),
        text(&call.recording_url),
        Value::Integer(call.created_at),
        Value::Integer(call.updated_at),
    ]
}
