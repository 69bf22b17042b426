//! Property test: for random calls and random filter combinations, the API
//! answers exactly what a naive in-memory model of the contract answers.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, STATUSES, TYPES, TestApp, call, try_spawn_app};

const PHONES: [&str; 4] = [
    "+4915100000001",
    "0049 151 0000 0001",
    "+4917000000002",
    "+1 (555) 010-0003",
];
const ASSISTANTS: [&str; 3] = ["A", "B", "C"];
const CAMPAIGNS: [&str; 2] = ["X", "Y"];
/// Start of the model's time window: 2024-03-01T00:00:00Z.
const T0: i64 = 1_709_251_200;

#[derive(Debug, Clone)]
struct ModelCall {
    id: i64,
    owner: usize,
    status: usize,
    kind: usize,
    phone: Option<usize>,
    assistant: Option<usize>,
    campaign: Option<usize>,
    created_at: i64,
}

#[derive(Debug, Clone)]
struct Query {
    owner: usize,
    status: Option<usize>,
    kind: Option<usize>,
    phone: Option<&'static str>,
    assistant: Option<(usize, usize)>, // (owner whose assistant, which)
    campaign: Option<(usize, usize)>,
    date_from: Option<i64>, // day offset
    date_to: Option<i64>,
    per_page: u64,
    page: u64,
}

fn calls_strategy() -> impl Strategy<Value = Vec<ModelCall>> {
    let one = (
        0..2usize,
        0..10usize,
        0..3usize,
        proptest::option::of(0..4usize),
        proptest::option::of(0..3usize),
        proptest::option::of(0..2usize),
        // Seconds over 4 days, clustered so that many share a second or sit on day edges.
        prop_oneof![
            0..4 * 86_400i64,
            (0..4i64).prop_map(|d| d * 86_400),
            (1..5i64).prop_map(|d| d * 86_400 - 1),
            Just(3_600i64)
        ],
    );
    proptest::collection::vec(one, 0..60)
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(
                    |(i, (owner, status, kind, phone, assistant, campaign, at))| ModelCall {
                        // Ids not in created order, to exercise the tie-break.
                        id: 1000 + ((i as i64 * 7919) % 997),
                        owner,
                        status,
                        kind,
                        phone,
                        assistant,
                        campaign,
                        created_at: T0 + at,
                    },
                )
                .collect::<Vec<_>>()
        })
        .prop_map(|mut calls| {
            calls.sort_by_key(|c| c.id);
            calls.dedup_by_key(|c| c.id);
            calls
        })
}

fn query_strategy() -> impl Strategy<Value = Query> {
    (
        0..2usize,
        proptest::option::of(0..10usize),
        proptest::option::of(0..3usize),
        proptest::option::of(proptest::sample::select(vec![
            "%2B4915100000001",
            "00491510000%200001",
            "%2B15550100003",
            "%2B4917000000002",
            "123",
        ])),
        proptest::option::of((0..2usize, 0..3usize)),
        proptest::option::of((0..2usize, 0..2usize)),
        proptest::option::of(-1..5i64),
        proptest::option::of(-1..5i64),
        prop_oneof![Just(1u64), Just(3), Just(15), Just(100)],
        1..5u64,
    )
        .prop_map(
            |(
                owner,
                status,
                kind,
                phone,
                assistant,
                campaign,
                date_from,
                date_to,
                per_page,
                page,
            )| Query {
                owner,
                status,
                kind,
                phone,
                assistant,
                campaign,
                date_from,
                date_to,
                per_page,
                page,
            },
        )
}

fn day(offset: i64) -> String {
    callbase::domain::timefmt::format_rfc3339(T0 + offset * 86_400)[..10].to_owned()
}

/// The contract's phone comparison, written again from its text (not the
/// code under test): drop spaces, `-`, `/`, `(`, `)`, `.`; a leading `00` is `+`.
fn normalized(phone: &str) -> String {
    let kept: String = phone.chars().filter(|c| !" -/().".contains(*c)).collect();
    match kept.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => kept,
    }
}

/// A query-string value as the client sends it, decoded.
fn decoded(value: &str) -> String {
    form_urlencoded::parse(format!("p={value}").as_bytes())
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// The model's answer: ids on the page, and the total.
fn model(calls: &[ModelCall], q: &Query) -> (Vec<i64>, u64) {
    let mut matching: Vec<&ModelCall> = calls
        .iter()
        .filter(|c| c.owner == q.owner)
        .filter(|c| q.status.is_none_or(|s| c.status == s))
        .filter(|c| q.kind.is_none_or(|k| c.kind == k))
        .filter(|c| {
            q.phone.is_none_or(|p| {
                c.phone
                    .is_some_and(|cp| normalized(PHONES[cp]) == normalized(&decoded(p)))
            })
        })
        .filter(|c| {
            q.assistant
                .is_none_or(|(owner, a)| owner == q.owner && c.assistant == Some(a))
        })
        .filter(|c| {
            q.campaign
                .is_none_or(|(owner, p)| owner == q.owner && c.campaign == Some(p))
        })
        .filter(|c| q.date_from.is_none_or(|d| c.created_at >= T0 + d * 86_400))
        .filter(|c| {
            q.date_to
                .is_none_or(|d| c.created_at < T0 + (d + 1) * 86_400)
        })
        .collect();
    matching.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let total = matching.len() as u64;
    let skip = usize::try_from((q.page - 1) * q.per_page).unwrap_or(usize::MAX);
    let page = matching
        .iter()
        .skip(skip)
        .take(usize::try_from(q.per_page).unwrap_or(100))
        .map(|c| c.id)
        .collect();
    (page, total)
}

async fn load(
    app: &TestApp,
    calls: &[ModelCall],
) -> (
    Vec<String>,
    Vec<HashMap<&'static str, i64>>,
    Vec<HashMap<&'static str, i64>>,
) {
    let mut tokens = Vec::new();
    let mut assistant_ids = Vec::new();
    let mut campaign_ids = Vec::new();
    for owner in 0..2 {
        let (user, token) = app.user(&format!("user{owner}@example.com")).await;
        // Every user owns every assistant and campaign name, with its own ids.
        let mut rows: Vec<Value> = ASSISTANTS
            .iter()
            .zip(CAMPAIGNS.iter().cycle())
            .enumerate()
            .map(|(i, (a, c))| call(900 + i as i64 + owner as i64 * 10, json!({"assistant_name": a, "campaign_name": c, "client_phone_number": PHONES[0], "created_at": "2020-01-01T00:00:00Z"})))
            .collect();
        rows.push(call(950 + owner as i64, json!({"assistant_name": "A", "campaign_name": "Y", "client_phone_number": PHONES[0], "created_at": "2020-01-01T00:00:00Z"})));
        rows.extend(calls.iter().filter(|c| c.owner == owner).map(|c| {
            call(
                c.id,
                json!({
                    "status": STATUSES[c.status],
                    "type": TYPES[c.kind],
                    "client_phone_number": c.phone.map(|p| PHONES[p]),
                    "assistant_name": c.assistant.map(|a| ASSISTANTS[a]),
                    "campaign_name": c.campaign.map(|p| CAMPAIGNS[p]),
                    "created_at": callbase::domain::timefmt::format_rfc3339(c.created_at),
                }),
            )
        }));
        app.import(&user, &rows).await;
        let ids_of = |body: Value, names: &[&'static str]| {
            names
                .iter()
                .map(|n| {
                    let id = body["data"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .find(|r| r["name"] == *n)
                        .and_then(|r| r["id"].as_i64());
                    (*n, id.expect("id"))
                })
                .collect::<HashMap<_, _>>()
        };
        assistant_ids.push(ids_of(
            app.get("/api/user/assistants/get", &token).await.body,
            &ASSISTANTS,
        ));
        campaign_ids.push(ids_of(
            app.get("/api/user/campaigns", &token).await.body,
            &CAMPAIGNS,
        ));
        tokens.push(token);
    }
    (tokens, assistant_ids, campaign_ids)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn api_matches_the_model_sqlite(calls in calls_strategy(), queries in proptest::collection::vec(query_strategy(), 12)) {
        check(Backend::Sqlite, &calls, &queries);
    }

    #[test]
    fn api_matches_the_model_postgres(calls in calls_strategy(), queries in proptest::collection::vec(query_strategy(), 12)) {
        check(Backend::Postgres, &calls, &queries);
    }
}

/// One case: load the calls, ask every query, compare with the model.
fn check(backend: Backend, calls: &[ModelCall], queries: &[Query]) {
    {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let Some(app) = try_spawn_app(backend).await else {
                return;
            };
            let (tokens, assistants, campaigns) = load(&app, calls).await;
            // The fixture calls of 2020 are outside every date window but inside
            // unfiltered lists: keep them in the model too.
            let mut model_calls = calls.to_vec();
            for owner in 0..2usize {
                for (i, a) in (0..3usize).enumerate() {
                    model_calls.push(ModelCall {
                        id: 900 + i as i64 + owner as i64 * 10,
                        owner,
                        status: 5,
                        kind: 1,
                        phone: Some(0),
                        assistant: Some(a),
                        campaign: Some(i % 2),
                        created_at: 1_577_836_800,
                    });
                }
                model_calls.push(ModelCall {
                    id: 950 + owner as i64,
                    owner,
                    status: 5,
                    kind: 1,
                    phone: Some(0),
                    assistant: Some(0),
                    campaign: Some(1),
                    created_at: 1_577_836_800,
                });
            }
            for q in queries {
                let mut params = vec![
                    format!("per_page={}", q.per_page),
                    format!("page={}", q.page),
                ];
                if let Some(s) = q.status {
                    params.push(format!("status={}", STATUSES[s]));
                }
                if let Some(k) = q.kind {
                    params.push(format!("type={}", TYPES[k]));
                }
                if let Some(p) = q.phone {
                    params.push(format!("phone_number={p}"));
                }
                if let Some((owner, a)) = q.assistant {
                    params.push(format!("assistant_id={}", assistants[owner][ASSISTANTS[a]]));
                }
                if let Some((owner, c)) = q.campaign {
                    params.push(format!("campaign_id={}", campaigns[owner][CAMPAIGNS[c]]));
                }
                if let Some(d) = q.date_from {
                    params.push(format!("date_from={}", day(d)));
                }
                if let Some(d) = q.date_to {
                    params.push(format!("date_to={}", day(d)));
                }
                let query = params.join("&");
                let answer = app.list(&tokens[q.owner], &query).await;
                if let (Some(from), Some(to)) = (q.date_from, q.date_to)
                    && to < from
                {
                    assert_eq!(answer.status, 422, "{query}");
                    continue;
                }
                assert_eq!(answer.status, 200, "{query}: {}", answer.body);
                let (ids, total) = model(&model_calls, q);
                assert_eq!(
                    (answer.ids(), answer.body["total"].as_u64()),
                    (ids.clone(), Some(total)),
                    "{query}"
                );
                let last_page = total.div_ceil(q.per_page).max(1);
                assert_eq!(
                    answer.body["last_page"].as_u64(),
                    Some(last_page),
                    "{query}"
                );
                let first = (q.page - 1) * q.per_page + 1;
                let (from, to) = if ids.is_empty() {
                    (Value::Null, Value::Null)
                } else {
                    (json!(first), json!(first + ids.len() as u64 - 1))
                };
                assert_eq!(
                    (&answer.body["from"], &answer.body["to"]),
                    (&from, &to),
                    "{query}"
                );
            }
        });
    }
}
