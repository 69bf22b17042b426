//! Import: round trip, re-import, updates, bad lines, foreign ids, formats.

use serde_json::{Value, json};

use crate::helpers::{TestApp, call};

async fn import_text(
    app: &TestApp,
    user: &callbase::store::User,
    text: &str,
) -> (callbase::import::Summary, Vec<String>) {
    let mut rejections = Vec::new();
    let summary = callbase::import::import_source(
        app.store.as_ref(),
        user.id,
        std::io::Cursor::new(text.as_bytes().to_vec()),
        |r| rejections.push(format!("{}: {}", r.position, r.reason)),
        |_| {},
    )
    .await
    .expect("import");
    (summary, rejections)
}

fn summary(
    imported: u64,
    updated: u64,
    unchanged: u64,
    rejected: u64,
) -> callbase::import::Summary {
    callbase::import::Summary {
        imported,
        updated,
        unchanged,
        rejected,
    }
}

/// What get returns is what was imported: equal as JSON, and the documents
/// byte for byte (number spellings, key order, unicode).
async fn round_trip_is_lossless(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let line = r#"{"id":987654,"assistant_name":"Vertrieb – Süd","campaign_name":"Q1 \"Neukunden\"","type":"outbound","duration":245,"assistant_phone_number":"+4912345678","client_phone_number":"+4915123456789","status":"ended_by_assistant","transcript":[{"text":"Grüß Gott! 👋","type":"transcript","sender":"bot","timestamp":1754055268.525861},{"text":"Hallo?","type":"transcript","sender":"human","timestamp":1754055272.069057},{"text":"x","type":"transcript","sender":"bot","timestamp":1754055272.0690571234}],"variables":{"z_last":1,"a_first":{"nested":[1,2.50,null,"s"]},"big":12345678901234567890123,"exp":1.5e300},"evaluation":[{"name":"score","type":"number","value":8.50,"description":"Score"},{"name":"ok","type":"bool","value":null,"description":""}],"webhook_response":["any",{"json":true}],"carrier_cost":0.00000001,"total_cost":12345678.12345678,"answered_by":"machine","recording_url":"https://r.example.com/a b.mp3","created_at":"2025-08-04T14:30:00Z","updated_at":"2025-08-04T14:34:05Z"}"#;
    let (result, rejections) = import_text(&app, &alice, &format!("{line}\n")).await;
    assert_eq!((result, rejections), (summary(1, 0, 0, 0), vec![]));

    let answer = app.get("/api/user/calls/987654", &token).await;
    assert_eq!(answer.status, 200);
    let sent: Value = serde_json::from_str(line).expect("json");
    assert_eq!(answer.body, sent);
    // Byte-exact: the server writes exactly what came in.
    assert_eq!(answer.text, line);
    let listed = app.list(&token, "").await;
    assert!(
        listed.text.contains(line),
        "the list carries the same bytes"
    );
}

/// Transcripts come back in time order; timestamps in the contract's format;
/// costs sent as 8-place strings come back as exact JSON numbers.
async fn imports_are_normalised_where_the_contract_says(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let sent = call(
        5,
        json!({
            "transcript": [
                {"text": "second", "type": "transcript", "sender": "human", "timestamp": 1754055272.069057},
                {"text": "first", "type": "transcript", "sender": "bot", "timestamp": 1754055268.525861}
            ],
            "created_at": "2025-08-04 14:30:00",
            "updated_at": "2025-08-04T16:34:05.123456+02:00",
            "carrier_cost": "0.08000000",
            "total_cost": "0.12500000"
        }),
    );
    let (result, _) = import_text(&app, &alice, &format!("{sent}\n")).await;
    assert_eq!(result, summary(1, 0, 0, 0));
    let answer = app.get("/api/user/calls/5", &token).await;
    let texts: Vec<&str> = answer.body["transcript"]
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|s| s["text"].as_str())
        .collect();
    assert_eq!(texts, ["first", "second"]);
    assert_eq!(answer.body["created_at"], "2025-08-04T14:30:00Z");
    assert_eq!(answer.body["updated_at"], "2025-08-04T14:34:05Z");
    assert!(
        answer
            .text
            .contains(r#""carrier_cost":0.08,"total_cost":0.125,"#),
        "{}",
        answer.text
    );
}

async fn reimport_changes_nothing_and_updates_are_counted(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let calls: Vec<Value> = (1..=5).map(|i| call(i, json!({}))).collect();
    let text: String = calls.iter().map(|c| format!("{c}\n")).collect();
    assert_eq!(
        import_text(&app, &alice, &text).await.0,
        summary(5, 0, 0, 0)
    );
    let before = app.list(&token, "").await.body;
    assert_eq!(
        import_text(&app, &alice, &text).await.0,
        summary(0, 0, 5, 0)
    );
    assert_eq!(app.list(&token, "").await.body, before);

    let changed = call(
        3,
        json!({"status": "failed", "updated_at": "2024-01-16T00:00:00Z", "assistant_name": "Renamed"}),
    );
    assert_eq!(
        import_text(&app, &alice, &format!("{changed}\n")).await.0,
        summary(0, 1, 0, 0)
    );
    assert_eq!(app.get("/api/user/calls/3", &token).await.body, changed);
    assert_eq!(app.list(&token, "status=failed").await.ids(), [3]);
    assert_eq!(app.list(&token, "").await.body["total"], 5);
}

async fn bad_lines_are_reported_and_skipped(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let text = [
        call(1, json!({})).to_string(),
        "{not json".to_owned(),
        call(2, json!({"status": "done"})).to_string(),
        String::new(),
        call(3, json!({"type": "fax"})).to_string(),
        call(4, json!({"created_at": "yesterday"})).to_string(),
        call(5, json!({"transcript": "Hello, this is Sarah"})).to_string(),
        call(6, json!({"evaluation": {"sentiment": "positive"}})).to_string(),
        call(7, json!({"carrier_cost": 0.123456789})).to_string(),
        json!({"status": "completed"}).to_string(),
        "[1, 2]".to_owned(),
        call(8, json!({"duration": "12"})).to_string(),
        call(9, json!({"id": "9", "carrier_cost": "0.08000000", "total_cost": "0.12000000", "variables": []})).to_string(),
        // serde would read a struct from an array of its fields: a call, and
        // a transcript segment, as arrays are refused all the same.
        json!([10, "A", null, "inbound", 1, null, null, "completed", [], {}, [], null, null, null, null, null, "2024-01-15T10:30:00Z", null]).to_string(),
        call(11, json!({"transcript": [["Hallo?", "transcript", "human", 1754055272.0]]})).to_string(),
        // Numbers and strings strict JSON parsers refuse, inside a document.
        call(12, json!({"variables": {"x": 1}})).to_string().replace("{\"x\":1}", "{\"x\":1e400}"),
        call(13, json!({"variables": {"x": "a"}})).to_string().replace("\"a\"", "\"\\ud800\""),
    ]
    .join("\n");
    let (result, rejections) = import_text(&app, &alice, &text).await;
    assert_eq!(result, summary(3, 0, 0, 13));
    let lines: Vec<&str> = rejections
        .iter()
        .map(|r| r.split(':').next().unwrap_or_default())
        .collect();
    assert_eq!(
        lines,
        [
            "line 2", "line 3", "line 5", "line 6", "line 7", "line 8", "line 9", "line 10",
            "line 11", "line 14", "line 15", "line 16", "line 17"
        ]
    );
    assert!(rejections[0].contains("not valid JSON"), "{rejections:?}");
    assert!(
        rejections[1]
            .contains("status: \"done\" is not one of initiated, ringing, busy, in-progress"),
        "{rejections:?}"
    );
    assert!(rejections[2].contains("type: \"fax\""), "{rejections:?}");
    assert!(
        rejections[4].contains("transcript: must be an array"),
        "{rejections:?}"
    );
    assert!(
        rejections[6].contains("at most 8 decimal places"),
        "{rejections:?}"
    );
    assert!(rejections[7].contains("id: is required"), "{rejections:?}");
    assert!(
        rejections[9].contains("not a call object: expected a JSON object"),
        "{rejections:?}"
    );
    assert!(
        rejections[10].contains("transcript[0]: must be an object"),
        "{rejections:?}"
    );
    assert!(
        rejections[11].ends_with("not valid JSON: number out of range in variables"),
        "{rejections:?}"
    );
    assert!(
        rejections[12].contains("not valid JSON") && rejections[12].ends_with(" in variables"),
        "{rejections:?}"
    );
    assert_eq!(app.list(&token, "").await.ids(), [9, 8, 1]);
    // Numbers as strings are read as numbers; PHP's empty `[]` variables as `{}`.
    let nine = app.get("/api/user/calls/9", &token).await;
    assert_eq!(nine.body["carrier_cost"], json!(0.08));
    assert_eq!(nine.body["total_cost"], json!(0.12));
    assert_eq!(nine.body["variables"], json!({}));
    assert_eq!(
        app.get("/api/user/calls/8", &token).await.body["duration"],
        12
    );
}

async fn foreign_ids_are_rejected_not_overwritten(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (bob, bob_token) = app.user("bob@example.com").await;
    let bobs = call(50, json!({"status": "busy"}));
    app.import(&bob, std::slice::from_ref(&bobs)).await;
    // Line 4 names only what line 1 created in the same batch, so it takes
    // the import's short way (insert unless the id is taken).
    let text = format!(
        "{}\n{}\n{{bad\n{}\n",
        call(49, json!({})),
        call(
            50,
            json!({"status": "completed", "assistant_name": "Ghost", "campaign_name": "Ghost Campaign"})
        ),
        call(50, json!({"status": "completed"})),
    );
    let (result, rejections) = import_text(&app, &alice, &text).await;
    assert_eq!(result, summary(1, 0, 0, 3));
    // Reported in line order, whichever stage refused the line.
    assert_eq!(rejections.len(), 3);
    assert_eq!(
        rejections[0],
        "line 2: id 50 belongs to another user's call"
    );
    assert!(
        rejections[1].starts_with("line 3: not valid JSON"),
        "{rejections:?}"
    );
    assert_eq!(
        rejections[2],
        "line 4: id 50 belongs to another user's call"
    );
    assert_eq!(app.get("/api/user/calls/50", &bob_token).await.body, bobs);
    assert_eq!(app.get("/api/user/calls/50", &token).await.status, 404);
    // The refused line left nothing behind: no assistant, no campaign.
    let assistants = app.get("/api/user/assistants/get", &token).await.body;
    assert_eq!(assistants["total"], 1, "{assistants}");
    assert_eq!(
        app.get("/api/user/campaigns", &token).await.body["data"],
        json!([])
    );
}

async fn saved_list_pages_import(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    // A page as the real API returns it, pretty-printed, costs as strings.
    let page = json!({
        "current_page": 1,
        "data": [call(123456, json!({"carrier_cost": "0.08000000"})), call(123457, json!({"type": "inbound", "campaign_name": null}))],
        "per_page": 15, "total": 2, "last_page": 1
    });
    let pretty = serde_json::to_string_pretty(&page).expect("json");
    let (result, rejections) = import_text(&app, &alice, &pretty).await;
    assert_eq!((result, rejections), (summary(2, 0, 0, 0), vec![]));
    let got = app.get("/api/user/calls/123456", &token).await.body;
    assert_eq!(got, call(123456, json!({})));
    // One-line document, re-imported: unchanged.
    let (result, _) = import_text(&app, &alice, &page.to_string()).await;
    assert_eq!(result, summary(0, 0, 2, 0));
    // A bad item in a document is reported by its index.
    let broken = json!({"data": [call(1, json!({})), call(2, json!({"status": "nope"}))]});
    let (result, rejections) = import_text(&app, &alice, &broken.to_string()).await;
    assert_eq!(result, summary(1, 0, 0, 1));
    assert!(
        rejections[0].starts_with("data[1]: status"),
        "{rejections:?}"
    );
    // A byte order mark (as Windows tools write) does not cost the first call,
    // in either format.
    let ndjson = format!("\u{feff}{}\n{}", call(11, json!({})), call(12, json!({})));
    let (result, rejections) = import_text(&app, &alice, &ndjson).await;
    assert_eq!((result, rejections), (summary(2, 0, 0, 0), vec![]));
    let document = format!("\u{feff}{}", json!({"data": [call(13, json!({}))]}));
    let (result, rejections) = import_text(&app, &alice, &document).await;
    assert_eq!((result, rejections), (summary(1, 0, 0, 0), vec![]));
    assert_eq!(app.list(&token, "").await.body["total"], 6);
    // A call in a document is bounded like an NDJSON line (16 MiB).
    let huge = json!([
        call(16, json!({"variables": {"x": "y".repeat(17 << 20)}})),
        call(17, json!({}))
    ]);
    let (result, rejections) = import_text(&app, &alice, &huge.to_string()).await;
    assert_eq!(result, summary(1, 0, 0, 1));
    assert_eq!(rejections, ["data[0]: call longer than 16777216 bytes"]);
    // A second `data` array is an error, not silently dropped.
    let twice = format!(
        r#"{{"data": [{}], "data": [{}]}}"#,
        call(14, json!({})),
        call(15, json!({}))
    );
    let err = callbase::import::import_source(
        app.store.as_ref(),
        alice.id,
        std::io::Cursor::new(twice.into_bytes()),
        |_| {},
        |_| {},
    )
    .await
    .expect_err("two data arrays");
    assert!(
        format!("{err:#}").contains("more than one \"data\" array"),
        "{err:#}"
    );
}

async fn large_imports_span_batches(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let n = callbase::import::BATCH_SIZE as i64 * 2 + 17;
    let text: String = (1..=n)
        .map(|i| format!("{}\n", call(i, json!({"created_at": format!("2024-02-01T00:{:02}:{:02}Z", (i / 60) % 60, i % 60)}))))
        .collect();
    let (result, _) = import_text(&app, &alice, &text).await;
    assert_eq!(result.imported, u64::try_from(n).expect("positive"));
    assert_eq!(app.list(&token, "").await.body["total"], n);
    // One assistant, found by name across batches.
    assert_eq!(
        app.get("/api/user/assistants/get", &token).await.body["total"],
        1
    );
}

backend_tests!(
    edge_values_behave_alike,
    round_trip_is_lossless,
    imports_are_normalised_where_the_contract_says,
    reimport_changes_nothing_and_updates_are_counted,
    bad_lines_are_reported_and_skipped,
    foreign_ids_are_rejected_not_overwritten,
    saved_list_pages_import,
    large_imports_span_batches,
);

/// Edge values that once broke one backend or the other.
async fn edge_values_behave_alike(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    // The largest id there is is refused: new calls are numbered after the
    // largest id, and after i64::MAX no user could create one (500s).
    let (result, rejections) =
        import_text(&app, &alice, &format!("{}\n", call(i64::MAX, json!({})))).await;
    assert_eq!(result, summary(0, 0, 0, 1));
    assert!(
        rejections[0].contains("id: must be at most 9007199254740991"),
        "{rejections:?}"
    );
    // The largest accepted id, then more imports and a new call: nothing is
    // exhausted by it.
    let largest = (1_i64 << 53) - 1;
    let (result, _) = import_text(&app, &alice, &format!("{}\n", call(largest, json!({})))).await;
    assert_eq!(result, summary(1, 0, 0, 0));
    let (result, _) = import_text(&app, &alice, &format!("{}\n", call(5, json!({})))).await;
    assert_eq!(result, summary(1, 0, 0, 0));
    assert_eq!(
        app.get(&format!("/api/user/calls/{largest}"), &token)
            .await
            .body["id"],
        largest
    );
    let created = app
        .post("/api/user/calls", &token, json!({"type": "web"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    assert!(
        created.body["id"].as_i64() > Some(largest),
        "{}",
        created.body
    );

    // A NUL in a text field is refused for that line only; as a filter it matches nothing.
    let text = format!(
        "{}\n{}\n",
        call(6, json!({"assistant_name": "x\u{0}y"})),
        call(7, json!({}))
    );
    let (result, rejections) = import_text(&app, &alice, &text).await;
    assert_eq!(result, summary(1, 0, 0, 1));
    assert_eq!(
        rejections,
        ["line 1: assistant_name: must not contain NUL characters"]
    );
    let answer = app.list(&token, "phone_number=%00").await;
    assert_eq!(
        (answer.status.as_u16(), answer.body["total"].clone()),
        (200, json!(0))
    );

    // Deleted, then imported again: a new record, counted again.
    assert_eq!(app.delete("/api/user/calls/7", &token).await.status, 200);
    let (result, _) = import_text(&app, &alice, &format!("{}\n", call(7, json!({})))).await;
    assert_eq!(result, summary(1, 0, 0, 0));
    // The largest id, 5, the created call and 7.
    assert_eq!(app.list(&token, "").await.body["total"], 4);

    // Emails are unique ignoring ASCII case only, on every backend.
    assert!(
        app.store
            .create_user("ALICE@example.com", "Dup")
            .await
            .is_err()
    );
    assert!(
        app.store
            .create_user("Élise@example.com", "E1")
            .await
            .is_ok()
    );
    assert!(
        app.store
            .create_user("élise@example.com", "E2")
            .await
            .is_ok()
    );
    let found = app
        .store
        .find_user_by_email("aLiCe@EXAMPLE.com")
        .await
        .expect("query");
    assert_eq!(found.map(|u| u.id), Some(alice.id));
}
