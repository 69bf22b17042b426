//! The scenarios of the issue, as rotations of requests, each with one response
//! fetched from the live server: it is checked for sanity here and replayed
//! byte for byte by the static baseline.

use std::net::SocketAddr;

use anyhow::{Context, bail, ensure};
use serde_json::Value;

use crate::call::ymd;
use crate::generate::Dataset;
use crate::http;
use crate::wrk::Request;

pub struct Scenario {
    pub name: &'static str,
    pub requests: Vec<Request>,
    /// The body the static baseline serves: a real answer of this scenario.
    pub body: Vec<u8>,
    /// Mean body size over the answers fetched while preparing.
    pub mean_body_bytes: f64,
}

/// Checks every tenant's `total` against the generated count, then builds the
/// scenarios. `tokens` are in tenant order; tenant 0 is the largest.
pub fn prepare(
    addr: SocketAddr,
    dataset: &Dataset,
    tokens: &[String],
) -> anyhow::Result<Vec<Scenario>> {
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
    for (name, requests) in [
        ("page1-largest", page1),
        ("filtered", filtered(dataset, tokens)),
        ("deep-page", deep),
        ("get-by-id", by_id),
    ] {
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
        });
    }
    Ok(scenarios)
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
