//! Storage: one narrow trait, one implementation per database, picked from the
//! URL scheme at start-up.

pub mod counts;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{CallFilter, CallRecord, NewCall};

/// What can go wrong in storage that a caller may act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (e.g. a second user with the same email).
    #[error("{0}")]
    Conflict(String),
    /// Anything else: the database is down, a query failed, data is corrupt.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A person or organisation owning call records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub created_at: i64,
}

/// An API token's metadata. The secret itself is never stored, only its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The first characters of the secret, enough to tell tokens apart.
    pub prefix: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A token about to be stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub user_id: i64,
    pub name: String,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
    pub prefix: String,
    pub expires_at: Option<i64>,
}

/// A voice assistant of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assistant {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A calling campaign of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One page of a list with the exact number of matching rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: u64,
    pub rows: Vec<T>,
}

/// What happened to one call of an import batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportOutcome {
    /// A new record.
    Inserted,
    /// An existing record of the same user whose content changed.
    Updated,
    /// An existing record of the same user, identical already.
    Unchanged,
    /// The id belongs to another user's call: refused, nothing written.
    ForeignId,
}

/// Everything callbase keeps. Every call-record query carries the owning user.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Cheap round trip proving the database answers.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_user(&self, email: &str, name: &str) -> StoreResult<User>;
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken>;
    async fn list_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>>;
    /// Revokes a token; false when no such token or already revoked.
    async fn revoke_token(&self, token_id: i64) -> StoreResult<bool>;
    /// The user owning an active (not revoked, not expired at `now`) token.
    async fn authenticate(&self, hash: [u8; 32], now: i64) -> StoreResult<Option<i64>>;

    async fn list_assistants(
        &self,
        user_id: i64,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Page<Assistant>>;
    async fn list_campaigns(&self, user_id: i64) -> StoreResult<Vec<Campaign>>;

    /// Calls matching the filter, newest first (`created_at`, then `id`, descending).
    async fn list_calls(
        &self,
        user_id: i64,
        filter: &CallFilter,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Page<CallRecord>>;
    async fn get_call(&self, user_id: i64, call_id: i64) -> StoreResult<Option<CallRecord>>;
    /// Deletes a call and everything hanging on it; false when the user has no such call.
    async fn delete_call(&self, user_id: i64, call_id: i64) -> StoreResult<bool>;
    /// Upserts a batch by id in one transaction, creating assistants and
    /// campaigns by name. Outcomes come back in input order.
    async fn import_calls(
        &self,
        user_id: i64,
        calls: Vec<NewCall>,
    ) -> StoreResult<Vec<ImportOutcome>>;
    /// Number of calls of a user (demo seeding and the CLI; not a hot path).
    async fn count_user_calls(&self, user_id: i64) -> StoreResult<u64>;
}

/// How to open a database, beyond its URL.
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
    /// Connections per process (PostgreSQL; SQLite keeps one writer and one
    /// read-only connection per thread that reads).
    pub pool_size: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self { pool_size: 16 }
    }
}

/// Opens (creating and migrating when needed) the database a URL names: the
/// scheme picks the backend.
pub async fn connect(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    connect_with(url, ConnectOptions::default()).await
}

/// [`connect`] with options.
pub async fn connect_with(url: &str, options: ConnectOptions) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(path) = sqlite::path_from_url(url) {
        return Ok(Arc::new(sqlite::SqliteStore::open(&path).await?));
    }
    if postgres::is_postgres_url(url) {
        return Ok(Arc::new(
            postgres::PgStore::open(url, options.pool_size).await?,
        ));
    }
    anyhow::bail!(
        "unsupported database URL {:?}: use sqlite://PATH or postgres://...",
        redact_url(url)
    )
}

/// A database URL fit for logs: the password, if any, replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            super::redact_url("sqlite://callbase.db"),
            "sqlite://callbase.db"
        );
    }
}
