//! The event envelope and typed views of its `data`.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::ids::SessionId;
use crate::model::SessionStatus;
use crate::open_enum::open_enum;

crate::ids::id_type! {
    /// The id of a webhook event (`evt_…`), the same on every retry of a
    /// delivery: the key to de-duplicate on.
    EventId
}

open_enum! {
    /// What happened, from the envelope's `type`.
    ///
    /// Endpoints receive only the types chosen in the Portal, and Kallglot
    /// may add types at any time, so always keep a fallback arm.
    pub enum EventType {
        /// A session was created.
        SessionCreated = "session.created",
        /// A session became active: audio started flowing.
        SessionStarted = "session.started",
        /// A session ended. [`WebhookEvent::session_ended`] reads its data.
        SessionEnded = "session.ended",
        /// A session's full transcript is available.
        TranscriptReady = "transcript.ready",
        /// A new real-time transcript segment.
        TranscriptSegment = "transcript.segment",
        /// A recording is ready to download.
        RecordingReady = "recording.ready",
        /// A recording could not be generated.
        RecordingFailed = "recording.failed",
        /// An analysis finished. Note `complete`, where the REST status says
        /// `completed`; `analysis.completed` is accepted too, in case the
        /// event is ever renamed to match.
        AnalysisComplete = "analysis.complete" | "analysis.completed",
        /// An analysis failed.
        AnalysisFailed = "analysis.failed",
        /// The provider (telephony) leg of a session connected.
        SessionProviderConnected = "session.provider.connected",
        /// The provider (telephony) leg of a session disconnected.
        SessionProviderDisconnected = "session.provider.disconnected",
    }
}

/// A webhook event: the envelope of every delivery.
///
/// Decoding is lenient so that a delivery is never lost to an API change:
/// unknown types become [`EventType::Unknown`], extra fields anywhere are
/// ignored, a missing `api_version` reads as empty and a missing `data` as
/// `null`. Only `id`, `type` and `created_at` (ISO 8601) are required, since
/// without them an event can be neither de-duplicated nor dispatched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebhookEvent {
    /// The event id (`evt_…`), identical across retries: de-duplicate on it.
    pub id: EventId,
    /// The event type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The API version the event was rendered with (`v1`).
    #[serde(default)]
    pub api_version: String,
    /// When the event was created.
    pub created_at: DateTime<Utc>,
    /// The event-specific payload.
    #[serde(default)]
    pub data: EventData,
}

impl WebhookEvent {
    /// The `data` of a [`session.ended`](EventType::SessionEnded) event,
    /// typed.
    ///
    /// `None` for any other event type, or when `data` lacks a string `id`.
    pub fn session_ended(&self) -> Option<SessionEndedData> {
        if self.kind != EventType::SessionEnded {
            return None;
        }
        self.data.deserialize().ok()
    }
}

/// The `data` of an event, as raw JSON.
///
/// Kallglot documents `data` only for `session.ended` (see
/// [`WebhookEvent::session_ended`]); for the other events it is believed, but
/// not documented, to be the affected resource. So the raw value is always
/// available, with a few lenient accessors and
/// [`deserialize`](Self::deserialize) for your own view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventData(Value);

impl EventData {
    /// Wraps a JSON value, for building events in tests.
    pub fn new(value: Value) -> Self {
        Self(value)
    }

    /// The raw JSON.
    pub fn raw(&self) -> &Value {
        &self.0
    }

    /// Unwraps the raw JSON.
    pub fn into_raw(self) -> Value {
        self.0
    }

    /// A top-level field of `data`, if `data` is an object that has it.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.0.get(field)
    }

    /// `data.id`, when it is a string: presumably the id of the affected
    /// resource (`sess_…`, `rec_…`, `anl_…`).
    pub fn object_id(&self) -> Option<&str> {
        self.get("id")?.as_str()
    }

    /// `data.object`, when it is a string: presumably the kind of the
    /// affected resource (`session`, `recording`, …).
    pub fn object_type(&self) -> Option<&str> {
        self.get("object")?.as_str()
    }

    /// Decodes `data` into a type of your choosing.
    ///
    /// # Errors
    ///
    /// The `serde_json` error when `data` does not fit `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.0)
    }
}

impl From<Value> for EventData {
    fn from(value: Value) -> Self {
        Self(value)
    }
}

/// The `data` of a `session.ended` event: the session as it ended.
///
/// Only `id` is required. The webhook example reports the length as
/// `duration` while the REST API says `duration_seconds`, so both are read;
/// [`seconds`](Self::seconds) picks whichever is present. A field of an
/// unexpected type reads as `None` rather than failing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionEndedData {
    /// The session that ended.
    pub id: SessionId,
    /// The session status, normally [`SessionStatus::Ended`].
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<SessionStatus>,
    /// The session's length in seconds, as the webhook example names it.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<f64>,
    /// The session's length in seconds, as the REST API names it.
    #[serde(
        default,
        deserialize_with = "lenient",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration_seconds: Option<f64>,
}

impl SessionEndedData {
    /// The session's length in seconds, from `duration` or else
    /// `duration_seconds`.
    pub fn seconds(&self) -> Option<f64> {
        self.duration.or(self.duration_seconds)
    }
}

/// Decodes a `T`, turning a value of the wrong type into `None` instead of an
/// error, so that one odd field does not hide the rest of a typed view.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    Ok(T::deserialize(value).ok())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn session_ended_data_round_trips() {
        let raw = json!({"id": "sess_1", "status": "ended", "duration": 12.5});
        let data: SessionEndedData = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&data).unwrap(), raw);
        assert_eq!(
            serde_json::from_value::<SessionEndedData>(serde_json::to_value(&data).unwrap())
                .unwrap(),
            data
        );
    }

    #[test]
    fn every_event_type_round_trips() {
        for wire in EventType::WIRE_VALUES {
            let kind = EventType::parse(wire);
            assert!(!kind.is_unknown(), "{wire}");
            assert_eq!(kind.as_str(), *wire);
        }
        assert_eq!(EventType::WIRE_VALUES.len(), 11);
        assert_eq!(
            EventType::parse("analysis.completed"),
            EventType::AnalysisComplete
        );
        assert_eq!(
            EventType::parse("analysis.processing"),
            EventType::Unknown("analysis.processing".into())
        );
    }

    #[test]
    fn lenient_fields_and_either_duration_name() {
        let data: SessionEndedData = EventData::new(json!({
            "id": "sess_1", "status": 5, "duration": "long", "duration_seconds": 12.5
        }))
        .deserialize()
        .unwrap();
        assert_eq!(data.status, None);
        assert_eq!(data.duration, None);
        assert_eq!(data.seconds(), Some(12.5));

        let data: SessionEndedData = EventData::new(json!({"id": "sess_1", "duration": 3}))
            .deserialize()
            .unwrap();
        assert_eq!(data.seconds(), Some(3.0));
        assert_eq!(data.duration_seconds, None);
    }

    #[test]
    fn event_id_behaves_like_a_string() {
        let id = EventId::from("evt_1");
        assert_eq!(id, "evt_1");
        assert_eq!(id.as_str(), "evt_1");
        assert_eq!(id.to_string(), "evt_1");
        assert_eq!(EventId::new(String::from("evt_1")), id);
        let set: std::collections::HashSet<EventId> = [id.clone()].into();
        assert!(set.contains("evt_1"));
        assert_eq!(id.into_string(), "evt_1");
    }
}
