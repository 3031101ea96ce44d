//! Credits watch: an alert each time the balance in `X-API-Credits-Remaining` falls below
//! a threshold.
//!
//! Alerts arrive through a [`tokio::sync::watch`] receiver rather than a callback, on
//! purpose:
//!
//! - no user code runs inside the request path, so a slow, blocking or panicking handler
//!   cannot stall or break API calls;
//! - the value is a state (below or not, and how many times it fell below), so a receiver
//!   that looks late still sees the current state, and the `falls` counter tells it how
//!   many crossings it missed; nothing needs queueing, and memory stays constant;
//! - it fits async code (`changed().await` in a task) and several receivers can share one
//!   watch.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use tokio::sync::watch;

/// The state of one credits watch, as its receiver sees it.
///
/// The value changes only when the balance crosses the threshold: when it falls below
/// (then `falls` grows by one) and when it rises back to the threshold or above (which
/// re-arms the alert). Each fall is also logged at `warn` level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreditsAlert {
    /// The threshold this watch was created with.
    pub threshold: i64,
    /// Whether the last reported balance was below the threshold.
    pub below: bool,
    /// The balance reported by the response that crossed the threshold (`None` before
    /// any crossing).
    pub balance: Option<i64>,
    /// How many times the balance has fallen below the threshold.
    pub falls: u64,
}

/// Every credits watch of a client.
#[derive(Debug, Default)]
pub(crate) struct CreditsWatches {
    watches: Mutex<Vec<watch::Sender<CreditsAlert>>>,
    /// Whether a watch was ever subscribed: until then a reported balance is not looked
    /// at, without taking the lock (most clients never watch credits, and every response
    /// reports a balance).
    subscribed: AtomicBool,
}

impl CreditsWatches {
    fn lock(&self) -> MutexGuard<'_, Vec<watch::Sender<CreditsAlert>>> {
        self.watches.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new watch on `threshold`, starting above it.
    pub(crate) fn subscribe(&self, threshold: i64) -> watch::Receiver<CreditsAlert> {
        let (sender, receiver) = watch::channel(CreditsAlert {
            threshold,
            below: false,
            balance: None,
            falls: 0,
        });
        self.lock().push(sender);
        self.subscribed.store(true, Ordering::Release);
        receiver
    }

    /// Takes in a reported balance.
    pub(crate) fn observe(&self, balance: i64) {
        if !self.subscribed.load(Ordering::Acquire) {
            return;
        }
        let mut watches = self.lock();
        if watches.is_empty() {
            return;
        }
        // A watch nobody listens to any more is dropped here.
        watches.retain(|w| !w.is_closed());
        for sender in watches.iter() {
            sender.send_if_modified(|alert| {
                let below = balance < alert.threshold;
                if below == alert.below {
                    return false;
                }
                alert.below = below;
                alert.balance = Some(balance);
                if below {
                    alert.falls += 1;
                    tracing::warn!(
                        balance,
                        threshold = alert.threshold,
                        "kallglot API credits fell below the threshold"
                    );
                } else {
                    tracing::info!(
                        balance,
                        threshold = alert.threshold,
                        "kallglot API credits are back at or above the threshold"
                    );
                }
                true
            });
        }
    }
}

impl crate::Client {
    /// Watches the credit balance the API reports in `X-API-Credits-Remaining`: the
    /// receiver's value changes each time the balance falls below `threshold` and each
    /// time it is back at or above it (see [`CreditsAlert`]). Works across this client and
    /// its clones; several watches with different thresholds can coexist.
    ///
    /// ```no_run
    /// # async fn demo(client: kallglot::Client) {
    /// let mut alerts = client.watch_credits(500);
    /// tokio::spawn(async move {
    ///     while alerts.changed().await.is_ok() {
    ///         let alert = *alerts.borrow();
    ///         if alert.below {
    ///             eprintln!("credits low: {:?} left", alert.balance);
    ///         }
    ///     }
    /// });
    /// # }
    /// ```
    pub fn watch_credits(&self, threshold: i64) -> watch::Receiver<CreditsAlert> {
        self.shared.credits.subscribe(threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_alert_per_fall_and_rearmed_by_a_rise() {
        let watches = CreditsWatches::default();
        let mut rx = watches.subscribe(5);
        let mut seen = Vec::new();
        for balance in [10, 6, 4, 3, 2, 7, 8, 5, 1, 0] {
            watches.observe(balance);
            if rx.has_changed().unwrap() {
                seen.push(*rx.borrow_and_update());
            }
        }
        let falls: Vec<_> = seen.iter().map(|a| (a.below, a.balance, a.falls)).collect();
        assert_eq!(
            falls,
            [(true, Some(4), 1), (false, Some(7), 1), (true, Some(1), 2)]
        );
    }

    #[test]
    fn dropped_receivers_are_forgotten() {
        let watches = CreditsWatches::default();
        drop(watches.subscribe(5));
        let _kept = watches.subscribe(3);
        watches.observe(1);
        assert_eq!(watches.lock().len(), 1);
    }
}
