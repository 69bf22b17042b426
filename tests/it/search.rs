//! Transcript search (`q`, CONTRACT §8): what matches, the `matches` of each
//! call, and the index kept by every write path, on both backends.

use serde_json::{Value, json};

use crate::helpers::{TestApp, call};

/// A transcript of `(sender, text)` segments, 2.5 s apart.
pub fn transcript(segments: &[(&str, &str)]) -> Value {
    let start = 1_754_055_268.5;
    Value::Array(
        segments
            .iter()
            .enumerate()
            .map(|(i, (sender, text))| {
                json!({"text": text, "type": "transcript", "sender": sender, "timestamp": start + 2.5 * i as f64})
            })
            .collect(),
    )
}

/// The ids and the total of a search.
async fn search(app: &TestApp, token: &str, query: &str) -> (Vec<i64>, u64) {
    let answer = app.list(token, &format!("per_page=100&{query}")).await;
    assert_eq!(answer.status, 200, "{query}: {}", answer.body);
    (answer.ids(), answer.body["total"].as_u64().expect("total"))
}

async fn words_prefixes_phrases(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let (bob, bob_token) = app.user("bob@example.com").await;
    let at = |day: u32| format!("2024-01-{day:02}T10:00:00Z");
    app.import(&alice, &[
        call(1, json!({"created_at": at(1), "transcript": transcript(&[("bot", "Guten Tag, wie kann ich helfen?"), ("human", "Ich möchte KÜNDIGEN.")])})),
        call(2, json!({"created_at": at(2), "transcript": transcript(&[("bot", "Guten Morgen!"), ("human", "Tag. Einen Termin, bitte.")])})),
        call(3, json!({"created_at": at(3), "transcript": transcript(&[("human", "Terminverschiebung wegen Kündigung"), ("bot", "Gerne, Straße und Hausnummer?")])})),
        call(4, json!({"created_at": at(4), "transcript": []})),
    ]).await;
    app.import(
        &bob,
        &[call(
            5,
            json!({"transcript": transcript(&[("human", "kündigen termin guten tag")])}),
        )],
    )
    .await;

    // Case and diacritics are ignored, on both sides.
    assert_eq!(search(&app, &token, "q=kundigen").await, (vec![1], 1));
    assert_eq!(search(&app, &token, "q=K%C3%BCndigen").await, (vec![1], 1));
    assert_eq!(search(&app, &token, "q=strasse").await, (vec![3], 1));
    // Every word, anywhere, in any order.
    assert_eq!(search(&app, &token, "q=tag%20guten").await, (vec![2, 1], 2));
    assert_eq!(search(&app, &token, "q=tag%20termin").await, (vec![2], 1));
    assert_eq!(search(&app, &token, "q=tag%20absagen").await, (vec![], 0));
    // Prefixes.
    assert_eq!(search(&app, &token, "q=termin*").await, (vec![3, 2], 2));
    assert_eq!(search(&app, &token, "q=k%C3%BCnd*").await, (vec![3, 1], 2));
    assert_eq!(search(&app, &token, "q=termin").await, (vec![2], 1));
    // Phrases: next to each other, in order, in one segment.
    assert_eq!(
        search(&app, &token, "q=%22guten%20tag%22").await,
        (vec![1], 1)
    );
    assert_eq!(
        search(&app, &token, "q=%22tag%20guten%22").await,
        (vec![], 0)
    );
    // "Morgen!" ends segment 0 of call 2 and "Tag." starts segment 1.
    assert_eq!(
        search(&app, &token, "q=%22morgen%20tag%22").await,
        (vec![], 0)
    );
    assert_eq!(
        search(&app, &token, "q=%22einen%20ter*%22").await,
        (vec![2], 1)
    );
    // Another user's words are theirs alone.
    assert_eq!(search(&app, &bob_token, "q=guten").await, (vec![5], 1));
    assert_eq!(search(&app, &bob_token, "q=morgen").await, (vec![], 0));
    // Filters and search together.
    assert_eq!(
        search(&app, &token, "q=tag&date_from=2024-01-02").await,
        (vec![2], 1)
    );
    assert_eq!(
        search(&app, &token, "q=guten&sort=created_at").await,
        (vec![1, 2], 2)
    );
    // No word at all, a word too long: 422.
    for (q, message) in [
        ("q=%22%22", "The q field must contain at least one word."),
        ("q=*%20-", "The q field must contain at least one word."),
        (
            &*format!("q={}", "x".repeat(65)),
            "The q field must not contain words longer than 64 characters.",
        ),
    ] {
        let answer = app.list(&token, q).await;
        assert_eq!(answer.status, 422, "{q}");
        assert_eq!(answer.body["errors"]["q"], json!([message]), "{q}");
    }
}

async fn matches_mark_the_words(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let segments: Vec<(&str, String)> = (0..8)
        .map(|i| {
            if i % 2 == 0 {
                ("bot", format!("Runde {i}: Termin am Dienstag?"))
            } else {
                ("human", format!("Nein, kein Termin. Grüße, Jürgen {i}"))
            }
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = segments.iter().map(|(s, t)| (*s, t.as_str())).collect();
    app.import(
        &alice,
        &[call(1, json!({"transcript": transcript(&borrowed)}))],
    )
    .await;
    let answer = app.list(&token, "q=termin%20j%C3%BCrg*&fields=id").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let first = &answer.body["data"][0];
    assert_eq!(
        crate::helpers::key_order(&first.to_string()),
        ["id", "matches"]
    );
    let matches = first["matches"].as_array().expect("matches");
    // At most five segments, in transcript order.
    assert_eq!(matches.len(), 5);
    assert_eq!(
        matches[0],
        json!({"segment": 0, "sender": "bot", "offset": 0.0, "text": "Runde 0: Termin am Dienstag?", "ranges": [[9, 15]]})
    );
    // Code points, not bytes: "Grüße, " before "Jürgen".
    assert_eq!(
        matches[1],
        json!({"segment": 1, "sender": "human", "offset": 2.5, "text": "Nein, kein Termin. Grüße, Jürgen 1", "ranges": [[11, 17], [26, 32]]})
    );
    assert_eq!(matches[4]["segment"], 4);
    // Without `q`, no `matches`; the Call keeps its shape.
    let plain = app.list(&token, "").await;
    assert!(plain.body["data"][0].get("matches").is_none());
    assert!(!plain.text.contains("\"matches\""));
}

/// Transcripts beyond PostgreSQL's limits for a `tsvector` (256 positions of
/// a word, positions up to 16,383) match as on SQLite: checked on the text.
async fn long_transcripts_match_alike(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let many_ja = vec!["ja"; 400].join(" ");
    let long = format!("{} ende gut", vec!["wort"; 17_000].join(" "));
    app.import(&alice, &[
        call(1, json!({"created_at": "2024-01-01T00:00:00Z", "transcript": transcript(&[("human", &many_ja), ("bot", "ja nein")])})),
        call(2, json!({"created_at": "2024-01-02T00:00:00Z", "transcript": transcript(&[("human", &long)])})),
        call(3, json!({"created_at": "2024-01-03T00:00:00Z", "transcript": transcript(&[("human", "gut ende")])})),
    ])
    .await;
    assert_eq!(
        search(&app, &token, "q=%22ja%20nein%22").await,
        (vec![1], 1)
    );
    assert_eq!(
        search(&app, &token, "q=%22ende%20gut%22").await,
        (vec![2], 1)
    );
    assert_eq!(
        search(&app, &token, "q=%22gut%20ende%22").await,
        (vec![3], 1)
    );
    assert_eq!(search(&app, &token, "q=ende%20gut").await, (vec![3, 2], 2));
    assert_eq!(
        search(&app, &token, "q=%22wort%20ende%22&status=completed").await,
        (vec![2], 1)
    );
    assert_eq!(search(&app, &token, "q=%22nein%20ja%22").await, (vec![], 0));
}

async fn every_write_keeps_the_index(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    app.import(
        &alice,
        &[call(
            1,
            json!({"transcript": transcript(&[("bot", "Alpha Beta")])}),
        )],
    )
    .await;
    assert_eq!(search(&app, &token, "q=alpha").await, (vec![1], 1));
    // A re-import with another transcript: the old words go, the new come.
    app.import(
        &alice,
        &[call(
            1,
            json!({"transcript": transcript(&[("bot", "Gamma")])}),
        )],
    )
    .await;
    assert_eq!(search(&app, &token, "q=alpha").await, (vec![], 0));
    assert_eq!(search(&app, &token, "q=gamma").await, (vec![1], 1));
    // A re-import of something else keeps the words.
    app.import(
        &alice,
        &[call(
            1,
            json!({"status": "failed", "transcript": transcript(&[("bot", "Gamma")])}),
        )],
    )
    .await;
    assert_eq!(
        search(&app, &token, "q=gamma&status=failed").await,
        (vec![1], 1)
    );

    // The write API: a call, then segments as spoken, then other fields.
    let created = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "web", "status": "in-progress"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_i64().expect("id");
    assert_eq!(search(&app, &token, "q=delta").await, (vec![], 0));
    let appended = app
        .post(
            &format!("/api/user/calls/{id}/transcript"),
            &token,
            json!({"segments": [{"text": "Delta Epsilon", "sender": "human", "timestamp": 1754055268.5}]}),
        )
        .await;
    assert_eq!(appended.status, 200, "{}", appended.body);
    assert_eq!(search(&app, &token, "q=delta").await, (vec![id], 1));
    let patched = app
        .patch(
            &format!("/api/user/calls/{id}"),
            &token,
            json!({"status": "completed", "duration": 30}),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(
        search(&app, &token, "q=%22delta%20epsilon%22&status=completed").await,
        (vec![id], 1)
    );
    // A call created with its transcript.
    let whole = app
        .post(
            "/api/user/calls",
            &token,
            json!({"type": "web", "status": "completed",
                   "transcript": [{"text": "Zeta", "sender": "bot", "timestamp": 1754055268.5}]}),
        )
        .await;
    assert_eq!(whole.status, 201, "{}", whole.body);
    let whole_id = whole.body["id"].as_i64().expect("id");
    assert_eq!(search(&app, &token, "q=zeta").await, (vec![whole_id], 1));

    // Deleted: gone from search too.
    assert_eq!(
        app.delete(&format!("/api/user/calls/{id}"), &token)
            .await
            .status,
        200
    );
    assert_eq!(search(&app, &token, "q=delta").await, (vec![], 0));
    assert_eq!(search(&app, &token, "q=gamma").await, (vec![1], 1));
}

/// A word's total stays exact through deletes and rewrites (SQLite counts a
/// single word from the index's vocabulary, which must leave deleted calls
/// out).
async fn totals_survive_deletes_and_rewrites(app: TestApp) {
    let (alice, token) = app.user("alice@example.com").await;
    let calls: Vec<Value> = (1..=300)
        .map(|id| {
            call(
                id,
                json!({"transcript": transcript(&[("bot", "gemeinsam und anders")])}),
            )
        })
        .collect();
    app.import(&alice, &calls).await;
    for id in (1..=300).step_by(3) {
        assert_eq!(
            app.delete(&format!("/api/user/calls/{id}"), &token)
                .await
                .status,
            200
        );
    }
    let rewritten: Vec<Value> = (2..=300)
        .step_by(6)
        .map(|id| {
            call(
                id,
                json!({"transcript": transcript(&[("bot", "nur anders")])}),
            )
        })
        .collect();
    app.import(&alice, &rewritten).await;
    // 300 - 100 deleted - 50 rewritten.
    for (q, total) in [
        ("q=gemeinsam", 150),
        ("q=anders", 200),
        ("q=gemein*", 150),
        ("q=nur", 50),
    ] {
        assert_eq!(
            search(&app, &token, &format!("{q}&per_page=1")).await.1,
            total,
            "{q}"
        );
    }
}

backend_tests!(
    totals_survive_deletes_and_rewrites,
    words_prefixes_phrases,
    matches_mark_the_words,
    long_transcripts_match_alike,
    every_write_keeps_the_index
);
