//! The SDK's one error type.
//!
//! Branch on [`Error::code`] (with [`Error::status`]) for API errors, or use the predicates
//! ([`Error::is_retryable`], [`Error::is_auth`], …). The API's `type` field varies across
//! Kallglot's documentation for the same situation, so it is kept but not relied on.

use std::fmt;
use std::time::Duration;

use crate::call::IdempotencyKey;
pub use crate::config_error::ConfigError;
pub use crate::deadline::WaitedFor;
use crate::error_code::{ErrorCode, ErrorType, Scope};
use crate::metadata::ResponseMeta;

/// `Result` with the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How much of an unexpected response body errors keep, in bytes.
pub(crate) const BODY_SNIPPET_LIMIT: usize = 512;

/// Everything that can go wrong when using the SDK.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status (4xx or 5xx).
    #[error(transparent)]
    Api(Box<ApiError>),
    /// No response arrived within the configured timeout, on every attempt made.
    #[error("{operation}: no response within the timeout (after {attempts} attempt(s))")]
    #[non_exhaustive]
    Timeout {
        /// The operation, such as `retrieve_session`.
        operation: &'static str,
        /// How many attempts were made.
        attempts: u32,
        /// The `Idempotency-Key` every attempt sent: retry with it to stay exactly-once.
        idempotency_key: Option<IdempotencyKey>,
    },
    /// The connection could not be made, or broke before the response was complete.
    #[error("{operation}: connection failed: {message}")]
    #[non_exhaustive]
    Connection {
        /// The operation, such as `retrieve_session`.
        operation: &'static str,
        /// What failed, in words.
        message: String,
        /// The `Idempotency-Key` every attempt sent: retry with it to stay exactly-once.
        idempotency_key: Option<IdempotencyKey>,
    },
    /// The call's overall deadline passed (or would have passed during the next wait)
    /// before it finished. See [`ClientBuilder::deadline`](crate::ClientBuilder::deadline).
    #[error(
        "{operation}: the call's deadline of {deadline:?} passed while it was waiting for {waited_for} (after {attempts} attempt(s))"
    )]
    #[non_exhaustive]
    DeadlineExceeded {
        /// The operation, such as `create_session`.
        operation: &'static str,
        /// What the call was waiting for when its deadline came.
        waited_for: WaitedFor,
        /// The deadline the call had.
        deadline: Duration,
        /// Attempts sent before it gave up.
        attempts: u32,
        /// The `Idempotency-Key` every attempt sent: retry with it to stay exactly-once.
        idempotency_key: Option<IdempotencyKey>,
        /// The failure of the last attempt, when the deadline came while waiting to retry.
        last_error: Option<Box<Error>>,
    },
    /// A response body was larger than the client accepts
    /// ([`ClientBuilder::max_response_body`](crate::ClientBuilder::max_response_body));
    /// reading stopped at the limit.
    #[error("{operation}: the response body is larger than the {limit}-byte limit")]
    #[non_exhaustive]
    ResponseTooLarge {
        /// The operation, such as `retrieve_session_transcript`.
        operation: &'static str,
        /// The limit in bytes.
        limit: usize,
        /// The `Idempotency-Key` the request sent.
        idempotency_key: Option<IdempotencyKey>,
    },
    /// A success response whose body is not what the API documents.
    #[error(transparent)]
    Decode(Box<DecodeError>),
    /// The client or a request was configured wrongly; nothing was sent.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// Reading or writing a local file or writer failed (recording downloads).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The real-time stream failed.
    #[cfg(feature = "stream")]
    #[error(transparent)]
    Stream(crate::stream::StreamError),
    /// A wait helper ([`Analyses::wait`](crate::Analyses::wait),
    /// [`Sessions::wait_for_transcript`](crate::Sessions::wait_for_transcript),
    /// [`Sessions::wait_for_recordings`](crate::Sessions::wait_for_recordings)) reached its
    /// deadline before what it waited for was done.
    #[error("{waited_for} {id} was still {last_status} when the wait deadline passed")]
    WaitTimeout {
        /// What was waited for: `analysis`, `transcript of session` or
        /// `recording list of session`.
        waited_for: &'static str,
        /// The id of the analysis, or of the session.
        id: String,
        /// Its status at the last poll.
        last_status: String,
    },
}

impl Error {
    /// The API error, when this is one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// let error = client.sessions().retrieve("sess_does_not_exist").await.unwrap_err();
    /// let api = error.as_api().expect("the server answered");
    /// assert_eq!(api.status, 404);
    /// println!("{}: {}", api.operation, api.message);
    /// # Ok(()) }
    /// ```
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Self::Api(e) => Some(e),
            _ => None,
        }
    }

    /// The error code, for API errors that carried one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// use kallglot::ErrorCode;
    /// use kallglot::model::{CreateSessionParams, Mode};
    ///
    /// # server.set_credits(0);
    /// let params = CreateSessionParams::new(Mode::BidirectionalTranslation);
    /// match client.sessions().create(params).await {
    ///     Ok(session) => println!("created {}", session.id),
    ///     Err(e) if e.code() == Some(&ErrorCode::InsufficientApiCredits) => {
    ///         println!("out of credits: top up before the next call");
    ///     }
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Ok(()) }
    /// ```
    pub fn code(&self) -> Option<&ErrorCode> {
        self.as_api().and_then(|e| e.code.as_ref())
    }

    /// The HTTP status, when a response arrived (a refused stream upgrade included).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// let error = client.sessions().retrieve("sess_does_not_exist").await.unwrap_err();
    /// assert_eq!(error.status(), Some(404));
    /// # Ok(()) }
    /// ```
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api(e) => Some(e.status),
            Self::Decode(e) => Some(e.meta.status),
            #[cfg(feature = "stream")]
            Self::Stream(crate::stream::StreamError::HandshakeRejected { status, .. }) => {
                Some(*status)
            }
            _ => None,
        }
    }

    /// The request id to quote to support, when a response arrived (a refused stream
    /// upgrade included).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// let error = client.sessions().retrieve("sess_does_not_exist").await.unwrap_err();
    /// if let Some(id) = error.request_id() {
    ///     eprintln!("quote request {id} to support");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api(e) => e.request_id.as_deref(),
            Self::Decode(e) => e.meta.request_id.as_deref(),
            #[cfg(feature = "stream")]
            Self::Stream(crate::stream::StreamError::HandshakeRejected { detail, .. }) => {
                detail.request_id.as_deref()
            }
            _ => None,
        }
    }

    /// The `Idempotency-Key` the failed call sent (on every attempt), for writes to routes
    /// that honour one. Retrying with it (`.idempotency_key(key.as_str())`) cannot apply
    /// the write twice.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// # server.faults().inject_any(kallglot_mock::Fault::status(503, "service_unavailable").times(1));
    /// use kallglot::model::{CreateSessionParams, Mode};
    ///
    /// let params = CreateSessionParams::new(Mode::BidirectionalTranslation);
    /// let error = client.sessions().create(params.clone()).await.unwrap_err();
    /// let key = error.idempotency_key().expect("create sends one").clone();
    /// // Later: the same write, with the same key, is applied at most once.
    /// let session = client.sessions().create(params).idempotency_key(key.as_str()).await?;
    /// # let _ = session;
    /// # Ok(()) }
    /// ```
    pub fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        match self {
            Self::Api(e) => e.idempotency_key.as_ref(),
            Self::Decode(e) => e.idempotency_key.as_ref(),
            Self::Timeout {
                idempotency_key, ..
            }
            | Self::Connection {
                idempotency_key, ..
            }
            | Self::DeadlineExceeded {
                idempotency_key, ..
            }
            | Self::ResponseTooLarge {
                idempotency_key, ..
            } => idempotency_key.as_ref(),
            _ => None,
        }
    }

    /// Attaches the idempotency key the call sent.
    pub(crate) fn with_idempotency_key(mut self, key: Option<&IdempotencyKey>) -> Self {
        let Some(key) = key else { return self };
        match &mut self {
            Self::Api(e) => e.idempotency_key = Some(key.clone()),
            Self::Decode(e) => e.idempotency_key = Some(key.clone()),
            Self::Timeout {
                idempotency_key, ..
            }
            | Self::Connection {
                idempotency_key, ..
            }
            | Self::DeadlineExceeded {
                idempotency_key, ..
            }
            | Self::ResponseTooLarge {
                idempotency_key, ..
            } => *idempotency_key = Some(key.clone()),
            _ => {}
        }
        self
    }

    /// The response metadata (rate limit, credits, request id), when a response arrived.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// let error = client.sessions().retrieve("sess_does_not_exist").await.unwrap_err();
    /// let meta = error.meta().expect("a response arrived");
    /// println!("{:?} requests left in this window", meta.rate_limit_remaining());
    /// # Ok(()) }
    /// ```
    pub fn meta(&self) -> Option<&ResponseMeta> {
        match self {
            Self::Api(e) => Some(&e.meta),
            Self::Decode(e) => Some(&e.meta),
            _ => None,
        }
    }

    /// Whether trying the same call again later may succeed: timeouts, connection
    /// failures, 429, 409 `idempotency_conflict` (or any 409 with `Retry-After`) and
    /// 500/502/503/504.
    ///
    /// The answer is the retry classifier's ([`crate::retry::decide`]), the same rules the
    /// client applied before giving up, so the two can never disagree. The client already
    /// retried such errors as far as its policy allowed; this tells callers whether a
    /// later attempt of their own is worthwhile.
    ///
    /// ```
    /// use kallglot::{ErrorCode, Error};
    /// # fn check(error: &Error) {
    /// if error.is_retryable() {
    ///     // back off and call again, with the same idempotency key for a write
    /// } else if error.code() == Some(&ErrorCode::InsufficientApiCredits) {
    ///     // top up: retrying will not help
    /// }
    /// # }
    /// ```
    pub fn is_retryable(&self) -> bool {
        use crate::retry::{Failure, is_transient};
        match self {
            Self::Timeout { .. } => is_transient(&Failure::Timeout),
            Self::Connection { .. } => is_transient(&Failure::Connect),
            // A later call has a fresh deadline.
            Self::DeadlineExceeded { .. } => true,
            Self::Api(e) => is_transient(&Failure::Status {
                status: e.status,
                code: e.code.as_ref().map(ErrorCode::as_str),
                retry_after: e.retry_after,
                rate_limit_reset_in: None,
            }),
            _ => false,
        }
    }

    /// Whether the API key was rejected (401): invalid, expired, revoked or used in the
    /// wrong environment.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// # server.faults().inject_any(kallglot_mock::Fault::status(401, "api_key_revoked").times(1));
    /// let error = client.sessions().retrieve("sess_1").await.unwrap_err();
    /// assert!(error.is_auth()); // rotate the key; retrying with this one will not help
    /// # Ok(()) }
    /// ```
    pub fn is_auth(&self) -> bool {
        self.as_api()
            .is_some_and(|e| e.status == 401 || e.code.as_ref().is_some_and(ErrorCode::is_auth))
    }

    /// Whether the request was refused for being over the rate limit (429).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// # server.faults().inject_any(kallglot_mock::Fault::status(429, "rate_limit_exceeded").times(1));
    /// let error = client.sessions().retrieve("sess_1").await.unwrap_err();
    /// assert!(error.is_rate_limited());
    /// let wait = error.as_api().and_then(|api| api.retry_after);
    /// # let _ = wait;
    /// # Ok(()) }
    /// ```
    pub fn is_rate_limited(&self) -> bool {
        self.as_api().is_some_and(|e| {
            e.status == 429 || e.code.as_ref().is_some_and(ErrorCode::is_rate_limited)
        })
    }

    /// Whether the organization has run out of credits (402): top up, do not retry.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// use kallglot::model::{CreateSessionParams, Mode};
    ///
    /// # server.set_credits(0);
    /// let params = CreateSessionParams::new(Mode::BidirectionalTranslation);
    /// let error = client.sessions().create(params).await.unwrap_err();
    /// assert!(error.is_out_of_credits() && !error.is_retryable());
    /// # Ok(()) }
    /// ```
    pub fn is_out_of_credits(&self) -> bool {
        self.as_api().is_some_and(|e| {
            e.status == 402 || e.code.as_ref().is_some_and(ErrorCode::is_out_of_credits)
        })
    }

    /// Whether the key lacks a permission scope or the organization is inactive (403).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// # server.faults().inject_any(kallglot_mock::Fault::status(403, "insufficient_permissions").times(1));
    /// let error = client.sessions().retrieve("sess_1").await.unwrap_err();
    /// assert!(error.is_permission());
    /// if let Some(scope) = error.as_api().and_then(|api| api.required_scope) {
    ///     eprintln!("the key needs the {scope} scope");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn is_permission(&self) -> bool {
        self.as_api().is_some_and(|e| {
            e.status == 403 || e.code.as_ref().is_some_and(ErrorCode::is_permission)
        })
    }

    /// Whether the resource does not exist (404).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let server = kallglot_mock::MockServer::start().await?;
    /// # let client = kallglot::Client::builder()
    /// #     .api_key(server.api_key())
    /// #     .base_url(server.url())
    /// #     .max_retries(0)
    /// #     .build()?;
    /// let error = client.sessions().retrieve("sess_does_not_exist").await.unwrap_err();
    /// assert!(error.is_not_found());
    /// # Ok(()) }
    /// ```
    pub fn is_not_found(&self) -> bool {
        self.as_api().is_some_and(|e| e.status == 404)
    }
}

/// An error answer from the API.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// The operation that failed, such as `create_session`.
    pub operation: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The error code. `None` when the body was not the API's error envelope (for example
    /// an HTML page from a proxy).
    pub code: Option<ErrorCode>,
    /// The code exactly as the server sent it (a legacy alias stays visible here).
    pub raw_code: Option<String>,
    /// The error category (`error.type`). It varies across the docs; prefer `code`.
    pub kind: Option<ErrorType>,
    /// The server's human-readable message, or a description of the unexpected body.
    pub message: String,
    /// The request field the error concerns, such as `mode`.
    pub param: Option<String>,
    /// The request id: the body's `request_id`, else the `X-Request-ID` header.
    pub request_id: Option<String>,
    /// How long the server asked to wait: the `Retry-After` header, else the body's
    /// `retry_after`.
    pub retry_after: Option<Duration>,
    /// For 403 `insufficient_permissions`: the scope this operation needs, from the
    /// reference's scope table (partly inferred there).
    pub required_scope: Option<Scope>,
    /// The start of the body, when it was not the error envelope.
    pub body_snippet: Option<String>,
    /// Rate-limit, credit and request-id metadata of the response.
    pub meta: ResponseMeta,
    /// The `Idempotency-Key` the request sent, if any.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: HTTP {}", self.operation, self.status)?;
        if let Some(code) = &self.raw_code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(param) = &self.param {
            write!(f, " (param: {param})")?;
        }
        if let Some(scope) = self.required_scope {
            write!(f, " (this operation needs the {scope} scope)")?;
        }
        if let Some(snippet) = &self.body_snippet {
            write!(f, "; body starts: {snippet:?}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A success response whose body could not be read as the documented shape.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DecodeError {
    /// The operation, such as `retrieve_session`.
    pub operation: &'static str,
    /// What did not match.
    pub message: String,
    /// The start of the body, for diagnosis.
    pub body_snippet: String,
    /// Metadata of the response.
    pub meta: ResponseMeta,
    /// The `Idempotency-Key` the request sent, if any.
    pub idempotency_key: Option<IdempotencyKey>,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: HTTP {} response is not the documented shape: {}; body starts: {:?}",
            self.operation, self.meta.status, self.message, self.body_snippet
        )?;
        if let Some(id) = &self.meta.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// The first bytes of a body, as lossy UTF-8, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let cut = body.len().min(BODY_SNIPPET_LIMIT);
    let mut text = String::from_utf8_lossy(&body[..cut]).into_owned();
    if body.len() > cut {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn api(status: u16, code: Option<&str>) -> Error {
        Error::Api(Box::new(ApiError {
            operation: "retrieve_session",
            status,
            code: code.map(ErrorCode::parse),
            raw_code: code.map(str::to_string),
            kind: None,
            message: "m".into(),
            param: None,
            request_id: Some("req_1".into()),
            retry_after: None,
            required_scope: None,
            body_snippet: None,
            meta: ResponseMeta::default(),
            idempotency_key: None,
        }))
    }

    /// status, code, retryable, auth, rate limited, out of credits
    type Row = (u16, Option<&'static str>, bool, bool, bool, bool);

    #[test]
    fn predicates_follow_status_and_code() {
        let table: &[Row] = &[
            // status, code, retryable, auth, rate limited, out of credits
            (401, Some("api_key_revoked"), false, true, false, false),
            (401, Some("invalid_api_key"), false, true, false, false),
            (
                402,
                Some("insufficient_api_credits"),
                false,
                false,
                false,
                true,
            ),
            (
                403,
                Some("insufficient_permissions"),
                false,
                false,
                false,
                false,
            ),
            (409, Some("idempotency_conflict"), true, false, false, false),
            (409, Some("something_else"), false, false, false, false),
            (429, Some("rate_limit_exceeded"), true, false, true, false),
            (500, None, true, false, false, false),
            (502, None, true, false, false, false),
            (503, None, true, false, false, false),
            (400, Some("invalid_request"), false, false, false, false),
            (404, None, false, false, false, false),
            (422, Some("invalid_request"), false, false, false, false),
        ];
        for &(status, code, retryable, auth, limited, credits) in table {
            let e = api(status, code);
            assert_eq!(e.is_retryable(), retryable, "{status} {code:?} retryable");
            assert_eq!(e.is_auth(), auth, "{status} {code:?} auth");
            assert_eq!(
                e.is_rate_limited(),
                limited,
                "{status} {code:?} rate limited"
            );
            assert_eq!(e.is_out_of_credits(), credits, "{status} {code:?} credits");
        }
        assert!(api(403, Some("organization_inactive")).is_permission());
        assert!(api(404, None).is_not_found());
    }

    #[test]
    fn retryable_agrees_with_the_retry_classifier() {
        use crate::retry::{Attempt, Decision, Failure, RetryPolicy, decide};
        // A 409 with Retry-After is retried by the client whatever its code, so a caller
        // asking afterwards must hear the same.
        let mut conflict = api(409, Some("something_else"));
        if let Error::Api(inner) = &mut conflict {
            inner.retry_after = Some(Duration::from_secs(2));
        }
        assert!(conflict.is_retryable());
        for status in [
            400, 401, 402, 403, 404, 409, 422, 429, 500, 501, 502, 503, 504, 505,
        ] {
            for code in [
                None,
                Some("idempotency_conflict"),
                Some("rate_limit_exceeded"),
            ] {
                let failure = Failure::Status {
                    status,
                    code,
                    retry_after: None,
                    rate_limit_reset_in: None,
                };
                let attempt = Attempt {
                    attempts_made: 1,
                    idempotent: true,
                    failure,
                };
                let retried = matches!(
                    decide(&RetryPolicy::default(), &attempt, 0.0),
                    Decision::Retry(_)
                );
                assert_eq!(
                    api(status, code).is_retryable(),
                    retried,
                    "{status} {code:?}"
                );
            }
        }
    }

    #[test]
    fn display_names_operation_status_code_and_request_id() {
        let mut e = api(403, Some("insufficient_permissions"));
        if let Error::Api(inner) = &mut e {
            inner.required_scope = Some(Scope::SessionsRead);
        }
        assert_eq!(
            e.to_string(),
            "retrieve_session: HTTP 403 insufficient_permissions: m (this operation needs the sessions:read scope) [request id req_1]"
        );
        assert_eq!(e.request_id(), Some("req_1"));
        assert_eq!(e.status(), Some(403));
    }

    #[test]
    fn snippets_are_truncated() {
        let body = "x".repeat(2000);
        let s = snippet(body.as_bytes());
        assert_eq!(s.chars().count(), BODY_SNIPPET_LIMIT + 1);
        assert!(s.ends_with('…'));
        assert_eq!(snippet(b"<html>"), "<html>");
    }
}
