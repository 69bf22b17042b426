//! Server processes under test (callbase, and the static baseline): started
//! pinned to a core, polled until ready, measured, and stopped with SIGTERM.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http;

/// The core the servers run on; wrk runs on `LOAD_CORE`.
pub const SERVER_CORE: &str = "0";
pub const LOAD_CORE: &str = "1";

pub struct Server {
    pub name: String,
    pub addr: SocketAddr,
    child: Child,
}

/// A port that was free a moment ago. The kernel does not hand out the same
/// ephemeral port again right away, so the race with other programs is benign.
pub fn free_port() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

impl Server {
    /// Runs `program args` under `taskset -c SERVER_CORE` with a one-thread tokio
    /// runtime (the "server on one core"), logging to `log`, and waits up
    /// to 60 s for `GET /health` to answer 200.
    pub fn start(
        name: &str,
        program: &Path,
        args: &[String],
        addr: SocketAddr,
        log: &Path,
    ) -> anyhow::Result<Server> {
        let log_file = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        // taskset execs the program, so the child's pid is the server's own.
        let child = Command::new("taskset")
            .arg("-c")
            .arg(SERVER_CORE)
            .arg(program)
            .args(args)
            .env("TOKIO_WORKER_THREADS", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        let mut server = Server {
            name: name.to_owned(),
            addr,
            child,
        };
        server.wait_ready(Duration::from_secs(60), log)?;
        Ok(server)
    }

    fn wait_ready(&mut self, limit: Duration, log: &Path) -> anyhow::Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited during start-up ({status}); its log:\n{}",
                    self.name,
                    tail(log)
                );
            }
            if let Ok(response) = http::get(self.addr, "/health", None)
                && response.status == 200
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                bail!(
                    "{} not ready after {limit:?}; its log:\n{}",
                    self.name,
                    tail(log)
                );
            }
            sleep(Duration::from_millis(50));
        }
    }

    /// Peak resident memory (`VmHWM`) in KiB, from /proc.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/<pid>/status")
    }

    /// Sends SIGTERM and waits up to 10 s for the process to exit.
    pub fn stop(mut self) -> anyhow::Result<ExitStatus> {
        // `kill` rather than libc: the workspace forbids unsafe code.
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        if !sent.success() {
            bail!("could not signal {}", self.name);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("{} did not exit within 10 s of SIGTERM; killed", self.name);
            }
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    /// An error half-way must not leave a server running on the core.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last lines of a log, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Share of each core (in %) that other processes kept busy over `window`, while
/// nothing of ours runs: other load on a 2-core machine makes every number noisy,
/// and the report should say so rather than leave it to be guessed.
pub fn background_load(window: Duration) -> Vec<f64> {
    let before = cpu_times();
    sleep(window);
    let after = cpu_times();
    before
        .iter()
        .zip(&after)
        .map(|((busy0, total0), (busy1, total1))| {
            100.0 * (busy1 - busy0) as f64 / (total1 - total0).max(1) as f64
        })
        .collect()
}

/// (busy, total) jiffies per core, from /proc/stat.
fn cpu_times() -> Vec<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
        .map(|l| {
            let v: Vec<u64> = l
                .split_whitespace()
                .skip(1)
                .filter_map(|x| x.parse().ok())
                .collect();
            let total: u64 = v.iter().take(8).sum();
            // idle and iowait are the 4th and 5th fields.
            let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
            (total - idle, total)
        })
        .collect()
}
