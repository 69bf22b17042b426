//! Assistants and campaigns in SQLite: create, read, update, soft delete.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::is_unique_violation;
use crate::domain::timefmt::now_unix;
use crate::store::{
    Assistant, AssistantFields, Campaign, CampaignFields, Page, StoreError, StoreResult,
};

pub const ASSISTANT_COLUMNS: &str =
    "id, user_id, created_at, updated_at, name, status, phone_number,
    is_webhook_active, webhook_url, send_webhook_only_on_completed, include_recording_in_webhook";

fn assistant_from_row(row: &Row<'_>) -> rusqlite::Result<Assistant> {
    Ok(Assistant {
        id: row.get(0)?,
        user_id: row.get(1)?,
        created_at: row.get(2)?,
        updated_at: row.get(3)?,
        fields: AssistantFields {
            name: row.get(4)?,
            status: row.get(5)?,
            phone_number: row.get(6)?,
            is_webhook_active: row.get(7)?,
            webhook_url: row.get(8)?,
            send_webhook_only_on_completed: row.get(9)?,
            include_recording_in_webhook: row.get(10)?,
        },
    })
}

const CAMPAIGN_COLUMNS: &str = "id, user_id, name, status, created_at, updated_at";

fn campaign_from_row(row: &Row<'_>) -> rusqlite::Result<Campaign> {
    Ok(Campaign {
        id: row.get(0)?,
        user_id: row.get(1)?,
        name: row.get(2)?,
        status: row.get(3)?,
        created_at: row.get(4)?,
        updated_at: row.get(5)?,
    })
}

/// A unique-name violation becomes a conflict the API reports as a taken name.
fn name_taken<T>(result: rusqlite::Result<T>, what: &str) -> StoreResult<T> {
    match result {
        Err(err) if is_unique_violation(&err) => Err(StoreError::Conflict(format!(
            "the user already has {what} of that name"
        ))),
        other => Ok(other?),
    }
}

pub fn list_assistants(
    conn: &Connection,
    user_id: i64,
    limit: u64,
    offset: u64,
) -> StoreResult<Page<Assistant>> {
    let total: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM assistants WHERE user_id = ?1 AND deleted_at IS NULL",
        )?
        .query_row([user_id], |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {ASSISTANT_COLUMNS} FROM assistants WHERE user_id = ?1 AND deleted_at IS NULL
         ORDER BY created_at DESC, id DESC LIMIT CAST(?2 AS INTEGER) OFFSET ?3"
    ))?;
    let rows = stmt
        .query_map(
            params![
                user_id,
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(offset).unwrap_or(i64::MAX)
            ],
            assistant_from_row,
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(Page {
        total: total.unsigned_abs(),
        rows,
    })
}

pub fn create_assistant(
    conn: &Connection,
    user_id: i64,
    f: &AssistantFields,
    secret: &str,
) -> StoreResult<Assistant> {
    let result = conn.query_row(
        &format!(
            "INSERT INTO assistants (user_id, name, status, phone_number, is_webhook_active, webhook_url,
                send_webhook_only_on_completed, include_recording_in_webhook, webhook_secret,
                created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) RETURNING {ASSISTANT_COLUMNS}"
        ),
        params![
            user_id,
            f.name,
            f.status,
            f.phone_number,
            f.is_webhook_active,
            f.webhook_url,
            f.send_webhook_only_on_completed,
            f.include_recording_in_webhook,
            secret,
            now_unix()
        ],
        assistant_from_row,
    );
    name_taken(result, "an assistant")
}

pub fn get_assistant(conn: &Connection, user_id: i64, id: i64) -> StoreResult<Option<Assistant>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {ASSISTANT_COLUMNS} FROM assistants
             WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL"
        ))?
        .query_row(params![id, user_id], assistant_from_row)
        .optional()?)
}

pub fn update_assistant(
    conn: &Connection,
    user_id: i64,
    id: i64,
    f: &AssistantFields,
) -> StoreResult<Option<Assistant>> {
    let result = conn
        .query_row(
            &format!(
                "UPDATE assistants SET name = ?3, status = ?4, phone_number = ?5, is_webhook_active = ?6,
                    webhook_url = ?7, send_webhook_only_on_completed = ?8,
                    include_recording_in_webhook = ?9, updated_at = max(updated_at, ?10)
                 WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL RETURNING {ASSISTANT_COLUMNS}"
            ),
            params![
                id,
                user_id,
                f.name,
                f.status,
                f.phone_number,
                f.is_webhook_active,
                f.webhook_url,
                f.send_webhook_only_on_completed,
                f.include_recording_in_webhook,
                now_unix()
            ],
            assistant_from_row,
        )
        .optional();
    name_taken(result, "an assistant")
}

/// Soft-deletes an assistant or campaign (`table` is one of the two).
pub fn soft_delete(conn: &Connection, table: &str, user_id: i64, id: i64) -> StoreResult<bool> {
    let changed = conn.execute(
        &format!(
            "UPDATE {table} SET deleted_at = ?3, updated_at = max(updated_at, ?3)
             WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL"
        ),
        params![id, user_id, now_unix()],
    )?;
    Ok(changed > 0)
}

/// Sets the signing secret; with `only_if_missing`, only where there is none.
pub fn set_webhook_secret(
    conn: &Connection,
    user_id: i64,
    id: i64,
    secret: &str,
    only_if_missing: bool,
) -> StoreResult<bool> {
    let changed = conn.execute(
        "UPDATE assistants SET webhook_secret = ?3, updated_at = max(updated_at, ?4)
         WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL
           AND (NOT ?5 OR webhook_secret IS NULL)",
        params![id, user_id, secret, now_unix(), only_if_missing],
    )?;
    Ok(changed > 0)
}

pub fn list_campaigns(conn: &Connection, user_id: i64) -> StoreResult<Vec<Campaign>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM campaigns WHERE user_id = ?1 AND deleted_at IS NULL
         ORDER BY created_at DESC, id DESC"
    ))?;
    let rows = stmt
        .query_map([user_id], campaign_from_row)?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows)
}

pub fn create_campaign(
    conn: &Connection,
    user_id: i64,
    f: &CampaignFields,
) -> StoreResult<Campaign> {
    let result = conn.query_row(
        &format!(
            "INSERT INTO campaigns (user_id, name, status, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?4) RETURNING {CAMPAIGN_COLUMNS}"
        ),
        params![user_id, f.name, f.status, now_unix()],
        campaign_from_row,
    );
    name_taken(result, "a campaign")
}

pub fn get_campaign(conn: &Connection, user_id: i64, id: i64) -> StoreResult<Option<Campaign>> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT {CAMPAIGN_COLUMNS} FROM campaigns
             WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL"
        ))?
        .query_row(params![id, user_id], campaign_from_row)
        .optional()?)
}

pub fn update_campaign(
    conn: &Connection,
    user_id: i64,
    id: i64,
    f: &CampaignFields,
) -> StoreResult<Option<Campaign>> {
    let result = conn
        .query_row(
            &format!(
                "UPDATE campaigns SET name = ?3, status = ?4, updated_at = max(updated_at, ?5)
                 WHERE id = ?1 AND user_id = ?2 AND deleted_at IS NULL RETURNING {CAMPAIGN_COLUMNS}"
            ),
            params![id, user_id, f.name, f.status, now_unix()],
            campaign_from_row,
        )
        .optional();
    name_taken(result, "a campaign")
}
