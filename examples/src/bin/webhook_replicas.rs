//! Webhook receivers on several replicas: each event is processed once, whichever replica
//! Kallglot's retries reach, because the replicas share a `RedisDeduplicator`.
//!
//! `cargo run -p kallglot-examples --bin webhook_replicas` starts a throwaway
//! `redis-server` (it must be on `PATH`; otherwise the program says how to get one and
//! exits), two receivers on loopback, and the embedded emulator, which delivers every
//! event round-robin over both like a load balancer. Each receiver drops its answer to
//! an event's first attempt, as a flaky network would, so every event is retried and the
//! retry often lands on the other replica, which recognises it through Redis.
//!
//! With `KALLGLOT_API_KEY` set, it runs as **one replica** of a real deployment instead:
//! it listens on `WEBHOOK_ADDR` (default `127.0.0.1:8080`; in a pod, `0.0.0.0:8080` behind
//! your HTTPS front end), verifies with `KALLGLOT_WEBHOOK_SECRET`,
//! de-duplicates through `REDIS_URL` (default `redis://127.0.0.1:6379`), answers
//! `GET /ready` from Redis's `PING`, and runs until Ctrl-C. Start as many as you like
//! behind one load balancer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot::webhooks::{
    DedupStore, FailurePolicy, Processed, RedisDeduplicator, VerifiedWebhook, Verifier,
    WebhookSecret,
};
use kallglot_examples::{Target, check};
use kallglot_mock::{LocalRedis, MockServer, WebhookConfig};

/// What the demo's replicas did, to check it at the end (a real replica keeps nothing).
#[derive(Default)]
struct DemoLog {
    /// Which replicas processed each event: stands in for the work your handler does.
    processed: HashMap<String, Vec<String>>,
    /// Events whose delivery was acknowledged with a `2xx`, so no longer retried.
    acknowledged: HashSet<String>,
}

#[derive(Clone)]
struct Replica {
    name: String,
    verifier: Verifier,
    dedup: RedisDeduplicator,
    demo: Option<Arc<Mutex<DemoLog>>>,
    /// Demo only: answer 502 to each event's first attempt after processing it.
    drop_first_answers: bool,
}

impl FromRef<Replica> for Verifier {
    fn from_ref(replica: &Replica) -> Self {
        replica.verifier.clone()
    }
}

async fn webhook(
    State(replica): State<Replica>,
    VerifiedWebhook(event, delivery): VerifiedWebhook,
) -> Response {
    let id = event.id.as_str().to_owned();
    let outcome = replica
        .dedup
        .process_once(&id, || async {
            // Your work goes here: write to your database, enqueue a job, ...
            if let Some(demo) = &replica.demo {
                let mut demo = demo.lock().unwrap();
                demo.processed
                    .entry(id.clone())
                    .or_default()
                    .push(replica.name.clone());
            }
            Ok::<_, std::convert::Infallible>(())
        })
        .await;
    let attempt = delivery.retry_count.unwrap_or(0);
    let verdict = match &outcome {
        Processed::Ran(()) => "processed",
        Processed::Duplicate => "duplicate, acknowledged",
        Processed::InProgress => "in progress elsewhere, retry later",
        Processed::StoreUnavailable(_) => "Redis unavailable, retry later",
        _ => "failed",
    };
    println!(
        "{}: {} {} (attempt {attempt}): {verdict}",
        replica.name, event.kind, event.id
    );
    if replica.drop_first_answers && attempt == 0 && outcome.is_acknowledged() {
        return StatusCode::BAD_GATEWAY.into_response();
    }
    if let Some(demo) = &replica.demo
        && outcome.is_acknowledged()
    {
        demo.lock().unwrap().acknowledged.insert(id);
    }
    outcome.into_response()
}

/// A readiness probe: a replica that cannot reach Redis takes no traffic.
async fn ready(State(replica): State<Replica>) -> StatusCode {
    match replica.dedup.ping().await {
        Ok(()) => StatusCode::NO_CONTENT,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

fn router(replica: Replica) -> Router {
    Router::new()
        .route("/webhooks/kallglot", post(webhook))
        .route("/ready", get(ready))
        .with_state(replica)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("KALLGLOT_API_KEY").is_some() {
        return serve_one_replica().await;
    }
    let redis = match LocalRedis::start().await {
        Ok(redis) => redis,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "This example needs `redis-server` on PATH (Debian/Ubuntu: \
                 `sudo apt-get install redis-server`, macOS: `brew install redis`), \
                 then run it again. Skipping."
            );
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    println!("redis-server on {}", redis.url());

    let secret = "whsec_replicas_example";
    let demo = Arc::new(Mutex::new(DemoLog::default()));
    let mut urls = Vec::new();
    for name in ["replica-1", "replica-2"] {
        let replica = Replica {
            name: name.into(),
            verifier: Verifier::new(WebhookSecret::new(secret)?),
            // One deduplicator per replica, as in separate pods; Redis is what they share.
            dedup: RedisDeduplicator::builder(redis.url())
                .key_prefix("example:kallglot:")
                .failure_policy(FailurePolicy::FailClosed)
                .build()?,
            demo: Some(Arc::clone(&demo)),
            drop_first_answers: true,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        urls.push(format!(
            "http://{}/webhooks/kallglot",
            listener.local_addr()?
        ));
        tokio::spawn(async move { axum::serve(listener, router(replica)).await });
    }

    let deliveries = WebhookConfig::new(urls[0].clone(), secret)
        .round_robin_with([urls[1].clone()])
        .retry_delays(vec![std::time::Duration::from_millis(50); 20]);
    let target = Target::with_emulator(MockServer::builder().webhook(deliveries)).await?;
    let emulator = target.emulator.as_ref().expect("no API key: emulated");
    let mut events = emulator.subscribe();

    for _ in 0..2 {
        let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
            .languages(Language::EN, Language::ES);
        let session = target.client.sessions().create(params).await?;
        target.client.sessions().end(session.id.clone()).await?;
    }
    let mut ids = Vec::new();
    while let Ok(event) = events.try_recv() {
        ids.push(event.id);
    }

    // Each first answer was dropped, so each event is acknowledged on a retry.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ids
        .iter()
        .all(|id| demo.lock().unwrap().acknowledged.contains(id))
    {
        check(
            tokio::time::Instant::now() < deadline,
            "every event is acknowledged within 10 s",
        )?;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let demo = demo.lock().unwrap();
    let by = |id: &str| demo.processed.get(id).cloned().unwrap_or_default();
    for id in &ids {
        println!("{id} processed by {:?}", by(id));
    }
    check(!ids.is_empty(), "the sessions published events")?;
    check(
        ids.iter().all(|id| by(id).len() == 1),
        "each event is processed exactly once across both replicas",
    )?;
    Ok(())
}

/// One replica of a real deployment, configured from the environment.
async fn serve_one_replica() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("KALLGLOT_WEBHOOK_SECRET")
        .map_err(|_| "set KALLGLOT_WEBHOOK_SECRET to the endpoint's signing secret")?;
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let addr: std::net::SocketAddr = std::env::var("WEBHOOK_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:8080".into())
        .parse()?;
    let name = std::env::var("HOSTNAME").unwrap_or_else(|_| "replica".to_owned());
    let replica = Replica {
        name,
        verifier: Verifier::new(WebhookSecret::new(secret)?),
        dedup: RedisDeduplicator::builder(redis_url).build()?,
        demo: None,
        drop_first_answers: false,
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    println!("receiving webhooks on {}", listener.local_addr()?);
    axum::serve(listener, router(replica))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
