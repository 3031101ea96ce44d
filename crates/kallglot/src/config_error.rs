//! The error for configuration and input the SDK refuses before sending anything.
//!
//! It is separate from the client's `Error` because it exists without the `client`
//! feature too: ids and request parameters are checked with it in every build.

use crate::api_key::{ApiKeyError, Environment};

/// A configuration or input problem found before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No API key was given (and `KALLGLOT_API_KEY` was not set, for `from_env`).
    #[error("no API key: set KALLGLOT_API_KEY or pass one to the builder")]
    MissingApiKey,
    /// The API key is malformed.
    #[error("invalid API key: {0}")]
    InvalidApiKey(#[from] ApiKeyError),
    /// The key belongs to another environment than the one the client must use.
    #[error("the API key is a {actual} key, but this client expects a {expected} key")]
    WrongEnvironment {
        /// The environment required with `expect_environment`.
        expected: Environment,
        /// The key's environment.
        actual: Environment,
    },
    /// The base URL cannot be parsed or is not usable.
    ///
    /// The value is never echoed whole: it may carry credentials, or be an API key given
    /// in the wrong variable.
    #[error("invalid base URL {}: {reason}", url.as_deref().unwrap_or("(not shown)"))]
    InvalidBaseUrl {
        /// The URL's scheme, host and port, when it has them; `None` when not even those
        /// could be read, so that nothing of the value is shown.
        url: Option<String>,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An id cannot be one segment of a request path: it is empty, `.` or `..`, or contains
    /// `/`, `\` or a control character. Ids are not secrets, so the value is shown (escaped).
    #[error("invalid {kind} {id:?}: {reason}")]
    InvalidId {
        /// Which id, such as `session id`.
        kind: &'static str,
        /// The id given.
        id: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An idempotency key is empty, longer than 255 characters or not printable ASCII.
    #[error("invalid idempotency key: {0}")]
    InvalidIdempotencyKey(&'static str),
    /// A path given to the raw request API is not a path on the API host.
    #[error("invalid request path {path:?}: {reason}")]
    InvalidPath {
        /// The path given.
        path: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The HTTP client could not be built (for example, no TLS roots).
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
    /// A builder option that configures the SDK's own HTTP client was combined with
    /// `ClientBuilder::http_client`; set it on your client instead.
    #[error(
        "`{0}` configures the SDK's own HTTP client and cannot be combined with `http_client`: set it on your reqwest::Client"
    )]
    ConflictsWithHttpClient(&'static str),
    /// A PEM bundle given as a root certificate holds no valid certificate.
    #[error("the root certificate bundle holds no valid PEM certificate")]
    InvalidRootCertificate,
    /// The proxy URL given to the builder is not usable.
    #[error("invalid proxy: {0}")]
    InvalidProxy(&'static str),
    /// A host given to `allow_stream_host` is not a host name or IP address.
    #[error("invalid stream host {0:?}: give a host name or IP address, without scheme or path")]
    InvalidStreamHost(String),
    /// A request could not be built from the given values.
    #[error("the request could not be built: {0}")]
    InvalidRequest(String),
    /// A timeout of zero was given; it would make every request fail.
    #[error("{0} must be greater than zero")]
    ZeroTimeout(&'static str),
}
