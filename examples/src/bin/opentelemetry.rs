//! Tracing exported through OpenTelemetry: the SDK's spans become OpenTelemetry spans,
//! children of your own.
//!
//! Every REST call is a `kallglot.request` span (operation, method, path template,
//! attempt, status, request id, duration, time spent pacing) and a stream is a
//! `kallglot.stream` span carrying the session id. Keys, stream tokens and audio are never
//! recorded. `tracing-opentelemetry` bridges `tracing` to an OpenTelemetry tracer.
//!
//! The exporter here is the SDK's in-memory one, so that the example can print and check
//! what was exported; in production, give the provider an OTLP exporter
//! (`opentelemetry-otlp`) with a batch processor instead, and nothing else changes.

use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot_examples::{Target, check};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let otel = tracing_opentelemetry::layer().with_tracer(provider.tracer("kallglot-example"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(otel))?;

    let target = Target::from_env().await?;
    let client = &target.client;

    // Your own span around a unit of work; the SDK's spans nest under it.
    let call = tracing::info_span!("handle_call", customer = "c_42");
    let session_id = async {
        let session = client
            .sessions()
            .create(
                CreateSessionParams::new(Mode::BidirectionalTranslation)
                    .languages(Language::EN, Language::ES),
            )
            .await?;
        client.sessions().retrieve(session.id.clone()).await?;
        client.sessions().end(session.id.clone()).await?;
        Ok::<_, kallglot::Error>(session.id.clone())
    }
    .instrument(call)
    .await?;

    provider.force_flush()?;
    let spans = exporter.get_finished_spans()?;
    for span in &spans {
        println!(
            "{:<17} parent {} {}",
            span.name,
            span.parent_span_id,
            span.attributes
                .iter()
                .filter(|kv| !kv.key.as_str().starts_with("code.")
                    && !kv.key.as_str().starts_with("thread."))
                .map(|kv| format!("{}={}", kv.key, kv.value))
                .collect::<Vec<_>>()
                .join(" ")
        );
    }

    let Some(parent) = spans.iter().find(|s| s.name == "handle_call") else {
        return Err("the application's span was not exported".into());
    };
    let requests: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.name == "kallglot.request")
        .collect();
    let operations: Vec<String> = requests
        .iter()
        .filter_map(|s| attribute(s, "operation"))
        .map(|v| v.to_string())
        .collect();
    println!("operations: {operations:?} in session {session_id}");

    check(
        operations == ["create_session", "retrieve_session", "end_session"],
        "one kallglot.request span per call, named by operation",
    )?;
    check(
        requests
            .iter()
            .all(|s| s.parent_span_id == parent.span_context.span_id()),
        "the SDK's spans are children of the application's span",
    )?;
    check(
        requests
            .iter()
            .all(|s| attribute(s, "request_id").is_some() && attribute(s, "status").is_some()),
        "each request span has its status and request id",
    )?;
    if let Some(emulator) = &target.emulator {
        let key = emulator.api_key();
        let leaked = spans
            .iter()
            .flat_map(|s| &s.attributes)
            .any(|kv| kv.value.to_string().contains(key));
        check(!leaked, "no span attribute holds the API key")?;
    }
    provider.shutdown()?;
    Ok(())
}

fn attribute<'a>(span: &'a SpanData, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv: &&KeyValue| kv.key.as_str() == key)
        .map(|kv| &kv.value)
}
