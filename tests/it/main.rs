//! HTTP integration tests: a real server on port 0 over a fresh database per
//! test. Tests are written once and run on every storage backend through
//! `backend_tests!`.

#[macro_use]
mod helpers;

mod auth;
mod cli;
mod counts;

mod cursor;
mod export;
mod finding;
mod get_delete;
mod import;
mod list_filters;
mod live;
mod live_webhooks;
mod model;
mod multi;
mod owned;
mod pagination;
mod protocol;
mod query_model;
mod receiver;
mod search;
mod stats;
mod validation;
