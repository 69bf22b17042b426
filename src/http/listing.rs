//! `GET /api/user/calls` (CONTRACT §3 and §8): Laravel's length-aware
//! paginator, or its cursor paginator, with `fields`, `matches` and
//! `facets` where asked for. A request that asks for nothing of §8 is
//! answered as Part I says, byte for byte.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::AppState;
use super::auth::{Admission, Bearer, with_quota};
use super::calls::{query_pairs, refuse_checked};
use super::error::ApiError;
use super::views::{
    JsonBuf, PageUrls, query_url, write_call_fields, write_paginator_head, write_paginator_tail,
};
use crate::domain::cursor::{Cursor, SortKey};
use crate::domain::listing::{CallListQuery, Facet, FieldSet, Paging, parse_call_list};
use crate::domain::pagination::PageMeta;
use crate::domain::search::SearchQuery;
use crate::domain::search::matches::{find, segments};
use crate::domain::{AnsweredBy, CallStatus, CallType, CallView};
use crate::store::ListRequest;

// The handler carries no span of its own: the request span (see middleware)
// already has `request.id` and `user.id`, and a second span per request cost
// ~5% of throughput in the benchmark. It checks the caller's token in its
// own read (see `auth::require_token_or_defer`).
pub async fn list(
    State(state): State<AppState>,
    Extension(bearer): Extension<Bearer>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let request = match parse_call_list(&pairs) {
        Ok(request) => request,
        Err(errors) => return refuse_checked(&state, bearer, errors.into()).await,
    };
    match request.paging {
        Paging::Pages(_) => pages(&state, bearer, &request).await,
        Paging::Cursor { .. } => cursor_pages(&state, bearer, &request).await,
    }
}

fn store_request(request: &CallListQuery) -> ListRequest<'_> {
    ListRequest {
        filter: &request.filter,
        sort: request.sort,
        window: request.paging.window(),
        facets: &request.facets,
    }
}

/// One call of a list: its fields, and its matching segments under a search.
fn write_row(out: &mut JsonBuf, call: &CallView<'_>, request: &CallListQuery) {
    write_call_fields(out, call, request.fields.unwrap_or(FieldSet::ALL));
    if let Some(query) = &request.filter.search {
        out.reopen_object();
        out.raw(",\"matches\":");
        write_matches(out, query, call.transcript);
        out.raw("}");
    }
}

async fn pages(
    state: &AppState,
    bearer: Bearer,
    request: &CallListQuery,
) -> Result<Response, ApiError> {
    let Paging::Pages(page) = request.paging else {
        return Err(ApiError::Internal(anyhow::anyhow!("not a page request")));
    };
    // The rows are written as they come from the store, straight after the
    // envelope's head; its tail needs the total and the row count. Room for
    // ~4 KB a call: growing the buffer copies all written so far (a list page
    // of ~3 KB calls outgrew 2.5 KB a call and was copied once more). Large
    // pages start at 32 calls' worth and grow.
    let calls = usize::try_from(page.per_page.min(32)).unwrap_or(32);
    let mut out = JsonBuf::with_capacity(4096 + calls * 4096);
    write_paginator_head(&mut out, page.page);
    let mut count = 0u64;
    let mut admission = Admission::new(state, bearer);
    let read = state
        .store
        .list_calls_into(admission.reader(), store_request(request), &mut |call| {
            if count > 0 {
                out.raw(",");
            }
            write_row(&mut out, call, request);
            count += 1;
        })
        .await?;
    let (outcome, quota) = admission.finish(read)?;
    let meta = PageMeta::new(page, outcome.total, count);
    let urls = PageUrls {
        path: state.url("/api/user/calls"),
        keep: &request.echo,
        per_page: page.per_page,
    };
    write_paginator_tail(&mut out, &meta, &urls);
    write_facets(&mut out, request, &outcome.facets);
    Ok(with_quota(out.into_response(), quota))
}

/// Laravel's cursor paginator (`data`, `path`, `per_page`, `next_cursor`,
/// `next_page_url`, `prev_cursor`, `prev_page_url`), plus the exact `total`.
async fn cursor_pages(
    state: &AppState,
    bearer: Bearer,
    request: &CallListQuery,
) -> Result<Response, ApiError> {
    let Paging::Cursor { per_page, cursor } = request.paging else {
        return Err(ApiError::Internal(anyhow::anyhow!("not a cursor request")));
    };
    // Each row in a buffer of its own: one row more than a page is read, to
    // know whether there are more, and which one is dropped depends on the
    // direction.
    let mut rows: Vec<(Vec<u8>, SortKey)> = Vec::new();
    let mut admission = Admission::new(state, bearer);
    let read = state
        .store
        .list_calls_into(admission.reader(), store_request(request), &mut |call| {
            let mut out = JsonBuf::with_capacity(4096);
            write_row(&mut out, call, request);
            rows.push((out.as_bytes().to_vec(), request.sort.key_of(call)));
        })
        .await?;
    let (outcome, quota) = admission.finish(read)?;
    let per_page_rows = usize::try_from(per_page).unwrap_or(usize::MAX);
    let has_more = rows.len() > per_page_rows;
    let backward = cursor.is_some_and(|c| !c.forward);
    if has_more {
        if backward {
            // Read backwards: the nearest rows are the last ones.
            rows.drain(..rows.len() - per_page_rows);
        } else {
            rows.truncate(per_page_rows);
        }
    }
    // As Laravel's CursorPaginator decides them.
    let next = match cursor {
        None | Some(Cursor { forward: true, .. }) if !has_more => None,
        _ => rows.last().map(|(_, key)| Cursor {
            key: *key,
            forward: true,
        }),
    };
    let prev = match cursor {
        None => None,
        Some(Cursor { forward: false, .. }) if !has_more => None,
        _ => rows.first().map(|(_, key)| Cursor {
            key: *key,
            forward: false,
        }),
    };
    let path = state.url("/api/user/calls");
    let base = query_url(&path, &request.echo);
    let mut out = JsonBuf::with_capacity(4096 + rows.iter().map(|(r, _)| r.len()).sum::<usize>());
    out.raw("{\"data\":[");
    for (i, (row, _)) in rows.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.raw_bytes(row);
    }
    out.raw("]");
    out.key("path");
    out.string(&path);
    out.key("per_page");
    out.number(per_page);
    for (name, url_name, cursor) in [
        ("next_cursor", "next_page_url", next),
        ("prev_cursor", "prev_page_url", prev),
    ] {
        let encoded = cursor.map(|c| c.encode(request.sort, &request.fingerprint));
        out.key(name);
        out.opt_string(encoded.as_deref());
        out.key(url_name);
        out.opt_string(encoded.map(|c| format!("{base}cursor={c}")).as_deref());
    }
    out.key("total");
    out.number(outcome.total);
    out.raw("}");
    write_facets(&mut out, request, &outcome.facets);
    Ok(with_quota(out.into_response(), quota))
}

/// `"matches"`: the segments of the transcript that hold the query's terms.
fn write_matches(out: &mut JsonBuf, query: &SearchQuery, transcript: &[u8]) {
    let segments = segments(transcript);
    let found = find(query, &segments).unwrap_or_default();
    out.raw("[");
    for (i, m) in found.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.raw("{\"segment\":");
        out.number(m.segment);
        out.raw(",\"sender\":");
        out.string(m.sender);
        out.raw(",\"offset\":");
        out.serde(&m.offset);
        out.raw(",\"text\":");
        out.string(m.text);
        out.raw(",\"ranges\":[");
        for (j, (start, end)) in m.ranges.iter().enumerate() {
            if j > 0 {
                out.raw(",");
            }
            out.raw("[");
            out.number(*start);
            out.raw(",");
            out.number(*end);
            out.raw("]");
        }
        out.raw("]}");
    }
    out.raw("]");
}

/// `"facets"` into the envelope just closed, when the request asked.
fn write_facets(out: &mut JsonBuf, request: &CallListQuery, facets: &[(Facet, Vec<(i64, u64)>)]) {
    if request.facets.is_empty() {
        return;
    }
    out.reopen_object();
    out.raw(",\"facets\":{");
    for (i, (facet, counts)) in facets.iter().enumerate() {
        if i > 0 {
            out.raw(",");
        }
        out.string(facet.as_str());
        out.raw(":{");
        // By code or id, "none" last.
        let mut counts = counts.clone();
        counts.sort_by_key(|(key, _)| (*key == 0, *key));
        for (j, (key, n)) in counts.iter().enumerate() {
            if j > 0 {
                out.raw(",");
            }
            out.string(&facet_key(*facet, *key));
            out.raw(":");
            out.number(*n);
        }
        out.raw("}");
    }
    out.raw("}}");
}

/// A facet's key as the contract writes it: the value's name, an id, or
/// `null` for none.
fn facet_key(facet: Facet, key: i64) -> String {
    let name = match facet {
        Facet::Status => CallStatus::from_code(key).map(CallStatus::as_str),
        Facet::Type => CallType::from_code(key).map(CallType::as_str),
        Facet::AnsweredBy => AnsweredBy::from_code(key).map(AnsweredBy::as_str),
        Facet::AssistantId | Facet::CampaignId => None,
    };
    match name {
        Some(name) => name.to_owned(),
        None if key == 0 => "null".to_owned(),
        None => key.to_string(),
    }
}
