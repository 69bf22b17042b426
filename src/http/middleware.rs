//! Cross-cutting layers: request ids, tracing, limits, and JSON bodies for the
//! answers that the framework produces itself.

use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use rand::RngCore;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;
use tracing::Instrument;

use super::Limits;
use super::error::message;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps every route in the layers below, outermost first.
pub fn apply(router: Router, limits: Limits) -> Router {
    let max_uri = limits.max_uri_bytes;
    let layers = ServiceBuilder::new()
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            request_span(max_uri, request, next)
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
fn random_request_id() -> HeaderValue {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let id = uuid::Builder::from_random_bytes(bytes).into_uuid();
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text))
        .unwrap_or_else(|_| HeaderValue::from_static("-"))
}

/// Everything that happens around each request, in one middleware:
///
/// - its `x-request-id`: the caller's if it is a plain token (see
///   [`caller_request_id`]), else a new UUID; echoed in the answer;
/// - its span (`request.id`, method, path, later `user.id`), under which the
///   handlers log, and one line when it is answered (`status`, `latency`), at
///   `error` for 5xx answers and `info` otherwise;
/// - 414 for request targets longer than `max_uri`;
/// - JSON bodies for the error answers the framework and tower-http layers
///   make themselves (CONTRACT §1: every body is JSON).
///
/// It replaces tower-http's `SetRequestId`, `PropagateRequestId` and `Trace`
/// layers plus a middleware of our own: the same headers and log lines for
/// ~11% fewer instructions per get by id (docs/PERFORMANCE.md, step 26).
async fn request_span(max_uri: usize, mut request: Request, next: Next) -> Response {
    let start = Instant::now();
    let request_id = match caller_request_id(request.headers()) {
        Some(id) => id.clone(),
        None => {
            let id = random_request_id();
            request.headers_mut().insert(REQUEST_ID, id.clone());
            id
        }
    };
    // The query string can carry phone numbers: log the path only.
    let span = tracing::info_span!(
        "request",
        request.id = %request_id.to_str().unwrap_or("-"),
        method = %request.method(),
        path = %request.uri().path(),
        user.id = tracing::field::Empty,
    );
    let mut response = async move {
        tracing::debug!("started processing request");
        let response = json_errors(max_uri, request, next).await;
        let latency = format_args!("{} ms", start.elapsed().as_millis());
        let status = response.status().as_u16();
        if response.status().is_server_error() {
            tracing::error!(latency = %latency, status, "finished processing request");
        } else {
            tracing::info!(latency = %latency, status, "finished processing request");
        }
        response
    }
    .instrument(span)
    .await;
    if !response.headers().contains_key(REQUEST_ID) {
        response.headers_mut().insert(REQUEST_ID, request_id);
    }
    response
}

/// The caller's `x-request-id`, if it is at most 128 letters, digits and
/// `-_.:/`: it is logged as it is, so anything else (spaces, braces, `=`)
/// could forge fields in the request's log line. Others are replaced by a new
/// id, which the answer carries.
fn caller_request_id(headers: &HeaderMap) -> Option<&HeaderValue> {
    let id = headers.get(REQUEST_ID)?;
    let bytes = id.as_bytes();
    let plain = !bytes.is_empty()
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':' | b'/'));
    plain.then_some(id)
}

/// Answers 414 past `max_uri`, runs the request, and gives framework-made
/// error answers a JSON body.
async fn json_errors(max_uri: usize, request: Request, next: Next) -> Response {
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
