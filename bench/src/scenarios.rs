//! The scenarios of the issue, as rotations of requests, each with one response
//! fetched from the live server: it is checked for sanity here and replayed
//! byte for byte by the static baseline.

use std::net::SocketAddr;

use anyhow::{Context as _, bail, ensure};
use serde_json::Value;

use crate::call::ymd;
use crate::generate::Dataset;
use crate::http;
use crate::naive::{Param, Statement, page_and_total};
use crate::tenants::SMALL;
use crate::wrk::Request;

pub struct Scenario {
    pub name: &'static str,
    pub requests: Vec<Request>,
    /// The body the static baseline serves: a real answer of this scenario.
    pub body: Vec<u8>,
    /// Mean body size over the answers fetched while preparing.
    pub mean_body_bytes: f64,
    /// The same requests answered naively in SQL (see `naive`), if the
    /// scenario has such a baseline.
    pub naive: Option<Vec<Vec<Statement>>>,
}

/// Every scenario, in the order run.
pub const ALL: [&str; 12] = [
    "page1-largest",
    "filtered",
    "deep-page",
    "get-by-id",
    "search-rare",
    "search-common",
    "search-common-small",
    "filtered-arrays",
    "cursor-first",
    "cursor-deep",
    "stats-all",
    "stats-day-zone",
];

/// A word in more than 30% of every tenant's calls (checked while preparing).
pub const COMMON_WORD: &str = "bitte";
/// Pages walked for `cursor-deep` (fewer on a data set too small to have
/// them: its last page, as CI's smoke run at 20,000 calls has 528).
const DEEP_CURSOR_PAGE: u64 = 1_000;

/// What the scenarios need to know of the database, beyond the data set.
pub struct Context<'a> {
    pub dataset: &'a Dataset,
    pub tokens: &'a [String],
    /// Tenants' user ids, in tenant order.
    pub user_ids: &'a [i64],
}

/// Checks every tenant's `total` against the generated count, then builds the
/// scenarios. `tokens` are in tenant order; tenant 0 is the largest.
pub fn prepare(
    addr: SocketAddr,
    context: &Context<'_>,
    wanted: &[String],
) -> anyhow::Result<Vec<Scenario>> {
    let (dataset, tokens) = (context.dataset, context.tokens);
    for (t, tenant) in dataset.tenants.iter().enumerate() {
        let page = fetch(addr, "/api/user/calls", &tokens[t])?.1;
        let total = page["total"].as_u64().context("no total")?;
        ensure!(
            total == tenant.calls,
            "{}: total {total}, but {} calls were imported",
            tenant.email,
            tenant.calls
        );
    }
    println!(
        "totals: all {} tenants answer the exact number of calls imported",
        dataset.tenants.len()
    );

    let largest = &tokens[0];
    let page1 = one(largest, "/api/user/calls".to_owned());
    let last_page = dataset.tenants[0].calls.div_ceil(15);
    let deep = one(
        largest,
        format!("/api/user/calls?page={}", (last_page / 2).max(1)),
    );
    let by_id: Vec<Request> = dataset
        .sample_ids
        .iter()
        .map(|id| Request {
            path: format!("/api/user/calls/{id}"),
            token: largest.clone(),
        })
        .collect();

    let mut scenarios = Vec::new();
    for name in ALL.into_iter().filter(|n| wanted.iter().any(|w| w == n)) {
        let (requests, naive) = match name {
            "page1-largest" => (page1.clone(), None),
            "filtered" => (filtered(dataset, tokens), None),
            "deep-page" => (deep.clone(), None),
            "get-by-id" => (by_id.clone(), None),
            "search-rare" => search_rare(context),
            "search-common" => search_common(addr, context, 0)?,
            "search-common-small" => search_common(addr, context, SMALL)?,
            "filtered-arrays" => filtered_arrays(context)?,
            "cursor-first" => cursor(addr, context, 1)?,
            "cursor-deep" => cursor(addr, context, DEEP_CURSOR_PAGE.min(last_page))?,
            "stats-all" => stats(context, false),
            _ => stats(context, true),
        };
        // Every filtered request, and a sample of the ids: enough to pick a typical
        // body and to catch a scenario that would only measure errors.
        let probe = requests.len().min(100);
        let mut bodies = Vec::with_capacity(probe);
        for request in &requests[..probe] {
            let (body, json) = fetch(addr, &request.path, &request.token)?;
            // Only a warning: tiny data sets (a quick try with --calls 1000) may
            // have empty weeks; the numbers of an empty page are still numbers.
            if json
                .get("data")
                .is_some_and(|d| d.as_array().is_none_or(Vec::is_empty))
            {
                eprintln!("warning: {name}: {} answers an empty page", request.path);
            }
            bodies.push(body);
        }
        let mean = bodies.iter().map(Vec::len).sum::<usize>() as f64 / bodies.len() as f64;
        // The body closest to the mean size stands for the scenario.
        let body = bodies
            .into_iter()
            .min_by(|a, b| {
                (a.len() as f64 - mean)
                    .abs()
                    .total_cmp(&(b.len() as f64 - mean).abs())
            })
            .context("no request in scenario")?;
        scenarios.push(Scenario {
            name,
            requests,
            body,
            mean_body_bytes: mean,
            naive,
        });
    }
    Ok(scenarios)
}

/// A naive request: the same page and total with `LIKE`, `COUNT(*)` and
/// `OFFSET`.
type Naive = Option<Vec<Vec<Statement>>>;

/// Rare words: reference numbers callers of the largest tenant gave.
fn search_rare(context: &Context<'_>) -> (Vec<Request>, Naive) {
    let words: Vec<u64> = context
        .dataset
        .sample_references
        .iter()
        .take(200)
        .copied()
        .collect();
    let requests = words
        .iter()
        .map(|w| Request {
            path: format!("/api/user/calls?q={w}"),
            token: context.tokens[0].clone(),
        })
        .collect();
    let naive = words
        .iter()
        .map(|w| like(context.user_ids[0], &w.to_string()))
        .collect();
    (requests, Some(naive))
}

fn like(user_id: i64, word: &str) -> Vec<Statement> {
    page_and_total(
        "user_id = ?1 AND transcript LIKE ?2",
        vec![Param::Int(user_id), Param::Text(format!("%{word}%"))],
        0,
    )
}

/// [`COMMON_WORD`] for one tenant, with a check that it is common there.
fn search_common(
    addr: SocketAddr,
    context: &Context<'_>,
    tenant: usize,
) -> anyhow::Result<(Vec<Request>, Naive)> {
    let token = &context.tokens[tenant];
    let path = format!("/api/user/calls?q={COMMON_WORD}");
    let total = fetch(addr, &path, token)?.1["total"]
        .as_u64()
        .context("no total")?;
    let calls = context.dataset.tenants[tenant].calls;
    println!(
        "search: {COMMON_WORD:?} is in {total} of tenant {}'s {calls} calls ({:.0}%)",
        tenant + 1,
        100.0 * total as f64 / calls.max(1) as f64
    );
    ensure!(
        total * 10 >= calls * 3,
        "{COMMON_WORD:?} is in fewer than 30% of the calls"
    );
    Ok((
        one(token, path),
        Some(vec![like(context.user_ids[tenant], COMMON_WORD)]),
    ))
}

/// Start of a local day in Berlin (Unix seconds).
fn berlin_day_start(day: i64) -> anyhow::Result<i64> {
    let date: jiff::civil::Date = ymd(day).parse()?;
    let tz = jiff::tz::TimeZone::get("Europe/Berlin")?;
    Ok(date.to_zoned_datetime(tz)?.timestamp().as_second())
}

/// Two array filters, a duration range and a week of local days in a zone,
/// across every tenant (a week each, as `filtered`).
fn filtered_arrays(context: &Context<'_>) -> anyhow::Result<(Vec<Request>, Naive)> {
    let end_day = context.dataset.end.div_euclid(86_400);
    let mut requests = Vec::new();
    let mut naive = Vec::new();
    for (t, token) in context.tokens.iter().enumerate() {
        let to = end_day - 1 - 7 * (t as i64 % 20);
        let from = to - 6;
        requests.push(Request {
            path: format!(
                "/api/user/calls?status%5B%5D=completed&status%5B%5D=ended_by_customer&type%5B%5D=inbound&type%5B%5D=outbound&duration_min=60&date_from={}&date_to={}&timezone=Europe/Berlin",
                ymd(from),
                ymd(to)
            ),
            token: token.clone(),
        });
        naive.push(page_and_total(
            "user_id = ?1 AND status IN (6, 7) AND type IN (1, 2) AND duration >= 60 AND created_at >= ?2 AND created_at < ?3",
            vec![
                Param::Int(context.user_ids[t]),
                Param::Int(berlin_day_start(from)?),
                Param::Int(berlin_day_start(to + 1)?),
            ],
            0,
        ));
    }
    Ok((requests, Some(naive)))
}

/// Page `page` of the largest tenant's cursor walk, reached by following
/// `next_page_url` from the first; naively, the same page by `OFFSET`.
fn cursor(
    addr: SocketAddr,
    context: &Context<'_>,
    page: u64,
) -> anyhow::Result<(Vec<Request>, Naive)> {
    if page > 1 {
        println!("cursor: the deep walk goes to page {page}");
    }
    let token = &context.tokens[0];
    let mut path = "/api/user/calls?paginate=cursor".to_owned();
    for _ in 1..page {
        let next = fetch(addr, &path, token)?.1["next_page_url"]
            .as_str()
            .map(str::to_owned)
            .context("the walk ended before the page")?;
        path = next
            .split_once("/api/")
            .map(|(_, p)| format!("/api/{p}"))
            .context("a next page URL without /api/")?;
    }
    let offset = (page - 1) * 15;
    Ok((
        one(token, path),
        Some(vec![page_and_total(
            "user_id = ?1",
            vec![Param::Int(context.user_ids[0])],
            offset,
        )]),
    ))
}

/// The largest tenant's stats over all time; with `series`, by local day
/// in Berlin. Naively: a `GROUP BY` over the calls for the totals, and for
/// the series one by day and status (with Berlin's winter offset fixed, which
/// is cheaper than the real zone and so a generous baseline).
fn stats(context: &Context<'_>, series: bool) -> (Vec<Request>, Naive) {
    let path = if series {
        "/api/user/calls/stats?interval=day&timezone=Europe/Berlin"
    } else {
        "/api/user/calls/stats"
    };
    let user = vec![Param::Int(context.user_ids[0])];
    let mut naive = vec![Statement {
        sql: "SELECT status, type, answered_by, assistant_id, count(*), sum(duration), \
              sum(duration > 0), sum(total_cost), sum(carrier_cost) \
              FROM calls WHERE user_id = ?1 GROUP BY 1, 2, 3, 4"
            .to_owned(),
        params: user.clone(),
    }];
    if series {
        naive.push(Statement {
            sql: "SELECT (created_at + 3600) / 86400, status, count(*), sum(duration), \
                  sum(total_cost) FROM calls WHERE user_id = ?1 GROUP BY 1, 2"
                .to_owned(),
            params: user,
        });
    }
    (one(&context.tokens[0], path.to_owned()), Some(vec![naive]))
}

fn one(token: &str, path: String) -> Vec<Request> {
    vec![Request {
        path,
        token: token.to_owned(),
    }]
}

/// Status, type, a 7-day range and the seed's example query, for every tenant,
/// interleaved so that consecutive requests differ in tenant and query.
fn filtered(dataset: &Dataset, tokens: &[String]) -> Vec<Request> {
    let end_day = dataset.end.div_euclid(86_400);
    let first_day = ymd(end_day - dataset.days);
    let mut requests = Vec::new();
    for query in 0..4 {
        for (t, token) in tokens.iter().enumerate() {
            let path = match query {
                0 => "/api/user/calls?status=completed".to_owned(),
                1 => "/api/user/calls?type=inbound".to_owned(),
                2 => {
                    // A different week for each tenant, all inside the timeline.
                    let to = end_day - 1 - 7 * (t as i64 % 20);
                    format!(
                        "/api/user/calls?date_from={}&date_to={}",
                        ymd(to - 6),
                        ymd(to)
                    )
                }
                _ => format!(
                    "/api/user/calls?status=completed&type=outbound&date_from={first_day}&per_page=25"
                ),
            };
            requests.push(Request {
                path,
                token: token.clone(),
            });
        }
    }
    requests
}

/// A 200 answer's body and its JSON.
fn fetch(addr: SocketAddr, path: &str, token: &str) -> anyhow::Result<(Vec<u8>, Value)> {
    let response = http::get(addr, path, Some(token))?;
    if response.status != 200 {
        bail!(
            "GET {path}: {} {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
    }
    let json = response.json()?;
    Ok((response.body, json))
}
