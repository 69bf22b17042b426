//! CONTRACT §10: `GET /api/user/calls/export`, NDJSON and CSV, over HTTP.

use serde_json::{Value, json};

use crate::helpers::{TestApp, call};

/// 2024-01-01T00:00:00Z
const T0: i64 = 1_704_067_200;

fn at(seconds: i64) -> String {
    callbase::domain::timefmt::format_rfc3339(T0 + seconds)
}

/// `n` calls with varied fields, one with formula-like cells.
async fn seeded(app: &TestApp, n: i64) -> (callbase::store::User, String) {
    let (user, token) = app.user("export@example.com").await;
    let rows: Vec<Value> = (1..=n)
        .map(|id| {
            let mut overrides = json!({
                "status": if id % 3 == 0 { "failed" } else { "completed" },
                "duration": (id * 37) % 300,
                "total_cost": if id % 5 == 0 { Value::Null } else { json!(0.01 * (id % 7) as f64) },
                "created_at": at(id * 600),
                "updated_at": at(id * 600 + 60),
            });
            if id == 2 {
                overrides["assistant_name"] = json!("=HYPERLINK(\"http://evil\")");
                overrides["variables"] = json!({"note": "-1, \"quoted\"\nnext line"});
                overrides["transcript"] = json!([
                    {"text": "@mention, \"hi\"", "type": "transcript", "sender": "bot", "timestamp": 1.5},
                    {"text": "Grüße\r\nzwei", "type": "transcript", "sender": "human", "timestamp": 2.5}
                ]);
            }
            call(id, overrides)
        })
        .collect();
    app.import(&user, &rows).await;
    (user, token)
}

/// An export's status, headers and body (not JSON: helpers' `get` parses).
async fn export(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let response = app
        .client
        .get(format!("http://{}/api/user/calls/export?{query}", app.addr))
        .bearer_auth(token)
        .send()
        .await
        .expect("export");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (status, headers, response.text().await.expect("body"))
}

async fn ndjson_lines_are_the_calls_in_the_lists_order(app: TestApp) {
    let (_, token) = seeded(&app, 60).await;
    for query in [
        "",
        "status=failed&sort=duration",
        "sort=-total_cost&duration_min=100",
        "q=Maximilian&sort=created_at",
    ] {
        let (status, headers, text) = export(&app, &token, query).await;
        assert_eq!(status, 200, "{query}");
        assert_eq!(headers["content-type"], "application/x-ndjson");
        let disposition = headers["content-disposition"].to_str().expect("ascii");
        assert!(
            disposition.starts_with("attachment; filename=\"calls-")
                && disposition.ends_with(".ndjson\""),
            "{disposition}"
        );
        let lines: Vec<&str> = text.lines().collect();
        let ids: Vec<i64> = lines
            .iter()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("json")["id"]
                    .as_i64()
                    .expect("id")
            })
            .collect();
        assert_eq!(ids, app.all_ids(&token, query).await, "{query}");
        // Each line is what GET /calls/{id} answers, byte for byte.
        for line in lines.iter().take(5) {
            let id = serde_json::from_str::<Value>(line).expect("json")["id"].clone();
            let one = app.get(&format!("/api/user/calls/{id}"), &token).await;
            assert_eq!(*line, one.text, "{query}");
        }
    }
    // Another user exports nothing of this user's.
    let (_, other) = app.user("other@example.com").await;
    let (status, _, text) = export(&app, &other, "").await;
    assert_eq!((status, text.as_str()), (200, ""));
}

async fn csv_reads_back_as_the_records(app: TestApp) {
    let (_, token) = seeded(&app, 12).await;
    let (status, headers, text) = export(&app, &token, "format=csv&sort=created_at").await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert!(text.contains("\r\n"), "RFC 4180 line ends");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[0], "id");
    assert_eq!(header.len(), 18);
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("record")).collect();
    assert_eq!(records.len(), 12);
    let cell = |r: &csv::StringRecord, name: &str| {
        r.get(header.iter().position(|h| h == name).expect("column"))
            .unwrap_or("")
            .to_owned()
    };
    for record in &records {
        let id = cell(record, "id");
        let call = app.get(&format!("/api/user/calls/{id}"), &token).await.body;
        let text = |v: &Value| v.as_str().map(str::to_owned).unwrap_or_default();
        let guarded = |s: String| {
            if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
                format!("'{s}")
            } else {
                s
            }
        };
        assert_eq!(
            cell(record, "assistant_name"),
            guarded(text(&call["assistant_name"]))
        );
        assert_eq!(
            cell(record, "client_phone_number"),
            guarded(text(&call["client_phone_number"]))
        );
        assert_eq!(cell(record, "status"), text(&call["status"]));
        assert_eq!(cell(record, "duration"), call["duration"].to_string());
        assert_eq!(cell(record, "created_at"), text(&call["created_at"]));
        let cost = cell(record, "total_cost");
        match call["total_cost"].as_f64() {
            Some(c) => assert_eq!(cost.parse::<f64>().expect("number"), c),
            None => assert_eq!(cost, ""),
        }
        let variables: Value = serde_json::from_str(&cell(record, "variables")).expect("json");
        assert_eq!(variables, call["variables"]);
        assert_eq!(
            serde_json::from_str::<Value>(&cell(record, "webhook_response")).expect("json"),
            call["webhook_response"]
        );
        let lines: Vec<String> = call["transcript"]
            .as_array()
            .expect("transcript")
            .iter()
            .map(|s| format!("{}: {}", text(&s["sender"]), text(&s["text"])))
            .collect();
        assert_eq!(cell(record, "transcript"), lines.join("\n"));
    }
    // The formula-like cells of call 2, as a spreadsheet must not run them.
    let two = records
        .iter()
        .find(|r| cell(r, "id") == "2")
        .expect("call 2");
    assert_eq!(cell(two, "assistant_name"), "'=HYPERLINK(\"http://evil\")");
    assert_eq!(cell(two, "client_phone_number"), "'+4915123456789");
    assert_eq!(
        cell(two, "transcript"),
        "bot: @mention, \"hi\"\nhuman: Grüße\r\nzwei"
    );
}

async fn an_export_is_one_snapshot_while_others_write(app: TestApp) {
    // Enough calls that the export cannot be buffered whole before it is read.
    let (user, token) = seeded(&app, 3000).await;
    let expected: Vec<i64> = (1..=3000).rev().collect();
    let mut response = app
        .client
        .get(format!("http://{}/api/user/calls/export", app.addr))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    assert_eq!(response.status(), 200);
    let mut body = response
        .chunk()
        .await
        .expect("chunk")
        .expect("a first chunk")
        .to_vec();
    // Meanwhile: an oldest call deleted, a newer one changed, new calls.
    assert_eq!(app.delete("/api/user/calls/1", &token).await.status, 200);
    let news: Vec<Value> = (5001..5011)
        .map(|id| call(id, json!({"created_at": at(id * 600)})))
        .chain([call(
            2999,
            json!({"created_at": at(2999 * 600), "duration": 7}),
        )])
        .collect();
    app.import(&user, &news).await;
    while let Some(chunk) = response.chunk().await.expect("chunk") {
        body.extend_from_slice(&chunk);
    }
    let lines: Vec<Value> = String::from_utf8(body)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let ids: Vec<i64> = lines
        .iter()
        .map(|l| l["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(
        ids, expected,
        "the calls as they were when the export began"
    );
    let changed = lines.iter().find(|l| l["id"] == 2999).expect("2999");
    assert_ne!(changed["duration"], 7, "its state when the export began");
}

async fn bad_parameters_are_refused_before_anything_is_sent(app: TestApp) {
    let (_, token) = seeded(&app, 3).await;
    let answer = app
        .get(
            "/api/user/calls/export?format=xlsx&sort=name&status=done",
            &token,
        )
        .await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.body["errors"],
        json!({
            "status": ["The selected status is invalid."],
            "sort": ["The selected sort is invalid."],
            "format": ["The selected format is invalid."],
        })
    );
    let anonymous = app
        .request(reqwest::Method::GET, "/api/user/calls/export", None)
        .await;
    assert_eq!(anonymous.status, 401);
}

backend_tests!(
    ndjson_lines_are_the_calls_in_the_lists_order,
    csv_reads_back_as_the_records,
    an_export_is_one_snapshot_while_others_write,
    bad_parameters_are_refused_before_anything_is_sent,
);
