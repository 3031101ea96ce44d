//! The generated low-level client against wiremock: for each operation, the exact request it
//! sends and the decoding of the documented response shape, plus forward compatibility
//! (unknown fields and values never break decoding).
//!
//! Fixtures are our own, shaped after the API reference.

use futures_util::TryStreamExt;
use kallglot_api::{Client, Error, Executor, types};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn server_answering(
    http_method: &str,
    route: &str,
    response: ResponseTemplate,
) -> (MockServer, Client) {
    let server = MockServer::start().await;
    Mock::given(method(http_method))
        .and(path(route))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    let client = Client::new(&server.uri(), Executor::default());
    (server, client)
}

async fn only_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    requests.remove(0)
}

fn json_body(request: &Request) -> Value {
    serde_json::from_slice(&request.body).expect("the request body is JSON")
}

fn header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

fn session_json() -> Value {
    json!({
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
            "token": "kst_test_fixture",
            "expires_at": "2026-03-26T11:05:00Z"
        },
        "recording": {"enabled": true},
        "metadata": null,
        "created_at": "2026-03-26T11:00:00Z",
        "started_at": null,
        "ended_at": null
    })
}

#[tokio::test]
async fn create_session_sends_the_body_and_idempotency_key() {
    let (server, client) = server_answering(
        "POST",
        "/v1/sessions",
        ResponseTemplate::new(201).set_body_json(session_json()),
    )
    .await;
    let body = types::CreateSessionRequest {
        mode: "bidirectional_translation".to_string(),
        source_language: Some("en".to_string()),
        target_language: Some("es".to_string()),
        routing: Some(types::SessionRouting {
            phone_number: Some("+14155551234".to_string()),
            ..Default::default()
        }),
        ai_agent: None,
        metadata: Default::default(),
    };
    let key = "key-1".parse().unwrap();
    let session = client.create_session(Some(&key), &body).await.unwrap();

    assert_eq!(session.status().as_u16(), 201);
    assert_eq!(session.id, "sess_01HXYZ123456789");
    assert_eq!(session.status, "created");
    assert_eq!(session.source_language, None);
    assert_eq!(session.metadata, None);
    assert_eq!(
        session.provider,
        Some(types::SessionProvider::String("twilio".into()))
    );
    let stream = session.stream.as_ref().unwrap();
    assert_eq!(stream.token, "kst_test_fixture");
    assert_eq!(stream.expires_at.to_rfc3339(), "2026-03-26T11:05:00+00:00");

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/v1/sessions");
    assert_eq!(request.url.query(), None);
    assert_eq!(header(&request, "idempotency-key"), Some("key-1"));
    assert_eq!(header(&request, "content-type"), Some("application/json"));
    assert_eq!(
        json_body(&request),
        json!({
            "mode": "bidirectional_translation",
            "source_language": "en",
            "target_language": "es",
            "routing": {"phone_number": "+14155551234"}
        })
    );
}

#[tokio::test]
async fn create_session_accepts_any_2xx() {
    // The reference does not state the create status, so 200 must decode too.
    let (_server, client) = server_answering(
        "POST",
        "/v1/sessions",
        ResponseTemplate::new(200).set_body_json(session_json()),
    )
    .await;
    let body = types::CreateSessionRequest {
        mode: "ai_agent".to_string(),
        ai_agent: None,
        metadata: Default::default(),
        routing: None,
        source_language: None,
        target_language: None,
    };
    let session = client.create_session(None, &body).await.unwrap();
    assert_eq!(session.id, "sess_01HXYZ123456789");
}

#[tokio::test]
async fn retrieve_session_gets_by_id_and_accepts_legacy_and_unknown_values() {
    let mut legacy = session_json();
    legacy["status"] = json!("paused_for_maintenance");
    legacy["mode"] = json!("a_future_mode");
    legacy["provider"] = json!({"type": "twilio", "status": "connected", "call_sid": "CA1"});
    legacy["duration"] = json!(12.5);
    legacy["transcript"] = json!({"available": true, "word_count": 10});
    legacy["call"] = Value::Null;
    legacy["started_at"] = json!("2026-03-26T11:00:04.250Z");
    legacy["metadata"] = json!({"team": "support"});
    let (server, client) = server_answering(
        "GET",
        "/v1/sessions/sess_01HXYZ123456789",
        ResponseTemplate::new(200).set_body_json(legacy),
    )
    .await;
    let session = client
        .retrieve_session("sess_01HXYZ123456789")
        .await
        .unwrap();
    assert_eq!(session.status, "paused_for_maintenance");
    assert_eq!(session.mode, "a_future_mode");
    match session.provider.as_ref().unwrap() {
        types::SessionProvider::LegacyProvider(p) => {
            assert_eq!(p.type_.as_deref(), Some("twilio"));
            assert_eq!(p.call_sid.as_deref(), Some("CA1"));
        }
        other => panic!("expected the legacy provider object, got {other:?}"),
    }
    assert_eq!(
        session.started_at.unwrap().timestamp_millis(),
        1_774_522_804_250
    );
    assert_eq!(session.metadata.as_ref().unwrap()["team"], "support");

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.query(), None);
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn end_session_posts_no_body() {
    let (server, client) = server_answering(
        "POST",
        "/v1/sessions/sess_1/end",
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "sess_1", "object": "session", "status": "ended",
            "duration_seconds": 245.3, "ended_at": "2026-03-26T11:04:05Z",
            "end_reason": "completed"
        })),
    )
    .await;
    let ended = client
        .end_session("sess_1", Some(&"end-key".parse().unwrap()))
        .await
        .unwrap();
    assert_eq!(ended.status, "ended");
    assert_eq!(ended.duration_seconds, Some(245.3));

    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "POST");
    assert!(request.body.is_empty(), "the end request carries no body");
    assert_eq!(header(&request, "idempotency-key"), Some("end-key"));
}

#[tokio::test]
async fn transcript_decodes_turns_with_object_and_legacy_string_translations() {
    let (server, client) = server_answering(
        "GET",
        "/v1/sessions/sess_1/transcript",
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "trn_sess_1", "object": "transcript", "session_id": "sess_1",
            "status": "completed",
            "turns": [
                {"sequence": 1, "speaker": "customer", "language": "es", "text": "Hola",
                 "translation": {"language": "en", "text": "Hello"},
                 "timestamp": "2026-03-26T11:00:05Z"},
                {"sequence": 2, "speaker": "supervisor", "language": "en", "text": "Hi",
                 "translation": "Hola", "confidence": 0.93, "start_time": 1.2}
            ],
            "metadata": {"total_turns": 2, "duration_seconds": 245.3, "languages_detected": ["es", "en"]}
        })),
    )
    .await;
    let transcript = client.retrieve_session_transcript("sess_1").await.unwrap();
    assert_eq!(transcript.turns.len(), 2);
    assert_eq!(
        transcript.turns[0].translation,
        Some(types::TurnTranslation::Translation(types::Translation {
            language: Some("en".into()),
            text: "Hello".into()
        }))
    );
    assert_eq!(
        transcript.turns[1].translation,
        Some(types::TurnTranslation::String("Hola".into()))
    );
    assert_eq!(transcript.turns[1].speaker, "supervisor");
    assert_eq!(transcript.metadata.as_ref().unwrap().total_turns, Some(2));
    let request = only_request(&server).await;
    assert_eq!(request.url.query(), None);
}

#[tokio::test]
async fn recordings_list_decodes_partial_items() {
    let (_server, client) = server_answering(
        "GET",
        "/v1/sessions/sess_1/recordings",
        ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [{"id": "rec_1", "object": "recording", "session_id": "sess_1",
                      "duration": 245.3, "format": "mp3", "status": "ready",
                      "created_at": "2026-03-26T11:04:10Z"}]
        })),
    )
    .await;
    let list = client
        .list_session_recordings("sess_1", None, None)
        .await
        .unwrap();
    assert_eq!(list.data.len(), 1);
    assert_eq!(list.data[0].status, "ready");
    assert_eq!(list.data[0].download_url, None);
    assert_eq!(list.has_more, None);
}

#[tokio::test]
async fn retrieve_recording_decodes_every_documented_field() {
    let (_server, client) = server_answering(
        "GET",
        "/v1/recordings/rec_1",
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "rec_1", "object": "recording", "session_id": "sess_1",
            "channel": "mixed", "status": "ready", "duration": 245.3, "format": "mp3",
            "size": 3925000, "sample_rate": 44100, "bit_depth": 16,
            "download_url": "/v1/recordings/rec_1/audio",
            "created_at": "2026-03-26T11:04:10Z", "expires_at": "2026-06-24T11:04:10Z"
        })),
    )
    .await;
    let rec = client.retrieve_recording("rec_1").await.unwrap();
    assert_eq!(rec.channel.as_deref(), Some("mixed"));
    assert_eq!(rec.size, Some(3_925_000));
    assert_eq!(rec.sample_rate, Some(44_100));
    assert_eq!(rec.bit_depth, Some(16));
    assert_eq!(
        rec.download_url.as_deref(),
        Some("/v1/recordings/rec_1/audio")
    );
}

#[tokio::test]
async fn download_recording_audio_streams_the_bytes() {
    let audio: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    let (server, client) = server_answering(
        "GET",
        "/v1/recordings/rec_1/audio",
        ResponseTemplate::new(200)
            .insert_header(
                "content-disposition",
                "attachment; filename=\"recording-sess_1.mp3\"",
            )
            .set_body_raw(audio.clone(), "audio/mpeg"),
    )
    .await;
    let response = client.download_recording_audio("rec_1").await.unwrap();
    assert_eq!(response.content_length(), Some(10_000));
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "audio/mpeg"
    );
    let chunks: Vec<_> = response.into_inner_stream().try_collect().await.unwrap();
    assert_eq!(chunks.concat(), audio);
    let request = only_request(&server).await;
    assert_eq!(request.method.as_str(), "GET");
}

#[tokio::test]
async fn create_analysis_posts_profile_and_include() {
    let (server, client) = server_answering(
        "POST",
        "/v1/sessions/sess_1/analysis",
        ResponseTemplate::new(202).set_body_json(json!({
            "id": "anl_1", "object": "analysis", "session_id": "sess_1", "status": "processing"
        })),
    )
    .await;
    let body = types::CreateAnalysisRequest {
        profile: Some("default".to_string()),
        include: vec!["summary".to_string(), "sentiment".to_string()],
    };
    let key = "anl-key".parse().unwrap();
    let analysis = client
        .create_analysis("sess_1", Some(&key), &body)
        .await
        .unwrap();
    assert_eq!(analysis.status().as_u16(), 202);
    assert_eq!(analysis.id, "anl_1");
    assert_eq!(analysis.summary, None);

    let request = only_request(&server).await;
    assert_eq!(header(&request, "idempotency-key"), Some("anl-key"));
    assert_eq!(
        json_body(&request),
        json!({"profile": "default", "include": ["summary", "sentiment"]})
    );
}

#[tokio::test]
async fn retrieve_analysis_uses_the_plural_path_and_decodes_results() {
    let (_server, client) = server_answering(
        "GET",
        "/v1/analyses/anl_1",
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "anl_1", "object": "analysis", "session_id": "sess_1", "call_id": null,
            "profile": "default", "status": "completed", "summary": "Refund issued.",
            "sentiment": {"customer": "calm", "agent": "helpful"},
            "compliance": {"status": "ok", "flags": [{"rule": "pci", "at": 12}]},
            "performance": {"score": 0.86}, "error": null,
            "created_at": "2026-03-26T11:05:00Z", "completed_at": "2026-03-26T11:05:12Z",
            "results": {"topics": [{"name": "refund", "confidence": 0.9}]}
        })),
    )
    .await;
    let analysis = client.retrieve_analysis("anl_1").await.unwrap();
    assert_eq!(analysis.status, "completed");
    assert_eq!(analysis.summary.as_deref(), Some("Refund issued."));
    assert_eq!(analysis.performance.as_ref().unwrap().score, Some(0.86));
    assert_eq!(analysis.compliance.as_ref().unwrap().flags.len(), 1);
    assert!(analysis.completed_at.is_some());
}

#[tokio::test]
async fn errors_decode_into_the_shared_envelope_with_unknown_codes() {
    let (_server, client) = server_answering(
        "GET",
        "/v1/analyses/anl_missing",
        ResponseTemplate::new(404)
            .insert_header("x-request-id", "req_404")
            .set_body_json(json!({"error": {
                "type": "a_new_error_type", "code": "a_new_error_code",
                "message": "No such analysis.", "doc_url": "https://example.invalid/errors"
            }})),
    )
    .await;
    match client.retrieve_analysis("anl_missing").await {
        Err(Error::ErrorResponse(response)) => {
            assert_eq!(response.status().as_u16(), 404);
            assert_eq!(response.headers()["x-request-id"], "req_404");
            assert_eq!(response.error.code, "a_new_error_code");
            assert_eq!(response.error.type_, "a_new_error_type");
            assert_eq!(response.error.request_id, None);
        }
        other => panic!("expected an error response, got {other:?}"),
    }
}

#[tokio::test]
async fn rate_limit_errors_decode_with_retry_after() {
    let (_server, client) = server_answering(
        "GET",
        "/v1/sessions/sess_1",
        ResponseTemplate::new(429)
            .insert_header("retry-after", "30")
            .set_body_json(json!({"error": {
                "type": "rate_limit_error", "code": "rate_limit_exceeded",
                "message": "Slow down.", "request_id": "req_1", "retry_after": 30
            }})),
    )
    .await;
    match client.retrieve_session("sess_1").await {
        Err(Error::ErrorResponse(response)) => {
            assert_eq!(response.status().as_u16(), 429);
            assert_eq!(response.error.retry_after, Some(30.0));
            assert_eq!(response.headers()["retry-after"], "30");
        }
        other => panic!("expected an error response, got {other:?}"),
    }
}
