//! REST overhead benchmark: `client.sessions().retrieve()` against a raw `reqwest` GET plus
//! a `serde_json` decode of the same payload.
//!
//! Both sides call one loopback HTTP/1.1 keep-alive server, started by this binary on its
//! own thread and runtime, in the same run. Rounds of the two sides are interleaved (the
//! side that goes first alternates), after a warm-up of both, so drift on the machine
//! affects both equally. Two modes are measured:
//!
//! - sequential: one call at a time; every call is timed, and the median and p90 are taken
//!   over all calls of all rounds;
//! - concurrent: 64 tasks each make a fixed number of calls; a round's time per call is its
//!   wall time divided by its number of calls, and the median is taken over rounds.
//!
//! Run with `cargo bench -p kallglot --bench rest`; add `-- --breakdown` to also time three
//! intermediate variants (reqwest configured as the SDK configures it, the generated
//! `kallglot-api` client, and a hand-written floor) and see where the SDK's overhead goes.
//! Results print as markdown. The peer, async-openai's `models().retrieve()`, runs against
//! the same server with its own raw counterpart (a raw GET of the model), and each client's
//! ratio to its own raw is printed side by side. `-- --profile VARIANT` runs one variant
//! alone, with its allocations per call, for profilers (and for `rest-instructions.sh`).

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The API key both sides send (the server does not check it).
const API_KEY: &str = "sk_test_bench0000000000";
/// The session id both sides retrieve.
const SESSION_ID: &str = "sess_1";
/// Sequential mode: rounds per side.
const SEQ_ROUNDS: usize = 20;
/// Sequential mode: calls per round.
const SEQ_CALLS: usize = 200;
/// Concurrent mode: rounds per side.
const CONC_ROUNDS: usize = 20;
/// Concurrent mode: tasks in flight at once.
const CONC_TASKS: usize = 64;
/// Concurrent mode: calls each task makes per round.
const CONC_CALLS_PER_TASK: usize = 50;
/// Sequential warm-up calls per side.
const WARMUP_CALLS: usize = 500;
/// The SDK/raw ratio of medians the issue sets as the target.
const TARGET_RATIO: f64 = 1.05;

/// Counts heap allocations, so `--profile` can report allocations per call.
struct CountingAlloc;

/// Allocations made by this process so far (all threads).
static ALLOCATIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

// SAFETY: defers every operation to the system allocator; only counts calls.
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// The session the server returns (about 600 bytes).
const PAYLOAD: &str = concat!(
    r#"{"id":"sess_01HXYZ123456789","object":"session","status":"active","#,
    r#""mode":"bidirectional_translation","source_language":"en","target_language":"es","#,
    r#""stream":{"url":"wss://api.kallglot.com/v1/sessions/sess_01HXYZ123456789/connect","#,
    r#""token":"kst_test_4f9a2c7e1b8d3f6a0e5c9b2d7a4f1e8c","expires_at":"2026-03-26T11:05:00Z"},"#,
    r#""provider":"twilio","phone_number":"+14155551234","recording":{"enabled":true},"#,
    r#""metadata":{"team":"support","ticket":"SUP-48213","customer_tier":"enterprise"},"#,
    r#""created_at":"2026-03-26T11:00:00Z","started_at":"2026-03-26T11:00:04Z","ended_at":null}"#
);

/// The session as a hand-written serde struct: what a raw `reqwest` user would decode into.
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "fields are decoded to be measured, never read")]
struct RawSession {
    /// Session id.
    id: String,
    /// Always `session`.
    object: String,
    /// Lifecycle status.
    status: String,
    /// Session mode.
    mode: String,
    /// Party A's language.
    source_language: Option<String>,
    /// Party B's language.
    target_language: Option<String>,
    /// Stream credentials.
    stream: Option<RawStream>,
    /// Carrier.
    provider: Option<String>,
    /// E.164 number.
    phone_number: Option<String>,
    /// Recording settings.
    recording: Option<RawRecording>,
    /// Caller metadata.
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Creation time.
    created_at: DateTime<Utc>,
    /// Activation time.
    started_at: Option<DateTime<Utc>>,
    /// End time.
    ended_at: Option<DateTime<Utc>>,
}

/// Stream credentials of [`RawSession`].
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "fields are decoded to be measured, never read")]
struct RawStream {
    /// WebSocket URL.
    url: String,
    /// Stream token.
    token: String,
    /// Token expiry.
    expires_at: DateTime<Utc>,
}

/// Recording settings of [`RawSession`].
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "fields are decoded to be measured, never read")]
struct RawRecording {
    /// Whether the session is recorded.
    enabled: Option<bool>,
}

/// What the floor side reads from the response headers.
#[derive(Debug)]
#[allow(dead_code, reason = "fields are read to be measured, never used")]
struct FloorMeta {
    /// HTTP status.
    status: u16,
    /// `X-Request-ID`.
    request_id: Option<String>,
    /// The rate-limit, credit and `Retry-After` headers, parsed.
    numbers: [Option<i64>; 6],
    /// When the response was read.
    received: DateTime<Utc>,
}

/// The model async-openai's `models().retrieve()` and its raw counterpart read.
const MODEL_PAYLOAD: &str =
    r#"{"id":"gpt-4o-mini","object":"model","created":1721172741,"owned_by":"system"}"#;

/// The model id the async-openai sides retrieve.
const MODEL_ID: &str = "gpt-4o-mini";

/// The model as a hand-written serde struct: async-openai's raw counterpart.
#[derive(Debug, Deserialize)]
#[allow(dead_code, reason = "fields are decoded to be measured, never read")]
struct RawModel {
    /// Model id.
    id: String,
    /// Always `model`.
    object: String,
    /// Creation time (Unix seconds).
    created: u32,
    /// Owner.
    owned_by: String,
    /// Shutdown date, if announced.
    shutdown_date: Option<String>,
}

/// The complete HTTP response the server writes for a request, around `body`.
///
/// The rate-limit headers describe a window this benchmark never exhausts (a billion
/// requests in the hour to come): the figures measure what a call costs on its fast path.
/// With a window the bench outruns (an earlier version said 999 of 1,000 left for a
/// minute), the SDK's pacer rightly spreads the calls out, and the figures measure pacing
/// waits and timers instead; `benches/traffic.rs` measures pacing.
fn response_bytes(body: &str) -> Vec<u8> {
    let reset = Utc::now().timestamp() + 3600;
    format!(
        "HTTP/1.1 200 OK\r\n\
         Content-Type: application/json\r\n\
         Content-Length: {len}\r\n\
         X-Request-ID: req_01HXYZABCDEF0123456789\r\n\
         X-RateLimit-Limit: 1000000000\r\n\
         X-RateLimit-Remaining: 999999999\r\n\
         X-RateLimit-Reset: {reset}\r\n\
         X-API-Credits-Remaining: 4200\r\n\
         X-API-Credits-Used: 58\r\n\
         \r\n\
         {body}",
        len = body.len(),
    )
    .into_bytes()
}

/// What the server answers: the model for `GET /v1/models/…`, the session otherwise.
struct Responses {
    /// The session response.
    session: Vec<u8>,
    /// The model response.
    model: Vec<u8>,
}

/// Starts the server on its own thread with its own single-threaded runtime, so it never
/// shares a scheduler with the clients being measured; returns its address.
fn start_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr = listener.local_addr().expect("listener address");
    let responses = Arc::new(Responses {
        session: response_bytes(PAYLOAD),
        model: response_bytes(MODEL_PAYLOAD),
    });
    std::thread::Builder::new()
        .name("bench-server".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("server runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = socket.set_nodelay(true);
                    tokio::spawn(serve(socket, responses.clone()));
                }
            });
        })
        .expect("server thread");
    addr
}

/// Serves one keep-alive connection: answers every request head (up to `\r\n\r\n`) with
/// a fixed response, until the client closes. Bodies are not expected (GETs only).
async fn serve(mut socket: TcpStream, responses: Arc<Responses>) {
    let mut buf = vec![0u8; 16 * 1024];
    let mut filled = 0;
    loop {
        let n = match socket.read(&mut buf[filled..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Only the newly read bytes (and the 3 before them) can complete a request head.
        let mut scan = filled.saturating_sub(3);
        filled += n;
        let mut consumed = 0;
        while let Some(at) = buf[scan..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            let response = if buf[consumed..].starts_with(b"GET /v1/models/") {
                &responses.model
            } else {
                &responses.session
            };
            consumed = scan + at + 4;
            scan = consumed;
            if socket.write_all(response).await.is_err() {
                return;
            }
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            return; // A request head larger than the buffer: not something we send.
        }
    }
}

/// One way of retrieving the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// The SDK: `client.sessions().retrieve(id)`.
    Sdk,
    /// Raw: `reqwest::Client::new()`, GET, `bytes()`, `serde_json::from_slice`.
    Raw,
    /// Breakdown: raw, but with a `reqwest::Client` configured as the SDK configures its
    /// own (user agent, 60 s timeout, 10 s connect timeout, no redirects).
    RawSdkConfig,
    /// Breakdown: the generated `kallglot-api` client, created per call as the SDK does,
    /// with an executor that only sets the auth header (no retries, metadata or span).
    Generated,
    /// Breakdown: the least any SDK meeting the issue must do per call, hand-written
    /// without the generated client: the SDK-configured reqwest (timeout), the URL built
    /// per call, the response metadata read (7 headers), a retry-budget update and the
    /// raw decode. A lower bound for a hand-written fast path.
    Floor,
    /// The peer: async-openai's `models().retrieve(id)` (its default `reqwest` client).
    OpenAi,
    /// The peer's raw counterpart: `reqwest::Client::new()`, GET the model, `bytes()`,
    /// `serde_json::from_slice` into a hand-written struct.
    RawOpenAi,
}

impl Side {
    /// The label in the tables.
    fn label(self) -> &'static str {
        match self {
            Self::Sdk => "SDK `sessions().retrieve()`",
            Self::Raw => "raw reqwest + serde_json",
            Self::RawSdkConfig => "raw, reqwest configured like the SDK",
            Self::Generated => "generated `kallglot-api` client, auth-only executor",
            Self::Floor => "floor: hand-written path with timeout, metadata and budget",
            Self::OpenAi => "async-openai `models().retrieve()`",
            Self::RawOpenAi => "raw reqwest + serde_json, GET the model (async-openai's raw)",
        }
    }
}

/// The breakdown's executor: sets the auth header, then sends the request once.
struct AuthOnly {
    /// The `Authorization` value.
    auth: HeaderValue,
}

impl kallglot_api::Execute for AuthOnly {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        mut request: reqwest::Request,
        _operation_id: &'static str,
    ) -> kallglot_api::ExecuteFuture<'a> {
        request
            .headers_mut()
            .insert(AUTHORIZATION, self.auth.clone());
        Box::pin(client.execute(request))
    }
}

/// Everything the calls need; shared by the concurrent tasks.
struct Clients {
    /// The SDK client.
    sdk: kallglot::Client,
    /// The raw side's client (`reqwest::Client::new()`).
    raw: reqwest::Client,
    /// Breakdown: a `reqwest::Client` configured like the SDK's.
    raw_sdk_config: reqwest::Client,
    /// Breakdown: a second SDK-like `reqwest::Client`, for the generated client.
    generated_http: reqwest::Client,
    /// Breakdown: the generated client's executor.
    executor: Arc<AuthOnly>,
    /// The server's base URL, e.g. `http://127.0.0.1:40000`.
    base_url: String,
    /// The session URL the raw sides GET.
    session_url: String,
    /// The `Authorization` header value the raw sides send.
    auth: HeaderValue,
    /// Breakdown: the floor side's retry budget (requests and retries in the window).
    floor_budget: std::sync::Mutex<(u64, u64, Instant)>,
    /// The peer: async-openai pointed at the same server.
    openai: async_openai::Client<async_openai::config::OpenAIConfig>,
    /// The peer's raw counterpart (`reqwest::Client::new()`, its own pool).
    raw_openai: reqwest::Client,
    /// The model URL the peer's raw counterpart GETs.
    model_url: String,
}

impl Clients {
    /// Builds every client against the server at `addr`. Each side has its own connection
    /// pool, so none reuses connections another opened.
    fn new(addr: SocketAddr) -> Self {
        let base_url = format!("http://{addr}");
        let sdk = kallglot::Client::builder()
            .api_key(API_KEY)
            .base_url(base_url.clone())
            .build()
            .expect("SDK client");
        let sdk_like = || {
            reqwest::Client::builder()
                .http1_only()
                .user_agent(kallglot::default_user_agent())
                .timeout(kallglot::DEFAULT_TIMEOUT)
                .connect_timeout(kallglot::DEFAULT_CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .retry(reqwest::retry::never().max_retries_per_request(0))
                .build()
                .expect("SDK-like reqwest client")
        };
        let auth = HeaderValue::from_str(&format!("Bearer {API_KEY}")).expect("auth header");
        let openai = async_openai::Client::with_config(
            async_openai::config::OpenAIConfig::new()
                .with_api_base(format!("{base_url}/v1"))
                .with_api_key(API_KEY),
        );
        Self {
            sdk,
            raw: reqwest::Client::new(),
            raw_sdk_config: sdk_like(),
            generated_http: sdk_like(),
            executor: Arc::new(AuthOnly { auth: auth.clone() }),
            session_url: format!("{base_url}/v1/sessions/{SESSION_ID}"),
            model_url: format!("{base_url}/v1/models/{MODEL_ID}"),
            base_url,
            auth,
            floor_budget: std::sync::Mutex::new((0, 0, Instant::now())),
            openai,
            raw_openai: reqwest::Client::new(),
        }
    }

    /// Makes one call on `side` and checks it succeeded.
    async fn call(&self, side: Side) {
        match side {
            Side::Sdk => {
                let session = self
                    .sdk
                    .sessions()
                    .retrieve(SESSION_ID)
                    .await
                    .expect("SDK retrieve");
                black_box(session);
            }
            Side::Raw => {
                black_box(self.raw_call(&self.raw).await);
            }
            Side::RawSdkConfig => {
                black_box(self.raw_call(&self.raw_sdk_config).await);
            }
            Side::Generated => {
                let api = kallglot_api::Client::new_with_client(
                    &self.base_url,
                    self.generated_http.clone(),
                    kallglot_api::Executor::new(self.executor.clone()),
                );
                let session = api
                    .retrieve_session(SESSION_ID)
                    .await
                    .expect("generated retrieve");
                black_box(session.into_inner());
            }
            Side::Floor => {
                black_box(self.floor_call().await);
            }
            Side::OpenAi => {
                let model = self
                    .openai
                    .models()
                    .retrieve(MODEL_ID)
                    .await
                    .expect("async-openai retrieve");
                black_box(model);
            }
            Side::RawOpenAi => {
                let response = self
                    .raw_openai
                    .get(&self.model_url)
                    .header(AUTHORIZATION, self.auth.clone())
                    .send()
                    .await
                    .expect("raw model GET");
                assert!(response.status().is_success(), "raw model GET failed");
                let body = response.bytes().await.expect("raw model body");
                let model: RawModel = serde_json::from_slice(&body).expect("raw model decode");
                black_box(model);
            }
        }
    }

    /// The floor side: see [`Side::Floor`].
    async fn floor_call(&self) -> (RawSession, FloorMeta) {
        {
            let mut budget = self.floor_budget.lock().expect("budget");
            budget.0 += 1;
            budget.2 = Instant::now();
        }
        let url = format!("{}/v1/sessions/{}", self.base_url, SESSION_ID);
        let response = self
            .raw_sdk_config
            .get(url)
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await
            .expect("floor GET");
        let headers = response.headers();
        let number = |name: &'static str| {
            let name = reqwest::header::HeaderName::from_static(name);
            headers
                .get(&name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        let meta = FloorMeta {
            status: response.status().as_u16(),
            request_id: headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            numbers: [
                number("x-ratelimit-limit"),
                number("x-ratelimit-remaining"),
                number("x-ratelimit-reset"),
                number("x-api-credits-remaining"),
                number("x-api-credits-used"),
                number("retry-after"),
            ],
            received: Utc::now(),
        };
        assert!(response.status().is_success(), "floor GET failed");
        let body = response.bytes().await.expect("floor body");
        (serde_json::from_slice(&body).expect("floor decode"), meta)
    }

    /// The raw call: GET with the auth header, read the body, decode it.
    async fn raw_call(&self, http: &reqwest::Client) -> RawSession {
        let response = http
            .get(&self.session_url)
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await
            .expect("raw GET");
        assert!(response.status().is_success(), "raw GET failed");
        let body = response.bytes().await.expect("raw body");
        serde_json::from_slice(&body).expect("raw decode")
    }
}

/// Makes `calls` sequential calls on `side`, appending each call's duration to `out`.
async fn sequential(clients: &Clients, side: Side, calls: usize, out: &mut Vec<Duration>) {
    for _ in 0..calls {
        let started = Instant::now();
        clients.call(side).await;
        out.push(started.elapsed());
    }
}

/// One concurrent round on `side`: [`CONC_TASKS`] tasks of `calls_per_task` calls each;
/// returns the wall time divided by the number of calls.
async fn concurrent(clients: &Arc<Clients>, side: Side, calls_per_task: usize) -> Duration {
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..CONC_TASKS {
        let clients = clients.clone();
        tasks.spawn(async move {
            for _ in 0..calls_per_task {
                clients.call(side).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("concurrent task");
    }
    started.elapsed() / (CONC_TASKS * calls_per_task) as u32
}

/// The `p`-th percentile (0–100) of sorted samples, by nearest rank.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The median of unsorted ratios.
fn median_ratio(mut ratios: Vec<f64>) -> f64 {
    ratios.sort_by(f64::total_cmp);
    let n = ratios.len();
    if n % 2 == 1 {
        ratios[n / 2]
    } else {
        (ratios[n / 2 - 1] + ratios[n / 2]) / 2.0
    }
}

/// What one side measured in one mode.
#[derive(Default)]
struct Samples {
    /// Every sample (per call when sequential, per round when concurrent).
    all: Vec<Duration>,
    /// The median of each round, in round order (for paired ratios).
    round_medians: Vec<Duration>,
}

impl Samples {
    /// Median and p90 of all samples.
    fn summary(&self) -> (Duration, Duration) {
        let mut sorted = self.all.clone();
        sorted.sort();
        (percentile(&sorted, 50.0), percentile(&sorted, 90.0))
    }
}

/// Runs `rounds` rounds over `sides`, rotating which side goes first each round, and
/// returns each side's samples (in the order of `sides`).
async fn measure(
    clients: &Arc<Clients>,
    sides: &[Side],
    rounds: usize,
    concurrent_mode: bool,
) -> Vec<Samples> {
    let mut samples: Vec<Samples> = sides.iter().map(|_| Samples::default()).collect();
    for round in 0..rounds {
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            let s = &mut samples[i];
            if concurrent_mode {
                let per_call = concurrent(clients, sides[i], CONC_CALLS_PER_TASK).await;
                s.all.push(per_call);
                s.round_medians.push(per_call);
            } else {
                let mut calls = Vec::with_capacity(SEQ_CALLS);
                sequential(clients, sides[i], SEQ_CALLS, &mut calls).await;
                calls.sort();
                s.round_medians.push(percentile(&calls, 50.0));
                s.all.extend(calls);
            }
        }
    }
    samples
}

/// Microseconds with two decimals.
fn us(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e6)
}

/// One mode's results.
struct ModeResult {
    /// The mode's name in the tables.
    name: String,
    /// Per side (same order as the sides measured).
    samples: Vec<Samples>,
}

/// Prints the SDK-vs-raw table; `sdk` and `raw` index into each mode's samples.
fn print_main_table(modes: &[ModeResult], sdk: usize, raw: usize) {
    println!(
        "| Mode | SDK median (µs/call) | Raw median (µs/call) | SDK/raw (medians) \
         | SDK/raw (paired rounds) | SDK p90 | Raw p90 | ≤ {TARGET_RATIO:.2}? |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|:---:|");
    for mode in modes {
        let (sdk_med, sdk_p90) = mode.samples[sdk].summary();
        let (raw_med, raw_p90) = mode.samples[raw].summary();
        let ratio = sdk_med.as_secs_f64() / raw_med.as_secs_f64();
        let paired = median_ratio(
            mode.samples[sdk]
                .round_medians
                .iter()
                .zip(&mode.samples[raw].round_medians)
                .map(|(s, r)| s.as_secs_f64() / r.as_secs_f64())
                .collect(),
        );
        let verdict = if ratio <= TARGET_RATIO { "yes" } else { "no" };
        println!(
            "| {} | {} | {} | {ratio:.3} | {paired:.3} | {} | {} | {verdict} |",
            mode.name,
            us(sdk_med),
            us(raw_med),
            us(sdk_p90),
            us(raw_p90),
        );
    }
}

/// Prints each client's paired ratio to its own raw counterpart: the SDK against raw
/// reqwest retrieving the session, async-openai against raw reqwest retrieving the model.
fn print_peer_table(modes: &[ModeResult], ours: (usize, usize), peer: (usize, usize)) {
    let paired = |mode: &ModeResult, (side, raw): (usize, usize)| {
        median_ratio(
            mode.samples[side]
                .round_medians
                .iter()
                .zip(&mode.samples[raw].round_medians)
                .map(|(s, r)| s.as_secs_f64() / r.as_secs_f64())
                .collect(),
        )
    };
    println!("| Mode | SDK / its raw (paired) | async-openai / its raw (paired) | SDK ahead? |");
    println!("|---|---:|---:|:---:|");
    for mode in modes {
        let (sdk, openai) = (paired(mode, ours), paired(mode, peer));
        let ahead = if sdk < openai { "yes" } else { "no" };
        println!("| {} | {sdk:.3} | {openai:.3} | {ahead} |", mode.name);
    }
}

/// Prints every side's medians relative to the raw side (the `--breakdown` table).
fn print_breakdown(modes: &[ModeResult], sides: &[Side], raw: usize) {
    println!("| Variant | Mode | Median (µs/call) | − raw (µs/call) | / raw |");
    println!("|---|---|---:|---:|---:|");
    for (i, side) in sides.iter().enumerate() {
        for mode in modes {
            let (med, _) = mode.samples[i].summary();
            let (raw_med, _) = mode.samples[raw].summary();
            let delta = (med.as_secs_f64() - raw_med.as_secs_f64()) * 1e6;
            println!(
                "| {} | {} | {} | {delta:+.2} | {:.3} |",
                side.label(),
                mode.name,
                us(med),
                med.as_secs_f64() / raw_med.as_secs_f64(),
            );
        }
    }
}

/// `--profile SIDE` (`sdk`, `raw`, `raw-sdk-config`, `generated`, `floor`, `openai` or
/// `raw-openai`): runs only that side, 64 concurrent tasks (one call at a time with
/// `--sequential`), for about five seconds (or `--rounds N` rounds), and prints only its
/// time and allocations per call; meant to run under `perf`, `strace` or callgrind to see
/// where one side's time goes.
fn profile_side() -> Option<Side> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == "--profile")?;
    Some(match args.get(at + 1).map(String::as_str) {
        Some("sdk") => Side::Sdk,
        Some("raw") => Side::Raw,
        Some("raw-sdk-config") => Side::RawSdkConfig,
        Some("generated") => Side::Generated,
        Some("floor") => Side::Floor,
        Some("openai") => Side::OpenAi,
        Some("raw-openai") => Side::RawOpenAi,
        other => panic!(
            "--profile takes sdk, raw, raw-sdk-config, generated, floor, openai or raw-openai, \
             not {other:?}"
        ),
    })
}

/// Starts the server and returns the clients' runtime and the clients. The clients share
/// one single-threaded runtime on this thread; the server has the other thread, so every
/// side runs under the same scheduler and conditions.
fn setup() -> (tokio::runtime::Runtime, Arc<Clients>) {
    let addr = start_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    (runtime, Arc::new(Clients::new(addr)))
}

/// The `--profile` run: one side alone for about five seconds.
async fn profile(clients: &Arc<Clients>, side: Side) {
    let started = Instant::now();
    let allocations_before = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed);
    let one_at_a_time = std::env::args().any(|a| a == "--sequential");
    let per_round = if one_at_a_time {
        SEQ_CALLS
    } else {
        CONC_TASKS * CONC_CALLS_PER_TASK
    };
    // `--rounds N` makes the run a fixed amount of work instead of five seconds, so that
    // two runs of different lengths under `valgrind --tool=callgrind` give the exact
    // instructions per call (their difference over the difference in calls).
    let fixed_rounds: Option<usize> = std::env::args()
        .skip_while(|a| a != "--rounds")
        .nth(1)
        .map(|n| n.parse().expect("--rounds takes a number"));
    let mut rounds = 0usize;
    let mut discard = Vec::with_capacity(SEQ_CALLS);
    while match fixed_rounds {
        Some(n) => rounds < n,
        None => started.elapsed() < Duration::from_secs(5),
    } {
        if one_at_a_time {
            discard.clear();
            sequential(clients, side, SEQ_CALLS, &mut discard).await;
        } else {
            black_box(concurrent(clients, side, CONC_CALLS_PER_TASK).await);
        }
        rounds += 1;
    }
    let calls = rounds * per_round;
    let per_call = started.elapsed() / calls as u32;
    let allocations = ALLOCATIONS.load(std::sync::atomic::Ordering::Relaxed) - allocations_before;
    // `allocations N` is the raw count, for differencing two runs (as for instructions).
    println!(
        "{}: {calls} calls, {} µs/call, {:.1} allocations/call (client and server), \
         allocations {allocations}",
        side.label(),
        us(per_call),
        allocations as f64 / calls as f64
    );
}

fn main() {
    if let Some(side) = profile_side() {
        let (runtime, clients) = setup();
        runtime.block_on(profile(&clients, side));
        return;
    }
    let breakdown = std::env::args().any(|a| a == "--breakdown");
    let sides: &[Side] = if breakdown {
        &[
            Side::Sdk,
            Side::Raw,
            Side::OpenAi,
            Side::RawOpenAi,
            Side::RawSdkConfig,
            Side::Generated,
            Side::Floor,
        ]
    } else {
        &[Side::Sdk, Side::Raw, Side::OpenAi, Side::RawOpenAi]
    };
    let (sdk, raw, openai, raw_openai) = (0, 1, 2, 3);
    let (runtime, clients) = setup();

    runtime.block_on(async {
        // Warm-up: fill each pool with CONC_TASKS connections, then settle sequentially.
        for &side in sides {
            concurrent(&clients, side, 4).await;
            let mut discard = Vec::new();
            sequential(&clients, side, WARMUP_CALLS, &mut discard).await;
        }

        let seq = measure(&clients, sides, SEQ_ROUNDS, false).await;
        let conc = measure(&clients, sides, CONC_ROUNDS, true).await;
        let modes = [
            ModeResult {
                name: format!("sequential ({SEQ_ROUNDS} rounds × {SEQ_CALLS} calls)"),
                samples: seq,
            },
            ModeResult {
                name: format!(
                    "{CONC_TASKS} concurrent ({CONC_ROUNDS} rounds × {CONC_TASKS} tasks × \
                     {CONC_CALLS_PER_TASK} calls)"
                ),
                samples: conc,
            },
        ];

        println!();
        println!("## REST: `sessions().retrieve()` vs raw reqwest");
        println!();
        println!(
            "Loopback HTTP/1.1 keep-alive server on its own thread; clients on one \
             current-thread runtime; {} B payload; sides interleaved per round.",
            PAYLOAD.len()
        );
        println!();
        print_main_table(&modes, sdk, raw);
        println!();
        println!(
            "Sequential medians and p90 are over every call; concurrent ones are over rounds \
             (round wall time / calls in the round). Paired = median over rounds of the \
             SDK/raw ratio of that round's medians."
        );
        println!();
        print_peer_table(&modes, (sdk, raw), (openai, raw_openai));
        if breakdown {
            println!();
            print_breakdown(&modes, sides, raw);
        }
    });
}
