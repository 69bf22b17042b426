//! SQLite connections: one writer, and a read-only connection per thread.
//!
//! SQLite allows one writer at a time; funnelling writes through a single
//! connection behind an async mutex queues them fairly instead of letting
//! connections spin in SQLite's busy handler, and writes run on tokio's
//! blocking threads because they may wait for a lock. Reads run in parallel
//! (WAL) on the calling thread; see [`Pool::read`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use crate::store::StoreResult;

thread_local! {
    /// Each thread's read-only connection to each open database, by pool id.
    /// They close with the thread.
    static READERS: RefCell<HashMap<u64, Connection>> = RefCell::new(HashMap::new());
}

/// Tells databases apart in [`READERS`].
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(0);

pub struct Pool {
    id: u64,
    path: PathBuf,
    writer: Arc<tokio::sync::Mutex<Option<Connection>>>,
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
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            path,
            writer: Arc::new(tokio::sync::Mutex::new(Some(writer))),
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

    /// Runs `f` on this thread's read-only connection, right here.
    ///
    /// Reads are short by construction (totals come from rollups, pages from
    /// covering indexes, a deep page starts on its day) and WAL readers never
    /// wait for the writer, so they run on the async worker itself: handing
    /// each one to a blocking thread cost two context switches per query,
    /// which the profile showed as the largest single cost of a list request.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&Connection) -> StoreResult<T>,
    {
        READERS.with(|readers| {
            let mut readers = readers.borrow_mut();
            let conn = match readers.entry(self.id) {
                Entry::Occupied(entry) => entry.into_mut(),
                Entry::Vacant(entry) => entry.insert(open_reader(&self.path)?),
            };
            f(conn)
        })
    }
}

fn open_writer(path: &Path) -> anyhow::Result<Connection> {
    create_private(path)?;
    let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
    // Takes effect only on a new, empty database (before WAL mode and the
    // first table). Calls are ~2 KB rows, which 4 KiB pages hold one or two
    // of. Importing 400k calls: 21k calls/s with 4 KiB pages, 34k with 16 KiB,
    // 41k with 32 KiB; but 32 KiB pages cost point reads ~20% (get by id),
    // 16 KiB pages read as fast as 4 KiB.
    conn.pragma_update(None, "page_size", 16_384)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // 64 MiB of page cache: imports touch the table and six indexes; with the
    // default 2 MiB the writer re-read pages from the OS on every batch.
    conn.pragma_update(None, "cache_size", -65_536)?;
    // Checkpoint at 64 MiB of WAL instead of SQLite's 16 MiB (1,000 pages): a
    // page written by several commits in between is copied into the database
    // once. Importing 400k calls in batches of 5,000: 7.7 s -> 6.5 s.
    conn.pragma_update(None, "wal_autocheckpoint", 4_000)?;
    // ... and the WAL file is cut back to that size after a checkpoint
    // instead of keeping its largest size.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
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
    // Reader connections live per thread; 16 MiB of page cache each keeps the
    // hot index and rollup pages in memory instead of re-reading them from the
    // OS on every request.
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening {}", path.display()))?;
    conn.pragma_update(None, "cache_size", -16_384)?;
    configure(&conn)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> anyhow::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}
