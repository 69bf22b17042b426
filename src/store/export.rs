//! Exports (CONTRACT §10): a filter's calls in the list's order, read from
//! one snapshot and handed out in chunks, so that memory stays flat however
//! many calls there are, and the read stops when the reader goes away.

use tokio::sync::mpsc;

use crate::domain::CallView;

/// Bytes a chunk collects before it is sent (a few calls' worth).
pub const CHUNK_BYTES: usize = 64 * 1024;

/// Writes one call in the export's format.
pub type Encoder = Box<dyn FnMut(&CallView<'_>, &mut Vec<u8>) + Send>;

/// Collects encoded calls into chunks for a channel.
pub struct Chunks {
    encode: Encoder,
    buffer: Vec<u8>,
    out: mpsc::Sender<Vec<u8>>,
    /// Calls written so far.
    pub calls: u64,
}

impl Chunks {
    pub fn new(encode: Encoder, out: mpsc::Sender<Vec<u8>>) -> Self {
        Self {
            encode,
            buffer: Vec::with_capacity(CHUNK_BYTES + 8192),
            out,
            calls: 0,
        }
    }

    /// Encodes a call; a full chunk is taken off the buffer and returned.
    pub fn push(&mut self, call: &CallView<'_>) -> Option<Vec<u8>> {
        (self.encode)(call, &mut self.buffer);
        self.calls += 1;
        (self.buffer.len() >= CHUNK_BYTES).then(|| self.take())
    }

    /// What is left in the buffer (possibly nothing).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK_BYTES + 8192))
    }

    /// Sends a chunk from a blocking thread; false when the reader is gone.
    pub fn send_blocking(&self, chunk: Vec<u8>) -> bool {
        chunk.is_empty() || self.out.blocking_send(chunk).is_ok()
    }

    /// Sends a chunk; false when the reader is gone.
    pub async fn send(&mut self, chunk: Vec<u8>) -> bool {
        chunk.is_empty() || self.out.send(chunk).await.is_ok()
    }
}
