//! The task that owns a stream's socket.
//!
//! Only this task reads or writes the connection, so a keep-alive, an `end()` and audio
//! can never race on it: they are commands handled one at a time. Each loop iteration
//! waits on whichever of these can make progress:
//! - delivering the one pending event (while it waits, the socket is not read, which
//!   pushes back on the server instead of queueing without bound);
//! - the next command from the senders (bounded channel: backpressure on the senders);
//! - the next frame from the socket;
//! - the keep-alive timer, and the pong, `end()` and close deadlines.
//!
//! Every wait on the peer has a deadline: each write is bounded by the write timeout,
//! silence after a ping by the pong timeout, `session.ended` by the end timeout, and the
//! close handshake by the close timeout. A peer that misses one is dropped (or, with
//! reconnect on, replaced).

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tracing::Instrument;

use super::connect::{self, Socket, Target};
use super::message::{self, AudioInput, ClientMessage, Closed, Event};
use super::{Command, ReconnectPolicy, Stall, StreamError, StreamOptions, deadline_after};
use crate::client::Client;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::ids::SessionId;
use crate::model::Speaker;

/// What the reconnect policy needs: the REST client to re-fetch the session.
pub(crate) struct Reconnect {
    pub policy: ReconnectPolicy,
    pub client: Client,
    pub session_id: SessionId,
}

/// Everything the worker starts from.
pub(crate) struct Setup {
    pub target: Target,
    pub options: StreamOptions,
    pub commands: mpsc::Receiver<Command>,
    pub events: mpsc::Sender<Result<Event>>,
    pub ready: oneshot::Sender<Result<()>>,
    pub reconnect: Option<Reconnect>,
    pub clock: Arc<dyn Clock>,
    pub abort: Arc<Notify>,
}

/// Connects, reports the outcome to `connect()`, then drives the stream to its end.
pub(crate) async fn run(setup: Setup) {
    let span = tracing::info_span!("kallglot.stream");
    async move {
        // Boxed: the dial future is large and would otherwise stay in the worker's state
        // for the whole life of the stream (about 10 KiB per connection).
        let socket =
            match Box::pin(connect::dial(&setup.target, setup.options.connect_timeout)).await {
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
        let keepalive_interval = setup.options.effective_keepalive();
        let mut worker = Worker {
            socket,
            options: setup.options,
            commands: setup.commands,
            events: setup.events,
            reconnect: setup.reconnect,
            clock: setup.clock,
            abort: setup.abort,
            sequence: 0,
            started_ms: Utc::now().timestamp_millis().max(0) as u64,
            audio_ms: Vec::new(),
            last_sent: now,
            last_received: now,
            last_probe: now,
            unanswered_since: None,
            keepalive: Box::pin(tokio::time::sleep_until(deadline_after(
                now,
                keepalive_interval,
            ))),
            pending: None,
            queued: None,
            finishing: false,
            senders_gone: false,
            session_ended: false,
            closing: false,
            dead: false,
            end_waiters: Vec::new(),
            end_deadline: None,
            close_deadline: None,
        };
        worker.drive().await;
        tracing::debug!("stream worker stopped");
    }
    .instrument(span)
    .await
}

struct Worker {
    socket: Socket,
    options: StreamOptions,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Result<Event>>,
    reconnect: Option<Reconnect>,
    clock: Arc<dyn Clock>,
    /// Notified when an `end()` gave up waiting.
    abort: Arc<Notify>,
    /// The last sequence number stamped (continues across reconnects).
    sequence: u64,
    /// Unix ms when the stream started; frame timestamps follow the audio from there.
    started_ms: u64,
    /// Milliseconds of audio sent so far, per speaker: each party is its own timeline
    /// (a call's two legs run side by side), so a frame's timestamp is where it sits in
    /// its speaker's audio. A short list: a call has one or two speakers.
    audio_ms: Vec<(Speaker, u64)>,
    /// When anything was last written, for the idle keep-alive.
    last_sent: Instant,
    /// When anything was last read, for the liveness probe.
    last_received: Instant,
    /// When the last liveness probe (a WebSocket ping) went out.
    last_probe: Instant,
    /// Since when a ping has gone unanswered: nothing has arrived since it was sent.
    unanswered_since: Option<Instant>,
    /// One timer for the keep-alive and the probe, re-armed only when it fires: frames
    /// are sent every 20–200 ms, and a fresh timer per frame would cost a timer-wheel
    /// insert and removal each time.
    keepalive: std::pin::Pin<Box<tokio::time::Sleep>>,
    /// The one event waiting for room in the event channel.
    pending: Option<Result<Event>>,
    /// An event that came while `pending` was still waiting (a reconnect or the final
    /// outcome, found while handling a command); delivered right after it.
    queued: Option<Result<Event>>,
    /// Stop once `pending` is delivered.
    finishing: bool,
    senders_gone: bool,
    session_ended: bool,
    /// A close frame was sent: nothing may be written after it.
    closing: bool,
    /// The connection is known to be broken or unresponsive: no close handshake is tried.
    dead: bool,
    end_waiters: Vec<oneshot::Sender<Result<()>>>,
    end_deadline: Option<Instant>,
    /// When the close handshake gives up, once the session has ended.
    close_deadline: Option<Instant>,
}

/// How a bounded write ended.
enum Written {
    Done(std::result::Result<(), tokio_tungstenite::tungstenite::Error>),
    TimedOut,
    Aborted,
}

/// Why the connection is no longer usable.
enum Broken {
    Closed { code: Option<u16>, reason: String },
    Unresponsive { stall: Stall, waited: Duration },
}

impl Broken {
    fn to_error(&self) -> StreamError {
        match self {
            Self::Closed { code, reason } => StreamError::Closed {
                code: *code,
                reason: reason.clone(),
            },
            Self::Unresponsive { stall, waited } => StreamError::Unresponsive {
                stall: *stall,
                waited: *waited,
            },
        }
    }
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
            let reading = self.pending.is_none() && !self.finishing;
            // Like the pong deadline, paused while a slow listener keeps the worker from
            // reading: the server's close reply may be waiting in the socket.
            let close_at = self.close_deadline.filter(|_| reading);
            // Paused while the worker is not reading: silence it cannot hear is not the
            // server's fault.
            let unanswered_at = self
                .unanswered_since
                .filter(|_| reading && !self.closing && !self.session_ended)
                .map(|since| deadline_after(since, self.options.effective_pong_timeout()));
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
                    Step::Delivered
                }
                _ = self.events.closed(), if !self.events.is_closed() && pending.is_none() => Step::Idle,
                command = self.commands.recv(), if !self.senders_gone && !self.finishing => {
                    Step::Command(command)
                }
                frame = self.socket.next(), if reading => Step::Frame(frame),
                _ = self.keepalive.as_mut(), if !self.finishing && !self.closing && !self.session_ended => {
                    Step::KeepAlive
                }
                _ = sleep_until_opt(unanswered_at), if unanswered_at.is_some() => Step::Unresponsive,
                _ = sleep_until_opt(end_at), if end_at.is_some() && !self.finishing => Step::EndTimedOut,
                _ = sleep_until_opt(close_at), if close_at.is_some() && !self.finishing => Step::CloseTimedOut,
            };
            match step {
                Step::Idle => {}
                Step::Delivered => self.pending = self.queued.take(),
                Step::Command(Some(command)) => self.on_command(command).await,
                Step::Command(None) => self.senders_gone = true,
                Step::Frame(frame) => {
                    self.last_received = Instant::now();
                    self.unanswered_since = None;
                    self.on_frame(frame).await;
                }
                Step::KeepAlive => self.on_keepalive().await,
                Step::Unresponsive => {
                    let waited = self.options.effective_pong_timeout();
                    tracing::warn!(?waited, "the server did not answer a ping in time");
                    self.on_broken(Broken::Unresponsive {
                        stall: Stall::NoAnswerToPing,
                        waited,
                    })
                    .await;
                }
                Step::EndTimedOut => self.end_timed_out().await,
                Step::CloseTimedOut => {
                    tracing::debug!("the server did not complete the close handshake in time");
                    self.close_deadline = None;
                    self.dead = true;
                    self.finish(Ok(Event::Closed(Closed {
                        code: None,
                        reason: "the server did not complete the close handshake in time".into(),
                        session_ended: self.session_ended,
                    })));
                }
            }
        }
        self.reply_end(|| Err(StreamError::NotConnected.into()));
        self.close(CloseCode::Normal).await;
    }

    /// The idle keep-alive (a `ping` message after an interval without sending) and the
    /// liveness probe (a WebSocket ping after an interval without receiving).
    async fn on_keepalive(&mut self) {
        // The timer was armed from older activity; act only on what is really due.
        let interval = self.options.effective_keepalive();
        let now = Instant::now();
        if now >= deadline_after(self.last_sent, interval) {
            tracing::trace!("idle: sending a keep-alive ping");
            self.write(Message::text(ClientMessage::Ping.to_json()))
                .await;
            self.expect_answer(now);
        }
        let quiet_since = self.last_received.max(self.last_probe);
        if !self.finishing && now >= deadline_after(quiet_since, interval) {
            tracing::trace!("nothing received lately: probing with a WebSocket ping");
            self.last_probe = now;
            self.write(Message::Ping(Default::default())).await;
            self.expect_answer(now);
        }
        let quiet_since = self.last_received.max(self.last_probe);
        let next =
            deadline_after(self.last_sent, interval).min(deadline_after(quiet_since, interval));
        self.keepalive.as_mut().reset(next);
    }

    /// A ping went out at `at`: the server must answer (with anything) in time.
    fn expect_answer(&mut self, at: Instant) {
        if self.unanswered_since.is_none() && !self.finishing {
            self.unanswered_since = Some(at);
        }
    }

    async fn on_command(&mut self, command: Command) {
        match command {
            Command::Audio { speaker, audio } => {
                self.sequence += 1;
                let duration_ms = audio.duration().as_millis() as u64;
                let started_ms = self.started_ms;
                let position = self.timeline(&speaker);
                let timestamp_ms = started_ms.saturating_add(*position);
                *position = position.saturating_add(duration_ms);
                let message = ClientMessage::AudioInput(AudioInput {
                    sequence: self.sequence,
                    timestamp_ms,
                    speaker,
                    audio,
                });
                self.write(Message::text(message.to_json())).await;
            }
            Command::Ping => {
                self.write(Message::text(ClientMessage::Ping.to_json()))
                    .await;
                self.expect_answer(Instant::now());
            }
            Command::End { reply, deadline } => {
                if self.session_ended {
                    let _ = reply.send(Ok(()));
                    return;
                }
                self.end_waiters.push(reply);
                if self.end_deadline.is_none() {
                    self.end_deadline = Some(deadline);
                    self.write(Message::text(ClientMessage::SessionEnd.to_json()))
                        .await;
                }
            }
            Command::Fail(error) => {
                tracing::warn!(error = %error, "the audio feeding the stream failed");
                self.reply_end(|| Err(StreamError::NotConnected.into()));
                self.close(CloseCode::Normal).await;
                self.finish(Err(error.into()));
            }
        }
    }

    /// The audio already sent for `speaker`, in milliseconds.
    fn timeline(&mut self, speaker: &Speaker) -> &mut u64 {
        let index = match self.audio_ms.iter().position(|(s, _)| s == speaker) {
            Some(index) => index,
            None => {
                self.audio_ms.push((speaker.clone(), 0));
                self.audio_ms.len() - 1
            }
        };
        &mut self.audio_ms[index].1
    }

    /// Runs one socket operation within the write timeout, giving up early if an `end()`
    /// gave up meanwhile.
    ///
    /// A write that completes at once (the usual case: the socket has room) costs no
    /// timer and no wait on the abort signal. Only a write that has to wait can leave an
    /// `end()` behind it in the channel, so only then is the abort signal watched; in the
    /// main loop the `end()` command itself arrives in time.
    async fn bounded<F>(abort: &Notify, timeout: Duration, operation: F) -> Written
    where
        F: Future<Output = std::result::Result<(), tokio_tungstenite::tungstenite::Error>>,
    {
        let mut operation = std::pin::pin!(operation);
        let first = std::future::poll_fn(|cx| Poll::Ready(operation.as_mut().poll(cx))).await;
        if let Poll::Ready(result) = first {
            return Written::Done(result);
        }
        tokio::select! {
            biased;
            _ = abort.notified() => Written::Aborted,
            outcome = tokio::time::timeout(timeout, operation) => match outcome {
                Ok(result) => Written::Done(result),
                Err(_) => Written::TimedOut,
            },
        }
    }

    async fn write(&mut self, message: Message) {
        if self.closing || self.finishing {
            // The session is ending and our close frame is out (or the connection is
            // gone): a ping or audio queued behind it has nowhere to go, and sending it
            // would be a protocol error.
            tracing::trace!("dropping a message queued after the close");
            return;
        }
        self.last_sent = Instant::now();
        let timeout = self.options.write_timeout;
        match Self::bounded(&self.abort, timeout, self.socket.send(message)).await {
            Written::Done(Ok(())) => {}
            Written::Done(Err(e)) => {
                tracing::debug!(error = %e, "writing to the stream failed");
                self.on_broken(Broken::Closed {
                    code: None,
                    reason: format!("the connection broke while sending: {e}"),
                })
                .await;
            }
            Written::TimedOut => {
                tracing::warn!(?timeout, "a write to the stream stayed blocked");
                self.on_broken(Broken::Unresponsive {
                    stall: Stall::WriteBlocked,
                    waited: timeout,
                })
                .await;
            }
            Written::Aborted => self.end_timed_out().await,
        }
    }

    /// `end()` gave up, or `session.ended` did not come in time: shut the stream down.
    async fn end_timed_out(&mut self) {
        if self.finishing || self.session_ended {
            // Already over, or `session.ended` won the race: the close deadline takes it
            // from here.
            return;
        }
        self.end_deadline = None;
        let timeout = self.options.end_timeout;
        tracing::debug!(?timeout, "session.ended did not arrive in time; closing");
        self.reply_end(|| Err(StreamError::EndTimedOut(timeout).into()));
        self.close(CloseCode::Normal).await;
        self.finish(Ok(Event::Closed(Closed {
            code: None,
            reason: "session.ended did not arrive in time".into(),
            session_ended: false,
        })));
    }

    async fn on_frame(
        &mut self,
        frame: Option<std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) {
        match frame {
            Some(Ok(Message::Text(text))) => match message::decode(&text) {
                Some(event) => {
                    let ended = matches!(event, Event::SessionEnded { .. });
                    self.emit(Ok(event));
                    if ended {
                        let requested = self.end_deadline.is_some();
                        self.session_ended = true;
                        self.end_deadline = None;
                        self.reply_end(|| Ok(()));
                        // The server closes next; if it never does, stop waiting after the
                        // close timeout rather than holding `Events` open forever.
                        self.close_deadline =
                            Some(deadline_after(Instant::now(), self.options.close_timeout));
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
                // tungstenite queued the pong; flush it now rather than on the next write.
                if !self.closing {
                    let timeout = self.options.write_timeout;
                    if let Written::TimedOut =
                        Self::bounded(&self.abort, timeout, self.socket.flush()).await
                    {
                        tracing::warn!(?timeout, "answering a ping stayed blocked");
                        self.on_broken(Broken::Unresponsive {
                            stall: Stall::WriteBlocked,
                            waited: timeout,
                        })
                        .await;
                    }
                }
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
                    self.on_broken(Broken::Closed { code, reason }).await;
                }
            }
            Some(Err(e)) => {
                let reason = format!("connection error: {e}");
                if self.session_ended {
                    self.dead = true;
                    self.finish(Ok(Event::Closed(Closed {
                        code: None,
                        reason,
                        session_ended: true,
                    })));
                } else {
                    self.on_broken(Broken::Closed { code: None, reason }).await;
                }
            }
            None => {
                self.dead = true;
                if self.session_ended {
                    self.finish(Ok(Event::Closed(Closed {
                        code: None,
                        reason: String::new(),
                        session_ended: true,
                    })));
                } else {
                    self.on_broken(Broken::Closed {
                        code: None,
                        reason: "the connection closed without a close frame".into(),
                    })
                    .await;
                }
            }
        }
    }

    /// The connection can no longer be used: reconnect if configured, else report it.
    async fn on_broken(&mut self, broken: Broken) {
        if self.finishing {
            return;
        }
        if let Broken::Closed { code, reason } = &broken {
            tracing::debug!(?code, reason = %reason, "the stream dropped");
        }
        if matches!(broken, Broken::Unresponsive { .. }) {
            // Nothing more is written to a peer that stopped answering: a close frame
            // would only wait out another timeout.
            self.dead = true;
        }
        let ending = !self.end_waiters.is_empty();
        if let (Some(_), false) = (&self.reconnect, ending) {
            tracing::info!(error = %broken.to_error(), "the stream broke; reconnecting");
            let abort = self.abort.clone();
            let outcome = tokio::select! {
                biased;
                _ = abort.notified() => None,
                // Boxed: the REST retrieve and the dial are large futures that would otherwise
                // be part of every worker's state, though reconnects are rare.
                outcome = Box::pin(self.reconnect()) => Some(outcome),
            };
            match outcome {
                Some(Ok(Some(attempt))) => {
                    self.emit(Ok(Event::Reconnected { attempt }));
                    return;
                }
                Some(Ok(None)) => {
                    tracing::info!("the session ended while the stream was down");
                    self.finish(Ok(Event::Closed(Closed {
                        code: None,
                        reason: "the session has ended".into(),
                        session_ended: true,
                    })));
                    return;
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "reconnecting the stream failed");
                    self.dead = true;
                    self.finish(Err(e));
                    return;
                }
                None => {
                    self.dead = true;
                    self.end_timed_out().await;
                    return;
                }
            }
        }
        self.dead = true;
        self.reply_end(|| Err(broken.to_error().into()));
        self.finish(Err(broken.to_error().into()));
    }

    /// Re-fetches the session and reconnects. `Ok(Some(attempt))` when reconnected,
    /// `Ok(None)` when the session has ended.
    async fn reconnect(&mut self) -> Result<Option<u32>> {
        let Some(reconnect) = &self.reconnect else {
            return Ok(None);
        };
        let policy = reconnect.policy;
        let backoff = policy.schedule();
        let mut last = String::from("no attempt was made");
        for attempt in 1..=policy.max_attempts.max(1) {
            self.clock.sleep(backoff.jittered(attempt)).await;
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
            let target = match Target::new(&credentials, Utc::now()) {
                Ok(target) if target.usable_at(Utc::now()) => target,
                Ok(_) | Err(_) => {
                    last = "the session's stream token has expired".into();
                    continue;
                }
            };
            match Box::pin(connect::dial(&target, self.options.connect_timeout)).await {
                Ok(socket) => {
                    tracing::info!(attempt, "stream reconnected");
                    self.socket = socket;
                    let now = Instant::now();
                    self.last_sent = now;
                    self.last_received = now;
                    self.last_probe = now;
                    self.unanswered_since = None;
                    self.dead = false;
                    let interval = self.options.effective_keepalive();
                    self.keepalive.as_mut().reset(deadline_after(now, interval));
                    return Ok(Some(attempt));
                }
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "a reconnect attempt failed");
                    last = e.to_string();
                }
            }
        }
        Err(Error::Stream(StreamError::ReconnectFailed {
            attempts: policy.max_attempts.max(1),
            last,
        }))
    }

    /// Queues an event for the listener, behind the one already waiting, if any.
    fn emit(&mut self, item: Result<Event>) {
        if self.pending.is_none() {
            self.pending = Some(item);
        } else {
            // At most one event can be found while another waits (each path that finds
            // one either stops reading or finishes); a second replaces it, so the final
            // outcome is never lost.
            self.queued = Some(item);
        }
    }

    /// Ends the stream with `last` as its final item.
    fn finish(&mut self, last: Result<Event>) {
        self.emit(last);
        self.finishing = true;
    }

    fn reply_end(&mut self, outcome: impl Fn() -> Result<()>) {
        for waiter in self.end_waiters.drain(..) {
            let _ = waiter.send(outcome());
        }
    }

    /// Best-effort close frame, bounded in time so a dead peer cannot hold the task; not
    /// tried at all on a connection known to be broken.
    async fn close(&mut self, code: CloseCode) {
        if std::mem::replace(&mut self.closing, true) || self.dead {
            return;
        }
        let frame = CloseFrame {
            code,
            reason: "".into(),
        };
        let bound = self.options.write_timeout.min(self.options.close_timeout);
        if tokio::time::timeout(bound, self.socket.close(Some(frame)))
            .await
            .is_err()
        {
            tracing::debug!("sending the close frame stayed blocked");
            self.dead = true;
        }
    }
}

/// What woke the worker up.
enum Step {
    Idle,
    Delivered,
    Command(Option<Command>),
    Frame(Option<std::result::Result<Message, tokio_tungstenite::tungstenite::Error>>),
    KeepAlive,
    Unresponsive,
    EndTimedOut,
    CloseTimedOut,
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
