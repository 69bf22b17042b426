//! 422 answers: every validation message alone, and several at once.

use serde_json::json;

use crate::helpers::{TestApp, call};

/// Asserts a 422 naming exactly these fields and messages, in this order.
async fn expect_422(app: &TestApp, token: &str, query: &str, expected: &[(&str, &str)]) {
    let answer = app.list(token, query).await;
    assert_eq!(answer.status, 422, "{query}: {}", answer.body);
    let others = expected.len() - 1;
    let summary = match others {
        0 => expected[0].1.to_owned(),
        1 => format!("{} (and 1 more error)", expected[0].1),
        n => format!("{} (and {n} more errors)", expected[0].1),
    };
    let mut errors = serde_json::Map::new();
    for (field, message) in expected {
        errors.insert((*field).to_owned(), json!([message]));
    }
    assert_eq!(
        answer.body,
        json!({"message": summary, "errors": errors}),
        "{query}"
    );
    let order: Vec<String> = crate::helpers::key_order(&answer.text);
    assert_eq!(order, ["message", "errors"]);
    let field_order = answer
        .text
        .find("\"errors\":")
        .map(|i| crate::helpers::key_order(&answer.text[i + 9..answer.text.len() - 1]));
    assert_eq!(
        field_order,
        Some(
            expected
                .iter()
                .map(|(f, _)| (*f).to_owned())
                .collect::<Vec<_>>()
        ),
        "{query}"
    );
}

async fn every_message_alone(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[call(1, json!({}))]).await;
    let cases: &[(&str, &str, &str)] = &[
        ("status=done", "status", "The selected status is invalid."),
        (
            "status=in_progress",
            "status",
            "The selected status is invalid.",
        ),
        (
            "status=Completed",
            "status",
            "The selected status is invalid.",
        ),
        (
            "status[]=completed&status[]=done",
            "status.1",
            "The selected status.1 is invalid.",
        ),
        ("type=phone", "type", "The selected type is invalid."),
        (
            "assistant_id=abc",
            "assistant_id",
            "The assistant id field must be an integer.",
        ),
        (
            "assistant_id=1.5",
            "assistant_id",
            "The assistant id field must be an integer.",
        ),
        (
            "campaign_id=x1",
            "campaign_id",
            "The campaign id field must be an integer.",
        ),
        (
            "per_page=ten",
            "per_page",
            "The per page field must be an integer.",
        ),
        (
            "per_page=0",
            "per_page",
            "The per page field must be at least 1.",
        ),
        (
            "per_page=-3",
            "per_page",
            "The per page field must be at least 1.",
        ),
        // Laravel's `integer` is PHP's FILTER_VALIDATE_INT: no leading zeros.
        (
            "per_page=015",
            "per_page",
            "The per page field must be an integer.",
        ),
        (
            "assistant_id=007",
            "assistant_id",
            "The assistant id field must be an integer.",
        ),
        (
            "per_page=101",
            "per_page",
            "The per page field must not be greater than 100.",
        ),
        (
            "date_from=15.01.2024",
            "date_from",
            "The date from field must match the format Y-m-d.",
        ),
        (
            "date_from=2024-02-30",
            "date_from",
            "The date from field must match the format Y-m-d.",
        ),
        (
            "date_to=2024-1-5",
            "date_to",
            "The date to field must match the format Y-m-d.",
        ),
        (
            "date_to=2024-01-15T00:00:00Z",
            "date_to",
            "The date to field must match the format Y-m-d.",
        ),
        (
            "date_from=2024-01-16&date_to=2024-01-15",
            "date_to",
            "The date to field must be a date after or equal to date from.",
        ),
    ];
    for (query, field, message) in cases {
        expect_422(&app, &token, query, &[(field, message)]).await;
    }
    // Valid edge values pass.
    for query in [
        "per_page=1",
        "per_page=100",
        "assistant_id=-1",
        "campaign_id=%2B7",
        "date_from=2024-01-15&date_to=2024-01-15",
    ] {
        assert_eq!(app.list(&token, query).await.status, 200, "{query}");
    }
}

async fn several_messages_at_once(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    expect_422(
        &app,
        &token,
        "per_page=0&status=nope",
        &[
            ("status", "The selected status is invalid."),
            ("per_page", "The per page field must be at least 1."),
        ],
    )
    .await;
    expect_422(
        &app,
        &token,
        "date_to=x&type=y&campaign_id=z&assistant_id=q&date_from=2024-13-01&per_page=1000&status=s",
        &[
            ("status", "The selected status is invalid."),
            ("type", "The selected type is invalid."),
            ("assistant_id", "The assistant id field must be an integer."),
            ("campaign_id", "The campaign id field must be an integer."),
            (
                "date_from",
                "The date from field must match the format Y-m-d.",
            ),
            ("date_to", "The date to field must match the format Y-m-d."),
            (
                "per_page",
                "The per page field must not be greater than 100.",
            ),
        ],
    )
    .await;
}

backend_tests!(every_message_alone, several_messages_at_once);
