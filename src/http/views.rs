//! Wire shapes: the Call object and Laravel's paginator envelope, written
//! straight into a byte buffer. Stored JSON documents (transcript, variables,
//! ...) are copied as they are, so they come back byte for byte and a page is
//! rendered without re-parsing them.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::domain::listing::FieldSet;
use crate::domain::pagination::{PageMeta, WindowItem};
use crate::domain::timefmt::{format_rfc3339, rfc3339_bytes};
use crate::domain::{CallRecord, CallView, Money};

/// A JSON document under construction. Callers keep it well-formed.
#[derive(Default)]
pub struct JsonBuf(Vec<u8>);

impl JsonBuf {
    pub fn with_capacity(bytes: usize) -> Self {
        Self(Vec::with_capacity(bytes))
    }

    pub fn raw(&mut self, text: &str) {
        self.0.extend_from_slice(text.as_bytes());
    }

    /// `"key":` preceded by a comma unless it opens the object.
    /// `"key":` preceded by a comma unless it opens the object. Keys are
    /// this program's own literals, which need no escaping.
    pub fn key(&mut self, key: &'static str) {
        debug_assert!(!needs_escape(key), "{key}");
        if !matches!(self.0.last(), Some(b'{')) {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    pub fn string(&mut self, text: &str) {
        // Most strings (names, numbers, dates, URLs) need no escaping: copied
        // as they are; a per-call serializer showed as ~10% of a list page.
        if needs_escape(text) {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut self.0, text);
        } else {
            self.0.push(b'"');
            self.0.extend_from_slice(text.as_bytes());
            self.0.push(b'"');
        }
    }

    /// JSON stored by callbase (a compact document), copied as it is.
    pub fn raw_bytes(&mut self, json: &[u8]) {
        self.0.extend_from_slice(json);
    }

    pub fn opt_string(&mut self, text: Option<&str>) {
        match text {
            Some(text) => self.string(text),
            None => self.raw("null"),
        }
    }

    pub fn number(&mut self, n: impl itoa::Integer) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    pub fn money(&mut self, amount: Option<Money>) {
        match amount {
            Some(amount) => amount.write_to(&mut self.0),
            None => self.raw("null"),
        }
    }

    /// Unix seconds as an RFC 3339 string.
    pub fn timestamp(&mut self, unix: i64) {
        match rfc3339_bytes(unix) {
            Some(bytes) => {
                self.0.push(b'"');
                self.0.extend_from_slice(&bytes);
                self.0.push(b'"');
            }
            None => self.string(&format_rfc3339(unix)),
        }
    }

    /// `"{base}{page}"`: a page URL, whose base is percent-encoded already
    /// (checked once per answer by the caller: `base_is_plain`).
    fn page_url(&mut self, base: &str, base_is_plain: bool, page: u64) {
        if base_is_plain {
            self.0.push(b'"');
            self.0.extend_from_slice(base.as_bytes());
            self.number(page);
            self.0.push(b'"');
        } else {
            self.string(&format!("{base}{page}"));
        }
    }

    /// Any serde value (small, non-hot pieces).
    pub fn serde(&mut self, value: &impl serde::Serialize) {
        let _ = serde_json::to_writer(&mut self.0, value);
    }

    /// Takes back the `}` that closed an object, to add keys to it.
    pub fn reopen_object(&mut self) {
        if self.0.last() == Some(&b'}') {
            self.0.pop();
        }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

/// True when JSON needs some of `text` escaped: quotes, backslashes,
/// control characters.
fn needs_escape(text: &str) -> bool {
    text.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20)
}

/// The Call object (CONTRACT §2), fields in the contract's order.
pub fn write_call(out: &mut JsonBuf, call: &CallRecord) {
    write_call_view(out, &call.view());
}

/// [`write_call`] from borrowed fields.
pub fn write_call_view(out: &mut JsonBuf, call: &CallView<'_>) {
    write_call_fields(out, call, FieldSet::ALL);
}

/// The Call object with only `fields` (`id` always), in the contract's
/// order.
///
/// The keys, with their punctuation, and the enum values are literals that
/// need no escaping, so they are copied; so are the stored documents, which
/// are compact JSON already. (Field `i` is `CALL_FIELDS[i]`.)
pub fn write_call_fields(out: &mut JsonBuf, call: &CallView<'_>, fields: FieldSet) {
    let quoted = |out: &mut JsonBuf, text: &str| {
        debug_assert!(!needs_escape(text), "{text}");
        out.0.push(b'"');
        out.raw(text);
        out.0.push(b'"');
    };
    let has = |i: usize| fields.contains(i);
    out.raw("{\"id\":");
    out.number(call.id);
    if has(1) {
        out.raw(",\"assistant_name\":");
        out.opt_string(call.assistant_name);
    }
    if has(2) {
        out.raw(",\"campaign_name\":");
        out.opt_string(call.campaign_name);
    }
    if has(3) {
        out.raw(",\"type\":");
        quoted(out, call.call_type.as_str());
    }
    if has(4) {
        out.raw(",\"duration\":");
        out.number(call.duration);
    }
    if has(5) {
        out.raw(",\"assistant_phone_number\":");
        out.opt_string(call.assistant_phone_number);
    }
    if has(6) {
        out.raw(",\"client_phone_number\":");
        out.opt_string(call.client_phone_number);
    }
    if has(7) {
        out.raw(",\"status\":");
        quoted(out, call.status.as_str());
    }
    if has(8) {
        out.raw(",\"transcript\":");
        out.raw_bytes(call.transcript);
    }
    if has(9) {
        out.raw(",\"variables\":");
        out.raw_bytes(call.variables);
    }
    if has(10) {
        out.raw(",\"evaluation\":");
        out.raw_bytes(call.evaluation);
    }
    if has(11) {
        out.raw(",\"webhook_response\":");
        out.raw_bytes(call.webhook_response.unwrap_or(b"null"));
    }
    if has(12) {
        out.raw(",\"carrier_cost\":");
        out.money(call.carrier_cost);
    }
    if has(13) {
        out.raw(",\"total_cost\":");
        out.money(call.total_cost);
    }
    if has(14) {
        out.raw(",\"answered_by\":");
        match call.answered_by {
            Some(answered_by) => quoted(out, answered_by.as_str()),
            None => out.raw("null"),
        }
    }
    if has(15) {
        out.raw(",\"recording_url\":");
        out.opt_string(call.recording_url);
    }
    if has(16) {
        out.raw(",\"created_at\":");
        out.timestamp(call.created_at);
    }
    if has(17) {
        out.raw(",\"updated_at\":");
        out.timestamp(call.updated_at);
    }
    out.raw("}");
}

/// Laravel's `Arr::query` encodes with `PHP_QUERY_RFC3986`: everything but
/// letters, digits and `-_.~` is percent-encoded (a space is `%20`).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Where a paginated list lives and which request parameters its page URLs keep.
pub struct PageUrls<'a> {
    /// Public base URL plus the route, e.g. `https://calls.example.com/api/user/calls`.
    pub path: String,
    /// The request's parameters as sent (filters, `per_page`), in their order.
    pub keep: &'a [(String, String)],
    /// The page size in effect; written as `per_page` when the request had none.
    pub per_page: u64,
}

impl PageUrls<'_> {
    pub fn url(&self, page: u64) -> String {
        let mut url = self.base();
        url.push_str(&page.to_string());
        url
    }

    /// Every page URL up to the page number (`...&page=`): encoded once per
    /// answer, not once for each of the dozen links.
    fn base(&self) -> String {
        let mut url = query_url(&self.path, self.keep);
        if !self.keep.iter().any(|(key, _)| key == "per_page") {
            push_pair(&mut url, "per_page", &self.per_page.to_string());
        }
        url.push_str("page=");
        url
    }
}

fn push_pair(url: &mut String, key: &str, value: &str) {
    url.extend(utf8_percent_encode(key, QUERY_VALUE));
    url.push('=');
    url.extend(utf8_percent_encode(value, QUERY_VALUE));
    url.push('&');
}

/// `path?k=v&...&` with the parameters encoded as Laravel's `Arr::query`
/// does, ready for one more parameter.
pub fn query_url(path: &str, keep: &[(String, String)]) -> String {
    let mut url = format!("{path}?");
    for (key, value) in keep {
        push_pair(&mut url, key, value);
    }
    url
}

/// Laravel's length-aware paginator (CONTRACT §3); `data` writes the rows.
pub fn write_paginator(
    out: &mut JsonBuf,
    meta: &PageMeta,
    urls: &PageUrls<'_>,
    data: impl FnOnce(&mut JsonBuf),
) {
    write_paginator_head(out, meta.current_page);
    data(out);
    write_paginator_tail(out, meta, urls);
}

/// The paginator up to the opening of `data`: all that is known before the
/// rows are read, so a list can write its rows straight after it.
pub fn write_paginator_head(out: &mut JsonBuf, current_page: u64) {
    out.raw("{");
    out.key("current_page");
    out.number(current_page);
    out.key("data");
    out.raw("[");
}

/// The paginator from the end of `data` on.
pub fn write_paginator_tail(out: &mut JsonBuf, meta: &PageMeta, urls: &PageUrls<'_>) {
    let base = urls.base();
    let plain = !needs_escape(&base);
    let url = |out: &mut JsonBuf, page: Option<u64>| match page {
        Some(page) => out.page_url(&base, plain, page),
        None => out.raw("null"),
    };
    let opt_number = |out: &mut JsonBuf, n: Option<u64>| match n {
        Some(n) => out.number(n),
        None => out.raw("null"),
    };
    let (prev, next) = (meta.prev_page(), meta.next_page());
    let from_to = meta.from_to();
    // Each link is `{"url":…,"label":…,"active":…}`.
    let link = |out: &mut JsonBuf, page: Option<u64>, label: &dyn Fn(&mut JsonBuf), active| {
        out.raw("{\"url\":");
        url(out, page);
        out.raw(",\"label\":");
        label(out);
        out.raw(if active {
            ",\"active\":true}"
        } else {
            ",\"active\":false}"
        });
    };

    out.raw("],\"first_page_url\":");
    url(out, Some(1));
    out.raw(",\"from\":");
    opt_number(out, from_to.map(|(from, _)| from));
    out.raw(",\"last_page\":");
    out.number(meta.last_page());
    out.raw(",\"last_page_url\":");
    url(out, Some(meta.last_page()));
    out.raw(",\"links\":[");
    link(out, prev, &|out| out.raw("\"&laquo; Previous\""), false);
    for item in meta.window() {
        out.raw(",");
        match item {
            WindowItem::Page(n) => {
                let label = |out: &mut JsonBuf| {
                    out.raw("\"");
                    out.number(n);
                    out.raw("\"");
                };
                link(out, Some(n), &label, n == meta.current_page);
            }
            WindowItem::Gap => link(out, None, &|out| out.raw("\"...\""), false),
        }
    }
    out.raw(",");
    link(out, next, &|out| out.raw("\"Next &raquo;\""), false);
    out.raw("],\"next_page_url\":");
    url(out, next);
    out.raw(",\"path\":");
    out.string(&urls.path);
    out.raw(",\"per_page\":");
    out.number(meta.per_page);
    out.raw(",\"prev_page_url\":");
    url(out, prev);
    out.raw(",\"to\":");
    opt_number(out, from_to.map(|(_, to)| to));
    out.raw(",\"total\":");
    out.number(meta.total);
    out.raw("}");
}

#[cfg(test)]
mod tests {
    use super::JsonBuf;

    #[test]
    fn strings_are_escaped_exactly_when_needed() {
        for text in [
            "plain",
            "Müller & Söhne",
            "say \"hi\"",
            "back\\slash",
            "tab\there",
            "line\nbreak",
            "\u{1}",
            "",
        ] {
            let mut out = JsonBuf::default();
            out.string(text);
            let expected = serde_json::to_string(text).unwrap_or_default();
            assert_eq!(String::from_utf8(out.0).unwrap_or_default(), expected);
        }
    }
}
