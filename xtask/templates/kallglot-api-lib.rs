//! Low-level client for the Kallglot REST API, generated from `openapi/kallglot.yaml`.
//!
//! Most users want the `kallglot` crate, which wraps this one with authentication,
//! retries, idempotency keys, response metadata and typed errors. This crate is the exact
//! shape of the spec: one method per operation on [`Client`], taking the operation's
//! parameters in order, and the request and response types in [`types`].
//!
//! Value sets that the API may extend (statuses, modes, error codes) are plain `String`s
//! here, and no type rejects unknown fields, so new API values never break decoding.
//!
//! Every request goes through an [`Executor`]. The default one sends the request as it is;
//! a wrapping SDK installs its own to add retries and to observe responses.
//!
//! # Features
//!
//! - `client` (default): the generated [`Client`], its [`Executor`] hook and the
//!   re-exported progenitor runtime; it brings in reqwest. Without it the crate is the
//!   [`types`] and the [`catalogue`] only, which need no HTTP client.
// progenitor matches `4XX` before the explicit 409 and 429 arms; they decode the same error
// type, so the unreachable arms are harmless (the spec keeps them to document Retry-After).
#![allow(clippy::all, missing_docs, rustdoc::all, unreachable_patterns)]

#[rustfmt::skip]
pub mod types;
pub mod catalogue;

#[cfg(feature = "client")]
#[rustfmt::skip]
mod client;
#[cfg(feature = "client")]
mod executor;

#[cfg(feature = "client")]
pub use client::*;
#[cfg(feature = "client")]
pub use executor::{Execute, ExecuteFuture, Executor};
