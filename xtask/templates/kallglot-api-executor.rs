//! The request executor hook of the generated [`Client`](crate::Client).

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

impl progenitor_client::ClientHooks<Executor> for crate::Client {
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
