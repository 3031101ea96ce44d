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
// progenitor matches `4XX` before the explicit 409 and 429 arms; they decode the same error
// type, so the unreachable arms are harmless (the spec keeps them to document Retry-After).
#![allow(clippy::all, missing_docs, rustdoc::all, unreachable_patterns)]

#[rustfmt::skip]
mod generated;
pub mod catalogue;

pub use generated::*;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The future an [`Execute`] implementation returns.
pub type ExecuteFuture<'a> =
    Pin<Box<dyn Future<Output = reqwest::Result<reqwest::Response>> + Send + 'a>>;

/// Sends the requests that the generated operations build.
///
/// Implement it to wrap every call, for example to retry a request or to record what came
/// back. `operation_id` is the spec's operationId, such as `create_session`.
pub trait Execute: Send + Sync {
    /// Sends `request` with `client` and returns the final response.
    fn execute<'a>(
        &'a self,
        client: &'a reqwest::Client,
        request: reqwest::Request,
        operation_id: &'static str,
    ) -> ExecuteFuture<'a>;
}

/// The [`Client`]'s request executor: the default sends each request once, as built.
#[derive(Clone, Default)]
pub struct Executor(Option<Arc<dyn Execute>>);

impl Executor {
    /// An executor that hands every request to `execute`.
    pub fn new(execute: Arc<dyn Execute>) -> Self {
        Self(Some(execute))
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Executor(custom)"
        } else {
            "Executor(default)"
        })
    }
}

impl progenitor_client::ClientHooks<Executor> for Client {
    async fn exec(
        &self,
        request: reqwest::Request,
        info: &progenitor_client::OperationInfo,
    ) -> reqwest::Result<reqwest::Response> {
        match &self.inner.0 {
            Some(execute) => {
                execute
                    .execute(&self.client, request, info.operation_id)
                    .await
            }
            None => self.client.execute(request).await,
        }
    }
}
