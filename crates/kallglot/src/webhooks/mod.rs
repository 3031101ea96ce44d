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
