//! Where the emulator publishes what happens to its resources: the extension point for
//! webhook delivery.
//!
//! Every change that the API names a webhook event for is published as a
//! [`MockEvent`] whose `data` is the affected resource as the REST API shows it. Events
//! go to [`MockServer::subscribe`](crate::MockServer::subscribe) receivers and to every
//! [`EventSink`] configured on the builder; signed webhook delivery
//! ([`MockServerBuilder::webhook`](crate::MockServerBuilder::webhook)) is one such sink.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// The kind of an event, named as the webhook `type` (see `docs/contract.md#webhooks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventKind {
    /// `session.created`
    SessionCreated,
    /// `session.started`: the first audio arrived.
    SessionStarted,
    /// `session.ended`
    SessionEnded,
    /// `transcript.segment`: a final utterance was transcribed.
    TranscriptSegment,
    /// `transcript.ready`: the session ended and its transcript is complete.
    TranscriptReady,
    /// `recording.ready`
    RecordingReady,
    /// `analysis.complete` (note: the REST status is `completed`).
    AnalysisComplete,
    /// `analysis.failed`
    AnalysisFailed,
}

impl EventKind {
    /// The webhook `type` string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionCreated => "session.created",
            Self::SessionStarted => "session.started",
            Self::SessionEnded => "session.ended",
            Self::TranscriptSegment => "transcript.segment",
            Self::TranscriptReady => "transcript.ready",
            Self::RecordingReady => "recording.ready",
            Self::AnalysisComplete => "analysis.complete",
            Self::AnalysisFailed => "analysis.failed",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One published event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MockEvent {
    /// `evt_…`: what a webhook receiver deduplicates on.
    pub id: String,
    /// What happened.
    pub kind: EventKind,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The affected resource (session, turn, recording or analysis JSON).
    pub data: Value,
}

impl MockEvent {
    /// The webhook envelope: `{id, type, api_version: "v1", created_at, data}`.
    pub fn envelope(&self) -> Value {
        json!({
            "id": self.id,
            "type": self.kind.as_str(),
            "api_version": "v1",
            "created_at": crate::time::iso(self.created_at),
            "data": self.data,
        })
    }
}

/// Receives every event as it is published. Implementations must not block: they run
/// on the request path (a webhook sender would queue and deliver in its own task).
pub trait EventSink: Send + Sync + fmt::Debug {
    /// Called once per event, in publication order.
    fn publish(&self, event: &MockEvent);
}

/// Fans events out to subscribers and sinks.
#[derive(Debug, Clone)]
pub(crate) struct Publisher {
    channel: broadcast::Sender<MockEvent>,
    sinks: Arc<Vec<Arc<dyn EventSink>>>,
}

impl Publisher {
    pub fn new(sinks: Vec<Arc<dyn EventSink>>) -> Self {
        let (channel, _) = broadcast::channel(1024);
        Self {
            channel,
            sinks: Arc::new(sinks),
        }
    }

    pub fn publish(&self, kind: EventKind, data: Value) {
        let event = MockEvent {
            id: crate::ids::new_id("evt_"),
            kind,
            created_at: crate::time::now(),
            data,
        };
        for sink in self.sinks.iter() {
            sink.publish(&event);
        }
        // No subscriber is fine: events are then simply not observed.
        let _ = self.channel.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<MockEvent> {
        self.channel.subscribe()
    }
}
