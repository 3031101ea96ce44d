//! Sessions: the session object, its stream credentials, and the summary
//! returned when a session is ended.

use std::fmt;

use chrono::{DateTime, Utc};
use kallglot_api::types;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Language, language_from_wire, language_to_wire, serde_via_wire};
use crate::ids::SessionId;
use crate::open_enum::open_enum;

open_enum! {
    /// Where a session is in its lifecycle: `created` → `active` → `ended`.
    pub enum SessionStatus: kallglot_api::catalogue::SESSION_STATUS {
        /// Created, with stream credentials, but no audio has flowed yet.
        Created = "created",
        /// Audio is flowing; `started_at` is set.
        Active = "active",
        /// Ended, through the API, the stream, or after 30 minutes idle.
        /// The transcript and recordings are finalized after this.
        Ended = "ended",
        /// A status of legacy responses only, for a session whose call was
        /// being set up.
        Connecting = "connecting",
    }
}

impl SessionStatus {
    /// Whether the session has ended. Only [`Ended`](Self::Ended) counts:
    /// an unknown status is not assumed to be final.
    pub fn is_ended(&self) -> bool {
        matches!(self, Self::Ended)
    }
}

open_enum! {
    /// How a session behaves. Used both in responses and when creating a
    /// session.
    ///
    /// To use a mode newer than this SDK version, pass it as a string
    /// (`Mode::from("new_mode")`): an [`Unknown`](Self::Unknown) mode is sent
    /// verbatim.
    pub enum Mode: kallglot_api::catalogue::SESSION_MODE, kallglot_api::catalogue::CREATE_SESSION_REQUEST_MODE {
        /// Both parties hear the other translated into their own language.
        BidirectionalTranslation = "bidirectional_translation",
        /// The agent hears the original audio plus translated subtitles; the
        /// customer hears the agent translated.
        AssistiveTranslation = "assistive_translation",
        /// An autonomous AI voice agent handles the call.
        AiAgent = "ai_agent",
        /// A voice help desk assisted by AI.
        HelpChatVoice = "help_chat_voice",
    }
}

open_enum! {
    /// The carrier Kallglot resolved for a session. The set is open: other
    /// carriers may appear.
    pub enum ProviderName: kallglot_api::catalogue::SESSION_PROVIDER {
        /// Twilio.
        Twilio = "twilio",
        /// Telnyx.
        Telnyx = "telnyx",
        /// A SIP trunk or PBX.
        Sip = "sip",
    }
}

/// A real-time voice session.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Session {
    /// The session's id, which also correlates the stream and webhooks.
    pub id: SessionId,
    /// Where the session is in its lifecycle.
    pub status: SessionStatus,
    /// How the session behaves.
    pub mode: Mode,
    /// Party A's language; `None` when it was not set (the server then
    /// detects it). Kept as sent by the server, unvalidated.
    pub source_language: Option<Language>,
    /// Party B's language; `None` when it was not set.
    pub target_language: Option<Language>,
    /// Credentials for the audio stream. The create response carries them,
    /// and retrieving an active session may too; they are absent otherwise,
    /// so do not rely on getting a fresh token by retrieving a session.
    pub stream: Option<StreamCredentials>,
    /// The carrier Kallglot resolved, when the server reports one. It may be
    /// present even when no routing was requested, since the organization's
    /// default route can involve a carrier.
    pub provider: Option<Provider>,
    /// The E.164 phone number involved, when there is one.
    pub phone_number: Option<String>,
    /// Whether the session is recorded, when reported.
    pub recording: Option<RecordingSettings>,
    /// The metadata you attached on create; `None` when none was sent.
    pub metadata: Option<Metadata>,
    /// When the session was created.
    pub created_at: DateTime<Utc>,
    /// When the session became active; `None` before that.
    pub started_at: Option<DateTime<Utc>>,
    /// When the session ended; `None` until then.
    pub ended_at: Option<DateTime<Utc>>,
}

impl Session {
    pub(crate) fn from_api(v: types::Session) -> Self {
        Self {
            id: SessionId::from(v.id),
            status: SessionStatus::from(v.status),
            mode: Mode::from(v.mode),
            source_language: language_from_wire(v.source_language),
            target_language: language_from_wire(v.target_language),
            stream: v.stream.map(StreamCredentials::from_api),
            provider: v.provider.map(Provider::from_api),
            phone_number: v.phone_number,
            recording: v.recording.map(RecordingSettings::from_api),
            metadata: v.metadata.map(Metadata::from),
            created_at: v.created_at,
            started_at: v.started_at,
            ended_at: v.ended_at,
        }
    }

    fn to_api(&self) -> types::Session {
        types::Session {
            id: self.id.to_string(),
            object: "session".to_owned(),
            status: self.status.as_str().to_owned(),
            mode: self.mode.as_str().to_owned(),
            source_language: language_to_wire(&self.source_language),
            target_language: language_to_wire(&self.target_language),
            stream: self.stream.as_ref().map(StreamCredentials::to_api),
            provider: self.provider.as_ref().map(Provider::to_api),
            phone_number: self.phone_number.clone(),
            recording: self.recording.as_ref().map(RecordingSettings::to_api),
            metadata: self.metadata.as_ref().map(|m| m.as_map().clone()),
            created_at: self.created_at,
            started_at: self.started_at,
            ended_at: self.ended_at,
        }
    }
}

serde_via_wire! {
    Session => types::Session,
    StreamCredentials => types::SessionStream,
    Provider => types::SessionProvider,
    RecordingSettings => types::SessionRecordingSettings,
    EndedSession => types::SessionEnded,
}

/// How to connect to a session's audio WebSocket.
///
/// The token is checked only when the socket connects, so it must be used
/// before [`expires_at`](Self::expires_at) (about five minutes after it is
/// issued); a stream that is already open survives the expiry.
///
/// `Debug` redacts the token, but **serializing exposes it**: the JSON is
/// `{"url", "token", "expires_at"}` with the real token, which is what a
/// browser or media worker needs to open the stream. Send it only to the
/// party that streams the audio, over TLS, and never log it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamCredentials {
    /// The WebSocket URL (`wss://…`). Use it verbatim: the host has changed
    /// before. It does not contain the token, which goes in a `token` query
    /// parameter when connecting.
    pub url: String,
    /// The stream token, a secret.
    pub token: StreamToken,
    /// When the token stops being accepted for new connections.
    pub expires_at: DateTime<Utc>,
}

impl StreamCredentials {
    /// Credentials from their parts, e.g. handed over by your own backend.
    pub fn new(url: String, token: StreamToken, expires_at: DateTime<Utc>) -> Self {
        Self {
            url,
            token,
            expires_at,
        }
    }

    fn from_api(v: types::SessionStream) -> Self {
        Self {
            url: v.url,
            token: StreamToken::new(v.token),
            expires_at: v.expires_at,
        }
    }

    fn to_api(&self) -> types::SessionStream {
        types::SessionStream {
            url: self.url.clone(),
            token: self.token.expose_secret().to_owned(),
            expires_at: self.expires_at,
        }
    }

    /// Whether the token can no longer open a connection at `now`.
    ///
    /// Taking the time as a parameter keeps this deterministic in tests and
    /// lets callers subtract a safety margin for clock skew and connection
    /// setup, e.g. `is_expired_at(Utc::now() + TimeDelta::seconds(10))`.
    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        now >= self.expires_at
    }

    /// [`is_expired_at`](Self::is_expired_at) with the system clock.
    pub fn is_expired(&self) -> bool {
        self.is_expired_at(Utc::now())
    }
}

/// A stream token (`kst_…`): a short-lived secret that authorizes one
/// session's audio stream.
///
/// `Debug` and `Display` show only the non-secret prefix, such as
/// `kst_live_…`, so the token cannot leak through logs or panic messages.
/// Use [`expose_secret`](Self::expose_secret) at the one place the real
/// value is needed.
///
/// It is `Serialize` (as the plain string) because handing the token to the
/// browser or worker that opens the stream is its purpose: **serializing
/// exposes the secret**, so only serialize it into a message meant for that
/// party, never into logs.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StreamToken(String);

/// Token prefixes shown by the redacted form. Anything beyond these is
/// hidden: the documented shape is `kst_live_…` or `kst_test_…`, and an
/// undocumented shape could put secret characters where the environment
/// name usually is.
const REDACTABLE_PREFIXES: [&str; 3] = ["kst_live_", "kst_test_", "kst_"];

impl StreamToken {
    /// Wraps a token, for example one received from your own backend.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token itself. Handle the result as a secret.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The part of the token that is safe to show: its documented prefix,
    /// or nothing if it has none.
    fn visible_prefix(&self) -> &'static str {
        REDACTABLE_PREFIXES
            .into_iter()
            // A token that *is* a prefix has nothing secret after it to
            // protect, but showing it whole would still print the value.
            .find(|prefix| self.0.starts_with(prefix) && self.0.len() > prefix.len())
            .unwrap_or("")
    }
}

impl fmt::Display for StreamToken {
    /// Writes the redacted form, such as `kst_live_…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}…", self.visible_prefix())
    }
}

impl fmt::Debug for StreamToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamToken({self})")
    }
}

/// The carrier of a session, in either of the shapes the API has used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Provider {
    /// Current responses: the carrier's name.
    Name(ProviderName),
    /// Legacy responses: an object describing the carrier and the call.
    #[non_exhaustive]
    Legacy {
        /// The carrier (the object's `type` field), such as `twilio`.
        kind: Option<String>,
        /// The number used.
        phone_number: Option<String>,
        /// The call's state: `pending`, `connected` or `disconnected`.
        status: Option<String>,
        /// The carrier's call id.
        call_sid: Option<String>,
    },
}

impl Provider {
    fn from_api(v: types::SessionProvider) -> Self {
        match v {
            types::SessionProvider::String(name) => Self::Name(ProviderName::from(name)),
            types::SessionProvider::LegacyProvider(p) => Self::Legacy {
                kind: p.type_,
                phone_number: p.phone_number,
                status: p.status,
                call_sid: p.call_sid,
            },
        }
    }

    fn to_api(&self) -> types::SessionProvider {
        match self {
            Self::Name(name) => types::SessionProvider::String(name.as_str().to_owned()),
            Self::Legacy {
                kind,
                phone_number,
                status,
                call_sid,
            } => types::SessionProvider::LegacyProvider(types::LegacyProvider {
                type_: kind.clone(),
                phone_number: phone_number.clone(),
                status: status.clone(),
                call_sid: call_sid.clone(),
            }),
        }
    }

    /// The carrier's name in either shape, such as `"twilio"`; `None` for a
    /// legacy object without a `type`.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Name(name) => Some(name.as_str()),
            Self::Legacy { kind, .. } => kind.as_deref(),
        }
    }
}

/// A session's recording settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingSettings {
    /// Whether the session is recorded; `None` if the server did not say.
    pub enabled: Option<bool>,
}

impl RecordingSettings {
    fn from_api(v: types::SessionRecordingSettings) -> Self {
        Self { enabled: v.enabled }
    }

    fn to_api(&self) -> types::SessionRecordingSettings {
        types::SessionRecordingSettings {
            enabled: self.enabled,
        }
    }
}

/// The summary returned when a session is ended.
///
/// Ending an already-ended session returns the same summary again.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EndedSession {
    /// The session's id.
    pub id: SessionId,
    /// The session's status, normally [`SessionStatus::Ended`].
    pub status: SessionStatus,
    /// The session's total duration in seconds, when reported.
    pub duration_seconds: Option<f64>,
    /// When the session ended, when reported.
    pub ended_at: Option<DateTime<Utc>>,
}

impl EndedSession {
    pub(crate) fn from_api(v: types::SessionEnded) -> Self {
        Self {
            id: SessionId::from(v.id),
            status: SessionStatus::from(v.status),
            duration_seconds: v.duration_seconds,
            ended_at: v.ended_at,
        }
    }

    fn to_api(&self) -> types::SessionEnded {
        types::SessionEnded {
            id: self.id.to_string(),
            object: Some("session".to_owned()),
            status: self.status.as_str().to_owned(),
            duration_seconds: self.duration_seconds,
            ended_at: self.ended_at,
        }
    }
}

/// Your own data attached to a session: free-form JSON that Kallglot stores
/// and echoes back on the session, e.g. a CRM ticket number to correlate
/// sessions with your records.
///
/// An empty `Metadata` is not sent at all, since the API cannot tell it
/// apart from no metadata.
///
/// ```
/// use kallglot::model::Metadata;
///
/// let metadata = Metadata::new()
///     .with("crm_ticket", "T-1042")
///     .with("priority", 2);
/// assert_eq!(metadata.get("priority"), Some(&2.into()));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Metadata(Map<String, Value>);

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry, replacing any previous value for `key`, and returns
    /// the metadata, for building it in one expression.
    #[must_use]
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds an entry and returns the value it replaced, if any.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Value>) -> Option<Value> {
        self.0.insert(key.into(), value.into())
    }

    /// The value for `key`, if present.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Removes `key` and returns its value, if present.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    /// The entries, in the order of `serde_json`'s map (sorted by key
    /// unless its `preserve_order` feature is enabled).
    pub fn iter(&self) -> serde_json::map::Iter<'_> {
        self.0.iter()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries as a JSON map.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// Unwraps the entries into a JSON map.
    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}

impl From<Map<String, Value>> for Metadata {
    fn from(map: Map<String, Value>) -> Self {
        Self(map)
    }
}

impl From<Metadata> for Map<String, Value> {
    fn from(metadata: Metadata) -> Self {
        metadata.0
    }
}

impl<K: Into<String>, V: Into<Value>> FromIterator<(K, V)> for Metadata {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl<K: Into<String>, V: Into<Value>> Extend<(K, V)> for Metadata {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.0
            .extend(iter.into_iter().map(|(k, v)| (k.into(), v.into())));
    }
}

impl IntoIterator for Metadata {
    type Item = (String, Value);
    type IntoIter = serde_json::map::IntoIter;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Metadata {
    type Item = (&'a String, &'a Value);
    type IntoIter = serde_json::map::Iter<'a>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn session(value: Value) -> Session {
        Session::from_api(serde_json::from_value(value).unwrap())
    }

    fn time(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn current_create_response() {
        let s = session(json!({
            "id": "sess_01HXYZ123456789",
            "object": "session",
            "status": "created",
            "mode": "bidirectional_translation",
            "source_language": null,
            "target_language": null,
            "provider": "twilio",
            "phone_number": "+14155551234",
            "stream": {
                "url": "wss://api.kallglot.com/v1/sessions/sess_01HXYZ123456789/connect",
                "token": "kst_test_example0000000000",
                "expires_at": "2026-03-26T11:05:00Z"
            },
            "recording": {"enabled": true},
            "metadata": null,
            "created_at": "2026-03-26T11:00:00Z",
            "started_at": null,
            "ended_at": null
        }));
        assert_eq!(s.id, "sess_01HXYZ123456789");
        assert_eq!(s.status, SessionStatus::Created);
        assert!(!s.status.is_ended());
        assert_eq!(s.mode, Mode::BidirectionalTranslation);
        assert_eq!(s.source_language, None);
        assert_eq!(s.target_language, None);
        assert_eq!(s.provider, Some(Provider::Name(ProviderName::Twilio)));
        assert_eq!(s.provider.as_ref().unwrap().name(), Some("twilio"));
        assert_eq!(s.phone_number.as_deref(), Some("+14155551234"));
        let stream = s.stream.as_ref().unwrap();
        assert_eq!(
            stream.url,
            "wss://api.kallglot.com/v1/sessions/sess_01HXYZ123456789/connect"
        );
        assert_eq!(stream.token.expose_secret(), "kst_test_example0000000000");
        assert_eq!(stream.expires_at, time("2026-03-26T11:05:00Z"));
        assert_eq!(
            s.recording,
            Some(RecordingSettings {
                enabled: Some(true)
            })
        );
        assert_eq!(s.metadata, None);
        assert_eq!(s.created_at, time("2026-03-26T11:00:00Z"));
        assert_eq!(s.started_at, None);
        assert_eq!(s.ended_at, None);
    }

    #[test]
    fn current_active_session_with_metadata() {
        let s = session(json!({
            "id": "sess_1",
            "object": "session",
            "status": "active",
            "mode": "assistive_translation",
            "source_language": "de",
            "target_language": "en",
            "provider": "sip",
            "recording": {"enabled": false},
            "metadata": {"team": "support", "n": 3},
            "created_at": "2026-03-26T11:00:00Z",
            "started_at": "2026-03-26T11:00:04.250Z",
            "ended_at": null
        }));
        assert_eq!(s.status, SessionStatus::Active);
        assert_eq!(s.mode, Mode::AssistiveTranslation);
        assert_eq!(s.source_language, Some(Language::DE));
        assert_eq!(s.target_language, Some(Language::EN));
        assert_eq!(s.provider, Some(Provider::Name(ProviderName::Sip)));
        assert_eq!(s.stream, None);
        assert_eq!(s.phone_number, None);
        assert_eq!(
            s.metadata,
            Some(Metadata::new().with("team", "support").with("n", 3))
        );
        assert_eq!(s.started_at, Some(time("2026-03-26T11:00:04.250Z")));
    }

    #[test]
    fn minimal_session_has_only_required_fields() {
        let s = session(json!({
            "id": "sess_1",
            "object": "session",
            "status": "ended",
            "mode": "ai_agent",
            "created_at": "2026-03-26T11:00:00Z"
        }));
        assert!(s.status.is_ended());
        assert_eq!(s.mode, Mode::AiAgent);
        assert_eq!(s.stream, None);
        assert_eq!(s.provider, None);
        assert_eq!(s.recording, None);
        assert_eq!(s.metadata, None);
        assert_eq!(s.ended_at, None);
    }

    #[test]
    fn legacy_session_with_provider_object() {
        let s = session(json!({
            "id": "sess_legacy",
            "object": "session",
            "status": "connecting",
            "mode": "bidirectional_translation",
            "source_language": "es",
            "target_language": "en",
            "provider": {
                "type": "telnyx",
                "phone_number": "+14155550000",
                "status": "pending",
                "call_sid": "CA123"
            },
            // Legacy-only fields are ignored.
            "duration": 12.5,
            "transcript": {"available": false, "word_count": 0},
            "call": null,
            "created_at": "2026-03-26T11:00:00Z"
        }));
        assert_eq!(s.status, SessionStatus::Connecting);
        assert!(!s.status.is_ended());
        assert_eq!(
            s.provider,
            Some(Provider::Legacy {
                kind: Some("telnyx".into()),
                phone_number: Some("+14155550000".into()),
                status: Some("pending".into()),
                call_sid: Some("CA123".into()),
            })
        );
        assert_eq!(s.provider.unwrap().name(), Some("telnyx"));
    }

    #[test]
    fn legacy_provider_object_may_be_empty() {
        let s = session(json!({
            "id": "sess_1",
            "object": "session",
            "status": "active",
            "mode": "bidirectional_translation",
            "provider": {},
            "created_at": "2026-03-26T11:00:00Z"
        }));
        let provider = s.provider.unwrap();
        assert!(matches!(provider, Provider::Legacy { kind: None, .. }));
        assert_eq!(provider.name(), None);
    }

    #[test]
    fn unknown_values_are_preserved() {
        let s = session(json!({
            "id": "sess_1",
            "object": "session",
            "status": "paused",
            "mode": "karaoke",
            "provider": "vonage",
            "source_language": "en_US",
            "created_at": "2026-03-26T11:00:00Z"
        }));
        assert_eq!(s.status, SessionStatus::Unknown("paused".into()));
        assert!(!s.status.is_ended());
        assert_eq!(s.mode, Mode::Unknown("karaoke".into()));
        assert_eq!(
            s.provider,
            Some(Provider::Name(ProviderName::Unknown("vonage".into())))
        );
        assert_eq!(s.provider.unwrap().name(), Some("vonage"));
        assert_eq!(s.source_language.unwrap().as_str(), "en_US");
    }

    #[test]
    fn enum_wire_values_round_trip() {
        for wire in SessionStatus::WIRE_VALUES {
            assert!(!SessionStatus::parse(wire).is_unknown(), "{wire}");
            assert_eq!(SessionStatus::parse(wire).as_str(), *wire);
        }
        for wire in Mode::WIRE_VALUES {
            assert!(!Mode::parse(wire).is_unknown(), "{wire}");
            assert_eq!(Mode::parse(wire).as_str(), *wire);
        }
        for wire in ProviderName::WIRE_VALUES {
            assert!(!ProviderName::parse(wire).is_unknown(), "{wire}");
        }
        assert_eq!(SessionStatus::WIRE_VALUES.len(), 4);
        assert_eq!(Mode::WIRE_VALUES.len(), 4);
        assert_eq!(Mode::HelpChatVoice.as_str(), "help_chat_voice");
    }

    #[test]
    fn ended_session_summary() {
        let ended = EndedSession::from_api(
            serde_json::from_value(json!({
                "id": "sess_1",
                "object": "session",
                "status": "ended",
                "duration_seconds": 245.3,
                "ended_at": "2026-03-26T11:04:05Z"
            }))
            .unwrap(),
        );
        assert_eq!(ended.id, "sess_1");
        assert!(ended.status.is_ended());
        assert_eq!(ended.duration_seconds, Some(245.3));
        assert_eq!(ended.ended_at, Some(time("2026-03-26T11:04:05Z")));

        // `object`, `duration_seconds` and `ended_at` are optional; a legacy
        // `duration` is ignored.
        let ended = EndedSession::from_api(
            serde_json::from_value(json!({
                "id": "sess_1",
                "status": "ended",
                "duration": 10.0,
                "end_reason": "completed"
            }))
            .unwrap(),
        );
        assert_eq!(ended.duration_seconds, None);
        assert_eq!(ended.ended_at, None);
    }

    #[test]
    fn stream_token_is_redacted() {
        let table = [
            ("kst_live_s3cr3tV4lue", "kst_live_…"),
            ("kst_test_s3cr3tV4lue", "kst_test_…"),
            ("kst_s3cr3t_V4lue", "kst_…"),
            ("kst_s3cr3tV4lue", "kst_…"),
            ("s3cr3t_V4lue_x", "…"),
            ("kst_live_", "kst_…"),
            ("kst_", "…"),
            ("", "…"),
        ];
        for (secret, shown) in table {
            let token = StreamToken::new(secret);
            assert_eq!(token.to_string(), shown, "{secret}");
            assert_eq!(format!("{token:?}"), format!("StreamToken({shown})"));
            assert_eq!(token.expose_secret(), secret);
        }
    }

    #[test]
    fn stream_token_does_not_leak_through_session_debug() {
        let s = session(json!({
            "id": "sess_1",
            "object": "session",
            "status": "created",
            "mode": "bidirectional_translation",
            "stream": {
                "url": "wss://api.kallglot.com/v1/sessions/sess_1/connect",
                "token": "kst_live_TOPSECRET123",
                "expires_at": "2026-03-26T11:05:00Z"
            },
            "created_at": "2026-03-26T11:00:00Z"
        }));
        for rendered in [format!("{s:?}"), format!("{s:#?}")] {
            assert!(!rendered.contains("TOPSECRET"), "{rendered}");
            assert!(rendered.contains("kst_live_…"), "{rendered}");
        }
    }

    #[test]
    fn stream_expiry() {
        let credentials = StreamCredentials {
            url: "wss://example/connect".into(),
            token: StreamToken::new("kst_test_x"),
            expires_at: time("2026-03-26T11:05:00Z"),
        };
        assert!(!credentials.is_expired_at(time("2026-03-26T11:04:59Z")));
        assert!(credentials.is_expired_at(time("2026-03-26T11:05:00Z")));
        assert!(credentials.is_expired_at(time("2026-03-26T12:00:00Z")));
        // The fixture's expiry is in the past of any real clock.
        let past = StreamCredentials {
            expires_at: time("2000-01-01T00:00:00Z"),
            ..credentials
        };
        assert!(past.is_expired());
    }

    #[test]
    fn metadata_api() {
        let mut metadata = Metadata::new();
        assert!(metadata.is_empty());
        assert_eq!(metadata.insert("a", 1), None);
        assert_eq!(metadata.insert("a", 2), Some(json!(1)));
        metadata.extend([("b", json!({"nested": true}))]);
        assert_eq!(metadata.len(), 2);
        assert!(metadata.contains_key("b"));
        assert_eq!(metadata.get("a"), Some(&json!(2)));
        let keys: Vec<&String> = metadata.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(metadata.remove("a"), Some(json!(2)));
        assert_eq!(metadata.get("a"), None);

        let collected: Metadata = [("x".to_owned(), json!("y"))].into_iter().collect();
        assert_eq!(collected, Metadata::new().with("x", "y"));
        assert_eq!(collected.as_map().len(), 1);
        let owned: Vec<(String, Value)> = collected.clone().into_iter().collect();
        assert_eq!(owned, [("x".to_owned(), json!("y"))]);
        assert_eq!(collected.into_map().get("x"), Some(&json!("y")));
    }

    #[test]
    fn metadata_serde_is_transparent() {
        let metadata = Metadata::new().with("crm_ticket", "T-1042").with("n", 1);
        let value = serde_json::to_value(&metadata).unwrap();
        assert_eq!(value, json!({"crm_ticket": "T-1042", "n": 1}));
        assert_eq!(serde_json::from_value::<Metadata>(value).unwrap(), metadata);
        assert!(serde_json::from_value::<Metadata>(json!([1])).is_err());
    }
}
