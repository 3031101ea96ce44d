//! Signing deliveries yourself, for testing your own webhook handlers.
//!
//! These functions produce exactly what Kallglot sends, so a test can post a
//! body to a handler with a valid (or deliberately stale) signature without
//! a network or a Portal.
//!
//! ```
//! use kallglot::webhooks::{Verifier, WebhookSecret, testing};
//!
//! let body = br#"{"id":"evt_test","type":"session.created","api_version":"v1",
//!     "created_at":"2026-03-26T11:00:00Z","data":{"id":"sess_1"}}"#;
//! let header = testing::sign("whsec_test", 1_700_000_000, body);
//! assert!(header.starts_with("t=1700000000,v1="));
//!
//! let verifier = Verifier::new(WebhookSecret::new("whsec_test").unwrap())
//!     .with_clock(|| 1_700_000_000);
//! let event = verifier.construct_event(&header, body).unwrap();
//! assert_eq!(event.id, "evt_test");
//! ```

use super::signature::compute;

/// The full `Kallglot-Signature` value for `body` signed with `secret` at
/// `timestamp` (unix seconds): `t=<timestamp>,v1=<hex>`.
///
/// Any timestamp is signed as given; a negative one yields a header the
/// verifier rejects as [`InvalidTimestamp`](super::WebhookError::InvalidTimestamp),
/// which is handy for negative tests.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

/// Only the `v1` value: the lowercase hex HMAC-SHA256 of
/// `"{timestamp}.{body}"` under `secret`. Useful to build unusual headers,
/// such as one with several `v1` entries.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    hex::encode(compute(secret.as_bytes(), &timestamp.to_string(), body))
}
