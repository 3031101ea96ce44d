//! The live suite itself: it passes against the emulator, fails against a server that
//! breaks the spec, and refuses live keys and missing keys before any connection.

use std::net::TcpListener;
use std::process::Command;

use kallglot_conformance::live::{self, Config};
use kallglot_conformance::report::Outcome;
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(base_url: String, api_key: &str, emulator: bool) -> Config {
    Config {
        base_url,
        api_key: api_key.to_string(),
        restricted_key: None,
        emulator,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_live_row_passes_against_the_emulator() {
    let server = kallglot_mock::MockServer::builder()
        .port(0)
        .start()
        .await
        .unwrap();
    let rows = live::run(&config(server.url(), server.api_key(), true))
        .await
        .unwrap();
    let not_ok: Vec<_> = rows.iter().filter(|r| r.outcome != Outcome::Ok).collect();
    assert!(not_ok.is_empty(), "{not_ok:#?}");
    // Every REST operation, the stream and the provokable errors are there.
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    for id in [
        "operations/create_session",
        "operations/download_recording_audio",
        "stream.client/ping",
        "stream.server/session.ended",
        "error_codes.current/insufficient_permissions",
        "error_codes.current/api_key_invalid",
        "response_headers/X-Request-ID",
        "response_headers/Retry-After",
    ] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    assert_eq!(
        ids.iter().filter(|i| i.starts_with("operations/")).count(),
        9
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_server_that_breaks_the_spec_fails_its_rows() {
    // Every answer is a 200 with a body of the wrong shape and none of the headers.
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 5, "status": []})))
        .mount(&server)
        .await;
    let key = "sk_test_CONFORMANCElive0001";
    let rows = live::run(&config(server.uri(), key, false)).await.unwrap();
    let outcome = |id: &str| {
        rows.iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("no row {id}"))
            .outcome
            .clone()
    };
    let Outcome::Failed(create) = outcome("operations/create_session") else {
        panic!("create_session passed: {rows:#?}");
    };
    assert!(
        create.contains("body does not match the spec: $.id: expected string"),
        "{create}"
    );
    assert!(create.contains("header X-Request-ID:"), "{create}");
    let Outcome::Failed(request_id) = outcome("response_headers/X-Request-ID") else {
        panic!("X-Request-ID passed");
    };
    assert!(request_id.contains("missing"), "{request_id}");
    assert!(matches!(outcome("statuses/401"), Outcome::Failed(_)));
    assert_eq!(
        outcome("stream.client/ping"),
        Outcome::NotRun("create_session failed".into())
    );
    for row in &rows {
        assert!(!format!("{row:?}").contains("CONFORMANCElive"), "{row:?}");
    }
}

/// Runs the binary with `key` (or none) against a loopback port nobody answers on, and
/// returns its exit code and stderr; asserts nothing connected.
fn run_binary(key: Option<&str>) -> (Option<i32>, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_conformance-live"));
    command
        .args([
            "--base-url",
            &format!("http://{}", listener.local_addr().unwrap()),
        ])
        .env_remove(live::KEY_VAR)
        .env_remove(live::RESTRICTED_KEY_VAR);
    if let Some(key) = key {
        command.env(live::KEY_VAR, key);
    }
    let output = command.output().unwrap();
    // The process has exited, so any connection it made would be waiting here.
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the suite connected: {accepted:?}"
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_live_key_is_refused_before_any_connection() {
    let (code, stderr) = run_binary(Some("sk_live_CONFORMANCEliveKey01"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("refused before any request"), "{stderr}");
    assert!(stderr.contains("live key"), "{stderr}");
    assert!(!stderr.contains("CONFORMANCEliveKey01"), "{stderr}");
}

#[test]
fn a_missing_key_is_refused_before_any_connection() {
    let (code, stderr) = run_binary(None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("KALLGLOT_API_KEY is not set"), "{stderr}");
}

#[test]
fn a_plain_http_remote_url_is_refused_without_dialling() {
    let output = Command::new(env!("CARGO_BIN_EXE_conformance-live"))
        .args(["--base-url", "http://api.kallglot.com"])
        .env(live::KEY_VAR, "sk_test_CONFORMANCEliveKey02")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("base URL"), "{stderr}");
}
