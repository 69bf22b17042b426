//! The PostgreSQL backend, for deployments of several `serve` processes on one
//! database (see docs/SCALING.md). Same behaviour as SQLite, set-based import.

mod calls;
mod export;
mod list;
mod live;
mod migrate;
mod owned;
mod search;
mod stats;

use crate::domain::CallFilter;
use crate::domain::listing::Sort;
use crate::domain::stats::StatsQuery;
use crate::store::export::Chunks;
use crate::store::stats::StatsAnswer;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::{
    ApiToken, Assistant, AssistantFields, AttemptRecord, CallDraft, CallWrite, Campaign,
    CampaignFields, Delivery, DeliveryNext, DueDelivery, IdempotencyStart, ImportOutcome,
    ListOutcome, ListRequest, NewToken, Page, Principal, Reader, Redelivery, Scope, Store,
    StoreError, StoreResult, User,
};
use crate::domain::live::CallChange;
use crate::domain::timefmt::now_unix;
use crate::domain::{CallView, NewCall};

impl From<tokio_postgres::Error> for StoreError {
    fn from(err: tokio_postgres::Error) -> Self {
        StoreError::Internal(err.into())
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        StoreError::Internal(anyhow::anyhow!("database pool: {err}"))
    }
}

fn is_unique_violation(err: &tokio_postgres::Error) -> bool {
    err.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// True for `postgres://` and `postgresql://` URLs.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Call records in PostgreSQL.
pub struct PgStore {
    pool: Pool,
    /// A connection of its own for health checks, so that a busy pool (a
    /// loaded node) does not read as a dead database.
    health: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
    config: tokio_postgres::Config,
}

impl PgStore {
    /// Connects (checking the server answers) and brings the schema up to date.
    pub async fn open(url: &str, pool_size: usize) -> anyhow::Result<Self> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| anyhow::anyhow!("invalid database URL: {e}"))?;
        // Server-side limits: a statement outliving any request, or a
        // transaction left idle by a dropped request, is ended by the server.
        let options = format!(
            "{} -c statement_timeout=60000 -c idle_in_transaction_session_timeout=60000",
            config.get_options().unwrap_or_default()
        );
        config.options(options.trim());
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()?;
        let mut client = pool
            .get()
            .await
            .map_err(|e| anyhow::anyhow!("cannot connect to PostgreSQL: {e}"))?;
        migrate::run(&mut client).await?;
        Ok(Self {
            pool,
            health: tokio::sync::Mutex::new(None),
            config,
        })
    }
}

fn user_from_row(row: &Row) -> User {
    User {
        id: row.get(0),
        email: row.get(1),
        name: row.get(2),
        created_at: row.get(3),
    }
}

fn token_from_row(row: &Row) -> ApiToken {
    ApiToken {
        id: row.get(0),
        user_id: row.get(1),
        name: row.get(2),
        prefix: row.get(3),
        created_at: row.get(4),
        expires_at: row.get(5),
        revoked_at: row.get(6),
        scope: scope_from(row.get(7)),
    }
}

/// Unknown scopes (never written) read as the narrower one.
fn scope_from(text: &str) -> Scope {
    Scope::parse(text).unwrap_or(Scope::Read)
}

const USER_COLUMNS: &str = "id, email, name, created_at";
/// ASCII-only case folding, the expression of the unique index (migration 3).
const EMAIL_KEY: &str =
    "translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";
const TOKEN_COLUMNS: &str =
    "id, user_id, name, token_prefix, created_at, expires_at, revoked_at, scope";

/// The principal of an active token (not revoked, not expired at `now`).
async fn principal(
    client: &impl deadpool_postgres::GenericClient,
    hash: [u8; 32],
    now: i64,
) -> StoreResult<Option<Principal>> {
    let stmt = client
        .prepare_cached(
            "SELECT user_id, scope FROM api_tokens
             WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .await?;
    let hash: &[u8] = &hash;
    Ok(client
        .query_opt(&stmt, &[&hash, &now])
        .await?
        .map(|row| Principal {
            user_id: row.get(0),
            scope: scope_from(row.get(1)),
        }))
}

/// The user `reader` reads as, checking a token on `client` first (on the
/// connection the read then uses: one pool checkout per request).
async fn reader_user(
    client: &impl deadpool_postgres::GenericClient,
    reader: &mut Reader<'_>,
) -> StoreResult<Option<i64>> {
    let found = match reader {
        Reader::User(_) => None,
        Reader::Token { hash, now, .. } => principal(client, *hash, *now).await?,
    };
    reader.resolve(|_, _| Ok(found))
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        let mut health = self.health.lock().await;
        if health
            .as_ref()
            .is_none_or(tokio_postgres::Client::is_closed)
        {
            let (client, connection) = self.config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, "health connection closed");
                }
            });
            *health = Some(client);
        }
        let Some(client) = health.as_ref() else {
            return Ok(());
        };
        if let Err(err) = client
            .query_one("SELECT count(*) FROM schema_migrations", &[])
            .await
        {
            *health = None;
            return Err(err.into());
        }
        Ok(())
    }

    async fn create_user(&self, email: &str, name: &str) -> StoreResult<User> {
        let client = self.pool.get().await?;
        let now = now_unix();
        let sql = format!(
            "INSERT INTO users (email, name, created_at, updated_at) VALUES ($1, $2, $3, $3) RETURNING {USER_COLUMNS}"
        );
        match client.query_one(&sql, &[&email, &name, &now]).await {
            Ok(row) => Ok(user_from_row(&row)),
            Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict(format!(
                "a user with email {email} already exists"
            ))),
            Err(err) => Err(err.into()),
        }
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"),
                &[],
            )
            .await?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let client = self.pool.get().await?;
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {EMAIL_KEY} = {}",
            EMAIL_KEY.replace("email", "$1")
        );
        Ok(client
            .query_opt(&sql, &[&email])
            .await?
            .as_ref()
            .map(user_from_row))
    }

    async fn create_token(&self, token: NewToken) -> StoreResult<ApiToken> {
        let client = self.pool.get().await?;
        let sql = format!(
            "INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, created_at, expires_at, scope)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {TOKEN_COLUMNS}"
        );
        let hash: &[u8] = &token.hash;
        let row = client
            .query_one(
                &sql,
                &[
                    &token.user_id,
                    &token.name,
                    &hash,
                    &token.prefix,
                    &now_unix(),
                    &token.expires_at,
                    &token.scope.as_str(),
                ],
            )
            .await?;
        Ok(token_from_row(&row))
    }

    async fn list_tokens(&self, user_id: i64) -> StoreResult<Vec<ApiToken>> {
        let client = self.pool.get().await?;
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY id");
        Ok(client
            .query(&sql, &[&user_id])
            .await?
            .iter()
            .map(token_from_row)
            .collect())
    }

    async fn revoke_token(&self, token_id: i64) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        let changed = client
            .execute(
                "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&token_id, &now_unix()],
            )
            .await?;
        Ok(changed > 0)
    }

    async fn authenticate(&self, hash: [u8; 32], now: i64) -> StoreResult<Option<Principal>> {
        let client = self.pool.get().await?;
        principal(&client, hash, now).await
    }

    async fn list_assistants(
        &self,
        user_id: i64,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Page<Assistant>> {
        let client = self.pool.get().await?;
        owned::list_assistants(&client, user_id, limit, offset).await
    }

    async fn list_campaigns(&self, user_id: i64) -> StoreResult<Vec<Campaign>> {
        let client = self.pool.get().await?;
        owned::list_campaigns(&client, user_id).await
    }

    async fn list_calls_into(
        &self,
        mut reader: Reader<'_>,
        request: ListRequest<'_>,
        sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
    ) -> StoreResult<Option<ListOutcome>> {
        let mut client = self.pool.get().await?;
        let Some(user_id) = reader_user(&client, &mut reader).await? else {
            return Ok(None);
        };
        let (outcome, rows) = list::list(&mut client, user_id, request).await?;
        for row in &rows {
            sink(&calls::view_from_row(row)?);
        }
        Ok(Some(outcome))
    }

    async fn get_call_into(
        &self,
        mut reader: Reader<'_>,
        call_id: i64,
        sink: &mut (dyn for<'r, 'v> FnMut(&'r CallView<'v>) + Send),
    ) -> StoreResult<Option<bool>> {
        let client = self.pool.get().await?;
        let Some(user_id) = reader_user(&client, &mut reader).await? else {
            return Ok(None);
        };
        let Some(row) = calls::get_row(&client, user_id, call_id).await? else {
            return Ok(Some(false));
        };
        sink(&calls::view_from_row(&row)?);
        Ok(Some(true))
    }

    async fn delete_call(&self, user_id: i64, call_id: i64) -> StoreResult<bool> {
        let mut client = self.pool.get().await?;
        calls::delete(&mut client, user_id, call_id).await
    }

    async fn import_calls(
        &self,
        user_id: i64,
        batch: Vec<NewCall>,
    ) -> StoreResult<Vec<ImportOutcome>> {
        let mut client = self.pool.get().await?;
        calls::import(&mut client, user_id, &batch).await
    }

    async fn call_stats(&self, user_id: i64, query: &StatsQuery) -> StoreResult<StatsAnswer> {
        let mut client = self.pool.get().await?;
        stats::stats(&mut client, user_id, query).await
    }

    async fn export_calls(
        &self,
        user_id: i64,
        filter: CallFilter,
        sort: Sort,
        mut chunks: Chunks,
    ) -> StoreResult<u64> {
        let mut client = self.pool.get().await?;
        export::export(&mut client, user_id, &filter, sort, &mut chunks).await
    }

    async fn count_user_calls(&self, user_id: i64) -> StoreResult<u64> {
        let client = self.pool.get().await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM calls WHERE user_id = $1", &[&user_id])
            .await?
            .get(0);
        Ok(n.unsigned_abs())
    }

    async fn create_assistant(
        &self,
        user_id: i64,
        fields: AssistantFields,
        webhook_secret: String,
    ) -> StoreResult<Assistant> {
        let client = self.pool.get().await?;
        owned::create_assistant(&client, user_id, &fields, &webhook_secret).await
    }

    async fn get_assistant(&self, user_id: i64, id: i64) -> StoreResult<Option<Assistant>> {
        let client = self.pool.get().await?;
        owned::get_assistant(&client, user_id, id).await
    }

    async fn update_assistant(
        &self,
        user_id: i64,
        id: i64,
        fields: AssistantFields,
    ) -> StoreResult<Option<Assistant>> {
        let client = self.pool.get().await?;
        owned::update_assistant(&client, user_id, id, &fields).await
    }

    async fn delete_assistant(&self, user_id: i64, id: i64) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        owned::soft_delete(&client, "assistants", user_id, id).await
    }

    async fn set_webhook_secret(&self, user_id: i64, id: i64, secret: String) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        owned::set_webhook_secret(&client, user_id, id, &secret, false).await
    }

    async fn ensure_webhook_secret(
        &self,
        user_id: i64,
        id: i64,
        secret: String,
    ) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        owned::set_webhook_secret(&client, user_id, id, &secret, true).await
    }

    async fn create_campaign(&self, user_id: i64, fields: CampaignFields) -> StoreResult<Campaign> {
        let client = self.pool.get().await?;
        owned::create_campaign(&client, user_id, &fields).await
    }

    async fn get_campaign(&self, user_id: i64, id: i64) -> StoreResult<Option<Campaign>> {
        let client = self.pool.get().await?;
        owned::get_campaign(&client, user_id, id).await
    }

    async fn update_campaign(
        &self,
        user_id: i64,
        id: i64,
        fields: CampaignFields,
    ) -> StoreResult<Option<Campaign>> {
        let client = self.pool.get().await?;
        owned::update_campaign(&client, user_id, id, &fields).await
    }

    async fn delete_campaign(&self, user_id: i64, id: i64) -> StoreResult<bool> {
        let client = self.pool.get().await?;
        owned::soft_delete(&client, "campaigns", user_id, id).await
    }

    async fn create_call(&self, user_id: i64, draft: CallDraft) -> StoreResult<CallWrite> {
        let mut client = self.pool.get().await?;
        live::create_call(&mut client, user_id, &draft).await
    }

    async fn update_call(
        &self,
        user_id: i64,
        call_id: i64,
        change: CallChange,
    ) -> StoreResult<CallWrite> {
        let mut client = self.pool.get().await?;
        live::update_call(&mut client, user_id, call_id, &change).await
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        now_ms: i64,
        lease_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<DueDelivery>> {
        let mut client = self.pool.get().await?;
        live::claim(&mut client, worker, now_ms, lease_ms, limit).await
    }

    async fn record_attempt(
        &self,
        delivery_id: i64,
        worker: &str,
        attempt: AttemptRecord,
        next: DeliveryNext,
    ) -> StoreResult<()> {
        let mut client = self.pool.get().await?;
        live::record_attempt(&mut client, delivery_id, worker, &attempt, &next).await
    }

    async fn next_delivery_at(&self) -> StoreResult<Option<i64>> {
        let client = self.pool.get().await?;
        live::next_delivery_at(&client).await
    }

    async fn list_deliveries(
        &self,
        user_id: i64,
        call_id: i64,
    ) -> StoreResult<Option<Vec<Delivery>>> {
        let mut client = self.pool.get().await?;
        live::list_deliveries(&mut client, user_id, call_id).await
    }

    async fn redeliver(&self, user_id: i64, call_id: i64) -> StoreResult<Redelivery> {
        let mut client = self.pool.get().await?;
        live::redeliver(&mut client, user_id, call_id).await
    }

    async fn idempotency_start(
        &self,
        user_id: i64,
        key: &str,
        fingerprint: [u8; 32],
        now: i64,
        expired_before: i64,
    ) -> StoreResult<IdempotencyStart> {
        let mut client = self.pool.get().await?;
        live::idempotency_start(&mut client, user_id, key, fingerprint, now, expired_before).await
    }

    async fn idempotency_finish(
        &self,
        user_id: i64,
        key: &str,
        status: u16,
        body: Vec<u8>,
    ) -> StoreResult<()> {
        let client = self.pool.get().await?;
        live::idempotency_finish(&client, user_id, key, status, &body).await
    }

    async fn idempotency_release(&self, user_id: i64, key: &str) -> StoreResult<()> {
        let client = self.pool.get().await?;
        live::idempotency_release(&client, user_id, key).await
    }

    async fn purge_idempotency_keys(&self, before: i64) -> StoreResult<u64> {
        let client = self.pool.get().await?;
        live::purge_idempotency(&client, before).await
    }
}
