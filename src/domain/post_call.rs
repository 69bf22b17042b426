//! Famulor's post-call webhook payload, built from a finished call.

use serde::Serialize;
use serde_json::value::RawValue;

use super::CallRecord;
use super::timefmt::format_rfc3339;

/// What the payload needs beyond the call itself.
#[derive(Debug, Clone, Copy)]
pub struct PayloadContext<'a> {
    /// When the call reached its final status (imported calls: unknown).
    pub finished_at: Option<i64>,
    pub campaign: Option<(i64, &'a str)>,
    pub include_recording: bool,
}

#[derive(Serialize)]
struct Payload<'a> {
    id: i64,
    customer_phone: Option<&'a str>,
    assistant_phone: Option<&'a str>,
    duration: i64,
    status: &'static str,
    extracted_variables: serde_json::Map<String, serde_json::Value>,
    input_variables: &'a RawValue,
    transcript: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    recording_url: Option<Option<&'a str>>,
    created_at: String,
    finished_at: String,
    lead: Option<Lead<'a>>,
    campaign: Option<CampaignRef<'a>>,
}

/// The person called in a campaign, as Famulor's payload carries it.
#[derive(Serialize)]
struct Lead<'a> {
    phone_number: Option<&'a str>,
    variables: &'a RawValue,
}

#[derive(Serialize)]
struct CampaignRef<'a> {
    id: i64,
    name: &'a str,
}

#[derive(serde::Deserialize)]
struct SegmentView {
    #[serde(default)]
    text: String,
    #[serde(default)]
    sender: String,
}

#[derive(serde::Deserialize)]
struct EvaluationView {
    name: Option<String>,
    value: Option<serde_json::Value>,
}

/// The transcript as text, one line per segment: `Assistant: ...` for the
/// bot, `Customer: ...` for the human.
pub fn transcript_text(transcript: &str) -> String {
    let segments: Vec<SegmentView> = serde_json::from_str(transcript).unwrap_or_default();
    let lines: Vec<String> = segments
        .iter()
        .map(|s| {
            let who = if s.sender == "bot" {
                "Assistant"
            } else {
                "Customer"
            };
            format!("{who}: {}", s.text)
        })
        .collect();
    lines.join("\n")
}

/// The JSON body of the post-call webhook.
pub fn post_call_payload(call: &CallRecord, context: PayloadContext<'_>) -> String {
    let evaluation: Vec<EvaluationView> =
        serde_json::from_str(call.evaluation.as_str()).unwrap_or_default();
    let extracted_variables = evaluation
        .into_iter()
        .filter_map(|e| Some((e.name?, e.value.unwrap_or(serde_json::Value::Null))))
        .collect();
    // Stored documents are valid JSON (JsonText's invariant).
    let variables = RawValue::from_string(call.variables.as_str().to_owned()).ok();
    let variables: &RawValue = variables.as_deref().unwrap_or(RawValue::NULL);
    let payload = Payload {
        id: call.id,
        customer_phone: call.client_phone_number.as_deref(),
        assistant_phone: call.assistant_phone_number.as_deref(),
        duration: call.duration,
        status: call.status.as_str(),
        extracted_variables,
        input_variables: variables,
        transcript: transcript_text(call.transcript.as_str()),
        recording_url: context
            .include_recording
            .then_some(call.recording_url.as_deref()),
        created_at: format_rfc3339(call.created_at),
        finished_at: format_rfc3339(context.finished_at.unwrap_or(call.updated_at)),
        lead: context.campaign.map(|_| Lead {
            phone_number: call.client_phone_number.as_deref(),
            variables,
        }),
        campaign: context.campaign.map(|(id, name)| CampaignRef { id, name }),
    };
    serde_json::to_string(&payload).unwrap_or_else(|_| "{}".to_owned())
}
