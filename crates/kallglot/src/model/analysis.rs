//! Post-call AI analysis of a session.

use chrono::{DateTime, Utc};
use kallglot_api::types;

use super::serde_via_wire;
use crate::ids::{AnalysisId, SessionId};
use crate::open_enum::open_enum;

open_enum! {
    /// Where an analysis is in its lifecycle.
    ///
    /// Poll until [`is_terminal`](Self::is_terminal) is true (or wait for the
    /// webhook).
    pub enum AnalysisStatus: kallglot_api::catalogue::ANALYSIS_STATUS {
        /// Running; the result is not ready yet.
        Processing = "processing",
        /// Finished; the result fields are set (legacy responses spell it
        /// `complete`).
        Completed = "completed" | "complete",
        /// Finished without a result; `error` says why.
        Failed = "failed",
        /// Waiting to start. Legacy responses only; current ones report
        /// `processing` straight away.
        Queued = "queued",
    }
}

impl AnalysisStatus {
    /// Whether the analysis is finished: [`Completed`](Self::Completed) or
    /// [`Failed`](Self::Failed).
    ///
    /// An unknown status counts as *not* finished, because the documented
    /// final states are the only ones known to be final. A poller should
    /// therefore also give up after a deadline of its own.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// An AI analysis of a session.
///
/// The answer to creating an analysis carries only the id, session id and
/// status; retrieve it by id for the results. Which result fields are set
/// depends on the parts requested: there is no field for `keywords`, for
/// instance.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Analysis {
    /// The analysis's id.
    pub id: AnalysisId,
    /// The analysed session.
    pub session_id: SessionId,
    /// The linked call, when there is one.
    pub call_id: Option<String>,
    /// The profile used, such as `default`.
    pub profile: Option<String>,
    /// Where the analysis is in its lifecycle.
    pub status: AnalysisStatus,
    /// A summary of the conversation, once completed.
    pub summary: Option<String>,
    /// The parties' sentiment, once completed.
    pub sentiment: Option<Sentiment>,
    /// The compliance check's outcome, once completed.
    pub compliance: Option<Compliance>,
    /// The agent's performance, once completed.
    pub performance: Option<Performance>,
    /// Why the analysis failed, in plain text; `None` unless it failed.
    pub error: Option<String>,
    /// When the analysis was requested.
    pub created_at: Option<DateTime<Utc>>,
    /// When the analysis finished; `None` until then.
    pub completed_at: Option<DateTime<Utc>>,
}

impl Analysis {
    pub(crate) fn from_api(v: types::Analysis) -> Self {
        Self {
            id: AnalysisId::from(v.id),
            session_id: SessionId::from(v.session_id),
            call_id: v.call_id,
            profile: v.profile,
            status: AnalysisStatus::from(v.status),
            summary: v.summary,
            sentiment: v.sentiment.map(Sentiment::from_api),
            compliance: v.compliance.map(Compliance::from_api),
            performance: v.performance.map(Performance::from_api),
            error: v.error,
            created_at: v.created_at,
            completed_at: v.completed_at,
        }
    }

    fn to_api(&self) -> types::Analysis {
        types::Analysis {
            id: self.id.to_string(),
            object: "analysis".to_owned(),
            session_id: self.session_id.to_string(),
            call_id: self.call_id.clone(),
            profile: self.profile.clone(),
            status: self.status.as_str().to_owned(),
            summary: self.summary.clone(),
            sentiment: self.sentiment.as_ref().map(Sentiment::to_api),
            compliance: self.compliance.as_ref().map(Compliance::to_api),
            performance: self.performance.as_ref().map(Performance::to_api),
            error: self.error.clone(),
            created_at: self.created_at,
            completed_at: self.completed_at,
        }
    }
}

impl Sentiment {
    fn from_api(v: types::AnalysisSentiment) -> Self {
        Self {
            customer: v.customer,
            agent: v.agent,
        }
    }

    fn to_api(&self) -> types::AnalysisSentiment {
        types::AnalysisSentiment {
            customer: self.customer.clone(),
            agent: self.agent.clone(),
        }
    }
}

impl Compliance {
    fn from_api(v: types::AnalysisCompliance) -> Self {
        Self {
            status: v.status,
            flags: v.flags,
        }
    }

    fn to_api(&self) -> types::AnalysisCompliance {
        types::AnalysisCompliance {
            status: self.status.clone(),
            flags: self.flags.clone(),
        }
    }
}

impl Performance {
    fn from_api(v: types::AnalysisPerformance) -> Self {
        Self { score: v.score }
    }

    fn to_api(&self) -> types::AnalysisPerformance {
        types::AnalysisPerformance { score: self.score }
    }
}

serde_via_wire! {
    Analysis => types::Analysis,
    Sentiment => types::AnalysisSentiment,
    Compliance => types::AnalysisCompliance,
    Performance => types::AnalysisPerformance,
}

/// The sentiment of each party, in words (free text such as "positive" or
/// "frustrated, then relieved"; no fixed set is documented).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sentiment {
    /// The customer's sentiment.
    pub customer: Option<String>,
    /// The agent's sentiment.
    pub agent: Option<String>,
}

/// The outcome of the compliance check.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Compliance {
    /// The outcome, such as `ok`.
    pub status: Option<String>,
    /// The issues found, as raw JSON: the shape of an item is not
    /// documented, so no typed view is offered.
    pub flags: Vec<serde_json::Value>,
}

/// How well the agent performed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Performance {
    /// A score such as `0.86`. Its range is not documented.
    pub score: Option<f64>,
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn analysis(value: Value) -> Analysis {
        Analysis::from_api(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn accepted_response() {
        let a = analysis(json!({
            "id": "anl_01HDEF456789012",
            "object": "analysis",
            "session_id": "sess_1",
            "status": "processing"
        }));
        assert_eq!(a.id, "anl_01HDEF456789012");
        assert_eq!(a.session_id, "sess_1");
        assert_eq!(a.status, AnalysisStatus::Processing);
        assert!(!a.status.is_terminal());
        assert_eq!(a.profile, None);
        assert_eq!(a.summary, None);
        assert_eq!(a.sentiment, None);
        assert_eq!(a.compliance, None);
        assert_eq!(a.performance, None);
        assert_eq!(a.created_at, None);
    }

    #[test]
    fn completed_analysis() {
        let a = analysis(json!({
            "id": "anl_1",
            "object": "analysis",
            "session_id": "sess_1",
            "call_id": null,
            "profile": "default",
            "status": "completed",
            "summary": "The customer asked about an order.",
            "sentiment": {"customer": "neutral, then positive", "agent": "positive"},
            "compliance": {"status": "ok", "flags": [{"rule": "greeting"}, "late"]},
            "performance": {"score": 0.86},
            "keywords": ["order"],
            "error": null,
            "created_at": "2026-03-26T11:05:00Z",
            "completed_at": "2026-03-26T11:05:30Z"
        }));
        assert_eq!(
            a,
            Analysis {
                id: AnalysisId::new("anl_1"),
                session_id: SessionId::new("sess_1"),
                call_id: None,
                profile: Some("default".into()),
                status: AnalysisStatus::Completed,
                summary: Some("The customer asked about an order.".into()),
                sentiment: Some(Sentiment {
                    customer: Some("neutral, then positive".into()),
                    agent: Some("positive".into()),
                }),
                compliance: Some(Compliance {
                    status: Some("ok".into()),
                    flags: vec![json!({"rule": "greeting"}), json!("late")],
                }),
                performance: Some(Performance { score: Some(0.86) }),
                error: None,
                created_at: Some("2026-03-26T11:05:00Z".parse().unwrap()),
                completed_at: Some("2026-03-26T11:05:30Z".parse().unwrap()),
            }
        );
        assert!(a.status.is_terminal());
    }

    #[test]
    fn failed_analysis() {
        let a = analysis(json!({
            "id": "anl_1",
            "object": "analysis",
            "session_id": "sess_1",
            "call_id": "call_9",
            "status": "failed",
            "error": "Transcript not available",
            "compliance": {}
        }));
        assert_eq!(a.status, AnalysisStatus::Failed);
        assert!(a.status.is_terminal());
        assert_eq!(a.call_id.as_deref(), Some("call_9"));
        assert_eq!(a.error.as_deref(), Some("Transcript not available"));
        assert_eq!(
            a.compliance,
            Some(Compliance {
                status: None,
                flags: vec![],
            })
        );
    }

    #[test]
    fn legacy_statuses_and_ids() {
        let a = analysis(json!({
            "id": "ana_legacy",
            "object": "analysis",
            "session_id": "sess_1",
            "status": "queued",
            "analyses": ["sentiment"],
            "estimated_completion": "2026-03-26T11:06:00Z"
        }));
        assert_eq!(a.id, "ana_legacy");
        assert_eq!(a.status, AnalysisStatus::Queued);
        assert!(!a.status.is_terminal());

        let a = analysis(json!({
            "id": "ana_legacy",
            "object": "analysis",
            "session_id": "sess_1",
            "status": "complete",
            "results": {"summary": {"brief": "…"}}
        }));
        assert_eq!(a.status, AnalysisStatus::Completed);
        assert_eq!(a.status.as_str(), "completed");
        assert!(a.status.is_terminal());
        // The legacy `results` object has no current equivalent and is ignored.
        assert_eq!(a.summary, None);
    }

    #[test]
    fn unknown_status_is_preserved_and_not_terminal() {
        let a = analysis(json!({
            "id": "anl_1",
            "object": "analysis",
            "session_id": "sess_1",
            "status": "cancelled"
        }));
        assert_eq!(a.status, AnalysisStatus::Unknown("cancelled".into()));
        assert!(!a.status.is_terminal());
    }

    #[test]
    fn terminal_statuses() {
        let table = [
            ("processing", false),
            ("completed", true),
            ("complete", true),
            ("failed", true),
            ("queued", false),
            ("", false),
        ];
        for (wire, terminal) in table {
            assert_eq!(
                AnalysisStatus::parse(wire).is_terminal(),
                terminal,
                "{wire}"
            );
        }
        assert_eq!(
            AnalysisStatus::WIRE_VALUES,
            ["processing", "completed", "failed", "queued"]
        );
    }
}
