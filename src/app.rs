//! Starting the service: one function that takes a bound listener, the
//! settings and a shutdown future, used alike by `callbase serve` and tests.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Layer;
use tower_http::normalize_path::NormalizePathLayer;

use crate::http::auth::RateLimiter;
use crate::http::{AppState, Limits, router};
use crate::outbox::OutboxConfig;
use crate::store::Store;

/// What the server needs beyond its store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URL clients reach the service at (paginator URLs), no trailing slash.
    pub public_url: String,
    /// Requests per user per minute; 0 switches the limit off.
    pub rate_limit_per_minute: u64,
    pub limits: Limits,
    /// The webhook worker's settings; `None` runs no worker in this process.
    pub outbox: Option<OutboxConfig>,
}

impl Settings {
    /// Defaults for a server reachable at `public_url`.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            rate_limit_per_minute: 1000,
            limits: Limits::default(),
            outbox: Some(OutboxConfig::default()),
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting, lets requests in
/// flight finish (for at most the request timeout plus a few seconds) and returns.
pub async fn serve(
    listener: TcpListener,
    store: Arc<dyn Store>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let wake = Arc::new(tokio::sync::Notify::new());
    let (stop_worker, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(crate::outbox::purge_idempotency_keys(
        store.clone(),
        stopped.clone(),
    ));
    let worker = match settings.outbox.clone() {
        Some(config) => Some(tokio::spawn(crate::outbox::run(
            store.clone(),
            config.sender()?,
            config,
            wake.clone(),
            stopped,
        ))),
        None => None,
    };
    let state = AppState {
        store,
        public_url: settings.public_url.clone().into(),
        limiter: Arc::new(RateLimiter::per_minute(settings.rate_limit_per_minute)),
        max_body_bytes: settings.limits.max_body_bytes,
        outbox: wake,
    };
    // Trailing slashes are trimmed before routing, as Laravel matches routes.
    let app = NormalizePathLayer::trim_trailing_slash().layer(router(state, settings.limits));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(settings.limits.header_read_timeout);
    let graceful = GracefulShutdown::new();

    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);

    let grace = settings.limits.request_timeout + Duration::from_secs(5);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(grace) => tracing::warn!(grace.seconds = grace.as_secs(), "connections still open after the grace period; closing them"),
    }
    let _ = stop_worker.send(true);
    if let Some(worker) = worker {
        match tokio::time::timeout(grace, worker).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(error = %err, "webhook worker panicked"),
            Err(_) => tracing::warn!(
                "webhook attempts still running after the grace period; they will be retried"
            ),
        }
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
