//! How every call travels: auth, idempotency keys, retries, metadata, errors and tracing.
//!
//! The generated client builds each request from the spec; it hands the request to the
//! executor hook of `kallglot-api`, which is where this module plugs in. The executor
//! retries the *same* request (so a retried write carries the same idempotency key and a
//! byte-identical body), observes the status and headers of the final response (which the
//! generated client's decode errors do not keep), and records progress on the call's span.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use kallglot_api::types::ErrorEnvelope;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use tracing::Instrument;

use crate::api_key::{ApiKey, AuthStyle};
use crate::call::{IdempotencyKey, RequestOptions};
use crate::clock::Clock;
use crate::error::{ApiError, ConfigError, DecodeError, Error, Result, snippet};
use crate::error_code::{ErrorCode, ErrorType, required_scope};
use crate::metadata::ResponseMeta;
use crate::retry::{Attempt, Decision, Failure, RetryBudget, RetryPolicy, decide};

/// A documented operation, from the catalogue generated out of the spec.
pub(crate) use kallglot_api::catalogue::Operation;

/// Client-wide state shared by every call.
pub(crate) struct Shared {
    pub http: reqwest::Client,
    pub base_url: String,
    pub base: url::Url,
    pub key: ApiKey,
    pub auth_style: AuthStyle,
    pub auth_header: (HeaderName, HeaderValue),
    pub policy: RetryPolicy,
    pub budget: RetryBudget,
    pub clock: Arc<dyn Clock>,
    /// How the stream connects: the same HTTP client, and the hosts it may reach.
    #[cfg(feature = "stream")]
    pub dialer: crate::stream::connect::Dialer,
}

/// What one call observed while it ran.
struct CallState {
    operation: &'static str,
    idempotent: bool,
    policy: RetryPolicy,
    timeout: Option<Duration>,
    attempts: AtomicU32,
    /// Whether the caller needs the success response's headers: only a binary download
    /// does (for its content type and file name); other calls skip copying them.
    keeps_headers: bool,
    /// The metadata of the final response, read once by the executor: the generated
    /// client's decode errors keep neither status nor headers.
    last: Mutex<Option<ResponseMeta>>,
    /// The headers of a successful response, for operations that keep them.
    success_headers: Mutex<Option<HeaderMap>>,
}

impl CallState {
    fn observe(&self, status: u16, headers: &HeaderMap) {
        let meta = ResponseMeta::from_headers(status, headers, Utc::now());
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(meta);
    }

    /// Reads a successful response's metadata and moves its headers out of it, so that
    /// neither the generated client (which copies the headers of every response it
    /// decodes) nor this crate copies them; they are kept only if the caller needs them.
    fn take_success_headers(&self, response: &mut reqwest::Response) {
        let headers = std::mem::take(response.headers_mut());
        self.observe(response.status().as_u16(), &headers);
        if self.keeps_headers {
            *self
                .success_headers
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(headers);
        }
    }

    fn take_observed(&self) -> Option<ResponseMeta> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn attempts(&self) -> u32 {
        self.attempts.load(Ordering::Relaxed).max(1)
    }
}

/// The `kallglot-api` executor for one call, with what the call observed (one
/// allocation for both).
struct CallExecutor {
    shared: Arc<Shared>,
    state: CallState,
}

impl kallglot_api::Execute for CallExecutor {
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        _operation_id: &'static str,
    ) -> kallglot_api::ExecuteFuture<'a> {
        Box::pin(self.run(client, request))
    }
}

impl CallExecutor {
    async fn run(
        &self,
        client: &reqwest::Client,
        mut request: reqwest::Request,
    ) -> reqwest::Result<reqwest::Response> {
        self.shared.prepare(&mut request, self.state.timeout);
        let clock = &self.shared.clock;
        self.shared.budget.record_request(clock.now());
        let span = tracing::Span::current();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.state.attempts.store(attempt, Ordering::Relaxed);
            span.record("attempt", attempt);
            // Every request this SDK builds has a buffered body, so it can be cloned; a
            // streaming body could not be replayed and gets exactly one attempt.
            let Some(this_try) = request.try_clone() else {
                return client.execute(request).await;
            };
            let result = client.execute(this_try).await;
            let (failure_kind, outcome) = match result {
                Ok(mut response) if response.status().is_success() => {
                    // Success bodies are not buffered: a recording download streams.
                    self.state.take_success_headers(&mut response);
                    span.record("status", response.status().as_u16());
                    return Ok(response);
                }
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let version = response.version();
                    self.state.observe(status.as_u16(), &headers);
                    span.record("status", status.as_u16());
                    match response.bytes().await {
                        Ok(body) => {
                            let detail = LooseDetail::from_body(&body);
                            let now = Utc::now();
                            let meta = ResponseMeta::from_headers(status.as_u16(), &headers, now);
                            let rebuilt = rebuild(status, version, headers, body);
                            (
                                Some(StatusFailure {
                                    status: status.as_u16(),
                                    code: detail.code,
                                    retry_after: meta.retry_after.or(detail.retry_after),
                                    reset_in: meta
                                        .rate_limit
                                        .and_then(|r| r.reset)
                                        .and_then(|reset| (reset - now).to_std().ok()),
                                }),
                                Ok(rebuilt),
                            )
                        }
                        Err(e) => (None, Err(e)),
                    }
                }
                Err(e) => (None, Err(e)),
            };
            let failure = match (&failure_kind, &outcome) {
                (Some(s), _) => Failure::Status {
                    status: s.status,
                    code: s.code.as_deref(),
                    retry_after: s.retry_after,
                    rate_limit_reset_in: s.reset_in,
                },
                (None, Err(e)) if e.is_connect() => Failure::Connect,
                // A timeout, or a connection that broke after the request was written:
                // the server may have acted on it.
                (None, _) => Failure::Timeout,
            };
            let decision = decide(
                &self.state.policy,
                &Attempt {
                    attempts_made: attempt,
                    idempotent: self.state.idempotent,
                    failure,
                },
                fastrand::f64(),
            );
            match decision {
                Decision::Retry(delay) if self.shared.budget.try_acquire_retry(clock.now()) => {
                    tracing::debug!(
                        operation = self.state.operation,
                        attempt,
                        delay_ms = delay.as_millis() as u64,
                        "retrying"
                    );
                    clock.sleep(delay).await;
                }
                Decision::Retry(_) => {
                    tracing::debug!(
                        operation = self.state.operation,
                        attempt,
                        "not retrying: the client's retry budget is spent"
                    );
                    return outcome;
                }
                Decision::Stop(reason) => {
                    if attempt > 1 || !matches!(reason, crate::retry::StopReason::NotRetryable) {
                        tracing::debug!(
                            operation = self.state.operation,
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
}

struct StatusFailure {
    status: u16,
    code: Option<String>,
    retry_after: Option<Duration>,
    reset_in: Option<Duration>,
}

/// Rebuilds a response whose body was read, so the generated client can decode it.
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
    /// Adds what every request needs and the generated client does not know about.
    fn prepare(&self, request: &mut reqwest::Request, timeout: Option<Duration>) {
        let headers = request.headers_mut();
        // progenitor sends `api-version: <info.version>`; Kallglot versions its API by the
        // `/v1` path and documents no such header, so it is not sent.
        headers.remove("api-version");
        // The key goes only to the configured API host, never to another one.
        if same_origin(request.url(), &self.base) {
            let (name, value) = &self.auth_header;
            request.headers_mut().insert(name.clone(), value.clone());
        }
        if let Some(timeout) = timeout {
            *request.timeout_mut() = Some(timeout);
        }
    }

    fn call_state(&self, op: &Operation, options: &RequestOptions, keyed: bool) -> CallState {
        let mut policy = self.policy;
        if let Some(max) = options.max_retries {
            policy = policy.with_max_retries(max);
        }
        CallState {
            operation: op.id,
            // Reads are safe to repeat; writes only when the route dedups them by key.
            idempotent: op.method == "GET" || (op.idempotent && keyed),
            policy,
            timeout: options.timeout,
            attempts: AtomicU32::new(0),
            keeps_headers: op.binary_response,
            last: Mutex::new(None),
            success_headers: Mutex::new(None),
        }
    }
}

fn same_origin(url: &url::Url, base: &url::Url) -> bool {
    url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
}

fn call_span(op: &Operation) -> tracing::Span {
    tracing::info_span!(
        "kallglot.request",
        operation = op.id,
        method = op.method,
        path = op.path,
        attempt = tracing::field::Empty,
        status = tracing::field::Empty,
        request_id = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    )
}

/// The generated client's result type for an operation returning `T`.
pub(crate) type ApiResult<T> =
    std::result::Result<kallglot_api::ResponseValue<T>, kallglot_api::Error<ErrorEnvelope>>;

/// A successful typed call: the decoded value, its metadata and the response headers.
pub(crate) struct Reply<T> {
    pub value: T,
    pub meta: ResponseMeta,
    pub headers: HeaderMap,
}

/// Runs one typed operation through the generated client.
///
/// `send` receives a generated client wired to this call's executor and the idempotency
/// key to send (for routes that honour keys), and performs the generated request.
pub(crate) async fn call<T, F, Fut>(
    shared: &Arc<Shared>,
    op: &'static Operation,
    options: RequestOptions,
    send: F,
) -> Result<Reply<T>>
where
    F: FnOnce(kallglot_api::Client, Option<String>) -> Fut,
    Fut: Future<Output = ApiResult<T>>,
{
    let key = op.idempotent.then(|| {
        options
            .idempotency_key
            .clone()
            .unwrap_or_else(IdempotencyKey::generate)
    });
    let executor = Arc::new(CallExecutor {
        shared: shared.clone(),
        state: shared.call_state(op, &options, key.is_some()),
    });
    let api = kallglot_api::Client::new_with_client(
        &shared.base_url,
        shared.http.clone(),
        kallglot_api::Executor::new(executor.clone()),
    );
    let span = call_span(op);
    let started = shared.clock.now();
    // The generated request future is large; boxing it once keeps the wrappers around it
    // from copying it at each layer.
    let result = Box::pin(send(api, key.map(|k| k.as_str().to_string())))
        .instrument(span.clone())
        .await;
    let state = &executor.state;
    let outcome = match result {
        Ok(value) => {
            // The executor read the metadata of the final response already.
            let meta = state.take_observed().unwrap_or_else(|| {
                ResponseMeta::from_headers(value.status().as_u16(), value.headers(), Utc::now())
            });
            let headers = state
                .success_headers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or_default();
            Ok(Reply {
                value: value.into_inner(),
                meta,
                headers,
            })
        }
        Err(e) => Err(map_error(op, state, e).await),
    };
    finish_span(&span, shared, started, outcome.as_ref().map(|r| &r.meta));
    outcome
}

fn finish_span(
    span: &tracing::Span,
    shared: &Shared,
    started: tokio::time::Instant,
    outcome: std::result::Result<&ResponseMeta, &Error>,
) {
    let elapsed = shared.clock.now().saturating_duration_since(started);
    span.record("duration_ms", elapsed.as_millis() as u64);
    let request_id = match outcome {
        Ok(meta) => meta.request_id.as_deref(),
        Err(e) => e.request_id(),
    };
    if let Some(id) = request_id {
        span.record("request_id", id);
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
) -> Result<(Value, ResponseMeta)> {
    let keyed = request.headers().contains_key("idempotency-key");
    let executor = CallExecutor {
        shared: shared.clone(),
        state: shared.call_state(&op, &options, keyed),
    };
    let state = &executor.state;
    let span = call_span(&op);
    let started = shared.clock.now();
    let outcome = async {
        let response = executor
            .run(&shared.http, request)
            .await
            .map_err(|e| transport_error(op.id, state.attempts(), &e))?;
        let status = response.status().as_u16();
        // The executor read the final response's metadata (and moved a success's headers
        // out); a request it could not replay was sent as is and is read here.
        let meta = state
            .take_observed()
            .unwrap_or_else(|| ResponseMeta::from_headers(status, response.headers(), Utc::now()));
        let body = response
            .bytes()
            .await
            .map_err(|e| transport_error(op.id, state.attempts(), &e))?;
        if !(200..300).contains(&status) {
            return Err(api_error(op.id, meta, LooseDetail::from_body(&body), &body));
        }
        if body.is_empty() {
            return Ok((Value::Null, meta));
        }
        match serde_json::from_slice(&body) {
            Ok(value) => Ok((value, meta)),
            Err(e) => Err(decode_error(op.id, meta, e.to_string(), &body)),
        }
    }
    .instrument(span.clone())
    .await;
    finish_span(
        &span,
        shared,
        started,
        outcome.as_ref().map(|(_, meta)| meta),
    );
    outcome
}

/// Turns the generated client's error into the SDK's.
async fn map_error(
    op: &Operation,
    state: &CallState,
    error: kallglot_api::Error<ErrorEnvelope>,
) -> Error {
    use kallglot_api::Error as E;
    let now = Utc::now();
    match error {
        E::ErrorResponse(value) => {
            let meta = ResponseMeta::from_headers(value.status().as_u16(), value.headers(), now);
            let detail = LooseDetail::from_typed(&value.into_inner());
            api_error(op.id, meta, detail, b"")
        }
        E::InvalidResponsePayload(body, e) => {
            // The generated client keeps no status for this case; the executor saw it.
            let meta = state.take_observed().unwrap_or_default();
            if (200..300).contains(&meta.status) {
                decode_error(op.id, meta, e.to_string(), &body)
            } else {
                api_error(op.id, meta, LooseDetail::from_body(&body), &body)
            }
        }
        E::UnexpectedResponse(response) => {
            let status = response.status().as_u16();
            let meta = ResponseMeta::from_headers(status, response.headers(), now);
            let body = response.bytes().await.unwrap_or_default();
            if (200..400).contains(&status) {
                decode_error(
                    op.id,
                    meta,
                    format!("unexpected HTTP status {status}"),
                    &body,
                )
            } else {
                api_error(op.id, meta, LooseDetail::from_body(&body), &body)
            }
        }
        E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
            transport_error(op.id, state.attempts(), &e)
        }
        E::InvalidRequest(message) => Error::Config(ConfigError::InvalidRequest(message)),
        E::Custom(message) => Error::Connection {
            operation: op.id,
            message,
        },
    }
}

fn transport_error(operation: &'static str, attempts: u32, error: &reqwest::Error) -> Error {
    if error.is_timeout() {
        return Error::Timeout {
            operation,
            attempts,
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
    Error::Connection { operation, message }
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

    fn from_typed(envelope: &ErrorEnvelope) -> Self {
        let e = &envelope.error;
        Self {
            kind: Some(e.type_.clone()),
            code: Some(e.code.clone()),
            message: Some(e.message.clone()),
            param: e.param.clone(),
            request_id: e.request_id.clone(),
            retry_after: e.retry_after.and_then(|s| seconds(&Value::from(s))),
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
