//! List totals come from rollups kept by every write; these tests hold them
//! to a plain `count(*)` after random inserts, updates, deletes and imports,
//! and hold deep pages (which start from the per-day rollup) to a plain
//! `ORDER BY ... LIMIT ... OFFSET`.

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, STATUSES, TYPES, TestApp, call, try_spawn_app};

const ASSISTANTS: [Option<&str>; 3] = [Some("A"), Some("B"), None];
const CAMPAIGNS: [Option<&str>; 3] = [Some("X"), None, Some("Y")];
/// 2024-03-01T00:00:00Z
const T0: i64 = 1_709_251_200;

/// Client numbers, as sent and as the `phone_number` filter's key.
const PHONES: [Option<&str>; 3] = [Some("+4915112345678"), Some("+4930123456"), None];

/// One generated call: (id, status, type, assistant, campaign, seconds after
/// T0, client number).
type Spec = (i64, usize, usize, usize, usize, i64, usize);

fn to_call(spec: &Spec) -> Value {
    let (id, status, kind, assistant, campaign, at, phone) = *spec;
    call(
        id,
        json!({
            "status": STATUSES[status],
            "type": TYPES[kind],
            "assistant_name": ASSISTANTS[assistant],
            "campaign_name": CAMPAIGNS[campaign],
            "client_phone_number": PHONES[phone],
            "created_at": callbase::domain::timefmt::format_rfc3339(T0 + at),
        }),
    )
}

#[derive(Debug, Clone)]
enum Op {
    /// Import these calls (ids from a small pool: new ones, updates, re-imports).
    Import(usize, Vec<Spec>),
    /// Delete a call id through the API.
    Delete(usize, i64),
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        1..40i64,
        0..10usize,
        0..3usize,
        0..3usize,
        0..3usize,
        prop_oneof![
            4 => 0..4 * 86_400i64,
            2 => (0..4i64).prop_map(|d| d * 86_400 - 1),
            // Months and years away (the phone index goes by 30-day periods),
            // and around 1970, where Unix times turn negative.
            1 => -400 * 86_400..400 * 86_400i64,
            1 => -T0 - 60 * 86_400..-T0 + 60 * 86_400,
        ],
        0..3usize,
    )
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        3 => (0..2usize, proptest::collection::vec(spec(), 1..12)).prop_map(|(u, s)| Op::Import(u, s)),
        1 => (0..2usize, 1..40i64).prop_map(|(u, id)| Op::Delete(u, id)),
    ];
    proptest::collection::vec(op, 1..10)
}

/// Every filter combination over the rollup dimensions and dates, one user's view.
fn queries(assistant_ids: &[i64], campaign_ids: &[i64]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let statuses = [None, Some(5usize), Some(0)];
    let kinds = [None, Some(1usize)];
    let days = [None, Some((0, 0)), Some((1, 3)), Some((-1, 1))];
    let day = |d: i64| callbase::domain::timefmt::format_rfc3339(T0 + d * 86_400)[..10].to_owned();
    // The phone filter (its own index) alone, with a status, with dates.
    for phone in PHONES.iter().flatten() {
        for status in statuses {
            for range in days {
                let mut query = vec![format!("phone_number={}", phone.replace('+', "%2B"))];
                let mut sql = vec![format!("client_phone_key = '{phone}'")];
                if let Some(s) = status {
                    query.push(format!("status={}", STATUSES[s]));
                    sql.push(format!("status = {}", s + 1));
                }
                if let Some((from, to)) = range {
                    query.push(format!("date_from={}&date_to={}", day(from), day(to)));
                    sql.push(format!(
                        "created_at >= {} AND created_at <= {}",
                        T0 + from * 86_400,
                        T0 + to * 86_400 + 86_399
                    ));
                }
                out.push((query.join("&"), sql.join(" AND ")));
            }
        }
    }
    for status in statuses {
        for kind in kinds {
            for assistant in [None]
                .into_iter()
                .chain(assistant_ids.iter().copied().map(Some))
            {
                for campaign in [None]
                    .into_iter()
                    .chain(campaign_ids.iter().copied().map(Some))
                {
                    for range in days {
                        let mut query = vec![];
                        let mut sql = vec![];
                        if let Some(s) = status {
                            query.push(format!("status={}", STATUSES[s]));
                            sql.push(format!("status = {}", s + 1));
                        }
                        if let Some(k) = kind {
                            query.push(format!("type={}", TYPES[k]));
                            sql.push(format!("type = {}", k + 1));
                        }
                        if let Some(a) = assistant {
                            query.push(format!("assistant_id={a}"));
                            sql.push(format!("assistant_id = {a}"));
                        }
                        if let Some(c) = campaign {
                            query.push(format!("campaign_id={c}"));
                            sql.push(format!("campaign_id = {c}"));
                        }
                        if let Some((from, to)) = range {
                            query.push(format!("date_from={}&date_to={}", day(from), day(to)));
                            sql.push(format!(
                                "created_at >= {} AND created_at <= {}",
                                T0 + from * 86_400,
                                T0 + to * 86_400 + 86_399
                            ));
                        }
                        out.push((query.join("&"), sql.join(" AND ")));
                    }
                }
            }
        }
    }
    out
}

/// The ids of a user's assistants and campaigns, as the API lists them.
async fn owned_ids(app: &TestApp, token: &str) -> (Vec<i64>, Vec<i64>) {
    let ids = |body: Value| {
        body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_i64())
            .collect()
    };
    (
        ids(app
            .get("/api/user/assistants/get?per_page=100", token)
            .await
            .body),
        ids(app.get("/api/user/campaigns", token).await.body),
    )
}

fn check_counts(backend: Backend, ops: &[Op]) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let Some(app) = try_spawn_app(backend).await else {
            return;
        };
        let mut users = Vec::new();
        for email in ["a@example.com", "b@example.com"] {
            users.push(app.user(email).await);
        }
        for op in ops {
            match op {
                Op::Import(u, specs) => {
                    let text: String = specs.iter().map(|s| format!("{}\n", to_call(s))).collect();
                    callbase::import::import_source(
                        app.store.as_ref(),
                        users[*u].0.id,
                        std::io::Cursor::new(text.into_bytes()),
                        |_| {},
                        |_| {},
                    )
                    .await
                    .expect("import");
                }
                Op::Delete(u, id) => {
                    let answer = app
                        .delete(&format!("/api/user/calls/{id}"), &users[*u].1)
                        .await;
                    assert!(
                        answer.status == 200 || answer.status == 404,
                        "{}",
                        answer.body
                    );
                }
            }
        }
        for (user, token) in &users {
            let (assistants, campaigns) = owned_ids(&app, token).await;
            for (query, condition) in queries(&assistants, &campaigns) {
                let answer = app.list(token, &format!("per_page=1&{query}")).await;
                assert_eq!(answer.status, 200, "{query}: {}", answer.body);
                let and = if condition.is_empty() {
                    String::new()
                } else {
                    format!(" AND {condition}")
                };
                let plain = app
                    .query_ints(&format!(
                        "SELECT count(*) FROM calls WHERE user_id = {}{and}",
                        user.id
                    ))
                    .await;
                assert_eq!(
                    answer.body["total"].as_i64(),
                    Some(plain[0]),
                    "{query} after {ops:?}"
                );
            }
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn totals_equal_plain_counts_sqlite(ops in ops()) {
        check_counts(Backend::Sqlite, &ops);
    }

    #[test]
    fn totals_equal_plain_counts_postgres(ops in ops()) {
        check_counts(Backend::Postgres, &ops);
    }
}

/// Deep pages (past the per-day shortcut's threshold) equal plain SQL pages,
/// with and without filters, across day boundaries.
async fn deep_pages_equal_plain_sql(app: TestApp) {
    let (user, token) = app.user("deep@example.com").await;
    // 3,000 calls over 6 days, several per second, every dimension varied;
    // then 600 calls of one number over 400 days (the phone index goes by
    // 30-day periods: its pages are read period by period).
    let calls: Vec<Value> = (0..3000i64)
        .map(|i| {
            let spec: Spec = (
                i + 1,
                (i % 7) as usize,
                (i % 3) as usize,
                (i % 5 % 3) as usize,
                (i % 4 % 3) as usize,
                (i * 173) % (6 * 86_400),
                (i % 3) as usize,
            );
            to_call(&spec)
        })
        .chain((0..600i64).map(|i| {
            let at = (i * 57_601) % (400 * 86_400) - 200 * 86_400;
            to_call(&(3001 + i, (i % 7) as usize, 0, 0, 0, at, 0))
        }))
        .collect();
    for chunk in calls.chunks(1000) {
        app.import(&user, chunk).await;
    }
    let (assistants, _) = owned_ids(&app, &token).await;
    let filters = [
        (String::new(), String::new()),
        ("status=completed".to_owned(), "status = 6".to_owned()),
        ("type=web".to_owned(), "type = 3".to_owned()),
        (
            format!("assistant_id={}", assistants[0]),
            format!("assistant_id = {}", assistants[0]),
        ),
        (
            "date_from=2024-03-02&date_to=2024-03-05".to_owned(),
            format!(
                "created_at >= {} AND created_at <= {}",
                T0 + 86_400,
                T0 + 5 * 86_400 - 1
            ),
        ),
        (
            "status=completed&type=inbound&date_from=2024-03-02".to_owned(),
            format!("status = 6 AND type = 1 AND created_at >= {}", T0 + 86_400),
        ),
        (
            "phone_number=%2B4915112345678".to_owned(),
            "client_phone_key = '+4915112345678'".to_owned(),
        ),
        (
            "phone_number=%2B4915112345678&status=completed&date_to=2024-03-03".to_owned(),
            format!(
                "client_phone_key = '+4915112345678' AND status = 6 AND created_at <= {}",
                T0 + 3 * 86_400 - 1
            ),
        ),
    ];
    for (query, condition) in filters {
        let and = if condition.is_empty() {
            String::new()
        } else {
            format!(" AND {condition}")
        };
        let total = app
            .query_ints(&format!(
                "SELECT count(*) FROM calls WHERE user_id = {}{and}",
                user.id
            ))
            .await[0];
        for per_page in [15i64, 100] {
            for page in [
                1,
                2,
                11,
                12,
                total / per_page / 2,
                total / per_page,
                total / per_page + 1,
            ] {
                let page = page.max(1);
                let offset = (page - 1) * per_page;
                let expected = app
                    .query_ints(&format!(
                        "SELECT id FROM calls WHERE user_id = {}{and} ORDER BY created_at DESC, id DESC LIMIT {per_page} OFFSET {offset}",
                        user.id
                    ))
                    .await;
                let answer = app
                    .list(&token, &format!("{query}&per_page={per_page}&page={page}"))
                    .await;
                assert_eq!(
                    answer.body["total"].as_i64(),
                    Some(total),
                    "{query} page {page}"
                );
                assert_eq!(
                    answer.ids(),
                    expected,
                    "{query} per_page={per_page} page={page}"
                );
            }
        }
    }
}

backend_tests!(deep_pages_equal_plain_sql);
