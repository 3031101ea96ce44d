//! Recordings: list a session's (a page at a time), retrieve one, download its audio.

use std::collections::HashMap;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::catalogue;
use crate::error::ApiError;
use crate::extract::path_id;
use crate::pipeline::{self, Reply, read_by_id};
use crate::request_id::RequestId;
use crate::state::{AppState, Page, World};

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
    request: Request,
) -> Response {
    pipeline::run(
        state,
        &catalogue::LIST_SESSION_RECORDINGS,
        id,
        request,
        |ctx, _| async move {
            let session_id = path_id(path)?;
            let page = page(query)?;
            let list = ctx.state.world().session_recordings(&session_id, &page)?;
            Ok(Reply::Json(StatusCode::OK, list))
        },
    )
    .await
}

/// The spec's list parameters: `limit`, an integer from 1 to 100 (20 when omitted), and
/// `starting_after`, the id of the last item of the previous page. A cursor that names
/// no item of the list gives an empty page.
fn page(query: Result<Query<HashMap<String, String>>, QueryRejection>) -> Result<Page, ApiError> {
    let Query(query) =
        query.map_err(|_| ApiError::invalid(None, "The query string is not valid."))?;
    let limit = match query.get("limit") {
        None => Page::DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=Page::MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::invalid(
                    Some("limit"),
                    format!("`limit` must be an integer from 1 to {}.", Page::MAX_LIMIT),
                )
            })?,
    };
    Ok(Page {
        limit,
        starting_after: query.get("starting_after").cloned(),
    })
}

pub(super) async fn retrieve(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    read_by_id(
        state,
        &catalogue::RETRIEVE_RECORDING,
        id,
        path,
        request,
        World::recording,
    )
    .await
}

pub(super) async fn audio(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    pipeline::run(
        state,
        &catalogue::DOWNLOAD_RECORDING_AUDIO,
        id,
        request,
        |ctx, _| async move {
            let id = path_id(path)?;
            let (bytes, session_id) = ctx.state.world().recording_audio(&id)?;
            Ok(Reply::Audio {
                bytes,
                filename: format!("recording-{session_id}.mp3"),
            })
        },
    )
    .await
}
