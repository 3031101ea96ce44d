//! Sessions: create, retrieve, end, transcript.

use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::extract::path_id;
use crate::faults::Route;
use crate::pipeline::{self, Reply, json_object, read_by_id};
use crate::request_id::RequestId;
use crate::state::{AppState, NewSession, World};

/// The modes of reference §9.1.
const MODES: [&str; 4] = [
    "bidirectional_translation",
    "assistive_translation",
    "ai_agent",
    "help_chat_voice",
];

/// The managed number of the emulated organization's default route (Twilio's test
/// number range): used when `routing` is omitted, as the reference's create example
/// shows a provider and a number for a body with only `mode`.
pub(crate) const DEFAULT_PHONE_NUMBER: &str = "+15005550006";

pub(super) async fn create(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    request: Request,
) -> Response {
    pipeline::run(
        state,
        Route::CreateSession,
        id,
        request,
        |ctx, body| async move {
            let spec = validate_create(&body)?;
            let config = &ctx.state.config;
            let (view, events) = {
                let mut world = ctx.state.world();
                world.credits.consume()?;
                let (id, events) =
                    world.create_session(spec, config.utterance_duration.as_millis() as u64);
                (
                    world.session_view(&id, &ctx.ws_base, config.stream_token_ttl)?,
                    events,
                )
            };
            ctx.state.publish(events);
            Ok(Reply::Json(StatusCode::CREATED, view))
        },
    )
    .await
}

pub(super) async fn retrieve(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    pipeline::run(
        state,
        Route::RetrieveSession,
        id,
        request,
        |ctx, _| async move {
            let id = path_id(path)?;
            let ttl = ctx.state.config.stream_token_ttl;
            let view = ctx.state.world().session_view(&id, &ctx.ws_base, ttl)?;
            Ok(Reply::Json(StatusCode::OK, view))
        },
    )
    .await
}

pub(super) async fn end(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    // No body is documented (legacy clients sent `reason`); whatever is sent is ignored.
    pipeline::run(state, Route::EndSession, id, request, |ctx, _| async move {
        let id = path_id(path)?;
        let (summary, events) = ctx.state.world().end_session(&id, "ended_by_api")?;
        ctx.state.publish(events);
        Ok(Reply::Json(StatusCode::OK, summary))
    })
    .await
}

pub(super) async fn transcript(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    read_by_id(
        state,
        Route::RetrieveSessionTranscript,
        id,
        path,
        request,
        World::transcript,
    )
    .await
}

/// Validates a create body (reference §4.1).
pub(crate) fn validate_create(body: &[u8]) -> Result<NewSession, ApiError> {
    let map = json_object(body)?;
    if map.contains_key("provider") {
        return Err(ApiError::invalid(
            Some("provider"),
            "A top-level `provider` is not accepted; the carrier is resolved from `routing`.",
        ));
    }
    let mode = match map.get("mode") {
        None | Some(Value::Null) => {
            return Err(ApiError::invalid(Some("mode"), "`mode` is required."));
        }
        Some(Value::String(mode)) if MODES.contains(&mode.as_str()) => mode.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                Some("mode"),
                format!("`mode` must be one of: {}.", MODES.join(", ")),
            ));
        }
    };
    let source_language = language(&map, "source_language")?;
    let target_language = language(&map, "target_language")?;
    let metadata = match map.get("metadata") {
        None | Some(Value::Null) => Value::Null,
        Some(Value::Object(m)) => Value::Object(m.clone()),
        Some(_) => {
            return Err(ApiError::invalid(
                Some("metadata"),
                "`metadata` must be an object.",
            ));
        }
    };
    // Requesting recording settings is not documented; `{"enabled": false}` is honoured
    // so tests can create unrecorded sessions. Recording is on by default.
    let recording_enabled = match map.get("recording") {
        None | Some(Value::Null) => true,
        Some(Value::Object(r)) => match r.get("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(enabled)) => *enabled,
            Some(_) => {
                return Err(ApiError::invalid(
                    Some("recording.enabled"),
                    "`recording.enabled` must be a boolean.",
                ));
            }
        },
        Some(_) => {
            return Err(ApiError::invalid(
                Some("recording"),
                "`recording` must be an object.",
            ));
        }
    };
    if !matches!(
        map.get("ai_agent"),
        None | Some(Value::Null) | Some(Value::Object(_))
    ) {
        return Err(ApiError::invalid(
            Some("ai_agent"),
            "`ai_agent` must be an object.",
        ));
    }
    let (provider, phone_number) = routing(map.get("routing"))?;
    Ok(NewSession {
        mode,
        source_language,
        target_language,
        provider,
        phone_number,
        recording_enabled,
        metadata,
    })
}

/// A language code: letters, digits and `-`, 2 to 35 characters (BCP 47's bounds);
/// `null` or absent means "detect".
fn language(map: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(code))
            if (2..=35).contains(&code.len())
                && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') =>
        {
            Ok(Some(code.clone()))
        }
        Some(_) => Err(ApiError::invalid(
            Some(field),
            format!("`{field}` must be a language code such as `en` or `es`."),
        )),
    }
}

/// Resolves `routing` to the provider and number the session reports. Exactly one
/// method must be given: a managed `phone_number` (Twilio), a `connection_id` (reported
/// as Twilio) or `type: "sip"`; no `routing` uses the default route.
fn routing(value: Option<&Value>) -> Result<(String, Option<String>), ApiError> {
    let routing = match value {
        None | Some(Value::Null) => {
            return Ok(("twilio".into(), Some(DEFAULT_PHONE_NUMBER.into())));
        }
        Some(Value::Object(r)) => r,
        Some(_) => {
            return Err(ApiError::invalid(
                Some("routing"),
                "`routing` must be an object.",
            ));
        }
    };
    let text = |field: &str| -> Result<Option<String>, ApiError> {
        match routing.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::invalid(
                Some(&format!("routing.{field}")),
                format!("`routing.{field}` must be a non-empty string."),
            )),
        }
    };
    let phone = text("phone_number")?;
    let connection = text("connection_id")?;
    text("direction")?;
    let sip = match text("type")?.as_deref() {
        None => false,
        Some("sip") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                Some("routing.type"),
                "`routing.type` must be `sip`.",
            ));
        }
    };
    if !matches!(
        routing.get("sip"),
        None | Some(Value::Null) | Some(Value::Object(_))
    ) {
        return Err(ApiError::invalid(
            Some("routing.sip"),
            "`routing.sip` must be an object.",
        ));
    }
    let methods =
        usize::from(phone.is_some()) + usize::from(connection.is_some()) + usize::from(sip);
    if methods != 1 {
        return Err(ApiError::invalid(
            Some("routing"),
            "Give exactly one routing method: `phone_number`, `connection_id` or `type: \"sip\"` (or omit `routing` for the default route).",
        ));
    }
    if let Some(number) = phone {
        let digits = number.strip_prefix('+').unwrap_or_default();
        if !(8..=15).contains(&digits.len()) || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(ApiError::invalid(
                Some("routing.phone_number"),
                "`routing.phone_number` must be an E.164 number such as +14155551234.",
            ));
        }
        return Ok(("twilio".into(), Some(number)));
    }
    if connection.is_some() {
        return Ok(("twilio".into(), None));
    }
    Ok(("sip".into(), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(body: &str) -> Option<String> {
        validate_create(body.as_bytes()).err().and_then(|e| e.param)
    }

    #[test]
    fn create_bodies_are_validated_field_by_field() {
        let ok = validate_create(br#"{"mode":"bidirectional_translation"}"#).unwrap();
        assert_eq!(
            (ok.provider.as_str(), ok.phone_number.as_deref()),
            ("twilio", Some(DEFAULT_PHONE_NUMBER))
        );
        assert_eq!(
            (ok.source_language, ok.metadata, ok.recording_enabled),
            (None, Value::Null, true)
        );
        assert_eq!(param("{}").as_deref(), Some("mode"));
        assert_eq!(param("").as_deref(), Some("mode"));
        assert_eq!(param(r#"{"mode":"karaoke"}"#).as_deref(), Some("mode"));
        assert_eq!(
            param(r#"{"mode":"ai_agent","provider":{"type":"twilio"}}"#).as_deref(),
            Some("provider")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","routing":{"phone_number":"+14155551234","type":"sip"}}"#)
                .as_deref(),
            Some("routing")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","routing":{}}"#).as_deref(),
            Some("routing")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","routing":{"phone_number":"555"}}"#).as_deref(),
            Some("routing.phone_number")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","source_language":7}"#).as_deref(),
            Some("source_language")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","metadata":[1]}"#).as_deref(),
            Some("metadata")
        );
        assert_eq!(
            param("[1]"),
            None,
            "not an object: invalid_request without a param"
        );
        assert_eq!(param("{not json"), None);
        let sip = validate_create(br#"{"mode":"ai_agent","routing":{"type":"sip","sip":{"from_uri":"sip:a@b"}},"recording":{"enabled":false}}"#).unwrap();
        assert_eq!(
            (
                sip.provider.as_str(),
                sip.phone_number,
                sip.recording_enabled
            ),
            ("sip", None, false)
        );
    }
}
