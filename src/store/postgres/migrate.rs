//! Embedded, append-only schema migrations for PostgreSQL, tracked in
//! `schema_migrations` and serialised by an advisory lock so that N processes
//! starting at once apply each migration exactly once.

use anyhow::{Context, bail};
use tokio_postgres::Client;

/// (version, name, SQL). Append only.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "rollups", include_str!("migrations/0002_rollups.sql")),
    (
        3,
        "email_ascii_fold",
        include_str!("migrations/0003_email_ascii_fold.sql"),
    ),
    (
        4,
        "rollup_indexes",
        include_str!("migrations/0004_rollup_indexes.sql"),
    ),
    (
        5,
        "live_calls",
        include_str!("migrations/0005_live_calls.sql"),
    ),
    (
        6,
        "user_totals",
        include_str!("migrations/0006_user_totals.sql"),
    ),
    (
        7,
        "phone_index_by_period",
        include_str!("migrations/0007_phone_index_by_period.sql"),
    ),
    (
        8,
        "search_and_filters",
        include_str!("migrations/0008_search_and_filters.sql"),
    ),
    (
        9,
        "stats_sums",
        include_str!("migrations/0009_stats_sums.sql"),
    ),
];

/// Arbitrary constant: the advisory lock all callbase processes agree on.
const MIGRATION_LOCK: i64 = 0x6361_6c6c_6261_7365; // "callbase"

pub async fn run(client: &mut Client) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let current: i64 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .await?
        .get(0);
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        bail!(
            "the database schema (version {current}) is newer than this callbase (version {newest}): upgrade callbase"
        );
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("migration {version} ({name})"))?;
        // Work in Rust after the SQL, in the same transaction: the search
        // index of existing calls needs callbase's own words.
        if *version == 8 {
            super::search::backfill(&tx)
                .await
                .with_context(|| format!("migration {version} ({name})"))?;
        }
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[version, name, &crate::domain::timefmt::now_unix()],
        )
        .await?;
        tracing::info!(
            migration.version = version,
            migration.name = name,
            "applied migration"
        );
    }
    tx.commit().await?;
    Ok(())
}
