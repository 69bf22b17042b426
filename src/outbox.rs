//! The webhook worker: sends what the durable outbox holds.
//!
//! Each `serve` process runs one. It leases due deliveries from the database
//! (so that with several processes each delivery is sent by one of them),
//! sends each with [`crate::webhook::Sender`], and records the attempt with
//! what follows: done, a retry after the backoff schedule, or giving up.
//! Nothing lives only in memory: a crash or restart loses no delivery; an
//! attempt cut short by a crash is sent again once its lease runs out, with
//! the same `webhook-id`, so receivers can tell the repeat.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};

use crate::domain::timefmt::now_unix;
use crate::store::{AttemptRecord, DeliveryNext, DueDelivery, Store, now_ms};
use crate::webhook::{Sender, SenderConfig, retry_delay};

/// How the worker behaves.
#[derive(Debug, Clone)]
pub struct OutboxConfig {
    pub connect_timeout: Duration,
    pub total_timeout: Duration,
    /// Send to loopback and private addresses too (tests, internal receivers).
    pub allow_private: bool,
    /// Delays between attempts; after the last, the delivery is given up.
    pub schedule: Vec<Duration>,
    /// Longest sleep between looks at the outbox (other processes' writes
    /// are noticed this late at most; this process's own at once).
    pub poll_interval: Duration,
    /// Deliveries sent at the same time.
    pub concurrency: usize,
    /// How long a lease outlives the attempt's timeouts. A delivery whose
    /// process died mid-attempt is sent again this long after the timeouts.
    pub lease_margin: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(15),
            allow_private: false,
            schedule: crate::webhook::parse_schedule(crate::webhook::DEFAULT_SCHEDULE)
                .unwrap_or_default(),
            poll_interval: Duration::from_secs(1),
            concurrency: 16,
            lease_margin: Duration::from_secs(30),
        }
    }
}

/// How often idempotency keys past their lifetime are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl OutboxConfig {
    /// The HTTP client the worker sends with (fails at start-up, not later).
    pub fn sender(&self) -> anyhow::Result<Sender> {
        Sender::new(SenderConfig {
            connect_timeout: self.connect_timeout,
            total_timeout: self.total_timeout,
            allow_private: self.allow_private,
        })
    }
}

/// Runs until `stop` turns true; attempts in flight then finish (each is
/// bounded by the total timeout).
pub async fn run(
    store: Arc<dyn Store>,
    sender: Sender,
    config: OutboxConfig,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let worker = format!(
        "{}-{}",
        std::process::id(),
        crate::webhook::new_message_id().trim_start_matches("msg_")
    );
    // A lease outlives any attempt, so no other process sends it meanwhile.
    let lease_ms = millis(config.total_timeout + config.connect_timeout + config.lease_margin);
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    tracing::info!(worker = %worker, "webhook worker started");
    while !*stop.borrow() {
        let free = slots.available_permits();
        let due = if free == 0 {
            Vec::new()
        } else {
            let limit = u32::try_from(free).unwrap_or(u32::MAX);
            match store
                .claim_deliveries(&worker, now_ms(), lease_ms, limit)
                .await
            {
                Ok(due) => due,
                Err(err) => {
                    tracing::warn!(error = %err, "webhook worker cannot read the outbox");
                    Vec::new()
                }
            }
        };
        let claimed = due.len();
        for delivery in due {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let (store, sender, worker, schedule) = (
                store.clone(),
                sender.clone(),
                worker.clone(),
                config.schedule.clone(),
            );
            tasks.spawn(async move {
                deliver(store.as_ref(), &sender, &worker, &schedule, delivery).await;
                drop(permit);
            });
        }
        while tasks.try_join_next().is_some() {}
        if claimed > 0 && claimed == free {
            continue; // more may be due right now
        }
        // Sleep until the next delivery is due, a local write wakes us, a
        // sender frees a slot, or the poll interval passes.
        let mut nap = config.poll_interval;
        if let Ok(Some(at)) = store.next_delivery_at().await {
            let wait = u64::try_from(at.saturating_sub(now_ms())).unwrap_or(0);
            nap = nap.min(Duration::from_millis(wait));
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(nap.max(Duration::from_millis(10))) => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stop.changed() => {}
        }
    }
    while tasks.join_next().await.is_some() {}
    tracing::info!("webhook worker stopped");
}

/// Drops idempotency keys past their lifetime, hourly, until `stop` turns
/// true. Runs in every `serve` process, webhook worker or not.
pub async fn purge_idempotency_keys(store: Arc<dyn Store>, mut stop: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    while !*stop.borrow() {
        tokio::select! {
            _ = every.tick() => {
                let before = now_unix() - crate::http::IDEMPOTENCY_KEY_TTL_SECS;
                match store.purge_idempotency_keys(before).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(keys = n, "purged expired idempotency keys"),
                    Err(err) => tracing::warn!(error = %err, "cannot purge idempotency keys"),
                }
            }
            _ = stop.changed() => {}
        }
    }
}

/// One attempt of one delivery, and its record.
#[tracing::instrument(skip_all, fields(call.id = delivery.call_id, webhook.id = %delivery.message_id))]
async fn deliver(
    store: &dyn Store,
    sender: &Sender,
    worker: &str,
    schedule: &[Duration],
    delivery: DueDelivery,
) {
    let attempted_at_ms = now_ms();
    let (record, next) = match &delivery.target {
        None => (
            AttemptRecord {
                attempted_at_ms,
                status_code: None,
                latency_ms: 0,
                error: Some("the assistant's webhook is no longer active".to_owned()),
            },
            DeliveryNext::GiveUp,
        ),
        Some((url, secret)) => {
            let attempt = sender
                .send(
                    url,
                    secret,
                    &delivery.message_id,
                    delivery.payload.as_bytes(),
                )
                .await;
            let made = delivery.attempts + 1;
            let next = if attempt.succeeded() {
                DeliveryNext::Delivered {
                    response_json: attempt.response_json.clone(),
                }
            } else {
                match retry_delay(schedule, made) {
                    Some(delay) => DeliveryNext::Retry {
                        at_ms: now_ms() + millis(delay),
                    },
                    None => DeliveryNext::GiveUp,
                }
            };
            (
                AttemptRecord {
                    attempted_at_ms,
                    status_code: attempt.status,
                    latency_ms: i64::try_from(attempt.latency_ms).unwrap_or(i64::MAX),
                    error: attempt.error,
                },
                next,
            )
        }
    };
    match &next {
        DeliveryNext::Delivered { .. } => {
            tracing::info!(status = record.status_code, "webhook delivered");
        }
        DeliveryNext::Retry { .. } => {
            tracing::warn!(
                status = record.status_code,
                error = record.error.as_deref(),
                "webhook attempt failed; will retry"
            );
        }
        DeliveryNext::GiveUp => {
            tracing::warn!(
                status = record.status_code,
                error = record.error.as_deref(),
                "webhook given up"
            );
        }
    }
    if let Err(err) = store
        .record_attempt(delivery.id, worker, record, next)
        .await
    {
        // The lease runs out and the delivery is sent again: at least once.
        tracing::error!(error = %err, "cannot record a webhook attempt");
    }
}
