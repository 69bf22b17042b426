//! `callbase export`: a user's calls as NDJSON or CSV, the same bytes as
//! `GET /api/user/calls/export` writes, to a file or stdout, with a progress
//! bar on a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::mpsc;

use crate::domain::export::{ExportFormat, parse_export};
use crate::domain::listing::Window;
use crate::store::export::Chunks;
use crate::store::{ListRequest, Reader};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Email of the user whose calls to export.
    #[arg(long)]
    pub user: String,

    /// `ndjson` (one Call object a line) or `csv`.
    #[arg(long, default_value = "ndjson", value_parser = ["ndjson", "csv"])]
    pub format: String,

    /// The list's filters and sort, as in the API's query string
    /// (`status[]=completed&timezone=Europe/Berlin&date_from=2026-10-01&sort=duration`).
    #[arg(long, default_value = "")]
    pub query: String,

    /// Where to write; stdout when absent or `-`.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
}

pub async fn run(db: &super::Database, args: ExportArgs) -> anyhow::Result<ExitCode> {
    // Read as the API reads a query string (a `+` in a phone number or an
    // instant stays a plus).
    let mut pairs = crate::http::query_pairs(Some(&args.query));
    pairs.retain(|(k, _)| k != "format");
    pairs.push(("format".to_owned(), args.format.clone()));
    let query = match parse_export(&pairs) {
        Ok(query) => query,
        Err(errors) => {
            for (field, messages) in errors.fields() {
                for message in messages {
                    eprintln!("{field}: {message}");
                }
            }
            return Ok(ExitCode::from(2));
        }
    };
    let store = db.connect().await?;
    let user = super::admin::user_by_email(store.as_ref(), &args.user).await?;
    let total = store
        .list_calls_into(
            Reader::User(user.id),
            ListRequest {
                filter: &query.filter,
                sort: query.sort,
                window: Window::Offset {
                    offset: u64::MAX,
                    limit: 1,
                },
                facets: &[],
            },
            &mut |_| {},
        )
        .await?
        .map_or(0, |outcome| outcome.total);
    let bar = progress_bar(total);
    let mut out: Box<dyn Write + Send> = match args.output.as_deref() {
        None | Some("-") => Box::new(std::io::BufWriter::new(std::io::stdout())),
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {path}"))?,
        )),
    };
    let (head, mut encode) = crate::http::export::encoder(query.format);
    out.write_all(&head)?;
    let counted = bar.clone();
    let encoder = Box::new(
        move |call: &crate::domain::CallView<'_>, buf: &mut Vec<u8>| {
            encode(call, buf);
            counted.inc(1);
        },
    );
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(4);
    let started = Instant::now();
    let (user_id, filter, sort) = (user.id, query.filter, query.sort);
    let reading = tokio::spawn(async move {
        store
            .export_calls(user_id, filter, sort, Chunks::new(encoder, sender))
            .await
    });
    while let Some(chunk) = receiver.recv().await {
        out.write_all(&chunk)?;
    }
    out.flush()?;
    let calls = reading.await.context("the export task failed")??;
    bar.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "exported {calls} calls of {} as {} in {seconds:.1} s",
        args.user,
        match query.format {
            ExportFormat::Ndjson => "NDJSON",
            ExportFormat::Csv => "CSV",
        }
    );
    Ok(ExitCode::SUCCESS)
}

/// A bar of `total` calls on stderr when it is a terminal; hidden otherwise.
fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {pos}/{len} calls {per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}
