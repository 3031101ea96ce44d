//! A session's transcript: the conversation turn by turn, with translations.

use chrono::{DateTime, Utc};
use kallglot_api::types;

use super::{Language, language_from_wire, language_to_wire, serde_via_wire};
use crate::ids::{SessionId, TranscriptId};
use crate::open_enum::open_enum;

open_enum! {
    /// Whether a transcript is still growing.
    pub enum TranscriptStatus: kallglot_api::catalogue::TRANSCRIPT_STATUS {
        /// The session is active and turns are still being added.
        InProgress = "in_progress",
        /// The session has ended and the transcript is final (legacy
        /// responses spell it `complete`).
        Completed = "completed" | "complete",
    }
}

open_enum! {
    /// Who spoke a turn. The documented values come from examples, so the
    /// set is open.
    pub enum Speaker: kallglot_api::catalogue::TRANSCRIPT_TURN_SPEAKER {
        /// The agent, human or AI.
        Agent = "agent",
        /// The customer.
        Customer = "customer",
    }
}

/// A session's conversation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Transcript {
    /// The transcript's id; `None` in legacy responses, which had none.
    pub id: Option<TranscriptId>,
    /// The session the transcript belongs to.
    pub session_id: SessionId,
    /// Whether more turns may still be added.
    pub status: TranscriptStatus,
    /// The turns, in conversation order.
    pub turns: Vec<Turn>,
    /// Figures about the conversation, when reported.
    pub metadata: Option<TranscriptMetadata>,
}

impl Transcript {
    pub(crate) fn from_api(v: types::Transcript) -> Self {
        Self {
            id: v.id.map(TranscriptId::from),
            session_id: SessionId::from(v.session_id),
            status: TranscriptStatus::from(v.status),
            turns: v.turns.into_iter().map(Turn::from_api).collect(),
            metadata: v.metadata.map(TranscriptMetadata::from_api),
        }
    }

    fn to_api(&self) -> types::Transcript {
        types::Transcript {
            id: self.id.as_ref().map(TranscriptId::to_string),
            object: "transcript".to_owned(),
            session_id: self.session_id.to_string(),
            status: self.status.as_str().to_owned(),
            turns: self.turns.iter().map(Turn::to_api).collect(),
            metadata: self.metadata.as_ref().map(TranscriptMetadata::to_api),
        }
    }
}

serde_via_wire! {
    Transcript => types::Transcript,
    Turn => types::TranscriptTurn,
    Translation => types::TurnTranslation,
    TranscriptMetadata => types::TranscriptMetadata,
}

/// One utterance of the conversation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Turn {
    /// The turn's position in the conversation, starting at 1, when
    /// reported.
    pub sequence: Option<i64>,
    /// Who spoke.
    pub speaker: Speaker,
    /// The language the turn was spoken in, as the server reported it.
    pub language: Option<Language>,
    /// What was said, in the original language.
    pub text: String,
    /// The turn translated for the other party, when there is one.
    pub translation: Option<Translation>,
    /// When the turn was spoken.
    pub timestamp: Option<DateTime<Utc>>,
}

impl Turn {
    fn from_api(v: types::TranscriptTurn) -> Self {
        Self {
            sequence: v.sequence,
            speaker: Speaker::from(v.speaker),
            language: language_from_wire(v.language),
            text: v.text,
            translation: v.translation.map(Translation::from_api),
            timestamp: v.timestamp,
        }
    }

    fn to_api(&self) -> types::TranscriptTurn {
        types::TranscriptTurn {
            sequence: self.sequence,
            speaker: self.speaker.as_str().to_owned(),
            language: language_to_wire(&self.language),
            text: self.text.clone(),
            translation: self.translation.as_ref().map(Translation::to_api),
            timestamp: self.timestamp,
        }
    }
}

/// A translated text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Translation {
    /// The language of the translation. Legacy responses gave the
    /// translation as a bare string, so it is `None` for them.
    pub language: Option<Language>,
    /// The translated text.
    pub text: String,
}

impl Translation {
    /// A translation; `language` is `None` when the source did not say.
    pub fn new(language: Option<Language>, text: String) -> Self {
        Self { language, text }
    }

    fn from_api(v: types::TurnTranslation) -> Self {
        match v {
            types::TurnTranslation::Translation(t) => Self {
                language: language_from_wire(t.language),
                text: t.text,
            },
            types::TurnTranslation::String(text) => Self {
                language: None,
                text,
            },
        }
    }

    /// Always the current object shape; a bare legacy string reads back the same.
    fn to_api(&self) -> types::TurnTranslation {
        types::TurnTranslation::Translation(types::Translation {
            language: language_to_wire(&self.language),
            text: self.text.clone(),
        })
    }
}

/// Figures about a transcript.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TranscriptMetadata {
    /// The number of turns, when reported.
    pub total_turns: Option<i64>,
    /// The length of the conversation in seconds, when reported.
    pub duration_seconds: Option<f64>,
    /// The languages heard in the conversation; empty when not reported.
    pub languages_detected: Vec<Language>,
}

impl TranscriptMetadata {
    fn from_api(v: types::TranscriptMetadata) -> Self {
        Self {
            total_turns: v.total_turns,
            duration_seconds: v.duration_seconds,
            languages_detected: v
                .languages_detected
                .into_iter()
                .map(Language::from_wire)
                .collect(),
        }
    }

    fn to_api(&self) -> types::TranscriptMetadata {
        types::TranscriptMetadata {
            total_turns: self.total_turns,
            duration_seconds: self.duration_seconds,
            languages_detected: self
                .languages_detected
                .iter()
                .map(|l| l.as_str().to_owned())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn transcript(value: Value) -> Transcript {
        Transcript::from_api(serde_json::from_value(value).unwrap())
    }

    #[test]
    fn current_transcript() {
        let t = transcript(json!({
            "id": "trn_sess_1",
            "object": "transcript",
            "session_id": "sess_1",
            "status": "completed",
            "turns": [
                {
                    "sequence": 1,
                    "speaker": "customer",
                    "language": "es",
                    "text": "Hola",
                    "translation": {"language": "en", "text": "Hello"},
                    "timestamp": "2026-03-26T11:00:05Z"
                },
                {
                    "sequence": 2,
                    "speaker": "agent",
                    "language": "en",
                    "text": "Hi",
                    "translation": {"language": "es", "text": "Hola"},
                    "timestamp": "2026-03-26T11:00:09.5Z"
                }
            ],
            "metadata": {
                "total_turns": 2,
                "duration_seconds": 245.3,
                "languages_detected": ["es", "en"]
            }
        }));
        assert_eq!(t.id, Some(TranscriptId::new("trn_sess_1")));
        assert_eq!(t.session_id, "sess_1");
        assert_eq!(t.status, TranscriptStatus::Completed);
        assert_eq!(t.turns.len(), 2);
        assert_eq!(
            t.turns[0],
            Turn {
                sequence: Some(1),
                speaker: Speaker::Customer,
                language: Some(Language::ES),
                text: "Hola".into(),
                translation: Some(Translation {
                    language: Some(Language::EN),
                    text: "Hello".into(),
                }),
                timestamp: Some("2026-03-26T11:00:05Z".parse().unwrap()),
            }
        );
        assert_eq!(t.turns[1].speaker, Speaker::Agent);
        assert_eq!(t.turns[1].timestamp.unwrap().timestamp_millis() % 1000, 500);
        assert_eq!(
            t.metadata,
            Some(TranscriptMetadata {
                total_turns: Some(2),
                duration_seconds: Some(245.3),
                languages_detected: vec![Language::ES, Language::EN],
            })
        );
    }

    #[test]
    fn legacy_shapes() {
        // No id, `complete`, a bare-string translation, and turns without
        // sequence, language or timestamp.
        let t = transcript(json!({
            "object": "transcript",
            "session_id": "sess_1",
            "status": "complete",
            "turns": [
                {"speaker": "customer", "text": "Hola", "translation": "Hello"}
            ],
            "word_count": 1
        }));
        assert_eq!(t.id, None);
        assert_eq!(t.status, TranscriptStatus::Completed);
        assert_eq!(t.status.as_str(), "completed");
        assert_eq!(t.metadata, None);
        let turn = &t.turns[0];
        assert_eq!(turn.sequence, None);
        assert_eq!(turn.language, None);
        assert_eq!(turn.timestamp, None);
        assert_eq!(
            turn.translation,
            Some(Translation {
                language: None,
                text: "Hello".into(),
            })
        );
    }

    #[test]
    fn in_progress_without_translation_or_metadata_fields() {
        let t = transcript(json!({
            "object": "transcript",
            "session_id": "sess_1",
            "status": "in_progress",
            "turns": [{"speaker": "agent", "text": "Hello?"}],
            "metadata": {}
        }));
        assert_eq!(t.status, TranscriptStatus::InProgress);
        assert_eq!(t.turns[0].translation, None);
        assert_eq!(
            t.metadata,
            Some(TranscriptMetadata {
                total_turns: None,
                duration_seconds: None,
                languages_detected: vec![],
            })
        );
    }

    #[test]
    fn translation_object_without_language() {
        let t = transcript(json!({
            "object": "transcript",
            "session_id": "sess_1",
            "status": "completed",
            "turns": [{"speaker": "agent", "text": "a", "translation": {"text": "b"}}]
        }));
        assert_eq!(
            t.turns[0].translation,
            Some(Translation {
                language: None,
                text: "b".into(),
            })
        );
    }

    #[test]
    fn unknown_values_are_preserved() {
        let t = transcript(json!({
            "object": "transcript",
            "session_id": "sess_1",
            "status": "archived",
            "turns": [{"speaker": "supervisor", "language": "xx_YY", "text": "…"}],
            "metadata": {"languages_detected": ["es", "not a code"]}
        }));
        assert_eq!(t.status, TranscriptStatus::Unknown("archived".into()));
        assert_eq!(t.turns[0].speaker, Speaker::Unknown("supervisor".into()));
        assert_eq!(t.turns[0].language.as_ref().unwrap().as_str(), "xx_YY");
        let detected: Vec<&str> = t
            .metadata
            .as_ref()
            .unwrap()
            .languages_detected
            .iter()
            .map(Language::as_str)
            .collect();
        assert_eq!(detected, ["es", "not a code"]);
    }

    #[test]
    fn enum_wire_values() {
        assert_eq!(TranscriptStatus::WIRE_VALUES, ["in_progress", "completed"]);
        assert_eq!(Speaker::WIRE_VALUES, ["agent", "customer"]);
        for wire in TranscriptStatus::WIRE_VALUES {
            assert_eq!(TranscriptStatus::parse(wire).as_str(), *wire);
        }
        for wire in Speaker::WIRE_VALUES {
            assert_eq!(Speaker::parse(wire).as_str(), *wire);
        }
    }
}
