//! 401 for every way a token can be wrong; 429 past the rate limit.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_with, try_spawn_app_with};

const ROUTES: [(&str, &str); 5] = [
    ("GET", "/api/user/calls"),
    ("GET", "/api/user/calls/1"),
    ("DELETE", "/api/user/calls/1"),
    ("GET", "/api/user/assistants/get"),
    ("GET", "/api/user/campaigns"),
];

async fn expect_401(app: &TestApp, headers: &[(&str, &str)]) {
    for (method, path) in ROUTES {
        let mut request = app.client.request(
            Method::from_bytes(method.as_bytes()).expect("method"),
            app.url(path),
        );
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = crate::helpers::send(request).await;
        assert_eq!(answer.status, 401, "{method} {path} with {headers:?}");
        assert_eq!(answer.body, json!({"message": "Unauthenticated."}));
    }
}

async fn every_auth_failure(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[crate::helpers::call(1, json!({}))])
        .await;
    let bearer = format!("Bearer {token}");
    assert_eq!(app.get("/api/user/calls/1", &token).await.status, 200);

    expect_401(&app, &[]).await;
    expect_401(&app, &[("Authorization", "")]).await;
    expect_401(&app, &[("Authorization", "Bearer")]).await;
    expect_401(&app, &[("Authorization", "Bearer ")]).await;
    expect_401(&app, &[("Authorization", &format!("Basic {token}"))]).await;
    expect_401(&app, &[("Authorization", &token)]).await;
    expect_401(&app, &[("Authorization", "Bearer cb_not-a-real-token")]).await;
    expect_401(&app, &[("Authorization", &format!("{bearer}x"))]).await;
    expect_401(
        &app,
        &[("Authorization", &format!("Bearer {}", "a".repeat(5000)))],
    )
    .await;

    // Expired: a token whose expiry has passed.
    let secret = callbase::token::generate();
    app.store
        .create_token(callbase::store::NewToken {
            user_id: alice.id,
            name: "old".into(),
            hash: callbase::token::hash(&secret),
            prefix: callbase::token::display_prefix(&secret),
            expires_at: Some(callbase::domain::timefmt::now_unix() - 1),
            scope: callbase::store::Scope::Write,
        })
        .await
        .expect("token");
    expect_401(&app, &[("Authorization", &format!("Bearer {secret}"))]).await;

    // Revoked: stops working at once.
    let tokens = app.store.list_tokens(alice.id).await.expect("tokens");
    let id = tokens
        .iter()
        .find(|t| t.name == "test")
        .expect("test token")
        .id;
    assert!(app.store.revoke_token(id).await.expect("revoke"));
    expect_401(&app, &[("Authorization", &bearer)]).await;
    assert!(
        !app.store.revoke_token(id).await.expect("second revoke"),
        "revoking twice reports nothing to do"
    );
}

async fn tokens_are_stored_only_as_hashes(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    let hash = callbase::token::hash(&token);
    // Everything the database holds about tokens, as bytes.
    let stored: Vec<u8> = match app.backend {
        Backend::Sqlite => {
            let path = app.database_url.trim_start_matches("sqlite://").to_owned();
            let mut bytes = std::fs::read(&path).expect("database file");
            bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
            bytes
        }
        Backend::Postgres => {
            let client = crate::helpers::pg_connect(&app.database_url).await;
            let mut bytes = Vec::new();
            let rows = client
                .query(
                    "SELECT token_hash, row_to_json(t)::text FROM api_tokens t",
                    &[],
                )
                .await
                .expect("rows");
            for row in rows {
                bytes.extend(row.get::<_, Vec<u8>>(0));
                bytes.extend(row.get::<_, String>(1).into_bytes());
            }
            bytes
        }
    };
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(token.as_bytes()),
        "the token's secret is in the database"
    );
    assert!(contains(&hash), "the hash is what is stored");
}

/// A list page and a call by id check the token in their own read (one
/// snapshot): the answers must be those of every other route, in the same
/// order (401 before anything else), with the rate limit counted once.
async fn reads_checking_their_own_token(backend: Backend) {
    let Some(app) = try_spawn_app_with(backend, |s| s.rate_limit_per_minute = 9).await else {
        return;
    };
    let (alice, token) = app.user("alice@example.com").await;
    let (_, bob) = app.user("bob@example.com").await;
    app.import(&alice, &[crate::helpers::call(5, json!({}))])
        .await;
    let wrong = "cb_not-a-real-token";
    // 401 first, whatever else is wrong with the request.
    for path in [
        "/api/user/calls?status=bogus",
        "/api/user/calls?per_page=0",
        "/api/user/calls/abc",
        "/api/user/calls/5",
        "/api/user/calls/999",
    ] {
        let answer = app.get(path, wrong).await;
        assert_eq!(answer.status, 401, "{path}");
        assert_eq!(answer.body, json!({"message": "Unauthenticated."}));
        assert_eq!(answer.header("x-ratelimit-limit"), None, "{path}");
        let head = crate::helpers::send(
            app.client
                .head(app.url(path))
                .header("Authorization", format!("Bearer {wrong}")),
        )
        .await;
        assert_eq!(head.status, 401, "HEAD {path}");
    }
    // With a good token: each answer counts once against the limit and
    // carries the headers, refusals included.
    let expect = [
        ("/api/user/calls", 200),
        ("/api/user/calls/5", 200),
        ("/api/user/calls?status=bogus", 422),
        ("/api/user/calls/abc", 404),
        ("/api/user/calls/999", 404),
        ("/api/user/calls?status=completed", 200),
    ];
    for (n, (path, status)) in expect.into_iter().enumerate() {
        let answer = app.get(path, &token).await;
        assert_eq!(answer.status, status, "{path}: {:?}", answer.body);
        assert_eq!(answer.header("x-ratelimit-limit"), Some("9"), "{path}");
        let remaining = (8 - n).to_string();
        assert_eq!(
            answer.header("x-ratelimit-remaining"),
            Some(remaining.as_str()),
            "{path}"
        );
    }
    assert_eq!(app.get("/api/user/calls/5", &token).await.body["id"], 5);
    assert_eq!(app.list(&token, "").await.body["total"], 1);
    let head = crate::helpers::send(
        app.client
            .head(app.url("/api/user/calls/5"))
            .header("Authorization", format!("Bearer {token}")),
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("x-ratelimit-remaining"), Some("0"));
    // Past the limit: 429 from the read's own check, for both routes.
    for path in [
        "/api/user/calls",
        "/api/user/calls/5",
        "/api/user/calls/abc",
    ] {
        let limited = app.get(path, &token).await;
        assert_eq!(limited.status, 429, "{path}");
        assert_eq!(limited.body["message"], "Too Many Attempts.");
        assert!(limited.header("retry-after").is_some(), "{path}");
    }
    // Another user's call is not found, and the limit is per user.
    let foreign = app.get("/api/user/calls/5", &bob).await;
    assert_eq!(foreign.status, 404);
    assert_eq!(foreign.body, json!({"message": "Call not found"}));
    assert_eq!(app.list(&bob, "").await.body["total"], 0);
}

/// The token, the total and the rows of a page come from one snapshot:
/// while calls are imported one by one (ids in order, so the newest call's id
/// is the count), every page's first row is the call its total counts last.
async fn pages_are_one_snapshot_while_importing(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let store = app.store.clone();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let importing = stop.clone();
    let importer = tokio::spawn(async move {
        let mut id = 0;
        while !importing.load(std::sync::atomic::Ordering::Relaxed) {
            id += 1;
            let line = format!("{}\n", crate::helpers::call(id, json!({})));
            callbase::import::import_source(
                store.as_ref(),
                alice.id,
                std::io::Cursor::new(line.into_bytes()),
                |r| panic!("fixture rejected: {}", r.reason),
                |_| {},
            )
            .await
            .expect("import");
        }
        id
    });
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let page = app.list(&token, "per_page=1").await;
        assert_eq!(page.status, 200);
        let total = page.body["total"].as_i64().expect("total");
        let newest = page.body["data"][0]["id"].as_i64().unwrap_or(0);
        assert_eq!(newest, total, "rows and total from one snapshot");
        seen.insert(total);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let imported = importer.await.expect("importer");
    assert_eq!(app.list(&token, "").await.body["total"], imported);
    assert!(seen.len() > 10, "the pages saw the imports land: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_checking_their_own_token_sqlite() {
    reads_checking_their_own_token(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_checking_their_own_token_postgres() {
    reads_checking_their_own_token(Backend::Postgres).await;
}

backend_tests!(
    every_auth_failure,
    tokens_are_stored_only_as_hashes,
    pages_are_one_snapshot_while_importing
);

#[tokio::test]
async fn rate_limit_answers_429_with_headers() {
    let app = spawn_app_with(Backend::Sqlite, |s| s.rate_limit_per_minute = 3).await;
    let (_, token) = app.user("alice@example.com").await;
    let (_, other) = app.user("bob@example.com").await;
    for remaining in ["2", "1", "0"] {
        let answer = app.list(&token, "").await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(answer.header("x-ratelimit-remaining"), Some(remaining));
    }
    let limited = app.list(&token, "").await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.body["message"], "Too Many Attempts.");
    let retry_after = limited.body["retry_after"].as_u64().expect("retry_after");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        limited.header("retry-after"),
        Some(retry_after.to_string().as_str())
    );
    assert_eq!(limited.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    let reset: i64 = limited
        .header("x-ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("number");
    assert!(reset > callbase::domain::timefmt::now_unix());
    // Limits are per user.
    assert_eq!(app.list(&other, "").await.status, 200);
}
