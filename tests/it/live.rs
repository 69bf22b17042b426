//! Live calls over HTTP: make_call, the write API, refused transitions,
//! idempotent retries, read-only tokens, assistant and campaign management.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Answer, STATUSES, TestApp, call};

/// The storage code of a status: its 1-based place in the contract's list
/// (the schema's comment says so).
fn status_code(status: &str) -> i64 {
    STATUSES
        .iter()
        .position(|s| *s == status)
        .map(|i| i as i64 + 1)
        .expect("a status")
}

/// Every status's list total equals a plain count of the rows.
async fn assert_totals_exact(app: &TestApp, token: &str, user_id: i64) {
    // The stats' sums from the rollups equal those from rows
    // (`duration_min=0` matches every call, but no rollup answers it).
    for params in ["interval=month", "interval=day&timezone=Asia/Kolkata"] {
        let rollups = app
            .get(&format!("/api/user/calls/stats?{params}"), token)
            .await;
        let rows = app
            .get(
                &format!("/api/user/calls/stats?{params}&duration_min=0"),
                token,
            )
            .await;
        assert_eq!(rollups.status, 200, "{}", rollups.body);
        assert_eq!(rollups.body, rows.body, "stats?{params}");
    }
    for status in ["initiated", "ringing", "in-progress", "completed", "busy"] {
        let listed = app.list(token, &format!("status={status}")).await;
        let counted = app
            .query_ints(&format!(
                "SELECT count(*) FROM calls WHERE user_id = {user_id} AND status = {}",
                status_code(status)
            ))
            .await;
        assert_eq!(
            listed.body["total"].as_i64(),
            Some(counted[0]),
            "total for {status}"
        );
    }
    for (query, condition) in [
        ("type=outbound", "type = 2".to_owned()),
        ("type=inbound", "type = 1".to_owned()),
        (
            "type=outbound&status=in-progress",
            "type = 2 AND status = 4".to_owned(),
        ),
        (
            "date_from=2020-01-01&date_to=2100-12-31",
            "created_at BETWEEN 1577836800 AND 4133980799".to_owned(),
        ),
    ] {
        let listed = app.list(token, query).await;
        let counted = app
            .query_ints(&format!(
                "SELECT count(*) FROM calls WHERE user_id = {user_id} AND {condition}"
            ))
            .await;
        assert_eq!(listed.body["total"].as_i64(), Some(counted[0]), "{query}");
    }
    let assistants = app
        .query_ints(&format!(
            "SELECT DISTINCT assistant_id FROM calls WHERE user_id = {user_id} AND assistant_id IS NOT NULL"
        ))
        .await;
    for assistant in assistants {
        let counted = app
            .query_ints(&format!(
                "SELECT count(*) FROM calls WHERE user_id = {user_id} AND assistant_id = {assistant}"
            ))
            .await;
        let listed = app.list(token, &format!("assistant_id={assistant}")).await;
        assert_eq!(listed.body["total"].as_i64(), Some(counted[0]));
    }
    let all = app.list(token, "").await;
    let counted = app
        .query_ints(&format!(
            "SELECT count(*) FROM calls WHERE user_id = {user_id}"
        ))
        .await;
    assert_eq!(all.body["total"].as_i64(), Some(counted[0]));
}

async fn create_assistant(app: &TestApp, token: &str, body: Value) -> (i64, String) {
    let answer = app.post("/api/user/assistant", token, body).await;
    assert_eq!(answer.status, 201, "{}", answer.text);
    (
        answer.body["data"]["id"].as_i64().expect("id"),
        answer.body["webhook_secret"]
            .as_str()
            .expect("secret")
            .to_owned(),
    )
}

async fn live_call_story(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (assistant, _) = create_assistant(
        &app,
        &token,
        json!({"name": "Sales bot", "phone_number": "+4930123456"}),
    )
    .await;

    // make_call: Famulor's answer, a call in status initiated.
    let answer = app
        .post(
            "/api/user/make_call",
            &token,
            json!({"phone_number": "+491511234567", "assistant_id": assistant.to_string(),
                   "variables": {"customer_name": "Jana"}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let id = answer.body["call_id"].as_i64().expect("call_id");
    assert_eq!(
        answer.body,
        json!({"message": "Call initiated successfully", "call_id": id, "status": "initiated"})
    );
    let path = format!("/api/user/calls/{id}");
    let got = app.get(&path, &token).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body["status"], "initiated");
    assert_eq!(got.body["type"], "outbound");
    assert_eq!(got.body["assistant_name"], "Sales bot");
    assert_eq!(got.body["assistant_phone_number"], "+4930123456");
    assert_eq!(got.body["client_phone_number"], "+491511234567");
    assert_eq!(got.body["variables"], json!({"customer_name": "Jana"}));
    assert_eq!(got.body["transcript"], json!([]));
    assert_eq!(got.body["webhook_response"], Value::Null);
    let listed = app.list(&token, "").await;
    assert_eq!(listed.body["total"], 1);
    assert_eq!(listed.body["data"][0], got.body, "list and get agree");
    assert_totals_exact(&app, &token, alice.id).await;

    // ringing, then in-progress.
    for status in ["ringing", "in-progress"] {
        let answer = app.patch(&path, &token, json!({"status": status})).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.body["status"], status);
        assert_eq!(app.get(&path, &token).await.body, answer.body);
        let filtered = app.list(&token, &format!("status={status}")).await;
        assert_eq!(filtered.ids(), vec![id]);
        assert_totals_exact(&app, &token, alice.id).await;
    }

    // Transcript segments, sent out of order, come back in time order.
    let append = |segments: Value| {
        let app = &app;
        let path = format!("{path}/transcript");
        let token = token.clone();
        async move { app.post(&path, &token, json!({"segments": segments})).await }
    };
    let first = append(json!([
        {"text": "Hallo, hier ist Jana.", "sender": "human", "timestamp": 1754055270.5},
    ]))
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let second = append(json!([
        {"text": "Guten Tag! Wie kann ich helfen?", "sender": "bot", "timestamp": 1754055268.525861},
        {"text": "Ich rufe wegen der Rechnung an.", "sender": "human", "timestamp": 1754055275},
    ]))
    .await;
    assert_eq!(second.status, 200);
    let transcript = &second.body["transcript"];
    let texts: Vec<&str> = transcript
        .as_array()
        .expect("array")
        .iter()
        .map(|s| s["text"].as_str().expect("text"))
        .collect();
    assert_eq!(
        texts,
        [
            "Guten Tag! Wie kann ich helfen?",
            "Hallo, hier ist Jana.",
            "Ich rufe wegen der Rechnung an."
        ]
    );
    assert_eq!(
        transcript[0],
        json!({"text": "Guten Tag! Wie kann ich helfen?", "type": "transcript", "sender": "bot", "timestamp": 1754055268.525861})
    );
    assert_eq!(app.get(&path, &token).await.body, second.body);
    assert_eq!(app.list(&token, "").await.body["data"][0], second.body);
    assert!(
        second.text.contains(r#"{"text":"Guten Tag! Wie kann ich helfen?","type":"transcript","sender":"bot","timestamp":1754055268.525861}"#),
        "the contract's key order, the timestamp spelled as sent: {}",
        second.text
    );

    // Evaluation, costs, recording; then the final status.
    let answer = app
        .patch(
            &path,
            &token,
            json!({
                "answered_by": "human",
                "evaluation": [{"name": "interested", "type": "bool", "value": true, "description": "Wants an offer"}],
                "carrier_cost": "0.0123", "total_cost": 0.08,
                "recording_url": "https://recordings.example.com/a.mp3",
                "variables": {"customer_name": "Jana", "topic": "invoice"},
            }),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["answered_by"], "human");
    assert_eq!(answer.body["carrier_cost"], json!(0.0123));
    assert!(answer.text.contains(r#""total_cost":0.08"#));
    assert!(
        answer.text.contains(r#""evaluation":[{"name":"interested","type":"bool","value":true,"description":"Wants an offer"}]"#),
        "evaluation kept in the contract's key order: {}",
        answer.text
    );
    assert!(
        answer
            .text
            .contains(r#""variables":{"customer_name":"Jana","topic":"invoice"}"#)
    );
    let before_final = answer.body["updated_at"].clone();
    assert_eq!(app.get(&path, &token).await.body, answer.body);
    assert_eq!(app.list(&token, "").await.body["data"][0], answer.body);
    assert_totals_exact(&app, &token, alice.id).await;

    let done = app
        .patch(
            &path,
            &token,
            json!({"status": "completed", "duration": 95}),
        )
        .await;
    assert_eq!(done.status, 200);
    assert_eq!(done.body["status"], "completed");
    assert_eq!(done.body["duration"], 95);
    assert!(done.body["updated_at"].as_str() >= before_final.as_str());
    assert_eq!(app.get(&path, &token).await.body, done.body);
    assert_eq!(app.list(&token, "status=completed").await.ids(), vec![id]);
    assert_eq!(
        app.list(&token, "status=in-progress").await.body["total"],
        0
    );
    assert_totals_exact(&app, &token, alice.id).await;
    let updated = app
        .query_ints(&format!("SELECT updated_at FROM calls WHERE id = {id}"))
        .await;
    assert!(updated[0] > 0);
}

async fn refused_transitions(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    let (_, bob_token) = app.user("bob@example.com").await;
    let created = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "inbound", "status": "in-progress", "client_phone_number": "+4915112345678"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["type"], "inbound");
    let id = created.body["id"].as_i64().expect("id");
    let path = format!("/api/user/calls/{id}");

    // Money sent as a JSON number keeps every digit (a binary float would not).
    let body = r#"{"carrier_cost": 99999999.99999999, "total_cost": 1234567.12345679}"#;
    let raw = app.patch_raw(&path, &token, body).await;
    assert_eq!(raw.status, 200, "{}", raw.text);
    assert!(
        raw.text
            .contains(r#""carrier_cost":99999999.99999999,"total_cost":1234567.12345679"#),
        "{}",
        raw.text
    );

    // Documents keep their number spellings, as imported ones do.
    let body = r#"{"variables": {"big": 123456789012345678901234567890, "price": 8.50},
        "evaluation": [{"value": 8.50, "name": "n", "type": "number", "extra": 1}]}"#;
    let raw = app.patch_raw(&path, &token, body).await;
    assert_eq!(raw.status, 200, "{}", raw.text);
    assert!(
        raw.text.contains(
            r#""variables":{"big":123456789012345678901234567890,"price":8.50},"evaluation":[{"name":"n","type":"number","value":8.50,"description":""}]"#
        ),
        "{}",
        raw.text
    );

    // `null` empties the variables as it empties the evaluation.
    let emptied = app
        .patch(
            &path,
            &token,
            json!({"variables": null, "evaluation": null}),
        )
        .await;
    assert_eq!(emptied.status, 200, "{}", emptied.text);
    assert_eq!(
        (&emptied.body["variables"], &emptied.body["evaluation"]),
        (&json!({}), &json!([]))
    );

    // A time that is not a four-digit UTC year cannot be served as RFC 3339.
    for created_at in ["9999-12-31T23:30:00-01:00", "0000-01-01T00:30:00+01:00"] {
        let answer = app
            .post(
                "/api/user/calls",
                &token,
                json!({"type": "web", "created_at": created_at}),
            )
            .await;
        assert_eq!(answer.status, 422, "{created_at}: {}", answer.text);
        assert_eq!(
            answer.body["errors"],
            json!({"created_at": ["The created at field must be a valid date."]})
        );
    }

    let ringing = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "web", "status": "ringing"}),
        )
        .await;
    let back = app
        .patch(
            &format!("/api/user/calls/{}", ringing.body["id"]),
            &token,
            json!({"status": "initiated"}),
        )
        .await;
    assert_eq!(
        (back.status.as_u16(), back.body),
        (
            409,
            json!({"message": "The call's status cannot move back from ringing to initiated."})
        )
    );
    let done = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "web", "status": "completed"}),
        )
        .await;
    let after = app
        .patch(
            &format!("/api/user/calls/{}", done.body["id"]),
            &token,
            json!({"status": "ended"}),
        )
        .await;
    assert_eq!(
        (after.status.as_u16(), after.body),
        (
            409,
            json!({"message": "The call has already ended with status completed; its status can no longer change."})
        )
    );
    for back in ["initiated", "ringing"] {
        let answer = app.patch(&path, &token, json!({"status": back})).await;
        assert_eq!(answer.status, 409);
        assert_eq!(
            answer.body,
            json!({"message": format!("The call's status cannot move back from in-progress to {back}.")})
        );
    }
    let ended = app.patch(&path, &token, json!({"status": "busy"})).await;
    assert_eq!(ended.status, 200);
    for next in [
        "completed",
        "in-progress",
        "initiated",
        "failed",
        "ended_by_customer",
    ] {
        let answer = app.patch(&path, &token, json!({"status": next})).await;
        assert_eq!(answer.status, 409, "{next}");
        assert_eq!(
            answer.body,
            json!({"message": "The call has already ended with status busy; its status can no longer change."})
        );
    }
    // Repeating the final status is harmless and changes nothing.
    let again = app.patch(&path, &token, json!({"status": "busy"})).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, ended.body);
    // Late fields are still welcome after the end.
    let late = app.patch(&path, &token, json!({"total_cost": "1.5"})).await;
    assert_eq!(late.status, 200);
    assert_eq!(late.body["total_cost"], json!(1.5));
    assert_eq!(late.body["status"], "busy");

    // Another user's call, and no call: 404, nothing changed.
    let foreign = app
        .patch(&path, &bob_token, json!({"status": "completed"}))
        .await;
    assert_eq!(
        (foreign.status.as_u16(), foreign.body.clone()),
        (404, json!({"message": "Call not found"}))
    );
    let missing = app
        .post(
            "/api/user/calls/999999/transcript",
            &token,
            json!({"segments": [{"text": "x", "sender": "bot", "timestamp": 1}]}),
        )
        .await;
    assert_eq!(missing.status, 404);

    // Bad input: Laravel's 422, nothing written.
    let bad = app
        .patch(
            &path,
            &token,
            json!({"status": "done", "duration": -1, "carrier_cost": "0.123456789", "answered_by": "robot"}),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(
        bad.body,
        json!({
            "message": "The selected status is invalid. (and 3 more errors)",
            "errors": {
                "status": ["The selected status is invalid."],
                "duration": ["The duration field must be at least 0."],
                "answered_by": ["The selected answered by is invalid."],
                "carrier_cost": ["The carrier cost field must have 0-8 decimal places."],
            }
        })
    );
    let segments = app
        .post(
            &format!("{path}/transcript"),
            &token,
            json!({"segments": [{"text": "ok", "sender": "bot", "timestamp": 1}, {"sender": "alien", "timestamp": "x"}]}),
        )
        .await;
    assert_eq!(segments.status, 422);
    assert_eq!(
        segments.body["errors"],
        json!({
            "segments.1.text": ["The segments.1.text field is required."],
            "segments.1.sender": ["The selected segments.1.sender is invalid."],
            "segments.1.timestamp": ["The segments.1.timestamp field must be a number."],
        })
    );
    assert_eq!(app.get(&path, &token).await.body, late.body);
    let unknown = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "web", "assistant_id": 424242}),
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert_eq!(
        unknown.body["errors"],
        json!({"assistant_id": ["The selected assistant id is invalid."]})
    );
    let not_json = app
        .send_json(Method::POST, "/api/user/calls", &token, &json!("x"), &[])
        .await;
    assert_eq!(not_json.status, 422);
    assert_eq!(
        not_json.body["errors"],
        json!({"type": ["The type field is required."]})
    );
    assert_eq!(app.list(&token, "").await.body["total"], 3);
}

async fn make_call_errors(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    let (_, bob_token) = app.user("bob@example.com").await;
    let (bobs, _) = create_assistant(&app, &bob_token, json!({"name": "Bob's bot"})).await;
    let (mine, _) = create_assistant(&app, &token, json!({"name": "Mine"})).await;

    let missing = app.post("/api/user/make_call", &token, json!({})).await;
    assert_eq!(missing.status, 422);
    assert_eq!(
        missing.body,
        json!({
            "message": "The phone number field is required. (and 1 more error)",
            "errors": {
                "phone_number": ["The phone number field is required."],
                "assistant_id": ["The assistant id field is required."],
            }
        })
    );
    let mistyped = app
        .post(
            "/api/user/make_call",
            &token,
            json!({"phone_number": 49151, "assistant_id": "x1"}),
        )
        .await;
    assert_eq!(
        mistyped.body["errors"],
        json!({
            "phone_number": ["The phone number field must be a string."],
            "assistant_id": ["The assistant id field must be an integer."],
        })
    );
    for bad in ["0151 1234567", "+0151", "491511234567", "+49 151 1234567"] {
        let answer = app
            .post(
                "/api/user/make_call",
                &token,
                json!({"phone_number": bad, "assistant_id": mine}),
            )
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.body),
            (
                400,
                json!({"message": "Invalid phone number format. Please use E.164 format (e.g. +1234567890)"})
            ),
            "{bad}"
        );
    }
    for assistant in [json!(bobs), json!(999999)] {
        let answer = app
            .post(
                "/api/user/make_call",
                &token,
                json!({"phone_number": "+491511234567", "assistant_id": assistant}),
            )
            .await;
        assert_eq!(
            (answer.status.as_u16(), answer.body),
            (
                404,
                json!({"message": "Assistant not found or does not belong to the authenticated user"})
            )
        );
    }
    assert_eq!(app.list(&token, "").await.body["total"], 0);

    // make_call's variables keep their number spellings, as every write's documents do.
    let spelled = app
        .post_raw(
            "/api/user/make_call",
            &token,
            &format!(r#"{{"phone_number": "+491511234567", "assistant_id": {mine}, "variables": {{"price": 8.50}}}}"#),
        )
        .await;
    assert_eq!(spelled.status, 200, "{}", spelled.text);
    let spelled_id = spelled.body["call_id"].as_i64().expect("call_id");
    let spelled_call = app
        .get(&format!("/api/user/calls/{spelled_id}"), &token)
        .await;
    assert!(
        spelled_call.text.contains(r#""variables":{"price":8.50}"#),
        "{}",
        spelled_call.text
    );
}

async fn idempotent_retries(app: TestApp) {
    let (_, token) = app.user("alice@example.com").await;
    let (_, bob_token) = app.user("bob@example.com").await;
    let body = json!({"type": "web", "status": "in-progress"});
    let key = [("Idempotency-Key", "create-1")];
    let first = app
        .send_json(Method::POST, "/api/user/calls", &token, &body, &key)
        .await;
    assert_eq!(first.status, 201);
    let retry = app
        .send_json(Method::POST, "/api/user/calls", &token, &body, &key)
        .await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.text, first.text, "the first answer, byte for byte");
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.list(&token, "").await.body["total"], 1, "one call only");

    // The same key with another request is refused; another user's key space is their own.
    let other = app
        .send_json(
            Method::POST,
            "/api/user/calls",
            &token,
            &json!({"type": "inbound"}),
            &key,
        )
        .await;
    assert_eq!(other.status, 422);
    assert_eq!(
        other.body,
        json!({"message": "This Idempotency-Key was already used for a different request."})
    );
    let bobs = app
        .send_json(Method::POST, "/api/user/calls", &bob_token, &body, &key)
        .await;
    assert_eq!(bobs.status, 201);

    // A retried segment append adds the segment once.
    let id = first.body["id"].as_i64().expect("id");
    let path = format!("/api/user/calls/{id}/transcript");
    let segment = json!({"segments": [{"text": "Hallo", "sender": "bot", "timestamp": 5}]});
    for _ in 0..3 {
        let answer = app
            .send_json(
                Method::POST,
                &path,
                &token,
                &segment,
                &[("Idempotency-Key", "seg-1")],
            )
            .await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body["transcript"].as_array().map(Vec::len), Some(1));
    }
    // Refusals are remembered too: the retry gets the same 409.
    let finish = json!({"status": "failed"});
    let call_path = format!("/api/user/calls/{id}");
    app.patch(&call_path, &token, finish).await;
    let back = json!({"status": "ringing"});
    let k = [("Idempotency-Key", "back-1")];
    let a = app
        .send_json(Method::PATCH, &call_path, &token, &back, &k)
        .await;
    let b = app
        .send_json(Method::PATCH, &call_path, &token, &back, &k)
        .await;
    assert_eq!((a.status.as_u16(), b.status.as_u16()), (409, 409));
    assert_eq!(a.body, b.body);
    let bad_key = app
        .send_json(
            Method::PATCH,
            &call_path,
            &token,
            &back,
            &[("Idempotency-Key", "")],
        )
        .await;
    assert_eq!(bad_key.status, 400);

    // An answer past 4 MiB (an imported call with a long transcript) is kept
    // and replayed like any other: the write committed, so it is no 500.
    let (carol, carol_token) = app.user("carol@example.com").await;
    let segments: Vec<Value> = (0..5)
        .map(|i| json!({"text": "x".repeat(1_000_000), "type": "transcript", "sender": "bot", "timestamp": i}))
        .collect();
    let big = call(77, json!({"status": "in-progress", "transcript": segments}));
    assert_eq!(app.import(&carol, &[big]).await.imported, 1);
    let update = json!({"duration": 42});
    let k = [("Idempotency-Key", "big-1")];
    let first = app
        .send_json(
            Method::PATCH,
            "/api/user/calls/77",
            &carol_token,
            &update,
            &k,
        )
        .await;
    assert_eq!(
        first.status,
        200,
        "{}",
        &first.text[..first.text.len().min(200)]
    );
    assert!(first.text.len() > 5_000_000, "{}", first.text.len());
    assert_eq!(first.body["duration"], 42);
    let again = app
        .send_json(
            Method::PATCH,
            "/api/user/calls/77",
            &carol_token,
            &update,
            &k,
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert!(again.text == first.text, "the first answer, byte for byte");
}

async fn read_only_tokens(app: TestApp) {
    let (alice, _) = app.user("alice@example.com").await;
    app.import(&alice, &[call(7, json!({"status": "in-progress"}))])
        .await;
    let (_, reader) = callbase::token::issue(
        app.store.as_ref(),
        &alice,
        "dashboard",
        None,
        callbase::store::Scope::Read,
    )
    .await
    .expect("token");
    assert_eq!(app.get("/api/user/calls/7", &reader).await.status, 200);
    assert_eq!(app.list(&reader, "").await.body["total"], 1);
    let forbidden = json!({"message": "This action is unauthorized."});
    for (method, path, body) in [
        (
            Method::PATCH,
            "/api/user/calls/7",
            json!({"status": "completed"}),
        ),
        (Method::DELETE, "/api/user/calls/7", json!({})),
        (Method::POST, "/api/user/calls", json!({"type": "web"})),
        (
            Method::POST,
            "/api/user/make_call",
            json!({"phone_number": "+491511234567", "assistant_id": 1}),
        ),
        (Method::POST, "/api/user/assistant", json!({"name": "x"})),
        (Method::POST, "/api/user/campaigns", json!({"name": "x"})),
        (
            Method::POST,
            "/api/user/calls/7/webhook-deliveries/redeliver",
            json!({}),
        ),
    ] {
        let answer = app
            .send_json(method.clone(), path, &reader, &body, &[])
            .await;
        assert_eq!(
            (answer.status.as_u16(), &answer.body),
            (403, &forbidden),
            "{method} {path}"
        );
    }
    let after = app.get("/api/user/calls/7", &reader).await;
    assert_eq!(after.body["status"], "in-progress", "nothing changed");
    assert_eq!(
        app.get("/api/user/assistants/get", &reader).await.body["total"],
        1,
        "only the imported call's assistant"
    );
}

async fn assistants_and_campaigns_are_managed(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (_, bob_token) = app.user("bob@example.com").await;
    let created = app
        .post(
            "/api/user/assistant",
            &token,
            json!({"name": "Support", "is_webhook_active": true, "webhook_url": "https://hooks.example.com/x"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.body["message"], "Assistant created successfully");
    let data = &created.body["data"];
    let id = data["id"].as_i64().expect("id");
    assert_eq!(data["user_id"], alice.id);
    assert_eq!(data["status"], "active");
    assert_eq!(data["is_webhook_active"], true);
    assert_eq!(data["send_webhook_only_on_completed"], true);
    assert_eq!(data["include_recording_in_webhook"], true);
    assert!(
        created.body["webhook_secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_"))
    );
    let shown = app.get(&format!("/api/user/assistant/{id}"), &token).await;
    assert_eq!(&shown.body, data);
    assert!(!shown.text.contains("whsec_"), "the secret is shown once");
    let listed = app.get("/api/user/assistants/get", &token).await;
    assert_eq!(listed.body["data"][0], *data);

    // Validation: a taken name, an active webhook without URL, a bad URL.
    let taken = app
        .post("/api/user/assistant", &token, json!({"name": "Support"}))
        .await;
    assert_eq!(
        taken.body,
        json!({"message": "The name has already been taken.", "errors": {"name": ["The name has already been taken."]}})
    );
    let no_url = app
        .post(
            "/api/user/assistant",
            &token,
            json!({"name": "B", "is_webhook_active": "1"}),
        )
        .await;
    assert_eq!(
        no_url.body["errors"],
        json!({"webhook_url": ["The webhook url field is required when is webhook active is true."]})
    );
    let bad = app
        .post(
            "/api/user/assistant",
            &token,
            json!({"name": "C", "webhook_url": "ftp://x", "is_webhook_active": "yes"}),
        )
        .await;
    assert_eq!(
        bad.body["errors"],
        json!({
            "is_webhook_active": ["The is webhook active field must be true or false."],
            "webhook_url": ["The webhook url field must be a valid URL."],
        })
    );
    // URLs are stored as sent, so they must be URLs as written.
    for url in [
        " https://rec.example.com/a.mp3",
        "https://rec.example.com/a b.mp3",
        "https://rec.example.com/a\n.mp3",
        "https:rec.example.com/a.mp3",
        "http:\\\\evil.example\\a",
    ] {
        let answer = app
            .post(
                "/api/user/calls",
                &token,
                json!({"type": "web", "recording_url": url}),
            )
            .await;
        assert_eq!(
            answer.body["errors"],
            json!({"recording_url": ["The recording url field must be a valid URL."]}),
            "{url:?}"
        );
    }
    let fine = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "web", "recording_url": "HTTPS://rec.example.com/a.mp3?x=1"}),
        )
        .await;
    assert_eq!(fine.status, 201, "{}", fine.text);
    // NUL cannot be stored in PostgreSQL's text (it answered 500): a 422 on
    // every backend.
    for (path, body, field) in [
        ("/api/user/assistant", json!({"name": "A\u{0}B"}), "name"),
        ("/api/user/campaigns", json!({"name": "C\u{0}"}), "name"),
        (
            "/api/user/calls",
            json!({"type": "web", "recording_url": "https://x.example/\u{0}"}),
            "recording_url",
        ),
    ] {
        let answer = app.post(path, &token, body).await;
        assert_eq!(answer.status, 422, "{path}: {}", answer.body);
        let name = field.replace('_', " ");
        assert_eq!(
            answer.body["errors"],
            json!({field: [format!("The {name} field must not contain NUL characters.")]}),
            "{path}"
        );
    }

    // Update changes only what is given; another user's assistant is 404.
    let path = format!("/api/user/assistant/{id}");
    let updated = app
        .patch(
            &path,
            &token,
            json!({"name": "Support 2", "is_webhook_active": false}),
        )
        .await;
    assert_eq!(updated.status, 200);
    assert_eq!(updated.body["data"]["name"], "Support 2");
    assert_eq!(
        updated.body["data"]["webhook_url"],
        "https://hooks.example.com/x"
    );
    let foreign = app.patch(&path, &bob_token, json!({"name": "mine"})).await;
    assert_eq!(
        (foreign.status.as_u16(), foreign.body),
        (404, json!({"message": "Assistant not found"}))
    );
    let rotated = app
        .post(&format!("{path}/webhook-secret"), &token, json!({}))
        .await;
    assert_eq!(rotated.status, 200);
    assert_ne!(
        rotated.body["webhook_secret"],
        created.body["webhook_secret"]
    );

    // A call of the assistant keeps its name after the assistant is deleted.
    let call = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "web", "assistant_id": id}),
        )
        .await;
    let call_id = call.body["id"].as_i64().expect("id");
    let deleted = app.delete(&path, &token).await;
    assert_eq!(
        deleted.body,
        json!({"message": "Assistant deleted successfully"})
    );
    assert_eq!(app.delete(&path, &token).await.status, 404);
    assert_eq!(app.get(&path, &token).await.status, 404);
    assert_eq!(
        app.get("/api/user/assistants/get", &token).await.body["total"],
        0
    );
    let kept = app.get(&format!("/api/user/calls/{call_id}"), &token).await;
    assert_eq!(kept.body["assistant_name"], "Support 2");
    assert_eq!(
        app.list(&token, &format!("assistant_id={id}")).await.ids(),
        vec![call_id]
    );

    // Campaigns.
    let campaign = app
        .post(
            "/api/user/campaigns",
            &token,
            json!({"name": "Spring", "status": "paused"}),
        )
        .await;
    assert_eq!(campaign.status, 201);
    let cid = campaign.body["data"]["id"].as_i64().expect("id");
    assert_eq!(campaign.body["data"]["status"], "paused");
    let cpath = format!("/api/user/campaigns/{cid}");
    let changed = app.patch(&cpath, &token, json!({"status": "active"})).await;
    assert_eq!(changed.body["data"]["status"], "active");
    let bad_status = app.patch(&cpath, &token, json!({"status": "gone"})).await;
    assert_eq!(
        bad_status.body["errors"],
        json!({"status": ["The selected status is invalid."]})
    );
    let in_campaign = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "outbound", "campaign_id": cid}),
        )
        .await;
    assert_eq!(in_campaign.body["campaign_name"], "Spring");
    assert_eq!(
        app.get("/api/user/campaigns", &bob_token).await.body,
        json!({"data": []})
    );
    assert_eq!(app.delete(&cpath, &token).await.status, 200);
    assert_eq!(
        app.get("/api/user/campaigns", &token).await.body,
        json!({"data": []})
    );
    let refused = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "outbound", "campaign_id": cid}),
        )
        .await;
    assert_eq!(
        refused.body["errors"],
        json!({"campaign_id": ["The selected campaign id is invalid."]})
    );
}

async fn ids_secrets_and_shapes(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(&alice, &[call(500, json!({}))]).await;

    // New ids are above imported ones and never reused after a delete.
    let first = app
        .post("/api/user/calls", &token, json!({"type": "web"}))
        .await;
    let id = first.body["id"].as_i64().expect("id");
    assert!(id > 500, "{id}");
    assert_eq!(
        app.delete(&format!("/api/user/calls/{id}"), &token)
            .await
            .status,
        200
    );
    let second = app
        .post("/api/user/calls", &token, json!({"type": "web"}))
        .await;
    assert!(
        second.body["id"].as_i64().expect("id") > id,
        "{}",
        second.text
    );

    // make_call retried with its key: one call, the same answer.
    let (assistant, _) = create_assistant(&app, &token, json!({"name": "Dialer"})).await;
    let body = json!({"phone_number": "+491511234567", "assistant_id": assistant});
    let key = [("Idempotency-Key", "dial-1")];
    let a = app
        .send_json(Method::POST, "/api/user/make_call", &token, &body, &key)
        .await;
    let b = app
        .send_json(Method::POST, "/api/user/make_call", &token, &body, &key)
        .await;
    assert_eq!((a.status.as_u16(), &a.text), (200, &b.text));
    assert_eq!(
        app.list(&token, &format!("assistant_id={assistant}"))
            .await
            .body["total"],
        1
    );

    // A replayed create does not show the secret a second time.
    let create = json!({"name": "Secretive"});
    let k = [("Idempotency-Key", "assistant-1")];
    let made = app
        .send_json(Method::POST, "/api/user/assistant", &token, &create, &k)
        .await;
    assert!(made.body["webhook_secret"].as_str().is_some());
    let replay = app
        .send_json(Method::POST, "/api/user/assistant", &token, &create, &k)
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.body["data"], made.body["data"]);
    assert_eq!(replay.body["webhook_secret"], Value::Null);

    // Bodies past the limit: 413 in the contract's shape, nothing written.
    let before = app.list(&token, "").await.body["total"].clone();
    let huge = json!({"type": "web", "variables": {"blob": "x".repeat(2 * 1024 * 1024)}});
    let too_large = app
        .send_json(Method::POST, "/api/user/calls", &token, &huge, &[])
        .await;
    // The unread rest of the body leaves the connection unusable: it is closed,
    // and the answer says so, so that clients do not send into it again.
    let closes = |answer: &Answer| {
        answer
            .headers
            .get("connection")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(closes(&too_large).as_deref(), Some("close"));
    assert_eq!(
        (too_large.status.as_u16(), too_large.body),
        (413, json!({"message": "Payload Too Large"}))
    );
    let with_key = app
        .send_json(
            Method::POST,
            "/api/user/calls",
            &token,
            &huge,
            &[("Idempotency-Key", "huge-1")],
        )
        .await;
    assert_eq!(closes(&with_key).as_deref(), Some("close"));
    assert_eq!(
        (with_key.status.as_u16(), with_key.body),
        (413, json!({"message": "Payload Too Large"}))
    );
    assert_eq!(app.list(&token, "").await.body["total"], before);

    // Web calls carry no phone numbers.
    let web = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "web", "client_phone_number": "+491511234567"}),
        )
        .await;
    assert_eq!(
        web.body["errors"],
        json!({"client_phone_number": ["The client phone number field is prohibited when type is web."]})
    );

    // Evaluation items are stored in the contract's shape and order.
    let id = second.body["id"].as_i64().expect("id");
    let evaluated = app
        .patch(
            &format!("/api/user/calls/{id}"),
            &token,
            json!({"evaluation": [{"value": 3, "type": "integer", "name": "score"}]}),
        )
        .await;
    assert!(
        evaluated.text.contains(
            r#""evaluation":[{"name":"score","type":"integer","value":3,"description":""}]"#
        ),
        "{}",
        evaluated.text
    );
    // Redelivery is for ended calls only.
    let early = app
        .post(
            &format!("/api/user/calls/{id}/webhook-deliveries/redeliver"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(
        (early.status.as_u16(), early.body),
        (
            409,
            json!({"message": "The call has not ended yet; its post-call webhook is sent when it does."})
        )
    );
}

backend_tests!(
    ids_secrets_and_shapes,
    live_call_story,
    refused_transitions,
    make_call_errors,
    idempotent_retries,
    read_only_tokens,
    assistants_and_campaigns_are_managed,
);
