//! The stream protocol's messages: what the client sends and the events it receives.
//!
//! Decoding never fails: a frame with an unknown `type`, a known type whose fields are not
//! the documented ones, or extra fields all arrive as events ([`Event::Unknown`] keeps the
//! raw JSON), so a protocol change on the server can never end the stream.
//!
//! [`Event`] is `Serialize` and `Deserialize`, to forward events (to a browser, a queue)
//! or record them: a server message serializes as the protocol's JSON message (its
//! `type` and fields), and the two events the SDK itself produces as `sdk.reconnected`
//! (`attempt`) and `sdk.closed` (`code`, `reason`, `session_ended`). Deserializing is as
//! lenient as decoding a frame, so a round trip gives back an equal event.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error_code::ErrorCode;
use crate::model::{Language, Speaker, Translation};
use crate::open_enum::open_enum;
use crate::stream::audio::{MulawAudio, SAMPLE_RATE_HZ};

/// A message the client sends.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientMessage {
    /// `audio.input`: one frame of μ-law audio.
    AudioInput(AudioInput),
    /// `ping`: the server answers with `pong`.
    Ping,
    /// `session.end`: the server ends the session and answers `session.ended`.
    SessionEnd,
}

/// One `audio.input` frame. The audio type guarantees μ-law at 8 kHz mono, the only format
/// the stream accepts.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct AudioInput {
    /// Increasing frame number; the stream stamps it.
    pub sequence: u64,
    /// Client time of the frame, in Unix milliseconds.
    pub timestamp_ms: u64,
    /// Whose voice the frame carries.
    pub speaker: Speaker,
    /// The audio.
    pub audio: MulawAudio,
}

#[derive(Serialize)]
#[serde(tag = "type")]
enum Wire<'a> {
    #[serde(rename = "audio.input")]
    AudioInput {
        sequence: u64,
        timestamp_ms: u64,
        speaker: &'a str,
        audio: WireAudio,
    },
    #[serde(rename = "ping")]
    Ping,
    #[serde(rename = "session.end")]
    SessionEnd,
}

#[derive(Serialize)]
struct WireAudio {
    encoding: &'static str,
    sample_rate_hz: u32,
    payload: String,
}

impl ClientMessage {
    /// The JSON text frame for this message, exactly as the protocol documents it.
    pub fn to_json(&self) -> String {
        use base64::Engine as _;
        let wire = match self {
            Self::AudioInput(input) => Wire::AudioInput {
                sequence: input.sequence,
                timestamp_ms: input.timestamp_ms,
                speaker: input.speaker.as_str(),
                audio: WireAudio {
                    encoding: "mulaw",
                    sample_rate_hz: SAMPLE_RATE_HZ,
                    payload: base64::engine::general_purpose::STANDARD
                        .encode(input.audio.as_bytes()),
                },
            },
            Self::Ping => Wire::Ping,
            Self::SessionEnd => Wire::SessionEnd,
        };
        serde_json::to_string(&wire).expect("stream messages always serialize")
    }
}

open_enum! {
    /// Why the server ended the session.
    pub enum EndReason {
        /// The client sent `session.end`.
        ExplicitEnd = "explicit_end",
    }
}

/// An event from the stream.
///
/// [`Events`](crate::stream::Events) yields them in the order the server sent them; the
/// enum is non-exhaustive, and a message this version does not know arrives as
/// [`Event::Unknown`] rather than as an error.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = kallglot_mock::MockServer::builder()
/// #     .utterance_duration(std::time::Duration::from_millis(500)) // a line per 500 ms of audio
/// #     .start()
/// #     .await?;
/// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
/// use futures_util::StreamExt;
/// use kallglot::model::{CreateSessionParams, Language, Mode};
/// use kallglot::stream::{Event, MulawAudio, StreamOptions};
///
/// let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
///     .languages(Language::EN, Language::ES);
/// let session = client.sessions().create(params).await?;
/// let (sender, mut events) = client.sessions().connect(&session, StreamOptions::default()).await?;
/// for _ in 0..10 {
///     // 100 ms of μ-law silence per frame; the emulator answers with scripted lines.
///     sender.send_audio(MulawAudio::from_mulaw_bytes(vec![0xFF; 800])).await?;
/// }
/// let mut lines = 0;
/// while let Some(event) = events.next().await {
///     match event? {
///         Event::Ready { .. } => println!("streaming"),
///         Event::TranscriptPartial(partial) => println!("… {}", partial.text),
///         Event::TranscriptFinal(line) => {
///             println!("{:?}: {}", line.speaker, line.text);
///             if let Some(translation) = &line.translation {
///                 println!("  → {}", translation.text);
///             }
///             lines += 1;
///             if lines == 2 {
///                 sender.end().await?;
///             }
///         }
///         Event::SessionError { code, message, .. } => eprintln!("{code}: {message:?}"),
///         Event::SessionEnded { reason, .. } => println!("ended: {reason}"),
///         Event::Closed(_) => break, // always the last event
///         other => println!("{other:?}"),
///     }
/// }
/// assert_eq!(lines, 2);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// `session.ready`: the server is ready for audio.
    Ready {
        /// The raw message (its fields are not documented).
        raw: Value,
    },
    /// `transcript.partial`: an interim transcript, replaced by later ones.
    TranscriptPartial(TranscriptPartial),
    /// `transcript.final`: a finished utterance, with its translation when there is one.
    TranscriptFinal(TranscriptFinal),
    /// `pong`: the answer to a `ping`.
    Pong {
        /// The session, as the server reports it.
        session_id: Option<String>,
    },
    /// `session.ended`: the session is over; the server closes the stream next.
    SessionEnded {
        /// The session, as the server reports it.
        session_id: Option<String>,
        /// Why it ended.
        reason: EndReason,
    },
    /// `session.error`: the server refused something, e.g. `invalid_audio_format`.
    SessionError {
        /// The error code.
        code: ErrorCode,
        /// The server's explanation, when given.
        message: Option<String>,
        /// The raw message.
        raw: Value,
    },
    /// The stream was re-established after an abnormal drop (opt-in reconnect).
    Reconnected {
        /// Which reconnect attempt succeeded (1 for the first).
        attempt: u32,
    },
    /// The stream closed cleanly. It is the last event.
    Closed(Closed),
    /// A message this SDK version does not know, or a known type whose fields were not
    /// the documented ones. Nothing is lost: `raw` is the whole message.
    Unknown {
        /// The message's `type`.
        kind: String,
        /// The raw message.
        raw: Value,
    },
}

/// An interim transcript.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TranscriptPartial {
    /// Who is speaking, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
    /// The text so far.
    pub text: String,
    /// The language, when the server says.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::lenient_language"
    )]
    pub language: Option<Language>,
}

/// A finished utterance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TranscriptFinal {
    /// Who spoke, when the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speaker: Option<Speaker>,
    /// What was said.
    pub text: String,
    /// The language, when the server says.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::model::lenient_language"
    )]
    pub language: Option<Language>,
    /// The translation, when languages are set. The protocol leaves its shape open, so an
    /// object `{language, text}` and a bare string are both accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translation: Option<Translation>,
}

/// How the stream closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Closed {
    /// The WebSocket close code, when the server sent a close frame.
    pub code: Option<u16>,
    /// The close reason, possibly empty.
    pub reason: String,
    /// Whether `session.ended` arrived (or the session was found ended) before the close.
    pub session_ended: bool,
}

/// Decodes one text frame. Returns `None` for text that is not a JSON object with a
/// string `type` (it is logged and skipped by the caller).
pub(crate) fn decode(text: &str) -> Option<Event> {
    decode_value(serde_json::from_str(text).ok()?)
}

/// [`decode`] for an already parsed message.
fn decode_value(raw: Value) -> Option<Event> {
    let kind = raw.get("type")?.as_str()?.to_string();
    let text_field = |name: &str| raw.get(name).and_then(Value::as_str).map(str::to_string);
    let speaker = text_field("speaker").map(Speaker::from);
    let language = text_field("language").map(Language::from_wire);
    let event = match kind.as_str() {
        "session.ready" => Event::Ready { raw },
        "transcript.partial" => match text_field("text") {
            Some(text) => Event::TranscriptPartial(TranscriptPartial {
                speaker,
                text,
                language,
            }),
            None => Event::Unknown { kind, raw },
        },
        "transcript.final" => match text_field("text") {
            Some(text) => Event::TranscriptFinal(TranscriptFinal {
                speaker,
                text,
                language,
                translation: raw.get("translation").and_then(translation),
            }),
            None => Event::Unknown { kind, raw },
        },
        "pong" => Event::Pong {
            session_id: text_field("session_id"),
        },
        "session.ended" => Event::SessionEnded {
            session_id: text_field("session_id"),
            reason: text_field("reason")
                .map(EndReason::from)
                .unwrap_or_else(|| EndReason::Unknown(String::new())),
        },
        "session.error" => {
            // Field names are not documented: accept `code`/`message` at the top level
            // or inside an `error` object like the REST envelope.
            let nested = raw.get("error");
            let pick = |name: &str| {
                raw.get(name)
                    .or_else(|| nested.and_then(|e| e.get(name)))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            match pick("code") {
                Some(code) => Event::SessionError {
                    code: ErrorCode::parse(&code),
                    message: pick("message"),
                    raw,
                },
                None => Event::Unknown { kind, raw },
            }
        }
        _ => Event::Unknown { kind, raw },
    };
    Some(event)
}

fn translation(value: &Value) -> Option<Translation> {
    match value {
        Value::String(text) => Some(Translation::new(None, text.clone())),
        Value::Object(obj) => {
            let text = obj.get("text")?.as_str()?.to_string();
            let language = obj
                .get("language")
                .and_then(Value::as_str)
                .map(|l| Language::from_wire(l.to_string()));
            Some(Translation::new(language, text))
        }
        _ => None,
    }
}

/// The `type` of the [`Event::Reconnected`] the SDK produces, when serialized.
const SDK_RECONNECTED: &str = "sdk.reconnected";
/// The `type` of the [`Event::Closed`] the SDK produces, when serialized.
const SDK_CLOSED: &str = "sdk.closed";

impl Event {
    /// The event as one JSON message; see the [module docs](self).
    fn to_value(&self) -> Value {
        let tagged = |kind: &str, body: Value| match body {
            Value::Object(mut map) => {
                map.insert("type".to_owned(), kind.into());
                Value::Object(map)
            }
            other => other,
        };
        match self {
            Self::Ready { raw } => tagged("session.ready", raw.clone()),
            Self::TranscriptPartial(p) => tagged("transcript.partial", value_of(p)),
            Self::TranscriptFinal(f) => tagged("transcript.final", value_of(f)),
            Self::Pong { session_id } => {
                tagged("pong", serde_json::json!({ "session_id": session_id }))
            }
            Self::SessionEnded { session_id, reason } => tagged(
                "session.ended",
                serde_json::json!({ "session_id": session_id, "reason": reason }),
            ),
            Self::SessionError { code, message, raw } => {
                let mut value = tagged("session.error", raw.clone());
                if let Value::Object(map) = &mut value {
                    map.insert("code".to_owned(), code.as_str().into());
                    if let Some(message) = message {
                        map.insert("message".to_owned(), message.as_str().into());
                    }
                }
                value
            }
            Self::Reconnected { attempt } => {
                tagged(SDK_RECONNECTED, serde_json::json!({ "attempt": attempt }))
            }
            Self::Closed(closed) => tagged(SDK_CLOSED, value_of(closed)),
            Self::Unknown { kind, raw } => tagged(kind, raw.clone()),
        }
    }

    /// Reads a message serialized by [`to_value`](Self::to_value), or one straight from
    /// the server.
    fn from_value(raw: Value) -> Option<Self> {
        let local = match raw.get("type").and_then(Value::as_str) {
            Some(SDK_RECONNECTED) => raw
                .get("attempt")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .map(|attempt| Self::Reconnected { attempt }),
            Some(SDK_CLOSED) => serde_json::from_value(raw.clone()).ok().map(Self::Closed),
            _ => None,
        };
        local.or_else(|| decode_value(raw))
    }
}

/// An event struct as a JSON value. It cannot fail: the fields are strings, numbers and
/// options of them.
fn value_of(body: &impl Serialize) -> Value {
    serde_json::to_value(body).unwrap_or_default()
}

impl Serialize for Event {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        Self::from_value(raw).ok_or_else(|| {
            serde::de::Error::custom("a stream event is a JSON object with a string `type`")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn client_messages_serialize_exactly_per_protocol() {
        let audio = MulawAudio::from_mulaw_bytes(vec![0xFF, 0x7F, 0x00]);
        let input = ClientMessage::AudioInput(AudioInput {
            sequence: 7,
            timestamp_ms: 1_774_522_800_000,
            speaker: Speaker::Customer,
            audio,
        });
        let value: Value = serde_json::from_str(&input.to_json()).unwrap();
        assert_eq!(
            value,
            json!({"type": "audio.input", "sequence": 7, "timestamp_ms": 1_774_522_800_000u64,
                   "speaker": "customer",
                   "audio": {"encoding": "mulaw", "sample_rate_hz": 8000, "payload": "/38A"}})
        );
        assert_eq!(ClientMessage::Ping.to_json(), r#"{"type":"ping"}"#);
        assert_eq!(
            ClientMessage::SessionEnd.to_json(),
            r#"{"type":"session.end"}"#
        );
    }

    #[test]
    fn server_events_decode_with_extra_fields() {
        let final_ = decode(
            r#"{"type":"transcript.final","speaker":"customer","text":"Hola","language":"es",
                "translation":{"language":"en","text":"Hello"},"confidence":0.9}"#,
        )
        .unwrap();
        assert_eq!(
            final_,
            Event::TranscriptFinal(TranscriptFinal {
                speaker: Some(Speaker::Customer),
                text: "Hola".into(),
                language: Some(Language::from_wire("es".into())),
                translation: Some(Translation::new(
                    Some(Language::from_wire("en".into())),
                    "Hello".into()
                )),
            })
        );
        let legacy = decode(r#"{"type":"transcript.final","text":"Hi","translation":"Hola"}"#);
        match legacy {
            Some(Event::TranscriptFinal(f)) => {
                assert_eq!(f.translation.unwrap().text, "Hola");
                assert_eq!(f.speaker, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            decode(r#"{"type":"pong","session_id":"sess_1"}"#),
            Some(Event::Pong {
                session_id: Some("sess_1".into())
            })
        );
        assert_eq!(
            decode(r#"{"type":"session.ended","session_id":"sess_1","reason":"explicit_end"}"#),
            Some(Event::SessionEnded {
                session_id: Some("sess_1".into()),
                reason: EndReason::ExplicitEnd
            })
        );
        match decode(r#"{"type":"session.error","code":"invalid_audio_format","message":"no"}"#) {
            Some(Event::SessionError { code, message, .. }) => {
                assert_eq!(code, ErrorCode::InvalidAudioFormat);
                assert_eq!(message.as_deref(), Some("no"));
            }
            other => panic!("{other:?}"),
        }
        match decode(r#"{"type":"session.error","error":{"code":"x_new","message":"m"}}"#) {
            Some(Event::SessionError { code, .. }) => {
                assert_eq!(code, ErrorCode::Unknown("x_new".into()))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_and_malformed_messages_never_fail() {
        assert_eq!(
            decode(r#"{"type":"agent.thinking","x":1}"#),
            Some(Event::Unknown {
                kind: "agent.thinking".into(),
                raw: json!({"type": "agent.thinking", "x": 1})
            })
        );
        // A known type without its documented fields is kept raw, not dropped.
        assert!(matches!(
            decode(r#"{"type":"transcript.final","speaker":"agent"}"#),
            Some(Event::Unknown { .. })
        ));
        assert_eq!(decode("not json"), None);
        assert_eq!(decode(r#"{"no_type":true}"#), None);
        assert_eq!(decode(r#"{"type":42}"#), None);
        assert_eq!(decode("[1,2]"), None);
    }
}
