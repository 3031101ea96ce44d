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
//! | feature | default | what it adds |
//! |---|---|---|
//! | `client` | yes | the REST [`Client`] and everything that sends; `stream` and the TLS features imply it |
//! | `stream` | yes | [`stream`]: the real-time WebSocket stream, audio conversion (μ-law, resampling, framing) and a WAV reader |
//! | `webhooks` | yes | [`webhooks`]: signature verification, typed events, delivery headers, de-duplication |
//! | `rustls-aws-lc` | yes | TLS through rustls with the aws-lc-rs provider |
//! | `rustls-ring` | no | TLS through rustls with the ring provider (used when `rustls-aws-lc` is off) |
//! | `native-tls` | no | TLS through the platform's library (OpenSSL on Linux); when on, it is used even if a rustls feature is on too |
//! | `axum` | no | the `VerifiedWebhook` extractor for axum handlers (turns on `webhooks`) |
//! | `redis` | no | `RedisDeduplicator`: webhook de-duplication shared by several replicas through Redis (turns on `webhooks`) |
//!
//! Without `client` (`default-features = false, features = ["webhooks"]`, or `["axum"]`)
//! the crate is the models, ids, error codes and webhooks, and compiles no HTTP client.
//!
//! # Where things are
//!
//! | for | look at |
//! |---|---|
//! | configuring a client: key, base URL, timeouts, deadline, proxy, your own `reqwest::Client` | [`Client`], [`ClientBuilder`] |
//! | sessions, transcripts, recordings, analyses, and the waits for them | [`Sessions`], [`Recordings`], [`Analyses`] (`client.sessions()`, …) |
//! | request parameters and response models (routing, AI agents, languages) | [`model`] |
//! | routes the SDK does not model yet (agents, dial) | [`Client::request`] |
//! | errors and their codes | [`Error`], [`ApiError`], [`ErrorCode`] ([`error_code`]) |
//! | retries and the retry budget | [`RetryPolicy`], [`RetryBudget`] ([`retry`]) |
//! | rate-limit pacing and credits | [`Client::rate_limit_state`] ([`pacer`]), [`Client::watch_credits`] ([`credits`]) |
//! | the request id, rate limit and credits of an answer | [`Response`], [`ResponseMeta`] ([`metadata`]) |
//! | API keys and rotating them at run time | [`ApiKey`] ([`api_key`]), [`Client::set_api_key`], [`credentials::ApiKeySource`] |
//! | headers on every attempt, observing every answer | [`middleware`] |
//! | live audio in, transcripts and translations out | [`stream`], [`stream::audio`] |
//! | receiving webhooks | [`webhooks`] |
//! | fixtures and an injectable clock for your tests | [`testing`], [`clock`]; the `kallglot-mock` crate for a whole emulated API |
//!
//! # Examples
//!
//! The repository's [`examples/`](https://github.com/kallglot/kallglot-rust/tree/main/examples)
//! holds runnable programs; each runs against an embedded emulator when
//! `KALLGLOT_API_KEY` is unset (`cargo run -p kallglot-examples --bin quickstart`):
//!
//! - [quickstart](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/quickstart.rs): create a session, end it, read its transcript;
//! - [stereo_wav](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/stereo_wav.rs): stream a stereo recording, both parties in real time;
//! - [webhook_receiver](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/webhook_receiver.rs): an axum receiver with de-duplication;
//! - [webhook_replicas](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/webhook_replicas.rs): receivers on several replicas, each event processed once through Redis;
//! - [errors_and_retries](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/errors_and_retries.rs): automatic retries, and branching on error codes;
//! - [recording_and_analysis](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/recording_and_analysis.rs): download a recording, wait for an analysis;
//! - [rate_limits_and_credits](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/rate_limits_and_credits.rs): pacing a burst, watching the credits;
//! - [key_rotation](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/key_rotation.rs): rotating the API key of a running client;
//! - [opentelemetry](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/opentelemetry.rs): the SDK's spans exported through OpenTelemetry;
//! - [testing_with_mock](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/testing_with_mock.rs): testing your code with `kallglot-mock` and fault injection;
//! - [own_http_client](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/own_http_client.rs): your own `reqwest::Client` behind a proxy;
//! - [routing](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/routing.rs): a session on a phone number, a connection or SIP;
//! - [raw_requests](https://github.com/kallglot/kallglot-rust/tree/main/examples/src/bin/raw_requests.rs): the escape hatch for the Agents API and dial.
#![deny(missing_docs)]
// On docs.rs (`--cfg docsrs`, nightly) every feature-gated item is labelled with the
// features it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

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
#[cfg(feature = "client")]
mod route;
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
