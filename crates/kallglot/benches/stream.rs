//! Stream benchmark: the SDK's real-time stream (`kallglot::stream::connect` +
//! `StreamSender::send_audio`) against a raw `tokio-tungstenite` + `serde_json` loop that
//! sends the same `audio.input` frames.
//!
//! Three clients are measured in the same run against one local WebSocket sink:
//! - `sdk`: the SDK with `StreamOptions::default()`;
//! - `raw`: one task per connection that polls the socket for input and sends a frame per
//!   tick, on `connect_async_with_config` with the default `WebSocketConfig`;
//! - `raw-tuned`: the same loop with the SDK's buffer settings, which separates what the
//!   buffers cost from what the SDK's own code costs.
//!
//! The sink is this binary re-executed in a separate process (`KALLGLOT_BENCH_ROLE=sink`),
//! so the CPU time and memory read from `/proc/self` belong to the client alone. Two
//! measurements:
//! - throughput: 1 stream, then 100 concurrent streams, send 20 ms μ-law frames as fast
//!   as backpressure allows. Frames per second and client CPU per frame (user, and user +
//!   system) are measured in rounds that interleave the clients (a different one goes
//!   first in each round); medians are reported.
//! - capacity: 1,000 concurrent real-time streams send one 100 ms frame every 100 ms for
//!   10 s. Each client runs in a fresh child process (`KALLGLOT_BENCH_ROLE=capacity`) so
//!   that its peak RSS is its own: client CPU over the window as a share of one core, and
//!   (peak RSS − RSS before connecting) / streams.
//!
//! The capacity measurement runs over `ws://` for every client, then over `wss://` (the
//! sink also terminates TLS with a certificate from a test CA, which the clients trust)
//! for the SDK and the tuned raw loop.
//!
//! Run with `ulimit -n 8192; cargo bench -p kallglot --bench stream`. `-- --quick` runs a
//! short smoke version; `-- --rounds N`, `-- --capacity-streams N` and
//! `-- --capacity-seconds N` change the sizes; `-- --profile sdk|raw|raw-tuned STREAMS
//! [--frames N]` runs one throughput run, for `perf` or `valgrind --tool=callgrind`.
//! Results print as markdown on stdout.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use chrono::{TimeDelta, Utc};
use futures_util::{SinkExt, StreamExt};
use kallglot::model::{StreamCredentials, StreamToken};
use kallglot::stream::{MulawAudio, StreamOptions};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{Barrier, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// Selects what this process is: the driver (unset), the sink, or a capacity child.
const ROLE_ENV: &str = "KALLGLOT_BENCH_ROLE";
/// The sink's port, for capacity children.
const PORT_ENV: &str = "KALLGLOT_BENCH_PORT";
/// `sdk`, `raw` or `raw-tuned`, for capacity children.
const SIDE_ENV: &str = "KALLGLOT_BENCH_SIDE";
/// Streams a capacity child opens.
const STREAMS_ENV: &str = "KALLGLOT_BENCH_STREAMS";
/// Seconds a capacity child measures.
const SECONDS_ENV: &str = "KALLGLOT_BENCH_SECONDS";
/// The sink's TLS port, for capacity children over `wss://`.
const TLS_PORT_ENV: &str = "KALLGLOT_BENCH_TLS_PORT";
/// The test CA the sink's certificate chains to (PEM), for capacity children.
const CA_ENV: &str = "KALLGLOT_BENCH_CA";
/// The stream token both sides send (the sink does not check it).
const TOKEN: &str = "kst_test_x";
/// Kernel clock ticks per second in `/proc/self/stat` (USER_HZ, 100 on Linux).
const CLOCK_TICKS: f64 = 100.0;
/// Throughput target: SDK CPU per frame at most this multiple of raw.
const TARGET_CPU_RATIO: f64 = 1.15;
/// Capacity target: RSS per open stream, KiB.
const TARGET_KIB_PER_STREAM: f64 = 32.0;
/// Capacity target: client CPU for all streams, percent of one core.
const TARGET_CORE_PERCENT: f64 = 25.0;
/// Handshakes in flight at once while a capacity child opens its streams.
const CONNECT_CONCURRENCY: usize = 64;
/// Capacity: time between the last stream opening and the start of the window.
const CAPACITY_WARMUP: Duration = Duration::from_secs(1);

fn main() {
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("sink") => sink_main(),
        Ok("capacity") => capacity_main(),
        _ => driver_main(),
    }
}

/// Which client is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// `kallglot::stream`, default options.
    Sdk,
    /// `tokio-tungstenite` with its default `WebSocketConfig` + `serde_json`.
    Raw,
    /// The same raw loop with the SDK's socket buffer settings, to separate what the
    /// buffers cost from what the SDK's code costs.
    RawTuned,
}

impl Side {
    /// Every side, in the order of the first round.
    const ALL: [Self; 3] = [Self::Sdk, Self::Raw, Self::RawTuned];

    fn label(self) -> &'static str {
        match self {
            Self::Sdk => "sdk",
            Self::Raw => "raw",
            Self::RawTuned => "raw-tuned",
        }
    }

    fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|side| side.label() == s)
            .unwrap_or_else(|| panic!("unknown side {s:?}"))
    }

    /// The `WebSocketConfig` of a raw side: the default, or small buffers like the SDK's
    /// (8 KiB reads, write-through, 256 KiB write bound; the SDK's own framing in
    /// `crates/kallglot/src/stream/socket.rs` now reads 4 KiB at a time).
    fn raw_config(self) -> Option<WebSocketConfig> {
        (self == Self::RawTuned).then(|| {
            WebSocketConfig::default()
                .read_buffer_size(8 * 1024)
                .write_buffer_size(0)
                .max_write_buffer_size(256 * 1024)
                .max_message_size(Some(1024 * 1024))
                .max_frame_size(Some(1024 * 1024))
        })
    }

    /// Spawns one stream of this side.
    fn spawn(
        self,
        tasks: &mut JoinSet<()>,
        job: Job,
        pace: impl FnOnce() -> Pace + Send + 'static,
    ) {
        match self {
            Self::Sdk => tasks.spawn(sdk_stream(job, pace)),
            Self::Raw | Self::RawTuned => tasks.spawn(raw_stream(job, self.raw_config(), pace)),
        };
    }
}

/// Sizes of one run, set from the command line.
struct Plan {
    rounds: usize,
    frames_single: u64,
    streams_multi: usize,
    frames_per_multi_stream: u64,
    capacity_streams: usize,
    capacity_seconds: u64,
}

impl Plan {
    fn from_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let mut plan = if quick {
            Self {
                rounds: 1,
                frames_single: 5_000,
                streams_multi: 100,
                frames_per_multi_stream: 50,
                capacity_streams: 100,
                capacity_seconds: 2,
            }
        } else {
            Self {
                rounds: 5,
                frames_single: 400_000,
                streams_multi: 100,
                frames_per_multi_stream: 4_000,
                capacity_streams: 1_000,
                capacity_seconds: 10,
            }
        };
        let value = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{name} takes a number"))
                })
        };
        if let Some(n) = value("--rounds") {
            plan.rounds = n as usize;
        }
        if let Some(n) = value("--capacity-streams") {
            plan.capacity_streams = n as usize;
        }
        if let Some(n) = value("--capacity-seconds") {
            plan.capacity_seconds = n;
        }
        if let Some(n) = value("--frames") {
            plan.frames_single = n;
        }
        plan
    }
}

// ---------------------------------------------------------------------------------------
// /proc readings
// ---------------------------------------------------------------------------------------

/// Process CPU time so far: (user, system) seconds, from `/proc/self/stat`.
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name (which may contain spaces) start at field 3, state.
    let rest = &stat[stat.rfind(')').expect("stat has a command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields[i].parse::<f64>().expect("a tick count") / CLOCK_TICKS;
    // utime is field 14 and stime field 15, i.e. 11 and 12 after the state.
    (ticks(11), ticks(12))
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), in KiB.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
}

/// CPU used between two readings.
#[derive(Debug, Clone, Copy)]
struct CpuDelta {
    user: f64,
    sys: f64,
}

fn cpu_since(start: (f64, f64)) -> CpuDelta {
    let now = cpu_seconds();
    CpuDelta {
        user: now.0 - start.0,
        sys: now.1 - start.1,
    }
}

// ---------------------------------------------------------------------------------------
// The sink
// ---------------------------------------------------------------------------------------

/// The sink's TLS setup: a test CA and a certificate for 127.0.0.1 signed by it.
fn sink_tls() -> (tokio_rustls::TlsAcceptor, String) {
    let ca_key = rcgen::KeyPair::generate().expect("a CA key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("a CA");
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("parameters")
        .signed_by(&key, &ca)
        .expect("a certificate");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("a server config");
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), ca.pem())
}

/// Serves one sink connection: reads and discards every frame.
async fn sink_connection<S>(socket: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // Small buffers: the sink's memory is not measured, but 1,000 connections at
    // 128 KiB each would be wasteful.
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024);
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(socket, Some(config)).await else {
        return;
    };
    while let Some(Ok(_)) = ws.next().await {}
}

/// The sink process: accepts WebSocket connections on 127.0.0.1, on a plain and on a TLS
/// port, reads and discards every frame, prints both ports and the test CA on stdout, and
/// exits when its stdin closes (the driver ended).
fn sink_main() {
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("an address").port();
        let tls_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let tls_port = tls_listener.local_addr().expect("an address").port();
        let (acceptor, ca_pem) = sink_tls();
        // One line: the ports, then the CA with its line breaks as `|`.
        println!("{port} {tls_port} {}", ca_pem.trim_end().replace('\n', "|"));
        std::io::stdout().flush().expect("stdout");
        tokio::spawn(async move {
            while let Ok((socket, _)) = tls_listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = socket.set_nodelay(true);
                    if let Ok(tls) = acceptor.accept(socket).await {
                        sink_connection(tls).await;
                    }
                });
            }
        });
        loop {
            let socket = match listener.accept().await {
                Ok((socket, _)) => socket,
                Err(e) => {
                    eprintln!("sink: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let _ = socket.set_nodelay(true);
                sink_connection(socket).await;
            });
        }
    });
}

/// The running sink: its plain and TLS ports and the CA its certificate chains to.
struct Sink {
    child: Child,
    port: u16,
    tls_port: u16,
    ca_pem: String,
}

/// Starts the sink process.
fn start_sink() -> Sink {
    let mut child = Command::new(std::env::current_exe().expect("the bench binary"))
        .env(ROLE_ENV, "sink")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the sink");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("the sink's stdout"))
        .read_line(&mut line)
        .expect("the sink's port");
    let mut parts = line.trim().splitn(3, ' ');
    let mut next = || parts.next().expect("the sink prints its ports and CA");
    let port = next().parse().expect("a port");
    let tls_port = next().parse().expect("a port");
    let ca_pem = next().replace('|', "\n") + "\n";
    Sink {
        child,
        port,
        tls_port,
        ca_pem,
    }
}

// ---------------------------------------------------------------------------------------
// The clients
// ---------------------------------------------------------------------------------------

/// Where the clients connect: the sink's plain port, or its TLS port with the CA to
/// trust.
#[derive(Clone)]
struct Endpoint {
    port: u16,
    /// The CA PEM, when this is the TLS port.
    tls: Option<Arc<String>>,
}

impl Endpoint {
    /// The stream URL, without the token.
    fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        format!(
            "{scheme}://127.0.0.1:{}/v1/sessions/sess_bench/connect",
            self.port
        )
    }
}

/// The SDK side's connector, one per process like one client per app: it may reach the
/// sink on loopback and trusts the sink's test CA.
fn sdk_connector(ca_pem: Option<&str>) -> &'static kallglot::stream::Connector {
    static CONNECTOR: std::sync::OnceLock<kallglot::stream::Connector> = std::sync::OnceLock::new();
    CONNECTOR.get_or_init(|| {
        let mut builder = kallglot::Client::builder().allow_stream_host("127.0.0.1");
        if let Some(pem) = ca_pem {
            builder = builder.add_root_certificate_pem(pem);
        }
        builder
            .build_stream_connector()
            .unwrap_or_else(|e| fail(&format!("sdk connector: {e}")))
    })
}

/// The raw side's TLS client config: the sink's CA, the same provider as the SDK.
fn raw_tls(ca_pem: &str) -> tokio_rustls::TlsConnector {
    static CONFIG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        use rustls_pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.expect("a CA certificate")).expect("a root");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    });
    tokio_rustls::TlsConnector::from(config.clone())
}

/// How a stream paces its frames.
enum Pace {
    /// As fast as the connection takes them.
    Flood,
    /// One frame per tick.
    RealTime(tokio::time::Interval),
}

impl Pace {
    /// A real-time pace: one frame every `period`, the first at `start`.
    fn real_time(start: Instant, period: Duration) -> Self {
        let mut interval = tokio::time::interval_at(start, period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Self::RealTime(interval)
    }

    async fn tick(&mut self) {
        match self {
            Self::Flood => {}
            Self::RealTime(interval) => {
                interval.tick().await;
            }
        }
    }
}

/// What one stream does after connecting.
struct Job {
    endpoint: Endpoint,
    /// Frame size in bytes of μ-law (8 per ms).
    frame_bytes: usize,
    /// Frames to send; `None`: until `stop` is set.
    frames: Option<u64>,
    /// Set to end an open-ended stream.
    stop: Arc<AtomicBool>,
    /// Counts frames handed to the client.
    sent: Arc<AtomicU64>,
    /// Everyone waits here once connected.
    ready: Arc<Barrier>,
    /// Limits concurrent handshakes, when set.
    connecting: Option<Arc<Semaphore>>,
}

impl Job {
    fn more(&self, sent: u64) -> bool {
        match self.frames {
            Some(n) => sent < n,
            None => !self.stop.load(Ordering::Relaxed),
        }
    }
}

/// One SDK stream: connects (its worker owns the socket), waits for the others, sends.
/// `Events` is dropped: the sink sends nothing back.
async fn sdk_stream(job: Job, pace: impl FnOnce() -> Pace) {
    let credentials = StreamCredentials::new(
        job.endpoint.url(),
        StreamToken::new(TOKEN),
        Utc::now() + TimeDelta::hours(1),
    );
    let permit = match &job.connecting {
        Some(s) => Some(s.clone().acquire_owned().await.expect("semaphore")),
        None => None,
    };
    let (sender, events) = sdk_connector(job.endpoint.tls.as_deref().map(String::as_str))
        .connect(&credentials, StreamOptions::default())
        .await
        .unwrap_or_else(|e| fail(&format!("sdk connect: {e}")));
    drop((events, permit));
    job.ready.wait().await;
    let template = vec![0xFF_u8; job.frame_bytes];
    let mut pace = pace();
    let mut n = 0;
    while job.more(n) {
        pace.tick().await;
        sender
            .send_audio(MulawAudio::from_mulaw_bytes(template.clone()))
            .await
            .unwrap_or_else(|e| fail(&format!("sdk send: {e}")));
        n += 1;
        job.sent.fetch_add(1, Ordering::Relaxed);
    }
    // Dropping the last sender lets the worker write what is queued, close and stop.
}

/// The `audio.input` message as a raw client would declare it.
#[derive(Serialize)]
struct RawAudioInput<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    sequence: u64,
    timestamp_ms: u64,
    speaker: &'static str,
    audio: RawAudio<'a>,
}

/// The `audio` object of [`RawAudioInput`].
#[derive(Serialize)]
struct RawAudio<'a> {
    encoding: &'static str,
    sample_rate_hz: u32,
    payload: &'a str,
}

/// One raw stream: `connect_async_with_config` with `config` (Nagle off, as a real-time
/// client should), then one task that reads whatever arrives and sends a `serde_json` +
/// base64 frame per tick.
async fn raw_stream(job: Job, config: Option<WebSocketConfig>, pace: impl FnOnce() -> Pace) {
    let url = format!("{}?token={TOKEN}", job.endpoint.url());
    let permit = match &job.connecting {
        Some(s) => Some(s.clone().acquire_owned().await.expect("semaphore")),
        None => None,
    };
    match job.endpoint.tls.clone() {
        None => {
            let (ws, _) = tokio_tungstenite::connect_async_with_config(url, config, true)
                .await
                .unwrap_or_else(|e| fail(&format!("raw connect: {e}")));
            drop(permit);
            raw_send(ws, job, pace).await;
        }
        Some(ca_pem) => {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", job.endpoint.port))
                .await
                .unwrap_or_else(|e| fail(&format!("raw connect: {e}")));
            let _ = tcp.set_nodelay(true);
            let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("a name");
            let tls = raw_tls(&ca_pem)
                .connect(name, tcp)
                .await
                .unwrap_or_else(|e| fail(&format!("raw TLS: {e}")));
            let (ws, _) = tokio_tungstenite::client_async_with_config(url, tls, config)
                .await
                .unwrap_or_else(|e| fail(&format!("raw handshake: {e}")));
            drop(permit);
            raw_send(ws, job, pace).await;
        }
    }
}

/// The raw loop proper, over any connection.
async fn raw_send<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    job: Job,
    pace: impl FnOnce() -> Pace,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    job.ready.wait().await;
    let template = vec![0xFF_u8; job.frame_bytes];
    let frame_ms = (job.frame_bytes / 8) as u64;
    let started_ms = Utc::now().timestamp_millis() as u64;
    let mut pace = pace();
    let mut n = 0;
    while job.more(n) {
        tokio::select! {
            biased;
            incoming = ws.next() => match incoming {
                Some(Ok(_)) => continue,
                _ => fail("raw: the sink closed the connection"),
            },
            () = pace.tick() => {}
        }
        let audio = template.clone();
        let payload = base64::engine::general_purpose::STANDARD.encode(&audio);
        let message = RawAudioInput {
            kind: "audio.input",
            sequence: n + 1,
            timestamp_ms: started_ms + n * frame_ms,
            speaker: "customer",
            audio: RawAudio {
                encoding: "mulaw",
                sample_rate_hz: 8000,
                payload: &payload,
            },
        };
        let text = serde_json::to_string(&message).expect("serializes");
        ws.send(Message::text(text))
            .await
            .unwrap_or_else(|e| fail(&format!("raw send: {e}")));
        n += 1;
        job.sent.fetch_add(1, Ordering::Relaxed);
    }
    let _ = ws.close(None).await;
}

fn fail(message: &str) -> ! {
    eprintln!("stream bench: {message}");
    std::process::exit(1)
}

/// Waits until every spawned task has finished (the SDK's workers have no handle).
async fn wait_for_tasks() {
    let metrics = tokio::runtime::Handle::current().metrics();
    while metrics.num_alive_tasks() > 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

// ---------------------------------------------------------------------------------------
// Throughput
// ---------------------------------------------------------------------------------------

/// One throughput run.
#[derive(Debug, Clone, Copy)]
struct Throughput {
    frames_per_s: f64,
    user_us: f64,
    total_us: f64,
}

/// `streams` streams each send `frames` 20 ms frames as fast as they can; the clock and
/// the CPU readings start once all are connected and stop when every task has finished
/// (everything written and closed).
async fn throughput(side: Side, endpoint: &Endpoint, streams: usize, frames: u64) -> Throughput {
    let ready = Arc::new(Barrier::new(streams + 1));
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..streams {
        let job = Job {
            endpoint: endpoint.clone(),
            frame_bytes: 160,
            frames: Some(frames),
            stop: Arc::new(AtomicBool::new(false)),
            sent: sent.clone(),
            ready: ready.clone(),
            connecting: None,
        };
        side.spawn(&mut tasks, job, || Pace::Flood);
    }
    ready.wait().await;
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    while let Some(result) = tasks.join_next().await {
        result.expect("a stream task");
    }
    wait_for_tasks().await;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_since(cpu0);
    let total = sent.load(Ordering::Relaxed) as f64;
    Throughput {
        frames_per_s: total / wall,
        user_us: cpu.user * 1e6 / total,
        total_us: (cpu.user + cpu.sys) * 1e6 / total,
    }
}

// ---------------------------------------------------------------------------------------
// Capacity
// ---------------------------------------------------------------------------------------

/// What a capacity child reports.
#[derive(Debug, Clone, Copy)]
struct Capacity {
    streams: f64,
    seconds: f64,
    frames: f64,
    user: f64,
    sys: f64,
    baseline_kib: f64,
    steady_kib: f64,
    hwm_kib: f64,
}

impl Capacity {
    fn to_line(self) -> String {
        format!(
            "RESULT {} {} {} {} {} {} {} {}",
            self.streams,
            self.seconds,
            self.frames,
            self.user,
            self.sys,
            self.baseline_kib,
            self.steady_kib,
            self.hwm_kib
        )
    }

    fn from_line(line: &str) -> Option<Self> {
        let v: Vec<f64> = line
            .strip_prefix("RESULT ")?
            .split(' ')
            .map(|x| x.parse().ok())
            .collect::<Option<_>>()?;
        let [
            streams,
            seconds,
            frames,
            user,
            sys,
            baseline_kib,
            steady_kib,
            hwm_kib,
        ] = v[..]
        else {
            return None;
        };
        Some(Self {
            streams,
            seconds,
            frames,
            user,
            sys,
            baseline_kib,
            steady_kib,
            hwm_kib,
        })
    }

    fn core_percent(self) -> f64 {
        (self.user + self.sys) / self.seconds * 100.0
    }

    fn user_core_percent(self) -> f64 {
        self.user / self.seconds * 100.0
    }

    fn peak_kib_per_stream(self) -> f64 {
        (self.hwm_kib - self.baseline_kib) / self.streams
    }

    fn steady_kib_per_stream(self) -> f64 {
        (self.steady_kib - self.baseline_kib) / self.streams
    }

    fn expected_frames(self) -> f64 {
        self.streams * self.seconds * 10.0
    }
}

/// A capacity child: opens the streams, lets them run in real time, measures a window.
fn capacity_main() {
    let env = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"));
    let side = Side::parse(&env(SIDE_ENV));
    let endpoint = match std::env::var(TLS_PORT_ENV) {
        Ok(tls_port) => Endpoint {
            port: tls_port.parse().expect("a port"),
            tls: Some(Arc::new(env(CA_ENV))),
        },
        Err(_) => Endpoint {
            port: env(PORT_ENV).parse().expect("a port"),
            tls: None,
        },
    };
    let streams: usize = env(STREAMS_ENV).parse().expect("a stream count");
    let seconds: u64 = env(SECONDS_ENV).parse().expect("seconds");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let result = runtime.block_on(capacity(
        side,
        &endpoint,
        streams,
        Duration::from_secs(seconds),
    ));
    println!("{}", result.to_line());
    std::io::stdout().flush().expect("stdout");
    // Exit without closing 1,000 connections one by one: the window is over.
    std::process::exit(0);
}

async fn capacity(side: Side, endpoint: &Endpoint, streams: usize, window: Duration) -> Capacity {
    let baseline_kib = status_kib("VmRSS");
    let ready = Arc::new(Barrier::new(streams + 1));
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let connecting = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let period = Duration::from_millis(100);
    // Everyone starts one period after the barrier opens, staggered evenly across the
    // period; whoever gets past the barrier first fixes the start.
    let start = Arc::new(std::sync::OnceLock::<Instant>::new());
    let mut tasks = JoinSet::new();
    for i in 0..streams {
        let job = Job {
            endpoint: endpoint.clone(),
            frame_bytes: 800,
            frames: None,
            stop: stop.clone(),
            sent: sent.clone(),
            ready: ready.clone(),
            connecting: Some(connecting.clone()),
        };
        let start = start.clone();
        let offset = period * i as u32 / streams as u32;
        let pace = move || {
            let at = *start.get_or_init(|| Instant::now() + period);
            Pace::real_time(at + offset, period)
        };
        side.spawn(&mut tasks, job, pace);
    }
    ready.wait().await;
    tokio::time::sleep(period + CAPACITY_WARMUP).await;
    let frames0 = sent.load(Ordering::Relaxed);
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let mut steady_kib = 0;
    while t0.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(250)).await;
        steady_kib = steady_kib.max(status_kib("VmRSS"));
    }
    let seconds = t0.elapsed().as_secs_f64();
    let cpu = cpu_since(cpu0);
    let frames = sent.load(Ordering::Relaxed) - frames0;
    stop.store(true, Ordering::Relaxed);
    Capacity {
        streams: streams as f64,
        seconds,
        frames: frames as f64,
        user: cpu.user,
        sys: cpu.sys,
        baseline_kib: baseline_kib as f64,
        steady_kib: steady_kib as f64,
        hwm_kib: status_kib("VmHWM") as f64,
    }
}

/// Runs one capacity child and parses its report.
fn run_capacity(side: Side, endpoint: &Endpoint, streams: usize, seconds: u64) -> Capacity {
    let mut command = Command::new(std::env::current_exe().expect("the bench binary"));
    command
        .env(ROLE_ENV, "capacity")
        .env(SIDE_ENV, side.label())
        .env(PORT_ENV, endpoint.port.to_string())
        .env(STREAMS_ENV, streams.to_string())
        .env(SECONDS_ENV, seconds.to_string())
        .stderr(Stdio::inherit());
    if let Some(ca) = &endpoint.tls {
        command
            .env(TLS_PORT_ENV, endpoint.port.to_string())
            .env(CA_ENV, ca.as_str());
    }
    let output = command.output().expect("run a capacity child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(Capacity::from_line)
        .unwrap_or_else(|| fail(&format!("capacity child ({side:?}) reported nothing")))
}

// ---------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn driver_main() {
    let plan = Plan::from_args();
    let mut sink = start_sink();
    let plain = Endpoint {
        port: sink.port,
        tls: None,
    };
    let tls = Endpoint {
        port: sink.tls_port,
        tls: Some(Arc::new(sink.ca_pem.clone())),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");

    // `--profile SIDE STREAMS`: one throughput run of one side, for perf or strace.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--profile") {
        let side = Side::parse(args.get(i + 1).map_or("sdk", String::as_str));
        let streams: usize = args.get(i + 2).and_then(|n| n.parse().ok()).unwrap_or(1);
        let frames = plan.frames_single / streams as u64;
        let r = runtime.block_on(throughput(side, &plain, streams, frames));
        println!("{side:?} × {streams}: {r:?}");
        drop(sink.child.stdin.take());
        let _ = sink.child.wait();
        return;
    }

    // Warm-up: every side, both shapes, small.
    runtime.block_on(async {
        for side in Side::ALL {
            throughput(side, &plain, 1, 2_000).await;
            throughput(side, &plain, plan.streams_multi, 20).await;
        }
    });

    let shapes = [
        (1, plan.frames_single),
        (plan.streams_multi, plan.frames_per_multi_stream),
    ];
    // results[shape][round][side]
    let mut results = vec![Vec::<[Throughput; 3]>::new(); shapes.len()];
    for round in 0..plan.rounds {
        // A different side goes first in each round.
        let mut order = Side::ALL;
        order.rotate_left(round % Side::ALL.len());
        for (s, &(streams, frames)) in shapes.iter().enumerate() {
            let mut row = [None; 3];
            for side in order {
                let r = runtime.block_on(throughput(side, &plain, streams, frames));
                eprintln!(
                    "round {round} {streams:>3} stream(s) {:>9}: {:>7.0} frames/s, {:.2} µs user, {:.2} µs user+sys per frame",
                    side.label(),
                    r.frames_per_s,
                    r.user_us,
                    r.total_us
                );
                row[side as usize] = Some(r);
            }
            results[s].push(row.map(|r| r.expect("every side ran")));
        }
    }
    drop(runtime);

    // Every side over ws://, then the SDK and the tuned raw loop over wss://.
    let runs = Side::ALL
        .into_iter()
        .map(|side| (side, &plain))
        .chain([(Side::Sdk, &tls), (Side::RawTuned, &tls)]);
    let capacity: Vec<(Side, bool, Capacity)> = runs
        .map(|(side, endpoint)| {
            let c = run_capacity(side, endpoint, plan.capacity_streams, plan.capacity_seconds);
            let wss = endpoint.tls.is_some();
            eprintln!("capacity {} (wss: {wss}): {c:?}", side.label());
            (side, wss, c)
        })
        .collect();

    drop(sink.child.stdin.take());
    let _ = sink.child.wait();
    report(&plan, &shapes, &results, &capacity);
}

/// Prints the results as markdown.
fn report(
    plan: &Plan,
    shapes: &[(usize, u64)],
    results: &[Vec<[Throughput; 3]>],
    capacity: &[(Side, bool, Capacity)],
) {
    println!(
        "### Throughput (20 ms frames, median of {} rounds)\n",
        plan.rounds
    );
    println!(
        "| streams × frames | side | frames/s | CPU user µs/frame | CPU user+sys µs/frame |\n|---:|---|---:|---:|---:|"
    );
    for (rounds, &(streams, frames)) in results.iter().zip(shapes) {
        for side in Side::ALL {
            let of = |f: fn(&Throughput) -> f64| {
                median(rounds.iter().map(|r| f(&r[side as usize])).collect())
            };
            println!(
                "| {streams} × {frames} | {} | {:.0} | {:.2} | {:.2} |",
                side.label(),
                of(|t| t.frames_per_s),
                of(|t| t.user_us),
                of(|t| t.total_us),
            );
        }
    }
    println!(
        "\nSDK ÷ raw side, median of the per-round ratios (target: SDK CPU per frame ≤ {TARGET_CPU_RATIO}× raw, judged on user time):\n"
    );
    println!(
        "| streams | versus | CPU user | CPU user+sys | frames/s | verdict (user) |\n|---:|---|---:|---:|---:|---|"
    );
    for (rounds, &(streams, _)) in results.iter().zip(shapes) {
        for other in [Side::Raw, Side::RawTuned] {
            let ratio = |f: fn(&Throughput) -> f64| {
                median(
                    rounds
                        .iter()
                        .map(|r| f(&r[Side::Sdk as usize]) / f(&r[other as usize]))
                        .collect(),
                )
            };
            let user = ratio(|t| t.user_us);
            // The target is set against the raw loop as users write it (default config);
            // the tuned loop isolates the SDK's own code and is shown for context.
            let judged = match other {
                Side::RawTuned => "context only",
                _ => verdict(user <= TARGET_CPU_RATIO),
            };
            println!(
                "| {streams} | {} | {user:.2}× | {:.2}× | {:.2}× | {judged} |",
                other.label(),
                ratio(|t| t.total_us),
                ratio(|t| t.frames_per_s),
            );
        }
    }

    println!(
        "\n### Capacity ({} real-time streams, 100 ms frames, {} s window)\n",
        plan.capacity_streams, plan.capacity_seconds
    );
    println!(
        "| side | transport | frames sent / expected | CPU s user + sys | % of one core (user only) | RSS MiB before → steady / peak | KiB per stream steady / peak |\n|---|---|---:|---:|---:|---:|---:|"
    );
    for (side, wss, c) in capacity {
        println!(
            "| {} | {} | {:.0} / {:.0} | {:.2} + {:.2} | {:.1}% ({:.1}%) | {:.1} → {:.1} / {:.1} | {:.1} / {:.1} |",
            side.label(),
            if *wss { "wss" } else { "ws" },
            c.frames,
            c.expected_frames(),
            c.user,
            c.sys,
            c.core_percent(),
            c.user_core_percent(),
            c.baseline_kib / 1024.0,
            c.steady_kib / 1024.0,
            c.hwm_kib / 1024.0,
            c.steady_kib_per_stream(),
            c.peak_kib_per_stream(),
        );
    }
    for (_, wss, sdk) in capacity.iter().filter(|(s, _, _)| *s == Side::Sdk) {
        println!(
            "\nSDK over {}: {:.1} KiB peak RSS per stream (target ≤ {TARGET_KIB_PER_STREAM} KiB: {}); {:.1}% of one core (target ≤ {TARGET_CORE_PERCENT}%: {}).",
            if *wss { "wss" } else { "ws" },
            sdk.peak_kib_per_stream(),
            verdict(sdk.peak_kib_per_stream() <= TARGET_KIB_PER_STREAM),
            sdk.core_percent(),
            verdict(sdk.core_percent() <= TARGET_CORE_PERCENT),
        );
    }
}
