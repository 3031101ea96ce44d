//! The client's API key, replaceable while the client runs: set by hand with
//! [`Client::set_api_key`], or refreshed from an [`ApiKeySource`] (a secret manager) when
//! the API says the key was revoked or has expired.
//!
//! Each call takes the key current when it starts and keeps it for all its attempts, so
//! requests in flight finish with the key they started with and later calls use the new
//! one. A call whose key is refused with `api_key_revoked` or `api_key_expired` asks the
//! source once (one refresh at a time for the whole client) and, if that gives a different
//! key, sends the request once more with it. Every new key passes the same checks as the
//! first: its format, and its environment against
//! [`expect_environment`](crate::ClientBuilder::expect_environment). No key is ever
//! formatted into a message or a log.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use reqwest::header::{HeaderName, HeaderValue};

use crate::api_key::{ApiKey, ApiKeyError, AuthStyle, Environment};
use crate::client::Client;
use crate::clock::{Clock, within};
use crate::deadline::Deadline;
use crate::error::{ConfigError, Result};

/// The future [`ApiKeySource::fetch`] returns.
pub type KeyFuture<'a> =
    Pin<Box<dyn Future<Output = std::result::Result<ApiKey, KeySourceError>> + Send + 'a>>;

/// Where the client gets a fresh API key when the API refuses the current one as revoked
/// or expired: a secret manager, a vault, a file that is rotated.
///
/// ```
/// use kallglot::credentials::{ApiKeySource, KeyFuture, KeySourceError};
/// use kallglot::ApiKey;
///
/// #[derive(Debug)]
/// struct FromFile(std::path::PathBuf);
///
/// impl ApiKeySource for FromFile {
///     fn fetch(&self) -> KeyFuture<'_> {
///         Box::pin(async move {
///             let text = tokio::fs::read_to_string(&self.0)
///                 .await
///                 .map_err(|e| KeySourceError::new(format!("cannot read the key file: {e}")))?;
///             Ok(ApiKey::new(text.trim())?)
///         })
///     }
/// }
/// ```
pub trait ApiKeySource: Send + Sync + fmt::Debug {
    /// Fetches the key that should be used from now on. It is bounded by the deadline of
    /// the call that asked for it.
    fn fetch(&self) -> KeyFuture<'_>;
}

/// An [`ApiKeySource`] could not provide a key. The message must not contain the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeySourceError(String);

impl KeySourceError {
    /// A failure described by `message` (never put the key in it).
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<ApiKeyError> for KeySourceError {
    fn from(e: ApiKeyError) -> Self {
        // ApiKeyError never carries the key, so its message is safe.
        Self(format!("the source gave an invalid key: {e}"))
    }
}

/// One key as it is sent.
pub(crate) struct ActiveKey {
    key: ApiKey,
    header: HeaderValue,
    /// Increases with every change, so a caller can tell whether the key moved on.
    generation: u64,
}

impl ActiveKey {
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }
}

/// The client's current key and how to replace it.
pub(crate) struct Credentials {
    current: RwLock<Arc<ActiveKey>>,
    style: AuthStyle,
    header_name: HeaderName,
    expected: Option<Environment>,
    source: Option<Arc<dyn ApiKeySource>>,
    /// One refresh from the source at a time.
    refreshing: tokio::sync::Mutex<()>,
    generations: AtomicU64,
}

impl Credentials {
    /// Credentials starting with `key` (already checked against `expected`).
    pub(crate) fn new(
        key: ApiKey,
        style: AuthStyle,
        expected: Option<Environment>,
        source: Option<Arc<dyn ApiKeySource>>,
    ) -> Self {
        let header = key.header_value(style);
        Self {
            current: RwLock::new(Arc::new(ActiveKey {
                key,
                header,
                generation: 0,
            })),
            style,
            header_name: style.header_name(),
            expected,
            source,
            refreshing: tokio::sync::Mutex::new(()),
            generations: AtomicU64::new(0),
        }
    }

    /// The key new requests use.
    pub(crate) fn current(&self) -> Arc<ActiveKey> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn header_name(&self) -> &HeaderName {
        &self.header_name
    }

    pub(crate) fn environment(&self) -> Environment {
        self.current().key.environment()
    }

    pub(crate) fn style(&self) -> AuthStyle {
        self.style
    }

    /// Checks `key` against the expected environment and installs it.
    pub(crate) fn set(&self, key: ApiKey) -> Result<Arc<ActiveKey>, ConfigError> {
        check_environment(&key, self.expected)?;
        let header = key.header_value(self.style);
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        let active = Arc::new(ActiveKey {
            key,
            header,
            generation,
        });
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = active.clone();
        tracing::info!(
            environment = %active.key.environment(),
            "kallglot API key replaced"
        );
        Ok(active)
    }

    /// After `used` was refused as revoked or expired: the key to try once more with, if
    /// there is a different one (set meanwhile, or fetched now from the source).
    pub(crate) async fn replacement(
        &self,
        used: &ActiveKey,
        clock: &dyn Clock,
        deadline: Deadline,
    ) -> Option<Arc<ActiveKey>> {
        let Some(source) = self.source.as_ref() else {
            let current = self.current();
            return (current.generation != used.generation && current.key != used.key)
                .then_some(current);
        };
        let wait = |now| deadline.remaining(now).unwrap_or(std::time::Duration::MAX);
        let _turn = within(clock, wait(clock.now()), self.refreshing.lock()).await?;
        let current = self.current();
        if current.generation != used.generation {
            // Another call (or `set_api_key`) replaced it while this one was refused.
            return (current.key != used.key).then_some(current);
        }
        let fetched = match within(clock, wait(clock.now()), source.fetch()).await {
            None => {
                tracing::warn!("kallglot API key source did not answer before the deadline");
                return None;
            }
            Some(Err(e)) => {
                tracing::warn!(error = %e, "kallglot API key source failed");
                return None;
            }
            Some(Ok(key)) => key,
        };
        if fetched == used.key {
            tracing::warn!("kallglot API key source returned the key the API refused");
            return None;
        }
        match self.set(fetched) {
            Ok(active) => Some(active),
            Err(e) => {
                tracing::warn!(error = %e, "kallglot API key source gave an unusable key");
                None
            }
        }
    }
}

/// The environment check every key passes.
pub(crate) fn check_environment(
    key: &ApiKey,
    expected: Option<Environment>,
) -> Result<(), ConfigError> {
    match expected {
        Some(expected) if key.environment() != expected => Err(ConfigError::WrongEnvironment {
            expected,
            actual: key.environment(),
        }),
        _ => Ok(()),
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_key", &self.current().key)
            .field("style", &self.style)
            .field("source", &self.source.is_some())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Replaces the API key for every request that starts from now on, on this client and
    /// all its clones; requests already under way finish with the key they started with.
    ///
    /// The key is checked like the first one: its format and, if the client was built with
    /// [`expect_environment`](crate::ClientBuilder::expect_environment), its environment.
    /// On error the current key stays.
    ///
    /// ```
    /// let client = kallglot::Client::new("sk_test_old_0123456789")?;
    /// client.set_api_key("sk_test_new_0123456789")?;
    /// # Ok::<(), kallglot::Error>(())
    /// ```
    pub fn set_api_key(&self, key: impl Into<String>) -> Result<()> {
        let key = ApiKey::new(key).map_err(ConfigError::InvalidApiKey)?;
        self.shared.credentials.set(key)?;
        Ok(())
    }
}
