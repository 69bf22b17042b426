//! Starting the service: one function that takes a bound listener, the
//! settings and a shutdown future, used alike by `callbase serve` and tests.

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::http::auth::RateLimiter;
use crate::http::{AppState, Limits, router};
use crate::store::Store;

/// What the server needs beyond its store.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Base URL clients reach the service at (paginator URLs), no trailing slash.
    pub public_url: String,
    /// Requests per user per minute; 0 switches the limit off.
    pub rate_limit_per_minute: u64,
    pub limits: Limits,
}

impl Settings {
    /// Defaults for a server reachable at `public_url`.
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into().trim_end_matches('/').to_owned(),
            rate_limit_per_minute: 1000,
            limits: Limits::default(),
        }
    }
}

/// Serves until `shutdown` resolves, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    store: Arc<dyn Store>,
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let state = AppState {
        store,
        public_url: settings.public_url.clone().into(),
        limiter: Arc::new(RateLimiter::per_minute(settings.rate_limit_per_minute)),
    };
    let app = router(state, settings.limits);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
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
