//! The error envelope every failure is answered with:
//! `{"error":{"type","code","message","param"?,"request_id","retry_after"?}}`.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An API error before it is rendered: the request id is added when it is answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    /// The envelope `type`: an open set, owned when a fault injects a custom one.
    pub kind: Cow<'static, str>,
    pub code: String,
    pub message: String,
    pub param: Option<String>,
    /// Seconds; sent as `Retry-After` (rounded up) and as `retry_after` in the body.
    pub retry_after: Option<f64>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind: Cow::Borrowed(kind),
            code: code.into(),
            message: message.into(),
            param: None,
            retry_after: None,
        }
    }

    pub fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn retry_after(mut self, seconds: f64) -> Self {
        self.retry_after = Some(seconds.max(0.0));
        self
    }

    /// 400 `invalid_request` (`validation_error`), the general validation failure.
    pub fn invalid(param: Option<&str>, message: impl Into<String>) -> Self {
        let error = Self::new(
            StatusCode::BAD_REQUEST,
            "validation_error",
            "invalid_request",
            message,
        );
        match param {
            Some(p) => error.param(p),
            None => error,
        }
    }

    /// 404 `resource_not_found`. The reference documents no not-found code; this one is
    /// the emulator's choice.
    pub fn not_found(what: &str, id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "resource_not_found",
            format!("No {what} with id '{id}'."),
        )
        .param("id")
    }

    /// The JSON body, with the request id.
    pub fn body(&self, request_id: &str) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        error.insert("code".into(), json!(self.code));
        error.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        error.insert("request_id".into(), json!(request_id));
        if let Some(seconds) = self.retry_after {
            error.insert("retry_after".into(), json!(seconds));
        }
        json!({ "error": error })
    }

    /// The full response: status, envelope, `Retry-After` when set, `X-Request-ID`.
    pub fn respond(&self, request_id: &str) -> Response {
        let mut response = (self.status, axum::Json(self.body(request_id))).into_response();
        if let Some(seconds) = self.retry_after {
            let header_value = HeaderValue::from(seconds.ceil() as u64);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header_value);
        }
        crate::request_id::set_request_id(&mut response, request_id);
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_has_the_documented_fields_only_when_set() {
        let plain = ApiError::invalid(Some("mode"), "mode is required").body("req_1");
        assert_eq!(
            plain,
            json!({"error": {"type": "validation_error", "code": "invalid_request",
                "message": "mode is required", "param": "mode", "request_id": "req_1"}})
        );
        let limited = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "rate_limit_exceeded",
            "slow",
        )
        .retry_after(0.25);
        let response = limited.respond("req_2");
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()["x-request-id"], "req_2");
        assert_eq!(limited.body("req_2")["error"]["retry_after"], json!(0.25));
    }
}
