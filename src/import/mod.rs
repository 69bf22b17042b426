//! `callbase import`: NDJSON (one Call object per line) or a JSON document with a
//! `data` array (a saved list page), streamed, validated and upserted in
//! batched transactions.
//!
//! A blocking thread reads and validates while the async side writes the
//! previous batch, so parsing and storage overlap; memory holds at most a few
//! batches whatever the file's size.

pub mod record;

use std::fmt;
use std::io::{BufRead, Cursor, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::domain::NewCall;
use crate::store::{ImportOutcome, Store};

/// Calls per transaction.
pub const BATCH_SIZE: usize = 1000;

/// Longest NDJSON line accepted (a call with a very long transcript fits easily).
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Where a call sits in its file: `line 7` (NDJSON) or `data[6]` (document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    Line(u64),
    Item(u64),
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Item(n) => write!(f, "data[{n}]"),
        }
    }
}

/// A call that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub position: Position,
    pub reason: String,
}

/// Counts of one import.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub imported: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub rejected: u64,
}

impl Summary {
    pub fn add(&mut self, other: Summary) {
        self.imported += other.imported;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.rejected += other.rejected;
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {}, updated {}, unchanged {}, rejected {}",
            self.imported, self.updated, self.unchanged, self.rejected
        )
    }
}

/// What the reader thread hands to the writer.
enum Chunk {
    Calls(Vec<(Position, NewCall)>),
    Rejected(Rejection),
}

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Imports one source for a user. `report` sees every rejection as it happens;
/// `progress` sees the bytes read so far after each batch. A source that
/// cannot be read or parsed at all is an error (what came before it stays).
pub async fn import_source<R>(
    store: &dyn Store,
    user_id: i64,
    source: R,
    mut report: impl FnMut(&Rejection),
    mut progress: impl FnMut(u64),
) -> anyhow::Result<Summary>
where
    R: Read + Send + 'static,
{
    let bytes = Arc::new(AtomicU64::new(0));
    let counting = Counting {
        inner: source,
        count: bytes.clone(),
    };
    let (tx, mut rx) = mpsc::channel::<Chunk>(2);
    let reader = tokio::task::spawn_blocking(move || read_source(counting, &tx));

    let mut summary = Summary::default();
    let mut reject = |rejection: Rejection, summary: &mut Summary| {
        summary.rejected += 1;
        report(&rejection);
    };
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Chunk::Rejected(rejection) => reject(rejection, &mut summary),
            Chunk::Calls(batch) => {
                let (positions, calls): (Vec<Position>, Vec<NewCall>) = batch.into_iter().unzip();
                let ids: Vec<i64> = calls.iter().map(|c| c.id).collect();
                let outcomes = store.import_calls(user_id, calls).await?;
                for ((position, id), outcome) in positions.into_iter().zip(ids).zip(outcomes) {
                    match outcome {
                        ImportOutcome::Inserted => summary.imported += 1,
                        ImportOutcome::Updated => summary.updated += 1,
                        ImportOutcome::Unchanged => summary.unchanged += 1,
                        ImportOutcome::ForeignId => {
                            let reason = format!("id {id} belongs to another user's call");
                            reject(Rejection { position, reason }, &mut summary);
                        }
                    }
                }
            }
        }
        progress(bytes.load(Ordering::Relaxed));
    }
    reader.await??;
    Ok(summary)
}

/// Collects valid calls into batches; sends rejections as they come.
struct Batcher<'a> {
    tx: &'a mpsc::Sender<Chunk>,
    batch: Vec<(Position, NewCall)>,
}

impl Batcher<'_> {
    fn push(&mut self, position: Position, text: &str) -> anyhow::Result<()> {
        match record::parse_call(text) {
            Ok(call) => {
                self.batch.push((position, call));
                if self.batch.len() >= BATCH_SIZE {
                    self.flush()?;
                }
            }
            Err(reason) => self.send(Chunk::Rejected(Rejection { position, reason }))?,
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.send(Chunk::Calls(batch))?;
        }
        Ok(())
    }

    fn send(&self, chunk: Chunk) -> anyhow::Result<()> {
        self.tx
            .blocking_send(chunk)
            .map_err(|_| anyhow::anyhow!("import stopped"))
    }
}

/// Runs on a blocking thread: detects the format and feeds the batcher.
fn read_source<R: Read>(source: R, tx: &mpsc::Sender<Chunk>) -> anyhow::Result<()> {
    let mut input = std::io::BufReader::with_capacity(256 * 1024, source);
    let mut batcher = Batcher {
        tx,
        batch: Vec::with_capacity(BATCH_SIZE),
    };

    // Skip blank lines up to the first content and look at it.
    let mut first = String::new();
    let mut first_line_no = 0;
    loop {
        first.clear();
        if input.read_line(&mut first)? == 0 {
            return Ok(()); // empty input
        }
        first_line_no += 1;
        if !first.trim().is_empty() {
            break;
        }
    }
    let trimmed = first.trim_start();
    let is_document = trimmed.starts_with('[')
        || match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(first.trim()) {
            // A complete object on the first line: a call, or a one-line saved page.
            Ok(object) => {
                object.get("data").is_some_and(|d| d.is_array()) && !object.contains_key("id")
            }
            // A first line that stops mid-object starts a pretty-printed document;
            // one with a syntax error is a broken call line, reported as such.
            Err(err) => err.is_eof(),
        };

    if is_document {
        let rest = Cursor::new(first.into_bytes()).chain(input);
        let mut deserializer = serde_json::Deserializer::from_reader(rest);
        let mut index = 0u64;
        let mut on_item = |item: Box<RawValue>| -> anyhow::Result<()> {
            let position = Position::Item(index);
            index += 1;
            batcher.push(position, item.get())
        };
        DocumentSeed {
            on_item: &mut on_item,
        }
        .deserialize(&mut deserializer)
        .map_err(|e| anyhow::anyhow!("the file is not valid JSON: {e}"))?;
        deserializer
            .end()
            .map_err(|e| anyhow::anyhow!("unexpected content after the JSON document: {e}"))?;
    } else {
        let mut line_no = first_line_no;
        let mut line = first;
        loop {
            if !line.trim().is_empty() {
                if line.len() > MAX_LINE_BYTES {
                    let reason = format!("line longer than {MAX_LINE_BYTES} bytes");
                    batcher.send(Chunk::Rejected(Rejection {
                        position: Position::Line(line_no),
                        reason,
                    }))?;
                } else {
                    batcher.push(Position::Line(line_no), line.trim())?;
                }
            }
            line.clear();
            if input.read_line(&mut line)? == 0 {
                break;
            }
            line_no += 1;
        }
    }
    batcher.flush()
}

/// A document: either `{"data": [...], ...}` or a bare array of calls. Each
/// element is handed over as soon as it is parsed.
struct DocumentSeed<'f> {
    on_item: &'f mut dyn FnMut(Box<RawValue>) -> anyhow::Result<()>,
}

impl<'de> DeserializeSeed<'de> for DocumentSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for DocumentSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a \"data\" array, or an array of calls")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "data" {
                map.next_value_seed(ItemsSeed {
                    on_item: self.on_item,
                })?;
                // `on_item` moved into the seed: read the rest without it.
                while map.next_key::<IgnoredAny>()?.is_some() {
                    map.next_value::<IgnoredAny>()?;
                }
                return Ok(());
            }
            map.next_value::<IgnoredAny>()?;
        }
        Err(de::Error::custom("the document has no \"data\" array"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        ItemsSeed {
            on_item: self.on_item,
        }
        .visit_seq(seq)
    }
}

struct ItemsSeed<'f> {
    on_item: &'f mut dyn FnMut(Box<RawValue>) -> anyhow::Result<()>,
}

impl<'de> DeserializeSeed<'de> for ItemsSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of calls")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<Box<RawValue>>()? {
            (self.on_item)(item).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

/// Reads a whole source from a path, or stdin for `-`.
pub fn open_source(path: &str) -> anyhow::Result<(Box<dyn Read + Send>, Option<u64>)> {
    if path == "-" {
        return Ok((Box::new(std::io::stdin()), None));
    }
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("cannot open {path}: {e}"))?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok((Box::new(file), size))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every call (as its id) or rejection of a text, in file order.
    fn parse_all(text: &str) -> Vec<Result<(Position, i64), Rejection>> {
        let (tx, mut rx) = mpsc::channel(1024);
        read_source(Cursor::new(text.as_bytes().to_vec()), &tx).expect("readable");
        drop(tx);
        let mut out = Vec::new();
        while let Ok(chunk) = rx.try_recv() {
            match chunk {
                Chunk::Calls(calls) => out.extend(calls.into_iter().map(|(p, c)| Ok((p, c.id)))),
                Chunk::Rejected(rejection) => out.push(Err(rejection)),
            }
        }
        out.sort_by_key(|r| match r {
            Ok((Position::Line(n) | Position::Item(n), _)) => *n,
            Err(Rejection {
                position: Position::Line(n) | Position::Item(n),
                ..
            }) => *n,
        });
        out
    }

    const CALL: &str =
        r#"{"id":ID,"type":"web","status":"completed","created_at":"2024-01-15T10:30:00Z"}"#;

    fn call(id: i64) -> String {
        CALL.replace("ID", &id.to_string())
    }

    #[test]
    fn ndjson_with_blank_and_bad_lines() {
        let text = format!("\n{}\nnot json\n\n{}\n", call(1), call(2));
        let got = parse_all(&text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], Ok((Position::Line(2), 1)));
        assert!(matches!(
            &got[1],
            Err(Rejection {
                position: Position::Line(3),
                ..
            })
        ));
        assert_eq!(got[2], Ok((Position::Line(5), 2)));
    }

    #[test]
    fn documents_pretty_compact_and_bare() {
        let pretty = format!(
            "{{\n  \"current_page\": 1,\n  \"data\": [\n{},\n{}\n],\n \"total\": 2\n}}\n",
            call(1),
            call(2)
        );
        let compact = format!("{{\"data\":[{},{}],\"total\":2}}", call(1), call(2));
        let bare = format!("[{}, {}]", call(1), call(2));
        for text in [pretty, compact, bare] {
            assert_eq!(
                parse_all(&text),
                vec![Ok((Position::Item(0), 1)), Ok((Position::Item(1), 2))],
                "{text}"
            );
        }
    }
}
