//! The emulator's state: its account (keys, limits, credits), its resources (sessions,
//! stream tokens, transcripts, recordings, analyses) and the lifecycle rules that move
//! them along.
//!
//! Resources live in one [`World`] behind one lock, never held across an `.await`, so
//! every operation (such as "charge a credit and create the session") is atomic. Events
//! are collected under the lock and published after it is released.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::StatusCode;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::audio_stats::{AudioCounter, AudioStats};
use crate::auth::KeyRing;
use crate::config::MockConfig;
use crate::error::ApiError;
use crate::events::{EventKind, Publisher};
use crate::faults::Faults;
use crate::idempotency::IdempotencyStore;
use crate::limits::{Credits, RateLimiter};
use crate::script::{Conversation, ScriptEvent, Utterance};
use crate::time::iso;

/// Shared by every request handler and stream task. Cheap to clone.
#[derive(Clone)]
pub(crate) struct AppState(Arc<Inner>);

pub(crate) struct Inner {
    pub config: MockConfig,
    pub local_addr: SocketAddr,
    pub keys: Mutex<KeyRing>,
    pub limiter: Mutex<RateLimiter>,
    pub idempotency: IdempotencyStore,
    pub faults: Faults,
    pub world: Mutex<World>,
    pub events: Publisher,
    /// Becomes `true` when the server shuts down: streams close with 1001.
    pub shutdown: watch::Receiver<bool>,
    /// Bumped to drop every open stream without a close frame.
    pub disconnect: watch::Sender<u64>,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every update
/// is a plain assignment sequence with no invariant broken midway).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    pub fn new(
        config: MockConfig,
        local_addr: SocketAddr,
        events: Publisher,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let world = World::new(Credits::new(config.credits));
        Self(Arc::new(Inner {
            keys: Mutex::new(KeyRing::new(config.keys.iter().cloned())),
            limiter: Mutex::new(RateLimiter::new(config.rate_limit, config.rate_window)),
            idempotency: IdempotencyStore::default(),
            faults: Faults::default(),
            world: Mutex::new(world),
            events,
            shutdown,
            disconnect: watch::channel(0).0,
            config,
            local_addr,
        }))
    }

    pub fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.world)
    }

    /// Publishes events collected under the world lock.
    pub fn publish(&self, events: Vec<(EventKind, Value)>) {
        for (kind, data) in events {
            self.events.publish(kind, data);
        }
    }
}

/// What a validated create request asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewSession {
    pub mode: String,
    pub source_language: Option<String>,
    pub target_language: Option<String>,
    pub provider: String,
    pub phone_number: Option<String>,
    pub recording_enabled: bool,
    pub metadata: Value,
}

pub(crate) struct SessionRec {
    pub id: String,
    pub spec: NewSession,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub conversation: Conversation,
    pub turns: Vec<Value>,
    pub languages_detected: Vec<String>,
    /// The end summary, kept so that ending again answers the same.
    pub ended_summary: Option<Value>,
    /// The `session.ended` reason streams report: `explicit_end` after a stream's
    /// `session.end`, `ended_by_api` after `POST /v1/sessions/{id}/end` (the reference
    /// documents only the first; the second is the emulator's).
    pub end_reason: &'static str,
    pub recording_id: Option<String>,
    /// Flips to `true` when the session ends, so open streams can close.
    pub ended_tx: watch::Sender<bool>,
    /// The `audio.input` its streams received.
    pub audio: AudioCounter,
}

impl SessionRec {
    pub fn status(&self) -> &'static str {
        if self.ended_at.is_some() {
            "ended"
        } else if self.started_at.is_some() {
            "active"
        } else {
            "created"
        }
    }

    pub fn duration_seconds(&self) -> f64 {
        self.conversation.clock_ms() as f64 / 1000.0
    }
}

struct TokenRec {
    session_id: String,
    expires_at: DateTime<Utc>,
}

struct RecordingRec {
    id: String,
    session_id: String,
    duration: f64,
    created_at: DateTime<Utc>,
    audio: Bytes,
}

struct AnalysisRec {
    id: String,
    session_id: String,
    profile: String,
    include: Vec<String>,
    created_at: DateTime<Utc>,
    ready_at: Instant,
    completed_at: Option<DateTime<Utc>>,
    /// `Some` once finished: `Ok(summary)` or `Err(reason)`.
    outcome: Option<Result<String, String>>,
}

/// Which page of a list to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Page {
    /// At most this many items.
    pub limit: usize,
    /// The items after the one with this id.
    pub starting_after: Option<String>,
}

impl Page {
    /// Items per page when `limit` is omitted.
    pub const DEFAULT_LIMIT: usize = 20;
    /// The largest `limit` accepted.
    pub const MAX_LIMIT: usize = 100;
}

/// What an open stream needs after its token was accepted.
pub(crate) struct StreamGrant {
    pub session_id: String,
    pub ended: watch::Receiver<bool>,
}

/// Every resource of the emulated account.
pub(crate) struct World {
    pub credits: Credits,
    sessions: HashMap<String, SessionRec>,
    tokens: HashMap<String, TokenRec>,
    recordings: HashMap<String, RecordingRec>,
    analyses: HashMap<String, AnalysisRec>,
    /// When set, analyses fail with this reason instead of completing.
    pub analysis_failure: Option<String>,
}

/// Recordings are kept for 90 days (the reference's retention period is not documented;
/// the spec's example shows 90 days).
const RETENTION_DAYS: i64 = 90;

impl World {
    fn new(credits: Credits) -> Self {
        Self {
            credits,
            sessions: HashMap::new(),
            tokens: HashMap::new(),
            recordings: HashMap::new(),
            analyses: HashMap::new(),
            analysis_failure: None,
        }
    }

    fn session_ref(&self, id: &str) -> Result<&SessionRec, ApiError> {
        self.sessions
            .get(id)
            .ok_or_else(|| ApiError::not_found("session", id))
    }

    /// Creates a session (the caller charged the credit).
    pub fn create_session(
        &mut self,
        spec: NewSession,
        utterance_ms: u64,
    ) -> (String, Vec<(EventKind, Value)>) {
        let id = crate::ids::new_id("sess_");
        let conversation = Conversation::new(
            utterance_ms,
            spec.source_language.clone(),
            spec.target_language.clone(),
        );
        let rec = SessionRec {
            id: id.clone(),
            spec,
            created_at: crate::time::now(),
            started_at: None,
            ended_at: None,
            conversation,
            turns: Vec::new(),
            languages_detected: Vec::new(),
            ended_summary: None,
            end_reason: "",
            recording_id: None,
            ended_tx: watch::channel(false).0,
            audio: AudioCounter::default(),
        };
        let event = (EventKind::SessionCreated, session_json(&rec, None));
        self.sessions.insert(id.clone(), rec);
        (id, vec![event])
    }

    /// Mints a stream token for a session that has not ended.
    pub fn issue_stream(
        &mut self,
        session_id: &str,
        ws_base: &str,
        ttl: std::time::Duration,
    ) -> Value {
        let now = crate::time::now();
        self.tokens.retain(|_, t| t.expires_at > now);
        let token = crate::ids::stream_token();
        let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
        self.tokens.insert(
            token.clone(),
            TokenRec {
                session_id: session_id.to_string(),
                expires_at,
            },
        );
        json!({
            "url": format!("{ws_base}/v1/sessions/{session_id}/connect"),
            "token": token,
            "expires_at": iso(expires_at),
        })
    }

    /// The session as the REST API shows it, with fresh stream credentials while it has
    /// not ended.
    pub fn session_view(
        &mut self,
        id: &str,
        ws_base: &str,
        ttl: std::time::Duration,
    ) -> Result<Value, ApiError> {
        let ended = self.session_ref(id)?.ended_at.is_some();
        let stream = (!ended).then(|| self.issue_stream(id, ws_base, ttl));
        Ok(session_json(self.session_ref(id)?, stream))
    }

    /// Ends a session, or returns the summary of its earlier end.
    pub fn end_session(
        &mut self,
        id: &str,
        reason: &'static str,
    ) -> Result<(Value, Vec<(EventKind, Value)>), ApiError> {
        let rec = self
            .sessions
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("session", id))?;
        if let Some(summary) = &rec.ended_summary {
            return Ok((summary.clone(), Vec::new()));
        }
        let now = crate::time::now();
        rec.ended_at = Some(now);
        rec.end_reason = reason;
        let duration = rec.duration_seconds();
        let summary = json!({
            "id": rec.id,
            "object": "session",
            "status": "ended",
            "duration_seconds": duration,
            "ended_at": iso(now),
        });
        rec.ended_summary = Some(summary.clone());
        rec.ended_tx.send_replace(true);
        let mut events = vec![
            (
                EventKind::SessionEnded,
                json!({"id": rec.id, "object": "session", "status": "ended", "duration": duration}),
            ),
            (EventKind::TranscriptReady, transcript_json(rec)),
        ];
        if rec.spec.recording_enabled {
            let recording = RecordingRec {
                id: crate::ids::new_id("rec_"),
                session_id: rec.id.clone(),
                duration,
                created_at: now,
                audio: crate::mp3::silent_mp3(&rec.id, duration).into(),
            };
            rec.recording_id = Some(recording.id.clone());
            events.push((EventKind::RecordingReady, recording_json(&recording)));
            self.recordings.insert(recording.id.clone(), recording);
        }
        // Tokens of an ended session can no longer open a stream.
        self.tokens.retain(|_, t| t.session_id != id);
        Ok((summary, events))
    }

    /// Checks a stream token at connect: 401 for an unknown or expired
    /// token, 403 for a token of another session, 404 for an unknown or ended session.
    pub fn authorize_stream(
        &self,
        session_id: &str,
        token: Option<&str>,
    ) -> Result<StreamGrant, ApiError> {
        let unauthorized = |code: &str, message: &str| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                code,
                message,
            )
        };
        let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
            unauthorized(
                "invalid_token",
                "The stream token is missing; pass it as ?token=.",
            )
        })?;
        let Some(record) = self.tokens.get(token) else {
            // Tokens of ended sessions are forgotten: say so rather than "unknown".
            if let Some(rec) = self.sessions.get(session_id)
                && rec.ended_at.is_some()
            {
                return Err(session_ended(session_id));
            }
            return Err(unauthorized(
                "invalid_token",
                "The stream token is unknown.",
            ));
        };
        if record.expires_at <= crate::time::now() {
            return Err(unauthorized(
                "expired_token",
                "The stream token has expired; retrieve the session for a new one.",
            ));
        }
        let rec = self.session_ref(session_id)?;
        if record.session_id != session_id {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                "stream_token_mismatch",
                "The stream token belongs to another session.",
            ));
        }
        if rec.ended_at.is_some() {
            return Err(session_ended(session_id));
        }
        Ok(StreamGrant {
            session_id: session_id.to_string(),
            ended: rec.ended_tx.subscribe(),
        })
    }

    /// Feeds received audio into the session's conversation: the first audio activates
    /// the session; finals become transcript turns. Returns the stream messages to send.
    pub fn receive_audio(
        &mut self,
        session_id: &str,
        speaker: &str,
        bytes: usize,
    ) -> (Vec<Value>, Vec<(EventKind, Value)>) {
        let Some(rec) = self.sessions.get_mut(session_id) else {
            return (Vec::new(), Vec::new());
        };
        if rec.ended_at.is_some() {
            return (Vec::new(), Vec::new());
        }
        let mut events = Vec::new();
        let started_at = match rec.started_at {
            Some(at) => at,
            None => {
                let at = crate::time::now();
                rec.started_at = Some(at);
                events.push((EventKind::SessionStarted, session_json(rec, None)));
                at
            }
        };
        let mut messages = Vec::new();
        for event in rec.conversation.advance(speaker, bytes) {
            match event {
                ScriptEvent::Partial(u) => messages.push(json!({
                    "type": "transcript.partial",
                    "session_id": session_id,
                    "speaker": u.speaker,
                    "language": u.language,
                    "text": u.text,
                })),
                ScriptEvent::Final(u) => {
                    let turn = turn_json(&u, started_at);
                    let mut message = json!({
                        "type": "transcript.final",
                        "session_id": session_id,
                    });
                    if let (Some(m), Some(t)) = (message.as_object_mut(), turn.as_object()) {
                        m.extend(t.clone());
                    }
                    messages.push(message);
                    if !rec.languages_detected.contains(&u.language) {
                        rec.languages_detected.push(u.language.clone());
                    }
                    events.push((EventKind::TranscriptSegment, {
                        let mut data = turn.clone();
                        if let Some(d) = data.as_object_mut() {
                            d.insert("session_id".into(), json!(session_id));
                        }
                        data
                    }));
                    rec.turns.push(turn);
                }
            }
        }
        (messages, events)
    }

    /// Counts one `audio.input` frame of a session: accepted with `bytes` μ-law bytes,
    /// or (`None`) refused.
    pub fn count_audio(&mut self, session_id: &str, bytes: Option<usize>) {
        if let Some(rec) = self.sessions.get_mut(session_id) {
            match bytes {
                Some(bytes) => rec.audio.accepted(bytes, Instant::now()),
                None => rec.audio.refused(),
            }
        }
    }

    /// What a session's streams received; `None` for an unknown session.
    pub fn audio_stats(&self, session_id: &str) -> Option<AudioStats> {
        self.sessions.get(session_id).map(|rec| rec.audio.stats())
    }

    /// Why the session ended, once it has.
    pub fn end_reason(&self, session_id: &str) -> Option<&'static str> {
        self.sessions
            .get(session_id)
            .filter(|rec| rec.ended_at.is_some())
            .map(|rec| rec.end_reason)
    }

    pub fn transcript(&self, session_id: &str) -> Result<Value, ApiError> {
        Ok(transcript_json(self.session_ref(session_id)?))
    }

    /// One page of a session's recordings, in creation order.
    pub fn session_recordings(&self, session_id: &str, page: &Page) -> Result<Value, ApiError> {
        let rec = self.session_ref(session_id)?;
        let all: Vec<&RecordingRec> = rec
            .recording_id
            .iter()
            .filter_map(|id| self.recordings.get(id))
            .collect();
        let start = match &page.starting_after {
            None => 0,
            Some(cursor) => all
                .iter()
                .position(|r| &r.id == cursor)
                .map_or(all.len(), |i| i + 1),
        };
        let data: Vec<Value> = all
            .into_iter()
            .skip(start)
            .take(page.limit)
            .map(|r| {
                // List items carry the fields of the reference's list example.
                json!({
                    "id": r.id,
                    "object": "recording",
                    "session_id": r.session_id,
                    "duration": r.duration,
                    "format": "mp3",
                    "status": "ready",
                    "created_at": iso(r.created_at),
                })
            })
            .collect();
        Ok(json!({"object": "list", "data": data}))
    }

    pub fn recording(&self, id: &str) -> Result<Value, ApiError> {
        self.recordings
            .get(id)
            .map(recording_json)
            .ok_or_else(|| ApiError::not_found("recording", id))
    }

    /// The audio file and its session id (for the file name).
    pub fn recording_audio(&self, id: &str) -> Result<(Bytes, String), ApiError> {
        self.recordings
            .get(id)
            .map(|r| (r.audio.clone(), r.session_id.clone()))
            .ok_or_else(|| ApiError::not_found("recording", id))
    }

    /// Checks that a session can be analysed: it exists and has ended (its transcript is
    /// then complete). Analysing a session that has not ended answers 409
    /// `transcript_not_available`, the emulator's code for the reference's undocumented
    /// "transcript not available" failure.
    pub fn check_analysable(&self, session_id: &str) -> Result<(), ApiError> {
        if self.session_ref(session_id)?.ended_at.is_none() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "invalid_request_error",
                "transcript_not_available",
                "The session has not ended, so its transcript is not available for analysis yet.",
            )
            .param("id"));
        }
        Ok(())
    }

    /// Queues an analysis (the caller checked the session and charged the credit).
    pub fn create_analysis(
        &mut self,
        session_id: &str,
        profile: String,
        include: Vec<String>,
        ready_at: Instant,
    ) -> Value {
        let rec = AnalysisRec {
            id: crate::ids::new_id("anl_"),
            session_id: session_id.to_string(),
            profile,
            include,
            created_at: crate::time::now(),
            ready_at,
            completed_at: None,
            outcome: None,
        };
        let accepted = json!({
            "id": rec.id,
            "object": "analysis",
            "session_id": rec.session_id,
            "status": "processing",
        });
        self.analyses.insert(rec.id.clone(), rec);
        accepted
    }

    /// Finishes an analysis whose delay has passed (called on reads and by its timer, so
    /// it never depends on a background task having run).
    pub fn settle_analysis(&mut self, id: &str, now: Instant) -> Vec<(EventKind, Value)> {
        let failure = self.analysis_failure.clone();
        let Some(analysis) = self.analyses.get_mut(id) else {
            return Vec::new();
        };
        if analysis.outcome.is_some() || now < analysis.ready_at {
            return Vec::new();
        }
        let summary = self
            .sessions
            .get(&analysis.session_id)
            .map(summarize)
            .unwrap_or_default();
        analysis.outcome = Some(match failure {
            Some(reason) => Err(reason),
            None => Ok(summary),
        });
        analysis.completed_at = Some(crate::time::now());
        let kind = match analysis.outcome {
            Some(Ok(_)) => EventKind::AnalysisComplete,
            _ => EventKind::AnalysisFailed,
        };
        vec![(kind, analysis_json(analysis))]
    }

    pub fn analysis(&self, id: &str) -> Result<Value, ApiError> {
        self.analyses
            .get(id)
            .map(analysis_json)
            .ok_or_else(|| ApiError::not_found("analysis", id))
    }
}

fn session_ended(session_id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "session_ended",
        format!("Session '{session_id}' has ended; its stream cannot be opened."),
    )
}

fn session_json(rec: &SessionRec, stream: Option<Value>) -> Value {
    let spec = &rec.spec;
    let mut out = Map::new();
    out.insert("id".into(), json!(rec.id));
    out.insert("object".into(), json!("session"));
    out.insert("status".into(), json!(rec.status()));
    out.insert("mode".into(), json!(spec.mode));
    out.insert("source_language".into(), json!(spec.source_language));
    out.insert("target_language".into(), json!(spec.target_language));
    out.insert("provider".into(), json!(spec.provider));
    if let Some(number) = &spec.phone_number {
        out.insert("phone_number".into(), json!(number));
    }
    if let Some(stream) = stream {
        out.insert("stream".into(), stream);
    }
    out.insert(
        "recording".into(),
        json!({"enabled": spec.recording_enabled}),
    );
    out.insert("metadata".into(), spec.metadata.clone());
    out.insert("created_at".into(), json!(iso(rec.created_at)));
    out.insert("started_at".into(), json!(rec.started_at.map(iso)));
    out.insert("ended_at".into(), json!(rec.ended_at.map(iso)));
    Value::Object(out)
}

fn turn_json(u: &Utterance, started_at: DateTime<Utc>) -> Value {
    let at = started_at + chrono::Duration::milliseconds(u.offset_ms as i64);
    let mut turn = json!({
        "sequence": u.sequence,
        "speaker": u.speaker,
        "language": u.language,
        "text": u.text,
    });
    if let (Some(t), Some((language, text))) = (turn.as_object_mut(), &u.translation) {
        t.insert(
            "translation".into(),
            json!({"language": language, "text": text}),
        );
    }
    if let Some(t) = turn.as_object_mut() {
        t.insert("timestamp".into(), json!(iso(at)));
    }
    turn
}

fn transcript_json(rec: &SessionRec) -> Value {
    json!({
        "id": format!("trn_{}", rec.id),
        "object": "transcript",
        "session_id": rec.id,
        "status": if rec.ended_at.is_some() { "completed" } else { "in_progress" },
        "turns": rec.turns,
        "metadata": {
            "total_turns": rec.turns.len(),
            "duration_seconds": rec.duration_seconds(),
            "languages_detected": rec.languages_detected,
        },
    })
}

fn recording_json(r: &RecordingRec) -> Value {
    json!({
        "id": r.id,
        "object": "recording",
        "session_id": r.session_id,
        "channel": "mixed",
        "status": "ready",
        "duration": r.duration,
        "format": "mp3",
        "size": r.audio.len(),
        "sample_rate": 8000,
        "bit_depth": 16,
        "download_url": format!("/v1/recordings/{}/audio", r.id),
        "created_at": iso(r.created_at),
        "expires_at": iso(r.created_at + chrono::Duration::days(RETENTION_DAYS)),
    })
}

fn summarize(rec: &SessionRec) -> String {
    if rec.turns.is_empty() {
        return "The session ended before anything was said.".into();
    }
    format!(
        "In {} turns, a customer speaking {} asked about a delayed order; the agent, speaking {}, arranged a replacement.",
        rec.turns.len(),
        rec.spec.source_language.as_deref().unwrap_or("en"),
        rec.spec.target_language.as_deref().unwrap_or("en"),
    )
}

fn analysis_json(a: &AnalysisRec) -> Value {
    let wants = |part: &str| a.include.iter().any(|p| p == part);
    let (status, summary, error) = match &a.outcome {
        None => ("processing", None, None),
        Some(Ok(summary)) => ("completed", wants("summary").then(|| summary.clone()), None),
        Some(Err(reason)) => ("failed", None, Some(reason.clone())),
    };
    let mut out = Map::new();
    out.insert("id".into(), json!(a.id));
    out.insert("object".into(), json!("analysis"));
    out.insert("session_id".into(), json!(a.session_id));
    out.insert("call_id".into(), Value::Null);
    out.insert("profile".into(), json!(a.profile));
    out.insert("status".into(), json!(status));
    out.insert("summary".into(), json!(summary));
    if status == "completed" {
        if wants("sentiment") {
            out.insert(
                "sentiment".into(),
                json!({"customer": "worried at first, relieved at the end", "agent": "calm and helpful"}),
            );
        }
        if wants("compliance") {
            out.insert("compliance".into(), json!({"status": "ok", "flags": []}));
        }
        if wants("performance") {
            out.insert("performance".into(), json!({"score": 0.86}));
        }
    }
    out.insert("error".into(), json!(error));
    out.insert("created_at".into(), json!(iso(a.created_at)));
    out.insert("completed_at".into(), json!(a.completed_at.map(iso)));
    Value::Object(out)
}
