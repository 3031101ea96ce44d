//! Every public model is `Serialize` and `Deserialize`: the JSON is the API's own shape,
//! legacy shapes are read, and a round trip gives back an equal value. Secrets stay out of
//! `Debug` even though they serialize. (That the spec's own examples deserialize is checked
//! in the workspace's `tests` crate, which can read `openapi/`; this crate's tests must
//! pass from its published package.)

use kallglot::model::{
    Analysis, AnalysisStatus, Language, Provider, RecordingList, Session, SessionStatus, Speaker,
    StreamCredentials, Transcript, Translation,
};
use kallglot::stream::{EndReason, Event};
use kallglot::{ErrorCode, ResponseMeta, testing};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// Serializes, deserializes, and checks the value came back equal.
fn round_trip<T>(value: &T) -> Value
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let json = serde_json::to_value(value).unwrap();
    let back: T = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(&back, value, "{json}");
    json
}

#[test]
fn legacy_shapes_deserialize_and_serialize_in_the_current_shape() {
    let session: Session = serde_json::from_value(json!({
        "id": "sess_1", "object": "session", "status": "connecting", "mode": "karaoke",
        "provider": {"type": "twilio", "call_sid": "CA1", "status": "connected"},
        "source_language": "en_US", "created_at": "2026-03-26T11:00:00Z"
    }))
    .unwrap();
    assert_eq!(session.status, SessionStatus::Connecting);
    assert_eq!(session.mode.as_str(), "karaoke");
    assert!(matches!(&session.provider, Some(Provider::Legacy { .. })));
    let json = round_trip(&session);
    assert_eq!(
        json["provider"],
        json!({"type": "twilio", "call_sid": "CA1", "status": "connected"})
    );
    assert_eq!(
        json["source_language"], "en_US",
        "kept verbatim, not validated"
    );

    let transcript: Transcript = serde_json::from_value(json!({
        "object": "transcript", "session_id": "sess_1", "status": "complete",
        "turns": [{"speaker": "customer", "text": "Hola", "translation": "Hello"}]
    }))
    .unwrap();
    let json = round_trip(&transcript);
    assert_eq!(json["status"], "completed");
    assert_eq!(json["turns"][0]["translation"], json!({"text": "Hello"}));

    let analysis: Analysis = serde_json::from_value(json!({
        "id": "ana_1", "object": "analysis", "session_id": "sess_1", "status": "queued",
        "results": {"summary": {"brief": "…"}}
    }))
    .unwrap();
    assert_eq!(analysis.status, AnalysisStatus::Queued);
    round_trip(&analysis);

    let list: RecordingList = serde_json::from_value(json!({
        "object": "list", "data": [{"id": "rec_1", "status": "deleted"}], "has_more": true,
        "url": "/v1/sessions/sess_1/recordings"
    }))
    .unwrap();
    assert_eq!(list.has_more, Some(true));
    assert_eq!(round_trip(&list)["data"][0]["status"], "deleted");
}

#[test]
fn fixtures_round_trip() {
    let mut session = testing::session("sess_1");
    session.stream = Some(testing::stream_credentials("sess_1"));
    session.provider = Some(testing::legacy_provider(Some("telnyx")));
    session.recording = Some(testing::recording_settings(Some(false)));
    session.source_language = Some(Language::ES);
    session.metadata = Some(kallglot::model::Metadata::new().with("ticket", "T-1"));
    let json = round_trip(&session);
    assert_eq!(json["object"], "session");
    round_trip(&testing::ended_session("sess_1"));

    let mut turn = testing::turn(Speaker::Customer, "Hola");
    turn.translation = Some(Translation::new(Some(Language::EN), "Hello".into()));
    turn.sequence = Some(1);
    let mut transcript = testing::transcript("sess_1", vec![turn]);
    transcript.metadata = Some(testing::transcript_metadata());
    round_trip(&transcript);

    let mut recording = testing::recording("rec_1");
    recording.size = Some(3_925_000);
    recording.sample_rate = Some(44_100);
    round_trip(&testing::recording_list(vec![recording]));

    let mut analysis = testing::analysis("anl_1", "sess_1");
    analysis.sentiment = Some(testing::sentiment(Some("calm"), None));
    analysis.compliance = Some(testing::compliance(Some("ok")));
    analysis.performance = Some(testing::performance(Some(0.5)));
    round_trip(&analysis);
}

#[test]
fn the_stream_token_serializes_for_the_browser_but_never_shows_in_debug() {
    let credentials = StreamCredentials::new(
        "wss://api.kallglot.com/v1/sessions/sess_1/connect".into(),
        kallglot::model::StreamToken::new("kst_live_BROWSERsecret"),
        testing::FIXTURE_EXPIRY,
    );
    let json = round_trip(&credentials);
    assert_eq!(json["token"], "kst_live_BROWSERsecret");
    let mut session = testing::session("sess_1");
    session.stream = Some(credentials.clone());
    assert_eq!(
        round_trip(&session)["stream"]["token"],
        "kst_live_BROWSERsecret"
    );
    for shown in [format!("{credentials:?}"), format!("{session:#?}")] {
        assert!(!shown.contains("BROWSERsecret"), "{shown}");
    }
}

#[test]
fn response_metadata_round_trips() {
    let mut meta = testing::response_meta(429);
    meta.request_id = Some("req_1".into());
    meta.rate_limit = Some(testing::rate_limit(
        Some(100),
        Some(0),
        Some(testing::FIXTURE_TIME),
    ));
    meta.credits = Some(testing::credits(Some(-3), Some(7)));
    meta.retry_after = Some(std::time::Duration::from_millis(1500));
    let json = round_trip(&meta);
    assert_eq!(json["rate_limit"]["reset"], "2026-01-01T00:00:00Z");
    assert_eq!(
        serde_json::from_value::<ResponseMeta>(json!({"status": 200})).unwrap(),
        testing::response_meta(200)
    );
    round_trip(&testing::rate_limit(None, None, None));
}

#[test]
fn stream_events_round_trip_in_the_protocol_shape() {
    let mut final_ = testing::stream::transcript_final("Hola");
    final_.speaker = Some(Speaker::Customer);
    final_.language = Some(Language::ES);
    final_.translation = Some(Translation::new(Some(Language::EN), "Hello".into()));
    let mut partial = testing::stream::transcript_partial("Ho");
    partial.language = Some(Language::ES);
    let events = [
        Event::Ready {
            raw: json!({"type": "session.ready", "session_id": "sess_1"}),
        },
        Event::TranscriptPartial(partial),
        Event::TranscriptFinal(final_),
        Event::Pong { session_id: None },
        Event::Pong {
            session_id: Some("sess_1".into()),
        },
        Event::SessionEnded {
            session_id: Some("sess_1".into()),
            reason: EndReason::ExplicitEnd,
        },
        Event::SessionEnded {
            session_id: None,
            reason: EndReason::Unknown(String::new()),
        },
        Event::SessionError {
            code: ErrorCode::InvalidAudioFormat,
            message: Some("bad".into()),
            raw: json!({"type": "session.error", "code": "invalid_audio_format", "message": "bad"}),
        },
        Event::Reconnected { attempt: 3 },
        Event::Closed(testing::stream::closed(true)),
        Event::Unknown {
            kind: "agent.thinking".into(),
            raw: json!({"type": "agent.thinking", "x": 1}),
        },
        // A known type without its fields stays unknown, whole.
        Event::Unknown {
            kind: "transcript.final".into(),
            raw: json!({"type": "transcript.final", "speaker": "agent"}),
        },
    ];
    for event in &events {
        round_trip(event);
    }
    assert_eq!(
        serde_json::to_value(&events[2]).unwrap(),
        json!({"type": "transcript.final", "speaker": "customer", "text": "Hola",
               "language": "es", "translation": {"language": "en", "text": "Hello"}})
    );
    assert_eq!(
        serde_json::to_value(&events[8]).unwrap(),
        json!({"type": "sdk.reconnected", "attempt": 3})
    );
    // A language the server sent that `Language::new` would refuse is kept.
    let event: Event = serde_json::from_value(
        json!({"type": "transcript.partial", "text": "x", "language": "en_US"}),
    )
    .unwrap();
    let Event::TranscriptPartial(partial) = &event else {
        panic!("{event:?}")
    };
    assert_eq!(
        partial.language.as_ref().map(Language::as_str),
        Some("en_US")
    );
    round_trip(&event);
    assert!(serde_json::from_value::<Event>(json!([1])).is_err());
}

#[test]
fn request_parameters_round_trip_as_their_body() {
    use kallglot::model::{
        AiAgentConfig, AiAgentTool, AnalysisPart, CreateAnalysisParams, CreateSessionParams,
        Direction, Metadata, Mode, Routing,
    };
    let tool_schema = json!({"type": "object"}).as_object().unwrap().clone();
    let all = [
        CreateSessionParams::new(Mode::AiAgent)
            .languages(Language::EN, Language::new("pt-BR").unwrap())
            .routing(Routing::phone_number("+14155551234").with_direction(Direction::Inbound))
            .metadata(Metadata::new().with("ticket", "T-1"))
            .ai_agent(
                AiAgentConfig::new()
                    .voice("alloy")
                    .temperature(0.5)
                    .tool(AiAgentTool::new("lookup").parameters(tool_schema)),
            ),
        CreateSessionParams::new(Mode::from("future_mode")).routing(Routing::connection("pcon_1")),
        CreateSessionParams::new(Mode::HelpChatVoice)
            .routing(Routing::sip().with_from_uri("sip:a@b")),
        CreateSessionParams::new(Mode::BidirectionalTranslation).routing(Routing::sip()),
    ];
    for params in &all {
        let json = round_trip(params);
        assert_eq!(json, params.to_json(), "the JSON is the request body");
    }
    let analysis = CreateAnalysisParams::new()
        .profile("default")
        .include([AnalysisPart::Summary, AnalysisPart::Keywords]);
    assert_eq!(
        round_trip(&analysis),
        json!({"profile": "default", "include": ["summary", "keywords"]})
    );
    round_trip(&CreateAnalysisParams::new());

    // Caller data is checked like the builders check it.
    for bad in [
        json!({"mode": "ai_agent", "source_language": "pt_BR"}),
        json!({"mode": "ai_agent", "routing": {}}),
        json!({"mode": "ai_agent", "routing": {"phone_number": "+1", "connection_id": "pcon_1"}}),
    ] {
        assert!(
            serde_json::from_value::<CreateSessionParams>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn webhook_models_round_trip() {
    use kallglot::webhooks::{DeliveryInfo, SessionEndedData, WebhookEvent};
    let info = DeliveryInfo::from_headers([
        ("Kallglot-Webhook-Id", "wh_del_1"),
        ("Kallglot-Retry-Count", "2"),
        ("Kallglot-Original-Timestamp", "1774522800"),
    ]);
    assert_eq!(info.retry_count, Some(2));
    round_trip(&info);
    let event: WebhookEvent = serde_json::from_value(json!({
        "id": "evt_1", "type": "session.ended", "api_version": "v1",
        "created_at": "2026-03-26T11:00:00Z", "data": {"id": "sess_1", "duration": 3.5}
    }))
    .unwrap();
    round_trip(&event);
    let data: SessionEndedData = event.session_ended().unwrap();
    round_trip(&data);
}
