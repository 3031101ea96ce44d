//! The conformance suite: one scenario per entry of `documented.toml`, each snapshotting
//! what a user of the public `kallglot` API sees (the request as sent, or the typed result).
//!
//! Run it alone with `cargo xtask conformance` (or `cargo test -p kallglot-conformance`);
//! it prints a table of entries and their status. Snapshots live in `snapshots/`; a changed
//! one fails the run (`INSTA_UPDATE=no`, set in `.cargo/config.toml`). To review changes:
//! `INSTA_UPDATE=new cargo test -p kallglot-conformance`, then inspect the `.snap.new`
//! files before accepting them.

mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot::stream::{self, Event, MulawAudio, StreamOptions};
use kallglot::{AuthStyle, Method};
use kallglot_conformance::manifest;
use kallglot_conformance::report::{self, Row};
use serde_json::{Value, json};
use support::*;
use tokio_tungstenite::tungstenite::Message;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

type Output = Pin<Box<dyn Future<Output = String>>>;
type Scenario = Box<dyn Fn() -> Output>;

fn main() {
    let manifest = manifest::load();
    let scenarios = registry();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows: Vec<Row> = Vec::new();

    // Coverage, both ways: every documented entry has a scenario and every scenario
    // names a documented entry.
    let missing: Vec<&String> = manifest
        .keys()
        .filter(|id| !scenarios.contains_key(*id))
        .collect();
    let unknown: Vec<&String> = scenarios
        .keys()
        .filter(|id| !manifest.contains_key(*id))
        .collect();
    let coverage = if missing.is_empty() && unknown.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "entries without a scenario: {missing:?}; scenarios without an entry: {unknown:?}"
        ))
    };
    rows.push(Row::new("coverage (manifest <-> scenarios)", coverage));

    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    for (id, run) in &scenarios {
        if filter.as_deref().is_some_and(|f| !id.contains(f)) {
            continue;
        }
        let description = manifest.get(id).cloned().unwrap_or_default();
        let outcome = runtime.block_on(async {
            AssertUnwindSafe(async {
                let text = run().await;
                let mut settings = insta::Settings::clone_current();
                settings.set_snapshot_path("../snapshots");
                settings.set_prepend_module_to_snapshot(false);
                settings.set_description(format!("{id}: {description}"));
                settings.set_omit_expression(true);
                settings.bind(|| insta::assert_snapshot!(snapshot_name(id), text));
            })
            .catch_unwind()
            .await
        });
        let result = outcome.map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "scenario panicked".into())
        });
        rows.push(Row::new(id.clone(), result));
    }

    print!("{}", report::render("conformance", &rows));
    if report::failures(&rows) > 0 {
        std::process::exit(1);
    }
}

fn snapshot_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn registry() -> BTreeMap<String, Scenario> {
    let mut all: BTreeMap<String, Scenario> = BTreeMap::new();
    let mut add = |id: &str, run: Scenario| {
        assert!(
            all.insert(id.to_string(), run).is_none(),
            "duplicate scenario {id}"
        );
    };

    add(
        "request_headers/Authorization",
        Box::new(|| Box::pin(request_auth(AuthStyle::Bearer))),
    );
    add(
        "request_headers/X-API-Key",
        Box::new(|| Box::pin(request_auth(AuthStyle::XApiKey))),
    );
    add(
        "request_headers/Content-Type",
        Box::new(|| Box::pin(request_content_type())),
    );
    add(
        "request_headers/Idempotency-Key",
        Box::new(|| Box::pin(request_idempotency_key())),
    );
    add(
        "request_headers/User-Agent",
        Box::new(|| Box::pin(request_user_agent())),
    );

    for (header, value) in [
        ("X-Request-ID", "req_conformance_0001"),
        ("X-RateLimit-Limit", "600"),
        ("X-RateLimit-Remaining", "599"),
        ("X-RateLimit-Reset", "1774522860"),
        ("X-API-Credits-Remaining", "41"),
        ("X-API-Credits-Used", "9"),
    ] {
        add(
            &format!("response_headers/{header}"),
            Box::new(move || Box::pin(response_header(header, value))),
        );
    }
    add(
        "response_headers/Retry-After",
        Box::new(|| Box::pin(response_retry_after())),
    );
    for header in ["Content-Type", "Content-Length", "Content-Disposition"] {
        add(
            &format!("response_headers/audio/{header}"),
            Box::new(move || Box::pin(response_audio(header))),
        );
    }

    for (status, kind, code) in [
        (400, "validation_error", "invalid_request"),
        (401, "authentication_error", "api_key_invalid"),
        (402, "permission_error", "insufficient_api_credits"),
        (403, "permission_error", "insufficient_permissions"),
        (404, "invalid_request_error", "resource_not_found"),
        (409, "invalid_request_error", "idempotency_conflict"),
        (422, "validation_error", "invalid_request"),
        (429, "rate_limit_error", "rate_limit_exceeded"),
        (500, "api_error", "internal_error"),
        (502, "api_error", "sip_dial_failed"),
        (503, "api_error", "service_unavailable"),
    ] {
        add(
            &format!("statuses/{status}"),
            Box::new(move || Box::pin(status_scenario(status, kind, code))),
        );
    }

    // Each documented code, current or legacy, as a create-session error response.
    let current = [
        ("api_key_invalid", 401, "authentication_error"),
        ("api_key_expired", 401, "authentication_error"),
        ("api_key_revoked", 401, "authentication_error"),
        ("api_key_wrong_environment", 401, "authentication_error"),
        ("organization_inactive", 403, "permission_error"),
        ("insufficient_api_credits", 402, "permission_error"),
        ("insufficient_permissions", 403, "permission_error"),
        ("idempotency_mismatch", 400, "invalid_request_error"),
        ("idempotency_conflict", 409, "invalid_request_error"),
        ("rate_limit_exceeded", 429, "rate_limit_error"),
        ("invalid_request", 400, "validation_error"),
        ("ai_agent_not_found", 404, "invalid_request_error"),
    ];
    let legacy = [
        ("invalid_api_key", 401, "authentication_error"),
        ("expired_api_key", 401, "authentication_error"),
        ("revoked_api_key", 401, "authentication_error"),
        ("invalid_token", 401, "authentication_error"),
        ("expired_token", 401, "authentication_error"),
        ("organization_suspended", 403, "authorization_error"),
        ("feature_not_available", 403, "authorization_error"),
        ("missing_required_field", 400, "validation_error"),
        ("invalid_field_value", 400, "validation_error"),
        ("invalid_language_code", 400, "validation_error"),
        ("invalid_mode", 422, "validation_error"),
        ("invalid_provider", 400, "validation_error"),
    ];
    for (group, codes) in [("current", current), ("legacy", legacy)] {
        for (code, status, kind) in codes {
            add(
                &format!("error_codes.{group}/{code}"),
                Box::new(move || Box::pin(create_session_error(status, kind, code))),
            );
        }
    }
    add(
        "sdk_output/error_debug",
        Box::new(|| Box::pin(error_debug())),
    );
    add(
        "error_codes.current/agent_not_found",
        Box::new(|| Box::pin(agent_not_found())),
    );
    add(
        "error_codes.current/invalid_audio_format",
        Box::new(|| {
            Box::pin(server_event(
                json!({"type": "session.error", "code": "invalid_audio_format",
                                         "message": "Audio must be mu-law at 8000 Hz."}),
            ))
        }),
    );

    add(
        "stream.client/audio.input",
        Box::new(|| Box::pin(client_message("audio.input"))),
    );
    add(
        "stream.client/ping",
        Box::new(|| Box::pin(client_message("ping"))),
    );
    add(
        "stream.client/session.end",
        Box::new(|| Box::pin(client_message("session.end"))),
    );
    for message in [
        json!({"type": "session.ready", "session_id": "sess_01HXYZ123456789"}),
        json!({"type": "transcript.partial", "speaker": "customer", "text": "Hola, nece"}),
        json!({"type": "transcript.final", "speaker": "customer", "language": "es",
               "text": "Hola, necesito ayuda.",
               "translation": {"language": "en", "text": "Hello, I need help."}}),
        json!({"type": "pong", "session_id": "sess_01HXYZ123456789"}),
        json!({"type": "session.ended", "session_id": "sess_01HXYZ123456789",
               "reason": "explicit_end"}),
        json!({"type": "session.error", "code": "invalid_audio_format",
               "message": "Audio must be mu-law at 8000 Hz."}),
    ] {
        let kind = message["type"].as_str().unwrap().to_string();
        add(
            &format!("stream.server/{kind}"),
            Box::new(move || Box::pin(server_event(message.clone()))),
        );
    }

    for header in [
        "Kallglot-Signature",
        "Kallglot-Webhook-Id",
        "Kallglot-Retry-Count",
        "Kallglot-Original-Timestamp",
    ] {
        add(
            &format!("webhooks.headers/{header}"),
            Box::new(move || Box::pin(webhook_header(header))),
        );
    }
    for (kind, data) in [
        (
            "session.created",
            json!({"id": "sess_01HXYZ123456789", "object": "session", "status": "created"}),
        ),
        (
            "session.started",
            json!({"id": "sess_01HXYZ123456789", "object": "session", "status": "active"}),
        ),
        (
            "session.ended",
            json!({"id": "sess_01HXYZ123456789", "object": "session", "status": "ended", "duration": 245.3}),
        ),
        (
            "transcript.ready",
            json!({"id": "trn_sess_01HXYZ123456789", "object": "transcript", "session_id": "sess_01HXYZ123456789"}),
        ),
        (
            "transcript.segment",
            json!({"session_id": "sess_01HXYZ123456789", "speaker": "customer", "text": "Hola"}),
        ),
        (
            "recording.ready",
            json!({"id": "rec_01HABC987654321", "object": "recording", "status": "ready"}),
        ),
        (
            "recording.failed",
            json!({"id": "rec_01HABC987654321", "object": "recording", "status": "failed"}),
        ),
        (
            "analysis.complete",
            json!({"id": "anl_01HDEF456789012", "object": "analysis", "status": "completed"}),
        ),
        (
            "analysis.failed",
            json!({"id": "anl_01HDEF456789012", "object": "analysis", "status": "failed", "error": "transcript too short"}),
        ),
        (
            "session.provider.connected",
            json!({"id": "sess_01HXYZ123456789", "provider": "twilio"}),
        ),
        (
            "session.provider.disconnected",
            json!({"id": "sess_01HXYZ123456789", "provider": "twilio"}),
        ),
    ] {
        add(
            &format!("webhooks.events/{kind}"),
            Box::new(move || Box::pin(webhook_event(kind, data.clone()))),
        );
    }
    add(
        "bad_input/malformed_json",
        Box::new(|| Box::pin(bad_body(200, "{\"id\": \"sess_1\", ", "application/json"))),
    );
    add(
        "bad_input/empty_body_500",
        Box::new(|| Box::pin(bad_body(500, "", "application/json"))),
    );
    add(
        "bad_input/html_502",
        Box::new(|| {
            Box::pin(bad_body(
                502,
                "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
                "text/html",
            ))
        }),
    );
    add(
        "bad_input/missing_headers",
        Box::new(|| Box::pin(missing_headers())),
    );
    add(
        "bad_input/non_numeric_rate_limit",
        Box::new(|| Box::pin(non_numeric_rate_limit())),
    );
    add(
        "bad_input/retry_after_http_date",
        Box::new(|| Box::pin(retry_after_http_date())),
    );
    add(
        "bad_input/wrong_shape_200",
        Box::new(|| {
            Box::pin(bad_body(
                200,
                "{\"id\": 5, \"status\": []}",
                "application/json",
            ))
        }),
    );
    all
}

async fn server_with(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn sent(server: &MockServer) -> Vec<wiremock::Request> {
    server.received_requests().await.unwrap()
}

// ---- request headers ----

async fn request_auth(style: AuthStyle) -> String {
    let server = server_with(ResponseTemplate::new(200).set_body_json(session_json())).await;
    let client = client_builder(&server).auth_style(style).build().unwrap();
    client
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await
        .unwrap();
    render_request(&sent(&server).await[0], &server)
}

async fn request_content_type() -> String {
    let server = server_with(ResponseTemplate::new(201).set_body_json(session_json())).await;
    let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
        .languages(Language::EN, Language::ES);
    client(&server).sessions().create(params).await.unwrap();
    render_request(&sent(&server).await[0], &server)
}

async fn request_idempotency_key() -> String {
    let server = server_with(ResponseTemplate::new(200).set_body_json(session_json())).await;
    let client = client(&server);
    client
        .sessions()
        .create(CreateSessionParams::new(Mode::AiAgent))
        .await
        .unwrap();
    client
        .sessions()
        .end("sess_01HXYZ123456789")
        .idempotency_key("order-1042-end")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await
        .unwrap();
    let requests = sent(&server).await;
    let lines: Vec<String> = requests
        .iter()
        .map(|r| {
            let key = r
                .headers
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_string());
            let shown = match key {
                Some(k) if is_uuid_v4(&k) => "[generated uuid v4]".to_string(),
                Some(k) => k,
                None => "(none)".to_string(),
            };
            format!("{} {}: Idempotency-Key {shown}", r.method, r.url.path())
        })
        .collect();
    lines.join("\n")
}

async fn request_user_agent() -> String {
    let server = server_with(ResponseTemplate::new(200).set_body_json(session_json())).await;
    let client = client_builder(&server)
        .app_info("conformance-app", Some("1.0"))
        .build()
        .unwrap();
    client
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await
        .unwrap();
    let request = &sent(&server).await[0];
    scrub(
        &format!(
            "user-agent: {}",
            request.headers["user-agent"].to_str().unwrap()
        ),
        None,
    )
}

// ---- response headers ----

async fn response_header(header: &str, value: &str) -> String {
    let server = server_with(
        ResponseTemplate::new(200)
            .insert_header(header, value)
            .set_body_json(session_json()),
    )
    .await;
    let session = client(&server)
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await
        .unwrap();
    format!("{header}: {value}\nmeta: {:#?}", session.meta())
}

/// The error of one retrieve (no retries) answered by a 429 with this `Retry-After`.
async fn rate_limited_with_retry_after(retry_after: &str) -> kallglot::Error {
    let server = server_with(
        ResponseTemplate::new(429)
            .insert_header("retry-after", retry_after)
            .set_body_json(error_body(
                "rate_limit_error",
                "rate_limit_exceeded",
                "Slow down.",
            )),
    )
    .await;
    client(&server)
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .max_retries(0)
        .await
        .unwrap_err()
}

async fn response_retry_after() -> String {
    let err = rate_limited_with_retry_after("7").await;
    format!("Retry-After: 7\n{}", render_error(&err))
}

async fn response_audio(header: &str) -> String {
    let audio = vec![0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00];
    let server = server_with(
        documented_headers(ResponseTemplate::new(200))
            .insert_header(
                "content-disposition",
                "attachment; filename=\"recording-sess_01HXYZ123456789.mp3\"",
            )
            .set_body_raw(audio.clone(), "audio/mpeg"),
    )
    .await;
    let mut sink = Vec::new();
    let done = client(&server)
        .recordings()
        .download("rec_01HABC987654321")
        .to_writer(&mut sink)
        .await
        .unwrap();
    assert_eq!(sink, audio);
    let shown = match header {
        "Content-Type" => format!("content_type: {:?}", done.content_type),
        "Content-Length" => format!("bytes written: {} (content-length 10)", done.bytes),
        _ => format!("filename: {:?}", done.filename),
    };
    format!("{shown}\ndownloaded: {:#?}", *done)
}

// ---- statuses and error codes ----

async fn status_scenario(status: u16, kind: &str, code: &str) -> String {
    let mut response = documented_headers(ResponseTemplate::new(status)).set_body_json(error_body(
        kind,
        code,
        "Described by the server.",
    ));
    if matches!(status, 409 | 429) {
        response = response.insert_header("retry-after", "1");
    }
    let server = server_with(response).await;
    let err = client(&server)
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await
        .unwrap_err();
    format!(
        "requests sent (max_retries 2): {}\n{}",
        sent(&server).await.len(),
        render_error(&err)
    )
}

async fn create_session_error(status: u16, kind: &str, code: &str) -> String {
    let server = server_with(
        documented_headers(ResponseTemplate::new(status)).set_body_json(error_body(
            kind,
            code,
            "Described by the server.",
        )),
    )
    .await;
    let err = client(&server)
        .sessions()
        .create(CreateSessionParams::new(Mode::BidirectionalTranslation))
        .max_retries(0)
        .await
        .unwrap_err();
    format!("HTTP {status} {kind}/{code}\n{}", render_error(&err))
}

/// The one scenario that shows an error's full `Debug`: every other error snapshot shows
/// its typed fields and `Display`, so a new field changes this file alone.
async fn error_debug() -> String {
    let server = server_with(
        documented_headers(ResponseTemplate::new(403)).set_body_json(error_body(
            "permission_error",
            "insufficient_permissions",
            "Described by the server.",
        )),
    )
    .await;
    let err = client(&server)
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await
        .unwrap_err();
    format!("{err:#?}")
}

async fn agent_not_found() -> String {
    let server = server_with(
        documented_headers(ResponseTemplate::new(404)).set_body_json(error_body(
            "invalid_request_error",
            "agent_not_found",
            "No such agent.",
        )),
    )
    .await;
    let err = client(&server)
        .request(Method::Get, "/v1/agents/agt_missing")
        .await
        .unwrap_err();
    render_error(&err)
}

// ---- stream ----

async fn client_message(kind: &str) -> String {
    let (tx, rx) = tokio::sync::oneshot::channel::<Value>();
    let addr = ws_server(move |mut ws| async move {
        if let Some(Ok(Message::Text(text))) = ws.next().await {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "session.end" {
                let ended = json!({"type": "session.ended", "session_id": "sess_01HXYZ123456789",
                                   "reason": "explicit_end"});
                ws.send(Message::text(ended.to_string())).await.unwrap();
            }
            let _ = tx.send(value);
        }
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let (sender, _events) = stream::connect(&credentials(addr), StreamOptions::default())
        .await
        .unwrap();
    let outcome = match kind {
        "audio.input" => {
            let pcm: Vec<i16> = (0..160).map(|i| ((i % 16) * 512 - 4096) as i16).collect();
            sender
                .send_audio(MulawAudio::from_pcm16(&pcm, 8000).unwrap())
                .await
                .map(|_| "sent")
        }
        "ping" => sender.ping().await.map(|_| "sent"),
        _ => sender
            .end()
            .await
            .map(|_| "end() returned Ok after session.ended"),
    };
    let mut value = tokio::time::timeout(Duration::from_secs(10), rx)
        .await
        .expect("the server received a message")
        .unwrap();
    if let Some(ts) = value.get_mut("timestamp_ms") {
        // Client time: check it is a plausible Unix time in ms, then hide its value.
        assert!(ts.as_u64().unwrap() > 1_700_000_000_000);
        *ts = json!("[unix ms]");
    }
    format!(
        "outcome: {outcome:?}\nsent: {}",
        serde_json::to_string_pretty(&value).unwrap()
    )
}

async fn server_event(message: Value) -> String {
    let text = message.to_string();
    let addr = ws_server(move |mut ws| async move {
        ws.send(Message::text(text)).await.unwrap();
        let _ = ws.close(None).await;
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
    let (_sender, events) = stream::connect(&credentials(addr), StreamOptions::default())
        .await
        .unwrap();
    let events: Vec<_> = events.collect().await;
    let mut out = format!("received: {message}\nevents:\n");
    for event in &events {
        match event {
            Ok(Event::Closed(_)) => out.push_str("  (then the stream closed)\n"),
            Ok(event) => out.push_str(&format!("{event:#?}\n")),
            Err(e) => out.push_str(&format!("  error: {e}\n")),
        }
    }
    out
}

// ---- bad input ----

async fn bad_body(status: u16, body: &str, content_type: &str) -> String {
    let server = server_with(
        ResponseTemplate::new(status)
            .insert_header("x-request-id", "req_conformance_bad")
            .set_body_raw(body.to_string(), content_type),
    )
    .await;
    let result = client(&server)
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await;
    let err = result.expect_err("bad input must be an error");
    format!(
        "HTTP {status} {content_type}: {body:?}\nrequests sent (max_retries 2): {}\n{}",
        sent(&server).await.len(),
        render_error(&err)
    )
}

async fn missing_headers() -> String {
    let server = server_with(ResponseTemplate::new(200).set_body_json(session_json())).await;
    let session = client(&server)
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await
        .unwrap();
    format!("no documented header\nmeta: {:#?}", session.meta())
}

async fn non_numeric_rate_limit() -> String {
    let server = server_with(
        ResponseTemplate::new(200)
            .insert_header("x-ratelimit-limit", "lots")
            .insert_header("x-ratelimit-remaining", "-3")
            .insert_header("x-ratelimit-reset", "soon")
            .insert_header("x-api-credits-remaining", "12.5")
            .insert_header("x-api-credits-used", "")
            .set_body_json(session_json()),
    )
    .await;
    let session = client(&server)
        .sessions()
        .retrieve("sess_01HXYZ123456789")
        .await
        .unwrap();
    format!("garbage numeric headers\nmeta: {:#?}", session.meta())
}

async fn retry_after_http_date() -> String {
    let when = chrono::Utc::now() + chrono::TimeDelta::seconds(30);
    let date = when.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let err = rate_limited_with_retry_after(&date).await;
    let wait = err
        .as_api()
        .unwrap()
        .retry_after
        .expect("an HTTP date is understood");
    // The date has whole seconds, so the wait is a little under 30 s.
    assert!(
        (Duration::from_secs(28)..=Duration::from_secs(30)).contains(&wait),
        "{wait:?}"
    );
    format!(
        "Retry-After: <an HTTP date 30 s ahead>\nretry_after is between 28 and 30 s: true\nstatus: {:?}\ncode: {:?}",
        err.status(),
        err.code()
    )
}

// ---- webhooks ----

/// A fixed clock for the verifier, so signatures and tolerance are deterministic.
const WEBHOOK_NOW: i64 = 1_774_522_800;
const WEBHOOK_SECRET: &str = "whsec_CONFORMANCEfakeSecret01";

fn webhook_body(kind: &str, data: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": "evt_01HXYZ123456789", "type": kind, "api_version": "v1",
        "created_at": "2026-03-26T11:00:00Z", "data": data
    }))
    .unwrap()
}

fn verifier() -> kallglot::webhooks::Verifier {
    kallglot::webhooks::Verifier::new(
        kallglot::webhooks::WebhookSecret::new(WEBHOOK_SECRET).unwrap(),
    )
    .with_clock(|| WEBHOOK_NOW)
}

fn delivery_headers(body: &[u8], signed_at: i64) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    let signature = kallglot::webhooks::testing::sign(WEBHOOK_SECRET, signed_at, body);
    headers.insert("kallglot-signature", signature.parse().unwrap());
    headers.insert(
        "kallglot-webhook-id",
        "wh_del_01HXYZ123456789".parse().unwrap(),
    );
    headers.insert("kallglot-retry-count", "2".parse().unwrap());
    headers.insert("kallglot-original-timestamp", "1774522500".parse().unwrap());
    headers
}

async fn webhook_header(header: &str) -> String {
    let body = webhook_body(
        "session.ended",
        json!({"id": "sess_01HXYZ123456789", "status": "ended"}),
    );
    let headers = delivery_headers(&body, WEBHOOK_NOW - 5);
    let verifier = verifier();
    match header {
        "Kallglot-Signature" => {
            let ok = verifier
                .verify_request(&headers, &body)
                .map(|(event, _)| event.kind);
            let mut tampered = body.clone();
            tampered.push(b' ');
            let refused = verifier.verify_request(&headers, &tampered).map(|_| ());
            let stale = verifier
                .verify_request(&delivery_headers(&body, WEBHOOK_NOW - 301), &body)
                .map(|_| ());
            let mut missing = headers.clone();
            missing.remove("kallglot-signature");
            let absent = verifier.verify_request(&missing, &body).map(|_| ());
            format!(
                "signed 5 s ago: {ok:?}\nbody changed by one byte: {refused:?}\nsigned 301 s ago (tolerance 300 s): {stale:?}\nheader missing: {absent:?}\nverifier: {verifier:?}"
            )
        }
        _ => {
            let (_, delivery) = verifier.verify_request(&headers, &body).unwrap();
            let shown = match header {
                "Kallglot-Webhook-Id" => format!("delivery_id: {:?}", delivery.delivery_id),
                "Kallglot-Retry-Count" => format!(
                    "retry_count: {:?} (is_retry: {})",
                    delivery.retry_count,
                    delivery.is_retry()
                ),
                _ => format!("original_timestamp: {:?}", delivery.original_timestamp),
            };
            format!("{shown}\ndelivery: {delivery:#?}")
        }
    }
}

async fn webhook_event(kind: &str, data: Value) -> String {
    let body = webhook_body(kind, data);
    let headers = delivery_headers(&body, WEBHOOK_NOW);
    let (event, _) = verifier().verify_request(&headers, &body).unwrap();
    let mut out = format!("kind: {:?} ({})\n", event.kind, event.kind);
    if let Some(ended) = event.session_ended() {
        out.push_str(&format!("session_ended view: {ended:?}\n"));
    }
    out.push_str(&format!("event: {event:#?}"));
    out
}
