//! The Laravel paginator envelope: counts, page URLs, and the `links` window.

use serde_json::{Value, json};

use crate::helpers::{TestApp, call, key_order};

/// `n` calls with ids 1..=n, id 1 oldest.
async fn calls(app: &TestApp, n: i64) -> String {
    let (alice, token) = app.user("alice@example.com").await;
    let all: Vec<Value> = (1..=n)
        .map(|id| call(id, json!({"created_at": format!("2024-01-{:02}T{:02}:{:02}:00Z", 1 + id / 1440, (id / 60) % 24, id % 60)})))
        .collect();
    app.import(&alice, &all).await;
    token
}

/// The labels of `links`, `(label, active)` compressed to `label` or `[label]`.
fn labels(body: &Value) -> String {
    body["links"]
        .as_array()
        .expect("links")
        .iter()
        .map(|l| {
            let label = l["label"].as_str().expect("label").to_owned();
            if l["active"] == true {
                format!("[{label}]")
            } else {
                label
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

async fn envelope_of_a_middle_page(app: TestApp) {
    let token = calls(&app, 100).await;
    let answer = app.list(&token, "per_page=15&page=2").await;
    assert_eq!(answer.status, 200);
    let base = app.url("/api/user/calls");
    let page = |n: u32| format!("{base}?per_page=15&page={n}");
    assert_eq!(
        key_order(&answer.text),
        [
            "current_page",
            "data",
            "first_page_url",
            "from",
            "last_page",
            "last_page_url",
            "links",
            "next_page_url",
            "path",
            "per_page",
            "prev_page_url",
            "to",
            "total"
        ]
    );
    let body = &answer.body;
    assert_eq!(body["current_page"], 2);
    assert_eq!(answer.ids(), (71..=85).rev().collect::<Vec<i64>>());
    assert_eq!(body["first_page_url"], page(1));
    assert_eq!(body["from"], 16);
    assert_eq!(body["to"], 30);
    assert_eq!(body["last_page"], 7);
    assert_eq!(body["last_page_url"], page(7));
    assert_eq!(body["next_page_url"], page(3));
    assert_eq!(body["prev_page_url"], page(1));
    assert_eq!(body["path"], base);
    assert_eq!(body["per_page"], 15);
    assert_eq!(body["total"], 100);
    let mut links = vec![json!({"url": page(1), "label": "&laquo; Previous", "active": false})];
    for n in 1..=7 {
        links.push(json!({"url": page(n), "label": n.to_string(), "active": n == 2}));
    }
    links.push(json!({"url": page(3), "label": "Next &raquo;", "active": false}));
    assert_eq!(body["links"], Value::Array(links));
}

async fn first_and_past_the_end(app: TestApp) {
    let token = calls(&app, 3).await;
    let base = app.url("/api/user/calls");
    let first = app.list(&token, "").await.body;
    assert_eq!(
        (
            first["from"].clone(),
            first["to"].clone(),
            first["last_page"].clone()
        ),
        (json!(1), json!(3), json!(1))
    );
    assert_eq!(first["prev_page_url"], Value::Null);
    assert_eq!(first["next_page_url"], Value::Null);
    // per_page is always carried, with its default when the request had none.
    assert_eq!(
        first["first_page_url"],
        format!("{base}?per_page=15&page=1")
    );
    assert_eq!(labels(&first), "&laquo; Previous [1] Next &raquo;");

    let past = app.list(&token, "page=5").await;
    assert_eq!(past.status, 200);
    assert_eq!(past.body["data"], json!([]));
    assert_eq!(past.body["current_page"], 5);
    assert_eq!(past.body["from"], Value::Null);
    assert_eq!(past.body["to"], Value::Null);
    assert_eq!(past.body["total"], 3);
    assert_eq!(past.body["last_page"], 1);
    assert_eq!(
        past.body["prev_page_url"],
        format!("{base}?per_page=15&page=4")
    );
    assert_eq!(past.body["next_page_url"], Value::Null);
    assert_eq!(labels(&past.body), "&laquo; Previous 1 Next &raquo;");

    // No calls at all: still one (empty) page.
    let (_, other) = app.user("nobody@example.com").await;
    let empty = app.list(&other, "").await.body;
    assert_eq!(
        (
            empty["total"].clone(),
            empty["last_page"].clone(),
            empty["from"].clone()
        ),
        (json!(0), json!(1), Value::Null)
    );
    assert_eq!(empty["data"], json!([]));
}

async fn bad_page_numbers_mean_page_one(app: TestApp) {
    let token = calls(&app, 20).await;
    for page in ["0", "abc", "-1", "1.5", "", "02", "99999999999999999999999"] {
        let answer = app.list(&token, &format!("per_page=5&page={page}")).await;
        assert_eq!(answer.status, 200, "page={page}");
        assert_eq!(answer.body["current_page"], 1, "page={page}");
        assert_eq!(answer.ids(), [20, 19, 18, 17, 16], "page={page}");
    }
}

async fn page_sizes_one_and_hundred(app: TestApp) {
    let token = calls(&app, 120).await;
    let one = app.list(&token, "per_page=1").await.body;
    assert_eq!(
        (
            one["per_page"].clone(),
            one["last_page"].clone(),
            one["to"].clone()
        ),
        (json!(1), json!(120), json!(1))
    );
    assert_eq!(one["data"].as_array().map(Vec::len), Some(1));
    let hundred = app.list(&token, "per_page=100").await;
    assert_eq!(hundred.ids().len(), 100);
    assert_eq!(hundred.body["last_page"], 2);
    let second = app.list(&token, "per_page=100&page=2").await;
    assert_eq!(second.ids(), (1..=20).rev().collect::<Vec<i64>>());
    assert_eq!(
        (second.body["from"].clone(), second.body["to"].clone()),
        (json!(101), json!(120))
    );
    // Default page size is 15.
    assert_eq!(app.list(&token, "").await.ids().len(), 15);
}

async fn links_window_slides(app: TestApp) {
    let token = calls(&app, 20).await;
    let at = |page: u32| {
        let app = &app;
        let token = token.clone();
        async move {
            labels(
                &app.list(&token, &format!("per_page=1&page={page}"))
                    .await
                    .body,
            )
        }
    };
    let (p, n) = ("&laquo; Previous", "Next &raquo;");
    assert_eq!(
        at(1).await,
        format!("{p} [1] 2 3 4 5 6 7 8 9 10 ... 19 20 {n}")
    );
    assert_eq!(
        at(7).await,
        format!("{p} 1 2 3 4 5 6 [7] 8 9 10 ... 19 20 {n}")
    );
    assert_eq!(
        at(8).await,
        format!("{p} 1 2 ... 5 6 7 [8] 9 10 11 ... 19 20 {n}")
    );
    assert_eq!(
        at(10).await,
        format!("{p} 1 2 ... 7 8 9 [10] 11 12 13 ... 19 20 {n}")
    );
    assert_eq!(
        at(13).await,
        format!("{p} 1 2 ... 10 11 12 [13] 14 15 16 ... 19 20 {n}")
    );
    assert_eq!(
        at(14).await,
        format!("{p} 1 2 ... 11 12 13 [14] 15 16 17 18 19 20 {n}")
    );
    assert_eq!(
        at(20).await,
        format!("{p} 1 2 ... 11 12 13 14 15 16 17 18 19 [20] {n}")
    );
    assert_eq!(
        at(21).await,
        format!("{p} 1 2 ... 11 12 13 14 15 16 17 18 19 20 {n}")
    );

    // Gaps carry no URL; page links carry theirs.
    let middle = app.list(&token, "per_page=1&page=10").await.body;
    let gap = &middle["links"][3];
    assert_eq!(*gap, json!({"url": null, "label": "...", "active": false}));
    assert_eq!(
        middle["links"][4]["url"],
        app.url("/api/user/calls?per_page=1&page=7")
    );

    // Fewer than 14 pages: all listed.
    let ten = app.list(&token, "per_page=2&page=5").await.body;
    assert_eq!(labels(&ten), format!("{p} 1 2 3 4 [5] 6 7 8 9 10 {n}"));
}

async fn window_starts_sliding_at_fourteen_pages(app: TestApp) {
    let token = calls(&app, 26).await;
    let (p, n) = ("&laquo; Previous", "Next &raquo;");
    let thirteen = app.list(&token, "per_page=2").await.body;
    assert_eq!(thirteen["last_page"], 13);
    assert_eq!(
        labels(&thirteen),
        format!("{p} [1] 2 3 4 5 6 7 8 9 10 11 12 13 {n}")
    );
    let alice = app
        .store
        .find_user_by_email("alice@example.com")
        .await
        .expect("query")
        .expect("alice");
    app.import(&alice, &[call(27, json!({})), call(28, json!({}))])
        .await;
    let fourteen = app.list(&token, "per_page=2").await.body;
    assert_eq!(fourteen["last_page"], 14);
    assert_eq!(
        labels(&fourteen),
        format!("{p} [1] 2 3 4 5 6 7 8 9 10 ... 13 14 {n}")
    );
}

async fn page_urls_keep_the_filters(app: TestApp) {
    let token = calls(&app, 30).await;
    let query = "status=completed&type=outbound&date_from=2024-01-01&per_page=5&limit=9&page=2&phone_number=%2B49%20(151)";
    let answer = app.list(&token, query).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let expected = |page: u32| {
        app.url(&format!(
            "/api/user/calls?status=completed&type=outbound&date_from=2024-01-01&per_page=5&phone_number=%2B49%20%28151%29&page={page}"
        ))
    };
    // The phone filter matches nothing here; the URLs still carry it.
    assert_eq!(answer.body["total"], 0);
    assert_eq!(answer.body["prev_page_url"], expected(1));
    assert_eq!(answer.body["first_page_url"], expected(1));

    // Without per_page in the request, the default is written before page.
    let answer = app
        .list(&token, "status=completed&type=outbound&page=2")
        .await;
    let expected = "/api/user/calls?status=completed&type=outbound&per_page=15&page=1";
    assert_eq!(answer.body["prev_page_url"], app.url(expected));
    let answer = app
        .list(&token, "status=completed&per_page=5&type=outbound&page=2")
        .await;
    let url = |page: u32| {
        app.url(&format!(
            "/api/user/calls?status=completed&per_page=5&type=outbound&page={page}"
        ))
    };
    assert_eq!(answer.body["total"], 30);
    assert_eq!(answer.body["next_page_url"], url(3));
    assert_eq!(answer.body["prev_page_url"], url(1));
    assert_eq!(answer.body["last_page_url"], url(6));
    assert_eq!(answer.body["links"][3]["url"], url(3));
}

async fn public_url_is_the_base_of_page_urls() {
    let app = crate::helpers::spawn_app_with(crate::helpers::Backend::Sqlite, |s| {
        *s = callbase::app::Settings::new("https://calls.example.com/");
    })
    .await;
    let (_, token) = app.user("alice@example.com").await;
    let answer = app.list(&token, "per_page=5").await;
    assert_eq!(
        answer.body["path"],
        "https://calls.example.com/api/user/calls"
    );
    assert_eq!(
        answer.body["first_page_url"],
        "https://calls.example.com/api/user/calls?per_page=5&page=1"
    );
}

#[tokio::test]
async fn public_url_setting() {
    public_url_is_the_base_of_page_urls().await;
}

backend_tests!(
    envelope_of_a_middle_page,
    first_and_past_the_end,
    bad_page_numbers_mean_page_one,
    page_sizes_one_and_hundred,
    links_window_slides,
    window_starts_sliding_at_fourteen_pages,
    page_urls_keep_the_filters,
);
