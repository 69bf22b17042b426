//! The text log line when stderr is not a terminal: the same shape as
//! `tracing_subscriber`'s default format without colours,
//!
//! `2026-11-22T00:03:54.746170Z  INFO request{request.id=… method=GET path=/api/user/calls user.id=1}: tower_http::trace::on_response: finished processing request latency=0 ms status=200`
//!
//! written with fewer steps: the default format painted every part through
//! `nu_ansi_term` even with colours off, and formatted the timestamp through
//! the general machinery: together ~8k instructions of a ~104k-instruction
//! read by id (callgrind).

use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::{Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
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

    /// What `events` logs, as `PlainText` writes it.
    fn lines(events: impl FnOnce()) -> String {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .event_format(PlainText)
            .finish();
        tracing::subscriber::with_default(subscriber, events);
        String::from_utf8(sink.0.lock().expect("sink").clone()).expect("utf-8")
    }

    /// Libraries logging through the `log` crate keep their target.
    #[test]
    fn log_crate_records_keep_their_target() {
        // Forwards `log` records to the current tracing dispatcher (once per
        // process; a second call fails harmlessly).
        let _ = tracing_log::LogTracer::init();
        let text = lines(|| log::warn!(target: "tokio_postgres::connection", "server notice"));
        assert!(
            text.contains("  WARN tokio_postgres::connection: server notice"),
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
