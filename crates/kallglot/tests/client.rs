//! The ergonomic client against wiremock: auth, every resource call, metadata, retries,
//! idempotency, budget, timeouts, bad bodies and redaction.
//!
//! Retry waits go through a `ManualClock`, so backoff is asserted exactly and nothing
//! sleeps for real.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kallglot::clock::ManualClock;
use kallglot::model::{
    AnalysisPart, AnalysisStatus, CreateAnalysisParams, CreateSessionParams, Language, Metadata,
    Mode, Routing, SessionStatus,
};
use kallglot::{AuthStyle, Client, ErrorCode, Method, RetryBudget, Scope};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sk_test_FAKEKEYdoNotLeak0123456789";
const KEY_SECRET_PART: &str = "FAKEKEYdoNotLeak";

fn client_for(server: &MockServer) -> (Client, ManualClock) {
    let clock = ManualClock::new();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .clock(Arc::new(clock.clone()))
        .build()
        .unwrap();
    (client, clock)
}

fn session_json(id: &str, status: &str) -> Value {
    json!({
        "id": id, "object": "session", "status": status,
        "mode": "bidirectional_translation",
        "source_language": "en", "target_language": "es",
        "stream": {"url": format!("wss://api.kallglot.com/v1/sessions/{id}/connect"),
                   "token": "kst_test_FAKEtoken", "expires_at": "2026-03-26T11:05:00Z"},
        "metadata": null, "created_at": "2026-03-26T11:00:00Z",
        "started_at": null, "ended_at": null
    })
}

fn error_json(kind: &str, code: &str, message: &str) -> Value {
    json!({"error": {"type": kind, "code": code, "message": message, "request_id": "req_body"}})
}

/// A response with `status` and the API's error envelope.
fn error_response(status: u16, kind: &str, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(error_json(kind, code, message))
}

fn metadata_headers(response: ResponseTemplate) -> ResponseTemplate {
    response
        .insert_header("x-request-id", "req_123")
        .insert_header("x-ratelimit-limit", "100")
        .insert_header("x-ratelimit-remaining", "99")
        .insert_header("x-ratelimit-reset", "1774522800")
        .insert_header("x-api-credits-remaining", "41")
        .insert_header("x-api-credits-used", "9")
}

/// A server that gives every `http_method` request the same answer.
async fn answering(http_method: &str, response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(http_method))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

#[tokio::test]
async fn bearer_auth_user_agent_and_no_api_version_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sessions/sess_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session_json("sess_1", "active")))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    client.sessions().retrieve("sess_1").await.unwrap();
    let sent = &requests(&server).await[0];
    assert_eq!(header(sent, "authorization"), Some(format!("Bearer {KEY}")));
    assert_eq!(header(sent, "x-api-key"), None);
    assert!(
        header(sent, "user-agent")
            .unwrap()
            .starts_with("kallglot-rust/")
    );
    assert_eq!(header(sent, "api-version"), None);
    assert_eq!(header(sent, "idempotency-key"), None, "reads carry no key");
}

#[tokio::test]
async fn x_api_key_auth_sends_only_that_header_and_app_info() {
    let server = answering(
        "GET",
        ResponseTemplate::new(200).set_body_json(session_json("sess_1", "active")),
    )
    .await;
    let client = Client::builder()
        .api_key(KEY)
        .auth_style(AuthStyle::XApiKey)
        .app_info("callcenter", Some("2.1"))
        .base_url(server.uri())
        .build()
        .unwrap();
    client.sessions().retrieve("sess_1").await.unwrap();
    let sent = &requests(&server).await[0];
    assert_eq!(header(sent, "x-api-key"), Some(KEY.to_string()));
    assert_eq!(header(sent, "authorization"), None);
    assert!(
        header(sent, "user-agent")
            .unwrap()
            .ends_with(" callcenter/2.1")
    );
}

#[test]
fn configuration_errors_are_caught_before_any_request() {
    use kallglot::{ConfigError, Environment, Error};
    let err = Client::builder().build().unwrap_err();
    assert!(matches!(err, Error::Config(ConfigError::MissingApiKey)));
    let err = Client::new("pk_live_123").unwrap_err();
    assert!(matches!(err, Error::Config(ConfigError::InvalidApiKey(_))));
    assert!(!err.to_string().contains("pk_live_123"));
    let err = Client::builder()
        .api_key(KEY)
        .expect_environment(Environment::Live)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: the API key is a test key, but this client expects a live key"
    );
    let err = Client::builder()
        .api_key(KEY)
        .base_url("http://api.kallglot.com")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("plain http"), "{err}");
    let err = Client::builder()
        .api_key(KEY)
        .timeout(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::Config(ConfigError::ZeroTimeout(_))));
}

#[tokio::test]
async fn create_session_sends_typed_params_and_a_generated_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/sessions"))
        .respond_with(metadata_headers(
            ResponseTemplate::new(201).set_body_json(session_json("sess_new", "created")),
        ))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let params = CreateSessionParams::new(Mode::AssistiveTranslation)
        .languages(Language::EN, Language::new("pt-BR").unwrap())
        .routing(Routing::phone_number("+14155551234"))
        .metadata(Metadata::new().with("ticket", "T-1"));
    let session = client.sessions().create(params).await.unwrap();
    assert_eq!(session.id, "sess_new");
    assert_eq!(session.status, SessionStatus::Created);
    assert_eq!(session.status(), 201);
    assert_eq!(session.request_id(), Some("req_123"));
    assert_eq!(session.meta().credits_remaining(), Some(41));
    assert_eq!(session.meta().rate_limit_remaining(), Some(99));
    let reset = session.rate_limit().unwrap().reset.unwrap();
    assert_eq!(reset.timestamp(), 1_774_522_800);

    let sent = &requests(&server).await[0];
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(
        body,
        json!({
            "mode": "assistive_translation",
            "source_language": "en",
            "target_language": "pt-BR",
            "routing": {"phone_number": "+14155551234"},
            "metadata": {"ticket": "T-1"}
        })
    );
    let key = header(sent, "idempotency-key").unwrap();
    assert_eq!(key.len(), 36, "a UUID v4: {key}");
}

#[tokio::test]
async fn every_resource_call_hits_its_route() {
    let server = MockServer::start().await;
    let routes: Vec<(&str, &str, u16, Value)> = vec![
        (
            "GET",
            "/v1/sessions/sess_1",
            200,
            session_json("sess_1", "active"),
        ),
        (
            "POST",
            "/v1/sessions/sess_1/end",
            200,
            json!({"id": "sess_1", "object": "session", "status": "ended",
                   "duration_seconds": 12.5, "ended_at": "2026-03-26T11:04:05Z"}),
        ),
        (
            "GET",
            "/v1/sessions/sess_1/transcript",
            200,
            json!({"id": "trn_sess_1", "object": "transcript", "session_id": "sess_1",
                   "status": "completed", "turns": [
                       {"sequence": 1, "speaker": "customer", "language": "es", "text": "Hola",
                        "translation": {"language": "en", "text": "Hello"},
                        "timestamp": "2026-03-26T11:00:05Z"}]}),
        ),
        (
            "GET",
            "/v1/sessions/sess_1/recordings",
            200,
            json!({"object": "list", "data": [{"id": "rec_1", "object": "recording",
                   "session_id": "sess_1", "status": "ready", "duration": 12.5,
                   "format": "mp3", "created_at": "2026-03-26T11:04:10Z"}]}),
        ),
        (
            "GET",
            "/v1/recordings/rec_1",
            200,
            json!({"id": "rec_1", "object": "recording", "session_id": "sess_1",
                   "status": "ready", "channel": "mixed", "size": 1000,
                   "download_url": "/v1/recordings/rec_1/audio"}),
        ),
        (
            "POST",
            "/v1/sessions/sess_1/analysis",
            202,
            json!({"id": "anl_1", "object": "analysis", "session_id": "sess_1",
                   "status": "processing"}),
        ),
        (
            "GET",
            "/v1/analyses/anl_1",
            200,
            json!({"id": "anl_1", "object": "analysis", "session_id": "sess_1",
                   "status": "complete", "summary": "ok"}),
        ),
    ];
    for (m, p, status, body) in &routes {
        Mock::given(method(*m))
            .and(path(*p))
            .respond_with(ResponseTemplate::new(*status).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    let (client, _) = client_for(&server);
    let session = client.sessions().retrieve("sess_1").await.unwrap();
    assert_eq!(session.status, SessionStatus::Active);
    let ended = client.sessions().end(&session.id).await.unwrap();
    assert_eq!(ended.duration_seconds, Some(12.5));
    let transcript = client.sessions().transcript("sess_1").await.unwrap();
    assert_eq!(
        transcript.turns[0].translation.as_ref().unwrap().text,
        "Hello"
    );
    let recordings = client.sessions().recordings("sess_1").await.unwrap();
    assert_eq!(recordings.data[0].id, "rec_1");
    let recording = client.recordings().retrieve("rec_1").await.unwrap();
    assert_eq!(recording.size, Some(1000));
    let analysis = client
        .analyses()
        .create(
            "sess_1",
            CreateAnalysisParams::new().include([AnalysisPart::Summary, AnalysisPart::Sentiment]),
        )
        .await
        .unwrap();
    assert_eq!(analysis.status, AnalysisStatus::Processing);
    let analysis = client.analyses().retrieve("anl_1").await.unwrap();
    assert_eq!(
        analysis.status,
        AnalysisStatus::Completed,
        "legacy `complete`"
    );

    let sent = requests(&server).await;
    let end = &sent[1];
    assert!(end.body.is_empty(), "end sends no body");
    assert!(header(end, "idempotency-key").is_some());
    let create_analysis: Value = serde_json::from_slice(&sent[5].body).unwrap();
    assert_eq!(
        create_analysis,
        json!({"include": ["summary", "sentiment"]})
    );
}

#[tokio::test]
async fn download_streams_to_a_writer_and_a_file() {
    let server = MockServer::start().await;
    let audio: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    Mock::given(method("GET"))
        .and(path("/v1/recordings/rec_1/audio"))
        .respond_with(
            metadata_headers(ResponseTemplate::new(200))
                .insert_header(
                    "content-disposition",
                    "attachment; filename=\"recording-sess_1.mp3\"",
                )
                .set_body_raw(audio.clone(), "audio/mpeg"),
        )
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let mut sink = Vec::new();
    let done = client
        .recordings()
        .download("rec_1")
        .to_writer(&mut sink)
        .await
        .unwrap();
    assert_eq!(sink, audio);
    assert_eq!(done.bytes, 50_000);
    assert_eq!(done.content_type.as_deref(), Some("audio/mpeg"));
    assert_eq!(done.filename.as_deref(), Some("recording-sess_1.mp3"));
    assert_eq!(done.request_id(), Some("req_123"));

    let dir = std::env::temp_dir().join(format!("kallglot-dl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("out.mp3");
    client
        .recordings()
        .download("rec_1")
        .to_file(&file)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&file).unwrap(), audio);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_failed_download_leaves_the_existing_file_untouched() {
    let server = answering(
        "GET",
        error_response(
            404,
            "invalid_request_error",
            "invalid_request",
            "no such recording",
        ),
    )
    .await;
    let (client, _) = client_for(&server);
    let dir = std::env::temp_dir().join(format!("kallglot-keep-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("keep.mp3");
    std::fs::write(&file, b"the user's own file").unwrap();
    let err = client
        .recordings()
        .download("rec_typo")
        .max_retries(0)
        .to_file(&file)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(404));
    assert_eq!(std::fs::read(&file).unwrap(), b"the user's own file");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "no partial file is left behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn missing_and_malformed_metadata_headers_are_none() {
    let server = answering(
        "GET",
        ResponseTemplate::new(200)
            .insert_header("x-ratelimit-limit", "lots")
            .insert_header("x-ratelimit-remaining", "-1")
            .insert_header("x-api-credits-remaining", "12.5")
            .set_body_json(session_json("sess_1", "active")),
    )
    .await;
    let (client, _) = client_for(&server);
    let session = client.sessions().retrieve("sess_1").await.unwrap();
    assert_eq!(session.request_id(), None);
    assert_eq!(session.rate_limit(), None);
    assert_eq!(session.credits(), None);
}

#[tokio::test]
async fn rate_limited_then_ok_waits_retry_after_and_keeps_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            error_response(429, "rate_limit_error", "rate_limit_exceeded", "slow down")
                .insert_header("retry-after", "7"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(session_json("sess_1", "created")))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let session = client
        .sessions()
        .create(CreateSessionParams::new(Mode::AiAgent))
        .await
        .unwrap();
    assert_eq!(session.id, "sess_1");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    let keys: Vec<_> = sent
        .iter()
        .map(|r| header(r, "idempotency-key").unwrap())
        .collect();
    assert_eq!(keys[0], keys[1], "a retried write reuses its key");
    assert_eq!(sent[0].body, sent[1].body, "and its exact body");
    let slept = clock.sleeps();
    assert_eq!(slept.len(), 1);
    assert!(
        slept[0] >= Duration::from_secs(7) && slept[0] <= Duration::from_secs(8),
        "{slept:?}"
    );
}

#[tokio::test]
async fn a_caller_supplied_idempotency_key_wins() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "sess_1", "object": "session", "status": "ended"})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    client
        .sessions()
        .end("sess_1")
        .idempotency_key("my-own-key")
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_eq!(
            header(request, "idempotency-key").as_deref(),
            Some("my-own-key")
        );
    }
}

#[tokio::test]
async fn service_unavailable_three_times_gives_up_after_two_retries() {
    let server = answering(
        "GET",
        error_response(503, "api_error", "service_unavailable", "try later")
            .insert_header("x-request-id", "req_503"),
    )
    .await;
    let (client, clock) = client_for(&server);
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    assert_eq!(requests(&server).await.len(), 3);
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
    assert_eq!(err.request_id(), Some("req_body"));
    let slept = clock.sleeps();
    assert_eq!(slept.len(), 2);
    assert!(slept[0] >= Duration::from_millis(250) && slept[0] <= Duration::from_millis(500));
    assert!(slept[1] >= Duration::from_millis(500) && slept[1] <= Duration::from_millis(1000));
}

#[tokio::test]
async fn a_per_call_override_disables_retries() {
    let server = answering("GET", ResponseTemplate::new(503)).await;
    let (client, _) = client_for(&server);
    let err = client
        .sessions()
        .retrieve("sess_1")
        .max_retries(0)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn out_of_credits_is_never_retried() {
    let server = answering(
        "POST",
        error_response(
            402,
            "permission_error",
            "insufficient_api_credits",
            "No credits left.",
        ),
    )
    .await;
    let (client, clock) = client_for(&server);
    let err = client
        .sessions()
        .create(CreateSessionParams::new(Mode::AiAgent))
        .await
        .unwrap_err();
    assert_eq!(requests(&server).await.len(), 1);
    assert!(clock.sleeps().is_empty());
    assert!(err.is_out_of_credits());
    assert!(!err.is_retryable());
    assert_eq!(err.code(), Some(&ErrorCode::InsufficientApiCredits));
}

#[tokio::test]
async fn a_403_names_the_missing_scope() {
    let server = answering(
        "GET",
        error_response(
            403,
            "authorization_error",
            "insufficient_permissions",
            "Missing scope.",
        ),
    )
    .await;
    let (client, _) = client_for(&server);
    let err = client.analyses().retrieve("anl_1").await.unwrap_err();
    let api = err.as_api().unwrap();
    assert_eq!(api.required_scope, Some(Scope::AnalysisRead));
    assert!(err.to_string().contains("analysis:read"), "{err}");
    assert_eq!(requests(&server).await.len(), 1);
}

#[tokio::test]
async fn legacy_auth_codes_map_to_current_variants() {
    let server = answering(
        "GET",
        error_response(401, "authentication_error", "revoked_api_key", "Revoked."),
    )
    .await;
    let (client, _) = client_for(&server);
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    assert_eq!(err.code(), Some(&ErrorCode::ApiKeyRevoked), "{err:?}");
    assert_eq!(
        err.as_api().unwrap().raw_code.as_deref(),
        Some("revoked_api_key")
    );
    assert!(err.is_auth());
}

#[tokio::test]
async fn an_exhausted_retry_budget_stops_retries() {
    let server = answering("GET", ResponseTemplate::new(500)).await;
    let clock = ManualClock::new();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .clock(Arc::new(clock.clone()))
        .max_retries(5)
        // No floor and a 10% ratio: the first request earns no full retry.
        .retry_budget(RetryBudget::new(0.1, 0, Duration::from_secs(10)))
        .build()
        .unwrap();
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(requests(&server).await.len(), 1, "no budget, no retry");
    assert!(clock.sleeps().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_times_out_as_a_typed_error() {
    // Accepts connections and never answers. With tokio's paused clock the 5 s timeout
    // elapses instantly once nothing else can run.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://{addr}"))
        .timeout(Duration::from_secs(5))
        .max_retries(1)
        .clock(Arc::new(ManualClock::new()))
        .build()
        .unwrap();
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    match &err {
        kallglot::Error::Timeout {
            operation,
            attempts,
            ..
        } => {
            assert_eq!(*operation, "retrieve_session");
            assert_eq!(*attempts, 2, "a read that timed out is retried");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_refused_connection_is_a_connection_error() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .clock(Arc::new(ManualClock::new()))
        .build()
        .unwrap();
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    assert!(matches!(err, kallglot::Error::Connection { .. }), "{err:?}");
    assert!(!err.to_string().contains(KEY_SECRET_PART));
}

#[tokio::test]
async fn an_html_error_page_becomes_an_api_error_with_a_snippet() {
    let server = answering(
        "GET",
        ResponseTemplate::new(502)
            .insert_header("x-request-id", "req_proxy")
            .set_body_raw("<html><body>Bad Gateway</body></html>", "text/html"),
    )
    .await;
    let (client, _) = client_for(&server);
    let err = client
        .sessions()
        .retrieve("sess_1")
        .max_retries(0)
        .await
        .unwrap_err();
    let api = err.as_api().expect("an API error");
    assert_eq!(api.status, 502);
    assert_eq!(api.code, None);
    assert_eq!(api.request_id.as_deref(), Some("req_proxy"));
    assert_eq!(
        api.body_snippet.as_deref(),
        Some("<html><body>Bad Gateway</body></html>")
    );
}

#[tokio::test]
async fn truncated_json_is_a_decode_error_with_status_and_request_id() {
    let server = answering(
        "GET",
        ResponseTemplate::new(200)
            .insert_header("x-request-id", "req_cut")
            .set_body_raw(r#"{"id": "sess_1", "object": "sess"#, "application/json"),
    )
    .await;
    let (client, _) = client_for(&server);
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    match &err {
        kallglot::Error::Decode(d) => {
            assert_eq!(d.meta.status, 200);
            assert_eq!(d.meta.request_id.as_deref(), Some("req_cut"));
            assert!(d.body_snippet.starts_with("{\"id\""));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(err.request_id(), Some("req_cut"));
}

#[tokio::test]
async fn raw_requests_share_auth_retries_and_metadata() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/agents"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/agents"))
        .respond_with(metadata_headers(
            ResponseTemplate::new(201).set_body_json(json!({"id": "agt_1", "object": "agent"})),
        ))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let agent = client
        .request(Method::Post, "/v1/agents")
        .json(json!({"name": "Support"}))
        .await
        .unwrap();
    assert_eq!(agent["id"], "agt_1");
    assert_eq!(agent.request_id(), Some("req_123"));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2, "a keyed raw POST is retried");
    assert_eq!(
        header(&sent[0], "idempotency-key"),
        header(&sent[1], "idempotency-key")
    );
    assert_eq!(
        header(&sent[0], "authorization"),
        Some(format!("Bearer {KEY}"))
    );
}

#[tokio::test]
async fn raw_posts_to_unkeyed_routes_are_not_retried() {
    let server = answering("POST", ResponseTemplate::new(503)).await;
    let (client, _) = client_for(&server);
    let err = client
        .request(Method::Post, "/v1/sessions/sess_1/hangup")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(header(&sent[0], "idempotency-key"), None);
    let err = client.request(Method::Get, "https://evil.example/v1").await;
    assert!(matches!(
        err,
        Err(kallglot::Error::Config(
            kallglot::ConfigError::InvalidPath { .. }
        ))
    ));
}

#[tokio::test]
async fn analyses_wait_polls_with_growing_intervals_until_terminal() {
    let server = MockServer::start().await;
    let processing = json!({"id": "anl_1", "object": "analysis", "session_id": "sess_1",
                            "status": "processing"});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&processing))
        .up_to_n_times(3)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "anl_1", "object": "analysis", "session_id": "sess_1",
            "status": "completed", "summary": "done"})))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let options = kallglot::WaitOptions::default()
        .initial_interval(Duration::from_secs(1))
        .max_interval(Duration::from_secs(3));
    let done = client.analyses().wait("anl_1", options).await.unwrap();
    assert_eq!(done.summary.as_deref(), Some("done"));
    // Ceilings of 1 s, 2 s, then the 3 s cap; each wait is jittered into the upper half
    // of its ceiling so that many waiters do not poll in step.
    let sleeps = clock.sleeps();
    assert_eq!(sleeps.len(), 3, "{sleeps:?}");
    for (sleep, ceiling) in sleeps.iter().zip([1000, 2000, 3000]) {
        let ceiling = Duration::from_millis(ceiling);
        assert!(*sleep >= ceiling / 2 && *sleep <= ceiling, "{sleeps:?}");
    }
}

#[tokio::test]
async fn analyses_wait_takes_duration_max_as_no_deadline() {
    let server = MockServer::start().await;
    let processing = json!({"id": "anl_1", "object": "analysis", "session_id": "sess_1",
                            "status": "processing"});
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(&processing))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "anl_1", "object": "analysis", "session_id": "sess_1",
            "status": "failed"})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    let options = kallglot::WaitOptions::default()
        .timeout(Duration::MAX)
        .initial_interval(Duration::MAX)
        .max_interval(Duration::from_millis(5));
    let done = client.analyses().wait("anl_1", options).await.unwrap();
    assert_eq!(done.status.as_str(), "failed");
}

#[tokio::test]
async fn analyses_wait_gives_up_at_the_deadline() {
    let server = answering(
        "GET",
        ResponseTemplate::new(200).set_body_json(json!({
            "id": "anl_1", "object": "analysis", "session_id": "sess_1",
            "status": "processing"})),
    )
    .await;
    let (client, clock) = client_for(&server);
    let options = kallglot::WaitOptions::default()
        .timeout(Duration::from_secs(10))
        .initial_interval(Duration::from_secs(2))
        .max_interval(Duration::from_secs(4));
    let err = client.analyses().wait("anl_1", options).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "analysis anl_1 was still processing when the wait deadline passed"
    );
    let total: Duration = clock.sleeps().iter().sum();
    assert!(total <= Duration::from_secs(10), "{total:?}");
}

#[test]
fn the_client_is_cheap_to_clone_and_thread_safe() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Client>();
    fn assert_send<T: Send>(_: &T) {}
    let client = Client::new(KEY).unwrap();
    // Futures of calls can be spawned on a multi-threaded runtime.
    assert_send(&client.sessions().retrieve("sess_1"));
    assert_send(&client.request(Method::Get, "/v1/agents"));
    let clone = client.clone();
    assert_eq!(format!("{clone:?}"), format!("{client:?}"));
}

#[tokio::test]
async fn an_idempotency_conflict_is_retried_after_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            error_response(
                409,
                "invalid_request_error",
                "idempotency_conflict",
                "still running",
            )
            .insert_header("retry-after", "2"),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "id": "anl_1", "object": "analysis", "session_id": "sess_1", "status": "processing"})))
        .mount(&server)
        .await;
    let (client, clock) = client_for(&server);
    let analysis = client
        .analyses()
        .create("sess_1", CreateAnalysisParams::new())
        .await
        .unwrap();
    assert_eq!(analysis.id, "anl_1");
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    assert_eq!(
        header(&sent[0], "idempotency-key"),
        header(&sent[1], "idempotency-key")
    );
    assert!(clock.sleeps()[0] >= Duration::from_secs(2));
}

#[tokio::test]
async fn validation_errors_keep_param_and_are_not_retried() {
    let server = answering(
        "POST",
        ResponseTemplate::new(422).set_body_json(json!({"error": {
            "type": "validation_error", "code": "invalid_mode", "message": "Unknown mode.",
            "param": "mode"}})),
    )
    .await;
    let (client, _) = client_for(&server);
    let err = client
        .sessions()
        .create(CreateSessionParams::new(Mode::Unknown("teleport".into())))
        .await
        .unwrap_err();
    assert_eq!(requests(&server).await.len(), 1);
    assert_eq!(err.code(), Some(&ErrorCode::InvalidRequest), "legacy alias");
    assert_eq!(err.as_api().unwrap().param.as_deref(), Some("mode"));
    let sent: Value = serde_json::from_slice(&requests(&server).await[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"mode": "teleport"}),
        "unknown modes are sent as given"
    );
}

#[tokio::test]
async fn a_retried_read_is_rebuilt_whole_from_its_route() {
    // A typed call keeps no copy of its request: a retry builds it again from the
    // operation's route. The retry must be the same request: path, encoded id, query
    // parameters, headers.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "data": []})))
        .mount(&server)
        .await;
    let (client, _) = client_for(&server);
    client
        .sessions()
        .list_recordings(
            "sess 1",
            kallglot::model::RecordingListParams::new()
                .limit(5)
                .starting_after("rec_a&b"),
        )
        .await
        .unwrap();
    let sent = requests(&server).await;
    assert_eq!(sent.len(), 2);
    for request in &sent {
        assert_eq!(
            request.url.path(),
            "/v1/sessions/sess%201/recordings",
            "the id is encoded as one path segment"
        );
        assert_eq!(
            request.url.query(),
            Some("limit=5&starting_after=rec_a%26b")
        );
        assert_eq!(
            header(request, "accept").as_deref(),
            Some("application/json")
        );
        assert!(header(request, "authorization").is_some());
    }
    let names = |r: &Request| {
        let mut names: Vec<String> = r.headers.keys().map(|n| n.to_string()).collect();
        names.sort();
        names
    };
    assert_eq!(names(&sent[0]), names(&sent[1]));
    for name in names(&sent[0]) {
        assert_eq!(header(&sent[0], &name), header(&sent[1], &name), "{name}");
    }
}
