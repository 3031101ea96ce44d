//! One backoff schedule for everything that waits and tries again: request retries,
//! stream reconnects and the polling helpers.
//!
//! Having one type keeps the arithmetic in one place: it saturates (any attempt number
//! and any durations, `Duration::MAX` included, are safe) and it always jitters, so
//! clients that failed together do not come back together.

use std::time::Duration;

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Exponential backoff with "equal jitter" and a cap.
///
/// With `n = max(attempt, 1)`:
///
/// ```text
/// ceiling = min(initial × 2^(n-1), max)
/// delay   = ceiling / 2 + jitter × (ceiling - ceiling / 2)
/// ```
///
/// so the delay lies in [`ceiling / 2`, `ceiling`]: never above `max`, and never zero
/// unless the durations are. Half of it is fixed so that waiting always backs off
/// meaningfully; half is random so that callers failing together spread out.
///
/// ```
/// use std::time::Duration;
/// use kallglot::retry::Backoff;
///
/// let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(8));
/// // The third wait lies between 1 s and 2 s; `jitter` picks where.
/// assert_eq!(backoff.delay(3, 0.0), Duration::from_secs(1));
/// assert_eq!(backoff.delay(3, 1.0), Duration::from_secs(2));
/// // Far attempts stay at the cap, and nothing overflows.
/// assert!(backoff.delay(u32::MAX, 0.5) <= Duration::from_secs(8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Backoff {
    /// The ceiling of the first wait.
    pub initial: Duration,
    /// The largest wait.
    pub max: Duration,
}

impl Backoff {
    /// A schedule that starts at `initial` and doubles up to `max`. A `max` below
    /// `initial` caps every wait at `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max }
    }

    /// The wait before attempt `attempt + 1`, after `attempt` failures (`0` counts as
    /// `1`). `jitter` is a number in [0, 1) (in production `fastrand::f64()`); values
    /// outside are clamped into [0, 1] and NaN counts as 0, so a bad random source cannot
    /// cause a panic.
    #[must_use]
    pub fn delay(&self, attempt: u32, jitter: f64) -> Duration {
        let ceiling = self.ceiling(attempt);
        let fixed = ceiling / 2;
        fixed + scale(ceiling - fixed, jitter)
    }

    /// [`delay`](Self::delay) with a fresh random jitter.
    #[must_use]
    pub fn jittered(&self, attempt: u32) -> Duration {
        self.delay(attempt, fastrand::f64())
    }

    /// `min(initial × 2^(attempt-1), max)`, saturating.
    fn ceiling(&self, attempt: u32) -> Duration {
        let exponent = attempt.max(1) - 1;
        let doubled = 2u32
            .checked_pow(exponent)
            .and_then(|factor| self.initial.checked_mul(factor));
        match doubled {
            Some(delay) => delay.min(self.max),
            // Zero doubled any number of times is still zero.
            None if self.initial.is_zero() => Duration::ZERO,
            // The true value exceeds `Duration::MAX`, hence any cap.
            None => self.max,
        }
    }
}

/// `duration × fraction`, rounded to the nanosecond, with `fraction` forced into [0, 1]
/// (NaN → 0); the result never exceeds `duration` and the function never panics, unlike
/// [`Duration::mul_f64`] on odd inputs.
pub(crate) fn scale(duration: Duration, fraction: f64) -> Duration {
    let fraction = if fraction.is_nan() {
        0.0
    } else {
        fraction.clamp(0.0, 1.0)
    };
    let nanos = duration.as_nanos();
    // `as` from f64 saturates; the `min` absorbs f64 rounding upwards.
    let scaled = ((nanos as f64) * fraction).round() as u128;
    duration_from_nanos(scaled.min(nanos))
}

/// Builds a duration from nanoseconds, saturating at [`Duration::MAX`].
/// (`Duration::from_nanos_u128` is newer than the crate's MSRV.)
pub(crate) fn duration_from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    // The remainder is below 10^9, so it fits in a u32.
    let subsec = (nanos % NANOS_PER_SEC) as u32;
    Duration::new(secs, subsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_then_caps_within_equal_jitter_bounds() {
        let backoff = Backoff::new(ms(500), ms(8_000));
        let ceilings = [500, 500, 1_000, 2_000, 4_000, 8_000, 8_000, 8_000];
        for (attempt, ceiling) in (0..).zip(ceilings) {
            assert_eq!(backoff.delay(attempt, 0.0), ms(ceiling / 2), "{attempt}");
            assert_eq!(backoff.delay(attempt, 1.0), ms(ceiling), "{attempt}");
            let d = backoff.jittered(attempt);
            assert!(d >= ms(ceiling / 2) && d <= ms(ceiling), "{attempt}: {d:?}");
        }
    }

    #[test]
    fn extreme_inputs_saturate() {
        for backoff in [
            Backoff::new(Duration::MAX, Duration::MAX),
            Backoff::new(Duration::ZERO, Duration::MAX),
            Backoff::new(ms(10), Duration::ZERO),
            Backoff::new(Duration::MAX, ms(1)),
        ] {
            for attempt in [0, 1, 2, 63, 64, u32::MAX] {
                for jitter in [0.0, 0.5, 1.0, -1.0, 2.0, f64::NAN, f64::INFINITY] {
                    assert!(backoff.delay(attempt, jitter) <= backoff.max.max(backoff.initial));
                }
            }
        }
        assert_eq!(Backoff::new(Duration::MAX, ms(1)).delay(1, 1.0), ms(1));
    }
}
