//! Webhook de-duplication across replicas with a real `redis-server` (started here on a
//! free loopback port, stopped at the end): two receivers behind the emulator's
//! round-robin deliveries, and Redis outages under both failure policies.
//!
//! Needs `redis-server` on `PATH`; `.ci/run` installs it.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot::webhooks::{
    Claim, DedupError, DedupStore, FailurePolicy, Processed, RedisDeduplicator, VerifiedWebhook,
    Verifier, WebhookSecret,
};
use kallglot_mock::{LocalRedis, MockServer, WebhookConfig};

const SECRET: &str = "whsec_replicas_test_secret";

/// How long any wait in these tests may take before it counts as a hang.
const DEADLINE: Duration = Duration::from_secs(20);

/// What both replicas saw, shared like a database the handlers write to.
#[derive(Default)]
struct Journal {
    /// Event id → the replicas whose handler ran for it (the side effect to count).
    processed: HashMap<String, Vec<&'static str>>,
    /// Every delivery: (replica, event id, retry count, outcome, status sent).
    deliveries: Vec<(&'static str, String, u32, &'static str, u16)>,
}

#[derive(Clone)]
struct Replica {
    name: &'static str,
    verifier: Verifier,
    dedup: RedisDeduplicator,
    journal: Arc<Mutex<Journal>>,
    /// Replace the answer to each event's first attempt by a 502 after processing,
    /// as when the answer is lost on its way back: Kallglot retries an event that
    /// was in fact processed.
    lose_first_answers: bool,
    /// Make each event's first attempt slow: its work waits until another delivery of
    /// the event was refused as in progress (so it outlives the emulator's timeout).
    slow_first_attempts: bool,
}

impl FromRef<Replica> for Verifier {
    fn from_ref(replica: &Replica) -> Self {
        replica.verifier.clone()
    }
}

fn outcome_name<T, E>(p: &Processed<T, E>) -> &'static str {
    match p {
        Processed::Ran(_) => "ran",
        Processed::Duplicate => "duplicate",
        Processed::InProgress => "in-progress",
        Processed::Failed(_) => "failed",
        Processed::StoreUnavailable(_) => "store-unavailable",
        _ => "other",
    }
}

async fn hook(
    State(replica): State<Replica>,
    VerifiedWebhook(event, delivery): VerifiedWebhook,
) -> Response {
    let id = event.id.as_str().to_owned();
    let journal = Arc::clone(&replica.journal);
    let name = replica.name;
    let attempt = delivery.retry_count.unwrap_or(0);
    let processed = replica
        .dedup
        .process_once(&id, || async {
            if replica.slow_first_attempts && attempt == 0 {
                wait_until("a retry is refused as in progress", || {
                    let journal = journal.lock().unwrap();
                    journal
                        .deliveries
                        .iter()
                        .any(|d| d.1 == id && d.3 == "in-progress" && d.4 == 409)
                })
                .await;
            }
            let mut journal = journal.lock().unwrap();
            journal.processed.entry(id.clone()).or_default().push(name);
            Ok::<_, std::convert::Infallible>(())
        })
        .await;
    let mut status = processed.http_status();
    if replica.lose_first_answers && attempt == 0 && processed.is_acknowledged() {
        status = 502;
    }
    replica.journal.lock().unwrap().deliveries.push((
        name,
        id,
        attempt,
        outcome_name(&processed),
        status,
    ));
    if status == 502 {
        StatusCode::BAD_GATEWAY.into_response()
    } else {
        processed.into_response()
    }
}

/// Starts one receiver; returns its URL.
async fn start_replica(replica: Replica) -> String {
    let app = Router::new()
        .route("/hooks/kallglot", post(hook))
        .with_state(replica);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/kallglot", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// How the two replicas and the emulator in front of them behave.
#[derive(Clone, Copy)]
struct Setup {
    policy: FailurePolicy,
    lose_first_answers: bool,
    slow_first_attempts: bool,
    /// The claim lease of each replica's deduplicator.
    lease: Duration,
    /// How long the emulator waits for each answer.
    attempt_timeout: Duration,
}

impl Setup {
    fn new(policy: FailurePolicy) -> Self {
        Self {
            policy,
            lose_first_answers: false,
            slow_first_attempts: false,
            lease: RedisDeduplicator::DEFAULT_LEASE,
            attempt_timeout: Duration::from_secs(5),
        }
    }
}

/// Two replicas, each with its own deduplicator on the same Redis, behind one emulator
/// that spreads attempts round-robin and retries every 25 ms for a long while.
async fn two_replicas(redis_url: &str, setup: Setup) -> (MockServer, Arc<Mutex<Journal>>) {
    let journal = Arc::new(Mutex::new(Journal::default()));
    let mut urls = Vec::new();
    for name in ["replica-a", "replica-b"] {
        urls.push(
            start_replica(Replica {
                name,
                verifier: Verifier::new(WebhookSecret::new(SECRET).unwrap()),
                dedup: RedisDeduplicator::builder(redis_url)
                    .key_prefix("test:kallglot:")
                    .timeout(Duration::from_millis(250))
                    .lease(setup.lease)
                    .failure_policy(setup.policy)
                    .build()
                    .unwrap(),
                journal: Arc::clone(&journal),
                lose_first_answers: setup.lose_first_answers,
                slow_first_attempts: setup.slow_first_attempts,
            })
            .await,
        );
    }
    let config = WebhookConfig::new(urls[0].clone(), SECRET)
        .round_robin_with([urls[1].clone()])
        .retry_delays(vec![Duration::from_millis(25); 600])
        .timeout(setup.attempt_timeout);
    let server = MockServer::builder().webhook(config).start().await.unwrap();
    (server, journal)
}

/// Creates and ends `n` sessions; returns the ids of the events they published.
async fn run_sessions(server: &MockServer, n: usize) -> HashSet<String> {
    let mut events = server.subscribe();
    let client = kallglot::Client::builder()
        .api_key(server.api_key())
        .base_url(server.url())
        .build()
        .unwrap();
    for _ in 0..n {
        let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
            .languages(Language::EN, Language::ES);
        let session = client.sessions().create(params).await.unwrap();
        client.sessions().end(&session.id).await.unwrap();
    }
    let mut ids = HashSet::new();
    while let Ok(event) = events.try_recv() {
        ids.insert(event.id.clone());
    }
    assert!(ids.len() >= 2 * n, "each session publishes events: {ids:?}");
    ids
}

/// Polls `done` every few milliseconds until it holds, failing after [`DEADLINE`].
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = tokio::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn acknowledged(journal: &Journal, ids: &HashSet<String>) -> bool {
    ids.iter().all(|id| {
        journal
            .deliveries
            .iter()
            .any(|(_, event, _, _, status)| event == id && (200..300).contains(status))
    })
}

fn assert_processed_once(journal: &Journal, ids: &HashSet<String>) {
    for id in ids {
        let by = journal.processed.get(id).map(Vec::as_slice).unwrap_or(&[]);
        assert_eq!(by.len(), 1, "{id} was processed by {by:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_process_each_event_once_though_retries_reach_both() {
    let redis = LocalRedis::start().await.unwrap();
    let (server, journal) = two_replicas(
        &redis.url(),
        Setup {
            lose_first_answers: true,
            ..Setup::new(FailurePolicy::FailClosed)
        },
    )
    .await;
    let ids = run_sessions(&server, 3).await;
    wait_until("every event is acknowledged", || {
        acknowledged(&journal.lock().unwrap(), &ids)
    })
    .await;

    {
        let journal = journal.lock().unwrap();
        assert_processed_once(&journal, &ids);
        // Each event's first answer was lost, so each was delivered again; and some retry
        // landed on the replica that had not processed it, which recognised it through Redis.
        for id in &ids {
            let attempts = journal.deliveries.iter().filter(|d| &d.1 == id).count();
            assert!(attempts >= 2, "{id} was delivered {attempts} time(s)");
        }
        let across = journal
            .deliveries
            .iter()
            .any(|(replica, id, _, outcome, _)| {
                *outcome == "duplicate" && journal.processed[id.as_str()] != [*replica]
            });
        assert!(
            across,
            "no retry reached the other replica: {:?}",
            journal.deliveries
        );
    }
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_during_slow_processing_is_refused_and_the_event_still_runs_once() {
    let redis = LocalRedis::start().await.unwrap();
    let setup = Setup {
        slow_first_attempts: true,
        // The emulator gives up on the slow first attempt quickly and retries; if the
        // server drops the abandoned handler, its claim expires with this lease.
        attempt_timeout: Duration::from_millis(150),
        lease: Duration::from_millis(600),
        ..Setup::new(FailurePolicy::FailClosed)
    };
    let (server, journal) = two_replicas(&redis.url(), setup).await;
    let ids = run_sessions(&server, 2).await;
    wait_until("every event is acknowledged", || {
        acknowledged(&journal.lock().unwrap(), &ids)
    })
    .await;
    {
        let journal = journal.lock().unwrap();
        assert_processed_once(&journal, &ids);
        for id in &ids {
            assert!(
                journal
                    .deliveries
                    .iter()
                    .any(|d| &d.1 == id && d.3 == "in-progress" && d.4 == 409),
                "no delivery of {id} was refused as in progress"
            );
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn claims_in_progress_done_released_and_expired() {
    let redis = LocalRedis::start().await.unwrap();
    let lease = Duration::from_millis(300);
    let ttl = Duration::from_secs(3600);
    let build = || {
        RedisDeduplicator::builder(redis.url())
            .key_prefix("app:")
            .lease(lease)
            .ttl(ttl)
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    a.ping().await.unwrap();

    let Claim::First(first) = a.claim("evt_1").await.unwrap() else {
        panic!("the first claim wins")
    };
    assert_eq!(b.claim("evt_1").await.unwrap(), Claim::InProgress);
    a.release(&first).await.unwrap();
    let Claim::First(second) = b.claim("evt_1").await.unwrap() else {
        panic!("a released claim can be taken again")
    };
    // A stale ticket releases nothing: the claim is b's now.
    a.release(&first).await.unwrap();
    assert_eq!(a.claim("evt_1").await.unwrap(), Claim::InProgress);
    b.complete(&second).await.unwrap();
    assert_eq!(a.claim("evt_1").await.unwrap(), Claim::AlreadyDone);
    // Nor does releasing a done event undo it.
    b.release(&second).await.unwrap();
    assert_eq!(b.claim("evt_1").await.unwrap(), Claim::AlreadyDone);

    // The done mark lives for the TTL, under the prefixed key.
    let mut raw = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let pttl: i64 = redis::cmd("PTTL")
        .arg("app:evt_1")
        .query_async(&mut raw)
        .await
        .unwrap();
    let ttl_ms = ttl.as_millis() as i64;
    assert!(pttl > ttl_ms - 60_000 && pttl <= ttl_ms, "PTTL {pttl}");

    // A replica that crashed mid-processing never completes nor releases: its claim
    // expires with the lease, and a retry is processed.
    assert!(matches!(a.claim("evt_2").await.unwrap(), Claim::First(_)));
    assert_eq!(b.claim("evt_2").await.unwrap(), Claim::InProgress);
    let start = tokio::time::Instant::now();
    loop {
        match b.claim("evt_2").await.unwrap() {
            Claim::First(_) => break,
            Claim::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(start.elapsed() < DEADLINE, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(start.elapsed() + Duration::from_millis(50) >= lease / 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_refuses_while_redis_is_down_and_loses_no_event() {
    let mut redis = LocalRedis::start().await.unwrap();
    let port = redis.port();
    let (server, journal) = two_replicas(&redis.url(), Setup::new(FailurePolicy::FailClosed)).await;
    let before = run_sessions(&server, 1).await;
    wait_until("the first session's events are acknowledged", || {
        acknowledged(&journal.lock().unwrap(), &before)
    })
    .await;

    // Redis goes away mid-run.
    redis.stop();
    let during = run_sessions(&server, 2).await;
    wait_until("every new event was refused with 503 at least once", || {
        let journal = journal.lock().unwrap();
        during.iter().all(|id| {
            journal
                .deliveries
                .iter()
                .any(|d| &d.1 == id && d.3 == "store-unavailable" && d.4 == 503)
        })
    })
    .await;
    {
        let journal = journal.lock().unwrap();
        for id in &during {
            assert!(
                !journal.processed.contains_key(id),
                "{id} processed without Redis"
            );
        }
    }

    // Redis comes back (empty: no persistence); the retries get through.
    let _redis = LocalRedis::start_on(port).await.unwrap();
    wait_until("every event is acknowledged after the outage", || {
        acknowledged(&journal.lock().unwrap(), &during)
    })
    .await;
    {
        let journal = journal.lock().unwrap();
        assert_processed_once(&journal, &before);
        assert_processed_once(&journal, &during);
    }
    server.shutdown().await;
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// Single-threaded, so that the thread-local log subscriber sees the receivers' tasks.
#[tokio::test]
async fn fail_open_processes_while_redis_is_down_and_logs_it() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut redis = LocalRedis::start().await.unwrap();
    let (server, journal) = two_replicas(&redis.url(), Setup::new(FailurePolicy::FailOpen)).await;
    redis.stop();
    let ids = run_sessions(&server, 2).await;
    wait_until("every event is acknowledged", || {
        acknowledged(&journal.lock().unwrap(), &ids)
    })
    .await;

    {
        let journal = journal.lock().unwrap();
        for id in &ids {
            assert!(journal.processed.contains_key(id), "{id} was not processed");
            assert!(
                !journal.deliveries.iter().any(|d| &d.1 == id && d.4 >= 500),
                "{id} was refused"
            );
        }
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARN") && text.contains("fail-open"),
        "no fail-open warning in the logs:\n{text}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_hung_redis_costs_one_deadline_not_a_hung_receiver() {
    let redis = LocalRedis::start().await.unwrap();
    let timeout = Duration::from_millis(200);
    let dedup = RedisDeduplicator::builder(redis.url())
        .timeout(timeout)
        .lease(Duration::from_millis(300))
        .build()
        .unwrap();
    dedup.ping().await.unwrap();

    redis.pause().unwrap();
    let work = || async { Ok::<_, std::convert::Infallible>(()) };
    let outcome = tokio::time::timeout(DEADLINE, dedup.process_once("evt_1", work))
        .await
        .expect("process_once returns while Redis hangs");
    assert!(
        matches!(outcome, Processed::StoreUnavailable(DedupError::Timeout(t)) if t == timeout),
        "{outcome:?}"
    );
    assert_eq!(outcome.http_status(), 503);

    // The claim that timed out was still queued in the frozen server, which runs it on
    // resuming: the event then reads as in progress until that orphan claim's lease
    // expires, and is processed after.
    redis.resume().unwrap();
    let start = tokio::time::Instant::now();
    loop {
        match dedup.process_once("evt_1", work).await {
            Processed::Ran(()) => break,
            Processed::StoreUnavailable(_) | Processed::InProgress => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(start.elapsed() < DEADLINE, "never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(matches!(
        dedup.process_once("evt_1", work).await,
        Processed::Duplicate
    ));
}
