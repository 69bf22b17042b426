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
            // Seconds and costs that change when a re-import moves a call,
            // so that the rollups' sums move too (and none for some).
            "duration": (at.rem_euclid(7)) * 10,
            "total_cost": (at.rem_euclid(5) != 0).then(|| at.rem_euclid(5) as f64 / 100.0),
            "carrier_cost": (at.rem_euclid(3) != 0).then(|| at.rem_euclid(3) as f64 / 1000.0),
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

/// One filter: its query parameters and the same condition in SQL.
type Filter = (String, String);

/// Filters joined: the query string and the `AND` of the conditions.
fn joined(filters: impl IntoIterator<Item = Option<Filter>>) -> Filter {
    let (query, sql): (Vec<String>, Vec<String>) = filters.into_iter().flatten().unzip();
    (query.join("&"), sql.join(" AND "))
}

/// Every filter combination over the rollup dimensions and dates, and the
/// phone filter (its own index) with a status, a type and dates, or with an
/// assistant and a campaign; one user's view.
fn queries(assistant_ids: &[i64], campaign_ids: &[i64]) -> Vec<Filter> {
    let statuses = [None, Some(5usize), Some(0)];
    let kinds = [None, Some(1usize)];
    let days = [None, Some((0, 0)), Some((1, 3)), Some((-1, 1))];
    let status = |s: Option<usize>| {
        s.map(|s| {
            (
                format!("status={}", STATUSES[s]),
                format!("status = {}", s + 1),
            )
        })
    };
    let dates = |range: Option<(i64, i64)>| {
        let day =
            |d: i64| callbase::domain::timefmt::format_rfc3339(T0 + d * 86_400)[..10].to_owned();
        range.map(|(from, to)| {
            (
                format!("date_from={}&date_to={}", day(from), day(to)),
                format!(
                    "created_at >= {} AND created_at <= {}",
                    T0 + from * 86_400,
                    T0 + to * 86_400 + 86_399
                ),
            )
        })
    };
    let mut out = Vec::new();
    let ids = |ids: &[i64], name: &'static str| {
        let named = ids
            .iter()
            .map(move |id| Some((format!("{name}={id}"), format!("{name} = {id}"))));
        std::iter::once(None).chain(named).collect::<Vec<_>>()
    };
    let kind =
        |k: Option<usize>| k.map(|k| (format!("type={}", TYPES[k]), format!("type = {}", k + 1)));
    for phone in PHONES.iter().flatten() {
        let phone = Some((
            format!("phone_number={}", phone.replace('+', "%2B")),
            format!("client_phone_key = '{phone}'"),
        ));
        for s in statuses {
            for k in kinds {
                for range in days {
                    out.push(joined([phone.clone(), status(s), kind(k), dates(range)]));
                }
            }
        }
        for assistant in ids(assistant_ids, "assistant_id") {
            for campaign in ids(campaign_ids, "campaign_id") {
                out.push(joined([phone.clone(), assistant.clone(), campaign]));
            }
        }
    }
    for s in statuses {
        for k in kinds {
            for assistant in ids(assistant_ids, "assistant_id") {
                for campaign in ids(campaign_ids, "campaign_id") {
                    for range in days {
                        out.push(joined([
                            status(s),
                            kind(k),
                            assistant.clone(),
                            campaign.clone(),
                            dates(range),
                        ]));
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
            // The stats' sums, from the rollups (all time, UTC days, hours of
            // a half-hour zone) and from rows (`duration_min=0` matches every
            // call but no rollup can answer it): the same numbers.
            for params in [
                "interval=month",
                "interval=month&timezone=Asia/Kolkata",
                "interval=day&date_from=2024-02-28&date_to=2024-03-06&timezone=Asia/Kolkata",
                "interval=day&date_from=2024-02-28&date_to=2024-03-06&timezone=Europe/Berlin&status=completed",
                "interval=week&timezone=America/New_York&type=outbound&date_from=2024-02-01",
                "interval=month&date_from=2024-03-02&date_to=2024-03-03&timezone=Europe/Berlin",
            ] {
                let rollups = app.get(&format!("/api/user/calls/stats?{params}"), token).await;
                let rows = app
                    .get(&format!("/api/user/calls/stats?{params}&duration_min=0"), token)
                    .await;
                assert_eq!(rollups.status, 200, "{params}: {}", rollups.body);
                assert_eq!(rollups.body, rows.body, "stats?{params} after {ops:?}");
            }
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

/// The phone index goes by 30-day periods (counted in days from 0000-01-01):
/// a call alone in its period, on its first or its last second, before or
/// after 1970, is found by its number, in order, with and without dates.
async fn phone_filters_find_calls_at_the_edges_of_their_periods(app: TestApp) {
    let (user, token) = app.user("edges@example.com").await;
    const DAY: i64 = 86_400;
    // The first period to start after 1969-06-01 (day -214), then every
    // 90 days: a call on each side of each start, alone in its period.
    let first = (-214..)
        .find(|d: &i64| (d + 719_528) % 30 == 0)
        .expect("a start");
    let times: Vec<i64> = (0..8)
        .flat_map(|k| {
            let start = (first + 90 * k) * DAY;
            [start - 1, start]
        })
        .collect();
    assert!(times[0] < 0 && times[times.len() - 1] > 0, "{times:?}");
    let calls: Vec<Value> = times
        .iter()
        .zip(1..)
        .map(|(at, id)| {
            call(
                id,
                json!({
                    "client_phone_number": PHONES[0],
                    "created_at": callbase::domain::timefmt::format_rfc3339(*at),
                }),
            )
        })
        .collect();
    app.import(&user, &calls).await;
    let newest_first: Vec<i64> = (1..=times.len() as i64).rev().collect();
    let all = app
        .list(&token, "phone_number=%2B4915112345678&per_page=100")
        .await;
    assert_eq!(
        all.body["total"].as_i64(),
        Some(times.len() as i64),
        "{}",
        all.body
    );
    assert_eq!(all.ids(), newest_first);
    // Page by page, one call a page.
    for (page, id) in newest_first.iter().enumerate() {
        let one = app
            .list(
                &token,
                &format!("phone_number=%2B4915112345678&per_page=1&page={}", page + 1),
            )
            .await;
        assert_eq!(one.ids(), vec![*id], "page {}", page + 1);
    }
    // Each call's own day.
    for (at, id) in times.iter().zip(1..) {
        let day = &callbase::domain::timefmt::format_rfc3339(*at)[..10];
        let dated = app
            .list(
                &token,
                &format!("phone_number=%2B4915112345678&date_from={day}&date_to={day}"),
            )
            .await;
        assert_eq!(dated.ids(), vec![id], "{day}");
    }
}

backend_tests!(
    deep_pages_equal_plain_sql,
    phone_filters_find_calls_at_the_edges_of_their_periods
);
