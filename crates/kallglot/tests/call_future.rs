//! `Call` is a `Future`: it composes with `join_all` without `.into_future()`, and keeps
//! its per-call options. (`tracing::Instrument` is in `call_instrument.rs`, a binary of
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
