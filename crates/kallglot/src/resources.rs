//! Typed resources: [`Sessions`], [`Recordings`] and [`Analyses`].
//!
//! Each method maps to one documented operation and returns a [`Call`] (await it, after
//! any per-call options) that yields a [`Response`] with the typed result and the
//! response metadata. Ids are checked as path segments first (see [`crate::ids`]).
//!
//! On top of the operations: the wait helpers ([`Sessions::wait_for_transcript`],
//! [`Sessions::wait_for_recordings`], [`Analyses::wait`]), which share one polling loop,
//! and [`Sessions::recordings_stream`], which walks a session's recordings page by page.

use std::path::Path;
use std::time::Duration;

use futures_util::Stream;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::call::{Call, RequestOptions};
use crate::client::Client;
use crate::error::{ConfigError, Error, Result};
use crate::ids::{AnalysisId, RecordingId, SessionId, check_path_segment};
use crate::model::{
    Analysis, CreateAnalysisParams, CreateSessionParams, EndedSession, Recording, RecordingList,
    RecordingListParams, RecordingStatus, Session, Transcript, TranscriptStatus,
};
use crate::response::Response;
use crate::route::Route;
use crate::transport::{self, Operation};
use crate::wait::{Poller, WaitOptions};

use kallglot_api::catalogue::{
    CREATE_ANALYSIS, CREATE_SESSION, DOWNLOAD_RECORDING_AUDIO as DOWNLOAD_AUDIO, END_SESSION,
    LIST_SESSION_RECORDINGS as SESSION_RECORDINGS, RETRIEVE_ANALYSIS, RETRIEVE_RECORDING,
    RETRIEVE_SESSION, RETRIEVE_SESSION_TRANSCRIPT as SESSION_TRANSCRIPT,
};

/// The one shape of every typed method: run `op` with `route` (its id, query and body)
/// through the transport with the call's options, inside the call's span, then convert
/// the generated model into the SDK's.
///
/// A `route` that is an error (an id refused by the [path segment check](crate::ids), an
/// invalid parameter) fails the call when it is awaited, before anything is sent.
fn typed<A, T>(
    client: &Client,
    op: &'static Operation,
    route: Result<Route, ConfigError>,
    convert: fn(A) -> T,
) -> Call<T>
where
    A: serde::de::DeserializeOwned + Send + 'static,
    T: Send + 'static,
{
    let shared = client.shared.clone();
    Call::in_span(move |options| {
        let span = transport::call_span(op);
        let future = transport::call_typed(shared, op, options, route, span.clone(), convert);
        (span, future)
    })
}

/// The route of an operation on one resource: its id, once the id passed the path
/// segment check.
fn on(kind: &'static str, id: String) -> Result<Route, ConfigError> {
    check_path_segment(kind, &id).map(|()| Route::id(id))
}

/// The recordings of a session, fetched page by page: what
/// [`Sessions::recordings_stream`] returns. A [`Stream`] (`futures::Stream`), so the
/// adapters of `futures::StreamExt` and `TryStreamExt` apply.
pub type RecordingStream = std::pin::Pin<Box<dyn Stream<Item = Result<Recording>> + Send>>;

/// How the [path segment check](crate::ids) names each kind of id.
const SESSION_ID: &str = "session id";
const RECORDING_ID: &str = "recording id";
const ANALYSIS_ID: &str = "analysis id";

/// Sessions: `client.sessions()`.
#[derive(Debug, Clone, Copy)]
pub struct Sessions<'a> {
    client: &'a Client,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    #[cfg(feature = "stream")]
    pub(crate) fn client(&self) -> &'a Client {
        self.client
    }

    /// Creates a session (`POST /v1/sessions`; one credit; `sessions:write`). The response
    /// carries the stream credentials. An idempotency key is generated unless you set one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// use kallglot::model::{CreateSessionParams, Language, Mode};
    ///
    /// let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
    ///     .languages(Language::EN, Language::ES);
    /// let session = client.sessions().create(params).await?;
    /// println!("{} is {}", session.id, session.status);
    /// assert!(session.stream.is_some(), "the stream credentials come with it");
    /// # Ok(()) }
    /// ```
    pub fn create(&self, params: CreateSessionParams) -> Call<Session> {
        let route = Route::new().json(&params.to_api());
        typed(self.client, &CREATE_SESSION, route, Session::from_api)
    }

    /// Retrieves a session (`GET /v1/sessions/{id}`; `sessions:read`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// # let created = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// let session = client.sessions().retrieve(&created.id).await?;
    /// assert_eq!(session.id, created.id);
    /// println!("request {:?}", session.request_id());
    /// # Ok(()) }
    /// ```
    pub fn retrieve(&self, id: impl Into<SessionId>) -> Call<Session> {
        let id = id.into();
        let route = on(SESSION_ID, id.into_string());
        typed(self.client, &RETRIEVE_SESSION, route, Session::from_api)
    }

    /// Ends a session (`POST /v1/sessions/{id}/end`; `sessions:write`). Ending an ended
    /// session returns the same summary, so this is safe to repeat.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// use kallglot::model::SessionStatus;
    ///
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// let ended = client.sessions().end(&session.id).await?;
    /// assert_eq!(ended.status, SessionStatus::Ended);
    /// // Ending again is harmless: the same summary comes back.
    /// let again = client.sessions().end(&session.id).await?;
    /// assert_eq!(again.id, ended.id);
    /// # Ok(()) }
    /// ```
    pub fn end(&self, id: impl Into<SessionId>) -> Call<EndedSession> {
        let id = id.into();
        let route = on(SESSION_ID, id.into_string());
        typed(self.client, &END_SESSION, route, EndedSession::from_api)
    }

    /// The session's transcript (`GET /v1/sessions/{id}/transcript`): in progress while
    /// the session is active, completed once it has ended.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// # client.sessions().end(&session.id).await?;
    /// let transcript = client.sessions().transcript(&session.id).await?;
    /// println!("transcript is {}", transcript.status);
    /// for turn in &transcript.turns {
    ///     println!("{}: {}", turn.speaker, turn.text);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn transcript(&self, id: impl Into<SessionId>) -> Call<Transcript> {
        let id = id.into();
        let route = on(SESSION_ID, id.into_string());
        typed(
            self.client,
            &SESSION_TRANSCRIPT,
            route,
            Transcript::from_api,
        )
    }

    /// The session's recordings (`GET /v1/sessions/{id}/recordings`): the first page, of
    /// the server's default size. They appear once the session has ended.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// # client.sessions().end(&session.id).await?;
    /// let list = client.sessions().recordings(&session.id).await?;
    /// for recording in &list.data {
    ///     println!("{} ({}): {:?} s", recording.id, recording.status, recording.duration);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn recordings(&self, id: impl Into<SessionId>) -> Call<RecordingList> {
        self.list_recordings(id, RecordingListParams::new())
    }

    /// One page of the session's recordings, chosen with `limit` and `starting_after`.
    ///
    /// The parameter names are the legacy documentation's: the current reference does not
    /// name the list's cursor parameters (see [`RecordingListParams`]). Follow
    /// [`has_more`](RecordingList::has_more), or let
    /// [`recordings_stream`](Self::recordings_stream) do it.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// use kallglot::model::RecordingListParams;
    ///
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// # client.sessions().end(&session.id).await?;
    /// let mut params = RecordingListParams::new().limit(10);
    /// loop {
    ///     let page = client.sessions().list_recordings(&session.id, params.clone()).await?;
    ///     // … use page.data …
    ///     match page.data.last() {
    ///         Some(last) if page.has_more == Some(true) => {
    ///             params = params.starting_after(last.id.clone());
    ///         }
    ///         _ => break,
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list_recordings(
        &self,
        id: impl Into<SessionId>,
        params: RecordingListParams,
    ) -> Call<RecordingList> {
        let id = id.into();
        // The parameter names are the catalogue's (the spec's legacy cursor names); the
        // route refuses any the operation does not declare.
        let route = on(SESSION_ID, id.into_string())
            .and_then(|route| params.check().map(|()| route))
            .map(|mut route| {
                if let Some(limit) = params.limit {
                    route = route.query("limit", limit);
                }
                if let Some(cursor) = &params.starting_after {
                    route = route.query("starting_after", cursor.as_str());
                }
                route
            });
        typed(
            self.client,
            &SESSION_RECORDINGS,
            route,
            RecordingList::from_api,
        )
    }

    /// Every recording of the session, as a stream that fetches the pages one after the
    /// other, starting with the page `params` names.
    ///
    /// It asks for the next page (`starting_after` the last id) only while a page says
    /// `has_more: true`, as legacy lists did; current responses carry no `has_more`, so the
    /// stream then ends after the first page. Only one page is held at a time. A server
    /// that answers `has_more` but returns the same page again (it ignores the legacy
    /// cursor) ends the stream with an [`Error::Decode`] instead of looping forever. An
    /// error ends the stream after it is yielded.
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
    /// use futures_util::TryStreamExt;
    /// use kallglot::model::RecordingListParams;
    ///
    /// let all: Vec<_> = client
    ///     .sessions()
    ///     .recordings_stream("sess_1", RecordingListParams::new().limit(100))
    ///     .try_collect()
    ///     .await?;
    /// # let _ = all;
    /// # Ok(()) }
    /// ```
    pub fn recordings_stream(
        &self,
        id: impl Into<SessionId>,
        params: RecordingListParams,
    ) -> RecordingStream {
        Box::pin(crate::pages::recordings(
            self.client.clone(),
            id.into(),
            params,
        ))
    }

    /// Polls the session's transcript until it is `completed` (legacy `complete` counts),
    /// with the jittered, growing interval of `options`, until `options.timeout` passes.
    ///
    /// The transcript completes once the session has ended. Reaching the deadline first
    /// gives [`Error::WaitTimeout`]; an API error while polling is returned as it is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::builder().analysis_delay(std::time::Duration::ZERO).start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .clock(std::sync::Arc::new(kallglot::clock::ManualClock::new())) // waits take no real time
    /// #     .build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// use std::time::Duration;
    /// use kallglot::WaitOptions;
    /// use kallglot::model::TranscriptStatus;
    ///
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// client.sessions().end(&session.id).await?;
    /// let options = WaitOptions::default().timeout(Duration::from_secs(60));
    /// let transcript = client.sessions().wait_for_transcript(&session.id, options).await?;
    /// assert_eq!(transcript.status, TranscriptStatus::Completed);
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_transcript(
        &self,
        id: impl Into<SessionId>,
        options: WaitOptions,
    ) -> Result<Response<Transcript>> {
        let id = id.into();
        let mut poller = Poller::new(self.client.shared.clock.clone(), &options);
        loop {
            let transcript = self.transcript(id.clone()).await?;
            if transcript.status == TranscriptStatus::Completed {
                return Ok(transcript);
            }
            if !poller.pause().await {
                return Err(Error::WaitTimeout {
                    waited_for: "transcript of session",
                    id: id.to_string(),
                    last_status: transcript.status.to_string(),
                });
            }
        }
    }

    /// Polls the session's recordings (the first page) until there is at least one and
    /// every one is `ready` or `failed`, with the jittered, growing interval of `options`,
    /// until `options.timeout` passes.
    ///
    /// Recordings appear after the session ends and usually take seconds to process. A
    /// `failed` recording is returned in the list: check each `status`. A status this SDK
    /// does not know counts as not finished. When the list is empty, the session is looked
    /// up once: if it reports recording as disabled, the empty list is returned at once
    /// rather than waiting for recordings that will never come. Reaching the deadline
    /// first gives [`Error::WaitTimeout`]; an API error while polling is returned as it is.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::builder().analysis_delay(std::time::Duration::ZERO).start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .clock(std::sync::Arc::new(kallglot::clock::ManualClock::new())) // waits take no real time
    /// #     .build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// use std::time::Duration;
    /// use kallglot::WaitOptions;
    /// use kallglot::model::RecordingStatus;
    ///
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// client.sessions().end(&session.id).await?;
    /// let options = WaitOptions::default().timeout(Duration::from_secs(120));
    /// let recordings = client.sessions().wait_for_recordings(&session.id, options).await?;
    /// for recording in &recordings.data {
    ///     if recording.status == RecordingStatus::Failed {
    ///         eprintln!("{} could not be processed", recording.id);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_recordings(
        &self,
        id: impl Into<SessionId>,
        options: WaitOptions,
    ) -> Result<Response<RecordingList>> {
        let id = id.into();
        let mut poller = Poller::new(self.client.shared.clock.clone(), &options);
        let mut asked_session = false;
        loop {
            let list = self.recordings(id.clone()).await?;
            let processed = |r: &Recording| {
                matches!(r.status, RecordingStatus::Ready | RecordingStatus::Failed)
            };
            if !list.data.is_empty() && list.data.iter().all(processed) {
                return Ok(list);
            }
            if list.data.is_empty() && !asked_session {
                asked_session = true;
                let session = self.retrieve(id.clone()).await?;
                if session.recording.as_ref().and_then(|r| r.enabled) == Some(false) {
                    return Ok(list);
                }
            }
            if !poller.pause().await {
                let pending = list.data.iter().filter(|r| !processed(r)).count();
                return Err(Error::WaitTimeout {
                    waited_for: "recording list of session",
                    id: id.to_string(),
                    last_status: match list.data.len() {
                        0 => "empty".to_owned(),
                        total => format!("processing ({pending} of {total} not ready)"),
                    },
                });
            }
        }
    }
}

/// Recordings: `client.recordings()`.
#[derive(Debug, Clone, Copy)]
pub struct Recordings<'a> {
    client: &'a Client,
}

impl<'a> Recordings<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Retrieves a recording's metadata (`GET /v1/recordings/{id}`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// # client.sessions().end(&session.id).await?;
    /// # let listed = client.sessions().recordings(&session.id).await?;
    /// # let id = listed.data[0].id.clone();
    /// let recording = client.recordings().retrieve(id).await?;
    /// println!("{}: {:?}, {:?} bytes", recording.id, recording.format, recording.size);
    /// # Ok(()) }
    /// ```
    pub fn retrieve(&self, id: impl Into<RecordingId>) -> Call<Recording> {
        let id = id.into();
        let route = on(RECORDING_ID, id.into_string());
        typed(self.client, &RETRIEVE_RECORDING, route, Recording::from_api)
    }

    /// Downloads a recording's audio (`GET /v1/recordings/{id}/audio`, MP3). The body is
    /// streamed to a writer or file chunk by chunk, never held whole in memory.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// # client.sessions().end(&session.id).await?;
    /// # let listed = client.sessions().recordings(&session.id).await?;
    /// # let id = listed.data[0].id.clone();
    /// let mut audio = Vec::new();
    /// let done = client.recordings().download(id).to_writer(&mut audio).await?;
    /// assert_eq!(done.bytes, audio.len() as u64);
    /// println!("{} bytes of {:?}", done.bytes, done.content_type);
    /// # Ok(()) }
    /// ```
    pub fn download(&self, id: impl Into<RecordingId>) -> Download {
        Download {
            client: self.client.clone(),
            id: id.into(),
            options: RequestOptions::default(),
            progress: None,
        }
    }
}

/// A recording download; finish it with [`to_writer`](Download::to_writer) or
/// [`to_file`](Download::to_file).
///
/// The client's total timeout covers the whole body; raise it with
/// [`timeout`](Download::timeout) for very long recordings. A failure before the body
/// starts is retried like any read; a connection lost in the middle of the body is not
/// (the writer already holds part of the file) and returns [`Error::Connection`].
#[derive(Debug)]
#[must_use = "a Download does nothing until to_writer or to_file is awaited"]
pub struct Download {
    client: Client,
    id: RecordingId,
    options: RequestOptions,
    progress: Option<Progress>,
}

/// A callback told the running byte count of a download.
struct Progress(Box<dyn FnMut(u64) + Send>);

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// What a finished download wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Bytes written.
    pub bytes: u64,
    /// The response's `Content-Type` (`audio/mpeg`).
    pub content_type: Option<String>,
    /// The file name suggested by `Content-Disposition`.
    pub filename: Option<String>,
}

impl Download {
    /// Overrides the total timeout of each attempt (which includes reading the body).
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
    /// use std::time::Duration;
    ///
    /// // A two-hour call: give each attempt, and the call as a whole, an hour.
    /// client
    ///     .recordings()
    ///     .download("rec_1")
    ///     .timeout(Duration::from_secs(3600))
    ///     .deadline(Duration::from_secs(3600))
    ///     .to_file("call.mp3")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Overrides the client's maximum number of retries.
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
    /// let mut out = tokio::io::sink();
    /// client.recordings().download("rec_1").max_retries(5).to_writer(&mut out).await?;
    /// # Ok(()) }
    /// ```
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.options.max_retries = Some(retries);
        self
    }

    /// Calls `report` with the number of bytes written so far after each chunk, for a
    /// progress bar.
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
    /// client
    ///     .recordings()
    ///     .download("rec_1")
    ///     .on_progress(|bytes| eprint!("\r{bytes} bytes"))
    ///     .to_file("call.mp3")
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_progress(mut self, report: impl FnMut(u64) + Send + 'static) -> Self {
        self.progress = Some(Progress(Box::new(report)));
        self
    }

    /// Overrides the client's overall deadline, which for a download also covers the
    /// body: raise it together with [`timeout`](Self::timeout) for very long recordings.
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
    /// use std::time::Duration;
    ///
    /// let mut out = tokio::io::sink();
    /// client
    ///     .recordings()
    ///     .download("rec_1")
    ///     .deadline(Duration::from_secs(900))
    ///     .to_writer(&mut out)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline = Some(deadline);
        self
    }

    /// Streams the audio into `writer`, then flushes it.
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
    /// let mut file = tokio::fs::File::create("call.mp3").await?;
    /// let done = client.recordings().download("rec_1").to_writer(&mut file).await?;
    /// println!("{} bytes, suggested name {:?}", done.bytes, done.filename);
    /// # Ok(()) }
    /// ```
    pub async fn to_writer<W>(self, writer: &mut W) -> Result<Response<Downloaded>>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        if self.options.timeout.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::ZeroTimeout("the download timeout").into());
        }
        if self.options.deadline.is_some_and(|t| t.is_zero()) {
            return Err(ConfigError::ZeroTimeout("the download deadline").into());
        }
        check_path_segment(RECORDING_ID, self.id.as_str())?;
        let shared = self.client.shared.clone();
        let id = self.id;
        let mut progress = self.progress;
        let reply = transport::call_binary(
            &shared,
            &DOWNLOAD_AUDIO,
            self.options,
            Route::id(id.into_string()),
        )
        .await?;
        let mut response = reply.response;
        let mut bytes = 0u64;
        while let Some(chunk) = response.chunk().await.transpose() {
            let chunk = chunk.map_err(|e| Error::Connection {
                operation: DOWNLOAD_AUDIO.id,
                message: format!("the download broke after {bytes} bytes: {e}"),
                idempotency_key: None,
            })?;
            writer.write_all(&chunk).await?;
            bytes += chunk.len() as u64;
            if let Some(Progress(report)) = &mut progress {
                report(bytes);
            }
        }
        writer.flush().await?;
        let header = |name| reply.headers.get(name).and_then(|v| v.to_str().ok());
        let downloaded = Downloaded {
            bytes,
            content_type: header("content-type").map(str::to_string),
            filename: header("content-disposition").and_then(filename_from_disposition),
        };
        Ok(Response::new(downloaded, reply.meta))
    }

    /// Streams the audio into the file at `path`, replacing it only once the whole
    /// recording has arrived.
    ///
    /// The audio goes to a temporary file beside `path` (same directory, so the final
    /// rename stays on one file system and is atomic), which is flushed to disk and then
    /// renamed over `path`. Any failure (an API error, a broken connection, a full disk)
    /// removes the temporary file and leaves an existing file at `path` untouched.
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
    /// let done = client.recordings().download("rec_1").to_file("call.mp3").await?;
    /// assert_eq!(done.content_type.as_deref(), Some("audio/mpeg"));
    /// # Ok(()) }
    /// ```
    pub async fn to_file(self, path: impl AsRef<Path>) -> Result<Response<Downloaded>> {
        let path = path.as_ref();
        let partial = partial_path(path);
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&partial)
            .await?;
        let written = async {
            let done = self.to_writer(&mut file).await?;
            file.sync_all().await?;
            drop(file);
            tokio::fs::rename(&partial, path).await?;
            Ok(done)
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&partial).await;
        }
        written
    }
}

/// Where [`Download::to_file`] writes before renaming: a hidden, unique name in the
/// target's own directory.
fn partial_path(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "download".to_string());
    path.with_file_name(format!(".{name}.{}.part", uuid::Uuid::new_v4().simple()))
}

/// The `filename` parameter of a `Content-Disposition` header.
fn filename_from_disposition(value: &str) -> Option<String> {
    value.split(';').map(str::trim).find_map(|part| {
        let (name, raw) = part.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("filename") {
            return None;
        }
        let name = raw.trim().trim_matches('"');
        // Only the last path component: never let a header choose a directory.
        let name = name.rsplit(['/', '\\']).next().unwrap_or_default();
        (!name.is_empty() && name != "..").then(|| name.to_string())
    })
}

/// Analyses: `client.analyses()`.
#[derive(Debug, Clone, Copy)]
pub struct Analyses<'a> {
    client: &'a Client,
}

impl<'a> Analyses<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        Self { client }
    }

    /// Requests an analysis of an ended session (`POST /v1/sessions/{id}/analysis`; one
    /// credit; `analysis:write`). It answers at once with a `processing` analysis: use
    /// [`wait`](Self::wait), or the `analysis.complete` webhook.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// use kallglot::model::CreateAnalysisParams;
    ///
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// client.sessions().end(&session.id).await?;
    /// let analysis = client.analyses().create(&session.id, CreateAnalysisParams::new()).await?;
    /// println!("{} is {}", analysis.id, analysis.status);
    /// # Ok(()) }
    /// ```
    pub fn create(
        &self,
        session_id: impl Into<SessionId>,
        params: CreateAnalysisParams,
    ) -> Call<Analysis> {
        let id = session_id.into();
        let body = params.to_api();
        let route = on(SESSION_ID, id.into_string()).and_then(|route| route.json(&body));
        typed(self.client, &CREATE_ANALYSIS, route, Analysis::from_api)
    }

    /// Retrieves an analysis (`GET /v1/analyses/{id}`; `analysis:read`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder().api_key(server.api_key()).base_url(server.url()).build()?;
    /// # use kallglot::model::{CreateAnalysisParams, CreateSessionParams, Mode};
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// # client.sessions().end(&session.id).await?;
    /// # let created = client.analyses().create(&session.id, CreateAnalysisParams::new()).await?;
    /// let analysis = client.analyses().retrieve(&created.id).await?;
    /// if let Some(summary) = &analysis.summary {
    ///     println!("{summary}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn retrieve(&self, id: impl Into<AnalysisId>) -> Call<Analysis> {
        let id = id.into();
        let route = on(ANALYSIS_ID, id.into_string());
        typed(self.client, &RETRIEVE_ANALYSIS, route, Analysis::from_api)
    }

    /// Polls an analysis until it is `completed` or `failed` (legacy `complete` counts as
    /// completed), with a growing interval, until `options.timeout` has passed.
    ///
    /// A `failed` analysis is returned as `Ok`: check `status` (and `error`). Reaching the
    /// deadline first gives [`Error::WaitTimeout`]; an API error while polling is returned
    /// as it is (each poll is already retried by the client's policy).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::builder().analysis_delay(std::time::Duration::ZERO).start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .clock(std::sync::Arc::new(kallglot::clock::ManualClock::new())) // waits take no real time
    /// #     .build()?;
    /// # use kallglot::model::{CreateSessionParams, Mode};
    /// use std::time::Duration;
    /// use kallglot::WaitOptions;
    /// use kallglot::model::{AnalysisStatus, CreateAnalysisParams};
    ///
    /// # let session = client.sessions().create(CreateSessionParams::new(Mode::BidirectionalTranslation)).await?;
    /// client.sessions().end(&session.id).await?;
    /// let created = client.analyses().create(&session.id, CreateAnalysisParams::new()).await?;
    /// let options = WaitOptions::default().timeout(Duration::from_secs(300));
    /// let analysis = client.analyses().wait(&created.id, options).await?;
    /// match analysis.status {
    ///     AnalysisStatus::Completed => println!("{:?}", analysis.summary),
    ///     AnalysisStatus::Failed => eprintln!("analysis failed: {:?}", analysis.error),
    ///     _ => {}
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn wait(
        &self,
        id: impl Into<AnalysisId>,
        options: WaitOptions,
    ) -> Result<Response<Analysis>> {
        let id = id.into();
        let mut poller = Poller::new(self.client.shared.clock.clone(), &options);
        loop {
            let analysis = self.retrieve(id.clone()).await?;
            if analysis.status.is_terminal() {
                return Ok(analysis);
            }
            if !poller.pause().await {
                return Err(Error::WaitTimeout {
                    waited_for: "analysis",
                    id: id.to_string(),
                    last_status: analysis.status.to_string(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_come_from_content_disposition_without_directories() {
        let table = [
            (
                "attachment; filename=\"recording-sess_1.mp3\"",
                Some("recording-sess_1.mp3"),
            ),
            ("attachment; FILENAME=a.mp3", Some("a.mp3")),
            ("attachment; filename=\"../../etc/passwd\"", Some("passwd")),
            ("attachment; filename=\"..\"", None),
            ("attachment", None),
        ];
        for (header, expected) in table {
            assert_eq!(
                filename_from_disposition(header).as_deref(),
                expected,
                "{header}"
            );
        }
    }
}
