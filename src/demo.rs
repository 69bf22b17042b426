//! `serve --demo`: a demo user, a token and about 2,000 realistic calls
//! (German and English, every status and type, several assistants and
//! campaigns, spread over the last 90 days), so the API can be tried at once.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use crate::domain::timefmt::now_unix;
use crate::domain::{AnsweredBy, CallStatus, CallType, JsonText, Money, NewCall};
use crate::store::{AssistantFields, CampaignFields, Store, StoreError, User};

pub const DEMO_EMAIL: &str = "demo@callbase.local";
const DEMO_CALLS: usize = 2000;

/// What `--demo` did, for the instructions it prints.
pub struct Demo {
    pub user: Option<User>,
    pub token: Option<String>,
    pub calls: u64,
    pub note: Option<String>,
}

impl Demo {
    /// The text printed on start-up: the token and a curl to paste.
    pub fn instructions(&self, public_url: &str) -> String {
        let mut text = String::from("\ncallbase demo\n");
        if let Some(note) = &self.note {
            text.push_str(&format!("  {note}\n"));
        }
        if let Some(user) = &self.user {
            text.push_str(&format!("  user:  {} ({} calls)\n", user.email, self.calls));
        }
        if let Some(token) = &self.token {
            text.push_str(&format!("  token: {token}\n\n  try:\n"));
            text.push_str(&format!(
                "    curl -s -H 'Authorization: Bearer {token}' '{public_url}/api/user/calls?status=completed&per_page=2'\n"
            ));
        }
        text
    }
}

/// Seeds the demo on an empty database. On a database that has data it adds
/// nothing: it reuses the demo user and calls if they are there (with a fresh
/// token, since only hashes of the old ones exist), and otherwise just says so.
///
/// Whether the demo user exists and whether anyone else does are read from one
/// snapshot (one list of the users): with two reads, a node started next to
/// another could miss the demo user in the first, see it in the second and
/// take it for someone else's data (it then printed no token).
pub async fn ensure(store: &dyn Store) -> anyhow::Result<Demo> {
    let users = store.list_users().await?;
    // Emails are unique whatever their ASCII case, as the stores compare them.
    let demo_user = users
        .iter()
        .find(|user| user.email.eq_ignore_ascii_case(DEMO_EMAIL))
        .cloned();
    let (user, note) = match demo_user {
        Some(user) => (
            user,
            Some("reusing the demo data already in this database".to_owned()),
        ),
        None if !users.is_empty() => {
            return Ok(Demo {
                user: None,
                token: None,
                calls: 0,
                note: Some(
                    "this database already has users, so no demo data was added; \
                     use `callbase tokens create --user EMAIL` for a token"
                        .to_owned(),
                ),
            });
        }
        None => match store.create_user(DEMO_EMAIL, "Demo User").await {
            Ok(user) => {
                // Created first, in one order: imports hand out ids in an
                // order of their own (PostgreSQL's sorts names), and the
                // README's examples name these ids on either backend.
                for assistant in &ASSISTANTS {
                    let fields = AssistantFields::named(assistant.name);
                    let secret = crate::webhook::generate_secret();
                    store.create_assistant(user.id, fields, secret).await?;
                }
                for name in CAMPAIGNS_DE {
                    let fields = CampaignFields {
                        name: name.to_owned(),
                        status: "active".to_owned(),
                    };
                    store.create_campaign(user.id, fields).await?;
                }
                let calls = generate(DEMO_CALLS, now_unix(), 42);
                for batch in calls.chunks(500) {
                    store.import_calls(user.id, batch.to_vec()).await?;
                }
                (user, None)
            }
            // Several nodes started with --demo on one empty database: one
            // seeds, the others reuse what it made.
            Err(StoreError::Conflict(_)) => {
                let user = store.find_user_by_email(DEMO_EMAIL).await?.ok_or_else(|| {
                    anyhow::anyhow!("the demo user was created elsewhere but cannot be found")
                })?;
                (
                    user,
                    Some("another process is seeding the demo data; reusing it".to_owned()),
                )
            }
            Err(err) => return Err(err.into()),
        },
    };
    let (_, token) =
        crate::token::issue(store, &user, "demo", None, crate::store::Scope::Write).await?;
    let calls = store.count_user_calls(user.id).await?;
    Ok(Demo {
        user: Some(user),
        token: Some(token),
        calls,
        note,
    })
}

#[derive(Serialize)]
struct Segment<'a> {
    text: &'a str,
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
    value: serde_json::Value,
    description: &'static str,
}

struct Assistant {
    name: &'static str,
    phone: Option<&'static str>,
    german: bool,
    call_type: CallType,
}

const ASSISTANTS: [Assistant; 4] = [
    Assistant {
        name: "Sales Assistant",
        phone: Some("+4930123456780"),
        german: true,
        call_type: CallType::Outbound,
    },
    Assistant {
        name: "Terminbuchung Praxis",
        phone: Some("+4989987654321"),
        german: true,
        call_type: CallType::Inbound,
    },
    Assistant {
        name: "Support Assistant",
        phone: Some("+442071838750"),
        german: false,
        call_type: CallType::Inbound,
    },
    Assistant {
        name: "Website Concierge",
        phone: None,
        german: false,
        call_type: CallType::Web,
    },
];

const CAMPAIGNS_DE: [&str; 2] = ["Neukundenakquise Q4", "Winback Herbst"];
const CAMPAIGNS_EN: [&str; 1] = ["Product Launch UK"];

const DIALOGUE_DE: [(&str, &str); 8] = [
    (
        "Guten Tag, hier ist Maximilian im Auftrag der Nordwind IT GmbH. Spreche ich mit der IT-Leitung?",
        "Ja, am Apparat. Worum geht es?",
    ),
    (
        "Wir helfen Unternehmen, ihre Telefonie mit KI zu automatisieren. Haben Sie zwei Minuten?",
        "Zwei Minuten gehen, ja.",
    ),
    (
        "Wie viele Anrufe nimmt Ihr Team pro Tag ungefähr entgegen?",
        "So um die hundertfünfzig, würde ich sagen.",
    ),
    (
        "Darf ich Ihnen dazu unverbindlich Unterlagen per E-Mail schicken?",
        "Gerne, an die Adresse auf unserer Webseite.",
    ),
    (
        "Wann passt Ihnen ein kurzer Termin mit unserem Berater?",
        "Nächsten Dienstag vormittag wäre gut.",
    ),
    (
        "Ich habe Dienstag um zehn Uhr für Sie eingetragen. Passt das?",
        "Ja, das passt.",
    ),
    (
        "Gibt es noch etwas, das ich für Sie tun kann?",
        "Nein, danke, das war alles.",
    ),
    (
        "Vielen Dank für Ihre Zeit und einen schönen Tag!",
        "Danke, Ihnen auch. Tschüss!",
    ),
];

const DIALOGUE_EN: [(&str, &str); 8] = [
    (
        "Hi, thanks for calling Brightline support, this is Ava. How can I help?",
        "Hi, I can't log into my account since this morning.",
    ),
    (
        "Sorry to hear that. Could you give me the email address on the account?",
        "Sure, it's jane.miller at example dot com.",
    ),
    (
        "Thanks, Jane. I can see two failed attempts. Shall I send you a reset link?",
        "Yes please.",
    ),
    (
        "Done. It should arrive within a minute. Can you check your inbox?",
        "Got it, I'm resetting it now.",
    ),
    (
        "Great. Is there anything else I can help you with today?",
        "Actually, can I change my billing date as well?",
    ),
    (
        "Of course. Which day of the month would suit you?",
        "The fifteenth would be better.",
    ),
    (
        "I've moved your billing date to the fifteenth.",
        "Perfect, thank you.",
    ),
    ("You're welcome. Have a lovely day!", "You too, bye."),
];

const FIRST_NAMES: [&str; 8] = [
    "Anna", "Lukas", "Sophie", "Jonas", "Emily", "Oliver", "Mia", "James",
];

/// Deterministic calls for a seed, ids growing with `created_at`, ending near `now`.
pub fn generate(count: usize, now: i64, seed: u64) -> Vec<NewCall> {
    let mut rng = StdRng::seed_from_u64(seed);
    let span = 90 * 86_400;
    let mut times: Vec<i64> = (0..count)
        .map(|_| now - rng.random_range(60..span))
        .collect();
    times.sort_unstable();
    times
        .into_iter()
        .enumerate()
        .map(|(i, at)| one_call(&mut rng, i as i64 + 1, at, now))
        .collect()
}

fn pick_status(rng: &mut StdRng, recent: bool) -> CallStatus {
    use CallStatus::*;
    let roll = rng.random_range(0..100);
    match roll {
        0..45 => Completed,
        45..57 => EndedByCustomer,
        57..64 => EndedByAssistant,
        64..69 => Ended,
        69..79 => NoAnswer,
        79..85 => Busy,
        85..89 => Failed,
        _ if recent => [Initiated, Ringing, InProgress][rng.random_range(0..3)],
        _ => Completed,
    }
}

fn one_call(rng: &mut StdRng, id: i64, created_at: i64, now: i64) -> NewCall {
    let assistant = ASSISTANTS.choose(rng).unwrap_or(&ASSISTANTS[0]);
    // Calls of the last hour may still be under way; older ones are finished.
    let maybe_live = now - created_at < 3600 || rng.random_ratio(1, 30);
    let status = pick_status(rng, maybe_live);
    let connected = matches!(
        status,
        CallStatus::Completed
            | CallStatus::EndedByCustomer
            | CallStatus::EndedByAssistant
            | CallStatus::Ended
            | CallStatus::InProgress
    );
    let campaign = match (assistant.call_type, assistant.german) {
        (CallType::Outbound, true) if rng.random_ratio(4, 5) => CAMPAIGNS_DE.choose(rng).copied(),
        (CallType::Outbound, false) => CAMPAIGNS_EN.choose(rng).copied(),
        _ => None,
    };
    let client_phone = match assistant.call_type {
        CallType::Web => None,
        _ if assistant.german => Some(format!("+49151{:08}", rng.random_range(0..100_000_000))),
        _ => Some(format!("+447700900{:03}", rng.random_range(0..1000))),
    };

    let dialogue = if assistant.german {
        &DIALOGUE_DE
    } else {
        &DIALOGUE_EN
    };
    let turns = if connected {
        rng.random_range(1..=dialogue.len())
    } else {
        0
    };
    let mut clock = created_at as f64 + 2.0 + f64::from(rng.random_range(0..1_000_000u32)) / 1e6;
    let mut segments = Vec::with_capacity(turns * 2);
    for (bot, human) in dialogue.iter().take(turns) {
        segments.push(Segment {
            text: bot,
            kind: "transcript",
            sender: "bot",
            timestamp: micros(clock),
        });
        clock += 3.0 + f64::from(rng.random_range(0..4_000_000u32)) / 1e6;
        segments.push(Segment {
            text: human,
            kind: "transcript",
            sender: "human",
            timestamp: micros(clock),
        });
        clock += 2.0 + f64::from(rng.random_range(0..3_000_000u32)) / 1e6;
    }
    let duration = if connected {
        (clock - created_at as f64) as i64 + rng.random_range(2..20)
    } else {
        0
    };
    let name = *FIRST_NAMES.choose(rng).unwrap_or(&"Alex");
    let success = turns >= 5;

    let variables = if connected {
        serde_json::json!({ "customer_name": name, "turns": turns, "interested": success })
    } else {
        serde_json::json!({})
    };
    let evaluation = if connected && status != CallStatus::InProgress {
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
                value: if assistant.german {
                    format!("Gespräch mit {name}, {turns} Wechsel.").into()
                } else {
                    format!("Talked to {name} over {turns} exchanges.").into()
                },
                description: "Call summary in a few words.",
            },
            Evaluation {
                name: "satisfaction_rating",
                kind: "integer",
                value: rng.random_range(if success { 6..11 } else { 1..7 }).into(),
                description: "Customer satisfaction rating from 1-10.",
            },
        ]
    } else {
        Vec::new()
    };
    let carrier_units = duration * 90_000 + if connected { 1_000_000 } else { 0 };
    let finished = !matches!(
        status,
        CallStatus::Initiated | CallStatus::Ringing | CallStatus::InProgress
    );

    let transcript = to_json(&segments);
    NewCall {
        id,
        words: crate::domain::search::index_words(transcript.as_str().as_bytes()),
        assistant_name: Some(assistant.name.to_owned()),
        campaign_name: campaign.map(str::to_owned),
        call_type: assistant.call_type,
        duration,
        assistant_phone_number: assistant.phone.map(str::to_owned),
        client_phone_number: client_phone,
        status,
        transcript,
        variables: to_json(&variables),
        evaluation: to_json(&evaluation),
        webhook_response: (status == CallStatus::Completed && rng.random_ratio(1, 2)).then(|| {
            to_json(&serde_json::json!({ "crm_updated": true, "lead_score": rng.random_range(10..100) }))
        }),
        carrier_cost: finished.then(|| Money::from_units(carrier_units)),
        total_cost: finished.then(|| Money::from_units(carrier_units + duration * 150_000 + 2_000_000)),
        answered_by: match status {
            _ if connected => Some(if rng.random_ratio(1, 12) { AnsweredBy::Machine } else { AnsweredBy::Human }),
            CallStatus::NoAnswer if rng.random_ratio(1, 3) => Some(AnsweredBy::Unknown),
            _ => None,
        },
        recording_url: (connected && finished).then(|| format!("https://recordings.example.com/demo/call-{id}.mp3")),
        created_at,
        updated_at: created_at + duration + if finished { rng.random_range(1..30) } else { 0 },
    }
}

fn to_json(value: &impl Serialize) -> JsonText {
    // These demo types always serialise.
    JsonText::from_trusted(serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned()))
}

/// Rounds to whole microseconds, as voice pipelines stamp segments.
fn micros(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}
