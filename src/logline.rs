//! The text log line when stderr is not a terminal: the same shape as
//! `tracing_subscriber`'s default format without colours,
//!
//! `2026-11-22T00:03:54.746170Z  INFO request{request.id=… method=GET path=/api/user/calls user.id=1}: callbase::http::middleware: finished processing request latency=0 ms status=200`
//!
//! written with fewer steps: the default format painted every part through
//! `nu_ansi_term` even with colours off, and formatted the timestamp through
//! the general machinery: together ~8k instructions of a ~104k-instruction
//! read by id (callgrind). [`PlainFields`] does the same for the fields of
//! events and spans (~4k of an ~83k-instruction read by id).

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::domain::timefmt::rfc3339_bytes;

pub struct PlainText;

impl<S, N> FormatEvent<S, N> for PlainText
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut writer, SystemTime::now())?;
        // Records from the `log` crate (libraries that log through it) carry
        // their real target and level in fields; the default format shows those.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        writer.write_str(match *meta.level() {
            Level::ERROR => " ERROR ",
            Level::WARN => "  WARN ",
            Level::INFO => "  INFO ",
            Level::DEBUG => " DEBUG ",
            Level::TRACE => " TRACE ",
        })?;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                writer.write_str(span.name())?;
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    writer.write_char('{')?;
                    writer.write_str(fields)?;
                    writer.write_char('}')?;
                }
                writer.write_char(':')?;
            }
            writer.write_char(' ')?;
        }
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

/// The fields of [`PlainText`] lines: `name=value` pairs as
/// tracing-subscriber's `DefaultFields` writes them with colours off (the
/// message first and without its name, strings quoted, `log.*` fields left
/// out, ANSI escapes in messages and errors escaped), without painting every
/// name and `=` through `nu_ansi_term`, and with integers through `itoa`.
/// A test holds the two equal.
pub struct PlainFields;

impl<'writer> FormatFields<'writer> for PlainFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = PlainVisitor {
            sanitize: writer.sanitizes_ansi_escapes(),
            writer,
            is_empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct PlainVisitor<'a> {
    writer: Writer<'a>,
    sanitize: bool,
    is_empty: bool,
    result: fmt::Result,
}

impl PlainVisitor<'_> {
    /// Writes the separator and `name=`; `false` for fields not shown.
    fn start(&mut self, field: &Field) -> bool {
        if self.result.is_err() {
            return false;
        }
        let name = field.name();
        if name.starts_with("log.") {
            return false;
        }
        if self.is_empty {
            self.is_empty = false;
        } else if let Err(err) = self.writer.write_char(' ') {
            self.result = Err(err);
            return false;
        }
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self
                .writer
                .write_str(name)
                .and_then(|()| self.writer.write_char('='));
        }
        self.result.is_ok()
    }

    fn integer(&mut self, field: &Field, value: impl itoa::Integer) {
        if self.start(field) {
            self.result = self.writer.write_str(itoa::Buffer::new().format(value));
        }
    }
}

impl Visit for PlainVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.integer(field, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.integer(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field) {
            self.result = self.writer.write_str(if value { "true" } else { "false" });
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        let sanitize = self.sanitize;
        let text = Escaped(format_args!("{value}"), sanitize);
        match value.source() {
            Some(source) => self.record_debug(
                field,
                &format_args!(
                    "{text} {}.sources={}",
                    field.name(),
                    Sources(source, sanitize)
                ),
            ),
            None => self.record_debug(field, &format_args!("{text}")),
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let message = field.name() == "message";
        if self.start(field) {
            self.result = if message {
                write!(self.writer, "{:?}", Escaped(value, self.sanitize))
            } else {
                write!(self.writer, "{value:?}")
            };
        }
    }
}

/// A value written with terminal control characters escaped, as
/// tracing-subscriber escapes messages (log injection); text without any is
/// passed on whole.
struct Escaped<T>(T, bool);

impl<T: fmt::Debug> fmt::Debug for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 {
            write!(EscapingWriter(f), "{:?}", self.0)
        } else {
            write!(f, "{:?}", self.0)
        }
    }
}

impl<T: fmt::Display> fmt::Display for Escaped<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.1 {
            write!(EscapingWriter(f), "{}", self.0)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// `[cause, its cause, ...]`, each escaped.
struct Sources<'a>(&'a (dyn std::error::Error + 'static), bool);

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut current = Some(self.0);
        while let Some(error) = current {
            list.entry(&Escaped(format_args!("{error}"), self.1));
            current = error.source();
        }
        list.finish()
    }
}

struct EscapingWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl Write for EscapingWriter<'_, '_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // ESC, BEL, BS, FF and DEL, and the C1 controls U+0080..U+009F (in
        // UTF-8: 0xC2 then 0x80..0x9F).
        let plain = text
            .bytes()
            .all(|b| !matches!(b, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f | 0xc2));
        if plain {
            return self.0.write_str(text);
        }
        for ch in text.chars() {
            match ch {
                '\x1b' | '\x07' | '\x08' | '\x0c' | '\x7f' => {
                    write!(self.0, "\\x{:02x}", u32::from(ch))?;
                }
                '\u{80}'..='\u{9f}' => write!(self.0, "\\u{{{:x}}}", u32::from(ch))?,
                _ => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}

/// `2026-11-22T00:03:54.746170Z`: UTC, microseconds.
fn write_timestamp(writer: &mut impl Write, now: SystemTime) -> fmt::Result {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
    let Some(date) = rfc3339_bytes(seconds) else {
        return writer.write_str("????-??-??T??:??:??.??????Z");
    };
    // `...:SS` without the `Z`, then the fraction; all ASCII.
    let mut text = [0u8; 27];
    text[..19].copy_from_slice(&date[..19]);
    text[19] = b'.';
    let mut micros = since.subsec_micros();
    for slot in text[20..26].iter_mut().rev() {
        *slot = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    text[26] = b'Z';
    writer.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::*;

    #[test]
    fn timestamps_have_microseconds() {
        let mut text = String::new();
        let at = UNIX_EPOCH + Duration::new(1_705_314_600, 7_000);
        write_timestamp(&mut text, at).expect("formatting");
        assert_eq!(text, "2024-01-15T10:30:00.000007Z");
    }

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Sink {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("sink").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// What `events` logs, as `PlainText` writes it with `fields`.
    fn capture<N>(fields: N, events: impl FnOnce()) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(fields)
            .event_format(PlainText)
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8")
    }

    /// What `events` logs with [`PlainFields`], as the server writes it.
    fn lines(events: impl FnOnce()) -> String {
        capture(PlainFields, events)
    }

    #[derive(Debug)]
    struct Failure(&'static str, Option<Box<Failure>>);

    impl fmt::Display for Failure {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Failure {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    /// Every kind of field, written by `PlainFields` exactly as by the default.
    #[test]
    fn fields_read_like_the_default_fields() {
        let events = || {
            let span = tracing::info_span!(
                "request",
                request.id = %"r-1",
                method = %"GET",
                count = 3u64,
                user.id = tracing::field::Empty,
            );
            let _entered = span.enter();
            span.record("user.id", 42i64);
            let inner = tracing::info_span!("inner", r#type = "inbound", flag = true);
            let _inner = inner.enter();
            tracing::info!(latency = %format_args!("{} ms", 3), status = 200u16, "finished");
            tracing::warn!(
                negative = -7i64,
                text = "quote \" and \u{1b}[31m",
                debug = ?Some("x"),
                float = 1.5f64,
                "message with \u{1b}[2J escape \u{85} and \u{7}"
            );
            let nested = Failure("outer \u{1b}", Some(Box::new(Failure("inner", None))));
            tracing::error!(
                error = &nested as &(dyn std::error::Error + 'static),
                "failed"
            );
            let single = Failure("alone", None);
            tracing::error!(error = &single as &(dyn std::error::Error + 'static));
            tracing::info!("{} formatted {:?}", "message", "arg");
            tracing::info!(only = 1u8);
            tracing::info!(message = "named message", after = "x");
        };
        let ours = lines(events);
        let theirs = capture(
            tracing_subscriber::fmt::format::DefaultFields::new(),
            events,
        );
        assert_eq!(ours.lines().count(), 7, "{ours}");
        for (a, b) in ours.lines().zip(theirs.lines()) {
            assert_eq!(a[27..], b[27..]);
        }
        assert_eq!(ours.lines().count(), theirs.lines().count());
        // An escape in a message is shown, not sent to the terminal.
        assert!(
            ours.contains("message with \\x1b[2J escape \\u{85}"),
            "{ours}"
        );
    }

    /// Libraries logging through the `log` crate keep their target.
    #[test]
    fn log_crate_records_keep_their_target() {
        // Forwards `log` records to the current tracing dispatcher (once per
        // process; a second call fails harmlessly).
        let _ = tracing_log::LogTracer::init();
        let text = lines(|| log::warn!(target: "tokio_postgres::connection", "server notice"));
        // ... and the `log.*` fields that carry it are not repeated.
        assert!(
            text.ends_with("  WARN tokio_postgres::connection: server notice\n"),
            "{text}"
        );
    }

    /// Everything the default format shows (without colours), in its order.
    #[test]
    fn lines_read_like_the_default_format() {
        let text = lines(|| {
            let span = tracing::info_span!("request", request.id = "r-1", path = "/api");
            let _entered = span.enter();
            tracing::warn!(status = 503, "slow \"answer\"");
        });
        let (time, rest) = text.split_at(27);
        assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{text}");
        assert_eq!(
            rest,
            "  WARN request{request.id=\"r-1\" path=\"/api\"}: callbase::logline::tests: \
             slow \"answer\" status=503\n"
        );
    }
}
