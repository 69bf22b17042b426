//! `GET /api/user/calls`, `GET` and `DELETE /api/user/calls/{id}` (CONTRACT §3-§5).

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;

use super::AppState;
use super::auth::CurrentUser;
use super::error::{ApiError, json_response};
use super::views::{JsonBuf, PageUrls, write_call, write_paginator};
use crate::domain::filter::parse_call_list;
use crate::domain::pagination::PageMeta;
use crate::domain::validation::parse_int;

const NOT_FOUND: &str = "Call not found";
const DELETE_NOT_FOUND: &str = "Call not found or does not belong to the authenticated user";

/// Decoded query pairs, in order; a malformed query simply yields odd pairs.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn list(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let request = parse_call_list(&pairs)?;
    let page = state
        .store
        .list_calls(
            user.0,
            &request.filter,
            request.page.per_page,
            request.page.offset(),
        )
        .await?;
    let meta = PageMeta::new(request.page, page.total, page.rows.len() as u64);
    let urls = PageUrls {
        path: state.url("/api/user/calls"),
        keep: &request.echo,
    };
    let mut out = JsonBuf::with_capacity(2048 + page.rows.len() * 2048);
    write_paginator(&mut out, &meta, &urls, |out| {
        for (i, call) in page.rows.iter().enumerate() {
            if i > 0 {
                out.raw(",");
            }
            write_call(out, call);
        }
    });
    Ok(out.into_response())
}

/// The id of `/calls/{id}`; anything that is not an integer matches no call.
fn call_id(path: Result<Path<String>, PathRejection>) -> Option<i64> {
    path.ok().and_then(|Path(id)| parse_int(&id))
}

#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn get(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = call_id(path).ok_or(ApiError::NotFound(NOT_FOUND))?;
    let call = state
        .store
        .get_call(user.0, id)
        .await?
        .ok_or(ApiError::NotFound(NOT_FOUND))?;
    let mut out = JsonBuf::with_capacity(4096);
    write_call(&mut out, &call);
    Ok(out.into_response())
}

#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = call_id(path).ok_or(ApiError::NotFound(DELETE_NOT_FOUND))?;
    if !state.store.delete_call(user.0, id).await? {
        return Err(ApiError::NotFound(DELETE_NOT_FOUND));
    }
    tracing::info!(call.id = id, "call deleted");
    Ok(json_response(
        axum::http::StatusCode::OK,
        serde_json::json!({ "message": "Call deleted successfully" }),
    ))
}
