//! `callbase import --user EMAIL FILE...`.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::import::{Summary, import_source, open_source};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Email of the user who owns the calls.
    #[arg(long)]
    pub user: String,

    /// NDJSON files (one Call object per line) or JSON documents with a `data`
    /// array; `-` reads stdin.
    #[arg(required = true)]
    pub files: Vec<String>,
}

pub async fn run(db: &super::Database, args: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = db.connect().await?;
    let user = super::admin::user_by_email(store.as_ref(), &args.user).await?;
    let started = Instant::now();
    let mut total = Summary::default();
    let several = args.files.len() > 1;

    for path in &args.files {
        let (source, size) = open_source(path)?;
        let bar = progress_bar(size);
        let label = if several {
            format!("{path}: ")
        } else {
            String::new()
        };
        let summary = import_source(
            store.as_ref(),
            user.id,
            source,
            |rejection| {
                bar.suspend(|| eprintln!("{label}{}: {}", rejection.position, rejection.reason))
            },
            |bytes| bar.set_position(bytes),
        )
        .await;
        bar.finish_and_clear();
        let summary = summary.map_err(|e| e.context(format!("importing {path}")))?;
        if several {
            println!("{path}: {summary}");
        }
        total.add(summary);
    }

    let seconds = started.elapsed().as_secs_f64();
    let processed = total.imported + total.updated + total.unchanged;
    println!(
        "{total} ({processed} calls in {seconds:.1} s, {:.0} calls/s)",
        processed as f64 / seconds.max(1e-9)
    );
    Ok(if total.rejected > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A bar on stderr when it is a terminal; hidden otherwise.
fn progress_bar(size: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match size {
        Some(size) => {
            let bar = ProgressBar::new(size);
            if let Ok(style) = ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            ) {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) =
                ProgressStyle::with_template("{spinner} {bytes} read, {bytes_per_sec}")
            {
                bar.set_style(style);
            }
            bar
        }
    }
}
