//! Types of the live-call half of the store: writes to calls, the webhook
//! outbox and idempotency keys, plus the rules both backends share.

use crate::domain::live::{CallChange, CallState, Refusal};
use crate::domain::{CallRecord, CallStatus, CallType, JsonText};

/// A campaign's settings: what create and update write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignFields {
    pub name: String,
    pub status: String,
}

/// A call to record, as the write API or make_call describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallDraft {
    pub call_type: CallType,
    pub status: CallStatus,
    pub assistant_id: Option<i64>,
    pub campaign_id: Option<i64>,
    /// `None` takes the assistant's number (not for web calls).
    pub assistant_phone_number: Option<String>,
    pub client_phone_number: Option<String>,
    pub created_at: i64,
    /// Everything else the call starts with (status excluded).
    pub fields: CallChange,
}

impl CallDraft {
    /// The stored state of the new call at time `now`, with its ids resolved;
    /// refused when its fields break a rule (a transcript over the limit).
    pub fn initial_state(&self, now: i64) -> Result<CallState, Refusal> {
        let mut state = CallState {
            call_type: self.call_type,
            assistant_id: self.assistant_id,
            campaign_id: self.campaign_id,
            status: self.status,
            duration: 0,
            answered_by: None,
            carrier_cost: None,
            total_cost: None,
            recording_url: None,
            transcript: JsonText::empty_array(),
            variables: JsonText::empty_object(),
            evaluation: JsonText::empty_array(),
            created_at: self.created_at,
            updated_at: now.max(self.created_at),
            finished_at: self.status.is_final().then_some(now),
        };
        let fields = CallChange {
            status: None,
            ..self.fields.clone()
        };
        fields.apply(&mut state, now)?;
        state.updated_at = now.max(self.created_at);
        Ok(state)
    }
}

/// The answer to a call write.
#[derive(Debug, Clone, PartialEq)]
pub enum CallWrite {
    Written(Box<CallRecord>),
    /// No such call for this user.
    NotFound,
    /// The change breaks the status rules (409).
    Refused(Refusal),
    /// The assistant id names no (live) assistant of the user.
    UnknownAssistant,
    /// The campaign id names no (live) campaign of the user.
    UnknownCampaign,
}

/// An assistant's webhook settings, as a finishing call reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    pub active: bool,
    pub url: Option<String>,
    pub only_on_completed: bool,
    pub include_recording: bool,
}

impl WebhookSettings {
    /// Whether a call finishing with `status` gets a post-call webhook.
    pub fn wants(&self, status: CallStatus) -> bool {
        self.active
            && self.url.is_some()
            && (!self.only_on_completed || status == CallStatus::Completed)
    }
}

/// A delivery leased to one worker, with where to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    pub id: i64,
    pub user_id: i64,
    pub call_id: i64,
    pub message_id: String,
    pub payload: String,
    /// Attempts made before this one.
    pub attempts: u32,
    /// URL and secret; `None` when the assistant's webhook was switched off
    /// or the assistant deleted since the delivery was queued.
    pub target: Option<(String, String)>,
}

/// One attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub attempted_at_ms: i64,
    pub status_code: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryNext {
    /// A 2xx: done; its JSON answer, if any, becomes the call's
    /// `webhook_response` unless the call has one already.
    Delivered { response_json: Option<String> },
    /// Try again at this time (ms).
    Retry { at_ms: i64 },
    /// No more attempts.
    GiveUp,
}

/// A delivery as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub message_id: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub next_attempt_at_ms: Option<i64>,
    pub created_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub attempts: Vec<AttemptRecord>,
}

/// The answer to a redelivery request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redelivery {
    NotFound,
    /// The call has no assistant with an active webhook.
    NoWebhook,
    /// The call has not reached a final status.
    NotEnded,
    Queued(Delivery),
}

/// What an Idempotency-Key says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyStart {
    /// First use: run the request, then finish or release the key.
    Fresh,
    /// Seen before with the same request: answer this again.
    Replay { status: u16, body: Vec<u8> },
    /// Seen before with a different request.
    Mismatch,
    /// The first request with this key is still running (or its process
    /// died mid-request: its outcome is unknown, so it is never re-run).
    InFlight,
}

/// Where a call in this state sits in the rollups.
pub fn rollup_key(state: &CallState) -> crate::store::counts::RollupKey {
    crate::store::counts::RollupKey::new(crate::store::counts::RollupCall {
        created_at: state.created_at,
        status: state.status,
        call_type: state.call_type,
        assistant_id: state.assistant_id,
        campaign_id: state.campaign_id,
        answered_by: state.answered_by,
        measures: crate::store::counts::Measures::new(
            state.duration,
            state.total_cost.map(crate::domain::Money::units),
            state.carrier_cost.map(crate::domain::Money::units),
        ),
    })
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
