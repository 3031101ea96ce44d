//! `Call` and `RawRequest` are `Future`s: they compose with `join_all` without
//! `.into_future()`, and keep their per-call options. (`tracing::Instrument` is in `call_instrument.rs`, a binary of
//! its own so that no concurrent test races its subscriber.)

use kallglot::{Client, ConfigError, Error};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server() -> (MockServer, Client) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "sess_1", "object": "session", "status": "created",
            "mode": "bidirectional_translation", "created_at": "2026-03-26T11:00:00Z"
        })))
        .mount(&server)
        .await;
    let client = Client::builder()
        .api_key("sk_test_CALLFUTURE0123456789")
        .base_url(server.uri())
        .build()
        .unwrap();
    (server, client)
}

#[tokio::test]
async fn calls_join_without_into_future() {
    let (server, client) = server().await;
    let calls: Vec<_> = (0..5)
        .map(|i| {
            client
                .sessions()
                .retrieve(format!("sess_{i}"))
                .max_retries(0)
        })
        .collect();
    let results = futures_util::future::join_all(calls).await;
    assert_eq!(results.len(), 5);
    for result in results {
        assert_eq!(result.unwrap().id, "sess_1");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 5);

    // An invalid option still fails the call before anything is sent.
    let err =
        futures_util::future::join_all([client.sessions().retrieve("sess_1").idempotency_key("")])
            .await
            .pop()
            .unwrap()
            .unwrap_err();
    assert!(matches!(
        err,
        Error::Config(ConfigError::InvalidIdempotencyKey(_))
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}

/// Only a `Future` passes: an `IntoFuture` alone does not.
fn send_unpin_future<F: std::future::Future + Send + Unpin>(f: F) -> F {
    f
}

#[tokio::test]
async fn raw_requests_are_send_unpin_futures_and_join() {
    let (server, client) = server().await;
    let raw: Vec<_> = (0..3)
        .map(|i| {
            send_unpin_future(
                client
                    .request(kallglot::Method::Get, &format!("/v1/sessions/sess_{i}"))
                    .max_retries(0),
            )
        })
        .collect();
    for result in futures_util::future::join_all(raw).await {
        assert_eq!(result.unwrap()["id"], "sess_1");
    }
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/v1/sessions/sess_0",
            "/v1/sessions/sess_1",
            "/v1/sessions/sess_2"
        ]
    );

    // Options are still checked on the first poll, before anything is sent.
    let err = send_unpin_future(
        client
            .request(kallglot::Method::Post, "/v1/sessions")
            .json(json!({"mode": "bidirectional_translation"}))
            .idempotency_key(""),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        Error::Config(ConfigError::InvalidIdempotencyKey(_))
    ));
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_raw_request_sends_its_body_and_key() {
    let (server, client) = server().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "sess_9"})))
        .mount(&server)
        .await;
    let created = send_unpin_future(
        client
            .request(kallglot::Method::Post, "/v1/sessions")
            .json(json!({"mode": "bidirectional_translation"}))
            .idempotency_key("order-7"),
    )
    .await
    .unwrap();
    assert_eq!(created["id"], "sess_9");
    assert_eq!(
        created.idempotency_key().map(|k| k.as_str()),
        Some("order-7")
    );
    let sent = server.received_requests().await.unwrap();
    let post = sent.iter().find(|r| r.method.as_str() == "POST").unwrap();
    assert_eq!(post.headers["idempotency-key"], "order-7");
    let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body, json!({"mode": "bidirectional_translation"}));
}
