//! Per-call options and the awaitable [`Call`] every resource method returns.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::error::{ConfigError, Error, Result};
use crate::response::Response;

/// An `Idempotency-Key`: makes a write safe to retry.
///
/// The client generates one (a UUID v4) for every call to a route that honours keys, and
/// reuses it on each retry of that call. Supply your own to make a write idempotent across
/// calls too, for example across a restart of your process.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The longest key accepted.
    pub const MAX_LEN: usize = 255;

    /// Validates a key: non-empty, at most 255 characters, printable ASCII only (it travels
    /// in an HTTP header).
    pub fn new(key: impl Into<String>) -> Result<Self, ConfigError> {
        let key = key.into();
        if key.is_empty() {
            return Err(ConfigError::InvalidIdempotencyKey("it is empty"));
        }
        if key.len() > Self::MAX_LEN {
            return Err(ConfigError::InvalidIdempotencyKey(
                "it is longer than 255 characters",
            ));
        }
        if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            return Err(ConfigError::InvalidIdempotencyKey(
                "it has characters other than printable ASCII",
            ));
        }
        Ok(Self(key))
    }

    /// A fresh random key (UUID v4).
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// The key as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({:?})", self.0)
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Options for one call, overriding the client's defaults.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RequestOptions {
    /// The idempotency key to send (routes that honour keys only).
    pub idempotency_key: Option<IdempotencyKey>,
    /// Maximum retries for this call.
    pub max_retries: Option<u32>,
    /// Total timeout of each attempt of this call.
    pub timeout: Option<Duration>,
    /// Overall deadline of this call: attempts, backoff and rate-limit pacing together.
    pub deadline: Option<Duration>,
}

/// Per-call options as a builder collects them: setters never fail, so the first
/// invalid value is kept and reported when the call is awaited, before anything is sent.
#[derive(Debug, Clone, Default)]
pub(crate) struct PendingOptions {
    options: RequestOptions,
    invalid: Option<ConfigError>,
}

impl PendingOptions {
    pub(crate) fn idempotency_key(&mut self, key: impl Into<String>) {
        match IdempotencyKey::new(key) {
            Ok(key) => self.options.idempotency_key = Some(key),
            Err(e) => self.invalid = Some(e),
        }
    }

    pub(crate) fn max_retries(&mut self, retries: u32) {
        self.options.max_retries = Some(retries);
    }

    pub(crate) fn timeout(&mut self, timeout: Duration) {
        if timeout.is_zero() {
            self.invalid = Some(ConfigError::ZeroTimeout("the call timeout"));
        }
        self.options.timeout = Some(timeout);
    }

    pub(crate) fn deadline(&mut self, deadline: Duration) {
        if deadline.is_zero() {
            self.invalid = Some(ConfigError::ZeroTimeout("the call deadline"));
        }
        self.options.deadline = Some(deadline);
    }

    pub(crate) fn replace(&mut self, options: RequestOptions) {
        self.options = options;
    }

    /// The options, or the first invalid value given.
    pub(crate) fn finish(self) -> Result<RequestOptions, ConfigError> {
        match self.invalid {
            Some(e) => Err(e),
            None => Ok(self.options),
        }
    }
}

/// A call's work, type-erased: what to run before the first poll, the running request
/// after it. One allocation holds both stages.
trait Task<T>: Send {
    /// Polls the call; on the first poll it starts it with `options`, or fails with the
    /// options' first invalid value.
    fn poll_task(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        options: &mut PendingOptions,
    ) -> Poll<Result<Response<T>>>;
}

pin_project_lite::pin_project! {
    /// The two stages of a [`Task`]. The future is created in place when the call starts,
    /// inside the allocation made for the call (where the closure that creates it was),
    /// instead of in a second allocation.
    #[project = StageProj]
    enum Stage<F, Fut> {
        Start { run: Option<F> },
        // The call's span is entered here, around each poll, rather than by wrapping the
        // future in `Instrumented`: a wrapper would be one more level the (large) future
        // is moved through when it is created.
        Run { span: tracing::Span, #[pin] future: Fut },
    }
}

impl<T, F, Fut> Task<T> for Stage<F, Fut>
where
    F: FnOnce(RequestOptions) -> (tracing::Span, Fut) + Send,
    Fut: Future<Output = Result<Response<T>>> + Send,
{
    fn poll_task(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        options: &mut PendingOptions,
    ) -> Poll<Result<Response<T>>> {
        if let StageProj::Start { run } = self.as_mut().project() {
            // The first poll: the options are final now, so check them and start.
            let run = run.take().expect("a call starts once");
            match std::mem::take(options).finish() {
                Ok(options) => {
                    let (span, future) = run(options);
                    self.set(Stage::Run { span, future });
                }
                Err(e) => return Poll::Ready(Err(Error::Config(e))),
            }
        }
        match self.project() {
            StageProj::Run { span, future } => {
                let _entered = span.enter();
                future.poll(cx)
            }
            StageProj::Start { .. } => unreachable!("the call was started above"),
        }
    }
}

/// A call to the API, ready to be awaited.
///
/// Resource methods return a `Call`, so per-call options read naturally before `.await`:
///
/// ```no_run
/// # async fn demo(client: kallglot::Client) -> kallglot::Result<()> {
/// use kallglot::model::{CreateSessionParams, Mode};
/// let session = client
///     .sessions()
///     .create(CreateSessionParams::new(Mode::BidirectionalTranslation))
///     .idempotency_key("order-1042-call")
///     .max_retries(5)
///     .await?;
/// # Ok(()) }
/// ```
///
/// A `Call` is itself a [`Future`] (and `Unpin`), so it composes with future adapters
/// directly: `futures::future::join_all(calls)`, `tokio::select!`, or
/// `tracing::Instrument::instrument(call, span)`. Nothing is sent until it is first
/// polled; set the options before that.
#[must_use = "a Call does nothing until it is awaited"]
pub struct Call<T> {
    options: PendingOptions,
    /// What to run, then the running request; `None` once the call has completed.
    task: Option<Pin<Box<dyn Task<T>>>>,
}

impl<T: Send + 'static> Call<T> {
    /// A call that runs `run`'s future, outside any span of its own.
    #[cfg(test)]
    pub(crate) fn new<F, Fut>(run: F) -> Self
    where
        F: FnOnce(RequestOptions) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<T>>> + Send + 'static,
    {
        Self::with_options(PendingOptions::default(), run)
    }

    /// A call with options already collected (by a [`RawRequest`](crate::RawRequest)).
    pub(crate) fn with_options<F, Fut>(options: PendingOptions, run: F) -> Self
    where
        F: FnOnce(RequestOptions) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Response<T>>> + Send + 'static,
    {
        Self::in_span_with_options(options, move |options| {
            (tracing::Span::none(), run(options))
        })
    }

    /// A call whose future runs inside the span `run` returns with it (entered around
    /// every poll).
    pub(crate) fn in_span<F, Fut>(run: F) -> Self
    where
        F: FnOnce(RequestOptions) -> (tracing::Span, Fut) + Send + 'static,
        Fut: Future<Output = Result<Response<T>>> + Send + 'static,
    {
        Self::in_span_with_options(PendingOptions::default(), run)
    }

    fn in_span_with_options<F, Fut>(options: PendingOptions, run: F) -> Self
    where
        F: FnOnce(RequestOptions) -> (tracing::Span, Fut) + Send + 'static,
        Fut: Future<Output = Result<Response<T>>> + Send + 'static,
    {
        Self {
            options,
            task: Some(Box::pin(Stage::<F, Fut>::Start { run: Some(run) })),
        }
    }

    /// Sends this idempotency key instead of a generated one. Routes that do not honour
    /// keys (reads) ignore it. An invalid key fails the call before anything is sent.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.options.idempotency_key(key);
        self
    }

    /// Overrides the client's maximum number of retries for this call.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.options.max_retries(retries);
        self
    }

    /// Overrides the client's total timeout for each attempt of this call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout(timeout);
        self
    }

    /// Overrides the client's overall deadline for this call, which covers every attempt,
    /// the backoff between them and rate-limit pacing. When it passes the call fails with
    /// [`Error::DeadlineExceeded`], saying what it was waiting for.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.options.deadline(deadline);
        self
    }

    /// Applies a whole set of options.
    pub fn options(mut self, options: RequestOptions) -> Self {
        self.options.replace(options);
        self
    }
}

impl<T> fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<T> Future for Call<T> {
    type Output = Result<Response<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(task) = this.task.as_mut() else {
            panic!("a Call was polled after it completed");
        };
        let output = std::task::ready!(task.as_mut().poll_task(cx, &mut this.options));
        // Done: the request and what it held are freed now, not when the Call is dropped.
        this.task = None;
        Poll::Ready(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_validated() {
        assert!(IdempotencyKey::new("order-1042").is_ok());
        assert!(IdempotencyKey::new("a".repeat(255)).is_ok());
        assert_eq!(
            IdempotencyKey::new(""),
            Err(ConfigError::InvalidIdempotencyKey("it is empty"))
        );
        assert!(IdempotencyKey::new("a".repeat(256)).is_err());
        assert!(IdempotencyKey::new("tab\there").is_err());
        assert!(IdempotencyKey::new("é").is_err());
        let generated = IdempotencyKey::generate();
        assert_eq!(generated.as_str().len(), 36);
        assert_ne!(generated, IdempotencyKey::generate());
    }

    #[tokio::test]
    async fn a_call_is_a_send_unpin_future() {
        fn future<F: Future + Send + Unpin>(f: F) -> F {
            f
        }
        let call: Call<u8> = Call::new(|options| async move {
            assert_eq!(
                options.max_retries,
                Some(1),
                "options set before the poll apply"
            );
            tokio::task::yield_now().await;
            Ok(Response::new(7, Default::default()))
        });
        assert_eq!(*future(call.max_retries(1)).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn an_invalid_key_fails_before_running() {
        let call: Call<()> = Call::new(|_| async { panic!("must not run") });
        let err = call.idempotency_key("").await.unwrap_err();
        assert!(matches!(
            err,
            Error::Config(ConfigError::InvalidIdempotencyKey(_))
        ));
    }
}
