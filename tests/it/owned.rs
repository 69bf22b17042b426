//! Assistants and campaigns: listed per user, created by import.

use serde_json::{Value, json};

use crate::helpers::{TestApp, call, key_order};

async fn assistants_are_paginated_and_private(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (bob, bob_token) = app.user("bob@example.com").await;
    let calls: Vec<Value> = (1..=12)
        .map(|i| call(i, json!({"assistant_name": format!("Assistant {i:02}")})))
        .collect();
    app.import(&alice, &calls).await;
    app.import(&bob, &[call(100, json!({"assistant_name": "Bob's"}))])
        .await;

    let first = app.get("/api/user/assistants/get", &token).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["per_page"], 10);
    assert_eq!(first.body["total"], 12);
    assert_eq!(first.body["last_page"], 2);
    assert_eq!(first.body["data"].as_array().map(Vec::len), Some(10));
    let one = &first.body["data"][0];
    let fields = [
        "id",
        "user_id",
        "name",
        "status",
        "phone_number",
        "is_webhook_active",
        "webhook_url",
        "send_webhook_only_on_completed",
        "include_recording_in_webhook",
        "created_at",
        "updated_at",
    ];
    assert_eq!(key_order(&one.to_string()), fields);
    assert_eq!(one["is_webhook_active"], false);
    assert_eq!(one["send_webhook_only_on_completed"], true);
    assert_eq!(one["user_id"], alice.id);
    assert_eq!(one["status"], "active");
    for field in [
        "id",
        "user_id",
        "name",
        "status",
        "created_at",
        "updated_at",
    ] {
        assert!(!one[field].is_null(), "{field}");
    }
    let second = app
        .get("/api/user/assistants/get?per_page=10&page=2", &token)
        .await;
    assert_eq!(second.body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        second.body["prev_page_url"],
        app.url("/api/user/assistants/get?per_page=10&page=1")
    );
    let mut names: Vec<String> = [first.body["data"].clone(), second.body["data"].clone()]
        .iter()
        .flat_map(|d| d.as_array().cloned().unwrap_or_default())
        .map(|a| a["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        (1..=12)
            .map(|i| format!("Assistant {i:02}"))
            .collect::<Vec<_>>()
    );

    let bobs = app.get("/api/user/assistants/get", &bob_token).await.body;
    assert_eq!(bobs["total"], 1);
    assert_eq!(bobs["data"][0]["name"], "Bob's");

    let bad = app
        .get("/api/user/assistants/get?per_page=101", &token)
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.body["errors"]["per_page"],
        json!(["The per page field must not be greater than 100."])
    );
}

async fn campaigns_list_the_users_own(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (bob, bob_token) = app.user("bob@example.com").await;
    app.import(
        &alice,
        &[
            call(1, json!({"campaign_name": "Q1"})),
            call(2, json!({"campaign_name": "Q2"})),
            call(3, json!({"campaign_name": "Q1"})),
        ],
    )
    .await;
    app.import(&bob, &[call(4, json!({"campaign_name": "Q1"}))])
        .await;

    let answer = app.get("/api/user/campaigns", &token).await;
    assert_eq!(answer.status, 200);
    assert_eq!(key_order(&answer.text), ["data"]);
    let data = answer.body["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.len(), 2);
    assert_eq!(key_order(&data[0].to_string()).len(), 5);
    let mut names: Vec<&str> = data.iter().filter_map(|c| c["name"].as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Q1", "Q2"]);
    let bobs = app.get("/api/user/campaigns", &bob_token).await.body;
    assert_eq!(bobs["data"].as_array().map(Vec::len), Some(1));
    assert_ne!(
        bobs["data"][0]["id"],
        data.iter().find(|c| c["name"] == "Q1").expect("Q1")["id"]
    );
    // Campaign names show on the calls.
    assert_eq!(
        app.get("/api/user/calls/3", &token).await.body["campaign_name"],
        "Q1"
    );
}

backend_tests!(
    assistants_are_paginated_and_private,
    campaigns_list_the_users_own
);
