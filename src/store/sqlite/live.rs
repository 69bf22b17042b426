//! Live-call writes, the webhook outbox and idempotency keys in SQLite.
//! Everything here runs on the writer connection, one transaction per call.

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};

use super::calls::{apply_deltas, get};
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

fn corrupt(what: &str, code: i64) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Integer,
        format!("unknown {what} code {code}").into(),
    )
}

fn state_from_row(row: &Row<'_>) -> rusqlite::Result<CallState> {
    let type_code: i64 = row.get(0)?;
    let status_code: i64 = row.get(3)?;
    let answered: Option<i64> = row.get(5)?;
    Ok(CallState {
        call_type: CallType::from_code(type_code).ok_or_else(|| corrupt("type", type_code))?,
        assistant_id: row.get(1)?,
        campaign_id: row.get(2)?,
        status: CallStatus::from_code(status_code).ok_or_else(|| corrupt("status", status_code))?,
        duration: row.get(4)?,
        answered_by: match answered {
            None => None,
            Some(code) => {
                Some(AnsweredBy::from_code(code).ok_or_else(|| corrupt("answered_by", code))?)
            }
        },
        carrier_cost: row.get::<_, Option<i64>>(6)?.map(Money::from_units),
        total_cost: row.get::<_, Option<i64>>(7)?.map(Money::from_units),
        recording_url: row.get(8)?,
        transcript: JsonText::from_trusted(row.get(9)?),
        variables: JsonText::from_trusted(row.get(10)?),
        evaluation: JsonText::from_trusted(row.get(11)?),
        created_at: row.get(12)?,
        updated_at: row.get(13)?,
        finished_at: row.get(14)?,
    })
}

/// The call's state, if the user has it.
fn load_state(tx: &Connection, user_id: i64, call_id: i64) -> rusqlite::Result<Option<CallState>> {
    tx.prepare_cached(&format!(
        "SELECT {STATE_COLUMNS} FROM calls WHERE id = ?1 AND user_id = ?2"
    ))?
    .query_row(params![call_id, user_id], state_from_row)
    .optional()
}

/// A live (not deleted) assistant's webhook settings and phone number.
fn assistant_settings(
    tx: &Connection,
    user_id: i64,
    id: i64,
) -> rusqlite::Result<Option<(WebhookSettings, Option<String>)>> {
    tx.prepare_cached(
        "SELECT is_webhook_active, webhook_url, send_webhook_only_on_completed,
                include_recording_in_webhook, phone_number
         FROM assistants WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL",
    )?
    .query_row(params![id, user_id], |r| {
        Ok((
            WebhookSettings {
                active: r.get(0)?,
                url: r.get(1)?,
                only_on_completed: r.get(2)?,
                include_recording: r.get(3)?,
            },
            r.get(4)?,
        ))
    })
    .optional()
}

fn campaign_live(tx: &Connection, user_id: i64, id: i64) -> rusqlite::Result<bool> {
    Ok(tx
        .prepare_cached(
            "SELECT 1 FROM campaigns WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL",
        )?
        .query_row(params![id, user_id], |_| Ok(()))
        .optional()?
        .is_some())
}

pub fn create_call(
    conn: &mut Connection,
    user_id: i64,
    draft: &CallDraft,
) -> StoreResult<CallWrite> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let now = now_unix();
    let mut assistant_phone = draft.assistant_phone_number.clone();
    if let Some(id) = draft.assistant_id {
        let Some((_, number)) = assistant_settings(&tx, user_id, id)? else {
            return Ok(CallWrite::UnknownAssistant);
        };
        if assistant_phone.is_none() && draft.call_type != CallType::Web {
            assistant_phone = number;
        }
    }
    if let Some(id) = draft.campaign_id
        && !campaign_live(&tx, user_id, id)?
    {
        return Ok(CallWrite::UnknownCampaign);
    }
    let s = match draft.initial_state(now) {
        Ok(state) => state,
        Err(refusal) => return Ok(CallWrite::Refused(refusal)),
    };
    // Above every id in use (imported ones included) and every id handed out
    // before (deleted ones included).
    let call_id: i64 = tx
        .prepare_cached(
            "UPDATE id_counters SET value = max(value, (SELECT coalesce(max(id), 0) FROM calls)) + 1
             WHERE name = 'calls' RETURNING value",
        )?
        .query_row([], |r| r.get(0))?;
    tx.prepare_cached(
            "INSERT INTO calls (id, user_id, assistant_id, campaign_id, type, status, duration,
                assistant_phone_number, client_phone_number, client_phone_key, transcript, variables,
                evaluation, carrier_cost, total_cost, answered_by, recording_url, created_at,
                updated_at, finished_at)
             VALUES (?20, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
        )?
        .execute(
            params![
                user_id,
                s.assistant_id,
                s.campaign_id,
                s.call_type.code(),
                s.status.code(),
                s.duration,
                assistant_phone,
                draft.client_phone_number,
                draft.client_phone_number.as_deref().map(phone::normalize),
                s.transcript.as_str(),
                s.variables.as_str(),
                s.evaluation.as_str(),
                s.carrier_cost.map(Money::units),
                s.total_cost.map(Money::units),
                s.answered_by.map(AnsweredBy::code),
                s.recording_url,
                s.created_at,
                s.updated_at,
                s.finished_at,
                call_id,
            ],
        )?;
    let mut deltas = CountDeltas::default();
    deltas.add(rollup_key(&s), 1);
    apply_deltas(&tx, user_id, deltas)?;
    search::index(
        &tx,
        user_id,
        call_id,
        &index_words(s.transcript.as_str().as_bytes()),
    )?;
    let record = finish_write(&tx, user_id, call_id, &s, s.status.is_final())?;
    tx.commit()?;
    Ok(record)
}

pub fn update_call(
    conn: &mut Connection,
    user_id: i64,
    call_id: i64,
    change: &CallChange,
) -> StoreResult<CallWrite> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(mut state) = load_state(&tx, user_id, call_id)? else {
        return Ok(CallWrite::NotFound);
    };
    let before = rollup_key(&state);
    let transcript_before = state.transcript.clone();
    let Applied { changed, finished } = match change.apply(&mut state, now_unix()) {
        Ok(applied) => applied,
        Err(refusal) => return Ok(CallWrite::Refused(refusal)),
    };
    if changed {
        tx.prepare_cached(
            "UPDATE calls SET status = ?3, duration = ?4, answered_by = ?5, carrier_cost = ?6,
                total_cost = ?7, recording_url = ?8, transcript = ?9, variables = ?10,
                evaluation = ?11, updated_at = ?12, finished_at = ?13
             WHERE id = ?1 AND user_id = ?2",
        )?
        .execute(params![
            call_id,
            user_id,
            state.status.code(),
            state.duration,
            state.answered_by.map(AnsweredBy::code),
            state.carrier_cost.map(Money::units),
            state.total_cost.map(Money::units),
            state.recording_url,
            state.transcript.as_str(),
            state.variables.as_str(),
            state.evaluation.as_str(),
            state.updated_at,
            state.finished_at,
        ])?;
        let mut deltas = CountDeltas::default();
        deltas.moved(before, rollup_key(&state));
        apply_deltas(&tx, user_id, deltas)?;
        if state.transcript != transcript_before {
            let words = index_words(state.transcript.as_str().as_bytes());
            search::reindex(&tx, user_id, call_id, &words)?;
        }
    }
    let record = finish_write(&tx, user_id, call_id, &state, finished)?;
    tx.commit()?;
    Ok(record)
}

/// Reads the written call back and, when it just finished, queues its webhook.
fn finish_write(
    tx: &Connection,
    user_id: i64,
    call_id: i64,
    state: &CallState,
    finished: bool,
) -> StoreResult<CallWrite> {
    let record = present_call(tx, user_id, call_id)?;
    if finished
        && let Some(assistant_id) = state.assistant_id
        && let Some((settings, _)) = assistant_settings(tx, user_id, assistant_id)?
        && settings.wants(state.status)
    {
        let payload = payload_for(tx, user_id, &record, state, settings.include_recording)?;
        enqueue(tx, user_id, call_id, assistant_id, &payload)?;
    }
    Ok(CallWrite::Written(Box::new(record)))
}

/// The call just written or read in this transaction.
fn present_call(tx: &Connection, user_id: i64, call_id: i64) -> StoreResult<CallRecord> {
    get(tx, user_id, call_id)?
        .ok_or_else(|| StoreError::Internal(anyhow::anyhow!("call {call_id} vanished")))
}

/// The post-call payload of `record` (whose state is `state`).
fn payload_for(
    tx: &Connection,
    user_id: i64,
    record: &CallRecord,
    state: &CallState,
    include_recording: bool,
) -> StoreResult<String> {
    let campaign = campaign_of(tx, user_id, state.campaign_id)?;
    Ok(post_call_payload(
        record,
        PayloadContext {
            finished_at: state.finished_at,
            campaign: campaign.as_ref().map(|(id, name)| (*id, name.as_str())),
            include_recording,
        },
    ))
}

fn campaign_of(
    tx: &Connection,
    user_id: i64,
    campaign_id: Option<i64>,
) -> rusqlite::Result<Option<(i64, String)>> {
    let Some(id) = campaign_id else {
        return Ok(None);
    };
    tx.prepare_cached("SELECT id, name FROM campaigns WHERE id = ?1 AND user_id = ?2")?
        .query_row(params![id, user_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

fn enqueue(
    tx: &Connection,
    user_id: i64,
    call_id: i64,
    assistant_id: i64,
    payload: &str,
) -> rusqlite::Result<i64> {
    let now = now_ms();
    tx.prepare_cached(
        "INSERT INTO webhook_deliveries (user_id, call_id, assistant_id, message_id, payload, state,
            next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6) RETURNING id",
    )?
    .query_row(
        params![
            user_id,
            call_id,
            assistant_id,
            crate::webhook::new_message_id(),
            payload,
            now
        ],
        |r| r.get(0),
    )
}

pub fn claim(
    conn: &mut Connection,
    worker: &str,
    now: i64,
    lease_ms: i64,
    limit: u32,
) -> StoreResult<Vec<DueDelivery>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let claimed: Vec<(DueDelivery, i64)> = tx
        .prepare_cached(
            "UPDATE webhook_deliveries SET locked_by = ?1, locked_until = ?2 + ?3
             WHERE id IN (SELECT id FROM webhook_deliveries
                          WHERE state = 'pending' AND next_attempt_at <= ?2
                            AND (locked_until IS NULL OR locked_until <= ?2)
                          ORDER BY next_attempt_at LIMIT ?4)
             RETURNING id, user_id, call_id, message_id, payload, attempts, assistant_id",
        )?
        .query_map(params![worker, now, lease_ms, limit], |r| {
            Ok((
                DueDelivery {
                    id: r.get(0)?,
                    user_id: r.get(1)?,
                    call_id: r.get(2)?,
                    message_id: r.get(3)?,
                    payload: r.get(4)?,
                    attempts: r.get(5)?,
                    target: None,
                },
                r.get(6)?,
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut due = Vec::with_capacity(claimed.len());
    for (mut delivery, assistant_id) in claimed {
        let target: Option<(String, String, bool)> = tx
            .prepare_cached(
                "SELECT webhook_url, webhook_secret, include_recording_in_webhook FROM assistants
                 WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL AND is_webhook_active
                   AND webhook_url IS NOT NULL AND webhook_secret IS NOT NULL",
            )?
            .query_row(params![assistant_id, delivery.user_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        if let Some((url, secret, include_recording)) = target {
            // Built now, from the call as it is: fields set after the hang-up
            // (recording, evaluation, costs) reach the receiver.
            if let Some(payload) =
                payload_now(&tx, delivery.user_id, delivery.call_id, include_recording)?
            {
                tx.prepare_cached("UPDATE webhook_deliveries SET payload = ?2 WHERE id = ?1")?
                    .execute(params![delivery.id, payload])?;
                delivery.payload = payload;
            }
            delivery.target = Some((url, secret));
        }
        due.push(delivery);
    }
    tx.commit()?;
    Ok(due)
}

/// The post-call payload of a call as it is now; `None` when it is gone.
fn payload_now(
    tx: &Connection,
    user_id: i64,
    call_id: i64,
    include_recording: bool,
) -> StoreResult<Option<String>> {
    let (Some(state), Some(record)) = (
        load_state(tx, user_id, call_id)?,
        get(tx, user_id, call_id)?,
    ) else {
        return Ok(None);
    };
    payload_for(tx, user_id, &record, &state, include_recording).map(Some)
}

pub fn record_attempt(
    conn: &mut Connection,
    delivery_id: i64,
    worker: &str,
    attempt: &AttemptRecord,
    next: &DeliveryNext,
) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let row: Option<(i64, i64, bool)> = tx
        .prepare_cached(
            "SELECT user_id, call_id, locked_by IS ?2 AND state = 'pending'
             FROM webhook_deliveries WHERE id = ?1",
        )?
        .query_row(params![delivery_id, worker], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((user_id, call_id, held)) = row else {
        // The call, and its deliveries with it, are gone.
        return Ok(());
    };
    tx.prepare_cached(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, error)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        delivery_id,
        attempt.attempted_at_ms,
        attempt.status_code,
        attempt.latency_ms,
        attempt.error
    ])?;
    if !held {
        // The lease ran out and another worker took the delivery over: the
        // attempt is on record, what follows is that worker's to decide.
        tx.commit()?;
        return Ok(());
    }
    let now = now_ms();
    let (state, next_at, finished_at) = match next {
        DeliveryNext::Delivered { .. } => ("delivered", None, Some(now)),
        DeliveryNext::Retry { at_ms } => ("pending", Some(*at_ms), None),
        DeliveryNext::GiveUp => ("failed", None, Some(now)),
    };
    tx.prepare_cached(
        "UPDATE webhook_deliveries SET state = ?2, next_attempt_at = ?3, finished_at = ?4,
            attempts = attempts + 1, locked_by = NULL, locked_until = NULL
         WHERE id = ?1",
    )?
    .execute(params![delivery_id, state, next_at, finished_at])?;
    if let DeliveryNext::Delivered {
        response_json: Some(json),
    } = next
    {
        tx.prepare_cached(
            "UPDATE calls SET webhook_response = ?3, updated_at = max(updated_at, ?4)
             WHERE id = ?1 AND user_id = ?2 AND webhook_response IS NULL
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries WHERE user_id = ?2
                               AND call_id = ?1 AND state = 'delivered' AND id <> ?5)",
        )?
        .execute(params![call_id, user_id, json, now_unix(), delivery_id])?;
    }
    tx.commit()?;
    Ok(())
}

pub fn next_delivery_at(conn: &Connection) -> StoreResult<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT min(max(next_attempt_at, coalesce(locked_until, 0))) FROM webhook_deliveries
             WHERE state = 'pending'",
        )?
        .query_row([], |r| r.get(0))?)
}

fn call_exists(conn: &Connection, user_id: i64, call_id: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM calls WHERE id = ?1 AND user_id = ?2")?
        .query_row(params![call_id, user_id], |_| Ok(()))
        .optional()?
        .is_some())
}

const DELIVERY_COLUMNS: &str = "id, message_id, state, next_attempt_at, created_at, finished_at";

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: row.get(0)?,
        message_id: row.get(1)?,
        state: row.get(2)?,
        next_attempt_at_ms: row.get(3)?,
        created_at_ms: row.get(4)?,
        finished_at_ms: row.get(5)?,
        attempts: Vec::new(),
    })
}

fn with_attempts(conn: &Connection, mut delivery: Delivery) -> rusqlite::Result<Delivery> {
    delivery.attempts = conn
        .prepare_cached(
            "SELECT attempted_at, status_code, latency_ms, error FROM webhook_attempts
             WHERE delivery_id = ?1 ORDER BY id",
        )?
        .query_map([delivery.id], |r| {
            Ok(AttemptRecord {
                attempted_at_ms: r.get(0)?,
                status_code: r.get(1)?,
                latency_ms: r.get(2)?,
                error: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    Ok(delivery)
}

pub fn list_deliveries(
    conn: &Connection,
    user_id: i64,
    call_id: i64,
) -> StoreResult<Option<Vec<Delivery>>> {
    conn.prepare_cached("BEGIN")?.execute([])?;
    let result = (|| -> StoreResult<Option<Vec<Delivery>>> {
        if !call_exists(conn, user_id, call_id)? {
            return Ok(None);
        }
        let deliveries: Vec<Delivery> = conn
            .prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries
                 WHERE user_id = ?1 AND call_id = ?2 ORDER BY id"
            ))?
            .query_map(params![user_id, call_id], delivery_from_row)?
            .collect::<rusqlite::Result<_>>()?;
        let deliveries = deliveries
            .into_iter()
            .map(|d| with_attempts(conn, d))
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(deliveries))
    })();
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.prepare_cached(end)?.execute([])?;
    result
}

pub fn redeliver(conn: &mut Connection, user_id: i64, call_id: i64) -> StoreResult<Redelivery> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let Some(state) = load_state(&tx, user_id, call_id)? else {
        return Ok(Redelivery::NotFound);
    };
    if !state.status.is_final() {
        return Ok(Redelivery::NotEnded);
    }
    let Some(assistant_id) = state.assistant_id else {
        return Ok(Redelivery::NoWebhook);
    };
    let Some((settings, _)) = assistant_settings(&tx, user_id, assistant_id)?
        .filter(|(s, _)| s.active && s.url.is_some())
    else {
        return Ok(Redelivery::NoWebhook);
    };
    let record = present_call(&tx, user_id, call_id)?;
    let payload = payload_for(&tx, user_id, &record, &state, settings.include_recording)?;
    let id = enqueue(&tx, user_id, call_id, assistant_id, &payload)?;
    let delivery = tx
        .prepare_cached(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = ?1"
        ))?
        .query_row([id], delivery_from_row)?;
    tx.commit()?;
    Ok(Redelivery::Queued(delivery))
}

pub fn idempotency_start(
    conn: &mut Connection,
    user_id: i64,
    key: &str,
    fingerprint: [u8; 32],
    now: i64,
    expired_before: i64,
) -> StoreResult<IdempotencyStart> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    type Seen = (Vec<u8>, Option<u16>, Option<Vec<u8>>, i64);
    let seen: Option<Seen> = tx
        .prepare_cached(
            "SELECT fingerprint, status, body, created_at FROM idempotency_keys
             WHERE user_id = ?1 AND key = ?2",
        )?
        .query_row(params![user_id, key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let answer = match seen {
        Some((seen_fp, status, body, created)) if created >= expired_before => {
            if seen_fp != fingerprint {
                IdempotencyStart::Mismatch
            } else if let Some(status) = status {
                IdempotencyStart::Replay {
                    status,
                    body: body.unwrap_or_default(),
                }
            } else {
                IdempotencyStart::InFlight
            }
        }
        _ => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO idempotency_keys (user_id, key, fingerprint, status, body, created_at)
                 VALUES (?1, ?2, ?3, NULL, NULL, ?4)",
            )?
            .execute(params![user_id, key, &fingerprint[..], now])?;
            IdempotencyStart::Fresh
        }
    };
    tx.commit()?;
    Ok(answer)
}

pub fn idempotency_finish(
    conn: &Connection,
    user_id: i64,
    key: &str,
    status: u16,
    body: &[u8],
) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE idempotency_keys SET status = ?3, body = ?4 WHERE user_id = ?1 AND key = ?2",
    )?
    .execute(params![user_id, key, status, body])?;
    Ok(())
}

pub fn idempotency_release(conn: &Connection, user_id: i64, key: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM idempotency_keys WHERE user_id = ?1 AND key = ?2 AND status IS NULL",
    )?
    .execute(params![user_id, key])?;
    Ok(())
}

pub fn purge_idempotency(conn: &Connection, before: i64) -> StoreResult<u64> {
    let n = conn
        .prepare_cached("DELETE FROM idempotency_keys WHERE created_at < ?1")?
        .execute([before])?;
    Ok(n as u64)
}
