//! API key authentication and permission checks (see `docs/contract.md#keys`).

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};

use crate::config::KeyConfig;
use crate::error::ApiError;

/// The configured keys, by key string.
#[derive(Debug, Default)]
pub(crate) struct KeyRing {
    keys: HashMap<String, KeyConfig>,
}

impl KeyRing {
    pub fn new(keys: impl IntoIterator<Item = KeyConfig>) -> Self {
        let mut ring = Self::default();
        for key in keys {
            ring.add(key);
        }
        ring
    }

    /// Adds or replaces a key.
    pub fn add(&mut self, key: KeyConfig) {
        self.keys.insert(key.key.clone(), key);
    }

    /// Authenticates a request: the key it presents must be a configured `sk_test_` key
    /// that is neither revoked nor expired. The organization and scopes are checked
    /// separately ([`check_org`], [`check_scope`]) so that rate limiting can sit between.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<KeyConfig, ApiError> {
        let presented = presented_key(headers).ok_or_else(|| {
            invalid("No API key was provided. Send `Authorization: Bearer <key>`.")
        })?;
        if presented.starts_with("sk_live_") {
            return Err(unauthenticated(
                "api_key_wrong_environment",
                "This is a test environment: live API keys (sk_live_…) are not accepted here.",
            ));
        }
        if !presented.starts_with("sk_test_") {
            return Err(invalid("The API key is malformed."));
        }
        let key = self
            .keys
            .get(presented)
            .ok_or_else(|| invalid("The API key is unknown."))?;
        if key.revoked {
            return Err(unauthenticated(
                "api_key_revoked",
                "The API key has been revoked.",
            ));
        }
        if key.expired {
            return Err(unauthenticated(
                "api_key_expired",
                "The API key has expired.",
            ));
        }
        Ok(key.clone())
    }
}

/// The key a request presents. `Authorization: Bearer` wins over `X-API-Key` when both
/// are sent (the reference leaves precedence open; the emulator prefers the preferred
/// header). An `Authorization` header of another scheme presents no usable key.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?.trim();
        let (scheme, key) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| key.trim())
            .filter(|k| !k.is_empty());
    }
    let key = headers.get("x-api-key")?.to_str().ok()?.trim();
    (!key.is_empty()).then_some(key)
}

/// 403 `organization_inactive` when the key's organization cannot transact.
pub(crate) fn check_org(key: &KeyConfig) -> Result<(), ApiError> {
    if key.inactive_org {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "organization_inactive",
            "The organization's subscription is inactive.",
        ));
    }
    Ok(())
}

/// 403 `insufficient_permissions` when the key lacks `scope`.
pub(crate) fn check_scope(key: &KeyConfig, scope: &str) -> Result<(), ApiError> {
    if !key.has_scope(scope) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "insufficient_permissions",
            format!("This API key lacks the `{scope}` scope needed here."),
        ));
    }
    Ok(())
}

fn unauthenticated(code: &str, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "authentication_error",
        code,
        message,
    )
}

fn invalid(message: &str) -> ApiError {
    unauthenticated("api_key_invalid", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn code(ring: &KeyRing, pairs: &[(&'static str, &str)]) -> String {
        match ring.authenticate(&headers(pairs)) {
            Ok(_) => "ok".into(),
            Err(e) => e.code,
        }
    }

    #[test]
    fn each_key_state_has_its_code() {
        let ring = KeyRing::new([
            KeyConfig::test("sk_test_good"),
            KeyConfig::test("sk_test_revoked").revoked(),
            KeyConfig::test("sk_test_expired").expired(),
            KeyConfig::test("sk_live_configured"),
        ]);
        assert_eq!(
            code(&ring, &[("authorization", "Bearer sk_test_good")]),
            "ok"
        );
        assert_eq!(code(&ring, &[("x-api-key", "sk_test_good")]), "ok");
        assert_eq!(code(&ring, &[]), "api_key_invalid");
        assert_eq!(
            code(&ring, &[("authorization", "Basic sk_test_good")]),
            "api_key_invalid"
        );
        assert_eq!(
            code(&ring, &[("authorization", "Bearer nope")]),
            "api_key_invalid"
        );
        assert_eq!(
            code(&ring, &[("authorization", "Bearer sk_test_other")]),
            "api_key_invalid"
        );
        assert_eq!(
            code(&ring, &[("authorization", "Bearer sk_live_configured")]),
            "api_key_wrong_environment"
        );
        assert_eq!(
            code(&ring, &[("authorization", "Bearer sk_test_revoked")]),
            "api_key_revoked"
        );
        assert_eq!(
            code(&ring, &[("authorization", "Bearer sk_test_expired")]),
            "api_key_expired"
        );
        // Authorization wins over X-API-Key.
        assert_eq!(
            code(
                &ring,
                &[
                    ("authorization", "Bearer sk_test_good"),
                    ("x-api-key", "bad")
                ]
            ),
            "ok"
        );
    }

    #[test]
    fn scopes_and_organizations_are_checked() {
        let reader = KeyConfig::test("sk_test_r").scopes(["sessions:read"]);
        assert!(check_scope(&reader, "sessions:read").is_ok());
        let denied = check_scope(&reader, "sessions:write").unwrap_err();
        assert_eq!(
            (denied.status.as_u16(), denied.code.as_str()),
            (403, "insufficient_permissions")
        );
        let inactive = check_org(&KeyConfig::test("sk_test_i").inactive_org()).unwrap_err();
        assert_eq!(inactive.code, "organization_inactive");
    }
}
