//! Embedded, append-only schema migrations for SQLite, tracked in
//! `schema_migrations`. (Migration crates for rusqlite pin rusqlite versions
//! that clash with the bundled SQLite we link; this runner is the whole need.)

use anyhow::{Context, bail};
use rusqlite::{Connection, TransactionBehavior, params};

/// (version, name, SQL). Append only.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "rollups", include_str!("migrations/0002_rollups.sql")),
    (
        3,
        "rollup_indexes",
        include_str!("migrations/0003_rollup_indexes.sql"),
    ),
    (
        4,
        "live_calls",
        include_str!("migrations/0004_live_calls.sql"),
    ),
    (
        5,
        "calls_in_arrival_order",
        include_str!("migrations/0005_calls_in_arrival_order.sql"),
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

/// Work in Rust that a migration needs after its SQL, in its transaction:
/// the search index of existing calls needs callbase's own words.
fn after(version: i64, tx: &Connection) -> anyhow::Result<()> {
    if version == 8 {
        super::search::backfill(tx)?;
    }
    Ok(())
}

/// Applies every migration newer than the database, all in one transaction.
pub fn run(conn: &mut Connection) -> anyhow::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
    )?;
    let current: i64 = tx.query_row(
        "SELECT coalesce(max(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        bail!(
            "the database schema (version {current}) is newer than this callbase (version {newest}): upgrade callbase"
        );
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.execute_batch(sql)
            .with_context(|| format!("migration {version} ({name})"))?;
        after(*version, &tx).with_context(|| format!("migration {version} ({name})"))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![version, name, crate::domain::timefmt::now_unix()],
        )?;
        tracing::info!(
            migration.version = version,
            migration.name = name,
            "applied migration"
        );
    }
    tx.commit()?;
    Ok(())
}
