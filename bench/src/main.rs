//! `callbase-bench`: the end-to-end benchmark of issue 4. Without a subcommand it
//! generates a data set, imports it through `callbase import`, serves it with
//! `callbase serve` and drives it with wrk; `static` is the trivial server that
//! measures the HTTP limit the results are compared with.

mod call;
mod callbase;
mod corpus;
mod generate;
mod http;
mod naive;
mod process;
mod report;
mod run;
mod scenarios;
mod static_server;
mod tenants;
mod wrk;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Benchmark callbase end to end: generate, import, serve, load with wrk, compare
/// with the static limit, report.
#[derive(Debug, Parser)]
#[command(name = "callbase-bench", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: run::RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Answer every request with the bytes of one file (the HTTP limit baseline).
    Static(static_server::StaticArgs),
    /// Run a naive baseline's SQL for a while (started by the bench itself).
    Naive(naive::NaiveArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Some(Command::Static(args)) => static_server::serve(args),
        Some(Command::Naive(args)) => naive::run(args),
        None => run::run(cli.run),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
