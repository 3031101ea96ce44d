//! Analyses: request one for an ended session, retrieve it.

use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use tokio::time::Instant;

use crate::catalogue;
use crate::error::ApiError;
use crate::extract::path_id;
use crate::fields;
use crate::pipeline::{self, Reply, json_object};
use crate::request_id::RequestId;
use crate::state::AppState;

/// What an analysis computes when the request names no `include` (the reference leaves
/// the default open): every part with a result field.
const DEFAULT_INCLUDE: [&str; 4] = ["summary", "sentiment", "compliance", "performance"];

pub(super) async fn create(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    pipeline::run(
        state,
        &catalogue::CREATE_ANALYSIS,
        id,
        request,
        |ctx, body| async move {
            let session_id = path_id(path)?;
            ctx.require_json(&body)?;
            let (profile, include) = validate(&body)?;
            let ready_at = Instant::now() + ctx.state.config.analysis_delay;
            let accepted = {
                let mut world = ctx.state.world();
                world.check_analysable(&session_id)?;
                world.credits.consume()?;
                world.create_analysis(&session_id, profile, include, ready_at)
            };
            if let Some(analysis_id) = accepted["id"].as_str().map(str::to_string) {
                // Completes on time for event subscribers; reads settle it too, so a test
                // never depends on this task having run.
                let state = ctx.state.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(ready_at).await;
                    let events = state.world().settle_analysis(&analysis_id, Instant::now());
                    state.publish(events);
                });
            }
            Ok(Reply::Json(StatusCode::ACCEPTED, accepted))
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
        &catalogue::RETRIEVE_ANALYSIS,
        id,
        request,
        |ctx, _| async move {
            let id = path_id(path)?;
            let (analysis, events) = {
                let mut world = ctx.state.world();
                let events = world.settle_analysis(&id, Instant::now());
                (world.analysis(&id)?, events)
            };
            ctx.state.publish(events);
            Ok(Reply::Json(StatusCode::OK, analysis))
        },
    )
    .await
}

/// `CreateAnalysisRequest`, `{profile?, include?}`: `profile` a non-empty string
/// (`default` when omitted), `include` an array of strings (unknown parts are accepted,
/// as the set is open, and produce no field).
fn validate(body: &[u8]) -> Result<(String, Vec<String>), ApiError> {
    let map = json_object(body)?;
    let profile =
        fields::string_where(&map, "", "profile", "a non-empty string", |p| !p.is_empty())?
            .unwrap_or("default")
            .to_string();
    let include = match fields::array(&map, "", "include")? {
        None => DEFAULT_INCLUDE.map(String::from).to_vec(),
        Some(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                ApiError::invalid(Some("include"), "`include` must be an array of strings.")
            })?,
    };
    Ok((profile, include))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_bodies_default_and_validate() {
        let (profile, include) = validate(b"").unwrap();
        assert_eq!(profile, "default");
        assert_eq!(include, DEFAULT_INCLUDE);
        let (profile, include) =
            validate(br#"{"profile":"sales","include":["summary","keywords"]}"#).unwrap();
        assert_eq!((profile.as_str(), include.len()), ("sales", 2));
        assert_eq!(
            validate(br#"{"include":"summary"}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("include")
        );
        assert_eq!(
            validate(br#"{"include":[1]}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("include")
        );
        for body in [
            &br#"{"profile":3}"#[..],
            br#"{"profile":""}"#,
            br#"{"profile":null}"#,
        ] {
            assert_eq!(
                validate(body).unwrap_err().param.as_deref(),
                Some("profile")
            );
        }
        assert_eq!(
            validate(br#"{"include":null}"#)
                .unwrap_err()
                .param
                .as_deref(),
            Some("include")
        );
    }
}
