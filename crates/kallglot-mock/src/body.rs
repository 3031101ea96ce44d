//! Reading request bodies, for every route: a size limit and a deadline.
//!
//! A router layer reads each body whole before any handler runs, so no handler can be
//! held by a client that sends slowly or sends too much:
//! - a body over [`MAX_BODY`] answers 413 `request_too_large` (a declared
//!   `Content-Length` over the limit is refused before reading anything);
//! - a body still incomplete after the configured read timeout answers 408
//!   `request_timeout`;
//! - a body that cannot be read (a broken chunked encoding) answers 400
//!   `invalid_request`.
//!
//! Each closes the connection, as the rest of the body cannot be skipped reliably.

use axum::body::Body;
use axum::extract::{Extension, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::state::AppState;

/// The largest request body read (bodies are small JSON documents).
pub(crate) const MAX_BODY: usize = 1024 * 1024;

/// The layer: buffers the body, or answers the error.
pub(crate) async fn buffer(
    State(state): State<AppState>,
    Extension(RequestId(request_id)): Extension<RequestId>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return refuse(too_large(), &request_id);
    }
    let read = tokio::time::timeout(
        state.config.read_timeout,
        Limited::new(body, MAX_BODY).collect(),
    )
    .await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return refuse(too_large(), &request_id);
        }
        Ok(Err(_)) => {
            let e = ApiError::invalid(None, "The request body could not be read.");
            return refuse(e, &request_id);
        }
        Err(_) => {
            let e = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                "request_timeout",
                "The request body did not arrive within the read timeout.",
            );
            return refuse(e, &request_id);
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request_error",
        "request_too_large",
        format!("The request body is larger than {} MiB.", MAX_BODY >> 20),
    )
}

fn refuse(error: ApiError, request_id: &str) -> Response {
    let mut response = error.respond(request_id);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
