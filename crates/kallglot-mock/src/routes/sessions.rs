//! Sessions: create, retrieve, end, transcript.

use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use crate::catalogue;
use crate::error::ApiError;
use crate::extract::path_id;
use crate::fields;
use crate::pipeline::{self, Reply, json_object, read_by_id};
use crate::request_id::RequestId;
use crate::state::{AppState, NewSession, World};

/// The documented session modes (the spec's `enum`).
const MODES: [&str; 4] = [
    "bidirectional_translation",
    "assistive_translation",
    "ai_agent",
    "help_chat_voice",
];

/// The routing methods; a routing object names exactly one (the spec's `oneOf`).
const ROUTING_METHODS: [&str; 3] = ["phone_number", "connection_id", "type"];

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
        &catalogue::CREATE_SESSION,
        id,
        request,
        |ctx, body| async move {
            ctx.require_json(&body)?;
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
        &catalogue::RETRIEVE_SESSION,
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
    pipeline::run(
        state,
        &catalogue::END_SESSION,
        id,
        request,
        |ctx, _| async move {
            let id = path_id(path)?;
            let (summary, events) = ctx.state.world().end_session(&id, "ended_by_api")?;
            ctx.state.publish(events);
            Ok(Reply::Json(StatusCode::OK, summary))
        },
    )
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
        &catalogue::RETRIEVE_SESSION_TRANSCRIPT,
        id,
        path,
        request,
        World::transcript,
    )
    .await
}

/// Validates a create body against `CreateSessionRequest` as the spec declares it.
pub(crate) fn validate_create(body: &[u8]) -> Result<NewSession, ApiError> {
    let map = json_object(body)?;
    if map.contains_key("provider") {
        return Err(ApiError::invalid(
            Some("provider"),
            "A top-level `provider` is not accepted; the carrier is resolved from `routing`.",
        ));
    }
    let mode = match map.get("mode") {
        None => return Err(ApiError::invalid(Some("mode"), "`mode` is required.")),
        Some(Value::String(mode)) if MODES.contains(&mode.as_str()) => mode.clone(),
        Some(_) => {
            return Err(ApiError::invalid(
                Some("mode"),
                format!("`mode` must be one of: {}.", MODES.join(", ")),
            ));
        }
    };
    let language = |field| {
        fields::string_where(
            &map,
            "",
            field,
            "a language code such as `en` or `pt-BR`",
            is_language_code,
        )
        .map(|l| l.map(str::to_string))
    };
    let source_language = language("source_language")?;
    let target_language = language("target_language")?;
    let metadata =
        fields::object(&map, "", "metadata")?.map_or(Value::Null, |m| Value::Object(m.clone()));
    // Requesting recording settings is not documented (so the spec declares no
    // `recording`); `{"enabled": false}` is honoured so tests can create unrecorded
    // sessions, and anything else is ignored like any undeclared field.
    let recording_enabled = map
        .get("recording")
        .and_then(|r| r.get("enabled"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    if let Some(agent) = fields::object(&map, "", "ai_agent")? {
        validate_ai_agent(agent)?;
    }
    let (provider, phone_number) = match fields::object(&map, "", "routing")? {
        None => ("twilio".into(), Some(DEFAULT_PHONE_NUMBER.into())),
        Some(routing) => resolve_routing(routing)?,
    };
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

/// The spec's language-code pattern, `^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`: a 2- or
/// 3-letter language and up to three subtags of 2 to 8 letters or digits.
fn is_language_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let language = parts.next().unwrap_or_default();
    let subtags: Vec<&str> = parts.collect();
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && subtags.len() <= 3
        && subtags
            .iter()
            .all(|t| (2..=8).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The spec's E.164 pattern, `^\+[1-9][0-9]{1,14}$`.
fn is_e164(number: &str) -> bool {
    let digits = number.strip_prefix('+').unwrap_or_default();
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// `AiAgentConfig`: every field optional, each of its declared type.
fn validate_ai_agent(agent: &Map<String, Value>) -> Result<(), ApiError> {
    for field in ["system_prompt", "voice", "knowledge_base_id"] {
        fields::string(agent, "ai_agent", field)?;
    }
    fields::number(agent, "ai_agent", "temperature")?;
    for (i, tool) in fields::array(agent, "ai_agent", "tools")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("ai_agent.tools[{i}]");
        let tool = tool
            .as_object()
            .ok_or_else(|| ApiError::invalid(Some(&at), format!("`{at}` must be an object.")))?;
        if fields::string(tool, &at, "name")?.is_none() {
            let param = format!("{at}.name");
            return Err(ApiError::invalid(
                Some(&param),
                format!("`{param}` is required."),
            ));
        }
        fields::string(tool, &at, "description")?;
        fields::object(tool, &at, "parameters")?;
    }
    Ok(())
}

/// Resolves `routing` to the provider and number the session reports. Exactly one
/// method must be given: a managed `phone_number` (Twilio), a `connection_id` (reported
/// as Twilio) or `type: "sip"`.
fn resolve_routing(routing: &Map<String, Value>) -> Result<(String, Option<String>), ApiError> {
    let methods = ROUTING_METHODS
        .iter()
        .filter(|m| routing.contains_key(**m))
        .count();
    if methods != 1 {
        return Err(ApiError::invalid(
            Some("routing"),
            "Give exactly one routing method: `phone_number`, `connection_id` or `type: \"sip\"` (or omit `routing` for the default route).",
        ));
    }
    let phone = fields::string_where(
        routing,
        "routing",
        "phone_number",
        "an E.164 number such as +14155551234",
        is_e164,
    )?;
    let connection = fields::string_where(
        routing,
        "routing",
        "connection_id",
        "a non-empty string",
        |c| !c.is_empty(),
    )?;
    fields::string_where(routing, "routing", "type", "`sip`", |t| t == "sip")?;
    fields::string_where(
        routing,
        "routing",
        "direction",
        "`inbound` or `outbound`",
        |d| matches!(d, "inbound" | "outbound"),
    )?;
    if let Some(sip) = fields::object(routing, "routing", "sip")? {
        fields::string(sip, "routing.sip", "from_uri")?;
    }
    Ok(match (phone, connection) {
        (Some(number), _) => ("twilio".into(), Some(number.to_string())),
        (None, Some(_)) => ("twilio".into(), None),
        (None, None) => ("sip".into(), None),
    })
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
        // The spec declares no request field nullable: `null` is a wrong type.
        for field in [
            "source_language",
            "target_language",
            "metadata",
            "routing",
            "ai_agent",
        ] {
            let body = format!(r#"{{"mode":"ai_agent","{field}":null}}"#);
            assert_eq!(param(&body).as_deref(), Some(field), "{body}");
        }
        assert_eq!(param(r#"{"mode":null}"#).as_deref(), Some("mode"));
        assert_eq!(
            param(r#"{"mode":"ai_agent","provider":null}"#).as_deref(),
            Some("provider")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","routing":{"type":"sip","direction":null}}"#).as_deref(),
            Some("routing.direction")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","routing":{"phone_number":null}}"#).as_deref(),
            Some("routing.phone_number")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","source_language":"english"}"#).as_deref(),
            Some("source_language")
        );
        // `ai_agent` is checked field by field.
        assert_eq!(
            param(r#"{"mode":"ai_agent","ai_agent":{"temperature":"hot"}}"#).as_deref(),
            Some("ai_agent.temperature")
        );
        assert_eq!(
            param(r#"{"mode":"ai_agent","ai_agent":{"tools":[{"description":"x"}]}}"#).as_deref(),
            Some("ai_agent.tools[0].name")
        );
        assert!(validate_create(br#"{"mode":"ai_agent","source_language":"pt-BR","ai_agent":{"voice":"nova","temperature":0.7,"tools":[{"name":"t","parameters":{}}]},"routing":{"phone_number":"+12","direction":"outbound"}}"#).is_ok());
        // An undeclared `recording` of another shape is ignored, like any undeclared field.
        assert!(
            validate_create(br#"{"mode":"ai_agent","recording":5}"#)
                .unwrap()
                .recording_enabled
        );
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
