//! `callbase-bench static`: the HTTP limit. It answers every request with the same
//! bytes callbase sent for a scenario, on the same stack (tokio, hyper through
//! axum) and under the same constraints (one core, one worker thread), so the
//! ratio of the two throughputs is the share of the machine's HTTP capacity that
//! callbase achieves once it also authenticates, queries and serialises.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::response::IntoResponse;
use axum::serve::ListenerExt;

#[derive(Debug, clap::Args)]
pub struct StaticArgs {
    /// File whose bytes are the body of every answer.
    #[arg(long)]
    pub body: PathBuf,
    /// Address to listen on.
    #[arg(long)]
    pub listen: SocketAddr,
}

pub fn serve(args: StaticArgs) -> anyhow::Result<()> {
    let body = Bytes::from(
        std::fs::read(&args.body).with_context(|| format!("reading {}", args.body.display()))?,
    );
    // The multi-thread runtime reads TOKIO_WORKER_THREADS, as callbase's does.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = Router::new().fallback(move || {
            let body = body.clone();
            async move {
                (
                    [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                    body,
                )
                    .into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        // TCP_NODELAY as callbase sets it: without it, Nagle's algorithm and
        // delayed ACKs stall small answers for tens of milliseconds.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        // No graceful shutdown: SIGTERM's default action ends the process, which is
        // all a baseline needs.
        axum::serve(listener, app).await?;
        Ok(())
    })
}
