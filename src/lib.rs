//! callbase: a self-hosted call-records service for AI voice agents that speaks
//! Famulor's call-records API.
//!
//! The binary is a shim over [`cli::run`]; tests and the CLI start the server
//! the same way, through [`app::serve`].

pub mod app;
pub mod cli;
pub mod demo;
pub mod domain;
pub mod http;
pub mod import;
pub mod logline;
pub mod logsink;
pub mod outbox;
pub mod store;
pub mod token;
pub mod webhook;
