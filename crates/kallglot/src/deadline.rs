//! A point in time after which a call or a wait gives up.

use std::time::Duration;

use tokio::time::Instant;

/// When a call or a wait gives up. Built by saturating addition, so a timeout of
/// `Duration::MAX` means "never", not a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// `timeout` from `now`.
    pub(crate) fn after(now: Instant, timeout: Duration) -> Self {
        Self(now.checked_add(timeout))
    }

    /// Whether waiting `wait` from `now` still ends no later than the deadline.
    pub(crate) fn allows(&self, now: Instant, wait: Duration) -> bool {
        match (self.0, now.checked_add(wait)) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(deadline), Some(wake)) => wake <= deadline,
        }
    }

    /// The time left from `now` (zero once passed); `None` without a deadline.
    pub(crate) fn remaining(&self, now: Instant) -> Option<Duration> {
        self.0.map(|at| at.saturating_duration_since(now))
    }
}

/// What a call was waiting for when its deadline came, in
/// [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitedFor {
    /// The server's response to an attempt.
    Response,
    /// The backoff (or `Retry-After`) before the next attempt.
    Backoff,
    /// Rate-limit pacing: a slot in the window, its reset, or the first answer of it.
    RateLimitPacing,
    /// A free slot under the client's cap on requests in flight.
    InFlightSlot,
    /// A fresh key from the API key source, after the key was refused.
    KeyRefresh,
}

impl std::fmt::Display for WaitedFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Response => "a response",
            Self::Backoff => "the backoff before its next attempt",
            Self::RateLimitPacing => "rate-limit pacing",
            Self::InFlightSlot => "a slot under the in-flight cap",
            Self::KeyRefresh => "a fresh API key from its key source",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_and_compares() {
        let now = Instant::now();
        let d = Deadline::after(now, Duration::from_secs(10));
        assert!(d.allows(now, Duration::from_secs(10)));
        assert!(!d.allows(now, Duration::from_secs(11)));
        assert!(!d.allows(now, Duration::MAX));
        assert_eq!(
            d.remaining(now + Duration::from_secs(20)),
            Some(Duration::ZERO)
        );
        let never = Deadline::after(now, Duration::MAX);
        assert!(never.allows(now, Duration::MAX));
        assert_eq!(never.remaining(now), None);
    }
}
