//! Receiving Kallglot webhooks: signature verification, typed events, delivery
//! headers and de-duplication.
//!
//! Kallglot `POST`s a JSON event to your HTTPS endpoint and signs it with the
//! endpoint's signing secret (shown once in the Portal). A handler should:
//!
//! 1. verify the `Kallglot-Signature` header against the **raw** body bytes,
//!    before parsing anything ([`Verifier`]);
//! 2. skip events it has already processed, keyed on the event id, because
//!    deliveries are retried ([`Deduplicator`]);
//! 3. answer `2xx` within 30 seconds, and process slow work asynchronously.
//!
//! ```
//! use kallglot::webhooks::{EventType, Verifier, WebhookSecret};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let secret = WebhookSecret::new("whsec_from_the_portal")?;
//! let verifier = Verifier::new(secret);
//!
//! // In a real handler both come from the HTTP request, untouched.
//! let body = br#"{"id":"evt_1","type":"session.ended","api_version":"v1",
//!     "created_at":"2026-03-26T11:00:00Z","data":{"id":"sess_1","duration":245.3}}"#;
//! # let now = chrono::Utc::now().timestamp();
//! # let header = kallglot::webhooks::testing::sign("whsec_from_the_portal", now, body);
//! let event = verifier.construct_event(&header, body)?;
//!
//! if event.kind == EventType::SessionEnded {
//!     let ended = event.session_ended().expect("documented shape");
//!     println!("{} lasted {:?} s", ended.id, ended.seconds());
//! }
//! # Ok(()) }
//! ```
//!
//! With the `axum` feature, the `VerifiedWebhook` extractor does all of this
//! in a handler's signature. Other frameworks can pass their `http::HeaderMap` to
//! [`Verifier::verify_request`].
//!
//! # Several replicas
//!
//! Behind a load balancer, Kallglot's retry of an event can reach another replica
//! than the first attempt, so an in-process [`InMemoryDeduplicator`] no longer sees
//! every delivery. Share the record instead: [`DedupStore`] is the async, fallible
//! protocol (claim → process → complete or release), and `RedisDeduplicator` (feature
//! `redis`) implements it with an atomic `SET NX PX` per event. A deployment then looks
//! like this:
//!
//! ```text
//!                         ┌─ replica 1 ─┐
//! Kallglot ── HTTPS ── LB ┼─ replica 2 ─┼── Redis (one primary; keys kallglot:webhook:<event id>)
//!                         └─ replica 3 ─┘
//! ```
//!
//! - Every replica builds its own `RedisDeduplicator` from the same `REDIS_URL` and key
//!   prefix, and answers with [`DedupStore::process_once`]: the event runs on exactly
//!   one replica; the others answer `204` once it is done, `409` while it is in progress.
//! - [`FailurePolicy::FailClosed`] (the default) answers `503` while Redis is down, and
//!   Kallglot retries for about 41 hours; [`FailurePolicy::FailOpen`] keeps processing
//!   (with a warning in the logs) at the risk of duplicates.
//! - Give replicas a readiness probe that calls `RedisDeduplicator::ping`, so that a pod
//!   that cannot reach Redis takes no traffic, and keep the handler's work within
//!   Kallglot's 30 s answer window (and the claim's lease, 60 s by default).
//! - Use one Redis primary (or a managed Redis with a single writer): a claim written to
//!   a replica that is lost in a failover can let one event through twice. Handlers stay
//!   idempotent for that reason.
//!
//! The `webhook_replicas` program in the repository's examples runs two replicas on one
//! Redis against the emulator, and serves as one replica of a real deployment. For a
//! store other than Redis, such as a SQL table, see [`DedupStore`].
//!
//! What Kallglot leaves undocumented (the replay window, secret rotation, the
//! `data` of most events) is handled leniently here and called out on each
//! item.

mod dedup;
mod delivery;
mod error;
mod event;
mod secret;
mod signature;
mod store;
pub mod testing;

#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "redis")]
mod redis;

pub use dedup::{Deduplicator, InMemoryDeduplicator, RECOMMENDED_TTL};
pub use delivery::DeliveryInfo;
pub use error::{MalformedHeader, WebhookError};
pub use event::{EventData, EventId, EventType, SessionEndedData, WebhookEvent};
pub use secret::{EmptySecretError, WebhookSecret};
pub use signature::{DEFAULT_BODY_LIMIT, DEFAULT_TOLERANCE, SignatureHeader, Verifier};
pub use store::{Claim, ClaimTicket, DedupError, DedupStore, FailurePolicy, Processed};

#[cfg(feature = "axum")]
pub use self::axum::{VerifiedWebhook, WebhookRejection};
#[cfg(feature = "redis")]
pub use self::redis::{RedisDeduplicator, RedisDeduplicatorBuilder};

/// The header carrying the signature, `t=<unix seconds>,v1=<hex>`.
///
/// Header names are case-insensitive; this is the documented spelling.
pub const SIGNATURE_HEADER: &str = "Kallglot-Signature";

/// The header carrying the delivery id (e.g. `wh_del_…`), which differs from
/// the event id.
pub const WEBHOOK_ID_HEADER: &str = "Kallglot-Webhook-Id";

/// The header counting previous attempts: `0` on the first delivery.
pub const RETRY_COUNT_HEADER: &str = "Kallglot-Retry-Count";

/// The header with the unix time (seconds) at which the event was first
/// created, which stays the same across retries while the signature's `t`
/// does not.
pub const ORIGINAL_TIMESTAMP_HEADER: &str = "Kallglot-Original-Timestamp";
