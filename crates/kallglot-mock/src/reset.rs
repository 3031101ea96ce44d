//! Closing a connection instead of answering.
//!
//! A handler cannot drop a connection itself, so it returns a response marked with
//! [`ResetConnection`]; the server's connection service sees the mark and fails the
//! request, on which hyper closes the connection without writing anything.

use axum::body::Body;
use axum::response::Response;

/// Marks a response that must not be sent: the connection is closed instead.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResetConnection;

/// A response that makes the server drop the connection without answering.
pub(crate) fn reset_connection() -> Response {
    let mut response = Response::new(Body::empty());
    response.extensions_mut().insert(ResetConnection);
    response
}
