//! Where log lines go: stderr, written in batches by a background thread.
//!
//! Why not `tracing_appender::non_blocking`: it hands every line to its thread
//! through a channel, so under load each request paid a wake-up of that thread
//! (a `futex` call, then the thread's own `sched_yield`s) and a `write(2)` of
//! its own, on the core serving the requests. Here a line is appended to a
//! shared buffer under an uncontended mutex; the thread wakes when the buffer
//! stops being empty, lets more lines gather for up to [`GATHER`], and writes
//! them with one call. Warnings and errors are written at once, and so is a
//! buffer past [`HIGH_WATER`]. No line is dropped: past [`MAX_PENDING`] the
//! callers wait for the thread (back-pressure, as with a blocking stderr).

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// How long lines may wait for others to share their `write`.
const GATHER: Duration = Duration::from_millis(50);
/// A buffer this large is written without waiting out [`GATHER`].
const HIGH_WATER: usize = 64 * 1024;
/// Callers wait while this much is pending (stderr is not keeping up).
const MAX_PENDING: usize = 4 * 1024 * 1024;
/// How long exit waits for the pending lines to be written: a stalled stderr
/// (a paused terminal, a reader that stopped reading) must not keep the
/// process from exiting.
const EXIT_WAIT: Duration = Duration::from_secs(2);

#[derive(Default)]
struct State {
    pending: Vec<u8>,
    urgent: bool,
    closed: bool,
    /// The writer thread has ended (even by a panic): nobody writes any more.
    finished: bool,
}

struct Shared {
    state: Mutex<State>,
    /// [`GATHER`], but for tests.
    gather: Duration,
    /// Wakes the writer thread.
    wake: Condvar,
    /// Wakes callers waiting for room.
    drained: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves bytes, not broken invariants.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn append(&self, line: &[u8], urgent: bool) {
        let mut state = self.lock();
        while state.pending.len() >= MAX_PENDING && !state.finished {
            state = self
                .drained
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.finished {
            // After exit (or a dead writer): lost, as with a closed stderr,
            // rather than kept forever.
            return;
        }
        let was_empty = state.pending.is_empty();
        state.pending.extend_from_slice(line);
        let now_urgent = !state.urgent && (urgent || state.pending.len() >= HIGH_WATER);
        state.urgent |= now_urgent;
        if was_empty || now_urgent {
            self.wake.notify_one();
        }
    }

    /// The writer thread: one `write` per batch, until closed and drained.
    fn run(&self, mut out: impl Write) {
        // However this ends (a panicking writer included), callers waiting for
        // room and the exit waiting for the last batch are released.
        struct Finished<'a>(&'a Shared);
        impl Drop for Finished<'_> {
            fn drop(&mut self) {
                let mut state = self.0.lock();
                state.finished = true;
                state.closed = true;
                state.pending = Vec::new();
                drop(state);
                self.0.drained.notify_all();
            }
        }
        let _finished = Finished(self);
        let mut batch = Vec::new();
        loop {
            let closed = {
                let mut state = self.lock();
                while state.pending.is_empty() && !state.closed {
                    state = self
                        .wake
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if !state.urgent && !state.closed {
                    state = self
                        .wake
                        .wait_timeout_while(state, self.gather, |s| !s.urgent && !s.closed)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                std::mem::swap(&mut state.pending, &mut batch);
                state.urgent = false;
                state.closed
            };
            self.drained.notify_all();
            if !batch.is_empty() {
                // Nowhere to report a failing stderr; the lines are lost, as
                // they would be with a direct write.
                let _ = out.write_all(&batch).and_then(|()| out.flush());
                batch.clear();
            }
            if closed {
                return;
            }
        }
    }
}

/// The `MakeWriter` for `tracing_subscriber::fmt`.
#[derive(Clone)]
pub struct BatchedStderr {
    shared: Arc<Shared>,
}

/// Writes what is pending and stops the thread when dropped (at exit).
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the writer thread for `out` (stderr in the binary).
pub fn start(out: impl Write + Send + 'static) -> io::Result<(BatchedStderr, FlushGuard)> {
    start_with(out, GATHER)
}

fn start_with(
    out: impl Write + Send + 'static,
    gather: Duration,
) -> io::Result<(BatchedStderr, FlushGuard)> {
    let shared = Arc::new(Shared {
        state: Mutex::default(),
        gather,
        wake: Condvar::new(),
        drained: Condvar::new(),
    });
    let thread = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || shared.run(out))?
    };
    Ok((
        BatchedStderr {
            shared: Arc::clone(&shared),
        },
        FlushGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        let mut state = self.shared.lock();
        state.closed = true;
        self.shared.wake.notify_one();
        let (state, _) = self
            .shared
            .drained
            .wait_timeout_while(state, EXIT_WAIT, |s| !s.finished)
            .unwrap_or_else(PoisonError::into_inner);
        let finished = state.finished;
        drop(state);
        if let Some(thread) = self.thread.take()
            && finished
        {
            let _ = thread.join();
        }
        // Otherwise the thread is stuck in a `write`: left behind, and the
        // process exits without it.
    }
}

/// One event's line: the formatter writes it with a single `write_all`.
pub struct Line<'a> {
    shared: &'a Shared,
    urgent: bool,
}

impl Write for Line<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.shared.append(bytes, self.urgent);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStderr {
    type Writer = Line<'a>;

    fn make_writer(&'a self) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Line<'a> {
        Line {
            shared: &self.shared,
            urgent: *meta.level() <= Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that the test can read back.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_by_the_time_the_guard_is_dropped() {
        let sink = Sink::default();
        let (writer, guard) = start(sink.clone()).expect("writer thread");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        let line = format!("t{t} {i:08}\n");
                        writer
                            .make_writer()
                            .write_all(line.as_bytes())
                            .expect("append");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("writer");
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8");
        for t in 0..4 {
            let mine: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("t{t} ")))
                .collect();
            assert_eq!(mine.len(), 20_000, "thread {t} lost lines");
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "thread {t} out of order"
            );
        }
    }

    /// A `Write` that never returns, like stderr into a pipe nobody reads.
    struct Stalled;

    impl Write for Stalled {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            loop {
                std::thread::park();
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn exit_does_not_wait_forever_for_a_stalled_stderr() {
        let (writer, guard) = start(Stalled).expect("writer thread");
        writer.make_writer().write_all(b"stuck\n").expect("append");
        let started = std::time::Instant::now();
        drop(guard);
        // EXIT_WAIT, with room for a slow machine, but not forever.
        assert!(started.elapsed() < EXIT_WAIT * 10);
    }

    /// A writer thread that dies must not leave callers waiting for room.
    struct Panics;

    impl Write for Panics {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            panic!("the sink broke");
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_dead_writer_thread_does_not_block_logging() {
        let (writer, _guard) = start(Panics).expect("writer thread");
        let line = vec![b'x'; 64 * 1024];
        // Far more than MAX_PENDING: would block forever if nobody drained.
        for _ in 0..(3 * MAX_PENDING / line.len()) {
            writer.make_writer().write_all(&line).expect("append");
        }
    }

    #[test]
    fn a_warning_writes_out_what_is_pending_without_waiting_for_the_batch() {
        let sink = Sink::default();
        // A gather time no test run reaches: only the warning can cause the write.
        let (writer, _guard) =
            start_with(sink.clone(), Duration::from_secs(600)).expect("writer thread");
        let subscriber = tracing_subscriber::fmt()
            .with_writer(writer)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("routine");
            tracing::warn!("careful");
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let text = String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8");
            if !text.is_empty() {
                assert!(
                    text.contains("routine") && text.contains("careful"),
                    "{text}"
                );
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the warning waited for the batch"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
