//! The call record and its closed vocabularies.

use std::fmt;

use super::money::Money;

/// Declares an enum whose variants have a fixed wire spelling and a stable small
/// integer code used in storage (codes are part of the schema: never renumber).
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = ($code:literal, $text:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in the contract's order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The spelling on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the exact wire spelling (case-sensitive, as the contract lists it).
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)+ _ => None }
            }

            /// The storage code.
            pub fn code(self) -> i64 {
                match self { $(Self::$variant => $code),+ }
            }

            /// Reads a storage code back.
            pub fn from_code(code: i64) -> Option<Self> {
                match code { $($code => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// Where a call is in its life. Spelled exactly as Famulor does, hyphens and
    /// underscores mixed.
    CallStatus {
        Initiated = (1, "initiated"),
        Ringing = (2, "ringing"),
        Busy = (3, "busy"),
        InProgress = (4, "in-progress"),
        Ended = (5, "ended"),
        Completed = (6, "completed"),
        EndedByCustomer = (7, "ended_by_customer"),
        EndedByAssistant = (8, "ended_by_assistant"),
        NoAnswer = (9, "no-answer"),
        Failed = (10, "failed"),
    }
}

wire_enum! {
    /// Direction of the call.
    CallType {
        Inbound = (1, "inbound"),
        Outbound = (2, "outbound"),
        Web = (3, "web"),
    }
}

wire_enum! {
    /// Who picked up.
    AnsweredBy {
        Human = (1, "human"),
        Machine = (2, "machine"),
        Unknown = (3, "unknown"),
    }
}

/// A JSON document kept as compact text, so that what was stored comes back
/// byte for byte (number spellings such as `1754055268.525861` included).
///
/// Invariant: the text is valid, compact JSON. Only code that validated it
/// (the import parser, the store reading back what it wrote) builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// Wraps text that the caller guarantees to be valid compact JSON.
    pub fn from_trusted(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn empty_array() -> Self {
        Self("[]".to_owned())
    }

    pub fn empty_object() -> Self {
        Self("{}".to_owned())
    }
}

/// A call as stored and served: the contract's Call object (§2).
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    pub id: i64,
    pub assistant_name: Option<String>,
    pub campaign_name: Option<String>,
    pub call_type: CallType,
    pub duration: i64,
    pub assistant_phone_number: Option<String>,
    pub client_phone_number: Option<String>,
    pub status: CallStatus,
    pub transcript: JsonText,
    pub variables: JsonText,
    pub evaluation: JsonText,
    pub webhook_response: Option<JsonText>,
    pub carrier_cost: Option<Money>,
    pub total_cost: Option<Money>,
    pub answered_by: Option<AnsweredBy>,
    pub recording_url: Option<String>,
    /// Unix seconds, UTC.
    pub created_at: i64,
    /// Unix seconds, UTC.
    pub updated_at: i64,
}

/// A call borrowed from wherever it is stored (a database row's memory, a
/// [`CallRecord`]): what the JSON writer reads, so a list page is rendered
/// straight from the rows without copying each field into its own `String`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallView<'a> {
    pub id: i64,
    pub assistant_name: Option<&'a str>,
    pub campaign_name: Option<&'a str>,
    pub call_type: CallType,
    pub duration: i64,
    pub assistant_phone_number: Option<&'a str>,
    pub client_phone_number: Option<&'a str>,
    pub status: CallStatus,
    /// Compact JSON, as stored (bytes: it was validated when written, and
    /// checking it again on every read showed as ~6% of a list page).
    pub transcript: &'a [u8],
    pub variables: &'a [u8],
    pub evaluation: &'a [u8],
    pub webhook_response: Option<&'a [u8]>,
    pub carrier_cost: Option<Money>,
    pub total_cost: Option<Money>,
    pub answered_by: Option<AnsweredBy>,
    pub recording_url: Option<&'a str>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CallRecord {
    pub fn view(&self) -> CallView<'_> {
        CallView {
            id: self.id,
            assistant_name: self.assistant_name.as_deref(),
            campaign_name: self.campaign_name.as_deref(),
            call_type: self.call_type,
            duration: self.duration,
            assistant_phone_number: self.assistant_phone_number.as_deref(),
            client_phone_number: self.client_phone_number.as_deref(),
            status: self.status,
            transcript: self.transcript.as_str().as_bytes(),
            variables: self.variables.as_str().as_bytes(),
            evaluation: self.evaluation.as_str().as_bytes(),
            webhook_response: self
                .webhook_response
                .as_ref()
                .map(|j| j.as_str().as_bytes()),
            carrier_cost: self.carrier_cost,
            total_cost: self.total_cost,
            answered_by: self.answered_by,
            recording_url: self.recording_url.as_deref(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

impl CallView<'_> {
    /// The owned record. Documents were validated when written; should one
    /// not be UTF-8 after all, its bad bytes become U+FFFD rather than fail
    /// the read.
    pub fn to_record(&self) -> CallRecord {
        let json =
            |bytes: &[u8]| JsonText::from_trusted(String::from_utf8_lossy(bytes).into_owned());
        CallRecord {
            id: self.id,
            assistant_name: self.assistant_name.map(str::to_owned),
            campaign_name: self.campaign_name.map(str::to_owned),
            call_type: self.call_type,
            duration: self.duration,
            assistant_phone_number: self.assistant_phone_number.map(str::to_owned),
            client_phone_number: self.client_phone_number.map(str::to_owned),
            status: self.status,
            transcript: json(self.transcript),
            variables: json(self.variables),
            evaluation: json(self.evaluation),
            webhook_response: self.webhook_response.map(json),
            carrier_cost: self.carrier_cost,
            total_cost: self.total_cost,
            answered_by: self.answered_by,
            recording_url: self.recording_url.map(str::to_owned),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A validated call ready to be written. Assistant and campaign arrive by name
/// and are found or created for the owning user by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    pub id: i64,
    pub assistant_name: Option<String>,
    pub campaign_name: Option<String>,
    pub call_type: CallType,
    pub duration: i64,
    pub assistant_phone_number: Option<String>,
    pub client_phone_number: Option<String>,
    pub status: CallStatus,
    pub transcript: JsonText,
    pub variables: JsonText,
    pub evaluation: JsonText,
    pub webhook_response: Option<JsonText>,
    pub carrier_cost: Option<Money>,
    pub total_cost: Option<Money>,
    pub answered_by: Option<AnsweredBy>,
    pub recording_url: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The transcript's words for the search index
    /// ([`index_words`](super::search::index_words)), found where the call
    /// was parsed rather than by the database's one writer.
    pub words: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_text_and_code() {
        assert_eq!(CallStatus::ALL.len(), 10);
        for s in CallStatus::ALL {
            assert_eq!(CallStatus::parse(s.as_str()), Some(*s));
            assert_eq!(CallStatus::from_code(s.code()), Some(*s));
        }
        assert_eq!(CallStatus::parse("in_progress"), None);
        assert_eq!(CallStatus::parse("Completed"), None);
    }
}
