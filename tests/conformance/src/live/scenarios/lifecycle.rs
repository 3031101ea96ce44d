//! The scenarios that follow one session from create to analysis.

use super::*;

impl Run {
    // ---- the session's life ----

    pub(super) async fn session_lifecycle(&mut self) {
        let created = self.create_session().await;
        let (session_id, idempotency_key) = match created {
            Ok(ids) => {
                self.record("operations/create_session", Ok(()));
                // create_session checked the replay: the SDK's create with the same key
                // got the raw create's session.
                self.record("request_headers/Idempotency-Key", Ok(()));
                ids
            }
            Err(e) => {
                self.record("operations/create_session", Err(e));
                self.not_run(
                    &[
                        "request_headers/Idempotency-Key",
                        "request_headers/X-API-Key",
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

        let x_api_key = self.x_api_key(&session_id).await;
        self.record("request_headers/X-API-Key", x_api_key);
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
    pub(super) async fn create_session(&mut self) -> Result<(String, String), String> {
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

    /// The SDK authenticating with `X-API-Key` instead of `Authorization` is accepted.
    pub(super) async fn x_api_key(&mut self, session_id: &str) -> Result<(), String> {
        let client = kallglot::Client::builder()
            .api_key(self.checked.key.expose_secret())
            .auth_style(kallglot::AuthStyle::XApiKey)
            .base_url(self.client().base_url())
            .build()
            .map_err(|e| e.to_string())?;
        let session = client
            .sessions()
            .retrieve(session_id)
            .await
            .map_err(|e| format!("SDK retrieve_session with X-API-Key: {e}"))?;
        if session.id.as_str() == session_id {
            Ok(())
        } else {
            Err(format!("X-API-Key retrieved session {}", session.id))
        }
    }

    pub(super) async fn idempotency_mismatch(&mut self, key: &str) -> Result<(), String> {
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

    pub(super) async fn retrieve_session(
        &mut self,
        id: &str,
    ) -> Result<kallglot::model::Session, String> {
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

    pub(super) async fn stream(&mut self, session: &kallglot::model::Session) {
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

    pub(super) async fn end_session(&mut self, id: &str) -> Result<(), String> {
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

    pub(super) async fn transcript(&mut self, id: &str) -> Result<(), String> {
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

    pub(super) async fn recordings(&mut self, session_id: &str) {
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
    pub(super) async fn list_recordings(
        &mut self,
        session_id: &str,
    ) -> Result<Option<String>, String> {
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

    pub(super) async fn retrieve_recording(&mut self, id: &str) -> Result<(), String> {
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

    pub(super) async fn download(&mut self, id: &str) -> Result<(), String> {
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

    pub(super) async fn analysis(&mut self, session_id: &str) {
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

    pub(super) async fn create_analysis(&mut self, session_id: &str) -> Result<String, String> {
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

    pub(super) async fn retrieve_analysis(&mut self, id: &str) -> Result<(), String> {
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
}
