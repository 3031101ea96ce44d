//! [`Client`]: the entry point, and the raw request escape hatch.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;

use crate::api_key::Environment;
use crate::call::{IdempotencyKey, PendingOptions};
use crate::config::ClientBuilder;
use crate::error::{ConfigError, Error, Result};
use crate::resources::{Analyses, Recordings, Sessions};
use crate::response::Response;
use crate::transport::{self, Operation, Shared};

/// A Kallglot API client.
///
/// Cheap to clone (an `Arc` inside): clones share one connection pool, one retry budget
/// and one configuration. It is `Send + Sync`.
///
/// ```no_run
/// # async fn demo() -> kallglot::Result<()> {
/// use kallglot::model::{CreateSessionParams, Mode};
/// let client = kallglot::Client::from_env()?;
/// let session = client
///     .sessions()
///     .create(CreateSessionParams::new(Mode::BidirectionalTranslation))
///     .await?;
/// println!("{} (request {:?})", session.id, session.request_id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) shared: Arc<Shared>,
}

impl Client {
    /// A [`ClientBuilder`] with the defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from `KALLGLOT_API_KEY` and, optionally, `KALLGLOT_BASE_URL`.
    pub fn from_env() -> Result<Self> {
        ClientBuilder::from_env().build()
    }

    /// A client with this API key and every other setting at its default.
    pub fn new(api_key: impl Into<String>) -> Result<Self> {
        ClientBuilder::new().api_key(api_key).build()
    }

    pub(crate) fn from_shared(shared: Shared) -> Self {
        Self {
            shared: Arc::new(shared),
        }
    }

    /// The environment of the configured key (from its prefix).
    pub fn environment(&self) -> Environment {
        self.shared.credentials.environment()
    }

    /// The base URL requests go to, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Sessions: create, retrieve, end, transcript, recordings.
    pub fn sessions(&self) -> Sessions<'_> {
        Sessions::new(self)
    }

    /// Recordings: retrieve and download.
    pub fn recordings(&self) -> Recordings<'_> {
        Recordings::new(self)
    }

    /// Analyses: create, retrieve, and wait for completion.
    pub fn analyses(&self) -> Analyses<'_> {
        Analyses::new(self)
    }

    /// A request to a route this SDK does not model yet (for example the experimental
    /// agents and dial routes), through the same auth, retry, metadata and error handling
    /// as the typed calls.
    ///
    /// `path` is relative to the API host and starts with `/v1/`. A `POST` to a route the
    /// reference lists as honouring `Idempotency-Key` gets a generated key, reused on
    /// retries; other writes are not retried once they may have reached the server.
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
    /// use kallglot::Method;
    /// let agents = client.request(Method::Get, "/v1/agents").await?;
    /// println!("{}", *agents);
    /// # Ok(()) }
    /// ```
    pub fn request(&self, method: Method, path: &str) -> RawRequest {
        RawRequest {
            shared: self.shared.clone(),
            method,
            path: validate_path(path),
            body: None,
            options: PendingOptions::default(),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.shared.base_url)
            .field("api_key", &self.shared.credentials)
            .field("auth_style", &self.shared.credentials.style())
            .field("retry_policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

/// HTTP methods for [`Client::request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }
}

/// The catalogue's operation that a raw request addresses, or an anonymous one for a route
/// the spec does not know. A known route lends the request its operation id, path
/// template (for spans), scope (for 403s) and whether it honours `Idempotency-Key`.
fn raw_operation(method: Method, path: &str) -> Operation {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_suffix('/').unwrap_or(path);
    Operation::find(method.as_str(), path)
        .copied()
        .unwrap_or(Operation {
            id: "raw_request",
            method: method.as_str(),
            path: "(raw)",
            scope: None,
            scope_inferred: false,
            idempotent: false,
            credits: None,
            binary_response: false,
            described: false,
        })
}

fn validate_path(path: &str) -> Result<String, ConfigError> {
    let invalid = |reason| ConfigError::InvalidPath {
        path: path.to_string(),
        reason,
    };
    if !path.starts_with('/') || path.starts_with("//") {
        return Err(invalid(
            "it must be a path on the API host, starting with a single '/'",
        ));
    }
    if path.contains("://") || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "it must not contain a URL, spaces or control characters",
        ));
    }
    Ok(path.to_string())
}

/// A raw request built by [`Client::request`]; await it to send.
#[must_use = "a RawRequest does nothing until it is awaited"]
pub struct RawRequest {
    shared: Arc<Shared>,
    method: Method,
    path: Result<String, ConfigError>,
    body: Option<Value>,
    options: PendingOptions,
}

impl RawRequest {
    /// Sends this JSON value as the body.
    pub fn json(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Sends this idempotency key (instead of a generated one on keyed routes).
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key(key);
        self
    }

    /// Overrides the client's maximum number of retries.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.options.max_retries(retries);
        self
    }

    /// Overrides the client's total timeout for each attempt.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.options.timeout(timeout);
        self
    }

    /// Overrides the client's overall deadline (attempts, backoff and pacing together).
    pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
        self.options.deadline(deadline);
        self
    }

    async fn send(self) -> Result<Response<Value>> {
        let options = self.options.finish()?;
        let path = self.path?;
        let op = raw_operation(self.method, &path);
        let keyed_route = op.idempotent;
        let url = format!("{}{path}", self.shared.base_url);
        let method = reqwest::Method::from_bytes(self.method.as_str().as_bytes())
            .expect("standard method names are valid");
        let mut builder = self.shared.http.request(method, url);
        if let Some(body) = &self.body {
            builder = builder.json(body);
        }
        let key = match (&options.idempotency_key, keyed_route) {
            (Some(key), _) => Some(key.clone()),
            (None, true) => Some(IdempotencyKey::generate()),
            (None, false) => None,
        };
        if let Some(key) = &key {
            builder = builder.header("Idempotency-Key", key.as_str());
        }
        let request = builder
            .build()
            .map_err(|e| ConfigError::InvalidRequest(e.to_string()))?;
        let (value, meta) =
            transport::call_raw(&self.shared, op, options, request, key.clone()).await?;
        Ok(Response::new(value, meta).with_idempotency_key(key))
    }
}

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl IntoFuture for RawRequest {
    type Output = Result<Response<Value>, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_requests_take_their_facts_from_the_catalogue() {
        let keyed = |method, path| raw_operation(method, path).idempotent;
        assert!(keyed(Method::Post, "/v1/sessions"));
        assert!(keyed(Method::Post, "/v1/sessions/sess_1/end"));
        assert!(keyed(Method::Post, "/v1/sessions/sess_1/dial"));
        assert!(keyed(Method::Post, "/v1/sessions/sess_1/analysis?x=1"));
        assert!(keyed(Method::Post, "/v1/agents/"));
        assert!(!keyed(Method::Get, "/v1/agents"));
        assert!(!keyed(Method::Post, "/v1/sessions/sess_1/hangup"));
        assert!(!keyed(Method::Post, "/v1/agents/agt_1"));
        assert!(!keyed(Method::Post, "/v1/sessions//end"));
        let dial = raw_operation(Method::Post, "/v1/sessions/sess_1/dial");
        assert_eq!(
            (dial.id, dial.path, dial.scope),
            (
                "dial_session",
                "/v1/sessions/{id}/dial",
                Some("sessions:write")
            )
        );
        let unknown = raw_operation(Method::Put, "/v1/other");
        assert_eq!((unknown.id, unknown.method), ("raw_request", "PUT"));
    }

    #[test]
    fn raw_paths_stay_on_the_api_host() {
        assert!(validate_path("/v1/agents").is_ok());
        for bad in [
            "v1/agents",
            "//evil.example/v1",
            "/redirect?to=https://evil.example",
            "/v1/a b",
        ] {
            assert!(validate_path(bad).is_err(), "{bad}");
        }
    }
}
