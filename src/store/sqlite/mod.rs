//! The embedded SQLite backend (the default): one file, WAL mode.

mod calls;
mod export;
mod list;
mod live;
mod migrate;
mod owned;
mod pool;
mod search;
mod stats;

use crate::domain::CallFilter;
use crate::domain::listing::Sort;
use crate::domain::stats::StatsQuery;
use crate::store::export::Chunks;
use crate::store::stats::StatsAnswer;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use self::pool::Pool;
use super::{
    ApiToken, Assistant, AssistantFields, AttemptRecord, CallDraft, CallWrite, Campaign,
    CampaignFields, Delivery, DeliveryNext, DueDelivery, IdempotencyStart, ImportOutcome,
    ListOutcome, ListRequest, NewToken, Page, Principal, Reader, Redelivery, Scope, Store,
    StoreError, StoreResult, User,
};
use crate::domain::live::CallChange;
use crate::domain::timefmt::now_unix;
use crate::domain::{CallView, NewCall};

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Internal(err.into())
    }
}

/// True when the error is a UNIQUE or PRIMARY KEY violation.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error(),
        Some(e) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// The file a `sqlite://` URL names: `sqlite://callbase.db` (relative),
/// `sqlite:///var/lib/callbase.db` (absolute), `sqlite:callbase.db`.
/// Query parameters are ignored.
pub fn path_from_url(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Call records in a SQLite file.
pub struct SqliteStore {
    pool: Pool,
}

impl SqliteStore {
    /// Opens the file, creating it, and brings its schema up to date.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let pool = Pool::open(path).await?;
        pool.write(|conn| migrate::run(conn).map_err(StoreError::from))
            .await?;
        Ok(Self { pool })
    }
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        email: row.get(1)?,
        name: row.get(2)?,
        created_at: row.get(3)?,
    })
}

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        prefix: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        revoked_at: row.get(6)?,
        scope: scope_from(row.get::<_, String>(7)?),
    })
}

/// The principal of an active token (not revoked, not expired at `now`).
pub(crate) const PRINCIPAL: &str = "SELECT user_id, scope FROM api_tokens
     WHERE token_hash = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)";

pub(crate) fn principal_from_row(row: &Row<'_>) -> rusqlite::Result<Principal> {
    Ok(Principal {
        user_id: row.get(0)?,
        scope: scope_from(row.get(1)?),
    })
}

/// Unknown scopes (never written) read as the narrower one.
fn scope_from(text: String) -> Scope {
    Scope::parse(&text).unwrap_or(Scope::Read)
}

const TOKEN_COLUMNS: &str =
    "id, user_id, name, token_prefix, created_at, expires_at, revoked_at, scope";

#[async_trait]
impl Store for SqliteStore {
    /// Both halves must answer: a read, and taking (then releasing) the write
    /// lock, so a database stuck behind another process's lock counts as down.
    async fn ping(&self) -> StoreResult<()> {
        self.pool
            .read(|conn| {
                Ok(conn.query_row("SELECT count(*) FROM schema_migrations", [], |_| Ok(()))?)
            })
            .await?;
        self.pool
            .write(|conn| Ok(conn.execute_batch("BEGIN IMMEDIATE; ROLLBACK;")?))
            .await
    }

    async fn create_user(&self, email: &str, name: &str) -> StoreResult<User> {
        let (email, name) = (email.to_owned(), name.to_owned());
        self.pool
            .write(move |conn| {
                let now = now_unix();
                let inserted = conn.query_row(
                    "INSERT INTO users (email, name, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)
                     RETURNING id, email, name, created_at",
                    params![email, name, now],
                    user_from_row,
                );
                match inserted {
                    Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict(format!(
                        "a user with email {email} already exists"
                    ))),
                    other => Ok(other?),
                }
            })
            .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.pool
            .read(|conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT id, email, name, created_at FROM users ORDER BY id")?;
                let users = stmt
                    .query_map([], user_from_row)?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(users)
            })
            .await
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = email.to_owned();
        self.pool
            .read(move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT id, email, name, created_at FROM users WHERE email = ?1",
                        [email],
                        user_from_row,
                    )
                    .optional()?)
            })
            .await
    }

    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        self.pool
            .write(move |conn| {
                let sql = format!(
                    "INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, created_at, expires_at, scope)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING {TOKEN_COLUMNS}"
                );
                let row = conn.query_row(
                    &sql,
                    params![token.user_id, token.name, &token.hash[..], token.prefix, now_unix(), token.expires_at, token.scope.as_str()],
                    token_from_row,
                )?;
                Ok(row)
            })
            .await
    }

    async fn list_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
        self.pool
            .read(move |conn| {
                let sql = format!(
                    "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = ?1 ORDER BY id"
                );
                let mut stmt = conn.prepare_cached(&sql)?;
                let tokens = stmt
                    .query_map([user_id], token_from_row)?
                    .collect::<rusqlite::Result<_>>()?;
                Ok(tokens)
            })
            .await
    }

    async fn revoke_token(&self, token_id: i64) -> StoreResult<bool> {
        self.pool
            .write(move |conn| {
                let changed = conn.execute(
                    "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![token_id, now_unix()],
                )?;
                Ok(changed > 0)
            })
            .await
    }

    async fn authenticate(&self, hash: [u8; 32], now: i64) -> StoreResult<Option<Principal>> {
        self.pool
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(PRINCIPAL)?
                    .query_row(params![&hash[..], now], principal_from_row)
                    .optional()?)
            })
            .await
    }

    async fn list_assistants(
        &self,
        user_id: i64,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Page<Assistant>> {
        self.pool
            .read(move |conn| owned::list_assistants(conn, user_id, limit, offset))
            .await
    }

    async fn list_campaigns(&self, user_id: i64) -> StoreResult<Vec<Campaign>> {
        self.pool
            .read(move |conn| owned::list_campaigns(conn, user_id))
            .await
    }

    async fn list_calls_into(
        &self,
        reader: Reader<'_>,
        request: ListRequest<'_>,
        sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
    ) -> StoreResult<Option<ListOutcome>> {
        self.pool
            .read(move |conn| list::list_into(conn, reader, request, sink))
            .await
    }

    async fn get_call_into(
        &self,
        reader: Reader<'_>,
        call_id: i64,
        sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
    ) -> StoreResult<Option<bool>> {
        self.pool
            .read(move |conn| calls::get_into(conn, reader, call_id, sink))
            .await
    }

    async fn delete_call(&self, user_id: i64, call_id: i64) -> StoreResult<bool> {
        self.pool
            .write(move |conn| calls::delete(conn, user_id, call_id))
            .await
    }

    async fn import_calls(
        &self,
        user_id: i64,
        batch: Vec<NewCall>,
    ) -> StoreResult<Vec<ImportOutcome>> {
        self.pool
            .write(move |conn| calls::import(conn, user_id, &batch))
            .await
    }

    async fn call_stats(&self, user_id: i64, query: &StatsQuery) -> StoreResult<StatsAnswer> {
        self.pool
            .read(move |conn| stats::stats(conn, user_id, query))
            .await
    }

    async fn export_calls(
        &self,
        user_id: i64,
        filter: CallFilter,
        sort: Sort,
        mut chunks: Chunks,
    ) -> StoreResult<u64> {
        self.pool
            .read_long(move |conn| export::export(conn, user_id, &filter, sort, &mut chunks))
            .await
    }

    async fn count_user_calls(&self, user_id: i64) -> StoreResult<u64> {
        self.pool
            .read(move |conn| {
                let n: i64 = conn.query_row(
                    "SELECT count(*) FROM calls WHERE user_id = ?1",
                    [user_id],
                    |r| r.get(0),
                )?;
                Ok(n.unsigned_abs())
            })
            .await
    }

    async fn create_assistant(
        &self,
        user_id: i64,
        fields: AssistantFields,
        webhook_secret: String,
    ) -> StoreResult<Assistant> {
        self.pool
            .write(move |conn| owned::create_assistant(conn, user_id, &fields, &webhook_secret))
            .await
    }

    async fn get_assistant(&self, user_id: i64, id: i64) -> StoreResult<Option<Assistant>> {
        self.pool
            .read(move |conn| owned::get_assistant(conn, user_id, id))
            .await
    }

    async fn update_assistant(
        &self,
        user_id: i64,
        id: i64,
        fields: AssistantFields,
    ) -> StoreResult<Option<Assistant>> {
        self.pool
            .write(move |conn| owned::update_assistant(conn, user_id, id, &fields))
            .await
    }

    async fn delete_assistant(&self, user_id: i64, id: i64) -> StoreResult<bool> {
        self.pool
            .write(move |conn| owned::soft_delete(conn, "assistants", user_id, id))
            .await
    }

    async fn set_webhook_secret(&self, user_id: i64, id: i64, secret: String) -> StoreResult<bool> {
        self.pool
            .write(move |conn| owned::set_webhook_secret(conn, user_id, id, &secret, false))
            .await
    }

    async fn ensure_webhook_secret(
        &self,
        user_id: i64,
        id: i64,
        secret: String,
    ) -> StoreResult<bool> {
        self.pool
            .write(move |conn| owned::set_webhook_secret(conn, user_id, id, &secret, true))
            .await
    }

    async fn create_campaign(&self, user_id: i64, fields: CampaignFields) -> StoreResult<Campaign> {
        self.pool
            .write(move |conn| owned::create_campaign(conn, user_id, &fields))
            .await
    }

    async fn get_campaign(&self, user_id: i64, id: i64) -> StoreResult<Option<Campaign>> {
        self.pool
            .read(move |conn| owned::get_campaign(conn, user_id, id))
            .await
    }

    async fn update_campaign(
        &self,
        user_id: i64,
        id: i64,
        fields: CampaignFields,
    ) -> StoreResult<Option<Campaign>> {
        self.pool
            .write(move |conn| owned::update_campaign(conn, user_id, id, &fields))
            .await
    }

    async fn delete_campaign(&self, user_id: i64, id: i64) -> StoreResult<bool> {
        self.pool
            .write(move |conn| owned::soft_delete(conn, "campaigns", user_id, id))
            .await
    }

    async fn create_call(&self, user_id: i64, draft: CallDraft) -> StoreResult<CallWrite> {
        self.pool
            .write(move |conn| live::create_call(conn, user_id, &draft))
            .await
    }

    async fn update_call(
        &self,
        user_id: i64,
        call_id: i64,
        change: CallChange,
    ) -> StoreResult<CallWrite> {
        self.pool
            .write(move |conn| live::update_call(conn, user_id, call_id, &change))
            .await
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let worker = worker.to_owned();
        self.pool
            .write(move |conn| live::claim(conn, &worker, now_ms, lease_ms, limit))
            .await
    }

    async fn record_attempt(
        &self,
        delivery_id: i64,
        worker: &str,
        attempt: AttemptRecord,
        next: DeliveryNext,
    ) -> StoreResult<()> {
        let worker = worker.to_owned();
        self.pool
            .write(move |conn| live::record_attempt(conn, delivery_id, &worker, &attempt, &next))
            .await
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<i64>> {
        self.pool.read(live::next_delivery_at).await
    }

    async fn list_deliveries(
        &self,
        user_id: i64,
        call_id: i64,
    ) -> StoreResult<Option<Vec<Delivery>>> {
        self.pool
            .read(move |conn| live::list_deliveries(conn, user_id, call_id))
            .await
    }

    async fn redeliver(&self, user_id: i64, call_id: i64) -> StoreResult<Redelivery> {
        self.pool
            .write(move |conn| live::redeliver(conn, user_id, call_id))
            .await
    }

    async fn idempotency_start(
        &self,
        user_id: i64,
        key: &str,
        fingerprint: [u8; 32],
        now: i64,
        expired_before: i64,
    ) -> StoreResult<IdempotencyStart> {
        let key = key.to_owned();
        self.pool
            .write(move |conn| {
                live::idempotency_start(conn, user_id, &key, fingerprint, now, expired_before)
            })
            .await
    }

    async fn idempotency_finish(
        &self,
        user_id: i64,
        key: &str,
        status: u16,
        body: Vec<u8>,
    ) -> StoreResult<()> {
        let key = key.to_owned();
        self.pool
            .write(move |conn| live::idempotency_finish(conn, user_id, &key, status, &body))
            .await
    }

    async fn idempotency_release(&self, user_id: i64, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.pool
            .write(move |conn| live::idempotency_release(conn, user_id, &key))
            .await
    }

    async fn purge_idempotency_keys(&self, before: i64) -> StoreResult<u64> {
        self.pool
            .write(move |conn| live::purge_idempotency(conn, before))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::path_from_url;
    use std::path::PathBuf;

    #[test]
    fn urls() {
        assert_eq!(
            path_from_url("sqlite://callbase.db"),
            Some(PathBuf::from("callbase.db"))
        );
        assert_eq!(
            path_from_url("sqlite:///var/lib/c.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/c.db"))
        );
        assert_eq!(path_from_url("sqlite:c.db"), Some(PathBuf::from("c.db")));
        assert_eq!(path_from_url("postgres://x"), None);
        assert_eq!(path_from_url("sqlite://"), None);
    }
}
