//! What the emulator is configured with: its account (keys, credits, rate limit) and the
//! pacing of its simulated work.

use std::fmt;
use std::time::Duration;

/// The API key configured by default, with every scope.
pub const DEFAULT_API_KEY: &str = "sk_test_mock_0000000000000000";

/// Every scope the spec lists (`x-kallglot-scopes`).
fn every_scope() -> Vec<String> {
    crate::catalogue::SCOPES
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// One API key the emulator accepts (or deliberately refuses).
///
/// ```
/// use kallglot_mock::KeyConfig;
/// let reader = KeyConfig::test("sk_test_reader").scopes(["sessions:read"]);
/// let revoked = KeyConfig::test("sk_test_old").revoked();
/// # let _ = (reader, revoked);
/// ```
///
/// Only keys starting with `sk_test_` can authenticate: the emulator is a test
/// environment, so any `sk_live_…` key answers 401 `api_key_wrong_environment` and any
/// other string 401 `api_key_invalid`, configured or not.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyConfig {
    pub(crate) key: String,
    pub(crate) scopes: Vec<String>,
    pub(crate) revoked: bool,
    pub(crate) expired: bool,
    pub(crate) inactive_org: bool,
}

impl fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keys are secrets even in a mock: show only the prefix, as a real service would.
        let shown: String = self.key.chars().take(12).collect();
        f.debug_struct("KeyConfig")
            .field("key", &format_args!("{shown}…"))
            .field("scopes", &self.scopes)
            .field("revoked", &self.revoked)
            .field("expired", &self.expired)
            .field("inactive_org", &self.inactive_org)
            .finish()
    }
}

impl KeyConfig {
    /// A working test key with every scope.
    pub fn test(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            scopes: every_scope(),
            revoked: false,
            expired: false,
            inactive_org: false,
        }
    }

    /// Limits the key to exactly these scopes; any route needing another answers 403
    /// `insufficient_permissions`.
    ///
    /// Scopes are written as in the reference (`sessions:write`); the spec lists them
    /// all ([`catalogue::SCOPES`](crate::catalogue::SCOPES)).
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// Marks the key revoked: 401 `api_key_revoked`.
    pub fn revoked(mut self) -> Self {
        self.revoked = true;
        self
    }

    /// Marks the key expired: 401 `api_key_expired`.
    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    /// Puts the key in an organization whose subscription is inactive: 403
    /// `organization_inactive`.
    pub fn inactive_org(mut self) -> Self {
        self.inactive_org = true;
        self
    }

    /// The key itself.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the key holds `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the key holds every scope the spec lists.
    pub(crate) fn has_every_scope(&self) -> bool {
        crate::catalogue::SCOPES.iter().all(|s| self.has_scope(s))
    }
}

/// Everything the emulator is configured with. Start from [`MockConfig::default`] and
/// adjust with the setters (or use [`MockServerBuilder`](crate::MockServerBuilder), which
/// forwards to them).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MockConfig {
    /// Accepted API keys; [`DEFAULT_API_KEY`] with every scope by default.
    pub keys: Vec<KeyConfig>,
    /// The starting credit balance (100).
    pub credits: u64,
    /// Requests allowed per rate-limit window (1000).
    pub rate_limit: u32,
    /// The rate-limit window (60 s).
    pub rate_window: Duration,
    /// How long an analysis stays `processing` (1 s).
    pub analysis_delay: Duration,
    /// How long a stream token can open a stream (5 minutes, as documented).
    pub stream_token_ttl: Duration,
    /// How much received audio makes one scripted utterance (2 s; at least 20 ms): the
    /// conversation is paced by audio, not by wall time.
    pub utterance_duration: Duration,
    /// The base URL `stream.url` is built from (for a mock behind a proxy); `None` uses
    /// the address the emulator listens on. The request's `Host` header is never used:
    /// it is whatever the client sent.
    pub public_url: Option<String>,
    /// How long the emulator waits for a client that is sending a request: its first
    /// bytes, its head and its body (10 s). A request still incomplete by then answers
    /// 408 `request_timeout` (or, before its head is complete, the connection closes).
    pub read_timeout: Duration,
}

impl Default for MockConfig {
    fn default() -> Self {
        Self {
            keys: vec![KeyConfig::test(DEFAULT_API_KEY)],
            credits: 100,
            rate_limit: 1000,
            rate_window: Duration::from_secs(60),
            analysis_delay: Duration::from_secs(1),
            stream_token_ttl: Duration::from_secs(5 * 60),
            utterance_duration: Duration::from_secs(2),
            public_url: None,
            read_timeout: Duration::from_secs(10),
        }
    }
}

impl MockConfig {
    /// Adds (or replaces, by key) an API key.
    pub fn key(mut self, key: KeyConfig) -> Self {
        self.keys.retain(|k| k.key != key.key);
        self.keys.push(key);
        self
    }

    /// Sets the starting credit balance.
    pub fn credits(mut self, credits: u64) -> Self {
        self.credits = credits;
        self
    }

    /// Allows `limit` requests per `window`.
    pub fn rate_limit(mut self, limit: u32, window: Duration) -> Self {
        self.rate_limit = limit;
        self.rate_window = window;
        self
    }

    /// Sets how long analyses stay `processing`.
    pub fn analysis_delay(mut self, delay: Duration) -> Self {
        self.analysis_delay = delay;
        self
    }

    /// Sets the stream token lifetime (tests use a tiny one to see expiry).
    pub fn stream_token_ttl(mut self, ttl: Duration) -> Self {
        self.stream_token_ttl = ttl;
        self
    }

    /// Sets how much audio makes one utterance of the scripted conversation.
    pub fn utterance_duration(mut self, duration: Duration) -> Self {
        self.utterance_duration = duration;
        self
    }

    /// Sets how long a client may take to send a request (10 s by default).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets the public base URL (`http://host:port`) that stream URLs are built from.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }
}
