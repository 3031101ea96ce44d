//! The emulator on the wire: media types, body and head limits, deadlines, the stream's
//! message limit, faults at unusual statuses, and HTTP/2. Hostile requests are written
//! byte by byte on a raw loopback socket where an HTTP client would refuse to send them.

mod common;

use std::time::Duration;

use common::Http;
use futures_util::{SinkExt, StreamExt};
use kallglot_mock::{Fault, MockServer, catalogue};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// How long a raw exchange may take before the test calls it a hang.
const DEADLINE: Duration = Duration::from_secs(5);

/// A response read off a raw socket.
#[derive(Debug)]
struct RawReply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawReply {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Asserts the error envelope of `status` and `code`, with the request id in both
    /// the header and the body.
    fn assert_envelope(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.head);
        assert_eq!(self.header("content-type"), Some("application/json"));
        let body: Value = serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body))
        });
        assert_eq!(body["error"]["code"], code, "{body}");
        let id = self.header("x-request-id").expect("X-Request-ID");
        assert!(id.starts_with("req_"), "{id}");
        assert_eq!(body["error"]["request_id"], id);
    }
}

/// Writes `request` and reads one response (its head, then `Content-Length` bytes, or
/// everything until the server closes).
async fn raw_exchange(server: &MockServer, request: &[u8]) -> RawReply {
    let mut socket = TcpStream::connect(server.addr()).await.unwrap();
    // The server may answer (and close) before it has read everything.
    let _ = socket.write_all(request).await;
    tokio::time::timeout(DEADLINE, read_reply(&mut socket))
        .await
        .expect("the server answered within the deadline")
}

async fn read_reply(socket: &mut TcpStream) -> RawReply {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        assert!(
            n > 0,
            "the connection closed without a response head: {data:?}"
        );
        data.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(data[..head_end].to_vec()).unwrap();
    let status = head[9..12].parse().unwrap();
    let mut reply = RawReply {
        status,
        head,
        body: data[head_end..].to_vec(),
    };
    let length = reply
        .header("content-length")
        .map(|v| v.parse::<usize>().unwrap());
    while length.is_none_or(|n| reply.body.len() < n) {
        let n = socket.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        reply.body.extend_from_slice(&chunk[..n]);
    }
    reply
}

fn post_create(server: &MockServer, content_type: Option<&str>, body: &str) -> Vec<u8> {
    let content_type = content_type.map_or(String::new(), |t| format!("content-type: {t}\r\n"));
    format!(
        "POST /v1/sessions HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n{content_type}content-length: {}\r\n\r\n{body}",
        server.addr(),
        server.api_key(),
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn json_routes_refuse_other_media_types_with_415() {
    let server = MockServer::start().await.unwrap();
    let body = r#"{"mode":"bidirectional_translation"}"#;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let reply = raw_exchange(&server, &post_create(&server, content_type, body)).await;
        reply.assert_envelope(415, "unsupported_media_type");
    }
    let form = raw_exchange(
        &server,
        &post_create(
            &server,
            Some("application/x-www-form-urlencoded"),
            "mode=ai_agent",
        ),
    )
    .await;
    form.assert_envelope(415, "unsupported_media_type");
    // A media type with parameters is still JSON, and an empty analysis body needs none.
    let ok = raw_exchange(
        &server,
        &post_create(&server, Some("application/json; charset=utf-8"), body),
    )
    .await;
    assert_eq!(ok.status, 201, "{}", ok.head);
    assert_eq!(server.credits(), 99, "refused requests cost nothing");
}

#[tokio::test]
async fn an_oversized_body_gets_413() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let big = "x".repeat(1024 * 1024);
    let reply = http
        .post(
            "/v1/sessions",
            json!({"mode": "ai_agent", "metadata": {"blob": big}}),
        )
        .await;
    reply.assert_error(413, "request_too_large");
    // Sent chunked, without a declared length, the limit holds all the same.
    let chunk = format!("{:x}\r\n{}\r\n", 700 * 1024, "y".repeat(700 * 1024));
    let request = format!(
        "POST /v1/sessions HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n{chunk}{chunk}0\r\n\r\n",
        server.addr(),
        server.api_key(),
    );
    raw_exchange(&server, request.as_bytes())
        .await
        .assert_envelope(413, "request_too_large");
    assert_eq!(server.credits(), 100);
}

#[tokio::test]
async fn requests_hyper_refuses_still_get_the_envelope() {
    let server = MockServer::start().await.unwrap();
    let long_uri = format!(
        "GET /v1/sessions/{} HTTP/1.1\r\nhost: x\r\n\r\n",
        "a".repeat(70_000)
    );
    raw_exchange(&server, long_uri.as_bytes())
        .await
        .assert_envelope(414, "uri_too_long");
    let huge_headers = format!(
        "GET /v1/sessions/sess_1 HTTP/1.1\r\nhost: x\r\n{}\r\n",
        (0..200)
            .map(|i| format!("x-filler-{i}: {}\r\n", "z".repeat(4000)))
            .collect::<String>()
    );
    raw_exchange(&server, huge_headers.as_bytes())
        .await
        .assert_envelope(431, "request_header_fields_too_large");
    raw_exchange(&server, b"NOT HTTP AT ALL\r\n\r\n")
        .await
        .assert_envelope(400, "invalid_request");
    raw_exchange(&server, b"GET / HTTP/1.1\r\nbad header line\r\n\r\n")
        .await
        .assert_envelope(400, "invalid_request");
}

#[tokio::test]
async fn stream_urls_come_from_the_servers_own_address_not_the_host_header() {
    let server = MockServer::start().await.unwrap();
    let body = r#"{"mode":"bidirectional_translation"}"#;
    let request = format!(
        "POST /v1/sessions HTTP/1.1\r\nhost: 127.0.0.1:{}/evil?x=\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        server.addr().port(),
        server.api_key(),
        body.len()
    );
    let reply = raw_exchange(&server, request.as_bytes()).await;
    assert_eq!(reply.status, 201, "{}", reply.head);
    let session: Value = serde_json::from_slice(&reply.body).unwrap();
    let id = session["id"].as_str().unwrap();
    assert_eq!(
        session["stream"]["url"],
        format!("ws://{}/v1/sessions/{id}/connect", server.addr())
    );
    let retrieved = raw_exchange(
        &server,
        format!(
            "GET /v1/sessions/{id} HTTP/1.1\r\nhost: evil.example\r\nauthorization: Bearer {}\r\n\r\n",
            server.api_key()
        )
        .as_bytes(),
    )
    .await;
    let session: Value = serde_json::from_slice(&retrieved.body).unwrap();
    assert_eq!(
        session["stream"]["url"],
        format!("ws://{}/v1/sessions/{id}/connect", server.addr())
    );
}

#[tokio::test]
async fn a_message_over_the_limit_gets_session_error_and_1009() {
    let server = MockServer::start().await.unwrap();
    let session = Http::new(&server).create_session("en", "es").await;
    let url = format!(
        "{}?token={}",
        session["stream"]["url"].as_str().unwrap(),
        session["stream"]["token"].as_str().unwrap()
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let ready = socket.next().await.unwrap().unwrap();
    assert!(ready.to_text().unwrap().contains("session.ready"));
    let oversized = format!(r#"{{"type":"ping","pad":"{}"}}"#, "p".repeat(1024 * 1024));
    socket.send(Message::text(oversized)).await.unwrap();
    let refusal = tokio::time::timeout(DEADLINE, socket.next())
        .await
        .unwrap()
        .expect("a message before the close")
        .expect("not a dropped connection");
    let refusal: Value = serde_json::from_str(refusal.to_text().unwrap()).unwrap();
    assert_eq!(refusal["type"], "session.error");
    assert_eq!(refusal["code"], "message_too_large");
    let close = tokio::time::timeout(DEADLINE, socket.next())
        .await
        .unwrap()
        .expect("a close frame")
        .expect("not a dropped connection");
    match close {
        Message::Close(Some(frame)) => assert_eq!(frame.code, CloseCode::Size),
        other => panic!("expected a close frame, got {other:?}"),
    }
}

#[tokio::test]
async fn half_sent_requests_time_out() {
    let server = MockServer::builder()
        .read_timeout(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    // The head is complete, the body never is.
    let half = format!(
        "POST /v1/sessions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"mode\":",
        server.api_key()
    );
    let mut socket = TcpStream::connect(server.addr()).await.unwrap();
    socket.write_all(half.as_bytes()).await.unwrap();
    let reply = tokio::time::timeout(DEADLINE, read_reply(&mut socket))
        .await
        .expect("the server gave up on the body");
    reply.assert_envelope(408, "request_timeout");
    // A head that never ends, and a connection that never sends anything, are closed.
    for opening in [&b"GET /v1/sessions/s HTTP/1.1\r\nhost: x\r\n"[..], b""] {
        let mut socket = TcpStream::connect(server.addr()).await.unwrap();
        socket.write_all(opening).await.unwrap();
        let mut rest = Vec::new();
        tokio::time::timeout(DEADLINE, socket.read_to_end(&mut rest))
            .await
            .expect("the server closed the connection")
            .ok();
    }
    assert_eq!(server.credits(), 100);
}

#[tokio::test]
async fn faults_answer_valid_http_at_any_status() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let session = http.create_session("en", "es").await;
    let path = format!("/v1/sessions/{}", session["id"].as_str().unwrap());
    let statuses = [100, 101, 103, 199, 200, 204, 205, 304, 404, 503, 600, 999];
    for status in statuses {
        for (kind, fault, fallback) in [
            ("html", Fault::html(status), 502),
            ("status", Fault::status(status, "injected"), 500),
        ] {
            server
                .faults()
                .inject(&catalogue::RETRIEVE_SESSION, fault.times(1));
            // One client, one kept-alive connection: a body after a bodiless status, or
            // a bare 1xx, would corrupt the next exchange on it.
            let faulted = http
                .try_send(Method::GET, &path, None, &[])
                .await
                .unwrap_or_else(|e| panic!("{kind} {status}: {e}"));
            let expected = if (200..=599).contains(&status) {
                status
            } else {
                fallback
            };
            assert_eq!(faulted.status.as_u16(), expected, "{kind} {status}");
            if matches!(status, 204 | 205 | 304) {
                assert!(faulted.bytes.is_empty(), "{kind} {status}");
                assert!(faulted.header("content-type").is_none());
            }
            assert!(faulted.header("x-request-id").is_some());
            let after = http.get(&path).await;
            assert_eq!(after.status, 200, "{kind} {status}: the next exchange");
        }
    }
}

#[tokio::test]
async fn http2_with_prior_knowledge_is_served() {
    let server = MockServer::start().await.unwrap();
    let mut socket = TcpStream::connect(server.addr()).await.unwrap();
    let mut request = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    // An empty SETTINGS frame.
    request.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    // HEADERS on stream 1, END_STREAM | END_HEADERS: GET http://127.0.0.1/__admin/health,
    // HPACK-encoded with static-table names and plain literals.
    let mut block = vec![0x82, 0x86];
    for (name_index, value) in [(0x44u8, &b"/__admin/health"[..]), (0x41, b"127.0.0.1")] {
        block.push(name_index);
        block.push(value.len() as u8);
        block.extend_from_slice(value);
    }
    request.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x5, 0, 0, 0, 1]);
    request.extend_from_slice(&block);
    socket.write_all(&request).await.unwrap();

    let status_block = tokio::time::timeout(DEADLINE, async {
        loop {
            let mut header = [0u8; 9];
            socket
                .read_exact(&mut header)
                .await
                .expect("an HTTP/2 frame");
            let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
            let mut payload = vec![0u8; length];
            socket.read_exact(&mut payload).await.unwrap();
            let stream = u32::from_be_bytes([header[5], header[6], header[7], header[8]]);
            if header[3] == 1 && stream == 1 {
                return payload;
            }
        }
    })
    .await
    .expect("a response on stream 1");
    // 0x88 is HPACK's indexed `:status: 200`.
    assert_eq!(status_block.first(), Some(&0x88), "{status_block:?}");
}
