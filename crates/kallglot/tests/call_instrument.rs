//! `Call` and `RawRequest` are `Future`s, so `tracing::Instrument` applies to them directly. This is the only
//! test of its binary: tracing caches whether a callsite is enabled process-wide, and a
//! test running concurrently without a subscriber could race the one installed here.

use std::sync::{Arc, Mutex};

use kallglot::Client;
use serde_json::json;
use tracing::Instrument;
use tracing_subscriber::layer::{Context, SubscriberExt};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

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

    // The raw escape hatch is a `Future` too.
    let raw = client
        .request(kallglot::Method::Get, "/v1/sessions/sess_1")
        .max_retries(0)
        .instrument(tracing::info_span!("handle_raw"))
        .await
        .unwrap();
    assert_eq!(raw["id"], "sess_1");
    assert_eq!(*parents.0.lock().unwrap(), ["handle_call", "handle_raw"]);
}
