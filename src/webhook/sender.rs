//! One delivery attempt over HTTP.
//!
//! The sender is the only code that talks to URLs chosen by API users, so it
//! is defensive by construction: bounded in time (connect and total
//! timeouts) and in memory (at most 64 KiB + 1 of an answer is read), never
//! follows redirects (a redirect would lead past the destination guard), uses
//! no proxy from the environment (the proxy, not the receiver, would be
//! resolved and checked), and turns every failure into a sentence for the
//! delivery log instead of an error the worker would have to interpret.

use std::error::Error;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Response, Url, redirect};

use super::destination::{GuardedResolver, RefusedDestination, check_url, refuse_literal};
use super::json::compact_json;
use super::sign::sign;

/// Largest answer body kept as `response_json`.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Identifies us to receivers, which often filter or log by user agent.
const USER_AGENT: &str = concat!("callbase-webhooks/", env!("CARGO_PKG_VERSION"));

/// How deliveries are made; fixed for the life of a [`Sender`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderConfig {
    /// Time allowed to open the TCP (and TLS) connection.
    pub connect_timeout: std::time::Duration,
    /// Time allowed for the whole attempt, answer body included.
    pub total_timeout: std::time::Duration,
    /// Lets webhooks reach loopback and private addresses: for receivers on
    /// the same host or network, and for tests. Off by default (SSRF).
    pub allow_private: bool,
}

impl Default for SenderConfig {
    fn default() -> Self {
        SenderConfig {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

/// Sends webhooks. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: SenderConfig,
}

/// The outcome of one delivery attempt, ready to store in the delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// HTTP status when an answer arrived.
    pub status: Option<u16>,
    /// From the start of the attempt to the answer (body read) or failure.
    pub latency_ms: u64,
    /// Human-readable reason when there was no 2xx answer; None on 2xx.
    pub error: Option<String>,
    /// On 2xx only: the answer body as compact JSON text when it is valid
    /// JSON of at most 64 KiB; None otherwise (non-JSON, empty, too large).
    pub response_json: Option<String>,
}

impl Attempt {
    /// True when the receiver answered 2xx, the only proof of delivery.
    pub fn succeeded(&self) -> bool {
        self.status
            .is_some_and(|status| (200..300).contains(&status))
    }
}

/// An attempt's result before its latency is known.
struct Outcome {
    status: Option<u16>,
    error: Option<String>,
    response_json: Option<String>,
}

impl Outcome {
    fn failed(status: Option<u16>, error: String) -> Outcome {
        Outcome {
            status,
            error: Some(error),
            response_json: None,
        }
    }
}

impl Sender {
    /// Builds the HTTP client. Fails only if the TLS backend cannot start.
    pub fn new(config: SenderConfig) -> anyhow::Result<Sender> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(redirect::Policy::none())
            .no_proxy()
            .http1_only()
            .connect_timeout(config.connect_timeout)
            .timeout(config.total_timeout);
        if !config.allow_private {
            builder = builder.dns_resolver(Arc::new(GuardedResolver));
        }
        let client = builder
            .build()
            .context("building the webhook HTTP client")?;
        Ok(Sender { client, config })
    }

    /// One attempt: POST `body` (already JSON) to `url`, signed per Standard
    /// Webhooks with `webhook-id`, `webhook-timestamp` (now, Unix seconds)
    /// and `webhook-signature`. Never panics, never returns Err: every
    /// failure is described in the Attempt.
    pub async fn send(&self, url: &str, secret: &str, msg_id: &str, body: &[u8]) -> Attempt {
        let started = Instant::now();
        let outcome = self.deliver(url, secret, msg_id, body).await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The secret and the signature stay out of logs on purpose.
        tracing::debug!(
            msg_id,
            status = outcome.status,
            latency_ms,
            error = outcome.error,
            "webhook attempt"
        );
        Attempt {
            status: outcome.status,
            latency_ms,
            error: outcome.error,
            response_json: outcome.response_json,
        }
    }

    async fn deliver(&self, url: &str, secret: &str, msg_id: &str, body: &[u8]) -> Outcome {
        // The same rules as at configuration time, in case the URL was
        // stored before they existed or edited behind the API's back.
        if let Err(reason) = check_url(url) {
            return Outcome::failed(None, format!("invalid URL: {reason}"));
        }
        let parsed = match Url::parse(url) {
            Ok(parsed) => parsed,
            Err(error) => return Outcome::failed(None, format!("invalid URL: {error}")),
        };
        if !self.config.allow_private
            && let Some(refused) = refuse_literal(&parsed)
        {
            return Outcome::failed(None, refused.to_string());
        }
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH);
        let timestamp = since_epoch.map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = match sign(secret, msg_id, timestamp, body) {
            Ok(signature) => signature,
            Err(error) => return Outcome::failed(None, format!("{error:#}")),
        };
        let request = self
            .client
            .post(parsed)
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec());
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Outcome::failed(None, self.describe(error)),
        };
        let status = response.status();
        let code = Some(status.as_u16());
        if status.is_redirection() {
            let reason = format!("redirects are not followed (HTTP {})", status.as_u16());
            return Outcome::failed(code, reason);
        }
        if !status.is_success() {
            return Outcome::failed(code, format!("HTTP {}", status.as_u16()));
        }
        Outcome {
            status: code,
            error: None,
            response_json: read_json(response).await,
        }
    }

    /// A sentence for a failed request: the guard's refusal, a timeout, a
    /// refused connection, or else the error's causes. Never the URL, whose
    /// query string may hold the receiver's token.
    fn describe(&self, error: reqwest::Error) -> String {
        if let Some(refused) = find_in_chain::<RefusedDestination>(&error) {
            return refused.to_string();
        }
        if error.is_timeout() {
            return if error.is_connect() {
                format!(
                    "connect timed out after {}",
                    human(self.config.connect_timeout)
                )
            } else {
                format!("timed out after {}", human(self.config.total_timeout))
            };
        }
        if let Some(io_error) = find_in_chain::<io::Error>(&error) {
            match io_error.kind() {
                io::ErrorKind::ConnectionRefused => return "connection refused".to_string(),
                io::ErrorKind::ConnectionReset => return "connection reset".to_string(),
                _ => {}
            }
        }
        // Skip reqwest's and hyper's generic layers ("error sending request",
        // "client error (Connect)"): the causes below them say what happened.
        let kind = if error.is_connect() {
            "connect failed"
        } else if error.is_builder() {
            "invalid request"
        } else {
            "request failed"
        };
        let mut causes = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !text.starts_with("client error (") {
                causes.push(text);
            }
            source = cause.source();
        }
        if causes.is_empty() {
            causes.push(error.without_url().to_string());
        }
        format!("{kind}: {}", causes.join(": "))
    }
}

/// The first error of type `T` in `error`'s source chain.
fn find_in_chain<T: Error + 'static>(error: &reqwest::Error) -> Option<&T> {
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        source = cause.source();
    }
    None
}

/// Reads at most 64 KiB + 1 of the answer, stopping early on a declared
/// length that is too large, and keeps it only if it is JSON. A failure
/// while reading (the receiver hung up, the total timeout) leaves the
/// attempt a success: the 2xx status already proved delivery.
async fn read_json(mut response: Response) -> Option<String> {
    let limit = u64::try_from(MAX_RESPONSE_BYTES).unwrap_or(u64::MAX);
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return None;
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.ok()? {
        let room = MAX_RESPONSE_BYTES + 1 - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > MAX_RESPONSE_BYTES {
            return None;
        }
    }
    compact_json(&body)
}

/// `10s`, `1500ms`: how an operator wrote the timeout.
fn human(duration: Duration) -> String {
    if duration.subsec_millis() == 0 && duration.as_secs() > 0 {
        format!("{}s", duration.as_secs())
    } else {
        format!("{}ms", duration.as_millis())
    }
}
