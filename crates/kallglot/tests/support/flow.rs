//! A full flow against the emulator behind a local TLS front, for the tests that capture
//! every log record: create a session, stream audio and receive transcripts, end it,
//! receive and verify the webhook, fetch the transcript, and have an upgrade refused.
//! It returns what must never appear in any log.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use kallglot::model::{CreateSessionParams, Language, Mode, StreamCredentials, StreamToken};
use kallglot::stream::{Event, MulawAudio, StreamError, StreamOptions};
use kallglot::webhooks::{Verifier, WebhookSecret};
use kallglot::{Client, Error};
use kallglot_mock::{MockConfig, MockServer, WebhookConfig};

use super::net;

pub const WEBHOOK_SECRET: &str = "whsec_FAKEwebhookSECRETdoNotLog";
const FORGED_TOKEN: &str = "kst_test_FORGEDtokenDoNotLog";

/// What must not appear in any log.
#[derive(Debug, Default)]
pub struct Secrets {
    pub api_key: String,
    pub stream_token: String,
    pub forged_token: String,
    pub webhook_secret: String,
    /// Transcript and translation texts the stream delivered.
    pub texts: Vec<String>,
    /// Audio as it travels: base64 in the JSON, and as hex.
    pub audio: Vec<String>,
    /// The session id, for span assertions.
    pub session_id: String,
}

impl Secrets {
    /// Every needle, with what it is.
    pub fn needles(&self) -> Vec<(&'static str, String)> {
        let mut all = vec![
            ("the API key", secret_part(&self.api_key)),
            ("a stream token", secret_part(&self.stream_token)),
            ("a forged stream token", secret_part(&self.forged_token)),
            ("the webhook secret", self.webhook_secret.clone()),
        ];
        all.extend(self.texts.iter().map(|t| ("transcript text", t.clone())));
        all.extend(self.audio.iter().map(|a| ("an audio payload", a.clone())));
        all
    }

    /// Panics if any needle is in `captured`.
    pub fn assert_absent(&self, captured: &str) {
        assert!(!self.texts.is_empty(), "the flow received transcripts");
        for (what, needle) in self.needles() {
            assert!(needle.len() >= 8, "{what} is distinctive: {needle:?}");
            if let Some(at) = captured.find(&needle) {
                let start = captured[..at]
                    .char_indices()
                    .rev()
                    .nth(300)
                    .map_or(0, |(i, _)| i);
                panic!(
                    "{what} ({needle:?}) appears in the logs: …{}…",
                    &captured[start..(at + needle.len() + 100).min(captured.len())]
                );
            }
        }
    }
}

/// The part of a key or token after its prefix (`sk_test_`, `kst_test_`).
fn secret_part(secret: &str) -> String {
    secret.rsplit('_').next().unwrap_or(secret).to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Receives webhook deliveries on loopback and verifies them with the SDK.
async fn webhook_receiver() -> (String, Arc<Mutex<Vec<bool>>>) {
    let verified = Arc::new(Mutex::new(Vec::new()));
    let log = verified.clone();
    let verifier = Arc::new(Verifier::new(WebhookSecret::new(WEBHOOK_SECRET).unwrap()));
    let app = axum::Router::new().route(
        "/hooks",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let (log, verifier) = (log.clone(), verifier.clone());
                async move {
                    let signature = headers
                        .get("kallglot-signature")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    let ok = verifier.verify(signature, &body).is_ok();
                    log.lock().unwrap().push(ok);
                    if ok {
                        axum::http::StatusCode::OK
                    } else {
                        axum::http::StatusCode::BAD_REQUEST
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, verified)
}

/// The name of the thread the emulator and its TLS front run on. Their own records
/// (a server-side WebSocket stack that logs every frame) are test scaffolding, not the
/// SDK's dependencies, so the captures leave out what this thread logs.
pub const EMULATOR_THREAD: &str = "emulator";

/// Whether the current thread is the emulator's.
pub fn on_emulator_thread() -> bool {
    std::thread::current().name() == Some(EMULATOR_THREAD)
}

/// Starts the emulator behind a TLS front on its own thread and runtime. Returns the
/// front's address and the emulator's API key.
fn start_emulator(
    ca_server: Arc<rustls::ServerConfig>,
    hook_url: String,
) -> (std::net::SocketAddr, String) {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(EMULATOR_THREAD.into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = net::bind().await;
                let front_addr = listener.local_addr().unwrap();
                let mut config = MockConfig::default();
                config.public_url = Some(format!("https://{front_addr}"));
                config.utterance_duration = Duration::from_millis(100);
                let mock = MockServer::builder()
                    .config(config)
                    .webhook(WebhookConfig::new(hook_url, WEBHOOK_SECRET))
                    .start()
                    .await
                    .unwrap();
                let _front = net::tls_front(listener, ca_server, mock.addr(), None);
                tx.send((front_addr, mock.api_key().to_string())).unwrap();
                // Serves until the test process ends.
                std::future::pending::<()>().await;
            });
        })
        .unwrap();
    rx.recv().unwrap()
}

pub async fn full_flow() -> Secrets {
    let ca = net::TestCa::new();
    let (hook_url, verified) = webhook_receiver().await;
    let (front_addr, api_key) = start_emulator(ca.server.clone(), hook_url);

    let client = Client::builder()
        .api_key(&api_key)
        .base_url(format!("https://{front_addr}"))
        .add_root_certificate_pem(&ca.ca_pem)
        .build()
        .unwrap();
    let session = client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::ES, Language::EN),
        )
        .await
        .unwrap()
        .into_inner();
    let credentials = session.stream.clone().unwrap();
    let mut secrets = Secrets {
        api_key: api_key.clone(),
        stream_token: credentials.token.expose_secret().to_string(),
        forged_token: FORGED_TOKEN.to_string(),
        webhook_secret: WEBHOOK_SECRET.to_string(),
        session_id: session.id.to_string(),
        ..Secrets::default()
    };

    let (sender, mut events) = client
        .sessions()
        .connect(&session, StreamOptions::default())
        .await
        .unwrap();
    // Five distinct 100 ms frames: each one's base64 and hex must stay out of the logs.
    for n in 0..5u8 {
        let bytes: Vec<u8> = (0..800u32)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(n))
            .collect();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        secrets.audio.push(b64[8..48].to_string());
        secrets.audio.push(hex(&bytes[3..23]));
        sender
            .send_audio(MulawAudio::from_mulaw_bytes(bytes))
            .await
            .unwrap();
    }
    sender.end().await.unwrap();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(60), events.next())
        .await
        .expect("the stream ends")
    {
        match event.unwrap() {
            Event::TranscriptFinal(t) => {
                secrets.texts.push(t.text.clone());
                if let Some(translation) = t.translation {
                    secrets.texts.push(translation.text);
                }
            }
            Event::TranscriptPartial(t) => secrets.texts.push(t.text),
            _ => {}
        }
    }
    // Short partials ("Hol") are not distinctive; the finals are.
    secrets.texts.retain(|t| t.len() >= 8);
    secrets.texts.sort();
    secrets.texts.dedup();

    // A refused upgrade: a forged token on the real URL.
    let forged = StreamCredentials::new(
        credentials.url.clone(),
        StreamToken::new(FORGED_TOKEN),
        credentials.expires_at,
    );
    let connector = Client::builder()
        .base_url(format!("https://{front_addr}"))
        .add_root_certificate_pem(&ca.ca_pem)
        .build_stream_connector()
        .unwrap();
    let err = connector
        .connect(&forged, StreamOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Stream(StreamError::HandshakeRejected { .. })),
        "{err:?}"
    );

    let transcript = client
        .sessions()
        .transcript(session.id.clone())
        .await
        .unwrap();
    assert!(!transcript.turns.is_empty());
    // The webhook for the ended session arrives and verifies.
    tokio::time::timeout(Duration::from_secs(30), async {
        while !verified.lock().unwrap().contains(&true) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a verified webhook delivery");
    secrets
}
