//! The HTTP layer: routes, middleware, error mapping. Handlers translate between
//! the wire and the domain; storage is reached through [`Store`].

pub mod auth;
mod calls;
pub use calls::query_pairs;
pub mod error;
pub mod export;
pub mod idempotency;
mod input;
mod listing;
mod live;
mod middleware;
mod owned;
mod stats;
pub mod views;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{OriginalUri, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use axum::{Router, middleware as axum_mw};

use self::auth::RateLimiter;
use self::error::{ApiError, json_response, message};
use crate::store::Store;

pub use idempotency::KEY_TTL_SECS as IDEMPOTENCY_KEY_TTL_SECS;

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    /// Base of the paginator URLs, without a trailing slash.
    pub public_url: Arc<str>,
    pub limiter: Arc<RateLimiter>,
    /// Largest request body read (Idempotency-Key fingerprints read it whole).
    pub max_body_bytes: usize,
    /// Wakes the webhook worker when a write queued a delivery.
    pub outbox: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// The public URL of a route.
    pub fn url(&self, route: &str) -> String {
        format!("{}{route}", self.public_url)
    }
}

/// HTTP limits, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub request_timeout: Duration,
    /// How long a client may take to send a request's headers (slow-loris guard).
    pub header_read_timeout: Duration,
    pub max_body_bytes: usize,
    pub max_uri_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_body_bytes: 1024 * 1024,
            max_uri_bytes: 8 * 1024,
        }
    }
}

/// A method router whose unsupported methods answer Laravel's 405.
fn route(methods: MethodRouter<AppState>, allowed: &'static str) -> MethodRouter<AppState> {
    methods.fallback(
        move |method: Method, OriginalUri(uri): OriginalUri| async move {
            ApiError::MethodNotAllowed {
                method: method.to_string(),
                path: uri.path().trim_start_matches('/').to_owned(),
                allowed,
            }
        },
    )
}

/// The whole application.
pub fn router(state: AppState, limits: Limits) -> Router {
    // Authentication wraps the handlers only, so that an unsupported method
    // answers 405 before any token is looked at (as Laravel routes do).
    // Idempotency-Key handling is part of it (it needs the user).
    let authed = |methods: MethodRouter<AppState>, allowed: &'static str| {
        route(
            methods.route_layer(axum_mw::from_fn_with_state(
                state.clone(),
                auth::require_token,
            )),
            allowed,
        )
    };
    // The two hottest reads check the token in their own read instead.
    let reads_check = |methods: MethodRouter<AppState>, allowed: &'static str| {
        route(
            methods.route_layer(axum_mw::from_fn_with_state(
                state.clone(),
                auth::require_token_or_defer,
            )),
            allowed,
        )
    };
    let app = Router::new()
        .route(
            "/api/user/calls",
            reads_check(get(listing::list).post(live::create), "GET, HEAD, POST"),
        )
        .route(
            "/api/user/calls/export",
            authed(get(export::export), "GET, HEAD"),
        )
        .route(
            "/api/user/calls/stats",
            authed(get(stats::stats), "GET, HEAD"),
        )
        .route(
            "/api/user/calls/{id}",
            reads_check(
                get(calls::get).patch(live::update).delete(calls::delete),
                "GET, HEAD, PATCH, DELETE",
            ),
        )
        .route(
            "/api/user/calls/{id}/transcript",
            authed(post(live::append_transcript), "POST"),
        )
        .route(
            "/api/user/calls/{id}/webhook-deliveries",
            authed(get(live::deliveries), "GET, HEAD"),
        )
        .route(
            "/api/user/calls/{id}/webhook-deliveries/redeliver",
            authed(post(live::redeliver), "POST"),
        )
        .route("/api/user/make_call", authed(post(live::make_call), "POST"))
        .route(
            "/api/user/assistants/get",
            authed(get(owned::list_assistants), "GET, HEAD"),
        )
        .route(
            "/api/user/assistant",
            authed(post(owned::create_assistant), "POST"),
        )
        .route(
            "/api/user/assistant/{id}",
            authed(
                get(owned::show_assistant)
                    .put(owned::update_assistant)
                    .patch(owned::update_assistant)
                    .delete(owned::delete_assistant),
                "GET, HEAD, PUT, PATCH, DELETE",
            ),
        )
        .route(
            "/api/user/assistant/{id}/webhook-secret",
            authed(post(owned::rotate_secret), "POST"),
        )
        .route(
            "/api/user/campaigns",
            authed(
                get(owned::list_campaigns).post(owned::create_campaign),
                "GET, HEAD, POST",
            ),
        )
        .route(
            "/api/user/campaigns/{id}",
            authed(
                get(owned::show_campaign)
                    .put(owned::update_campaign)
                    .patch(owned::update_campaign)
                    .delete(owned::delete_campaign),
                "GET, HEAD, PUT, PATCH, DELETE",
            ),
        )
        .route("/health", route(get(health), "GET, HEAD"))
        .fallback(|| async { message(StatusCode::NOT_FOUND, "Not Found") })
        .with_state(state);
    middleware::apply(app, limits)
}

/// `GET /health`: 200 when the database answers within a second, 503 otherwise.
async fn health(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(1), state.store.ping()).await {
        Ok(Ok(())) => json_response(StatusCode::OK, serde_json::json!({ "status": "ok" })),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "health check: database error");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable" }),
            )
        }
        Err(_) => {
            tracing::warn!("health check: database did not answer within 1s");
            json_response(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({ "status": "unavailable" }),
            )
        }
    }
    .into_response()
}
