//! A minimal Chrome DevTools Protocol client: JSON commands over the browser's debugging
//! WebSocket, flattened sessions for pages, and every event kept for later assertions.
//! (A full CDP crate would pull in thousands of generated types for the dozen commands
//! this test sends.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// How long one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// At most this many events are kept (a run produces a few thousand).
const MAX_EVENTS: usize = 100_000;

/// A connection to a browser's DevTools endpoint.
pub struct Cdp {
    sink: tokio::sync::Mutex<SplitSink<Socket, Message>>,
    pending: Pending,
    events: Arc<Mutex<Vec<Value>>>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

impl Cdp {
    /// Connects to `ws://127.0.0.1:…/devtools/browser/…`.
    pub async fn connect(url: &str) -> Result<Self, String> {
        assert!(
            url.starts_with("ws://127.0.0.1:"),
            "not a loopback DevTools URL: {url}"
        );
        let (socket, _) =
            tokio::time::timeout(COMMAND_TIMEOUT, tokio_tungstenite::connect_async(url))
                .await
                .map_err(|_| "connecting to DevTools timed out".to_string())?
                .map_err(|e| format!("connecting to DevTools: {e}"))?;
        let (sink, mut stream) = socket.split();
        let pending: Pending = Arc::default();
        let events: Arc<Mutex<Vec<Value>>> = Arc::default();
        let reader = tokio::spawn({
            let (pending, events) = (pending.clone(), events.clone());
            async move {
                while let Some(Ok(message)) = stream.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    if let Some(id) = value.get("id").and_then(Value::as_u64) {
                        let answer = match value.get("error") {
                            Some(error) => Err(error.to_string()),
                            None => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
                        };
                        if let Some(waiter) = pending.lock().unwrap().remove(&id) {
                            let _ = waiter.send(answer);
                        }
                    } else {
                        let mut events = events.lock().unwrap();
                        if events.len() < MAX_EVENTS {
                            events.push(value);
                        }
                    }
                }
            }
        });
        Ok(Self {
            sink: tokio::sync::Mutex::new(sink),
            pending,
            events,
            next_id: AtomicU64::new(1),
            reader,
        })
    }

    /// Sends `method` (to a page when `session` is set) and waits for its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.sink
            .lock()
            .await
            .send(Message::Text(command.to_string().into()))
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer.map_err(|e| format!("{method}: {e}")),
            Ok(Err(_)) => Err(format!("{method}: the DevTools connection closed")),
            Err(_) => {
                self.pending.lock().unwrap().remove(&id);
                Err(format!("{method}: no answer within {COMMAND_TIMEOUT:?}"))
            }
        }
    }

    /// The events received so far whose method is `method`.
    pub fn events(&self, method: &str) -> Vec<Value> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["method"] == method)
            .cloned()
            .collect()
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A page of the browser, reached through a flattened session.
pub struct Page<'a> {
    cdp: &'a Cdp,
    session: String,
}

impl<'a> Page<'a> {
    /// Opens a blank tab and enables the domains the test reads events of.
    pub async fn open(cdp: &'a Cdp) -> Result<Self, String> {
        let target = cdp
            .call(None, "Target.createTarget", json!({"url": "about:blank"}))
            .await?;
        let attached = cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target["targetId"], "flatten": true}),
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or("no sessionId")?
            .to_owned();
        let page = Self { cdp, session };
        for domain in ["Runtime", "Page", "Log", "Network"] {
            page.call(&format!("{domain}.enable"), json!({})).await?;
        }
        Ok(page)
    }

    /// Sends a command to this page.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        self.cdp.call(Some(&self.session), method, params).await
    }

    /// Evaluates `expression` (awaiting a promise) as if a user acted, and returns its
    /// value as JSON.
    pub async fn eval(&self, expression: &str) -> Result<Value, String> {
        let answer = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true, "userGesture": true}),
            )
            .await?;
        if let Some(exception) = answer.get("exceptionDetails") {
            return Err(format!("{expression}: {exception}"));
        }
        Ok(answer["result"]
            .get("value")
            .cloned()
            .unwrap_or(Value::Null))
    }

    /// Polls `condition` (a JS expression) every 50 ms until it is true, or fails after
    /// `deadline` with the page's status line.
    pub async fn wait_for(&self, condition: &str, deadline: Duration) -> Result<(), String> {
        let give_up = tokio::time::Instant::now() + deadline;
        loop {
            if self.eval(condition).await? == Value::Bool(true) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= give_up {
                let status = self
                    .eval("document.getElementById('status')?.textContent ?? document.readyState")
                    .await?;
                return Err(format!(
                    "`{condition}` still false after {deadline:?}; status: {status}"
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
