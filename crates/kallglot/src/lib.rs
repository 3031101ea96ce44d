//! Rust SDK for the [Kallglot](https://developer.kallglot.com) API: real-time voice
//! translation.
//!
//! A backend creates a *session*, streams call audio over its WebSocket, receives live
//! transcripts and translations, ends the session, then fetches the transcript,
//! recordings and an AI analysis.
//!
//! ```no_run
//! use kallglot::model::{CreateSessionParams, Language, Mode};
//!
//! # async fn demo() -> kallglot::Result<()> {
//! let client = kallglot::Client::from_env()?; // KALLGLOT_API_KEY
//! let session = client
//!     .sessions()
//!     .create(CreateSessionParams::new(Mode::BidirectionalTranslation).languages(Language::EN, Language::ES))
//!     .await?;
//! println!("created {} ({:?} credits left)", session.id, session.meta().credits_remaining());
//!
//! let ended = client.sessions().end(&session.id).await?;
//! let transcript = client.sessions().transcript(&session.id).await?;
//! for turn in &transcript.turns {
//!     println!("{}: {}", turn.speaker, turn.text);
//! }
//! # let _ = ended;
//! # Ok(()) }
//! ```
//!
//! What the client does for you:
//! - authenticates with `Authorization: Bearer` (or `X-API-Key`), and never prints the key;
//! - sends a generated `Idempotency-Key` with every write that honours one, and reuses it
//!   on each retry, so a retried write is never applied twice;
//! - retries connection failures, timeouts, 429, 409 `idempotency_conflict` and 5xx with
//!   jittered exponential backoff, honouring `Retry-After`, within a client-wide budget;
//! - paces requests by the server's rate-limit headers (one pacer per client and its
//!   clones), bounds every call by an overall deadline, and caps JSON bodies;
//! - rotates the API key at run time ([`Client::set_api_key`], or an
//!   [`ApiKeySource`](credentials::ApiKeySource) after a revoked or expired key) and
//!   watches the credit balance ([`Client::watch_credits`]);
//! - returns every result as a [`Response`] carrying the request id, rate-limit and credit
//!   figures;
//! - turns every failure into one [`Error`], whose API variant has the status, code,
//!   message, request id and the scope a 403 needed.
//!
//! Response enums are open: a status, mode or code this version does not know arrives as
//! `Unknown(String)` instead of failing.
//!
//! Every model is `Serialize` and `Deserialize` in the API's own JSON shape, and
//! [`testing`] builds them as fixtures for your tests.
#![deny(missing_docs)]
// On docs.rs (`--cfg docsrs`, nightly) every feature-gated item is labelled with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod api_key;
mod backoff;
mod call;
mod client;
pub mod clock;
mod config;
pub mod credentials;
pub mod credits;
mod deadline;
mod error;
pub mod error_code;
pub mod ids;
pub mod metadata;
pub mod middleware;
pub mod model;
mod net;
mod open_enum;
pub mod pacer;
mod pages;
mod resources;
mod response;
pub mod retry;
#[cfg(feature = "stream")]
pub mod stream;
pub mod testing;
mod transport;
mod wait;
#[cfg(feature = "webhooks")]
pub mod webhooks;

pub use api_key::{ApiKey, ApiKeyError, AuthStyle, Environment};
pub use call::{Call, IdempotencyKey, RequestOptions};
pub use client::{Client, Method, RawRequest};
pub use config::{
    ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE,
    DEFAULT_MAX_RESPONSE_BODY, DEFAULT_TIMEOUT, ENV_API_KEY, ENV_BASE_URL, default_user_agent,
};
pub use credits::CreditsAlert;
pub use error::{ApiError, ConfigError, DecodeError, Error, Result, WaitedFor};
pub use error_code::{ErrorCode, ErrorType, Scope};
pub use ids::{AnalysisId, RecordingId, SessionId, TranscriptId};
pub use metadata::{Credits, RateLimit, ResponseMeta};
pub use pacer::PacerSnapshot;
pub use resources::{Analyses, Download, Downloaded, RecordingStream, Recordings, Sessions};
pub use response::Response;
pub use retry::{RetryBudget, RetryPolicy};
pub use wait::WaitOptions;

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
