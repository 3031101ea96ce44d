//! No secret in any trace: tracing-subscriber's `fmt()` at TRACE, installed the way
//! `fmt().init()` does it, which also forwards every `log` record (dependencies
//! included) into tracing. Around the same full flow; it also checks that the stream's
//! span hangs under the caller's span and names the session.
//!
//! Its own binary: a process has one global subscriber and one `log` backend.
#![cfg(all(feature = "stream", feature = "webhooks"))]

#[path = "support/flow.rs"]
mod flow;
#[path = "support/net.rs"]
mod net;

use std::sync::{Arc, Mutex};

use tracing::Instrument;

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if flow::on_emulator_thread() {
            return Ok(buf.len());
        }
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_traces_no_secret_text_or_audio_and_the_stream_span_has_a_parent() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_writer(move || writer.clone())
        .init();
    let secrets = flow::full_flow()
        .instrument(tracing::info_span!("call_center", call = "c-42"))
        .await;
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    // With native-tls the TLS library is the platform's, which does not log through
    // `log` (CI runs this binary with the default rustls build too).
    let tls: &[&str] = if cfg!(feature = "native-tls") {
        &[]
    } else {
        &["rustls"]
    };
    for target in ["reqwest", "tungstenite", "kallglot"].iter().chain(tls) {
        assert!(
            text.contains(&format!(" {target}")),
            "no record from {target}: {}",
            &text[..text.len().min(2000)]
        );
    }
    secrets.assert_absent(&text);
    // The worker's events sit in the stream span, under the caller's span.
    let connected = text
        .lines()
        .find(|l| l.contains("stream connected"))
        .unwrap_or_else(|| panic!("no 'stream connected' event: {text}"));
    let span = format!(
        "call_center{{call=\"c-42\"}}:kallglot.stream{{session_id=\"{}\"}}",
        secrets.session_id
    );
    assert!(connected.contains(&span), "{connected}");
}
