//! Bearer-token authentication and the per-user rate limit, as one middleware
//! in front of every `/api` route.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
use crate::domain::timefmt::now_unix;
use crate::store::Scope;

/// The authenticated user, put into request extensions by [`require_token`].
#[derive(Debug, Clone, Copy)]
pub struct CurrentUser(pub i64);

/// Longest token accepted before hashing; real ones are 46 characters.
const MAX_TOKEN_LEN: usize = 256;

/// Reads `Authorization: Bearer <token>` (scheme case-insensitive, as RFC 9110 says).
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token.len() <= MAX_TOKEN_LEN)
        .then_some(token)
}

/// Rejects requests without a valid token (401) or over the rate limit (429),
/// and writes with a read-only token (403); then runs the request, under its
/// `Idempotency-Key` if it has one. Records `user.id` on the request's span.
pub async fn require_token(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let token = bearer_token(request.headers()).ok_or(ApiError::Unauthenticated)?;
    let hash = crate::token::hash(token);
    let principal = state
        .store
        .authenticate(hash, now_unix())
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    let user_id = principal.user_id;
    tracing::Span::current().record("user.id", user_id);

    let quota = state.limiter.hit(user_id)?;
    let reads_only = matches!(*request.method(), Method::GET | Method::HEAD);
    if principal.scope == Scope::Read && !reads_only {
        return Err(ApiError::forbidden());
    }
    request.extensions_mut().insert(CurrentUser(user_id));
    // `Idempotency-Key` handling runs here rather than as a layer of its own
    // (it needs the user): one middleware fewer on every request.
    let mut response = super::idempotency::idempotent(state, CurrentUser(user_id), request, next)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    if let Some((limit, remaining)) = quota {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    }
    Ok(response)
}

/// Laravel-style fixed-window limiter: `limit` requests per user per minute,
/// the window starting at the user's first request.
///
/// It is kept per process: with N `serve` processes a user may make up to N
/// times the limit. It protects each process; an exact global quota would
/// cost a database write per request.
pub struct RateLimiter {
    limit: u64,
    window: Duration,
    hits: Mutex<HashMap<i64, (Instant, u64)>>,
}

impl RateLimiter {
    /// `limit == 0` switches limiting off.
    pub fn per_minute(limit: u64) -> Self {
        Self {
            limit,
            window: Duration::from_secs(60),
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a request; `Some((limit, remaining))` for the headers, `None` when off.
    pub fn hit(&self, user_id: i64) -> Result<Option<(u64, u64)>, ApiError> {
        if self.limit == 0 {
            return Ok(None);
        }
        let now = Instant::now();
        let mut hits = self
            .hits
            .lock()
            .map_err(|_| anyhow::anyhow!("rate limiter lock poisoned"))?;
        if hits.len() > 100_000 {
            hits.retain(|_, (start, _)| now.duration_since(*start) < self.window);
        }
        let entry = hits.entry(user_id).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.limit {
            let left = self.window.saturating_sub(now.duration_since(entry.0));
            let retry_after = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            return Err(ApiError::TooManyAttempts {
                limit: self.limit,
                retry_after,
                reset_at: now_unix() + i64::try_from(retry_after).unwrap_or(60),
            });
        }
        entry.1 += 1;
        Ok(Some((self.limit, self.limit - entry.1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_tokens() {
        let mut headers = HeaderMap::new();
        assert_eq!(bearer_token(&headers), None);
        for (value, expected) in [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("Basic abc", None),
            ("Bearer ", None),
            ("Bearer", None),
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer_token(&headers), expected, "{value}");
        }
    }

    #[test]
    fn limiter_counts_down_then_refuses() {
        let limiter = RateLimiter::per_minute(2);
        assert_eq!(limiter.hit(1).ok().flatten(), Some((2, 1)));
        assert_eq!(limiter.hit(1).ok().flatten(), Some((2, 0)));
        assert!(matches!(
            limiter.hit(1),
            Err(ApiError::TooManyAttempts {
                retry_after: 1..=60,
                ..
            })
        ));
        assert_eq!(limiter.hit(2).ok().flatten(), Some((2, 1)));
        assert_eq!(RateLimiter::per_minute(0).hit(1).ok().flatten(), None);
    }
}
