//! [`Client`]: the entry point, and the raw request escape hatch.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde_json::Value;

use crate::api_key::Environment;
use crate::call::{Call, IdempotencyKey, PendingOptions, RequestOptions};
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
            parts: Some(RawParts {
                shared: self.shared.clone(),
                method,
                path: validate_path(path),
                body: None,
            }),
            options: PendingOptions::default(),
            call: None,
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
        .unwrap_or(Operation::unlisted("raw_request", method.as_str(), "(raw)"))
}

/// Checks a raw path and puts it in the one form that is both matched against the
/// catalogue and sent, so that the route the SDK believes it calls (and whose
/// idempotency it applies) is the route the server sees.
///
/// Percent-encoded unreserved characters (`%2E`, `%73`) are decoded, as RFC 3986 says they
/// are equivalent; other escapes keep their byte and get upper-case hex. Dot segments
/// (`.`, `..`, in any encoding) and empty segments (`//`) are refused rather than
/// resolved: a URL parser would send `/v1/sessions/../end` to `/v1/end`, and in a path
/// built from ids they mean an id was empty or hostile, which resolving would hide. So is
/// `\`, which URL parsers read as `/`. A trailing `/` is kept. The query and fragment are
/// left as given.
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
    if path.contains('\\') {
        // URL parsers read `\` as `/` in http(s) URLs, so it would hide segments from
        // the checks below; `%5C` is the way to send the character itself.
        return Err(invalid("it must not contain '\\' (send it as %5C)"));
    }
    let split = path.find(['?', '#']).unwrap_or(path.len());
    let (route, rest) = path.split_at(split);
    let route = decode_unreserved(route)
        .ok_or_else(|| invalid("a '%' must start a percent-encoded byte such as %2F"))?;
    let segments: Vec<&str> = route[1..].split('/').collect();
    for (index, segment) in segments.iter().enumerate() {
        if *segment == "." || *segment == ".." {
            return Err(invalid(
                "it must not contain '.' or '..' segments (also percent-encoded)",
            ));
        }
        if segment.is_empty() && index + 1 < segments.len() {
            return Err(invalid("it must not contain empty segments ('//')"));
        }
    }
    Ok(format!("{route}{rest}"))
}

/// Decodes `%XX` escapes of unreserved characters and upper-cases the hex of the others;
/// `None` for a `%` not followed by two hex digits.
fn decode_unreserved(route: &str) -> Option<String> {
    let bytes = route.as_bytes();
    let mut out = String::with_capacity(route.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            let c = route[i..].chars().next()?;
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        let hex = route.get(i + 1..i + 3)?;
        let byte = u8::from_str_radix(hex, 16).ok()?;
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push_str(&hex.to_ascii_uppercase());
        }
        i += 3;
    }
    Some(out)
}

/// A raw request built by [`Client::request`]; await it to send.
///
/// Like a [`Call`], it is itself a [`Future`] (and `Unpin`), so `join_all`,
/// `tokio::select!` and `tracing::Instrument` take it directly. Nothing is sent until it
/// is first polled; set the body and options before that.
#[must_use = "a RawRequest does nothing until it is awaited"]
pub struct RawRequest {
    /// What to send; moved into [`call`](Self::call) on the first poll.
    parts: Option<RawParts>,
    options: PendingOptions,
    /// The running request, from the first poll on.
    call: Option<Call<Value>>,
}

/// The request a [`RawRequest`] describes.
struct RawParts {
    shared: Arc<Shared>,
    method: Method,
    path: Result<String, ConfigError>,
    body: Option<Value>,
}

impl RawRequest {
    /// Sends this JSON value as the body.
    pub fn json(mut self, body: Value) -> Self {
        if let Some(parts) = &mut self.parts {
            parts.body = Some(body);
        }
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
}

impl RawParts {
    async fn send(self, options: RequestOptions) -> Result<Response<Value>> {
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
        Ok(Response::from_parts(value, meta, key))
    }
}

impl fmt::Debug for RawRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("RawRequest");
        if let Some(parts) = &self.parts {
            debug
                .field("method", &parts.method)
                .field("path", &parts.path);
        }
        debug.finish_non_exhaustive()
    }
}

impl Future for RawRequest {
    type Output = Result<Response<Value>, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        // The first poll hands the request to a `Call`, which checks the options, runs it
        // and refuses a poll after completion.
        if let Some(parts) = this.parts.take() {
            let options = std::mem::take(&mut this.options);
            this.call = Some(Call::with_options(options, move |options| {
                parts.send(options)
            }));
        }
        let call = this
            .call
            .as_mut()
            .expect("the call starts on the first poll");
        Pin::new(call).poll(cx)
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

    #[test]
    fn raw_paths_are_normalised_before_they_are_matched() {
        for (given, normal) in [
            ("/v1/%73essions/sess_1/%65nd", "/v1/sessions/sess_1/end"),
            (
                "/v1/sessions/a%2fb/end?x=%2e",
                "/v1/sessions/a%2Fb/end?x=%2e",
            ),
            ("/v1/sessions/a%2Eb", "/v1/sessions/a.b"),
            ("/v1/agents/", "/v1/agents/"),
            (
                "/v1/sessions/sess_1?next=/../x",
                "/v1/sessions/sess_1?next=/../x",
            ),
        ] {
            assert_eq!(validate_path(given).as_deref(), Ok(normal), "{given}");
        }
        assert!(raw_operation(Method::Post, &validate_path("/v1/%73essions").unwrap()).idempotent);
        for hostile in [
            "/v1/sessions/../end",
            "/v1/sessions/./end",
            "/v1/sessions/sess_1/..",
            "/v1/sessions/%2e%2E/end",
            "/v1/sessions/.%2E/end",
            "/v1/sessions/%2E/end",
            "/v1/sessions//end",
            "/v1//sessions",
            "/v1/sessions/%zz/end",
            "/v1/sessions/%2",
            "/v1/sessions\\..\\end",
            "/v1/sessions/sess_1\\",
        ] {
            let err = validate_path(hostile).expect_err(hostile);
            assert!(
                matches!(err, ConfigError::InvalidPath { .. }),
                "{hostile}: {err:?}"
            );
        }
    }
}
