//! An in-process webhook receiver on port 0 whose answer can be flipped.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    /// Checks the Standard Webhooks signature with `secret`.
    pub fn verifies(&self, secret: &str) -> bool {
        let timestamp: i64 = self.header("webhook-timestamp").parse().unwrap_or(0);
        callbase::webhook::verify(
            secret,
            self.header("webhook-id"),
            timestamp,
            &self.body,
            self.header("webhook-signature"),
        )
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    /// What to answer: status and body.
    answer: (u16, String),
    /// How long to wait before answering.
    delay: Duration,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

async fn hook(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let (status, body, delay) = {
        let mut inner = inner.lock().expect("lock");
        inner.received.push(Received {
            headers,
            body: body.to_vec(),
        });
        let (status, body) = inner.answer.clone();
        (status, body, inner.delay)
    };
    tokio::time::sleep(delay).await;
    (StatusCode::from_u16(status).expect("status"), body)
}

impl Receiver {
    /// Starts a receiver answering 200 `{"ok":true}`.
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            received: Vec::new(),
            answer: (200, r#"{"ok":true}"#.to_owned()),
            delay: Duration::ZERO,
        }));
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, inner }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    pub fn answer(&self, status: u16, body: &str) {
        self.inner.lock().expect("lock").answer = (status, body.to_owned());
    }

    /// Answers only after `delay` from now on.
    pub fn delay(&self, delay: Duration) {
        self.inner.lock().expect("lock").delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().expect("lock").received.clone()
    }

    /// Waits (polling, with a deadline) until `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        eventually(&format!("{n} webhook request(s)"), || {
            let received = self.received();
            (received.len() >= n).then_some(received)
        })
        .await
    }
}

/// Polls `check` every 20 ms until it answers, failing after 15 s.
pub async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
