//! Signed webhook delivery: an [`EventSink`] that POSTs every event to a URL, the way
//! Kallglot does (see `docs/contract.md#webhooks`).
//!
//! Each delivery carries `Kallglot-Signature: t=<unix>,v1=<hex>` (HMAC-SHA256 of
//! `"{t}.{body}"` with the endpoint secret), `Kallglot-Webhook-Id` (one id per delivery,
//! the same on every retry), `Kallglot-Retry-Count` (0 on the first attempt) and
//! `Kallglot-Original-Timestamp` (when the event was created). The body bytes are the same
//! on every attempt; `t` is fresh on each, as the reference's example suggests.
//!
//! A delivery fails on a non-2xx answer, no answer within the timeout, or a connection
//! error, and is retried after each delay of the schedule. Kallglot's own schedule spans
//! about 41 hours; the emulator's default is compressed to seconds so that local loops
//! and CI see retries happen. Both are configurable.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

use crate::events::{EventSink, MockEvent};

/// How many events may wait for delivery; beyond it new events are dropped (and logged)
/// rather than queued without bound.
const QUEUE: usize = 1024;

/// Where and how the emulator delivers webhooks.
#[derive(Clone)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// The endpoint URL (any scheme reqwest supports; Kallglot itself requires https).
    pub url: String,
    /// More endpoint URLs: attempts go round-robin over `url` and these, one after the
    /// other across all events, like a load balancer in front of several replicas, so
    /// that a retry usually reaches another replica than the attempt before it.
    pub more_urls: Vec<String>,
    /// The endpoint's signing secret.
    pub secret: String,
    /// Waits before each retry; a delivery is attempted `retry_delays.len() + 1` times.
    pub retry_delays: Vec<Duration>,
    /// How long one attempt may take (Kallglot gives endpoints 30 s).
    pub timeout: Duration,
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookConfig")
            .field("url", &self.url)
            .field("more_urls", &self.more_urls)
            .field("secret", &"[redacted]")
            .field("retry_delays", &self.retry_delays)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl WebhookConfig {
    /// Deliveries to `url` signed with `secret`, with the compressed retry schedule
    /// (1, 2, 4, 8, 16, 32 and 64 s: 8 attempts, like Kallglot's) and a 30 s timeout.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            more_urls: Vec::new(),
            secret: secret.into(),
            retry_delays: (0..7).map(|i| Duration::from_secs(1 << i)).collect(),
            timeout: Duration::from_secs(30),
        }
    }

    /// Kallglot's documented schedule: ~1 min, ~5 min, ~30 min, ~2 h, ~5 h, ~10 h, ~24 h.
    pub fn documented_schedule(mut self) -> Self {
        self.retry_delays = [60, 300, 1_800, 7_200, 18_000, 36_000, 86_400]
            .into_iter()
            .map(Duration::from_secs)
            .collect();
        self
    }

    /// Replaces the retry delays.
    pub fn retry_delays(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.retry_delays = delays.into_iter().collect();
        self
    }

    /// Spreads attempts round-robin over `url` and `urls` (see [`more_urls`](Self::more_urls)).
    pub fn round_robin_with(mut self, urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.more_urls = urls.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the per-attempt timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// The `Kallglot-Signature` value for `body` sent at `timestamp`.
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp},v1={hex}")
}

/// Delivers events in the background. Create it inside a tokio runtime.
pub(crate) struct WebhookSender {
    queue: mpsc::Sender<MockEvent>,
}

impl fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSender").finish_non_exhaustive()
    }
}

impl WebhookSender {
    pub(crate) fn start(config: WebhookConfig) -> Arc<Self> {
        let (queue, mut events) = mpsc::channel::<MockEvent>(QUEUE);
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the webhook HTTP client builds");
        let targets = Arc::new(Targets {
            config,
            next: AtomicUsize::new(0),
        });
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                // Deliveries are independent: a failing one retries on its own schedule
                // without holding back the next event.
                tokio::spawn(deliver(client.clone(), targets.clone(), event));
            }
        });
        Arc::new(Self { queue })
    }
}

impl EventSink for WebhookSender {
    fn publish(&self, event: &MockEvent) {
        if self.queue.try_send(event.clone()).is_err() {
            tracing::warn!(event = %event.id, "webhook queue full: event dropped");
        }
    }
}

/// The configuration with the round-robin position shared by all deliveries.
struct Targets {
    config: WebhookConfig,
    next: AtomicUsize,
}

impl Targets {
    /// The URL for the next attempt, whichever event it belongs to.
    fn next_url(&self) -> &str {
        let count = 1 + self.config.more_urls.len();
        match self.next.fetch_add(1, Ordering::Relaxed) % count {
            0 => &self.config.url,
            n => &self.config.more_urls[n - 1],
        }
    }
}

async fn deliver(client: reqwest::Client, targets: Arc<Targets>, event: MockEvent) {
    let config = &targets.config;
    let body = serde_json::to_vec(&event.envelope()).expect("envelopes serialize");
    let delivery_id = crate::ids::new_id("wh_del_");
    let original = event.created_at.timestamp();
    let attempts = config.retry_delays.len() + 1;
    for attempt in 0..attempts {
        if attempt > 0 {
            tokio::time::sleep(config.retry_delays[attempt - 1]).await;
        }
        let timestamp = crate::time::now().timestamp();
        let result = client
            .post(targets.next_url())
            .header("content-type", "application/json")
            .header(
                "kallglot-signature",
                signature_header(&config.secret, timestamp, &body),
            )
            .header("kallglot-webhook-id", &delivery_id)
            .header("kallglot-retry-count", attempt.to_string())
            .header("kallglot-original-timestamp", original.to_string())
            .body(body.clone())
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_success() => {
                tracing::debug!(event = %event.id, attempt, "webhook delivered");
                return;
            }
            Ok(response) => {
                tracing::debug!(event = %event.id, attempt, status = %response.status(), "webhook refused");
            }
            Err(e) => tracing::debug!(event = %event.id, attempt, error = %e, "webhook failed"),
        }
    }
    tracing::warn!(event = %event.id, attempts, "webhook permanently failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_matches_a_known_vector() {
        // HMAC-SHA256(key = "whsec_test", "1700000000.{}"), computed with Python's hmac.
        assert_eq!(
            signature_header("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn the_config_never_prints_the_secret() {
        let config = WebhookConfig::new("http://127.0.0.1:1/hook", "whsec_super_secret");
        assert!(!format!("{config:?}").contains("super_secret"));
        assert_eq!(config.retry_delays.len(), 7);
    }

    #[test]
    fn attempts_go_round_robin_over_all_urls() {
        let targets = Targets {
            config: WebhookConfig::new("http://127.0.0.1:1/a", "whsec_x")
                .round_robin_with(["http://127.0.0.1:1/b"]),
            next: AtomicUsize::new(0),
        };
        let urls: Vec<_> = (0..4).map(|_| targets.next_url().to_owned()).collect();
        assert_eq!(
            urls,
            ["http://127.0.0.1:1/a", "http://127.0.0.1:1/b"].repeat(2)
        );
        let single = Targets {
            config: WebhookConfig::new("http://127.0.0.1:1/a", "whsec_x"),
            next: AtomicUsize::new(0),
        };
        assert_eq!(single.next_url(), single.next_url());
    }
}
