//! A small SQLite connection pool: one writer, several read-only readers.
//!
//! SQLite allows one writer at a time; funnelling writes through a single
//! connection behind an async mutex queues them fairly instead of letting
//! connections spin in SQLite's busy handler. Readers run in parallel (WAL).
//! Pool crates for rusqlite either hold a blocking thread while waiting or run
//! a health query on every checkout; this one does neither. The closures run
//! on tokio's blocking threads because rusqlite is synchronous.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use crate::store::StoreResult;

/// How many readers may run at once.
const MAX_READERS: usize = 8;

pub struct Pool {
    path: PathBuf,
    writer: Arc<tokio::sync::Mutex<Option<Connection>>>,
    idle_readers: Arc<Mutex<Vec<Connection>>>,
    reader_slots: Arc<Semaphore>,
}

impl Pool {
    /// Opens the writer at once (creating the file) so that start-up fails fast.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        let path = path.to_owned();
        let writer = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_writer(&path)).await??
        };
        Ok(Self {
            path,
            writer: Arc::new(tokio::sync::Mutex::new(Some(writer))),
            idle_readers: Arc::new(Mutex::new(Vec::new())),
            reader_slots: Arc::new(Semaphore::new(MAX_READERS)),
        })
    }

    /// Runs `f` on the writer connection, one writer at a time.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let mut guard = self.writer.clone().lock_owned().await;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            // A connection lost to a panic in `f` is reopened on the next write.
            let mut conn = match guard.take() {
                Some(conn) => conn,
                None => open_writer(&path)?,
            };
            let result = f(&mut conn);
            *guard = Some(conn);
            result
        })
        .await
        .context("database writer task failed")?
    }

    /// Runs `f` on a read-only connection.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let permit = self
            .reader_slots
            .clone()
            .acquire_owned()
            .await
            .context("reader pool closed")?;
        let idle = self.idle_readers.clone();
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let reused = idle.lock().ok().and_then(|mut stack| stack.pop());
            let conn = match reused {
                Some(conn) => conn,
                None => open_reader(&path)?,
            };
            let result = f(&conn);
            if let Ok(mut stack) = idle.lock() {
                stack.push(conn);
            }
            drop(permit);
            result
        })
        .await
        .context("database reader task failed")?
    }
}

fn open_writer(path: &Path) -> anyhow::Result<Connection> {
    create_private(path)?;
    let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    configure(&conn)?;
    Ok(conn)
}

/// Creates the database file readable by its owner only: it holds phone
/// numbers and transcripts. SQLite gives the -wal and -shm files the same mode.
fn create_private(path: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(anyhow::anyhow!("cannot create {}: {err}", path.display())),
        }
    }
    Ok(())
}

fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening {}", path.display()))?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> anyhow::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}
