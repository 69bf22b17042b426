//! The results: a Markdown table on stdout (ready for docs/PERFORMANCE.md) and the
//! same numbers, with everything behind them, as JSON in the work dir.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::callbase::ImportResult;
use crate::naive::NaiveOutcome;
use crate::wrk::Outcome;

#[derive(Serialize)]
pub struct Results {
    pub calls: u64,
    pub seed: u64,
    pub tenants: usize,
    pub largest_tenant_calls: u64,
    pub average_call_bytes: f64,
    pub connections: u32,
    pub duration_secs: u64,
    /// Rounds per scenario (callbase, then static, alternating).
    pub rounds: u32,
    pub machine: Machine,
    pub import: ImportResult,
    /// The search index's size on disk, when the database has one.
    pub search_index_bytes: Option<u64>,
    pub database_bytes: u64,
    pub scenarios: Vec<ScenarioResult>,
    /// The server's `VmHWM` after every scenario.
    pub peak_rss_kib: u64,
    /// Per core, how busy other processes kept it for a second before the load.
    pub background_cpu_percent: Vec<f64>,
    /// How `callbase serve` ended after SIGTERM.
    pub server_exit: String,
}

#[derive(Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
}

#[derive(Serialize)]
pub struct ScenarioResult {
    pub name: String,
    /// Distinct requests the scenario rotates over.
    pub rotation: usize,
    /// Size of the body replayed by the static baseline.
    pub body_bytes: usize,
    pub mean_body_bytes: f64,
    pub callbase: Outcome,
    pub static_limit: Outcome,
    /// callbase's throughput as a share of the static limit's, in the round
    /// reported (the median one).
    pub ratio: f64,
    /// Every round's ratio, in the order run.
    pub round_ratios: Vec<f64>,
    /// The naive baseline of the same requests, when the scenario has one.
    pub naive: Option<NaiveOutcome>,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|k| k.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, usize::from),
            kernel,
        }
    }
}

impl Results {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "### {} calls, {} tenants (largest {}), {} connections, {} s per scenario\n",
            self.calls,
            self.tenants,
            self.largest_tenant_calls,
            self.connections,
            self.duration_secs
        );
        out.push_str(
            "| scenario | req/s | p50 ms | p99 ms | errors | body bytes | static req/s | ratio |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for s in &self.scenarios {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.2} | {:.2} | {} | {} | {:.0} | {:.0}% |",
                s.name,
                s.callbase.requests_per_sec,
                s.callbase.p50_ms,
                s.callbase.p99_ms,
                s.callbase.errors.total(),
                s.body_bytes,
                s.static_limit.requests_per_sec,
                s.ratio * 100.0
            );
        }
        let with_naive: Vec<&ScenarioResult> = self
            .scenarios
            .iter()
            .filter(|s| s.naive.is_some())
            .collect();
        if !with_naive.is_empty() {
            out.push_str(
                "\n| scenario | callbase req/s | p50 ms | p99 ms | naive req/s | naive p50 ms | naive p99 ms | × naive |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|\n",
            );
            for s in with_naive {
                let Some(naive) = s.naive else { continue };
                let _ = writeln!(
                    out,
                    "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.1} |",
                    s.name,
                    s.callbase.requests_per_sec,
                    s.callbase.p50_ms,
                    s.callbase.p99_ms,
                    naive.requests_per_sec,
                    naive.p50_ms,
                    naive.p99_ms,
                    s.callbase.requests_per_sec / naive.requests_per_sec.max(1e-9)
                );
            }
        }
        if self.rounds > 1 {
            let _ = writeln!(
                out,
                "\n- the median of {} rounds per scenario; every round's ratio:",
                self.rounds
            );
            for s in &self.scenarios {
                let all: Vec<String> = s
                    .round_ratios
                    .iter()
                    .map(|r| format!("{:.0}%", r * 100.0))
                    .collect();
                let _ = writeln!(out, "  {}: {}", s.name, all.join(", "));
            }
        }
        let _ = writeln!(
            out,
            "\n- import: {} calls in {:.1} s, {:.0} calls/s ({} `callbase import` runs, wall time)",
            self.import.calls, self.import.seconds, self.import.calls_per_sec, self.tenants
        );
        if let Some(bytes) = self.search_index_bytes {
            let _ = writeln!(
                out,
                "- search index: {:.1} MiB on disk, {:.1} MiB per 100k calls (database {:.0} MiB)",
                bytes as f64 / 1_048_576.0,
                bytes as f64 / 1_048_576.0 / (self.calls as f64 / 100_000.0),
                self.database_bytes as f64 / 1_048_576.0
            );
        }
        let _ = writeln!(
            out,
            "- server peak RSS (VmHWM): {:.1} MiB",
            self.peak_rss_kib as f64 / 1024.0
        );
        let _ = writeln!(
            out,
            "- average call: {:.0} bytes of NDJSON",
            self.average_call_bytes
        );
        let _ = writeln!(
            out,
            "- machine: {}, {} cores, Linux {}; server on core 0 (1 tokio worker), wrk on core 1",
            self.machine.cpu, self.machine.cores, self.machine.kernel
        );
        if self.background_cpu_percent.iter().any(|&busy| busy > 10.0) {
            let _ = writeln!(
                out,
                "- warning: other processes kept the cores {:.0?} % busy before the load",
                self.background_cpu_percent
            );
        }
        for s in &self.scenarios {
            if s.static_limit.errors.total() > 0 {
                let _ = writeln!(
                    out,
                    "- warning: the static baseline of {} had {} errors",
                    s.name,
                    s.static_limit.errors.total()
                );
            }
        }
        out
    }

    pub fn write_json(&self, workdir: &Path) -> anyhow::Result<PathBuf> {
        let path = workdir.join(format!("results-{}.json", self.calls));
        std::fs::write(&path, serde_json::to_vec_pretty(self)?)?;
        Ok(path)
    }
}
