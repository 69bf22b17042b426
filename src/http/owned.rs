//! The user's assistants and campaigns (CONTRACT §5a), and managing them:
//! create, show, update (partial, PATCH or PUT), delete (kept for history),
//! and an assistant's webhook secret.

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use serde_json::json;

use super::AppState;
use super::auth::CurrentUser;
use super::calls::{path_id, query_pairs};
use super::error::{ApiError, json_response};
use super::idempotency::CarriesSecret;
use super::input::{Given, JsonObject};
use super::views::{JsonBuf, PageUrls, write_paginator};
use crate::domain::FieldErrors;
use crate::domain::live::{ASSISTANT_STATUSES, CAMPAIGN_STATUSES};
use crate::domain::pagination::PageMeta;
use crate::domain::pagination::parse_page_query;
use crate::domain::params::echo as echo_params;
use crate::domain::timefmt::format_rfc3339;
use crate::store::{Assistant, AssistantFields, Campaign, CampaignFields, StoreError};

const ASSISTANT_NOT_FOUND: &str = "Assistant not found";
const CAMPAIGN_NOT_FOUND: &str = "Campaign not found";

#[derive(Serialize)]
struct AssistantView<'a> {
    id: i64,
    user_id: i64,
    name: &'a str,
    status: &'a str,
    phone_number: Option<&'a str>,
    is_webhook_active: bool,
    webhook_url: Option<&'a str>,
    send_webhook_only_on_completed: bool,
    include_recording_in_webhook: bool,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a Assistant> for AssistantView<'a> {
    fn from(a: &'a Assistant) -> Self {
        Self {
            id: a.id,
            user_id: a.user_id,
            name: &a.fields.name,
            status: &a.fields.status,
            phone_number: a.fields.phone_number.as_deref(),
            is_webhook_active: a.fields.is_webhook_active,
            webhook_url: a.fields.webhook_url.as_deref(),
            send_webhook_only_on_completed: a.fields.send_webhook_only_on_completed,
            include_recording_in_webhook: a.fields.include_recording_in_webhook,
            created_at: format_rfc3339(a.created_at),
            updated_at: format_rfc3339(a.updated_at),
        }
    }
}

#[derive(Serialize)]
struct CampaignView<'a> {
    id: i64,
    name: &'a str,
    status: &'a str,
    created_at: String,
    updated_at: String,
}

impl<'a> From<&'a Campaign> for CampaignView<'a> {
    fn from(c: &'a Campaign) -> Self {
        Self {
            id: c.id,
            name: &c.name,
            status: &c.status,
            created_at: format_rfc3339(c.created_at),
            updated_at: format_rfc3339(c.updated_at),
        }
    }
}

fn taken(field: &str) -> ApiError {
    ApiError::Validation(FieldErrors::single(
        field,
        format!("The {field} has already been taken."),
    ))
}

/// A store answer, with a name conflict reported as Laravel's `unique` rule.
fn or_taken<T>(result: Result<T, StoreError>) -> Result<T, ApiError> {
    match result {
        Err(StoreError::Conflict(_)) => Err(taken("name")),
        other => Ok(other?),
    }
}

/// `GET /api/user/assistants/get`: paginated like the calls, 10 per page.
pub async fn list_assistants(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let mut errors = FieldErrors::new();
    let page_query = parse_page_query(&pairs, 10, &mut errors);
    let page_query = errors.into_result(page_query)?;
    let page = state
        .store
        .list_assistants(user.0, page_query.per_page, page_query.offset())
        .await?;

    let keep = echo_params(&pairs, &["per_page"], &[]);
    let urls = PageUrls {
        path: state.url("/api/user/assistants/get"),
        keep: &keep,
        per_page: page_query.per_page,
    };
    let meta = PageMeta::new(page_query, page.total, page.rows.len() as u64);
    let mut out = JsonBuf::with_capacity(4096);
    write_paginator(&mut out, &meta, &urls, |out| {
        for (i, a) in page.rows.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            out.serde(&AssistantView::from(a));
        }
    });
    Ok(out.into_response())
}

/// Reads an assistant's settings from a body over `base` (a new assistant's
/// defaults, or the current settings for an update).
fn assistant_fields(
    body: &JsonObject,
    mut f: AssistantFields,
    creating: bool,
) -> Result<AssistantFields, ApiError> {
    let mut fields = body.fields();
    let name = fields.string("name", creating, 255);
    let status = fields.one_of("status", false, |s| {
        ASSISTANT_STATUSES.contains(&s).then(|| s.to_owned())
    });
    let phone = fields.phone("phone_number", false);
    let active = fields.boolean("is_webhook_active");
    let url = fields.url("webhook_url");
    let only_completed = fields.boolean("send_webhook_only_on_completed");
    let recording = fields.boolean("include_recording_in_webhook");
    if let Given::Value(name) = name {
        f.name = name;
    } else if !creating && body.0.get("name").is_some_and(serde_json::Value::is_null) {
        fields
            .errors
            .add("name", super::input::required_message("name"));
    }
    if let Some(status) = status.value() {
        f.status = status;
    }
    if let Some(phone) = phone.nullable() {
        f.phone_number = phone;
    }
    if let Some(active) = active.value() {
        f.is_webhook_active = active;
    }
    if let Some(url) = url.nullable() {
        f.webhook_url = url;
    }
    if let Some(v) = only_completed.value() {
        f.send_webhook_only_on_completed = v;
    }
    if let Some(v) = recording.value() {
        f.include_recording_in_webhook = v;
    }
    if f.is_webhook_active && f.webhook_url.is_none() && fields.errors.is_empty() {
        fields.errors.add(
            "webhook_url",
            "The webhook url field is required when is webhook active is true.",
        );
    }
    fields.finish()?;
    Ok(f)
}

/// `POST /api/user/assistant`: 201 with the assistant and its webhook secret,
/// which is shown this once.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn create_assistant(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let fields = assistant_fields(&body, AssistantFields::named(""), true)?;
    let secret = crate::webhook::generate_secret();
    let assistant = or_taken(
        state
            .store
            .create_assistant(user.0, fields, secret.clone())
            .await,
    )?;
    tracing::info!(assistant.id = assistant.id, "assistant created");
    let mut response = json_response(
        StatusCode::CREATED,
        json!({
            "message": "Assistant created successfully",
            "data": AssistantView::from(&assistant),
            "webhook_secret": secret,
        }),
    );
    response.extensions_mut().insert(CarriesSecret);
    Ok(response)
}

fn id_or(
    path: Result<Path<String>, PathRejection>,
    not_found: &'static str,
) -> Result<i64, ApiError> {
    path_id(path).ok_or(ApiError::NotFound(not_found))
}

/// `GET /api/user/assistant/{id}`: the bare assistant.
pub async fn show_assistant(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_or(path, ASSISTANT_NOT_FOUND)?;
    let assistant = state
        .store
        .get_assistant(user.0, id)
        .await?
        .ok_or(ApiError::NotFound(ASSISTANT_NOT_FOUND))?;
    Ok(json_response(
        StatusCode::OK,
        json!(AssistantView::from(&assistant)),
    ))
}

/// `PATCH` or `PUT /api/user/assistant/{id}`: changes the fields given.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn update_assistant(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let id = id_or(path, ASSISTANT_NOT_FOUND)?;
    let current = state
        .store
        .get_assistant(user.0, id)
        .await?
        .ok_or(ApiError::NotFound(ASSISTANT_NOT_FOUND))?;
    let fields = assistant_fields(&body, current.fields, false)?;
    let assistant = or_taken(state.store.update_assistant(user.0, id, fields).await)?
        .ok_or(ApiError::NotFound(ASSISTANT_NOT_FOUND))?;
    // An assistant that came with an import has no signing secret yet: the
    // first time its webhook is switched on, it gets one, shown in this answer.
    let mut secret = None;
    if assistant.fields.is_webhook_active {
        let candidate = crate::webhook::generate_secret();
        if state
            .store
            .ensure_webhook_secret(user.0, id, candidate.clone())
            .await?
        {
            secret = Some(candidate);
        }
    }
    let mut body = json!({
        "message": "Assistant updated successfully",
        "data": AssistantView::from(&assistant),
    });
    if let Some(secret) = &secret {
        body["webhook_secret"] = json!(secret);
    }
    let mut response = json_response(StatusCode::OK, body);
    if secret.is_some() {
        response.extensions_mut().insert(CarriesSecret);
    }
    Ok(response)
}

/// `DELETE /api/user/assistant/{id}`: hidden from now on; its calls keep
/// its name and stay listed.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn delete_assistant(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_or(path, ASSISTANT_NOT_FOUND)?;
    if !state.store.delete_assistant(user.0, id).await? {
        return Err(ApiError::NotFound(ASSISTANT_NOT_FOUND));
    }
    tracing::info!(assistant.id = id, "assistant deleted");
    Ok(json_response(
        StatusCode::OK,
        json!({ "message": "Assistant deleted successfully" }),
    ))
}

/// `POST /api/user/assistant/{id}/webhook-secret`: a new signing secret,
/// shown this once; the old one stops signing at once.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_or(path, ASSISTANT_NOT_FOUND)?;
    let secret = crate::webhook::generate_secret();
    if !state
        .store
        .set_webhook_secret(user.0, id, secret.clone())
        .await?
    {
        return Err(ApiError::NotFound(ASSISTANT_NOT_FOUND));
    }
    tracing::info!(assistant.id = id, "webhook secret rotated");
    let mut response = json_response(
        StatusCode::OK,
        json!({ "message": "Webhook secret rotated successfully", "webhook_secret": secret }),
    );
    response.extensions_mut().insert(CarriesSecret);
    Ok(response)
}

/// `GET /api/user/campaigns`: every campaign of the user.
pub async fn list_campaigns(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, ApiError> {
    let campaigns = state.store.list_campaigns(user.0).await?;
    let data: Vec<CampaignView<'_>> = campaigns.iter().map(CampaignView::from).collect();
    Ok(json_response(StatusCode::OK, json!({ "data": data })))
}

fn campaign_fields(
    body: &JsonObject,
    mut f: CampaignFields,
    creating: bool,
) -> Result<CampaignFields, ApiError> {
    let mut fields = body.fields();
    let name = fields.string("name", creating, 255);
    let status = fields.one_of("status", false, |s| {
        CAMPAIGN_STATUSES.contains(&s).then(|| s.to_owned())
    });
    if let Given::Value(name) = name {
        f.name = name;
    } else if !creating && body.0.get("name").is_some_and(serde_json::Value::is_null) {
        fields
            .errors
            .add("name", super::input::required_message("name"));
    }
    if let Some(status) = status.value() {
        f.status = status;
    }
    fields.finish()?;
    Ok(f)
}

/// `POST /api/user/campaigns`.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn create_campaign(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let base = CampaignFields {
        name: String::new(),
        status: "active".to_owned(),
    };
    let fields = campaign_fields(&body, base, true)?;
    let campaign = or_taken(state.store.create_campaign(user.0, fields).await)?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({ "message": "Campaign created successfully", "data": CampaignView::from(&campaign) }),
    ))
}

/// `GET /api/user/campaigns/{id}`.
pub async fn show_campaign(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_or(path, CAMPAIGN_NOT_FOUND)?;
    let campaign = state
        .store
        .get_campaign(user.0, id)
        .await?
        .ok_or(ApiError::NotFound(CAMPAIGN_NOT_FOUND))?;
    Ok(json_response(
        StatusCode::OK,
        json!(CampaignView::from(&campaign)),
    ))
}

/// `PATCH` or `PUT /api/user/campaigns/{id}`.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn update_campaign(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
    body: JsonObject,
) -> Result<Response, ApiError> {
    let id = id_or(path, CAMPAIGN_NOT_FOUND)?;
    let current = state
        .store
        .get_campaign(user.0, id)
        .await?
        .ok_or(ApiError::NotFound(CAMPAIGN_NOT_FOUND))?;
    let base = CampaignFields {
        name: current.name,
        status: current.status,
    };
    let fields = campaign_fields(&body, base, false)?;
    let campaign = or_taken(state.store.update_campaign(user.0, id, fields).await)?
        .ok_or(ApiError::NotFound(CAMPAIGN_NOT_FOUND))?;
    Ok(json_response(
        StatusCode::OK,
        json!({ "message": "Campaign updated successfully", "data": CampaignView::from(&campaign) }),
    ))
}

/// `DELETE /api/user/campaigns/{id}`: hidden; its calls keep its name.
#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn delete_campaign(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id_or(path, CAMPAIGN_NOT_FOUND)?;
    if !state.store.delete_campaign(user.0, id).await? {
        return Err(ApiError::NotFound(CAMPAIGN_NOT_FOUND));
    }
    Ok(json_response(
        StatusCode::OK,
        json!({ "message": "Campaign deleted successfully" }),
    ))
}
