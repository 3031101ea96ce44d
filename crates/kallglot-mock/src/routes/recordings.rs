//! Recordings: list a session's, retrieve one, download its audio.

use axum::extract::rejection::PathRejection;
use axum::extract::{Extension, Path, Request, State};
use axum::response::Response;

use crate::catalogue;
use crate::extract::path_id;
use crate::pipeline::{self, Reply, read_by_id};
use crate::request_id::RequestId;
use crate::state::{AppState, World};

pub(super) async fn list(
    State(state): State<AppState>,
    Extension(id): Extension<RequestId>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    read_by_id(
        state,
        &catalogue::LIST_SESSION_RECORDINGS,
        id,
        path,
        request,
        World::session_recordings,
    )
    .await
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
