//! Recognising repeated deliveries of the same event.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A TTL that covers Kallglot's whole retry schedule with a margin.
///
/// Kallglot makes up to 8 attempts, the last about 41.5 hours after the
/// first (per its legacy documentation; the current one does not say), so an
/// id must be remembered at least that long to catch every retry. 48 hours
/// leaves room for clock and queueing delays.
pub const RECOMMENDED_TTL: Duration = Duration::from_secs(48 * 60 * 60);

/// Remembers which events were already delivered.
///
/// Kallglot retries a delivery that got no `2xx` answer in time, so the same
/// event can arrive several times, even after your handler processed it (for
/// example when the answer was lost). Ask [`first_delivery`](Self::first_delivery)
/// with the event id before doing work, and skip the event when it answers
/// `false`.
///
/// De-duplication narrows the window but cannot close it (a process restart
/// forgets an in-memory set; two deliveries can race), so handlers must be
/// idempotent anyway. This trait is for one process. For several server
/// instances, use a store they share through [`DedupStore`](super::DedupStore)
/// (async and fallible): `RedisDeduplicator` with the `redis` feature, or your
/// own over a database table. Every `Deduplicator` is also a `DedupStore`.
///
/// ```
/// use kallglot::webhooks::{Deduplicator, InMemoryDeduplicator, RECOMMENDED_TTL};
///
/// let seen = InMemoryDeduplicator::new(100_000).with_ttl(RECOMMENDED_TTL);
/// assert!(seen.first_delivery("evt_1"));
/// assert!(!seen.first_delivery("evt_1")); // a retry: skip it
///
/// // Processing failed: forget the id so Kallglot's next retry is handled.
/// seen.forget("evt_1");
/// assert!(seen.first_delivery("evt_1"));
/// ```
pub trait Deduplicator: Send + Sync {
    /// Records `event_id` and returns `true` if it was not seen before (within
    /// the implementation's memory), `false` for a repeat.
    fn first_delivery(&self, event_id: &str) -> bool;

    /// Forgets `event_id`, so its next delivery counts as the first again.
    ///
    /// Call this when processing an event failed and you answer with an
    /// error, so that Kallglot's retry is processed rather than skipped. The
    /// default does nothing, which suits stores that only record an id once
    /// processing succeeded.
    fn forget(&self, event_id: &str) {
        let _ = event_id;
    }
}

impl<T: Deduplicator + ?Sized> Deduplicator for Arc<T> {
    fn first_delivery(&self, event_id: &str) -> bool {
        (**self).first_delivery(event_id)
    }

    fn forget(&self, event_id: &str) {
        (**self).forget(event_id);
    }
}

impl<T: Deduplicator + ?Sized> Deduplicator for &T {
    fn first_delivery(&self, event_id: &str) -> bool {
        (**self).first_delivery(event_id)
    }

    fn forget(&self, event_id: &str) {
        (**self).forget(event_id);
    }
}

/// A monotonic time source.
type InstantClock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// A bounded, in-process [`Deduplicator`].
///
/// Remembers up to `capacity` ids, each for at most the optional TTL. When
/// full, the oldest id is forgotten first. Every operation is amortised
/// O(1) behind one mutex, so it can be shared across request handlers.
///
/// Size it for Kallglot's retry schedule: use a TTL of at least ~42 hours
/// ([`RECOMMENDED_TTL`]) and a capacity above the number of events you
/// receive in that time, or an evicted id's late retry is processed twice.
/// Memory is roughly the id length plus ~100 bytes per entry.
pub struct InMemoryDeduplicator {
    state: Mutex<State>,
    capacity: usize,
    ttl: Option<Duration>,
    clock: InstantClock,
}

#[derive(Default)]
struct State {
    /// Id → a stamp telling this insertion apart from a later re-insertion
    /// of the same id, so that a stale queue entry does not evict it.
    seen: HashMap<Arc<str>, u64>,
    /// Ids in insertion order with their stamp and insertion time. Since
    /// time only moves forward, the oldest (first to expire) are at the front.
    order: VecDeque<(Arc<str>, u64, Instant)>,
    next_stamp: u64,
}

impl InMemoryDeduplicator {
    /// Remembers up to `capacity` ids, without expiry. A capacity of 0 is
    /// treated as 1.
    pub fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(State::default()),
            capacity: capacity.max(1),
            ttl: None,
            clock: Arc::new(Instant::now),
        }
    }

    /// Forgets each id `ttl` after it was first seen, so that capacity is
    /// only spent on ids that can still be retried.
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Uses `clock` instead of [`Instant::now`], for tests of the TTL. It
    /// must never go backwards.
    pub fn with_clock(mut self, clock: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The number of ids currently remembered, expired ones included until
    /// the next call prunes them.
    pub fn len(&self) -> usize {
        self.lock().seen.len()
    }

    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The maximum number of ids remembered.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is only mutated through short, non-panicking sequences
        // (apart from allocation failure), so a poisoned lock still holds
        // consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Drops queue entries from the front while `drop` says so, removing
    /// their ids unless they were re-inserted since (stamp differs).
    fn pop_front_while(&mut self, mut drop: impl FnMut(&Self, Instant) -> bool) {
        while let Some((id, stamp, at)) = self.order.front() {
            let live = self.seen.get(id) == Some(stamp);
            if live && !drop(self, *at) {
                break;
            }
            // A stale entry (its id was forgotten or re-inserted) is always
            // dropped: it no longer stands for anything.
            if live {
                self.seen.remove(id);
            }
            self.order.pop_front();
        }
    }
}

impl Deduplicator for InMemoryDeduplicator {
    fn first_delivery(&self, event_id: &str) -> bool {
        let now = (self.clock)();
        let mut state = self.lock();
        if let Some(ttl) = self.ttl {
            state.pop_front_while(|_, at| now.saturating_duration_since(at) >= ttl);
        }
        if state.seen.contains_key(event_id) {
            return false;
        }
        let capacity = self.capacity;
        state.pop_front_while(|s, _| s.seen.len() >= capacity);
        let id: Arc<str> = Arc::from(event_id);
        let stamp = state.next_stamp;
        state.next_stamp += 1;
        state.seen.insert(Arc::clone(&id), stamp);
        state.order.push_back((id, stamp, now));
        true
    }

    fn forget(&self, event_id: &str) {
        let mut state = self.lock();
        state.seen.remove(event_id);
        // The queue entry becomes stale and is dropped when it reaches the
        // front. Bound the garbage: if stale entries dominate, compact now,
        // keeping each operation amortised O(1).
        if state.order.len() > self.capacity.saturating_mul(2) {
            let State { seen, order, .. } = &mut *state;
            order.retain(|(id, stamp, _)| seen.get(id) == Some(stamp));
        }
    }
}

impl fmt::Debug for InMemoryDeduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemoryDeduplicator")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    /// A clock the test moves by hand, in whole seconds.
    fn manual_clock() -> (Arc<AtomicU64>, impl Fn() -> Instant + Send + Sync + 'static) {
        let base = Instant::now();
        let offset = Arc::new(AtomicU64::new(0));
        let handle = Arc::clone(&offset);
        (offset, move || {
            base + Duration::from_secs(handle.load(Ordering::SeqCst))
        })
    }

    #[test]
    fn repeated_forget_stays_bounded() {
        let d = InMemoryDeduplicator::new(3);
        for _ in 0..1000 {
            assert!(d.first_delivery("a"));
            d.forget("a");
        }
        assert!(d.lock().order.len() <= 2 * 3 + 1);
        assert!(d.is_empty());
    }

    #[test]
    fn stale_entry_does_not_evict_reinserted_id() {
        let d = InMemoryDeduplicator::new(2);
        assert!(d.first_delivery("a"));
        d.forget("a");
        assert!(d.first_delivery("a")); // queue: a(stale), a
        assert!(d.first_delivery("b")); // queue: a(stale), a, b — stale a dropped first
        assert!(!d.first_delivery("a"));
        assert!(!d.first_delivery("b"));
        assert!(d.first_delivery("c")); // evicts a, the oldest live id
        assert!(d.first_delivery("a"));
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn ttl_boundary_is_exclusive() {
        let (offset, clock) = manual_clock();
        let d = InMemoryDeduplicator::new(10)
            .with_ttl(Duration::from_secs(60))
            .with_clock(clock);
        assert!(d.first_delivery("a"));
        offset.store(59, Ordering::SeqCst);
        assert!(!d.first_delivery("a"));
        offset.store(60, Ordering::SeqCst);
        assert!(d.first_delivery("a"), "remembered for exactly the TTL");
    }

    #[test]
    fn debug_output() {
        let d = InMemoryDeduplicator::new(0);
        assert_eq!(d.capacity(), 1);
        assert!(format!("{d:?}").contains("capacity: 1"));
    }
}
