//! `GET /api/user/calls`: filters alone and combined, date boundaries, order.

use serde_json::json;

use crate::helpers::{CALL_FIELDS, TestApp, call, key_order};

/// Ids of every call matching a query (one page of 100 is enough here).
async fn ids(app: &TestApp, token: &str, query: &str) -> Vec<i64> {
    let answer = app.list(token, &format!("per_page=100&{query}")).await;
    assert_eq!(answer.status, 200, "{query}: {}", answer.body);
    assert_eq!(
        answer.body["total"].as_u64(),
        Some(answer.ids().len() as u64),
        "{query}"
    );
    answer.ids()
}

async fn each_filter_alone(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (bob, bob_token) = app.user("bob@example.com").await;
    app.import(&alice, &[
        call(1, json!({"status": "completed", "type": "outbound", "assistant_name": "Sales", "campaign_name": "Q1",
            "client_phone_number": "+4915123456789", "created_at": "2024-01-10T08:00:00Z"})),
        call(2, json!({"status": "no-answer", "type": "inbound", "assistant_name": "Support", "campaign_name": null,
            "client_phone_number": "+4917000000000", "created_at": "2024-01-11T08:00:00Z"})),
        call(3, json!({"status": "ended_by_customer", "type": "web", "assistant_name": "Sales", "campaign_name": "Q2",
            "client_phone_number": null, "assistant_phone_number": null, "created_at": "2024-01-12T08:00:00Z"})),
        call(4, json!({"status": "completed", "type": "inbound", "assistant_name": null, "campaign_name": "Q1",
            "client_phone_number": "0049 151 2345 6789", "created_at": "2024-01-13T08:00:00Z"})),
    ]).await;
    app.import(
        &bob,
        &[call(
            5,
            json!({"status": "completed", "assistant_name": "Sales", "campaign_name": "Q1"}),
        )],
    )
    .await;

    let assistants = app.get("/api/user/assistants/get", &token).await.body;
    let id_of = |list: &serde_json::Value, name: &str| {
        list["data"]
            .as_array()
            .expect("data")
            .iter()
            .find(|a| a["name"] == name)
            .and_then(|a| a["id"].as_i64())
            .expect(name)
    };
    let sales = id_of(&assistants, "Sales");
    let support = id_of(&assistants, "Support");
    let campaigns = app.get("/api/user/campaigns", &token).await.body;
    let q1 = id_of(&campaigns, "Q1");
    let q2 = id_of(&campaigns, "Q2");
    let bob_sales = id_of(
        &app.get("/api/user/assistants/get", &bob_token).await.body,
        "Sales",
    );
    let bob_q1 = id_of(&app.get("/api/user/campaigns", &bob_token).await.body, "Q1");

    assert_eq!(ids(&app, &token, "").await, [4, 3, 2, 1]);
    assert_eq!(ids(&app, &token, "status=completed").await, [4, 1]);
    assert_eq!(ids(&app, &token, "status=no-answer").await, [2]);
    assert_eq!(ids(&app, &token, "status=ended_by_customer").await, [3]);
    assert_eq!(ids(&app, &token, "status=failed").await, Vec::<i64>::new());
    assert_eq!(ids(&app, &token, "type=inbound").await, [4, 2]);
    assert_eq!(ids(&app, &token, "type=web").await, [3]);
    assert_eq!(ids(&app, &token, "type=outbound").await, [1]);
    assert_eq!(
        ids(&app, &token, &format!("assistant_id={sales}")).await,
        [3, 1]
    );
    assert_eq!(
        ids(&app, &token, &format!("assistant_id={support}")).await,
        [2]
    );
    assert_eq!(
        ids(&app, &token, &format!("campaign_id={q1}")).await,
        [4, 1]
    );
    assert_eq!(ids(&app, &token, &format!("campaign_id={q2}")).await, [3]);
    assert_eq!(ids(&app, &token, "date_from=2024-01-12").await, [4, 3]);
    assert_eq!(ids(&app, &token, "date_to=2024-01-11").await, [2, 1]);
    assert_eq!(
        ids(&app, &token, "date_from=2024-01-11&date_to=2024-01-12").await,
        [3, 2]
    );

    // Phone numbers compare after normalisation, on both sides.
    for query in [
        "phone_number=%2B4915123456789",
        "phone_number=0049151%2023456789",
        "phone_number=%2B49%20(151)%2023456-789",
        "phone_number=%2B49.151.234/56789",
    ] {
        assert_eq!(ids(&app, &token, query).await, [4, 1], "{query}");
    }
    assert_eq!(
        ids(&app, &token, "phone_number=%2B4917000000000").await,
        [2]
    );
    // A literal leading `+`, as typed into curl, is a plus, not a space.
    assert_eq!(ids(&app, &token, "phone_number=+4917000000000").await, [2]);
    assert_eq!(
        ids(&app, &token, "phone_number=+49%20151%2023456789").await,
        [4, 1]
    );
    assert_eq!(
        ids(&app, &token, "phone_number=%2B4900000").await,
        Vec::<i64>::new()
    );

    // Another user's assistant or campaign id is no error: it matches nothing.
    for query in [
        format!("assistant_id={bob_sales}"),
        format!("campaign_id={bob_q1}"),
        "assistant_id=999999".to_owned(),
    ] {
        let answer = app.list(&token, &query).await;
        assert_eq!(
            (answer.status.as_u16(), answer.body["total"].as_u64()),
            (200, Some(0)),
            "{query}"
        );
    }
    // Bob sees only his own call.
    assert_eq!(ids(&app, &bob_token, "").await, [5]);
    assert_eq!(
        ids(&app, &bob_token, &format!("assistant_id={sales}")).await,
        Vec::<i64>::new()
    );
}

async fn filters_combine(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let mut calls = Vec::new();
    let statuses = ["completed", "busy", "failed"];
    let types = ["inbound", "outbound", "web"];
    for id in 1..=27 {
        let i = usize::try_from(id).expect("small") - 1;
        calls.push(call(
            id,
            json!({
                "status": statuses[i % 3],
                "type": types[(i / 3) % 3],
                "created_at": format!("2024-03-{:02}T12:00:00Z", 1 + i / 9),
                "assistant_name": if i % 2 == 0 { "Even" } else { "Odd" },
            }),
        ));
    }
    app.import(&alice, &calls).await;
    // The seed's example query, plus every other filter at once.
    let got = ids(
        &app,
        &token,
        "status=completed&type=outbound&date_from=2024-03-01&per_page=25",
    )
    .await;
    assert_eq!(got, [22, 13, 4]);
    let got = ids(
        &app,
        &token,
        "status=busy&type=web&date_from=2024-03-02&date_to=2024-03-02",
    )
    .await;
    assert_eq!(got, [17]);
    let assistants = app.get("/api/user/assistants/get", &token).await.body;
    let even = assistants["data"]
        .as_array()
        .expect("data")
        .iter()
        .find(|a| a["name"] == "Even")
        .expect("Even")["id"]
        .clone();
    let got = ids(
        &app,
        &token,
        &format!("status=completed&assistant_id={even}&date_to=2024-03-02"),
    )
    .await;
    assert_eq!(got, [13, 7, 1]);
    let got = ids(
        &app,
        &token,
        &format!("status=failed&assistant_id={even}&type=inbound"),
    )
    .await;
    assert_eq!(got, [21, 3]);
}

async fn date_boundaries_are_whole_utc_days(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(
        &alice,
        &[
            call(1, json!({"created_at": "2024-01-14T23:59:59Z"})),
            call(2, json!({"created_at": "2024-01-15T00:00:00Z"})),
            call(3, json!({"created_at": "2024-01-15T23:59:59Z"})),
            call(4, json!({"created_at": "2024-01-16T00:00:00Z"})),
            // 01:30 at +02:00 is still the 14th in UTC.
            call(5, json!({"created_at": "2024-01-15T01:30:00+02:00"})),
        ],
    )
    .await;
    assert_eq!(ids(&app, &token, "date_from=2024-01-15").await, [4, 3, 2]);
    assert_eq!(ids(&app, &token, "date_to=2024-01-15").await, [3, 2, 1, 5]);
    assert_eq!(
        ids(&app, &token, "date_from=2024-01-15&date_to=2024-01-15").await,
        [3, 2]
    );
    assert_eq!(
        ids(&app, &token, "date_from=2024-01-16&date_to=2024-01-16").await,
        [4]
    );
    assert_eq!(ids(&app, &token, "date_to=2024-01-14").await, [1, 5]);
}

async fn same_second_falls_back_to_id(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    // Imported out of order on purpose.
    app.import(
        &alice,
        &[
            call(20, json!({"created_at": "2024-01-15T10:30:00Z"})),
            call(7, json!({"created_at": "2024-01-15T10:30:00Z"})),
            call(31, json!({"created_at": "2024-01-15T10:30:00Z"})),
            call(9, json!({"created_at": "2024-01-15T10:30:01Z"})),
            call(40, json!({"created_at": "2024-01-15T10:29:59Z"})),
        ],
    )
    .await;
    assert_eq!(ids(&app, &token, "").await, [9, 31, 20, 7, 40]);
    // Pages of one never repeat or skip a row.
    let mut paged = Vec::new();
    for page in 1..=5 {
        paged.extend(
            app.list(&token, &format!("per_page=1&page={page}"))
                .await
                .ids(),
        );
    }
    assert_eq!(paged, [9, 31, 20, 7, 40]);
}

async fn empty_and_unknown_parameters_are_ignored(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(
        &alice,
        &[call(1, json!({})), call(2, json!({"status": "busy"}))],
    )
    .await;
    let answer = app
        .list(&token, "status=&type=&phone_number=&assistant_id=&campaign_id=&date_from=&date_to=&per_page=&page=&limit=5&foo=bar")
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.ids(), [2, 1]);
    assert_eq!(answer.body["per_page"], 15);
    // Laravel trims input: surrounding spaces do not matter.
    assert_eq!(ids(&app, &token, "status=%20busy%20").await, [2]);
}

async fn call_objects_have_the_contract_shape(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let original = call(123456, json!({"campaign_name": "Neukundenakquise Q1 2024"}));
    app.import(&alice, &[original.clone(), call(123457, json!({
        "assistant_name": null, "campaign_name": null, "type": "web", "duration": 0,
        "assistant_phone_number": null, "client_phone_number": null, "status": "failed",
        "transcript": [], "variables": {}, "evaluation": [], "webhook_response": null,
        "carrier_cost": null, "total_cost": null, "answered_by": null, "recording_url": null,
        "created_at": "2024-01-14T10:30:00Z", "updated_at": "2024-01-14T10:30:00Z"
    }))]).await;

    let list = app.list(&token, "").await;
    assert_eq!(list.status, 200);
    assert_eq!(list.body["data"][0], original);
    let empty = &list.body["data"][1];
    assert_eq!(empty["transcript"], json!([]));
    assert_eq!(empty["variables"], json!({}));
    assert_eq!(empty["evaluation"], json!([]));
    for field in [
        "assistant_name",
        "campaign_name",
        "webhook_response",
        "carrier_cost",
        "total_cost",
        "answered_by",
        "recording_url",
        "assistant_phone_number",
        "client_phone_number",
    ] {
        assert!(empty[field].is_null(), "{field}");
    }
    // Money is written as exact decimals.
    assert!(
        list.text
            .contains("\"carrier_cost\":0.08,\"total_cost\":0.12"),
        "{}",
        list.text
    );

    let get = app.get("/api/user/calls/123456", &token).await;
    assert_eq!(get.status, 200);
    assert_eq!(get.body, original);
    assert_eq!(key_order(&get.text), CALL_FIELDS);
    assert_eq!(get.body, list.body["data"][0]);
}

backend_tests!(
    each_filter_alone,
    filters_combine,
    date_boundaries_are_whole_utc_days,
    same_second_falls_back_to_id,
    empty_and_unknown_parameters_are_ignored,
    call_objects_have_the_contract_shape,
);
