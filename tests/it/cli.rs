//! The `callbase` binary as an operator uses it.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{STATUSES, Server, TYPES, TestApp, call, http_client, send};

fn callbase(database_url: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_callbase"));
    command
        .args(args)
        .env("CALLBASE_DATABASE_URL", database_url)
        .env_remove("RUST_LOG");
    command
}

fn run(database_url: &str, args: &[&str]) -> Output {
    let child = callbase(database_url, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run callbase");
    finish(child, args)
}

/// Waits for a command's end and output, at most two minutes: a command that
/// hangs is killed and fails the test instead of hanging it.
fn finish(child: std::process::Child, args: &[&str]) -> Output {
    let pid = child.id();
    let (sender, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(child.wait_with_output()));
    match output.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("run callbase"),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("callbase {args:?} did not finish in two minutes");
        }
    }
}

/// `callbase users create` of a user named "Ops"; asserts it succeeded.
fn create_user(database_url: &str, email: &str) {
    let created = run(
        database_url,
        &["users", "create", "--email", email, "--name", "Ops"],
    );
    assert!(created.status.success(), "{created:?}");
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn users_and_tokens(app: TestApp) {
    let url = app.database_url.clone();

    let created = run(
        &url,
        &[
            "users",
            "create",
            "--email",
            "ops@example.com",
            "--name",
            "Ops Team",
        ],
    );
    assert!(created.status.success(), "{created:?}");
    let again = run(
        &url,
        &[
            "users",
            "create",
            "--email",
            "OPS@example.com",
            "--name",
            "Twice",
        ],
    );
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists"),
        "{again:?}"
    );
    let listed = stdout(&run(&url, &["users", "list"]));
    assert!(
        listed.contains("ops@example.com") && listed.contains("Ops Team"),
        "{listed}"
    );

    let output = run(
        &url,
        &[
            "tokens",
            "create",
            "--user",
            "ops@example.com",
            "--name",
            "ci",
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let token = text.lines().last().expect("a last line").to_owned();
    assert!(
        token.starts_with("cb_") && token.len() == 46,
        "the last line is the token alone: {text:?}"
    );

    let user = app
        .store
        .find_user_by_email("ops@example.com")
        .await
        .expect("query")
        .expect("user");
    app.import(&user, &[call(1, json!({}))]).await;
    assert_eq!(app.get("/api/user/calls/1", &token).await.status, 200);

    let listed = stdout(&run(&url, &["tokens", "list", "--user", "ops@example.com"]));
    assert!(
        listed.contains("ci") && listed.contains(&token[..10]) && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "the secret is never shown again");
    let id = listed
        .lines()
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("token id")
        .to_owned();

    let revoked = run(&url, &["tokens", "revoke", &id]);
    assert!(revoked.status.success(), "{revoked:?}");
    assert_eq!(
        app.get("/api/user/calls/1", &token).await.status,
        401,
        "revoked tokens stop at once"
    );
    assert!(
        stdout(&run(&url, &["tokens", "list", "--user", "ops@example.com"])).contains("revoked")
    );
    assert!(!run(&url, &["tokens", "revoke", &id]).status.success());
    assert!(
        !run(&url, &["tokens", "create", "--user", "nobody@example.com"])
            .status
            .success()
    );
    assert!(run(&url, &["migrate"]).status.success());
}

async fn import_command(app: TestApp) {
    let url = app.database_url.clone();
    let (alice, token) = app.user("alice@example.com").await;
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("calls.ndjson");
    std::fs::write(
        &file,
        format!(
            "{}\n{}\n{}\n",
            call(1, json!({})),
            call(2, json!({"status": "nope"})),
            call(3, json!({}))
        ),
    )
    .expect("write");
    let file = file.to_string_lossy().into_owned();

    let output = run(&url, &["import", "--user", "alice@example.com", &file]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "exit code 1 when a line was rejected: {output:?}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 2: status: \"nope\" is not one of"),
        "{stderr}"
    );
    assert!(
        stdout(&output).starts_with("imported 2, updated 0, unchanged 0, rejected 1"),
        "{}",
        stdout(&output)
    );
    assert_eq!(app.list(&token, "").await.ids(), [3, 1]);

    // stdin, all good: exit 0; the same calls again are unchanged.
    let mut child = callbase(&url, &["import", "--user", "alice@example.com", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let lines = format!("{}\n{}\n", call(1, json!({})), call(4, json!({})));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(lines.as_bytes())
        .expect("write");
    let output = finish(child, &["import", "-"]);
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).starts_with("imported 1, updated 0, unchanged 1, rejected 0"),
        "{}",
        stdout(&output)
    );

    // Another user cannot take the ids over.
    app.user("bob@example.com").await;
    let output = run(&url, &["import", "--user", "bob@example.com", &file]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("line 1: id 1 belongs to another user's call")
    );
    assert_eq!(
        app.store.count_user_calls(alice.id).await.expect("count"),
        3
    );
    assert!(
        !run(
            &url,
            &["import", "--user", "alice@example.com", "/no/such/file"]
        )
        .status
        .success()
    );
}

/// Starts `serve --demo` and reads what it prints up to the curl line.
async fn start_demo(url: &str, stderr: Stdio) -> (Server, Vec<String>) {
    start_demo_until(url, stderr, "curl ").await
}

/// Starts `serve --demo` and returns the lines it prints up to the first
/// that contains `last`; the rest of its output is drained, as a terminal
/// would. The test fails, showing what was printed, when the server exits
/// first or prints no such line within 60 s; then it is killed (a blocked
/// reader would keep the test runtime from shutting down: the test would
/// hang instead of failing).
async fn start_demo_until(url: &str, stderr: Stdio, last: &'static str) -> (Server, Vec<String>) {
    let child = callbase(url, &["serve", "--demo", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn");
    let mut server = Server(child);
    let stdout = server.0.stdout.take().expect("stdout");
    let (sender, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout).lines();
        for line in reader.by_ref().map_while(Result::ok) {
            let done = line.contains(last);
            let _ = sender.send(line);
            if done {
                break;
            }
        }
        drop(sender);
        reader.for_each(drop);
    });
    let mut printed = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match tokio::time::timeout_at(deadline, lines.recv()).await {
            Ok(Some(line)) if line.contains(last) => {
                printed.push(line);
                return (server, printed);
            }
            Ok(Some(line)) => printed.push(line),
            Ok(None) => panic!("serve --demo printed no {last:?} line: {printed:?}"),
            Err(_) => panic!("serve --demo printed no {last:?} line in 60 s: {printed:?}"),
        }
    }
}

/// The token and the URL of the curl command a demo start printed.
fn demo_access(printed: &[String]) -> (String, String) {
    let token = printed
        .iter()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .expect("token line")
        .to_owned();
    let curl = printed
        .iter()
        .find(|l| l.contains("curl "))
        .expect("curl line");
    let target = curl.split('\'').nth(3).expect("quoted URL").to_owned();
    (token, target)
}

/// Two nodes started with `--demo` at once on one empty database: one seeds,
/// the other reuses it; both serve with working tokens.
async fn demo_on_two_nodes_at_once(app: TestApp) {
    let url = app.database_url.clone();
    let ((first, a), (second, b)) = tokio::join!(
        start_demo(&url, Stdio::null()),
        start_demo(&url, Stdio::null())
    );
    for printed in [&a, &b] {
        let (token, target) = demo_access(printed);
        let base = target.split("/api/").next().expect("base").to_owned();
        let all = send(
            http_client()
                .get(format!("{base}/api/user/calls"))
                .bearer_auth(&token),
        )
        .await;
        assert_eq!(all.status, 200, "{printed:?}");
    }
    let users = stdout(&run(&url, &["users", "list"]));
    assert_eq!(users.matches("demo@callbase.local").count(), 1, "{users}");
    stop(first).await;
    stop(second).await;
}

/// `serve --demo` from the binary: token printed, the curl works, every
/// status and type present, SIGTERM stops it cleanly; a second start reuses the data.
async fn serve_demo_end_to_end(app: TestApp) {
    // The test server's fresh database, used here by the binary only.
    let url = app.database_url.clone();
    let client = http_client();

    for round in 0..2 {
        let (child, printed) = start_demo(&url, Stdio::null()).await;
        let text = printed.join("\n");
        let (token, target) = demo_access(&printed);
        assert!(target.starts_with("http://127.0.0.1:"), "{target}");
        if round == 1 {
            assert!(text.contains("reusing"), "{text}");
        }

        let answer = send(client.get(&target).bearer_auth(&token)).await;
        assert_eq!(answer.status, 200, "{text}");
        assert_eq!(answer.ids().len(), 2);
        let base = target.split("/api/").next().expect("base").to_owned();
        let all = send(
            client
                .get(format!("{base}/api/user/calls"))
                .bearer_auth(&token),
        )
        .await;
        let total = all.body["total"].as_u64().expect("total");
        assert!((1900..=2100).contains(&total), "about 2,000 calls: {total}");
        let filters = STATUSES
            .iter()
            .map(|s| ("status", *s))
            .chain(TYPES.iter().map(|t| ("type", *t)));
        for (field, value) in filters {
            let url = format!("{base}/api/user/calls?{field}={value}&per_page=1");
            let some = send(client.get(url).bearer_auth(&token)).await;
            assert!(
                some.body["total"].as_u64() > Some(0),
                "demo has {field}={value} calls"
            );
        }
        let campaigns = send(
            client
                .get(format!("{base}/api/user/campaigns"))
                .bearer_auth(&token),
        )
        .await;
        assert!(campaigns.body["data"].as_array().map_or(0, Vec::len) >= 2);

        stop(child).await;
    }
}

/// Sends SIGTERM and waits (bounded) for a graceful exit.
async fn stop(mut server: Server) {
    let child = &mut server.0;
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill")
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "graceful exit: {status:?}");
}

/// One log line per request, with its id, method, path, user and status,
/// and never the token or the query string (it can hold phone numbers).
async fn request_log_lines(app: TestApp) {
    let url = app.database_url.clone();
    let client = http_client();
    let dir = tempfile::tempdir().expect("dir");
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let (child, printed) = start_demo(&url, Stdio::from(log)).await;
    let (token, target) = demo_access(&printed);
    let base = target.split("/api/").next().expect("base").to_owned();

    let listed = send(
        client
            .get(format!(
                "{base}/api/user/calls?phone_number=%2B4915112345678"
            ))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(listed.status, 200);
    let id = send(
        client
            .get(format!("{base}/api/user/calls?per_page=1"))
            .bearer_auth(&token),
    )
    .await
    .ids()[0];
    let got = client
        .get(format!("{base}/api/user/calls/{id}"))
        .bearer_auth(&token)
        .header("x-request-id", "trace-me-7")
        .send()
        .await
        .expect("get");
    assert_eq!(got.status(), 200);
    assert_eq!(
        got.headers().get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"trace-me-7"[..])
    );
    let refused = send(
        client
            .get(format!("{base}/api/user/calls"))
            .bearer_auth("cb_not-a-token"),
    )
    .await;
    assert_eq!(refused.status, 401);
    stop(child).await;

    let text = std::fs::read_to_string(&log_path).expect("log");
    let finished: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("finished processing request"))
        .collect();
    assert_eq!(finished.len(), 4, "{text}");
    let by_id = format!(
        "  INFO request{{request.id=trace-me-7 method=GET path=/api/user/calls/{id} user.id="
    );
    let line = finished
        .iter()
        .find(|l| l.contains("request.id=trace-me-7"))
        .expect("the caller's request id is logged");
    assert_eq!(&line[27..27 + by_id.len()], by_id, "{line}");
    assert!(
        line.contains("}: callbase::http::middleware: finished processing request latency=")
            && line.ends_with(" ms status=200"),
        "{line}"
    );
    // Requests without an id of their own got a UUID.
    let generated = finished
        .iter()
        .filter(|l| !l.contains("request.id=trace-me-7"))
        .filter_map(|l| l.split("request{request.id=").nth(1))
        .filter(|rest| rest.as_bytes().get(36) == Some(&b' ') && rest.as_bytes()[8] == b'-')
        .count();
    assert_eq!(generated, 3, "{text}");
    // No user for a refused token: the span has no `user.id`.
    assert!(
        finished.iter().any(|l| l.contains(" method=GET path=/api/user/calls}: ")
            && l.ends_with("status=401")),
        "the refused request is logged with its status: {text}"
    );
    for secret in [
        token.as_str(),
        "cb_not-a-token",
        "4915112345678",
        "phone_number",
    ] {
        assert!(!text.contains(secret), "{secret} was logged: {text}");
    }
}

/// The demo user is found whatever the case of its email, as the stores
/// compare emails: `--demo` reuses it and prints a working token.
async fn demo_finds_its_user_whatever_the_case(app: TestApp) {
    let url = app.database_url.clone();
    create_user(&url, "Demo@Callbase.LOCAL");
    let (server, printed) = start_demo(&url, Stdio::null()).await;
    assert!(printed.iter().any(|l| l.contains("reusing")), "{printed:?}");
    let (token, target) = demo_access(&printed);
    let answer = send(http_client().get(&target).bearer_auth(&token)).await;
    assert_eq!(answer.status, 200, "{printed:?}");
    stop(server).await;
}

/// On a database with other users, `--demo` adds nothing and still serves.
async fn demo_leaves_a_used_database_alone(app: TestApp) {
    let url = app.database_url.clone();
    create_user(&url, "ops@example.com");
    // Explains why no demo data was added.
    let (mut server, _) = start_demo_until(&url, Stdio::null(), "no demo data").await;
    // Still serving: a user and a token work.
    let users = stdout(&run(&url, &["users", "list"]));
    assert!(!users.contains("demo@callbase.local"), "{users}");
    assert!(
        server.0.try_wait().expect("wait").is_none(),
        "still running"
    );
    stop(server).await;
}

async fn scopes_assistants_and_campaigns(app: TestApp) {
    let url = app.database_url.clone();
    let (user, _) = app.user("ops@example.com").await;
    let create = |scope: &str| {
        let output = run(
            &url,
            &[
                "tokens",
                "create",
                "--user",
                "ops@example.com",
                "--scope",
                scope,
            ],
        );
        assert!(output.status.success(), "{output:?}");
        stdout(&output).lines().last().expect("token").to_owned()
    };
    let reader = create("read");
    let writer = create("write");
    assert!(
        !run(
            &url,
            &[
                "tokens",
                "create",
                "--user",
                "ops@example.com",
                "--scope",
                "admin"
            ]
        )
        .status
        .success()
    );
    let listed = stdout(&run(&url, &["tokens", "list", "--user", "ops@example.com"]));
    assert!(
        listed.contains("SCOPE") && listed.contains("read") && listed.contains("write"),
        "{listed}"
    );

    // An assistant with a webhook, made on the command line.
    let output = run(
        &url,
        &[
            "assistants",
            "create",
            "--user",
            "ops@example.com",
            "--name",
            "Front desk",
            "--phone-number",
            "+4930123456",
            "--webhook-url",
            "https://hooks.example.com/in",
            "--webhook-active",
            "true",
        ],
    );
    assert!(output.status.success(), "{output:?}");
    let secret = stdout(&output).lines().last().expect("secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let id = app
        .store
        .list_assistants(user.id, 10, 0)
        .await
        .expect("list")
        .rows[0]
        .id;
    let shown = app.get(&format!("/api/user/assistant/{id}"), &reader).await;
    assert_eq!(shown.body["name"], "Front desk");
    assert_eq!(shown.body["is_webhook_active"], true);
    assert_eq!(shown.body["phone_number"], "+4930123456");
    let bad = run(
        &url,
        &[
            "assistants",
            "create",
            "--user",
            "ops@example.com",
            "--name",
            "X",
            "--webhook-active",
            "true",
        ],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--webhook-url"),
        "{bad:?}"
    );

    let id_arg = id.to_string();
    let updated = run(
        &url,
        &[
            "assistants",
            "update",
            &id_arg,
            "--user",
            "ops@example.com",
            "--name",
            "Reception",
            "--webhook-active",
            "false",
        ],
    );
    assert!(updated.status.success(), "{updated:?}");
    let shown = app.get(&format!("/api/user/assistant/{id}"), &writer).await;
    assert_eq!(shown.body["name"], "Reception");
    assert_eq!(shown.body["is_webhook_active"], false);
    let listed = stdout(&run(
        &url,
        &["assistants", "list", "--user", "ops@example.com"],
    ));
    assert!(listed.contains("Reception"), "{listed}");
    let rotated = run(
        &url,
        &[
            "assistants",
            "rotate-secret",
            &id_arg,
            "--user",
            "ops@example.com",
        ],
    );
    assert!(rotated.status.success());
    assert_ne!(stdout(&rotated).lines().last(), Some(secret.as_str()));
    assert!(
        run(
            &url,
            &["assistants", "delete", &id_arg, "--user", "ops@example.com"]
        )
        .status
        .success()
    );
    assert_eq!(
        app.get(&format!("/api/user/assistant/{id}"), &writer)
            .await
            .status,
        404
    );
    assert!(
        !run(
            &url,
            &["assistants", "delete", &id_arg, "--user", "ops@example.com"]
        )
        .status
        .success()
    );

    // Campaigns.
    let made = run(
        &url,
        &[
            "campaigns",
            "create",
            "--user",
            "ops@example.com",
            "--name",
            "Spring",
            "--status",
            "paused",
        ],
    );
    assert!(made.status.success(), "{made:?}");
    let campaigns = app.get("/api/user/campaigns", &reader).await;
    assert_eq!(campaigns.body["data"][0]["status"], "paused");
    let cid = campaigns.body["data"][0]["id"]
        .as_i64()
        .expect("id")
        .to_string();
    assert!(
        run(
            &url,
            &[
                "campaigns",
                "update",
                &cid,
                "--user",
                "ops@example.com",
                "--status",
                "active"
            ]
        )
        .status
        .success()
    );
    assert!(
        !run(
            &url,
            &[
                "campaigns",
                "update",
                &cid,
                "--user",
                "ops@example.com",
                "--status",
                "nope"
            ]
        )
        .status
        .success()
    );
    assert!(
        stdout(&run(
            &url,
            &["campaigns", "list", "--user", "ops@example.com"]
        ))
        .contains("active")
    );
    assert!(
        run(
            &url,
            &["campaigns", "delete", &cid, "--user", "ops@example.com"]
        )
        .status
        .success()
    );
    assert_eq!(
        app.get("/api/user/campaigns", &reader).await.body["data"],
        json!([])
    );
}

/// `callbase export` writes what the API's export answers, byte for byte.
async fn export_command(app: TestApp) {
    let url = app.database_url.clone();
    let (alice, token) = app.user("alice@example.com").await;
    let calls: Vec<serde_json::Value> = (1..=30)
        .map(|id| {
            call(
                id,
                json!({"status": if id % 2 == 0 { "failed" } else { "completed" }, "duration": id}),
            )
        })
        .collect();
    app.import(&alice, &calls).await;
    let dir = tempfile::tempdir().expect("dir");
    for (format, query) in [("csv", "status=failed&sort=duration"), ("ndjson", "")] {
        let file = dir.path().join(format!("out.{format}"));
        let path = file.to_string_lossy().into_owned();
        let output = run(
            &url,
            &[
                "export",
                "--user",
                "alice@example.com",
                "--format",
                format,
                "--query",
                query,
                "-o",
                &path,
            ],
        );
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let written = std::fs::read_to_string(&file).expect("file");
        let api = app
            .client
            .get(format!(
                "http://{}/api/user/calls/export?format={format}&{query}",
                app.addr
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("export")
            .text()
            .await
            .expect("body");
        assert_eq!(written, api, "{format} {query}");
        let expected = if format == "csv" { 15 } else { 30 };
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(&format!("exported {expected} calls")),
            "{output:?}"
        );
    }
    let output = run(
        &url,
        &[
            "export",
            "--user",
            "alice@example.com",
            "--query",
            "status=done",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("The selected status is invalid."));
}

backend_tests!(
    export_command,
    scopes_assistants_and_campaigns,
    users_and_tokens,
    import_command,
    serve_demo_end_to_end,
    request_log_lines,
    demo_on_two_nodes_at_once,
    demo_finds_its_user_whatever_the_case,
    demo_leaves_a_used_database_alone,
);
