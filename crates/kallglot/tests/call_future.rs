//! `Call` is a `Future`: it composes with `join_all` and `tracing::Instrument` without
//! `.into_future()`, and keeps its per-call options.

use std::sync::{Arc, Mutex};

use kallglot::{Client, ConfigError, Error};
use serde_json::json;
use tracing::Instrument;
use tracing_subscriber::layer::{Context, SubscriberExt};
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

/// Records the parent span of every `kallglot.request` span.
#[derive(Clone, Default)]
struct Parents(Arc<Mutex<Vec<String>>>);

impl<S> tracing_subscriber::Layer<S> for Parents
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let span = ctx.span(id).unwrap();
        if span.name() == "kallglot.request" {
            let parent = span
                .parent()
                .map(|p| p.name().to_string())
                .unwrap_or_default();
            self.0.lock().unwrap().push(parent);
        }
    }
}

#[tokio::test]
async fn an_instrumented_call_runs_inside_the_callers_span() {
    let (_server, client) = server().await;
    let parents = Parents::default();
    let subscriber = tracing_subscriber::registry().with(parents.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let session = client
        .sessions()
        .retrieve("sess_1")
        .max_retries(0)
        .instrument(tracing::info_span!("handle_call"))
        .await
        .unwrap();
    assert_eq!(session.id, "sess_1");
    assert_eq!(*parents.0.lock().unwrap(), ["handle_call"]);
}
