//! Post-call webhooks: signing and one-shot delivery.
//!
//! This module is only the transport. The outbox and the worker that decide
//! what to send and when (and store the [`Attempt`]s) live elsewhere and use
//! this API:
//!
//! - [`generate_secret`] when a webhook is configured, [`check_url`] to
//!   validate its URL (the caller answers 422 on Err);
//! - [`new_message_id`] once per event: the id stays the same across retries
//!   so receivers can deduplicate;
//! - [`Sender::send`] for each attempt, then [`retry_delay`] with the
//!   schedule from [`parse_schedule`] to know when to try again, or that it
//!   is time to give up.
//!
//! Messages follow Standard Webhooks (<https://www.standardwebhooks.com/>)
//! so receivers can verify them with existing libraries; [`verify`] is the
//! receiver side, for tests and documentation. Each request carries:
//!
//! | header              | value                                           |
//! |---------------------|-------------------------------------------------|
//! | `webhook-id`        | the message id, the same on every retry         |
//! | `webhook-timestamp` | Unix seconds of this attempt (for replay checks) |
//! | `webhook-signature` | `v1,<base64 HMAC-SHA256>`                       |
//! | `content-type`      | `application/json`                              |
//! | `user-agent`        | `callbase-webhooks/<version>`                   |
//!
//! Unless private destinations are allowed ([`SenderConfig::allow_private`]),
//! a webhook never reaches loopback, private, link-local or similar
//! addresses, whether written as an IP or reached through DNS: users choose
//! the URLs, and the server must not become their way into its own network.
//!
//! ```
//! use callbase::webhook::{generate_secret, new_message_id, sign, verify};
//!
//! let secret = generate_secret();
//! let msg_id = new_message_id();
//! let body = br#"{"type":"call.ended"}"#;
//! let signature = sign(&secret, &msg_id, 1_700_000_000, body).expect("a valid secret");
//! assert!(verify(&secret, &msg_id, 1_700_000_000, body, &signature));
//! ```

mod destination;
mod json;
mod schedule;
mod sender;
mod sign;

#[cfg(test)]
mod sender_tests;

pub use destination::check_url;
pub use schedule::{DEFAULT_SCHEDULE, parse_schedule, retry_delay};
pub use sender::{Attempt, Sender, SenderConfig};
pub use sign::{generate_secret, new_message_id, sign, verify};
