//! Cross-cutting layers: request ids, tracing, limits, and JSON bodies for the
//! answers that the framework produces itself.

use axum::Router;
use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use rand::RngCore;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::Limits;
use super::error::message;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps every route in the layers below, outermost first.
pub fn apply(router: Router, limits: Limits) -> Router {
    let max_uri = limits.max_uri_bytes;
    let layers = ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    // The query string can carry phone numbers: log the path only.
                    tracing::info_span!(
                        "request",
                        request.id = %request_id,
                        method = %request.method(),
                        path = %request.uri().path(),
                        user.id = tracing::field::Empty,
                    )
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            json_errors(max_uri, request, next)
        }))
        .layer(CatchPanicLayer::custom(|_panic| {
            // The panic message went to stderr through the panic hook; it may
            // quote user data, so it is not repeated here.
            tracing::error!("handler panicked");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Server Error")
        }))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
        // Enforced by axum's body extractors, which answer 413 past it.
        .layer(DefaultBodyLimit::max(limits.max_body_bytes));
    router.layer(layers)
}

/// Version-4 UUIDs drawn from the thread's CSPRNG (`rand::rng()`, reseeded
/// from the OS by itself): tower-http's `MakeRequestUuid` made a `getrandom`
/// system call per request.
#[derive(Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = id.hyphenated().encode_lower(&mut text);
        HeaderValue::from_str(text).ok().map(RequestId::new)
    }
}

/// Every body is JSON (CONTRACT §1): answers made by the framework or by
/// tower-http layers (413, 503 on timeout, ...) get a `{"message"}` body.
/// Also answers 414 for request targets longer than `max_uri` (here rather
/// than in a layer of its own: one middleware fewer per request).
async fn json_errors(max_uri: usize, request: Request<Body>, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if length > max_uri {
        return message(StatusCode::URI_TOO_LONG, "URI Too Long");
    }
    let mut response = as_json(next.run(request).await);
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body was not read, so the connection cannot carry
        // another request. Saying so keeps clients from reusing it: a pooled
        // client otherwise sends its next request into a closing socket.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A framework-made error answer with a JSON body instead of text.
fn as_json(response: Response) -> Response {
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let status = response.status();
    if is_json || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let text = status.canonical_reason().unwrap_or("Error");
    let mut replaced = message(status, text);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().insert(name, value.clone());
        }
    }
    replaced
}
