//! Starting, running and stopping the emulator.
//!
//! The server runs its own accept loop over hyper (rather than `axum::serve`) so that it
//! controls each connection: see [`connection`](crate::connection) for what that adds.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::addr::loopback_visible;
use crate::config::{DEFAULT_API_KEY, KeyConfig, MockConfig};
use crate::events::{EventSink, MockEvent, Publisher};
use crate::faults::Faults;
use crate::state::{AppState, lock};

/// Configures and starts a [`MockServer`].
///
/// ```no_run
/// # async fn demo() -> std::io::Result<()> {
/// use std::time::Duration;
/// let server = kallglot_mock::MockServer::builder()
///     .port(0)
///     .credits(100)
///     .rate_limit(60, Duration::from_secs(60))
///     .analysis_delay(Duration::from_millis(200))
///     .start()
///     .await?;
/// println!("{}", server.url());
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until start() is awaited"]
pub struct MockServerBuilder {
    addr: SocketAddr,
    config: MockConfig,
    sinks: Vec<Arc<dyn EventSink>>,
    webhooks: Vec<crate::WebhookConfig>,
}

impl Default for MockServerBuilder {
    fn default() -> Self {
        Self {
            addr: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            config: MockConfig::default(),
            sinks: Vec::new(),
            webhooks: Vec::new(),
        }
    }
}

impl MockServerBuilder {
    /// Listens on this port of 127.0.0.1 (0, the default, picks a free one).
    pub fn port(mut self, port: u16) -> Self {
        self.addr.set_port(port);
        self
    }

    /// Listens on this address (for example `0.0.0.0:8080` to serve other machines).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: MockConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the starting credit balance.
    pub fn credits(mut self, credits: u64) -> Self {
        self.config = self.config.credits(credits);
        self
    }

    /// Allows `limit` requests per `window`.
    pub fn rate_limit(mut self, limit: u32, window: Duration) -> Self {
        self.config = self.config.rate_limit(limit, window);
        self
    }

    /// Sets how long analyses stay `processing`.
    pub fn analysis_delay(mut self, delay: Duration) -> Self {
        self.config = self.config.analysis_delay(delay);
        self
    }

    /// Sets the stream token lifetime.
    pub fn stream_token_ttl(mut self, ttl: Duration) -> Self {
        self.config = self.config.stream_token_ttl(ttl);
        self
    }

    /// Sets how much audio makes one scripted utterance.
    pub fn utterance_duration(mut self, duration: Duration) -> Self {
        self.config = self.config.utterance_duration(duration);
        self
    }

    /// Sets how long a client may take to send a request (10 s by default).
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.read_timeout(timeout);
        self
    }

    /// Adds (or replaces) an API key.
    pub fn key(mut self, key: KeyConfig) -> Self {
        self.config = self.config.key(key);
        self
    }

    /// Publishes every event to `sink` as well (the webhook extension point).
    pub fn event_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Delivers every event as a signed webhook (see [`WebhookConfig`](crate::WebhookConfig)).
    pub fn webhook(mut self, config: crate::WebhookConfig) -> Self {
        self.webhooks.push(config);
        self
    }

    /// Binds and starts serving in the background.
    pub async fn start(self) -> io::Result<MockServer> {
        let listener = TcpListener::bind(self.addr).await?;
        let local_addr = listener.local_addr()?;
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let api_key = self
            .config
            .keys
            .iter()
            .find(|k| {
                k.key.starts_with("sk_test_")
                    && !k.revoked
                    && !k.expired
                    && !k.inactive_org
                    && k.has_every_scope()
            })
            .map_or(DEFAULT_API_KEY.to_string(), |k| k.key.clone());
        let mut sinks = self.sinks;
        for webhook in self.webhooks {
            sinks.push(crate::webhooks::WebhookSender::start(webhook));
        }
        let publisher = Publisher::new(sinks);
        let state = AppState::new(self.config, local_addr, publisher, shutdown_rx.clone());
        let router = crate::routes::router(state.clone());
        let read_timeout = state.config.read_timeout;
        let task = tokio::spawn(accept_loop(listener, router, read_timeout, shutdown_rx));
        tracing::debug!(%local_addr, "kallglot mock started");
        Ok(MockServer {
            state,
            local_addr,
            api_key,
            shutdown: shutdown_tx,
            task: Some(task),
        })
    }
}

async fn accept_loop(
    listener: TcpListener,
    router: axum::Router,
    read_timeout: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                connections.spawn(crate::connection::serve(stream, router.clone(), read_timeout));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    // Dropping the set aborts the open connections; upgraded streams watch the shutdown
    // signal themselves and close with 1001.
    connections.abort_all();
}

/// A running emulator. Dropping it stops it (use [`shutdown`](Self::shutdown) to wait
/// until it has stopped).
pub struct MockServer {
    state: AppState,
    local_addr: SocketAddr,
    api_key: String,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for MockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockServer")
            .field("url", &self.url())
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Starts an emulator on a free port of 127.0.0.1 with the default configuration.
    pub async fn start() -> io::Result<Self> {
        Self::builder().start().await
    }

    /// A builder for a configured emulator.
    pub fn builder() -> MockServerBuilder {
        MockServerBuilder::default()
    }

    /// The REST base URL for the SDK, such as `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", loopback_visible(self.local_addr))
    }

    /// The address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A working API key with every scope ([`DEFAULT_API_KEY`] unless the configuration
    /// replaced it).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Adds (or replaces) an API key while running.
    pub fn add_key(&self, key: KeyConfig) {
        lock(&self.state.keys).add(key);
    }

    /// The fault injection handle.
    pub fn faults(&self) -> Faults {
        self.state.faults.clone()
    }

    /// Credits left.
    pub fn credits(&self) -> u64 {
        self.state.world().credits.remaining
    }

    /// Credits charged so far.
    pub fn credits_used(&self) -> u64 {
        self.state.world().credits.used
    }

    /// Sets the credit balance.
    pub fn set_credits(&self, remaining: u64) {
        self.state.world().credits.remaining = remaining;
    }

    /// Makes analyses that finish from now on fail with `reason` (`None` restores
    /// success).
    pub fn fail_analyses(&self, reason: Option<&str>) {
        self.state.world().analysis_failure = reason.map(str::to_string);
    }

    /// Drops every open stream abruptly, without a close frame (to test reconnection).
    pub fn disconnect_streams(&self) {
        self.state
            .disconnect
            .send_modify(|generation| *generation += 1);
    }

    /// The `audio.input` that streams of session `session_id` received so far (accepted
    /// and refused frames, bytes, and the wall time they arrived over); `None` for an
    /// unknown session.
    pub fn audio_stats(&self, session_id: &str) -> Option<crate::AudioStats> {
        self.state.world().audio_stats(session_id)
    }

    /// Receives every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<MockEvent> {
        self.state.events.subscribe()
    }

    /// Serves until `signal` completes, then shuts down.
    pub async fn run_until(self, signal: impl Future<Output = ()>) {
        signal.await;
        self.shutdown().await;
    }

    /// Stops accepting, closes open streams (1001) and connections, and waits for the
    /// server task to finish.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves the emulator on `addr` until Ctrl-C (for `kallglot mock serve`).
pub async fn serve(addr: SocketAddr, config: MockConfig) -> io::Result<()> {
    serve_with_shutdown(addr, config, async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handling on this platform: serve until the process is killed.
            std::future::pending::<()>().await;
        }
    })
    .await
}

/// Serves the emulator on `addr` until `signal` completes.
pub async fn serve_with_shutdown(
    addr: SocketAddr,
    config: MockConfig,
    signal: impl Future<Output = ()>,
) -> io::Result<()> {
    let server = MockServer::builder()
        .addr(addr)
        .config(config)
        .start()
        .await?;
    tracing::info!(url = %server.url(), "kallglot mock listening");
    server.run_until(signal).await;
    Ok(())
}
