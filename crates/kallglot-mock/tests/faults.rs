//! Fault injection through the Rust API and through the admin endpoint, seen with plain
//! HTTP.

mod common;

use std::time::{Duration, Instant};

use common::Http;
use kallglot_mock::{Fault, MockServer, catalogue};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn status_faults_answer_the_envelope_for_the_next_n_requests() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    server.faults().inject(
        &catalogue::CREATE_SESSION,
        Fault::status(503, "service_unavailable")
            .retry_after(2)
            .times(2),
    );
    for _ in 0..2 {
        let reply = http.post("/v1/sessions", json!({"mode": "ai_agent"})).await;
        let error = reply.assert_error(503, "service_unavailable");
        assert_eq!(error["type"], "api_error");
        assert_eq!(error["retry_after"], 2.0);
        assert_eq!(reply.header("retry-after"), Some("2"));
        assert!(reply.header("x-ratelimit-remaining").is_some());
    }
    assert_eq!(
        http.post("/v1/sessions", json!({"mode": "ai_agent"}))
            .await
            .status,
        201
    );
    assert_eq!(server.credits_used(), 1, "faulted requests are not charged");
    assert_eq!(server.faults().active(), 0);
}

#[tokio::test]
async fn faults_target_one_route_or_all_and_can_be_removed() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let faults = server.faults();
    let id = faults.inject(
        &catalogue::RETRIEVE_SESSION,
        Fault::status(500, "internal_error"),
    );
    assert_eq!(http.get("/v1/sessions/s").await.status, 500);
    assert_eq!(
        http.get("/v1/sessions/s").await.status,
        500,
        "until removed"
    );
    assert_eq!(
        http.get("/v1/analyses/a").await.status,
        404,
        "other routes are untouched"
    );
    assert!(faults.remove(id));
    assert_eq!(http.get("/v1/sessions/s").await.status, 404);
    faults.inject_any(
        Fault::status(502, "bad_gateway")
            .error_type("upstream_error")
            .times(1),
    );
    let error = http
        .get("/v1/analyses/a")
        .await
        .assert_error(502, "bad_gateway");
    assert_eq!(error["type"], "upstream_error");
    faults.inject_any(Fault::status(500, "internal_error"));
    faults.clear();
    assert_eq!(http.get("/v1/sessions/s").await.status, 404);
}

#[tokio::test]
async fn faults_never_hide_authentication_errors() {
    let server = MockServer::start().await.unwrap();
    server
        .faults()
        .inject_any(Fault::status(503, "service_unavailable"));
    let reply = Http::with_key(&server, "sk_test_unknown")
        .get("/v1/sessions/s")
        .await;
    reply.assert_error(401, "api_key_invalid");
}

#[tokio::test]
async fn a_delay_fault_stalls_the_request() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    server.faults().inject(
        &catalogue::RETRIEVE_SESSION,
        Fault::delay(Duration::from_millis(150)).times(1),
    );
    let started = Instant::now();
    assert_eq!(http.get("/v1/sessions/s").await.status, 404);
    assert!(started.elapsed() >= Duration::from_millis(150));
    let started = Instant::now();
    http.get("/v1/sessions/s").await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn a_reset_drops_the_connection_without_running_the_operation() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    server
        .faults()
        .inject(&catalogue::CREATE_SESSION, Fault::reset().times(1));
    let error = http
        .try_send(
            Method::POST,
            "/v1/sessions",
            Some(json!({"mode": "ai_agent"})),
            &[],
        )
        .await
        .expect_err("no response");
    assert!(
        error.is_request() || error.is_connect() || error.is_body(),
        "{error:?}"
    );
    assert_eq!(server.credits_used(), 0);
    assert_eq!(
        http.post("/v1/sessions", json!({"mode": "ai_agent"}))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn a_lost_response_keeps_the_effect_and_the_idempotent_result() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    server
        .faults()
        .inject(&catalogue::CREATE_SESSION, Fault::lose_response().times(1));
    let key = [("idempotency-key", "lost-1")];
    let body = Some(json!({"mode": "ai_agent"}));
    assert!(
        http.try_send(Method::POST, "/v1/sessions", body.clone(), &key)
            .await
            .is_err()
    );
    assert_eq!(server.credits_used(), 1, "the session was created");
    let retry = http.send(Method::POST, "/v1/sessions", body, &key).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(server.credits_used(), 1, "the retry is a replay");
}

#[tokio::test]
async fn malformed_bodies_are_truncated_json_or_html() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    server.faults().inject(
        &catalogue::RETRIEVE_SESSION,
        Fault::truncated_json().times(1),
    );
    server
        .faults()
        .inject(&catalogue::RETRIEVE_ANALYSIS, Fault::html(502).times(1));
    let truncated = http.get("/v1/sessions/s").await;
    assert_eq!(truncated.status, 200);
    assert_eq!(truncated.header("content-type"), Some("application/json"));
    assert!(serde_json::from_slice::<Value>(&truncated.bytes).is_err());
    let html = http.get("/v1/analyses/a").await;
    assert_eq!(html.status, 502);
    assert_eq!(html.header("content-type"), Some("text/html"));
    assert!(String::from_utf8_lossy(&html.bytes).contains("502 Bad Gateway"));
    assert!(html.header("x-request-id").unwrap().starts_with("req_"));
}

#[tokio::test]
async fn the_admin_endpoint_injects_lists_and_clears_faults() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let admin = reqwest::Client::new();
    let url = format!("{}/__admin/faults", server.url());
    let post = |body: Value| admin.post(&url).json(&body).send();

    let created = post(json!({"route": "POST /v1/sessions", "status": 429, "code": "rate_limit_exceeded", "retry_after": 0, "times": 1}))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap();
    let listed: Value = admin.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["data"][0]["id"], id);
    assert_eq!(listed["data"][0]["route"], "create_session");
    assert_eq!(listed["data"][0]["remaining"], 1);
    let limited = http.post("/v1/sessions", json!({"mode": "ai_agent"})).await;
    limited.assert_error(429, "rate_limit_exceeded");
    assert_eq!(limited.header("retry-after"), Some("0"));

    post(json!({"route": "retrieve_session", "fault": "reset", "times": 1}))
        .await
        .unwrap();
    assert!(
        http.try_send(Method::GET, "/v1/sessions/s", None, &[])
            .await
            .is_err()
    );
    post(json!({"route": "GET /v1/sessions/{id}", "fault": "html", "status": 504}))
        .await
        .unwrap();
    post(json!({"route": "*", "fault": "delay", "delay_ms": 100, "times": 1}))
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(
        http.get("/v1/sessions/s").await.status,
        504,
        "the older fault applies"
    );
    assert!(started.elapsed() < Duration::from_millis(100));
    let started = Instant::now();
    http.get("/v1/analyses/a").await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    post(json!({"route": "retrieve_analysis", "fault": "truncated_json"}))
        .await
        .unwrap();
    assert!(serde_json::from_slice::<Value>(&http.get("/v1/analyses/a").await.bytes).is_err());

    let cleared = admin.delete(&url).send().await.unwrap();
    assert_eq!(cleared.status(), 204);
    assert_eq!(server.faults().active(), 0);
    assert_eq!(http.get("/v1/sessions/s").await.status, 404);

    let bad = post(json!({"route": "nowhere", "fault": "reset"}))
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["param"], "route");
    let garbage = admin.post(&url).body("{").send().await.unwrap();
    assert_eq!(garbage.status(), 400);
    let missing = admin.delete(format!("{url}/999")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_admin_endpoint_sets_credits_and_adds_keys() {
    let server = MockServer::start().await.unwrap();
    let admin = reqwest::Client::new();
    let credits: Value = admin
        .put(format!("{}/__admin/credits", server.url()))
        .json(&json!({"remaining": 0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(credits, json!({"remaining": 0, "used": 0}));
    let added = admin
        .post(format!("{}/__admin/keys", server.url()))
        .json(&json!({"key": "sk_test_reader", "scopes": ["sessions:read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let reader = Http::with_key(&server, "sk_test_reader");
    assert_eq!(reader.get("/v1/sessions/s").await.status, 404);
    reader
        .post("/v1/sessions", json!({"mode": "ai_agent"}))
        .await
        .assert_error(403, "insufficient_permissions");
    Http::new(&server)
        .post("/v1/sessions", json!({"mode": "ai_agent"}))
        .await
        .assert_error(402, "insufficient_api_credits");
    let health = admin
        .get(format!("{}/__admin/health", server.url()))
        .send()
        .await
        .unwrap();
    assert!(
        health.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req_")
    );
    let bad_scope = admin
        .post(format!("{}/__admin/keys", server.url()))
        .json(&json!({"key": "sk_test_x", "scopes": ["everything"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_scope.status(), 400);
}
