//! SQLite connections: one writer, and a read-only connection per thread.
//!
//! SQLite allows one writer at a time; funnelling writes through a single
//! connection behind an async mutex queues them fairly instead of letting
//! connections spin in SQLite's busy handler, and writes run on tokio's
//! blocking threads because they may wait for a lock. Reads run in parallel
//! (WAL) on the calling thread; see [`Pool::read`]. A thread of the pool's
//! own copies the WAL into the database (see [`Checkpointer`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};

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
    checkpointer: Checkpointer,
    wal_limits: WalLimits,
}

/// When the WAL is copied into the database, in frames (pages).
#[derive(Debug, Clone, Copy)]
struct WalLimits {
    /// Frames not yet copied after which the writer asks the checkpointer
    /// to copy them.
    checkpoint_after: i64,
    /// WAL size at which the writer waits for the checkpointer to catch up
    /// before it goes on. A WAL starts again from its beginning only at a
    /// write that finds every frame copied; while writes follow each other
    /// without a pause (an import), that takes a wait now and then, or the
    /// WAL would grow for as long as they go on.
    wait_at: i64,
}

/// 1,000 frames of 16 KiB pages (16 MiB; SQLite's own automatic checkpoint
/// comes at 1,000 pages too), and a WAL of at most 8,000 pages (125 MiB) plus one
/// transaction.
const WAL_LIMITS: WalLimits = WalLimits {
    checkpoint_after: 1_000,
    wait_at: 8_000,
};

/// A request to the checkpointer, with where to say that it is done.
/// (Whether the checkpoint it ran succeeded.)
type CheckpointRequest = Option<SyncSender<bool>>;

/// Copies the WAL into the database on a thread of its own, so that the
/// writer does not: a checkpoint copies tens of MiB and waits for two
/// `fsync`s, which stalled the writer every 4,000 pages written (see
/// docs/PERFORMANCE.md, step 34). Dropping it ends the thread, which closes
/// its connection.
struct Checkpointer {
    requests: Option<SyncSender<CheckpointRequest>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> anyhow::Result<Self> {
        // One request waiting is enough: a checkpoint copies every frame
        // committed before it starts.
        let (requests, queue) = std::sync::mpsc::sync_channel::<CheckpointRequest>(1);
        let path = path.to_owned();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                let mut conn = None;
                // Ends when every sender is gone (the pool is dropped).
                for done in queue {
                    let result = checkpoint(&path, &mut conn, Mode::Passive);
                    if let Err(err) = &result {
                        tracing::warn!(error = %err, "WAL checkpoint failed; the writer checkpoints at the WAL's limit");
                        conn = None;
                    }
                    if let Some(done) = done {
                        let _ = done.send(result.is_ok());
                    }
                }
                // The pool is gone: copy what is left and empty the WAL, so
                // that the next process to open the database has no WAL to
                // read back (~0.1 s for 64 MiB). SQLite's last connection
                // does that on closing, but here the last to close are the
                // read-only connections of the worker threads, which cannot.
                // With another process using the database it gives up at
                // once (no busy wait) and the WAL stays as it is.
                if let Err(err) = checkpoint(&path, &mut conn, Mode::Truncate) {
                    tracing::debug!(error = %err, "the WAL stays: the database is in use");
                }
            })?;
        Ok(Self {
            requests: Some(requests),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.requests = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// After a write on `conn` (the writer): asks the checkpointer for a
/// checkpoint once enough frames wait to be copied, and waits for one once
/// the WAL is at its limit. Were the checkpointer gone, or its checkpoint to
/// fail (say, it cannot open its connection), the writer checkpoints itself,
/// so the WAL stays bounded.
fn after_write(conn: &Connection, checkpointer: &SyncSender<CheckpointRequest>, limits: WalLimits) {
    let (frames, copied) = match wal_counters(conn) {
        Ok(counters) => counters,
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the WAL's size");
            return;
        }
    };
    let handed_over = if frames >= limits.wait_at && copied < frames {
        let (done, finished) = std::sync::mpsc::sync_channel(1);
        checkpointer.send(Some(done)).is_ok() && finished.recv().unwrap_or(false)
    } else if frames - copied >= limits.checkpoint_after {
        // Full: one is asked for already.
        !matches!(
            checkpointer.try_send(None),
            Err(TrySendError::Disconnected(_))
        )
    } else {
        true
    };
    if !handed_over && let Err(err) = passive_checkpoint(conn) {
        tracing::warn!(error = %err, "WAL checkpoint failed; the next write tries again");
    }
}

/// The WAL's size in frames and the frames of it copied into the database
/// (a NOOP checkpoint only reads these counters).
fn wal_counters(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.prepare_cached("PRAGMA wal_checkpoint(NOOP)")?
        .query_row([], |row| Ok((row.get(1)?, row.get(2)?)))
}

/// Copies what it can of the WAL without waiting for readers or the writer.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

/// How far a checkpoint goes.
#[derive(Clone, Copy)]
enum Mode {
    /// Copies what it can without waiting for readers or the writer.
    Passive,
    /// Copies everything and truncates the WAL to nothing, if no other
    /// connection is using the database at that moment (it does not wait).
    Truncate,
}

/// A checkpoint on the checkpointer's own connection, opened on first use.
fn checkpoint(path: &Path, conn: &mut Option<Connection>, mode: Mode) -> anyhow::Result<()> {
    let conn = match conn {
        Some(conn) => conn,
        None => {
            let opened =
                Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
            // A checkpoint's `fsync`s follow its connection's setting.
            opened.pragma_update(None, "synchronous", "NORMAL")?;
            configure(&opened)?;
            conn.insert(opened)
        }
    };
    match mode {
        Mode::Passive => passive_checkpoint(conn)?,
        Mode::Truncate => {
            // Copies first without the writer's lock, so that the truncation,
            // which holds it (another process's writer waits meanwhile), has
            // nothing left to copy and takes milliseconds.
            passive_checkpoint(conn)?;
            conn.busy_timeout(std::time::Duration::ZERO)?;
            let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            anyhow::ensure!(busy == 0, "the WAL could not be truncated");
        }
    }
    Ok(())
}

impl Pool {
    /// Opens the writer at once (creating the file) so that start-up fails fast.
    pub async fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with(path, WAL_LIMITS, path).await
    }

    /// [`Pool::open`] with other limits, and the checkpointer opening
    /// `checkpoint_path` (the database, but for tests of a failing one).
    async fn open_with(
        path: &Path,
        wal_limits: WalLimits,
        checkpoint_path: &Path,
    ) -> anyhow::Result<Self> {
        let path = path.to_owned();
        let writer = {
            let path = path.clone();
            tokio::task::spawn_blocking(move || open_writer(&path)).await??
        };
        Ok(Self {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            checkpointer: Checkpointer::start(checkpoint_path)?,
            wal_limits,
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
        let checkpointer = self.checkpointer.requests.clone();
        let wal_limits = self.wal_limits;
        tokio::task::spawn_blocking(move || {
            // A connection lost to a panic in `f` is reopened on the next write.
            let mut conn = match guard.take() {
                Some(conn) => conn,
                None => open_writer(&path)?,
            };
            let result = f(&mut conn);
            if let Some(checkpointer) = &checkpointer {
                after_write(&conn, checkpointer, wal_limits);
            }
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

impl Pool {
    /// Runs a long read (an export) on a blocking thread, with a read-only
    /// connection of its own: it would hold up every request of the async
    /// worker it ran on.
    pub async fn read_long<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || f(&open_reader(&path)?))
            .await
            .map_err(|e| anyhow::anyhow!("the export thread failed: {e}"))?
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
    // The pool's checkpointer copies the WAL into the database, not the
    // writer (see `Checkpointer`).
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // The WAL file is cut back to 64 MiB when it starts over, instead of
    // keeping its largest size.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The WAL's size in frames and the frames copied into the database.
    async fn wal(pool: &Pool) -> (i64, i64) {
        pool.write(|conn| Ok(wal_counters(conn)?))
            .await
            .expect("counters")
    }

    /// Writes 30 transactions of 60 one-page rows (1,800 frames) into a new
    /// table; the WAL's largest size seen after a write, and whether any
    /// frame was copied into the database.
    async fn write_pages(pool: &Pool) -> (i64, bool) {
        pool.write(|conn| Ok(conn.execute_batch("CREATE TABLE t (b BLOB NOT NULL)")?))
            .await
            .expect("table");
        let (mut largest, mut copied_any) = (0, false);
        for _ in 0..30 {
            pool.write(|conn| {
                let tx = conn.transaction()?;
                for _ in 0..60 {
                    tx.execute("INSERT INTO t VALUES (zeroblob(15000))", [])?;
                }
                tx.commit()?;
                Ok(())
            })
            .await
            .expect("insert");
            let (frames, copied) = wal(pool).await;
            largest = largest.max(frames);
            copied_any |= copied > 0;
        }
        (largest, copied_any)
    }

    /// Small limits, so that a test's 1,800 frames pass them many times.
    const LIMITS: WalLimits = WalLimits {
        checkpoint_after: 40,
        wait_at: 200,
    };

    /// What a WAL of at most [`LIMITS`] plus one of [`write_pages`]'s
    /// transactions (and the one of [`wal`]) can hold.
    const BOUND: i64 = LIMITS.wait_at + 60 + 1;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_checkpointer_copies_the_wal_and_keeps_it_bounded() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("wal.db");
        let pool = Pool::open_with(&path, LIMITS, &path).await.expect("open");
        let (largest, copied_any) = write_pages(&pool).await;
        // 1,800 frames written: without checkpoints the WAL would hold them
        // all (the writer's automatic checkpoint is off).
        assert!(copied_any, "the checkpointer copied frames");
        assert!(largest <= BOUND, "WAL reached {largest} frames");
        let rows = pool
            .read(|conn| Ok(conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))?))
            .await
            .expect("count");
        assert_eq!(rows, 1_800);
        // Dropped, the pool copies what is left and empties the WAL, even
        // with this thread's read-only connection still open (it closes
        // with the thread, and could not checkpoint on closing).
        drop(pool);
        let left = std::fs::metadata(dir.path().join("wal.db-wal")).map_or(0, |m| m.len());
        assert_eq!(left, 0, "WAL left behind");
    }

    /// A checkpointer whose checkpoints fail (here it cannot open the
    /// database: its path is a directory): the writer checkpoints itself at
    /// the WAL's limit, so the WAL stays bounded all the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writer_checkpoints_when_the_checkpointer_fails() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("wal.db");
        let pool = Pool::open_with(&path, LIMITS, dir.path())
            .await
            .expect("open");
        let (largest, copied_any) = write_pages(&pool).await;
        assert!(copied_any, "the writer copied frames");
        assert!(largest <= BOUND, "WAL reached {largest} frames");
    }
}
