//! Helpers shared by the integration tests: a plain HTTP client for the emulator and
//! μ-law audio frames.
// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use base64::Engine as _;
use kallglot_mock::MockServer;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A plain HTTP client bound to one server and key.
pub struct Http {
    pub base: String,
    pub key: String,
    pub client: reqwest::Client,
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.bytes)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an error envelope of `status` and `code`, consistent with `X-Request-ID`.
    pub fn assert_error(&self, status: u16, code: &str) -> Value {
        let body = self.json();
        assert_eq!(self.status.as_u16(), status, "{body}");
        let error = &body["error"];
        assert_eq!(error["code"], code, "{body}");
        assert!(
            error["type"].is_string() && error["message"].is_string(),
            "{body}"
        );
        let request_id = self.header("x-request-id").expect("X-Request-ID");
        assert!(request_id.starts_with("req_"));
        assert_eq!(error["request_id"], request_id);
        error.clone()
    }
}

impl Http {
    pub fn new(server: &MockServer) -> Self {
        Self::with_key(server, server.api_key())
    }

    pub fn with_key(server: &MockServer, key: &str) -> Self {
        Self {
            base: server.url(),
            key: key.to_string(),
            client: reqwest::Client::new(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.try_send(method, path, body, headers)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> reqwest::Result<Reply> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?.to_vec();
        Ok(Reply {
            status,
            headers,
            bytes,
        })
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body), &[]).await
    }

    /// Creates a session with these languages; returns its JSON.
    pub async fn create_session(&self, source: &str, target: &str) -> Value {
        let reply = self
            .post(
                "/v1/sessions",
                json!({"mode": "bidirectional_translation", "source_language": source, "target_language": target}),
            )
            .await;
        assert_eq!(
            reply.status,
            201,
            "{}",
            String::from_utf8_lossy(&reply.bytes)
        );
        reply.json()
    }

    pub async fn end(&self, session_id: &str) -> Reply {
        self.send(
            Method::POST,
            &format!("/v1/sessions/{session_id}/end"),
            None,
            &[],
        )
        .await
    }
}

/// An `audio.input` frame of `ms` milliseconds of μ-law silence.
pub fn audio_frame(sequence: u64, ms: usize) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(vec![0xFFu8; ms * 8]);
    json!({
        "type": "audio.input",
        "sequence": sequence,
        "timestamp_ms": 1_774_522_800_000u64 + sequence * ms as u64,
        "speaker": "customer",
        "audio": {"encoding": "mulaw", "sample_rate_hz": 8000, "payload": payload},
    })
    .to_string()
}
