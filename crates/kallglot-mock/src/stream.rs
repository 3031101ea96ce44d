//! The real-time stream: `GET /v1/sessions/{id}/connect?token=…` (see `docs/contract.md#stream-messages`).
//!
//! The token is checked before the upgrade, and a refusal is an HTTP answer with the
//! error envelope (the reference leaves open how; the SDK reads the status):
//! - missing or unknown token: 401 `invalid_token`; expired token: 401 `expired_token`;
//! - a token of another session: 403 `stream_token_mismatch`;
//! - an unknown session: 404 `resource_not_found`; an ended one: 404 `session_ended`;
//! - a plain GET with a valid token: 426 `websocket_upgrade_required`.
//!
//! Once open, the server sends `session.ready`, then answers each text frame:
//! - `audio.input`: μ-law 8 kHz only, base64 payload; anything else gets
//!   `session.error` `invalid_audio_format` and the stream stays open. Valid audio drives
//!   the scripted conversation (see [`script`](crate::script)): `transcript.partial` and
//!   `transcript.final` messages, each final also becoming a transcript turn;
//! - `ping`: `pong`;
//! - `session.end`: the session ends (persisted), `session.ended` with
//!   `reason: "explicit_end"` follows, then a close frame with code 1000;
//! - an unknown `type`: `session.error` `unknown_message_type`; a frame that is not a
//!   JSON object with a string `type`, or a binary frame: `session.error`
//!   `invalid_message`. Neither closes the stream.
//!
//! Each session counts the `audio.input` it accepted and refused, with the wall time
//! between the first and last accepted frame ([`MockServer::audio_stats`](crate::MockServer::audio_stats)).
//!
//! A message over 1 MiB ([`MAX_MESSAGE`]) gets `session.error` `message_too_large`, then
//! the close code 1009 (message too big).
//!
//! When the session ends another way (REST end, or `session.end` on another stream),
//! open streams get `session.ended` with the recorded reason (`ended_by_api` for REST)
//! and close with 1000. A server shutdown closes them with 1001.

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::error::ApiError;
use crate::extract::path_id;
use crate::faults::{Applied, Route};
use crate::request_id::RequestId;
use crate::reset::reset_connection;
use crate::state::{AppState, StreamGrant};
use crate::upgrade::{NotAnUpgrade, Socket, WebSocketUpgrade};

/// The largest message accepted (an audio frame is a few KiB). A bigger one gets a
/// `session.error` `message_too_large` and the close code 1009 (message too big).
pub(crate) const MAX_MESSAGE: usize = 1024 * 1024;

pub(crate) async fn connect(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    upgrade: Result<WebSocketUpgrade, NotAnUpgrade>,
) -> Response {
    let session_id = match path_id(path) {
        Ok(id) => id,
        Err(e) => return e.respond(&request_id),
    };
    let token = query.ok().and_then(|Query(q)| q.get("token").cloned());
    let grant = match state
        .world()
        .authorize_stream(&session_id, token.as_deref())
    {
        Ok(grant) => grant,
        Err(e) => return e.respond(&request_id),
    };
    if let Some(fault) = state.faults.take(Route::ConnectStream) {
        match fault.apply(&request_id).await {
            Applied::Respond(response) => return response,
            Applied::Reset | Applied::RunThenReset => return reset_connection(),
            Applied::Run => {}
        }
    }
    let Ok(upgrade) = upgrade else {
        return ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "invalid_request_error",
            "websocket_upgrade_required",
            "This route only accepts WebSocket upgrades.",
        )
        .respond(&request_id);
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    upgrade.on_upgrade(config, move |socket| run(socket, state, grant))
}

/// What handling one client message leads to.
enum Flow {
    Reply(Vec<Value>),
    /// Send these, then close normally.
    Finish(Vec<Value>),
}

async fn run(mut socket: Socket, state: AppState, grant: StreamGrant) {
    let StreamGrant {
        session_id,
        mut ended,
    } = grant;
    let mut shutdown = state.shutdown.clone();
    let mut disconnect = state.disconnect.subscribe();
    tracing::debug!(session_id, "stream opened");
    let ready = json!({"type": "session.ready", "session_id": session_id});
    if send(&mut socket, &ready).await.is_err() {
        return;
    }
    loop {
        let flow = tokio::select! {
            frame = socket.next() => match frame {
                Some(Err(e)) if is_too_big(&e) => {
                    let refusal = error(
                        &session_id,
                        "message_too_large",
                        &format!("Messages are limited to {} MiB.", MAX_MESSAGE >> 20),
                    );
                    let _ = send(&mut socket, &refusal).await;
                    close(&mut socket, 1009, "message too big").await;
                    return;
                }
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(text))) => handle(&state, &session_id, text.as_str()),
                Some(Ok(Message::Binary(_))) => Flow::Reply(vec![error(
                    &session_id,
                    "invalid_message",
                    "Binary frames are not part of the protocol; send JSON text frames.",
                )]),
                // WebSocket pings are answered by the socket itself (tungstenite queues
                // the pong and sends it with the next read or write).
                Some(Ok(_)) => continue,
            },
            _ = ended.changed() => {
                let reason = state.world().end_reason(&session_id).unwrap_or("ended_by_api");
                Flow::Finish(vec![ended_message(&session_id, reason)])
            }
            _ = shutdown.changed() => {
                close(&mut socket, 1001, "the server is shutting down").await;
                return;
            }
            // Abrupt loss: drop the socket without a close frame.
            _ = disconnect.changed() => return,
        };
        match flow {
            Flow::Reply(messages) => {
                for message in &messages {
                    if send(&mut socket, message).await.is_err() {
                        return;
                    }
                }
            }
            Flow::Finish(messages) => {
                for message in &messages {
                    if send(&mut socket, message).await.is_err() {
                        return;
                    }
                }
                close(&mut socket, 1000, "").await;
                return;
            }
        }
    }
}

/// Handles one text frame.
fn handle(state: &AppState, session_id: &str, text: &str) -> Flow {
    let Some(message) = serde_json::from_str::<Value>(text)
        .ok()
        .filter(|m| m.get("type").is_some_and(Value::is_string))
    else {
        return Flow::Reply(vec![error(
            session_id,
            "invalid_message",
            "Each message must be a JSON object with a string `type`.",
        )]);
    };
    match message["type"].as_str().unwrap_or_default() {
        "audio.input" => match decode_audio(&message) {
            Err(reason) => {
                state.world().count_audio(session_id, None);
                Flow::Reply(vec![error(session_id, "invalid_audio_format", &reason)])
            }
            Ok(audio) => {
                let speaker = message
                    .get("speaker")
                    .and_then(Value::as_str)
                    .unwrap_or("customer");
                if audio.is_empty() {
                    return Flow::Reply(Vec::new());
                }
                state.world().count_audio(session_id, Some(audio.len()));
                let (messages, events) =
                    state
                        .world()
                        .receive_audio(session_id, speaker, audio.len());
                state.publish(events);
                Flow::Reply(messages)
            }
        },
        "ping" => Flow::Reply(vec![json!({"type": "pong", "session_id": session_id})]),
        "session.end" => {
            let ended = state.world().end_session(session_id, "explicit_end");
            match ended {
                Ok((_, events)) => state.publish(events),
                // Another path removed it meanwhile: it has ended all the same.
                Err(e) => tracing::debug!(session_id, code = e.code, "ending from the stream"),
            }
            let reason = state
                .world()
                .end_reason(session_id)
                .unwrap_or("explicit_end");
            Flow::Finish(vec![ended_message(session_id, reason)])
        }
        other => Flow::Reply(vec![error(
            session_id,
            "unknown_message_type",
            &format!("Unknown message type '{other}'; expected audio.input, ping or session.end."),
        )]),
    }
}

/// The μ-law bytes of an `audio.input`, or why it is refused.
fn decode_audio(message: &Value) -> Result<Vec<u8>, String> {
    let audio = message
        .get("audio")
        .and_then(Value::as_object)
        .ok_or("`audio` must be an object with encoding, sample_rate_hz and payload.")?;
    match audio.get("encoding").and_then(Value::as_str) {
        Some("mulaw") => {}
        other => {
            return Err(format!(
                "Audio must be mulaw; got {}.",
                other.map_or("no encoding".to_string(), |e| format!("'{e}'"))
            ));
        }
    }
    let rate = audio.get("sample_rate_hz").and_then(Value::as_f64);
    if rate != Some(8000.0) {
        return Err(format!(
            "Audio must be sampled at 8000 Hz; got {}.",
            rate.map_or("no sample_rate_hz".to_string(), |r| r.to_string())
        ));
    }
    let payload = audio
        .get("payload")
        .and_then(Value::as_str)
        .ok_or("`audio.payload` must be a base64 string.")?;
    base64::engine::general_purpose::STANDARD
        .decode(payload)
        .map_err(|_| "`audio.payload` is not valid base64.".to_string())
}

/// Whether a receive error is the socket refusing a message over [`MAX_MESSAGE`].
fn is_too_big(error: &tungstenite::Error) -> bool {
    matches!(error, tungstenite::Error::Capacity(_))
}

fn error(session_id: &str, code: &str, message: &str) -> Value {
    json!({"type": "session.error", "session_id": session_id, "code": code, "message": message})
}

fn ended_message(session_id: &str, reason: &str) -> Value {
    json!({"type": "session.ended", "session_id": session_id, "reason": reason})
}

async fn send(socket: &mut Socket, message: &Value) -> Result<(), tungstenite::Error> {
    socket.send(Message::Text(message.to_string().into())).await
}

async fn close(socket: &mut Socket, code: u16, reason: &'static str) {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    };
    // The peer may already be gone; there is nothing left to do then.
    let _ = socket.send(Message::Close(Some(frame))).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_frames_are_validated() {
        let frame = |encoding: &str, rate: Value, payload: &str| json!({"type": "audio.input", "audio": {"encoding": encoding, "sample_rate_hz": rate, "payload": payload}});
        assert_eq!(
            decode_audio(&frame("mulaw", json!(8000), "/38A")).unwrap(),
            [0xFF, 0x7F, 0x00]
        );
        assert!(decode_audio(&frame("pcm_16", json!(8000), "/38A")).is_err());
        assert!(decode_audio(&frame("mulaw", json!(16000), "/38A")).is_err());
        assert!(decode_audio(&frame("mulaw", json!("8000"), "/38A")).is_err());
        assert!(decode_audio(&frame("mulaw", json!(8000), "not base64!")).is_err());
        assert!(decode_audio(&json!({"type": "audio.input"})).is_err());
    }
}
