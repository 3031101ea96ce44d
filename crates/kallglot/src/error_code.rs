//! The `code` and `type` fields of the API's error envelope, and permission
//! scopes.
//!
//! Both enums are *open*: the server may add codes at any time and older
//! deployments still emit legacy spellings, so parsing never fails. Unknown
//! values are kept verbatim in an `Unknown` variant, and legacy spellings are
//! folded into the variant for the current code so callers match one name per
//! situation. Because folding loses the original spelling, callers that need
//! the exact wire string (for logs or support tickets) keep it alongside the
//! parsed value.

use std::fmt;

use crate::open_enum::open_enum;

open_enum! {
    /// The machine-readable `code` of an API error (and of a stream
    /// `session.error`).
    ///
    /// The values and legacy aliases are the spec's (`ErrorDetail.code`).
    ///
    /// Parsing never fails; a legacy spelling folds into the current variant, and a code
    /// this version does not know is kept as `Unknown`:
    ///
    /// ```
    /// use kallglot::ErrorCode;
    ///
    /// let legacy = ErrorCode::parse("invalid_api_key");
    /// assert_eq!(legacy, ErrorCode::ApiKeyInvalid);
    /// assert_eq!(legacy.as_str(), "api_key_invalid"); // the current spelling
    ///
    /// let new = ErrorCode::from("quota_paused");
    /// assert!(new.is_unknown());
    /// assert_eq!(new.to_string(), "quota_paused");
    ///
    /// match ErrorCode::parse("rate_limit_exceeded") {
    ///     ErrorCode::RateLimitExceeded => { /* wait for the window to reset */ }
    ///     ErrorCode::ApiKeyRevoked | ErrorCode::ApiKeyExpired => { /* rotate the key */ }
    ///     other => eprintln!("unexpected code {other}"),
    /// }
    /// ```
    pub enum ErrorCode: kallglot_api::catalogue::ERROR_DETAIL_CODE {
        /// `api_key_invalid` (legacy: `invalid_api_key`): the key is malformed or
        /// does not exist.
        ApiKeyInvalid = "api_key_invalid" | "invalid_api_key",
        /// `api_key_expired` (legacy: `expired_api_key`).
        ApiKeyExpired = "api_key_expired" | "expired_api_key",
        /// `api_key_revoked` (legacy: `revoked_api_key`).
        ApiKeyRevoked = "api_key_revoked" | "revoked_api_key",
        /// `api_key_wrong_environment`: the key's environment (live or test) is
        /// not the one the request addressed.
        ApiKeyWrongEnvironment = "api_key_wrong_environment",
        /// `organization_inactive` (legacy: `organization_suspended`).
        OrganizationInactive = "organization_inactive" | "organization_suspended",
        /// `insufficient_api_credits`: the organization has run out of credits.
        InsufficientApiCredits = "insufficient_api_credits",
        /// `insufficient_permissions`: the key lacks the scope the operation
        /// needs (see [`required_scope`]).
        InsufficientPermissions = "insufficient_permissions",
        /// `idempotency_mismatch`: an idempotency key was reused with a different
        /// request body.
        IdempotencyMismatch = "idempotency_mismatch",
        /// `idempotency_conflict`: a request with the same idempotency key is
        /// still being processed.
        IdempotencyConflict = "idempotency_conflict",
        /// `rate_limit_exceeded`.
        RateLimitExceeded = "rate_limit_exceeded",
        /// `invalid_request` (legacy: `missing_required_field`,
        /// `invalid_field_value`, `invalid_language_code`, `invalid_mode`,
        /// `invalid_provider`). The legacy codes were finer-grained; the
        /// current API reports them all as `invalid_request` with details in the
        /// message, so they are folded together here.
        InvalidRequest = "invalid_request"
            | "missing_required_field"
            | "invalid_field_value"
            | "invalid_language_code"
            | "invalid_mode"
            | "invalid_provider",
        /// `agent_not_found`.
        AgentNotFound = "agent_not_found",
        /// `ai_agent_not_found`.
        AiAgentNotFound = "ai_agent_not_found",
        /// `invalid_audio_format`.
        InvalidAudioFormat = "invalid_audio_format",
        /// `invalid_token`: legacy code for a malformed stream or session token.
        InvalidToken = "invalid_token",
        /// `expired_token`: legacy code for an expired stream or session token.
        ExpiredToken = "expired_token",
        /// `feature_not_available`: legacy code for a feature not enabled for the
        /// organization's plan.
        FeatureNotAvailable = "feature_not_available",
    }
}

impl ErrorCode {
    /// The credentials themselves were rejected: any of the `api_key_*`
    /// codes, or a legacy invalid/expired token. Retrying with the same
    /// credentials will not help.
    ///
    /// ```
    /// use kallglot::ErrorCode;
    ///
    /// assert!(ErrorCode::ApiKeyRevoked.is_auth());
    /// assert!(ErrorCode::parse("expired_api_key").is_auth()); // a legacy spelling
    /// assert!(!ErrorCode::InsufficientPermissions.is_auth());
    /// ```
    pub fn is_auth(&self) -> bool {
        matches!(
            self,
            Self::ApiKeyInvalid
                | Self::ApiKeyExpired
                | Self::ApiKeyRevoked
                | Self::ApiKeyWrongEnvironment
                | Self::InvalidToken
                | Self::ExpiredToken
        )
    }

    /// The credentials are valid but not allowed to do this: inactive
    /// organization, missing scope, or a feature not on the plan.
    ///
    /// ```
    /// use kallglot::ErrorCode;
    ///
    /// assert!(ErrorCode::InsufficientPermissions.is_permission());
    /// assert!(ErrorCode::parse("organization_suspended").is_permission());
    /// assert!(!ErrorCode::ApiKeyInvalid.is_permission());
    /// ```
    pub fn is_permission(&self) -> bool {
        matches!(
            self,
            Self::OrganizationInactive | Self::InsufficientPermissions | Self::FeatureNotAvailable
        )
    }

    /// The organization has no API credits left.
    ///
    /// ```
    /// use kallglot::ErrorCode;
    ///
    /// assert!(ErrorCode::parse("insufficient_api_credits").is_out_of_credits());
    /// assert!(!ErrorCode::RateLimitExceeded.is_out_of_credits());
    /// ```
    pub fn is_out_of_credits(&self) -> bool {
        matches!(self, Self::InsufficientApiCredits)
    }

    /// The request was rejected by rate limiting and may succeed later.
    ///
    /// ```
    /// use kallglot::ErrorCode;
    ///
    /// assert!(ErrorCode::RateLimitExceeded.is_rate_limited());
    /// assert!(!ErrorCode::IdempotencyConflict.is_rate_limited());
    /// ```
    pub fn is_rate_limited(&self) -> bool {
        matches!(self, Self::RateLimitExceeded)
    }

    /// The request itself is wrong and must be changed before it can
    /// succeed: `invalid_request` (and its legacy aliases) or an idempotency
    /// key reused with a different body.
    ///
    /// `idempotency_conflict` is not included: it means the same request is
    /// still in flight, which is transient rather than a mistake.
    ///
    /// ```
    /// use kallglot::ErrorCode;
    ///
    /// assert!(ErrorCode::parse("invalid_language_code").is_validation()); // legacy, folded
    /// assert!(ErrorCode::IdempotencyMismatch.is_validation());
    /// assert!(!ErrorCode::IdempotencyConflict.is_validation()); // in flight: retry instead
    /// ```
    pub fn is_validation(&self) -> bool {
        matches!(self, Self::InvalidRequest | Self::IdempotencyMismatch)
    }
}

open_enum! {
    /// The `type` of an API error: a coarse category.
    ///
    /// The documentation is not consistent about which type accompanies a given
    /// situation (the same failure is shown with different types in different
    /// places), so do not branch on it: use the HTTP status together with
    /// [`ErrorCode`]. It is exposed for logging and completeness.
    ///
    /// ```
    /// use kallglot::ErrorType;
    ///
    /// let kind = ErrorType::parse("rate_limit_error");
    /// assert_eq!(kind, ErrorType::RateLimitError);
    /// assert_eq!(kind.as_str(), "rate_limit_error");
    /// assert!(ErrorType::parse("quota_error").is_unknown()); // kept, never an error
    /// ```
    pub enum ErrorType: kallglot_api::catalogue::ERROR_DETAIL_TYPE {
        /// `authentication_error`.
        AuthenticationError = "authentication_error",
        /// `permission_error`.
        PermissionError = "permission_error",
        /// `authorization_error`: legacy spelling seen in older documentation
        /// where `permission_error` is used now. Kept distinct rather than folded
        /// because the docs do not say the two are equivalent.
        AuthorizationError = "authorization_error",
        /// `invalid_request_error`.
        InvalidRequestError = "invalid_request_error",
        /// `validation_error`.
        ValidationError = "validation_error",
        /// `rate_limit_error`.
        RateLimitError = "rate_limit_error",
    }
}

/// A permission scope an API key can be granted.
///
/// Missing scopes surface as [`ErrorCode::InsufficientPermissions`]; use
/// [`required_scope`] to tell which scope an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// `sessions:read`.
    SessionsRead,
    /// `sessions:write`.
    SessionsWrite,
    /// `recordings:read`.
    RecordingsRead,
    /// `analysis:read`.
    AnalysisRead,
    /// `analysis:write`.
    AnalysisWrite,
    /// `webhooks:manage`.
    WebhooksManage,
}

impl Scope {
    /// Every scope, in declaration order.
    const ALL: [Self; 6] = [
        Self::SessionsRead,
        Self::SessionsWrite,
        Self::RecordingsRead,
        Self::AnalysisRead,
        Self::AnalysisWrite,
        Self::WebhooksManage,
    ];

    /// The scope with this wire name, if it is one this SDK version knows.
    ///
    /// ```
    /// use kallglot::Scope;
    ///
    /// assert_eq!(Scope::from_wire("analysis:read"), Some(Scope::AnalysisRead));
    /// assert_eq!(Scope::from_wire("sessions:admin"), None);
    /// ```
    pub fn from_wire(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|scope| scope.as_str() == name)
    }

    /// The scope as written in the dashboard and in error messages, e.g.
    /// `"sessions:read"`.
    ///
    /// ```
    /// use kallglot::Scope;
    ///
    /// assert_eq!(Scope::SessionsWrite.as_str(), "sessions:write");
    /// assert_eq!(Scope::SessionsWrite.to_string(), "sessions:write");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SessionsRead => "sessions:read",
            Self::SessionsWrite => "sessions:write",
            Self::RecordingsRead => "recordings:read",
            Self::AnalysisRead => "analysis:read",
            Self::AnalysisWrite => "analysis:write",
            Self::WebhooksManage => "webhooks:manage",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scope an API operation needs, by OpenAPI `operationId`.
///
/// The answer comes from the operation catalogue generated from the spec
/// (`x-kallglot-scope`). The reference states some of these requirements and
/// leaves others to be inferred from the resource an operation touches; the
/// inferred ones (`retrieve_session_transcript`, the recording operations and
/// `dial_session`) may be wrong.
///
/// Returns `None` for any other operation, including ones that need no
/// particular scope and ones this SDK version does not know; it is meant
/// for enriching error messages, not for refusing requests client-side.
///
/// ```
/// use kallglot::error_code::{Scope, required_scope};
///
/// assert_eq!(required_scope("create_session"), Some(Scope::SessionsWrite));
/// assert_eq!(required_scope("no_such_operation"), None);
/// ```
pub fn required_scope(operation_id: &str) -> Option<Scope> {
    let scope = kallglot_api::catalogue::Operation::by_id(operation_id)?.scope?;
    Scope::from_wire(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every current code with its variant.
    ///
    /// `current_table_is_complete` makes forgetting a new variant here a test
    /// failure.
    fn current() -> Vec<(&'static str, ErrorCode)> {
        vec![
            ("api_key_invalid", ErrorCode::ApiKeyInvalid),
            ("api_key_expired", ErrorCode::ApiKeyExpired),
            ("api_key_revoked", ErrorCode::ApiKeyRevoked),
            (
                "api_key_wrong_environment",
                ErrorCode::ApiKeyWrongEnvironment,
            ),
            ("organization_inactive", ErrorCode::OrganizationInactive),
            (
                "insufficient_api_credits",
                ErrorCode::InsufficientApiCredits,
            ),
            (
                "insufficient_permissions",
                ErrorCode::InsufficientPermissions,
            ),
            ("idempotency_mismatch", ErrorCode::IdempotencyMismatch),
            ("idempotency_conflict", ErrorCode::IdempotencyConflict),
            ("rate_limit_exceeded", ErrorCode::RateLimitExceeded),
            ("invalid_request", ErrorCode::InvalidRequest),
            ("agent_not_found", ErrorCode::AgentNotFound),
            ("ai_agent_not_found", ErrorCode::AiAgentNotFound),
            ("invalid_audio_format", ErrorCode::InvalidAudioFormat),
            ("invalid_token", ErrorCode::InvalidToken),
            ("expired_token", ErrorCode::ExpiredToken),
            ("feature_not_available", ErrorCode::FeatureNotAvailable),
        ]
    }

    #[test]
    fn current_table_is_complete() {
        // An exhaustive match (possible inside the defining crate despite
        // `#[non_exhaustive]`): a new variant fails to compile here until it
        // is given an index, and the count below then fails until it is
        // added to `current()`.
        let index = |code: &ErrorCode| match code {
            ErrorCode::ApiKeyInvalid => 0,
            ErrorCode::ApiKeyExpired => 1,
            ErrorCode::ApiKeyRevoked => 2,
            ErrorCode::ApiKeyWrongEnvironment => 3,
            ErrorCode::OrganizationInactive => 4,
            ErrorCode::InsufficientApiCredits => 5,
            ErrorCode::InsufficientPermissions => 6,
            ErrorCode::IdempotencyMismatch => 7,
            ErrorCode::IdempotencyConflict => 8,
            ErrorCode::RateLimitExceeded => 9,
            ErrorCode::InvalidRequest => 10,
            ErrorCode::AgentNotFound => 11,
            ErrorCode::AiAgentNotFound => 12,
            ErrorCode::InvalidAudioFormat => 13,
            ErrorCode::InvalidToken => 14,
            ErrorCode::ExpiredToken => 15,
            ErrorCode::FeatureNotAvailable => 16,
            ErrorCode::Unknown(_) => usize::MAX,
        };
        let mut seen: Vec<usize> = current().iter().map(|(_, c)| index(c)).collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, (0..=16).collect::<Vec<_>>());
    }

    /// Every legacy alias with the canonical code it maps to.
    const ALIASES: &[(&str, &str)] = &[
        ("invalid_api_key", "api_key_invalid"),
        ("expired_api_key", "api_key_expired"),
        ("revoked_api_key", "api_key_revoked"),
        ("organization_suspended", "organization_inactive"),
        ("missing_required_field", "invalid_request"),
        ("invalid_field_value", "invalid_request"),
        ("invalid_language_code", "invalid_request"),
        ("invalid_mode", "invalid_request"),
        ("invalid_provider", "invalid_request"),
    ];

    #[test]
    fn current_codes_round_trip() {
        for (wire, variant) in current() {
            let code = ErrorCode::parse(wire);
            assert_eq!(code, variant, "{wire}");
            assert_eq!(code.as_str(), wire);
            assert_eq!(code.to_string(), wire);
            assert_eq!(ErrorCode::from(wire), code);
            assert_eq!(ErrorCode::from(wire.to_string()), code);
        }
    }

    #[test]
    fn aliases_map_to_current_codes() {
        for (legacy, canonical) in ALIASES {
            let code = ErrorCode::parse(legacy);
            assert!(!matches!(code, ErrorCode::Unknown(_)), "{legacy}");
            assert_eq!(code, ErrorCode::parse(canonical), "{legacy}");
            assert_eq!(code.as_str(), *canonical);
            assert_eq!(ErrorCode::from(legacy.to_string()), code);
        }
    }

    #[test]
    fn unknown_code_is_preserved() {
        for raw in ["brand_new_code", "", "API_KEY_INVALID", " api_key_invalid"] {
            let code = ErrorCode::parse(raw);
            assert_eq!(code, ErrorCode::Unknown(raw.to_owned()));
            assert_eq!(code.as_str(), raw);
            assert_eq!(code.to_string(), raw);
            assert_eq!(ErrorCode::from(raw.to_owned()), code);
        }
    }

    #[test]
    fn serde_code_as_plain_string() {
        let code: ErrorCode = serde_json::from_str("\"brand_new_code\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown("brand_new_code".into()));
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"brand_new_code\"");

        let code: ErrorCode = serde_json::from_str("\"rate_limit_exceeded\"").unwrap();
        assert_eq!(code, ErrorCode::RateLimitExceeded);
        assert_eq!(
            serde_json::to_string(&code).unwrap(),
            "\"rate_limit_exceeded\""
        );

        // Legacy spellings are written back canonically.
        let code: ErrorCode = serde_json::from_str("\"invalid_api_key\"").unwrap();
        assert_eq!(code, ErrorCode::ApiKeyInvalid);
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"api_key_invalid\"");

        // Not a string at all is a genuine deserialization error.
        assert!(serde_json::from_str::<ErrorCode>("42").is_err());
    }

    #[test]
    fn serde_code_inside_envelope() {
        #[derive(serde::Deserialize)]
        struct Envelope {
            code: ErrorCode,
            #[serde(rename = "type")]
            kind: ErrorType,
        }
        let envelope: Envelope =
            serde_json::from_str(r#"{"code":"something_new","type":"other_error"}"#).unwrap();
        assert_eq!(envelope.code, ErrorCode::Unknown("something_new".into()));
        assert_eq!(envelope.kind, ErrorType::Unknown("other_error".into()));
    }

    #[test]
    fn predicates() {
        // (code, auth, permission, credits, rate limited, validation)
        let table: &[(&str, [bool; 5])] = &[
            ("api_key_invalid", [true, false, false, false, false]),
            ("api_key_expired", [true, false, false, false, false]),
            ("api_key_revoked", [true, false, false, false, false]),
            (
                "api_key_wrong_environment",
                [true, false, false, false, false],
            ),
            ("invalid_token", [true, false, false, false, false]),
            ("expired_token", [true, false, false, false, false]),
            ("organization_inactive", [false, true, false, false, false]),
            (
                "insufficient_permissions",
                [false, true, false, false, false],
            ),
            ("feature_not_available", [false, true, false, false, false]),
            (
                "insufficient_api_credits",
                [false, false, true, false, false],
            ),
            ("rate_limit_exceeded", [false, false, false, true, false]),
            ("invalid_request", [false, false, false, false, true]),
            ("idempotency_mismatch", [false, false, false, false, true]),
            ("idempotency_conflict", [false, false, false, false, false]),
            ("agent_not_found", [false, false, false, false, false]),
            ("ai_agent_not_found", [false, false, false, false, false]),
            ("invalid_audio_format", [false, false, false, false, false]),
            ("brand_new_code", [false, false, false, false, false]),
            // Aliases behave like their canonical code.
            ("invalid_api_key", [true, false, false, false, false]),
            ("organization_suspended", [false, true, false, false, false]),
            ("invalid_mode", [false, false, false, false, true]),
        ];
        for (wire, expected) in table {
            let code = ErrorCode::parse(wire);
            let actual = [
                code.is_auth(),
                code.is_permission(),
                code.is_out_of_credits(),
                code.is_rate_limited(),
                code.is_validation(),
            ];
            assert_eq!(actual, *expected, "{wire}");
        }
        // Every known code appears in the table above.
        for (wire, _) in current() {
            assert!(table.iter().any(|(w, _)| *w == wire), "{wire} untested");
        }
    }

    #[test]
    fn error_types_round_trip() {
        let table = [
            ("authentication_error", ErrorType::AuthenticationError),
            ("permission_error", ErrorType::PermissionError),
            ("authorization_error", ErrorType::AuthorizationError),
            ("invalid_request_error", ErrorType::InvalidRequestError),
            ("validation_error", ErrorType::ValidationError),
            ("rate_limit_error", ErrorType::RateLimitError),
        ];
        for (wire, variant) in table {
            let kind = ErrorType::parse(wire);
            assert_eq!(kind, variant, "{wire}");
            assert_eq!(kind.as_str(), wire);
            assert_eq!(kind.to_string(), wire);
            assert_eq!(ErrorType::from(wire), kind);
            assert_eq!(ErrorType::from(wire.to_owned()), kind);
            let json = format!("\"{wire}\"");
            assert_eq!(serde_json::from_str::<ErrorType>(&json).unwrap(), kind);
            assert_eq!(serde_json::to_string(&kind).unwrap(), json);
        }
    }

    #[test]
    fn unknown_error_type_is_preserved() {
        let kind: ErrorType = serde_json::from_str("\"api_error\"").unwrap();
        assert_eq!(kind, ErrorType::Unknown("api_error".into()));
        assert_eq!(kind.as_str(), "api_error");
        assert_eq!(serde_json::to_string(&kind).unwrap(), "\"api_error\"");
    }

    #[test]
    fn scope_strings() {
        let table = [
            (Scope::SessionsRead, "sessions:read"),
            (Scope::SessionsWrite, "sessions:write"),
            (Scope::RecordingsRead, "recordings:read"),
            (Scope::AnalysisRead, "analysis:read"),
            (Scope::AnalysisWrite, "analysis:write"),
            (Scope::WebhooksManage, "webhooks:manage"),
        ];
        for (scope, wire) in table {
            assert_eq!(scope.as_str(), wire);
            assert_eq!(scope.to_string(), wire);
        }
    }

    #[test]
    fn scopes_are_the_specs() {
        let ours: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(ours, kallglot_api::catalogue::SCOPES);
        for scope in Scope::ALL {
            // A new variant must be added to ALL: this match stops compiling otherwise.
            match scope {
                Scope::SessionsRead
                | Scope::SessionsWrite
                | Scope::RecordingsRead
                | Scope::AnalysisRead
                | Scope::AnalysisWrite
                | Scope::WebhooksManage => {}
            }
            assert_eq!(Scope::from_wire(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::from_wire("recordings:delete"), None);
    }

    #[test]
    fn required_scopes() {
        let table = [
            ("create_session", Some(Scope::SessionsWrite)),
            ("end_session", Some(Scope::SessionsWrite)),
            ("retrieve_session", Some(Scope::SessionsRead)),
            ("retrieve_session_transcript", Some(Scope::SessionsRead)),
            ("list_session_recordings", Some(Scope::RecordingsRead)),
            ("retrieve_recording", Some(Scope::RecordingsRead)),
            ("download_recording_audio", Some(Scope::RecordingsRead)),
            ("create_analysis", Some(Scope::AnalysisWrite)),
            ("retrieve_analysis", Some(Scope::AnalysisRead)),
            ("dial_session", Some(Scope::SessionsWrite)),
            ("list_agents", None),
            ("list_sessions", None),
            ("", None),
            ("CREATE_SESSION", None),
        ];
        for (operation, scope) in table {
            assert_eq!(required_scope(operation), scope, "{operation}");
        }
    }
}
