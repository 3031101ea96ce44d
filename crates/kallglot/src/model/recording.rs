//! Recordings of a session's audio.

use chrono::{DateTime, Utc};
use kallglot_api::types;

use super::serde_via_wire;
use crate::ids::{RecordingId, SessionId};
use crate::open_enum::open_enum;

open_enum! {
    /// Whose audio a recording holds.
    pub enum Channel: kallglot_api::catalogue::RECORDING_CHANNEL {
        /// The agent's side only.
        Agent = "agent",
        /// The customer's side only.
        Customer = "customer",
        /// Both sides.
        Mixed = "mixed",
    }
}

open_enum! {
    /// Whether a recording's audio can be downloaded.
    pub enum RecordingStatus: kallglot_api::catalogue::RECORDING_STATUS {
        /// Still being processed, usually for a few seconds after the
        /// session ends.
        Processing = "processing",
        /// Ready to download.
        Ready = "ready",
        /// Processing failed; there is no audio to download.
        Failed = "failed",
    }
}

/// A recording of a session.
///
/// Items of a recording list carry only some fields (the documented example
/// has `id`, `session_id`, `duration`, `format`, `status` and `created_at`),
/// so everything but the id and status is optional. Retrieve the recording
/// by id for the rest.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Recording {
    /// The recording's id.
    pub id: RecordingId,
    /// The session that was recorded.
    pub session_id: Option<SessionId>,
    /// Whose audio the recording holds.
    pub channel: Option<Channel>,
    /// Whether the audio can be downloaded.
    pub status: RecordingStatus,
    /// The length in seconds.
    pub duration: Option<f64>,
    /// The file format, such as `mp3` or `wav`.
    pub format: Option<String>,
    /// The file size in bytes.
    pub size: Option<u64>,
    /// The sample rate in Hz.
    pub sample_rate: Option<u32>,
    /// Bits per sample.
    pub bit_depth: Option<u32>,
    /// Where the audio can be downloaded once ready, exactly as the server
    /// sent it: a path relative to the API host in current responses, an
    /// absolute pre-signed URL in legacy ones. Prefer the client's download
    /// method, which resolves it and only sends the API key to the API host.
    pub download_url: Option<String>,
    /// When the recording was created.
    pub created_at: Option<DateTime<Utc>>,
    /// When the retention policy deletes the recording.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Recording {
    /// Converts a wire recording.
    ///
    /// Numbers the API declares as 64-bit integers but that cannot be a
    /// size, rate or depth (negative, or too large for the field) become
    /// `None` rather than failing the whole response or wrapping around.
    pub(crate) fn from_api(v: types::Recording) -> Self {
        Self {
            id: RecordingId::from(v.id),
            session_id: v.session_id.map(SessionId::from),
            channel: v.channel.map(Channel::from),
            status: RecordingStatus::from(v.status),
            duration: v.duration,
            format: v.format,
            size: v.size.and_then(|n| u64::try_from(n).ok()),
            sample_rate: v.sample_rate.and_then(|n| u32::try_from(n).ok()),
            bit_depth: v.bit_depth.and_then(|n| u32::try_from(n).ok()),
            download_url: v.download_url,
            created_at: v.created_at,
            expires_at: v.expires_at,
        }
    }

    /// The wire form. A size above `i64::MAX`, which no response can carry, is left out.
    fn to_api(&self) -> types::Recording {
        types::Recording {
            id: self.id.to_string(),
            object: Some("recording".to_owned()),
            session_id: self.session_id.as_ref().map(SessionId::to_string),
            channel: self.channel.as_ref().map(|c| c.as_str().to_owned()),
            status: self.status.as_str().to_owned(),
            duration: self.duration,
            format: self.format.clone(),
            size: self.size.and_then(|n| i64::try_from(n).ok()),
            sample_rate: self.sample_rate.map(i64::from),
            bit_depth: self.bit_depth.map(i64::from),
            download_url: self.download_url.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

serde_via_wire! {
    Recording => types::Recording,
    RecordingList => types::RecordingList,
}

/// One page of a session's recordings.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RecordingList {
    /// The recordings.
    pub data: Vec<Recording>,
    /// Whether another page follows. Only legacy responses report it, and
    /// the current API documents no way to ask for the next page, so `None`
    /// means "unknown", not "no more".
    pub has_more: Option<bool>,
}

impl RecordingList {
    pub(crate) fn from_api(v: types::RecordingList) -> Self {
        Self {
            data: v.data.into_iter().map(Recording::from_api).collect(),
            has_more: v.has_more,
        }
    }

    fn to_api(&self) -> types::RecordingList {
        types::RecordingList {
            object: "list".to_owned(),
            data: self.data.iter().map(Recording::to_api).collect(),
            has_more: self.has_more,
            url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn recording(value: Value) -> Recording {
        Recording::from_api(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn full_recording() {
        let r = recording(json!({
            "id": "rec_01HABC987654321",
            "object": "recording",
            "session_id": "sess_01HXYZ123456789",
            "channel": "mixed",
            "status": "ready",
            "duration": 245.3,
            "format": "mp3",
            "size": 3925000,
            "sample_rate": 44100,
            "bit_depth": 16,
            "download_url": "/v1/recordings/rec_01HABC987654321/audio",
            "created_at": "2026-03-26T11:04:10Z",
            "expires_at": "2026-06-24T11:04:10Z"
        }));
        assert_eq!(
            r,
            Recording {
                id: RecordingId::new("rec_01HABC987654321"),
                session_id: Some(SessionId::new("sess_01HXYZ123456789")),
                channel: Some(Channel::Mixed),
                status: RecordingStatus::Ready,
                duration: Some(245.3),
                format: Some("mp3".into()),
                size: Some(3_925_000),
                sample_rate: Some(44_100),
                bit_depth: Some(16),
                download_url: Some("/v1/recordings/rec_01HABC987654321/audio".into()),
                created_at: Some("2026-03-26T11:04:10Z".parse().unwrap()),
                expires_at: Some("2026-06-24T11:04:10Z".parse().unwrap()),
            }
        );
    }

    #[test]
    fn minimal_recording() {
        let r = recording(json!({"id": "rec_1", "status": "processing"}));
        assert_eq!(r.id, "rec_1");
        assert_eq!(r.status, RecordingStatus::Processing);
        assert_eq!(r.session_id, None);
        assert_eq!(r.channel, None);
        assert_eq!(r.size, None);
        assert_eq!(r.download_url, None);
        assert_eq!(r.created_at, None);
    }

    #[test]
    fn out_of_range_integers_become_none() {
        let r = recording(json!({
            "id": "rec_1",
            "status": "ready",
            "size": -1,
            "sample_rate": 4_294_967_296_i64,
            "bit_depth": -16
        }));
        assert_eq!(r.size, None);
        assert_eq!(r.sample_rate, None);
        assert_eq!(r.bit_depth, None);

        let r = recording(json!({
            "id": "rec_1",
            "status": "ready",
            "size": i64::MAX,
            "sample_rate": u32::MAX,
            "bit_depth": 0
        }));
        assert_eq!(r.size, Some(i64::MAX as u64));
        assert_eq!(r.sample_rate, Some(u32::MAX));
        assert_eq!(r.bit_depth, Some(0));
    }

    #[test]
    fn unknown_values_and_legacy_url_are_preserved() {
        let r = recording(json!({
            "id": "rec_1",
            "status": "deleted",
            "channel": "stereo",
            "download_url": "https://storage.example.com/rec_1.mp3?sig=abc"
        }));
        assert_eq!(r.status, RecordingStatus::Unknown("deleted".into()));
        assert_eq!(r.channel, Some(Channel::Unknown("stereo".into())));
        assert_eq!(
            r.download_url.as_deref(),
            Some("https://storage.example.com/rec_1.mp3?sig=abc")
        );
    }

    #[test]
    fn current_list() {
        let list = RecordingList::from_api(
            serde_json::from_value(json!({
                "object": "list",
                "data": [{
                    "id": "rec_01HABC987654321",
                    "object": "recording",
                    "session_id": "sess_01HXYZ123456789",
                    "duration": 245.3,
                    "format": "mp3",
                    "status": "ready",
                    "created_at": "2026-03-26T11:04:10Z"
                }]
            }))
            .unwrap(),
        );
        assert_eq!(list.has_more, None);
        assert_eq!(list.data.len(), 1);
        assert_eq!(list.data[0].status, RecordingStatus::Ready);
        assert_eq!(list.data[0].channel, None);
    }

    #[test]
    fn legacy_list_and_empty_list() {
        let list = RecordingList::from_api(
            serde_json::from_value(json!({
                "object": "list",
                "data": [],
                "has_more": true,
                "url": "/v1/sessions/sess_1/recordings"
            }))
            .unwrap(),
        );
        assert_eq!(list.data, []);
        assert_eq!(list.has_more, Some(true));
    }

    #[test]
    fn enum_wire_values() {
        assert_eq!(Channel::WIRE_VALUES, ["agent", "customer", "mixed"]);
        assert_eq!(
            RecordingStatus::WIRE_VALUES,
            ["processing", "ready", "failed"]
        );
        for wire in Channel::WIRE_VALUES {
            assert_eq!(Channel::parse(wire).as_str(), *wire);
        }
        for wire in RecordingStatus::WIRE_VALUES {
            assert_eq!(RecordingStatus::parse(wire).as_str(), *wire);
        }
    }
}
