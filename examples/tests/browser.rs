//! The browser streaming example in a real browser: the emulator, the example's backend
//! and headless Chromium (Debian's `chromium`, installed by `.ci/run`) with a fake
//! microphone playing a generated 440 Hz tone, driven over the DevTools protocol.
//!
//! - The main run: the page logs in, survives a refused (expired) stream token by fetching
//!   fresh credentials, streams μ-law 8 kHz `audio.input` at a real-time pace, shows
//!   transcript lines with translations and ends the session; the API key appears in no
//!   page, request, response, WebSocket frame, console message or log, and the page reaches
//!   nothing beyond loopback. A screenshot is saved as `target/browser-example.png`.
//! - A token that expires while the microphone prompt is open is replaced before use; a
//!   refused frame is shown while streaming goes on; a REST end stops the page.
//! - A page whose every token is refused gives up after three attempts with a clear error.
//!
//! Everything listens on 127.0.0.1; the browser resolves no other host name.

mod browser {
    pub mod cdp;
    pub mod chromium;
}

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use browser::cdp::{Cdp, Page};
use browser::chromium::Chromium;
use kallglot::model::StreamCredentials;
use kallglot::stream::audio;
use kallglot_examples::browser::{DemoBackend, RunningBackend};
use kallglot_mock::{Fault, MockServer, MockServerBuilder, Route};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse";
/// The fake microphone's tone.
const TONE_HZ: f64 = 440.0;
/// Audio the test waits to have been received before it stops the page.
const STREAMED: Duration = Duration::from_secs(3);
/// The longest any step of the page may take.
const STEP: Duration = Duration::from_secs(30);

/// A `tracing` writer that keeps everything logged, to search for secrets.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The target directory (`CARGO_TARGET_TMPDIR` is its `tmp`).
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .to_path_buf()
}

/// Writes a 48 kHz mono WAV of a steady tone: what the fake microphone plays (looped).
fn write_tone(path: &Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(path, spec).unwrap();
    // Whole periods, so the loop has no click: 440 Hz is 2200 periods in 5 s.
    for n in 0..48_000 * 5 {
        let t = f64::from(n) / 48_000.0;
        let sample = 0.5 * (2.0 * std::f64::consts::PI * TONE_HZ * t).sin();
        wav.write_sample((sample * f64::from(i16::MAX)) as i16)
            .unwrap();
    }
    wav.finalize().unwrap();
}

/// The `audio.input` messages the page sent, as the browser's network log saw them.
fn audio_inputs(cdp: &Cdp) -> Vec<Value> {
    cdp.events("Network.webSocketFrameSent")
        .iter()
        .filter_map(|e| e["params"]["response"]["payloadData"].as_str())
        .filter_map(|text| serde_json::from_str::<Value>(text).ok())
        .filter(|m| m["type"] == "audio.input")
        .collect()
}

/// Zero crossings per second of 8 kHz samples: twice the frequency of a pure tone.
fn crossings_per_second(samples: &[i16]) -> f64 {
    let crossings = samples
        .windows(2)
        .filter(|w| (w[0] < 0) != (w[1] < 0))
        .count();
    crossings as f64 * 8000.0 / samples.len() as f64
}

/// Everything a test drives: the emulator, the backend, the browser. One at a time, so
/// that no two browsers compete for the two cores while a test measures a pace.
struct Rig {
    emulator: MockServer,
    backend: DemoBackend,
    server: RunningBackend,
    chromium: Chromium,
    cdp: Cdp,
    logs: Captured,
    _scratch: tempfile::TempDir,
    _one_at_a_time: tokio::sync::MutexGuard<'static, ()>,
}

impl Rig {
    async fn start(emulator: MockServerBuilder) -> Self {
        static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
        let one_at_a_time = ONE_AT_A_TIME.lock().await;
        let logs = captured_logs();
        let emulator = emulator.start().await.unwrap();
        let client = kallglot::Client::builder()
            .api_key(emulator.api_key())
            .base_url(emulator.url())
            .build()
            .unwrap();
        let backend = DemoBackend::new(client, PASSWORD);
        let server = backend.serve(([127, 0, 0, 1], 0).into()).await.unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let wav = scratch.path().join("tone.wav");
        write_tone(&wav);
        let chromium = Chromium::launch(&wav).await.unwrap();
        let cdp = Cdp::connect(&chromium.devtools_url).await.unwrap();
        Self {
            emulator,
            backend,
            server,
            chromium,
            cdp,
            logs,
            _scratch: scratch,
            _one_at_a_time: one_at_a_time,
        }
    }

    /// Opens the example's page, running `init` (if any) before the page's own scripts.
    async fn open(&self, init: Option<&str>) -> Page<'_> {
        let page = Page::open(&self.cdp).await.unwrap();
        if let Some(init) = init {
            page.call(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({"source": init}),
            )
            .await
            .unwrap();
        }
        page.call("Page.navigate", json!({"url": self.server.url()}))
            .await
            .unwrap();
        page.wait_for(
            "document.readyState === 'complete' && !!window.kallglotDemo",
            STEP,
        )
        .await
        .unwrap();
        page
    }

    /// Logs in through the page's form.
    async fn log_in(page: &Page<'_>) {
        page.eval(&format!(
            "document.getElementById('password').value = {}; document.getElementById('login').click(); true",
            json!(PASSWORD)
        ))
        .await
        .unwrap();
        page.wait_for("!document.getElementById('controls').hidden", STEP)
            .await
            .unwrap();
    }

    /// The stream credentials the page received, in order.
    async fn credentials(&self, page: &Page<'_>) -> Vec<StreamCredentials> {
        response_bodies(page, &self.cdp, "/credentials")
            .await
            .into_iter()
            .filter(|(status, _)| *status == 200)
            .map(|(_, body)| serde_json::from_str(&body).unwrap())
            .collect()
    }

    async fn close(self) {
        let _ = self.cdp.call(None, "Browser.close", json!({})).await;
        self.chromium.wait_or_kill().await;
        self.server.shutdown().await;
    }
}

/// Everything logged through `tracing` by this test binary (the backend, the SDK, the
/// emulator), captured once for all tests.
fn captured_logs() -> Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer({
                let logs = logs.clone();
                move || logs.clone()
            })
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
    .clone()
}

/// The session id in a stream URL (`…/v1/sessions/{id}/connect`).
fn session_of(credentials: &StreamCredentials) -> String {
    credentials.url.split('/').rev().nth(1).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_streams_the_microphone_and_shows_transcripts() {
    let rig =
        Rig::start(MockServer::builder().utterance_duration(Duration::from_millis(500))).await;
    let (emulator, backend, cdp) = (&rig.emulator, &rig.backend, &rig.cdp);
    let api_key = emulator.api_key().to_owned();
    // The first stream connection is refused as a real expired token is: 401
    // `expired_token` before the upgrade. The page must fetch fresh credentials.
    emulator.faults().inject(
        Route::ConnectStream,
        Fault::status(401, "expired_token")
            .error_type("authentication_error")
            .times(1),
    );
    let page = rig.open(None).await;

    // The JS μ-law encoder agrees with the SDK's on every 16-bit sample.
    let js_codes = page
        .eval(
            "(async () => {
                const source = await (await fetch('/mulaw-worklet.js')).text();
                const encode = new Function('AudioWorkletProcessor', 'registerProcessor', 'sampleRate',
                    source + '\\nreturn encodeMulaw;')(class {}, () => {}, 48000);
                const codes = [];
                for (let s = -32767; s <= 32767; s++) codes.push(encode(s / 32767));
                return codes;
            })()",
        )
        .await
        .unwrap();
    let js_codes: Vec<u8> = serde_json::from_value(js_codes).unwrap();
    let sdk_codes: Vec<u8> = (-32767..=32767).map(audio::encode_sample).collect();
    let mismatches = js_codes
        .iter()
        .zip(&sdk_codes)
        .filter(|(js, sdk)| js != sdk)
        .count();
    assert_eq!(js_codes.len(), sdk_codes.len());
    assert_eq!(
        mismatches, 0,
        "the page's μ-law encoder differs from the SDK's"
    );

    // Before logging in, the backend mints nothing.
    let refused = page
        .eval("fetch('/credentials', {method: 'POST'}).then(r => r.status)")
        .await
        .unwrap();
    assert_eq!(refused, 401);
    assert_eq!(backend.credentials_minted(), 0);

    Rig::log_in(&page).await;

    page.eval("document.getElementById('start').click(); true")
        .await
        .unwrap();
    page.wait_for("window.kallglotDemo.framesSent > 0", STEP)
        .await
        .unwrap();
    let demo = page.eval("window.kallglotDemo").await.unwrap();
    assert_eq!(demo["connectAttempts"], 2, "{demo}");
    assert_eq!(demo["credentialsFetched"], 2, "{demo}");
    assert_eq!(backend.credentials_minted(), 2);

    // The streaming session is the one of the second credentials.
    let credential_bodies: Vec<String> = response_bodies(&page, cdp, "/credentials")
        .await
        .into_iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(credential_bodies.len(), 2, "{credential_bodies:?}");
    let streamed: Value = serde_json::from_str(&credential_bodies[1]).unwrap();
    let mut fields: Vec<String> = streamed.as_object().unwrap().keys().cloned().collect();
    fields.sort();
    assert_eq!(fields, ["expires_at", "token", "url"]);
    let session_id = session_of(&rig.credentials(&page).await[1]);

    let give_up = tokio::time::Instant::now() + STEP;
    loop {
        let stats = emulator.audio_stats(&session_id).unwrap();
        if stats.audio() >= STREAMED {
            break;
        }
        assert!(
            tokio::time::Instant::now() < give_up,
            "only {stats:?} in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    page.wait_for(
        "document.querySelectorAll('#transcript li.final .translation').length >= 2",
        STEP,
    )
    .await
    .unwrap();

    page.eval("document.getElementById('stop').click(); true")
        .await
        .unwrap();
    page.wait_for("window.kallglotDemo.ended", STEP)
        .await
        .unwrap();
    let demo = page.eval("window.kallglotDemo").await.unwrap();
    assert_eq!(demo["endReason"], "explicit_end", "{demo}");
    assert_eq!(
        demo["capturing"], false,
        "Stop released the microphone: {demo}"
    );
    assert_eq!(demo["errors"], json!([]), "{demo}");

    let screenshot = page
        .call("Page.captureScreenshot", json!({"format": "png"}))
        .await
        .unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(screenshot["data"].as_str().unwrap())
        .unwrap();
    let shot_path = target_dir().join("browser-example.png");
    std::fs::File::create(&shot_path)
        .and_then(|mut f| f.write_all(&png))
        .unwrap();
    eprintln!("screenshot: {}", shot_path.display());

    // Transcript lines with their translations are on the page.
    let lines = page
        .eval("[...document.querySelectorAll('#transcript li.final')].map(li => li.textContent)")
        .await
        .unwrap();
    let lines: Vec<String> = serde_json::from_value(lines).unwrap();
    eprintln!("transcript: {lines:#?}");
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(lines.iter().all(|l| !l.trim().is_empty()));

    // The emulator got μ-law 8 kHz (anything else is refused) at a real-time pace: the
    // frames arrived over about as long as the audio they hold lasts.
    let stats = emulator.audio_stats(&session_id).unwrap();
    eprintln!("emulator received: {stats:?}, {:?} of audio", stats.audio());
    assert_eq!(stats.refused, 0, "{stats:?}");
    assert_eq!(stats.bytes, stats.frames * 800, "100 ms frames: {stats:?}");
    let expected_span = stats.audio() - Duration::from_millis(100);
    let pace = stats.span.as_secs_f64() / expected_span.as_secs_f64();
    assert!((0.8..=1.25).contains(&pace), "pace {pace:.2}: {stats:?}");

    // What went over the wire is the tone, downsampled to 8 kHz: a tone of 440 Hz has
    // 880 zero crossings a second only at the rate the payload claims.
    let inputs = audio_inputs(cdp);
    assert!(
        inputs.len() as u64 >= stats.frames,
        "{} frames seen",
        inputs.len()
    );
    for input in &inputs {
        assert_eq!(input["audio"]["encoding"], "mulaw");
        assert_eq!(input["audio"]["sample_rate_hz"], 8000);
    }
    // The last second, after any start-up transient of the fake device and the filters.
    let tail: Vec<u8> = inputs[inputs.len() - 10..]
        .iter()
        .flat_map(|m| {
            base64::engine::general_purpose::STANDARD
                .decode(m["audio"]["payload"].as_str().unwrap())
                .unwrap()
        })
        .collect();
    let pcm = audio::decode(&tail);
    let rate = crossings_per_second(&pcm);
    let rms = (pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / pcm.len() as f64).sqrt();
    eprintln!("last second: {rate:.0} zero crossings/s, rms {rms:.0}");
    assert!(rms > 300.0, "the audio is silent (rms {rms:.0})");
    assert!(
        (2.0 * TONE_HZ * 0.9..=2.0 * TONE_HZ * 1.1).contains(&rate),
        "{rate:.0} zero crossings/s for a {TONE_HZ} Hz tone"
    );

    // No API key anywhere: the page, every response (headers and bodies), the WebSocket
    // frames, the console, the browser's and the backend's logs.
    let html = page
        .eval("document.documentElement.outerHTML")
        .await
        .unwrap();
    let mut places: Vec<(String, String)> = vec![("the page".into(), html.to_string())];
    for event in cdp.events("Network.responseReceived") {
        places.push((
            "a response's headers".into(),
            event["params"]["response"].to_string(),
        ));
    }
    for (_, body) in response_bodies(&page, cdp, "").await {
        places.push(("a response body".into(), body));
    }
    for method in [
        "Network.requestWillBeSent",
        "Network.webSocketFrameSent",
        "Network.webSocketFrameReceived",
        "Network.webSocketCreated",
        "Network.webSocketWillSendHandshakeRequest",
        "Runtime.consoleAPICalled",
        "Runtime.exceptionThrown",
        "Log.entryAdded",
    ] {
        for event in cdp.events(method) {
            places.push((method.into(), event.to_string()));
        }
    }
    // Everything the page loaded or opened was on loopback.
    let opened: Vec<Value> = cdp
        .events("Network.requestWillBeSent")
        .into_iter()
        .chain(cdp.events("Network.webSocketCreated"))
        .collect();
    assert!(
        opened.len() >= 6,
        "page, worklet, login, credentials, sockets: {opened:?}"
    );
    for event in &opened {
        let url = event["params"]["request"]["url"]
            .as_str()
            .or(event["params"]["url"].as_str())
            .unwrap_or_default();
        assert!(
            ["http://127.0.0.1:", "ws://127.0.0.1:", "about:", "data:"]
                .iter()
                .any(|allowed| url.starts_with(allowed)),
            "the page reached beyond loopback: {url}"
        );
    }
    let console = cdp.events("Runtime.consoleAPICalled");
    assert!(
        console
            .iter()
            .any(|e| e.to_string().contains("refused the token")),
        "the page reported the refused token"
    );
    places.push((
        "the browser's log".into(),
        rig.chromium.log.lock().unwrap().clone(),
    ));
    let backend_log = rig.logs.text();
    assert!(
        backend_log.contains("stream credentials minted"),
        "{backend_log}"
    );
    places.push(("the backend's log".into(), backend_log.clone()));
    for (place, text) in &places {
        assert!(!text.contains(&api_key), "the API key appears in {place}");
    }
    // Nor do the stream tokens reach the backend's log (it logs their redacted form).
    for body in &credential_bodies {
        let token: Value = serde_json::from_str(body).unwrap();
        let token = token["token"].as_str().unwrap();
        assert!(
            !backend_log.contains(token),
            "a stream token is in the backend's log"
        );
    }

    drop(page);
    rig.close().await;
}

/// The statuses and bodies of the page's responses whose URL contains `path` (all of them
/// for `""`).
async fn response_bodies(page: &Page<'_>, cdp: &Cdp, path: &str) -> Vec<(u64, String)> {
    let mut bodies = Vec::new();
    for event in cdp.events("Network.responseReceived") {
        let params = &event["params"];
        if !params["response"]["url"]
            .as_str()
            .is_some_and(|url| url.contains(path))
        {
            continue;
        }
        // Some responses (about:blank, WebSocket upgrades) have no body to fetch.
        if let Ok(body) = page
            .call(
                "Network.getResponseBody",
                json!({"requestId": params["requestId"]}),
            )
            .await
        {
            let status = params["response"]["status"].as_u64().unwrap_or_default();
            bodies.push((status, body["body"].as_str().unwrap_or_default().to_owned()));
        }
    }
    bodies
}

/// Holds the page's `getUserMedia` until the test calls `window.releaseMicrophone()` (a
/// person taking their time over the permission prompt), and labels the page's first
/// audio frame `pcm_16`, which the server refuses with a `session.error`.
const HELD_MICROPHONE_AND_ONE_BAD_FRAME: &str = "
    const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    const released = new Promise((resolve) => { window.releaseMicrophone = resolve; });
    navigator.mediaDevices.getUserMedia = async (constraints) => {
        await released;
        return original(constraints);
    };
    const send = WebSocket.prototype.send;
    let spoiled = false;
    WebSocket.prototype.send = function (data) {
        if (!spoiled && typeof data === 'string' && data.includes('\"audio.input\"')) {
            spoiled = true;
            const message = JSON.parse(data);
            message.audio.encoding = 'pcm_16';
            data = JSON.stringify(message);
        }
        return send.call(this, data);
    };
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expired_before_connecting_is_replaced_and_a_rest_end_stops_the_page() {
    // Tokens live half a second: long enough to be used at once, short enough to expire
    // while the microphone permission is pending.
    let rig = Rig::start(
        MockServer::builder()
            .utterance_duration(Duration::from_millis(500))
            .stream_token_ttl(Duration::from_millis(500)),
    )
    .await;
    let page = rig.open(Some(HELD_MICROPHONE_AND_ONE_BAD_FRAME)).await;
    Rig::log_in(&page).await;
    page.eval("document.getElementById('start').click(); true")
        .await
        .unwrap();
    page.wait_for("window.kallglotDemo.credentialsFetched === 1", STEP)
        .await
        .unwrap();
    let first = rig.credentials(&page).await.remove(0);
    // Wait out the token's life (half a second), then grant the microphone.
    let give_up = tokio::time::Instant::now() + STEP;
    while !first.is_expired() {
        assert!(tokio::time::Instant::now() < give_up);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    page.eval("window.releaseMicrophone(); true").await.unwrap();
    page.wait_for(
        "document.querySelectorAll('#transcript li.final').length >= 1",
        STEP,
    )
    .await
    .unwrap();

    let demo = page.eval("window.kallglotDemo").await.unwrap();
    assert_eq!(demo["credentialsFetched"], 2, "{demo}");
    assert_eq!(
        demo["connectAttempts"], 1,
        "the expired token was not even tried: {demo}"
    );
    let credentials = rig.credentials(&page).await;
    assert_eq!(credentials.len(), 2);
    assert_eq!(
        rig.emulator
            .audio_stats(&session_of(&first))
            .unwrap()
            .frames,
        0
    );
    let streaming = session_of(&credentials[1]);
    assert!(rig.emulator.audio_stats(&streaming).unwrap().frames > 0);
    let console = rig.cdp.events("Runtime.consoleAPICalled");
    assert!(
        console
            .iter()
            .any(|e| e.to_string().contains("expired before it was used")),
        "the page said why it fetched again"
    );

    // The session ends elsewhere (here through REST): the page stops on `session.ended`.
    let client = kallglot::Client::builder()
        .api_key(rig.emulator.api_key())
        .base_url(rig.emulator.url())
        .build()
        .unwrap();
    client.sessions().end(streaming.as_str()).await.unwrap();
    page.wait_for("window.kallglotDemo.ended", STEP)
        .await
        .unwrap();
    let demo = page.eval("window.kallglotDemo").await.unwrap();
    assert_eq!(demo["endReason"], "ended_by_api", "{demo}");
    // The refused frame was shown, and the stream went on after it.
    let errors: Vec<String> = serde_json::from_value(demo["errors"].clone()).unwrap();
    assert_eq!(errors.len(), 1, "{demo}");
    assert!(errors[0].starts_with("invalid_audio_format: "), "{demo}");
    let shown = page
        .eval("[...document.querySelectorAll('#transcript li.stream-error')].map(li => li.textContent)")
        .await
        .unwrap();
    assert_eq!(shown, json!([errors[0]]));
    assert_eq!(rig.emulator.audio_stats(&streaming).unwrap().refused, 1);
    // The microphone was released, and Start is on again.
    assert_eq!(demo["capturing"], false, "{demo}");
    let buttons = page
        .eval(
            "[document.getElementById('start').disabled, document.getElementById('stop').disabled]",
        )
        .await
        .unwrap();
    assert_eq!(buttons, json!([false, true]));
    drop(page);
    rig.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_tokens_are_always_refused_gives_up_with_a_clear_error() {
    // Every token is expired when issued: each connection is refused.
    let rig = Rig::start(MockServer::builder().stream_token_ttl(Duration::ZERO)).await;
    let page = rig.open(None).await;
    Rig::log_in(&page).await;
    page.eval("document.getElementById('start').click(); true")
        .await
        .unwrap();
    page.wait_for("window.kallglotDemo.errors.length > 0", STEP)
        .await
        .unwrap();
    let demo = page.eval("window.kallglotDemo").await.unwrap();
    assert_eq!(demo["connectAttempts"], 3, "{demo}");
    assert_eq!(demo["framesSent"], 0, "{demo}");
    assert_eq!(
        demo["capturing"], false,
        "the microphone was released: {demo}"
    );
    let status = page
        .eval("[document.getElementById('status').dataset.kind, document.getElementById('status').textContent]")
        .await
        .unwrap();
    assert_eq!(status[0], "error", "{status}");
    assert!(
        status[1].as_str().unwrap().contains("giving up"),
        "{status}"
    );
    // Bounded: each attempt fetched at most twice (the expiry check, then the retry).
    let minted = rig.backend.credentials_minted();
    assert!(
        (3..=6).contains(&minted),
        "{minted} credentials for 3 attempts"
    );
    // Start works again for another try.
    assert_eq!(
        page.eval("document.getElementById('start').disabled")
            .await
            .unwrap(),
        false
    );
    drop(page);
    rig.close().await;
}
