//! `GET` and `DELETE /api/user/calls/{id}` (CONTRACT §4-§5), and the query
//! string reading every call route shares.

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::{self, Admission, Bearer, CurrentUser, with_quota};
use super::error::{ApiError, json_response};
use super::views::{JsonBuf, write_call_view};
use crate::domain::validation::parse_int;

pub const NOT_FOUND: &str = "Call not found";
const DELETE_NOT_FOUND: &str = "Call not found or does not belong to the authenticated user";

/// Decoded query pairs, in order; a malformed query simply yields odd pairs.
///
/// Two exceptions to form decoding, for what people type into curl: a
/// literal `+` leading a `phone_number` stays a plus (decoded as a space it
/// would be trimmed away, and `?phone_number=+4915...` would match
/// nothing; no phone number starts with a space), and so does every `+` of
/// `created_after` and `created_before` (`...T10:30:00+01:00`; an RFC 3339
/// time holds no space).
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let query = query.unwrap_or_default();
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    // form_urlencoded yields one pair per non-empty `&`-separated part.
    let raw_parts = query.split('&').filter(|part| !part.is_empty());
    for ((key, value), raw) in pairs.iter_mut().zip(raw_parts) {
        let raw_value = raw.split_once('=').map_or("", |(_, v)| v);
        if key == "phone_number" && raw_value.starts_with('+') && value.starts_with(' ') {
            value.replace_range(..1, "+");
        }
        if matches!(key.as_str(), "created_after" | "created_before") && raw_value.contains('+') {
            *value = percent_encoding::percent_decode_str(raw_value)
                .decode_utf8_lossy()
                .into_owned();
        }
    }
    pairs
}

// `get` carries no span of its own: the request span (see middleware)
// already has `request.id` and `user.id`, and a second span per request cost
// ~5% of throughput in the benchmark. It checks the caller's token in its own
// read (see `auth::require_token_or_defer`).

/// Answers `refusal` once the token is checked: a request with a bad token
/// gets 401 first, whatever else is wrong with it, as on every route.
pub(super) async fn refuse_checked(
    state: &AppState,
    bearer: Bearer,
    refusal: ApiError,
) -> Result<Response, ApiError> {
    let quota = auth::check(state, bearer).await?;
    Ok(with_quota(refusal.into_response(), quota))
}

/// The id of `/calls/{id}`; anything that is not an integer matches no call.
/// Leading zeros are read as the number (`010` is call 10), as the database
/// comparison behind Famulor's route does.
pub fn path_id(path: Result<Path<String>, PathRejection>) -> Option<i64> {
    let Path(id) = path.ok()?;
    let (sign, digits) = id
        .strip_prefix('-')
        .map_or(("", id.as_str()), |rest| ("-", rest));
    let digits = digits.trim_start_matches('0');
    parse_int(&format!(
        "{sign}{}",
        if digits.is_empty() { "0" } else { digits }
    ))
}

pub async fn get(
    State(state): State<AppState>,
    Extension(bearer): Extension<Bearer>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Some(id) = path_id(path) else {
        return refuse_checked(&state, bearer, ApiError::NotFound(NOT_FOUND)).await;
    };
    let mut out = JsonBuf::with_capacity(4096);
    let mut admission = Admission::new(&state, bearer);
    let read = state
        .store
        .get_call_into(admission.reader(), id, &mut |call| {
            write_call_view(&mut out, call)
        })
        .await?;
    let (found, quota) = admission.finish(read)?;
    let response = if found {
        out.into_response()
    } else {
        ApiError::NotFound(NOT_FOUND).into_response()
    };
    Ok(with_quota(response, quota))
}

#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path).ok_or(ApiError::NotFound(DELETE_NOT_FOUND))?;
    if !state.store.delete_call(user.0, id).await? {
        return Err(ApiError::NotFound(DELETE_NOT_FOUND));
    }
    tracing::info!(call.id = id, "call deleted");
    Ok(json_response(
        axum::http::StatusCode::OK,
        serde_json::json!({ "message": "Call deleted successfully" }),
    ))
}
