//! Property test of CONTRACT §8: for random calls and random requests using
//! every filter of §3 and §8 together (sets, ranges, instants, local days in
//! zones with daylight saving and half-hour offsets, transcript search),
//! every sort, `facets`, page numbers and cursor walks both ways, the API
//! answers exactly what a naive model written from the contract's text
//! answers, on both backends.

use std::collections::BTreeMap;

use proptest::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, STATUSES, TYPES, TestApp, call, try_spawn_app};
use crate::search::transcript;
use crate::stats::StatRow;

const ANSWERED: [&str; 3] = ["human", "machine", "unknown"];
const ASSISTANTS: [&str; 3] = ["A", "B", "C"];
const CAMPAIGNS: [&str; 2] = ["X", "Y"];
/// Words as written in transcripts and queries, with their normal form
/// (written out here, not computed by the code under test).
const VOCAB: [(&str, &str); 16] = [
    ("Kündigen", "kundigen"),
    ("KUNDIGEN", "kundigen"),
    ("Termin", "termin"),
    ("Terminen", "terminen"),
    ("termine", "termine"),
    ("Straße", "strasse"),
    ("Café", "cafe"),
    ("cafe", "cafe"),
    ("Rückruf", "ruckruf"),
    ("bitte", "bitte"),
    ("Danke", "danke"),
    ("vielen", "vielen"),
    ("Dank", "dank"),
    ("ja", "ja"),
    ("nein", "nein"),
    ("über", "uber"),
];
const SEPARATORS: [&str; 4] = [" ", ", ", "! ", " - "];
/// Instants around local midnights and daylight-saving changes.
const ANCHORS: [i64; 7] = [
    1_711_839_600, // 2024-03-30T23:00Z: Berlin's 03-31 starts
    1_711_922_400, // 2024-03-31T22:00Z: Berlin's 04-01 starts (summer time)
    1_729_980_000, // 2024-10-26T22:00Z: Berlin's 10-27 starts
    1_730_070_000, // 2024-10-27T23:00Z: Berlin's 10-28 starts (winter time)
    1_711_843_200, // 2024-03-31T00:00Z
    1_711_823_400, // 2024-03-30T18:30Z: Kolkata's 03-31 starts
    1_730_606_400, // 2024-11-03T04:00Z: New York's 11-03 starts
];
const SHIFTS: [i64; 8] = [-3_601, -1, 0, 1, 3_599, 7_200, 43_200, -50_000];
const ZONES: [&str; 6] = [
    "UTC",
    "Europe/Berlin",
    "Asia/Kolkata",
    "America/New_York",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
];
const DAYS: [&str; 8] = [
    "2024-03-30",
    "2024-03-31",
    "2024-04-01",
    "2024-10-26",
    "2024-10-27",
    "2024-10-28",
    "2024-11-02",
    "2024-11-03",
];
const DURATIONS: [i64; 6] = [0, 30, 59, 60, 61, 300];
/// Costs in 10^-8 units; repeats make ties.
const COSTS: [Option<i64>; 5] = [
    None,
    Some(5_000_000),
    Some(5_000_000),
    Some(12_000_000),
    Some(0),
];
const SORTS: [&str; 6] = [
    "-created_at",
    "created_at",
    "-duration",
    "duration",
    "-total_cost",
    "total_cost",
];

#[derive(Debug, Clone)]
struct ModelCall {
    id: i64,
    owner: usize,
    status: usize,
    kind: usize,
    answered: Option<usize>,
    assistant: Option<usize>,
    campaign: Option<usize>,
    duration: i64,
    cost: Option<i64>,
    created_at: i64,
    /// Segments of word indexes into VOCAB, with the separator after each.
    segments: Vec<Vec<(usize, usize)>>,
}

impl ModelCall {
    fn segment_texts(&self) -> Vec<String> {
        self.segments
            .iter()
            .map(|words| {
                words
                    .iter()
                    .map(|(w, s)| format!("{}{}", VOCAB[*w].0, SEPARATORS[*s]))
                    .collect()
            })
            .collect()
    }
}

fn calls_strategy() -> impl Strategy<Value = Vec<ModelCall>> {
    let segment = proptest::collection::vec((0..VOCAB.len(), 0..SEPARATORS.len()), 2..9);
    let one = (
        (
            0..2usize,
            0..10usize,
            0..3usize,
            proptest::option::of(0..3usize),
        ),
        (
            proptest::option::of(0..3usize),
            proptest::option::of(0..2usize),
        ),
        (
            0..DURATIONS.len(),
            0..COSTS.len(),
            0..ANCHORS.len(),
            0..SHIFTS.len(),
        ),
        proptest::collection::vec(segment, 0..5),
    );
    proptest::collection::vec(one, 5..50)
        .prop_map(|rows| {
            rows.into_iter()
                .enumerate()
                .map(
                    |(
                        i,
                        (
                            (owner, status, kind, answered),
                            (assistant, campaign),
                            (d, c, a, s),
                            segments,
                        ),
                    )| ModelCall {
                        // Ids not in created order, to exercise the tie-breaks.
                        id: 1000 + ((i as i64 * 7919) % 997),
                        owner,
                        status,
                        kind,
                        answered,
                        assistant,
                        campaign,
                        duration: DURATIONS[d],
                        cost: COSTS[c],
                        created_at: ANCHORS[a] + SHIFTS[s],
                        segments,
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

#[derive(Debug, Clone)]
enum Search {
    Word(usize),
    Prefix(usize, usize),
    Phrase(usize, usize),
    Two(usize, usize),
}

#[derive(Debug, Clone)]
struct Query {
    owner: usize,
    statuses: Option<Vec<usize>>,
    status: Option<usize>,
    kinds: Option<Vec<usize>>,
    answered: Option<Vec<usize>>,
    /// (owner whose assistant, which)
    assistants: Option<Vec<(usize, usize)>>,
    campaign: Option<(usize, usize)>,
    duration: (Option<i64>, Option<i64>),
    cost: (Option<&'static str>, Option<&'static str>),
    days: Option<(usize, usize, usize)>,
    after: Option<(usize, usize)>,
    before: Option<(usize, usize)>,
    search: Option<Search>,
    sort: usize,
    per_page: u64,
    page: u64,
    cursor: bool,
    facets: bool,
}

fn query_strategy() -> impl Strategy<Value = Query> {
    let sets = (
        proptest::option::weighted(0.12, proptest::collection::vec(0..10usize, 1..6)),
        proptest::option::weighted(0.12, 0..10usize),
        proptest::option::weighted(0.12, proptest::collection::vec(0..3usize, 1..3)),
        proptest::option::weighted(0.12, proptest::collection::vec(0..3usize, 1..3)),
        proptest::option::weighted(
            0.12,
            proptest::collection::vec((0..2usize, 0..3usize), 1..3),
        ),
        proptest::option::weighted(0.12, (0..2usize, 0..2usize)),
    );
    let ranges = (
        (
            proptest::option::weighted(0.12, proptest::sample::select(DURATIONS.to_vec())),
            proptest::option::weighted(0.12, proptest::sample::select(DURATIONS.to_vec())),
        ),
        (
            proptest::option::weighted(
                0.12,
                proptest::sample::select(vec!["0", "0.05", "0.050000001", "0.12"]),
            ),
            proptest::option::weighted(
                0.12,
                proptest::sample::select(vec!["0", "0.05", "0.12", "1e-1"]),
            ),
        ),
        proptest::option::weighted(0.25, (0..DAYS.len(), 0..DAYS.len(), 0..ZONES.len())),
        proptest::option::weighted(0.12, (0..ANCHORS.len(), 0..SHIFTS.len())),
        proptest::option::weighted(0.12, (0..ANCHORS.len(), 0..SHIFTS.len())),
    );
    let search = proptest::option::weighted(
        0.5,
        prop_oneof![
            (0..VOCAB.len()).prop_map(Search::Word),
            (0..VOCAB.len(), 1..6usize).prop_map(|(w, n)| Search::Prefix(w, n)),
            (0..VOCAB.len(), 0..VOCAB.len()).prop_map(|(a, b)| Search::Phrase(a, b)),
            (0..VOCAB.len(), 0..VOCAB.len()).prop_map(|(a, b)| Search::Two(a, b)),
        ],
    );
    let paging = (
        0..SORTS.len(),
        prop_oneof![Just(1u64), Just(3), Just(7), Just(100)],
        1..4u64,
        any::<bool>(),
        any::<bool>(),
    );
    (0..2usize, sets, ranges, search, paging).prop_map(
        |(
            owner,
            (statuses, status, kinds, answered, assistants, campaign),
            (duration, cost, days, after, before),
            search,
            (sort, per_page, page, cursor, facets),
        )| {
            Query {
                owner,
                statuses,
                status,
                kinds,
                answered,
                assistants,
                campaign,
                duration,
                cost,
                days: days.map(|(a, b, z)| (a.min(b), a.max(b), z)),
                after,
                before,
                search,
                sort,
                per_page,
                page,
                cursor,
                facets,
            }
        },
    )
}

/// An instant as RFC 3339 with a +05:30 offset (whole seconds).
fn instant(at: (usize, usize)) -> (String, i64) {
    let unix = ANCHORS[at.0] + SHIFTS[at.1];
    let zoned = jiff::Timestamp::from_second(unix)
        .expect("instant")
        .in_tz("Asia/Kolkata")
        .expect("zone");
    (zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(), unix)
}

fn local_date(unix: i64, zone: &str) -> String {
    jiff::Timestamp::from_second(unix)
        .expect("instant")
        .in_tz(zone)
        .expect("zone")
        .date()
        .to_string()
}

/// A decimal amount in 10^-8 units, from the few spellings the queries use.
fn units(text: &str) -> f64 {
    text.parse::<f64>().expect("number") * 1e8
}

/// Whether a call's words hold the query (the contract's rules, directly).
fn searched(call: &ModelCall, search: &Search) -> bool {
    let norms: Vec<Vec<&str>> = call
        .segments
        .iter()
        .map(|words| words.iter().map(|(w, _)| VOCAB[*w].1).collect())
        .collect();
    let any = |test: &dyn Fn(&str) -> bool| norms.iter().flatten().any(|n| test(n));
    match search {
        Search::Word(w) => any(&|n| n == VOCAB[*w].1),
        Search::Prefix(w, len) => {
            let prefix: String = VOCAB[*w].1.chars().take(*len).collect();
            any(&|n| n.starts_with(&prefix))
        }
        Search::Two(a, b) => any(&|n| n == VOCAB[*a].1) && any(&|n| n == VOCAB[*b].1),
        Search::Phrase(a, b) => norms.iter().any(|seg| {
            seg.windows(2)
                .any(|pair| pair[0] == VOCAB[*a].1 && pair[1] == VOCAB[*b].1)
        }),
    }
}

fn q_param(search: &Search) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    match search {
        Search::Word(w) => enc(VOCAB[*w].0),
        Search::Prefix(w, len) => enc(&format!(
            "{}*",
            VOCAB[*w].1.chars().take(*len).collect::<String>()
        )),
        Search::Phrase(a, b) => enc(&format!("\"{} {}\"", VOCAB[*a].0, VOCAB[*b].0)),
        Search::Two(a, b) => enc(&format!("{} {}", VOCAB[*a].0, VOCAB[*b].0)),
    }
}

/// The request's query string (without paging), and the model's answer: the
/// matching calls in the request's order.
fn model(
    calls: &[ModelCall],
    q: &Query,
    assistant_ids: &[Vec<i64>],
    campaign_ids: &[Vec<i64>],
) -> (String, Vec<ModelCall>) {
    let mut params: Vec<String> = Vec::new();
    let mut rows: Vec<ModelCall> = calls
        .iter()
        .filter(|c| c.owner == q.owner)
        .cloned()
        .collect();
    if let Some(set) = &q.statuses {
        params.extend(set.iter().map(|s| format!("status[]={}", STATUSES[*s])));
        rows.retain(|c| set.contains(&c.status));
    }
    if let Some(s) = q.status {
        params.push(format!("status={}", STATUSES[s]));
        rows.retain(|c| c.status == s);
    }
    if let Some(set) = &q.kinds {
        params.extend(set.iter().map(|k| format!("type[]={}", TYPES[*k])));
        rows.retain(|c| set.contains(&c.kind));
    }
    if let Some(set) = &q.answered {
        if let [one] = set.as_slice() {
            params.push(format!("answered_by={}", ANSWERED[*one]));
        } else {
            params.extend(
                set.iter()
                    .map(|a| format!("answered_by[]={}", ANSWERED[*a])),
            );
        }
        rows.retain(|c| c.answered.is_some_and(|a| set.contains(&a)));
    }
    if let Some(set) = &q.assistants {
        params.extend(
            set.iter()
                .map(|(o, a)| format!("assistant_id[]={}", assistant_ids[*o][*a])),
        );
        rows.retain(|c| {
            set.iter()
                .any(|(o, a)| *o == q.owner && c.assistant == Some(*a))
        });
    }
    if let Some((o, p)) = q.campaign {
        params.push(format!("campaign_id={}", campaign_ids[o][p]));
        rows.retain(|c| o == q.owner && c.campaign == Some(p));
    }
    if let Some(min) = q.duration.0 {
        params.push(format!("duration_min={min}"));
        rows.retain(|c| c.duration >= min);
    }
    if let Some(max) = q.duration.1 {
        params.push(format!("duration_max={max}"));
        rows.retain(|c| c.duration <= max);
    }
    if let Some(min) = q.cost.0 {
        params.push(format!("cost_min={min}"));
        rows.retain(|c| c.cost.is_some_and(|v| v as f64 >= units(min) - 1e-6));
    }
    if let Some(max) = q.cost.1 {
        params.push(format!("cost_max={max}"));
        rows.retain(|c| c.cost.is_some_and(|v| v as f64 <= units(max) + 1e-6));
    }
    if let Some((from, to, zone)) = q.days {
        params.push(format!(
            "date_from={}&date_to={}&timezone={}",
            DAYS[from], DAYS[to], ZONES[zone]
        ));
        rows.retain(|c| {
            let day = local_date(c.created_at, ZONES[zone]);
            day.as_str() >= DAYS[from] && day.as_str() <= DAYS[to]
        });
    }
    if let Some(at) = q.after {
        let (text, unix) = instant(at);
        params.push(format!("created_after={}", text.replace('+', "%2B")));
        rows.retain(|c| c.created_at >= unix);
    }
    if let Some(at) = q.before {
        let (text, unix) = instant(at);
        // Typed as in curl: the `+` of the offset unencoded.
        params.push(format!("created_before={text}"));
        rows.retain(|c| c.created_at < unix);
    }
    if let Some(search) = &q.search {
        params.push(format!("q={}", q_param(search)));
        rows.retain(|c| searched(c, search));
    }
    let sort = SORTS[q.sort];
    params.push(format!("sort={sort}"));
    let descending = sort.starts_with('-');
    rows.sort_by(|a, b| {
        let key = |c: &ModelCall| match sort.trim_start_matches('-') {
            "created_at" => (false, c.created_at),
            "duration" => (false, c.duration),
            // No cost: last in both directions.
            _ => (c.cost.is_none(), c.cost.unwrap_or(0)),
        };
        let (ka, kb) = (key(a), key(b));
        let by_nulls = ka.0.cmp(&kb.0);
        let by_value = if descending {
            kb.1.cmp(&ka.1).then(b.id.cmp(&a.id))
        } else {
            ka.1.cmp(&kb.1).then(a.id.cmp(&b.id))
        };
        by_nulls.then(by_value)
    });
    (params.join("&"), rows)
}

/// The facet counts of the model's calls.
fn facets(rows: &[ModelCall], assistant_ids: &[i64], campaign_ids: &[i64]) -> Value {
    let mut out = serde_json::Map::new();
    let count = |keys: Vec<String>| {
        let mut map: BTreeMap<String, u64> = BTreeMap::new();
        for k in keys {
            *map.entry(k).or_default() += 1;
        }
        json!(map)
    };
    out.insert(
        "status".into(),
        count(rows.iter().map(|c| STATUSES[c.status].to_owned()).collect()),
    );
    out.insert(
        "type".into(),
        count(rows.iter().map(|c| TYPES[c.kind].to_owned()).collect()),
    );
    out.insert(
        "answered_by".into(),
        count(
            rows.iter()
                .map(|c| c.answered.map_or("null".into(), |a| ANSWERED[a].to_owned()))
                .collect(),
        ),
    );
    out.insert(
        "assistant_id".into(),
        count(
            rows.iter()
                .map(|c| {
                    c.assistant
                        .map_or("null".into(), |a| assistant_ids[a].to_string())
                })
                .collect(),
        ),
    );
    out.insert(
        "campaign_id".into(),
        count(
            rows.iter()
                .map(|c| {
                    c.campaign
                        .map_or("null".into(), |p| campaign_ids[p].to_string())
                })
                .collect(),
        ),
    );
    Value::Object(out)
}

async fn load(app: &TestApp, calls: &[ModelCall]) -> (Vec<String>, Vec<Vec<i64>>, Vec<Vec<i64>>) {
    let (mut tokens, mut assistant_ids, mut campaign_ids) = (Vec::new(), Vec::new(), Vec::new());
    for owner in 0..2 {
        let (user, token) = app.user(&format!("user{owner}@example.com")).await;
        // Every user owns every assistant and campaign, with ids of their own.
        for (name, path, out) in [
            ("assistant", "/api/user/assistant", &mut assistant_ids),
            ("campaign", "/api/user/campaigns", &mut campaign_ids),
        ] {
            let names: &[&str] = if name == "assistant" {
                &ASSISTANTS
            } else {
                &CAMPAIGNS
            };
            let mut ids = Vec::new();
            for n in names {
                let answer = app.post(path, &token, json!({"name": n})).await;
                assert_eq!(answer.status, 201, "{}", answer.body);
                ids.push(answer.body["data"]["id"].as_i64().expect("id"));
            }
            out.push(ids);
        }
        let rows: Vec<Value> = calls
            .iter()
            .filter(|c| c.owner == owner)
            .map(|c| {
                let texts = c.segment_texts();
                let segments: Vec<(&str, &str)> = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| (if i % 2 == 0 { "bot" } else { "human" }, t.as_str()))
                    .collect();
                call(
                    c.id,
                    json!({
                        "status": STATUSES[c.status],
                        "type": TYPES[c.kind],
                        "answered_by": c.answered.map(|a| ANSWERED[a]),
                        "assistant_name": c.assistant.map(|a| ASSISTANTS[a]),
                        "campaign_name": c.campaign.map(|p| CAMPAIGNS[p]),
                        "duration": c.duration,
                        "total_cost": c.cost.map(|u| serde_json::Number::from_f64(u as f64 / 1e8).expect("finite")),
                        "carrier_cost": c.cost.map(|u| serde_json::Number::from_f64((u / 3) as f64 / 1e8).expect("finite")),
                        "created_at": callbase::domain::timefmt::format_rfc3339(c.created_at),
                        "transcript": transcript(&segments),
                    }),
                )
            })
            .collect();
        app.import(&user, &rows).await;
        tokens.push(token);
    }
    (tokens, assistant_ids, campaign_ids)
}

/// Follows `next_page_url` to the end, then `prev_page_url` back to the
/// start; both walks must see the model's calls in order, each once.
async fn walk(app: &TestApp, token: &str, query: &str, expected: &[i64], total: u64) {
    let first = app.list(token, &format!("{query}&paginate=cursor")).await;
    assert_eq!(first.status, 200, "{query}: {}", first.body);
    let mut seen = Vec::new();
    let mut pages = vec![first.ids()];
    let mut answer = first;
    loop {
        assert_eq!(answer.body["total"].as_u64(), Some(total), "{query}");
        seen.extend(answer.ids());
        let Some(next) = answer.body["next_page_url"].as_str().map(str::to_owned) else {
            break;
        };
        let path = next
            .split_once("/api/")
            .map(|(_, p)| format!("/api/{p}"))
            .expect("path");
        answer = app.get(&path, token).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        pages.push(answer.ids());
        assert!(
            pages.len() <= expected.len() + 2,
            "{query}: the walk does not end"
        );
    }
    assert_eq!(seen, expected, "{query}: forward walk");
    // Back from the last page.
    let mut back = Vec::new();
    while let Some(prev) = answer.body["prev_page_url"].as_str().map(str::to_owned) {
        let path = prev
            .split_once("/api/")
            .map(|(_, p)| format!("/api/{p}"))
            .expect("path");
        answer = app.get(&path, token).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        back.push(answer.ids());
        assert!(
            back.len() <= expected.len() + 2,
            "{query}: the walk back does not end"
        );
    }
    let mut forward_pages = pages;
    forward_pages.pop();
    forward_pages.reverse();
    assert_eq!(back, forward_pages, "{query}: backward walk");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn every_filter_sort_and_page_matches_the_model_sqlite(calls in calls_strategy(), queries in proptest::collection::vec(query_strategy(), 10)) {
        check(Backend::Sqlite, &calls, &queries);
    }

    #[test]
    fn every_filter_sort_and_page_matches_the_model_postgres(calls in calls_strategy(), queries in proptest::collection::vec(query_strategy(), 10)) {
        check(Backend::Postgres, &calls, &queries);
    }
}

fn check(backend: Backend, calls: &[ModelCall], queries: &[Query]) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let Some(app) = try_spawn_app(backend).await else {
            return;
        };
        let (tokens, assistant_ids, campaign_ids) = load(&app, calls).await;
        for q in queries {
            let (params, rows) = model(calls, q, &assistant_ids, &campaign_ids);
            let token = &tokens[q.owner];
            let ids: Vec<i64> = rows.iter().map(|c| c.id).collect();
            let total = ids.len() as u64;
            let facet_param = if q.facets { "&facets=status,type,answered_by,assistant_id,campaign_id" } else { "" };
            let query = format!("{params}&per_page={}&page={}{facet_param}", q.per_page, q.page);
            let answer = app.list(token, &query).await;
            // Bounds the wrong way round are refused (Laravel's gte and after).
            let invalid = matches!(q.duration, (Some(a), Some(b)) if b < a)
                || matches!(q.cost, (Some(a), Some(b)) if units(b) < units(a))
                || matches!((q.after, q.before), (Some(a), Some(b)) if instant(b).1 <= instant(a).1);
            if invalid {
                assert_eq!(answer.status, 422, "{query}: {}", answer.body);
                continue;
            }
            assert_eq!(answer.status, 200, "{query}: {}", answer.body);
            let skip = usize::try_from((q.page - 1) * q.per_page).unwrap_or(usize::MAX);
            let page: Vec<i64> = ids.iter().copied().skip(skip).take(q.per_page as usize).collect();
            assert_eq!((answer.ids(), answer.body["total"].as_u64()), (page, Some(total)), "{query}");
            if q.facets {
                assert_eq!(
                    answer.body["facets"],
                    facets(&rows, &assistant_ids[q.owner], &campaign_ids[q.owner]),
                    "{query}"
                );
            }
            if q.search.is_some() {
                for row in answer.body["data"].as_array().into_iter().flatten() {
                    let matches = row["matches"].as_array().expect("matches");
                    assert!(!matches.is_empty() && matches.len() <= 5, "{query}: {row}");
                }
            }
            // The stats of the same filters (CONTRACT §9), in the request's
            // zone or, without one, another, by some interval.
            let zone = match q.days {
                Some((_, _, z)) => ZONES[z],
                None => ZONES[q.sort % ZONES.len()],
            };
            let stats_params = if q.days.is_some() {
                params.clone()
            } else {
                format!("{params}&timezone={zone}")
            };
            let interval = [None, Some("day"), Some("week"), Some("month")][(q.page as usize) % 4];
            let stat_rows: Vec<StatRow> = rows
                .iter()
                .map(|c| StatRow {
                    status: STATUSES[c.status],
                    kind: TYPES[c.kind],
                    answered: c.answered.map(|a| ANSWERED[a]),
                    assistant: c.assistant.map(|a| (assistant_ids[q.owner][a], ASSISTANTS[a])),
                    duration: c.duration,
                    cost: c.cost,
                    carrier: c.cost.map(|u| u / 3),
                    created_at: c.created_at,
                })
                .collect();
            crate::stats::check(&app, token, &stats_params, &stat_rows, zone, interval).await;
            if q.cursor {
                let per_page = q.per_page.min(7);
                walk(&app, token, &format!("{params}&per_page={per_page}"), &ids, total).await;
            }
        }
    });
}
