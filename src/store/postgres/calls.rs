//! Call-record queries for PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use deadpool_postgres::{Client, GenericClient, Transaction};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use crate::domain::timefmt::now_unix;
use crate::domain::{
    AnsweredBy, CallFilter, CallRecord, CallStatus, CallType, JsonText, Money, NewCall, phone,
};
use crate::store::{ImportOutcome, Page, StoreResult};

/// The Call object's columns in the contract's order, joined with the
/// assistant (`a`) and campaign (`p`) names; the caller adds `WHERE`.
const CALL_SELECT: &str =
    "SELECT c.id, a.name, p.name, c.type, c.duration, c.assistant_phone_number,
    c.client_phone_number, c.status, c.transcript, c.variables, c.evaluation, c.webhook_response,
    c.carrier_cost, c.total_cost, c.answered_by, c.recording_url, c.created_at, c.updated_at
    FROM calls c
    LEFT JOIN assistants a ON a.user_id = c.user_id AND a.id = c.assistant_id
    LEFT JOIN campaigns p ON p.user_id = c.user_id AND p.id = c.campaign_id";

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
    let type_code: i16 = row.try_get(3)?;
    let status_code: i16 = row.try_get(7)?;
    let answered: Option<i16> = row.try_get(14)?;
    Ok(CallRecord {
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
        transcript: JsonText::from_trusted(row.try_get(8)?),
        variables: JsonText::from_trusted(row.try_get(9)?),
        evaluation: JsonText::from_trusted(row.try_get(10)?),
        webhook_response: row
            .try_get::<_, Option<String>>(11)?
            .map(JsonText::from_trusted),
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

type Param = Box<dyn ToSql + Sync + Send>;

/// `WHERE` conditions on `calls` (unaliased) and their parameters, `$1` first.
fn filter_sql(user_id: i64, filter: &CallFilter) -> (String, Vec<Param>) {
    let mut sql = String::from("user_id = $1");
    let mut args: Vec<Param> = vec![Box::new(user_id)];
    let mut push = |column: &str, op: &str, value: Param| {
        args.push(value);
        sql.push_str(&format!(" AND {column} {op} ${}", args.len()));
    };
    if let Some(status) = filter.status {
        push("status", "=", Box::new(small(status.code())));
    }
    if let Some(call_type) = filter.call_type {
        push("type", "=", Box::new(small(call_type.code())));
    }
    if let Some(phone) = &filter.phone_number {
        push("client_phone_key", "=", Box::new(phone.clone()));
    }
    if let Some(id) = filter.assistant_id {
        push("assistant_id", "=", Box::new(id));
    }
    if let Some(id) = filter.campaign_id {
        push("campaign_id", "=", Box::new(id));
    }
    if let Some(from) = filter.created_from {
        push("created_at", ">=", Box::new(from));
    }
    if let Some(to) = filter.created_to {
        push("created_at", "<=", Box::new(to));
    }
    (sql, args)
}

/// Enum codes are 1..=10: they always fit.
fn small(code: i64) -> i16 {
    i16::try_from(code).unwrap_or(i16::MAX)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn refs(args: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    args.iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

pub async fn list(
    client: &mut Client,
    user_id: i64,
    filter: &CallFilter,
    limit: u64,
    offset: u64,
) -> StoreResult<Page<CallRecord>> {
    // The total and the rows come from one snapshot.
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let (condition, mut args) = filter_sql(user_id, filter);
    let count = tx
        .prepare_cached(&format!("SELECT count(*) FROM calls WHERE {condition}"))
        .await?;
    let total: i64 = tx.query_one(&count, &refs(&args)).await?.get(0);
    let total = total.unsigned_abs();
    if offset >= total {
        tx.commit().await?;
        return Ok(Page {
            total,
            rows: Vec::new(),
        });
    }
    args.push(Box::new(to_i64(limit)));
    args.push(Box::new(to_i64(offset)));
    let (limit_at, offset_at) = (args.len() - 1, args.len());
    // The page's ids come from an index first; only those rows are read.
    let sql = format!(
        "WITH page AS (
             SELECT id FROM calls WHERE {condition}
             ORDER BY created_at DESC, id DESC LIMIT ${limit_at} OFFSET ${offset_at})
         {CALL_SELECT} JOIN page ON page.id = c.id
         WHERE c.user_id = $1
         ORDER BY c.created_at DESC, c.id DESC"
    );
    let stmt = tx.prepare_cached(&sql).await?;
    let rows = tx.query(&stmt, &refs(&args)).await?;
    tx.commit().await?;
    let rows = rows
        .iter()
        .map(call_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { total, rows })
}

pub async fn get(client: &Client, user_id: i64, call_id: i64) -> StoreResult<Option<CallRecord>> {
    let stmt = client
        .prepare_cached(&format!("{CALL_SELECT} WHERE c.user_id = $1 AND c.id = $2"))
        .await?;
    client
        .query_opt(&stmt, &[&user_id, &call_id])
        .await?
        .as_ref()
        .map(call_from_row)
        .transpose()
}

/// A user's assistants or campaigns (same columns), newest first.
pub async fn list_owned(
    client: &Client,
    table: &str,
    user_id: i64,
    page: Option<(u64, u64)>,
) -> StoreResult<Page<Row>> {
    let total: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM {table} WHERE user_id = $1"),
            &[&user_id],
        )
        .await?
        .get(0);
    let (limit, offset) = page.map_or((None, 0), |(l, o)| (Some(to_i64(l)), to_i64(o)));
    let rows = client
        .query(
            &format!(
                "SELECT id, user_id, name, status, created_at, updated_at FROM {table}
                 WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
            ),
            &[&user_id, &limit, &offset],
        )
        .await?;
    Ok(Page {
        total: total.unsigned_abs(),
        rows,
    })
}

/// Upserts a batch set-wise: a handful of statements per batch, whatever its size.
pub async fn import(
    client: &mut Client,
    user_id: i64,
    batch: &[NewCall],
) -> StoreResult<Vec<ImportOutcome>> {
    let tx = client.transaction().await?;
    let now = now_unix();
    let mut names = Names::default();
    let mut outcomes = Vec::with_capacity(batch.len());
    // An id repeated within a batch is handled like a second file: split there.
    let mut start = 0;
    while start < batch.len() {
        let mut seen = HashSet::new();
        let end = batch[start..]
            .iter()
            .position(|c| !seen.insert(c.id))
            .map_or(batch.len(), |n| start + n);
        outcomes.extend(import_unique(&tx, user_id, &batch[start..end], &mut names, now).await?);
        start = end;
    }
    if let Some(max_id) = batch.iter().map(|c| c.id).max() {
        // New calls take ids from call_id_seq: keep it past every imported id.
        // The advisory lock makes concurrent imports raise it in turn.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('callbase.call_id_seq'))",
            &[],
        )
        .await?;
        tx.execute(
            "SELECT setval('call_id_seq', GREATEST(nextval('call_id_seq'), $1))",
            &[&max_id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(outcomes)
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
    now: i64,
) -> StoreResult<Vec<ImportOutcome>> {
    let ids: Vec<i64> = calls.iter().map(|c| c.id).collect();
    // Claim the ids nobody owns yet; whatever is left has an owner already.
    let claimed: HashSet<i64> = tx
        .query(
            "INSERT INTO call_ids (id, user_id) SELECT unnest($1::bigint[]), $2
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

    let (new, existing): (Vec<&NewCall>, Vec<&NewCall>) =
        writable.into_iter().partition(|c| claimed.contains(&c.id));
    if !new.is_empty() {
        let arrays = Arrays::of(&new, names);
        let mut args: Vec<&(dyn ToSql + Sync)> = vec![&user_id];
        args.extend(arrays.refs());
        let insert = tx.prepare_cached(&INSERT_SQL).await?;
        tx.execute(&insert, &args).await?;
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
    }

    Ok(calls
        .iter()
        .map(|c| {
            if foreign(c.id) {
                ImportOutcome::ForeignId
            } else if claimed.contains(&c.id) {
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
    let missing: Vec<String> = wanted
        .filter(|n| !known.contains_key(*n))
        .map(str::to_owned)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    tx.execute(
        &format!(
            "INSERT INTO {table} (user_id, name, created_at, updated_at)
             SELECT $1, name, $3, $3 FROM unnest($2::text[]) AS name ON CONFLICT (user_id, name) DO NOTHING"
        ),
        &[&user_id, &missing, &now],
    )
    .await?;
    let rows = tx
        .query(
            &format!("SELECT name, id FROM {table} WHERE user_id = $1 AND name = ANY($2)"),
            &[&user_id, &missing],
        )
        .await?;
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
