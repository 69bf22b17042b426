//! `Idempotency-Key` on writes: the first answer to a key is stored with a
//! fingerprint of the request, and a retry with the same key and request gets
//! that answer again without running anything (the IETF draft
//! "The Idempotency-Key HTTP Header Field").

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::auth::CurrentUser;
use super::error::ApiError;
use crate::domain::timefmt::now_unix;
use crate::store::IdempotencyStart;

pub const HEADER: &str = "idempotency-key";
/// How long a key is remembered.
pub const KEY_TTL_SECS: i64 = 24 * 3600;
/// Longest key accepted.
const MAX_KEY_LEN: usize = 255;

fn key_of(request: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::Message(
            StatusCode::BAD_REQUEST,
            "The Idempotency-Key header must be 1 to 255 visible ASCII characters.".into(),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Runs after authentication on every `/api` route; reads pass straight through.
pub async fn idempotent(
    state: AppState,
    user: CurrentUser,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return Ok(next.run(request).await);
    }
    let Some(key) = key_of(&request)? else {
        return Ok(next.run(request).await);
    };
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, state.max_body_bytes).await.map_err(|_| {
        ApiError::Message(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large".into())
    })?;
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(parts.uri.path().as_bytes());
    hasher.update(b"\n");
    hasher.update(&body);
    let fingerprint: [u8; 32] = hasher.finalize().into();

    let now = now_unix();
    match state
        .store
        .idempotency_start(user.0, &key, fingerprint, now, now - KEY_TTL_SECS)
        .await?
    {
        IdempotencyStart::Fresh => {}
        IdempotencyStart::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, body).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        IdempotencyStart::Mismatch => {
            return Err(ApiError::Message(
                StatusCode::UNPROCESSABLE_ENTITY,
                "This Idempotency-Key was already used for a different request.".into(),
            ));
        }
        IdempotencyStart::InFlight => {
            return Err(ApiError::conflict(
                "A request with this Idempotency-Key is still being processed; retry later.",
            ));
        }
    }

    // The request and the recording of its answer run in a task of their
    // own: should the client go away or the request time out (503), the
    // write still finishes and its answer is still kept for the retry.
    let request = Request::from_parts(parts, Body::from(body));
    let task = tokio::spawn(async move {
        let response = next.run(request).await;
        remember(&state, user.0, &key, response).await
    });
    match task.await {
        Ok(answer) => answer,
        Err(err) => Err(ApiError::Internal(anyhow::anyhow!(
            "idempotent request failed: {err}"
        ))),
    }
}

/// Marks an answer whose body carries a secret shown only once: it is kept
/// for replay with the secret removed.
#[derive(Debug, Clone, Copy)]
pub struct CarriesSecret;

/// Keeps `response` as the key's answer and passes it on.
async fn remember(
    state: &AppState,
    user_id: i64,
    key: &str,
    response: Response,
) -> Result<Response, ApiError> {
    // Server errors come from a rolled-back transaction: the key is freed so
    // that a retry runs again. Everything else is the answer to remember.
    if response.status().is_server_error() {
        state.store.idempotency_release(user_id, key).await?;
        return Ok(response);
    }
    let redact = response.extensions().get::<CarriesSecret>().is_some();
    let (parts, body) = response.into_parts();
    // No size limit: the handlers answer with bodies already in memory, and
    // the write behind this answer has committed. Refusing to keep a large
    // answer (a call with a 4 MiB transcript, say) turned a committed write
    // into a 500 and left its key "in flight" for a day.
    let bytes = to_bytes(body, usize::MAX)
        .await
        .map_err(|err| ApiError::Internal(anyhow::anyhow!("reading the answer: {err}")))?;
    let kept = if redact {
        redacted(&bytes)
    } else {
        bytes.to_vec()
    };
    state
        .store
        .idempotency_finish(user_id, key, parts.status.as_u16(), kept)
        .await?;
    Ok(Response::from_parts(parts, Body::from(bytes)))
}

/// The answer with `webhook_secret` set to null.
fn redacted(body: &[u8]) -> Vec<u8> {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            if let Some(secret) = value.get_mut("webhook_secret") {
                *secret = serde_json::Value::Null;
            }
            value.to_string().into_bytes()
        }
        Err(_) => b"{}".to_vec(),
    }
}
