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
        ("POST", "/api/user/calls", "api/user/calls", "GET, HEAD"),
        ("DELETE", "/api/user/calls", "api/user/calls", "GET, HEAD"),
        (
            "PUT",
            "/api/user/calls/5",
            "api/user/calls/5",
            "GET, HEAD, DELETE",
        ),
        (
            "PATCH",
            "/api/user/calls/5",
            "api/user/calls/5",
            "GET, HEAD, DELETE",
        ),
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
            "GET, HEAD",
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
    corrupt_status(&app, 2).await;
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

backend_tests!(
    unknown_routes_and_methods,
    head_request_ids_and_json_everywhere,
    long_uris_are_refused,
    health_answers_without_auth,
    trailing_slashes_are_ignored,
    internal_errors_are_opaque,
);

/// When the database does not answer (here: another process holds the SQLite
/// file's write lock), health says 503, and recovers after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_503_when_the_database_does_not_answer() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    let locker = rusqlite_lock(&path);
    let answer = app.request(Method::GET, "/health", None).await;
    assert_eq!(
        (answer.status.as_u16(), &answer.body),
        (503, &json!({"status": "unavailable"}))
    );
    drop(locker);
    // The blocked probe may still hold a reader for the rest of its busy wait;
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

/// Takes the database's write lock from another connection and holds it.
fn rusqlite_lock(path: &str) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.execute_batch("BEGIN IMMEDIATE; UPDATE schema_migrations SET name = name;")
        .expect("lock");
    conn
}

/// Shutdown waits for requests in flight: a delete blocked on a locked database
/// still gets its answer after shutdown was asked for, and then the server stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_requests_in_flight() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[crate::helpers::call(1, json!({}))])
        .await;
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    let locker = rusqlite_lock(&path);
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
    drop(locker);
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

/// Writes an impossible status code into a call, behind the service's back.
async fn corrupt_status(app: &TestApp, id: i64) {
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    let conn = rusqlite::Connection::open(path).expect("open");
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .expect("timeout");
    conn.execute("UPDATE calls SET status = 99 WHERE id = ?1", [id])
        .expect("corrupt");
}

/// A request that outlives `--request-timeout` is answered 503 in JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_with_503() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        s.limits.request_timeout = std::time::Duration::from_millis(500);
    })
    .await;
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[crate::helpers::call(1, json!({}))])
        .await;
    let path = app.database_url.trim_start_matches("sqlite://").to_owned();
    let locker = rusqlite_lock(&path);
    let answer = app.delete("/api/user/calls/1", &token).await;
    assert_eq!(
        (answer.status.as_u16(), &answer.body),
        (503, &json!({"message": "Service Unavailable"}))
    );
    drop(locker);
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
