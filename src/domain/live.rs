//! Live calls: how a call's state may change while it happens, and the
//! transcript as it grows. Pure rules; the stores load a call's state, apply a
//! [`CallChange`] in the same transaction, and write the result back.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{AnsweredBy, CallStatus, CallType, JsonText, Money};

impl CallStatus {
    /// A final status ends the call: nothing moves it any more.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Initiated | Self::Ringing | Self::InProgress)
    }

    /// Position along initiated → ringing → in-progress → final.
    fn stage(self) -> u8 {
        match self {
            Self::Initiated => 0,
            Self::Ringing => 1,
            Self::InProgress => 2,
            _ => 3,
        }
    }
}

/// The parts of a stored call that writes read or change.
#[derive(Debug, Clone, PartialEq)]
pub struct CallState {
    pub call_type: CallType,
    pub assistant_id: Option<i64>,
    pub campaign_id: Option<i64>,
    pub status: CallStatus,
    pub duration: i64,
    pub answered_by: Option<AnsweredBy>,
    pub carrier_cost: Option<Money>,
    pub total_cost: Option<Money>,
    pub recording_url: Option<String>,
    pub transcript: JsonText,
    pub variables: JsonText,
    pub evaluation: JsonText,
    pub created_at: i64,
    pub updated_at: i64,
    /// When the call reached its final status.
    pub finished_at: Option<i64>,
}

/// One transcript segment as spoken. `timestamp` keeps the number's spelling.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub text: String,
    pub sender: Sender,
    pub timestamp: serde_json::Number,
}

/// Who spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Bot,
    Human,
}

impl Sender {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "bot" => Some(Self::Bot),
            "human" => Some(Self::Human),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Human => "human",
        }
    }
}

/// A validated write to a call: each `Some` replaces that field; segments are
/// appended in timestamp order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallChange {
    pub status: Option<CallStatus>,
    pub duration: Option<i64>,
    pub answered_by: Option<Option<AnsweredBy>>,
    pub carrier_cost: Option<Option<Money>>,
    pub total_cost: Option<Option<Money>>,
    pub recording_url: Option<Option<String>>,
    pub variables: Option<JsonText>,
    pub evaluation: Option<JsonText>,
    pub segments: Vec<Segment>,
}

/// Largest transcript a call may grow to by appends. Each append rewrites
/// the whole transcript, and lists return it whole: a bound keeps both sane
/// (a long call's transcript is tens of KiB).
pub const MAX_TRANSCRIPT_BYTES: usize = 4 << 20;

/// Why a change was refused (409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refusal(pub String);

/// What applying a change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// Anything differs from before (then `updated_at` moved).
    pub changed: bool,
    /// The call reached its final status with this change.
    pub finished: bool,
}

impl CallChange {
    /// Applies the change at time `now`, or refuses it leaving `state` as it was.
    ///
    /// Status moves forward only (steps may be skipped); a final status is
    /// final. Setting the status a call already has is a harmless no-op, so a
    /// retried request does no damage. Other fields may change at any time:
    /// costs, recordings and evaluations typically arrive after the hang-up.
    pub fn apply(&self, state: &mut CallState, now: i64) -> Result<Applied, Refusal> {
        let before = state.clone();
        let mut finished = false;
        if let Some(next) = self.status.filter(|s| *s != state.status) {
            let current = state.status;
            if current.is_final() {
                return Err(Refusal(format!(
                    "The call has already ended with status {current}; its status can no longer change."
                )));
            }
            if next.stage() < current.stage() {
                return Err(Refusal(format!(
                    "The call's status cannot move back from {current} to {next}."
                )));
            }
            state.status = next;
            if next.is_final() {
                state.finished_at = Some(now);
                finished = true;
            }
        }
        if let Some(duration) = self.duration {
            state.duration = duration;
        }
        if let Some(answered_by) = self.answered_by {
            state.answered_by = answered_by;
        }
        if let Some(cost) = self.carrier_cost {
            state.carrier_cost = cost;
        }
        if let Some(cost) = self.total_cost {
            state.total_cost = cost;
        }
        if let Some(url) = &self.recording_url {
            state.recording_url.clone_from(url);
        }
        if let Some(variables) = &self.variables {
            state.variables = variables.clone();
        }
        if let Some(evaluation) = &self.evaluation {
            state.evaluation = evaluation.clone();
        }
        if !self.segments.is_empty() {
            let merged = append_segments(&state.transcript, &self.segments);
            if merged.as_str().len() > MAX_TRANSCRIPT_BYTES {
                *state = before;
                return Err(Refusal(format!(
                    "The call's transcript would exceed {} MiB; it cannot take more segments.",
                    MAX_TRANSCRIPT_BYTES >> 20
                )));
            }
            state.transcript = merged;
        }
        let changed = *state != before;
        if changed {
            state.updated_at = state.updated_at.max(now);
        }
        Ok(Applied { changed, finished })
    }
}

#[derive(Deserialize)]
struct TimestampOnly {
    timestamp: Option<f64>,
}

/// The transcript with `segments` merged in, in timestamp order. Stored
/// segments keep their exact bytes; among equal timestamps the earlier
/// stays first (a stable merge).
pub fn append_segments(transcript: &JsonText, segments: &[Segment]) -> JsonText {
    // Stored transcripts are validated arrays; an unreadable one (never
    // expected) is kept rather than lost, with the new segments after it.
    let stored: Vec<&RawValue> = serde_json::from_str(transcript.as_str()).unwrap_or_default();
    let mut all: Vec<(f64, String)> = stored
        .iter()
        .map(|raw| {
            let at = serde_json::from_str::<TimestampOnly>(raw.get())
                .ok()
                .and_then(|t| t.timestamp)
                .unwrap_or(f64::NEG_INFINITY);
            (at, raw.get().to_owned())
        })
        .collect();
    /// A segment's fields in the contract's order.
    #[derive(serde::Serialize)]
    struct Out<'a> {
        text: &'a str,
        #[serde(rename = "type")]
        kind: &'static str,
        sender: &'static str,
        timestamp: &'a serde_json::Number,
    }
    for segment in segments {
        let text = serde_json::to_string(&Out {
            text: &segment.text,
            kind: "transcript",
            sender: segment.sender.as_str(),
            timestamp: &segment.timestamp,
        })
        .unwrap_or_default();
        let at = segment.timestamp.as_f64().unwrap_or(f64::NEG_INFINITY);
        all.push((at, text));
    }
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = String::with_capacity(all.iter().map(|(_, s)| s.len() + 1).sum::<usize>() + 2);
    out.push('[');
    for (i, (_, segment)) in all.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(segment);
    }
    out.push(']');
    JsonText::from_trusted(out)
}

/// The statuses an assistant may have.
pub const ASSISTANT_STATUSES: [&str; 2] = ["active", "inactive"];
/// The statuses a campaign may have.
pub const CAMPAIGN_STATUSES: [&str; 3] = ["active", "paused", "completed"];

/// Famulor's phone-number rule for make_call: E.164, `+` then 2 to 15 digits,
/// the first not 0.
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: CallStatus) -> CallState {
        CallState {
            call_type: CallType::Outbound,
            assistant_id: None,
            campaign_id: None,
            status,
            duration: 0,
            answered_by: None,
            carrier_cost: None,
            total_cost: None,
            recording_url: None,
            transcript: JsonText::empty_array(),
            variables: JsonText::empty_object(),
            evaluation: JsonText::empty_array(),
            created_at: 100,
            updated_at: 100,
            finished_at: None,
        }
    }

    fn to(status: CallStatus) -> CallChange {
        CallChange {
            status: Some(status),
            ..CallChange::default()
        }
    }

    #[test]
    fn statuses_move_forward_skipping_allowed() {
        let mut s = state(CallStatus::Initiated);
        let applied = to(CallStatus::InProgress).apply(&mut s, 200);
        assert_eq!(
            applied,
            Ok(Applied {
                changed: true,
                finished: false
            })
        );
        assert_eq!((s.status, s.updated_at), (CallStatus::InProgress, 200));
        let applied = to(CallStatus::Completed).apply(&mut s, 300);
        assert_eq!(
            applied,
            Ok(Applied {
                changed: true,
                finished: true
            })
        );
        assert_eq!(s.finished_at, Some(300));
        // The same final status again: harmless, nothing changes.
        assert_eq!(
            to(CallStatus::Completed).apply(&mut s, 400),
            Ok(Applied::default())
        );
        assert_eq!(s.updated_at, 300);
    }

    #[test]
    fn refuses_leaving_a_final_status_or_moving_back() {
        let mut s = state(CallStatus::Busy);
        let before = s.clone();
        assert_eq!(
            to(CallStatus::Completed).apply(&mut s, 200),
            Err(Refusal(
                "The call has already ended with status busy; its status can no longer change."
                    .into()
            ))
        );
        assert_eq!(s, before);
        let mut s = state(CallStatus::InProgress);
        assert_eq!(
            to(CallStatus::Ringing).apply(&mut s, 200),
            Err(Refusal(
                "The call's status cannot move back from in-progress to ringing.".into()
            ))
        );
    }

    #[test]
    fn segments_merge_in_time_order_keeping_stored_bytes() {
        let stored = JsonText::from_trusted(
            r#"[{"text":"a","type":"transcript","sender":"bot","timestamp":1754055268.525861},{"text":"c","type":"transcript","sender":"bot","timestamp":30}]"#.into(),
        );
        let new = [Segment {
            text: "b \"q\"".into(),
            sender: Sender::Human,
            timestamp: serde_json::Number::from(20),
        }];
        let merged = append_segments(&stored, &new);
        assert_eq!(
            merged.as_str(),
            r#"[{"text":"b \"q\"","type":"transcript","sender":"human","timestamp":20},{"text":"c","type":"transcript","sender":"bot","timestamp":30},{"text":"a","type":"transcript","sender":"bot","timestamp":1754055268.525861}]"#
        );
    }

    #[test]
    fn e164() {
        for good in ["+12", "+491512345678", "+123456789012345"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "",
            "+",
            "+1",
            "491512345678",
            "+0151",
            "+1234567890123456",
            "+49 151",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
