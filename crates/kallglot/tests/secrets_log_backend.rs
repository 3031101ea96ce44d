//! No secret in any `log` record: a capturing `log` backend at TRACE for every target,
//! dependencies included (reqwest, hyper, rustls, tungstenite…), around a full flow.
//!
//! Its own binary: a process has one `log` backend.
#![cfg(all(feature = "stream", feature = "webhooks"))]

#[path = "support/flow.rs"]
mod flow;
#[path = "support/net.rs"]
mod net;

use std::sync::Mutex;

/// Keeps every record of every target and level.
struct Capture(Mutex<String>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if flow::on_emulator_thread() {
            return;
        }
        let line = format!(
            "{} {}: {}\n",
            record.level(),
            record.target(),
            record.args()
        );
        self.0.lock().unwrap().push_str(&line);
    }

    fn flush(&self) {}
}

static CAPTURE: Capture = Capture(Mutex::new(String::new()));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_flow_logs_no_secret_text_or_audio_at_trace() {
    log::set_logger(&CAPTURE).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let secrets = flow::full_flow().await;
    let captured = CAPTURE.0.lock().unwrap().clone();
    // The capture sees the dependencies' records, so their absence of secrets means
    // something: the HTTP client, TLS and WebSocket framing all log at TRACE. With
    // native-tls the TLS library is the platform's, which does not log through `log` (CI
    // runs this binary with the default rustls build too).
    let tls: &[&str] = if cfg!(feature = "native-tls") {
        &[]
    } else {
        &["rustls"]
    };
    for target in ["reqwest", "tungstenite"].iter().chain(tls) {
        assert!(
            captured
                .lines()
                .any(|l| l.split(' ').nth(1).is_some_and(|t| t.starts_with(target))),
            "no record from {target}: {}",
            &captured[..captured.len().min(2000)]
        );
    }
    secrets.assert_absent(&captured);
}
