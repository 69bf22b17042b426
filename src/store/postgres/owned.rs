//! Assistants and campaigns in PostgreSQL: create, read, update, soft delete.

use deadpool_postgres::Client;
use tokio_postgres::Row;

use super::is_unique_violation;
use crate::domain::timefmt::now_unix;
use crate::store::{
    Assistant, AssistantFields, Campaign, CampaignFields, Page, StoreError, StoreResult,
};

const ASSISTANT_COLUMNS: &str = "id, user_id, created_at, updated_at, name, status, phone_number,
    is_webhook_active, webhook_url, send_webhook_only_on_completed, include_recording_in_webhook";

fn assistant_from_row(row: &Row) -> Assistant {
    Assistant {
        id: row.get(0),
        user_id: row.get(1),
        created_at: row.get(2),
        updated_at: row.get(3),
        fields: AssistantFields {
            name: row.get(4),
            status: row.get(5),
            phone_number: row.get(6),
            is_webhook_active: row.get(7),
            webhook_url: row.get(8),
            send_webhook_only_on_completed: row.get(9),
            include_recording_in_webhook: row.get(10),
        },
    }
}

const CAMPAIGN_COLUMNS: &str = "id, user_id, name, status, created_at, updated_at";

fn campaign_from_row(row: &Row) -> Campaign {
    Campaign {
        id: row.get(0),
        user_id: row.get(1),
        name: row.get(2),
        status: row.get(3),
        created_at: row.get(4),
        updated_at: row.get(5),
    }
}

/// A unique-name violation becomes a conflict the API reports as a taken name.
fn name_taken<T>(result: Result<T, tokio_postgres::Error>, what: &str) -> StoreResult<T> {
    match result {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict(format!(
            "the user already has {what} of that name"
        ))),
        other => Ok(other?),
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub async fn list_assistants(
    client: &Client,
    user_id: i64,
    limit: u64,
    offset: u64,
) -> StoreResult<Page<Assistant>> {
    let total: i64 = client
        .query_one(
            "SELECT count(*) FROM assistants WHERE user_id = $1 AND deleted_at IS NULL",
            &[&user_id],
        )
        .await?
        .get(0);
    let rows = client
        .query(
            &format!(
                "SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE user_id = $1 AND deleted_at IS NULL
                 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
            ),
            &[&user_id, &to_i64(limit), &to_i64(offset)],
        )
        .await?;
    Ok(Page {
        total: total.unsigned_abs(),
        rows: rows.iter().map(assistant_from_row).collect(),
    })
}

pub async fn create_assistant(
    client: &Client,
    user_id: i64,
    f: &AssistantFields,
    secret: &str,
) -> StoreResult<Assistant> {
    let result = client
        .query_one(
            &format!(
                "INSERT INTO assistants (user_id, name, status, phone_number, is_webhook_active, webhook_url,
                    send_webhook_only_on_completed, include_recording_in_webhook, webhook_secret,
                    created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING {ASSISTANT_COLUMNS}"
            ),
            &[
                &user_id,
                &f.name,
                &f.status,
                &f.phone_number,
                &f.is_webhook_active,
                &f.webhook_url,
                &f.send_webhook_only_on_completed,
                &f.include_recording_in_webhook,
                &secret,
                &now_unix(),
            ],
        )
        .await;
    name_taken(result, "an assistant").map(|row| assistant_from_row(&row))
}

pub async fn get_assistant(
    client: &Client,
    user_id: i64,
    id: i64,
) -> StoreResult<Option<Assistant>> {
    Ok(client
        .query_opt(
            &format!(
                "SELECT {ASSISTANT_COLUMNS} FROM assistants
                 WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL"
            ),
            &[&user_id, &id],
        )
        .await?
        .as_ref()
        .map(assistant_from_row))
}

pub async fn update_assistant(
    client: &Client,
    user_id: i64,
    id: i64,
    f: &AssistantFields,
) -> StoreResult<Option<Assistant>> {
    let result = client
        .query_opt(
            &format!(
                "UPDATE assistants SET name = $3, status = $4, phone_number = $5, is_webhook_active = $6,
                    webhook_url = $7, send_webhook_only_on_completed = $8,
                    include_recording_in_webhook = $9, updated_at = greatest(updated_at, $10)
                 WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {ASSISTANT_COLUMNS}"
            ),
            &[
                &user_id,
                &id,
                &f.name,
                &f.status,
                &f.phone_number,
                &f.is_webhook_active,
                &f.webhook_url,
                &f.send_webhook_only_on_completed,
                &f.include_recording_in_webhook,
                &now_unix(),
            ],
        )
        .await;
    name_taken(result, "an assistant").map(|row| row.as_ref().map(assistant_from_row))
}

/// Soft-deletes an assistant or campaign (`table` is one of the two).
pub async fn soft_delete(client: &Client, table: &str, user_id: i64, id: i64) -> StoreResult<bool> {
    let changed = client
        .execute(
            &format!(
                "UPDATE {table} SET deleted_at = $3, updated_at = greatest(updated_at, $3)
                 WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL"
            ),
            &[&user_id, &id, &now_unix()],
        )
        .await?;
    Ok(changed > 0)
}

/// Sets the signing secret; with `only_if_missing`, only where there is none.
pub async fn set_webhook_secret(
    client: &Client,
    user_id: i64,
    id: i64,
    secret: &str,
    only_if_missing: bool,
) -> StoreResult<bool> {
    let changed = client
        .execute(
            "UPDATE assistants SET webhook_secret = $3, updated_at = greatest(updated_at, $4)
             WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL
               AND (NOT $5 OR webhook_secret IS NULL)",
            &[&user_id, &id, &secret, &now_unix(), &only_if_missing],
        )
        .await?;
    Ok(changed > 0)
}

pub async fn list_campaigns(client: &Client, user_id: i64) -> StoreResult<Vec<Campaign>> {
    let rows = client
        .query(
            &format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE user_id = $1 AND deleted_at IS NULL
                 ORDER BY created_at DESC, id DESC"
            ),
            &[&user_id],
        )
        .await?;
    Ok(rows.iter().map(campaign_from_row).collect())
}

pub async fn create_campaign(
    client: &Client,
    user_id: i64,
    f: &CampaignFields,
) -> StoreResult<Campaign> {
    let result = client
        .query_one(
            &format!(
                "INSERT INTO campaigns (user_id, name, status, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $4) RETURNING {CAMPAIGN_COLUMNS}"
            ),
            &[&user_id, &f.name, &f.status, &now_unix()],
        )
        .await;
    name_taken(result, "a campaign").map(|row| campaign_from_row(&row))
}

pub async fn get_campaign(client: &Client, user_id: i64, id: i64) -> StoreResult<Option<Campaign>> {
    Ok(client
        .query_opt(
            &format!(
                "SELECT {CAMPAIGN_COLUMNS} FROM campaigns
                 WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL"
            ),
            &[&user_id, &id],
        )
        .await?
        .as_ref()
        .map(campaign_from_row))
}

pub async fn update_campaign(
    client: &Client,
    user_id: i64,
    id: i64,
    f: &CampaignFields,
) -> StoreResult<Option<Campaign>> {
    let result = client
        .query_opt(
            &format!(
                "UPDATE campaigns SET name = $3, status = $4, updated_at = greatest(updated_at, $5)
                 WHERE user_id = $1 AND id = $2 AND deleted_at IS NULL RETURNING {CAMPAIGN_COLUMNS}"
            ),
            &[&user_id, &id, &f.name, &f.status, &now_unix()],
        )
        .await;
    name_taken(result, "a campaign").map(|row| row.as_ref().map(campaign_from_row))
}
