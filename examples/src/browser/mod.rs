//! The backend of the browser streaming example (`--bin browser_streaming`): the one
//! place that holds the API key, serving a page that streams the microphone itself.
//!
//! A browser's WebSocket cannot set headers, and a page must never hold the API key, so
//! the page asks this backend for a session's *stream credentials* (`url`, `token`,
//! `expires_at`) and connects to `url?token=…` directly. The backend:
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /` | the page (`examples/static/browser.html`) |
//! | `GET /mulaw-worklet.js` | its AudioWorklet module (downsampling and μ-law in the browser) |
//! | `POST /login` `{"password"}` | 204 with an HttpOnly login cookie; 401 for a wrong password |
//! | `POST /logout` | 204, the login forgotten |
//! | `POST /credentials` | 200 `{"url","token","expires_at"}` of a new session; 401 without a login; 429 past 20 a minute per login |
//!
//! Every `POST /credentials` creates a new session: a stream token opens a connection
//! only before it expires (about five minutes), so a page whose token expired before it
//! connected asks again. The API key appears in no answer and no log line.
//!
//! The logins are kept in memory, per process: with several replicas behind a load
//! balancer, a real deployment uses its own sign-in and session store instead. Nothing
//! else is kept between requests, so the routes scale out as they are.

mod login;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kallglot::Client;
use kallglot::model::{CreateSessionParams, Language, Mode};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use login::COOKIE_NAME;
use login::{Logins, Mint};

/// The page, compiled in: the example has no build step and serves no other files.
pub const PAGE: &str = include_str!("../../static/browser.html");

/// The page's AudioWorklet module.
pub const WORKLET: &str = include_str!("../../static/mulaw-worklet.js");

/// The backend's state: the SDK client (which holds the key), the demo password and
/// the logins. Cheap to clone.
#[derive(Clone)]
pub struct DemoBackend {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    password: String,
    logins: Logins,
    minted: AtomicU64,
}

impl std::fmt::Debug for DemoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the password nor the client's key is shown.
        f.debug_struct("DemoBackend")
            .field("credentials_minted", &self.credentials_minted())
            .finish_non_exhaustive()
    }
}

impl DemoBackend {
    /// A backend that creates sessions with `client` for callers who logged in with
    /// `password`.
    pub fn new(client: Client, password: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                password: password.into(),
                logins: Logins::default(),
                minted: AtomicU64::new(0),
            }),
        }
    }

    /// How many stream credentials were handed out so far.
    pub fn credentials_minted(&self) -> u64 {
        self.inner.minted.load(Ordering::Relaxed)
    }

    /// The routes (see the module docs).
    pub fn router(&self) -> Router {
        Router::new()
            .route("/", get(page))
            .route("/mulaw-worklet.js", get(worklet))
            .route("/login", post(login))
            .route("/logout", post(logout))
            .route("/credentials", post(credentials))
            .with_state(self.clone())
    }

    /// Serves the routes on `addr` (port 0 picks a free one) in the background.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<RunningBackend> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, mut stopped) = watch::channel(false);
        let router = self.router();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                // An error means the handle was dropped: stop then too.
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await
            {
                tracing::warn!(error = %e, "the demo backend stopped serving");
            }
        });
        Ok(RunningBackend { addr, stop, task })
    }
}

/// A backend serving in the background. Dropping it stops it.
#[derive(Debug)]
pub struct RunningBackend {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl RunningBackend {
    /// The page's URL, such as `http://127.0.0.1:41234/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops serving and waits for open requests to finish.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        // A panicked handler task is already reported by tokio; nothing is left to stop.
        let _ = (&mut self.task).await;
    }
}

impl Drop for RunningBackend {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

async fn page() -> Response {
    static_file("text/html; charset=utf-8", PAGE)
}

async fn worklet() -> Response {
    static_file("text/javascript; charset=utf-8", WORKLET)
}

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "no-cache"),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    password: String,
}

async fn login(State(backend): State<DemoBackend>, body: axum::body::Bytes) -> Response {
    let Ok(form) = serde_json::from_slice::<LoginForm>(&body) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "Send {\"password\": \"…\"} as JSON.",
        );
    };
    if !login::password_matches(&form.password, &backend.inner.password) {
        tracing::info!("demo login refused");
        return refusal(StatusCode::UNAUTHORIZED, "Wrong password.");
    }
    let id = backend.inner.logins.start();
    tracing::info!("demo login accepted");
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, login::set_cookie(&id))],
    )
        .into_response()
}

async fn logout(State(backend): State<DemoBackend>, headers: HeaderMap) -> Response {
    backend.inner.logins.end(&headers);
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, login::clear_cookie())],
    )
        .into_response()
}

/// Creates a session and answers its stream credentials, and nothing else of it.
async fn credentials(State(backend): State<DemoBackend>, headers: HeaderMap) -> Response {
    match backend.inner.logins.mint(&headers) {
        Mint::Allowed => {}
        Mint::NotLoggedIn => return refusal(StatusCode::UNAUTHORIZED, "Log in first."),
        Mint::TooMany { retry_after_secs } => {
            let mut response = refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sessions; wait a minute.",
            );
            response
                .headers_mut()
                .insert(RETRY_AFTER, retry_after_secs.into());
            return response;
        }
    }
    let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
        .languages(Language::EN, Language::ES);
    let session = match backend.inner.client.sessions().create(params).await {
        Ok(session) => session,
        Err(e) => {
            // The SDK's errors never contain the key; the page gets no details at all.
            tracing::warn!(error = %e, "creating a session failed");
            return refusal(StatusCode::BAD_GATEWAY, "Could not start a session.");
        }
    };
    let Some(stream) = session.stream.clone() else {
        tracing::warn!(session_id = %session.id, "the new session has no stream credentials");
        return refusal(StatusCode::BAD_GATEWAY, "Could not start a session.");
    };
    backend.inner.minted.fetch_add(1, Ordering::Relaxed);
    // `StreamCredentials` serializes as exactly {url, token, expires_at}; its Display and
    // Debug redact the token, so this line logs no secret.
    tracing::info!(session_id = %session.id, token = %stream.token, "stream credentials minted");
    ([(CACHE_CONTROL, "no-store")], axum::Json(stream)).into_response()
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}
