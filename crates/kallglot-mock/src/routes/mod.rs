//! The HTTP surface: the `/v1` routes, the admin routes, request ids and fallbacks.

mod analyses;
mod recordings;
mod sessions;

use axum::Router;
use axum::extract::{Extension, Request};
use axum::handler::Handler;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodFilter, MethodRouter, get, on};
use kallglot_api::catalogue::Operation;

use crate::catalogue;
use crate::faults::Route;

use crate::error::ApiError;
use crate::request_id::{RequestId, set_request_id};
use crate::state::AppState;

/// Gives every request a `req_…` id, available to handlers as an extension, and makes
/// sure the response carries it whatever produced it.
async fn assign_request_id(mut request: Request, next: Next) -> Response {
    let id = crate::ids::request_id();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if !response.headers().contains_key("x-request-id") {
        set_request_id(&mut response, &id);
    }
    response
}

async fn unknown_route(Extension(RequestId(id)): Extension<RequestId>) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "route_not_found",
        "No such route in the Kallglot API v1.",
    )
    .respond(&id)
}

async fn wrong_method(Extension(RequestId(id)): Extension<RequestId>) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        "This route does not accept that HTTP method.",
    )
    .respond(&id)
}

/// The handler that implements an operation of the catalogue, routed by the
/// operation's own method; `None` for an operation the emulator does not implement.
fn implementation(op: &'static Operation) -> Option<MethodRouter<AppState>> {
    fn at<H, T>(op: &Operation, handler: H) -> Option<MethodRouter<AppState>>
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let method = Method::from_bytes(op.method.as_bytes()).ok()?;
        Some(on(MethodFilter::try_from(method).ok()?, handler))
    }
    match op.id {
        "create_session" => at(op, sessions::create),
        "retrieve_session" => at(op, sessions::retrieve),
        "end_session" => at(op, sessions::end),
        "retrieve_session_transcript" => at(op, sessions::transcript),
        "list_session_recordings" => at(op, recordings::list),
        "retrieve_recording" => at(op, recordings::retrieve),
        "download_recording_audio" => at(op, recordings::audio),
        "create_analysis" => at(op, analyses::create),
        "retrieve_analysis" => at(op, analyses::retrieve),
        _ => None,
    }
}

/// A path template as the router spells it: every `{parameter}` becomes `{id}`, as the
/// router needs one name per position (the spec has `{id}` and `{recording_id}` side by
/// side under `/v1/recordings/`).
fn router_path(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The whole application: every operation the spec describes, at the method and path
/// the catalogue gives, then the stream and the admin routes.
pub(crate) fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for op in catalogue::OPERATIONS.iter().filter(|op| op.described) {
        match implementation(op) {
            Some(handler) => router = router.route(&router_path(op.path), handler),
            // The catalogue test below keeps this from happening in a release.
            None => tracing::warn!(operation = op.id, "not implemented by the emulator"),
        }
    }
    router
        .route(
            &router_path(Route::ConnectStream.path()),
            get(crate::stream::connect),
        )
        .merge(crate::admin::router())
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::body::buffer,
        ))
        .layer(middleware::from_fn(assign_request_id))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_described_operation_is_implemented() {
        for op in catalogue::OPERATIONS.iter().filter(|op| op.described) {
            assert!(
                implementation(op).is_some(),
                "{} is in the spec but the emulator does not implement it",
                op.id
            );
        }
    }

    #[test]
    fn router_paths_name_every_parameter_id() {
        assert_eq!(
            router_path("/v1/recordings/{recording_id}/audio"),
            "/v1/recordings/{id}/audio"
        );
        assert_eq!(router_path("/v1/sessions"), "/v1/sessions");
    }
}
