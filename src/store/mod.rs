//! Storage: one narrow trait, one implementation per database, picked from the
//! URL scheme at start-up.

pub mod counts;
pub mod export;
pub mod postgres;
pub mod query;
pub mod search;
pub mod sqlite;
pub mod stats;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::listing::{Facet, Sort, Window};
use crate::domain::live::CallChange;
use crate::domain::stats::StatsQuery;
use crate::domain::{CallFilter, CallView, NewCall};
use stats::StatsAnswer;

mod live;
pub use live::*;

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
    pub scope: Scope,
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Reads only: every write answers 403.
    Read,
    /// Reads and writes.
    Write,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Self::Read),
            "write" => Some(Self::Write),
            _ => None,
        }
    }
}

/// Who a valid token speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub scope: Scope,
}

/// Whose calls a read may see.
pub enum Reader<'a> {
    /// A user already authenticated.
    User(i64),
    /// A bearer token not checked yet. The store checks it in the read's own
    /// snapshot (on SQLite, one read transaction for both instead of two) and
    /// hands the principal to `gate` before reading anything; the read
    /// answers `None` for an unknown, revoked or expired token, or when the
    /// gate says no.
    Token {
        hash: [u8; 32],
        now: i64,
        gate: &'a mut dyn Gate,
    },
}

/// Decides whether a token's principal may read (see [`Reader::Token`]).
pub trait Gate: Send {
    fn admit(&mut self, principal: Principal) -> bool;
}

impl Reader<'_> {
    /// The user to read as, given how to look a token up; `None` refuses.
    pub fn resolve(
        &mut self,
        lookup: impl FnOnce([u8; 32], i64) -> StoreResult<Option<Principal>>,
    ) -> StoreResult<Option<i64>> {
        match self {
            Self::User(user_id) => Ok(Some(*user_id)),
            Self::Token { hash, now, gate } => Ok(lookup(*hash, *now)?
                .filter(|principal| gate.admit(*principal))
                .map(|principal| principal.user_id)),
        }
    }
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
    pub scope: Scope,
}

/// A voice assistant of a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assistant {
    pub id: i64,
    pub user_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub fields: AssistantFields,
}

/// An assistant's settings: what create and update write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssistantFields {
    pub name: String,
    pub status: String,
    /// The number it calls from and answers on (E.164), if any.
    pub phone_number: Option<String>,
    pub is_webhook_active: bool,
    pub webhook_url: Option<String>,
    pub send_webhook_only_on_completed: bool,
    pub include_recording_in_webhook: bool,
}

impl AssistantFields {
    /// A new assistant's defaults, as Famulor's.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            status: "active".to_owned(),
            phone_number: None,
            is_webhook_active: false,
            webhook_url: None,
            send_webhook_only_on_completed: true,
            include_recording_in_webhook: true,
        }
    }
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

/// A read of a list of calls: which calls, in which order, which of them,
/// and which counts beside them.
#[derive(Debug, Clone, Copy)]
pub struct ListRequest<'a> {
    pub filter: &'a CallFilter,
    pub sort: Sort,
    pub window: Window,
    pub facets: &'a [Facet],
}

/// What a list read answers besides its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOutcome {
    /// The exact number of calls matching the filter.
    pub total: u64,
    /// Per requested facet, in the request's order: `(key, calls)` by key,
    /// none zero. Keys are the storage codes (status, type, answered_by) or
    /// ids; 0 is "none".
    pub facets: Vec<(Facet, Vec<(i64, u64)>)>,
}

impl ListOutcome {
    /// The answer for a filter that matches nothing.
    pub fn empty(facets: &[Facet]) -> Self {
        Self {
            total: 0,
            facets: facets.iter().map(|f| (*f, Vec::new())).collect(),
        }
    }
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
    /// The user (and scope) of an active (not revoked, not expired at `now`) token.
    async fn authenticate(&self, hash: [u8; 32], now: i64) -> StoreResult<Option<Principal>>;

    async fn list_assistants(
        &self,
        user_id: i64,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Page<Assistant>>;
    async fn list_campaigns(&self, user_id: i64) -> StoreResult<Vec<Campaign>>;

    /// The calls of a list request, in its order, each handed in order to
    /// `sink` as a view borrowed from the row (no per-field copies); returns
    /// the total and facets, all from one snapshot, or `None` when the reader
    /// is refused (see [`Reader`]).
    async fn list_calls_into(
        &self,
        reader: Reader<'_>,
        request: ListRequest<'_>,
        sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
    ) -> StoreResult<Option<ListOutcome>>;
    /// One call of the reader's handed to `sink` as a borrowed view; false
    /// when the user has no such call, `None` when the reader is refused.
    async fn get_call_into(
        &self,
        reader: Reader<'_>,
        call_id: i64,
        sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
    ) -> StoreResult<Option<bool>>;
    /// Deletes a call and everything hanging on it; false when the user has no such call.
    async fn delete_call(&self, user_id: i64, call_id: i64) -> StoreResult<bool>;
    /// Upserts a batch by id in one transaction, creating assistants and
    /// campaigns by name. Outcomes come back in input order.
    async fn import_calls(
        &self,
        user_id: i64,
        calls: Vec<NewCall>,
    ) -> StoreResult<Vec<ImportOutcome>>;
    /// Stats of the user's calls (CONTRACT §9), from one snapshot.
    async fn call_stats(&self, user_id: i64, query: &StatsQuery) -> StoreResult<StatsAnswer>;
    /// Streams the filter's calls in `sort` order, from one snapshot, into
    /// `chunks` (CONTRACT §10); stops early when their reader goes away.
    /// Returns the calls written.
    async fn export_calls(
        &self,
        user_id: i64,
        filter: CallFilter,
        sort: Sort,
        chunks: export::Chunks,
    ) -> StoreResult<u64>;
    /// Number of calls of a user (demo seeding and the CLI; not a hot path).
    async fn count_user_calls(&self, user_id: i64) -> StoreResult<u64>;

    // Assistants and campaigns. Deleted ones are hidden (`None`/`false`).
    /// Conflict when the user already has an assistant of that name.
    async fn create_assistant(
        &self,
        user_id: i64,
        fields: AssistantFields,
        webhook_secret: String,
    ) -> StoreResult<Assistant>;
    async fn get_assistant(&self, user_id: i64, id: i64) -> StoreResult<Option<Assistant>>;
    /// Conflict on a taken name; `None` when there is no such assistant.
    async fn update_assistant(
        &self,
        user_id: i64,
        id: i64,
        fields: AssistantFields,
    ) -> StoreResult<Option<Assistant>>;
    /// Hides the assistant; its calls keep showing its name.
    async fn delete_assistant(&self, user_id: i64, id: i64) -> StoreResult<bool>;
    async fn set_webhook_secret(&self, user_id: i64, id: i64, secret: String) -> StoreResult<bool>;
    /// Gives the assistant `secret` if it has none yet (assistants that came
    /// with an import); true when it was set now.
    async fn ensure_webhook_secret(
        &self,
        user_id: i64,
        id: i64,
        secret: String,
    ) -> StoreResult<bool>;
    async fn create_campaign(&self, user_id: i64, fields: CampaignFields) -> StoreResult<Campaign>;
    async fn get_campaign(&self, user_id: i64, id: i64) -> StoreResult<Option<Campaign>>;
    async fn update_campaign(
        &self,
        user_id: i64,
        id: i64,
        fields: CampaignFields,
    ) -> StoreResult<Option<Campaign>>;
    async fn delete_campaign(&self, user_id: i64, id: i64) -> StoreResult<bool>;

    // Live calls. Each write keeps the rollups exact and, when the call
    // reaches its final status, queues its webhook in the same transaction.
    async fn create_call(&self, user_id: i64, draft: CallDraft) -> StoreResult<CallWrite>;
    async fn update_call(
        &self,
        user_id: i64,
        call_id: i64,
        change: CallChange,
    ) -> StoreResult<CallWrite>;

    // Webhook outbox.
    /// Leases up to `limit` deliveries that are due at `now_ms` to `worker`.
    async fn claim_deliveries(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>>;
    /// Records an attempt and what follows it; ignored when `worker` no longer
    /// holds the lease (another process took it over).
    async fn record_attempt(
        &self,
        delivery_id: i64,
        worker: &str,
        attempt: AttemptRecord,
        next: DeliveryNext,
    ) -> StoreResult<()>;
    /// When the next pending delivery is due (ms), if any.
    async fn next_delivery_at(&self) -> StoreResult<Option<i64>>;
    /// `None` when the user has no such call.
    async fn list_deliveries(
        &self,
        user_id: i64,
        call_id: i64,
    ) -> StoreResult<Option<Vec<Delivery>>>;
    async fn redeliver(&self, user_id: i64, call_id: i64) -> StoreResult<Redelivery>;

    // Idempotency keys.
    async fn idempotency_start(
        &self,
        user_id: i64,
        key: &str,
        fingerprint: [u8; 32],
        now: i64,
        expired_before: i64,
    ) -> StoreResult<IdempotencyStart>;
    async fn idempotency_finish(
        &self,
        user_id: i64,
        key: &str,
        status: u16,
        body: Vec<u8>,
    ) -> StoreResult<()>;
    async fn idempotency_release(&self, user_id: i64, key: &str) -> StoreResult<()>;
    /// Drops keys created before `before`; returns how many.
    async fn purge_idempotency_keys(&self, before: i64) -> StoreResult<u64>;
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
