//! The sender against real servers on 127.0.0.1: an axum app for ordinary
//! answers, and a raw TCP one for a streamed answer with no declared length.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

/// What the test server saw: how many requests, and the last one.
#[derive(Default)]
struct Seen {
    hits: AtomicUsize,
    last: Mutex<Option<(HeaderMap, Bytes)>>,
}

/// One handler for every path, so that every request is counted.
async fn handle(
    State(seen): State<Arc<Seen>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    seen.hits.fetch_add(1, Ordering::SeqCst);
    *seen.last.lock().expect("lock") = Some((headers, body));
    match uri.path() {
        "/json" => "{\n  \"received\": true,\n  \"id\": \"abc\"\n}\n".into_response(),
        "/text" => "OK, thanks".into_response(),
        "/empty" => StatusCode::NO_CONTENT.into_response(),
        "/exactly-64k" => format!("\"{}\"", "a".repeat(65_534)).into_response(),
        "/big" => format!("[{}1]", "1,".repeat(40_000)).into_response(),
        "/fail" => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        "/redirect" => (StatusCode::FOUND, [(LOCATION, "/json")]).into_response(),
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "too late".into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn server() -> (SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let app = Router::new().fallback(handle).with_state(seen.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

fn sender(allow_private: bool) -> Sender {
    Sender::new(SenderConfig {
        connect_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_millis(1500),
        allow_private,
    })
    .expect("a sender")
}

const BODY: &[u8] = br#"{"type":"call.ended","data":{"id":42}}"#;

/// One attempt with a fresh secret, for tests that do not check signatures.
async fn post(sender: &Sender, url: &str) -> Attempt {
    sender.send(url, &generate_secret(), "msg_1", BODY).await
}

#[tokio::test]
async fn delivers_signed_json_and_keeps_the_json_answer() {
    let (addr, seen) = server().await;
    let secret = generate_secret();
    let msg_id = new_message_id();
    let attempt = sender(true)
        .send(&format!("http://{addr}/json"), &secret, &msg_id, BODY)
        .await;

    assert!(attempt.succeeded(), "{attempt:?}");
    assert_eq!(attempt.status, Some(200));
    assert_eq!(attempt.error, None);
    assert_eq!(
        attempt.response_json.as_deref(),
        Some(r#"{"received":true,"id":"abc"}"#)
    );

    let (headers, body) = seen.last.lock().expect("lock").take().expect("a request");
    let header = |name: &str| {
        headers
            .get(name)
            .expect(name)
            .to_str()
            .expect("ASCII")
            .to_string()
    };
    assert_eq!(body, BODY);
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(
        header("user-agent"),
        concat!("callbase-webhooks/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(header("webhook-id"), msg_id);
    let timestamp: i64 = header("webhook-timestamp").parse().expect("a number");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    assert!(
        (now - timestamp).abs() <= 5,
        "timestamp {timestamp}, now {now}"
    );
    let signature = header("webhook-signature");
    assert!(verify(&secret, &msg_id, timestamp, &body, &signature));
    assert!(!verify(
        &generate_secret(),
        &msg_id,
        timestamp,
        &body,
        &signature
    ));
}

#[tokio::test]
async fn keeps_no_answer_that_is_not_small_json() {
    let (addr, _seen) = server().await;
    let sender = sender(true);
    for path in ["/text", "/empty", "/big"] {
        let attempt = post(&sender, &format!("http://{addr}{path}")).await;
        assert!(attempt.succeeded(), "{path}: {attempt:?}");
        assert_eq!(attempt.error, None, "{path}");
        assert_eq!(attempt.response_json, None, "{path}");
    }
    let attempt = post(&sender, &format!("http://{addr}/exactly-64k")).await;
    assert_eq!(attempt.response_json.map(|json| json.len()), Some(65_536));
}

#[tokio::test]
async fn error_statuses_and_redirects_are_failures() {
    let (addr, seen) = server().await;
    let sender = sender(true);
    let attempt = post(&sender, &format!("http://{addr}/fail")).await;
    assert!(!attempt.succeeded());
    assert_eq!(attempt.status, Some(500));
    assert_eq!(attempt.error.as_deref(), Some("HTTP 500"));
    assert_eq!(attempt.response_json, None);

    let attempt = post(&sender, &format!("http://{addr}/redirect")).await;
    assert!(!attempt.succeeded());
    assert_eq!(attempt.status, Some(302));
    let error = attempt.error.as_deref();
    assert_eq!(error, Some("redirects are not followed (HTTP 302)"));
    assert_eq!(seen.hits.load(Ordering::SeqCst), 2, "no request to /json");
}

#[tokio::test]
async fn a_slow_receiver_times_out() {
    let (addr, _seen) = server().await;
    let sender = Sender::new(SenderConfig {
        connect_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_millis(300),
        allow_private: true,
    })
    .expect("a sender");
    let attempt = post(&sender, &format!("http://{addr}/slow")).await;
    assert_eq!(attempt.status, None);
    assert_eq!(attempt.error.as_deref(), Some("timed out after 300ms"));
    let latency = attempt.latency_ms;
    assert!((300..5_000).contains(&latency), "{attempt:?}");
}

#[tokio::test]
async fn private_destinations_are_refused_without_connecting() {
    let (addr, seen) = server().await;
    let port = addr.port();
    let sender = sender(false);
    for (host, shown) in [
        ("127.0.0.1", "destination 127.0.0.1 is"),
        ("localhost", "destination localhost ("),
        ("[::ffff:127.0.0.1]", "destination ::ffff:127.0.0.1 is"),
    ] {
        let attempt = post(&sender, &format!("http://{host}:{port}/json")).await;
        let error = attempt.error.unwrap_or_default();
        assert_eq!(attempt.status, None, "{host}");
        assert!(error.starts_with(shown), "{host}: {error}");
        assert!(
            error.contains("loopback/private address"),
            "{host}: {error}"
        );
        assert!(error.contains("--webhook-allow-private"), "{host}: {error}");
    }
    assert_eq!(seen.hits.load(Ordering::SeqCst), 0, "nothing reached it");
}

#[tokio::test]
async fn a_closed_port_is_connection_refused() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let attempt = post(&sender(true), &format!("http://{addr}/")).await;
    assert_eq!(attempt.status, None);
    assert_eq!(attempt.error.as_deref(), Some("connection refused"));
}

#[tokio::test]
async fn other_failures_are_described_without_the_url() {
    let (addr, _seen) = server().await;
    // TLS to a plain-HTTP server: the handshake fails.
    let attempt = post(&sender(true), &format!("https://{addr}/json?token=T0K")).await;
    let error = attempt.error.expect("an error");
    assert!(error.starts_with("connect failed: "), "{error}");
    assert!(
        !error.contains("T0K") && !error.contains("client error"),
        "{error}"
    );

    let url = format!("http://{addr}/json");
    let attempt = sender(true)
        .send(&url, &generate_secret(), "msg\n1", BODY)
        .await;
    let error = attempt.error.expect("an error");
    assert!(error.starts_with("invalid request: "), "{error}");
}

#[tokio::test]
async fn bad_urls_and_secrets_fail_before_sending() {
    let strict = sender(false);
    let attempt = post(&strict, "ftp://example.com/").await;
    let error = attempt.error.as_deref();
    assert_eq!(error, Some("invalid URL: the scheme must be http or https"));
    let attempt = post(&strict, "not a url").await;
    assert!(
        attempt
            .error
            .expect("an error")
            .starts_with("invalid URL: ")
    );

    let (addr, seen) = server().await;
    let url = format!("http://{addr}/json");
    let attempt = sender(true).send(&url, "whsec_***", "msg_1", BODY).await;
    let error = attempt.error.expect("an error");
    assert!(error.contains("webhook secret"), "{error}");
    assert!(!error.contains("***"), "{error}");
    assert_eq!(seen.hits.load(Ordering::SeqCst), 0);
}

/// A server that streams an endless chunked answer: the sender must stop
/// reading after 64 KiB + 1 and close, which ends the stream.
#[tokio::test]
async fn an_endless_streamed_answer_is_cut_short() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    let served = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        while !request.ends_with(BODY) {
            let read = stream.read(&mut buffer).await.expect("read");
            assert!(read > 0, "request ended early");
            request.extend_from_slice(&buffer[..read]);
        }
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\n\r\n";
        stream.write_all(head.as_bytes()).await.expect("write");
        let chunk = format!("4000\r\n{}\r\n", "1,".repeat(0x2000));
        let mut written = 0usize;
        // Bounded: 1 GiB would mean the sender never stopped reading.
        while written < 1 << 30 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                return written;
            }
            written += 0x4000;
        }
        written
    });
    let attempt = post(&sender(true), &format!("http://{addr}/stream")).await;
    assert!(attempt.succeeded(), "{attempt:?}");
    assert_eq!(attempt.response_json, None);
    let written = served.await.expect("server task");
    assert!(
        written < 64 << 20,
        "wrote {written} bytes before the hang-up"
    );
}
