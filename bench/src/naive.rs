//! `callbase-bench naive`: the naive baseline of a scenario, measured in the
//! same run. It answers the scenario's requests the way one would without
//! callbase's indexes and rollups — `transcript LIKE '%word%'` for a search,
//! `COUNT(*)` over the rows for every total, `OFFSET` for a deep page — with
//! plain SQL on the same database file, on the server's core, one request
//! after another, and reports requests per second and latencies. It pays no
//! HTTP, no authentication and no JSON, so it is a generous baseline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, params_from_iter};
use serde::{Deserialize, Serialize};

/// One statement of a naive request, with its parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Param {
    Int(i64),
    Text(String),
}

/// What the subcommand runs: requests of several statements each, in turn.
#[derive(Debug, Serialize, Deserialize)]
pub struct Plan {
    pub database: PathBuf,
    pub seconds: u64,
    pub requests: Vec<Vec<Statement>>,
}

/// What it measured.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct NaiveOutcome {
    pub requests: u64,
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

#[derive(Debug, clap::Args)]
pub struct NaiveArgs {
    /// The plan (JSON, written by the bench).
    #[arg(long)]
    pub plan: PathBuf,
}

/// Runs a plan (in the subprocess) and prints its outcome as JSON.
pub fn run(args: NaiveArgs) -> anyhow::Result<()> {
    let plan: Plan = serde_json::from_slice(&std::fs::read(&args.plan)?)?;
    let conn = Connection::open_with_flags(&plan.database, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening {}", plan.database.display()))?;
    let once = |request: &[Statement]| -> anyhow::Result<()> {
        for statement in request {
            let mut stmt = conn.prepare_cached(&statement.sql)?;
            let params = statement.params.iter().map(|p| match p {
                Param::Int(n) => Value::Integer(*n),
                Param::Text(t) => Value::Text(t.clone()),
            });
            let mut rows = stmt.query(params_from_iter(params))?;
            // Every column of every row is read, as an answer would.
            while let Some(row) = rows.next()? {
                for i in 0..row.as_ref().column_count() {
                    let _ = row.get_ref(i)?;
                }
            }
        }
        Ok(())
    };
    // A warm-up round, as wrk's.
    let warm_until = Instant::now() + Duration::from_secs(1);
    for request in plan.requests.iter().cycle() {
        once(request)?;
        if Instant::now() > warm_until {
            break;
        }
    }
    let mut latencies = Vec::new();
    let started = Instant::now();
    let until = started + Duration::from_secs(plan.seconds);
    for request in plan.requests.iter().cycle() {
        let at = Instant::now();
        once(request)?;
        latencies.push(at.elapsed().as_secs_f64() * 1e3);
        if Instant::now() > until {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    let outcome = NaiveOutcome {
        requests: latencies.len() as u64,
        requests_per_sec: latencies.len() as f64 / seconds,
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
    };
    println!("{}", serde_json::to_string(&outcome)?);
    Ok(())
}

/// Runs a plan in `callbase-bench naive` on the server's core.
pub fn measure(plan: &Plan, path: &std::path::Path) -> anyhow::Result<NaiveOutcome> {
    std::fs::write(path, serde_json::to_vec(plan)?)?;
    let exe = std::env::current_exe()?;
    let output = std::process::Command::new("taskset")
        .args(["-c", crate::process::SERVER_CORE])
        .arg(exe)
        .args(["naive", "--plan"])
        .arg(path)
        .output()
        .context("running the naive baseline")?;
    if !output.status.success() {
        anyhow::bail!(
            "the naive baseline failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The columns of an answer's call (the Call object's).
pub const CALL_COLUMNS: &str = "id, assistant_id, campaign_id, type, duration, assistant_phone_number, \
     client_phone_number, status, transcript, variables, evaluation, webhook_response, carrier_cost, \
     total_cost, answered_by, recording_url, created_at, updated_at";

/// A page of 15 and the total, naively: `COUNT(*)` over the rows matching
/// `condition`, and the rows themselves.
pub fn page_and_total(condition: &str, params: Vec<Param>, offset: u64) -> Vec<Statement> {
    vec![
        Statement {
            sql: format!("SELECT count(*) FROM calls WHERE {condition}"),
            params: params.clone(),
        },
        Statement {
            sql: format!(
                "SELECT {CALL_COLUMNS} FROM calls WHERE {condition} ORDER BY created_at DESC, id DESC LIMIT 15 OFFSET {offset}"
            ),
            params,
        },
    ]
}
