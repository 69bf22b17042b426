//! Driving the `callbase` binary: building it, creating users and tokens, and
//! importing the data set, all through its CLI as an operator would.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use crate::generate::Dataset;

/// The binary to benchmark. Without `--callbase`, the release build in the bench's
/// own target dir, rebuilt first: `cargo run -p callbase-bench` builds only the
/// bench, and a stale server binary would be measured without anyone noticing.
pub fn binary(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if !path.is_file() {
            bail!("--callbase {}: no such file", path.display());
        }
        return Ok(path);
    }
    let exe = std::env::current_exe()?;
    // <target>/<profile>/callbase-bench
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot tell the target dir from the bench's own path")?;
    let binary = target.join("release").join("callbase");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the bench crate has no parent dir")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("building callbase: cargo build --release -p callbase");
    let built = Command::new(&cargo)
        .args(["build", "--release", "-p", "callbase", "--target-dir"])
        .arg(target)
        .current_dir(workspace)
        .status();
    match built {
        Ok(status) if status.success() => Ok(binary),
        Ok(status) => bail!(
            "`cargo build --release -p callbase` failed ({status}); fix the build or pass \
             --callbase PATH"
        ),
        Err(err) if binary.is_file() => {
            eprintln!(
                "warning: cannot run cargo ({err}); using {} as it is",
                binary.display()
            );
            Ok(binary)
        }
        Err(err) => bail!(
            "cannot run cargo ({err}) and {} is missing: run `cargo build --release` first \
             or pass --callbase PATH",
            binary.display()
        ),
    }
}

/// Runs `callbase --database-url URL ARGS...`, failing with its stderr.
fn cli(binary: &Path, db_url: &str, args: &[&str]) -> anyhow::Result<Output> {
    let output = Command::new(binary)
        .arg("--database-url")
        .arg(db_url)
        .args(args)
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if !output.status.success() {
        bail!(
            "`callbase {}` failed ({}):\n{}{}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// Creates one user per tenant and returns a token for each, in tenant order.
pub fn users_and_tokens(
    binary: &Path,
    db_url: &str,
    dataset: &Dataset,
) -> anyhow::Result<Vec<String>> {
    let mut tokens = Vec::with_capacity(dataset.tenants.len());
    for tenant in &dataset.tenants {
        cli(
            binary,
            db_url,
            &[
                "users",
                "create",
                "--email",
                &tenant.email,
                "--name",
                &tenant.name,
            ],
        )?;
        let out = cli(
            binary,
            db_url,
            &[
                "tokens",
                "create",
                "--user",
                &tenant.email,
                "--name",
                "bench",
            ],
        )?;
        // The token is printed alone on the last line.
        let stdout = String::from_utf8(out.stdout)?;
        let token = stdout.lines().last().unwrap_or("").trim().to_owned();
        if token.is_empty() {
            bail!("`tokens create` printed no token for {}", tenant.email);
        }
        tokens.push(token);
    }
    Ok(tokens)
}

#[derive(Serialize)]
pub struct ImportResult {
    pub calls: u64,
    pub seconds: f64,
    pub calls_per_sec: f64,
    /// `callbase import`'s own summary line, per tenant file.
    pub summaries: Vec<String>,
}

/// Imports every tenant's file with `callbase import`, one process per tenant (each
/// file belongs to another user). The wall time includes process start-up, as an
/// operator would see it.
pub fn import(
    binary: &Path,
    db_url: &str,
    workdir: &Path,
    dataset: &Dataset,
) -> anyhow::Result<ImportResult> {
    let started = Instant::now();
    let mut summaries = Vec::new();
    for (t, tenant) in dataset.tenants.iter().enumerate() {
        let file = dataset.file(workdir, t);
        let file = file.to_str().context("work dir path is not UTF-8")?;
        let out = cli(binary, db_url, &["import", "--user", &tenant.email, file])?;
        let stdout = String::from_utf8(out.stdout)?;
        let summary = stdout.lines().last().unwrap_or("").trim().to_owned();
        // A silently short import would make every total below wrong.
        let expected = format!(
            "imported {}, updated 0, unchanged 0, rejected 0",
            tenant.calls
        );
        if !summary.starts_with(&expected) {
            bail!(
                "{}: expected \"{expected} ...\", got \"{summary}\"",
                tenant.file
            );
        }
        println!("  {}: {summary}", tenant.file);
        summaries.push(summary);
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(ImportResult {
        calls: dataset.calls,
        seconds,
        calls_per_sec: dataset.calls as f64 / seconds.max(1e-9),
        summaries,
    })
}
