//! CONTRACT §9: `GET /api/user/calls/stats`. A naive model of the stats of
//! a set of calls (counted one by one from the contract's text, periods from
//! jiff's calendar), which `query_model`'s property test holds the API to for
//! random filters, zones and intervals; and the endpoint's own cases.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::helpers::{TestApp, call};

/// One call as the stats see it.
#[derive(Debug, Clone)]
pub struct StatRow {
    pub status: &'static str,
    pub kind: &'static str,
    pub answered: Option<&'static str>,
    /// (id, name)
    pub assistant: Option<(i64, &'static str)>,
    pub duration: i64,
    /// Money units (10^-8).
    pub cost: Option<i64>,
    pub carrier: Option<i64>,
    pub created_at: i64,
}

/// A money sum as the API writes it: a JSON number, exact.
fn money(units: i64) -> Value {
    let text = format!("{}.{:08}", units / 100_000_000, units % 100_000_000);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    serde_json::from_str(text).expect("number")
}

/// The local date a period holding `unix` starts on.
fn period_of(unix: i64, zone: &str, interval: &str) -> jiff::civil::Date {
    let date = jiff::Timestamp::from_second(unix)
        .expect("instant")
        .in_tz(zone)
        .expect("zone")
        .date();
    match interval {
        "day" => date,
        "week" => date
            .checked_sub(jiff::Span::new().days(i64::from(date.weekday().to_monday_zero_offset())))
            .expect("date"),
        _ => date.first_of_month(),
    }
}

fn next_period(date: jiff::civil::Date, interval: &str) -> jiff::civil::Date {
    let step = match interval {
        "day" => jiff::Span::new().days(1),
        "week" => jiff::Span::new().weeks(1),
        _ => jiff::Span::new().months(1),
    };
    date.checked_add(step).expect("date")
}

fn counts<'a>(keys: impl Iterator<Item = &'a str>) -> Value {
    let mut map: BTreeMap<&str, u64> = BTreeMap::new();
    for k in keys {
        *map.entry(k).or_default() += 1;
    }
    json!(map)
}

/// Seconds, calls with a duration, and both costs.
fn sums(rows: &[&StatRow]) -> (i64, i64, i64, i64) {
    let duration: i64 = rows.iter().map(|r| r.duration).sum();
    let with_duration = rows.iter().filter(|r| r.duration > 0).count() as i64;
    let cost: i64 = rows.iter().filter_map(|r| r.cost).sum();
    let carrier: i64 = rows.iter().filter_map(|r| r.carrier).sum();
    (duration, with_duration, cost, carrier)
}

/// What the contract says the stats of `rows` are.
pub fn model(rows: &[StatRow], zone: &str, interval: Option<&str>) -> Value {
    let all: Vec<&StatRow> = rows.iter().collect();
    let (duration, with_duration, cost, carrier) = sums(&all);
    let avg = if with_duration == 0 {
        Value::Null
    } else {
        // Two decimals, half away from zero, on exact integers.
        let hundredths = (duration * 1000 / with_duration + 5) / 10;
        serde_json::from_str(&format!("{}.{:02}", hundredths / 100, hundredths % 100))
            .expect("number")
    };
    let mut by_assistant: BTreeMap<Option<i64>, (Option<&str>, i64)> = BTreeMap::new();
    for r in rows {
        let entry = by_assistant
            .entry(r.assistant.map(|a| a.0))
            .or_insert((r.assistant.map(|a| a.1), 0));
        entry.1 += 1;
    }
    let mut assistants: Vec<(Option<i64>, Option<&str>, i64)> = by_assistant
        .into_iter()
        .map(|(id, (name, n))| (id, name, n))
        .collect();
    // Total descending, then id; no assistant after every id.
    assistants.sort_by_key(|(id, _, n)| (std::cmp::Reverse(*n), id.is_none(), *id));
    let mut out = json!({
        "total": rows.len(),
        "by_status": counts(rows.iter().map(|r| r.status)),
        "by_type": counts(rows.iter().map(|r| r.kind)),
        "by_answered_by": counts(rows.iter().map(|r| r.answered.unwrap_or("null"))),
        "by_assistant": assistants
            .iter()
            .map(|(id, name, n)| json!({"id": id, "name": name, "total": n}))
            .collect::<Vec<_>>(),
        "duration": {"sum": duration, "avg": avg},
        "cost": {"total_cost": money(cost), "carrier_cost": money(carrier)},
    });
    if let Some(interval) = interval {
        let mut series = Vec::new();
        let mut periods: BTreeMap<jiff::civil::Date, Vec<&StatRow>> = BTreeMap::new();
        for r in rows {
            periods
                .entry(period_of(r.created_at, zone, interval))
                .or_default()
                .push(r);
        }
        if let (Some(first), Some(last)) = (
            periods.keys().next().copied(),
            periods.keys().next_back().copied(),
        ) {
            let mut at = first;
            while at <= last {
                let these = periods.get(&at).cloned().unwrap_or_default();
                let (duration, _, cost, _) = sums(&these);
                series.push(json!({
                    "period": at.to_string(),
                    "total": these.len(),
                    "by_status": counts(these.iter().map(|r| r.status)),
                    "duration_sum": duration,
                    "total_cost": money(cost),
                }));
                at = next_period(at, interval);
            }
        }
        out["series"] = Value::Array(series);
    }
    out
}

/// The stats the API answers for `params`, checked against the model.
pub async fn check(
    app: &TestApp,
    token: &str,
    params: &str,
    rows: &[StatRow],
    zone: &str,
    interval: Option<&str>,
) {
    let mut query = params.to_owned();
    if let Some(interval) = interval {
        query.push_str(&format!("&interval={interval}"));
    }
    let answer = app
        .get(&format!("/api/user/calls/stats?{query}"), token)
        .await;
    assert_eq!(answer.status, 200, "{query}: {}", answer.body);
    // `avg` is compared as a number: `60` and `60.0` are the same to JSON.
    let as_number = |mut v: Value| {
        let avg = v["duration"]["avg"].as_f64();
        v["duration"]["avg"] = json!(avg);
        v
    };
    assert_eq!(
        as_number(answer.body),
        as_number(model(rows, zone, interval)),
        "stats?{query}"
    );
}

const T0: i64 = 1_711_843_200; // 2024-03-31T00:00:00Z, Berlin's 23-hour day

async fn seeded(app: &TestApp) -> (callbase::store::User, String) {
    let (user, token) = app.user("stats@example.com").await;
    let rows: Vec<Value> = [
        (1, "completed", 60, Some(0.1), T0 - 3_600),
        (2, "completed", 0, None, T0 + 10),
        (3, "failed", 7, Some(0.000_000_01), T0 + 22 * 3_600),
        (4, "busy", 120, Some(0.25), T0 + 3 * 86_400),
    ]
    .into_iter()
    .map(|(id, status, duration, cost, at)| {
        call(
            id,
            json!({
                "status": status,
                "duration": duration,
                "total_cost": cost,
                "carrier_cost": cost.map(|c| if c < 0.001 { c } else { c / 2.0 }),
                "assistant_name": if id % 2 == 0 { Some("Sales") } else { None },
                "created_at": callbase::domain::timefmt::format_rfc3339(at),
            }),
        )
    })
    .collect();
    app.import(&user, &rows).await;
    (user, token)
}

async fn answers_the_contract_shape(app: TestApp) {
    let (_, token) = seeded(&app).await;
    let answer = app
        .get(
            "/api/user/calls/stats?interval=day&timezone=Europe/Berlin",
            &token,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let body = &answer.body;
    assert_eq!(body["total"], 4);
    assert_eq!(
        body["by_status"],
        json!({"completed": 2, "busy": 1, "failed": 1})
    );
    assert_eq!(body["duration"], json!({"sum": 187, "avg": 62.33}));
    assert_eq!(body["cost"]["total_cost"], json!(0.35000001));
    assert_eq!(body["by_assistant"][0]["name"], "Sales");
    assert_eq!(
        body["by_assistant"][1],
        json!({"id": null, "name": null, "total": 2})
    );
    // Berlin's 03-31 has 23 hours, [03-30T23:00Z, 03-31T22:00Z): the first
    // two calls; the third (22:00Z) is on 04-01; 04-02 is empty.
    let periods: Vec<(&str, u64)> = body["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap_or(""),
                p["total"].as_u64().unwrap_or(9),
            )
        })
        .collect();
    assert_eq!(
        periods,
        [
            ("2024-03-31", 2),
            ("2024-04-01", 1),
            ("2024-04-02", 0),
            ("2024-04-03", 1)
        ]
    );
    assert_eq!(body["series"][2]["by_status"], json!({}));
    assert_eq!(body["series"][2]["total_cost"], json!(0));
}

async fn refuses_bad_parameters_and_needs_a_token(app: TestApp) {
    let (_, token) = seeded(&app).await;
    let answer = app
        .get(
            "/api/user/calls/stats?interval=hour&timezone=Mars/Base",
            &token,
        )
        .await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert_eq!(
        answer.body["errors"],
        json!({
            "timezone": ["The timezone field must be a valid timezone."],
            "interval": ["The selected interval is invalid."],
        })
    );
    let answer = app.get("/api/user/calls/stats?q=%2A%2A", &token).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    let anonymous = app
        .request(reqwest::Method::GET, "/api/user/calls/stats", None)
        .await;
    assert_eq!(anonymous.status, 401);
    // Another user's calls count for nothing.
    let (_, other) = app.user("other@example.com").await;
    let answer = app
        .get("/api/user/calls/stats?interval=month", &other)
        .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["total"], 0);
    assert_eq!(answer.body["series"], json!([]));
    assert_eq!(answer.body["duration"]["avg"], Value::Null);
}

async fn a_series_of_too_many_periods_is_refused(app: TestApp) {
    let (user, token) = app.user("long@example.com").await;
    let rows: Vec<Value> = [("0001-01-01T00:00:00Z", 1), ("9000-01-01T00:00:00Z", 2)]
        .into_iter()
        .map(|(at, id)| call(id, json!({"created_at": at})))
        .collect();
    app.import(&user, &rows).await;
    let answer = app.get("/api/user/calls/stats?interval=day", &token).await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(answer.body["errors"]["interval"].is_array());
    let answer = app
        .get(
            "/api/user/calls/stats?interval=month&date_from=8999-06-01",
            &token,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["series"].as_array().map(Vec::len), Some(1));
}

backend_tests!(
    answers_the_contract_shape,
    refuses_bad_parameters_and_needs_a_token,
    a_series_of_too_many_periods_is_refused,
);
