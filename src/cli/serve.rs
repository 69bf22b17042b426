//! `callbase serve`.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use std::io::Write;

use clap::Args;

use crate::app::{self, Settings};
use crate::outbox::OutboxConfig;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "CALLBASE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Base URL clients use to reach callbase, for the paginator's page URLs
    /// (default `http://<listen address>`).
    #[arg(long, env = "CALLBASE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// On an empty database, create a demo user, a token and about 2,000
    /// realistic calls; print the token and a curl command.
    #[arg(long)]
    pub demo: bool,

    /// Requests per user per minute (answered 429 beyond); 0 switches it off.
    #[arg(long, env = "CALLBASE_RATE_LIMIT", default_value_t = 1000)]
    pub rate_limit: u64,

    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "CALLBASE_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,

    /// Largest request body accepted, in bytes (413 beyond).
    #[arg(long, env = "CALLBASE_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Send webhooks to loopback and private-network addresses too (refused
    /// by default so that a webhook URL cannot reach internal services).
    #[arg(long, env = "CALLBASE_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// Delays between webhook attempts, e.g. `5s,30s,2m,10m,1h,6h` (units ms,
    /// s, m, h; each delay gets ±20% jitter); after the last, a delivery is
    /// given up.
    #[arg(long, env = "CALLBASE_WEBHOOK_RETRY_SCHEDULE", default_value = crate::webhook::DEFAULT_SCHEDULE)]
    pub webhook_retry_schedule: String,

    /// Seconds a webhook receiver may take to accept the connection.
    #[arg(long, env = "CALLBASE_WEBHOOK_CONNECT_TIMEOUT", default_value_t = 5)]
    pub webhook_connect_timeout: u64,

    /// Seconds a webhook attempt may take in all.
    #[arg(long, env = "CALLBASE_WEBHOOK_TIMEOUT", default_value_t = 15)]
    pub webhook_timeout: u64,

    /// Seconds a webhook delivery stays leased to a process beyond the attempt's
    /// timeouts; after a crash, the attempt in flight is sent again this late.
    #[arg(long, env = "CALLBASE_WEBHOOK_LEASE_MARGIN", default_value_t = 30)]
    pub webhook_lease_margin: u64,

    /// Run no webhook worker in this process (another process sends them).
    #[arg(long, env = "CALLBASE_NO_WEBHOOK_WORKER")]
    pub no_webhook_worker: bool,
}

pub async fn run(db: &super::Database, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = db.connect().await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));

    if args.demo {
        let demo = crate::demo::ensure(store.as_ref()).await?;
        // Not println!: a closed stdout must not take the server down.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", demo.instructions(&public_url)).and_then(|()| out.flush());
    }

    let mut settings = Settings::new(public_url);
    settings.rate_limit_per_minute = args.rate_limit;
    settings.limits.request_timeout = Duration::from_secs(args.request_timeout.max(1));
    settings.limits.max_body_bytes = args.max_body_bytes;
    settings.outbox = if args.no_webhook_worker {
        None
    } else {
        Some(OutboxConfig {
            connect_timeout: Duration::from_secs(args.webhook_connect_timeout.max(1)),
            total_timeout: Duration::from_secs(args.webhook_timeout.max(1)),
            allow_private: args.webhook_allow_private,
            lease_margin: Duration::from_secs(args.webhook_lease_margin),
            schedule: crate::webhook::parse_schedule(&args.webhook_retry_schedule)
                .map_err(|e| anyhow::anyhow!("--webhook-retry-schedule: {e}"))?,
            ..OutboxConfig::default()
        })
    };
    tracing::info!(
        listen = %local,
        public_url = %settings.public_url,
        database = %db.display(),
        "callbase is serving"
    );
    app::serve(listener, store, settings, app::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
