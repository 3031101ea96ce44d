//! The time source the client waits with: retry backoff, retry budget windows, rate-limit
//! pacing, call deadlines and analysis polling.
//!
//! Production code uses [`TokioClock`]. Tests can install a [`ManualClock`], whose `sleep`
//! returns at once and moves its own time forward, so retry and polling schedules can be
//! asserted exactly without waiting. A manual clock cannot make one task wait for another
//! (a sleep that ends at once cannot bound a wait), so tests of concurrent calls under
//! pacing or an in-flight cap use tokio's paused clock with [`TokioClock`] instead.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// A future returned by [`Clock::sleep`].
pub type SleepFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A source of time the client waits on.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Instant;
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> SleepFuture;
}

/// Tokio's timer (so tokio's paused test time applies to it as well).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock for tests: `sleep` returns immediately, advances [`now`](Clock::now) by the
/// requested duration, and records it.
#[derive(Clone)]
pub struct ManualClock {
    state: Arc<Mutex<ManualState>>,
}

struct ManualState {
    now: Instant,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// A clock starting at the current instant.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::clock::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let start = clock.now();
    /// clock.advance(Duration::from_secs(5));
    /// assert_eq!(clock.now() - start, Duration::from_secs(5));
    /// ```
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(ManualState {
                now: Instant::now(),
                sleeps: Vec::new(),
            })),
        }
    }

    /// Every duration slept so far, in order.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::clock::{Clock, ManualClock};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let clock = ManualClock::new();
    /// clock.sleep(Duration::from_millis(500)).await; // returns at once
    /// clock.sleep(Duration::from_secs(1)).await;
    /// assert_eq!(clock.sleeps(), [Duration::from_millis(500), Duration::from_secs(1)]);
    /// # }
    /// ```
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    /// Moves time forward without recording a sleep.
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::clock::{Clock, ManualClock};
    ///
    /// let clock = ManualClock::new();
    /// let before = clock.now();
    /// clock.advance(Duration::from_secs(60)); // say, past a rate-limit reset
    /// assert!(clock.now() >= before + Duration::from_secs(60));
    /// assert!(clock.sleeps().is_empty(), "advancing is not sleeping");
    /// ```
    pub fn advance(&self, duration: Duration) {
        self.lock().now += duration;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // A panic elsewhere while holding the lock leaves the state consistent (plain
        // values), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("sleeps", &self.lock().sleeps.len())
            .finish()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> SleepFuture {
        let mut state = self.lock();
        // A sleep "for ever" (Duration::MAX) moves time far ahead instead of overflowing.
        const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
        state.now = state
            .now
            .checked_add(duration)
            .unwrap_or_else(|| state.now + FAR);
        state.sleeps.push(duration);
        Box::pin(std::future::ready(()))
    }
}

/// Runs `future` until it completes or `wait` passes on `clock`, whichever is first;
/// `None` when the wait ran out. The future is polled first, so one that is ready wins
/// even against a [`ManualClock`], whose sleeps end at once.
pub(crate) async fn within<F: Future>(
    clock: &dyn Clock,
    wait: Duration,
    future: F,
) -> Option<F::Output> {
    use futures_util::FutureExt;
    use futures_util::future::{Either, select};
    let mut future = std::pin::pin!(future);
    // Polled once before the sleep is even created: a manual clock moves its time when a
    // sleep is created, which must not happen for a wait that was not needed.
    if let Some(output) = future.as_mut().now_or_never() {
        return Some(output);
    }
    match select(future, clock.sleep(wait)).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(((), _)) => None,
    }
}
