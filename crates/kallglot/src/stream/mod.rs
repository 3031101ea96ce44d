//! The real-time stream: send call audio, receive live transcripts and translations.
//!
//! ```no_run
//! # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
//! use futures_util::StreamExt;
//! use kallglot::model::{CreateSessionParams, Language, Mode};
//! use kallglot::stream::{Event, StreamOptions, audio::MulawAudio};
//!
//! let session = client
//!     .sessions()
//!     .create(CreateSessionParams::new(Mode::BidirectionalTranslation).languages(Language::EN, Language::ES))
//!     .await?;
//! let (sender, mut events) = client.sessions().connect(&session, StreamOptions::default()).await?;
//!
//! // 100 ms of μ-law silence; real code sends call audio from its telephony provider.
//! sender.send_audio(MulawAudio::from_mulaw_bytes(vec![0xFF; 800])).await?;
//!
//! while let Some(event) = events.next().await {
//!     match event? {
//!         Event::TranscriptFinal(t) => println!("{}", t.text),
//!         Event::Closed(_) => break,
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! The connection is owned by a background worker task. [`StreamSender`] (cloneable)
//! queues messages for it through a bounded channel, so a slow network slows the sender
//! down instead of growing a queue; [`Events`] is a `futures::Stream` of what arrives. The
//! worker answers WebSocket pings, sends a `ping` message when the stream has been idle,
//! and reports how the connection closed. It stops when every handle is dropped.
//!
//! The connection is an HTTP/1.1 upgrade sent through the client's HTTP stack, so the
//! stream uses the same TLS settings, extra roots, proxy and user agent as REST calls.
//! The stream URL must be `wss://` (plain `ws://` only on loopback) on the API host or a
//! host allowed with [`ClientBuilder::allow_stream_host`](crate::ClientBuilder::allow_stream_host);
//! anything else is refused before a connection is made. Its events are logged in a
//! `kallglot.stream` span that carries the session id (never the token) and is a child of
//! the span that called `connect`.
//!
//! Nothing waits on the server without a deadline ([`StreamOptions`]): a server that goes
//! silent after a ping, or stops taking data, fails the stream with
//! [`StreamError::Unresponsive`] (or, with reconnect on, is replaced); [`StreamSender::end`]
//! returns within its end timeout; and once the session has ended, [`Events`] ends within
//! the close timeout even if the server never completes the close handshake.
//!
//! [`Sessions::stream_audio`] feeds a whole source: PCM of any rate or μ-law, one or both
//! parties of a call ([`PartyChunk`]), paced in real time by default ([`Pacing`]).
//! [`audio`] has the pieces it is built from, including a WAV reader.

pub mod audio;
pub(crate) mod connect;
mod feed;
mod message;
mod socket;
mod worker;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};
use crate::model::{Session, Speaker, StreamCredentials};
use crate::resources::Sessions;

pub use audio::{AudioError, MulawAudio};
pub use feed::{AudioChunk, PARTY_BLOCK, PartyChunk};
pub use message::{
    AudioInput, ClientMessage, Closed, EndReason, Event, TranscriptFinal, TranscriptPartial,
};

/// Why the stream failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream token had expired before connecting; nothing was dialled. Retrieve the
    /// session again for fresh credentials (while it is active).
    #[error("the stream token expired at {expires_at}; retrieve the session for a fresh one")]
    StreamTokenExpired {
        /// When the token expired.
        expires_at: DateTime<Utc>,
    },
    /// The session carries no stream credentials (it may have ended).
    #[error("the session has no stream credentials (has it ended?)")]
    NoStreamCredentials,
    /// The stream URL in the session is not a WebSocket URL.
    #[error("the session's stream URL is not a ws:// or wss:// URL")]
    InvalidUrl,
    /// The stream URL is plain `ws://` to a host other than this machine: the token
    /// would travel in clear text. Nothing was sent.
    #[error(
        "the session's stream URL is plain ws:// to a remote host; only wss:// may carry the token"
    )]
    InsecureUrl,
    /// The stream URL points to a host that is neither the API host nor one allowed with
    /// [`ClientBuilder::allow_stream_host`](crate::ClientBuilder::allow_stream_host).
    /// Nothing was sent.
    #[error("the stream URL's host {host:?} is neither the API host nor an allowed stream host")]
    HostNotAllowed {
        /// The host the URL named.
        host: String,
    },
    /// The server refused the WebSocket upgrade.
    #[error("the server refused the stream connection ({rejection}): {detail}")]
    HandshakeRejected {
        /// The HTTP status of the refusal.
        status: u16,
        /// What the status means here.
        rejection: HandshakeRejection,
        /// The server's answer: error code, message and request id when it sent its
        /// error envelope (and `X-Request-ID`), as for any REST error.
        detail: Box<crate::ApiError>,
    },
    /// The connection could not be established.
    #[error("could not connect the stream: {message}")]
    Connect {
        /// What failed, in words.
        message: String,
        /// The underlying failure (TLS, DNS, proxy, I/O…), if any; its chain of
        /// sources goes down to the root cause.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// Connecting took longer than the connect timeout.
    #[error("connecting the stream timed out after {0:?}")]
    ConnectTimeout(Duration),
    /// The connection closed abnormally: a close code other than 1000 (and no
    /// `session.ended` before it), or no close handshake at all.
    #[error("the stream closed abnormally ({}){}", code.map_or("no close frame".to_string(), |c| format!("close code {c}")), if reason.is_empty() { String::new() } else { format!(": {reason}") })]
    Closed {
        /// The close code (1011: server error, 1008: policy violation, …); `None` when
        /// the connection dropped without a close handshake.
        code: Option<u16>,
        /// The close reason, possibly empty.
        reason: String,
    },
    /// The stream has already stopped; nothing more can be sent.
    #[error("the stream is closed")]
    NotConnected,
    /// `session.ended` did not arrive within the end timeout after `session.end`.
    #[error("no session.ended arrived within {0:?} of session.end; the stream was closed")]
    EndTimedOut(Duration),
    /// The server stopped responding: nothing arrived for the pong timeout after a ping,
    /// or a write could not complete within the write timeout. With reconnect on, this
    /// triggers a reconnect instead of ending the stream.
    #[error("the server stopped responding: {stall} for {waited:?}")]
    Unresponsive {
        /// What went unanswered.
        stall: Stall,
        /// How long the stream waited before giving up.
        waited: Duration,
    },
    /// Reconnecting after an abnormal drop failed.
    #[error("reconnecting failed after {attempts} attempt(s): {last}")]
    ReconnectFailed {
        /// Attempts made.
        attempts: u32,
        /// The last failure, in words.
        last: String,
    },
    /// The audio given cannot be sent.
    #[error(transparent)]
    Audio(#[from] AudioError),
}

/// What an unresponsive server failed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stall {
    /// Nothing at all arrived after a ping (neither the pong nor any other message).
    NoAnswerToPing,
    /// The server stopped taking our data: a write stayed blocked.
    WriteBlocked,
}

impl std::fmt::Display for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoAnswerToPing => "nothing arrived after a ping",
            Self::WriteBlocked => "a write made no progress",
        })
    }
}

/// What a refused WebSocket upgrade means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeRejection {
    /// 401: the stream token is invalid or expired.
    Unauthorized,
    /// 403: the token is not allowed to open this stream.
    Forbidden,
    /// 404: no such session (or it has ended).
    NotFound,
    /// Any other status.
    Other,
}

impl std::fmt::Display for HandshakeRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Unauthorized => "the stream token is invalid or expired",
            Self::Forbidden => "the token may not open this stream",
            Self::NotFound => "no such session stream",
            Self::Other => "unexpected answer",
        })
    }
}

impl StreamError {
    pub(crate) fn connect(
        message: &str,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Connect {
            message: message.to_string(),
            source,
        }
    }
}

impl From<StreamError> for Error {
    fn from(e: StreamError) -> Self {
        Error::Stream(e)
    }
}

impl From<AudioError> for Error {
    fn from(e: AudioError) -> Self {
        Error::Stream(StreamError::Audio(e))
    }
}

/// Opt-in reconnection after an abnormal drop.
///
/// On a drop, the worker retrieves the session over REST: if it has ended, the stream ends
/// cleanly; if it is active and carries a valid stream token, the worker reconnects with
/// backoff, emits [`Event::Reconnected`], and continues the sequence numbers. Audio queued
/// meanwhile waits in the bounded channel (the sender is slowed down, not dropped); a
/// frame that was being written when the connection broke may be lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReconnectPolicy {
    /// Attempts per drop before giving up.
    pub max_attempts: u32,
    /// The ceiling of the wait before the first attempt; it doubles after each failure,
    /// and each wait is jittered between half the ceiling and the ceiling.
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    pub max_backoff: Duration,
}

impl ReconnectPolicy {
    /// A policy of `max_attempts` per drop with the default backoff (0.5 s doubling to 8 s).
    ///
    /// ```
    /// use kallglot::stream::ReconnectPolicy;
    ///
    /// let policy = ReconnectPolicy::new(10);
    /// assert_eq!(policy.max_attempts, 10);
    /// assert_eq!(policy.initial_backoff, ReconnectPolicy::default().initial_backoff);
    /// ```
    pub fn new(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            ..Self::default()
        }
    }

    /// Sets the first wait and the longest wait between attempts.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::stream::ReconnectPolicy;
    ///
    /// let policy = ReconnectPolicy::new(5).backoff(Duration::from_millis(200), Duration::from_secs(2));
    /// assert_eq!(policy.max_backoff, Duration::from_secs(2));
    /// ```
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// The schedule of waits between attempts.
    pub(crate) fn schedule(&self) -> crate::retry::Backoff {
        crate::retry::Backoff::new(self.initial_backoff, self.max_backoff)
    }
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
        }
    }
}

/// How [`Sessions::stream_audio`] times the frames it sends.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Pacing {
    /// One frame per frame duration, per speaker: 100 ms frames go out 100 ms apart, as
    /// the API asks of live audio. The default.
    #[default]
    RealTime,
    /// Real time sped up by this factor (2.0 sends 100 ms frames 50 ms apart). A factor
    /// that is not a positive finite number is treated as [`Pacing::Unpaced`].
    Accelerated(f64),
    /// As fast as the connection takes them: for backfilling recordings and for tests.
    Unpaced,
}

impl Pacing {
    /// The wall-clock time at which audio `position` into a speaker's timeline is due,
    /// counted from the start; `None` when unpaced.
    pub(crate) fn due(self, position: Duration) -> Option<Duration> {
        match self {
            Self::RealTime => Some(position),
            Self::Accelerated(factor) if factor.is_finite() && factor > 0.0 => Some(
                Duration::try_from_secs_f64(position.as_secs_f64() / factor)
                    .unwrap_or(Duration::MAX),
            ),
            Self::Accelerated(_) | Self::Unpaced => None,
        }
    }
}

/// How a stream behaves.
///
/// Every duration saturates: `Duration::MAX` means "never" and cannot overflow a deadline.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamOptions {
    /// Send a `ping` message after this long without sending anything, and a WebSocket
    /// ping after this long without receiving anything (15 s by default; at least 1 ms).
    pub keepalive_interval: Duration,
    /// How long the server may stay silent after a ping before the stream fails with
    /// [`StreamError::Unresponsive`] (or reconnects). Any message counts as an answer.
    /// `None` (the default) means twice the keep-alive interval.
    pub pong_timeout: Option<Duration>,
    /// How long one write to the socket may stay blocked, for example because the server
    /// stopped reading, before the stream fails with [`StreamError::Unresponsive`] (10 s
    /// by default).
    pub write_timeout: Duration,
    /// How long [`StreamSender::end`] waits for `session.ended` (10 s by default). `end()`
    /// returns within this time whatever the server does.
    pub end_timeout: Duration,
    /// How long the close handshake may take once the session has ended, before [`Events`]
    /// ends anyway (5 s by default).
    pub close_timeout: Duration,
    /// How long connecting may take (10 s by default).
    pub connect_timeout: Duration,
    /// The speaker stamped on audio sent with [`StreamSender::send_audio`] (customer by
    /// default).
    pub speaker: Speaker,
    /// Capacity of the outgoing message channel (32 by default): the backpressure bound.
    pub send_capacity: usize,
    /// Capacity of the event channel (64 by default): the worker stops reading the socket
    /// while it is full, which pushes back on the server.
    pub event_capacity: usize,
    /// Reconnection after abnormal drops; off by default.
    pub reconnect: Option<ReconnectPolicy>,
    /// How [`Sessions::stream_audio`] times its frames (real time by default).
    pub pacing: Pacing,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            keepalive_interval: Duration::from_secs(15),
            pong_timeout: None,
            write_timeout: Duration::from_secs(10),
            end_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(10),
            speaker: Speaker::Customer,
            send_capacity: 32,
            event_capacity: 64,
            reconnect: None,
            pacing: Pacing::RealTime,
        }
    }
}

impl StreamOptions {
    /// Sets the idle keep-alive interval.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::stream::StreamOptions;
    ///
    /// // Behind a load balancer that drops connections idle for 10 s.
    /// let options = StreamOptions::default().keepalive_interval(Duration::from_secs(5));
    /// assert_eq!(options.keepalive_interval, Duration::from_secs(5));
    /// ```
    pub fn keepalive_interval(mut self, interval: Duration) -> Self {
        self.keepalive_interval = interval;
        self
    }

    /// Sets how long the server may stay silent after a ping.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::stream::StreamOptions;
    ///
    /// let options = StreamOptions::default().pong_timeout(Duration::from_secs(10));
    /// assert_eq!(options.pong_timeout, Some(Duration::from_secs(10)));
    /// ```
    pub fn pong_timeout(mut self, timeout: Duration) -> Self {
        self.pong_timeout = Some(timeout);
        self
    }

    /// Sets how long one socket write may stay blocked.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::stream::StreamOptions;
    ///
    /// let options = StreamOptions::default().write_timeout(Duration::from_secs(2));
    /// assert_eq!(options.write_timeout, Duration::from_secs(2));
    /// ```
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets how long `end()` waits for `session.ended`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::stream::StreamOptions;
    ///
    /// let options = StreamOptions::default().end_timeout(Duration::from_secs(30));
    /// assert_eq!(options.end_timeout, Duration::from_secs(30));
    /// ```
    pub fn end_timeout(mut self, timeout: Duration) -> Self {
        self.end_timeout = timeout;
        self
    }

    /// Sets how long the close handshake may take after the session ended.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::stream::StreamOptions;
    ///
    /// let options = StreamOptions::default().close_timeout(Duration::from_millis(500));
    /// assert_eq!(options.close_timeout, Duration::from_millis(500));
    /// ```
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Sets the connect timeout.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::stream::StreamOptions;
    ///
    /// let options = StreamOptions::default().connect_timeout(Duration::from_secs(3));
    /// assert_eq!(options.connect_timeout, Duration::from_secs(3));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the default speaker of sent audio.
    ///
    /// ```
    /// use kallglot::model::Speaker;
    /// use kallglot::stream::StreamOptions;
    ///
    /// // A stream that carries only the agent's leg of the call.
    /// let options = StreamOptions::default().speaker(Speaker::Agent);
    /// assert_eq!(options.speaker, Speaker::Agent);
    /// ```
    pub fn speaker(mut self, speaker: Speaker) -> Self {
        self.speaker = speaker;
        self
    }

    /// Turns on reconnection with this policy.
    ///
    /// ```
    /// use kallglot::stream::{ReconnectPolicy, StreamOptions};
    ///
    /// let options = StreamOptions::default().reconnect(ReconnectPolicy::new(3));
    /// assert_eq!(options.reconnect.map(|p| p.max_attempts), Some(3));
    /// ```
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// Sets how [`Sessions::stream_audio`] times its frames.
    ///
    /// ```
    /// use kallglot::stream::{Pacing, StreamOptions};
    ///
    /// // Backfill a recording twice as fast as it was spoken.
    /// let options = StreamOptions::default().pacing(Pacing::Accelerated(2.0));
    /// assert_eq!(options.pacing, Pacing::Accelerated(2.0));
    /// ```
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// The keep-alive interval actually used: at least 1 ms, so a zero cannot spin.
    pub(crate) fn effective_keepalive(&self) -> Duration {
        self.keepalive_interval.max(Duration::from_millis(1))
    }

    /// The pong timeout actually used.
    pub(crate) fn effective_pong_timeout(&self) -> Duration {
        self.pong_timeout
            .unwrap_or_else(|| self.effective_keepalive().saturating_mul(2))
    }
}

/// `from + duration`, saturating far in the future instead of overflowing: a
/// `Duration::MAX` option means "never" rather than a panic.
pub(crate) fn deadline_after(
    from: tokio::time::Instant,
    duration: Duration,
) -> tokio::time::Instant {
    // About 30 years, as tokio itself uses for a sleep that never ends.
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    from.checked_add(duration.min(FAR))
        .or_else(|| from.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(from)
}

/// A command from a handle to the worker.
pub(crate) enum Command {
    Audio {
        speaker: Speaker,
        audio: MulawAudio,
    },
    Ping,
    End {
        reply: oneshot::Sender<Result<()>>,
        /// When the caller's `end()` gives up; the worker gives up at the same instant.
        deadline: tokio::time::Instant,
    },
    /// The audio feeding the stream failed: end the stream with this error.
    Fail(StreamError),
}

/// Sends audio and control messages into the stream. Cheap to clone; every clone feeds
/// the same bounded channel.
#[derive(Clone)]
pub struct StreamSender {
    tx: mpsc::Sender<Command>,
    speaker: Speaker,
    end_timeout: Duration,
    /// Wakes the worker when an `end()` gave up, even while it is stuck in a write.
    abort: std::sync::Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for StreamSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSender")
            .field("closed", &self.tx.is_closed())
            .finish_non_exhaustive()
    }
}

impl StreamSender {
    /// Queues one frame of audio from the default speaker. Waits while the channel is
    /// full (backpressure). Use [`audio::Framer`] to cut audio into 20–200 ms frames.
    ///
    /// ```no_run
    /// # async fn demo(sender: kallglot::stream::StreamSender) -> kallglot::Result<()> {
    /// use kallglot::stream::MulawAudio;
    ///
    /// // 100 ms of μ-law audio from the call.
    /// let frame = MulawAudio::from_mulaw_bytes(vec![0xFF; 800]);
    /// sender.send_audio(frame).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_audio(&self, audio: MulawAudio) -> Result<()> {
        self.send_audio_as(self.speaker.clone(), audio).await
    }

    /// Queues one frame of audio from `speaker`.
    ///
    /// ```no_run
    /// # async fn demo(sender: kallglot::stream::StreamSender) -> kallglot::Result<()> {
    /// use kallglot::model::Speaker;
    /// use kallglot::stream::MulawAudio;
    ///
    /// // Both legs of a call over one stream, each frame labelled with its party.
    /// sender.send_audio_as(Speaker::Customer, MulawAudio::from_mulaw_bytes(vec![0xFF; 800])).await?;
    /// sender.send_audio_as(Speaker::Agent, MulawAudio::from_mulaw_bytes(vec![0xFF; 800])).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send_audio_as(&self, speaker: Speaker, audio: MulawAudio) -> Result<()> {
        if audio.is_empty() {
            return Ok(());
        }
        self.command(Command::Audio { speaker, audio }).await
    }

    /// Sends a `ping` message now (the worker also does so when the stream is idle).
    ///
    /// ```no_run
    /// # async fn demo(sender: kallglot::stream::StreamSender) -> kallglot::Result<()> {
    /// // The answer arrives on the events as `Event::Pong`.
    /// sender.ping().await?;
    /// # Ok(()) }
    /// ```
    pub async fn ping(&self) -> Result<()> {
        self.command(Command::Ping).await
    }

    /// Ends the session gracefully: sends `session.end` (after the audio already queued),
    /// waits for `session.ended`, then closes the connection. `session.ended` is also
    /// delivered to [`Events`]. Calling it again, or from several clones, is harmless.
    ///
    /// It returns within the end timeout whatever the server does: a server that stops
    /// reading, or never answers, gets [`StreamError::EndTimedOut`], and the stream is
    /// then shut down.
    ///
    /// ```no_run
    /// # async fn demo(sender: kallglot::stream::StreamSender) -> kallglot::Result<()> {
    /// // After the last audio: the server ends the session, `Event::SessionEnded` and
    /// // `Event::Closed` follow on the events.
    /// sender.end().await?;
    /// # Ok(()) }
    /// ```
    pub async fn end(&self) -> Result<()> {
        let deadline = deadline_after(tokio::time::Instant::now(), self.end_timeout);
        let ending = async {
            let (reply, done) = oneshot::channel();
            self.command(Command::End { reply, deadline }).await?;
            done.await
                .unwrap_or(Err(Error::Stream(StreamError::NotConnected)))
        };
        match tokio::time::timeout_at(deadline, ending).await {
            Ok(outcome) => outcome,
            Err(_) => {
                // The worker may be stuck behind a blocked write: wake it to shut down.
                self.abort.notify_one();
                Err(StreamError::EndTimedOut(self.end_timeout).into())
            }
        }
    }

    /// Ends the stream with `error` (used by the audio feeder when a chunk fails).
    pub(crate) async fn fail(&self, error: StreamError) {
        let _ = self.command(Command::Fail(error)).await;
    }

    /// Whether the worker has stopped.
    ///
    /// ```no_run
    /// # async fn demo(sender: kallglot::stream::StreamSender) -> kallglot::Result<()> {
    /// if sender.is_closed() {
    ///     eprintln!("the stream is gone; stop capturing audio");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    async fn command(&self, command: Command) -> Result<()> {
        self.tx
            .send(command)
            .await
            .map_err(|_| Error::Stream(StreamError::NotConnected))
    }
}

/// The events of a stream, as a `futures::Stream`.
///
/// It yields `Ok(event)` for every message, an `Err` for an abnormal close (after which it
/// ends), and ends after [`Event::Closed`] on a clean close.
pub struct Events {
    rx: mpsc::Receiver<Result<Event>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Stream for Events {
    type Item = Result<Event>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

/// Opens a stream from credentials alone, without an API key: for a process that got a
/// session's `stream` (URL, token, expiry) from your backend. Reconnection needs the REST
/// API, so `options.reconnect` is ignored here; use [`Sessions::connect`] for it.
///
/// It uses the default settings: the stream URL must be on the production API host
/// (`api.kallglot.com`). For another host, extra roots or a proxy, build a [`Connector`]
/// with [`ClientBuilder::build_stream_connector`](crate::ClientBuilder::build_stream_connector).
pub async fn connect(
    credentials: &StreamCredentials,
    options: StreamOptions,
) -> Result<(StreamSender, Events)> {
    static DEFAULT: std::sync::OnceLock<Connector> = std::sync::OnceLock::new();
    let connector = match DEFAULT.get() {
        Some(connector) => connector,
        None => {
            let connector = crate::ClientBuilder::new().build_stream_connector()?;
            DEFAULT.get_or_init(|| connector)
        }
    };
    connector.connect(credentials, options).await
}

/// Opens streams from credentials alone, with the settings of the
/// [`ClientBuilder`](crate::ClientBuilder) it was built from (allowed hosts, extra roots,
/// proxy, user agent). Cheap to clone; clones share one connection setup.
#[derive(Debug, Clone)]
pub struct Connector {
    dialer: connect::Dialer,
}

impl Connector {
    pub(crate) fn new(dialer: connect::Dialer) -> Self {
        Self { dialer }
    }

    /// Opens the stream these credentials grant. Reconnection needs the REST API, so
    /// `options.reconnect` is ignored; use [`Sessions::connect`] for it.
    pub async fn connect(
        &self,
        credentials: &StreamCredentials,
        options: StreamOptions,
    ) -> Result<(StreamSender, Events)> {
        let session_id = session_id_in(&credentials.url);
        open(
            credentials,
            options,
            Link {
                dialer: self.dialer.clone(),
                reconnect: None,
                clock: std::sync::Arc::new(crate::clock::TokioClock),
                session_id: session_id.as_deref(),
            },
        )
        .await
    }
}

/// The session id in a stream URL's path (`/v1/sessions/{id}/connect`), for the span of a
/// stream opened from credentials alone.
fn session_id_in(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let mut segments = url.path_segments()?;
    segments.find(|s| *s == "sessions")?;
    segments
        .next()
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}

/// How a stream reaches the network and what it is attached to.
struct Link<'a> {
    dialer: connect::Dialer,
    reconnect: Option<worker::Reconnect>,
    clock: std::sync::Arc<dyn crate::clock::Clock>,
    session_id: Option<&'a str>,
}

async fn open(
    credentials: &StreamCredentials,
    options: StreamOptions,
    link: Link<'_>,
) -> Result<(StreamSender, Events)> {
    let Link {
        dialer,
        reconnect,
        clock,
        session_id,
    } = link;
    let target = connect::Target::new(credentials, &dialer, Utc::now())?;
    // Created here, in the caller's context, so that it is a child of the caller's span;
    // it names the session (never the token).
    let span = tracing::info_span!(
        "kallglot.stream",
        session_id = session_id.unwrap_or_default()
    );
    let (tx, rx) = mpsc::channel(options.send_capacity.max(1));
    let (event_tx, event_rx) = mpsc::channel(options.event_capacity.max(1));
    let (ready_tx, ready_rx) = oneshot::channel();
    let speaker = options.speaker.clone();
    let end_timeout = options.end_timeout;
    let abort = std::sync::Arc::new(tokio::sync::Notify::new());
    // The worker dials too: the task that owns a connection is the only one that ever
    // touches it (the I/O layers keep the waker of the last task that polled them).
    tokio::spawn(worker::run(worker::Setup {
        target,
        dialer,
        span,
        options,
        commands: rx,
        events: event_tx,
        ready: ready_tx,
        reconnect,
        clock,
        abort: abort.clone(),
    }));
    match ready_rx.await {
        Ok(Ok(())) => Ok((
            StreamSender {
                tx,
                speaker,
                end_timeout,
                abort,
            },
            Events { rx: event_rx },
        )),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(StreamError::NotConnected.into()),
    }
}

impl Sessions<'_> {
    /// Opens the session's real-time stream.
    ///
    /// Uses `session.stream` (from create or retrieve): its URL verbatim, with the token in
    /// the `token` query parameter (the only place the protocol accepts it). An expired
    /// token fails with [`StreamError::StreamTokenExpired`] without dialling, and so does
    /// a URL on a host other than the API host and the allowed stream hosts
    /// ([`StreamError::HostNotAllowed`]) or a plain `ws://` URL to a remote host
    /// ([`StreamError::InsecureUrl`]). A refused upgrade (401, 403, 404) fails with
    /// [`StreamError::HandshakeRejected`], carrying the server's code, message and request
    /// id. The upgrade goes through the client's HTTP connection setup (TLS roots, proxy,
    /// user agent). The URL with the token is never logged.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// use futures_util::StreamExt;
    /// use kallglot::model::{CreateSessionParams, Mode};
    /// use kallglot::stream::{Event, MulawAudio, StreamOptions};
    ///
    /// let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// let (sender, mut events) = client.sessions().connect(&session, StreamOptions::default()).await?;
    /// // The sender is cheap to clone: feed audio from one task, read events in another.
    /// let feeder = sender.clone();
    /// tokio::spawn(async move {
    ///     for _ in 0..5 {
    ///         feeder.send_audio(MulawAudio::from_mulaw_bytes(vec![0xFF; 800])).await?;
    ///     }
    ///     feeder.end().await
    /// });
    /// while let Some(event) = events.next().await {
    ///     if let Event::TranscriptFinal(line) = event? {
    ///         println!("{}", line.text);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn connect(
        &self,
        session: &Session,
        options: StreamOptions,
    ) -> Result<(StreamSender, Events)> {
        let credentials = session
            .stream
            .as_ref()
            .ok_or(StreamError::NoStreamCredentials)?;
        let reconnect = options.reconnect.map(|policy| worker::Reconnect {
            policy,
            client: self.client().clone(),
            session_id: session.id.clone(),
        });
        open(
            credentials,
            options,
            Link {
                dialer: self.client().shared.dialer.clone(),
                reconnect,
                clock: self.client().shared.clock.clone(),
                session_id: Some(session.id.as_str()),
            },
        )
        .await
    }

    /// Connects, then feeds `audio` into the stream in the background and returns the
    /// events: the one-call way to stream a recording or a live source.
    ///
    /// Each item is an [`AudioChunk`], optionally with its speaker ([`PartyChunk`]; the
    /// default is `options.speaker`). PCM is resampled and μ-law encoded, and every
    /// speaker's audio is cut into 100 ms frames of its own. Frames are paced in real time
    /// per speaker by default ([`StreamOptions::pacing`]), so both parties of a call,
    /// interleaved, go out side by side; merge two live sources with
    /// `futures_util::stream::select`, or split a stereo recording with
    /// [`PartyChunk::per_channel`]. When the input ends, the session is ended.
    ///
    /// A chunk that cannot be converted (say, PCM at 0 Hz) ends the stream: [`Events`]
    /// yields the [`StreamError::Audio`] error, and nothing after it is sent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// use futures_util::StreamExt;
    /// use kallglot::model::{CreateSessionParams, Mode, Speaker};
    /// use kallglot::stream::audio::Pcm;
    /// use kallglot::stream::{Event, Pacing, PartyChunk, StreamOptions};
    ///
    /// let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// // Half a second from each party, 16 kHz PCM (resampled to 8 kHz μ-law on the way).
    /// let customer = Pcm::mono(vec![0; 8_000], 16_000)?;
    /// let agent = Pcm::mono(vec![0; 8_000], 16_000)?;
    /// let audio = futures_util::stream::iter([
    ///     PartyChunk::new(Speaker::Customer, customer),
    ///     PartyChunk::new(Speaker::Agent, agent),
    /// ]);
    /// // Unpaced for a file or a test; live audio keeps the default real-time pacing.
    /// let options = StreamOptions::default().pacing(Pacing::Unpaced);
    /// let mut events = client.sessions().stream_audio(&session, audio, options).await?;
    /// while let Some(event) = events.next().await {
    ///     match event? {
    ///         Event::TranscriptFinal(line) => println!("{:?}: {}", line.speaker, line.text),
    ///         Event::Closed(_) => break,
    ///         _ => {}
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn stream_audio<S, I>(
        &self,
        session: &Session,
        audio: S,
        options: StreamOptions,
    ) -> Result<Events>
    where
        S: Stream<Item = I> + Send + 'static,
        I: Into<PartyChunk> + Send + 'static,
    {
        let pacing = options.pacing;
        let (sender, events) = self.connect(session, options).await?;
        // The feeder logs in the caller's span, like the worker.
        tokio::spawn(tracing::Instrument::instrument(
            feed::run(sender, audio, pacing),
            tracing::Span::current(),
        ));
        Ok(events)
    }
}
