//! Fixtures shared by the conformance scenarios: fake credentials, a wiremock-backed
//! client, a local WebSocket server, and renderers that turn what a user sees into
//! stable, secret-free snapshot text.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fixtures"
)]

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use kallglot::clock::ManualClock;
use kallglot::{Client, ClientBuilder};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use wiremock::{MockServer, Request, ResponseTemplate};

/// A recognisable fake API key; the snapshot scan proves it never reaches a snapshot.
pub const KEY: &str = "sk_test_CONFORMANCEfakeKey0001";
/// The secret part of [`KEY`], what must never be printed.
pub const KEY_SECRET: &str = "CONFORMANCEfakeKey0001";
/// A recognisable fake stream token.
pub const TOKEN: &str = "kst_test_CONFORMANCEfakeToken01";
/// The secret part of [`TOKEN`].
pub const TOKEN_SECRET: &str = "CONFORMANCEfakeToken01";

/// A client for `server` that never waits for real: retries use a manual clock.
pub fn client_builder(server: &MockServer) -> ClientBuilder {
    Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .clock(Arc::new(ManualClock::new()))
}

pub fn client(server: &MockServer) -> Client {
    client_builder(server)
        .build()
        .expect("the test client builds")
}

/// The documented headers with fixed values, for responses.
pub fn documented_headers(response: ResponseTemplate) -> ResponseTemplate {
    response
        .insert_header("x-request-id", "req_conformance_0001")
        .insert_header("x-ratelimit-limit", "600")
        .insert_header("x-ratelimit-remaining", "599")
        .insert_header("x-ratelimit-reset", "1774522860")
        .insert_header("x-api-credits-remaining", "41")
        .insert_header("x-api-credits-used", "9")
}

pub fn session_json() -> Value {
    json!({
        "id": "sess_01HXYZ123456789", "object": "session", "status": "created",
        "mode": "bidirectional_translation", "source_language": "en", "target_language": "es",
        "provider": "twilio", "phone_number": "+14155551234",
        "stream": {"url": "wss://api.kallglot.com/v1/sessions/sess_01HXYZ123456789/connect",
                   "token": TOKEN, "expires_at": "2026-03-26T11:05:00Z"},
        "recording": {"enabled": true}, "metadata": null,
        "created_at": "2026-03-26T11:00:00Z", "started_at": null, "ended_at": null
    })
}

pub fn error_body(kind: &str, code: &str, message: &str) -> Value {
    json!({"error": {"type": kind, "code": code, "message": message,
                     "request_id": "req_conformance_body"}})
}

/// Replaces the secrets a request legitimately carries (and volatile values) by
/// placeholders. Only requests as sent are scrubbed; the SDK's own output never is.
pub fn scrub(text: &str, server: Option<&MockServer>) -> String {
    let mut out = text
        .replace(KEY, "[api key]")
        .replace(TOKEN, "[stream token]");
    if let Some(server) = server {
        out = out.replace(&server.address().to_string(), "[host]");
    }
    // The SDK's version changes with every release; the snapshot keeps its shape.
    out.replace(&kallglot::default_user_agent(), "kallglot-rust/[version]")
}

/// The request as sent: method, path, sorted headers and body.
pub fn render_request(request: &Request, server: &MockServer) -> String {
    let mut out = String::new();
    let query = request
        .url
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    writeln!(out, "{} {}{}", request.method, request.url.path(), query).unwrap();
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().unwrap_or("[non-utf8]").to_string();
            let value = match name.as_str() {
                "idempotency-key" if is_uuid_v4(&value) => "[generated uuid v4]".to_string(),
                _ => value,
            };
            (name.to_string(), value)
        })
        .collect();
    headers.sort();
    for (name, value) in headers {
        writeln!(out, "{name}: {value}").unwrap();
    }
    if request.body.is_empty() {
        writeln!(out, "(no body)").unwrap();
    } else {
        match serde_json::from_slice::<Value>(&request.body) {
            Ok(v) => writeln!(out, "{}", serde_json::to_string_pretty(&v).unwrap()).unwrap(),
            Err(_) => writeln!(out, "{}", String::from_utf8_lossy(&request.body)).unwrap(),
        }
    }
    scrub(&out, Some(server))
}

pub fn is_uuid_v4(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| bytes[i] == b'-')
        && bytes[14] == b'4'
        && text
            .bytes()
            .enumerate()
            .all(|(i, b)| [8, 13, 18, 23].contains(&i) || b.is_ascii_hexdigit())
}

/// What a user sees of an error: its variant, its typed fields and `Display`.
///
/// Not its `Debug`: a dump of every field would make one new field rewrite every error
/// snapshot. The `sdk_output/error_debug` scenario keeps the one `Debug` dump.
pub fn render_error(error: &kallglot::Error) -> String {
    let mut out = String::new();
    let variant = format!("{error:?}");
    let variant = variant.split(['(', ' ', '{']).next().unwrap_or_default();
    writeln!(out, "variant: {variant}").unwrap();
    writeln!(out, "status: {:?}", error.status()).unwrap();
    writeln!(out, "code: {:?}", error.code()).unwrap();
    writeln!(out, "request_id: {:?}", error.request_id()).unwrap();
    if let Some(api) = error.as_api() {
        writeln!(out, "operation: {}", api.operation).unwrap();
        writeln!(out, "raw_code: {:?}", api.raw_code).unwrap();
        writeln!(out, "type: {:?}", api.kind).unwrap();
        writeln!(out, "retry_after: {:?}", api.retry_after).unwrap();
        writeln!(out, "required_scope: {:?}", api.required_scope).unwrap();
        writeln!(out, "message: {:?}", api.message).unwrap();
        writeln!(out, "param: {:?}", api.param).unwrap();
        writeln!(out, "body_snippet: {:?}", api.body_snippet).unwrap();
        let meta = &api.meta;
        writeln!(out, "meta.request_id: {:?}", meta.request_id).unwrap();
        match &meta.rate_limit {
            Some(r) => writeln!(
                out,
                "meta.rate_limit: limit {:?}, remaining {:?}, reset {:?}",
                r.limit,
                r.remaining,
                r.reset.map(|t| t.to_rfc3339())
            ),
            None => writeln!(out, "meta.rate_limit: None"),
        }
        .unwrap();
        match &meta.credits {
            Some(c) => writeln!(
                out,
                "meta.credits: remaining {:?}, used {:?}",
                c.remaining, c.used
            ),
            None => writeln!(out, "meta.credits: None"),
        }
        .unwrap();
    }
    writeln!(
        out,
        "is_retryable: {} | is_auth: {} | is_rate_limited: {} | is_out_of_credits: {} | is_permission: {}",
        error.is_retryable(),
        error.is_auth(),
        error.is_rate_limited(),
        error.is_out_of_credits(),
        error.is_permission()
    )
    .unwrap();
    writeln!(out, "display: {error}").unwrap();
    // Not scrubbed: what the SDK prints must be secret-free by itself, and the snapshot
    // scan checks exactly that. The one volatile value, a generated idempotency key, is
    // shown by its shape.
    match error.idempotency_key().map(|k| k.as_str()) {
        Some(key) if is_uuid_v4(key) => out.replace(key, "[generated uuid v4]"),
        _ => out,
    }
}

/// A local WebSocket server for one connection: `script` gets the socket.
pub async fn ws_server<F, Fut>(script: F) -> SocketAddr
where
    F: FnOnce(tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        if let Ok((tcp, _)) = listener.accept().await
            && let Ok(ws) = tokio_tungstenite::accept_async(tcp).await
        {
            script(ws).await;
        }
    });
    addr
}

/// Stream credentials for a local server.
pub fn credentials(addr: SocketAddr) -> kallglot::model::StreamCredentials {
    kallglot::model::StreamCredentials::new(
        format!("ws://{addr}/v1/sessions/sess_01HXYZ123456789/connect"),
        kallglot::model::StreamToken::new(TOKEN),
        chrono::Utc::now() + chrono::TimeDelta::minutes(5),
    )
}
