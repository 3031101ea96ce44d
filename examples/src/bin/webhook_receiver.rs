//! A webhook receiver in axum: verify the signature, skip repeated deliveries, answer fast
//! and process the event off the request path.
//!
//! With `KALLGLOT_API_KEY` set it serves `POST /webhooks/kallglot` until Ctrl-C, verifying
//! with `KALLGLOT_WEBHOOK_SECRET` (the endpoint's signing secret from the Portal), on
//! `WEBHOOK_ADDR` (default `127.0.0.1:8080`; put it behind your HTTPS front end).
//!
//! Without a key it drives itself: the embedded emulator delivers signed webhooks to it
//! while a session is created and ended. The first `session.ended` delivery is answered
//! too slowly on purpose, as if the answer had been lost, so the emulator delivers it
//! again and the de-duplicator has something to catch. A forged delivery is refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::routing::post;
use kallglot::model::{CreateSessionParams, Mode};
use kallglot::webhooks::{
    Deduplicator, EventType, InMemoryDeduplicator, RECOMMENDED_TTL, VerifiedWebhook, Verifier,
    WebhookEvent, WebhookSecret,
};
use kallglot_examples::{Target, check};
use kallglot_mock::{MockServer, WebhookConfig};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const PATH: &str = "/webhooks/kallglot";

/// What the handlers share.
#[derive(Clone)]
struct App {
    verifier: Verifier,
    seen: Arc<InMemoryDeduplicator>,
    /// Work goes to a queue: the handler answers within Kallglot's 30 s whatever it costs.
    work: mpsc::Sender<WebhookEvent>,
    /// The self-driven demo only: answer the next `session.ended` too late.
    stall_next_session_ended: Arc<AtomicBool>,
    repeats: mpsc::UnboundedSender<String>,
}

/// `VerifiedWebhook` finds the verifier in the state through `FromRef`.
impl FromRef<App> for Verifier {
    fn from_ref(app: &App) -> Verifier {
        app.verifier.clone()
    }
}

/// The extractor has verified the signature (against the raw body) and parsed the event
/// before this runs; a forged or stale delivery never gets here (401).
async fn receive(
    State(app): State<App>,
    VerifiedWebhook(event, delivery): VerifiedWebhook,
) -> StatusCode {
    let id = event.id.to_string();
    if !app.seen.first_delivery(&id) {
        // Already handled: acknowledge, or Kallglot keeps retrying.
        println!(
            "  repeat of {id} (attempt {:?}): skipped",
            delivery.retry_count
        );
        let _ = app.repeats.send(id);
        return StatusCode::OK;
    }
    let stall = event.kind == EventType::SessionEnded
        && app.stall_next_session_ended.swap(false, Ordering::SeqCst);
    if app.work.try_send(event).is_err() {
        // Not taken: forget the id so that the retry is processed, and ask for one.
        app.seen.forget(&id);
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if stall {
        // Processed, but the answer comes after the sender gave up: a lost answer.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    StatusCode::NO_CONTENT
}

fn router(app: App) -> Router {
    Router::new().route(PATH, post(receive)).with_state(app)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let live = std::env::var_os("KALLGLOT_API_KEY").is_some();
    let secret = match std::env::var("KALLGLOT_WEBHOOK_SECRET") {
        Ok(secret) => secret,
        Err(_) if !live => "whsec_example_secret".into(),
        Err(_) => {
            return Err("set KALLGLOT_WEBHOOK_SECRET to the endpoint's signing secret".into());
        }
    };
    let (work_tx, mut work) = mpsc::channel(1024);
    let (repeats_tx, mut repeats) = mpsc::unbounded_channel();
    let app = App {
        verifier: Verifier::new(WebhookSecret::new(secret.clone())?),
        seen: Arc::new(InMemoryDeduplicator::new(100_000).with_ttl(RECOMMENDED_TTL)),
        work: work_tx,
        stall_next_session_ended: Arc::new(AtomicBool::new(false)),
        repeats: repeats_tx,
    };

    if live {
        let addr: SocketAddr = std::env::var("WEBHOOK_ADDR")
            .unwrap_or_else(|_| "127.0.0.1:8080".into())
            .parse()?;
        let listener = TcpListener::bind(addr).await?;
        println!("receiving webhooks on http://{addr}{PATH}; Ctrl-C stops");
        tokio::spawn(async move {
            while let Some(event) = work.recv().await {
                process(&event);
            }
        });
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        return Ok(());
    }

    // Self-driven: the receiver on a free loopback port, the emulator delivering to it.
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}{PATH}", listener.local_addr()?);
    app.stall_next_session_ended.store(true, Ordering::SeqCst);
    tokio::spawn(axum::serve(listener, router(app)).into_future());

    let deliveries = WebhookConfig::new(url.clone(), secret)
        .timeout(Duration::from_millis(300))
        .retry_delays([Duration::from_millis(100); 3]);
    let target = Target::with_emulator(MockServer::builder().webhook(deliveries)).await?;
    let session = target
        .client
        .sessions()
        .create(CreateSessionParams::new(Mode::BidirectionalTranslation))
        .await?;
    target.client.sessions().end(session.id.clone()).await?;

    // Collect what was processed until session.ended has been seen once and repeated once.
    let mut processed = Vec::new();
    let mut repeated = Vec::new();
    let collect = async {
        loop {
            tokio::select! {
                Some(event) = work.recv() => {
                    process(&event);
                    processed.push(event);
                }
                Some(id) = repeats.recv() => repeated.push(id),
                else => break,
            }
            let ended = processed.iter().find(|e| e.kind == EventType::SessionEnded);
            if ended.is_some_and(|e| repeated.contains(&e.id.to_string())) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), collect)
        .await
        .map_err(|_| "the emulator's deliveries did not arrive within 10 s")?;

    // Someone without the secret posts a look-alike event, signed with a guess: refused
    // before any parsing.
    let body = r#"{"id":"evt_forged","type":"session.ended","created_at":"2026-01-01T00:00:00Z"}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let guess =
        kallglot::webhooks::testing::sign("whsec_a_guess", i64::try_from(now)?, body.as_bytes());
    let forged = reqwest::Client::new()
        .post(&url)
        .header("Kallglot-Signature", guess)
        .body(body)
        .send()
        .await?;
    println!("a forged delivery was answered {}", forged.status());

    let ended: Vec<_> = processed
        .iter()
        .filter(|e| e.kind == EventType::SessionEnded)
        .collect();
    check(
        ended.len() == 1,
        "session.ended was processed exactly once, though delivered twice",
    )?;
    check(
        ended[0]
            .session_ended()
            .is_some_and(|data| data.id == session.id),
        "session.ended names the session",
    )?;
    check(
        processed
            .iter()
            .any(|e| e.kind == EventType::SessionCreated),
        "session.created arrived too",
    )?;
    check(
        forged.status() == StatusCode::UNAUTHORIZED,
        "the forged delivery was refused with 401",
    )?;
    Ok(())
}

/// The work a delivery triggers; a real service would update its database here.
fn process(event: &WebhookEvent) {
    match event.kind {
        EventType::SessionEnded => match event.session_ended() {
            Some(ended) => println!(
                "processed {}: session {} lasted {:?} s",
                event.id,
                ended.id,
                ended.seconds()
            ),
            None => println!("processed {}: a session ended", event.id),
        },
        // Kallglot adds event types over time: keep a fallback.
        ref other => println!(
            "processed {}: {other} ({})",
            event.id,
            event.data.object_id().unwrap_or("-")
        ),
    }
}
