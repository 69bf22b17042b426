//! `GET` and `DELETE /api/user/calls/{id}`, including other users' ids.

use serde_json::json;

use crate::helpers::{TestApp, call};

async fn get_answers_the_bare_call_or_404(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (bob, bob_token) = app.user("bob@example.com").await;
    let mine = call(10, json!({}));
    app.import(&alice, std::slice::from_ref(&mine)).await;
    app.import(&bob, &[call(20, json!({}))]).await;

    let answer = app.get("/api/user/calls/10", &token).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, mine, "not wrapped in data");

    let not_found = json!({"message": "Call not found"});
    for path in [
        "/api/user/calls/20",
        "/api/user/calls/999",
        "/api/user/calls/abc",
        "/api/user/calls/1.5",
        "/api/user/calls/-1",
        "/api/user/calls/99999999999999999999999",
    ] {
        let answer = app.get(path, &token).await;
        assert_eq!(
            (answer.status.as_u16(), &answer.body),
            (404, &not_found),
            "{path}"
        );
    }
    // Bob's own call is there for Bob.
    assert_eq!(app.get("/api/user/calls/20", &bob_token).await.status, 200);
    // A string id with a sign or leading zeros still names the call.
    assert_eq!(app.get("/api/user/calls/010", &token).await.body, mine);
}

async fn delete_removes_for_good(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (bob, bob_token) = app.user("bob@example.com").await;
    app.import(
        &alice,
        &[
            call(1, json!({})),
            call(2, json!({"created_at": "2024-01-16T00:00:00Z"})),
        ],
    )
    .await;
    app.import(&bob, &[call(3, json!({}))]).await;
    let gone = json!({"message": "Call not found or does not belong to the authenticated user"});

    // Another user's id: 404, and the call stays.
    let answer = app.delete("/api/user/calls/3", &token).await;
    assert_eq!((answer.status.as_u16(), &answer.body), (404, &gone));
    assert_eq!(app.get("/api/user/calls/3", &bob_token).await.status, 200);

    let answer = app.delete("/api/user/calls/1", &token).await;
    assert_eq!(
        (answer.status.as_u16(), &answer.body),
        (200, &json!({"message": "Call deleted successfully"}))
    );
    assert_eq!(app.get("/api/user/calls/1", &token).await.status, 404);
    let list = app.list(&token, "").await;
    assert_eq!(
        (list.ids(), list.body["total"].clone()),
        (vec![2], json!(1))
    );

    for path in [
        "/api/user/calls/1",
        "/api/user/calls/abc",
        "/api/user/calls/0",
    ] {
        let answer = app.delete(path, &token).await;
        assert_eq!(
            (answer.status.as_u16(), &answer.body),
            (404, &gone),
            "{path}"
        );
    }
    // Clients send JSON headers on DELETE too.
    let answer = crate::helpers::send(
        app.client
            .delete(app.url("/api/user/calls/2"))
            .bearer_auth(&token)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json"),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(app.list(&token, "").await.body["total"], 0);
}

backend_tests!(get_answers_the_bare_call_or_404, delete_removes_for_good);
