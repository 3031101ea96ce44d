//! [`DedupStore`] over Redis, for webhook receivers running as several replicas.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Claim, ClaimTicket, DedupError, DedupStore, FailurePolicy, RECOMMENDED_TTL};

/// The value of a key whose event was processed. A claim in progress holds its
/// ticket's token instead, which never equals this.
const DONE: &str = "done";

/// Deletes the key only while it still holds this claim's token, so that a late
/// release never removes another receiver's claim or a `done` mark.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Webhook de-duplication shared by every receiver connected to one Redis.
///
/// Each delivery is claimed with one atomic `SET <prefix><event id> <token> NX PX
/// <lease>`: of all replicas that receive the same event, exactly one gets the claim
/// and processes it. On success the key becomes `done` for the TTL (48 hours by
/// default, [`RECOMMENDED_TTL`]), and every later retry is acknowledged without
/// processing. On failure the claim is deleted (only if it is still this one), so the
/// next retry is processed. While a claim is in progress, other deliveries of the
/// event are refused with `409` rather than acknowledged, and a claim left by a
/// crashed replica expires after the lease (60 s by default): **no event is lost**.
/// See [`DedupStore`] for the whole protocol.
///
/// Every Redis call has a deadline (1 s by default, [`timeout`](RedisDeduplicatorBuilder::timeout)).
/// When Redis is down or slow the call fails with a [`DedupError`] and the
/// [`FailurePolicy`] decides: [`FailClosed`](FailurePolicy::FailClosed) (the default)
/// answers `503`, so that Kallglot retries; [`FailOpen`](FailurePolicy::FailOpen)
/// processes the event and logs a warning. The connection is re-established in the
/// background after Redis comes back. A claim whose answer timed out may still have
/// been applied by a slow Redis; the event then reads as in progress until that claim's
/// lease expires, which delays it but does not lose it.
///
/// The value is cheap to clone (one shared connection), so it can live in your
/// router's state.
///
/// ```no_run
/// use axum::{Router, extract::State, routing::post};
/// use kallglot::webhooks::{
///     DedupStore, Processed, RedisDeduplicator, VerifiedWebhook, Verifier, WebhookSecret,
/// };
///
/// #[derive(Clone)]
/// struct App { verifier: Verifier, dedup: RedisDeduplicator }
///
/// impl axum::extract::FromRef<App> for Verifier {
///     fn from_ref(app: &App) -> Verifier { app.verifier.clone() }
/// }
///
/// async fn webhook(
///     State(app): State<App>,
///     VerifiedWebhook(event, _): VerifiedWebhook,
/// ) -> Processed<(), std::io::Error> {
///     // Runs on one replica only; the others answer 204 (done) or 409 (in progress).
///     app.dedup
///         .process_once(event.id.as_str(), || async {
///             println!("{} {}", event.kind, event.id);
///             Ok(())
///         })
///         .await
/// }
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dedup = RedisDeduplicator::builder("redis://redis.internal:6379/0")
///     .key_prefix("billing:kallglot:")
///     .build()?;
/// let verifier = Verifier::new(WebhookSecret::new(std::env::var("KALLGLOT_WEBHOOK_SECRET")?)?);
/// let app: Router = Router::new()
///     .route("/webhooks/kallglot", post(webhook))
///     .with_state(App { verifier, dedup });
/// # let _ = app;
/// # Ok(()) }
/// ```
///
/// For TLS (`rediss://`), enable the `redis` crate's `tokio-rustls-comp` feature in
/// your own `Cargo.toml`; without it such a URL is refused by [`build`](RedisDeduplicatorBuilder::build).
#[derive(Clone)]
pub struct RedisDeduplicator {
    connection: ConnectionManager,
    settings: Arc<Settings>,
}

#[derive(Debug)]
struct Settings {
    key_prefix: String,
    ttl: Duration,
    lease: Duration,
    timeout: Duration,
    policy: FailurePolicy,
    release: redis::Script,
}

/// Configures a [`RedisDeduplicator`]; from [`RedisDeduplicator::builder`].
pub struct RedisDeduplicatorBuilder {
    url: String,
    key_prefix: String,
    ttl: Duration,
    lease: Duration,
    timeout: Duration,
    policy: FailurePolicy,
}

impl RedisDeduplicator {
    /// The key prefix used unless [`key_prefix`](RedisDeduplicatorBuilder::key_prefix) sets another.
    pub const DEFAULT_KEY_PREFIX: &str = "kallglot:webhook:";
    /// How long a claim in progress lasts unless [`lease`](RedisDeduplicatorBuilder::lease)
    /// sets another: above Kallglot's 30 s answer window.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);
    /// The deadline of each Redis call unless [`timeout`](RedisDeduplicatorBuilder::timeout)
    /// sets another.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

    /// Starts configuring a deduplicator for the Redis at `url`
    /// (`redis://[user:password@]host[:port][/db]`).
    pub fn builder(url: impl Into<String>) -> RedisDeduplicatorBuilder {
        RedisDeduplicatorBuilder {
            url: url.into(),
            key_prefix: Self::DEFAULT_KEY_PREFIX.to_owned(),
            ttl: RECOMMENDED_TTL,
            lease: Self::DEFAULT_LEASE,
            timeout: Self::DEFAULT_TIMEOUT,
            policy: FailurePolicy::default(),
        }
    }

    /// Checks that Redis answers `PING` within the deadline: for a readiness probe.
    pub async fn ping(&self) -> Result<(), DedupError> {
        let mut connection = self.connection.clone();
        self.bounded(async move { redis::cmd("PING").query_async::<()>(&mut connection).await })
            .await
    }

    /// The Redis key that records `event_id`.
    pub fn key(&self, event_id: &str) -> String {
        format!("{}{event_id}", self.settings.key_prefix)
    }

    /// Runs one Redis call with the deadline.
    async fn bounded<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, DedupError> {
        let timeout = self.settings.timeout;
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if error.is_timeout() => Err(DedupError::Timeout(timeout)),
            Ok(Err(error)) => Err(DedupError::store(error)),
            Err(_) => Err(DedupError::Timeout(timeout)),
        }
    }
}

fn millis(duration: Duration) -> u64 {
    // Redis refuses a PX of 0; a sub-millisecond setting means "as short as possible".
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl DedupStore for RedisDeduplicator {
    async fn claim(&self, event_id: &str) -> Result<Claim, DedupError> {
        let key = self.key(event_id);
        let token = uuid::Uuid::new_v4().simple().to_string();
        let mut connection = self.connection.clone();
        let set: Option<String> = self
            .bounded(
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(millis(self.settings.lease))
                    .query_async(&mut connection),
            )
            .await?;
        if set.is_some() {
            return Ok(Claim::First(ClaimTicket::new(event_id, token)));
        }
        let held: Option<String> = self
            .bounded(redis::cmd("GET").arg(&key).query_async(&mut connection))
            .await?;
        // A key that expired between the two calls counts as in progress: refusing
        // costs one retry, acknowledging could lose the event.
        Ok(match held.as_deref() {
            Some(DONE) => Claim::AlreadyDone,
            _ => Claim::InProgress,
        })
    }

    async fn complete(&self, ticket: &ClaimTicket) -> Result<(), DedupError> {
        let mut connection = self.connection.clone();
        // Unconditional: the event was processed, whoever holds the key now.
        self.bounded(
            redis::cmd("SET")
                .arg(self.key(ticket.event_id()))
                .arg(DONE)
                .arg("PX")
                .arg(millis(self.settings.ttl))
                .query_async::<()>(&mut connection),
        )
        .await
    }

    async fn release(&self, ticket: &ClaimTicket) -> Result<(), DedupError> {
        let mut connection = self.connection.clone();
        self.bounded(
            self.settings
                .release
                .key(self.key(ticket.event_id()))
                .arg(ticket.token())
                .invoke_async::<i64>(&mut connection),
        )
        .await
        .map(drop)
    }

    fn failure_policy(&self) -> FailurePolicy {
        self.settings.policy
    }
}

impl RedisDeduplicatorBuilder {
    /// Prefixes every key, so that several apps (or environments) can share one Redis.
    /// Default: `kallglot:webhook:`.
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.key_prefix = prefix.into();
        self
    }

    /// How long a processed event id is remembered. Default: [`RECOMMENDED_TTL`]
    /// (48 hours, beyond Kallglot's last retry).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a claim in progress lasts before another delivery of the event may
    /// take over (after a crash). Keep it above your handler's running time, or a
    /// slow handler's event is processed twice. Default: 60 s.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// The deadline of each Redis call, connecting included. Default: 1 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// What to do with a delivery when Redis fails. Default: [`FailurePolicy::FailClosed`].
    pub fn failure_policy(mut self, policy: FailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Builds the deduplicator. It connects lazily, on the first call, so a receiver
    /// starts even while Redis is down; use [`RedisDeduplicator::ping`] to check it.
    ///
    /// Fails with [`DedupError::Config`] for a URL that does not parse (or needs a TLS
    /// feature that is off), or when called outside a Tokio runtime.
    pub fn build(self) -> Result<RedisDeduplicator, DedupError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(DedupError::Config(
                "RedisDeduplicator must be built inside a Tokio runtime".into(),
            ));
        }
        // The parse error describes the problem without echoing the URL, which may
        // hold a password.
        let client = redis::Client::open(self.url.as_str())
            .map_err(|e| DedupError::Config(format!("invalid Redis URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            // Few, quick reconnection attempts: each call has its own deadline, and the
            // next call after a failure starts a fresh attempt.
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| DedupError::Config(format!("cannot set up the Redis connection: {e}")))?;
        Ok(RedisDeduplicator {
            connection,
            settings: Arc::new(Settings {
                key_prefix: self.key_prefix,
                ttl: self.ttl,
                lease: self.lease,
                timeout: self.timeout,
                policy: self.policy,
                release: redis::Script::new(RELEASE_SCRIPT),
            }),
        })
    }
}

impl fmt::Debug for RedisDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the URL or the connection: either may show a password.
        let s = &self.settings;
        f.debug_struct("RedisDeduplicator")
            .field("key_prefix", &s.key_prefix)
            .field("ttl", &s.ttl)
            .field("lease", &s.lease)
            .field("timeout", &s.timeout)
            .field("policy", &s.policy)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisDeduplicatorBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisDeduplicatorBuilder")
            .field("key_prefix", &self.key_prefix)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bad_urls_and_missing_runtimes_are_config_errors_without_the_password() {
        let err = RedisDeduplicator::builder("nope://:hunter2@127.0.0.1:1")
            .build()
            .unwrap_err();
        assert!(matches!(err, DedupError::Config(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");

        let dedup = RedisDeduplicator::builder("redis://:hunter2@127.0.0.1:1/0")
            .key_prefix("app:")
            .build()
            .unwrap();
        assert_eq!(dedup.key("evt_1"), "app:evt_1");
        assert!(!format!("{dedup:?}").contains("hunter2"));

        let outside = std::thread::spawn(|| {
            RedisDeduplicator::builder("redis://127.0.0.1:1")
                .build()
                .unwrap_err()
        })
        .join()
        .unwrap();
        assert!(outside.to_string().contains("Tokio runtime"), "{outside}");
    }

    #[tokio::test]
    async fn a_closed_port_is_an_error_within_the_deadline() {
        // Bind then drop: a loopback port that refuses connections.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dedup = RedisDeduplicator::builder(format!("redis://:hunter2@127.0.0.1:{port}"))
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let err = dedup.claim("evt_1").await.unwrap_err();
        assert!(
            matches!(err, DedupError::Store(_) | DedupError::Timeout(_)),
            "{err:?}"
        );
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
