//! What handlers take from a request's path, with extraction failures turned into API
//! errors.

use axum::extract::Path;
use axum::extract::rejection::PathRejection;

use crate::error::ApiError;

/// The `{id}` path segment; an undecodable one is a validation error.
pub(crate) fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|p| p.0)
        .map_err(|_| ApiError::invalid(Some("id"), "The id in the path is not valid UTF-8."))
}
