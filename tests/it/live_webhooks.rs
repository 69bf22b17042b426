//! Post-call webhooks: signed delivery to an in-process receiver, retries,
//! a restart between attempts, `webhook_response`, the attempt log, and the
//! cases that send nothing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Server, TestApp, spawn_on};
use crate::receiver::Receiver;

/// An assistant whose webhook goes to `receiver`; returns (id, secret).
async fn hooked_assistant(
    app: &TestApp,
    token: &str,
    receiver: &Receiver,
    extra: Value,
) -> (i64, String) {
    let mut body = json!({
        "name": format!("Bot {}", rand_name()),
        "phone_number": "+4930123456",
        "is_webhook_active": true,
        "webhook_url": receiver.url(),
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
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

fn rand_name() -> u32 {
    rand::random::<u32>()
}

/// Records a call of the assistant and moves it to `status`.
async fn finished_call(app: &TestApp, token: &str, assistant: i64, status: &str) -> i64 {
    let created = app
        .post(
            "/api/user/calls",
            token,
            json!({"type": "outbound", "assistant_id": assistant, "status": "in-progress",
                   "client_phone_number": "+491511234567", "variables": {"name": "Jana"},
                   "recording_url": "https://rec.example.com/1.mp3",
                   "transcript": [
                       {"text": "Hallo!", "sender": "bot", "timestamp": 10},
                       {"text": "Hi, Jana hier.", "sender": "human", "timestamp": 12}
                   ],
                   "evaluation": [{"name": "interested", "type": "bool", "value": true, "description": ""}]}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_i64().expect("id");
    let done = app
        .patch(
            &format!("/api/user/calls/{id}"),
            token,
            json!({"status": status, "duration": 42}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    id
}

/// Polls the call's deliveries until `done` accepts them.
async fn deliveries_until(
    app: &TestApp,
    token: &str,
    call: i64,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let answer = app
            .get(&format!("/api/user/calls/{call}/webhook-deliveries"), token)
            .await;
        assert_eq!(answer.status, 200);
        if done(&answer.body["data"]) {
            return answer.body["data"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {}",
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn delivered(data: &Value) -> bool {
    data[0]["status"] == "delivered"
}

async fn webhook_is_signed_and_answer_kept(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.answer(200, r#"{"received": true, "ticket": 77}"#);
    let (_, token) = app.user("alice@example.com").await;
    let (assistant, secret) = hooked_assistant(&app, &token, &receiver, json!({})).await;
    let call = finished_call(&app, &token, assistant, "completed").await;

    let received = receiver.wait_for(1).await;
    let hook = &received[0];
    assert!(hook.verifies(&secret), "valid Standard Webhooks signature");
    assert!(!hook.verifies("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="));
    assert!(hook.header("webhook-id").starts_with("msg_"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let sent_at: i64 = hook.header("webhook-timestamp").parse().expect("timestamp");
    assert!((now - sent_at).abs() < 60);
    assert_eq!(hook.header("content-type"), "application/json");
    let payload = hook.json();
    assert_eq!(payload["id"], call);
    assert_eq!(payload["customer_phone"], "+491511234567");
    assert_eq!(payload["assistant_phone"], "+4930123456");
    assert_eq!(payload["duration"], 42);
    assert_eq!(payload["status"], "completed");
    assert_eq!(payload["extracted_variables"], json!({"interested": true}));
    assert_eq!(payload["input_variables"], json!({"name": "Jana"}));
    assert_eq!(
        payload["transcript"],
        "Assistant: Hallo!\nCustomer: Hi, Jana hier."
    );
    assert_eq!(payload["recording_url"], "https://rec.example.com/1.mp3");
    assert!(
        payload["created_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    assert!(
        payload["finished_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    assert_eq!(payload["lead"], Value::Null);
    assert_eq!(payload["campaign"], Value::Null);

    // The receiver's JSON answer becomes the call's webhook_response.
    let data = deliveries_until(&app, &token, call, "delivery", delivered).await;
    assert_eq!(data.as_array().map(Vec::len), Some(1));
    assert_eq!(data[0]["webhook_id"], hook.header("webhook-id"));
    assert_eq!(data[0]["attempts"][0]["status_code"], 200);
    assert_eq!(data[0]["attempts"][0]["error"], Value::Null);
    let got = app.get(&format!("/api/user/calls/{call}"), &token).await;
    assert_eq!(
        got.body["webhook_response"],
        json!({"received": true, "ticket": 77})
    );

    // A redelivery is a new message; the first answer stays.
    receiver.answer(200, r#"{"second": true}"#);
    let queued = app
        .post(
            &format!("/api/user/calls/{call}/webhook-deliveries/redeliver"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(queued.status, 202, "{}", queued.text);
    let second = receiver.wait_for(2).await;
    assert_ne!(second[1].header("webhook-id"), hook.header("webhook-id"));
    deliveries_until(&app, &token, call, "second delivery", |d| {
        d[1]["status"] == "delivered"
    })
    .await;
    let got = app.get(&format!("/api/user/calls/{call}"), &token).await;
    assert_eq!(got.body["webhook_response"]["ticket"], 77);
    // Another user sees nothing of it.
    let (_, bob) = app.user("bob@example.com").await;
    let hidden = app
        .get(&format!("/api/user/calls/{call}/webhook-deliveries"), &bob)
        .await;
    assert_eq!(hidden.status, 404);
}

async fn failing_receiver_is_retried_until_it_recovers(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.answer(500, "down for maintenance");
    let (_, token) = app.user("alice@example.com").await;
    let (assistant, secret) = hooked_assistant(
        &app,
        &token,
        &receiver,
        json!({"include_recording_in_webhook": false}),
    )
    .await;
    let call = finished_call(&app, &token, assistant, "completed").await;
    receiver.wait_for(2).await;
    receiver.answer(200, "thanks (not JSON)");
    let data = deliveries_until(&app, &token, call, "recovery", delivered).await;
    let attempts = data[0]["attempts"].as_array().expect("attempts");
    assert!(attempts.len() >= 3, "{attempts:?}");
    for failed in &attempts[..attempts.len() - 1] {
        assert_eq!(failed["status_code"], 500);
        assert_eq!(failed["error"], "HTTP 500");
        assert!(failed["latency_ms"].is_i64());
    }
    assert_eq!(attempts[attempts.len() - 1]["status_code"], 200);
    assert_eq!(data[0]["attempt_count"], attempts.len());
    let received = receiver.received();
    assert_eq!(received.len(), attempts.len(), "one request per attempt");
    let ids: std::collections::HashSet<&str> =
        received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "retries keep the webhook-id");
    assert!(received.iter().all(|r| r.verifies(&secret)));
    assert!(
        received[0].json().get("recording_url").is_none(),
        "recording left out when the assistant says so"
    );
    // A non-JSON answer leaves webhook_response null.
    let got = app.get(&format!("/api/user/calls/{call}"), &token).await;
    assert_eq!(got.body["webhook_response"], Value::Null);
}

async fn gives_up_after_the_schedule(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.answer(503, "{}");
    let (_, token) = app.user("alice@example.com").await;
    let (assistant, _) = hooked_assistant(&app, &token, &receiver, json!({})).await;
    let call = finished_call(&app, &token, assistant, "completed").await;
    // The tests' schedule has 3 retries: 4 attempts, then failed.
    let data = deliveries_until(&app, &token, call, "giving up", |d| {
        d[0]["status"] == "failed"
    })
    .await;
    assert_eq!(data[0]["attempt_count"], 4);
    assert_eq!(data[0]["next_attempt_at"], Value::Null);
    assert_eq!(receiver.received().len(), 4);
}

async fn no_webhook_for_inactive_or_filtered(app: TestApp) {
    let receiver = Receiver::start().await;
    let (_, token) = app.user("alice@example.com").await;
    let (only_completed, _) = hooked_assistant(&app, &token, &receiver, json!({})).await;
    let (inactive, _) =
        hooked_assistant(&app, &token, &receiver, json!({"is_webhook_active": false})).await;
    let (every_end, _) = hooked_assistant(
        &app,
        &token,
        &receiver,
        json!({"send_webhook_only_on_completed": false}),
    )
    .await;
    let busy = finished_call(&app, &token, only_completed, "busy").await;
    let quiet = finished_call(&app, &token, inactive, "completed").await;
    let sent = finished_call(&app, &token, every_end, "no-answer").await;

    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].json()["id"], sent);
    assert_eq!(received[0].json()["status"], "no-answer");
    deliveries_until(&app, &token, sent, "the sent one", delivered).await;
    for call in [busy, quiet] {
        let data = deliveries_until(&app, &token, call, "none", |_| true).await;
        assert_eq!(data, json!([]), "call {call}");
    }
    let refused = app
        .post(
            &format!("/api/user/calls/{quiet}/webhook-deliveries/redeliver"),
            &token,
            json!({}),
        )
        .await;
    assert_eq!(
        (refused.status.as_u16(), refused.body),
        (
            409,
            json!({"message": "The call's assistant has no active webhook."})
        )
    );
    assert_eq!(receiver.received().len(), 1);
}

async fn private_addresses_are_refused_by_default(app: TestApp) {
    // A second server on the same database, with the default (safe) setting
    // and no retries; the first one's worker is switched off.
    let receiver = Receiver::start().await;
    let (_, token) = app.user("alice@example.com").await;
    let database = app.database();
    let backend = app.backend;
    app.stop().await;
    let safe = spawn_on(backend, database, |s| {
        if let Some(outbox) = s.outbox.as_mut() {
            outbox.allow_private = false;
            outbox.schedule = Vec::new();
        }
    })
    .await;
    let (assistant, _) = hooked_assistant(&safe, &token, &receiver, json!({})).await;
    let call = finished_call(&safe, &token, assistant, "completed").await;
    let data = deliveries_until(&safe, &token, call, "refusal", |d| {
        d[0]["status"] == "failed"
    })
    .await;
    let error = data[0]["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("127.0.0.1"), "{error}");
    assert!(error.contains("--webhook-allow-private"), "{error}");
    assert_eq!(receiver.received().len(), 0, "nothing was sent");
}

async fn delivered_once_across_a_restart(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.answer(500, "");
    let (_, token) = app.user("alice@example.com").await;
    let (assistant, secret) = hooked_assistant(&app, &token, &receiver, json!({})).await;
    let database = app.database();
    let backend = app.backend;
    // A long first delay, so the retry is due only after the restart.
    let slow = spawn_on(backend, database.clone(), |s| {
        if let Some(outbox) = s.outbox.as_mut() {
            outbox.schedule = vec![Duration::from_millis(1500); 3];
        }
    })
    .await;
    app.stop().await;
    let call = finished_call(&slow, &token, assistant, "completed").await;
    receiver.wait_for(1).await;
    deliveries_until(&slow, &token, call, "first attempt recorded", |d| {
        d[0]["attempt_count"] == 1
    })
    .await;
    slow.stop().await;

    receiver.answer(200, r#"{"ok": 1}"#);
    let restarted = spawn_on(backend, database, |_| {}).await;
    let data = deliveries_until(
        &restarted,
        &token,
        call,
        "delivery after restart",
        delivered,
    )
    .await;
    assert_eq!(data[0]["attempt_count"], 2);
    let received = receiver.received();
    assert_eq!(received.len(), 2, "one failed attempt, one delivery");
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id")
    );
    assert!(received[1].verifies(&secret));
    // Delivered is final: no pending delivery is left to send again.
    let pending = restarted
        .query_ints("SELECT count(*) FROM webhook_deliveries WHERE state = 'pending'")
        .await;
    assert_eq!(pending, vec![0]);
    let got = restarted
        .get(&format!("/api/user/calls/{call}"), &token)
        .await;
    assert_eq!(got.body["webhook_response"], json!({"ok": 1}));
}

async fn each_delivery_is_sent_by_one_of_several_servers(app: TestApp) {
    let receiver = Receiver::start().await;
    let (_, token) = app.user("alice@example.com").await;
    let (assistant, _) = hooked_assistant(&app, &token, &receiver, json!({})).await;
    let others = [
        spawn_on(app.backend, app.database(), |_| {}).await,
        spawn_on(app.backend, app.database(), |_| {}).await,
    ];
    let mut calls = Vec::new();
    for i in 0..12 {
        let node = if i % 3 == 0 { &app } else { &others[i % 2] };
        calls.push(finished_call(node, &token, assistant, "completed").await);
    }
    let received = receiver.wait_for(calls.len()).await;
    for call in &calls {
        let data = deliveries_until(&app, &token, *call, "delivery", delivered).await;
        assert_eq!(data[0]["attempt_count"], 1);
    }
    // Every delivery is done after one attempt each, so nothing is left to send.
    assert_eq!(receiver.received().len(), calls.len(), "each sent once");
    let mut ids: Vec<i64> = received
        .iter()
        .map(|r| r.json()["id"].as_i64().expect("id"))
        .collect();
    ids.sort_unstable();
    calls.sort_unstable();
    assert_eq!(ids, calls);
}

async fn imported_assistant_gets_a_secret_when_its_webhook_is_switched_on(app: TestApp) {
    let receiver = Receiver::start().await;
    let (alice, token) = app.user("alice@example.com").await;
    app.import(
        &alice,
        &[crate::helpers::call(
            9,
            json!({"assistant_name": "Imported bot"}),
        )],
    )
    .await;
    let listed = app.get("/api/user/assistants/get", &token).await;
    let id = listed.body["data"][0]["id"].as_i64().expect("id");
    let path = format!("/api/user/assistant/{id}");
    let switched = app
        .patch(
            &path,
            &token,
            json!({"is_webhook_active": true, "webhook_url": receiver.url()}),
        )
        .await;
    assert_eq!(switched.status, 200, "{}", switched.text);
    let secret = switched.body["webhook_secret"]
        .as_str()
        .expect("a secret, shown once")
        .to_owned();
    let again = app
        .patch(&path, &token, json!({"name": "Imported bot 2"}))
        .await;
    assert!(again.body.get("webhook_secret").is_none(), "only once");
    let call = finished_call(&app, &token, id, "completed").await;
    let received = receiver.wait_for(1).await;
    assert!(received[0].verifies(&secret));
    deliveries_until(&app, &token, call, "delivery", delivered).await;
}

async fn late_fields_reach_the_retried_webhook(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.answer(500, "");
    let (_, token) = app.user("alice@example.com").await;
    let (assistant, _) = hooked_assistant(&app, &token, &receiver, json!({})).await;
    let call = finished_call(&app, &token, assistant, "completed").await;
    let first = receiver.wait_for(1).await;
    assert_eq!(
        first[0].json()["recording_url"],
        "https://rec.example.com/1.mp3"
    );
    // The recording and a cost arrive after the hang-up; the receiver recovers.
    let late = app
        .patch(
            &format!("/api/user/calls/{call}"),
            &token,
            json!({"recording_url": "https://rec.example.com/final.mp3", "duration": 61}),
        )
        .await;
    assert_eq!(late.status, 200);
    receiver.answer(200, "{}");
    deliveries_until(&app, &token, call, "delivery", delivered).await;
    let last = receiver.received().pop().expect("a request");
    assert_eq!(
        last.json()["recording_url"],
        "https://rec.example.com/final.mp3"
    );
    assert_eq!(last.json()["duration"], 61);
    assert_eq!(last.header("webhook-id"), first[0].header("webhook-id"));
}

/// A `callbase serve` process that only sends webhooks, with short timeouts.
fn webhook_process(database_url: &str) -> Server {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_callbase"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--webhook-allow-private",
            "--webhook-connect-timeout",
            "1",
            "--webhook-timeout",
            "3",
            "--webhook-lease-margin",
            "1",
        ])
        .env("CALLBASE_DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn callbase serve");
    Server(child)
}

async fn delivered_after_a_crash_mid_attempt(app: TestApp) {
    let receiver = Receiver::start().await;
    let (_, token) = app.user("alice@example.com").await;
    let (assistant, secret) = hooked_assistant(&app, &token, &receiver, json!({})).await;
    // The API without a worker of its own; a separate process sends.
    let (backend, database) = (app.backend, app.database());
    app.stop().await;
    let front = spawn_on(backend, database, |s| s.outbox = None).await;
    let mut sender = webhook_process(&front.database_url);
    receiver.delay(Duration::from_secs(30));
    let call = finished_call(&front, &token, assistant, "completed").await;
    receiver.wait_for(1).await;
    // The attempt is in flight (the receiver has not answered): SIGKILL.
    sender.0.kill().expect("kill");
    sender.0.wait().expect("reaped");
    receiver.delay(Duration::ZERO);
    receiver.answer(200, r#"{"after": "crash"}"#);
    let restarted = webhook_process(&front.database_url);
    let data = deliveries_until(&front, &token, call, "delivery after the crash", delivered).await;
    drop(restarted);
    let received = receiver.received();
    assert_eq!(
        received.len(),
        2,
        "the cut-short attempt, then the delivery"
    );
    assert_eq!(
        received[0].header("webhook-id"),
        received[1].header("webhook-id"),
        "the same message again: receivers can drop the repeat"
    );
    assert!(received[1].verifies(&secret));
    // The attempt cut short by the crash left no record; the delivery did.
    assert_eq!(data[0]["attempt_count"], 1);
    assert_eq!(data[0]["attempts"][0]["status_code"], 200);
    let got = front.get(&format!("/api/user/calls/{call}"), &token).await;
    assert_eq!(got.body["webhook_response"], json!({"after": "crash"}));
}

backend_tests!(
    delivered_after_a_crash_mid_attempt,
    imported_assistant_gets_a_secret_when_its_webhook_is_switched_on,
    late_fields_reach_the_retried_webhook,
    webhook_is_signed_and_answer_kept,
    failing_receiver_is_retried_until_it_recovers,
    gives_up_after_the_schedule,
    no_webhook_for_inactive_or_filtered,
    private_addresses_are_refused_by_default,
    delivered_once_across_a_restart,
    each_delivery_is_sent_by_one_of_several_servers,
);
