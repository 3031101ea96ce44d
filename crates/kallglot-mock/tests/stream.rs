//! The WebSocket stream driven with a raw WebSocket client: the exact messages.

mod common;

use std::time::Duration;

use common::{Http, audio_frame};
use futures_util::{SinkExt, StreamExt};
use kallglot_mock::{Fault, MockServer, Route};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn open(session: &Value) -> Socket {
    let url = format!(
        "{}?token={}",
        session["stream"]["url"].as_str().unwrap(),
        session["stream"]["token"].as_str().unwrap()
    );
    let (mut socket, response) = connect_async(url).await.expect("connect");
    assert!(
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let ready = next_json(&mut socket).await;
    assert_eq!(
        ready,
        json!({"type": "session.ready", "session_id": session["id"]})
    );
    socket
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message in time")
            .expect("the stream is open")
            .expect("a frame");
        match frame {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn send(socket: &mut Socket, text: String) {
    socket.send(Message::Text(text.into())).await.unwrap();
}

/// The close frame's code, after reading past any remaining messages.
async fn close_code(socket: &mut Socket) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("closed in time")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

async fn server() -> MockServer {
    MockServer::builder()
        .utterance_duration(Duration::from_millis(400))
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn ping_is_answered_with_pong() {
    let server = server().await;
    let session = Http::new(&server).create_session("en", "es").await;
    let mut socket = open(&session).await;
    send(&mut socket, json!({"type": "ping"}).to_string()).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type": "pong", "session_id": session["id"]})
    );
}

#[tokio::test]
async fn audio_drives_partials_and_finals_with_translations() {
    let server = server().await;
    let http = Http::new(&server);
    let session = http.create_session("es", "en").await;
    let id = session["id"].as_str().unwrap();
    let mut socket = open(&session).await;
    // 100 ms frames: the partial comes after 200 ms of audio, the final after 400 ms.
    send(&mut socket, audio_frame(1, 100)).await;
    send(&mut socket, audio_frame(2, 100)).await;
    let partial = next_json(&mut socket).await;
    assert_eq!(
        partial,
        json!({"type": "transcript.partial", "session_id": id, "speaker": "customer", "language": "es",
               "text": "Hola, necesito ayuda"})
    );
    let active = http.get(&format!("/v1/sessions/{id}")).await.json();
    assert_eq!(active["status"], "active");
    assert!(active["started_at"].is_string());
    assert!(
        active["stream"].is_object(),
        "an active session has stream credentials"
    );
    send(&mut socket, audio_frame(3, 100)).await;
    send(&mut socket, audio_frame(4, 100)).await;
    let final_ = next_json(&mut socket).await;
    assert_eq!(final_["type"], "transcript.final");
    assert_eq!(final_["sequence"], 1);
    assert_eq!(final_["speaker"], "customer");
    assert_eq!(final_["text"], "Hola, necesito ayuda con mi pedido.");
    assert_eq!(
        final_["translation"],
        json!({"language": "en", "text": "Hello, I need help with my order."})
    );
    // The next utterance is the agent's, in the target language.
    send(&mut socket, audio_frame(5, 400)).await;
    assert_eq!(next_json(&mut socket).await["type"], "transcript.partial");
    let agent = next_json(&mut socket).await;
    assert_eq!(
        (agent["speaker"].as_str(), agent["language"].as_str()),
        (Some("agent"), Some("en"))
    );
    assert_eq!(agent["translation"]["language"], "es");

    let transcript = http
        .get(&format!("/v1/sessions/{id}/transcript"))
        .await
        .json();
    assert_eq!(transcript["status"], "in_progress");
    assert_eq!(transcript["metadata"]["total_turns"], 2);
    assert_eq!(transcript["metadata"]["duration_seconds"], 0.8);
    assert_eq!(
        transcript["metadata"]["languages_detected"],
        json!(["es", "en"])
    );
    let turn = &transcript["turns"][0];
    assert_eq!(
        turn.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "language",
            "sequence",
            "speaker",
            "text",
            "timestamp",
            "translation"
        ]
    );
    assert_eq!(turn["text"], final_["text"]);
}

#[tokio::test]
async fn invalid_audio_gets_session_error_and_the_stream_stays_open() {
    let server = server().await;
    let session = Http::new(&server).create_session("en", "es").await;
    let mut socket = open(&session).await;
    let mut frame: Value = serde_json::from_str(&audio_frame(1, 20)).unwrap();
    let bad_frames = [
        {
            let mut f = frame.clone();
            f["audio"]["encoding"] = json!("pcm_16");
            f
        },
        {
            let mut f = frame.clone();
            f["audio"]["sample_rate_hz"] = json!(16000);
            f
        },
        {
            frame["audio"]["payload"] = json!("%%% not base64 %%%");
            frame
        },
    ];
    for bad in bad_frames {
        send(&mut socket, bad.to_string()).await;
        let error = next_json(&mut socket).await;
        assert_eq!(error["type"], "session.error");
        assert_eq!(error["code"], "invalid_audio_format");
        assert!(error["message"].is_string());
    }
    send(&mut socket, json!({"type": "mute"}).to_string()).await;
    assert_eq!(next_json(&mut socket).await["code"], "unknown_message_type");
    send(&mut socket, "not json".to_string()).await;
    assert_eq!(next_json(&mut socket).await["code"], "invalid_message");
    socket
        .send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["code"], "invalid_message");
    send(&mut socket, json!({"type": "ping"}).to_string()).await;
    assert_eq!(next_json(&mut socket).await["type"], "pong");
    let stats = server.audio_stats(session["id"].as_str().unwrap()).unwrap();
    assert_eq!((stats.frames, stats.bytes, stats.refused), (0, 0, 3));
}

#[tokio::test]
async fn audio_stats_count_accepted_frames_and_the_time_they_arrived_over() {
    let server = server().await;
    let session = Http::new(&server).create_session("en", "es").await;
    let id = session["id"].as_str().unwrap();
    assert_eq!(server.audio_stats(id).unwrap().frames, 0);
    assert_eq!(server.audio_stats("sess_unknown"), None);
    let mut socket = open(&session).await;
    let started = std::time::Instant::now();
    for sequence in 1..=3 {
        send(&mut socket, audio_frame(sequence, 100)).await;
    }
    // The pong proves the frames before it were handled.
    send(&mut socket, json!({"type": "ping"}).to_string()).await;
    while next_json(&mut socket).await["type"] != "pong" {}
    let stats = server.audio_stats(id).unwrap();
    assert_eq!((stats.frames, stats.bytes, stats.refused), (3, 2400, 0));
    assert_eq!(stats.audio(), Duration::from_millis(300));
    // Sent back to back: the span is the arrival spread, within the time the test took
    // (its arithmetic on exact instants is unit-tested).
    assert!(stats.span <= started.elapsed(), "{stats:?}");
}

#[tokio::test]
async fn session_end_persists_answers_ended_and_closes_normally() {
    let server = server().await;
    let http = Http::new(&server);
    let session = http.create_session("en", "de").await;
    let id = session["id"].as_str().unwrap();
    let mut socket = open(&session).await;
    send(&mut socket, audio_frame(1, 400)).await;
    next_json(&mut socket).await; // partial
    next_json(&mut socket).await; // final
    send(&mut socket, json!({"type": "session.end"}).to_string()).await;
    assert_eq!(
        next_json(&mut socket).await,
        json!({"type": "session.ended", "session_id": id, "reason": "explicit_end"})
    );
    assert_eq!(close_code(&mut socket).await, Some(CloseCode::Normal));
    let ended = http.get(&format!("/v1/sessions/{id}")).await.json();
    assert_eq!(ended["status"], "ended");
    let transcript = http
        .get(&format!("/v1/sessions/{id}/transcript"))
        .await
        .json();
    assert_eq!(transcript["status"], "completed");
    assert_eq!(transcript["turns"][0]["translation"]["language"], "de");
    let summary = http.end(id).await.json();
    assert_eq!(summary["duration_seconds"], 0.4);
}

#[tokio::test]
async fn a_rest_end_closes_open_streams() {
    let server = server().await;
    let http = Http::new(&server);
    let session = http.create_session("en", "es").await;
    let mut socket = open(&session).await;
    http.end(session["id"].as_str().unwrap()).await;
    let ended = next_json(&mut socket).await;
    assert_eq!(ended["type"], "session.ended");
    assert_eq!(ended["reason"], "ended_by_api");
    assert_eq!(close_code(&mut socket).await, Some(CloseCode::Normal));
}

async fn refused(url: String) -> (u16, Value) {
    match connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let status = response.status().as_u16();
            let body = response.body().as_deref().unwrap_or_default();
            (status, serde_json::from_slice(body).unwrap_or(Value::Null))
        }
        Ok(_) => panic!("the upgrade was accepted"),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test]
async fn stream_tokens_are_checked_at_connect() {
    let server = MockServer::builder()
        .stream_token_ttl(Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let http = Http::new(&server);
    let a = http.create_session("en", "es").await;
    let b = http.create_session("en", "es").await;
    let url = |s: &Value| s["stream"]["url"].as_str().unwrap().to_string();
    let token = |s: &Value| s["stream"]["token"].as_str().unwrap().to_string();

    let (status, body) = refused(url(&a)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, body) = refused(format!("{}?token=kst_test_forged", url(&a))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_token"))
    );
    let (status, body) = refused(format!("{}?token={}", url(&a), token(&b))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("stream_token_mismatch"))
    );
    let elsewhere = url(&a).replace(a["id"].as_str().unwrap(), "sess_unknown");
    let (status, body) = refused(format!("{elsewhere}?token={}", token(&a))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("resource_not_found"))
    );

    tokio::time::sleep(Duration::from_millis(80)).await;
    let (status, body) = refused(format!("{}?token={}", url(&a), token(&a))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("expired_token"))
    );

    let fresh = http
        .get(&format!("/v1/sessions/{}", b["id"].as_str().unwrap()))
        .await
        .json();
    http.end(b["id"].as_str().unwrap()).await;
    let (status, body) = refused(format!("{}?token={}", url(&fresh), token(&fresh))).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("session_ended"))
    );
}

#[tokio::test]
async fn a_plain_get_and_injected_faults_refuse_the_upgrade() {
    let server = server().await;
    let session = Http::new(&server).create_session("en", "es").await;
    let http_url = format!(
        "{}?token={}",
        session["stream"]["url"]
            .as_str()
            .unwrap()
            .replacen("ws://", "http://", 1),
        session["stream"]["token"].as_str().unwrap()
    );
    let plain = reqwest::get(&http_url).await.unwrap();
    assert_eq!(plain.status(), 426);
    server.faults().inject(
        Route::ConnectStream,
        Fault::status(503, "service_unavailable").times(1),
    );
    let ws_url = http_url.replacen("http://", "ws://", 1);
    let (status, body) = refused(ws_url.clone()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("service_unavailable"))
    );
    let (_socket, _) = connect_async(ws_url).await.expect("the fault was used up");
}

#[tokio::test]
async fn streams_drop_on_demand_and_close_on_shutdown() {
    let server = server().await;
    let session = Http::new(&server).create_session("en", "es").await;
    let mut dropped = open(&session).await;
    server.disconnect_streams();
    assert_eq!(close_code(&mut dropped).await, None, "no close frame");

    let mut closing = open(&session).await;
    server.shutdown().await;
    assert_eq!(close_code(&mut closing).await, Some(CloseCode::Away));
}
