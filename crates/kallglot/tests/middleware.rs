//! Middleware against wiremock: it adds headers to every attempt (retries included) and
//! sees every answer's status and headers, but never the credentials.
//!
//! Retry waits go through a `ManualClock`, so nothing sleeps for real.

use std::sync::{Arc, Mutex};

use kallglot::Client;
use kallglot::clock::ManualClock;
use kallglot::middleware::{HeaderError, Middleware, RequestView, ResponseView};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk_test_FAKEKEYdoNotLeak0123456789";

/// Tags each attempt and records what it saw.
#[derive(Default)]
struct Recorder {
    tag: &'static str,
    seen: Mutex<Vec<String>>,
}

impl Middleware for Recorder {
    fn on_request(&self, request: &mut RequestView<'_>) {
        let attempt = request.attempt().to_string();
        request.set_header("x-tag", self.tag).unwrap();
        request.set_header("x-attempt", &attempt).unwrap();
        assert_eq!(
            request.set_header("authorization", "Bearer other"),
            Err(HeaderError::Protected)
        );
        let headers: Vec<String> = request.headers().map(|(n, v)| format!("{n}={v}")).collect();
        assert!(
            headers.iter().all(|h| !h.contains("FAKEKEY")),
            "{headers:?}"
        );
        self.seen.lock().unwrap().push(format!(
            "request {} {} {} attempt {attempt} key={}",
            request.operation(),
            request.method(),
            request.path(),
            request.header("idempotency-key").is_some(),
        ));
    }

    fn on_response(&self, response: &ResponseView<'_>) {
        self.seen.lock().unwrap().push(format!(
            "response {} attempt {} {} x-request-id={:?}",
            response.operation(),
            response.attempt(),
            response.status(),
            response.header("x-request-id"),
        ));
    }
}

#[tokio::test]
async fn middleware_tags_every_attempt_and_sees_every_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("x-request-id", "req_a"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req_b")
                .set_body_json(json!({"id": "sess_1", "object": "session", "status": "ended"})),
        )
        .mount(&server)
        .await;
    let first = Arc::new(Recorder {
        tag: "first",
        ..Default::default()
    });
    let second = Arc::new(Recorder {
        tag: "second",
        ..Default::default()
    });
    let client = Client::builder()
        .api_key(KEY)
        .base_url(server.uri())
        .clock(Arc::new(ManualClock::new()))
        .middleware(first.clone())
        .middleware(second.clone())
        .build()
        .unwrap();
    client.sessions().end("sess_1").await.unwrap();

    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 2);
    for (n, request) in sent.iter().enumerate() {
        let header = |name: &str| request.headers.get(name).unwrap().to_str().unwrap();
        // Registered in order, so the second one's value is what is sent.
        assert_eq!(header("x-tag"), "second");
        assert_eq!(header("x-attempt"), (n + 1).to_string());
        assert!(header("authorization").contains("FAKEKEY"));
    }
    let expected = [
        "request end_session POST /v1/sessions/sess_1/end attempt 1 key=true",
        "response end_session attempt 1 503 x-request-id=Some(\"req_a\")",
        "request end_session POST /v1/sessions/sess_1/end attempt 2 key=true",
        "response end_session attempt 2 200 x-request-id=Some(\"req_b\")",
    ];
    assert_eq!(*first.seen.lock().unwrap(), expected);
    assert_eq!(*second.seen.lock().unwrap(), expected);
}

#[tokio::test]
async fn a_connection_failure_has_no_response_to_show() {
    // A closed loopback port: nothing answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let recorder = Arc::new(Recorder::default());
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("http://127.0.0.1:{port}"))
        .clock(Arc::new(ManualClock::new()))
        .max_retries(1)
        .middleware(recorder.clone())
        .build()
        .unwrap();
    client.sessions().retrieve("sess_1").await.unwrap_err();
    let seen = recorder.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.starts_with("request retrieve_session GET")),
        "{seen:?}"
    );
}
