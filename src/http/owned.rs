//! The user's assistants and campaigns (CONTRACT §5a), read-only for now.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde::Serialize;

use super::AppState;
use super::auth::CurrentUser;
use super::calls::query_pairs;
use super::error::ApiError;
use super::views::{JsonBuf, PageUrls, write_paginator};
use crate::domain::FieldErrors;
use crate::domain::filter::{echo_params, parse_page_query};
use crate::domain::pagination::PageMeta;
use crate::domain::timefmt::format_rfc3339;

#[derive(Serialize)]
struct AssistantView<'a> {
    id: i64,
    user_id: i64,
    name: &'a str,
    status: &'a str,
    created_at: String,
    updated_at: String,
}

#[derive(Serialize)]
struct CampaignView<'a> {
    id: i64,
    name: &'a str,
    status: &'a str,
    created_at: String,
    updated_at: String,
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

    let keep = echo_params(&pairs, &["per_page"]);
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
            out.serde(&AssistantView {
                id: a.id,
                user_id: a.user_id,
                name: &a.name,
                status: &a.status,
                created_at: format_rfc3339(a.created_at),
                updated_at: format_rfc3339(a.updated_at),
            });
        }
    });
    Ok(out.into_response())
}

/// `GET /api/user/campaigns`: every campaign of the user.
pub async fn list_campaigns(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
) -> Result<Response, ApiError> {
    let campaigns = state.store.list_campaigns(user.0).await?;
    let data: Vec<CampaignView<'_>> = campaigns
        .iter()
        .map(|c| CampaignView {
            id: c.id,
            name: &c.name,
            status: &c.status,
            created_at: format_rfc3339(c.created_at),
            updated_at: format_rfc3339(c.updated_at),
        })
        .collect();
    #[derive(Serialize)]
    struct Body<'a> {
        data: Vec<CampaignView<'a>>,
    }
    let mut out = JsonBuf::default();
    out.serde(&Body { data });
    Ok(out.into_response())
}
