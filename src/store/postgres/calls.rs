//! Call-record queries for PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use deadpool_postgres::{Client, GenericClient, Transaction};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::search;
use crate::domain::timefmt::now_unix;
use crate::domain::{
    AnsweredBy, CallRecord, CallStatus, CallType, CallView, Money, NewCall, phone,
};
use crate::store::counts::{
    CountDeltas, Measures, RollupCall, RollupKey, SUM_COLUMNS, Tally, sums_added,
};
use crate::store::{ImportOutcome, StoreError, StoreResult};

/// The Call object's columns in the contract's order, joined with the
/// assistant (`a`) and campaign (`p`) names; the caller adds `WHERE`.
macro_rules! call_select {
    () => {
        "SELECT c.id, a.name, p.name, c.type, c.duration, c.assistant_phone_number,
        c.client_phone_number, c.status, c.transcript, c.variables, c.evaluation,
        c.webhook_response, c.carrier_cost, c.total_cost, c.answered_by, c.recording_url,
        c.created_at, c.updated_at
        FROM calls c
        LEFT JOIN assistants a ON a.user_id = c.user_id AND a.id = c.assistant_id
        LEFT JOIN campaigns p ON p.user_id = c.user_id AND p.id = c.campaign_id"
    };
}
pub(super) const CALL_SELECT: &str = call_select!();
/// One call of one user (a literal: the statement cache is keyed by the text).
const CALL_BY_ID: &str = concat!(call_select!(), " WHERE c.user_id = $1 AND c.id = $2");

/// Writable columns after `user_id` and `id`, with their array types for `unnest`.
const WRITE_COLUMNS: [(&str, &str); 18] = [
    ("assistant_id", "bigint[]"),
    ("campaign_id", "bigint[]"),
    ("type", "smallint[]"),
    ("status", "smallint[]"),
    ("duration", "bigint[]"),
    ("assistant_phone_number", "text[]"),
    ("client_phone_number", "text[]"),
    ("client_phone_key", "text[]"),
    ("transcript", "text[]"),
    ("variables", "text[]"),
    ("evaluation", "text[]"),
    ("webhook_response", "text[]"),
    ("carrier_cost", "bigint[]"),
    ("total_cost", "bigint[]"),
    ("answered_by", "smallint[]"),
    ("recording_url", "text[]"),
    ("created_at", "bigint[]"),
    ("updated_at", "bigint[]"),
];

fn code_error(what: &str, code: i64) -> anyhow::Error {
    anyhow::anyhow!("unknown {what} code {code} in the database")
}

fn call_from_row(row: &Row) -> StoreResult<CallRecord> {
    view_from_row(row).map(|view| view.to_record())
}

/// A row of [`CALL_SELECT`] as a view borrowing the row's buffer: no `String`
/// per field.
pub fn view_from_row(row: &Row) -> StoreResult<CallView<'_>> {
    let type_code: i16 = row.try_get(3)?;
    let status_code: i16 = row.try_get(7)?;
    let answered: Option<i16> = row.try_get(14)?;
    Ok(CallView {
        id: row.try_get(0)?,
        assistant_name: row.try_get(1)?,
        campaign_name: row.try_get(2)?,
        call_type: CallType::from_code(type_code.into())
            .ok_or_else(|| code_error("type", type_code.into()))?,
        duration: row.try_get(4)?,
        assistant_phone_number: row.try_get(5)?,
        client_phone_number: row.try_get(6)?,
        status: CallStatus::from_code(status_code.into())
            .ok_or_else(|| code_error("status", status_code.into()))?,
        // Stored by callbase as compact JSON text.
        transcript: row.try_get::<_, &str>(8)?.as_bytes(),
        variables: row.try_get::<_, &str>(9)?.as_bytes(),
        evaluation: row.try_get::<_, &str>(10)?.as_bytes(),
        webhook_response: row.try_get::<_, Option<&str>>(11)?.map(str::as_bytes),
        carrier_cost: row.try_get::<_, Option<i64>>(12)?.map(Money::from_units),
        total_cost: row.try_get::<_, Option<i64>>(13)?.map(Money::from_units),
        answered_by: match answered {
            None => None,
            Some(code) => Some(
                AnsweredBy::from_code(code.into())
                    .ok_or_else(|| code_error("answered_by", code.into()))?,
            ),
        },
        recording_url: row.try_get(15)?,
        created_at: row.try_get(16)?,
        updated_at: row.try_get(17)?,
    })
}

/// Enum codes are 1..=10: they always fit.
pub(super) fn small(code: i64) -> i16 {
    i16::try_from(code).unwrap_or(i16::MAX)
}

pub async fn get<C: GenericClient>(
    client: &C,
    user_id: i64,
    call_id: i64,
) -> StoreResult<Option<CallRecord>> {
    get_row(client, user_id, call_id)
        .await?
        .as_ref()
        .map(call_from_row)
        .transpose()
}

/// One call of one user as a row of [`CALL_SELECT`]'s columns.
pub async fn get_row<C: GenericClient>(
    client: &C,
    user_id: i64,
    call_id: i64,
) -> StoreResult<Option<Row>> {
    let stmt = client.prepare_cached(CALL_BY_ID).await?;
    Ok(client.query_opt(&stmt, &[&user_id, &call_id]).await?)
}

/// Upserts a batch set-wise: a handful of statements per batch, whatever its
/// size. Rows are locked in id (and name, and rollup-key) order so concurrent
/// imports cannot deadlock each other; should PostgreSQL still pick this
/// transaction as a deadlock or serialisation victim, the batch is retried.
pub async fn import(
    client: &mut Client,
    user_id: i64,
    batch: &[NewCall],
) -> StoreResult<Vec<ImportOutcome>> {
    let mut attempt = 1;
    loop {
        match import_once(client, user_id, batch).await {
            Err(StoreError::Internal(err)) if attempt < 4 && is_retryable(&err) => {
                tracing::warn!(attempt, error = %err, "import batch conflicted with another writer; retrying");
                attempt += 1;
            }
            other => return other,
        }
    }
}

fn is_retryable(err: &anyhow::Error) -> bool {
    err.downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::code)
        .is_some_and(|code| {
            *code == SqlState::T_R_DEADLOCK_DETECTED || *code == SqlState::T_R_SERIALIZATION_FAILURE
        })
}

async fn import_once(
    client: &mut Client,
    user_id: i64,
    batch: &[NewCall],
) -> StoreResult<Vec<ImportOutcome>> {
    let tx = client.transaction().await?;
    let now = now_unix();
    let mut names = Names::default();
    let mut deltas = CountDeltas::default();
    let mut outcomes = Vec::with_capacity(batch.len());
    // An id repeated within a batch is handled like a second file: split there.
    let mut start = 0;
    while start < batch.len() {
        let mut seen = HashSet::new();
        let end = batch[start..]
            .iter()
            .position(|c| !seen.insert(c.id))
            .map_or(batch.len(), |n| start + n);
        let part = &batch[start..end];
        outcomes.extend(import_unique(&tx, user_id, part, &mut names, &mut deltas, now).await?);
        start = end;
    }
    apply_deltas(&tx, user_id, deltas).await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Deletes a call of the user (and its id's ownership), keeping the rollups
/// exact; false when there is none.
pub async fn delete(client: &mut Client, user_id: i64, call_id: i64) -> StoreResult<bool> {
    let tx = client.transaction().await?;
    // The id's ownership goes first, as import claims it first: a concurrent
    // import of the same id waits here and then inserts the call afresh.
    let owned = tx
        .execute(
            "DELETE FROM call_ids WHERE id = $1 AND user_id = $2",
            &[&call_id, &user_id],
        )
        .await?;
    let removed = if owned > 0 {
        // Its webhook deliveries go with it (their attempts by cascade),
        // locked before the call as the webhook worker locks them.
        tx.execute(
            "DELETE FROM webhook_deliveries WHERE user_id = $1 AND call_id = $2",
            &[&user_id, &call_id],
        )
        .await?;
        tx.query_opt(
            &format!("DELETE FROM calls WHERE user_id = $1 AND id = $2 RETURNING {KEY_COLUMNS}"),
            &[&user_id, &call_id],
        )
        .await?
    } else {
        None
    };
    let Some(row) = removed else {
        // Nothing of this user's: leave everything as it was.
        tx.rollback().await?;
        return Ok(false);
    };
    let mut deltas = CountDeltas::default();
    deltas.add(key_of(&row, 0)?, -1);
    apply_deltas(&tx, user_id, deltas).await?;
    tx.commit().await?;
    Ok(true)
}

/// The columns [`key_of`] reads.
const KEY_COLUMNS: &str = "created_at, status, type, assistant_id, campaign_id, answered_by, duration, total_cost, carrier_cost";

/// The rollup key of a row of [`KEY_COLUMNS`] from column `first` on.
fn key_of(row: &Row, first: usize) -> StoreResult<RollupKey> {
    Ok(RollupKey::from_codes(
        row.try_get(first)?,
        row.try_get::<_, i16>(first + 1)?.into(),
        row.try_get::<_, i16>(first + 2)?.into(),
        row.try_get(first + 3)?,
        row.try_get(first + 4)?,
        row.try_get::<_, Option<i16>>(first + 5)?.map(i64::from),
        Measures::new(
            row.try_get(first + 6)?,
            row.try_get(first + 7)?,
            row.try_get(first + 8)?,
        ),
    ))
}

/// Adds a transaction's count changes to the rollups, one statement each;
/// rows come sorted by key, so concurrent writers lock them in the same order.
pub(super) async fn apply_deltas(
    tx: &Transaction<'_>,
    user_id: i64,
    deltas: CountDeltas,
) -> StoreResult<()> {
    let rollups = deltas.into_rollups();
    if !rollups.totals.is_empty() {
        let (mut status, mut kind, mut assistant, mut campaign, mut answered) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut sums = Sums::default();
        for ((s, t, a, c, b), tally) in &rollups.totals {
            status.push(small(*s));
            kind.push(small(*t));
            assistant.push(*a);
            campaign.push(*c);
            answered.push(small(*b));
            sums.push(tally);
        }
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO call_totals (user_id, status, type, assistant_id, campaign_id, answered_by, {SUM_COLUMNS})
                 SELECT $1, * FROM unnest($2::smallint[], $3::smallint[], $4::bigint[], $5::bigint[], $6::smallint[],
                     $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[])
                 ON CONFLICT (user_id, status, type, assistant_id, campaign_id, answered_by)
                 DO UPDATE SET {}",
                sums_added("call_totals")
            ))
            .await?;
        let mut args: Vec<&(dyn ToSql + Sync)> =
            vec![&user_id, &status, &kind, &assistant, &campaign, &answered];
        args.extend(sums.refs());
        tx.execute(&stmt, &args).await?;
    }
    if !rollups.counts.is_empty() {
        let (mut day, mut status, mut kind, mut assistant, mut campaign, mut answered) =
            (vec![], vec![], vec![], vec![], vec![], vec![]);
        let mut sums = Sums::default();
        for (key, tally) in &rollups.counts {
            day.push(key.day);
            status.push(small(key.status));
            kind.push(small(key.call_type));
            assistant.push(key.assistant_id);
            campaign.push(key.campaign_id);
            answered.push(small(key.answered_by));
            sums.push(tally);
        }
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO call_counts (user_id, day, status, type, assistant_id, campaign_id, answered_by, {SUM_COLUMNS})
                 SELECT $1, * FROM unnest($2::bigint[], $3::smallint[], $4::smallint[], $5::bigint[], $6::bigint[],
                     $7::smallint[], $8::bigint[], $9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[])
                 ON CONFLICT (user_id, day, status, type, assistant_id, campaign_id, answered_by)
                 DO UPDATE SET {}",
                sums_added("call_counts")
            ))
            .await?;
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![
            &user_id, &day, &status, &kind, &assistant, &campaign, &answered,
        ];
        args.extend(sums.refs());
        tx.execute(&stmt, &args).await?;
    }
    for (table, unit, rows) in [
        ("call_day_stats", "day", &rollups.day_stats),
        ("call_hour_stats", "hour", &rollups.hour_stats),
    ] {
        if rows.is_empty() {
            continue;
        }
        let (mut at, mut status) = (vec![], vec![]);
        let mut sums = Sums::default();
        for ((when, s), tally) in rows {
            at.push(*when);
            status.push(small(*s));
            sums.push(tally);
        }
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO {table} (user_id, {unit}, status, {SUM_COLUMNS})
                 SELECT $1, * FROM unnest($2::bigint[], $3::smallint[],
                     $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::bigint[])
                 ON CONFLICT (user_id, {unit}, status) DO UPDATE SET {}",
                sums_added(table)
            ))
            .await?;
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&user_id, &at, &status];
        args.extend(sums.refs());
        tx.execute(&stmt, &args).await?;
    }
    if !rollups.days.is_empty() {
        let (day, n): (Vec<i64>, Vec<i64>) = rollups.days.iter().copied().unzip();
        let stmt = tx
            .prepare_cached(
                "INSERT INTO call_days (user_id, day, n) SELECT $1, * FROM unnest($2::bigint[], $3::bigint[])
                 ON CONFLICT (user_id, day) DO UPDATE SET n = call_days.n + excluded.n",
            )
            .await?;
        tx.execute(&stmt, &[&user_id, &day, &n]).await?;
    }
    if rollups.all != 0 {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO call_user_totals (user_id, n) VALUES ($1, $2)
                 ON CONFLICT (user_id) DO UPDATE SET n = call_user_totals.n + excluded.n",
            )
            .await?;
        tx.execute(&stmt, &[&user_id, &rollups.all]).await?;
    }
    Ok(())
}

/// One array per summed column, for `unnest`.
#[derive(Default)]
struct Sums {
    n: Vec<i64>,
    duration_sum: Vec<i64>,
    duration_n: Vec<i64>,
    total_cost: Vec<i64>,
    carrier_cost: Vec<i64>,
}

impl Sums {
    fn push(&mut self, t: &Tally) {
        self.n.push(t.n);
        self.duration_sum.push(t.duration_sum);
        self.duration_n.push(t.duration_n);
        self.total_cost.push(t.total_cost);
        self.carrier_cost.push(t.carrier_cost);
    }

    fn refs(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.n,
            &self.duration_sum,
            &self.duration_n,
            &self.total_cost,
            &self.carrier_cost,
        ]
    }
}

/// Assistant and campaign ids already resolved in this import call.
#[derive(Default)]
struct Names {
    assistants: HashMap<String, i64>,
    campaigns: HashMap<String, i64>,
}

async fn import_unique(
    tx: &Transaction<'_>,
    user_id: i64,
    calls: &[NewCall],
    names: &mut Names,
    deltas: &mut CountDeltas,
    now: i64,
) -> StoreResult<Vec<ImportOutcome>> {
    let ids: Vec<i64> = calls.iter().map(|c| c.id).collect();
    // Claim the ids nobody owns yet; whatever is left has an owner already.
    let claimed: HashSet<i64> = tx
        .query(
            "INSERT INTO call_ids (id, user_id) SELECT id, $2 FROM unnest($1::bigint[]) AS id ORDER BY id
             ON CONFLICT (id) DO NOTHING RETURNING id",
            &[&ids, &user_id],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let taken: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|id| !claimed.contains(id))
        .collect();
    let owners: HashMap<i64, i64> = tx
        .query(
            "SELECT id, user_id FROM call_ids WHERE id = ANY($1)",
            &[&taken],
        )
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let foreign = |id: i64| !claimed.contains(&id) && owners.get(&id) != Some(&user_id);

    // Only calls that will be written create assistants and campaigns.
    let writable: Vec<&NewCall> = calls.iter().filter(|c| !foreign(c.id)).collect();
    resolve(
        tx,
        "assistants",
        user_id,
        writable.iter().filter_map(|c| c.assistant_name.as_deref()),
        &mut names.assistants,
        now,
    )
    .await?;
    resolve(
        tx,
        "campaigns",
        user_id,
        writable.iter().filter_map(|c| c.campaign_name.as_deref()),
        &mut names.campaigns,
        now,
    )
    .await?;

    let (mut new, owned): (Vec<&NewCall>, Vec<&NewCall>) =
        writable.into_iter().partition(|c| claimed.contains(&c.id));
    // Where the owned calls sit in the rollups now, their rows locked in id order.
    let owned_ids: Vec<i64> = owned.iter().map(|c| c.id).collect();
    let old: HashMap<i64, RollupKey> = if owned_ids.is_empty() {
        HashMap::new()
    } else {
        tx.query(
            &format!(
                "SELECT id, {KEY_COLUMNS} FROM calls
                 WHERE user_id = $1 AND id = ANY($2) ORDER BY id FOR UPDATE"
            ),
            &[&user_id, &owned_ids],
        )
        .await?
        .iter()
        .map(|row| Ok((row.try_get(0)?, key_of(row, 1)?)))
        .collect::<StoreResult<_>>()?
    };
    // An id this user owns whose call is gone (deleted by hand): insert it again.
    let (existing, orphans): (Vec<&NewCall>, Vec<&NewCall>) =
        owned.into_iter().partition(|c| old.contains_key(&c.id));
    new.extend(orphans);
    let inserted: HashSet<i64> = new.iter().map(|c| c.id).collect();

    let key = |c: &NewCall| {
        let id_of = |map: &HashMap<String, i64>, name: &Option<String>| {
            name.as_ref().and_then(|n| map.get(n).copied())
        };
        let assistant = id_of(&names.assistants, &c.assistant_name);
        let campaign = id_of(&names.campaigns, &c.campaign_name);
        RollupKey::new(RollupCall {
            created_at: c.created_at,
            status: c.status,
            call_type: c.call_type,
            assistant_id: assistant,
            campaign_id: campaign,
            answered_by: c.answered_by,
            measures: Measures::new(
                c.duration,
                c.total_cost.map(Money::units),
                c.carrier_cost.map(Money::units),
            ),
        })
    };
    if !new.is_empty() {
        new.sort_by_key(|c| c.id);
        for c in &new {
            deltas.add(key(c), 1);
        }
        let arrays = Arrays::of(&new, names);
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&user_id];
        args.extend(arrays.refs());
        let insert = tx.prepare_cached(&INSERT_SQL).await?;
        tx.execute(&insert, &args).await?;
        let docs: Vec<(i64, i64, &str)> = new
            .iter()
            .map(|c| (user_id, c.id, c.words.as_str()))
            .collect();
        search::index(tx, &docs).await?;
    }
    let mut updated = HashSet::new();
    if !existing.is_empty() {
        let arrays = Arrays::of(&existing, names);
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&user_id];
        args.extend(arrays.refs());
        let update = tx.prepare_cached(&UPDATE_SQL).await?;
        updated = tx
            .query(&update, &args)
            .await?
            .iter()
            .map(|row| row.get::<_, i64>(0))
            .collect();
        for c in existing.iter().filter(|c| updated.contains(&c.id)) {
            if let Some(old) = old.get(&c.id) {
                deltas.moved(*old, key(c));
            }
        }
        // Documents that stay the same are not rewritten (see `search::index`).
        let docs: Vec<(i64, i64, &str)> = existing
            .iter()
            .filter(|c| updated.contains(&c.id))
            .map(|c| (user_id, c.id, c.words.as_str()))
            .collect();
        search::index(tx, &docs).await?;
    }

    Ok(calls
        .iter()
        .map(|c| {
            if foreign(c.id) {
                ImportOutcome::ForeignId
            } else if inserted.contains(&c.id) {
                ImportOutcome::Inserted
            } else if updated.contains(&c.id) {
                ImportOutcome::Updated
            } else {
                ImportOutcome::Unchanged
            }
        })
        .collect())
}

fn column_list() -> String {
    WRITE_COLUMNS
        .iter()
        .map(|(c, _)| *c)
        .collect::<Vec<_>>()
        .join(", ")
}

/// New calls, all columns from arrays (`$1` is the user).
static INSERT_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO calls (user_id, id, {}) SELECT $1, * FROM unnest({})",
        column_list(),
        unnest_params(2)
    )
});

/// Existing calls, rewritten only where something differs, so that re-importing
/// reports "unchanged". `c.id = ANY($2)` lets the planner probe the primary key
/// for just these ids instead of reading the user's whole partition.
static UPDATE_SQL: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = WRITE_COLUMNS
        .iter()
        .map(|(c, _)| format!("{c} = v.{c}"))
        .collect();
    let diffs: Vec<String> = WRITE_COLUMNS
        .iter()
        .map(|(c, _)| format!("c.{c} IS DISTINCT FROM v.{c}"))
        .collect();
    format!(
        "UPDATE calls AS c SET {} FROM unnest({}) AS v(id, {})
         WHERE c.user_id = $1 AND c.id = ANY($2) AND c.id = v.id AND ({}) RETURNING c.id",
        sets.join(", "),
        unnest_params(2),
        column_list(),
        diffs.join(" OR ")
    )
});

/// `$n::bigint[], $n+1::bigint[], ...`: the id array, then one per written column.
fn unnest_params(first: usize) -> String {
    std::iter::once("bigint[]")
        .chain(WRITE_COLUMNS.iter().map(|(_, t)| *t))
        .enumerate()
        .map(|(i, t)| format!("${}::{t}", first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds or creates the named assistants (or campaigns) of a user.
async fn resolve(
    tx: &Transaction<'_>,
    table: &str,
    user_id: i64,
    wanted: impl Iterator<Item = &str>,
    known: &mut HashMap<String, i64>,
    now: i64,
) -> StoreResult<()> {
    // Sorted: ids are handed out, and rows locked, in one order whoever imports.
    let mut missing: Vec<String> = wanted
        .filter(|n| !known.contains_key(*n))
        .map(str::to_owned)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    let lookup = format!("SELECT name, id FROM {table} WHERE user_id = $1 AND name = ANY($2)");
    let found = tx.query(&lookup, &[&user_id, &missing]).await?;
    known.extend(found.iter().map(|row| (row.get(0), row.get(1))));
    // Only names not there yet are inserted, so no identity value is spent on
    // a name that exists.
    missing.retain(|n| !known.contains_key(n));
    if missing.is_empty() {
        return Ok(());
    }
    tx.execute(
        &format!(
            "INSERT INTO {table} (user_id, name, created_at, updated_at)
             SELECT $1, name, $3, $3 FROM unnest($2::text[]) WITH ORDINALITY AS t(name, i) ORDER BY i
             ON CONFLICT (user_id, name) DO NOTHING"
        ),
        &[&user_id, &missing, &now],
    )
    .await?;
    let rows = tx.query(&lookup, &[&user_id, &missing]).await?;
    known.extend(rows.iter().map(|row| (row.get(0), row.get(1))));
    Ok(())
}

/// One array per column, for `unnest`.
struct Arrays {
    id: Vec<i64>,
    assistant_id: Vec<Option<i64>>,
    campaign_id: Vec<Option<i64>>,
    call_type: Vec<i16>,
    status: Vec<i16>,
    duration: Vec<i64>,
    assistant_phone: Vec<Option<String>>,
    client_phone: Vec<Option<String>>,
    client_phone_key: Vec<Option<String>>,
    transcript: Vec<String>,
    variables: Vec<String>,
    evaluation: Vec<String>,
    webhook_response: Vec<Option<String>>,
    carrier_cost: Vec<Option<i64>>,
    total_cost: Vec<Option<i64>>,
    answered_by: Vec<Option<i16>>,
    recording_url: Vec<Option<String>>,
    created_at: Vec<i64>,
    updated_at: Vec<i64>,
}

impl Arrays {
    fn of(calls: &[&NewCall], names: &Names) -> Self {
        let id_of = |map: &HashMap<String, i64>, name: &Option<String>| {
            name.as_ref().and_then(|n| map.get(n).copied())
        };
        Self {
            id: calls.iter().map(|c| c.id).collect(),
            assistant_id: calls
                .iter()
                .map(|c| id_of(&names.assistants, &c.assistant_name))
                .collect(),
            campaign_id: calls
                .iter()
                .map(|c| id_of(&names.campaigns, &c.campaign_name))
                .collect(),
            call_type: calls.iter().map(|c| small(c.call_type.code())).collect(),
            status: calls.iter().map(|c| small(c.status.code())).collect(),
            duration: calls.iter().map(|c| c.duration).collect(),
            assistant_phone: calls
                .iter()
                .map(|c| c.assistant_phone_number.clone())
                .collect(),
            client_phone: calls
                .iter()
                .map(|c| c.client_phone_number.clone())
                .collect(),
            client_phone_key: calls
                .iter()
                .map(|c| c.client_phone_number.as_deref().map(phone::normalize))
                .collect(),
            transcript: calls
                .iter()
                .map(|c| c.transcript.as_str().to_owned())
                .collect(),
            variables: calls
                .iter()
                .map(|c| c.variables.as_str().to_owned())
                .collect(),
            evaluation: calls
                .iter()
                .map(|c| c.evaluation.as_str().to_owned())
                .collect(),
            webhook_response: calls
                .iter()
                .map(|c| c.webhook_response.as_ref().map(|j| j.as_str().to_owned()))
                .collect(),
            carrier_cost: calls
                .iter()
                .map(|c| c.carrier_cost.map(Money::units))
                .collect(),
            total_cost: calls
                .iter()
                .map(|c| c.total_cost.map(Money::units))
                .collect(),
            answered_by: calls
                .iter()
                .map(|c| c.answered_by.map(|a| small(a.code())))
                .collect(),
            recording_url: calls.iter().map(|c| c.recording_url.clone()).collect(),
            created_at: calls.iter().map(|c| c.created_at).collect(),
            updated_at: calls.iter().map(|c| c.updated_at).collect(),
        }
    }

    /// In `unnest_params` order: id, then [`WRITE_COLUMNS`].
    fn refs(&self) -> [&(dyn ToSql + Sync); 19] {
        [
            &self.id,
            &self.assistant_id,
            &self.campaign_id,
            &self.call_type,
            &self.status,
            &self.duration,
            &self.assistant_phone,
            &self.client_phone,
            &self.client_phone_key,
            &self.transcript,
            &self.variables,
            &self.evaluation,
            &self.webhook_response,
            &self.carrier_cost,
            &self.total_cost,
            &self.answered_by,
            &self.recording_url,
            &self.created_at,
            &self.updated_at,
        ]
    }
}
