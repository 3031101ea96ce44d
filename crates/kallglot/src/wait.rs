//! Polling until something is done: the one loop behind every wait helper.
//!
//! Each helper polls with the shared jittered [`Backoff`] (so many waiters do not poll in
//! step) and gives up at a [`Deadline`] that saturates, so `Duration::MAX` means "no
//! deadline" rather than a panic. Waits go through the client's [`Clock`], so tests
//! observe them without waiting.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::deadline::Deadline;
use crate::retry::Backoff;

/// How the wait helpers poll: [`Analyses::wait`](crate::Analyses::wait),
/// [`Sessions::wait_for_transcript`](crate::Sessions::wait_for_transcript) and
/// [`Sessions::wait_for_recordings`](crate::Sessions::wait_for_recordings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Give up once this much time has passed (5 minutes by default).
    pub timeout: Duration,
    /// The ceiling of the first wait between polls (1 s by default); it doubles after each
    /// poll, and each wait is jittered between half the ceiling and the ceiling.
    pub initial_interval: Duration,
    /// The longest wait between polls (15 s by default). Kallglot asks clients to prefer
    /// webhooks to tight polling, so the interval grows.
    pub max_interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(300),
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(15),
        }
    }
}

impl WaitOptions {
    /// Sets the overall deadline.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the first interval between polls.
    pub fn initial_interval(mut self, interval: Duration) -> Self {
        self.initial_interval = interval;
        self
    }

    /// Sets the longest interval between polls.
    pub fn max_interval(mut self, interval: Duration) -> Self {
        self.max_interval = interval;
        self
    }

    /// The polling schedule: `initial_interval` doubling up to `max_interval`, each wait
    /// jittered between half its ceiling and the ceiling so that many waiters do not poll
    /// in step. An interval of zero is raised to 1 ms so that polling never spins.
    pub(crate) fn schedule(&self) -> Backoff {
        let floor = Duration::from_millis(1);
        Backoff::new(
            self.initial_interval.max(floor),
            self.max_interval.max(floor),
        )
    }
}

/// The pauses between the polls of one wait.
pub(crate) struct Poller {
    clock: Arc<dyn Clock>,
    deadline: Deadline,
    schedule: Backoff,
    polls: u32,
}

impl Poller {
    pub(crate) fn new(clock: Arc<dyn Clock>, options: &WaitOptions) -> Self {
        Self {
            deadline: Deadline::after(clock.now(), options.timeout),
            schedule: options.schedule(),
            clock,
            polls: 0,
        }
    }

    /// Sleeps until the next poll is due and returns `true`, or returns `false` at once
    /// when that sleep would end after the deadline: the caller then gives up.
    pub(crate) async fn pause(&mut self) -> bool {
        self.polls = self.polls.saturating_add(1);
        let wait = self.schedule.jittered(self.polls);
        if !self.deadline.allows(self.clock.now(), wait) {
            return false;
        }
        self.clock.sleep(wait).await;
        true
    }
}
