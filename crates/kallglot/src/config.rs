//! [`ClientBuilder`]: API key, base URL, auth header style, timeouts, retries, user agent.

use std::sync::Arc;
use std::time::Duration;

use crate::api_key::{ApiKey, ApiKeyError, AuthStyle, Environment};
use crate::client::Client;
use crate::clock::{Clock, TokioClock};
use crate::credentials::{ApiKeySource, Credentials, check_environment};
use crate::credits::CreditsWatches;
use crate::error::{ConfigError, Result};
use crate::net::{Http, HttpSettings};
use crate::pacer::Pacer;
use crate::retry::{RetryBudget, RetryPolicy};
use crate::transport::Shared;

/// What [`ClientBuilder::network`] builds.
struct Network {
    http: reqwest::Client,
    #[cfg(feature = "stream")]
    dialer: crate::stream::connect::Dialer,
}

/// The production API host.
pub const DEFAULT_BASE_URL: &str = "https://api.kallglot.com";
/// Default total timeout of one attempt.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Default timeout for establishing a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default overall deadline of one call: attempts, backoff and pacing waits together.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);
/// Default cap on a JSON response body (16 MiB); audio downloads are not capped.
pub const DEFAULT_MAX_RESPONSE_BODY: usize = 16 * 1024 * 1024;
/// Environment variable read by [`Client::from_env`] for the API key.
pub const ENV_API_KEY: &str = "KALLGLOT_API_KEY";
/// Environment variable read by [`Client::from_env`] for the base URL (optional).
pub const ENV_BASE_URL: &str = "KALLGLOT_BASE_URL";

/// Builds a [`Client`].
///
/// ```
/// use std::time::Duration;
/// let client = kallglot::Client::builder()
///     .api_key("sk_test_0123456789abcdef")
///     .timeout(Duration::from_secs(30))
///     .max_retries(3)
///     .app_info("my-call-center", Some("2.1.0"))
///     .build()?;
/// assert_eq!(client.environment(), kallglot::Environment::Test);
/// # Ok::<(), kallglot::Error>(())
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    api_key: Option<Result<ApiKey, ApiKeyError>>,
    base_url: Option<BaseUrlInput>,
    auth_style: AuthStyle,
    timeout: Duration,
    connect_timeout: Duration,
    retry_policy: RetryPolicy,
    retry_budget: Option<RetryBudget>,
    app_info: Option<String>,
    expected_environment: Option<Environment>,
    clock: Arc<dyn Clock>,
    extra_roots_pem: Vec<Vec<u8>>,
    proxy: Option<String>,
    /// Whether `connect_timeout` was called (it conflicts with a caller's own client).
    connect_timeout_set: bool,
    http_client: Option<UserHttpClient>,
    middleware: Vec<Arc<dyn crate::middleware::Middleware>>,
    #[cfg(feature = "stream")]
    stream_hosts: Vec<String>,
    traffic: Traffic,
}

/// The traffic settings: deadline, pacing, in-flight cap, body cap, key source.
#[derive(Debug, Clone)]
struct Traffic {
    deadline: Duration,
    pacing: bool,
    max_in_flight: Option<usize>,
    max_response_body: usize,
    key_source: Option<Arc<dyn ApiKeySource>>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientBuilder {
    /// A builder with the defaults: production host, Bearer auth, 60 s total and 10 s
    /// connect timeouts, 2 retries, and a retry budget of 10% of requests.
    pub fn new() -> Self {
        Self {
            api_key: None,
            base_url: None,
            auth_style: AuthStyle::default(),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            retry_policy: RetryPolicy::default(),
            retry_budget: None,
            app_info: None,
            expected_environment: None,
            clock: Arc::new(TokioClock),
            extra_roots_pem: Vec::new(),
            proxy: None,
            connect_timeout_set: false,
            http_client: None,
            middleware: Vec::new(),
            #[cfg(feature = "stream")]
            stream_hosts: Vec::new(),
            traffic: Traffic {
                deadline: DEFAULT_DEADLINE,
                pacing: true,
                max_in_flight: None,
                max_response_body: DEFAULT_MAX_RESPONSE_BODY,
                key_source: None,
            },
        }
    }

    /// A builder preset from `KALLGLOT_API_KEY` and, if set, `KALLGLOT_BASE_URL`.
    pub fn from_env() -> Self {
        let mut builder = Self::new();
        if let Ok(key) = std::env::var(ENV_API_KEY) {
            builder = builder.api_key(key);
        }
        if let Ok(url) = std::env::var(ENV_BASE_URL)
            && !url.trim().is_empty()
        {
            builder = builder.base_url(url);
        }
        builder
    }

    /// The API key (`sk_live_…` or `sk_test_…`). It is validated by [`build`](Self::build).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }

    /// An already validated [`ApiKey`].
    pub fn api_key_value(mut self, key: ApiKey) -> Self {
        self.api_key = Some(Ok(key));
        self
    }

    /// The API's base URL, `https://api.kallglot.com` by default. It must be `https`,
    /// except for loopback hosts (a local emulator, tests).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(BaseUrlInput(url.into()));
        self
    }

    /// Which header carries the key: `Authorization: Bearer` (default) or `X-API-Key`.
    pub fn auth_style(mut self, style: AuthStyle) -> Self {
        self.auth_style = style;
        self
    }

    /// Total timeout of each attempt, from sending to the end of the body (60 s by
    /// default). Must be non-zero: requests are never allowed to hang forever.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Timeout for establishing a connection (10 s by default). Must be non-zero.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.connect_timeout_set = true;
        self
    }

    /// Maximum retries after the first attempt (2 by default; 0 disables retries).
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retry_policy = self.retry_policy.with_max_retries(retries);
        self
    }

    /// The whole retry policy: retries, backoff and the longest `Retry-After` honoured.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry_policy = policy;
        self
    }

    /// The client-wide retry budget, which keeps an outage from multiplying traffic
    /// (by default retries stay within 10% of requests, plus a small floor).
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.retry_budget = Some(budget);
        self
    }

    /// Names your application in the `User-Agent` after `kallglot-rust/<version>`.
    pub fn app_info(mut self, name: &str, version: Option<&str>) -> Self {
        self.app_info = Some(match version {
            Some(v) => format!("{name}/{v}"),
            None => name.to_string(),
        });
        self
    }

    /// Refuses to build unless the key belongs to `environment`: a guard against using a
    /// live key in a test deployment, or the reverse, before any request is sent.
    pub fn expect_environment(mut self, environment: Environment) -> Self {
        self.expected_environment = Some(environment);
        self
    }

    /// The clock used for retry backoff, the retry budget, pacing, deadlines and analysis
    /// polling. Tests can
    /// pass a [`ManualClock`](crate::clock::ManualClock) to observe waits without waiting.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Trusts the root certificates in this PEM bundle, in addition to the platform's,
    /// for REST calls and the stream alike (a corporate TLS-inspecting proxy, a private
    /// deployment). It can be called several times. A bundle without a certificate fails
    /// [`build`](Self::build).
    pub fn add_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.extra_roots_pem.push(pem.as_ref().to_vec());
        self
    }

    /// Sends every connection, REST and stream, through this proxy (`http://`,
    /// `https://`; `user:password@` in the URL is used for proxy authentication).
    /// Without it the standard environment variables apply (`HTTPS_PROXY`,
    /// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`), to the stream as well.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = Some(url.into());
        self
    }

    /// Sends every request, REST calls and the stream's upgrade alike, through your own
    /// `reqwest::Client`: your proxy, TLS roots or client certificates, connection pool
    /// and HTTP/2 settings.
    ///
    /// The client is used as you built it. What the SDK would otherwise configure on its
    /// own client is then yours to set on it, and combining those builder options with
    /// this one fails [`build`](Self::build) with
    /// [`ConfigError::ConflictsWithHttpClient`]:
    /// [`proxy`](Self::proxy), [`add_root_certificate_pem`](Self::add_root_certificate_pem),
    /// [`connect_timeout`](Self::connect_timeout) and [`app_info`](Self::app_info) (the
    /// `User-Agent` is your client's). Everything else still applies, including
    /// [`timeout`](Self::timeout), which the SDK sets on each attempt.
    ///
    /// Two things to keep in mind when building it:
    /// - the stream's WebSocket upgrade is an HTTP/1.1 request, so the client must allow
    ///   HTTP/1.1 (no `http2_prior_knowledge`); a stream answered over HTTP/2 fails with a
    ///   [`StreamError::Connect`](crate::stream::StreamError::Connect) that says so;
    /// - the API documents no redirects, and the SDK's own client follows none; consider
    ///   `redirect(reqwest::redirect::Policy::none())`, since a followed redirect to
    ///   another host would carry an `X-API-Key` header with it.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(UserHttpClient(client));
        self
    }

    /// Adds a [`Middleware`](crate::middleware::Middleware), called for every attempt of
    /// every REST request (retries included) to add headers and observe the response.
    /// Several are called in the order they were added.
    pub fn middleware(mut self, middleware: Arc<dyn crate::middleware::Middleware>) -> Self {
        self.middleware.push(middleware);
        self
    }

    /// Lets the stream connect to `host` (a name or an IP address, without port) besides
    /// the API host. A session's stream URL on any other host is refused before
    /// anything is sent, so a stream token never travels to a host you did not choose.
    #[cfg(feature = "stream")]
    pub fn allow_stream_host(mut self, host: impl Into<String>) -> Self {
        self.stream_hosts.push(host.into());
        self
    }

    /// Builds only what a stream needs, without an API key: for a process that receives
    /// a session's stream credentials from your backend. It uses the base URL's host,
    /// the allowed stream hosts, the extra roots, the proxy and the user agent.
    #[cfg(feature = "stream")]
    pub fn build_stream_connector(self) -> Result<crate::stream::Connector> {
        let base = parse_base_url(self.raw_base_url())?;
        let network = self.network(&base, None)?;
        Ok(crate::stream::Connector::new(network.dialer))
    }

    /// The base URL as given, or the default.
    fn raw_base_url(&self) -> &str {
        self.base_url
            .as_ref()
            .map_or(DEFAULT_BASE_URL, |given| given.0.as_str())
    }

    /// The HTTP client and, with the stream feature, what the stream dials with.
    #[cfg_attr(not(feature = "stream"), allow(unused_variables))]
    fn network(&self, base: &url::Url, timeout: Option<Duration>) -> Result<Network, ConfigError> {
        if self.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout("the connect timeout"));
        }
        let http = match &self.http_client {
            Some(UserHttpClient(client)) => {
                self.check_no_conflict_with_http_client()?;
                Http {
                    client: client.clone(),
                    random: crate::net::secure_random()?,
                }
            }
            None => {
                let user_agent = match &self.app_info {
                    Some(app) => format!("{} {app}", default_user_agent()),
                    None => default_user_agent(),
                };
                HttpSettings {
                    user_agent,
                    timeout,
                    connect_timeout: self.connect_timeout,
                    extra_roots_pem: self.extra_roots_pem.clone(),
                    proxy: self.proxy.clone(),
                }
                .build()?
            }
        };
        Ok(Network {
            #[cfg(feature = "stream")]
            dialer: {
                let mut hosts = vec![base.host_str().unwrap_or_default().to_string()];
                for host in &self.stream_hosts {
                    hosts.push(normalize_host(host)?);
                }
                crate::stream::connect::Dialer::new(http.client.clone(), hosts, http.random)
            },
            http: http.client,
        })
    }

    /// With a caller's own HTTP client, the options that only configure the SDK's client
    /// are refused rather than silently ignored.
    fn check_no_conflict_with_http_client(&self) -> Result<(), ConfigError> {
        let conflicts = [
            (self.proxy.is_some(), "proxy"),
            (!self.extra_roots_pem.is_empty(), "add_root_certificate_pem"),
            (self.connect_timeout_set, "connect_timeout"),
            (self.app_info.is_some(), "app_info"),
        ];
        match conflicts.into_iter().find(|(set, _)| *set) {
            Some((_, option)) => Err(ConfigError::ConflictsWithHttpClient(option)),
            None => Ok(()),
        }
    }

    /// The overall deadline of each call (120 s by default): every attempt, the backoff
    /// between attempts and rate-limit pacing waits together. A call that reaches it fails
    /// with [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded), naming what it
    /// was waiting for. `Duration::MAX` means no overall deadline. Calls can override it.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.traffic.deadline = deadline;
        self
    }

    /// Whether requests are paced by the server's `X-RateLimit-*` headers (on by default;
    /// see [`Client::rate_limit_state`]).
    pub fn rate_limit_pacing(mut self, enabled: bool) -> Self {
        self.traffic.pacing = enabled;
        self
    }

    /// At most this many requests of this client and its clones in flight at once (no cap
    /// by default). Must be non-zero.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.traffic.max_in_flight = Some(max);
        self
    }

    /// The largest JSON response body accepted, in bytes (16 MiB by default); a larger one
    /// fails with [`Error::ResponseTooLarge`](crate::Error::ResponseTooLarge) without
    /// being read further. Audio downloads stream and are not capped.
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.traffic.max_response_body = bytes;
        self
    }

    /// A source of fresh keys (a secret manager), asked once when the API refuses the
    /// current key as revoked or expired; see [`credentials`](crate::credentials).
    pub fn api_key_source(mut self, source: Arc<dyn ApiKeySource>) -> Self {
        self.traffic.key_source = Some(source);
        self
    }

    /// Validates the configuration and builds the client (and its connection pool).
    pub fn build(mut self) -> Result<Client> {
        let key = match self.api_key.take() {
            None => return Err(ConfigError::MissingApiKey.into()),
            Some(key) => key.map_err(ConfigError::InvalidApiKey)?,
        };
        check_environment(&key, self.expected_environment)?;
        if self.traffic.deadline.is_zero() {
            return Err(ConfigError::ZeroTimeout("the deadline").into());
        }
        if self.traffic.max_in_flight == Some(0) {
            return Err(ConfigError::ZeroTimeout("max_in_flight").into());
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout("the timeout").into());
        }
        let base = parse_base_url(self.raw_base_url())?;
        let network = self.network(&base, Some(self.timeout))?;
        // `network` sets the timeout on the SDK's own client only.
        let http_timeout = self.http_client.is_none().then_some(self.timeout);
        let traffic = self.traffic;
        Ok(Client::from_shared(Shared {
            http: network.http,
            base_url: base.as_str().trim_end_matches('/').to_string(),
            base,
            credentials: Credentials::new(
                key,
                self.auth_style,
                self.expected_environment,
                traffic.key_source,
            ),
            pacer: Pacer::new(traffic.pacing, traffic.max_in_flight),
            credits: CreditsWatches::default(),
            deadline: traffic.deadline,
            timeout: self.timeout,
            http_timeout,
            max_response_body: traffic.max_response_body,
            policy: self.retry_policy,
            budget: self.retry_budget.unwrap_or_default(),
            clock: self.clock,
            middleware: self.middleware,
            #[cfg(feature = "stream")]
            dialer: network.dialer,
        }))
    }
}

/// A caller's own HTTP client. Its `Debug` says only that there is one: reqwest's would
/// print its configuration, proxies included.
struct UserHttpClient(reqwest::Client);

impl std::fmt::Debug for UserHttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("(your reqwest::Client)")
    }
}

/// `kallglot-rust/<crate version>`.
pub fn default_user_agent() -> String {
    format!("kallglot-rust/{}", env!("CARGO_PKG_VERSION"))
}

/// A base URL as given, before validation. It may be anything, including credentials in
/// its user info or an API key pasted into the wrong variable, so its `Debug` shows only
/// what [`shown_url`] allows.
struct BaseUrlInput(String);

impl std::fmt::Debug for BaseUrlInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match shown_url(&self.0) {
            Some(shown) => write!(f, "{shown:?}"),
            None => f.write_str("(not shown)"),
        }
    }
}

/// The part of a base URL that is safe to print: its scheme, host and port, for an http(s)
/// URL with a host. User info, path and query are never shown (they can carry secrets),
/// and neither is anything that does not parse as such a URL, which is how an API key
/// given as the base URL stays out of errors.
fn shown_url(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    let host = url.host_str()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some(match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    })
}

pub(crate) fn parse_base_url(raw: &str) -> Result<url::Url, ConfigError> {
    let invalid = |reason| ConfigError::InvalidBaseUrl {
        url: shown_url(raw),
        reason,
    };
    let url = url::Url::parse(raw.trim()).map_err(|_| invalid("it is not an absolute URL"))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("it must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not carry credentials"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(invalid(
            "plain http is only allowed for loopback hosts; the API key must travel over TLS",
        )),
        _ => Err(invalid("the scheme must be https")),
    }
}

/// A host name or IP address as the URL parser spells it (lowercase, IPv6 in brackets),
/// so that it compares equal to a URL's `host_str`.
#[cfg(feature = "stream")]
fn normalize_host(host: &str) -> Result<String, ConfigError> {
    let invalid = || ConfigError::InvalidStreamHost(host.to_string());
    let trimmed = host.trim();
    if trimmed.is_empty() || trimmed.contains(['/', '@', '?', '#']) {
        return Err(invalid());
    }
    url::Host::parse(trimmed)
        .map(|h| h.to_string())
        .map_err(|_| invalid())
}

/// Whether a URL's host is this machine (`localhost`, 127.0.0.0/8, `::1`).
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_https_except_on_loopback() {
        for ok in [
            "https://api.kallglot.com",
            "https://api.kallglot.com/",
            "https://proxy.example.com/kallglot",
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "http://[::1]:9000",
        ] {
            assert!(parse_base_url(ok).is_ok(), "{ok}");
        }
        for (bad, reason) in [
            ("http://api.kallglot.com", "plain http"),
            ("http://10.0.0.1", "plain http"),
            ("ftp://api.kallglot.com", "scheme"),
            ("api.kallglot.com", "absolute"),
            ("https://api.kallglot.com/?x=1", "query"),
            ("https://user:pw@api.kallglot.com", "credentials"),
        ] {
            let err = parse_base_url(bad).unwrap_err().to_string();
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }

    #[cfg(feature = "stream")]
    #[test]
    fn stream_hosts_are_normalized_and_checked() {
        assert_eq!(
            normalize_host("Stream.Kallglot.COM").unwrap(),
            "stream.kallglot.com"
        );
        assert_eq!(normalize_host("[::1]").unwrap(), "[::1]");
        assert_eq!(normalize_host("127.0.0.1").unwrap(), "127.0.0.1");
        for bad in ["", "  ", "evil.example/path", "user@evil.example", "a b"] {
            assert!(normalize_host(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn invalid_base_urls_are_never_echoed_with_their_secrets() {
        for (given, shown) in [
            (
                "https://user:hunter2@api.kallglot.com",
                Some("https://api.kallglot.com"),
            ),
            (
                "http://admin:hunter2@10.0.0.1:8080/x",
                Some("http://10.0.0.1:8080"),
            ),
            (
                "https://api.kallglot.com/?key=hunter2",
                Some("https://api.kallglot.com"),
            ),
            ("sk_live_hunter2", None),
            ("sk_test_hunter2", None),
            ("ftp://hunter2@host", None),
        ] {
            let ConfigError::InvalidBaseUrl { url, .. } = parse_base_url(given).unwrap_err() else {
                panic!("{given}");
            };
            assert_eq!(url.as_deref(), shown, "{given}");
        }
        let builder = ClientBuilder::new().base_url("https://u:hunter2@h");
        assert!(!format!("{builder:?}").contains("hunter2"));
    }

    #[test]
    fn user_agent_names_the_sdk_and_the_app() {
        assert_eq!(
            default_user_agent(),
            format!("kallglot-rust/{}", env!("CARGO_PKG_VERSION"))
        );
    }
}
