//! The real SDK against the emulator: every REST operation, the stream, errors, retries
//! and idempotency as a client experiences them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kallglot::clock::{Clock, ManualClock, SleepFuture};
use kallglot::error_code::{ErrorCode, Scope as SdkScope};
use kallglot::model::{
    AnalysisPart, AnalysisStatus, CreateAnalysisParams, CreateSessionParams, Language, Metadata,
    Mode, RecordingStatus, SessionStatus, Speaker, StreamCredentials, StreamToken,
    TranscriptStatus,
};
use kallglot::stream::{
    EndReason, Event, HandshakeRejection, MulawAudio, StreamError, StreamOptions,
};
use kallglot::{Client, Error, WaitOptions};
use kallglot_mock::{Fault, KeyConfig, MockServer, catalogue};

fn client(server: &MockServer) -> Client {
    client_with(server, server.api_key(), Arc::new(ManualClock::new()))
}

fn client_with(server: &MockServer, key: &str, clock: Arc<dyn Clock>) -> Client {
    Client::builder()
        .api_key(key)
        .base_url(server.url())
        .clock(clock)
        .build()
        .unwrap()
}

fn params() -> CreateSessionParams {
    CreateSessionParams::new(Mode::BidirectionalTranslation).languages(Language::EN, Language::ES)
}

async fn next_event(events: &mut kallglot::stream::Events) -> Event {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("an event in time")
        .expect("the stream is open")
        .expect("not an error")
}

/// Skips keep-alive answers and interim transcripts.
async fn next_significant(events: &mut kallglot::stream::Events) -> Event {
    loop {
        match next_event(events).await {
            Event::Pong { .. } | Event::TranscriptPartial(_) => continue,
            other => return other,
        }
    }
}

#[tokio::test]
async fn every_operation_through_the_sdk() {
    let server = MockServer::builder()
        .analysis_delay(Duration::ZERO)
        .utterance_duration(Duration::from_millis(500))
        .start()
        .await
        .unwrap();
    let client = client(&server);
    let session = client
        .sessions()
        .create(params().metadata(Metadata::new().with("ticket", "T-1")))
        .await
        .unwrap();
    assert_eq!(session.status, SessionStatus::Created);
    assert_eq!(session.source_language, Some(Language::EN));
    assert_eq!(
        session.metadata.as_ref().unwrap().get("ticket").unwrap(),
        "T-1"
    );
    assert_eq!(session.meta().credits_remaining(), Some(99));
    assert!(session.request_id().unwrap().starts_with("req_"));
    let retrieved = client
        .sessions()
        .retrieve(session.id.clone())
        .await
        .unwrap();
    assert_eq!(retrieved.id, session.id);

    let (sender, mut events) = client
        .sessions()
        .connect(&session, StreamOptions::default())
        .await
        .unwrap();
    assert!(matches!(next_event(&mut events).await, Event::Ready { .. }));
    // 1 s of audio in 100 ms frames: two utterances of 500 ms.
    for _ in 0..10 {
        sender
            .send_audio(MulawAudio::from_mulaw_bytes(vec![0xFF; 800]))
            .await
            .unwrap();
    }
    let mut partials = 0;
    let mut finals = Vec::new();
    while finals.len() < 2 {
        match next_event(&mut events).await {
            Event::TranscriptPartial(p) => {
                partials += 1;
                assert!(!p.text.is_empty());
            }
            Event::TranscriptFinal(f) => finals.push(f),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(partials, 2);
    assert_eq!(finals[0].speaker, Some(Speaker::Customer));
    assert_eq!(finals[0].text, "Hello, I need help with my order.");
    let translation = finals[0].translation.as_ref().unwrap();
    assert_eq!(translation.language, Some(Language::ES));
    assert_eq!(translation.text, "Hola, necesito ayuda con mi pedido.");
    assert_eq!(finals[1].speaker, Some(Speaker::Agent));
    assert_eq!(finals[1].language, Some(Language::ES));

    sender.ping().await.unwrap();
    assert!(
        matches!(next_event(&mut events).await, Event::Pong { session_id: Some(id) } if id == session.id.as_str())
    );
    let live = client
        .sessions()
        .transcript(session.id.clone())
        .await
        .unwrap();
    assert_eq!(live.status, TranscriptStatus::InProgress);

    sender.end().await.unwrap();
    match next_significant(&mut events).await {
        Event::SessionEnded { reason, .. } => assert_eq!(reason, EndReason::ExplicitEnd),
        other => panic!("{other:?}"),
    }
    match next_significant(&mut events).await {
        Event::Closed(closed) => assert!(closed.session_ended),
        other => panic!("{other:?}"),
    }

    let ended = client.sessions().end(session.id.clone()).await.unwrap();
    assert_eq!(ended.status, SessionStatus::Ended);
    assert_eq!(ended.duration_seconds, Some(1.0));
    let transcript = client
        .sessions()
        .transcript(session.id.clone())
        .await
        .unwrap();
    assert_eq!(transcript.status, TranscriptStatus::Completed);
    assert_eq!(transcript.turns.len(), 2);
    assert_eq!(transcript.turns[0].text, finals[0].text);
    assert_eq!(transcript.turns[1].speaker, Speaker::Agent);
    let metadata = transcript.metadata.as_ref().unwrap();
    assert_eq!(metadata.total_turns, Some(2));
    assert_eq!(metadata.languages_detected, [Language::EN, Language::ES]);

    let recordings = client
        .sessions()
        .recordings(session.id.clone())
        .await
        .unwrap();
    let listed = &recordings.data[0];
    assert_eq!(listed.status, RecordingStatus::Ready);
    let recording = client
        .recordings()
        .retrieve(listed.id.clone())
        .await
        .unwrap();
    assert_eq!(recording.duration, Some(1.0));
    let mut file = Vec::new();
    let downloaded = client
        .recordings()
        .download(listed.id.clone())
        .to_writer(&mut file)
        .await
        .unwrap();
    assert_eq!(downloaded.bytes, file.len() as u64);
    assert_eq!(Some(downloaded.bytes), recording.size);
    assert_eq!(downloaded.content_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(
        downloaded.filename,
        Some(format!("recording-{}.mp3", session.id))
    );

    let accepted = client
        .analyses()
        .create(
            session.id.clone(),
            CreateAnalysisParams::new().include([
                AnalysisPart::Summary,
                AnalysisPart::Sentiment,
                AnalysisPart::Performance,
            ]),
        )
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    assert_eq!(accepted.status, AnalysisStatus::Processing);
    let done = client
        .analyses()
        .wait(accepted.id.clone(), WaitOptions::default())
        .await
        .unwrap();
    assert_eq!(done.status, AnalysisStatus::Completed);
    assert!(done.summary.as_deref().unwrap().contains("2 turns"));
    assert!(done.sentiment.as_ref().unwrap().agent.is_some());
    assert_eq!(done.performance.as_ref().unwrap().score, Some(0.86));
    assert_eq!(done.meta().credits.unwrap().used, Some(2));
}

#[tokio::test]
async fn authentication_and_billing_failures_map_to_sdk_errors() {
    let server = MockServer::builder()
        .credits(0)
        .key(KeyConfig::test("sk_test_revoked_000").revoked())
        .key(KeyConfig::test("sk_test_expired_000").expired())
        .key(KeyConfig::test("sk_test_reader_0000").scopes(["sessions:read"]))
        .key(KeyConfig::test("sk_test_inactive_00").inactive_org())
        .start()
        .await
        .unwrap();
    let cases = [
        ("sk_test_unknown_000", 401, ErrorCode::ApiKeyInvalid),
        (
            "sk_live_0000000000000",
            401,
            ErrorCode::ApiKeyWrongEnvironment,
        ),
        ("sk_test_revoked_000", 401, ErrorCode::ApiKeyRevoked),
        ("sk_test_expired_000", 401, ErrorCode::ApiKeyExpired),
        (
            "sk_test_reader_0000",
            403,
            ErrorCode::InsufficientPermissions,
        ),
        ("sk_test_inactive_00", 403, ErrorCode::OrganizationInactive),
        (server.api_key(), 402, ErrorCode::InsufficientApiCredits),
    ];
    for (key, status, code) in cases {
        let clock = Arc::new(ManualClock::new());
        let error = client_with(&server, key, clock.clone())
            .sessions()
            .create(params())
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(status), "{key}: {error}");
        assert_eq!(error.code(), Some(&code), "{key}");
        assert!(error.request_id().unwrap().starts_with("req_"));
        assert!(!error.is_retryable());
        assert!(clock.sleeps().is_empty(), "{key}: never retried");
        if code == ErrorCode::InsufficientPermissions {
            assert_eq!(
                error.as_api().unwrap().required_scope,
                Some(SdkScope::SessionsWrite)
            );
        }
    }
}

/// A clock that really waits, but at most 150 ms per wait: enough for a 100 ms
/// rate-limit window to pass, without sitting through a whole `Retry-After` second.
#[derive(Debug, Default)]
struct BriefClock {
    sleeps: Mutex<Vec<Duration>>,
}

impl Clock for BriefClock {
    fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        self.sleeps.lock().unwrap().push(duration);
        Box::pin(tokio::time::sleep(duration.min(Duration::from_millis(150))))
    }
}

#[tokio::test(start_paused = true)]
async fn a_paced_call_waits_for_the_window_instead_of_meeting_a_429() {
    let server = MockServer::builder()
        .rate_limit(1, Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    // No retries: a 429 would fail the call.
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .max_retries(0)
        .build()
        .unwrap();
    client.sessions().create(params()).await.unwrap();
    let started = tokio::time::Instant::now();
    let second = client.sessions().create(params()).await.unwrap();
    assert_eq!(second.status(), 201);
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(server.credits_used(), 2);
}

#[tokio::test]
async fn a_rate_limited_call_is_retried_after_the_window() {
    let server = MockServer::builder()
        .rate_limit(1, Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let clock = Arc::new(BriefClock::default());
    // Without pacing, the second call meets the limit and is retried.
    let client = Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .clock(clock.clone())
        .rate_limit_pacing(false)
        .build()
        .unwrap();
    client.sessions().create(params()).await.unwrap();
    let second = client.sessions().create(params()).await.unwrap();
    assert_eq!(second.status(), 201);
    let sleeps = clock.sleeps.lock().unwrap().clone();
    assert_eq!(sleeps.len(), 1, "one 429, then success: {sleeps:?}");
    assert!(
        sleeps[0] >= Duration::from_millis(100),
        "it honoured the server's wait: {sleeps:?}"
    );
    assert_eq!(server.credits_used(), 2);
}

#[tokio::test]
async fn injected_429_and_503_are_retried_with_one_charge() {
    let server = MockServer::start().await.unwrap();
    let clock = Arc::new(ManualClock::new());
    let client = client_with(&server, server.api_key(), clock.clone());
    server.faults().inject(
        &catalogue::CREATE_SESSION,
        Fault::status(429, "rate_limit_exceeded")
            .retry_after(0)
            .times(1),
    );
    server.faults().inject(
        &catalogue::CREATE_SESSION,
        Fault::status(503, "service_unavailable").times(1),
    );
    let session = client.sessions().create(params()).await.unwrap();
    assert_eq!(session.status(), 201);
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(server.credits_used(), 1);
}

#[tokio::test]
async fn resets_and_lost_responses_are_retried_idempotently() {
    let server = MockServer::start().await.unwrap();
    let client = client(&server);
    server
        .faults()
        .inject(&catalogue::CREATE_SESSION, Fault::reset().times(1));
    client.sessions().create(params()).await.unwrap();
    assert_eq!(server.credits_used(), 1);

    server
        .faults()
        .inject(&catalogue::CREATE_SESSION, Fault::lose_response().times(1));
    let mut events = server.subscribe();
    let session = client.sessions().create(params()).await.unwrap();
    assert_eq!(
        server.credits_used(),
        2,
        "the retry replayed the first result"
    );
    let created = events.try_recv().unwrap();
    assert_eq!(
        created.data["id"],
        session.id.as_str(),
        "the replayed session is the one created"
    );
    assert!(events.try_recv().is_err(), "only one session was created");

    server
        .faults()
        .inject(&catalogue::END_SESSION, Fault::lose_response().times(1));
    let ended = client.sessions().end(session.id.clone()).await.unwrap();
    assert_eq!(ended.status, SessionStatus::Ended);
}

#[tokio::test]
async fn a_concurrent_duplicate_waits_out_the_conflict_and_gets_the_replay() {
    let server = MockServer::start().await.unwrap();
    let clock = Arc::new(ManualClock::new());
    let client = client_with(&server, server.api_key(), clock.clone());
    server.faults().inject(
        &catalogue::CREATE_SESSION,
        Fault::delay(Duration::from_millis(300)).times(1),
    );
    let first = {
        let client = client.clone();
        tokio::spawn(async move {
            client
                .sessions()
                .create(params())
                .idempotency_key("order-42")
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The duplicate meets 409 idempotency_conflict while the first is held; the
    // manual clock skips the 1 s Retry-After, so it retries at once until the first is done.
    let duplicate = client
        .sessions()
        .create(params())
        .idempotency_key("order-42")
        .max_retries(50)
        .await;
    let first = first.await.unwrap().unwrap();
    assert!(
        !clock.sleeps().is_empty() && clock.sleeps().iter().all(|s| *s >= Duration::from_secs(1)),
        "the duplicate met a 409 and waited its Retry-After: {:?}",
        clock.sleeps()
    );
    match duplicate {
        Ok(second) => assert_eq!(second.id, first.id),
        Err(e) => assert_eq!(e.code(), Some(&ErrorCode::IdempotencyConflict), "{e}"),
    }
    let replay = client
        .sessions()
        .create(params())
        .idempotency_key("order-42")
        .await
        .unwrap();
    assert_eq!(replay.id, first.id);
    assert_eq!(server.credits_used(), 1);
    let mismatch = client
        .sessions()
        .create(CreateSessionParams::new(Mode::AiAgent))
        .idempotency_key("order-42")
        .await
        .unwrap_err();
    assert_eq!(mismatch.code(), Some(&ErrorCode::IdempotencyMismatch));
}

#[tokio::test]
async fn malformed_answers_surface_as_decode_and_api_errors() {
    let server = MockServer::start().await.unwrap();
    let client = client(&server);
    let session = client.sessions().create(params()).await.unwrap();
    server.faults().inject(
        &catalogue::RETRIEVE_SESSION,
        Fault::truncated_json().times(1),
    );
    let error = client
        .sessions()
        .retrieve(session.id.clone())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Decode(_)), "{error:?}");
    assert!(error.request_id().unwrap().starts_with("req_"));
    server
        .faults()
        .inject(&catalogue::RETRIEVE_SESSION, Fault::html(502));
    let error = client
        .sessions()
        .retrieve(session.id.clone())
        .max_retries(0)
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(502));
    assert!(
        error
            .as_api()
            .unwrap()
            .body_snippet
            .as_deref()
            .unwrap()
            .contains("Bad Gateway")
    );
    server.faults().clear();
    let not_found = client
        .sessions()
        .retrieve("sess_missing")
        .await
        .unwrap_err();
    assert!(not_found.is_not_found());
}

#[tokio::test]
async fn refused_stream_handshakes_map_to_their_rejections() {
    let server = MockServer::start().await.unwrap();
    let client = client(&server);
    let a = client
        .sessions()
        .create(params())
        .await
        .unwrap()
        .into_inner();
    let b = client
        .sessions()
        .create(params())
        .await
        .unwrap()
        .into_inner();
    let with_token = |session: &kallglot::model::Session, token: &str| {
        let mut copy = session.clone();
        let stream = session.stream.as_ref().unwrap();
        copy.stream = Some(StreamCredentials::new(
            stream.url.clone(),
            StreamToken::new(token),
            stream.expires_at,
        ));
        copy
    };
    let rejection = |result: kallglot::Result<_>| match result {
        Err(Error::Stream(StreamError::HandshakeRejected { rejection, .. })) => rejection,
        Err(other) => panic!("{other:?}"),
        Ok(_) => panic!("connected"),
    };
    let forged = with_token(&a, "kst_test_forged");
    assert_eq!(
        rejection(
            client
                .sessions()
                .connect(&forged, StreamOptions::default())
                .await
        ),
        HandshakeRejection::Unauthorized
    );
    let crossed = with_token(&a, b.stream.as_ref().unwrap().token.expose_secret());
    assert_eq!(
        rejection(
            client
                .sessions()
                .connect(&crossed, StreamOptions::default())
                .await
        ),
        HandshakeRejection::Forbidden
    );
    client.sessions().end(a.id.clone()).await.unwrap();
    assert_eq!(
        rejection(
            client
                .sessions()
                .connect(&a, StreamOptions::default())
                .await
        ),
        HandshakeRejection::NotFound
    );
}

#[tokio::test]
async fn a_dropped_stream_reconnects_with_a_fresh_token() {
    let server = MockServer::start().await.unwrap();
    let client = client(&server);
    let session = client.sessions().create(params()).await.unwrap();
    let options = StreamOptions::default().reconnect(
        kallglot::stream::ReconnectPolicy::new(3)
            .backoff(Duration::from_millis(10), Duration::from_millis(20)),
    );
    let (sender, mut events) = client.sessions().connect(&session, options).await.unwrap();
    assert!(matches!(next_event(&mut events).await, Event::Ready { .. }));
    server.disconnect_streams();
    loop {
        match next_event(&mut events).await {
            Event::Reconnected { attempt } => {
                assert_eq!(attempt, 1);
                break;
            }
            Event::Ready { .. } | Event::Pong { .. } => continue,
            other => panic!("{other:?}"),
        }
    }
    sender.ping().await.unwrap();
    loop {
        if let Event::Pong { .. } = next_event(&mut events).await {
            break;
        }
    }
    sender.end().await.unwrap();
}
