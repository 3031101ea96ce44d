//! Client-side pacing from the server's `X-RateLimit-*` headers, so that a busy client
//! spreads its requests over the rate-limit window instead of running into 429s.
//!
//! One pacer belongs to a client and its clones. Every attempt (retries included) asks
//! it for a permit before it is sent, and hands back what the response said. The model:
//!
//! - **Window.** A response's `X-RateLimit-Remaining` and `X-RateLimit-Reset` describe the
//!   current window. The pacer keeps its own count of what is left: each permit takes one,
//!   and a later answer replaces the estimate by `remaining − permits issued after that
//!   request`, which counts requests still on the wire as spent. Answers to requests older
//!   than the one the estimate is based on are ignored.
//! - **Spreading.** While requests are left, permits are spaced by `time to reset /
//!   remaining`, with a head start of a tenth of the time to reset, so a light load is not
//!   delayed at all and a heavy one is spread evenly instead of spending the window at once.
//! - **Holding.** When nothing is left, permits wait for the reset.
//! - **Learning.** Before the first answer, and after a window has reset, the limits are
//!   unknown: one request goes first and the others wait (at most 2 s) for
//!   its answer. A server that sends no rate-limit headers is not paced at all.
//!
//! Waits use the client's [`Clock`] and end at the call's deadline. Optionally the pacer
//! also caps the requests in flight.

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::clock::{Clock, within};
use crate::deadline::Deadline;
use crate::metadata::RateLimit;

/// How long requests wait for the first answer of a window before going unpaced.
pub(crate) const PROBE_PATIENCE: Duration = Duration::from_secs(2);

/// Reset times are whole seconds (rounded up by the server): two answers about the same
/// window can differ by this much.
const RESET_GRANULARITY: Duration = Duration::from_secs(1);

/// The shortest hold for an exhausted window, so that a reset reported in the past cannot
/// make waiters spin.
const MIN_HOLD: Duration = Duration::from_millis(50);

/// The furthest reset believed (Kallglot's window is a minute).
const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// A window may be run ahead of an even spread by this fraction of its time to reset.
const HEAD_START_DIVISOR: u32 = 10;

/// What the pacer knows, as [`Client::rate_limit_state`](crate::Client::rate_limit_state)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PacerSnapshot {
    /// Whether the pacer has a window to pace by (the server reported its limits and the
    /// window has not reset since).
    pub window_known: bool,
    /// The last `X-RateLimit-Limit` reported.
    pub limit: Option<u64>,
    /// Requests the pacer still allows in the current window (its estimate).
    pub remaining: Option<u64>,
    /// Time until the current window resets.
    pub resets_in: Option<Duration>,
    /// Requests sent and not yet answered.
    pub in_flight: usize,
    /// Requests waiting for a permit.
    pub waiting: usize,
    /// The configured cap on requests in flight.
    pub max_in_flight: Option<usize>,
    /// Attempts sent since the client was built (retries included).
    pub sent: u64,
    /// Attempts that had to wait for a permit, since the client was built.
    pub paced_requests: u64,
    /// The total time requests waited for permits.
    pub total_wait: Duration,
}

/// Why a request waited, for tracing and for a deadline error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PaceWait {
    /// Spread over the window.
    Spread,
    /// The window is exhausted until its reset.
    Exhausted,
    /// Waiting for another request's answer to learn the window.
    Learning,
    /// Waiting for a slot under the in-flight cap.
    InFlight,
}

impl PaceWait {
    fn as_str(self) -> &'static str {
        match self {
            Self::Spread => "spreading requests over the rate-limit window",
            Self::Exhausted => "rate-limit window exhausted, holding until its reset",
            Self::Learning => "waiting for the first answer of the rate-limit window",
            Self::InFlight => "waiting for a slot under the in-flight cap",
        }
    }
}

/// Rate-limit pacing and the in-flight cap, shared by a client and its clones.
#[derive(Debug)]
pub(crate) struct Pacer {
    enabled: bool,
    state: Mutex<State>,
    /// Wakes requests waiting to learn a window.
    learned: Notify,
    in_flight_cap: Option<(usize, std::sync::Arc<Semaphore>)>,
}

#[derive(Debug, Clone)]
struct State {
    window: Window,
    /// The last reported limit, kept across windows for the snapshot.
    limit: Option<u64>,
    /// Permits issued so far; a permit's sequence number is the count before it.
    issued: u64,
    /// Theoretical time of the next evenly spread permit.
    next_slot: Option<Instant>,
    /// The permit sent to learn an unknown window, and when.
    probe: Option<(u64, Instant)>,
    in_flight: usize,
    waiting: usize,
    paced_requests: u64,
    total_wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    /// Nothing heard yet, or the last window has reset.
    Unknown,
    /// The server sends no rate-limit headers: nothing to pace by.
    Unreported,
    Known {
        remaining: u64,
        resets_at: Instant,
        /// The sequence number of the permit whose answer `remaining` is based on.
        basis: u64,
    },
}

/// What a request should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Go at `at` (now or later): the permit is already counted.
    Go { seq: u64, at: Instant },
    /// Wait until `until` (or a wake-up) and ask again.
    Wait { until: Instant, why: PaceWait },
}

/// Permission to send one attempt; hand the answer back with [`observe`](Self::observe).
#[derive(Debug)]
pub(crate) struct PacePermit<'a> {
    pacer: &'a Pacer,
    seq: u64,
    _slot: Option<OwnedSemaphorePermit>,
    /// How long this permit waited.
    pub waited: Duration,
    /// When the permit was granted, on the client's clock: the `now` given to
    /// [`Pacer::acquire`] when it did not wait, so a call that is not paced reads the
    /// clock no more than it did before asking.
    pub granted_at: Instant,
    /// Whether [`observe`](Self::observe) already took the attempt out of the count in
    /// flight, under the same lock as the answer (so dropping the permit needs no lock).
    settled: bool,
}

impl Pacer {
    /// A pacer; `enabled` false only applies the in-flight cap.
    pub(crate) fn new(enabled: bool, max_in_flight: Option<usize>) -> Self {
        Self {
            enabled,
            state: Mutex::new(State {
                window: Window::Unknown,
                limit: None,
                issued: 0,
                next_slot: None,
                probe: None,
                in_flight: 0,
                waiting: 0,
                paced_requests: 0,
                total_wait: Duration::ZERO,
            }),
            learned: Notify::new(),
            in_flight_cap: max_in_flight.map(|n| (n, std::sync::Arc::new(Semaphore::new(n)))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counters: a panic elsewhere cannot leave them inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for permission to send, until `deadline`. `now` is the client clock's time
    /// of the request (the caller has just read it). `Err` says what the request was
    /// still waiting for when the deadline came (or would have come during the wait).
    ///
    /// A request that may go at once is let through without the waiting machinery: the
    /// future of [`wait_for_permit`](Self::wait_for_permit) (its timers, its wake-up
    /// registration) is large, and only a request that waits builds it, in its own
    /// allocation.
    pub(crate) async fn acquire(
        &self,
        clock: &dyn Clock,
        deadline: Deadline,
        now: Instant,
    ) -> Result<PacePermit<'_>, PaceWait> {
        match self.permit_now(now) {
            Some(permit) => Ok(permit),
            None => Box::pin(self.wait_for_permit(clock, deadline, now)).await,
        }
    }

    /// A permit at `now` if the request need not wait for one. The decision is the one
    /// [`wait_for_permit`](Self::wait_for_permit) would make first, from the same state:
    /// when it is to wait, the state is left as it was and the waiting path decides again.
    fn permit_now(&self, now: Instant) -> Option<PacePermit<'_>> {
        let slot = match &self.in_flight_cap {
            None => None,
            Some((_, semaphore)) => Some(semaphore.clone().try_acquire_owned().ok()?),
        };
        let mut state = self.lock();
        let seq = if self.enabled {
            let before = state.clone();
            match state.next(now) {
                Next::Go { seq, at } if at <= now => seq,
                _ => {
                    *state = before;
                    return None;
                }
            }
        } else {
            state.issue_seq()
        };
        state.in_flight += 1;
        drop(state);
        Some(PacePermit {
            pacer: self,
            seq,
            _slot: slot,
            waited: Duration::ZERO,
            granted_at: now,
            settled: false,
        })
    }

    /// [`acquire`](Self::acquire) for a request that may have to wait.
    async fn wait_for_permit(
        &self,
        clock: &dyn Clock,
        deadline: Deadline,
        now: Instant,
    ) -> Result<PacePermit<'_>, PaceWait> {
        let started = now;
        // Whether any wait happened: without one, no time passed (as far as pacing is
        // concerned) and the clock need not be read again.
        let mut waited_any = false;
        let slot = match &self.in_flight_cap {
            None => None,
            Some((_, semaphore)) => Some(match semaphore.clone().try_acquire_owned() {
                Ok(slot) => slot,
                Err(_) => {
                    waited_any = true;
                    let wait = deadline.remaining(clock.now()).unwrap_or(Duration::MAX);
                    self.log_wait(PaceWait::InFlight, Some(wait));
                    match within(clock, wait, semaphore.clone().acquire_owned()).await {
                        Some(slot) => slot.expect("the semaphore is never closed"),
                        None => return Err(PaceWait::InFlight),
                    }
                }
            }),
        };
        let mut counted_waiting = false;
        // Created only for a wait to learn the window, under the lock (see below).
        let mut notified = std::pin::pin!(None::<tokio::sync::futures::Notified<'_>>);
        let result = loop {
            let now = if waited_any { clock.now() } else { started };
            let next = {
                let mut state = self.lock();
                let next = if self.enabled {
                    state.next(now)
                } else {
                    state.issue(now)
                };
                match next {
                    Next::Go { .. } => {
                        state.in_flight += 1;
                        if counted_waiting {
                            state.waiting -= 1;
                            counted_waiting = false;
                        }
                    }
                    Next::Wait { why, .. } => {
                        if why == PaceWait::Learning {
                            // Created and registered under the lock: the answer that ends
                            // the wait changes the state under it too, and only then
                            // notifies.
                            notified.set(Some(self.learned.notified()));
                            if let Some(n) = notified.as_mut().as_pin_mut() {
                                n.enable();
                            }
                        }
                        if !counted_waiting {
                            state.waiting += 1;
                            counted_waiting = true;
                        }
                    }
                }
                next
            };
            match next {
                Next::Go { seq, at } => {
                    if at > now {
                        if !deadline.allows(now, at - now) {
                            self.release(seq);
                            break Err(PaceWait::Spread);
                        }
                        self.log_wait(PaceWait::Spread, Some(at - now));
                        waited_any = true;
                        clock.sleep(at - now).await;
                    }
                    break Ok(seq);
                }
                Next::Wait {
                    until,
                    why: PaceWait::Learning,
                } => {
                    let patience = until.saturating_duration_since(now);
                    let (wait, ends_call) = match deadline.remaining(now) {
                        Some(left) if left < patience => (left, true),
                        _ => (patience, false),
                    };
                    self.log_wait(PaceWait::Learning, Some(wait));
                    waited_any = true;
                    let learned = match notified.as_mut().as_pin_mut() {
                        Some(n) => within(clock, wait, n).await,
                        None => None,
                    };
                    if learned.is_none() && ends_call {
                        break Err(PaceWait::Learning);
                    }
                }
                Next::Wait { until, why } => {
                    let wait = until.saturating_duration_since(now);
                    if !deadline.allows(now, wait) {
                        break Err(why);
                    }
                    self.log_wait(why, Some(wait));
                    waited_any = true;
                    clock.sleep(wait).await;
                }
            }
        };
        let (granted_at, waited) = if waited_any {
            let now = clock.now();
            (now, now.saturating_duration_since(started))
        } else {
            (started, Duration::ZERO)
        };
        if counted_waiting || !waited.is_zero() {
            let mut state = self.lock();
            if counted_waiting && result.is_err() {
                state.waiting -= 1;
            }
            if !waited.is_zero() {
                state.paced_requests += 1;
                state.total_wait = state.total_wait.saturating_add(waited);
            }
        }
        result.map(|seq| PacePermit {
            pacer: self,
            seq,
            _slot: slot,
            waited,
            granted_at,
            settled: false,
        })
    }

    fn log_wait(&self, why: PaceWait, wait: Option<Duration>) {
        tracing::debug!(
            wait_ms = wait.map(|w| w.as_millis() as u64),
            reason = why.as_str(),
            "kallglot pacing"
        );
    }

    /// A permit's attempt is over without an answer having been observed (or it never
    /// went out).
    fn release(&self, seq: u64) {
        let mut state = self.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        if state.probe.is_some_and(|(probe, _)| probe == seq) {
            // The probe failed without an answer: let the next request try.
            state.probe = None;
            drop(state);
            self.learned.notify_waiters();
        }
    }

    /// A snapshot of the pacer's state.
    pub(crate) fn snapshot(&self, now: Instant) -> PacerSnapshot {
        let state = self.lock();
        let (window_known, remaining, resets_in) = match state.window {
            Window::Known {
                remaining,
                resets_at,
                ..
            } if now < resets_at => (
                true,
                Some(remaining),
                Some(resets_at.saturating_duration_since(now)),
            ),
            _ => (false, None, None),
        };
        PacerSnapshot {
            window_known,
            limit: state.limit,
            remaining,
            resets_in,
            in_flight: state.in_flight,
            waiting: state.waiting,
            max_in_flight: self.in_flight_cap.as_ref().map(|(n, _)| *n),
            sent: state.issued,
            paced_requests: state.paced_requests,
            total_wait: state.total_wait,
        }
    }
}

impl PacePermit<'_> {
    /// Feeds the pacer what the attempt's response reported (`None`: no rate-limit
    /// headers). `now` and `wall_now` are the client clock's and the wall clock's time of
    /// the answer; `X-RateLimit-Reset` is a wall-clock time.
    ///
    /// It also ends the attempt's count in flight, under the same lock: the answer is in.
    /// The permit's drop then needs no lock. That is all [`Pacer::release`] would do for
    /// an answered permit: its other job, letting the next request probe when a probe
    /// ended without an answer, never applies, since observing the probe's answer always
    /// clears the probe (a probe exists only while the window is unknown, and any answer
    /// then makes it known or unreported).
    pub(crate) fn observe(
        &mut self,
        rate_limit: Option<&RateLimit>,
        now: impl FnOnce() -> Instant,
        wall_now: DateTime<Utc>,
    ) {
        if !self.pacer.enabled || self.settled {
            return;
        }
        let mut state = self.pacer.lock();
        let learned = state.observe(self.seq, rate_limit, now, wall_now);
        state.in_flight = state.in_flight.saturating_sub(1);
        self.settled = true;
        drop(state);
        if learned {
            self.pacer.learned.notify_waiters();
        }
    }
}

impl Drop for PacePermit<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.pacer.release(self.seq);
        }
    }
}

impl State {
    /// Decides for a request asking at `now`, counting the permit if it may go.
    fn next(&mut self, now: Instant) -> Next {
        if let Window::Known { resets_at, .. } = self.window
            && now >= resets_at
        {
            // The window reset: its successor's figures are unknown until answered.
            self.window = Window::Unknown;
            self.next_slot = None;
        }
        match self.window {
            Window::Unreported => self.issue(now),
            Window::Unknown => match self.probe {
                Some((_, started)) if now < started + PROBE_PATIENCE => Next::Wait {
                    until: started + PROBE_PATIENCE,
                    why: PaceWait::Learning,
                },
                _ => {
                    let next = self.issue(now);
                    if let Next::Go { seq, .. } = next {
                        self.probe = Some((seq, now));
                    }
                    next
                }
            },
            Window::Known {
                remaining: 0,
                resets_at,
                ..
            } => Next::Wait {
                until: resets_at,
                why: PaceWait::Exhausted,
            },
            Window::Known {
                remaining,
                resets_at,
                basis,
            } => {
                let to_reset = resets_at - now;
                let head_start = to_reset / HEAD_START_DIVISOR;
                let slot = match self.next_slot {
                    Some(slot) if slot > now + head_start => slot - head_start,
                    _ => now,
                };
                if slot >= resets_at {
                    return Next::Wait {
                        until: resets_at,
                        why: PaceWait::Exhausted,
                    };
                }
                // `remaining` ≥ 1 here, and fits a u32 for any realistic window; a larger
                // one spreads as if it were u32::MAX.
                let spacing = (resets_at - slot) / u32::try_from(remaining).unwrap_or(u32::MAX);
                let base = self.next_slot.map_or(now, |s| s.max(now));
                self.next_slot = Some(base + spacing);
                self.window = Window::Known {
                    remaining: remaining - 1,
                    resets_at,
                    basis,
                };
                let seq = self.issued;
                self.issued += 1;
                Next::Go { seq, at: slot }
            }
        }
    }

    fn issue(&mut self, now: Instant) -> Next {
        Next::Go {
            seq: self.issue_seq(),
            at: now,
        }
    }

    /// Counts one more permit; returns its sequence number.
    fn issue_seq(&mut self) -> u64 {
        let seq = self.issued;
        self.issued += 1;
        seq
    }

    /// Takes in an answer to permit `seq`; returns whether waiters learning the window
    /// should wake.
    ///
    /// `now` is read only when the answer has figures to place on the client's clock.
    fn observe(
        &mut self,
        seq: u64,
        rate_limit: Option<&RateLimit>,
        now: impl FnOnce() -> Instant,
        wall_now: DateTime<Utc>,
    ) -> bool {
        let figures = rate_limit.and_then(|r| Some((r.remaining?, r.reset?, r.limit)));
        let Some((reported, reset, limit)) = figures else {
            // No usable figures: a server that never sends them is not paced; one answer
            // without them (a proxy's error page, say) does not erase a known window.
            if self.window == Window::Unknown {
                self.window = Window::Unreported;
                self.probe = None;
                return true;
            }
            return false;
        };
        if limit.is_some() {
            self.limit = limit;
        }
        let now = now();
        // A reset further away than any real window is a mangled header: believing it
        // would hold every request for that long.
        let to_reset = (reset - wall_now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .min(MAX_WINDOW);
        let mut resets_at = now + to_reset;
        // Requests issued after this one may already be counted by the server, or not: the
        // estimate assumes they are not (and so spends them), which errs on the safe side.
        let after = self.issued.saturating_sub(seq + 1);
        let remaining = reported.saturating_sub(after);
        if remaining == 0 {
            resets_at = resets_at.max(now + MIN_HOLD);
        }
        match self.window {
            Window::Known {
                resets_at: known,
                basis,
                ..
            } if resets_at <= known + RESET_GRANULARITY => {
                // The same window: only a newer answer refines the estimate.
                if seq < basis {
                    return false;
                }
                self.window = Window::Known {
                    remaining,
                    resets_at: resets_at.max(known),
                    basis: seq,
                };
                false
            }
            _ => {
                // A first answer, or one from a newer window.
                self.window = Window::Known {
                    remaining,
                    resets_at,
                    basis: seq,
                };
                self.probe = None;
                self.next_slot = None;
                true
            }
        }
    }
}

impl crate::Client {
    /// What the rate-limit pacer of this client (and its clones) knows now: the window's
    /// limit, what it still allows, when it resets, and the requests in flight and waiting.
    pub fn rate_limit_state(&self) -> PacerSnapshot {
        self.shared.pacer.snapshot(self.shared.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(remaining: u64, reset_in_secs: i64, wall: DateTime<Utc>) -> RateLimit {
        RateLimit {
            limit: Some(100),
            remaining: Some(remaining),
            reset: Some(wall + chrono::Duration::seconds(reset_in_secs)),
        }
    }

    fn state() -> State {
        Pacer::new(true, None).state.into_inner().unwrap()
    }

    fn go(next: Next) -> (u64, Instant) {
        match next {
            Next::Go { seq, at } => (seq, at),
            other => panic!("expected a permit, got {other:?}"),
        }
    }

    #[test]
    fn one_probe_until_the_first_answer_then_spread() {
        let mut s = state();
        let t0 = Instant::now();
        let wall = Utc::now();
        let (probe, _) = go(s.next(t0));
        assert!(matches!(
            s.next(t0),
            Next::Wait {
                why: PaceWait::Learning,
                ..
            }
        ));
        // 10 left for 10 s: one request a second, with a 1 s head start.
        assert!(s.observe(probe, Some(&figures(10, 10, wall)), || t0, wall));
        let (_, first) = go(s.next(t0));
        assert_eq!(first, t0);
        let (_, second) = go(s.next(t0));
        assert_eq!(second, t0);
        let (_, third) = go(s.next(t0));
        assert!(third > t0, "the head start is spent");
    }

    #[test]
    fn an_exhausted_window_holds_until_its_reset_then_relearns() {
        let mut s = state();
        let t0 = Instant::now();
        let wall = Utc::now();
        let (probe, _) = go(s.next(t0));
        s.observe(probe, Some(&figures(0, 30, wall)), || t0, wall);
        assert_eq!(
            s.next(t0 + Duration::from_secs(29)),
            Next::Wait {
                until: t0 + Duration::from_secs(30),
                why: PaceWait::Exhausted
            }
        );
        // At the reset one request goes to learn the new window.
        let at_reset = t0 + Duration::from_secs(30);
        go(s.next(at_reset));
        assert!(matches!(
            s.next(at_reset),
            Next::Wait {
                why: PaceWait::Learning,
                ..
            }
        ));
    }

    #[test]
    fn requests_on_the_wire_count_as_spent_and_stale_answers_are_ignored() {
        let mut s = state();
        let t0 = Instant::now();
        let wall = Utc::now();
        let (probe, _) = go(s.next(t0));
        s.observe(probe, Some(&figures(50, 60, wall)), || t0, wall);
        let seqs: Vec<u64> = (0..5).map(|_| go(s.next(t0)).0).collect();
        // The answer to the first of five says 49: the four after it are assumed unseen.
        s.observe(seqs[0], Some(&figures(49, 60, wall)), || t0, wall);
        assert!(matches!(s.window, Window::Known { remaining: 45, .. }));
        // An older answer (the probe's, late) changes nothing.
        s.observe(probe, Some(&figures(50, 60, wall)), || t0, wall);
        assert!(matches!(s.window, Window::Known { remaining: 45, .. }));
    }

    #[test]
    fn a_server_without_rate_limit_headers_is_not_paced() {
        let mut s = state();
        let t0 = Instant::now();
        let (probe, _) = go(s.next(t0));
        assert!(s.observe(probe, None, || t0, Utc::now()));
        for _ in 0..1000 {
            assert_eq!(go(s.next(t0)).1, t0);
        }
    }

    #[test]
    fn an_absurd_reset_is_capped_at_an_hour() {
        let mut s = state();
        let t0 = Instant::now();
        let wall = Utc::now();
        let (probe, _) = go(s.next(t0));
        s.observe(probe, Some(&figures(0, 10_000_000_000, wall)), || t0, wall);
        assert_eq!(
            s.next(t0),
            Next::Wait {
                until: t0 + MAX_WINDOW,
                why: PaceWait::Exhausted
            }
        );
    }

    #[test]
    fn a_late_probe_does_not_block_forever() {
        let mut s = state();
        let t0 = Instant::now();
        go(s.next(t0));
        go(s.next(t0 + PROBE_PATIENCE));
    }
}
