//! The request id every response carries (`X-Request-ID: req_…`).
//!
//! A leaf module: the router's middleware assigns the id, and everything that answers a
//! request (handlers, errors, faults, the connection layer) only reads and writes it here.

use axum::http::HeaderValue;
use axum::response::Response;

/// The request id given to a request by the router's middleware, available to handlers
/// as an extension.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

/// Sets `X-Request-ID` on a response.
pub(crate) fn set_request_id(response: &mut Response, request_id: &str) {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
}
