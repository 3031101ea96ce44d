//! Production traffic: rate-limit pacing, overall deadlines, the credits watch, live key
//! rotation, the JSON body cap and retries of cut-off answers to keyed writes.
//!
//! Everything runs on loopback under tokio's paused clock, so minutes of rate-limit
//! windows and timeouts pass instantly and exactly.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kallglot::credentials::{ApiKeySource, KeyFuture};
use kallglot::model::{CreateSessionParams, Mode};
use kallglot::{ApiKey, Client, Environment, Error, Method, WaitedFor};
use kallglot_mock::{Fault, KeyConfig, MockServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

const OLD_KEY: &str = "sk_test_OLDsecretKEY0123456789";
const NEW_KEY: &str = "sk_test_NEWsecretKEY0123456789";

fn params() -> CreateSessionParams {
    CreateSessionParams::new(Mode::BidirectionalTranslation)
}

fn client_for(url: &str, key: &str) -> kallglot::ClientBuilder {
    Client::builder().api_key(key).base_url(url)
}

/// A tiny HTTP/1.1 server on loopback, in the test's own runtime (so tokio's paused clock
/// only jumps when it is idle too, unlike wiremock's server thread). Each connection gets
/// one answer from `answer` (status, extra headers, body) after `delay`, then is closed.
/// It records every request's head.
#[derive(Clone)]
struct Answering {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

type Answer = (u16, Vec<(String, String)>, String);

impl Answering {
    async fn start(
        delay: Duration,
        answer: impl Fn(&str) -> Answer + Send + Sync + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let answer = Arc::new(answer);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                let answer = answer.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 65536];
                    let mut len = 0;
                    // Read the head (and whatever body came with it).
                    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf[len..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => len += n,
                        }
                    }
                    let head = String::from_utf8_lossy(&buf[..len]).into_owned();
                    seen.lock().unwrap().push(head.clone());
                    tokio::time::sleep(delay).await;
                    let (status, headers, body) = answer(&head);
                    let mut reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                        body.len()
                    );
                    for (name, value) in headers {
                        reply.push_str(&format!("{name}: {value}\r\n"));
                    }
                    reply.push_str("\r\n");
                    reply.push_str(&body);
                    let _ = socket.write_all(reply.as_bytes()).await;
                });
            }
        });
        Self { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// The value of header `name` in each request, in order.
    fn header(&self, name: &str) -> Vec<String> {
        self.requests()
            .iter()
            .map(|head| {
                head.lines()
                    .find_map(|l| {
                        let (n, v) = l.split_once(':')?;
                        n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                    })
                    .unwrap_or_default()
            })
            .collect()
    }
}

const ANALYSIS: &str =
    r#"{"id":"anl_1","object":"analysis","session_id":"sess_1","status":"processing"}"#;

fn analysis_with(headers: &[(&str, String)]) -> Answer {
    (
        200,
        headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.clone()))
            .collect(),
        ANALYSIS.to_string(),
    )
}

// ---- 1. Pacing ----

#[tokio::test(start_paused = true)]
async fn a_workload_of_two_and_a_half_windows_finishes_without_a_single_429() {
    // 20 requests per 10 s; 50 requests from 10 concurrent tasks. Retries are off, so
    // any 429 the server sent would reach the caller.
    let server = MockServer::builder()
        .rate_limit(20, Duration::from_secs(10))
        .credits(1000)
        .start()
        .await
        .unwrap();
    let client = client_for(&server.url(), server.api_key())
        .max_retries(0)
        .deadline(Duration::from_secs(600))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let client = client.clone();
        tasks.spawn(async move {
            let mut errors = Vec::new();
            for _ in 0..5 {
                if let Err(e) = client.sessions().create(params()).await {
                    errors.push(e.to_string());
                }
            }
            errors
        });
    }
    let mut errors = Vec::new();
    while let Some(result) = tasks.join_next().await {
        errors.extend(result.unwrap());
    }
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(server.credits_used(), 50);
    // Three windows are needed (20 + 20 + 10), and pacing must not take much longer.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(20) && elapsed < Duration::from_secs(40),
        "{elapsed:?}"
    );
    let state = client.rate_limit_state();
    assert_eq!(state.limit, Some(20));
    assert!(state.paced_requests > 0, "{state:?}");
    assert_eq!((state.in_flight, state.waiting), (0, 0), "{state:?}");
}

#[tokio::test(start_paused = true)]
async fn requests_hold_while_remaining_is_zero_until_the_reset() {
    // The server says: nothing left, reset in 30 s. The next call must not go out before.
    // The reset is whole wall-clock seconds, read against the wall clock while the test's
    // clock is paused: one second of slack covers the rounding and the real time a loaded
    // machine spends before the first answer (building a native-tls client loads roots).
    let reset = (chrono::Utc::now().timestamp() + 31).to_string();
    let server = Answering::start(Duration::ZERO, move |_| {
        analysis_with(&[
            ("x-ratelimit-limit", "5".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.clone()),
        ])
    })
    .await;
    let client = client_for(&server.url, OLD_KEY).build().unwrap();
    client.analyses().retrieve("anl_1").await.unwrap();
    let state = client.rate_limit_state();
    assert_eq!(state.remaining, Some(0));
    let started = Instant::now();
    client.analyses().retrieve("anl_1").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(29),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn retries_go_through_the_pacer_too() {
    // The first answer is a 503 that also says the window is spent for 20 s: the retry
    // waits for the reset, not just for its 250-500 ms backoff.
    // One second of slack, as in the test above.
    let reset = (chrono::Utc::now().timestamp() + 21).to_string();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    let server = Answering::start(Duration::ZERO, move |_| {
        if count.fetch_add(1, Ordering::Relaxed) == 0 {
            let headers = vec![
                ("x-ratelimit-remaining".to_string(), "0".to_string()),
                ("x-ratelimit-reset".to_string(), reset.clone()),
            ];
            (503, headers, String::new())
        } else {
            analysis_with(&[])
        }
    })
    .await;
    let client = client_for(&server.url, OLD_KEY).build().unwrap();
    let started = Instant::now();
    client.analyses().retrieve("anl_1").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(19),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn max_in_flight_caps_concurrent_requests() {
    let server = Answering::start(Duration::from_millis(100), |_| analysis_with(&[])).await;
    let client = client_for(&server.url, OLD_KEY)
        .max_in_flight(2)
        .build()
        .unwrap();
    let peak = Arc::new(AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let client = client.clone();
        let peak = peak.clone();
        tasks.spawn(async move {
            let call = client.analyses().retrieve("anl_1");
            let watcher = client.clone();
            let probe = async {
                loop {
                    peak.fetch_max(watcher.rate_limit_state().in_flight, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            tokio::select! { r = call => r.unwrap(), () = probe => unreachable!() };
        });
    }
    let started = Instant::now();
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(peak.load(Ordering::Relaxed), 2);
    // Six 100 ms requests, two at a time.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(client.rate_limit_state().max_in_flight, Some(2));
}

// ---- 2. Deadlines ----

/// A loopback server that accepts connections and never answers.
async fn hung_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

#[tokio::test(start_paused = true)]
async fn a_hung_server_meets_the_deadline_not_three_full_timeouts() {
    let url = hung_server().await;
    let client = client_for(&url, OLD_KEY)
        .timeout(Duration::from_secs(60))
        .max_retries(2)
        .deadline(Duration::from_secs(90))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(90) && elapsed < Duration::from_secs(92),
        "{elapsed:?}"
    );
    match &err {
        Error::DeadlineExceeded {
            operation,
            waited_for,
            deadline,
            attempts,
            ..
        } => {
            assert_eq!(*operation, "retrieve_session");
            assert_eq!(*waited_for, WaitedFor::Response);
            assert_eq!(*deadline, Duration::from_secs(90));
            assert_eq!(
                *attempts, 2,
                "60 s for the first, the rest of the 90 for the second"
            );
        }
        other => panic!("expected a deadline error, got {other:?}"),
    }
    assert!(err.to_string().contains("waiting for a response"), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test(start_paused = true)]
async fn the_default_deadline_is_two_minutes() {
    let url = hung_server().await;
    let client = client_for(&url, OLD_KEY).build().unwrap();
    let started = Instant::now();
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(122),
        "{:?}",
        started.elapsed()
    );
    assert!(matches!(err, Error::DeadlineExceeded { .. }), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn per_call_deadlines_on_call_raw_request_and_download() {
    let url = hung_server().await;
    let client = client_for(&url, OLD_KEY).build().unwrap();
    let short = Duration::from_secs(5);
    let check = |err: Error, started: Instant| {
        assert!(
            matches!(err, Error::DeadlineExceeded { deadline, .. } if deadline == short),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(6));
    };
    let started = Instant::now();
    check(
        client
            .sessions()
            .end("sess_1")
            .deadline(short)
            .await
            .unwrap_err(),
        started,
    );
    let started = Instant::now();
    check(
        client
            .request(Method::Get, "/v1/agents")
            .deadline(short)
            .await
            .unwrap_err(),
        started,
    );
    let started = Instant::now();
    let mut sink = Vec::new();
    check(
        client
            .recordings()
            .download("rec_1")
            .deadline(short)
            .to_writer(&mut sink)
            .await
            .unwrap_err(),
        started,
    );
}

#[tokio::test(start_paused = true)]
async fn a_backoff_that_would_pass_the_deadline_fails_at_once_with_the_last_error() {
    let server = Answering::start(Duration::ZERO, |_| {
        (
            503,
            vec![("retry-after".into(), "30".into())],
            String::new(),
        )
    })
    .await;
    let client = client_for(&server.url, OLD_KEY)
        .deadline(Duration::from_secs(10))
        .build()
        .unwrap();
    let started = Instant::now();
    let err = client.sessions().retrieve("sess_1").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    match &err {
        Error::DeadlineExceeded {
            waited_for: WaitedFor::Backoff,
            last_error: Some(last),
            ..
        } => assert_eq!(last.status(), Some(503)),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("backoff"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn pacing_waits_count_against_the_deadline() {
    let reset = (chrono::Utc::now().timestamp() + 50).to_string();
    let server = Answering::start(Duration::ZERO, move |_| {
        analysis_with(&[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset.clone()),
        ])
    })
    .await;
    let client = client_for(&server.url, OLD_KEY).build().unwrap();
    client.analyses().retrieve("anl_1").await.unwrap();
    let err = client
        .analyses()
        .retrieve("anl_1")
        .deadline(Duration::from_secs(5))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::DeadlineExceeded {
                waited_for: WaitedFor::RateLimitPacing,
                attempts: 1,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("rate-limit pacing"), "{err}");
    assert_eq!(server.requests().len(), 1);
}

// ---- 3. Credits watch ----

#[tokio::test(start_paused = true)]
async fn the_credits_watch_fires_once_per_fall_below_the_threshold() {
    let server = MockServer::builder().credits(7).start().await.unwrap();
    let client = client_for(&server.url(), server.api_key()).build().unwrap();
    let mut alerts = client.watch_credits(5);
    let mut seen = Vec::new();
    let mut create = async |n: usize, seen: &mut Vec<(bool, Option<i64>, u64)>| {
        for _ in 0..n {
            client.sessions().create(params()).await.unwrap();
            if alerts.has_changed().unwrap() {
                let a = *alerts.borrow_and_update();
                seen.push((a.below, a.balance, a.falls));
            }
        }
    };
    // 7 → 6, 5, 4 (falls), 3.
    create(4, &mut seen).await;
    server.set_credits(10);
    // 10 → 9 (back above), 8.
    create(2, &mut seen).await;
    server.set_credits(5);
    // 5 → 4 (falls again).
    create(1, &mut seen).await;
    assert_eq!(
        seen,
        [(true, Some(4), 1), (false, Some(9), 1), (true, Some(4), 2)]
    );
}

// ---- 4. Key rotation ----

#[derive(Debug)]
struct CountingSource {
    key: &'static str,
    fetches: AtomicU64,
}

impl ApiKeySource for CountingSource {
    fn fetch(&self) -> KeyFuture<'_> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        Box::pin(async move { Ok(ApiKey::new(self.key)?) })
    }
}

fn source(key: &'static str) -> Arc<CountingSource> {
    Arc::new(CountingSource {
        key,
        fetches: AtomicU64::new(0),
    })
}

#[tokio::test(start_paused = true)]
async fn a_revoked_key_is_refreshed_once_from_the_source_and_the_request_retried() {
    let server = MockServer::builder()
        .key(KeyConfig::test(OLD_KEY).revoked())
        .key(KeyConfig::test(NEW_KEY))
        .credits(100)
        .start()
        .await
        .unwrap();
    let source = source(NEW_KEY);
    let client = client_for(&server.url(), OLD_KEY)
        .api_key_source(source.clone())
        .build()
        .unwrap();
    // Five calls refused at once: one fetch serves them all.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let client = client.clone();
        tasks.spawn(async move { client.sessions().create(params()).await.map(|_| ()) });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap().unwrap();
    }
    assert_eq!(source.fetches.load(Ordering::Relaxed), 1);
    assert_eq!(server.credits_used(), 5);
    // Later calls use the new key directly.
    client.sessions().create(params()).await.unwrap();
    assert_eq!(source.fetches.load(Ordering::Relaxed), 1);
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("NEWsecret") && !shown.contains("OLDsecret"),
        "{shown}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_source_that_gives_the_same_or_a_wrong_environment_key_lets_the_401_surface() {
    let server = MockServer::builder()
        .key(KeyConfig::test(OLD_KEY).expired())
        .start()
        .await
        .unwrap();
    for (given, expect) in [
        (OLD_KEY, None),
        ("sk_live_LIVEsecret0123456789", Some(Environment::Test)),
    ] {
        let source = source(given);
        let mut builder = client_for(&server.url(), OLD_KEY).api_key_source(source.clone());
        if let Some(env) = expect {
            builder = builder.expect_environment(env);
        }
        let client = builder.build().unwrap();
        let err = client.sessions().retrieve("sess_1").await.unwrap_err();
        assert_eq!(
            err.code(),
            Some(&kallglot::ErrorCode::ApiKeyExpired),
            "{err:?}"
        );
        assert_eq!(source.fetches.load(Ordering::Relaxed), 1);
        let shown = format!("{err:?} {err}");
        assert!(
            !shown.contains("OLDsecret") && !shown.contains("LIVEsecret"),
            "{shown}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn set_api_key_applies_to_new_requests_while_in_flight_ones_keep_theirs() {
    let server = Answering::start(Duration::from_secs(1), |_| analysis_with(&[])).await;
    let client = client_for(&server.url, OLD_KEY)
        .expect_environment(Environment::Test)
        .build()
        .unwrap();
    let in_flight = {
        let client = client.clone();
        tokio::spawn(async move { client.analyses().retrieve("anl_1").await.unwrap() })
    };
    // Let the first request reach the server, then rotate.
    while server.requests().is_empty() {
        tokio::task::yield_now().await;
    }
    client.set_api_key(NEW_KEY).unwrap();
    let err = client
        .set_api_key("sk_live_LIVEsecret0123456789")
        .unwrap_err();
    assert!(err.to_string().contains("expects a test key"), "{err}");
    assert!(!err.to_string().contains("LIVEsecret"));
    assert!(client.set_api_key("not a key").is_err());
    client.analyses().retrieve("anl_1").await.unwrap();
    in_flight.await.unwrap();
    assert_eq!(
        server.header("authorization"),
        [format!("Bearer {OLD_KEY}"), format!("Bearer {NEW_KEY}")]
    );
}

// ---- 5. Safety ----

/// A loopback server answering every connection with `head` and then `body` chunks
/// produced by `chunk` until it returns `None`; counts the bytes it managed to write.
async fn raw_server(
    head: &'static str,
    chunk: impl Fn(usize) -> Option<Vec<u8>> + Send + Sync + 'static,
) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let counter = written.clone();
    let chunk = Arc::new(chunk);
    tokio::spawn(async move {
        let mut connection = 0;
        while let Ok((mut socket, _)) = listener.accept().await {
            let counter = counter.clone();
            let chunk = chunk.clone();
            let n = connection;
            connection += 1;
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut i = 0;
                while let Some(bytes) = chunk(n * 1_000_000 + i) {
                    if socket.write_all(&bytes).await.is_err() {
                        return;
                    }
                    counter.fetch_add(bytes.len(), Ordering::Relaxed);
                    i += 1;
                }
            });
        }
    });
    (format!("http://{addr}"), written)
}

#[tokio::test(start_paused = true)]
async fn an_endless_chunked_body_is_refused_once_over_the_cap() {
    // 64 KiB chunks for ever (well, up to 256 MiB, so that old code would finish too).
    let piece = format!("10000\r\n{}\r\n", "x".repeat(0x10000)).into_bytes();
    let (url, written) = raw_server(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
        move |i| (i % 1_000_000 < 4096).then(|| piece.clone()),
    )
    .await;
    let client = client_for(&url, OLD_KEY)
        .max_response_body(1024 * 1024)
        .build()
        .unwrap();
    let err = client.sessions().transcript("sess_1").await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::ResponseTooLarge {
                limit: 1_048_576,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("1048576-byte limit"), "{err}");
    // Reading stopped at the cap: the server could write little more than the cap plus
    // what the socket buffers hold, nowhere near its 256 MiB.
    let sent = written.load(Ordering::Relaxed);
    assert!(sent < 16 * 1024 * 1024, "the server wrote {sent} bytes");
}

#[tokio::test(start_paused = true)]
async fn an_announced_oversized_body_is_refused_before_reading_and_downloads_are_not_capped() {
    let server = Answering::start(Duration::ZERO, |head| {
        let body = if head.contains("/audio") { "a" } else { "x" }.repeat(5000);
        (200, vec![], body)
    })
    .await;
    let client = client_for(&server.url, OLD_KEY)
        .max_response_body(1000)
        .build()
        .unwrap();
    let err = client.sessions().transcript("sess_1").await.unwrap_err();
    assert!(
        matches!(err, Error::ResponseTooLarge { limit: 1000, .. }),
        "{err:?}"
    );
    let mut audio = Vec::new();
    let done = client
        .recordings()
        .download("rec_1")
        .to_writer(&mut audio)
        .await
        .unwrap();
    assert_eq!(done.bytes, 5000);
}

#[tokio::test(start_paused = true)]
async fn an_invalid_answer_to_a_keyed_create_is_retried_with_the_same_key() {
    let server = MockServer::builder().credits(10).start().await.unwrap();
    server.faults().inject(
        &kallglot_mock::catalogue::CREATE_SESSION,
        Fault::truncated_json().times(1),
    );
    let client = client_for(&server.url(), server.api_key()).build().unwrap();
    let session = client.sessions().create(params()).await.unwrap();
    assert_eq!(server.credits_used(), 1, "one session, not two");
    assert!(session.idempotency_key().is_some());
    // The emulator replays the stored session for that key: the same one comes back.
    let again = client
        .sessions()
        .create(params())
        .idempotency_key(session.idempotency_key().unwrap().as_str())
        .await
        .unwrap();
    assert_eq!(again.id, session.id);
    assert_eq!(server.credits_used(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_body_cut_off_mid_way_is_retried_for_a_keyed_write() {
    // The first connection announces 200 bytes and sends 20; the second answers whole.
    let whole = r#"{"id":"sess_1","object":"session","status":"ended"}"#;
    let served = Arc::new(Mutex::new(0));
    let count = served.clone();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = {
                let mut c = count.lock().unwrap();
                *c += 1;
                *c
            };
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let reply = if n == 1 {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 200\r\n\r\n{}",
                    &whole[..20]
                )
            } else {
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{whole}",
                    whole.len()
                )
            };
            let _ = socket.write_all(reply.as_bytes()).await;
            drop(socket);
        }
    });
    let client = client_for(&format!("http://{addr}"), OLD_KEY)
        .build()
        .unwrap();
    let ended = client.sessions().end("sess_1").await.unwrap();
    assert_eq!(ended.id, "sess_1");
    assert_eq!(*served.lock().unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_idempotency_key_is_readable_on_errors() {
    let server = Answering::start(Duration::ZERO, |_| (503, vec![], String::new())).await;
    let client = client_for(&server.url, OLD_KEY).build().unwrap();
    let err = client.sessions().create(params()).await.unwrap_err();
    let keys = server.header("idempotency-key");
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| *k == keys[0]));
    assert_eq!(
        err.idempotency_key().map(|k| k.as_str()),
        Some(keys[0].as_str())
    );
    // The raw escape hatch reports it too.
    let err = client
        .request(Method::Post, "/v1/sessions")
        .json(json!({"mode": "ai_agent"}))
        .idempotency_key("mine-1")
        .await
        .unwrap_err();
    assert_eq!(err.idempotency_key().map(|k| k.as_str()), Some("mine-1"));
}
