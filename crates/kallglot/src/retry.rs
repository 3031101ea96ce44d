//! When a failed request is tried again, and how long to wait first.
//!
//! The rules are small pure functions so they can be checked row by row
//! without a server, a clock or a random number generator. The HTTP layer
//! describes one failed attempt as an [`Attempt`], asks [`decide`] what to do,
//! and before it really retries asks the client-wide [`RetryBudget`] for
//! permission. Randomness (`jitter`) and time (`now`) are passed in by the
//! caller for the same reason: tests can use fixed values.
//!
//! What is retried, following the Kallglot API reference:
//!
//! | failure                                   | retried?                              |
//! |-------------------------------------------|---------------------------------------|
//! | [`Failure::Connect`]                      | yes, for every method                 |
//! | [`Failure::Timeout`]                      | only if the request is idempotent     |
//! | 429, 500, 502, 503, 504                   | only if the request is idempotent     |
//! | 409 `idempotency_conflict` or Retry-After | only if the request is idempotent     |
//! | any other status (400, 401, 404, 422, …)  | never                                 |
//!
//! "Idempotent" means a GET, or a POST that carries an idempotency key which is
//! reused unchanged on every attempt.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

pub use crate::backoff::Backoff;
use crate::backoff::{duration_from_nanos, scale};

/// The error code the API returns with a 409 when a request with the same
/// idempotency key is still being processed.
const IDEMPOTENCY_CONFLICT: &str = "idempotency_conflict";

/// The smallest random spread added on top of a server-requested wait.
///
/// Even "retry now" (a `Retry-After: 0`) gets up to this much extra, so that
/// many clients told the same thing do not all come back in the same
/// millisecond.
const SERVER_WAIT_SPREAD_MIN: Duration = Duration::from_millis(100);

/// The largest random spread added on top of a server-requested wait.
///
/// The spread is `100ms + wait / 10`, capped here: enough to spread out
/// clients that were all given the same rate-limit reset, while never making a
/// caller wait much beyond what the server asked for.
const SERVER_WAIT_SPREAD_MAX: Duration = Duration::from_secs(1);

/// How many times, and how patiently, a failed request is retried.
///
/// The defaults (two retries, backoff from 500ms up to 8s, waiting at most 60s
/// for a server-requested delay) keep a call that hits a short outage under
/// about ten seconds in the worst case, while still riding out a typical
/// restart or a rate-limit window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryPolicy {
    /// Retries allowed after the first attempt; `0` turns retrying off.
    ///
    /// A request is therefore sent at most `max_retries + 1` times.
    pub max_retries: u32,
    /// The first retry's backoff before jitter; each later retry doubles it
    /// (see [`backoff`]).
    pub initial_backoff: Duration,
    /// The largest backoff the doubling may reach.
    ///
    /// It does not bound waits the server asked for: those are bounded by
    /// [`max_retry_after`](Self::max_retry_after), because the server knows
    /// better than our guess when it will be ready.
    pub max_backoff: Duration,
    /// The longest server-requested wait (`Retry-After`, or the rate-limit
    /// reset of a 429) the SDK sits through on the caller's behalf.
    ///
    /// A longer wait stops with [`StopReason::RetryAfterTooLong`] so that the
    /// error, carrying the wait, reaches the caller: a program blocked for
    /// minutes inside an SDK call is worse than one that can decide itself.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    /// The values behind [`Default`], as a constant so the `const` builders
    /// can start from it.
    const DEFAULT: Self = Self {
        max_retries: 2,
        initial_backoff: Duration::from_millis(500),
        max_backoff: Duration::from_secs(8),
        max_retry_after: Duration::from_secs(60),
    };

    /// A policy that never retries: every failure is returned as it is.
    ///
    /// The other fields keep their defaults so that turning retries back on
    /// with [`with_max_retries`](Self::with_max_retries) gives sane timing.
    #[must_use]
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::RetryPolicy;
    ///
    /// let policy = RetryPolicy::no_retries();
    /// assert_eq!(policy.max_retries, 0);
    /// assert_eq!(policy.initial_backoff, RetryPolicy::default().initial_backoff);
    /// // A client for a batch job that handles its own failures:
    /// let builder = kallglot::Client::builder().retry_policy(policy);
    /// # let _ = (builder, Duration::ZERO);
    /// ```
    pub const fn no_retries() -> Self {
        Self::DEFAULT.with_max_retries(0)
    }

    /// The backoff schedule between retries: `initial_backoff` doubling up to
    /// `max_backoff`.
    #[must_use]
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default()
    ///     .with_initial_backoff(Duration::from_millis(100))
    ///     .with_max_backoff(Duration::from_millis(300));
    /// let backoff = policy.backoff();
    /// // The ceilings (jitter 1) after one, two and five failures: 100ms, 200ms, then
    /// // capped at 300ms. Jitter spreads each wait over the upper half of its ceiling.
    /// assert_eq!(backoff.delay(1, 1.0), Duration::from_millis(100));
    /// assert_eq!(backoff.delay(2, 1.0), Duration::from_millis(200));
    /// assert_eq!(backoff.delay(5, 1.0), Duration::from_millis(300));
    /// assert_eq!(backoff.delay(2, 0.0), Duration::from_millis(100));
    /// ```
    pub const fn backoff(&self) -> Backoff {
        Backoff::new(self.initial_backoff, self.max_backoff)
    }

    /// Sets [`max_retries`](Self::max_retries).
    #[must_use]
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::RetryPolicy;
    ///
    /// // Up to five attempts in all.
    /// let policy = RetryPolicy::default().with_max_retries(4);
    /// assert_eq!(policy.max_retries, 4);
    /// # let _ = Duration::ZERO;
    /// ```
    pub const fn with_max_retries(mut self, max_retries: u32) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets [`initial_backoff`](Self::initial_backoff).
    #[must_use]
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::RetryPolicy;
    ///
    /// const PATIENT: RetryPolicy = RetryPolicy::no_retries()
    ///     .with_max_retries(6)
    ///     .with_initial_backoff(Duration::from_secs(1));
    /// assert_eq!(PATIENT.initial_backoff, Duration::from_secs(1));
    /// ```
    pub const fn with_initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// Sets [`max_backoff`](Self::max_backoff).
    #[must_use]
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::RetryPolicy;
    ///
    /// let policy = RetryPolicy::default().with_max_backoff(Duration::from_secs(2));
    /// assert_eq!(policy.max_backoff, Duration::from_secs(2));
    /// ```
    pub const fn with_max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// Sets [`max_retry_after`](Self::max_retry_after).
    #[must_use]
    ///
    /// ```
    /// use std::time::Duration;
    /// use kallglot::RetryPolicy;
    ///
    /// // Sit through a Retry-After of up to five minutes rather than failing the call.
    /// let policy = RetryPolicy::default().with_max_retry_after(Duration::from_secs(300));
    /// let client = kallglot::Client::builder().retry_policy(policy);
    /// # let _ = client;
    /// ```
    pub const fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }
}

impl Default for RetryPolicy {
    /// Two retries, backoff 500ms doubling up to 8s, and server-requested
    /// waits of up to 60s honoured.
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What went wrong with one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure<'a> {
    /// The connection could not be made: the request never left the client.
    ///
    /// DNS failures, refused connections and failed TLS handshakes belong
    /// here. Because the server cannot have seen the request, retrying it is
    /// safe for every method.
    Connect,
    /// The attempt timed out, or the connection broke after the request was
    /// sent.
    ///
    /// The server may have received and even executed the request, so it is
    /// only retried when doing it twice is harmless (the request is
    /// idempotent).
    Timeout,
    /// A non-2xx HTTP answer.
    Status {
        /// The HTTP status code.
        status: u16,
        /// The machine-readable `code` from the error body, if any.
        code: Option<&'a str>,
        /// How long the server asked us to wait.
        ///
        /// The caller resolves the source: the `Retry-After` header (in
        /// seconds) wins over the error body's `retry_after`.
        retry_after: Option<Duration>,
        /// Time until the rate-limit window resets (from `X-RateLimit-Reset`,
        /// a Unix time, minus now).
        ///
        /// Only used for a 429 without a `retry_after`: the reset says when
        /// the quota refills, which is meaningless for other errors.
        rate_limit_reset_in: Option<Duration>,
    },
}

/// One failed attempt, as [`decide`] needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt<'a> {
    /// Attempts already made, counting the one that just failed: 1 after the
    /// first.
    ///
    /// `0` is treated like `1`.
    pub attempts_made: u32,
    /// Whether sending the request again cannot repeat its effect: a GET, or
    /// a POST with an idempotency key that every attempt reuses.
    pub idempotent: bool,
    /// What went wrong.
    pub failure: Failure<'a>,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Give up and return the error; the reason says why.
    Stop(StopReason),
    /// Wait this long, then send the request again.
    Retry(Duration),
}

/// Why [`decide`] gave up.
///
/// When several apply, the first in this list is reported: it is the most
/// fundamental one (a 404 is "not retryable" whether or not retries are left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The failure cannot be fixed by trying again (for example a 400, 404 or
    /// 422): the request itself is wrong.
    NotRetryable,
    /// The failure might be transient, but the server may already have acted
    /// on the request and it carries no idempotency key, so a retry could do
    /// the work twice.
    NotIdempotent,
    /// All [`RetryPolicy::max_retries`] retries have been used.
    AttemptsExhausted,
    /// The server asked for a wait longer than
    /// [`RetryPolicy::max_retry_after`]; the caller gets the error with that
    /// wait and can decide.
    RetryAfterTooLong,
}

/// How a failure may be retried, before looking at attempts and timing.
enum Retryability {
    /// Trying again cannot help.
    Never,
    /// Safe whatever the method: the server never saw the request.
    Always,
    /// Worth trying again, but only if the request is idempotent; carries the
    /// wait the server asked for, if any.
    IfIdempotent { server_wait: Option<Duration> },
}

fn classify(failure: &Failure<'_>) -> Retryability {
    match *failure {
        Failure::Connect => Retryability::Always,
        Failure::Timeout => Retryability::IfIdempotent { server_wait: None },
        Failure::Status {
            status,
            code,
            retry_after,
            rate_limit_reset_in,
        } => {
            let retryable = match status {
                // 429: the rate limit refills. 500/502/503: the API reference
                // lists them as transient. 504 is retried too although the
                // reference does not list it: it is a gateway giving up
                // waiting, the same situation as our own timeout, and is
                // gated on idempotency in the same way.
                429 | 500 | 502 | 503 | 504 => true,
                // A 409 is usually a real conflict that a retry repeats.
                // `idempotency_conflict` means the first request with this key
                // is still in flight, so a later retry gets its result. A
                // Retry-After is the server saying explicitly that waiting
                // helps, so it is trusted for any 409 code.
                409 => code == Some(IDEMPOTENCY_CONFLICT) || retry_after.is_some(),
                // Every other status, including all other 4xx, 501 and 505,
                // describes the request, not a passing condition.
                _ => false,
            };
            if !retryable {
                return Retryability::Never;
            }
            let server_wait = if status == 429 {
                retry_after.or(rate_limit_reset_in)
            } else {
                retry_after
            };
            Retryability::IfIdempotent { server_wait }
        }
    }
}

/// Whether a failure is of a kind that trying again may fix, setting aside idempotency,
/// attempt counts and waits: what [`crate::Error::is_retryable`] reports.
pub(crate) fn is_transient(failure: &Failure<'_>) -> bool {
    !matches!(classify(failure), Retryability::Never)
}

/// Decides whether to retry after a failed attempt, and how long to wait.
///
/// Pure: `jitter` is a number in [0, 1) chosen by the caller (in production
/// `fastrand::f64()`), so tests are deterministic. Values outside that range are clamped into [0, 1] and NaN
/// counts as 0, so a bad random source cannot cause a panic.
///
/// Checks, in order (the first that applies wins):
///
/// 1. The failure is not retryable (see the module table) →
///    [`StopReason::NotRetryable`]. Retry-After on such a status is ignored.
/// 2. It is retryable only for idempotent requests and this one is not →
///    [`StopReason::NotIdempotent`]. [`Failure::Connect`] skips this check.
/// 3. `attempts_made > policy.max_retries` → [`StopReason::AttemptsExhausted`],
///    so at most `max_retries` retries follow the first attempt.
/// 4. The server asked for a wait (`retry_after`, or for a 429 without it,
///    `rate_limit_reset_in`): if it exceeds `policy.max_retry_after` →
///    [`StopReason::RetryAfterTooLong`]; otherwise retry after exactly that
///    wait plus `jitter × min(100ms + wait / 10, 1s)`. The delay is never
///    shorter than the server asked for (coming back early would only earn
///    another rejection) and only slightly longer, to keep clients that got
///    the same answer from returning in lockstep. A wait of zero means "retry
///    now": the delay is then below 100ms.
/// 5. Otherwise retry after [`backoff`]`(policy, attempts_made, jitter)`.
#[must_use]
pub fn decide(policy: &RetryPolicy, attempt: &Attempt<'_>, jitter: f64) -> Decision {
    let server_wait = match classify(&attempt.failure) {
        Retryability::Never => return Decision::Stop(StopReason::NotRetryable),
        Retryability::Always => None,
        Retryability::IfIdempotent { server_wait } => {
            if !attempt.idempotent {
                return Decision::Stop(StopReason::NotIdempotent);
            }
            server_wait
        }
    };
    if attempt.attempts_made > policy.max_retries {
        return Decision::Stop(StopReason::AttemptsExhausted);
    }
    match server_wait {
        Some(wait) if wait > policy.max_retry_after => {
            Decision::Stop(StopReason::RetryAfterTooLong)
        }
        Some(wait) => {
            let spread = SERVER_WAIT_SPREAD_MIN
                .saturating_add(wait / 10)
                .min(SERVER_WAIT_SPREAD_MAX);
            Decision::Retry(wait.saturating_add(scale(spread, jitter)))
        }
        None => Decision::Retry(backoff(policy, attempt.attempts_made, jitter)),
    }
}

/// The retry wait after `attempts_made` failures: the policy's [`Backoff`] schedule
/// (`initial_backoff` doubling up to `max_backoff`, with equal jitter). With the default
/// policy the ranges are 250–500ms, 0.5–1s, 1–2s, 2–4s, 4–8s, then 4–8s.
#[must_use]
pub fn backoff(policy: &RetryPolicy, attempts_made: u32, jitter: f64) -> Duration {
    policy.backoff().delay(attempts_made, jitter)
}

/// A client-wide cap on retries, so that an outage does not make every
/// client multiply its load on a struggling server by `max_retries + 1`.
///
/// Retries are limited to a `ratio` of the requests made recently, plus a
/// small floor (`min_retries_per_window`) so that a client making few
/// requests can still retry a transient blip.
///
/// # Guarantee
///
/// Time is cut into consecutive windows of length `window` on a grid starting
/// at the first instant the budget is given: `W_k = [t0 + k·window,
/// t0 + (k+1)·window)`. A retry asked for during `W_k` is granted only if,
/// counting it,
///
/// ```text
/// retries granted in W_(k-1) ∪ W_k  ≤  min_retries_per_window + ratio × requests recorded in W_(k-1) ∪ W_k
/// ```
///
/// where the right side counts requests recorded up to that moment. Hence:
///
/// - for every window `W_k` in which a retry was granted, the retries granted
///   in `W_(k-1) ∪ W_k` are at most `min_retries_per_window + ratio ×` the
///   requests recorded in `W_(k-1) ∪ W_k`; in particular the retries granted
///   in any single window are within that bound;
/// - in a sustained outage (a retry granted in every window), the retries
///   over any `2n` consecutive windows are at most `n ×
///   min_retries_per_window + ratio ×` the requests recorded in them (sum the
///   bound above over disjoint pairs);
/// - the floor cannot be spent twice across a window boundary: retries at the
///   end of one window count against the start of the next;
/// - a granted retry (and a recorded request's credit) stops counting when
///   the window after next begins: between one and two `window`s later. So
///   after at most `2 × window` without retries the full floor is back.
///
/// `ratio` is kept in millionths (rounded) and the comparison is exact
/// integer arithmetic. An instant earlier than the current window (a caller
/// that read the clock just before another thread) counts toward the current
/// window rather than rewinding it.
///
/// Memory is constant (two pairs of counters). The lock is a
/// [`std::sync::Mutex`] held only for a few additions, never across an
/// `.await`.
#[derive(Debug)]
pub struct RetryBudget {
    /// `None` for [`RetryBudget::unlimited`], which then never locks.
    limits: Option<Limits>,
    state: Mutex<Windows>,
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    /// Retries allowed per request, in millionths.
    ratio_ppm: u64,
    min_retries_per_window: u32,
    /// Never zero, so it can divide.
    window: Duration,
}

#[derive(Debug, Default)]
struct Windows {
    /// Start of the current window; `None` until the first call.
    current_start: Option<Instant>,
    current: Counts,
    previous: Counts,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    requests: u64,
    retries: u64,
}

const PPM: u128 = 1_000_000;

impl RetryBudget {
    /// A budget allowing `ratio` retries per recorded request (0.1 = 10%),
    /// plus `min_retries_per_window`, over windows of length `window` (see the
    /// type's documentation for the exact guarantee).
    ///
    /// A negative or NaN `ratio` counts as 0 (only the floor remains), and a
    /// zero `window` as one nanosecond, so no argument can cause a panic.
    #[must_use]
    pub fn new(ratio: f64, min_retries_per_window: u32, window: Duration) -> Self {
        let ratio_ppm = if ratio.is_nan() || ratio <= 0.0 {
            0
        } else {
            // `as` saturates, so an infinite ratio becomes u64::MAX.
            (ratio * 1_000_000.0).round() as u64
        };
        Self {
            limits: Some(Limits {
                ratio_ppm,
                min_retries_per_window,
                window: window.max(Duration::from_nanos(1)),
            }),
            state: Mutex::default(),
        }
    }

    /// A budget that grants every retry, leaving only
    /// [`RetryPolicy::max_retries`] as a limit.
    #[must_use]
    pub fn unlimited() -> Self {
        Self {
            limits: None,
            state: Mutex::default(),
        }
    }

    /// Record one original (non-retry) request at `now`.
    ///
    /// Call it once per logical request, before its first attempt; retries
    /// must not be recorded, or they would earn credit for more retries.
    pub fn record_request(&self, now: Instant) {
        let Some(limits) = self.limits else { return };
        let mut windows = self.lock();
        windows.advance(now, limits.window);
        windows.current.requests = windows.current.requests.saturating_add(1);
    }

    /// Ask to spend one retry at `now`; true if allowed (and counts it).
    ///
    /// A `false` means the client is already retrying as much as the budget
    /// allows: the caller should return the error instead of retrying.
    pub fn try_acquire_retry(&self, now: Instant) -> bool {
        let Some(limits) = self.limits else {
            return true;
        };
        let mut windows = self.lock();
        windows.advance(now, limits.window);
        let retries = windows
            .previous
            .retries
            .saturating_add(windows.current.retries)
            .saturating_add(1);
        let requests = windows
            .previous
            .requests
            .saturating_add(windows.current.requests);
        // retries ≤ floor + ratio × requests, all scaled by a million so the
        // comparison is exact. u64 × 10^6 and u64 × u64 both fit in u128.
        let allowed = u128::from(retries) * PPM
            <= (u128::from(limits.min_retries_per_window) * PPM)
                .saturating_add(u128::from(limits.ratio_ppm) * u128::from(requests));
        if allowed {
            windows.current.retries = windows.current.retries.saturating_add(1);
        }
        allowed
    }

    fn lock(&self) -> MutexGuard<'_, Windows> {
        // Nothing inside the lock can panic, but if a panic ever did poison
        // it, the counters are still usable: failing every later request of
        // the client over them would be far worse.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for RetryBudget {
    /// `ratio` 0.1, `min_retries_per_window` 10, `window` 10s.
    ///
    /// 10% keeps an outage from adding more than a tenth to the load the
    /// server already sees. A floor of 10 per window lets a quiet client
    /// still fully retry (two retries each) a blip that fails five of its
    /// requests; 10s is long enough to span a typical blip and short enough
    /// that the budget recovers soon after.
    fn default() -> Self {
        Self::new(0.1, 10, Duration::from_secs(10))
    }
}

impl Windows {
    /// Moves the window grid forward to the window containing `now`.
    fn advance(&mut self, now: Instant, window: Duration) {
        let Some(start) = self.current_start else {
            self.current_start = Some(now);
            return;
        };
        // Saturating: an instant before `start` stays in the current window.
        let elapsed = now.saturating_duration_since(start);
        // The common case, without the 128-bit division below.
        if elapsed < window {
            return;
        }
        let elapsed = elapsed.as_nanos();
        let window_nanos = window.as_nanos();
        let passed = elapsed / window_nanos;
        if passed == 0 {
            return;
        }
        // After a single step the old current window becomes the previous
        // one; after a longer gap both are empty.
        self.previous = if passed == 1 {
            self.current
        } else {
            Counts::default()
        };
        self.current = Counts::default();
        // `passed × window ≤ elapsed`, so neither step can overflow; staying
        // on the grid keeps every window exactly `window` long.
        let step = duration_from_nanos(passed * window_nanos);
        self.current_start = Some(start.checked_add(step).unwrap_or(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    fn status(status: u16) -> Failure<'static> {
        Failure::Status {
            status,
            code: None,
            retry_after: None,
            rate_limit_reset_in: None,
        }
    }

    fn status_code(status: u16, code: &'static str) -> Failure<'static> {
        Failure::Status {
            status,
            code: Some(code),
            retry_after: None,
            rate_limit_reset_in: None,
        }
    }

    fn with_retry_after(failure: Failure<'static>, wait: Duration) -> Failure<'static> {
        match failure {
            Failure::Status {
                status,
                code,
                rate_limit_reset_in,
                ..
            } => Failure::Status {
                status,
                code,
                retry_after: Some(wait),
                rate_limit_reset_in,
            },
            other => other,
        }
    }

    fn with_reset(failure: Failure<'static>, reset_in: Duration) -> Failure<'static> {
        match failure {
            Failure::Status {
                status,
                code,
                retry_after,
                ..
            } => Failure::Status {
                status,
                code,
                retry_after,
                rate_limit_reset_in: Some(reset_in),
            },
            other => other,
        }
    }

    struct Row {
        name: &'static str,
        attempts_made: u32,
        idempotent: bool,
        failure: Failure<'static>,
        jitter: f64,
        expected: Decision,
    }

    fn row(
        name: &'static str,
        attempts_made: u32,
        idempotent: bool,
        failure: Failure<'static>,
        jitter: f64,
        expected: Decision,
    ) -> Row {
        Row {
            name,
            attempts_made,
            idempotent,
            failure,
            jitter,
            expected,
        }
    }

    fn check(policy: &RetryPolicy, rows: &[Row]) {
        let mut failures = Vec::new();
        for r in rows {
            let attempt = Attempt {
                attempts_made: r.attempts_made,
                idempotent: r.idempotent,
                failure: r.failure,
            };
            let got = decide(policy, &attempt, r.jitter);
            if got != r.expected {
                failures.push(format!(
                    "{}: expected {:?}, got {:?}",
                    r.name, r.expected, got
                ));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn decide_table_default_policy() {
        use Decision::{Retry, Stop};
        use StopReason::*;
        // Default policy: first backoff is 250–500ms, second 0.5–1s; at
        // jitter 0 exactly the lower bound.
        let first = Retry(ms(250));
        let second = Retry(ms(500));
        #[rustfmt::skip]
        let rows = [
            // Connection and timeout failures.
            row("connect, GET", 1, true, Failure::Connect, 0.0, first),
            row("connect, POST without key: never sent, safe", 1, false, Failure::Connect, 0.0, first),
            row("timeout, GET", 1, true, Failure::Timeout, 0.0, first),
            row("timeout, POST without key: may have run", 1, false, Failure::Timeout, 0.0, Stop(NotIdempotent)),
            row("timeout, jitter 0.5", 1, true, Failure::Timeout, 0.5, Retry(ms(375))),
            // 429.
            row("429 without Retry-After: backoff", 1, true, status_code(429, "rate_limit_exceeded"), 0.0, first),
            row("429 Retry-After 3s", 1, true, with_retry_after(status_code(429, "rate_limit_exceeded"), secs(3)), 0.0, Retry(secs(3))),
            row("429 Retry-After 3s, jitter 0.5 adds half of 400ms", 1, true, with_retry_after(status(429), secs(3)), 0.5, Retry(ms(3200))),
            row("429 Retry-After 30s, jitter 0.5 spread capped at 1s", 1, true, with_retry_after(status(429), secs(30)), 0.5, Retry(ms(30_500))),
            row("429 rate-limit reset 7s", 1, true, with_reset(status(429), secs(7)), 0.0, Retry(secs(7))),
            row("429 Retry-After beats rate-limit reset", 1, true, with_reset(with_retry_after(status(429), secs(2)), secs(30)), 0.0, Retry(secs(2))),
            row("429 rate-limit reset beyond max", 1, true, with_reset(status(429), secs(120)), 0.0, Stop(RetryAfterTooLong)),
            row("429 POST without key", 1, false, with_retry_after(status(429), secs(1)), 0.0, Stop(NotIdempotent)),
            // 409.
            row("409 idempotency_conflict", 1, true, status_code(409, "idempotency_conflict"), 0.0, first),
            row("409 idempotency_conflict, Retry-After 1s", 1, true, with_retry_after(status_code(409, "idempotency_conflict"), secs(1)), 0.0, Retry(secs(1))),
            row("409 other code", 1, true, status_code(409, "resource_conflict"), 0.0, Stop(NotRetryable)),
            row("409 without code", 1, true, status(409), 0.0, Stop(NotRetryable)),
            row("409 other code with Retry-After", 1, true, with_retry_after(status_code(409, "resource_conflict"), secs(1)), 0.0, Retry(secs(1))),
            row("409 other code, rate-limit reset is not a Retry-After", 1, true, with_reset(status_code(409, "resource_conflict"), secs(1)), 0.0, Stop(NotRetryable)),
            row("409 idempotency_conflict, no key", 1, false, status_code(409, "idempotency_conflict"), 0.0, Stop(NotIdempotent)),
            // 5xx.
            row("500", 1, true, status(500), 0.0, first),
            row("502", 1, true, status(502), 0.0, first),
            row("503", 1, true, status(503), 0.0, first),
            row("504 gateway timeout", 1, true, status(504), 0.0, first),
            row("503 Retry-After 5s", 1, true, with_retry_after(status(503), secs(5)), 0.0, Retry(secs(5))),
            row("500 ignores rate-limit reset", 1, true, with_reset(status(500), secs(5)), 0.0, first),
            row("500 POST without key", 1, false, status(500), 0.0, Stop(NotIdempotent)),
            row("504 POST without key", 1, false, status(504), 0.0, Stop(NotIdempotent)),
            row("501 not implemented", 1, true, status(501), 0.0, Stop(NotRetryable)),
            row("505", 1, true, status(505), 0.0, Stop(NotRetryable)),
            // Never retried.
            row("400", 1, true, status_code(400, "invalid_request"), 0.0, Stop(NotRetryable)),
            row("401", 1, true, status(401), 0.0, Stop(NotRetryable)),
            row("402", 1, true, status(402), 0.0, Stop(NotRetryable)),
            row("403", 1, true, status(403), 0.0, Stop(NotRetryable)),
            row("404", 1, true, status(404), 0.0, Stop(NotRetryable)),
            row("422", 1, true, status(422), 0.0, Stop(NotRetryable)),
            row("408 is another 4xx", 1, true, status(408), 0.0, Stop(NotRetryable)),
            row("400 with Retry-After still not retried", 1, true, with_retry_after(status(400), secs(1)), 0.0, Stop(NotRetryable)),
            row("404 POST without key: not retryable wins", 1, false, status(404), 0.0, Stop(NotRetryable)),
            row("200 is not a failure to retry", 1, true, status(200), 0.0, Stop(NotRetryable)),
            // Attempts.
            row("attempts 0 treated as the first", 0, true, status(503), 0.0, first),
            row("second failure", 2, true, status(503), 0.0, second),
            row("third failure: 2 retries used", 3, true, status(503), 0.0, Stop(AttemptsExhausted)),
            row("exhausted, connect", 3, false, Failure::Connect, 0.0, Stop(AttemptsExhausted)),
            row("exhausted, Retry-After", 3, true, with_retry_after(status(429), secs(1)), 0.0, Stop(AttemptsExhausted)),
            row("exhausted, long Retry-After", 3, true, with_retry_after(status(429), secs(600)), 0.0, Stop(AttemptsExhausted)),
            row("exhausted but not retryable anyway", 3, true, status(404), 0.0, Stop(NotRetryable)),
            row("exhausted but not idempotent anyway", 3, false, Failure::Timeout, 0.0, Stop(NotIdempotent)),
            row("huge attempt count", u32::MAX, true, status(503), 0.0, Stop(AttemptsExhausted)),
            // Retry-After bounds.
            row("Retry-After exactly max", 1, true, with_retry_after(status(503), secs(60)), 0.0, Retry(secs(60))),
            row("Retry-After just above max", 1, true, with_retry_after(status(503), secs(60) + MS), 0.0, Stop(RetryAfterTooLong)),
            row("Retry-After 0: now", 1, true, with_retry_after(status(503), Duration::ZERO), 0.0, Retry(Duration::ZERO)),
            row("Retry-After 0, jitter 0.5: below 100ms", 1, true, with_retry_after(status(429), Duration::ZERO), 0.5, Retry(ms(50))),
            row("Retry-After 0, jitter 0.999", 1, true, with_retry_after(status(429), Duration::ZERO), 0.999, Retry(ms(99) + Duration::from_micros(900))),
            row("rate-limit reset 0", 1, true, with_reset(status(429), Duration::ZERO), 0.0, Retry(Duration::ZERO)),
            row("Retry-After on second failure: not doubled", 2, true, with_retry_after(status(503), secs(1)), 0.0, Retry(secs(1))),
        ];
        check(&RetryPolicy::default(), &rows);
    }

    #[test]
    fn decide_table_custom_policies() {
        use Decision::{Retry, Stop};
        use StopReason::*;

        let none = RetryPolicy::no_retries();
        #[rustfmt::skip]
        let rows = [
            row("no retries: 503", 1, true, status(503), 0.0, Stop(AttemptsExhausted)),
            row("no retries: connect", 1, false, Failure::Connect, 0.0, Stop(AttemptsExhausted)),
            row("no retries: 404 is still not retryable", 1, true, status(404), 0.0, Stop(NotRetryable)),
        ];
        check(&none, &rows);

        let endless = RetryPolicy::default().with_max_retries(u32::MAX);
        #[rustfmt::skip]
        let rows = [
            row("u32::MAX attempts: capped backoff", u32::MAX, true, status(503), 0.0, Retry(secs(4))),
            row("u32::MAX attempts, jitter 0.999", u32::MAX, true, status(503), 0.999, Retry(ms(7996))),
        ];
        check(&endless, &rows);

        let patient = RetryPolicy::default().with_max_retry_after(Duration::MAX);
        #[rustfmt::skip]
        let rows = [
            row("Retry-After Duration::MAX saturates", 1, true, with_retry_after(status(503), Duration::MAX), 0.999, Retry(Duration::MAX)),
        ];
        check(&patient, &rows);

        let strict = RetryPolicy::default().with_max_retry_after(Duration::ZERO);
        #[rustfmt::skip]
        let rows = [
            row("max_retry_after 0 still allows Retry-After 0", 1, true, with_retry_after(status(503), Duration::ZERO), 0.0, Retry(Duration::ZERO)),
            row("max_retry_after 0 refuses 1s", 1, true, with_retry_after(status(503), secs(1)), 0.0, Stop(RetryAfterTooLong)),
            row("max_retry_after 0 does not bound backoff", 1, true, status(503), 0.0, Retry(ms(250))),
        ];
        check(&strict, &rows);
    }

    #[test]
    fn policy_defaults_and_builders() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_retries, 2);
        assert_eq!(p.initial_backoff, ms(500));
        assert_eq!(p.max_backoff, secs(8));
        assert_eq!(p.max_retry_after, secs(60));

        assert_eq!(
            RetryPolicy::no_retries(),
            RetryPolicy {
                max_retries: 0,
                ..p
            }
        );

        let built = RetryPolicy::no_retries()
            .with_max_retries(5)
            .with_initial_backoff(ms(100))
            .with_max_backoff(secs(2))
            .with_max_retry_after(secs(30));
        assert_eq!(
            built,
            RetryPolicy {
                max_retries: 5,
                initial_backoff: ms(100),
                max_backoff: secs(2),
                max_retry_after: secs(30),
            }
        );
    }

    #[test]
    fn backoff_doubles_then_caps() {
        let p = RetryPolicy::default();
        // (attempts_made, jitter 0 = lower bound, jitter 0.5)
        let table = [
            (1, ms(250), ms(375)),
            (2, ms(500), ms(750)),
            (3, ms(1000), ms(1500)),
            (4, ms(2000), ms(3000)),
            (5, ms(4000), ms(6000)),
            (6, ms(4000), ms(6000)),
            (7, ms(4000), ms(6000)),
            (31, ms(4000), ms(6000)),
            (32, ms(4000), ms(6000)),
            (33, ms(4000), ms(6000)),
            (1000, ms(4000), ms(6000)),
            (u32::MAX, ms(4000), ms(6000)),
        ];
        for (attempts, low, mid) in table {
            assert_eq!(
                backoff(&p, attempts, 0.0),
                low,
                "attempt {attempts}, jitter 0"
            );
            assert_eq!(
                backoff(&p, attempts, 0.5),
                mid,
                "attempt {attempts}, jitter 0.5"
            );
        }
        assert_eq!(backoff(&p, 0, 0.0), ms(250), "0 is treated as 1");
    }

    #[test]
    fn backoff_jitter_bounds() {
        let p = RetryPolicy::default();
        // Just below 1: just below the ceiling, never above it.
        assert_eq!(backoff(&p, 1, 0.999), Duration::from_micros(499_750));
        assert_eq!(backoff(&p, 6, 0.999), ms(7996));
        for attempts in 1..=40 {
            let ceiling = backoff(&p, attempts, 1.0);
            assert!(ceiling <= p.max_backoff);
            for jitter in [0.0, 0.001, 0.25, 0.5, 0.75, 0.999, 0.999_999_999] {
                let d = backoff(&p, attempts, jitter);
                assert!(
                    d >= ceiling / 2 && d <= ceiling,
                    "{attempts} {jitter}: {d:?}"
                );
                assert!(!d.is_zero());
            }
        }
        // Out-of-range jitter is clamped, NaN is 0: no panic.
        assert_eq!(backoff(&p, 1, -1.0), ms(250));
        assert_eq!(backoff(&p, 1, f64::NAN), ms(250));
        assert_eq!(backoff(&p, 1, 1.5), ms(500));
        assert_eq!(backoff(&p, 1, f64::INFINITY), ms(500));
        assert_eq!(backoff(&p, 1, f64::NEG_INFINITY), ms(250));
    }

    #[test]
    fn backoff_extreme_policies_do_not_panic() {
        let huge = RetryPolicy::default()
            .with_initial_backoff(Duration::MAX)
            .with_max_backoff(Duration::MAX);
        for attempts in [1, 2, 64, u32::MAX] {
            assert_eq!(backoff(&huge, attempts, 0.0), Duration::MAX / 2);
            let top = backoff(&huge, attempts, 0.999_999);
            assert!(top > Duration::MAX / 2 && top <= Duration::MAX);
            assert_eq!(backoff(&huge, attempts, 1.0), Duration::MAX);
        }

        let zero = RetryPolicy::default().with_initial_backoff(Duration::ZERO);
        for attempts in [1, 33, u32::MAX] {
            assert_eq!(backoff(&zero, attempts, 0.999), Duration::ZERO);
        }

        // An initial backoff above the cap starts at the cap.
        let inverted = RetryPolicy::default()
            .with_initial_backoff(secs(10))
            .with_max_backoff(secs(1));
        assert_eq!(backoff(&inverted, 1, 0.0), ms(500));

        // Uncapped growth stays exact while it fits.
        let uncapped = RetryPolicy::default().with_max_backoff(Duration::MAX);
        assert_eq!(backoff(&uncapped, 11, 0.0), ms(250 * 1024));
        assert_eq!(backoff(&uncapped, u32::MAX, 0.0), Duration::MAX / 2);
    }

    // ---- RetryBudget ----

    const WINDOW: Duration = Duration::from_secs(10);

    fn budget() -> RetryBudget {
        RetryBudget::new(0.1, 10, WINDOW)
    }

    fn grants(budget: &RetryBudget, now: Instant, tries: u32) -> u32 {
        (0..tries)
            .map(|_| u32::from(budget.try_acquire_retry(now)))
            .sum()
    }

    #[test]
    fn budget_default_values() {
        let limits = RetryBudget::default().limits.expect("limited");
        assert_eq!(limits.ratio_ppm, 100_000);
        assert_eq!(limits.min_retries_per_window, 10);
        assert_eq!(limits.window, secs(10));
        assert!(RetryBudget::unlimited().limits.is_none());
    }

    #[test]
    fn unlimited_always_grants() {
        let b = RetryBudget::unlimited();
        let t0 = Instant::now();
        assert_eq!(grants(&b, t0, 10_000), 10_000);
        b.record_request(t0);
        assert_eq!(grants(&b, t0 + WINDOW, 10_000), 10_000);
    }

    #[test]
    fn floor_allows_a_quiet_client_to_retry() {
        let b = budget();
        let t0 = Instant::now();
        assert_eq!(grants(&b, t0, 100), 10);
        assert!(!b.try_acquire_retry(t0 + ms(1)));
    }

    #[test]
    fn sustained_outage_is_capped_at_ratio_plus_floor() {
        let b = budget();
        let t0 = Instant::now();
        let mut granted = 0u64;
        // 1000 requests spread over one window, every one failing and asking
        // for both of its retries.
        for i in 0..1000u32 {
            let now = t0 + ms(u64::from(i) * 10);
            b.record_request(now);
            granted += u64::from(grants(&b, now, 2));
            // The bound holds at every moment, not just at the end.
            let requests = u64::from(i) + 1;
            assert!(
                granted * 10 <= 100 + requests,
                "after {requests}: {granted}"
            );
        }
        assert_eq!(granted, 100 + 10, "10% of 1000 requests plus the floor");
    }

    #[test]
    fn sustained_outage_over_many_windows() {
        let b = budget();
        let t0 = Instant::now();
        let mut per_window = Vec::new();
        for w in 0..20u32 {
            let mut granted = 0;
            for i in 0..100u32 {
                let now = t0 + WINDOW * w + ms(u64::from(i) * 100);
                b.record_request(now);
                granted += grants(&b, now, 2);
            }
            per_window.push(granted);
        }
        // 100 requests per window: the first window gets 10 + 10; from then on
        // each pair of adjacent windows shares 10 + 10% of 200 = 30.
        let expected: Vec<u32> = (0..20).map(|w| if w % 2 == 0 { 20 } else { 10 }).collect();
        assert_eq!(per_window, expected);
        for pair in per_window.windows(2) {
            assert!(pair[0] + pair[1] <= 10 + 20);
        }
    }

    #[test]
    fn floor_is_not_spent_twice_across_a_boundary() {
        let b = budget();
        let t0 = Instant::now();
        b.record_request(t0); // fixes the grid at t0
        let end_of_first = t0 + WINDOW - MS;
        assert_eq!(grants(&b, end_of_first, 20), 10);
        // The next window starts, but the burst still counts against it.
        assert_eq!(grants(&b, t0 + WINDOW, 20), 0);
        assert_eq!(grants(&b, t0 + WINDOW * 2 - MS, 20), 0);
    }

    #[test]
    fn budget_refills_after_the_window_passes() {
        let b = budget();
        let t0 = Instant::now();
        assert_eq!(grants(&b, t0, 20), 10);
        assert_eq!(grants(&b, t0 + WINDOW, 20), 0);
        // Two windows on, the burst no longer counts: the full floor is back.
        assert_eq!(grants(&b, t0 + WINDOW * 2, 20), 10);
        // And after a long idle gap everything is forgotten.
        assert_eq!(grants(&b, t0 + WINDOW * 1000 + ms(1), 20), 10);
    }

    #[test]
    fn request_credit_expires_too() {
        let b = budget();
        let t0 = Instant::now();
        for _ in 0..1000 {
            b.record_request(t0);
        }
        // Credit from W0 is still usable in W1...
        assert_eq!(grants(&b, t0 + WINDOW, 200), 110);
        // ...but not in W2 (W0 is gone; W1 has the 110 retries, no requests).
        assert_eq!(grants(&b, t0 + WINDOW * 2, 200), 0);
        // W3: W1's retries are gone too, only the floor is left.
        assert_eq!(grants(&b, t0 + WINDOW * 3, 200), 10);
    }

    #[test]
    fn windows_stay_on_the_grid() {
        let b = budget();
        let t0 = Instant::now();
        b.record_request(t0);
        // Spend the floor in W1, halfway through it.
        assert_eq!(grants(&b, t0 + WINDOW + WINDOW / 2, 20), 10);
        // t0 + 2.2 windows is in W2 (the grid does not restart at 1.5): W1's
        // retries still count.
        assert_eq!(grants(&b, t0 + WINDOW * 2 + WINDOW / 5, 20), 0);
        // W3 starts at exactly t0 + 3 windows.
        assert_eq!(grants(&b, t0 + WINDOW * 3 - MS, 20), 0);
        assert_eq!(grants(&b, t0 + WINDOW * 3, 20), 10);
    }

    #[test]
    fn stale_instants_count_in_the_current_window() {
        let b = budget();
        let t0 = Instant::now();
        b.record_request(t0 + WINDOW * 5);
        // An instant from before the current window neither panics nor
        // rewinds; its retries count toward the current window.
        assert_eq!(grants(&b, t0, 20), 10);
        assert_eq!(grants(&b, t0 + WINDOW * 5, 20), 0);
    }

    #[test]
    fn odd_arguments_do_not_panic() {
        let t0 = Instant::now();
        // NaN and negative ratios leave only the floor.
        for ratio in [f64::NAN, -1.0, 0.0, f64::NEG_INFINITY] {
            let b = RetryBudget::new(ratio, 3, WINDOW);
            for _ in 0..100 {
                b.record_request(t0);
            }
            assert_eq!(grants(&b, t0, 10), 3, "ratio {ratio}");
        }
        // An infinite ratio saturates: one request allows any number of retries.
        let b = RetryBudget::new(f64::INFINITY, 0, WINDOW);
        assert_eq!(grants(&b, t0, 10), 0);
        b.record_request(t0);
        assert_eq!(grants(&b, t0, 10_000), 10_000);
        // A zero window is one nanosecond: each nanosecond has its floor.
        let b = RetryBudget::new(0.1, 2, Duration::ZERO);
        assert_eq!(grants(&b, t0, 10), 2);
        assert_eq!(grants(&b, t0 + Duration::from_nanos(1), 10), 0);
        assert_eq!(grants(&b, t0 + Duration::from_nanos(2), 10), 2);
        // A huge window never rotates.
        let b = RetryBudget::new(0.1, 1, Duration::MAX);
        assert_eq!(grants(&b, t0, 10), 1);
        assert_eq!(grants(&b, t0 + secs(1_000_000), 10), 0);
    }

    #[test]
    fn ratio_is_exact_in_millionths() {
        let t0 = Instant::now();
        let b = RetryBudget::new(0.3, 0, WINDOW);
        for _ in 0..10 {
            b.record_request(t0);
        }
        // 0.3 × 10 = 3 exactly, although 0.3 × 10.0 is not 3.0 in f64.
        assert_eq!(grants(&b, t0, 10), 3);
    }

    #[test]
    fn budget_is_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RetryBudget>();

        let b = budget();
        let t0 = Instant::now();
        let total: u32 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| grants(&b, t0, 100))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(total, 10);
    }

    #[test]
    fn poisoned_lock_is_recovered() {
        let b = budget();
        let t0 = Instant::now();
        assert_eq!(grants(&b, t0, 4), 4);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _guard = b.state.lock().unwrap();
            panic!("poisoning the budget lock on purpose");
        }));
        assert!(result.is_err());
        assert!(b.state.is_poisoned());
        // Still works, and still remembers the four retries already granted.
        assert_eq!(grants(&b, t0, 20), 6);
        b.record_request(t0);
    }
}
