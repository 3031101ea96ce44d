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
//!
//! # Features
//!
//! - `client` (default): the REST client and everything that sends; `stream` and the TLS
//!   features imply it. Without it (`default-features = false, features = ["webhooks"]`)
//!   the crate is the models, ids, error codes and webhooks, and compiles no HTTP client.
//! - `stream` (default): the real-time WebSocket stream.
//! - `webhooks` (default): webhook verification; `axum` adds an extractor.
//! - TLS: `rustls-aws-lc` (default), `rustls-ring`, or `native-tls` (the platform's
//!   library; when on, it is used even if a rustls feature is on too).
#![deny(missing_docs)]

pub mod api_key;
#[cfg(feature = "client")]
mod backoff;
#[cfg(feature = "client")]
mod call;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
pub mod clock;
#[cfg(feature = "client")]
mod config;
mod config_error;
#[cfg(feature = "client")]
pub mod credentials;
#[cfg(feature = "client")]
pub mod credits;
#[cfg(feature = "client")]
mod deadline;
#[cfg(feature = "client")]
mod error;
pub mod error_code;
pub mod ids;
#[cfg(feature = "client")]
pub mod metadata;
#[cfg(feature = "client")]
pub mod middleware;
pub mod model;
#[cfg(feature = "client")]
mod net;
mod open_enum;
#[cfg(feature = "client")]
pub mod pacer;
#[cfg(feature = "client")]
mod pages;
#[cfg(feature = "client")]
mod resources;
#[cfg(feature = "client")]
mod response;
#[cfg(feature = "client")]
pub mod retry;
#[cfg(feature = "stream")]
pub mod stream;
pub mod testing;
#[cfg(feature = "client")]
mod transport;
#[cfg(feature = "client")]
mod wait;
#[cfg(feature = "webhooks")]
pub mod webhooks;

pub use api_key::{ApiKey, ApiKeyError, AuthStyle, Environment};
pub use config_error::ConfigError;
pub use error_code::{ErrorCode, ErrorType, Scope};
pub use ids::{AnalysisId, RecordingId, SessionId, TranscriptId};

#[cfg(feature = "client")]
pub use call::{Call, IdempotencyKey, RequestOptions};
#[cfg(feature = "client")]
pub use client::{Client, Method, RawRequest};
#[cfg(feature = "client")]
pub use config::{
    ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DEADLINE,
    DEFAULT_MAX_RESPONSE_BODY, DEFAULT_TIMEOUT, ENV_API_KEY, ENV_BASE_URL, default_user_agent,
};
#[cfg(feature = "client")]
pub use credits::CreditsAlert;
#[cfg(feature = "client")]
pub use error::{ApiError, DecodeError, Error, Result, WaitedFor};
#[cfg(feature = "client")]
pub use metadata::{Credits, RateLimit, ResponseMeta};
#[cfg(feature = "client")]
pub use pacer::PacerSnapshot;
#[cfg(feature = "client")]
pub use resources::{Analyses, Download, Downloaded, RecordingStream, Recordings, Sessions};
#[cfg(feature = "client")]
pub use response::Response;
#[cfg(feature = "client")]
pub use retry::{RetryBudget, RetryPolicy};
#[cfg(feature = "client")]
pub use wait::WaitOptions;

/// The README's Rust examples, compiled as doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
