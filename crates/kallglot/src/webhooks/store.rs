//! De-duplication through a store that several receivers share: claims, a failure policy,
//! and a helper that runs a handler at most once per event.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::Deduplicator;

/// A store of event ids that several webhook receivers (replicas behind a load
/// balancer) share, so that each event is processed once across all of them.
///
/// Unlike [`Deduplicator`], every call is async and may fail: the store is
/// somewhere on the network. A delivery goes through three steps, which
/// [`process_once`](Self::process_once) runs for you:
///
/// 1. [`claim`](Self::claim) the event id with one atomic insert-if-absent. The claim
///    is *in progress* and expires after a short lease, so a receiver that crashes
///    mid-way does not hide the event from Kallglot's retries for long.
/// 2. Process the event.
/// 3. On success, [`complete`](Self::complete): the id becomes *done* and is kept for
///    the dedup TTL (at least [`RECOMMENDED_TTL`](super::RECOMMENDED_TTL)), so every
///    later retry is answered `2xx` without processing. On failure,
///    [`release`](Self::release) the claim, so the next retry is processed.
///
/// A delivery that finds a claim *in progress* is refused with a non-`2xx` status
/// rather than acknowledged: if the first attempt then fails, a retry is still due.
/// So no event is lost, at the price of a duplicate when processing outlives the lease.
/// Handlers should stay idempotent.
///
/// Every [`Deduplicator`] (such as [`InMemoryDeduplicator`](super::InMemoryDeduplicator))
/// is also a `DedupStore` that never fails and never reports [`Claim::InProgress`].
/// With the `redis` feature, `RedisDeduplicator` implements it over Redis.
///
/// # Over a SQL table
///
/// Teams that already run Postgres can implement the trait over one table with the
/// event id as its unique key and two timestamps. A claim is an insert that also takes
/// over an expired row; `complete` extends the row to the full TTL; `release` deletes
/// the row only if it still holds this claim's token:
///
/// ```sql
/// CREATE TABLE webhook_dedup (
///     event_id   text        PRIMARY KEY,
///     token      text        NOT NULL,      -- which claim holds the row
///     done       boolean     NOT NULL DEFAULT false,
///     expires_at timestamptz NOT NULL       -- lease while in progress, TTL once done
/// );
/// CREATE INDEX ON webhook_dedup (expires_at); -- for a periodic DELETE of expired rows
/// ```
///
/// ```ignore
/// use kallglot::webhooks::{Claim, ClaimTicket, DedupError, DedupStore};
///
/// struct PgDedup { pool: sqlx::PgPool }
///
/// impl DedupStore for PgDedup {
///     async fn claim(&self, event_id: &str) -> Result<Claim, DedupError> {
///         let token = uuid::Uuid::new_v4().to_string();
///         // One atomic statement: insert, or take over a row whose time is up.
///         let won = sqlx::query(
///             "INSERT INTO webhook_dedup (event_id, token, expires_at)
///              VALUES ($1, $2, now() + interval '60 seconds')
///              ON CONFLICT (event_id) DO UPDATE
///                SET token = EXCLUDED.token, done = false, expires_at = EXCLUDED.expires_at
///                WHERE webhook_dedup.expires_at <= now()",
///         )
///         .bind(event_id).bind(&token)
///         .execute(&self.pool).await.map_err(DedupError::store)?
///         .rows_affected() == 1;
///         if won {
///             return Ok(Claim::First(ClaimTicket::new(event_id, token)));
///         }
///         let done: Option<bool> =
///             sqlx::query_scalar("SELECT done FROM webhook_dedup WHERE event_id = $1")
///                 .bind(event_id)
///                 .fetch_optional(&self.pool).await.map_err(DedupError::store)?;
///         // A row that vanished in between counts as in progress: the retry decides.
///         Ok(if done == Some(true) { Claim::AlreadyDone } else { Claim::InProgress })
///     }
///
///     async fn complete(&self, ticket: &ClaimTicket) -> Result<(), DedupError> {
///         sqlx::query(
///             "UPDATE webhook_dedup SET done = true, expires_at = now() + interval '48 hours'
///              WHERE event_id = $1",
///         )
///         .bind(ticket.event_id())
///         .execute(&self.pool).await.map_err(DedupError::store)?;
///         Ok(())
///     }
///
///     async fn release(&self, ticket: &ClaimTicket) -> Result<(), DedupError> {
///         sqlx::query("DELETE FROM webhook_dedup WHERE event_id = $1 AND token = $2 AND NOT done")
///             .bind(ticket.event_id()).bind(ticket.token())
///             .execute(&self.pool).await.map_err(DedupError::store)?;
///         Ok(())
///     }
/// }
/// ```
///
/// Give every statement a deadline (e.g. `statement_timeout` and the pool's acquire
/// timeout), shorter than Kallglot's 30 second answer window, so that a slow database
/// turns into an error that the [`FailurePolicy`] handles instead of a hung receiver.
pub trait DedupStore: Send + Sync {
    /// Claims `event_id` for processing with one atomic insert-if-absent.
    ///
    /// Returns [`Claim::First`] when this caller should process the event,
    /// [`Claim::AlreadyDone`] when it was processed before, and
    /// [`Claim::InProgress`] while another claim on it is still live.
    fn claim(&self, event_id: &str) -> impl Future<Output = Result<Claim, DedupError>> + Send;

    /// Records the claimed event as processed, for the store's dedup TTL.
    fn complete(&self, ticket: &ClaimTicket)
    -> impl Future<Output = Result<(), DedupError>> + Send;

    /// Drops the claim after processing failed, so that Kallglot's next retry of the
    /// event is processed. Must leave a claim that is no longer this ticket's alone.
    fn release(&self, ticket: &ClaimTicket) -> impl Future<Output = Result<(), DedupError>> + Send;

    /// What [`process_once`](Self::process_once) does when the store fails.
    /// [`FailurePolicy::FailClosed`] unless the store is configured otherwise.
    fn failure_policy(&self) -> FailurePolicy {
        FailurePolicy::FailClosed
    }

    /// Runs `work` for the event unless it was already processed (or is being
    /// processed) by any receiver sharing this store, and says how to answer Kallglot.
    ///
    /// When the store fails on the claim, the [`failure_policy`](Self::failure_policy)
    /// decides: fail-closed answers [`Processed::StoreUnavailable`] (a `503`, so Kallglot
    /// retries); fail-open runs `work` without de-duplication. Both log a warning
    /// through `tracing` (target `kallglot::webhooks`). A failure to record the outcome
    /// afterwards is logged and leaves the claim to expire with its lease.
    ///
    /// ```
    /// use kallglot::webhooks::{DedupStore, InMemoryDeduplicator, Processed};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let store = InMemoryDeduplicator::new(1_000);
    /// let work = || async { Ok::<_, std::io::Error>("stored") };
    /// let first = store.process_once("evt_1", work).await;
    /// assert!(matches!(first, Processed::Ran("stored")));
    /// let retry = store.process_once("evt_1", work).await;
    /// assert!(matches!(retry, Processed::Duplicate));
    /// assert_eq!(retry.http_status(), 204);
    /// # }
    /// ```
    fn process_once<F, Fut, T, E>(
        &self,
        event_id: &str,
        work: F,
    ) -> impl Future<Output = Processed<T, E>> + Send
    where
        F: FnOnce() -> Fut + Send,
        Fut: Future<Output = Result<T, E>> + Send,
        T: Send,
        E: Send,
    {
        async move {
            let ticket = match self.claim(event_id).await {
                Ok(Claim::First(ticket)) => Some(ticket),
                Ok(Claim::AlreadyDone) => return Processed::Duplicate,
                Ok(Claim::InProgress) => return Processed::InProgress,
                Err(error) => match self.failure_policy() {
                    FailurePolicy::FailClosed => {
                        tracing::warn!(target: "kallglot::webhooks", event_id, %error,
                            "dedup store failed: refusing the delivery so that it is retried (fail-closed)");
                        return Processed::StoreUnavailable(error);
                    }
                    FailurePolicy::FailOpen => {
                        tracing::warn!(target: "kallglot::webhooks", event_id, %error,
                            "dedup store failed: processing without de-duplication (fail-open)");
                        None
                    }
                },
            };
            match work().await {
                Ok(value) => {
                    if let Some(ticket) = &ticket
                        && let Err(error) = self.complete(ticket).await
                    {
                        tracing::warn!(target: "kallglot::webhooks", event_id, %error,
                            "event processed but not recorded as done; a retry after the lease may process it again");
                    }
                    Processed::Ran(value)
                }
                Err(failure) => {
                    if let Some(ticket) = &ticket
                        && let Err(error) = self.release(ticket).await
                    {
                        tracing::warn!(target: "kallglot::webhooks", event_id, %error,
                            "claim not released; the event is processed on a retry after the lease");
                    }
                    Processed::Failed(failure)
                }
            }
        }
    }
}

/// Every in-process [`Deduplicator`] is a store that never fails: a claim is
/// [`first_delivery`](Deduplicator::first_delivery), a release is
/// [`forget`](Deduplicator::forget), and completing needs nothing more.
impl<D: Deduplicator + ?Sized> DedupStore for D {
    async fn claim(&self, event_id: &str) -> Result<Claim, DedupError> {
        Ok(if self.first_delivery(event_id) {
            Claim::First(ClaimTicket::new(event_id, ""))
        } else {
            Claim::AlreadyDone
        })
    }

    async fn complete(&self, _ticket: &ClaimTicket) -> Result<(), DedupError> {
        Ok(())
    }

    async fn release(&self, ticket: &ClaimTicket) -> Result<(), DedupError> {
        self.forget(ticket.event_id());
        Ok(())
    }
}

/// The answer to [`DedupStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Claim {
    /// No receiver has processed the event: process it, then complete or release
    /// the ticket.
    First(ClaimTicket),
    /// The event was processed before: acknowledge the delivery without processing.
    AlreadyDone,
    /// Another claim on the event is live: refuse the delivery so that Kallglot
    /// retries it, in case that processing fails.
    InProgress,
}

/// Proof of a live claim on one event, handed back to [`DedupStore::complete`] or
/// [`DedupStore::release`].
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimTicket {
    event_id: String,
    token: String,
}

impl ClaimTicket {
    /// A ticket for `event_id`. `token` tells this claim apart from a later claim on
    /// the same id (e.g. a random UUID stored with it); stores that need no such
    /// check may pass `""`.
    pub fn new(event_id: impl Into<String>, token: impl Into<String>) -> Self {
        Self {
            event_id: event_id.into(),
            token: token.into(),
        }
    }

    /// The claimed event's id.
    pub fn event_id(&self) -> &str {
        &self.event_id
    }

    /// The token stored with the claim.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for ClaimTicket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is not a secret, but nothing is gained by printing it.
        f.debug_struct("ClaimTicket")
            .field("event_id", &self.event_id)
            .finish_non_exhaustive()
    }
}

/// What to do with a delivery when the dedup store cannot be asked (down, slow,
/// misconfigured).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailurePolicy {
    /// Refuse the delivery with a `503`, so that Kallglot retries it later: no event is
    /// processed twice because of the outage, and none is lost while Kallglot's retries
    /// last (about 41 hours). The default.
    #[default]
    FailClosed,
    /// Process the delivery without de-duplication and log a warning: nothing waits
    /// for the store, at the risk of processing a retried event twice.
    FailOpen,
}

/// Why a [`DedupStore`] call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DedupError {
    /// The store gave no answer within the deadline.
    #[error("the dedup store did not answer within {0:?}")]
    Timeout(Duration),
    /// The store could not be reached or refused the command.
    #[error("the dedup store failed: {0}")]
    Store(#[source] Box<dyn StdError + Send + Sync>),
    /// The store is configured wrongly (e.g. an unparseable URL).
    #[error("the dedup store is misconfigured: {0}")]
    Config(String),
}

impl DedupError {
    /// Wraps an error of the store's client, for implementations of [`DedupStore`].
    pub fn store(error: impl StdError + Send + Sync + 'static) -> Self {
        Self::Store(Box::new(error))
    }
}

/// What [`DedupStore::process_once`] did with a delivery, and how to answer it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Processed<T, E> {
    /// The work ran and succeeded (answer `204`).
    Ran(T),
    /// The event was processed before; the work did not run (answer `204`).
    Duplicate,
    /// Another receiver is processing the event; the work did not run (answer `409`,
    /// so that Kallglot retries in case that processing fails).
    InProgress,
    /// The work ran and failed; the claim was released (answer `500`, so that
    /// Kallglot retries).
    Failed(E),
    /// The store failed and the policy is fail-closed; the work did not run (answer
    /// `503`, so that Kallglot retries).
    StoreUnavailable(DedupError),
}

impl<T, E> Processed<T, E> {
    /// The HTTP status to answer Kallglot with: `2xx` acknowledges the delivery, any
    /// other status has it retried.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::Ran(_) | Self::Duplicate => 204,
            Self::InProgress => 409,
            Self::Failed(_) => 500,
            Self::StoreUnavailable(_) => 503,
        }
    }

    /// Whether the delivery is acknowledged (the status is `2xx`).
    pub fn is_acknowledged(&self) -> bool {
        matches!(self, Self::Ran(_) | Self::Duplicate)
    }
}

#[cfg(feature = "axum")]
impl<T, E> axum::response::IntoResponse for Processed<T, E> {
    fn into_response(self) -> axum::response::Response {
        let status = http::StatusCode::from_u16(self.http_status())
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        // Generic texts: the details are in the logs, not for whoever calls the endpoint.
        let text = match self {
            Self::Ran(_) | Self::Duplicate => return status.into_response(),
            Self::InProgress => "event is being processed",
            Self::Failed(_) => "event processing failed",
            Self::StoreUnavailable(_) => "temporarily unavailable",
        };
        (status, text).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::InMemoryDeduplicator;

    /// A store whose every call fails, to exercise the policy.
    struct Broken(FailurePolicy);

    impl DedupStore for Broken {
        async fn claim(&self, _: &str) -> Result<Claim, DedupError> {
            Err(DedupError::Timeout(Duration::from_millis(5)))
        }
        async fn complete(&self, _: &ClaimTicket) -> Result<(), DedupError> {
            Err(DedupError::Timeout(Duration::from_millis(5)))
        }
        async fn release(&self, _: &ClaimTicket) -> Result<(), DedupError> {
            Err(DedupError::Timeout(Duration::from_millis(5)))
        }
        fn failure_policy(&self) -> FailurePolicy {
            self.0
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn fail_closed_refuses_without_running_and_fail_open_runs() {
        let ran = std::sync::atomic::AtomicU32::new(0);
        let work = || async {
            ran.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(())
        };
        let closed = block_on(Broken(FailurePolicy::default()).process_once("evt_1", work));
        assert!(matches!(
            closed,
            Processed::StoreUnavailable(DedupError::Timeout(_))
        ));
        assert_eq!(closed.http_status(), 503);
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 0);

        let open = block_on(Broken(FailurePolicy::FailOpen).process_once("evt_1", work));
        assert!(matches!(open, Processed::Ran(())));
        assert_eq!(ran.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn a_failed_handler_releases_the_claim_so_the_retry_runs() {
        let store = InMemoryDeduplicator::new(10);
        let failed = block_on(store.process_once("evt_1", || async { Err::<(), _>("boom") }));
        assert!(matches!(failed, Processed::Failed("boom")));
        assert_eq!(failed.http_status(), 500);
        let retried = block_on(store.process_once("evt_1", || async { Ok::<_, ()>(7) }));
        assert!(matches!(retried, Processed::Ran(7)));
        let again = block_on(store.process_once("evt_1", || async { Ok::<_, ()>(8) }));
        assert!(matches!(again, Processed::Duplicate));
    }

    #[test]
    fn statuses() {
        let p: Processed<(), ()> = Processed::InProgress;
        assert_eq!(p.http_status(), 409);
        assert!(!p.is_acknowledged());
        assert!(Processed::<(), ()>::Duplicate.is_acknowledged());
        assert!(!format!("{:?}", ClaimTicket::new("evt_1", "tok_secretish")).contains("tok_"));
    }
}
