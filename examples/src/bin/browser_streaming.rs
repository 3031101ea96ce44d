//! Browser streaming: a small backend that holds the API key and hands a page only a
//! session's stream credentials; the page (`examples/static/browser.html`) captures the
//! microphone, encodes 8 kHz μ-law in an AudioWorklet and streams it itself, showing
//! live transcripts and translations. See [`kallglot_examples::browser`] for the routes.
//!
//! `cargo run -p kallglot-examples --bin browser_streaming -- --serve` serves the page
//! and prints its URL (log in with the password in `DEMO_PASSWORD`, default `demo`).
//! Without `--serve` it runs a short self-check of the backend (login, credentials, no
//! API key in any answer), opens the stream with the minted credentials as the page
//! would, without any API key, and exits. Without `KALLGLOT_API_KEY` both run against the
//! embedded emulator; `BIND` (default `127.0.0.1:8080`) sets where `--serve` listens.

use std::net::SocketAddr;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt as _;
use kallglot::model::StreamCredentials;
use kallglot::stream::audio::MulawAudio;
use kallglot::stream::{Event, StreamOptions};
use kallglot_examples::browser::{COOKIE_NAME, DemoBackend};
use kallglot_examples::{Target, check};
use kallglot_mock::MockServer;
use tower::ServiceExt as _;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let serve = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--serve") => true,
        Some(other) => {
            return Err(format!("unknown argument {other:?}; the one option is --serve").into());
        }
    };
    // One utterance per second of speech, so a person sees lines come quickly.
    let emulator = MockServer::builder().utterance_duration(Duration::from_secs(1));
    let target = Target::with_emulator(emulator).await?;
    let password = std::env::var("DEMO_PASSWORD").unwrap_or_else(|_| "demo".to_owned());
    let backend = DemoBackend::new(target.client.clone(), password.clone());
    if serve {
        let addr: SocketAddr = std::env::var("BIND")
            .unwrap_or_else(|_| "127.0.0.1:8080".to_owned())
            .parse()?;
        let running = backend.serve(addr).await?;
        println!("open {} and log in with the demo password", running.url());
        tokio::signal::ctrl_c().await?;
        running.shutdown().await;
        return Ok(());
    }
    let credentials = self_check(&backend, &password, api_key(&target)).await?;
    stream_like_the_page(&target, &credentials).await
}

/// The key the backend's client holds, to look for it in the answers.
fn api_key(target: &Target) -> String {
    match &target.emulator {
        Some(emulator) => emulator.api_key().to_owned(),
        None => std::env::var("KALLGLOT_API_KEY").unwrap_or_default(),
    }
}

/// Drives the backend's routes in process, as the page would, and checks each answer.
async fn self_check(
    backend: &DemoBackend,
    password: &str,
    api_key: String,
) -> Result<StreamCredentials, Box<dyn std::error::Error>> {
    let call = |method: &str, path: &str, cookie: Option<&str>, body: String| {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        let request = request.body(Body::from(body));
        let router = backend.router();
        async move {
            let response = router.oneshot(request?).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20).await?;
            let text = String::from_utf8(body.to_vec())?;
            Ok::<_, Box<dyn std::error::Error>>((status, headers, text))
        }
    };
    let no_key = |what: &str, text: &str| {
        check(
            api_key.is_empty() || !text.contains(&api_key),
            &format!("{what} contains no API key"),
        )
    };

    let (status, _, page) = call("GET", "/", None, String::new()).await?;
    check(
        status == StatusCode::OK && page.contains("audio.input"),
        "the page is served",
    )?;
    no_key("the page", &page)?;

    let (status, _, _) = call("POST", "/credentials", None, String::new()).await?;
    println!("credentials without a login: {status}");
    check(
        status == StatusCode::UNAUTHORIZED,
        "no credentials without a login",
    )?;

    let wrong = serde_json::json!({"password": format!("{password}-wrong")}).to_string();
    let (status, _, _) = call("POST", "/login", None, wrong).await?;
    check(
        status == StatusCode::UNAUTHORIZED,
        "a wrong password is refused",
    )?;

    let right = serde_json::json!({"password": password}).to_string();
    let (status, headers, _) = call("POST", "/login", None, right).await?;
    let set_cookie = headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    println!("login: {status}");
    check(
        status == StatusCode::NO_CONTENT,
        "the demo password logs in",
    )?;
    check(
        set_cookie.contains("HttpOnly"),
        "the login cookie is HttpOnly",
    )?;
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
    check(
        cookie.starts_with(&format!("{COOKIE_NAME}=")),
        "the login cookie is set",
    )?;

    let (status, _, body) = call("POST", "/credentials", Some(&cookie), String::new()).await?;
    no_key("the credentials", &body)?;
    let credentials: serde_json::Value = serde_json::from_str(&body)?;
    let mut fields: Vec<&str> = credentials
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    fields.sort_unstable();
    println!("credentials: {status}, fields {fields:?}");
    check(
        status == StatusCode::OK,
        "a logged-in caller gets credentials",
    )?;
    check(
        fields == ["expires_at", "token", "url"],
        "the credentials are exactly url, token and expires_at",
    )?;
    check(
        credentials["token"]
            .as_str()
            .is_some_and(|t| t.starts_with("kst_")),
        "the token is a stream token",
    )?;
    check(backend.credentials_minted() == 1, "one session was created")?;
    Ok(serde_json::from_str(&body)?)
}

/// Opens the stream with the credentials alone (no API key), as the page does, and sends
/// two seconds of μ-law audio in real time.
async fn stream_like_the_page(
    target: &Target,
    credentials: &StreamCredentials,
) -> Result<(), Box<dyn std::error::Error>> {
    // The target's server, but only what a stream needs: the connector holds no key.
    let connector = target.builder();
    let (sender, mut events) = connector
        .build_stream_connector()?
        .connect(credentials, StreamOptions::default())
        .await?;
    let mut pace = tokio::time::interval(Duration::from_millis(100));
    for _ in 0..20 {
        pace.tick().await;
        // μ-law silence; the page sends the microphone.
        sender
            .send_audio(MulawAudio::from_mulaw_bytes(vec![0xFF; 800]))
            .await?;
    }
    sender.end().await?;
    let mut finals = 0;
    let mut ended = false;
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_secs(10), events.next()).await {
        match event? {
            Event::TranscriptFinal(line) => {
                finals += 1;
                println!("transcript: {}", line.text);
            }
            Event::SessionEnded { reason, .. } => {
                println!("session ended: {reason:?}");
                ended = true;
            }
            Event::Closed(_) => break,
            _ => {}
        }
    }
    check(ended, "the stream reported the end of the session")?;
    if target.is_emulated() {
        check(finals >= 1, "the emulator transcribed the audio")?;
    }
    println!("self-check passed; run with --serve to try it in a browser");
    Ok(())
}
