//! How every call travels: auth, idempotency keys, retries, metadata, errors and tracing.
//!
//! A typed call's request is built from the operation's catalogue entry (generated from
//! the spec) by [`crate::route`]; a raw request comes built. Either way the executor
//! sends it: it retries the *same* request (so a retried write carries the same
//! idempotency key and a byte-identical body), paces it, bounds it by the call's deadline,
//! reads the metadata of every answer, and records progress on the call's span. The
//! success body is then decoded into the generated model of the operation.

use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::Utc;
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tracing::Instrument;

use crate::call::{IdempotencyKey, RequestOptions};
use crate::clock::Clock;
use crate::credentials::Credentials;
use crate::credits::CreditsWatches;
use crate::deadline::{Deadline, WaitedFor};
use crate::error::{ApiError, ConfigError, DecodeError, Error, Result, snippet};
use crate::error_code::{ErrorCode, ErrorType, required_scope};
use crate::metadata::ResponseMeta;
use crate::middleware::{after_response, before_send};
use crate::pacer::{PacePermit, PaceWait, Pacer};
use crate::response::Response;
use crate::retry::{Attempt, Decision, Failure, RetryBudget, RetryPolicy, decide};
use crate::route::Route;

/// A documented operation, from the catalogue generated out of the spec.
pub(crate) use kallglot_api::catalogue::Operation;

/// Client-wide state shared by every call.
pub(crate) struct Shared {
    pub http: reqwest::Client,
    pub base_url: String,
    pub base: url::Url,
    pub credentials: Credentials,
    pub pacer: Pacer,
    pub credits: CreditsWatches,
    /// The default overall deadline of a call.
    pub deadline: Duration,
    /// The default timeout of one attempt.
    pub timeout: Duration,
    /// The total timeout `http` applies to a request that sets none: the SDK's own client
    /// is built with [`timeout`](Self::timeout); a caller's own client has none the SDK
    /// knows of (`None`).
    pub http_timeout: Option<Duration>,
    pub max_response_body: usize,
    pub policy: RetryPolicy,
    pub budget: RetryBudget,
    pub clock: Arc<dyn Clock>,
    /// Called for every attempt, in order (`ClientBuilder::middleware`).
    pub middleware: Vec<Arc<dyn crate::middleware::Middleware>>,
    /// How the stream connects: the same HTTP client, and the hosts it may reach.
    #[cfg(feature = "stream")]
    pub dialer: crate::stream::connect::Dialer,
}

/// Why the executor stopped a call itself rather than with a response.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// The deadline came; `with_last` tells whether the outcome returned is a real answer
    /// (the last attempt's failure) rather than a placeholder.
    Deadline {
        waited_for: WaitedFor,
        with_last: bool,
    },
    /// A body exceeded the cap of `limit` bytes.
    TooLarge { limit: usize },
}

/// What one call observed while it ran.
struct CallState {
    operation: &'static str,
    idempotent: bool,
    /// A keyed write: a 2xx whose body is not JSON is retried like a cut-off one.
    keyed_write: bool,
    /// Whether the success body is streamed to the caller (audio) rather than read here.
    streams_body: bool,
    policy: RetryPolicy,
    timeout: Duration,
    /// When the call started, on the client's clock: its deadline counts from here, and
    /// its first attempt asks the pacer at this time.
    started: tokio::time::Instant,
    deadline: Deadline,
    deadline_len: Duration,
    key: Option<IdempotencyKey>,
    attempts: AtomicU32,
    /// Milliseconds spent waiting for the pacer.
    paced_ms: AtomicU64,
    /// Whether the caller needs the success response's headers: only a binary download
    /// does (for its content type and file name); other calls skip copying them.
    keeps_headers: bool,
    /// The metadata of the final response, read once by the executor: the generated
    /// client's decode errors keep neither status nor headers.
    last: Mutex<Option<ResponseMeta>>,
    /// The headers of a successful response, for operations that keep them.
    success_headers: Mutex<Option<HeaderMap>>,
    verdict: Mutex<Option<Verdict>>,
    /// The call's `kallglot.request` span. The executor runs in it (its events, the
    /// middleware and the pacer's waits are inside it) and records on it directly.
    span: tracing::Span,
}

impl CallState {
    fn store_meta(&self, meta: ResponseMeta) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(meta);
    }

    /// The request id of the last answer, if it had one.
    fn last_request_id(&self) -> Option<String> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.as_ref().and_then(|meta| meta.request_id.clone())
    }

    fn take_observed(&self) -> Option<ResponseMeta> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed).max(1)
    }

    fn set_verdict(&self, verdict: Verdict) {
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner()) = Some(verdict);
    }

    fn verdict(&self) -> Option<Verdict> {
        *self.verdict.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The error for a call the executor stopped, around the error its last outcome
    /// reads as (`last`).
    fn stopped(&self, verdict: Verdict, last: Error) -> Error {
        match verdict {
            Verdict::Deadline {
                waited_for,
                with_last,
            } => Error::DeadlineExceeded {
                operation: self.operation,
                waited_for,
                deadline: self.deadline_len,
                attempts: self.attempts.load(Ordering::Relaxed),
                idempotency_key: None,
                last_error: with_last.then(|| Box::new(last)),
            },
            Verdict::TooLarge { limit } => Error::ResponseTooLarge {
                operation: self.operation,
                limit,
                idempotency_key: None,
            },
        }
    }
}

/// The `kallglot-api` executor for one call, with what the call observed (one
/// allocation for both).
struct CallExecutor {
    shared: Arc<Shared>,
    state: CallState,
}

/// What an answered attempt came to.
enum Answer {
    /// Hand this to the caller.
    Done(reqwest::Result<reqwest::Response>),

    /// It failed; retry if the policy allows, else hand over `outcome`.
    Failed {
        failure: FailureKind,
        outcome: reqwest::Result<reqwest::Response>,
    },
}

impl Answer {
    /// The failure to judge, with the outcome to hand over if there is no retry and
    /// whether it failed to connect; or, for an answer that is final, that answer.
    ///
    /// A function rather than a `match` in the attempt loop: taking the answer apart
    /// there would keep room for all of it in the loop's future.
    #[allow(
        clippy::type_complexity,
        clippy::result_large_err,
        reason = "a private split of one enum, moved once"
    )]
    fn into_failure(
        self,
    ) -> std::result::Result<
        (FailureKind, reqwest::Result<reqwest::Response>, bool),
        reqwest::Result<reqwest::Response>,
    > {
        match self {
            Answer::Done(outcome) => Err(outcome),
            Answer::Failed { failure, outcome } => {
                let connect = matches!(&outcome, Err(e) if e.is_connect());
                Ok((failure, outcome, connect))
            }
        }
    }
}

enum FailureKind {
    Status(StatusFailure),
    /// Cut off or invalid after the request was sent.
    Broken,
}

impl CallExecutor {
    /// Sends `first`, and the attempts after it that the retry policy, the retry budget
    /// and the deadline allow; returns the final answer. `replay` says where each retry's
    /// request comes from.
    ///
    /// The loop keeps what every attempt shares (counters, the key, the next request);
    /// one attempt's own state lives in [`attempt`](Self::attempt)'s future, which keeps
    /// this one small: a call's futures are moved when they are created, and a large one
    /// also costs a slower allocation.
    async fn run(
        &self,
        client: &reqwest::Client,
        first: reqwest::Request,
        replay: Replay<'_>,
    ) -> reqwest::Result<reqwest::Response> {
        let shared = &*self.shared;
        // The key goes only to the configured API host, never to another one. A URL built
        // on the base URL (every typed call's) is on its origin, which the prefix shows
        // without comparing the parsed parts.
        let keyed_origin = first
            .url()
            .as_str()
            .strip_prefix(shared.base_url.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
            || same_origin(first.url(), &shared.base);
        let mut next = Some(first);
        let state = &self.state;
        let clock = &*shared.clock;
        // A call keeps the key it started with, unless the API refuses it (below).
        let mut key = shared.credentials.current();
        // The clock was read when the call started, microseconds ago, with nothing in
        // between that waits: the first attempt reuses that reading instead of taking its
        // own (the clock is read again after anything that can wait).
        let mut now = state.started;
        shared.budget.record_request(now);
        let span = &state.span;
        let mut attempt: u32 = 0;
        let mut refreshed = false;
        loop {
            attempt += 1;
            state.attempts.store(attempt, Ordering::Relaxed);
            span.record("attempt", attempt);
            let mut permit = match shared.pacer.acquire(clock, state.deadline, now).await {
                Ok(permit) => permit,
                Err(why) => {
                    let waited_for = match why {
                        PaceWait::InFlight => WaitedFor::InFlightSlot,
                        _ => WaitedFor::RateLimitPacing,
                    };
                    return self.give_up(waited_for, None);
                }
            };
            if !permit.waited.is_zero() {
                let total = state
                    .paced_ms
                    .fetch_add(permit.waited.as_millis() as u64, Ordering::Relaxed)
                    + permit.waited.as_millis() as u64;
                span.record("paced_ms", total);
            }
            // Each attempt gets its timeout, cut short by the call's deadline. The permit
            // tells when it was granted (`now`, unless the pacer waited).
            let left = state.deadline.remaining(permit.granted_at);
            let capped = left.is_some_and(|left| left < state.timeout);
            if left.is_some_and(|left| left.is_zero()) {
                return self.give_up(WaitedFor::Response, None);
            }
            let attempt_timeout = left.map_or(state.timeout, |l| l.min(state.timeout));
            let Some(this_try) = next.take() else {
                // Never reached: a retry is only decided once its request exists.
                return Ok(placeholder());
            };
            let (this_try, copy) = self.ready(
                this_try,
                keyed_origin.then_some(&*key),
                attempt_timeout,
                replay,
            );
            // A raw request is copied before it is sent, for the next attempt; a typed one
            // is rebuilt from its route only if a retry is decided. A streaming body can
            // be neither, and gets exactly one attempt.
            let replayable = match replay {
                Replay::Copy => {
                    next = copy;
                    next.is_some()
                }
                Replay::Rebuild(_) => true,
            };
            let answer = self
                .attempt(
                    client,
                    this_try,
                    &mut permit,
                    attempt,
                    capped,
                    attempt_timeout,
                )
                .await;
            drop(permit);
            let (failure, outcome, connect) = match answer.into_failure() {
                Ok(failed) => failed,
                Err(done) => return done,
            };
            if !replayable {
                return outcome;
            }
            // A refused key: one fresh key from the source, then one more attempt. A 401
            // means the server did not act, so this is safe for any request.
            if let FailureKind::Status(s) = &failure
                && keyed_origin
                && !refreshed
                && s.status == 401
                && matches!(
                    s.code.as_deref().map(ErrorCode::parse),
                    Some(ErrorCode::ApiKeyRevoked | ErrorCode::ApiKeyExpired)
                )
            {
                refreshed = true;
                // Boxed: a refused key is rare, and the refresh's future is large.
                match Box::pin(shared.credentials.replacement(&key, clock, state.deadline)).await {
                    Some(new) => {
                        tracing::info!(
                            operation = state.operation,
                            "retrying with a fresh API key after the API refused the old one"
                        );
                        key = new;
                        if !replay.prepare(&mut next) {
                            return outcome;
                        }
                        now = clock.now();
                        continue;
                    }
                    None if state.deadline.remaining(clock.now()) == Some(Duration::ZERO) => {
                        return self.give_up(WaitedFor::KeyRefresh, Some(outcome));
                    }
                    None => return outcome,
                }
            }
            let failure = match &failure {
                _ if connect => Failure::Connect,
                FailureKind::Status(s) => Failure::Status {
                    status: s.status,
                    code: s.code.as_deref(),
                    retry_after: s.retry_after,
                    rate_limit_reset_in: s.reset_in,
                },
                // A timeout, a connection that broke after the request was written, or an
                // answer cut short: the server may have acted on it.
                FailureKind::Broken => Failure::Timeout,
            };
            let decision = decide(
                &state.policy,
                &Attempt {
                    // The extra attempt with a fresh key is not one of the policy's.
                    attempts_made: attempt - u32::from(refreshed),
                    idempotent: state.idempotent,
                    failure,
                },
                fastrand::f64(),
            );
            match decision {
                Decision::Retry(delay) if shared.budget.try_acquire_retry(clock.now()) => {
                    if !state.deadline.allows(clock.now(), delay) {
                        let waited_for = match failure {
                            Failure::Status { status: 429, .. } => WaitedFor::RateLimitPacing,
                            _ => WaitedFor::Backoff,
                        };
                        return self.give_up(waited_for, Some(outcome));
                    }
                    if !replay.prepare(&mut next) {
                        return outcome;
                    }
                    // The status and request id let a tool tell its user why it waits.
                    let status = match failure {
                        Failure::Status { status, .. } => Some(status),
                        _ => None,
                    };
                    tracing::debug!(
                        operation = state.operation,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        status,
                        request_id = state.last_request_id().as_deref(),
                        "retrying"
                    );
                    clock.sleep(delay).await;
                    now = clock.now();
                }
                Decision::Retry(_) => {
                    tracing::debug!(
                        operation = state.operation,
                        attempt,
                        "not retrying: the client's retry budget is spent"
                    );
                    return outcome;
                }
                Decision::Stop(reason) => {
                    if attempt > 1 || !matches!(reason, crate::retry::StopReason::NotRetryable) {
                        tracing::debug!(
                            operation = state.operation,
                            attempt,
                            ?reason,
                            "not retrying"
                        );
                    }
                    return outcome;
                }
            }
        }
    }

    /// `request` as this attempt sends it: with the key (when it goes to the API's
    /// origin) and the attempt's timeout. Not `async`, like [`send`](Self::send), so no
    /// future keeps room for the request.
    ///
    /// With [`Replay::Copy`] it also returns the copy of the request to keep for the next
    /// attempt (`None` when it cannot be copied).
    fn ready(
        &self,
        mut request: reqwest::Request,
        key: Option<&crate::credentials::ActiveKey>,
        attempt_timeout: Duration,
        replay: Replay<'_>,
    ) -> (reqwest::Request, Option<reqwest::Request>) {
        if let Some(key) = key {
            request.headers_mut().insert(
                self.shared.credentials.header_name().clone(),
                key.header().clone(),
            );
        }
        // A timeout equal to the one `http` applies by itself is not set on the request:
        // setting it allocates the request's extension map (and its entry). A request
        // copied from one whose timeout was set keeps it, so it is set again then, and no
        // attempt keeps a stale value.
        if request.timeout().is_some() || self.shared.http_timeout != Some(attempt_timeout) {
            *request.timeout_mut() = Some(attempt_timeout);
        }
        let copy = match replay {
            Replay::Copy => attempt_copy(&request),
            Replay::Rebuild(_) => None,
        };
        (request, copy)
    }

    /// Sends one attempt and reads what its answer says. The request is handed to
    /// reqwest before the future is built, so the future keeps only reqwest's.
    fn attempt<'a>(
        &'a self,
        client: &reqwest::Client,
        request: reqwest::Request,
        permit: &'a mut PacePermit<'_>,
        attempt: u32,
        capped: bool,
        attempt_timeout: Duration,
    ) -> impl Future<Output = Answer> + Send + 'a {
        // reqwest times out on tokio's clock; measured on it, a timeout that took the
        // whole capped time is the deadline, and a shorter one (connecting) is not.
        // Only a capped attempt needs to know when it was sent.
        let sent_at = capped.then(tokio::time::Instant::now);
        let pending = self.send(client, request, attempt);
        async move {
            match pending.await {
                // Most answers are settled without reading the body here; only the others
                // build the (larger) future that reads it, boxed.
                Ok(response) => match self.settle(response, permit, attempt) {
                    Settled::Answer(answer) => answer,
                    Settled::ReadBody(pending) => Box::pin(self.read_body(pending)).await,
                },
                Err(e)
                    if e.is_timeout()
                        && sent_at.is_some_and(|at| at.elapsed() >= attempt_timeout) =>
                {
                    Answer::Done(self.give_up(WaitedFor::Response, None))
                }
                Err(e) => Answer::Failed {
                    failure: FailureKind::Broken,
                    outcome: Err(e),
                },
            }
        }
    }

    /// Hands `request` to the middleware, then to reqwest. Not `async`: the request is
    /// moved in and gone before the caller waits, so no future keeps room for it.
    fn send(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
        attempt: u32,
    ) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> + Send + use<> {
        before_send(
            &self.shared.middleware,
            self.state.operation,
            attempt,
            &mut request,
        );
        client.execute(request)
    }

    /// Stops the call at its deadline: the outcome handed back is the last attempt's, or
    /// a placeholder the caller replaces by the deadline error.
    fn give_up(
        &self,
        waited_for: WaitedFor,
        last: Option<reqwest::Result<reqwest::Response>>,
    ) -> reqwest::Result<reqwest::Response> {
        tracing::debug!(
            operation = self.state.operation,
            %waited_for,
            "the call's deadline passed"
        );
        self.state.set_verdict(Verdict::Deadline {
            waited_for,
            with_last: last.is_some(),
        });
        last.unwrap_or_else(|| Ok(placeholder()))
    }

    /// Reads what an answered attempt says: metadata for the pacer, the credits watch and
    /// the caller. Settles the answer at once when its body is not to be read here (it
    /// streams to the caller, or is read after the executor, within the cap); otherwise
    /// hands back what [`read_body`](Self::read_body) needs.
    ///
    /// Not `async`, so the common answer does not build and move the future that reads a
    /// body (the attempt loop's future would otherwise hold it, and be larger for it).
    fn settle(
        &self,
        mut response: reqwest::Response,
        permit: &mut PacePermit<'_>,
        attempt: u32,
    ) -> Settled {
        let shared = &*self.shared;
        let state = &self.state;
        let span = &state.span;
        after_response(&shared.middleware, state.operation, attempt, &response);
        let status = response.status();
        let success = status.is_success();
        // A success's headers are moved out: nothing after this reads them (a download
        // gets them from here), so they are not copied.
        let headers = if success {
            std::mem::take(response.headers_mut())
        } else {
            response.headers().clone()
        };
        // One reading of the wall clock serves the metadata and the pacer.
        let wall_now = Utc::now();
        let meta = ResponseMeta::from_headers(status.as_u16(), &headers, wall_now);
        permit.observe(meta.rate_limit.as_ref(), || shared.clock.now(), wall_now);
        if let Some(balance) = meta.credits_remaining() {
            shared.credits.observe(balance);
        }
        span.record("status", status.as_u16());
        if success && state.streams_body {
            state.store_meta(meta);
            if state.keeps_headers {
                *state
                    .success_headers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = Some(headers);
            }
            return Settled::Answer(Answer::Done(Ok(response)));
        }
        // A success that announces a length within the cap cannot grow past it (hyper
        // stops at the length), and only a keyed write needs its body checked here: such a
        // body is read once the executor is done, without a copy.
        if success
            && !state.keyed_write
            && response
                .content_length()
                .is_some_and(|len| len <= shared.max_response_body as u64)
        {
            state.store_meta(meta);
            return Settled::Answer(Answer::Done(Ok(response)));
        }
        Settled::ReadBody(Box::new(PendingBody {
            response,
            status,
            headers,
            meta,
        }))
    }

    /// Reads the body of an answer [`settle`](Self::settle) could not settle, within the
    /// cap, and judges it: a keyed write's success must be JSON, a failure's body says
    /// what failed.
    async fn read_body(&self, pending: Box<PendingBody>) -> Answer {
        let shared = &*self.shared;
        let state = &self.state;
        let PendingBody {
            response,
            status,
            headers,
            meta,
        } = *pending;
        let success = status.is_success();
        let version = response.version();
        let body = match read_capped(response, shared.max_response_body).await {
            Ok(body) => body,
            Err(BodyError::TooLarge) => {
                state.store_meta(meta);
                state.set_verdict(Verdict::TooLarge {
                    limit: shared.max_response_body,
                });
                return Answer::Done(Ok(placeholder()));
            }
            Err(BodyError::Broken(e)) => {
                state.store_meta(meta);
                return Answer::Failed {
                    failure: FailureKind::Broken,
                    outcome: Err(e),
                };
            }
        };
        if success {
            let valid = !state.keyed_write
                || serde_json::from_slice::<serde::de::IgnoredAny>(&body).is_ok();
            state.store_meta(meta);
            let rebuilt = rebuild(status, version, HeaderMap::new(), body);
            if valid {
                return Answer::Done(Ok(rebuilt));
            }
            tracing::debug!(
                operation = state.operation,
                "the answer to a keyed write is not JSON; it may have been cut off"
            );
            return Answer::Failed {
                failure: FailureKind::Broken,
                outcome: Ok(rebuilt),
            };
        }
        let detail = LooseDetail::from_body(&body);
        let now = Utc::now();
        let failure = StatusFailure {
            status: status.as_u16(),
            code: detail.code,
            retry_after: meta.retry_after.or(detail.retry_after),
            reset_in: meta
                .rate_limit
                .and_then(|r| r.reset)
                .and_then(|reset| (reset - now).to_std().ok()),
        };
        state.store_meta(meta);
        Answer::Failed {
            failure: FailureKind::Status(failure),
            outcome: Ok(rebuild(status, version, headers, body)),
        }
    }
}

/// What [`CallExecutor::settle`] made of an answer.
enum Settled {
    /// Settled without reading the body.
    Answer(Answer),
    /// The body must be read first (boxed: it is the rare case, and keeps this small).
    ReadBody(Box<PendingBody>),
}

/// Where the request of each attempt after the first comes from.
#[derive(Clone, Copy)]
enum Replay<'a> {
    /// A copy of the previous attempt's request, made before it was sent (a raw
    /// request); a streaming body cannot be copied, and then there is no retry.
    Copy,
    /// Built afresh, from the route it was built from (a typed call): nothing is kept or
    /// copied for a retry that most calls never make.
    Rebuild(&'a (dyn Fn() -> Option<reqwest::Request> + Sync)),
}

impl Replay<'_> {
    /// Makes sure `next` holds the next attempt's request; false when there is none.
    fn prepare(self, next: &mut Option<reqwest::Request>) -> bool {
        if let Replay::Rebuild(build) = self
            && next.is_none()
        {
            *next = build();
        }
        next.is_some()
    }
}

/// An answer whose body is still to be read, with what was read of it so far.
struct PendingBody {
    response: reqwest::Response,
    status: reqwest::StatusCode,
    headers: HeaderMap,
    meta: ResponseMeta,
}

/// A copy of `request` to send as one attempt, keeping the original for the next; `None`
/// for a streaming body, which cannot be replayed.
///
/// `reqwest::Request::try_clone` sets the copy's timeout through the request's extension
/// map even when there is none, which allocates the map and its entry only to replace
/// them, on every attempt. A request without a body is copied here field by field
/// instead: method, URL, headers, version and timeout. That is the whole request: the
/// only extension reqwest keeps on a request it built (the raw escape hatch's requests
/// are built with its builder) is that timeout, and the SDK adds none. (A typed call's
/// request is never copied: each retry rebuilds it from its route.) A request with a body still goes through `try_clone`, which shares a
/// buffered body rather than copying it.
fn attempt_copy(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    *copy.headers_mut() = request.headers().clone();
    *copy.version_mut() = request.version();
    if let Some(timeout) = request.timeout() {
        *copy.timeout_mut() = Some(*timeout);
    }
    Some(copy)
}

/// Why a body could not be read whole.
enum BodyError {
    TooLarge,
    Broken(reqwest::Error),
}

/// Reads a body chunk by chunk, refusing it as soon as it exceeds `cap` bytes (or
/// announces more), so memory stays bounded whatever the server sends.
fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> impl Future<Output = Result<Bytes, BodyError>> + Send {
    let announced = response.content_length();
    // The response moves into the future once, and is read there in place.
    async move {
        if announced.is_some_and(|len| len > cap as u64) {
            return Err(BodyError::TooLarge);
        }
        // Most bodies arrive in one chunk: keep it as it is, without copying.
        let Some(first) = response.chunk().await.map_err(BodyError::Broken)? else {
            return Ok(Bytes::new());
        };
        if first.len() > cap {
            return Err(BodyError::TooLarge);
        }
        let Some(second) = response.chunk().await.map_err(BodyError::Broken)? else {
            return Ok(first);
        };
        let mut body = BytesMut::with_capacity(first.len() + second.len());
        body.extend_from_slice(&first);
        let mut next = Some(second);
        while let Some(chunk) = next {
            if body.len() + chunk.len() > cap {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
            next = response.chunk().await.map_err(BodyError::Broken)?;
        }
        Ok(body.freeze())
    }
}

/// What the executor hands back when it stopped the call itself; the caller replaces
/// whatever error that reads as by the executor's verdict.
fn placeholder() -> reqwest::Response {
    rebuild(
        reqwest::StatusCode::SERVICE_UNAVAILABLE,
        reqwest::Version::HTTP_11,
        HeaderMap::new(),
        Bytes::new(),
    )
}

struct StatusFailure {
    status: u16,
    code: Option<String>,
    retry_after: Option<Duration>,
    reset_in: Option<Duration>,
}

/// Rebuilds a response whose body was read here, so that it is read like any other once
/// the executor is done.
fn rebuild(
    status: reqwest::StatusCode,
    version: reqwest::Version,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> reqwest::Response {
    let mut response = http::Response::new(reqwest::Body::from(body));
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    reqwest::Response::from(response)
}

impl Shared {
    fn call_state(
        &self,
        op: &Operation,
        options: &RequestOptions,
        key: Option<IdempotencyKey>,
        started: tokio::time::Instant,
        span: tracing::Span,
    ) -> CallState {
        let mut policy = self.policy;
        if let Some(max) = options.max_retries {
            policy = policy.with_max_retries(max);
        }
        let deadline_len = options.deadline.unwrap_or(self.deadline);
        let keyed = key.is_some();
        CallState {
            operation: op.id,
            // Reads are safe to repeat; writes only when the route dedups them by key.
            idempotent: op.method == "GET" || (op.idempotent && keyed),
            keyed_write: op.method != "GET" && op.idempotent && keyed,
            streams_body: op.binary_response,
            policy,
            timeout: options.timeout.unwrap_or(self.timeout),
            started,
            deadline: Deadline::after(started, deadline_len),
            deadline_len,
            key,
            attempts: AtomicU32::new(0),
            paced_ms: AtomicU64::new(0),
            keeps_headers: op.binary_response,
            last: Mutex::new(None),
            success_headers: Mutex::new(None),
            verdict: Mutex::new(None),
            span,
        }
    }
}

fn same_origin(url: &url::Url, base: &url::Url) -> bool {
    url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
}

/// The `kallglot.request` span of one call to `op`.
pub(crate) fn call_span(op: &Operation) -> tracing::Span {
    tracing::info_span!(
        "kallglot.request",
        operation = op.id,
        method = op.method,
        path = op.path,
        attempt = tracing::field::Empty,
        status = tracing::field::Empty,
        request_id = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
        paced_ms = tracing::field::Empty,
    )
}

/// The idempotency key a call to `op` sends: the caller's, or a fresh one for a route
/// that honours keys; `None` for the others.
fn call_key(op: &Operation, options: &RequestOptions) -> Option<IdempotencyKey> {
    op.idempotent.then(|| {
        options
            .idempotency_key
            .clone()
            .unwrap_or_else(IdempotencyKey::generate)
    })
}

/// Runs one documented JSON operation: builds its request from the catalogue entry and
/// `route`, sends it through the executor (retries, pacing, deadline, metadata), decodes
/// the success body as the generated model `A` and converts it with `convert`.
///
/// It records on `span` but does not enter it: the [`Call`](crate::Call) it runs in
/// enters it around every poll (a wrapper would be one more level for this future to be
/// moved through).
pub(crate) async fn call_typed<A, T>(
    shared: Arc<Shared>,
    op: &'static Operation,
    options: RequestOptions,
    route: std::result::Result<Route, ConfigError>,
    span: tracing::Span,
    convert: fn(A) -> T,
) -> Result<Response<T>>
where
    A: DeserializeOwned + Send + 'static,
    T: Send + 'static,
{
    let key = call_key(op, &options);
    // The one reading of the clock for the call's start: its deadline, its first attempt
    // and its duration all count from it.
    let started = shared.clock.now();
    let state = shared.call_state(op, &options, key, started, span);
    let executor = CallExecutor { shared, state };
    let state = &executor.state;
    let shared = &*executor.shared;
    let route = match &route {
        Ok(route) => route,
        Err(e) => return Err(Error::Config(e.clone())),
    };
    let first = route.request(&shared.base_url, op, state.key.as_ref())?;
    let rebuild = || route.request(&shared.base_url, op, state.key.as_ref()).ok();
    let result = executor
        .run(&shared.http, first, Replay::Rebuild(&rebuild))
        .await;
    let outcome = match (result, state.verdict()) {
        (Ok(response), None) => {
            match success_body(op, state, response, true, shared.max_response_body).await {
                Ok((body, meta)) => match serde_json::from_slice::<A>(&body) {
                    Ok(value) => Ok(Response::from_parts(
                        convert(value),
                        meta,
                        state.key.clone(),
                    )),
                    Err(e) => Err(decode_error(op.id, meta, e.to_string(), &body)),
                },
                Err(e) => Err(e),
            }
        }
        (Err(e), None) => Err(transport_error(op.id, state.attempts(), &e)),
        // Boxed: only a call stopped by its deadline or body cap reads this way.
        (result, Some(verdict)) => Err(Box::pin(stopped(
            op,
            state,
            verdict,
            result,
            shared.max_response_body,
        ))
        .await),
    };
    let outcome = outcome.map_err(|e| e.with_idempotency_key(state.key.as_ref()));
    finish_span(
        &state.span,
        shared,
        started,
        outcome.as_ref().map(|r| r.meta()),
    );
    outcome
}

/// The error of a call the executor stopped, around what its last answer said.
async fn stopped(
    op: &Operation,
    state: &CallState,
    verdict: Verdict,
    last: reqwest::Result<reqwest::Response>,
    cap: usize,
) -> Error {
    let last = match last {
        Ok(response) => success_body(op, state, response, true, cap).await.err(),
        Err(e) => Some(transport_error(op.id, state.attempts(), &e)),
    };
    let placeholder = Error::Config(ConfigError::InvalidRequest(String::new()));
    state.stopped(verdict, last.unwrap_or(placeholder))
}

/// A successful binary download, before its body is read: the response to stream, its
/// metadata and its headers (content type, file name).
pub(crate) struct BinaryReply {
    pub response: reqwest::Response,
    pub meta: ResponseMeta,
    pub headers: HeaderMap,
}

/// Runs a documented operation whose success body is binary (audio): like
/// [`call_typed`], but the success body is left for the caller to stream.
pub(crate) async fn call_binary(
    shared: &Arc<Shared>,
    op: &'static Operation,
    options: RequestOptions,
    route: Route,
) -> Result<BinaryReply> {
    let key = call_key(op, &options);
    let request = route.request(&shared.base_url, op, key.as_ref())?;
    let started = shared.clock.now();
    let executor = CallExecutor {
        shared: shared.clone(),
        state: shared.call_state(op, &options, key, started, call_span(op)),
    };
    let state = &executor.state;
    let rebuild = || route.request(&shared.base_url, op, state.key.as_ref()).ok();
    let outcome = async {
        let result = executor
            .run(&shared.http, request, Replay::Rebuild(&rebuild))
            .await;
        match (result, state.verdict()) {
            (Ok(response), None) if response.status().is_success() => {
                let status = response.status().as_u16();
                let meta = state.take_observed().unwrap_or_else(|| {
                    ResponseMeta::from_headers(status, response.headers(), Utc::now())
                });
                let headers = state
                    .success_headers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                    .unwrap_or_default();
                Ok(BinaryReply {
                    response,
                    meta,
                    headers,
                })
            }
            (Ok(response), None) => {
                Err(
                    success_body(op, state, response, true, shared.max_response_body)
                        .await
                        .err()
                        .unwrap_or_else(|| unreachable_success(op)),
                )
            }
            (Err(e), None) => Err(transport_error(op.id, state.attempts(), &e)),
            (result, Some(verdict)) => {
                Err(stopped(op, state, verdict, result, shared.max_response_body).await)
            }
        }
    }
    .instrument(state.span.clone())
    .await;
    let outcome = outcome.map_err(|e| e.with_idempotency_key(state.key.as_ref()));
    finish_span(
        &state.span,
        shared,
        started,
        outcome.as_ref().map(|r| &r.meta),
    );
    outcome
}

/// The error for a success where a failure was expected; never built in practice (the
/// caller checked the status), but an error rather than a panic all the same.
fn unreachable_success(op: &Operation) -> Error {
    Error::Config(ConfigError::InvalidRequest(format!(
        "{}: a success was read as a failure",
        op.id
    )))
}

/// Reads the final response: its body and metadata for a 2xx, otherwise the error it
/// reports. With `typed`, a 1xx or 3xx (redirects are not followed) is a decode error,
/// as for any status the spec does not give the operation; a raw request reads it as an
/// API error.
fn success_body<'a>(
    op: &'a Operation,
    state: &'a CallState,
    response: reqwest::Response,
    typed: bool,
    cap: usize,
) -> impl Future<Output = Result<(Bytes, ResponseMeta)>> + Send + 'a {
    let status = response.status().as_u16();
    // The executor read the final response's metadata (and moved a success's headers
    // out); a request it could not replay was sent as is and is read here.
    let meta = state
        .take_observed()
        .unwrap_or_else(|| ResponseMeta::from_headers(status, response.headers(), Utc::now()));
    // Within the cap: a success is read here only when it announced a length within it
    // (hyper stops there), and every other body was read within it by the executor.
    let body = read_capped(response, cap);
    async move {
        let body = match body.await {
            Ok(body) => body,
            Err(BodyError::Broken(e)) => return Err(transport_error(op.id, state.attempts(), &e)),
            Err(BodyError::TooLarge) => {
                return Err(Error::ResponseTooLarge {
                    operation: op.id,
                    limit: cap,
                    idempotency_key: None,
                });
            }
        };
        match status {
            200..=299 => Ok((body, meta)),
            100..=199 | 300..=399 if typed => Err(decode_error(
                op.id,
                meta,
                format!("unexpected HTTP status {status}"),
                &body,
            )),
            _ => Err(api_error(op.id, meta, LooseDetail::from_body(&body), &body)),
        }
    }
}

fn finish_span(
    span: &tracing::Span,
    shared: &Shared,
    started: tokio::time::Instant,
    outcome: std::result::Result<&ResponseMeta, &Error>,
) {
    // A span no subscriber wants records nothing, so the clock is not read for it. The
    // event below is asked for on its own.
    if !span.is_disabled() {
        let elapsed = shared.clock.now().saturating_duration_since(started);
        span.record("duration_ms", elapsed.as_millis() as u64);
        let request_id = match outcome {
            Ok(meta) => meta.request_id.as_deref(),
            Err(e) => e.request_id(),
        };
        if let Some(id) = request_id {
            span.record("request_id", id);
        }
    }
    span.in_scope(|| match outcome {
        Ok(meta) => tracing::debug!(status = meta.status, "kallglot call succeeded"),
        Err(e) => tracing::debug!(error = %e, "kallglot call failed"),
    });
}

/// Runs a request the spec does not describe (the raw escape hatch) through the same
/// executor, and returns the JSON body.
pub(crate) async fn call_raw(
    shared: &Arc<Shared>,
    op: Operation,
    options: RequestOptions,
    request: reqwest::Request,
    key: Option<IdempotencyKey>,
) -> Result<(Value, ResponseMeta)> {
    let started = shared.clock.now();
    let executor = CallExecutor {
        shared: shared.clone(),
        state: shared.call_state(&op, &options, key, started, call_span(&op)),
    };
    let state = &executor.state;
    let outcome = async {
        let result = executor.run(&shared.http, request, Replay::Copy).await;
        let response = match (result, state.verdict()) {
            (Ok(response), None) => response,
            (Err(e), None) => return Err(transport_error(op.id, state.attempts(), &e)),
            (result, Some(verdict)) => {
                let last = match result {
                    Ok(response) => raw_reply(&op, state, response, shared.max_response_body)
                        .await
                        .err(),
                    Err(e) => Some(transport_error(op.id, state.attempts(), &e)),
                };
                let placeholder = Error::Config(ConfigError::InvalidRequest(String::new()));
                return Err(state.stopped(verdict, last.unwrap_or(placeholder)));
            }
        };
        raw_reply(&op, state, response, shared.max_response_body).await
    }
    .instrument(state.span.clone())
    .await;
    let outcome = outcome.map_err(|e| e.with_idempotency_key(state.key.as_ref()));
    finish_span(
        &state.span,
        shared,
        started,
        outcome.as_ref().map(|(_, meta)| meta),
    );
    outcome
}

/// Reads a raw request's final response as JSON, or as the error it reports.
async fn raw_reply(
    op: &Operation,
    state: &CallState,
    response: reqwest::Response,
    cap: usize,
) -> Result<(Value, ResponseMeta)> {
    let (body, meta) = success_body(op, state, response, false, cap).await?;
    if body.is_empty() {
        return Ok((Value::Null, meta));
    }
    match serde_json::from_slice(&body) {
        Ok(value) => Ok((value, meta)),
        Err(e) => Err(decode_error(op.id, meta, e.to_string(), &body)),
    }
}

fn transport_error(operation: &'static str, attempts: u32, error: &reqwest::Error) -> Error {
    if error.is_timeout() {
        return Error::Timeout {
            operation,
            attempts,
            idempotency_key: None,
        };
    }
    // Describe the failure by its causes; URLs are left out (REST URLs carry no secret,
    // but there is no reason to repeat them in every message).
    let mut message = if error.is_connect() {
        "could not connect to the API host".to_string()
    } else if error.is_body() || error.is_decode() {
        "the connection broke while reading the response".to_string()
    } else {
        "the request could not be completed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Connection {
        operation,
        message,
        idempotency_key: None,
    }
}

fn decode_error(
    operation: &'static str,
    meta: ResponseMeta,
    message: String,
    body: &[u8],
) -> Error {
    Error::Decode(Box::new(DecodeError {
        operation,
        message,
        body_snippet: snippet(body),
        meta,
        idempotency_key: None,
    }))
}

/// An [`ApiError`] from a refusal read outside the executor (the stream's WebSocket
/// upgrade), with the same lenient reading of the error envelope as every REST error.
#[cfg(feature = "stream")]
pub(crate) fn refusal(
    operation: &'static str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiError {
    let meta = ResponseMeta::from_headers(status, headers, Utc::now());
    api_error_detail(operation, meta, LooseDetail::from_body(body), body)
}

/// Builds an [`ApiError`] from what could be read of the body.
fn api_error(
    operation: &'static str,
    meta: ResponseMeta,
    detail: LooseDetail,
    body: &[u8],
) -> Error {
    Error::Api(Box::new(api_error_detail(operation, meta, detail, body)))
}

fn api_error_detail(
    operation: &'static str,
    meta: ResponseMeta,
    detail: LooseDetail,
    body: &[u8],
) -> ApiError {
    let code = detail.code.as_deref().map(ErrorCode::parse);
    let required = match code {
        Some(ErrorCode::InsufficientPermissions) => required_scope(operation),
        _ => None,
    };
    let (message, body_snippet) = match detail.message {
        Some(message) => (message, None),
        None if body.is_empty() => ("the response had an empty body".to_string(), None),
        None => (
            "the response body is not the API's error envelope".to_string(),
            Some(snippet(body)),
        ),
    };
    ApiError {
        operation,
        status: meta.status,
        code,
        raw_code: detail.code,
        kind: detail.kind.as_deref().map(ErrorType::parse),
        message,
        param: detail.param,
        request_id: detail.request_id.or_else(|| meta.request_id.clone()),
        retry_after: meta.retry_after.or(detail.retry_after),
        required_scope: required,
        body_snippet,
        meta,
        idempotency_key: None,
    }
}

/// The error envelope, read leniently: any field may be missing or of another type.
#[derive(Debug, Default)]
struct LooseDetail {
    kind: Option<String>,
    code: Option<String>,
    message: Option<String>,
    param: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
}

impl LooseDetail {
    fn from_body(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let Some(error) = value.get("error").filter(|e| e.is_object()) else {
            return Self::default();
        };
        let text = |name: &str| error.get(name).and_then(Value::as_str).map(str::to_string);
        Self {
            kind: text("type"),
            code: text("code"),
            message: text("message"),
            param: text("param"),
            request_id: text("request_id"),
            retry_after: error.get("retry_after").and_then(seconds),
        }
    }
}

/// A non-negative number of seconds (a number, or a numeric string) as a duration.
fn seconds(value: &Value) -> Option<Duration> {
    let secs = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_detail_reads_partial_and_odd_envelopes() {
        let d = LooseDetail::from_body(
            br#"{"error":{"code":"rate_limit_exceeded","retry_after":"2.5"}}"#,
        );
        assert_eq!(d.code.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(d.retry_after, Some(Duration::from_millis(2500)));
        assert_eq!(d.message, None);
        let d = LooseDetail::from_body(b"<html>502 Bad Gateway</html>");
        assert!(d.code.is_none() && d.message.is_none());
        let d = LooseDetail::from_body(br#"{"error":"nope"}"#);
        assert!(d.code.is_none());
        let d = LooseDetail::from_body(br#"{"error":{"code":"x","retry_after":-3}}"#);
        assert_eq!(d.retry_after, None);
    }

    #[test]
    fn an_attempt_copy_is_the_whole_request() {
        let client = reqwest::Client::new();
        for timeout in [None, Some(Duration::from_secs(7))] {
            let mut builder = client
                .get("http://127.0.0.1:9/v1/sessions/sess_1?limit=2")
                .header("accept", "application/json")
                .header("authorization", "Bearer sk_test_x")
                .version(reqwest::Version::HTTP_11);
            if let Some(t) = timeout {
                builder = builder.timeout(t);
            }
            let request = builder.build().unwrap();
            let copy = attempt_copy(&request).unwrap();
            let reference = request.try_clone().unwrap();
            assert_eq!(copy.method(), reference.method());
            assert_eq!(copy.url(), reference.url());
            assert_eq!(copy.headers(), reference.headers());
            assert_eq!(copy.version(), reference.version());
            assert_eq!(copy.timeout(), reference.timeout());
            assert_eq!(copy.timeout(), timeout.as_ref());
            assert!(copy.body().is_none());
        }
        // A buffered body is replayed; a streaming one cannot be.
        let with_body = client
            .post("http://127.0.0.1:9/v1/sessions")
            .body("{}")
            .build()
            .unwrap();
        let copy = attempt_copy(&with_body).unwrap();
        assert_eq!(copy.body().and_then(|b| b.as_bytes()), Some(&b"{}"[..]));
        let stream = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::new())]);
        let streaming = client
            .post("http://127.0.0.1:9/v1/sessions")
            .body(reqwest::Body::wrap_stream(stream))
            .build()
            .unwrap();
        assert!(attempt_copy(&streaming).is_none());
    }

    #[test]
    fn only_the_api_origin_gets_the_key() {
        let base = url::Url::parse("https://api.kallglot.com").unwrap();
        let same = url::Url::parse("https://api.kallglot.com:443/v1/sessions").unwrap();
        let other = url::Url::parse("https://storage.kallglot.com/recordings/x").unwrap();
        let plain = url::Url::parse("http://api.kallglot.com/v1/sessions").unwrap();
        assert!(same_origin(&same, &base));
        assert!(!same_origin(&other, &base));
        assert!(!same_origin(&plain, &base));
    }
}
