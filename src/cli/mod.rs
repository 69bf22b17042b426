//! The command line: `serve`, `migrate`, `users`, `tokens`, `import`.

mod admin;
mod export;
mod import;
mod owned;
mod serve;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Self-hosted call records for AI voice agents, served over Famulor's call-records API.
#[derive(Debug, Parser)]
#[command(name = "callbase", version)]
pub struct Cli {
    /// Database URL: `sqlite://PATH` (embedded, the default) or
    /// `postgres://USER:PASSWORD@HOST:PORT/DB`.
    #[arg(
        long,
        env = "CALLBASE_DATABASE_URL",
        default_value = "sqlite://callbase.db",
        global = true,
        hide_env_values = true
    )]
    pub database_url: String,

    /// Database connections per process (PostgreSQL).
    #[arg(
        long,
        env = "CALLBASE_DB_POOL_SIZE",
        default_value_t = 16,
        global = true
    )]
    pub db_pool_size: usize,

    /// Log format on stderr: `text` or `json`. Levels come from `RUST_LOG`.
    #[arg(
        long,
        env = "CALLBASE_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API.
    Serve(serve::ServeArgs),
    /// Create the database or bring its schema up to date, then exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    Users(admin::UsersCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Tokens(admin::TokensCommand),
    /// Manage a user's assistants (and their webhook settings).
    #[command(subcommand)]
    Assistants(owned::AssistantsCommand),
    /// Manage a user's campaigns.
    #[command(subcommand)]
    Campaigns(owned::CampaignsCommand),
    /// Import call records (NDJSON, or a JSON document with a `data` array).
    Import(import::ImportArgs),
    /// Export a user's calls as NDJSON or CSV (the API's export, to a file).
    Export(export::ExportArgs),
}

/// Parses arguments, runs the command, and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log_guard = init_logging(cli.log_format, matches!(cli.command, Command::Serve(_)));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The database the command works on.
pub struct Database {
    pub url: String,
    pub options: crate::store::ConnectOptions,
}

impl Database {
    pub async fn connect(&self) -> anyhow::Result<std::sync::Arc<dyn crate::store::Store>> {
        crate::store::connect_with(&self.url, self.options).await
    }

    /// The URL with any password masked, for messages and logs.
    pub fn display(&self) -> String {
        crate::store::redact_url(&self.url)
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = Database {
        url: cli.database_url,
        options: crate::store::ConnectOptions {
            pool_size: cli.db_pool_size,
        },
    };
    match cli.command {
        Command::Serve(args) => serve::run(&db, args).await,
        Command::Migrate => {
            db.connect().await?;
            println!("database {} is up to date", db.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Users(command) => admin::users(&db, command).await,
        Command::Tokens(command) => admin::tokens(&db, command).await,
        Command::Assistants(command) => owned::assistants(&db, command).await,
        Command::Campaigns(command) => owned::campaigns(&db, command).await,
        Command::Import(args) => import::run(&db, args).await,
        Command::Export(args) => export::run(&db, args).await,
    }
}

/// Logs go to stderr so that stdout stays clean for scripts (`tokens create`).
/// The server logs at `info` by default, the other commands at `warn`.
///
/// Lines are written in batches by a background thread (without dropping any,
/// see `logsink`), so a request never waits on a `write` to stderr; colours
/// only on a terminal. The returned guard writes what is pending when dropped
/// at exit.
fn init_logging(format: LogFormat, serving: bool) -> Option<crate::logsink::FlushGuard> {
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let ansi = std::io::stderr().is_terminal();
    let Ok((writer, guard)) = crate::logsink::start(std::io::stderr()) else {
        eprintln!("warning: cannot start the log writer thread; logging is off");
        return None;
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text if ansi => builder.try_init(),
        LogFormat::Text => builder
            .fmt_fields(crate::logline::PlainFields)
            .event_format(crate::logline::PlainText)
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    Some(guard)
}
