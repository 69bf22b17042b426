//! 401 for every way a token can be wrong; 429 past the rate limit.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_with};

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

backend_tests!(every_auth_failure, tokens_are_stored_only_as_hashes);

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
