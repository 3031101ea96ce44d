//! The stream logs what operators need inside its `kallglot.stream` span: skipped frames,
//! an unresponsive server, and reconnects.
//!
//! Its own binary: tracing caches each callsite's interest when it is first hit, so a
//! test that ran earlier in the same process without a subscriber would hide the events.
#![cfg(feature = "stream")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use kallglot::Client;
use kallglot::stream::{Event, ReconnectPolicy, StreamOptions};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

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
async fn skipped_frames_unresponsive_peers_and_reconnects_are_logged_in_the_stream_span() {
    // The first connection sends a binary frame and a non-message, then hangs (reads
    // bytes, answers nothing); the second answers `session.end`.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut index = 0;
        while let Ok((tcp, _)) = listener.accept().await {
            let first = index == 0;
            index += 1;
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
                if first {
                    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
                    ws.send(Message::text("not a message")).await.unwrap();
                    let mut buffer = vec![0u8; 4096];
                    while let Ok(n) = ws.get_mut().read(&mut buffer).await {
                        if n == 0 {
                            return;
                        }
                    }
                } else {
                    while let Some(Ok(message)) = ws.next().await {
                        if message.to_text().unwrap_or("").contains("session.end") {
                            let ended = json!({"type": "session.ended", "reason": "explicit_end"});
                            ws.send(Message::text(ended.to_string())).await.unwrap();
                        }
                    }
                }
            });
        }
    });
    let rest = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "sess_1", "object": "session", "status": "active",
            "mode": "bidirectional_translation",
            "stream": {"url": format!("ws://{addr}/v1/sessions/sess_1/connect"),
                       "token": "kst_test_FAKEtoken",
                       "expires_at": (Utc::now() + chrono::TimeDelta::minutes(5)).to_rfc3339()},
            "created_at": "2026-03-26T11:00:00Z"})))
        .mount(&rest)
        .await;

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let client = Client::builder()
        .api_key("sk_test_FAKEKEY0000000000")
        .base_url(rest.uri())
        .build()
        .unwrap();
    let session = client
        .sessions()
        .retrieve("sess_1")
        .await
        .unwrap()
        .into_inner();
    // Real time (the REST mock runs on it), so short liveness bounds.
    let options = StreamOptions::default()
        .keepalive_interval(Duration::from_millis(50))
        .pong_timeout(Duration::from_millis(150))
        .reconnect(
            ReconnectPolicy::new(3).backoff(Duration::from_millis(10), Duration::from_millis(10)),
        );
    let (sender, mut events) = client.sessions().connect(&session, options).await.unwrap();
    let first = tokio::time::timeout(Duration::from_secs(30), events.next())
        .await
        .expect("the hung server must be noticed");
    assert_eq!(first.unwrap().unwrap(), Event::Reconnected { attempt: 1 });
    sender.end().await.unwrap();
    while tokio::time::timeout(Duration::from_secs(30), events.next())
        .await
        .expect("the stream must end")
        .is_some()
    {}

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for expected in [
        "skipping a binary frame",
        "skipping a text frame that is not a JSON message",
        "the server did not answer a ping in time",
        "the stream broke; reconnecting",
        "stream reconnected",
    ] {
        let line = logs
            .lines()
            .find(|line| line.contains(expected))
            .unwrap_or_else(|| panic!("no {expected:?} in:\n{logs}"));
        assert!(
            line.contains("kallglot.stream"),
            "not in the stream span: {line}"
        );
    }
}
