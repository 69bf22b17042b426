//! The benchmark from start to end: data set, import, server, scenarios against
//! callbase and against the static limit, report.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, ensure};

use crate::process::{Server, background_load, free_port};
use crate::report::{Machine, Results, ScenarioResult};
use crate::scenarios::{self, Scenario};
use crate::{callbase, generate, wrk};

/// Long enough to fill caches and open every connection, short enough to be cheap.
const WARMUP_SECS: u64 = 2;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Calls in the data set, over 20 tenants (the largest holds 40%).
    #[arg(long, default_value_t = 100_000)]
    pub calls: u64,
    /// Seconds of load per scenario (after a 2 s warm-up), against callbase and
    /// again against the static limit.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Where the data set, the database, scripts, logs and results go.
    #[arg(long, default_value = "target/bench")]
    pub workdir: PathBuf,
    /// The callbase binary. Default: `release/callbase` in the bench's target dir,
    /// built (or brought up to date) with `cargo build --release -p callbase` first.
    #[arg(long)]
    pub callbase: Option<PathBuf>,
    /// Open connections wrk keeps.
    #[arg(long, default_value_t = 32)]
    pub connections: u32,
    /// Seed of the data set; the same calls and seed give the same bytes.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Rounds per scenario, each one load against callbase and one against the
    /// static limit back to back (in turns, which goes first); the round with
    /// the median ratio is reported. On a shared VM whose speed drifts, 3 or 5
    /// rounds give steadier ratios than one.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=99))]
    pub rounds: u32,
    /// The scenarios to run, comma-separated (default: all of them). A
    /// binary older than a scenario's feature can still run the others.
    #[arg(long, value_delimiter = ',', default_values_t = scenarios::ALL.map(str::to_owned))]
    pub scenarios: Vec<String>,
}

pub fn run(args: RunArgs) -> anyhow::Result<()> {
    // Below this the smallest tenants would have no calls in most filters.
    ensure!(args.calls >= 1000, "--calls must be at least 1000");
    ensure!(args.duration >= 1, "--duration must be at least 1");
    wrk::check_tools()?;
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: the bench is a debug build; use `cargo run --release` to generate fast"
        );
    }
    std::fs::create_dir_all(&args.workdir)?;
    let workdir = args.workdir.canonicalize()?;
    let binary = callbase::binary(args.callbase.clone())?;

    let dataset = generate::ensure(&workdir, args.calls, args.seed)?;
    println!(
        "average call: {:.0} bytes of NDJSON",
        dataset.average_bytes()
    );

    let db = workdir.join("bench.db");
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        if path.exists() {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
    }
    let db_url = format!("sqlite://{}", db.display());
    let tokens = callbase::users_and_tokens(&binary, &db_url, &dataset)?;
    println!("importing {} files ...", dataset.tenants.len());
    let import = callbase::import(&binary, &db_url, &workdir, &dataset)?;
    println!(
        "import: {} calls in {:.1} s, {:.0} calls/s",
        import.calls, import.seconds, import.calls_per_sec
    );

    let addr = free_port()?;
    let server_args: Vec<String> = vec![
        "--database-url".into(),
        db_url.clone(),
        "serve".into(),
        "--listen".into(),
        addr.to_string(),
        "--rate-limit".into(),
        "0".into(),
    ];
    let log = workdir.join("server.log");
    let server = Server::start("callbase serve", &binary, &server_args, addr, &log)?;
    println!("callbase serve: ready on {addr} (log: {})", log.display());

    for wanted in &args.scenarios {
        ensure!(
            scenarios::ALL.contains(&wanted.as_str()),
            "--scenarios: no scenario {wanted:?} (there are {})",
            scenarios::ALL.join(", ")
        );
    }
    let user_ids = user_ids(&db, &dataset)?;
    let index = index_size(&db);
    let context = scenarios::Context {
        dataset: &dataset,
        tokens: &tokens,
        user_ids: &user_ids,
    };
    let scenarios = scenarios::prepare(addr, &context, &args.scenarios)?;
    let background_cpu_percent = background_load(Duration::from_secs(1));
    if background_cpu_percent.iter().any(|&busy| busy > 10.0) {
        eprintln!(
            "warning: other processes keep the cores busy ({background_cpu_percent:.0?} %); \
             the numbers will be noisy"
        );
    }
    let mut results = Vec::new();
    for scenario in scenarios {
        results.push(measure(&scenario, addr, &workdir, &args)?);
    }
    let peak_rss_kib = server.peak_rss_kib()?;
    let exit = server.stop()?;
    if !exit.success() {
        eprintln!("warning: callbase serve ended with {exit} after SIGTERM");
    }

    let results = Results {
        calls: dataset.calls,
        seed: dataset.seed,
        tenants: dataset.tenants.len(),
        largest_tenant_calls: dataset.tenants[0].calls,
        average_call_bytes: dataset.average_bytes(),
        connections: args.connections,
        duration_secs: args.duration,
        rounds: args.rounds,
        machine: Machine::detect(),
        import,
        search_index_bytes: index,
        database_bytes: std::fs::metadata(&db).map_or(0, |m| m.len()),
        scenarios: results,
        peak_rss_kib,
        background_cpu_percent,
        server_exit: exit.to_string(),
    };
    println!("\n{}", results.markdown());
    let path = results.write_json(&workdir)?;
    println!("results: {}", path.display());
    Ok(())
}

/// One scenario: against callbase, then against a static server replaying one of
/// its answers, with the same script so that the requests are identical; as many
/// times as `--rounds` says, alternating.
fn measure(
    scenario: &Scenario,
    addr: SocketAddr,
    workdir: &Path,
    args: &RunArgs,
) -> anyhow::Result<ScenarioResult> {
    let name = scenario.name;
    let script = workdir.join(format!("{name}.lua"));
    wrk::write_script(&script, &scenario.requests)?;
    let load = |target: SocketAddr, label: &str, round: u32| -> anyhow::Result<wrk::Outcome> {
        wrk::run(target, &script, args.connections, WARMUP_SECS, None)?;
        let log = if args.rounds > 1 {
            workdir.join(format!("wrk-{name}-{label}-round{round}.txt"))
        } else {
            workdir.join(format!("wrk-{name}-{label}.txt"))
        };
        wrk::run(target, &script, args.connections, args.duration, Some(&log))
    };

    let body = workdir.join(format!("body-{name}.json"));
    std::fs::write(&body, &scenario.body)?;
    let static_addr = free_port()?;
    let exe = std::env::current_exe()?;
    let static_args: Vec<String> = vec![
        "static".into(),
        "--body".into(),
        body.display().to_string(),
        "--listen".into(),
        static_addr.to_string(),
    ];
    let log = workdir.join("static.log");
    let baseline = Server::start("static server", &exe, &static_args, static_addr, &log)?;

    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        let of = if args.rounds > 1 {
            format!(" (round {round} of {})", args.rounds)
        } else {
            String::new()
        };
        // Even rounds start with the static limit, so that a VM getting
        // steadily faster or slower does not favour one side.
        let run_callbase = || {
            println!("{name}: {} s against callbase{of} ...", args.duration);
            load(addr, "callbase", round)
        };
        let run_static = || {
            println!(
                "{name}: {} s against the static limit{of} ...",
                args.duration
            );
            load(static_addr, "static", round)
        };
        let (callbase, static_limit) = if round % 2 == 0 {
            let static_limit = run_static()?;
            (run_callbase()?, static_limit)
        } else {
            let callbase = run_callbase()?;
            (callbase, run_static()?)
        };
        println!(
            "{name}: {:.0} req/s, static {:.0} req/s",
            callbase.requests_per_sec, static_limit.requests_per_sec
        );
        rounds.push(Round {
            ratio: callbase.requests_per_sec / static_limit.requests_per_sec.max(1e-9),
            callbase,
            static_limit,
        });
    }
    baseline.stop()?;
    let naive = match &scenario.naive {
        Some(requests) => {
            println!("{name}: {} s of the naive baseline ...", args.duration);
            let plan = crate::naive::Plan {
                database: workdir.join("bench.db"),
                seconds: args.duration,
                requests: requests.clone(),
            };
            let outcome =
                crate::naive::measure(&plan, &workdir.join(format!("naive-{name}.json")))?;
            println!(
                "{name}: naive {:.0} req/s, p50 {:.2} ms",
                outcome.requests_per_sec, outcome.p50_ms
            );
            Some(outcome)
        }
        None => None,
    };

    let ratios: Vec<f64> = rounds.iter().map(|r| r.ratio).collect();
    let median = median_round(rounds);
    Ok(ScenarioResult {
        name: name.to_owned(),
        rotation: scenario.requests.len(),
        body_bytes: scenario.body.len(),
        mean_body_bytes: scenario.mean_body_bytes,
        ratio: median.ratio,
        round_ratios: ratios,
        callbase: median.callbase,
        static_limit: median.static_limit,
        naive,
    })
}

/// The tenants' user ids, in tenant order (for the naive baselines' SQL).
fn user_ids(db: &Path, dataset: &generate::Dataset) -> anyhow::Result<Vec<i64>> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    dataset
        .tenants
        .iter()
        .map(|t| {
            conn.query_row("SELECT id FROM users WHERE email = ?1", [&t.email], |r| {
                r.get(0)
            })
            .with_context(|| format!("no user {}", t.email))
        })
        .collect()
}

/// Bytes of the search index on disk (FTS5's tables), if the database has one.
fn index_size(db: &Path) -> Option<u64> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .ok()?;
    let pages = conn.query_row(
        "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'call_words%'",
        [],
        |r| r.get::<_, Option<i64>>(0),
    );
    let bytes = match pages {
        Ok(bytes) => bytes,
        // Without the dbstat table: the index's own blobs.
        Err(_) => conn
            .query_row("SELECT sum(length(block)) FROM call_words_data", [], |r| {
                r.get(0)
            })
            .ok()?,
    };
    bytes.map(i64::unsigned_abs)
}

/// One load against callbase and one against the static limit, back to back.
struct Round {
    callbase: wrk::Outcome,
    static_limit: wrk::Outcome,
    ratio: f64,
}

/// The round with the median ratio (the lower middle one of an even count), so
/// that every figure reported comes from one pair of runs.
fn median_round(mut rounds: Vec<Round>) -> Round {
    rounds.sort_by(|a, b| a.ratio.total_cmp(&b.ratio));
    let middle = (rounds.len() - 1) / 2;
    rounds.swap_remove(middle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(callbase: f64, static_limit: f64) -> Round {
        let outcome = |rps: f64| wrk::Outcome {
            requests: 0,
            seconds: 1.0,
            requests_per_sec: rps,
            bytes_per_response: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
            errors: wrk::Errors::default(),
        };
        Round {
            callbase: outcome(callbase),
            static_limit: outcome(static_limit),
            ratio: callbase / static_limit,
        }
    }

    /// The reported round is the one with the middle ratio, whole: its two
    /// throughputs belong together.
    #[test]
    fn reports_the_round_with_the_median_ratio() {
        let picked = median_round(vec![
            round(30.0, 100.0),
            round(10.0, 100.0),
            round(25.0, 50.0),
        ]);
        assert_eq!(
            (
                picked.callbase.requests_per_sec,
                picked.static_limit.requests_per_sec
            ),
            (30.0, 100.0)
        );
        let picked = median_round(vec![round(40.0, 100.0), round(20.0, 100.0)]);
        assert_eq!(picked.callbase.requests_per_sec, 20.0);
        let picked = median_round(vec![round(7.0, 70.0)]);
        assert_eq!(picked.callbase.requests_per_sec, 7.0);
    }
}
