//! CONTRACT §8 by example: the shapes a client sees (`fields`, `facets`,
//! the cursor paginator), local days, and the messages of the new rules.

use serde_json::json;

use crate::helpers::{TestApp, call, key_order};

async fn shapes(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[
        call(1, json!({"status": "completed", "answered_by": "human", "assistant_name": "A", "campaign_name": "X", "created_at": "2024-01-01T10:00:00Z"})),
        call(2, json!({"status": "failed", "answered_by": null, "assistant_name": "A", "campaign_name": null, "created_at": "2024-01-02T10:00:00Z"})),
        call(3, json!({"status": "completed", "answered_by": "machine", "assistant_name": null, "type": "web", "created_at": "2024-01-03T10:00:00Z"})),
    ]).await;
    let assistant = app.get("/api/user/assistants/get", &token).await.body["data"][0]["id"]
        .as_i64()
        .expect("id");
    let campaign = app.get("/api/user/campaigns", &token).await.body["data"][0]["id"]
        .as_i64()
        .expect("id");

    // `fields`: the contract's order whatever the request's, `id` always.
    let answer = app.list(&token, "fields=status,duration,created_at").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let row = answer.body["data"][0].to_string();
    assert_eq!(key_order(&row), ["id", "duration", "status", "created_at"]);
    // `facets`: counts by dimension beside the page, keys as strings.
    let answer = app
        .list(
            &token,
            "facets=status,answered_by,assistant_id,campaign_id,type&per_page=1",
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.body["facets"],
        json!({
            "status": {"completed": 2, "failed": 1},
            "type": {"outbound": 2, "web": 1},
            "answered_by": {"human": 1, "machine": 1, "null": 1},
            "assistant_id": {assistant.to_string(): 2, "null": 1},
            "campaign_id": {campaign.to_string(): 1, "null": 2},
        })
    );
    let keys = key_order(&answer.text);
    assert_eq!(keys.last().map(String::as_str), Some("facets"));
    assert_eq!(keys[keys.len() - 2], "total");
    // With filters, of the calls matching them.
    let answer = app
        .list(
            &token,
            "facets=status&status[]=completed&status[]=busy&answered_by=human",
        )
        .await;
    assert_eq!(answer.body["facets"], json!({"status": {"completed": 1}}));
    assert_eq!(answer.body["total"], 1);

    // The cursor paginator: Laravel's keys, then `total`.
    let first = app
        .list(&token, "paginate=cursor&per_page=2&fields=id")
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        key_order(&first.text),
        [
            "data",
            "path",
            "per_page",
            "next_cursor",
            "next_page_url",
            "prev_cursor",
            "prev_page_url",
            "total"
        ]
    );
    assert_eq!((first.ids(), &first.body["total"]), (vec![3, 2], &json!(3)));
    assert_eq!(first.body["prev_cursor"], json!(null));
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let next_url = first.body["next_page_url"].as_str().expect("url");
    assert!(
        next_url.ends_with(&format!(
            "/api/user/calls?paginate=cursor&per_page=2&fields=id&cursor={cursor}"
        )),
        "{next_url}"
    );
    let second = app
        .list(&token, &format!("per_page=2&fields=id&cursor={cursor}"))
        .await;
    assert_eq!(second.ids(), [1]);
    assert_eq!(
        (&second.body["next_cursor"], &second.body["next_page_url"]),
        (&json!(null), &json!(null))
    );
    let back = second.body["prev_cursor"].as_str().expect("prev");
    assert_eq!(
        app.list(&token, &format!("per_page=2&cursor={back}"))
            .await
            .ids(),
        [3, 2]
    );
    // A cursor is bound to its filters and sort.
    for other in [
        format!("status=completed&cursor={cursor}"),
        format!("sort=created_at&cursor={cursor}"),
        "cursor=x".to_owned(),
    ] {
        let answer = app.list(&token, &other).await;
        assert_eq!(answer.status, 422, "{other}");
        assert_eq!(
            answer.body,
            json!({"message": "The cursor is invalid.", "errors": {"cursor": ["The cursor is invalid."]}})
        );
    }
}

async fn local_days_and_instants(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    // Around Berlin's spring-forward day, 2024-03-31 (23 hours long).
    app.import(
        &alice,
        &[
            call(1, json!({"created_at": "2024-03-30T22:59:59Z"})), // 23:59:59 on the 30th in Berlin
            call(2, json!({"created_at": "2024-03-30T23:00:00Z"})), // 00:00 on the 31st
            call(3, json!({"created_at": "2024-03-31T21:59:59Z"})), // 23:59:59 on the 31st (summer time)
            call(4, json!({"created_at": "2024-03-31T22:00:00Z"})), // 00:00 on April 1st
            call(5, json!({"created_at": "2024-03-30T18:29:59Z"})), // 23:59:59 on the 30th in Kolkata
        ],
    )
    .await;
    let ids = |answer: crate::helpers::Answer| {
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.ids()
    };
    let berlin = "date_from=2024-03-31&date_to=2024-03-31&timezone=Europe/Berlin";
    assert_eq!(ids(app.list(&token, berlin).await), [3, 2]);
    let utc = "date_from=2024-03-31&date_to=2024-03-31";
    assert_eq!(ids(app.list(&token, utc).await), [4, 3]);
    let kolkata = "date_from=2024-03-31&timezone=Asia/Kolkata&sort=created_at";
    assert_eq!(ids(app.list(&token, kolkata).await), [1, 2, 3, 4]);
    // Instants with offsets, typed as in curl (`+` unencoded) or encoded.
    let after =
        "created_after=2024-03-31T01:00:00+02:00&created_before=2024-04-01T00:00:00%2B02:00";
    assert_eq!(ids(app.list(&token, after).await), [3, 2]);
    let answer = app.list(&token, &format!("{berlin}&facets=status")).await;
    assert_eq!(answer.body["total"], 2);
    assert_eq!(answer.body["facets"], json!({"status": {"completed": 2}}));
}

async fn new_rules_and_their_messages(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    for (query, field, message) in [
        (
            "type[]=inbound&type[]=fax",
            "type.1",
            "The selected type.1 is invalid.",
        ),
        (
            "answered_by=bot",
            "answered_by",
            "The selected answered by is invalid.",
        ),
        (
            "campaign_id[]=x",
            "campaign_id.0",
            "The campaign id.0 field must be an integer.",
        ),
        (
            "duration_min=-5",
            "duration_min",
            "The duration min field must be at least 0.",
        ),
        (
            "duration_max=1.5",
            "duration_max",
            "The duration max field must be an integer.",
        ),
        (
            "duration_min=60&duration_max=30",
            "duration_max",
            "The duration max field must be greater than or equal to 60.",
        ),
        (
            "cost_min=cheap",
            "cost_min",
            "The cost min field must be a number.",
        ),
        (
            "cost_min=0.5&cost_max=0.25",
            "cost_max",
            "The cost max field must be greater than or equal to 0.5.",
        ),
        (
            "created_after=2024-01-15",
            "created_after",
            "The created after field must be a valid date.",
        ),
        (
            "created_before=2024-01-15T10:00:00",
            "created_before",
            "The created before field must be a valid date.",
        ),
        (
            "created_after=2024-01-15T10:00:00Z&created_before=2024-01-15T09:00:00Z",
            "created_before",
            "The created before field must be a date after created after.",
        ),
        (
            "timezone=Europe/Paris2",
            "timezone",
            "The timezone field must be a valid timezone.",
        ),
        (
            "q=%22%22",
            "q",
            "The q field must contain at least one word.",
        ),
        ("sort=name", "sort", "The selected sort is invalid."),
        (
            "fields=id,cost",
            "fields",
            "The selected fields is invalid.",
        ),
        (
            "facets=phone_number",
            "facets",
            "The selected facets is invalid.",
        ),
        (
            "paginate=offset",
            "paginate",
            "The selected paginate is invalid.",
        ),
    ] {
        let answer = app.list(&token, query).await;
        assert_eq!(answer.status, 422, "{query}: {}", answer.body);
        assert_eq!(
            answer.body,
            json!({"message": message, "errors": {field: [message]}}),
            "{query}"
        );
    }
    let answer = app.list(&token, "sort=x&status[]=y&q=%20").await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.body["message"],
        "The selected status.0 is invalid. (and 1 more error)"
    );
    // Accepted: empty array items are not given, and a set that cannot hold
    // matches nothing.
    assert_eq!(app.list(&token, "status[]=&type[]=").await.status, 200);
    assert_eq!(
        app.list(&token, "status=busy&status[]=failed").await.body["total"],
        0
    );
}

backend_tests!(
    shapes,
    local_days_and_instants,
    new_rules_and_their_messages
);
