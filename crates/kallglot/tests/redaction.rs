//! Redaction: the API key and stream tokens never reach `Debug`, `Display`, errors or
//! tracing output.
//!
//! This test has its own binary: tracing caches each callsite's interest when it is first
//! hit, so a test that runs earlier in the same process without a subscriber would hide
//! the spans from the scoped subscriber installed here.

use std::sync::{Arc, Mutex};

use kallglot::Client;
use kallglot::clock::ManualClock;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk_test_FAKEKEYdoNotLeak0123456789";
const KEY_SECRET_PART: &str = "FAKEKEYdoNotLeak";

fn session_json(id: &str) -> Value {
    json!({
        "id": id, "object": "session", "status": "active",
        "mode": "bidirectional_translation",
        "stream": {"url": format!("wss://api.kallglot.com/v1/sessions/{id}/connect"),
                   "token": "kst_test_FAKEtoken", "expires_at": "2026-03-26T11:05:00Z"},
        "created_at": "2026-03-26T11:00:00Z"
    })
}

/// Collects everything a tracing subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_debug_display_errors_or_traces() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/sessions/sess_1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session_json("sess_1")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/sessions/sess_bad"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "type": "authentication_error", "code": "api_key_invalid", "message": "bad key"}})))
        .mount(&server)
        .await;
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .clock(Arc::new(ManualClock::new()))
        .build()
        .unwrap();
    let session = client.sessions().retrieve("sess_1").await.unwrap();
    let err = client.sessions().retrieve("sess_bad").await.unwrap_err();
    let key = kallglot::ApiKey::new(KEY).unwrap();

    let stream = session.stream.as_ref().unwrap();
    let texts = [
        format!("{client:?}"),
        format!("{key:?}"),
        key.to_string(),
        format!("{err:?}"),
        err.to_string(),
        format!("{session:?}"),
        format!("{stream:?}"),
    ];
    for text in &texts {
        assert!(!text.contains(KEY_SECRET_PART), "key leaked: {text}");
        assert!(!text.contains("FAKEtoken"), "stream token leaked: {text}");
    }
    let traces = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(traces.contains("kallglot.request"), "{traces}");
    assert!(traces.contains("retrieve_session"), "{traces}");
    assert!(
        !traces.contains(KEY_SECRET_PART),
        "key leaked in traces: {traces}"
    );
    assert!(
        !traces.contains("FAKEtoken"),
        "token leaked in traces: {traces}"
    );
}

#[cfg(feature = "stream")]
#[tokio::test]
async fn stream_tokens_never_reach_traces_or_errors() {
    use kallglot::model::{StreamCredentials, StreamToken};
    use kallglot::stream::StreamOptions;

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Nothing listens on this port: the dial fails after the URL with the token is built.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let credentials = StreamCredentials::new(
        format!("ws://127.0.0.1:{port}/v1/sessions/sess_1/connect"),
        StreamToken::new("kst_test_FAKEtokenSECRET"),
        chrono::Utc::now() + chrono::TimeDelta::minutes(5),
    );
    let connector = Client::builder()
        .allow_stream_host("127.0.0.1")
        .build_stream_connector()
        .unwrap();
    let err = connector
        .connect(&credentials, StreamOptions::default())
        .await
        .unwrap_err();
    let texts = [
        err.to_string(),
        format!("{err:?}"),
        format!("{credentials:?}"),
        String::from_utf8(captured.0.lock().unwrap().clone()).unwrap(),
    ];
    for text in &texts {
        assert!(!text.contains("FAKEtokenSECRET"), "token leaked: {text}");
    }
}

/// Rotated keys stay out of traces too, and pacing waits show up in them.
#[tokio::test(start_paused = true)]
async fn rotated_keys_never_reach_traces_and_pacing_waits_do() {
    use kallglot::credentials::{ApiKeySource, KeyFuture};
    use kallglot::model::{CreateSessionParams, Mode};

    const OLD: &str = "sk_test_OLDrotatedSECRET012345";
    const NEW: &str = "sk_test_NEWrotatedSECRET012345";
    const LATER: &str = "sk_test_LATERrotatedSECRET0123";

    #[derive(Debug)]
    struct Vault;
    impl ApiKeySource for Vault {
        fn fetch(&self) -> KeyFuture<'_> {
            Box::pin(async { Ok(kallglot::ApiKey::new(NEW)?) })
        }
    }

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = kallglot_mock::MockServer::builder()
        .key(kallglot_mock::KeyConfig::test(OLD).revoked())
        .key(kallglot_mock::KeyConfig::test(NEW))
        .key(kallglot_mock::KeyConfig::test(LATER))
        .rate_limit(2, std::time::Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .api_key(OLD)
        .base_url(server.url())
        .api_key_source(Arc::new(Vault))
        .build()
        .unwrap();
    for _ in 0..3 {
        client
            .sessions()
            .create(CreateSessionParams::new(Mode::AiAgent))
            .await
            .unwrap();
    }
    client.set_api_key(LATER).unwrap();
    client
        .sessions()
        .create(CreateSessionParams::new(Mode::AiAgent))
        .await
        .unwrap();
    let traces = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(traces.contains("kallglot pacing"), "{traces}");
    assert!(traces.contains("paced_ms"), "{traces}");
    assert!(traces.contains("kallglot API key replaced"), "{traces}");
    for secret in ["OLDrotatedSECRET", "NEWrotatedSECRET", "LATERrotatedSECRET"] {
        assert!(!traces.contains(secret), "key leaked in traces: {traces}");
        assert!(!format!("{client:?}").contains(secret));
    }
}
