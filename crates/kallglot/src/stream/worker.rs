//! The task that owns a stream's socket.
//!
//! Only this task reads or writes the connection, so a keep-alive, an `end()` and audio
//! can never race on it: they are commands handled one at a time. Each loop iteration
//! waits on whichever of these can make progress:
//! - delivering the one pending event (while it waits, the socket is not read, which
//!   pushes back on the server instead of queueing without bound);
//! - the next command from the senders (bounded channel: backpressure on the senders);
//! - the next frame from the socket;
//! - the keep-alive deadline, and the `end()` deadline.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;

use super::connect::{self, Dialer, Socket, Target};
use super::message::{self, AudioInput, ClientMessage, Closed, Event};
use super::{Command, ReconnectPolicy, StreamError, StreamOptions};
use crate::client::Client;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::SessionId;

/// What the reconnect policy needs: the REST client to re-fetch the session.
pub(crate) struct Reconnect {
    pub policy: ReconnectPolicy,
    pub client: Client,
    pub session_id: SessionId,
}

/// Everything the worker starts from.
pub(crate) struct Setup {
    pub target: Target,
    pub dialer: Dialer,
    /// The stream's span, created in the caller's context (its parent is the caller's).
    pub span: tracing::Span,
    pub options: StreamOptions,
    pub commands: mpsc::Receiver<Command>,
    pub events: mpsc::Sender<Result<Event>>,
    pub ready: oneshot::Sender<Result<()>>,
    pub reconnect: Option<Reconnect>,
    pub clock: Arc<dyn Clock>,
}

/// Connects, reports the outcome to `connect()`, then drives the stream to its end.
pub(crate) async fn run(setup: Setup) {
    let span = setup.span.clone();
    async move {
        // Boxed: the dial future is large and would otherwise stay in the worker's state
        // for the whole life of the stream (about 10 KiB per connection).
        let socket = match Box::pin(connect::dial(
            &setup.dialer,
            &setup.target,
            setup.options.connect_timeout,
        ))
        .await
        {
            Ok(socket) => socket,
            Err(e) => {
                let _ = setup.ready.send(Err(e.into()));
                return;
            }
        };
        if setup.ready.send(Ok(())).is_err() {
            // The caller went away while connecting.
            return;
        }
        tracing::debug!("stream connected");
        let now = Instant::now();
        let keepalive_interval = setup.options.keepalive_interval;
        let mut worker = Worker {
            socket,
            dialer: setup.dialer,
            options: setup.options,
            commands: setup.commands,
            events: setup.events,
            reconnect: setup.reconnect,
            clock: setup.clock,
            sequence: 0,
            started_ms: Utc::now().timestamp_millis().max(0) as u64,
            audio_ms: 0,
            last_sent: now,
            keepalive: Box::pin(tokio::time::sleep_until(now + keepalive_interval)),
            pending: None,
            finishing: false,
            senders_gone: false,
            session_ended: false,
            closing: false,
            end_waiters: Vec::new(),
            end_deadline: None,
        };
        worker.drive().await;
        tracing::debug!("stream worker stopped");
    }
    .instrument(span)
    .await
}

struct Worker {
    socket: Socket,
    dialer: Dialer,
    options: StreamOptions,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Result<Event>>,
    reconnect: Option<Reconnect>,
    clock: Arc<dyn Clock>,
    /// The last sequence number stamped (continues across reconnects).
    sequence: u64,
    /// Unix ms when the stream started; frame timestamps follow the audio from there.
    started_ms: u64,
    /// Milliseconds of audio sent so far.
    audio_ms: u64,
    /// When anything was last written, for the idle keep-alive.
    last_sent: Instant,
    /// One timer for the idle keep-alive, re-armed only when it fires: frames are sent
    /// every 20–200 ms, and a fresh timer per frame would cost a timer-wheel insert and
    /// removal each time.
    keepalive: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// The one event waiting for room in the event channel.
    pending: Option<Result<Event>>,
    /// Stop once `pending` is delivered.
    finishing: bool,
    senders_gone: bool,
    session_ended: bool,
    /// A close frame was sent: nothing may be written after it.
    closing: bool,
    end_waiters: Vec<oneshot::Sender<Result<()>>>,
    end_deadline: Option<Instant>,
}

impl Worker {
    async fn drive(&mut self) {
        loop {
            if self.finishing && self.pending.is_none() {
                break;
            }
            if self.senders_gone && self.events.is_closed() {
                // Every handle is gone: nobody can send or listen any more.
                break;
            }
            let end_at = self.end_deadline;
            // Each branch only takes what it needs; the work happens after the select so
            // that it can use the whole worker.
            let pending = &mut self.pending;
            let step = tokio::select! {
                biased;
                permit = self.events.reserve(), if pending.is_some() => {
                    // On Err the listener is gone: the event is dropped and the stream goes
                    // on for the senders.
                    if let (Ok(permit), Some(item)) = (permit, pending.take()) {
                        permit.send(item);
                    }
                    Step::Idle
                }
                _ = self.events.closed(), if !self.events.is_closed() && pending.is_none() => Step::Idle,
                command = self.commands.recv(), if !self.senders_gone && !self.finishing => {
                    Step::Command(command)
                }
                frame = self.socket.next(), if pending.is_none() && !self.finishing => Step::Frame(frame),
                _ = self.keepalive.as_mut(), if !self.finishing && !self.closing => {
                    Step::KeepAlive
                }
                _ = sleep_until_opt(end_at), if end_at.is_some() && !self.finishing => Step::EndTimedOut,
            };
            match step {
                Step::Idle => {}
                Step::Command(Some(command)) => self.on_command(command).await,
                Step::Command(None) => self.senders_gone = true,
                Step::Frame(frame) => self.on_frame(frame).await,
                Step::KeepAlive => {
                    // The timer was armed from an older send; ping only if the stream has
                    // really been idle for the whole interval since the last one.
                    let interval = self.options.keepalive_interval;
                    if Instant::now() >= self.last_sent + interval {
                        tracing::trace!("idle: sending a keep-alive ping");
                        self.write(ClientMessage::Ping).await;
                    }
                    let next = self.last_sent + interval;
                    self.keepalive.as_mut().reset(next);
                }
                Step::EndTimedOut => {
                    self.end_deadline = None;
                    let timeout = self.options.end_timeout;
                    self.reply_end(|| Err(StreamError::EndTimedOut(timeout).into()));
                    self.close(CloseCode::Normal).await;
                    self.finish(Ok(Event::Closed(Closed {
                        code: Some(1000),
                        reason: "session.ended did not arrive in time".into(),
                        session_ended: false,
                    })));
                }
            }
        }
        self.reply_end(|| Err(StreamError::NotConnected.into()));
        self.close(CloseCode::Normal).await;
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Audio { speaker, audio } => {
                self.sequence += 1;
                let duration_ms = audio.duration().as_millis() as u64;
                let message = ClientMessage::AudioInput(AudioInput {
                    sequence: self.sequence,
                    timestamp_ms: self.started_ms + self.audio_ms,
                    speaker,
                    audio,
                });
                self.audio_ms += duration_ms;
                self.write(message).await;
            }
            Command::Ping => self.write(ClientMessage::Ping).await,
            Command::End { reply } => {
                if self.session_ended {
                    let _ = reply.send(Ok(()));
                    return;
                }
                self.end_waiters.push(reply);
                if self.end_deadline.is_none() {
                    self.end_deadline = Some(Instant::now() + self.options.end_timeout);
                    self.write(ClientMessage::SessionEnd).await;
                }
            }
        }
    }

    async fn write(&mut self, message: ClientMessage) {
        if self.closing {
            // The session is ending and our close frame is out: a ping or audio queued
            // behind `end()` has nowhere to go, and sending it would be a protocol error.
            tracing::trace!("dropping a message queued after the close");
            return;
        }
        self.last_sent = Instant::now();
        if let Err(e) = self.socket.send(Message::text(message.to_json())).await {
            tracing::debug!(error = %e, "writing to the stream failed");
            self.on_drop(None, format!("the connection broke while sending: {e}"))
                .await;
        }
    }

    async fn on_frame(&mut self, frame: Option<std::result::Result<Message, tungstenite::Error>>) {
        match frame {
            Some(Ok(Message::Text(text))) => match message::decode(&text) {
                Some(event) => {
                    let ended = matches!(event, Event::SessionEnded { .. });
                    self.pending = Some(Ok(event));
                    if ended {
                        let requested = self.end_deadline.is_some();
                        self.session_ended = true;
                        self.end_deadline = None;
                        self.reply_end(|| Ok(()));
                        if requested {
                            // Our end() asked for it: close now; the server's close reply
                            // then ends the stream cleanly.
                            self.close(CloseCode::Normal).await;
                        }
                    }
                }
                None => tracing::debug!(
                    bytes = text.len(),
                    "skipping a text frame that is not a JSON message with a type"
                ),
            },
            Some(Ok(Message::Binary(bytes))) => {
                tracing::debug!(
                    bytes = bytes.len(),
                    "skipping a binary frame (not part of the protocol)"
                )
            }
            Some(Ok(Message::Ping(_))) => {
                // The socket queued the pong; flush it now rather than on the next write.
                let _ = self.socket.flush().await;
            }
            Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = match frame {
                    Some(CloseFrame { code, reason }) => {
                        (Some(u16::from(code)), reason.to_string())
                    }
                    None => (None, String::new()),
                };
                // A close handshake without a status code (1005) is still a clean
                // close; only 1000 among the codes is, the others report a failure.
                if self.session_ended || code.is_none() || code == Some(1000) {
                    self.finish(Ok(Event::Closed(Closed {
                        code,
                        reason,
                        session_ended: self.session_ended,
                    })));
                } else {
                    self.on_drop(code, reason).await;
                }
            }
            Some(Err(e)) => {
                let reason = format!("connection error: {e}");
                if self.session_ended {
                    self.finish(Ok(Event::Closed(Closed {
                        code: None,
                        reason,
                        session_ended: true,
                    })));
                } else {
                    self.on_drop(None, reason).await;
                }
            }
            None => {
                if self.session_ended {
                    self.finish(Ok(Event::Closed(Closed {
                        code: None,
                        reason: String::new(),
                        session_ended: true,
                    })));
                } else {
                    self.on_drop(None, "the connection closed without a close frame".into())
                        .await;
                }
            }
        }
    }

    /// An abnormal end of the connection: reconnect if configured, else report it.
    async fn on_drop(&mut self, code: Option<u16>, reason: String) {
        tracing::debug!(?code, reason = %reason, "the stream dropped");
        let ending = !self.end_waiters.is_empty();
        if let (Some(_), false) = (&self.reconnect, ending) {
            match self.reconnect().await {
                Ok(Some(attempt)) => {
                    self.pending = Some(Ok(Event::Reconnected { attempt }));
                    return;
                }
                Ok(None) => {
                    self.finish(Ok(Event::Closed(Closed {
                        code,
                        reason: "the session has ended".into(),
                        session_ended: true,
                    })));
                    return;
                }
                Err(e) => {
                    self.finish(Err(e));
                    return;
                }
            }
        }
        let error = StreamError::Closed { code, reason };
        let message = error.to_string();
        self.reply_end(|| {
            Err(StreamError::Closed {
                code,
                reason: message.clone(),
            }
            .into())
        });
        self.finish(Err(error.into()));
    }

    /// Re-fetches the session and reconnects. `Ok(Some(attempt))` when reconnected,
    /// `Ok(None)` when the session has ended.
    async fn reconnect(&mut self) -> Result<Option<u32>> {
        let Some(reconnect) = &self.reconnect else {
            return Ok(None);
        };
        let policy = reconnect.policy;
        let mut backoff = policy.initial_backoff;
        let mut last = String::from("no attempt was made");
        for attempt in 1..=policy.max_attempts.max(1) {
            self.clock.sleep(backoff).await;
            backoff = (backoff * 2).min(policy.max_backoff.max(backoff));
            let session = match reconnect
                .client
                .sessions()
                .retrieve(reconnect.session_id.clone())
                .await
            {
                Ok(session) => session.into_inner(),
                Err(e) => {
                    last = format!("retrieving the session failed: {e}");
                    continue;
                }
            };
            if session.status.is_ended() {
                return Ok(None);
            }
            let Some(credentials) = session.stream else {
                last = "the session has no stream credentials".into();
                continue;
            };
            let target = match Target::new(&credentials, &self.dialer, Utc::now()) {
                Ok(target) if target.usable_at(Utc::now()) => target,
                Ok(_) | Err(_) => {
                    last = "the session's stream token has expired".into();
                    continue;
                }
            };
            match Box::pin(connect::dial(
                &self.dialer,
                &target,
                self.options.connect_timeout,
            ))
            .await
            {
                Ok(socket) => {
                    tracing::debug!(attempt, "stream reconnected");
                    self.socket = socket;
                    self.last_sent = Instant::now();
                    return Ok(Some(attempt));
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::Stream(StreamError::ReconnectFailed {
            attempts: policy.max_attempts.max(1),
            last,
        }))
    }

    fn finish(&mut self, last: Result<Event>) {
        self.pending = Some(last);
        self.finishing = true;
    }

    fn reply_end(&mut self, outcome: impl Fn() -> Result<()>) {
        for waiter in self.end_waiters.drain(..) {
            let _ = waiter.send(outcome());
        }
    }

    /// Best-effort close handshake, bounded in time so a dead peer cannot hold the task.
    async fn close(&mut self, code: CloseCode) {
        if std::mem::replace(&mut self.closing, true) {
            return;
        }
        let frame = CloseFrame {
            code,
            reason: "".into(),
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), self.socket.close(Some(frame))).await;
    }
}

/// What woke the worker up.
enum Step {
    Idle,
    Command(Option<Command>),
    Frame(Option<std::result::Result<Message, tungstenite::Error>>),
    KeepAlive,
    EndTimedOut,
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
