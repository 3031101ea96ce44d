//! The live scenarios, in the order a session lives: create, retrieve, stream, end,
//! transcript, recordings, analysis; then the errors the keys can provoke.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use kallglot::model::{AnalysisPart, CreateAnalysisParams, CreateSessionParams, Language, Mode};
use kallglot::stream::{EndReason, Event, MulawAudio, StreamOptions};
use kallglot::{ErrorCode, Scope};
use serde_json::{Value, json};

use super::check::Contract;
use super::wire::{Exchange, Wire};
use super::{Checked, RESTRICTED_KEY_VAR, stream_url_allowed};
use crate::report::{Outcome, Row};

/// A key of the right shape that no server knows.
const WRONG_KEY: &str = "sk_test_conformanceWrongKey000000000000";
/// An id no server has.
const MISSING_SESSION: &str = "sess_conformance_missing";
/// How long a recording may take to appear after the session ended.
const RECORDING_DEADLINE: Duration = Duration::from_secs(30);
/// The deadline of each step of the stream.
const STREAM_STEP: Duration = Duration::from_secs(15);

/// How often one documented header was checked, and what was wrong.
#[derive(Default)]
struct Tally {
    checked: usize,
    problems: Vec<String>,
}

struct Run {
    contract: Contract,
    wire: Wire,
    checked: Checked,
    rows: Vec<Row>,
    headers: BTreeMap<String, Tally>,
    secrets: Vec<String>,
}

pub(super) async fn run(checked: Checked, contract: Contract) -> Vec<Row> {
    let wire = match Wire::new(checked.client.base_url(), Some(&checked.key)) {
        Ok(wire) => wire,
        Err(e) => return vec![Row::new("setup", Err(e))],
    };
    let mut secrets = vec![checked.key.expose_secret().to_string()];
    if let Some(k) = &checked.restricted {
        secrets.push(k.expose_secret().to_string());
    }
    let mut run = Run {
        contract,
        wire,
        checked,
        rows: Vec::new(),
        headers: BTreeMap::new(),
        secrets,
    };
    run.session_lifecycle().await;
    run.errors().await;
    run.header_rows();
    run.coverage_row();
    run.finish()
}

impl Run {
    // ---- bookkeeping ----

    fn record(&mut self, id: &str, result: Result<(), String>) {
        self.rows.push(Row::new(id, result));
    }

    fn record_all(&mut self, ids: &[&str], result: &Result<(), String>) {
        for id in ids {
            self.record(id, result.clone());
        }
    }

    fn not_run(&mut self, ids: &[&str], why: &str) {
        for id in ids {
            self.rows.push(Row {
                id: id.to_string(),
                outcome: Outcome::NotRun(why.to_string()),
            });
        }
    }

    /// Sends a raw request as `operation` and checks the answer against the spec; the
    /// header findings go to the header rows too.
    async fn exchange(
        &mut self,
        wire: &Wire,
        operation: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Exchange, String> {
        let exchange = wire.send(method, path, body, idempotency_key).await?;
        let findings = self.contract.check(operation, &exchange);
        for (name, result) in &findings.headers {
            let tally = self.headers.entry(name.clone()).or_default();
            tally.checked += 1;
            if let Err(e) = result {
                tally.problems.push(e.clone());
            }
        }
        if let Some(token) = exchange
            .json()
            .ok()
            .and_then(|b| b.pointer("/stream/token")?.as_str().map(str::to_string))
        {
            self.secrets.push(token);
        }
        let problems = findings.all_problems();
        if problems.is_empty() {
            Ok(exchange)
        } else {
            Err(problems.join("\n"))
        }
    }

    /// A raw request to the emulator's admin API (no key), which must answer 2xx.
    async fn admin(&self, method: &str, path: &str, body: Value) -> Result<Value, String> {
        let exchange = self
            .wire
            .with_key(None)
            .send(method, path, Some(&body), None)
            .await?;
        if !(200..300).contains(&exchange.status) {
            return Err(format!(
                "the emulator's admin API refused: {}",
                exchange.summary()
            ));
        }
        Ok(exchange.json().unwrap_or(Value::Null))
    }

    fn client(&self) -> &kallglot::Client {
        &self.checked.client
    }

    fn client_with(&self, key: &str) -> Result<kallglot::Client, String> {
        kallglot::Client::builder()
            .api_key(key)
            .base_url(self.client().base_url())
            .build()
            .map_err(|e| e.to_string())
    }

    // ---- the session's life ----

    async fn session_lifecycle(&mut self) {
        let created = self.create_session().await;
        let (session_id, idempotency_key) = match created {
            Ok(ids) => {
                self.record("operations/create_session", Ok(()));
                ids
            }
            Err(e) => {
                self.record("operations/create_session", Err(e));
                self.not_run(
                    &[
                        "error_codes.current/idempotency_mismatch",
                        "operations/retrieve_session",
                        "stream.server/session.ready",
                        "stream.client/audio.input",
                        "stream.client/ping",
                        "stream.server/pong",
                        "stream.client/session.end",
                        "stream.server/session.ended",
                        "operations/end_session",
                        "operations/retrieve_session_transcript",
                        "operations/list_session_recordings",
                        "operations/retrieve_recording",
                        "operations/download_recording_audio",
                        "operations/create_analysis",
                        "operations/retrieve_analysis",
                        "error_codes.current/insufficient_permissions",
                        "statuses/403",
                    ],
                    "create_session failed",
                );
                return;
            }
        };
        let mismatch = self.idempotency_mismatch(&idempotency_key).await;
        self.record("error_codes.current/idempotency_mismatch", mismatch);

        match self.retrieve_session(&session_id).await {
            Ok(session) => {
                self.record("operations/retrieve_session", Ok(()));
                self.stream(&session).await;
            }
            Err(e) => {
                self.record("operations/retrieve_session", Err(e));
                self.not_run(
                    &[
                        "stream.server/session.ready",
                        "stream.client/audio.input",
                        "stream.client/ping",
                        "stream.server/pong",
                        "stream.client/session.end",
                        "stream.server/session.ended",
                    ],
                    "retrieve_session failed",
                );
            }
        }
        let ended = self.end_session(&session_id).await;
        self.record("operations/end_session", ended);
        let transcript = self.transcript(&session_id).await;
        self.record("operations/retrieve_session_transcript", transcript);
        self.recordings(&session_id).await;
        self.analysis(&session_id).await;
        self.restricted_key_scope(&session_id).await;
    }

    /// A raw create, then the SDK's create with the same key and body: the replay must be
    /// the same session. Returns the session id and the idempotency key.
    async fn create_session(&mut self) -> Result<(String, String), String> {
        let params = CreateSessionParams::new(Mode::BidirectionalTranslation)
            .languages(Language::EN, Language::ES);
        let key = uuid::Uuid::new_v4().to_string();
        let wire = self.wire.clone();
        let body = params.to_json();
        let raw = self
            .exchange(
                &wire,
                "create_session",
                "POST",
                "/v1/sessions",
                Some(&body),
                Some(&key),
            )
            .await?;
        expect_success(&raw)?;
        let id = raw.json()?["id"]
            .as_str()
            .ok_or("the created session has no id")?
            .to_string();
        let session = self
            .client()
            .sessions()
            .create(params)
            .idempotency_key(key.clone())
            .await
            .map_err(|e| format!("SDK create_session (same idempotency key): {e}"))?;
        if session.id.as_str() != id {
            return Err(format!(
                "the SDK's create with the same idempotency key got session {}, not {id}",
                session.id
            ));
        }
        Ok((id, key))
    }

    async fn idempotency_mismatch(&mut self, key: &str) -> Result<(), String> {
        let other = CreateSessionParams::new(Mode::AssistiveTranslation).to_json();
        let wire = self.wire.clone();
        let raw = self
            .exchange(
                &wire,
                "create_session",
                "POST",
                "/v1/sessions",
                Some(&other),
                Some(key),
            )
            .await?;
        expect_error(&raw, 400, "idempotency_mismatch")
    }

    async fn retrieve_session(&mut self, id: &str) -> Result<kallglot::model::Session, String> {
        let wire = self.wire.clone();
        let path = format!("/v1/sessions/{id}");
        let raw = self
            .exchange(&wire, "retrieve_session", "GET", &path, None, None)
            .await?;
        expect_status(&raw, 200)?;
        let session = self
            .client()
            .sessions()
            .retrieve(id)
            .await
            .map_err(|e| format!("SDK retrieve_session: {e}"))?;
        if let Some(stream) = &session.stream {
            self.secrets.push(stream.token.expose_secret().to_string());
        }
        same_id(&raw, session.id.as_str())?;
        Ok(session.into_inner())
    }

    async fn stream(&mut self, session: &kallglot::model::Session) {
        let steps = stream_steps(session).await;
        let rows = [
            ("stream.server/session.ready", steps.ready),
            ("stream.client/audio.input", steps.audio),
            ("stream.client/ping", steps.pong.clone()),
            ("stream.server/pong", steps.pong),
            ("stream.client/session.end", steps.end),
            ("stream.server/session.ended", steps.ended),
        ];
        for (id, result) in rows {
            self.record(id, result);
        }
    }

    async fn end_session(&mut self, id: &str) -> Result<(), String> {
        let wire = self.wire.clone();
        let path = format!("/v1/sessions/{id}/end");
        let key = uuid::Uuid::new_v4().to_string();
        let raw = self
            .exchange(&wire, "end_session", "POST", &path, None, Some(&key))
            .await?;
        expect_success(&raw)?;
        let ended = self
            .client()
            .sessions()
            .end(id)
            .await
            .map_err(|e| format!("SDK end_session: {e}"))?;
        same_id(&raw, ended.id.as_str())
    }

    async fn transcript(&mut self, id: &str) -> Result<(), String> {
        let wire = self.wire.clone();
        let path = format!("/v1/sessions/{id}/transcript");
        let raw = self
            .exchange(
                &wire,
                "retrieve_session_transcript",
                "GET",
                &path,
                None,
                None,
            )
            .await?;
        expect_status(&raw, 200)?;
        let transcript = self
            .client()
            .sessions()
            .transcript(id)
            .await
            .map_err(|e| format!("SDK retrieve_session_transcript: {e}"))?;
        let raw_turns = raw.json()?["turns"].as_array().map_or(0, Vec::len);
        if transcript.turns.len() != raw_turns {
            return Err(format!(
                "the SDK read {} turns, the body has {raw_turns}",
                transcript.turns.len()
            ));
        }
        Ok(())
    }

    async fn recordings(&mut self, session_id: &str) {
        let recording = self.list_recordings(session_id).await;
        let recording_rows = [
            "operations/retrieve_recording",
            "operations/download_recording_audio",
        ];
        let id = match recording {
            Ok(Some(id)) => {
                self.record("operations/list_session_recordings", Ok(()));
                id
            }
            Ok(None) => {
                self.record("operations/list_session_recordings", Ok(()));
                self.not_run(
                    &recording_rows,
                    "the session had no recording 30 s after it ended",
                );
                return;
            }
            Err(e) => {
                self.record("operations/list_session_recordings", Err(e));
                self.not_run(&recording_rows, "list_session_recordings failed");
                return;
            }
        };
        let retrieved = self.retrieve_recording(&id).await;
        self.record("operations/retrieve_recording", retrieved);
        let downloaded = self.download(&id).await;
        self.record("operations/download_recording_audio", downloaded);
    }

    /// Lists the session's recordings until one is ready (or the deadline passes).
    async fn list_recordings(&mut self, session_id: &str) -> Result<Option<String>, String> {
        let wire = self.wire.clone();
        let path = format!("/v1/sessions/{session_id}/recordings");
        let deadline = tokio::time::Instant::now() + RECORDING_DEADLINE;
        loop {
            let raw = self
                .exchange(&wire, "list_session_recordings", "GET", &path, None, None)
                .await?;
            expect_status(&raw, 200)?;
            let list = self
                .client()
                .sessions()
                .recordings(session_id)
                .await
                .map_err(|e| format!("SDK list_session_recordings: {e}"))?;
            let body = raw.json()?;
            let raw_count = body["data"].as_array().map_or(0, Vec::len);
            if list.data.len() != raw_count {
                return Err(format!(
                    "the SDK read {} recordings, the body has {raw_count}",
                    list.data.len()
                ));
            }
            let ready = body["data"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["status"] == "ready")
                .and_then(|r| r["id"].as_str());
            if let Some(id) = ready {
                return Ok(Some(id.to_string()));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(None);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn retrieve_recording(&mut self, id: &str) -> Result<(), String> {
        let wire = self.wire.clone();
        let path = format!("/v1/recordings/{id}");
        let raw = self
            .exchange(&wire, "retrieve_recording", "GET", &path, None, None)
            .await?;
        expect_status(&raw, 200)?;
        let recording = self
            .client()
            .recordings()
            .retrieve(id)
            .await
            .map_err(|e| format!("SDK retrieve_recording: {e}"))?;
        same_id(&raw, recording.id.as_str())
    }

    async fn download(&mut self, id: &str) -> Result<(), String> {
        let wire = self.wire.clone();
        let path = format!("/v1/recordings/{id}/audio");
        let raw = self
            .exchange(&wire, "download_recording_audio", "GET", &path, None, None)
            .await?;
        expect_status(&raw, 200)?;
        let mut sink = Vec::new();
        let done = self
            .client()
            .recordings()
            .download(id)
            .to_writer(&mut sink)
            .await
            .map_err(|e| format!("SDK download_recording_audio: {e}"))?;
        if sink.len() != raw.body.len() || done.bytes != sink.len() as u64 {
            return Err(format!(
                "the SDK wrote {} bytes (reported {}), the raw download had {}",
                sink.len(),
                done.bytes,
                raw.body.len()
            ));
        }
        if done.content_type.as_deref() != raw.header("content-type") {
            return Err(format!(
                "the SDK reports Content-Type {:?}, the server sent {:?}",
                done.content_type,
                raw.header("content-type")
            ));
        }
        Ok(())
    }

    async fn analysis(&mut self, session_id: &str) {
        match self.create_analysis(session_id).await {
            Ok(id) => {
                self.record("operations/create_analysis", Ok(()));
                let retrieved = self.retrieve_analysis(&id).await;
                self.record("operations/retrieve_analysis", retrieved);
            }
            Err(e) => {
                self.record("operations/create_analysis", Err(e));
                self.not_run(&["operations/retrieve_analysis"], "create_analysis failed");
            }
        }
    }

    async fn create_analysis(&mut self, session_id: &str) -> Result<String, String> {
        let params = CreateAnalysisParams::new().include([AnalysisPart::Summary]);
        let key = uuid::Uuid::new_v4().to_string();
        let wire = self.wire.clone();
        let path = format!("/v1/sessions/{session_id}/analysis");
        let body = params.to_json();
        let raw = self
            .exchange(
                &wire,
                "create_analysis",
                "POST",
                &path,
                Some(&body),
                Some(&key),
            )
            .await?;
        expect_success(&raw)?;
        let analysis = self
            .client()
            .analyses()
            .create(session_id, params)
            .idempotency_key(key)
            .await
            .map_err(|e| format!("SDK create_analysis (same idempotency key): {e}"))?;
        same_id(&raw, analysis.id.as_str())?;
        Ok(analysis.id.as_str().to_string())
    }

    async fn retrieve_analysis(&mut self, id: &str) -> Result<(), String> {
        let wire = self.wire.clone();
        let path = format!("/v1/analyses/{id}");
        let raw = self
            .exchange(&wire, "retrieve_analysis", "GET", &path, None, None)
            .await?;
        expect_status(&raw, 200)?;
        let analysis = self
            .client()
            .analyses()
            .retrieve(id)
            .await
            .map_err(|e| format!("SDK retrieve_analysis: {e}"))?;
        same_id(&raw, analysis.id.as_str())
    }

    // ---- errors ----

    async fn errors(&mut self) {
        let wrong_key = self.wrong_key().await;
        self.record_all(
            &["error_codes.current/api_key_invalid", "statuses/401"],
            &wrong_key,
        );
        let not_found = self.not_found().await;
        self.record("statuses/404", not_found);
        let invalid = self.invalid_request().await;
        self.record_all(
            &["error_codes.current/invalid_request", "statuses/400"],
            &invalid,
        );
        if self.checked.emulator {
            let throttled = self.rate_limited().await;
            self.record_all(
                &["error_codes.current/rate_limit_exceeded", "statuses/429"],
                &throttled,
            );
            let broke = self.out_of_credits().await;
            self.record_all(
                &[
                    "error_codes.current/insufficient_api_credits",
                    "statuses/402",
                ],
                &broke,
            );
        } else {
            self.not_run(
                &[
                    "error_codes.current/rate_limit_exceeded",
                    "statuses/429",
                    "error_codes.current/insufficient_api_credits",
                    "statuses/402",
                ],
                "needs the emulator's controls (--emulator); a real server is not hammered or drained",
            );
        }
    }

    async fn wrong_key(&mut self) -> Result<(), String> {
        let key = kallglot::ApiKey::new(WRONG_KEY).map_err(|e| e.to_string())?;
        let wire = self.wire.with_key(Some(&key));
        let path = format!("/v1/sessions/{MISSING_SESSION}");
        let raw = self
            .exchange(&wire, "retrieve_session", "GET", &path, None, None)
            .await?;
        expect_error(&raw, 401, "api_key_invalid")?;
        let err = self
            .client_with(WRONG_KEY)?
            .sessions()
            .retrieve(MISSING_SESSION)
            .max_retries(0)
            .await
            .err()
            .ok_or("the SDK accepted an unknown key")?;
        expect_sdk_error(&err, 401, ErrorCode::ApiKeyInvalid)?;
        if !err.is_auth() {
            return Err(format!("the SDK's error is not is_auth(): {err}"));
        }
        Ok(())
    }

    async fn not_found(&mut self) -> Result<(), String> {
        let wire = self.wire.clone();
        let path = format!("/v1/sessions/{MISSING_SESSION}");
        let raw = self
            .exchange(&wire, "retrieve_session", "GET", &path, None, None)
            .await?;
        expect_status(&raw, 404)?;
        let err = self
            .client()
            .sessions()
            .retrieve(MISSING_SESSION)
            .await
            .err()
            .ok_or("the SDK found a session that does not exist")?;
        if err.status() != Some(404) {
            return Err(format!("the SDK's error is not a 404: {err}"));
        }
        Ok(())
    }

    async fn invalid_request(&mut self) -> Result<(), String> {
        let wire = self.wire.clone();
        let key = uuid::Uuid::new_v4().to_string();
        let raw = self
            .exchange(
                &wire,
                "create_session",
                "POST",
                "/v1/sessions",
                Some(&json!({})),
                Some(&key),
            )
            .await?;
        expect_error(&raw, 400, "invalid_request")?;
        let err = self
            .client()
            .request(kallglot::Method::Post, "/v1/sessions")
            .json(json!({}))
            .max_retries(0)
            .await
            .err()
            .ok_or("the SDK got a session without a mode")?;
        expect_sdk_error(&err, 400, ErrorCode::InvalidRequest)
    }

    /// 403 `insufficient_permissions`: ending the suite's own, already ended, session
    /// with a key that lacks `sessions:write`.
    async fn restricted_key_scope(&mut self, session_id: &str) {
        let ids = [
            "error_codes.current/insufficient_permissions",
            "statuses/403",
        ];
        let key = match (&self.checked.restricted, self.checked.emulator) {
            (Some(key), _) => Ok(key.clone()),
            (None, true) => self.emulator_restricted_key().await,
            (None, false) => {
                let why =
                    format!("set {RESTRICTED_KEY_VAR} to a sk_test_ key without sessions:write");
                self.not_run(&ids, &why);
                return;
            }
        };
        let result = match key {
            Ok(key) => self.missing_scope(&key, session_id).await,
            Err(e) => Err(e),
        };
        self.record_all(&ids, &result);
    }

    async fn emulator_restricted_key(&mut self) -> Result<kallglot::ApiKey, String> {
        let raw = format!(
            "sk_test_conformance_reader_{}",
            uuid::Uuid::new_v4().simple()
        );
        self.secrets.push(raw.clone());
        self.admin(
            "POST",
            "/__admin/keys",
            json!({"key": raw, "scopes": ["sessions:read"]}),
        )
        .await?;
        kallglot::ApiKey::new(raw).map_err(|e| e.to_string())
    }

    async fn missing_scope(
        &mut self,
        key: &kallglot::ApiKey,
        session_id: &str,
    ) -> Result<(), String> {
        let wire = self.wire.with_key(Some(key));
        let path = format!("/v1/sessions/{session_id}/end");
        let idempotency_key = uuid::Uuid::new_v4().to_string();
        let raw = self
            .exchange(
                &wire,
                "end_session",
                "POST",
                &path,
                None,
                Some(&idempotency_key),
            )
            .await?;
        expect_error(&raw, 403, "insufficient_permissions")?;
        let err = self
            .client_with(key.expose_secret())?
            .sessions()
            .end(session_id)
            .max_retries(0)
            .await
            .err()
            .ok_or("the restricted key could end a session: it has sessions:write")?;
        expect_sdk_error(&err, 403, ErrorCode::InsufficientPermissions)?;
        let scope = err.as_api().and_then(|a| a.required_scope);
        if scope != Some(Scope::SessionsWrite) {
            return Err(format!(
                "the SDK names the scope {scope:?}, not sessions:write"
            ));
        }
        Ok(())
    }

    /// Emulator only: a fault answers the next two retrieves with 429 and `Retry-After`.
    async fn rate_limited(&mut self) -> Result<(), String> {
        self.admin(
            "POST",
            "/__admin/faults",
            json!({"route": "retrieve_session", "status": 429, "code": "rate_limit_exceeded",
                   "type": "rate_limit_error", "retry_after": 1, "times": 2}),
        )
        .await?;
        let wire = self.wire.clone();
        let path = format!("/v1/sessions/{MISSING_SESSION}");
        let raw = self
            .exchange(&wire, "retrieve_session", "GET", &path, None, None)
            .await?;
        expect_error(&raw, 429, "rate_limit_exceeded")?;
        let err = self
            .client()
            .sessions()
            .retrieve(MISSING_SESSION)
            .max_retries(0)
            .await
            .err()
            .ok_or("the SDK's retrieve was not throttled")?;
        expect_sdk_error(&err, 429, ErrorCode::RateLimitExceeded)?;
        let wait = err.as_api().and_then(|a| a.retry_after);
        if wait != Some(Duration::from_secs(1)) || !err.is_rate_limited() {
            return Err(format!("the SDK read Retry-After as {wait:?}: {err}"));
        }
        Ok(())
    }

    /// Emulator only: with no credits left a create answers 402; the balance is restored.
    async fn out_of_credits(&mut self) -> Result<(), String> {
        let before = self.admin("GET", "/__admin/credits", Value::Null).await?;
        let remaining = before["remaining"]
            .as_i64()
            .ok_or("the emulator reported no credit balance")?;
        self.admin("PUT", "/__admin/credits", json!({"remaining": 0}))
            .await?;
        let result = self.create_without_credits().await;
        let restored = self
            .admin("PUT", "/__admin/credits", json!({"remaining": remaining}))
            .await;
        result.and(restored.map(|_| ()))
    }

    async fn create_without_credits(&mut self) -> Result<(), String> {
        let params = CreateSessionParams::new(Mode::AiAgent);
        let wire = self.wire.clone();
        let key = uuid::Uuid::new_v4().to_string();
        let raw = self
            .exchange(
                &wire,
                "create_session",
                "POST",
                "/v1/sessions",
                Some(&params.to_json()),
                Some(&key),
            )
            .await?;
        expect_error(&raw, 402, "insufficient_api_credits")?;
        let err = self
            .client()
            .sessions()
            .create(params)
            .max_retries(0)
            .await
            .err()
            .ok_or("the SDK created a session without credits")?;
        expect_sdk_error(&err, 402, ErrorCode::InsufficientApiCredits)?;
        if !err.is_out_of_credits() {
            return Err(format!("the SDK's error is not is_out_of_credits(): {err}"));
        }
        Ok(())
    }

    // ---- summary rows ----

    /// One row per documented response header, over every response of the run.
    fn header_rows(&mut self) {
        let declared = match crate::spec_surface::spec() {
            Ok(spec) => crate::spec_surface::surface(&spec).response_headers,
            Err(e) => {
                self.record("response_headers", Err(e));
                return;
            }
        };
        for name in declared {
            let id = format!("response_headers/{name}");
            match self.headers.get(&name) {
                None | Some(Tally { checked: 0, .. }) => self.not_run(
                    &[&id],
                    "no answer of this run had a status that declares it",
                ),
                Some(tally) if tally.problems.is_empty() => self.record(&id, Ok(())),
                Some(tally) => {
                    let text = format!(
                        "{} of {} responses: {}",
                        tally.problems.len(),
                        tally.checked,
                        tally.problems.join("\n")
                    );
                    self.record(&id, Err(text));
                }
            }
        }
    }

    /// Every operation of the spec has a row, every operation row names one, and every
    /// other row is an entry of `documented.toml`.
    fn coverage_row(&mut self) {
        let result = coverage(
            &self.contract.operation_ids(),
            &crate::manifest::load(),
            self.rows.iter().map(|r| r.id.as_str()),
        );
        self.rows.insert(
            0,
            Row::new("coverage (spec operations, manifest <-> live rows)", result),
        );
    }

    /// The rows, with every key and token the run used replaced.
    fn finish(self) -> Vec<Row> {
        let redact = |text: &str| redact(&self.secrets, text);
        self.rows
            .iter()
            .map(|row| Row {
                id: row.id.clone(),
                outcome: match &row.outcome {
                    Outcome::Ok => Outcome::Ok,
                    Outcome::Failed(e) => Outcome::Failed(redact(e)),
                    Outcome::NotRun(why) => Outcome::NotRun(redact(why)),
                },
            })
            .collect()
    }
}

/// Checks the live rows against the spec's operations and the manifest's entries.
fn coverage<'r>(
    operations: &[String],
    manifest: &BTreeMap<String, String>,
    rows: impl Iterator<Item = &'r str>,
) -> Result<(), String> {
    let rows: Vec<&str> = rows.collect();
    let run: Vec<&str> = rows
        .iter()
        .filter_map(|id| id.strip_prefix("operations/"))
        .collect();
    let missing: Vec<&String> = operations
        .iter()
        .filter(|id| !run.contains(&id.as_str()))
        .collect();
    let unknown: Vec<&&str> = run
        .iter()
        .filter(|id| !operations.iter().any(|o| o == *id))
        .collect();
    let undocumented: Vec<&&str> = rows
        .iter()
        .filter(|id| !id.starts_with("operations/") && !manifest.contains_key(**id))
        .collect();
    if missing.is_empty() && unknown.is_empty() && undocumented.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "operations without a row: {missing:?}; operation rows the spec lacks: {unknown:?}; \
             rows that are not documented.toml entries: {undocumented:?}"
        ))
    }
}

/// `text` with every secret replaced by `[redacted]`.
fn redact(secrets: &[String], text: &str) -> String {
    secrets
        .iter()
        .filter(|s| !s.is_empty())
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "[redacted]"))
}

// ---- the stream ----

struct StreamSteps {
    ready: Result<(), String>,
    audio: Result<(), String>,
    pong: Result<(), String>,
    end: Result<(), String>,
    ended: Result<(), String>,
}

/// Connects, waits for `session.ready`, sends 2.5 s of μ-law silence, pings, ends.
async fn stream_steps(session: &kallglot::model::Session) -> StreamSteps {
    let skipped = |why: &str| Err(format!("not reached: {why}"));
    let mut steps = StreamSteps {
        ready: skipped("connect failed"),
        audio: skipped("connect failed"),
        pong: skipped("connect failed"),
        end: skipped("connect failed"),
        ended: skipped("connect failed"),
    };
    let connected = async {
        let credentials = session
            .stream
            .as_ref()
            .ok_or("the retrieved session has no stream credentials")?;
        stream_url_allowed(&credentials.url)?;
        let options = StreamOptions::default();
        tokio::time::timeout(STREAM_STEP, kallglot::stream::connect(credentials, options))
            .await
            .map_err(|_| "connecting the stream timed out".to_string())?
            .map_err(|e| format!("connecting the stream failed: {e}"))
    }
    .await;
    let (sender, mut events) = match connected {
        Ok(pair) => pair,
        Err(e) => {
            steps.ready = Err(e);
            return steps;
        }
    };
    steps.ready = match next_event(&mut events).await {
        Ok(Event::Ready { .. }) => Ok(()),
        Ok(other) => Err(format!("the first event is not session.ready: {other:?}")),
        Err(e) => Err(e),
    };
    let mut audio = Ok(());
    for _ in 0..25 {
        // 100 ms of μ-law silence per frame.
        if let Err(e) = sender
            .send_audio(MulawAudio::from_mulaw_bytes(vec![0xFF; 800]))
            .await
        {
            audio = Err(format!("sending audio failed: {e}"));
            break;
        }
    }
    steps.pong = match sender.ping().await {
        Ok(()) => wait_for(&mut events, &mut audio, |e| matches!(e, Event::Pong { .. }))
            .await
            .map(|_| ()),
        Err(e) => Err(format!("sending ping failed: {e}")),
    };
    steps.end = match tokio::time::timeout(STREAM_STEP, sender.end()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("end() failed: {e}")),
        Err(_) => Err("end() did not return in time".into()),
    };
    steps.ended = match wait_for(&mut events, &mut audio, |e| {
        matches!(e, Event::SessionEnded { .. })
    })
    .await
    {
        Ok(Event::SessionEnded { session_id, reason }) => {
            if session_id
                .as_deref()
                .is_some_and(|s| s != session.id.as_str())
            {
                Err(format!("session.ended names session {session_id:?}"))
            } else if reason != EndReason::ExplicitEnd {
                Err(format!(
                    "session.ended gives the reason {reason:?}, not explicit_end"
                ))
            } else {
                Ok(())
            }
        }
        Ok(_) => unreachable!("wait_for returns the matching event"),
        Err(e) => Err(e),
    };
    steps.audio = audio;
    steps
}

async fn next_event(events: &mut kallglot::stream::Events) -> Result<Event, String> {
    match tokio::time::timeout(STREAM_STEP, events.next()).await {
        Ok(Some(Ok(event))) => Ok(event),
        Ok(Some(Err(e))) => Err(format!("the stream failed: {e}")),
        Ok(None) => Err("the stream ended".into()),
        Err(_) => Err(format!("no event within {STREAM_STEP:?}")),
    }
}

/// The next event that `wanted` accepts; a `session.error` on the way fails the audio row
/// (audio is all the suite sends besides ping and end).
async fn wait_for(
    events: &mut kallglot::stream::Events,
    audio: &mut Result<(), String>,
    wanted: impl Fn(&Event) -> bool,
) -> Result<Event, String> {
    loop {
        let event = next_event(events).await?;
        if wanted(&event) {
            return Ok(event);
        }
        if let Event::SessionError { code, message, .. } = &event
            && audio.is_ok()
        {
            *audio = Err(format!(
                "the server answered session.error {code}: {message:?}"
            ));
        }
    }
}

// ---- expectations ----

fn expect_status(raw: &Exchange, status: u16) -> Result<(), String> {
    if raw.status == status {
        Ok(())
    } else {
        Err(format!(
            "{}: expected HTTP {status} (error code {:?})",
            raw.summary(),
            raw.error_code()
        ))
    }
}

fn expect_success(raw: &Exchange) -> Result<(), String> {
    if (200..300).contains(&raw.status) {
        Ok(())
    } else {
        Err(format!(
            "{}: expected a 2xx (error code {:?})",
            raw.summary(),
            raw.error_code()
        ))
    }
}

fn expect_error(raw: &Exchange, status: u16, code: &str) -> Result<(), String> {
    expect_status(raw, status)?;
    match raw.error_code() {
        Some(got) if got == code => Ok(()),
        got => Err(format!(
            "{}: expected error code {code}, got {got:?}",
            raw.summary()
        )),
    }
}

fn expect_sdk_error(err: &kallglot::Error, status: u16, code: ErrorCode) -> Result<(), String> {
    if err.status() == Some(status) && err.code() == Some(&code) {
        Ok(())
    } else {
        Err(format!(
            "the SDK's error is not HTTP {status} {code}: {err}"
        ))
    }
}

fn same_id(raw: &Exchange, sdk_id: &str) -> Result<(), String> {
    let body = raw.json()?;
    match body["id"].as_str() {
        Some(id) if id == sdk_id => Ok(()),
        other => Err(format!(
            "the SDK read id {sdk_id}, the raw answer has {other:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coverage_names_missing_operations_unknown_ones_and_undocumented_rows() {
        let operations = ["create_session".to_string(), "retrieve_session".to_string()];
        let manifest = BTreeMap::from([("statuses/401".to_string(), String::new())]);
        let ok = [
            "operations/create_session",
            "operations/retrieve_session",
            "statuses/401",
        ];
        assert_eq!(coverage(&operations, &manifest, ok.into_iter()), Ok(()));
        let bad = [
            "operations/create_session",
            "operations/dial",
            "statuses/499",
        ];
        let err = coverage(&operations, &manifest, bad.into_iter()).unwrap_err();
        assert!(
            err.contains("without a row: [\"retrieve_session\"]"),
            "{err}"
        );
        assert!(err.contains("spec lacks: [\"dial\"]"), "{err}");
        assert!(err.contains("entries: [\"statuses/499\"]"), "{err}");
    }

    #[test]
    fn every_secret_is_redacted_and_an_empty_one_is_ignored() {
        let secrets = [
            "sk_test_abc".to_string(),
            String::new(),
            "kst_test_xyz".into(),
        ];
        assert_eq!(
            redact(
                &secrets,
                "key sk_test_abc, token kst_test_xyz, again sk_test_abc"
            ),
            "key [redacted], token [redacted], again [redacted]"
        );
    }
}
