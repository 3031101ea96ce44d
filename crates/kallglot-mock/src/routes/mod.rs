//! The HTTP surface: the `/v1` routes, the admin routes, request ids and fallbacks.

mod analyses;
mod recordings;
mod sessions;

use axum::Router;
use axum::extract::{Extension, Request};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

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

/// The whole application.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/sessions", post(sessions::create))
        .route("/v1/sessions/{id}", get(sessions::retrieve))
        .route("/v1/sessions/{id}/end", post(sessions::end))
        .route("/v1/sessions/{id}/transcript", get(sessions::transcript))
        .route("/v1/sessions/{id}/recordings", get(recordings::list))
        .route("/v1/sessions/{id}/analysis", post(analyses::create))
        .route("/v1/sessions/{id}/connect", get(crate::stream::connect))
        .route("/v1/recordings/{id}", get(recordings::retrieve))
        .route("/v1/recordings/{id}/audio", get(recordings::audio))
        .route("/v1/analyses/{id}", get(analyses::retrieve))
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
