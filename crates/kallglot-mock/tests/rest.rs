//! The REST surface driven with plain HTTP: shapes, headers, auth, billing, limits,
//! idempotency and the lifecycle.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::Http;
use kallglot_mock::{Fault, KeyConfig, MockServer, Route, catalogue};
use reqwest::Method;
use serde_json::{Value, json};

fn timestamp(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn create_session_answers_the_documented_shape_and_headers() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let reply = http
        .post("/v1/sessions", json!({"mode": "bidirectional_translation"}))
        .await;
    assert_eq!(reply.status, 201);
    let session = reply.json();
    let id = session["id"].as_str().unwrap();
    assert!(id.starts_with("sess_"), "{id}");
    let keys: Vec<&str> = session
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "object",
        "status",
        "mode",
        "source_language",
        "target_language",
        "provider",
        "phone_number",
        "stream",
        "recording",
        "metadata",
        "created_at",
        "started_at",
        "ended_at",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected, "exactly the documented fields");
    assert_eq!(session["object"], "session");
    assert_eq!(session["status"], "created");
    assert_eq!(session["mode"], "bidirectional_translation");
    assert_eq!(session["source_language"], Value::Null);
    assert_eq!(session["target_language"], Value::Null);
    assert_eq!(session["provider"], "twilio");
    assert_eq!(session["recording"], json!({"enabled": true}));
    assert_eq!(session["metadata"], Value::Null);
    assert_eq!(session["started_at"], Value::Null);
    assert_eq!(session["ended_at"], Value::Null);
    let created = timestamp(&session["created_at"]);
    let stream = &session["stream"];
    assert_eq!(
        stream["url"],
        format!("ws://{}/v1/sessions/{id}/connect", server.addr())
    );
    assert!(stream["token"].as_str().unwrap().starts_with("kst_test_"));
    let ttl = timestamp(&stream["expires_at"]) - created;
    assert!((299..=301).contains(&ttl.num_seconds()), "{ttl}");

    assert!(reply.header("x-request-id").unwrap().starts_with("req_"));
    assert_eq!(reply.header("x-ratelimit-limit"), Some("1000"));
    assert_eq!(reply.header("x-ratelimit-remaining"), Some("999"));
    let reset: i64 = reply.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(reset > Utc::now().timestamp());
    assert_eq!(reply.header("x-api-credits-remaining"), Some("99"));
    assert_eq!(reply.header("x-api-credits-used"), Some("1"));
    assert_eq!(reply.header("content-type"), Some("application/json"));
}

#[tokio::test]
async fn create_echoes_languages_metadata_and_routing() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let session = http
        .post(
            "/v1/sessions",
            json!({"mode": "assistive_translation", "source_language": "de", "target_language": "en",
                   "metadata": {"team": "support", "n": 3}, "routing": {"type": "sip", "sip": {"from_uri": "sip:a@b"}},
                   "recording": {"enabled": false}}),
        )
        .await
        .json();
    assert_eq!(session["source_language"], "de");
    assert_eq!(session["target_language"], "en");
    assert_eq!(session["metadata"], json!({"team": "support", "n": 3}));
    assert_eq!(session["provider"], "sip");
    assert!(session.get("phone_number").is_none());
    assert_eq!(session["recording"], json!({"enabled": false}));
    let number = http
        .post(
            "/v1/sessions",
            json!({"mode": "ai_agent", "routing": {"phone_number": "+14155551234", "direction": "inbound"}}),
        )
        .await
        .json();
    assert_eq!(number["phone_number"], "+14155551234");
    assert_eq!(server.credits(), 98);
}

#[tokio::test]
async fn create_bodies_are_validated_with_the_envelope() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let cases = [
        (json!({}), Some("mode")),
        (json!({"mode": "karaoke"}), Some("mode")),
        (
            json!({"mode": "ai_agent", "provider": {"type": "twilio"}}),
            Some("provider"),
        ),
        (
            json!({"mode": "ai_agent", "routing": {"phone_number": "+14155551234", "connection_id": "pcon_1"}}),
            Some("routing"),
        ),
        (json!([1, 2]), None),
    ];
    for (body, param) in cases {
        let reply = http.post("/v1/sessions", body.clone()).await;
        let error = reply.assert_error(400, "invalid_request");
        assert_eq!(error["type"], "validation_error", "{body}");
        assert_eq!(error.get("param").and_then(Value::as_str), param, "{body}");
    }
    let malformed = http
        .client
        .post(format!("{}/v1/sessions", http.base))
        .bearer_auth(&http.key)
        .header("content-type", "application/json")
        .body("{\"mode\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_request");
    assert_eq!(server.credits(), 100, "refused requests cost nothing");
}

#[tokio::test]
async fn every_authentication_failure_has_its_code() {
    let server = MockServer::builder()
        .key(KeyConfig::test("sk_test_revoked_key").revoked())
        .key(KeyConfig::test("sk_test_expired_key").expired())
        .start()
        .await
        .unwrap();
    let cases = [
        ("sk_test_unknown_key", "api_key_invalid"),
        ("not-a-key", "api_key_invalid"),
        ("sk_live_0123456789abcdef", "api_key_wrong_environment"),
        ("sk_test_revoked_key", "api_key_revoked"),
        ("sk_test_expired_key", "api_key_expired"),
    ];
    for (key, code) in cases {
        let reply = Http::with_key(&server, key)
            .get("/v1/sessions/sess_x")
            .await;
        let error = reply.assert_error(401, code);
        assert_eq!(error["type"], "authentication_error");
        assert!(
            reply.header("x-ratelimit-limit").is_none(),
            "unauthenticated"
        );
    }
    let anonymous = reqwest::get(format!("{}/v1/sessions/sess_x", server.url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "api_key_invalid");
    // X-API-Key is accepted too.
    let by_header = reqwest::Client::new()
        .get(format!("{}/v1/sessions/sess_x", server.url()))
        .header("x-api-key", server.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(by_header.status(), 404);
}

#[tokio::test]
async fn each_route_needs_its_scope_and_an_active_organization() {
    let server = MockServer::start().await.unwrap();
    let rest: Vec<Route> = Route::all()
        .filter(|r| *r != Route::ConnectStream)
        .collect();
    for route in rest {
        let scope = route.operation().scope.unwrap();
        let all_but = format!("sk_test_without_{}", scope.replace(':', "_"));
        server.add_key(
            KeyConfig::test(&all_but)
                .scopes(catalogue::SCOPES.iter().copied().filter(|s| *s != scope)),
        );
        let only = format!("sk_test_only_{}", scope.replace(':', "_"));
        server.add_key(KeyConfig::test(&only).scopes([scope]));
        let path = route
            .path()
            .replace("{id}", "x_1")
            .replace("{recording_id}", "x_1");
        let method = Method::from_bytes(route.method().as_bytes()).unwrap();
        let denied = Http::with_key(&server, &all_but)
            .send(method.clone(), &path, None, &[])
            .await;
        let error = denied.assert_error(403, "insufficient_permissions");
        assert!(error["message"].as_str().unwrap().contains(scope));
        assert!(denied.header("x-api-credits-remaining").is_some());
        let allowed = Http::with_key(&server, &only)
            .send(method, &path, None, &[])
            .await;
        assert_ne!(allowed.status, 403, "{route:?} with {scope}");
    }
    server.add_key(KeyConfig::test("sk_test_inactive").inactive_org());
    let reply = Http::with_key(&server, "sk_test_inactive")
        .post("/v1/sessions", json!({"mode": "ai_agent"}))
        .await;
    reply.assert_error(403, "organization_inactive");
}

#[tokio::test]
async fn credits_run_out_with_402() {
    let server = MockServer::builder()
        .credits(2)
        .analysis_delay(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let http = Http::new(&server);
    let session = http.create_session("en", "es").await;
    let id = session["id"].as_str().unwrap();
    http.end(id).await;
    let analysis = http
        .post(&format!("/v1/sessions/{id}/analysis"), json!({}))
        .await;
    assert_eq!(analysis.status, 202);
    assert_eq!(analysis.header("x-api-credits-remaining"), Some("0"));
    assert_eq!(analysis.header("x-api-credits-used"), Some("2"));
    let refused = http.post("/v1/sessions", json!({"mode": "ai_agent"})).await;
    let error = refused.assert_error(402, "insufficient_api_credits");
    assert_eq!(error["type"], "permission_error");
    assert_eq!(refused.header("x-api-credits-remaining"), Some("0"));
    http.post(&format!("/v1/sessions/{id}/analysis"), json!({}))
        .await
        .assert_error(402, "insufficient_api_credits");
    server.set_credits(1);
    assert_eq!(
        http.post("/v1/sessions", json!({"mode": "ai_agent"}))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn the_rate_limit_answers_429_with_retry_after() {
    let server = MockServer::builder()
        .rate_limit(2, Duration::from_secs(30))
        .start()
        .await
        .unwrap();
    let http = Http::new(&server);
    assert_eq!(
        http.get("/v1/sessions/sess_1")
            .await
            .header("x-ratelimit-remaining"),
        Some("1")
    );
    assert_eq!(
        http.get("/v1/sessions/sess_1")
            .await
            .header("x-ratelimit-remaining"),
        Some("0")
    );
    let limited = http.get("/v1/sessions/sess_1").await;
    let error = limited.assert_error(429, "rate_limit_exceeded");
    assert_eq!(error["type"], "rate_limit_error");
    let retry_after: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((29..=30).contains(&retry_after), "{retry_after}");
    assert!(error["retry_after"].as_f64().unwrap() > 29.0);
    assert_eq!(limited.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert!(limited.header("x-api-credits-remaining").is_some());
}

#[tokio::test]
async fn a_short_window_resets() {
    let server = MockServer::builder()
        .rate_limit(1, Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let http = Http::new(&server);
    assert_eq!(http.get("/v1/sessions/s").await.status, 404);
    assert_eq!(http.get("/v1/sessions/s").await.status, 429);
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(http.get("/v1/sessions/s").await.status, 404);
}

#[tokio::test]
async fn idempotency_replays_rejects_mismatches_and_conflicts() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let body = json!({"mode": "ai_agent", "metadata": {"a": 1}});
    let key = [("idempotency-key", "key-1")];
    let first = http
        .send(Method::POST, "/v1/sessions", Some(body.clone()), &key)
        .await;
    assert_eq!(first.status, 201);
    let replay = http
        .send(Method::POST, "/v1/sessions", Some(body.clone()), &key)
        .await;
    assert_eq!(replay.status, 201);
    assert_eq!(replay.bytes, first.bytes, "the same body, byte for byte");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_ne!(replay.header("x-request-id"), first.header("x-request-id"));
    assert_eq!(server.credits_used(), 1, "a replay is not charged");
    let mismatch = http
        .send(
            Method::POST,
            "/v1/sessions",
            Some(json!({"mode": "ai_agent"})),
            &key,
        )
        .await;
    assert_eq!(
        mismatch.assert_error(400, "idempotency_mismatch")["type"],
        "invalid_request_error"
    );

    // A conflict: the first request is held in flight by a delay fault.
    server.faults().inject(
        &catalogue::CREATE_SESSION,
        Fault::delay(Duration::from_millis(400)).times(1),
    );
    let slow = {
        let http = Http::new(&server);
        let body = body.clone();
        tokio::spawn(async move {
            http.send(
                Method::POST,
                "/v1/sessions",
                Some(body),
                &[("idempotency-key", "key-2")],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let conflict = http
        .send(
            Method::POST,
            "/v1/sessions",
            Some(body.clone()),
            &[("idempotency-key", "key-2")],
        )
        .await;
    conflict.assert_error(409, "idempotency_conflict");
    assert_eq!(conflict.header("retry-after"), Some("1"));
    let first = slow.await.unwrap();
    assert_eq!(first.status, 201);
    let after = http
        .send(
            Method::POST,
            "/v1/sessions",
            Some(body),
            &[("idempotency-key", "key-2")],
        )
        .await;
    assert_eq!(after.bytes, first.bytes);
    assert_eq!(server.credits_used(), 2);
}

#[tokio::test]
async fn failures_release_the_idempotency_key() {
    let server = MockServer::builder().credits(0).start().await.unwrap();
    let http = Http::new(&server);
    let key = [("idempotency-key", "retry-me")];
    let body = Some(json!({"mode": "ai_agent"}));
    http.send(Method::POST, "/v1/sessions", body.clone(), &key)
        .await
        .assert_error(402, "insufficient_api_credits");
    server.set_credits(1);
    assert_eq!(
        http.send(Method::POST, "/v1/sessions", body, &key)
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn the_session_lifecycle_through_rest() {
    let server = MockServer::builder()
        .analysis_delay(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let http = Http::new(&server);
    let session = http.create_session("es", "en").await;
    let id = session["id"].as_str().unwrap().to_string();

    let retrieved = http.get(&format!("/v1/sessions/{id}")).await.json();
    assert_eq!(retrieved["status"], "created");
    assert_ne!(
        retrieved["stream"]["token"], session["stream"]["token"],
        "a fresh token per retrieve"
    );
    let transcript = http
        .get(&format!("/v1/sessions/{id}/transcript"))
        .await
        .json();
    assert_eq!(transcript["status"], "in_progress");
    assert_eq!(
        http.get(&format!("/v1/sessions/{id}/recordings"))
            .await
            .json(),
        json!({"object": "list", "data": []})
    );
    http.post(&format!("/v1/sessions/{id}/analysis"), json!({}))
        .await
        .assert_error(409, "transcript_not_available");

    let ended = http.end(&id).await;
    assert_eq!(ended.status, 200);
    let summary = ended.json();
    assert_eq!(summary["id"], id.as_str());
    assert_eq!(summary["object"], "session");
    assert_eq!(summary["status"], "ended");
    assert_eq!(summary["duration_seconds"], 0.0);
    assert_eq!(summary.as_object().unwrap().len(), 5);
    assert_eq!(
        http.end(&id).await.json(),
        summary,
        "ending again answers the same"
    );

    let retrieved = http.get(&format!("/v1/sessions/{id}")).await.json();
    assert_eq!(retrieved["status"], "ended");
    assert_eq!(retrieved["ended_at"], summary["ended_at"]);
    assert!(retrieved.get("stream").is_none());
    let transcript = http
        .get(&format!("/v1/sessions/{id}/transcript"))
        .await
        .json();
    assert_eq!(
        transcript,
        json!({"id": format!("trn_{id}"), "object": "transcript", "session_id": id, "status": "completed",
               "turns": [], "metadata": {"total_turns": 0, "duration_seconds": 0.0, "languages_detected": []}})
    );

    let list = http
        .get(&format!("/v1/sessions/{id}/recordings"))
        .await
        .json();
    assert_eq!(list["object"], "list");
    let item = &list["data"][0];
    let rec_id = item["id"].as_str().unwrap();
    assert!(rec_id.starts_with("rec_"));
    assert_eq!(item["status"], "ready");
    assert_eq!(item["format"], "mp3");
    let recording = http.get(&format!("/v1/recordings/{rec_id}")).await.json();
    assert_eq!(recording["channel"], "mixed");
    assert_eq!(recording["session_id"], id.as_str());
    assert_eq!(
        recording["download_url"],
        format!("/v1/recordings/{rec_id}/audio")
    );
    assert!(timestamp(&recording["expires_at"]) > timestamp(&recording["created_at"]));
    let audio = http.get(&format!("/v1/recordings/{rec_id}/audio")).await;
    assert_eq!(audio.status, 200);
    assert_eq!(audio.header("content-type"), Some("audio/mpeg"));
    assert_eq!(
        audio.header("content-disposition"),
        Some(format!("attachment; filename=\"recording-{id}.mp3\"").as_str())
    );
    assert_eq!(
        audio.header("content-length"),
        Some(audio.bytes.len().to_string().as_str())
    );
    assert_eq!(recording["size"], audio.bytes.len());
    assert_eq!(&audio.bytes[..3], b"ID3");

    let accepted = http
        .post(
            &format!("/v1/sessions/{id}/analysis"),
            json!({"profile": "default", "include": ["summary", "sentiment"]}),
        )
        .await;
    assert_eq!(accepted.status, 202);
    let accepted = accepted.json();
    let anl = accepted["id"].as_str().unwrap();
    assert!(anl.starts_with("anl_"));
    assert_eq!(
        accepted,
        json!({"id": anl, "object": "analysis", "session_id": id, "status": "processing"})
    );
    let done = http.get(&format!("/v1/analyses/{anl}")).await.json();
    assert_eq!(done["status"], "completed");
    assert_eq!(done["profile"], "default");
    assert_eq!(done["call_id"], Value::Null);
    assert_eq!(done["error"], Value::Null);
    assert!(done["summary"].is_string());
    assert!(done["sentiment"]["customer"].is_string() && done["sentiment"]["agent"].is_string());
    assert!(done.get("compliance").is_none(), "not included");
    assert!(done["completed_at"].is_string());

    let full = http
        .post(&format!("/v1/sessions/{id}/analysis"), json!({}))
        .await
        .json();
    let full = http
        .get(&format!("/v1/analyses/{}", full["id"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(full["compliance"], json!({"status": "ok", "flags": []}));
    assert_eq!(full["performance"], json!({"score": 0.86}));

    server.fail_analyses(Some("the model timed out"));
    let failing = http
        .post(&format!("/v1/sessions/{id}/analysis"), json!({}))
        .await
        .json();
    let failed = http
        .get(&format!("/v1/analyses/{}", failing["id"].as_str().unwrap()))
        .await
        .json();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"], "the model timed out");
}

#[tokio::test]
async fn an_analysis_stays_processing_until_its_delay_has_passed() {
    let server = MockServer::builder()
        .analysis_delay(Duration::from_millis(150))
        .start()
        .await
        .unwrap();
    let http = Http::new(&server);
    let mut events = server.subscribe();
    let id = http.create_session("en", "fr").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    http.end(&id).await;
    let anl = http
        .post(&format!("/v1/sessions/{id}/analysis"), json!({}))
        .await
        .json();
    let path = format!("/v1/analyses/{}", anl["id"].as_str().unwrap());
    let pending = http.get(&path).await.json();
    assert_eq!(
        (pending["status"].as_str(), &pending["summary"]),
        (Some("processing"), &Value::Null)
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(http.get(&path).await.json()["status"], "completed");
    let mut kinds = Vec::new();
    while let Ok(event) = events.try_recv() {
        kinds.push(event.kind.as_str());
    }
    assert_eq!(
        kinds,
        [
            "session.created",
            "session.ended",
            "transcript.ready",
            "recording.ready",
            "analysis.complete"
        ]
    );
}

#[tokio::test]
async fn unknown_ids_routes_and_methods_use_the_envelope() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    for path in [
        "/v1/sessions/sess_nope",
        "/v1/sessions/sess_nope/transcript",
        "/v1/sessions/sess_nope/recordings",
        "/v1/recordings/rec_nope",
        "/v1/recordings/rec_nope/audio",
        "/v1/analyses/anl_nope",
    ] {
        http.get(path).await.assert_error(404, "resource_not_found");
    }
    http.end("sess_nope")
        .await
        .assert_error(404, "resource_not_found");
    http.post("/v1/sessions/sess_nope/analysis", json!({}))
        .await
        .assert_error(404, "resource_not_found");
    http.get("/v1/sessions")
        .await
        .assert_error(405, "method_not_allowed");
    http.get("/v2/elsewhere")
        .await
        .assert_error(404, "route_not_found");
}

#[derive(Debug, Default)]
struct Collector(std::sync::Mutex<Vec<kallglot_mock::MockEvent>>);

impl kallglot_mock::EventSink for Collector {
    fn publish(&self, event: &kallglot_mock::MockEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

#[tokio::test]
async fn event_sinks_receive_webhook_shaped_events() {
    let sink = std::sync::Arc::new(Collector::default());
    let server = MockServer::builder()
        .event_sink(sink.clone())
        .start()
        .await
        .unwrap();
    let http = Http::new(&server);
    let id = http.create_session("en", "es").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    http.end(&id).await;
    let events = sink.0.lock().unwrap().clone();
    let ended = events
        .iter()
        .find(|e| e.kind == kallglot_mock::EventKind::SessionEnded)
        .unwrap();
    let envelope = ended.envelope();
    assert!(envelope["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(envelope["type"], "session.ended");
    assert_eq!(envelope["api_version"], "v1");
    assert_eq!(
        envelope["data"],
        json!({"id": id, "object": "session", "status": "ended", "duration": 0.0})
    );
    assert_eq!(
        events.len(),
        4,
        "created, ended, transcript.ready, recording.ready"
    );
}

#[tokio::test]
async fn serve_runs_until_its_shutdown_signal() {
    // Find a free port, then serve on it as `kallglot mock serve --port N` would.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(kallglot_mock::serve_with_shutdown(
        addr,
        kallglot_mock::MockConfig::default().credits(5),
        async {
            let _ = stopped.await;
        },
    ));
    let url = format!("http://{addr}/v1/sessions");
    let mut reply = None;
    for _ in 0..50 {
        match reqwest::Client::new()
            .post(&url)
            .bearer_auth(kallglot_mock::DEFAULT_API_KEY)
            .json(&json!({"mode": "ai_agent"}))
            .send()
            .await
        {
            Ok(r) => {
                reply = Some(r);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let reply = reply.expect("the server came up");
    assert_eq!(reply.status(), 201);
    assert_eq!(reply.headers()["x-api-credits-remaining"], "4");
    stop.send(()).unwrap();
    serving.await.unwrap().unwrap();
    assert!(
        reqwest::get(format!("http://{addr}/__admin/health"))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn recording_lists_take_the_specs_page_parameters() {
    let server = MockServer::start().await.unwrap();
    let http = Http::new(&server);
    let session = http.create_session("en", "es").await;
    let id = session["id"].as_str().unwrap();
    assert_eq!(http.end(id).await.status, 200);
    let path = format!("/v1/sessions/{id}/recordings");
    for bad in ["0", "101", "abc", "1.5", "-1"] {
        let reply = http.get(&format!("{path}?limit={bad}")).await;
        let error = reply.assert_error(400, "invalid_request");
        assert_eq!(error["param"], "limit", "limit={bad}");
    }
    let first = http.get(&format!("{path}?limit=1")).await.json();
    let items = first["data"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let recording = items[0]["id"].as_str().unwrap();
    let after = http
        .get(&format!("{path}?limit=100&starting_after={recording}"))
        .await
        .json();
    assert_eq!(after["data"], json!([]), "nothing after the last recording");
    let unknown = http
        .get(&format!("{path}?starting_after=rec_unknown"))
        .await;
    assert_eq!(unknown.status, 200);
    assert_eq!(unknown.json()["data"], json!([]));
}
