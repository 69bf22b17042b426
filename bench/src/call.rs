//! One generated call, in the import format (the contract's Call object).

use std::borrow::Cow;

use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::corpus::{FIRST_NAMES, LAST_NAMES, Language};
use crate::tenants::{CallType, Tenant};

#[derive(Serialize)]
pub struct Call<'a> {
    id: u64,
    assistant_name: &'a str,
    campaign_name: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
    duration: i64,
    assistant_phone_number: Option<&'a str>,
    client_phone_number: Option<String>,
    status: &'static str,
    transcript: Vec<Segment>,
    variables: Value,
    evaluation: Vec<Evaluation>,
    webhook_response: Option<Value>,
    // Raw so that the file says exactly `0.01466667`, never a float's rounding.
    carrier_cost: Option<Box<RawValue>>,
    total_cost: Option<Box<RawValue>>,
    answered_by: Option<&'static str>,
    recording_url: Option<String>,
    created_at: String,
    updated_at: String,
    /// The reference number the caller gave, if any: a word in almost no
    /// other call (the rare words of the search scenarios).
    #[serde(skip)]
    pub reference: Option<u64>,
}

#[derive(Serialize)]
struct Segment {
    text: Cow<'static, str>,
    #[serde(rename = "type")]
    kind: &'static str,
    sender: &'static str,
    timestamp: f64,
}

#[derive(Serialize)]
struct Evaluation {
    name: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    value: Value,
    description: &'static str,
}

/// Completed is the most common outcome; calls still under way (initiated,
/// ringing, in-progress) are rare, as are stale records whose webhook never came.
const STATUSES: [(&str, u32); 10] = [
    ("completed", 46),
    ("ended_by_customer", 12),
    ("ended_by_assistant", 7),
    ("ended", 5),
    ("no-answer", 11),
    ("busy", 6),
    ("failed", 4),
    ("initiated", 3),
    ("ringing", 3),
    ("in-progress", 3),
];

fn pick_status(rng: &mut StdRng) -> &'static str {
    let mut roll = rng.random_range(0..100);
    for (status, weight) in STATUSES {
        if roll < weight {
            return status;
        }
        roll -= weight;
    }
    "completed"
}

/// Builds call `id` of `tenant`, created at `created_at` (Unix seconds).
pub fn generate<'a>(rng: &mut StdRng, tenant: &'a Tenant, id: u64, created_at: i64) -> Call<'a> {
    let assistant = tenant.pick_assistant(rng);
    let lang = assistant.language;
    let status = pick_status(rng);
    let connected = matches!(
        status,
        "completed" | "ended_by_customer" | "ended_by_assistant" | "ended" | "in-progress"
    );
    let finished = !matches!(status, "initiated" | "ringing" | "in-progress");
    let campaign = match assistant.call_type {
        CallType::Outbound if rng.random_ratio(4, 5) => {
            tenant.campaigns.choose(rng).map(String::as_str)
        }
        _ => None,
    };
    let client_phone = (assistant.call_type != CallType::Web).then(|| {
        let k = rng.random_range(0..tenant.phone_pool);
        tenant.client_phone(k, lang.code == "de")
    });

    let segments = if connected {
        rng.random_range(2..=24)
    } else {
        0
    };
    let mut clock = created_at as f64 + 1.5 + f64::from(rng.random_range(0..1_000_000u32)) / 1e6;
    let mut transcript = Vec::with_capacity(segments);
    // A quarter of the callers who talk give a reference number, once.
    let mut reference = (segments >= 2 && rng.random_ratio(1, 4))
        .then(|| rng.random_range(1_000_000..10_000_000u64));
    let given = reference;
    for s in 0..segments {
        let bot = s % 2 == 0;
        let lines = match (bot, s) {
            (true, 0) if assistant.call_type == CallType::Outbound => lang.outbound_openings,
            (true, 0) => lang.inbound_openings,
            (true, _) if s + 2 >= segments => lang.closings,
            (true, _) => lang.bot,
            (false, _) => lang.human,
        };
        let line = lines.choose(rng).copied().unwrap_or("");
        // The caller's first line gives it.
        let text = match reference.filter(|_| !bot) {
            Some(number) => {
                reference = None;
                Cow::Owned(format!("{} {number}.", lang.reference))
            }
            None => Cow::Borrowed(line),
        };
        transcript.push(Segment {
            text,
            kind: "transcript",
            sender: if bot { "bot" } else { "human" },
            timestamp: (clock * 1e6).round() / 1e6,
        });
        clock += 2.0 + f64::from(rng.random_range(0..6_000_000u32)) / 1e6;
    }
    let duration = if connected {
        (clock - created_at as f64) as i64 + rng.random_range(1..10)
    } else {
        0
    };
    let success = connected && rng.random_ratio(3, 5);
    let variables = if connected {
        variables(rng, lang, success)
    } else {
        json!({})
    };
    let evaluation = if connected && finished {
        evaluation(rng, lang, success)
    } else {
        Vec::new()
    };
    // Costs in units of 1e-8: a per-second carrier rate, plus the platform's fee.
    let carrier = duration * 20_000 + if connected { 500_000 } else { 0 };
    let total = carrier + duration * 150_000 + 2_000_000;
    let updated_at = created_at + duration + if finished { rng.random_range(1..30) } else { 0 };

    Call {
        id,
        assistant_name: &assistant.name,
        campaign_name: campaign,
        kind: assistant.call_type.as_str(),
        duration,
        assistant_phone_number: assistant.phone.as_deref(),
        client_phone_number: client_phone,
        status,
        transcript,
        variables,
        evaluation,
        webhook_response: (status == "completed" && rng.random_ratio(1, 2)).then(|| {
            json!({"ok": true, "crm_id": format!("CRM-{:07}", rng.random_range(0..10_000_000)),
                   "lead_score": rng.random_range(10..100)})
        }),
        carrier_cost: finished.then(|| money(carrier)),
        total_cost: finished.then(|| money(total)),
        answered_by: match status {
            _ if connected && rng.random_ratio(1, 12) => Some("machine"),
            _ if connected => Some("human"),
            "no-answer" if rng.random_ratio(1, 3) => Some("unknown"),
            _ => None,
        },
        recording_url: (connected && finished).then(|| {
            format!(
                "https://recordings.example.com/t{}/call-{id}.mp3",
                tenant.index + 1
            )
        }),
        created_at: rfc3339(created_at),
        updated_at: rfc3339(updated_at),
        reference: given,
    }
}

fn variables(rng: &mut StdRng, lang: &Language, success: bool) -> Value {
    let first = FIRST_NAMES.choose(rng).copied().unwrap_or("Alex");
    let last = LAST_NAMES.choose(rng).copied().unwrap_or("Smith");
    json!({
        "customer_name": format!("{first} {last}"),
        "language": lang.code,
        "interested": success,
        "callback_requested": rng.random_ratio(1, 4),
        "customer_id": rng.random_range(100_000..1_000_000),
    })
}

fn evaluation(rng: &mut StdRng, lang: &Language, success: bool) -> Vec<Evaluation> {
    vec![
        Evaluation {
            name: "status",
            kind: "bool",
            value: success.into(),
            description: "Whether the call objective was achieved or not.",
        },
        Evaluation {
            name: "summary",
            kind: "string",
            value: lang.summaries.choose(rng).copied().unwrap_or("").into(),
            description: "Call summary in a few words.",
        },
        Evaluation {
            name: "satisfaction_rating",
            kind: "integer",
            value: rng.random_range(if success { 6..11 } else { 1..7 }).into(),
            description: "Customer satisfaction rating from 1-10.",
        },
        Evaluation {
            name: "sentiment_score",
            kind: "number",
            value: json!(f64::from(rng.random_range(-100..=100i32)) / 100.0),
            description: "Overall sentiment of the caller from -1 to 1.",
        },
    ]
}

/// `units` of 1e-8 as an exact decimal JSON number, trailing zeros trimmed.
fn money(units: i64) -> Box<RawValue> {
    let text = format!("{}.{:08}", units / 100_000_000, units % 100_000_000);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    // Always valid JSON: digits, at most one dot.
    RawValue::from_string(text.to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// Unix seconds as `2024-01-15T10:30:00Z` (proleptic Gregorian, UTC).
pub fn rfc3339(unix: i64) -> String {
    let (date, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        ymd(date),
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Days since 1970-01-01 as `YYYY-MM-DD` (Howard Hinnant's civil_from_days).
pub fn ymd(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}
