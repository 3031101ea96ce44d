//! The raw escape hatch: call routes the SDK does not model yet, such as the Agents API
//! and outbound dial, with the same authentication, retries, idempotency keys, metadata
//! and errors as the typed calls.
//!
//! `client.request(Method, "/v1/…")` returns the JSON body as a `serde_json::Value` in a
//! `Response` (request id, rate limit, credits). A `POST` to a route the API documents as
//! honouring `Idempotency-Key` (create agent, dial) gets a generated key that is reused
//! on every retry; other writes are not retried once they may have reached the server.
//!
//! The reference names these routes without describing their bodies or answers, so read
//! the answers leniently, as below. The emulator does not serve them either: here a small
//! stand-in (an axum router on loopback) plays them, including a 503 on the first dial,
//! to show the retry reusing its key. Against a real server (`KALLGLOT_API_KEY` set) the
//! example lists your agents, and dials only when `KALLGLOT_DIAL_TO` names a number.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use kallglot::model::{CreateSessionParams, Language, Mode};
use kallglot::{Client, Method};
use kallglot_examples::{Target, check};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = Target::from_env().await?;

    // A modelled route through the escape hatch gives the same object as the typed call.
    let session = target
        .client
        .sessions()
        .create(
            CreateSessionParams::new(Mode::BidirectionalTranslation)
                .languages(Language::EN, Language::ES),
        )
        .await?;
    let raw = target
        .client
        .request(Method::Get, &format!("/v1/sessions/{}", session.id))
        .await?;
    println!(
        "raw GET of {}: status {}, request id {}",
        session.id,
        raw["status"],
        raw.request_id().unwrap_or("-")
    );
    check(
        raw["id"].as_str() == Some(session.id.as_str()),
        "the raw answer is the same session",
    )?;

    // Where the agents and dial routes live: the API itself, or the stand-in.
    let (client, stand_in) = match &target.emulator {
        Some(emulator) => {
            let stand_in = StandIn::start().await?;
            let client = Client::builder()
                .api_key(emulator.api_key())
                .base_url(stand_in.url.clone())
                .build()?;
            (client, Some(stand_in))
        }
        None => (target.client.clone(), None),
    };

    // The Agents API: list, then create one. The routes are experimental: a deployment
    // without them answers 404, which is worth a message rather than a crash.
    let agents = match client.request(Method::Get, "/v1/agents?limit=10").await {
        Ok(agents) => agents,
        Err(error) if error.is_not_found() => {
            println!("this server offers no Agents API: {error}");
            target.client.sessions().end(session.id.clone()).await?;
            return check(!target.is_emulated(), "the stand-in serves the Agents API");
        }
        Err(error) => return Err(error.into()),
    };
    let names: Vec<&str> = agents["data"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|agent| agent["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    println!("agents: {names:?}");

    let Some(stand_in) = stand_in else {
        if let Ok(to) = std::env::var("KALLGLOT_DIAL_TO") {
            let dialled = client
                .request(Method::Post, &format!("/v1/sessions/{}/dial", session.id))
                .json(json!({ "to": to }))
                .await?;
            println!("dial: {}", *dialled);
        }
        target.client.sessions().end(session.id.clone()).await?;
        return Ok(());
    };

    let created = client
        .request(Method::Post, "/v1/agents")
        .json(json!({ "name": "Front desk", "system_prompt": "Greet callers and route them." }))
        .await?;
    println!(
        "created agent {} (key {:?})",
        created["id"],
        created.idempotency_key().map(|k| k.as_str())
    );

    // Outbound dial into the session; the stand-in fails the first attempt with a 503.
    let dialled = client
        .request(Method::Post, &format!("/v1/sessions/{}/dial", session.id))
        .json(json!({ "to": "+14155551234" }))
        .await?;
    println!("dialled: {}", *dialled);

    // An unknown agent: a typed API error, as from any typed call.
    let missing = client.request(Method::Get, "/v1/agents/agt_missing").await;
    if let Err(error) = &missing {
        println!("unknown agent: {error}");
    }

    let seen = stand_in.seen();
    for request in &seen {
        println!(
            "  the stand-in saw {} {} (auth: {}, key: {:?})",
            request.method, request.path, request.authorized, request.idempotency_key
        );
    }
    let dials: Vec<&Seen> = seen.iter().filter(|r| r.path.ends_with("/dial")).collect();
    check(
        seen.iter().all(|r| r.authorized),
        "every request carried the API key",
    )?;
    check(
        seen.iter()
            .filter(|r| r.method == "GET")
            .all(|r| r.idempotency_key.is_none()),
        "reads carry no idempotency key",
    )?;
    check(
        seen.iter()
            .any(|r| r.method == "POST" && r.path == "/v1/agents" && r.idempotency_key.is_some()),
        "creating an agent carries an idempotency key",
    )?;
    check(
        dials.len() == 2
            && dials[0].idempotency_key.is_some()
            && dials[0].idempotency_key == dials[1].idempotency_key,
        "the dial was retried once after the 503, with the same idempotency key",
    )?;
    check(
        dialled["status"].as_str() == Some("dialing"),
        "the dial answer came through",
    )?;
    check(
        missing
            .as_ref()
            .err()
            .and_then(|e| e.code())
            .map(|c| c.as_str())
            == Some("agent_not_found"),
        "an unknown agent is the agent_not_found API error",
    )?;
    target.client.sessions().end(session.id.clone()).await?;
    Ok(())
}

/// What the stand-in received.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorized: bool,
    idempotency_key: Option<String>,
}

/// A stand-in for the agents and dial routes, which the emulator does not serve. The
/// shapes it answers are plausible, not documented ones.
#[derive(Clone)]
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let stand_in = Self {
            url: format!("http://{}", listener.local_addr()?),
            seen: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/agents", get(list_agents).post(create_agent))
            .route("/v1/agents/{id}", get(retrieve_agent))
            .route("/v1/sessions/{id}/dial", post(dial))
            .with_state(stand_in.clone());
        tokio::spawn(axum::serve(listener, app).into_future());
        Ok(stand_in)
    }

    fn record(&self, method: &str, path: String, headers: &HeaderMap) -> usize {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.push(Seen {
            method: method.into(),
            authorized: header("authorization").is_some_and(|v| v.starts_with("Bearer sk_test_")),
            idempotency_key: header("idempotency-key"),
            path,
        });
        seen.iter()
            .filter(|s| s.path == seen[seen.len() - 1].path)
            .count()
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn answer(status: StatusCode, body: Value) -> Response {
    (status, [("x-request-id", "req_stand_in")], Json(body)).into_response()
}

async fn list_agents(State(s): State<StandIn>, headers: HeaderMap) -> Response {
    s.record("GET", "/v1/agents".into(), &headers);
    answer(
        StatusCode::OK,
        json!({"object": "list", "data": [{"id": "agt_1", "object": "agent", "name": "Billing"}]}),
    )
}

async fn create_agent(
    State(s): State<StandIn>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    s.record("POST", "/v1/agents".into(), &headers);
    answer(
        StatusCode::CREATED,
        json!({"id": "agt_2", "object": "agent", "name": body["name"]}),
    )
}

async fn retrieve_agent(
    State(s): State<StandIn>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    s.record("GET", format!("/v1/agents/{id}"), &headers);
    let error = json!({"error": {"type": "invalid_request_error", "code": "agent_not_found",
        "message": format!("No agent with id '{id}'."), "request_id": "req_stand_in"}});
    answer(StatusCode::NOT_FOUND, error)
}

async fn dial(State(s): State<StandIn>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let attempt = s.record("POST", format!("/v1/sessions/{id}/dial"), &headers);
    if attempt == 1 {
        let error = json!({"error": {"type": "api_error", "code": "service_unavailable",
            "message": "Try again.", "request_id": "req_stand_in"}});
        return answer(StatusCode::SERVICE_UNAVAILABLE, error);
    }
    answer(
        StatusCode::OK,
        json!({"session_id": id, "status": "dialing"}),
    )
}
