//! `GET /api/user/calls/export` (CONTRACT §10): every matching call, streamed
//! as NDJSON (each line the Call object of `GET /api/user/calls/{id}`) or as
//! CSV (RFC 4180, a header row, formula cells guarded).

use std::convert::Infallible;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tokio::sync::mpsc;

use super::AppState;
use super::auth::CurrentUser;
use super::calls::query_pairs;
use super::error::ApiError;
use super::views::{JsonBuf, write_call_view};
use crate::domain::export::{ExportFormat, guard_formula, parse_export};
use crate::domain::listing::CALL_FIELDS;
use crate::domain::search::matches::segments;
use crate::domain::timefmt::{format_rfc3339, now_unix};
use crate::domain::{CallView, Money};
use crate::store::export::{Chunks, Encoder};

/// Chunks in flight between the store and the socket: with [`CHUNK_BYTES`]
/// each, the bound on an export's memory.
///
/// [`CHUNK_BYTES`]: crate::store::export::CHUNK_BYTES
const IN_FLIGHT: usize = 4;

#[tracing::instrument(skip_all, fields(user.id = user.0))]
pub async fn export(
    State(state): State<AppState>,
    Extension(user): Extension<CurrentUser>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(query.as_deref());
    let query = parse_export(&pairs)?;
    let (sender, mut receiver) = mpsc::channel::<Vec<u8>>(IN_FLIGHT);
    let (head, encoder) = encoder(query.format);
    // The channel is empty: this cannot wait.
    let _ = sender.try_send(head);
    let chunks = Chunks::new(encoder, sender);
    let store = state.store.clone();
    let (user_id, filter, sort) = (user.0, query.filter, query.sort);
    // The read runs beside the response; a client that goes away drops the
    // body, so the channel closes and the read stops at its next chunk.
    tokio::spawn(async move {
        match store.export_calls(user_id, filter, sort, chunks).await {
            Ok(calls) => tracing::info!(user.id = user_id, calls, "export written"),
            Err(error) => tracing::error!(user.id = user_id, %error, "export failed midway"),
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| {
        receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok::<_, Infallible>(Bytes::from(c))))
    });
    let filename = format!(
        "attachment; filename=\"calls-{}.{}\"",
        &format_rfc3339(now_unix())[..10],
        query.format.extension()
    );
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(query.format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// What an export in `format` starts with (CSV's header row), and how it
/// writes each call; the CLI's `callbase export` writes the same.
pub fn encoder(format: ExportFormat) -> (Vec<u8>, Encoder) {
    match format {
        ExportFormat::Ndjson => (Vec::new(), Box::new(ndjson_line)),
        ExportFormat::Csv => {
            let mut header = Vec::new();
            // The columns: the Call object's fields, in its order (CONTRACT §2).
            csv_record(&mut header, CALL_FIELDS.iter().map(|h| (*h).to_owned()));
            (header, Box::new(csv_line))
        }
    }
}

fn ndjson_line(call: &CallView<'_>, out: &mut Vec<u8>) {
    let mut json = JsonBuf::with_capacity(4096);
    write_call_view(&mut json, call);
    out.extend_from_slice(json.as_bytes());
    out.push(b'\n');
}

/// One record, CRLF-terminated, quoted where RFC 4180 needs it.
fn csv_record(out: &mut Vec<u8>, cells: impl IntoIterator<Item = String>) {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    // Writing into a Vec cannot fail.
    let _ = writer.write_record(cells.into_iter().map(|c| guard_formula(&c).into_owned()));
    let _ = writer.flush();
}

/// The transcript as `sender: text` lines.
fn transcript_lines(transcript: &[u8]) -> String {
    segments(transcript)
        .iter()
        .map(|s| format!("{}: {}", s.sender, s.text))
        .collect::<Vec<_>>()
        .join("\n")
}

fn money(amount: Option<Money>) -> String {
    amount.map_or_else(String::new, |m| m.to_string())
}

fn csv_line(call: &CallView<'_>, out: &mut Vec<u8>) {
    let text = |s: Option<&str>| s.unwrap_or_default().to_owned();
    let json = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    csv_record(
        out,
        [
            call.id.to_string(),
            text(call.assistant_name),
            text(call.campaign_name),
            call.call_type.as_str().to_owned(),
            call.duration.to_string(),
            text(call.assistant_phone_number),
            text(call.client_phone_number),
            call.status.as_str().to_owned(),
            transcript_lines(call.transcript),
            json(call.variables),
            json(call.evaluation),
            call.webhook_response.map(json).unwrap_or_default(),
            money(call.carrier_cost),
            money(call.total_cost),
            call.answered_by
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
            text(call.recording_url),
            format_rfc3339(call.created_at),
            format_rfc3339(call.updated_at),
        ],
    );
}
