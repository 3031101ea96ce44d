//! The real-time stream against a local tokio-tungstenite server: handshake, messages,
//! unknown and garbage frames, close codes, ping/pong and keep-alive, expired tokens and
//! refused upgrades, backpressure, the end/keep-alive race, reconnect and shutdown.
#![cfg(feature = "stream")]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use kallglot::clock::ManualClock;
use kallglot::model::{Speaker, StreamCredentials, StreamToken};
use kallglot::stream::{
    self, Closed, EndReason, Event, Events, HandshakeRejection, MulawAudio, ReconnectPolicy,
    StreamError, StreamOptions,
};
use kallglot::{Client, Error};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const TOKEN: &str = "kst_test_FAKEtokenDoNotLeak";

type Ws = WebSocketStream<TcpStream>;

/// What the server saw of each upgrade request.
#[derive(Debug, Clone)]
struct Upgrade {
    uri: String,
    headers: Vec<(String, String)>,
}

impl Upgrade {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Server {
    addr: SocketAddr,
    upgrades: Arc<Mutex<Vec<Upgrade>>>,
    accepted: Arc<Mutex<u32>>,
}

impl Server {
    fn credentials(&self) -> StreamCredentials {
        StreamCredentials::new(
            format!("ws://{}/v1/sessions/sess_1/connect", self.addr),
            StreamToken::new(TOKEN),
            Utc::now() + chrono::TimeDelta::minutes(5),
        )
    }

    fn upgrades(&self) -> Vec<Upgrade> {
        self.upgrades.lock().unwrap().clone()
    }

    /// Connects to this server with its credentials; the connection must succeed.
    async fn connect(&self, options: StreamOptions) -> (stream::StreamSender, Events) {
        stream::connect(&self.credentials(), options).await.unwrap()
    }
}

/// Serves WebSocket connections; `handler` gets each one with its index (0, 1, …).
async fn serve<F, Fut>(handler: F) -> Server
where
    F: Fn(Ws, u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_with(None, handler).await
}

async fn serve_with<F, Fut>(reject_with: Option<u16>, handler: F) -> Server
where
    F: Fn(Ws, u32) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upgrades = Arc::new(Mutex::new(Vec::new()));
    let accepted = Arc::new(Mutex::new(0));
    let handler = Arc::new(handler);
    let (seen, count) = (upgrades.clone(), accepted.clone());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let index = {
                let mut n = count.lock().unwrap();
                *n += 1;
                *n - 1
            };
            let seen = seen.clone();
            let handler = handler.clone();
            tokio::spawn(async move {
                // The handshake callback's signature is tungstenite's, large error and all.
                #[allow(clippy::result_large_err)]
                let callback = |request: &Request, response: Response| {
                    seen.lock().unwrap().push(Upgrade {
                        uri: request.uri().to_string(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
                            .collect(),
                    });
                    match reject_with {
                        Some(status) => {
                            let mut refusal = ErrorResponse::new(None);
                            *refusal.status_mut() = status.try_into().unwrap();
                            Err(refusal)
                        }
                        None => Ok(response),
                    }
                };
                if let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await {
                    handler(ws, index).await;
                }
            });
        }
    });
    Server {
        addr,
        upgrades,
        accepted,
    }
}

async fn recv_json(ws: &mut Ws) -> Value {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Close(_))) | None => panic!("the client closed early"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("server read error: {e}"),
        }
    }
}

async fn send_json(ws: &mut Ws, value: Value) {
    ws.send(Message::text(value.to_string())).await.unwrap();
}

/// Reads until the client's close (answering it) or the end of the connection.
async fn drain(ws: &mut Ws) {
    while let Some(Ok(_)) = ws.next().await {}
}

async fn close_with(ws: &mut Ws, code: u16, reason: &str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    let _ = ws.close(Some(frame)).await;
    drain(ws).await;
}

async fn collect(mut events: Events) -> Vec<Result<Event, Error>> {
    let mut all = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(120), events.next())
        .await
        .expect("the stream must end")
    {
        all.push(event);
    }
    all
}

/// Answers `session.end` with `session.ended`, then waits for the close. Returns every
/// message read, `session.end` included.
async fn answer_end(ws: &mut Ws) -> Vec<Value> {
    let mut messages = Vec::new();
    loop {
        let message = recv_json(ws).await;
        let is_end = message["type"] == "session.end";
        messages.push(message);
        if is_end {
            send_json(
                ws,
                json!({"type": "session.ended", "session_id": "sess_1", "reason": "explicit_end"}),
            )
            .await;
            drain(ws).await;
            return messages;
        }
    }
}

fn frame_ms(ms: usize) -> MulawAudio {
    MulawAudio::from_mulaw_bytes(vec![0xFF; ms * 8])
}

#[tokio::test]
async fn happy_path_ready_partial_final_with_translation_ended() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let server = serve(move |mut ws, _| {
        let log = log.clone();
        async move {
            send_json(
                &mut ws,
                json!({"type": "session.ready", "session_id": "sess_1"}),
            )
            .await;
            for _ in 0..3 {
                let message = recv_json(&mut ws).await;
                log.lock().unwrap().push(message);
            }
            send_json(
                &mut ws,
                json!({"type": "transcript.partial", "speaker": "customer", "text": "Hol"}),
            )
            .await;
            send_json(
                &mut ws,
                json!({"type": "transcript.final", "speaker": "customer", "text": "Hola",
                       "translation": {"language": "en", "text": "Hello"}}),
            )
            .await;
            answer_end(&mut ws).await;
        }
    })
    .await;
    let (sender, mut events) = server.connect(StreamOptions::default()).await;
    assert!(matches!(events.next().await, Some(Ok(Event::Ready { .. }))));
    sender.send_audio(frame_ms(100)).await.unwrap();
    sender
        .send_audio_as(Speaker::Agent, frame_ms(100))
        .await
        .unwrap();
    sender.send_audio(frame_ms(100)).await.unwrap();
    match events.next().await {
        Some(Ok(Event::TranscriptPartial(p))) => assert_eq!(p.text, "Hol"),
        other => panic!("{other:?}"),
    }
    match events.next().await {
        Some(Ok(Event::TranscriptFinal(f))) => {
            assert_eq!(f.text, "Hola");
            assert_eq!(f.speaker, Some(Speaker::Customer));
            let translation = f.translation.unwrap();
            assert_eq!(translation.text, "Hello");
            assert_eq!(translation.language.unwrap().as_str(), "en");
        }
        other => panic!("{other:?}"),
    }
    sender.end().await.unwrap();
    let rest = collect(events).await;
    assert!(matches!(
        &rest[0],
        Ok(Event::SessionEnded {
            reason: EndReason::ExplicitEnd,
            ..
        })
    ));
    assert!(
        matches!(
            &rest[1],
            Ok(Event::Closed(Closed {
                code: Some(1000),
                session_ended: true,
                ..
            }))
        ),
        "{rest:?}"
    );
    assert_eq!(rest.len(), 2);
    sender.end().await.unwrap_or(()); // a second end after the close is harmless

    let audio = received.lock().unwrap().clone();
    assert_eq!(audio[0]["type"], "audio.input");
    assert_eq!(audio[0]["sequence"], 1);
    assert_eq!(audio[1]["sequence"], 2);
    assert_eq!(audio[2]["sequence"], 3);
    assert_eq!(audio[0]["speaker"], "customer");
    assert_eq!(audio[1]["speaker"], "agent");
    assert_eq!(audio[2]["speaker"], "customer");
    let timestamp = |i: usize| audio[i]["timestamp_ms"].as_u64().unwrap();
    assert_eq!(
        timestamp(2) - timestamp(0),
        100,
        "timestamps follow each speaker's audio"
    );
    assert_eq!(
        timestamp(1),
        timestamp(0),
        "each speaker is its own timeline: the agent's first frame starts with the call"
    );
    assert_eq!(
        audio[0]["audio"],
        json!({"encoding": "mulaw", "sample_rate_hz": 8000,
               "payload": base64_of(&[0xFF; 800])})
    );

    let upgrade = &server.upgrades()[0];
    assert_eq!(
        upgrade.uri,
        format!("/v1/sessions/sess_1/connect?token={TOKEN}")
    );
    assert!(
        upgrade
            .header("user-agent")
            .unwrap()
            .starts_with("kallglot-rust/")
    );
    assert_eq!(upgrade.header("authorization"), None);
}

fn base64_of(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // An independent encoder, so the test does not trust the SDK's.
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn unknown_events_extra_fields_binary_and_garbage_never_end_the_stream() {
    let server = serve(|mut ws, _| async move {
        send_json(&mut ws, json!({"type": "agent.thinking", "id": 1})).await;
        ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
        ws.send(Message::text("not json at all")).await.unwrap();
        ws.send(Message::text("{\"no\":\"type\"}")).await.unwrap();
        send_json(
            &mut ws,
            json!({"type": "transcript.final", "text": "still here", "brand_new": {"x": 1}}),
        )
        .await;
        send_json(
            &mut ws,
            json!({"type": "session.error", "code": "invalid_audio_format",
                                  "message": "μ-law only"}),
        )
        .await;
        close_with(&mut ws, 1000, "bye").await;
    })
    .await;
    let (_sender, events) = server.connect(StreamOptions::default()).await;
    let all = collect(events).await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(matches!(&all[0], Ok(Event::Unknown { kind, .. }) if kind == "agent.thinking"));
    assert!(matches!(&all[1], Ok(Event::TranscriptFinal(f)) if f.text == "still here"));
    assert!(matches!(
        &all[2],
        Ok(Event::SessionError {
            code: kallglot::ErrorCode::InvalidAudioFormat,
            ..
        })
    ));
    match &all[3] {
        Ok(Event::Closed(closed)) => {
            assert_eq!(closed.code, Some(1000));
            assert_eq!(closed.reason, "bye");
            assert!(!closed.session_ended);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn abnormal_close_codes_are_typed_errors() {
    for code in [1008u16, 1011] {
        let server = serve(move |mut ws, _| async move {
            close_with(&mut ws, code, "server says no").await;
        })
        .await;
        let (_sender, events) = server.connect(StreamOptions::default()).await;
        let all = collect(events).await;
        assert_eq!(all.len(), 1);
        match &all[0] {
            Err(Error::Stream(StreamError::Closed { code: got, reason })) => {
                assert_eq!(*got, Some(code));
                assert_eq!(reason, "server says no");
            }
            other => panic!("{code}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_dropped_connection_is_an_abnormal_close_without_code() {
    let server = serve(|ws, _| async move {
        drop(ws);
    })
    .await;
    let (sender, events) = server.connect(StreamOptions::default()).await;
    let all = collect(events).await;
    assert!(
        matches!(
            &all[..],
            [Err(Error::Stream(StreamError::Closed { code: None, .. }))]
        ),
        "{all:?}"
    );
    // The worker has stopped: sending now fails cleanly.
    let err = sender.send_audio(frame_ms(20)).await.unwrap_err();
    assert!(matches!(err, Error::Stream(StreamError::NotConnected)));
}

#[tokio::test]
async fn websocket_pings_are_answered_and_ping_messages_get_pong_events() {
    let pong_payload = Arc::new(Mutex::new(None));
    let seen = pong_payload.clone();
    let server = serve(move |mut ws, _| {
        let seen = seen.clone();
        async move {
            ws.send(Message::Ping(b"are-you-there".to_vec().into()))
                .await
                .unwrap();
            loop {
                match ws.next().await {
                    Some(Ok(Message::Pong(data))) => {
                        *seen.lock().unwrap() = Some(data.to_vec());
                    }
                    Some(Ok(Message::Text(text))) => {
                        let v: Value = serde_json::from_str(&text).unwrap();
                        if v["type"] == "ping" {
                            send_json(&mut ws, json!({"type": "pong", "session_id": "sess_1"}))
                                .await;
                            close_with(&mut ws, 1000, "").await;
                            return;
                        }
                    }
                    _ => return,
                }
            }
        }
    })
    .await;
    let (sender, mut events) = server.connect(StreamOptions::default()).await;
    // Let the server's ping arrive and be answered before asking for a pong.
    tokio::time::timeout(Duration::from_secs(5), async {
        while pong_payload.lock().unwrap().is_none() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no pong"));
    sender.ping().await.unwrap();
    assert_eq!(
        events.next().await.unwrap().unwrap(),
        Event::Pong {
            session_id: Some("sess_1".into())
        }
    );
    assert_eq!(
        pong_payload.lock().unwrap().as_deref(),
        Some(&b"are-you-there"[..])
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_stream_sends_keep_alive_pings() {
    let pings = Arc::new(Mutex::new(Vec::new()));
    let log = pings.clone();
    let server = serve(move |mut ws, _| {
        let log = log.clone();
        async move {
            let start = tokio::time::Instant::now();
            for _ in 0..2 {
                let message = recv_json(&mut ws).await;
                log.lock().unwrap().push((message, start.elapsed()));
            }
            close_with(&mut ws, 1000, "").await;
        }
    })
    .await;
    let options = StreamOptions::default().keepalive_interval(Duration::from_secs(15));
    let (_sender, events) = server.connect(options).await;
    collect(events).await;
    let pings = pings.lock().unwrap().clone();
    assert_eq!(pings[0].0, json!({"type": "ping"}));
    assert_eq!(pings[1].0, json!({"type": "ping"}));
    assert!(pings[0].1 >= Duration::from_secs(15), "{:?}", pings[0].1);
    assert!(pings[1].1 >= Duration::from_secs(30), "{:?}", pings[1].1);
}

#[tokio::test(start_paused = true)]
async fn a_busy_stream_sends_no_keep_alive_pings() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let server = serve(move |mut ws, _| {
        let log = log.clone();
        async move {
            let kinds = answer_end(&mut ws).await.into_iter();
            log.lock()
                .unwrap()
                .extend(kinds.map(|m| m["type"].as_str().unwrap().to_string()));
        }
    })
    .await;
    let options = StreamOptions::default().keepalive_interval(Duration::from_secs(15));
    let (sender, events) = server.connect(options).await;
    // Audio every 10 s for 60 s: never 15 s of silence, so never a ping.
    for _ in 0..6 {
        sender.send_audio(frame_ms(100)).await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    sender.end().await.unwrap();
    collect(events).await;
    let kinds = received.lock().unwrap().clone();
    assert_eq!(kinds.iter().filter(|k| *k == "audio.input").count(), 6);
    assert!(!kinds.contains(&"ping".to_string()), "{kinds:?}");
}

#[tokio::test]
async fn an_expired_token_fails_without_dialling() {
    let server = serve(|_ws, _| async move {}).await;
    let expired = StreamCredentials::new(
        format!("ws://{}/v1/sessions/sess_1/connect", server.addr),
        StreamToken::new(TOKEN),
        Utc::now() - chrono::TimeDelta::seconds(1),
    );
    let err = stream::connect(&expired, StreamOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Stream(StreamError::StreamTokenExpired { .. })
    ));
    assert_eq!(
        *server.accepted.lock().unwrap(),
        0,
        "no connection was made"
    );
    assert!(!err.to_string().contains("FAKEtoken"));
}

#[tokio::test]
async fn refused_upgrades_are_typed() {
    for (status, expected) in [
        (401, HandshakeRejection::Unauthorized),
        (403, HandshakeRejection::Forbidden),
        (404, HandshakeRejection::NotFound),
    ] {
        let server = serve_with(Some(status), |_ws, _| async move {}).await;
        let err = stream::connect(&server.credentials(), StreamOptions::default())
            .await
            .unwrap_err();
        match &err {
            Error::Stream(StreamError::HandshakeRejected {
                status: got,
                rejection,
            }) => {
                assert_eq!(*got, status);
                assert_eq!(*rejection, expected);
            }
            other => panic!("{status}: {other:?}"),
        }
        let text = format!("{err} {err:?}");
        assert!(!text.contains("FAKEtoken"), "{text}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_that_stops_reading_pushes_back_on_the_sender() {
    let (hold_tx, hold_rx) = tokio::sync::oneshot::channel::<()>();
    let hold = Arc::new(Mutex::new(Some(hold_rx)));
    let server = serve(move |ws, _| {
        let hold = hold.clone();
        async move {
            // Keep the connection open without ever reading from it.
            let rx = hold.lock().unwrap().take();
            if let Some(rx) = rx {
                let _ = rx.await;
            }
            drop(ws);
        }
    })
    .await;
    // Long liveness bounds: this test is about backpressure, not about giving up.
    let options = StreamOptions::default()
        .keepalive_interval(Duration::from_secs(3600))
        .write_timeout(Duration::from_secs(3600));
    let (sender, _events) = server.connect(options).await;
    let frame = frame_ms(200);
    let mut accepted = 0u64;
    let blocked = loop {
        match tokio::time::timeout(Duration::from_secs(30), sender.send_audio(frame.clone())).await
        {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(e)) => panic!("send failed: {e}"),
            Err(_) => break true,
        }
        if accepted > 200_000 {
            break false;
        }
    };
    assert!(blocked, "the sender was never slowed down");
    // What the client holds is bounded: the kernel's socket buffers, the SDK's write
    // buffer bound (256 KiB) and 32 queued frames; far below 200,000 frames (~430 MB).
    let queued_bytes = accepted * 2_200;
    assert!(
        queued_bytes < 64 * 1024 * 1024,
        "{accepted} frames accepted"
    );
    drop(hold_tx);
}

#[tokio::test]
async fn end_racing_keep_alives_never_panics() {
    for _ in 0..20 {
        let server = serve(|mut ws, _| async move {
            answer_end(&mut ws).await;
        })
        .await;
        // Real time: a 2 ms pong timeout would be a race against the scheduler.
        let options = StreamOptions::default()
            .keepalive_interval(Duration::from_millis(1))
            .pong_timeout(Duration::from_secs(60));
        let (sender, events) = server.connect(options).await;
        let a = sender.clone();
        let b = sender.clone();
        let (x, y, z) = tokio::join!(
            tokio::spawn(async move { a.end().await }),
            tokio::spawn(async move { b.end().await }),
            tokio::spawn(async move {
                for _ in 0..10 {
                    if sender.ping().await.is_err() {
                        break;
                    }
                }
            })
        );
        x.unwrap().unwrap();
        y.unwrap().unwrap();
        z.unwrap();
        let all = collect(events).await;
        assert!(
            matches!(all.last(), Some(Ok(Event::Closed(c))) if c.session_ended),
            "{all:?}"
        );
    }
}

#[tokio::test]
async fn end_without_session_ended_times_out_and_closes() {
    let server = serve(|mut ws, _| async move {
        drain(&mut ws).await;
    })
    .await;
    let options = StreamOptions::default().end_timeout(Duration::from_millis(50));
    let (sender, events) = server.connect(options).await;
    let err = sender.end().await.unwrap_err();
    assert!(matches!(err, Error::Stream(StreamError::EndTimedOut(_))));
    let all = collect(events).await;
    assert!(matches!(all.last(), Some(Ok(Event::Closed(c))) if !c.session_ended));
}

#[tokio::test]
async fn dropping_every_handle_stops_the_worker_and_closes_the_socket() {
    let (closed_tx, closed_rx) = tokio::sync::oneshot::channel();
    let closed_tx = Arc::new(Mutex::new(Some(closed_tx)));
    let server = serve(move |mut ws, _| {
        let closed_tx = closed_tx.clone();
        async move {
            let mut saw_close = false;
            while let Some(Ok(message)) = ws.next().await {
                saw_close |= matches!(message, Message::Close(_));
            }
            if let Some(tx) = closed_tx.lock().unwrap().take() {
                let _ = tx.send(saw_close);
            }
        }
    })
    .await;
    let (sender, events) = server.connect(StreamOptions::default()).await;
    drop(sender);
    drop(events);
    let saw_close = tokio::time::timeout(Duration::from_secs(10), closed_rx)
        .await
        .expect("the worker must close the connection")
        .unwrap();
    assert!(saw_close, "a close frame was sent");
}

#[tokio::test]
async fn stream_audio_resamples_frames_and_ends_when_the_input_ends() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = received.clone();
    let ws = serve(move |mut ws, _| {
        let log = log.clone();
        async move {
            let messages = answer_end(&mut ws).await;
            log.lock().unwrap().extend(messages);
        }
    })
    .await;
    let rest = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "id": "sess_1", "object": "session", "status": "active",
            "mode": "bidirectional_translation",
            "stream": {"url": format!("ws://{}/v1/sessions/sess_1/connect", ws.addr),
                       "token": TOKEN,
                       "expires_at": (Utc::now() + chrono::TimeDelta::minutes(5)).to_rfc3339()},
            "created_at": "2026-03-26T11:00:00Z"})))
        .mount(&rest)
        .await;
    let client = Client::builder()
        .api_key("sk_test_FAKEKEY0000000000")
        .base_url(rest.uri())
        .build()
        .unwrap();
    let session = client
        .sessions()
        .retrieve("sess_1")
        .await
        .unwrap()
        .into_inner();
    // 0.35 s of a 440 Hz tone at 16 kHz, in uneven chunks, then 50 ms of μ-law.
    let tone: Vec<i16> = (0..5_600)
        .map(|i| ((i as f64 * 440.0 * std::f64::consts::TAU / 16_000.0).sin() * 8_000.0) as i16)
        .collect();
    let mut chunks: Vec<stream::AudioChunk> = tone
        .chunks(1_234)
        .map(|c| stream::AudioChunk::Pcm16 {
            samples: c.to_vec(),
            sample_rate_hz: 16_000,
        })
        .collect();
    chunks.push(stream::AudioChunk::Mulaw(frame_ms(50)));
    let events = client
        .sessions()
        .stream_audio(
            &session,
            futures_util::stream::iter(chunks),
            StreamOptions::default().pacing(stream::Pacing::Unpaced),
        )
        .await
        .unwrap();
    let all = collect(events).await;
    assert!(
        matches!(all.last(), Some(Ok(Event::Closed(c))) if c.session_ended),
        "{all:?}"
    );
    let received = received.lock().unwrap().clone();
    let audio: Vec<&Value> = received
        .iter()
        .filter(|m| m["type"] == "audio.input")
        .collect();
    let sizes: Vec<usize> = audio
        .iter()
        .map(|m| {
            let b64 = m["audio"]["payload"].as_str().unwrap();
            b64.len() * 3 / 4 - b64.bytes().rev().take_while(|&b| b == b'=').count()
        })
        .collect();
    // 350 ms resampled to 8 kHz + 50 ms = 400 ms: four 100 ms frames of 800 bytes.
    assert_eq!(sizes, vec![800, 800, 800, 800]);
    let sequences: Vec<u64> = audio
        .iter()
        .map(|m| m["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, vec![1, 2, 3, 4]);
    assert_eq!(received.last().unwrap()["type"], "session.end");
}

/// Hostile peers: each of these hung the stream (or `end()`) forever before every wait
/// had a deadline. All run under paused time, so the deadlines pass without real waiting.
mod liveness {
    use super::*;
    use tokio::io::AsyncReadExt;
    use tokio::time::Instant;

    /// Past the WebSocket handshake, reads raw bytes and throws them away: it never
    /// answers anything, not even a WebSocket ping (a hung server behind a live kernel).
    async fn swallow_everything(mut ws: Ws) {
        let mut buffer = vec![0u8; 64 * 1024];
        while let Ok(n) = ws.get_mut().read(&mut buffer).await {
            if n == 0 {
                return;
            }
        }
    }

    /// Holds the connection open and never reads from it again.
    async fn never_read(ws: Ws) {
        std::future::pending::<()>().await;
        drop(ws);
    }

    /// Queues big audio frames from a background task until the sender blocks: the
    /// server's and the kernel's buffers are then full.
    async fn fill_the_pipe(sender: &stream::StreamSender) {
        let feeder = sender.clone();
        let (blocked_tx, blocked_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let big = MulawAudio::from_mulaw_bytes(vec![0xFF; 100_000]);
            let mut blocked = Some(blocked_tx);
            loop {
                match tokio::time::timeout(Duration::from_secs(1), feeder.send_audio(big.clone()))
                    .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => return,
                    Err(_) => {
                        if let Some(tx) = blocked.take() {
                            let _ = tx.send(());
                        }
                    }
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(600), blocked_rx)
            .await
            .expect("the sender never blocked")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_never_answers_a_ping_is_unresponsive() {
        let server = serve(|ws, _| swallow_everything(ws)).await;
        let options = StreamOptions::default().keepalive_interval(Duration::from_secs(15));
        let start = Instant::now();
        let (_sender, events) = server.connect(options).await;
        let all = collect(events).await;
        match &all[..] {
            [
                Err(Error::Stream(StreamError::Unresponsive {
                    stall: stream::Stall::NoAnswerToPing,
                    waited,
                })),
            ] => assert_eq!(*waited, Duration::from_secs(30), "twice the interval"),
            other => panic!("{other:?}"),
        }
        // The first ping at 15 s, then 30 s of silence.
        let elapsed = start.elapsed();
        assert!(
            (Duration::from_secs(45)..Duration::from_secs(46)).contains(&elapsed),
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_busy_stream_to_a_silent_server_is_probed_and_found_unresponsive() {
        let server = serve(|ws, _| swallow_everything(ws)).await;
        let options = StreamOptions::default()
            .keepalive_interval(Duration::from_secs(15))
            .pong_timeout(Duration::from_secs(10));
        let (sender, events) = server.connect(options).await;
        // Audio every 100 ms: the sending side is never idle, so only the probe of the
        // receiving side can notice the silence.
        tokio::spawn(async move {
            while sender.send_audio(frame_ms(100)).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let all = collect(events).await;
        assert!(
            matches!(
                &all[..],
                [Err(Error::Stream(StreamError::Unresponsive {
                    stall: stream::Stall::NoAnswerToPing,
                    ..
                }))]
            ),
            "{all:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_stops_reading_is_unresponsive_once_a_write_blocks() {
        let server = serve(|ws, _| never_read(ws)).await;
        let options = StreamOptions::default().keepalive_interval(Duration::from_secs(3600));
        let (sender, events) = server.connect(options).await;
        fill_the_pipe(&sender).await;
        let all = collect(events).await;
        assert!(
            matches!(
                &all[..],
                [Err(Error::Stream(StreamError::Unresponsive {
                    stall: stream::Stall::WriteBlocked,
                    waited,
                }))] if *waited == Duration::from_secs(10)
            ),
            "{all:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn end_returns_within_the_end_timeout_when_the_server_stops_reading() {
        let server = serve(|ws, _| never_read(ws)).await;
        // The other bounds are far away: only end()'s own deadline may save it.
        let options = StreamOptions::default()
            .keepalive_interval(Duration::from_secs(3600))
            .write_timeout(Duration::from_secs(3600))
            .end_timeout(Duration::from_secs(5));
        let (sender, events) = server.connect(options).await;
        fill_the_pipe(&sender).await;
        let start = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(600), sender.end())
            .await
            .expect("end() must return");
        assert!(
            matches!(ended, Err(Error::Stream(StreamError::EndTimedOut(t))) if t == Duration::from_secs(5)),
            "{ended:?}"
        );
        assert!(
            start.elapsed() <= Duration::from_secs(5),
            "{:?}",
            start.elapsed()
        );
        // The stream shuts down too, within the close bound.
        let all = collect(events).await;
        assert!(
            matches!(all.last(), Some(Ok(Event::Closed(c))) if !c.session_ended),
            "{all:?}"
        );
        assert!(
            start.elapsed() <= Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
        assert!(sender.is_closed());
    }

    #[tokio::test(start_paused = true)]
    async fn end_returns_within_the_end_timeout_when_the_server_swallows_session_end() {
        let server = serve(|ws, _| swallow_everything(ws)).await;
        let options = StreamOptions::default().end_timeout(Duration::from_secs(3));
        let (sender, events) = server.connect(options).await;
        let start = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(600), sender.end())
            .await
            .expect("end() must return");
        assert!(
            matches!(ended, Err(Error::Stream(StreamError::EndTimedOut(_)))),
            "{ended:?}"
        );
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        // It does not answer our close frame either: Events still ends.
        let all = collect(events).await;
        assert!(matches!(all.last(), Some(Ok(Event::Closed(_)))), "{all:?}");
    }

    /// Answers `session.end` with `session.ended`, then never reads again, so our close
    /// frame is never answered.
    async fn end_then_ignore_the_close(mut ws: Ws) {
        loop {
            let message = recv_json(&mut ws).await;
            if message["type"] == "session.end" {
                break;
            }
        }
        send_json(
            &mut ws,
            json!({"type": "session.ended", "session_id": "sess_1", "reason": "explicit_end"}),
        )
        .await;
        never_read(ws).await;
    }

    #[tokio::test(start_paused = true)]
    async fn session_ended_without_a_close_reply_still_ends_the_events() {
        let server = serve(|ws, _| end_then_ignore_the_close(ws)).await;
        let (sender, events) = server.connect(StreamOptions::default()).await;
        let start = Instant::now();
        sender.end().await.unwrap();
        let all = collect(events).await;
        assert!(matches!(&all[0], Ok(Event::SessionEnded { .. })), "{all:?}");
        assert!(
            matches!(
                &all[1..],
                [Ok(Event::Closed(Closed {
                    code: None,
                    session_ended: true,
                    ..
                }))]
            ),
            "{all:?}"
        );
        // The default close timeout.
        assert_eq!(start.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_server_that_ends_the_session_but_never_closes_still_ends_the_events() {
        let server = serve(|mut ws, _| async move {
            send_json(
                &mut ws,
                json!({"type": "session.ended", "session_id": "sess_1", "reason": "timeout"}),
            )
            .await;
            never_read(ws).await;
        })
        .await;
        let options = StreamOptions::default().close_timeout(Duration::from_secs(2));
        let (sender, events) = server.connect(options).await;
        let all = collect(events).await;
        assert!(
            matches!(
                &all[..],
                [
                    Ok(Event::SessionEnded { .. }),
                    Ok(Event::Closed(Closed {
                        session_ended: true,
                        ..
                    }))
                ]
            ),
            "{all:?}"
        );
        // end() after the session ended is immediate.
        sender.end().await.unwrap_or(());
    }

    #[tokio::test]
    async fn every_duration_option_saturates_at_duration_max() {
        let server = serve(|mut ws, _| async move {
            answer_end(&mut ws).await;
        })
        .await;
        let options = StreamOptions::default()
            .keepalive_interval(Duration::MAX)
            .pong_timeout(Duration::MAX)
            .write_timeout(Duration::MAX)
            .end_timeout(Duration::MAX)
            .close_timeout(Duration::MAX)
            .connect_timeout(Duration::MAX);
        let (sender, events) = server.connect(options).await;
        sender.send_audio(frame_ms(100)).await.unwrap();
        sender.ping().await.unwrap();
        sender.end().await.unwrap();
        let all = collect(events).await;
        assert!(
            matches!(all.last(), Some(Ok(Event::Closed(c))) if c.session_ended),
            "{all:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_keep_alive_interval_does_not_spin() {
        let pings = Arc::new(Mutex::new(0u32));
        let count = pings.clone();
        let server = serve(move |mut ws, _| {
            let count = count.clone();
            async move {
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Text(text) = message
                        && text.contains("\"ping\"")
                    {
                        *count.lock().unwrap() += 1;
                        send_json(&mut ws, json!({"type": "pong"})).await;
                    }
                }
            }
        })
        .await;
        let options = StreamOptions::default().keepalive_interval(Duration::ZERO);
        let (_sender, _events) = server.connect(options).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        // At most one ping per millisecond, not one per loop turn.
        let pings = *pings.lock().unwrap();
        assert!((1..=110).contains(&pings), "{pings}");
    }
}

/// `stream_audio`: real-time pacing, both parties of a call, and chunks that fail.
mod feeding {
    use super::*;
    use kallglot::stream::audio::Pcm;
    use kallglot::stream::{AudioChunk, Pacing, PartyChunk};
    use tokio::time::Instant;

    /// One `audio.input` (or `session.end`) as the server saw it, with when it arrived.
    #[derive(Debug, Clone)]
    struct Seen {
        at: Duration,
        message: Value,
    }

    impl Seen {
        fn payload(&self) -> Vec<u8> {
            let b64 = self.message["audio"]["payload"].as_str().unwrap();
            decode_base64(b64)
        }
    }

    fn decode_base64(text: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let values: Vec<u32> = text
            .bytes()
            .filter(|&b| b != b'=')
            .map(|b| ALPHABET.iter().position(|&a| a == b).unwrap() as u32)
            .collect();
        let mut out = Vec::new();
        for chunk in values.chunks(4) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0, |n, (i, v)| n | v << (18 - 6 * i));
            for i in 0..chunk.len() - 1 {
                out.push((n >> (16 - 8 * i)) as u8);
            }
        }
        out
    }

    /// A server that records every message with its arrival time (from the first one)
    /// and answers `session.end`; `done` fires when the connection is over.
    async fn recording_server() -> (
        Server,
        Arc<Mutex<Vec<Seen>>>,
        tokio::sync::oneshot::Receiver<()>,
    ) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        let done_tx = Arc::new(Mutex::new(Some(done_tx)));
        let log = seen.clone();
        let server = serve(move |mut ws, _| {
            let log = log.clone();
            let done_tx = done_tx.clone();
            async move {
                let mut first: Option<Instant> = None;
                while let Some(Ok(frame)) = ws.next().await {
                    let Message::Text(text) = frame else { continue };
                    let message: Value = serde_json::from_str(&text).unwrap();
                    let start = *first.get_or_insert_with(Instant::now);
                    let is_end = message["type"] == "session.end";
                    log.lock().unwrap().push(Seen {
                        at: start.elapsed(),
                        message,
                    });
                    if is_end {
                        send_json(
                            &mut ws,
                            json!({"type": "session.ended", "session_id": "sess_1",
                                   "reason": "explicit_end"}),
                        )
                        .await;
                    }
                }
                if let Some(tx) = done_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
        })
        .await;
        (server, seen, done_rx)
    }

    /// Streams `items` with `pacing` under paused time (the session is fetched first, on
    /// real time, from a REST mock) and returns the events and what the server saw.
    async fn stream_items(
        items: Vec<PartyChunk>,
        pacing: Pacing,
    ) -> (Vec<Result<Event, Error>>, Vec<Seen>) {
        let (server, seen, done) = recording_server().await;
        let (_rest, client, _clock, session) = reconnect::rest(server.addr, &["active"]).await;
        tokio::time::pause();
        let events = client
            .sessions()
            .stream_audio(
                &session,
                futures_util::stream::iter(items),
                StreamOptions::default().pacing(pacing),
            )
            .await
            .unwrap();
        let all = collect(events).await;
        tokio::time::timeout(Duration::from_secs(60), done)
            .await
            .expect("the server saw the connection end")
            .unwrap();
        tokio::time::resume();
        let seen = seen.lock().unwrap().clone();
        (all, seen)
    }

    fn mono_8k(ms: usize) -> PartyChunk {
        AudioChunk::Pcm16 {
            samples: vec![0; ms * 8],
            sample_rate_hz: 8000,
        }
        .into()
    }

    fn arrivals(seen: &[Seen]) -> Vec<u128> {
        seen.iter().map(|s| s.at.as_millis()).collect()
    }

    #[tokio::test]
    async fn frames_go_out_in_real_time_by_default() {
        let (all, seen) = stream_items(vec![mono_8k(1000)], Pacing::default()).await;
        assert!(
            matches!(all.last(), Some(Ok(Event::Closed(c))) if c.session_ended),
            "{all:?}"
        );
        // Ten 100 ms frames, 100 ms apart, then session.end once the audio has played.
        assert_eq!(
            arrivals(&seen),
            [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
        );
        assert_eq!(seen.last().unwrap().message["type"], "session.end");
    }

    #[tokio::test]
    async fn faster_pacing_for_backfill_and_tests() {
        let (_, seen) = stream_items(vec![mono_8k(400)], Pacing::Accelerated(4.0)).await;
        assert_eq!(arrivals(&seen), [0, 25, 50, 75, 100]);
        let (_, seen) = stream_items(vec![mono_8k(400)], Pacing::Unpaced).await;
        assert_eq!(arrivals(&seen), [0, 0, 0, 0, 0]);
        // Nonsense factors mean unpaced, never a panic or a stall.
        for factor in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let (_, seen) = stream_items(vec![mono_8k(200)], Pacing::Accelerated(factor)).await;
            assert_eq!(arrivals(&seen), [0, 0, 0], "{factor}");
        }
    }

    #[tokio::test]
    async fn a_stereo_recording_streams_both_parties_side_by_side() {
        // 500 ms at 16 kHz: the agent (left) speaks a tone, the customer (right) is silent.
        let samples: Vec<i16> = (0..8_000)
            .flat_map(|i| {
                let tone = (i as f64 * 300.0 * std::f64::consts::TAU / 16_000.0).sin() * 9_000.0;
                [tone as i16, 0]
            })
            .collect();
        let call = Pcm::new(samples, 16_000, 2).unwrap();
        let items = PartyChunk::per_channel(&call, &[Speaker::Agent, Speaker::Customer]).unwrap();
        assert_eq!(items.len(), 10, "100 ms blocks, alternating");
        let (all, seen) = stream_items(items, Pacing::RealTime).await;
        assert!(
            matches!(all.last(), Some(Ok(Event::Closed(c))) if c.session_ended),
            "{all:?}"
        );
        let audio: Vec<&Seen> = seen
            .iter()
            .filter(|s| s.message["type"] == "audio.input")
            .collect();
        let party = |who: &str| -> Vec<&Seen> {
            audio
                .iter()
                .copied()
                .filter(|s| s.message["speaker"] == who)
                .collect()
        };
        let (agent, customer) = (party("agent"), party("customer"));
        assert_eq!(agent.len(), 5, "{seen:?}");
        assert_eq!(customer.len(), 5, "{seen:?}");
        assert_eq!(audio.len(), 10, "no other speaker");
        // Each party's audio is its own channel.
        assert!(agent.iter().any(|s| s.payload().iter().any(|&b| b != 0xFF)));
        assert!(
            customer
                .iter()
                .all(|s| s.payload().iter().all(|&b| b == 0xFF))
        );
        for frames in [&agent, &customer] {
            // Both timelines run in real time, side by side: frame k at k × 100 ms.
            let at: Vec<u128> = frames.iter().map(|s| s.at.as_millis()).collect();
            assert_eq!(at, [0, 100, 200, 300, 400], "{seen:?}");
            // Timestamps follow each party's own audio.
            let ts: Vec<u64> = frames
                .iter()
                .map(|s| s.message["timestamp_ms"].as_u64().unwrap())
                .collect();
            let offsets: Vec<u64> = ts.iter().map(|t| t - ts[0]).collect();
            assert_eq!(offsets[..4], [0, 100, 200, 300]);
        }
        assert_eq!(
            agent[0].message["timestamp_ms"], customer[0].message["timestamp_ms"],
            "both parties start with the call"
        );
        // Sequence numbers stay one increasing series across both parties.
        let sequences: Vec<u64> = audio
            .iter()
            .map(|s| s.message["sequence"].as_u64().unwrap())
            .collect();
        assert_eq!(sequences, (1..=10).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn a_chunk_that_cannot_be_converted_is_an_error_on_the_stream() {
        let items = vec![
            mono_8k(100),
            AudioChunk::Pcm16 {
                samples: vec![0; 100],
                sample_rate_hz: 0,
            }
            .into(),
            mono_8k(100),
        ];
        let (all, seen) = stream_items(items, Pacing::Unpaced).await;
        assert!(
            matches!(
                all.last(),
                Some(Err(Error::Stream(StreamError::Audio(
                    kallglot::stream::AudioError::ZeroSampleRate
                ))))
            ),
            "{all:?}"
        );
        // The first frame went out; nothing after the bad chunk, and no session.end.
        let kinds: Vec<&str> = seen
            .iter()
            .map(|s| s.message["type"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, ["audio.input"], "{seen:?}");
    }
}

mod reconnect {
    use super::*;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn session_json(ws_addr: SocketAddr, status: &str) -> Value {
        json!({
            "id": "sess_1", "object": "session", "status": status,
            "mode": "bidirectional_translation",
            "stream": {"url": format!("ws://{ws_addr}/v1/sessions/sess_1/connect"),
                       "token": TOKEN,
                       "expires_at": (Utc::now() + chrono::TimeDelta::minutes(5)).to_rfc3339()},
            "created_at": "2026-03-26T11:00:00Z"
        })
    }

    /// A REST mock answering the session's GETs with `statuses` in turn (the last one
    /// repeats), a client with a manual clock, and the session fetched once (consuming
    /// the first status), ready to connect.
    pub(super) async fn rest(
        ws_addr: SocketAddr,
        statuses: &[&str],
    ) -> (MockServer, Client, ManualClock, kallglot::model::Session) {
        let server = MockServer::start().await;
        for (i, status) in statuses.iter().enumerate() {
            let mock = Mock::given(method("GET"))
                .and(path("/v1/sessions/sess_1"))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(session_json(ws_addr, status)),
                );
            if i + 1 < statuses.len() {
                mock.up_to_n_times(1).mount(&server).await;
            } else {
                mock.mount(&server).await;
            }
        }
        let clock = ManualClock::new();
        let client = Client::builder()
            .api_key("sk_test_FAKEKEY0000000000")
            .base_url(server.uri())
            .clock(Arc::new(clock.clone()))
            .build()
            .unwrap();
        let session = client
            .sessions()
            .retrieve("sess_1")
            .await
            .unwrap()
            .into_inner();
        (server, client, clock, session)
    }

    #[tokio::test]
    async fn an_abnormal_drop_reconnects_and_continues_sequence_numbers() {
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        let ws = serve(move |mut ws, index| {
            let log = log.clone();
            async move {
                let message = recv_json(&mut ws).await;
                log.lock().unwrap().push((index, message));
                if index == 0 {
                    close_with(&mut ws, 1011, "upstream restart").await;
                } else {
                    answer_end(&mut ws).await;
                }
            }
        })
        .await;
        // Two GETs: the first for connect() itself, the second during the reconnect.
        let (_rest, client, clock, session) = rest(ws.addr, &["active", "active"]).await;
        let policy =
            ReconnectPolicy::new(3).backoff(Duration::from_millis(500), Duration::from_secs(2));
        let (sender, mut events) = client
            .sessions()
            .connect(&session, StreamOptions::default().reconnect(policy))
            .await
            .unwrap();
        sender.send_audio(frame_ms(100)).await.unwrap();
        assert_eq!(
            events.next().await.unwrap().unwrap(),
            Event::Reconnected { attempt: 1 }
        );
        sender.send_audio(frame_ms(100)).await.unwrap();
        sender.end().await.unwrap();
        let rest = collect(events).await;
        assert!(matches!(rest.last(), Some(Ok(Event::Closed(c))) if c.session_ended));
        let received = received.lock().unwrap().clone();
        assert_eq!(received[0].0, 0);
        assert_eq!(received[0].1["sequence"], 1);
        assert_eq!(received[1].0, 1);
        assert_eq!(received[1].1["sequence"], 2, "numbering continues");
        // One wait, jittered into the upper half of the first 500 ms ceiling.
        let sleeps = clock.sleeps();
        assert_eq!(sleeps.len(), 1, "{sleeps:?}");
        assert!(
            sleeps[0] >= Duration::from_millis(250) && sleeps[0] <= Duration::from_millis(500),
            "{sleeps:?}"
        );
    }

    #[tokio::test]
    async fn a_drop_after_the_session_ended_ends_the_stream_cleanly() {
        let ws = serve(|mut ws, _| async move {
            close_with(&mut ws, 1001, "going away").await;
        })
        .await;
        let (_rest, client, _clock, session) = rest(ws.addr, &["active", "ended"]).await;
        let (_sender, events) = client
            .sessions()
            .connect(
                &session,
                StreamOptions::default().reconnect(ReconnectPolicy::default()),
            )
            .await
            .unwrap();
        let all = collect(events).await;
        assert!(
            matches!(
                &all[..],
                [Ok(Event::Closed(Closed {
                    session_ended: true,
                    ..
                }))]
            ),
            "{all:?}"
        );
    }

    #[tokio::test]
    async fn an_unresponsive_server_is_replaced_by_a_reconnect() {
        let ws = serve(|mut ws, index| async move {
            if index == 0 {
                // Hung: reads bytes but never answers anything.
                use tokio::io::AsyncReadExt;
                let mut buffer = vec![0u8; 4096];
                while let Ok(n) = ws.get_mut().read(&mut buffer).await {
                    if n == 0 {
                        return;
                    }
                }
            } else {
                answer_end(&mut ws).await;
            }
        })
        .await;
        let (_rest, client, _clock, session) = rest(ws.addr, &["active", "active"]).await;
        // Real time (the REST mock runs on real time), so short bounds.
        let options = StreamOptions::default()
            .keepalive_interval(Duration::from_millis(50))
            .pong_timeout(Duration::from_millis(150))
            .reconnect(ReconnectPolicy::new(3));
        let (sender, mut events) = client.sessions().connect(&session, options).await.unwrap();
        let first = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("the hung server must be noticed");
        assert_eq!(first.unwrap().unwrap(), Event::Reconnected { attempt: 1 });
        sender.end().await.unwrap();
        let rest = collect(events).await;
        assert!(matches!(rest.last(), Some(Ok(Event::Closed(c))) if c.session_ended));
    }
}
