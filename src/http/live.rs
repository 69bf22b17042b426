//! Live calls: Famulor's `make_call`, and the write API a voice pipeline uses
//! to record a call as it happens (status steps, transcript segments, costs,
//! evaluation), plus the call's webhook deliveries.

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::AppState;
use super::auth::CurrentUser;
use super::calls::{NOT_FOUND, path_id};
use super::error::{ApiError, json_response};
use super::input::{Fields, Given, JsonObject};
use super::views::{JsonBuf, write_call};
use crate::domain::live::CallChange;
use crate::domain::timefmt::{format_rfc3339, now_unix, parse_timestamp};
use crate::domain::{AnsweredBy, CallRecord, CallStatus, CallType, FieldErrors, JsonText};
use crate::store::{CallDraft, CallWrite, Delivery, Redelivery};

/// Segments one request may append.
const MAX_SEGMENTS: usize = 500;

fn call_response(status: StatusCode, call: &CallRecord) -> Response {
    let mut out = JsonBuf::with_capacity(4096);
    write_call(&mut out, call);
    let mut response = out.into_response();
    *response.status_mut() = status;
    response
}

/// The fields every call write may set, in the order errors are reported.
fn read_change(fields: &mut Fields<'_>) -> CallChange {
    CallChange {
        status: fields.one_of("status", false, CallStatus::parse).value(),
        duration: fields.integer("duration", false, Some(0)).value(),
        answered_by: fields
            .one_of("answered_by", false, AnsweredBy::parse)
            .nullable(),
        carrier_cost: fields.money("carrier_cost").nullable(),
        total_cost: fields.money("total_cost").nullable(),
        recording_url: fields.url("recording_url").nullable(),
        // `null` empties the variables, as it empties the evaluation.
        variables: match fields.object("variables") {
            Given::Null => Some(JsonText::empty_object()),
            given => given.value(),
        },
        evaluation: fields.evaluation("evaluation").value(),
        segments: Vec::new(),
    }
}

/// After a write that queued a webhook, wake the delivery worker.
fn written(state: &AppState, write: CallWrite, status: StatusCode) -> Result<Response, ApiError> {
    match write {
        CallWrite::Written(call) => {
            if call.status.is_final() {
                state.outbox.notify_one();
            }
            Ok(call_response(status, &call))
        }
        CallWrite::NotFound => Err(ApiError::NotFound(NOT_FOUND)),
        CallWrite::Refused(refusal) => Err(ApiError::conflict(refusal.0)),
        CallWrite::UnknownAssistant => {
            Err(FieldErrors::single("assistant_id", "The selected assistant id is invalid.").into())
        }
        CallWrite::UnknownCampaign => {
            Err(FieldErrors::single("campaign_id", "The selected campaign id is invalid.").into())
        }
    }
}

/// `POST /api/user/make_call` (Famulor): an outbound call in status
/// `initiated`, for the voice pipeline to dial.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn make_call(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let mut fields = body.fields();
    // Any length: a number that is not E.164 answers Famulor's 400 below.
    let phone = fields.string("phone_number", true, 1024).value();
    let assistant_id = fields.integer("assistant_id", true, None).value();
    let variables = fields.object("variables").value();
    fields.finish()?;
    let (Some(phone), Some(assistant_id)) = (phone, assistant_id) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "validated fields missing"
        )));
    };
    if !crate::domain::live::is_e164(&phone) {
        return Err(ApiError::Message(
            StatusCode::BAD_REQUEST,
            "Invalid phone number format. Please use E.164 format (e.g. +1234567890)".into(),
        ));
    }
    let draft = CallDraft {
        call_type: CallType::Outbound,
        status: CallStatus::Initiated,
        assistant_id: Some(assistant_id),
        campaign_id: None,
        assistant_phone_number: None,
        client_phone_number: Some(phone),
        created_at: now_unix(),
        fields: CallChange {
            variables,
            ..CallChange::default()
        },
    };
    match state.store.create_call(user.0, draft).await? {
        CallWrite::Written(call) => {
            tracing::info!(call.id = call.id, "call initiated");
            Ok(json_response(
                StatusCode::OK,
                json!({
                    "message": "Call initiated successfully",
                    "call_id": call.id,
                    "status": call.status.as_str(),
                }),
            ))
        }
        CallWrite::UnknownAssistant => Err(ApiError::NotFound(
            "Assistant not found or does not belong to the authenticated user",
        )),
        other => Err(ApiError::Internal(anyhow::anyhow!(
            "unexpected make_call outcome {other:?}"
        ))),
    }
}

/// `POST /api/user/calls`: records a call that happened or is happening.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn create(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let mut fields = body.fields();
    let call_type = fields.one_of("type", true, CallType::parse).value();
    let mut change = read_change(&mut fields);
    let assistant_id = fields.integer("assistant_id", false, None).value();
    let campaign_id = fields.integer("campaign_id", false, None).value();
    let assistant_phone = fields.phone("assistant_phone_number", false).value();
    let client_phone = fields.phone("client_phone_number", false).value();
    // Web calls have no phone numbers (CONTRACT §2).
    if call_type == Some(CallType::Web) {
        for (field, given) in [
            ("assistant_phone_number", &assistant_phone),
            ("client_phone_number", &client_phone),
        ] {
            if given.is_some() {
                fields.errors.add(
                    field,
                    format!(
                        "The {} field is prohibited when type is web.",
                        field.replace('_', " ")
                    ),
                );
            }
        }
    }
    let created_at = match fields.string("created_at", false, 64).value() {
        Some(text) => match parse_timestamp(&text) {
            Some(at) => Some(at),
            None => {
                fields
                    .errors
                    .add("created_at", "The created at field must be a valid date.");
                None
            }
        },
        None => None,
    };
    change.segments = fields.segments("transcript", false, MAX_SEGMENTS);
    fields.finish()?;
    let Some(call_type) = call_type else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "validated type missing"
        )));
    };
    let draft = CallDraft {
        call_type,
        status: change.status.take().unwrap_or(CallStatus::Initiated),
        assistant_id,
        campaign_id,
        assistant_phone_number: assistant_phone,
        client_phone_number: client_phone,
        created_at: created_at.unwrap_or_else(now_unix),
        fields: change,
    };
    let write = state.store.create_call(user.0, draft).await?;
    if let CallWrite::Written(call) = &write {
        tracing::info!(call.id = call.id, "call recorded");
    }
    written(&state, write, StatusCode::CREATED)
}

/// `PATCH /api/user/calls/{id}`: moves the status along and sets fields.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn update(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let id = path_id(path).ok_or(ApiError::NotFound(NOT_FOUND))?;
    let mut fields = body.fields();
    let change = read_change(&mut fields);
    fields.finish()?;
    let write = state.store.update_call(user.0, id, change).await?;
    written(&state, write, StatusCode::OK)
}

/// `POST /api/user/calls/{id}/transcript`: appends segments as they are spoken.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn append_transcript(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let id = path_id(path).ok_or(ApiError::NotFound(NOT_FOUND))?;
    let mut fields = body.fields();
    let segments = fields.segments("segments", true, MAX_SEGMENTS);
    fields.finish()?;
    let change = CallChange {
        segments,
        ..CallChange::default()
    };
    let write = state.store.update_call(user.0, id, change).await?;
    written(&state, write, StatusCode::OK)
}

fn rfc3339_ms(ms: i64) -> String {
    format_rfc3339(ms.div_euclid(1000))
}

fn delivery_json(d: &Delivery) -> serde_json::Value {
    json!({
        "id": d.id,
        "webhook_id": d.message_id,
        "status": d.state,
        "attempt_count": d.attempts.len(),
        "next_attempt_at": d.next_attempt_at_ms.filter(|_| d.state == "pending").map(rfc3339_ms),
        "created_at": rfc3339_ms(d.created_at_ms),
        "finished_at": d.finished_at_ms.map(rfc3339_ms),
        "attempts": d.attempts.iter().map(|a| json!({
            "attempted_at": rfc3339_ms(a.attempted_at_ms),
            "status_code": a.status_code,
            "latency_ms": a.latency_ms,
            "error": a.error,
        })).collect::<Vec<_>>(),
    })
}

/// `GET /api/user/calls/{id}/webhook-deliveries`: every delivery of the
/// call's post-call webhook, oldest first, with every attempt.
pub async fn deliveries(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path).ok_or(ApiError::NotFound(NOT_FOUND))?;
    let deliveries = state
        .store
        .list_deliveries(user.0, id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    let data: Vec<serde_json::Value> = deliveries.iter().map(delivery_json).collect();
    Ok(json_response(StatusCode::OK, json!({ "data": data })))
}

/// `POST /api/user/calls/{id}/webhook-deliveries/redeliver`: queues one more
/// delivery of the call as it is now (a new `webhook-id`).
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn redeliver(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path).ok_or(ApiError::NotFound(NOT_FOUND))?;
    match state.store.redeliver(user.0, id).await? {
        Redelivery::Queued(delivery) => {
            state.outbox.notify_one();
            Ok(json_response(
                StatusCode::ACCEPTED,
                json!({ "message": "Webhook delivery queued", "data": delivery_json(&delivery) }),
            ))
        }
        Redelivery::NotFound => Err(ApiError::NotFound(NOT_FOUND)),
        Redelivery::NoWebhook => Err(ApiError::conflict(
            "The call's assistant has no active webhook.",
        )),
        Redelivery::NotEnded => Err(ApiError::conflict(
            "The call has not ended yet; its post-call webhook is sent when it does.",
        )),
    }
}
