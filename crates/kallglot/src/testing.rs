//! Fixtures: the SDK's models built by hand, for your own tests.
//!
//! Models are `#[non_exhaustive]`, so that fields the API adds can be added without
//! breaking you; the price is that code outside this crate cannot write them as struct
//! literals. Each function here builds one with the given ids and plausible values
//! elsewhere. Every field is public, so set what your test is about afterwards:
//!
//! ```
//! use kallglot::model::{SessionStatus, Speaker};
//! use kallglot::testing;
//!
//! let mut session = testing::session("sess_1");
//! session.status = SessionStatus::Ended;
//! let response = testing::response(session);
//! assert_eq!(response.id, "sess_1");
//! assert_eq!(response.status(), 200);
//!
//! let transcript = testing::transcript("sess_1", vec![testing::turn(Speaker::Agent, "Hello")]);
//! assert_eq!(transcript.turns[0].text, "Hello");
//! ```
//!
//! A model can also be read from the API's JSON with `serde_json`, since every model is
//! `Deserialize`; that is handy for fixtures copied from real responses.
//!
//! Times are fixed ([`FIXTURE_TIME`]) so fixtures compare equal across runs. The stream
//! token of [`stream_credentials`] expires at [`FIXTURE_EXPIRY`], far in the future, so
//! that code checking expiry sees a usable token; move it to the past to test expiry.

use chrono::{DateTime, Utc};

#[cfg(feature = "client")]
use crate::error::{ApiError, Error};
#[cfg(feature = "client")]
use crate::error_code::ErrorCode;
use crate::ids::{AnalysisId, RecordingId, SessionId, TranscriptId};
#[cfg(feature = "client")]
use crate::metadata::{Credits, RateLimit, ResponseMeta};
use crate::model::{
    Analysis, AnalysisStatus, Compliance, EndedSession, Mode, Performance, Provider, Recording,
    RecordingList, RecordingSettings, RecordingStatus, Sentiment, Session, SessionStatus, Speaker,
    StreamCredentials, StreamToken, Transcript, TranscriptMetadata, TranscriptStatus, Turn,
};
#[cfg(feature = "client")]
use crate::resources::Downloaded;
#[cfg(feature = "client")]
use crate::response::Response;

/// The time every fixture uses for `created_at`, `ended_at` and the like:
/// 2026-01-01T00:00:00Z.
pub const FIXTURE_TIME: DateTime<Utc> = match DateTime::from_timestamp(1_767_225_600, 0) {
    Some(time) => time,
    None => panic!("a valid timestamp"),
};

/// When the token of [`stream_credentials`] expires: 2100-01-01T00:00:00Z.
pub const FIXTURE_EXPIRY: DateTime<Utc> = match DateTime::from_timestamp(4_102_444_800, 0) {
    Some(time) => time,
    None => panic!("a valid timestamp"),
};

/// A `created` bidirectional-translation session, without languages, stream credentials
/// or anything else optional, created at [`FIXTURE_TIME`].
pub fn session(id: impl Into<SessionId>) -> Session {
    Session {
        id: id.into(),
        status: SessionStatus::Created,
        mode: Mode::BidirectionalTranslation,
        source_language: None,
        target_language: None,
        stream: None,
        provider: None,
        phone_number: None,
        recording: None,
        metadata: None,
        created_at: FIXTURE_TIME,
        started_at: None,
        ended_at: None,
    }
}

/// Stream credentials for `session_id`: the production URL pattern, the token
/// `kst_test_fixture`, expiring at [`FIXTURE_EXPIRY`].
pub fn stream_credentials(session_id: impl Into<SessionId>) -> StreamCredentials {
    let id = session_id.into();
    StreamCredentials::new(
        format!("wss://api.kallglot.com/v1/sessions/{id}/connect"),
        StreamToken::new("kst_test_fixture"),
        FIXTURE_EXPIRY,
    )
}

/// A legacy provider object, as older responses carried; `kind` is its `type`.
pub fn legacy_provider(kind: Option<&str>) -> Provider {
    Provider::Legacy {
        kind: kind.map(str::to_owned),
        phone_number: None,
        status: None,
        call_sid: None,
    }
}

/// Recording settings that say whether the session is recorded.
pub fn recording_settings(enabled: Option<bool>) -> RecordingSettings {
    RecordingSettings { enabled }
}

/// The summary of an ended session, ended at [`FIXTURE_TIME`], without a duration.
pub fn ended_session(id: impl Into<SessionId>) -> EndedSession {
    EndedSession {
        id: id.into(),
        status: SessionStatus::Ended,
        duration_seconds: None,
        ended_at: Some(FIXTURE_TIME),
    }
}

/// A `completed` transcript of `session_id` with these turns; its id is
/// `trn_<session_id>` and it has no metadata.
pub fn transcript(session_id: impl Into<SessionId>, turns: Vec<Turn>) -> Transcript {
    let session_id = session_id.into();
    Transcript {
        id: Some(TranscriptId::new(format!("trn_{session_id}"))),
        session_id,
        status: TranscriptStatus::Completed,
        turns,
        metadata: None,
    }
}

/// A turn: who spoke and what was said, without sequence, language, translation or time.
pub fn turn(speaker: Speaker, text: impl Into<String>) -> Turn {
    Turn {
        sequence: None,
        speaker,
        language: None,
        text: text.into(),
        translation: None,
        timestamp: None,
    }
}

/// Transcript figures with nothing reported.
pub fn transcript_metadata() -> TranscriptMetadata {
    TranscriptMetadata {
        total_turns: None,
        duration_seconds: None,
        languages_detected: Vec::new(),
    }
}

/// A `ready` recording with only its id set.
pub fn recording(id: impl Into<RecordingId>) -> Recording {
    Recording {
        id: id.into(),
        session_id: None,
        channel: None,
        status: RecordingStatus::Ready,
        duration: None,
        format: None,
        size: None,
        sample_rate: None,
        bit_depth: None,
        download_url: None,
        created_at: None,
        expires_at: None,
    }
}

/// A page of recordings, without `has_more` (as current responses have none).
pub fn recording_list(data: Vec<Recording>) -> RecordingList {
    RecordingList {
        data,
        has_more: None,
    }
}

/// A `processing` analysis of `session_id`, as the answer to a create carries.
pub fn analysis(id: impl Into<AnalysisId>, session_id: impl Into<SessionId>) -> Analysis {
    Analysis {
        id: id.into(),
        session_id: session_id.into(),
        call_id: None,
        profile: None,
        status: AnalysisStatus::Processing,
        summary: None,
        sentiment: None,
        compliance: None,
        performance: None,
        error: None,
        created_at: None,
        completed_at: None,
    }
}

/// Each party's sentiment.
pub fn sentiment(customer: Option<&str>, agent: Option<&str>) -> Sentiment {
    Sentiment {
        customer: customer.map(str::to_owned),
        agent: agent.map(str::to_owned),
    }
}

/// A compliance outcome without flags.
pub fn compliance(status: Option<&str>) -> Compliance {
    Compliance {
        status: status.map(str::to_owned),
        flags: Vec::new(),
    }
}

/// An agent performance score.
pub fn performance(score: Option<f64>) -> Performance {
    Performance { score }
}

#[cfg(feature = "client")]
/// What a download wrote: `bytes` of `audio/mpeg`, without a file name.
pub fn downloaded(bytes: u64) -> Downloaded {
    Downloaded {
        bytes,
        content_type: Some("audio/mpeg".to_owned()),
        filename: None,
    }
}

#[cfg(feature = "client")]
/// `data` as the result of a `200` response without metadata headers.
pub fn response<T>(data: T) -> Response<T> {
    Response::new(data, response_meta(200))
}

#[cfg(feature = "client")]
/// `data` as the result of a response with this metadata.
pub fn response_with_meta<T>(data: T, meta: ResponseMeta) -> Response<T> {
    Response::new(data, meta)
}

#[cfg(feature = "client")]
/// The metadata of a response with this status and no metadata headers.
pub fn response_meta(status: u16) -> ResponseMeta {
    ResponseMeta {
        status,
        ..ResponseMeta::default()
    }
}

#[cfg(feature = "client")]
/// Rate-limit figures, as the `X-RateLimit-*` headers give them.
pub fn rate_limit(
    limit: Option<u64>,
    remaining: Option<u64>,
    reset: Option<DateTime<Utc>>,
) -> RateLimit {
    RateLimit {
        limit,
        remaining,
        reset,
    }
}

#[cfg(feature = "client")]
/// Credit figures, as the `X-API-Credits-*` headers give them.
pub fn credits(remaining: Option<i64>, used: Option<i64>) -> Credits {
    Credits { remaining, used }
}

#[cfg(feature = "client")]
/// An error answer from the API for `operation` (such as `retrieve_session`), with this
/// status, code and message, as [`Error::Api`]. The code is parsed like a response's, so
/// a known code gets its variant and legacy spellings their current one.
pub fn api_error(operation: &'static str, status: u16, code: &str, message: &str) -> Error {
    Error::Api(Box::new(ApiError {
        operation,
        status,
        code: Some(ErrorCode::parse(code)),
        raw_code: Some(code.to_owned()),
        kind: None,
        message: message.to_owned(),
        param: None,
        request_id: None,
        retry_after: None,
        required_scope: None,
        body_snippet: None,
        meta: response_meta(status),
        idempotency_key: None,
    }))
}

/// Stream events, for testing code that consumes [`crate::stream::Event`]s.
#[cfg(feature = "stream")]
pub mod stream {
    use crate::stream::{Closed, TranscriptFinal, TranscriptPartial};

    /// An interim transcript with only its text.
    pub fn transcript_partial(text: impl Into<String>) -> TranscriptPartial {
        TranscriptPartial {
            speaker: None,
            text: text.into(),
            language: None,
        }
    }

    /// A finished utterance with only its text.
    pub fn transcript_final(text: impl Into<String>) -> TranscriptFinal {
        TranscriptFinal {
            speaker: None,
            text: text.into(),
            language: None,
            translation: None,
        }
    }

    /// A clean close with code 1000, after `session.ended` when `session_ended` is set.
    pub fn closed(session_ended: bool) -> Closed {
        Closed {
            code: Some(1000),
            reason: String::new(),
            session_ended,
        }
    }
}
