//! The HTTP surface: the `/v1` routes, the admin routes, request ids and fallbacks.

mod analyses;
mod recordings;
mod sessions;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use crate::error::ApiError;
use crate::state::AppState;

/// The request id given to a request by [`assign_request_id`].
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

/// Marks a response that must not be sent: the connection is closed instead (see
/// `server.rs`, which turns it into a service error for hyper).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetConnection;

/// A response that makes the server drop the connection without answering.
pub(crate) fn reset_connection() -> Response {
    let mut response = Response::new(Body::empty());
    response.extensions_mut().insert(ResetConnection);
    response
}

/// Sets `X-Request-ID` (every response carries one).
pub(crate) fn set_request_id(response: &mut Response, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
}

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
        .layer(middleware::from_fn(assign_request_id))
        .with_state(state)
}

/// A read of the resource named by the `{id}` in the path: what `read` finds in the
/// emulated world, as `200` JSON, behind the same auth, rate limit and faults as every
/// route.
pub(crate) async fn read_by_id(
    state: AppState,
    route: crate::faults::Route,
    request_id: RequestId,
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
    read: fn(&crate::state::World, &str) -> Result<serde_json::Value, ApiError>,
) -> Response {
    crate::pipeline::run(state, route, request_id, request, |ctx, _| async move {
        let id = path_id(path)?;
        let value = read(&ctx.state.world(), &id)?;
        Ok(crate::pipeline::Reply::Json(StatusCode::OK, value))
    })
    .await
}

/// The `{id}` path segment; an undecodable one is a validation error.
pub(crate) fn path_id(
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    path.map(|p| p.0)
        .map_err(|_| ApiError::invalid(Some("id"), "The id in the path is not valid UTF-8."))
}
