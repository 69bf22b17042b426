//! Live-call writes, the webhook outbox and idempotency keys in PostgreSQL.
//! Safe with several `serve` processes on one database: call rows are locked
//! for their update, deliveries are claimed with `FOR UPDATE SKIP LOCKED`.

use deadpool_postgres::{Client, GenericClient, Transaction};
use tokio_postgres::Row;

use super::calls::{apply_deltas, get, small};
use super::search;
use crate::domain::live::{Applied, CallChange, CallState};
use crate::domain::post_call::{PayloadContext, post_call_payload};
use crate::domain::search::index_words;
use crate::domain::timefmt::now_unix;
use crate::domain::{AnsweredBy, CallRecord, CallStatus, CallType, JsonText, Money, phone};
use crate::store::counts::CountDeltas;
use crate::store::{
    AttemptRecord, CallDraft, CallWrite, Delivery, DeliveryNext, DueDelivery, IdempotencyStart,
    Redelivery, StoreError, StoreResult, WebhookSettings, now_ms, rollup_key,
};

const STATE_COLUMNS: &str = "type, assistant_id, campaign_id, status, duration, answered_by,
    carrier_cost, total_cost, recording_url, transcript, variables, evaluation, created_at,
    updated_at, finished_at";

fn corrupt(what: &str, code: i16) -> StoreError {
    StoreError::Internal(anyhow::anyhow!(
        "unknown {what} code {code} in the database"
    ))
}

fn state_from_row(row: &Row) -> StoreResult<CallState> {
    let type_code: i16 = row.try_get(0)?;
    let status_code: i16 = row.try_get(3)?;
    let answered: Option<i16> = row.try_get(5)?;
    Ok(CallState {
        call_type: CallType::from_code(type_code.into())
            .ok_or_else(|| corrupt("type", type_code))?,
        assistant_id: row.try_get(1)?,
        campaign_id: row.try_get(2)?,
        status: CallStatus::from_code(status_code.into())
            .ok_or_else(|| corrupt("status", status_code))?,
        duration: row.try_get(4)?,
        answered_by: match answered {
            None => None,
            Some(code) => Some(
                AnsweredBy::from_code(code.into()).ok_or_else(|| corrupt("answered_by", code))?,
            ),
        },
        carrier_cost: row.try_get::<_, Option<i64>>(6)?.map(Money::from_units),
        total_cost: row.try_get::<_, Option<i64>>(7)?.map(Money::from_units),
        recording_url: row.try_get(8)?,
        transcript: JsonText::from_trusted(row.try_get(9)?),
        variables: JsonText::from_trusted(row.try_get(10)?),
        evaluation: JsonText::from_trusted(row.try_get(11)?),
        created_at: row.try_get(12)?,
        updated_at: row.try_get(13)?,
        finished_at: row.try_get(14)?,
    })
}

async fn assistant_settings<C: GenericClient>(
    client: &C,
    user_id: i64,
    id: i64,
) -> StoreResult<Option<(WebhookSettings, Option<String>)>> {
    let row = client
        .query_opt(
            "SELECT is_webhook_active, webhook_url, send_webhook_only_on_completed,
                    include_recording_in_webhook, phone_number
             FROM assistants WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&user_id, &id],
        )
        .await?;
    Ok(row.map(|r| {
        (
            WebhookSettings {
                active: r.get(0),
                url: r.get(1),
                only_on_completed: r.get(2),
                include_recording: r.get(3),
            },
            r.get(4),
        )
    }))
}

pub async fn create_call(
    client: &mut Client,
    user_id: i64,
    draft: &CallDraft,
) -> StoreResult<CallWrite> {
    let tx = client.transaction().await?;
    let now = now_unix();
    let mut assistant_phone = draft.assistant_phone_number.clone();
    if let Some(id) = draft.assistant_id {
        let Some((_, number)) = assistant_settings(&tx, user_id, id).await? else {
            return Ok(CallWrite::UnknownAssistant);
        };
        if assistant_phone.is_none() && draft.call_type != CallType::Web {
            assistant_phone = number;
        }
    }
    if let Some(id) = draft.campaign_id {
        let live = tx
            .query_opt(
                "SELECT 1 FROM campaigns WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL",
                &[&user_id, &id],
            )
            .await?;
        if live.is_none() {
            return Ok(CallWrite::UnknownCampaign);
        }
    }
    // A fresh id above every id in use (imported ones included) and every id
    // handed out before (the sequence keeps its high-water mark, so the id of
    // a deleted call is not used again). Two writers picking the same number:
    // one insert wins, the other sees the conflict (after waiting for the
    // winner) and tries again with the next value of the sequence.
    let call_id: i64 = loop {
        let row = tx
            .query_opt(
                "INSERT INTO call_ids (id, user_id)
                 SELECT setval('call_id_seq', greatest(nextval('call_id_seq'),
                        (SELECT coalesce(max(id), 0) + 1 FROM call_ids))), $1
                 ON CONFLICT (id) DO NOTHING RETURNING id",
                &[&user_id],
            )
            .await?;
        if let Some(row) = row {
            break row.get(0);
        }
    };
    let s = match draft.initial_state(now) {
        Ok(state) => state,
        Err(refusal) => return Ok(CallWrite::Refused(refusal)),
    };
    let client_key = draft.client_phone_number.as_deref().map(phone::normalize);
    tx.execute(
        "INSERT INTO calls (user_id, id, assistant_id, campaign_id, type, status, duration,
            assistant_phone_number, client_phone_number, client_phone_key, transcript, variables,
            evaluation, carrier_cost, total_cost, answered_by, recording_url, created_at,
            updated_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        &[
            &user_id,
            &call_id,
            &s.assistant_id,
            &s.campaign_id,
            &small(s.call_type.code()),
            &small(s.status.code()),
            &s.duration,
            &assistant_phone,
            &draft.client_phone_number,
            &client_key,
            &s.transcript.as_str(),
            &s.variables.as_str(),
            &s.evaluation.as_str(),
            &s.carrier_cost.map(Money::units),
            &s.total_cost.map(Money::units),
            &s.answered_by.map(|a| small(a.code())),
            &s.recording_url,
            &s.created_at,
            &s.updated_at,
            &s.finished_at,
        ],
    )
    .await?;
    let mut deltas = CountDeltas::default();
    deltas.add(rollup_key(&s), 1);
    apply_deltas(&tx, user_id, deltas).await?;
    let words = index_words(s.transcript.as_str().as_bytes());
    search::index(&tx, &[(user_id, call_id, &words)]).await?;
    let record = finish_write(&tx, user_id, call_id, &s, s.status.is_final()).await?;
    tx.commit().await?;
    Ok(record)
}

async fn load_state<C: GenericClient>(
    client: &C,
    user_id: i64,
    call_id: i64,
    lock: bool,
) -> StoreResult<Option<CallState>> {
    let sql = format!(
        "SELECT {STATE_COLUMNS} FROM calls WHERE user_id = $1 AND id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    client
        .query_opt(&sql, &[&user_id, &call_id])
        .await?
        .as_ref()
        .map(state_from_row)
        .transpose()
}

pub async fn update_call(
    client: &mut Client,
    user_id: i64,
    call_id: i64,
    change: &CallChange,
) -> StoreResult<CallWrite> {
    let tx = client.transaction().await?;
    let Some(mut state) = load_state(&tx, user_id, call_id, true).await? else {
        return Ok(CallWrite::NotFound);
    };
    let before = rollup_key(&state);
    let transcript_before = state.transcript.clone();
    let Applied { changed, finished } = match change.apply(&mut state, now_unix()) {
        Ok(applied) => applied,
        Err(refusal) => return Ok(CallWrite::Refused(refusal)),
    };
    if changed {
        tx.execute(
            "UPDATE calls SET status = $3, duration = $4, answered_by = $5, carrier_cost = $6,
                total_cost = $7, recording_url = $8, transcript = $9, variables = $10,
                evaluation = $11, updated_at = $12, finished_at = $13
             WHERE user_id = $1 AND id = $2",
            &[
                &user_id,
                &call_id,
                &small(state.status.code()),
                &state.duration,
                &state.answered_by.map(|a| small(a.code())),
                &state.carrier_cost.map(Money::units),
                &state.total_cost.map(Money::units),
                &state.recording_url,
                &state.transcript.as_str(),
                &state.variables.as_str(),
                &state.evaluation.as_str(),
                &state.updated_at,
                &state.finished_at,
            ],
        )
        .await?;
        let mut deltas = CountDeltas::default();
        deltas.moved(before, rollup_key(&state));
        apply_deltas(&tx, user_id, deltas).await?;
        if state.transcript != transcript_before {
            let words = index_words(state.transcript.as_str().as_bytes());
            search::index(&tx, &[(user_id, call_id, &words)]).await?;
        }
    }
    let record = finish_write(&tx, user_id, call_id, &state, finished).await?;
    tx.commit().await?;
    Ok(record)
}

async fn campaign_of(
    tx: &Transaction<'_>,
    user_id: i64,
    campaign_id: Option<i64>,
) -> StoreResult<Option<(i64, String)>> {
    let Some(id) = campaign_id else {
        return Ok(None);
    };
    Ok(tx
        .query_opt(
            "SELECT id, name FROM campaigns WHERE user_id = $1 AND id = $2",
            &[&user_id, &id],
        )
        .await?
        .map(|r| (r.get(0), r.get(1))))
}

/// The call just written or read in this transaction.
async fn present_call(tx: &Transaction<'_>, user_id: i64, call_id: i64) -> StoreResult<CallRecord> {
    get(tx, user_id, call_id)
        .await?
        .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("call {call_id} vanished")))
}

/// The post-call payload of a call as it is now.
async fn payload_of(
    tx: &Transaction<'_>,
    user_id: i64,
    call_id: i64,
    state: &CallState,
    include_recording: bool,
) -> StoreResult<String> {
    let record = present_call(tx, user_id, call_id).await?;
    payload_for(tx, user_id, &record, state, include_recording).await
}

/// The post-call payload of `record` (whose state is `state`).
async fn payload_for(
    tx: &Transaction<'_>,
    user_id: i64,
    record: &CallRecord,
    state: &CallState,
    include_recording: bool,
) -> StoreResult<String> {
    let campaign = campaign_of(tx, user_id, state.campaign_id).await?;
    Ok(post_call_payload(
        record,
        PayloadContext {
            finished_at: state.finished_at,
            campaign: campaign.as_ref().map(|(id, name)| (*id, name.as_str())),
            include_recording,
        },
    ))
}

/// Reads the written call back and, when it just finished, queues its webhook.
async fn finish_write(
    tx: &Transaction<'_>,
    user_id: i64,
    call_id: i64,
    state: &CallState,
    finished: bool,
) -> StoreResult<CallWrite> {
    let record = present_call(tx, user_id, call_id).await?;
    if finished
        && let Some(assistant_id) = state.assistant_id
        && let Some((settings, _)) = assistant_settings(tx, user_id, assistant_id).await?
        && settings.wants(state.status)
    {
        let payload = payload_for(tx, user_id, &record, state, settings.include_recording).await?;
        enqueue(tx, user_id, call_id, assistant_id, &payload).await?;
    }
    Ok(CallWrite::Written(Box::new(record)))
}

async fn enqueue(
    tx: &Transaction<'_>,
    user_id: i64,
    call_id: i64,
    assistant_id: i64,
    payload: &str,
) -> StoreResult<i64> {
    let row = tx
        .query_one(
            "INSERT INTO webhook_deliveries (user_id, call_id, assistant_id, message_id, payload, state,
                next_attempt_at, created_at)
             VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6) RETURNING id",
            &[
                &user_id,
                &call_id,
                &assistant_id,
                &crate::webhook::new_message_id(),
                &payload,
                &now_ms(),
            ],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn claim(
    client: &mut Client,
    worker: &str,
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> StoreResult<Vec<DueDelivery>> {
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "UPDATE webhook_deliveries d SET locked_by = $1, locked_until = $2 + $3
             WHERE d.id IN (SELECT id FROM webhook_deliveries
                            WHERE state = 'pending' AND next_attempt_at <= $2
                              AND (locked_until IS NULL OR locked_until <= $2)
                            ORDER BY next_attempt_at LIMIT $4
                            FOR UPDATE SKIP LOCKED)
             RETURNING d.id, d.user_id, d.call_id, d.message_id, d.payload, d.attempts,
                d.assistant_id",
            &[&worker, &now, &lease_ms, &i64::from(limit)],
        )
        .await?;
    let mut due = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut delivery = DueDelivery {
            id: r.try_get(0)?,
            user_id: r.try_get(1)?,
            call_id: r.try_get(2)?,
            message_id: r.try_get(3)?,
            payload: r.try_get(4)?,
            attempts: u32::try_from(r.try_get::<_, i32>(5)?).unwrap_or(0),
            target: None,
        };
        let assistant_id: i64 = r.try_get(6)?;
        let target = tx
            .query_opt(
                "SELECT webhook_url, webhook_secret, include_recording_in_webhook FROM assistants
                 WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL AND is_webhook_active
                   AND webhook_url IS NOT NULL AND webhook_secret IS NOT NULL",
                &[&delivery.user_id, &assistant_id],
            )
            .await?;
        if let Some(target) = target {
            // Built now, from the call as it is: fields set after the hang-up
            // (recording, evaluation, costs) reach the receiver.
            if let Some(state) = load_state(&tx, delivery.user_id, delivery.call_id, false).await? {
                let payload = payload_of(
                    &tx,
                    delivery.user_id,
                    delivery.call_id,
                    &state,
                    target.get(2),
                )
                .await?;
                tx.execute(
                    "UPDATE webhook_deliveries SET payload = $2 WHERE id = $1",
                    &[&delivery.id, &payload],
                )
                .await?;
                delivery.payload = payload;
            }
            delivery.target = Some((target.get(0), target.get(1)));
        }
        due.push(delivery);
    }
    tx.commit().await?;
    Ok(due)
}

pub async fn record_attempt(
    client: &mut Client,
    delivery_id: i64,
    worker: &str,
    attempt: &AttemptRecord,
    next: &DeliveryNext,
) -> StoreResult<()> {
    let tx = client.transaction().await?;
    let Some(row) = tx
        .query_opt(
            "SELECT user_id, call_id, locked_by IS NOT DISTINCT FROM $2 AND state = 'pending'
             FROM webhook_deliveries WHERE id = $1 FOR UPDATE",
            &[&delivery_id, &worker],
        )
        .await?
    else {
        // The call, and its deliveries with it, are gone.
        return Ok(());
    };
    let (user_id, call_id, held): (i64, i64, bool) = (row.get(0), row.get(1), row.get(2));
    tx.execute(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, error)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &delivery_id,
            &attempt.attempted_at_ms,
            &attempt.status_code.map(i32::from),
            &attempt.latency_ms,
            &attempt.error,
        ],
    )
    .await?;
    if !held {
        // The lease ran out and another worker took the delivery over: the
        // attempt is on record, what follows is that worker's to decide.
        tx.commit().await?;
        return Ok(());
    }
    let now = now_ms();
    let (state, next_at, finished_at) = match next {
        DeliveryNext::Delivered { .. } => ("delivered", None, Some(now)),
        DeliveryNext::Retry { at_ms } => ("pending", Some(*at_ms), None),
        DeliveryNext::GiveUp => ("failed", None, Some(now)),
    };
    tx.execute(
        "UPDATE webhook_deliveries SET state = $2, next_attempt_at = $3, finished_at = $4,
            attempts = attempts + 1, locked_by = NULL, locked_until = NULL
         WHERE id = $1",
        &[&delivery_id, &state, &next_at, &finished_at],
    )
    .await?;
    if let DeliveryNext::Delivered {
        response_json: Some(json),
    } = next
    {
        tx.execute(
            "UPDATE calls SET webhook_response = $3, updated_at = greatest(updated_at, $4)
             WHERE user_id = $1 AND id = $2 AND webhook_response IS NULL
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries WHERE user_id = $1
                               AND call_id = $2 AND state = 'delivered' AND id <> $5)",
            &[&user_id, &call_id, json, &now_unix(), &delivery_id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn next_delivery_at(client: &Client) -> StoreResult<Option<i64>> {
    Ok(client
        .query_one(
            "SELECT min(greatest(next_attempt_at, coalesce(locked_until, 0)))
             FROM webhook_deliveries WHERE state = 'pending'",
            &[],
        )
        .await?
        .get(0))
}

const DELIVERY_COLUMNS: &str = "id, message_id, state, next_attempt_at, created_at, finished_at";

fn delivery_from_row(row: &Row) -> Delivery {
    Delivery {
        id: row.get(0),
        message_id: row.get(1),
        state: row.get(2),
        next_attempt_at_ms: row.get(3),
        created_at_ms: row.get(4),
        finished_at_ms: row.get(5),
        attempts: Vec::new(),
    }
}

pub async fn list_deliveries(
    client: &mut Client,
    user_id: i64,
    call_id: i64,
) -> StoreResult<Option<Vec<Delivery>>> {
    // One snapshot for the call, its deliveries and their attempts.
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let exists = tx
        .query_opt(
            "SELECT 1 FROM calls WHERE user_id = $1 AND id = $2",
            &[&user_id, &call_id],
        )
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let rows = tx
        .query(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                 WHERE user_id = $1 AND call_id = $2 ORDER BY id"
            ),
            &[&user_id, &call_id],
        )
        .await?;
    let mut deliveries: Vec<Delivery> = rows.iter().map(delivery_from_row).collect();
    let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
    let attempts = tx
        .query(
            "SELECT delivery_id, attempted_at, status_code, latency_ms, error FROM webhook_attempts
             WHERE delivery_id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await?;
    for row in &attempts {
        let delivery_id: i64 = row.get(0);
        if let Some(d) = deliveries.iter_mut().find(|d| d.id == delivery_id) {
            d.attempts.push(AttemptRecord {
                attempted_at_ms: row.get(1),
                status_code: row
                    .get::<_, Option<i32>>(2)
                    .and_then(|s| u16::try_from(s).ok()),
                latency_ms: row.get(3),
                error: row.get(4),
            });
        }
    }
    tx.commit().await?;
    Ok(Some(deliveries))
}

pub async fn redeliver(client: &mut Client, user_id: i64, call_id: i64) -> StoreResult<Redelivery> {
    let tx = client.transaction().await?;
    let Some(state) = load_state(&tx, user_id, call_id, false).await? else {
        return Ok(Redelivery::NotFound);
    };
    if !state.status.is_final() {
        return Ok(Redelivery::NotEnded);
    }
    let Some(assistant_id) = state.assistant_id else {
        return Ok(Redelivery::NoWebhook);
    };
    let Some((settings, _)) = assistant_settings(&tx, user_id, assistant_id)
        .await?
        .filter(|(s, _)| s.active && s.url.is_some())
    else {
        return Ok(Redelivery::NoWebhook);
    };
    let payload = payload_of(&tx, user_id, call_id, &state, settings.include_recording).await?;
    let id = enqueue(&tx, user_id, call_id, assistant_id, &payload).await?;
    let row = tx
        .query_one(
            &format!("SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1"),
            &[&id],
        )
        .await?;
    tx.commit().await?;
    Ok(Redelivery::Queued(delivery_from_row(&row)))
}

pub async fn idempotency_start(
    client: &mut Client,
    user_id: i64,
    key: &str,
    fingerprint: [u8; 32],
    now: i64,
    expired_before: i64,
) -> StoreResult<IdempotencyStart> {
    let fingerprint: &[u8] = &fingerprint;
    // Claim the key, or replace an expired claim; otherwise read what is there.
    let claimed = client
        .query_opt(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
             VALUES ($1, $2, $3, NULL, NULL, $4)
             ON CONFLICT (user_id, key) DO UPDATE
                SET fingerprint = excluded.fingerprint, status = NULL, body = NULL,
                    created_at = excluded.created_at
                WHERE idempotency_keys.created_at < $5
             RETURNING 1",
            &[&user_id, &key, &fingerprint, &now, &expired_before],
        )
        .await?;
    if claimed.is_some() {
        return Ok(IdempotencyStart::Fresh);
    }
    let Some(row) = client
        .query_opt(
            "SELECT fingerprint, status, body FROM idempotency_keys WHERE user_id = $1 AND key = $2",
            &[&user_id, &key],
        )
        .await?
    else {
        // Released by the first request in between: the caller may retry.
        return Ok(IdempotencyStart::InFlight);
    };
    let seen: Vec<u8> = row.get(0);
    let status: Option<i32> = row.get(1);
    Ok(if seen != fingerprint {
        IdempotencyStart::Mismatch
    } else if let Some(status) = status {
        IdempotencyStart::Replay {
            status: u16::try_from(status).unwrap_or(500),
            body: row.get::<_, Option<Vec<u8>>>(2).unwrap_or_default(),
        }
    } else {
        IdempotencyStart::InFlight
    })
}

pub async fn idempotency_finish(
    client: &Client,
    user_id: i64,
    key: &str,
    status: u16,
    body: &[u8],
) -> StoreResult<()> {
    client
        .execute(
            "UPDATE idempotency_keys SET status = $3, body = $4 WHERE user_id = $1 AND key = $2",
            &[&user_id, &key, &i32::from(status), &body],
        )
        .await?;
    Ok(())
}

pub async fn idempotency_release(client: &Client, user_id: i64, key: &str) -> StoreResult<()> {
    client
        .execute(
            "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status IS NULL",
            &[&user_id, &key],
        )
        .await?;
    Ok(())
}

pub async fn purge_idempotency(client: &Client, before: i64) -> StoreResult<u64> {
    Ok(client
        .execute(
            "DELETE FROM idempotency_keys WHERE created_at < $1",
            &[&before],
        )
        .await?)
}
