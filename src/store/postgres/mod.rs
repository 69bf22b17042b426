//! The PostgreSQL backend, for deployments of several `serve` processes on one
//! database (see docs/SCALING.md). Same behaviour as SQLite, set-based import.

mod calls;
mod migrate;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::{
    ApiToken, Assistant, Campaign, ImportOutcome, NewToken, Page, Store, StoreError, StoreResult,
    User,
};
use crate::domain::timefmt::now_unix;
use crate::domain::{CallFilter, CallRecord, NewCall};

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
    }
}

const USER_COLUMNS: &str = "id, email, name, created_at";
/// ASCII-only case folding, the expression of the unique index (migration 3).
const EMAIL_KEY: &str =
    "translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";
const TOKEN_COLUMNS: &str = "id, user_id, name, token_prefix, created_at, expires_at, revoked_at";

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
            "INSERT INTO api_tokens (user_id, name, token_hash, token_prefix, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
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

    async fn authenticate(&self, hash: [u8; 32], now: i64) -> StoreResult<Option<i64>> {
        let client = self.pool.get().await?;
        let stmt = client
            .prepare_cached(
                "SELECT user_id FROM api_tokens
                 WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
            )
            .await?;
        let hash: &[u8] = &hash;
        Ok(client
            .query_opt(&stmt, &[&hash, &now])
            .await?
            .map(|row| row.get(0)))
    }

    async fn list_assistants(
        &self,
        user_id: i64,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Page<Assistant>> {
        let client = self.pool.get().await?;
        let page = calls::list_owned(&client, "assistants", user_id, Some((limit, offset))).await?;
        Ok(Page {
            total: page.total,
            rows: page
                .rows
                .iter()
                .map(|row| Assistant {
                    id: row.get(0),
                    user_id: row.get(1),
                    name: row.get(2),
                    status: row.get(3),
                    created_at: row.get(4),
                    updated_at: row.get(5),
                })
                .collect(),
        })
    }

    async fn list_campaigns(&self, user_id: i64) -> StoreResult<Vec<Campaign>> {
        let client = self.pool.get().await?;
        let page = calls::list_owned(&client, "campaigns", user_id, None).await?;
        Ok(page
            .rows
            .iter()
            .map(|row| Campaign {
                id: row.get(0),
                user_id: row.get(1),
                name: row.get(2),
                status: row.get(3),
                created_at: row.get(4),
                updated_at: row.get(5),
            })
            .collect())
    }

    async fn list_calls(
        &self,
        user_id: i64,
        filter: &CallFilter,
        limit: u64,
        offset: u64,
    ) -> StoreResult<Page<CallRecord>> {
        let mut client = self.pool.get().await?;
        calls::list(&mut client, user_id, filter, limit, offset).await
    }

    async fn get_call(&self, user_id: i64, call_id: i64) -> StoreResult<Option<CallRecord>> {
        let client = self.pool.get().await?;
        calls::get(&client, user_id, call_id).await
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

    async fn count_user_calls(&self, user_id: i64) -> StoreResult<u64> {
        let client = self.pool.get().await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM calls WHERE user_id = $1", &[&user_id])
            .await?
            .get(0);
        Ok(n.unsigned_abs())
    }
}
