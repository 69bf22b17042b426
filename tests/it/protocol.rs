//! Protocol-level behaviour: 404/405 bodies, HEAD, request ids, limits, health.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{TestApp, send};

async fn unknown_routes_and_methods(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    for path in [
        "/",
        "/api",
        "/api/user/call",
        "/api/user/calls/1/extra",
        "/api/user/assistants",
    ] {
        let answer = app.get(path, &token).await;
        assert_eq!(
            (answer.status.as_u16(), &answer.body),
            (404, &json!({"message": "Not Found"})),
            "{path}"
        );
    }
    let cases = [
        (
            "PUT",
            "/api/user/calls",
            "api/user/calls",
            "GET, HEAD, POST",
        ),
        (
            "DELETE",
            "/api/user/calls",
            "api/user/calls",
            "GET, HEAD, POST",
        ),
        (
            "PUT",
            "/api/user/calls/5",
            "api/user/calls/5",
            "GET, HEAD, PATCH, DELETE",
        ),
        (
            "POST",
            "/api/user/calls/5",
            "api/user/calls/5",
            "GET, HEAD, PATCH, DELETE",
        ),
        ("GET", "/api/user/make_call", "api/user/make_call", "POST"),
        (
            "GET",
            "/api/user/calls/5/transcript",
            "api/user/calls/5/transcript",
            "POST",
        ),
        ("GET", "/api/user/assistant", "api/user/assistant", "POST"),
        (
            "POST",
            "/api/user/assistants/get",
            "api/user/assistants/get",
            "GET, HEAD",
        ),
        (
            "DELETE",
            "/api/user/campaigns",
            "api/user/campaigns",
            "GET, HEAD, POST",
        ),
        ("POST", "/health", "health", "GET, HEAD"),
    ];
    for (method, path, route, allowed) in cases {
        // Without a token too: the method is checked before authentication.
        for token in [Some(token.as_str()), None] {
            let answer = app
                .request(
                    Method::from_bytes(method.as_bytes()).expect("method"),
                    path,
                    token,
                )
                .await;
            assert_eq!(answer.status, 405, "{method} {path}");
            assert_eq!(
                answer.body,
                json!({"message": format!("The {method} method is not supported for route {route}. Supported methods: {allowed}.")})
            );
            assert_eq!(answer.header("allow"), Some(allowed));
        }
    }
}

async fn head_request_ids_and_json_everywhere(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    let answer = app
        .request(Method::HEAD, "/api/user/calls", Some(&token))
        .await;
    assert_eq!(answer.status, 200);
    let id = answer
        .header("x-request-id")
        .expect("request id")
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let again = app.list(&token, "").await;
    assert_ne!(again.header("x-request-id"), Some(id.as_str()));
    // A caller's request id is kept (for tracing across services).
    let answer = send(
        app.client
            .get(app.url("/health"))
            .header("x-request-id", "trace-me-42"),
    )
    .await;
    assert_eq!(answer.header("x-request-id"), Some("trace-me-42"));
    // ... unless it could forge fields in the log line, or is too long: then
    // the request gets an id of its own, and the answer says which.
    for forged in ["a} user.id=1 status=200", &"x".repeat(129), "tab\there"] {
        let answer = send(
            app.client
                .get(app.url("/health"))
                .header("x-request-id", forged),
        )
        .await;
        let id = answer.header("x-request-id").expect("request id");
        assert_eq!(id.len(), 36, "a UUID instead of {forged:?}: {id}");
    }
}

async fn long_uris_are_refused(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    let answer = app
        .list(&token, &format!("status={}", "x".repeat(9000)))
        .await;
    assert_eq!(answer.status, 414);
    assert_eq!(answer.body, json!({"message": "URI Too Long"}));
}

async fn health_answers_without_auth(app: TestApp) {
    let answer = app.request(Method::GET, "/health", None).await;
    assert_eq!(
        (answer.status.as_u16(), &answer.body),
        (200, &json!({"status": "ok"}))
    );
}

async fn trailing_slashes_are_ignored(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[crate::helpers::call(7, json!({}))])
        .await;
    assert_eq!(app.get("/api/user/calls/", &token).await.ids(), [7]);
    assert_eq!(app.get("/api/user/calls/7/", &token).await.body["id"], 7);
    assert_eq!(app.get("/health/", &token).await.status, 200);
}

/// A failure inside answers an opaque 500: a row the code cannot read (an
/// unknown status code written behind callbase's back) must not leak anything.
async fn internal_errors_are_opaque(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(
        &alice,
        &[
            crate::helpers::call(1, json!({})),
            crate::helpers::call(2, json!({})),
        ],
    )
    .await;
    app.execute_sql("UPDATE calls SET status = 99 WHERE id = 2")
        .await;
    for path in ["/api/user/calls", "/api/user/calls/2"] {
        let answer = app.get(path, &token).await;
        assert_eq!(
            (answer.status.as_u16(), &answer.body),
            (500, &json!({"message": "Server Error"})),
            "{path}"
        );
    }
    assert_eq!(app.get("/api/user/calls/1", &token).await.status, 200);
}

/// When the database does not answer (another connection holds its locks),
/// health says 503, and recovers after.
async fn health_is_503_when_the_database_does_not_answer(app: TestApp) {
    let lock = app.lock_database().await;
    let answer = app.request(Method::GET, "/health", None).await;
    assert_eq!(
        (answer.status.as_u16(), &answer.body),
        (503, &json!({"status": "unavailable"}))
    );
    drop(lock);
    // A probe blocked behind the lock may hold a connection a little longer:
    // poll with a deadline until health is back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let answer = app.request(Method::GET, "/health", None).await;
        if answer.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "health did not recover: {}",
            answer.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Shutdown waits for requests in flight: a delete blocked on a locked
/// database still gets its answer after shutdown was asked for.
async fn graceful_shutdown_finishes_requests_in_flight(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[crate::helpers::call(1, json!({}))])
        .await;
    let lock = app.lock_database().await;
    let request = app
        .client
        .delete(app.url("/api/user/calls/1"))
        .bearer_auth(&token);
    let in_flight = tokio::spawn(async move { send(request).await });
    // Give the request time to reach the database, then ask for shutdown.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !in_flight.is_finished(),
        "the request should be waiting on the lock"
    );
    let stopping = tokio::spawn(app.stop());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!stopping.is_finished(), "shutdown waits for the request");
    drop(lock);
    let answer = in_flight.await.expect("request task");
    assert_eq!(
        (answer.status.as_u16(), answer.body),
        (200, json!({"message": "Call deleted successfully"}))
    );
    tokio::time::timeout(std::time::Duration::from_secs(10), stopping)
        .await
        .expect("stopped")
        .expect("clean stop");
}

backend_tests!(
    health_is_503_when_the_database_does_not_answer,
    graceful_shutdown_finishes_requests_in_flight,
    unknown_routes_and_methods,
    head_request_ids_and_json_everywhere,
    long_uris_are_refused,
    health_answers_without_auth,
    trailing_slashes_are_ignored,
    internal_errors_are_opaque,
);

/// A request that outlives `--request-timeout` is answered 503 in JSON.
async fn slow_requests_time_out_with_503(backend: crate::helpers::Backend) {
    let Some(app) = crate::helpers::try_spawn_app_with(backend, |s| {
        s.limits.request_timeout = std::time::Duration::from_millis(500);
    })
    .await
    else {
        return;
    };
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[crate::helpers::call(1, json!({}))])
        .await;
    let lock = app.lock_database().await;
    let answer = app.delete("/api/user/calls/1", &token).await;
    assert_eq!(
        (answer.status.as_u16(), &answer.body),
        (503, &json!({"message": "Service Unavailable"}))
    );
    drop(lock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_with_503_sqlite() {
    slow_requests_time_out_with_503(crate::helpers::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_with_503_postgres() {
    slow_requests_time_out_with_503(crate::helpers::Backend::Postgres).await;
}

/// A client that never finishes its headers is cut off (slow-loris guard),
/// and does not keep shutdown waiting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        s.limits.header_read_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut stream = tokio::net::TcpStream::connect(app.addr)
        .await
        .expect("connect");
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "the server closed the connection");
    tokio::time::timeout(std::time::Duration::from_secs(10), app.stop())
        .await
        .expect("shutdown is not held up");
}

#[cfg(unix)]
#[tokio::test]
async fn database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    app.user("alice@example.com").await;
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    for file in [path.clone(), format!("{path}-wal")] {
        let mode = std::fs::metadata(&file)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
}
