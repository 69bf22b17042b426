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
use crate::store::{Gate, Principal, Reader, Scope};

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
    let principal = principal_of(&state, crate::token::hash(token)).await?;
    let user_id = principal.user_id;
    let quota = admit(&state.limiter, user_id)?;
    let reads_only = matches!(*request.method(), Method::GET | Method::HEAD);
    if principal.scope == Scope::Read && !reads_only {
        return Err(ApiError::forbidden());
    }
    request.extensions_mut().insert(CurrentUser(user_id));
    // `Idempotency-Key` handling runs here rather than as a layer of its own
    // (it needs the user): one middleware fewer on every request.
    let response = super::idempotency::idempotent(state, CurrentUser(user_id), request, next)
        .await
        .unwrap_or_else(IntoResponse::into_response);
    Ok(with_quota(response, quota))
}

/// `(limit, remaining)` for the rate-limit headers; `None` when limiting is off.
pub type Quota = Option<(u64, u64)>;

/// Records `user.id` on the request's span and counts the request against
/// the user's limit.
fn admit(limiter: &RateLimiter, user_id: i64) -> Result<Quota, ApiError> {
    tracing::Span::current().record("user.id", user_id);
    limiter.hit(user_id)
}

/// Adds the rate-limit headers to an answer.
pub fn with_quota(mut response: Response, quota: Quota) -> Response {
    if let Some((limit, remaining)) = quota {
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-limit", HeaderValue::from(limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    }
    response
}

/// A request's bearer token, hashed, left for its handler to check in the
/// handler's own read (see [`require_token_or_defer`]).
#[derive(Debug, Clone, Copy)]
pub struct Bearer([u8; 32]);

/// [`require_token`] for routes whose reads check the token themselves:
/// `GET` and `HEAD` pass with the token's hash as a [`Bearer`] (401 without
/// a token), and their handlers check it in the same read as the data
/// ([`Admission`]); other methods go through [`require_token`].
///
/// The two hottest routes (a list page, a call by id) use it. On SQLite the
/// token check and the read then share one read transaction instead of two:
/// two `fcntl`s (the WAL read lock taken and released) and ~4k instructions
/// fewer per request (docs/PERFORMANCE.md, step 29). A handler behind it that
/// took `Extension<CurrentUser>` would find none and answer 500: it fails
/// closed.
pub async fn require_token_or_defer(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return require_token(State(state), request, next).await;
    }
    let token = bearer_token(request.headers()).ok_or(ApiError::Unauthenticated)?;
    let bearer = Bearer(crate::token::hash(token));
    request.extensions_mut().insert(bearer);
    Ok(next.run(request).await)
}

/// Checks a [`Bearer`] on its own, for a handler that must refuse a request
/// before it reads anything (a malformed query: 401 still comes before 422).
pub async fn check(state: &AppState, bearer: Bearer) -> Result<Quota, ApiError> {
    let principal = principal_of(state, bearer.0).await?;
    admit(&state.limiter, principal.user_id)
}

/// Who an active token with this hash speaks for; 401 for any other.
async fn principal_of(state: &AppState, hash: [u8; 32]) -> Result<Principal, ApiError> {
    state
        .store
        .authenticate(hash, now_unix())
        .await?
        .ok_or(ApiError::Unauthenticated)
}

/// A [`Bearer`] checked by the store inside a read: the store hands the
/// token's principal to [`Gate::admit`] before reading, and
/// [`Admission::finish`] turns what was decided into the answer. Reads need
/// no scope (every token may read).
pub struct Admission<'s> {
    limiter: &'s RateLimiter,
    hash: [u8; 32],
    outcome: Option<Result<Quota, ApiError>>,
}

impl<'s> Admission<'s> {
    pub fn new(state: &'s AppState, bearer: Bearer) -> Self {
        Self {
            limiter: &state.limiter,
            hash: bearer.0,
            outcome: None,
        }
    }

    /// The reader to hand the store.
    pub fn reader(&mut self) -> Reader<'_> {
        Reader::Token {
            hash: self.hash,
            now: now_unix(),
            gate: self,
        }
    }

    /// The read's answer and the quota when the token was admitted;
    /// otherwise 401 (no such active token) or the limiter's 429.
    pub fn finish<T>(self, read: Option<T>) -> Result<(T, Quota), ApiError> {
        match (read, self.outcome) {
            (Some(answer), Some(Ok(quota))) => Ok((answer, quota)),
            (_, Some(Err(refused))) => Err(refused),
            // Unknown token; or a read that answered without asking the gate,
            // which must not happen: refused either way.
            _ => Err(ApiError::Unauthenticated),
        }
    }
}

impl Gate for Admission<'_> {
    fn admit(&mut self, principal: Principal) -> bool {
        let outcome = admit(self.limiter, principal.user_id);
        let admitted = outcome.is_ok();
        self.outcome = Some(outcome);
        admitted
    }
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
