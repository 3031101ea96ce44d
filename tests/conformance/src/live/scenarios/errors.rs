//! The errors the keys (and, on the emulator, its controls) can provoke.

use super::*;

/// The operation the restricted key is refused: free, and harmless on an ended session
/// should the key be allowed after all.
const PROBE_OPERATION: &str = "end_session";

impl Run {
    // ---- errors ----

    pub(super) async fn errors(&mut self) {
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

    pub(super) async fn wrong_key(&mut self) -> Result<(), String> {
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

    pub(super) async fn not_found(&mut self) -> Result<(), String> {
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

    pub(super) async fn invalid_request(&mut self) -> Result<(), String> {
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
    /// ([`PROBE_OPERATION`]) with a key that lacks `sessions:write`, the scope the spec
    /// declares for it.
    pub(super) async fn restricted_key_scope(&mut self, session_id: &str) {
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

    pub(super) async fn emulator_restricted_key(&mut self) -> Result<kallglot::ApiKey, String> {
        let raw = format!(
            "sk_test_conformance_reader_{}",
            uuid::Uuid::new_v4().simple()
        );
        self.secrets.push(raw.clone());
        // Every scope but the one the probe needs.
        let needed = self.contract.scope(PROBE_OPERATION);
        let scopes: Vec<String> = self
            .contract
            .scopes()
            .into_iter()
            .filter(|s| Some(s.as_str()) != needed.as_deref())
            .collect();
        self.admin(
            "POST",
            "/__admin/keys",
            Some(json!({"key": raw, "scopes": scopes})),
        )
        .await?;
        kallglot::ApiKey::new(raw).map_err(|e| e.to_string())
    }

    pub(super) async fn missing_scope(
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
                PROBE_OPERATION,
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
        let named = err
            .as_api()
            .and_then(|a| a.required_scope)
            .map(|s| s.as_str().to_string());
        let declared = self.contract.scope(PROBE_OPERATION);
        if named.is_none() || named != declared {
            return Err(format!(
                "the SDK names the scope {named:?}; the spec declares {declared:?}"
            ));
        }
        Ok(())
    }

    /// Emulator only: a fault answers the next two retrieves with 429 and `Retry-After`.
    pub(super) async fn rate_limited(&mut self) -> Result<(), String> {
        self.admin(
            "POST",
            "/__admin/faults",
            Some(
                json!({"route": "retrieve_session", "status": 429, "code": "rate_limit_exceeded",
                   "type": "rate_limit_error", "retry_after": 1, "times": 2}),
            ),
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
    pub(super) async fn out_of_credits(&mut self) -> Result<(), String> {
        let before = self.admin("GET", "/__admin/credits", None).await?;
        let remaining = before["remaining"]
            .as_i64()
            .ok_or("the emulator reported no credit balance")?;
        self.admin("PUT", "/__admin/credits", Some(json!({"remaining": 0})))
            .await?;
        let result = self.create_without_credits().await;
        let restored = self
            .admin(
                "PUT",
                "/__admin/credits",
                Some(json!({"remaining": remaining})),
            )
            .await;
        result.and(restored.map(|_| ()))
    }

    pub(super) async fn create_without_credits(&mut self) -> Result<(), String> {
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
}
