//! The outcomes a client can see, and their bodies (CONTRACT §6).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::FieldErrors;
use crate::store::StoreError;

/// Every error an `/api` handler can answer with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401: missing, malformed, unknown, revoked or expired token.
    #[error("unauthenticated")]
    Unauthenticated,
    /// 404 with a route-specific message; another user's record answers the same.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// 405 for a known path with a method it does not support.
    #[error("method {method} not allowed on {path}")]
    MethodNotAllowed {
        method: String,
        path: String,
        allowed: &'static str,
    },
    /// 422 in Laravel's validation shape.
    #[error("validation failed: {}", .0.summary())]
    Validation(FieldErrors),
    /// 429 once a user spends the minute's requests.
    #[error("rate limited")]
    TooManyAttempts {
        limit: u64,
        retry_after: u64,
        reset_at: i64,
    },
    /// Any other `{"message"}` answer: 400, 403, 409, ...
    #[error("{0}: {1}")]
    Message(StatusCode, std::borrow::Cow<'static, str>),
    /// 500: logged with its cause; the client learns nothing of it.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Internal(err) => Self::Internal(err),
            StoreError::Conflict(message) => {
                Self::Internal(anyhow::anyhow!("unexpected conflict: {message}"))
            }
        }
    }
}

impl ApiError {
    /// 403 for a read-only token attempting a write.
    pub fn forbidden() -> Self {
        Self::Message(StatusCode::FORBIDDEN, "This action is unauthorized.".into())
    }

    /// 409 with a message.
    pub fn conflict(text: impl Into<std::borrow::Cow<'static, str>>) -> Self {
        Self::Message(StatusCode::CONFLICT, text.into())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

/// A JSON body with a status.
pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

/// `{"message": ...}` with a status.
pub fn message(status: StatusCode, text: &str) -> Response {
    json_response(status, json!({ "message": text }))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated => message(StatusCode::UNAUTHORIZED, "Unauthenticated."),
            Self::NotFound(text) => message(StatusCode::NOT_FOUND, text),
            Self::Message(status, text) => message(status, &text),
            Self::MethodNotAllowed {
                method,
                path,
                allowed,
            } => {
                let text = format!(
                    "The {method} method is not supported for route {path}. Supported methods: {allowed}."
                );
                let mut response = message(StatusCode::METHOD_NOT_ALLOWED, &text);
                response
                    .headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allowed));
                response
            }
            Self::Validation(errors) => {
                #[derive(serde::Serialize)]
                struct Body<'a> {
                    message: String,
                    errors: &'a FieldErrors,
                }
                let body = Body {
                    message: errors.summary(),
                    errors: &errors,
                };
                (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
            }
            Self::TooManyAttempts {
                limit,
                retry_after,
                reset_at,
            } => {
                let mut response = json_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    json!({ "message": "Too Many Attempts.", "retry_after": retry_after }),
                );
                let headers = response.headers_mut();
                for (name, value) in [
                    ("retry-after", retry_after.to_string()),
                    ("x-ratelimit-limit", limit.to_string()),
                    ("x-ratelimit-remaining", "0".to_owned()),
                    ("x-ratelimit-reset", reset_at.to_string()),
                ] {
                    if let Ok(value) = HeaderValue::from_str(&value) {
                        headers.insert(name, value);
                    }
                }
                response
            }
            Self::Internal(err) => {
                tracing::error!(error = format!("{err:#}"), "internal error");
                message(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
            }
        }
    }
}
