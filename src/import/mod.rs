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

/// Calls per transaction, at most. Larger batches rewrite the indexes' pages
/// into the WAL less often: importing 400k calls took 10.3 s in batches of
/// 1,000, 7.7 s in batches of 5,000. A batch holds the database's write lock
/// for ~0.1 s.
pub const BATCH_SIZE: usize = 5000;

/// The first batch's size; each next one doubles, up to [`BATCH_SIZE`]. The
/// store writes a batch while the next is parsed: a small first batch starts
/// that overlap early (a 3,000-call file read as one batch of 5,000 took twice
/// as long as in batches of 1,000).
const FIRST_BATCH: usize = 1000;

/// A batch also ends past this many bytes of documents (transcripts and the
/// like), so that calls with long transcripts neither hold the write lock for
/// long nor pile up in memory.
const MAX_BATCH_BYTES: usize = 16 * 1024 * 1024;

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

/// What the reader thread hands to the writer: entries in file order, each a
/// valid call or the reason it is not one.
type Entry = (Position, Result<NewCall, String>);

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

/// Imports one source for a user. `report` sees every rejection, in file
/// order; `progress` sees the bytes read so far after each batch. A source
/// that cannot be read or parsed any further is an error; everything before
/// that point is imported first.
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
    // One batch waiting while one is written and the next is parsed: enough
    // to keep both threads busy; each more in flight only costs memory.
    let (tx, mut rx) = mpsc::channel::<Vec<Entry>>(1);
    let reader = tokio::task::spawn_blocking(move || read_source(counting, &tx));

    let mut summary = Summary::default();
    while let Some(batch) = rx.recv().await {
        // The calls move to the store (no copy); each line keeps its id for
        // the messages.
        let mut calls = Vec::with_capacity(batch.len());
        let mut lines = Vec::with_capacity(batch.len());
        for (position, entry) in batch {
            match entry {
                Ok(call) => {
                    lines.push((position, Ok(call.id)));
                    calls.push(call);
                }
                Err(reason) => lines.push((position, Err(reason))),
            }
        }
        let mut outcomes = store.import_calls(user_id, calls).await?.into_iter();
        for (position, entry) in lines {
            let reason = match entry {
                Err(reason) => reason,
                Ok(id) => match outcomes.next() {
                    Some(ImportOutcome::Inserted) => {
                        summary.imported += 1;
                        continue;
                    }
                    Some(ImportOutcome::Updated) => {
                        summary.updated += 1;
                        continue;
                    }
                    Some(ImportOutcome::Unchanged) => {
                        summary.unchanged += 1;
                        continue;
                    }
                    Some(ImportOutcome::ForeignId) => {
                        format!("id {id} belongs to another user's call")
                    }
                    None => anyhow::bail!("the store answered fewer outcomes than calls"),
                },
            };
            summary.rejected += 1;
            report(&Rejection { position, reason });
        }
        progress(bytes.load(Ordering::Relaxed));
    }
    reader.await??;
    Ok(summary)
}

/// Collects entries into batches of [`FIRST_BATCH`] calls, growing to
/// [`BATCH_SIZE`].
struct Batcher<'a> {
    tx: &'a mpsc::Sender<Vec<Entry>>,
    batch: Vec<Entry>,
    calls: usize,
    size: usize,
    bytes: usize,
}

impl Batcher<'_> {
    fn push(&mut self, position: Position, entry: Result<NewCall, String>) -> anyhow::Result<()> {
        self.calls += usize::from(entry.is_ok());
        self.bytes += entry.as_ref().map_or(0, |call| {
            // The documents, plus room for the short fields.
            [&call.transcript, &call.variables, &call.evaluation]
                .iter()
                .chain(call.webhook_response.as_ref().iter())
                .map(|doc| doc.as_str().len())
                .sum::<usize>()
                + 512
        });
        self.batch.push((position, entry));
        // Rejections count too, so a file of bad lines still streams.
        if self.calls >= self.size
            || self.batch.len() >= 4 * self.size
            || self.bytes >= MAX_BATCH_BYTES
        {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if !self.batch.is_empty() {
            let batch = std::mem::take(&mut self.batch);
            self.calls = 0;
            self.bytes = 0;
            self.size = (self.size * 2).min(BATCH_SIZE);
            self.tx
                .blocking_send(batch)
                .map_err(|_| anyhow::anyhow!("import stopped"))?;
        }
        Ok(())
    }
}

/// How a source is laid out.
#[derive(Debug, PartialEq, Eq)]
enum Format {
    Ndjson,
    Document,
}

/// Keys of a saved list page (Laravel's paginator); none is a Call field.
const DOCUMENT_KEYS: [&str; 13] = [
    "data",
    "current_page",
    "first_page_url",
    "from",
    "last_page",
    "last_page_url",
    "links",
    "next_page_url",
    "path",
    "per_page",
    "prev_page_url",
    "to",
    "total",
];

/// Decides the format from the first bytes: a `[`, or an object whose first
/// key belongs to a list page, is a document; anything else is NDJSON. Only a
/// short prefix is looked at, so a one-line document streams like any other.
/// The UTF-8 byte order mark some Windows tools write at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

fn detect(prefix: &[u8]) -> Option<Format> {
    let prefix = prefix.strip_prefix(BOM).unwrap_or(prefix);
    let mut rest = prefix.iter().skip_while(|b| b.is_ascii_whitespace());
    match rest.next() {
        None => None,
        Some(b'[') => Some(Format::Document),
        Some(b'{') => {
            let mut rest = rest.skip_while(|b| b.is_ascii_whitespace());
            match rest.next() {
                None => None,
                Some(b'"') => {
                    let key: Vec<u8> = rest.by_ref().take_while(|b| **b != b'"').copied().collect();
                    // An unfinished key (or one with escapes) is not a paginator key.
                    let is_page_key =
                        std::str::from_utf8(&key).is_ok_and(|k| DOCUMENT_KEYS.contains(&k));
                    if key.len() > 32 || is_page_key || rest.next().is_some() {
                        Some(if is_page_key {
                            Format::Document
                        } else {
                            Format::Ndjson
                        })
                    } else {
                        None
                    }
                }
                Some(_) => Some(Format::Ndjson),
            }
        }
        Some(_) => Some(Format::Ndjson),
    }
}

/// How much is read ahead to decide the format.
const DETECT_BYTES: usize = 64 * 1024;

/// Runs on a blocking thread: detects the format and feeds the batcher.
fn read_source<R: Read>(mut source: R, tx: &mpsc::Sender<Vec<Entry>>) -> anyhow::Result<()> {
    let mut prefix = Vec::new();
    let mut chunk = [0u8; 8192];
    let format = loop {
        let n = source.read(&mut chunk)?;
        prefix.extend_from_slice(&chunk[..n]);
        match detect(&prefix) {
            Some(format) => break format,
            None if n == 0 && prefix.iter().all(u8::is_ascii_whitespace) => return Ok(()), // empty input
            None if n == 0 || prefix.len() >= DETECT_BYTES => break Format::Ndjson,
            None => {}
        }
    };
    if prefix.starts_with(BOM) {
        prefix.drain(..BOM.len());
    }
    let input = std::io::BufReader::with_capacity(256 * 1024, Cursor::new(prefix).chain(source));
    let mut batcher = Batcher {
        tx,
        batch: Vec::with_capacity(FIRST_BATCH),
        calls: 0,
        size: FIRST_BATCH,
        bytes: 0,
    };
    let result = match format {
        Format::Document => read_document(input, &mut batcher),
        Format::Ndjson => read_lines(input, &mut batcher),
    };
    // What was read before a failure is still imported.
    let flushed = batcher.flush();
    result.and(flushed)
}

fn read_lines(mut input: impl BufRead, batcher: &mut Batcher<'_>) -> anyhow::Result<()> {
    let mut line = Vec::new();
    let mut number = 0u64;
    while let Some(fits) = read_bounded_line(&mut input, &mut line, MAX_LINE_BYTES)? {
        number += 1;
        let position = Position::Line(number);
        if !fits {
            batcher.push(
                position,
                Err(format!("line longer than {MAX_LINE_BYTES} bytes")),
            )?;
            continue;
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            batcher.push(position, Err("not valid UTF-8".to_owned()))?;
            continue;
        };
        let text = text.trim();
        if !text.is_empty() {
            batcher.push(position, record::parse_call(text))?;
        }
    }
    Ok(())
}

/// Reads one line into `line` (newline included). `None` at the end of input;
/// `Some(false)` when the line is longer than `max`: it is skipped without
/// being held in memory.
fn read_bounded_line(
    input: &mut impl BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let (mut seen, mut too_long) = (false, false);
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return Ok(seen.then_some(!too_long));
        }
        seen = true;
        let (end, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if !too_long {
            if line.len() + end > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(&available[..end]);
            }
        }
        input.consume(end);
        if done {
            return Ok(Some(!too_long));
        }
    }
}

fn read_document(input: impl Read, batcher: &mut Batcher<'_>) -> anyhow::Result<()> {
    let mut deserializer = serde_json::Deserializer::from_reader(input);
    let mut index = 0u64;
    let mut on_item = |item: Box<RawValue>| -> anyhow::Result<()> {
        let position = Position::Item(index);
        index += 1;
        // The same bound as an NDJSON line's, so that neither format stores a
        // call the API would not take (a transcript grows to 4 MiB at most).
        if item.get().len() > MAX_LINE_BYTES {
            return batcher.push(
                position,
                Err(format!("call longer than {MAX_LINE_BYTES} bytes")),
            );
        }
        batcher.push(position, record::parse_call(item.get()))
    };
    DocumentSeed {
        on_item: &mut on_item,
    }
    .deserialize(&mut deserializer)
    .map_err(|e| anyhow::anyhow!("the file is not valid JSON: {e}"))?;
    deserializer
        .end()
        .map_err(|e| anyhow::anyhow!("unexpected content after the JSON document: {e}"))?;
    Ok(())
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
                // `on_item` moved into the seed: read the rest without it. A
                // second `data` would otherwise be dropped without a word.
                while let Some(key) = map.next_key::<String>()? {
                    if key == "data" {
                        return Err(de::Error::custom(
                            "the document has more than one \"data\" array",
                        ));
                    }
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
    fn parse_all(text: &[u8]) -> Vec<Result<(Position, i64), Rejection>> {
        let (tx, mut rx) = mpsc::channel(1024);
        read_source(Cursor::new(text.to_vec()), &tx).expect("readable");
        drop(tx);
        let mut out = Vec::new();
        while let Ok(batch) = rx.try_recv() {
            for (position, entry) in batch {
                out.push(match entry {
                    Ok(call) => Ok((position, call.id)),
                    Err(reason) => Err(Rejection { position, reason }),
                });
            }
        }
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
        let got = parse_all(text.as_bytes());
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
                parse_all(text.as_bytes()),
                vec![Ok((Position::Item(0), 1)), Ok((Position::Item(1), 2))],
                "{text}"
            );
        }
    }

    #[test]
    fn broken_bytes_and_cut_lines_only_cost_their_line() {
        let mut text = call(1).into_bytes();
        text.extend_from_slice(b"\n\xff\xfe\n{\"id\":7,\"type\":\"web\",\"status\":\"comp\n");
        text.extend_from_slice(call(2).as_bytes());
        let got = parse_all(&text);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Ok((Position::Line(1), 1)));
        assert_eq!(
            got[1],
            Err(Rejection {
                position: Position::Line(2),
                reason: "not valid UTF-8".to_owned()
            })
        );
        assert!(matches!(
            &got[2],
            Err(Rejection {
                position: Position::Line(3),
                ..
            })
        ));
        assert_eq!(got[3], Ok((Position::Line(4), 2)));
        // A first line cut short is one bad line, not a broken document.
        let cut = format!("{{\"id\":7,\"type\"\n{}\n", call(3));
        let got = parse_all(cut.as_bytes());
        assert!(matches!(
            &got[0],
            Err(Rejection {
                position: Position::Line(1),
                ..
            })
        ));
        assert_eq!(got[1], Ok((Position::Line(2), 3)));
    }

    #[test]
    fn overlong_lines_are_skipped_without_holding_them() {
        let mut input = Cursor::new(format!("{}\n{}\n", "x".repeat(100), call(5)).into_bytes());
        let mut line = Vec::new();
        assert_eq!(
            read_bounded_line(&mut input, &mut line, 50).expect("read"),
            Some(false)
        );
        assert!(line.is_empty());
        assert_eq!(
            read_bounded_line(&mut input, &mut line, 500).expect("read"),
            Some(true)
        );
        assert_eq!(line, format!("{}\n", call(5)).into_bytes());
        assert_eq!(
            read_bounded_line(&mut input, &mut line, 500).expect("read"),
            None
        );
    }

    #[test]
    fn formats_are_told_apart_by_their_first_key() {
        assert_eq!(detect(b"  [{"), Some(Format::Document));
        assert_eq!(detect(b"{\n  \"current_page\": 1"), Some(Format::Document));
        assert_eq!(detect(b"{\"data\":["), Some(Format::Document));
        assert_eq!(detect(b"{\"id\":1,"), Some(Format::Ndjson));
        assert_eq!(detect(b"{\"status\":\"x\"}"), Some(Format::Ndjson));
        assert_eq!(detect(b"not json"), Some(Format::Ndjson));
        assert_eq!(
            detect(b"{\n  \"da"),
            None,
            "undecided until the key is complete"
        );
        assert_eq!(detect(b"   "), None);
    }
}
