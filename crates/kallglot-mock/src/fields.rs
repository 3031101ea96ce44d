//! Typed fields of a JSON request body, read as `openapi/kallglot.yaml` declares them.
//!
//! A field that is absent is `None`. A field that is present must have its declared
//! type: the spec declares no request field nullable, so `null` is refused like any
//! other wrong type. Each refusal is 400 `invalid_request` naming the field as `param`.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Where a field sits, for `param` and messages: `routing.phone_number`.
fn path(prefix: &str, field: &str) -> String {
    if prefix.is_empty() {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

fn wrong(prefix: &str, field: &str, what: &str) -> ApiError {
    let param = path(prefix, field);
    ApiError::invalid(Some(&param), format!("`{param}` must be {what}."))
}

/// An optional string.
pub(crate) fn string<'a>(
    map: &'a Map<String, Value>,
    prefix: &str,
    field: &str,
) -> Result<Option<&'a str>, ApiError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong(prefix, field, "a string")),
    }
}

/// An optional string that `accept` approves; `what` describes an acceptable value.
pub(crate) fn string_where<'a>(
    map: &'a Map<String, Value>,
    prefix: &str,
    field: &str,
    what: &str,
    accept: impl Fn(&str) -> bool,
) -> Result<Option<&'a str>, ApiError> {
    match string(map, prefix, field) {
        Ok(Some(s)) if !accept(s) => Err(wrong(prefix, field, what)),
        Err(_) => Err(wrong(prefix, field, what)),
        other => other,
    }
}

/// An optional object.
pub(crate) fn object<'a>(
    map: &'a Map<String, Value>,
    prefix: &str,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, ApiError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(wrong(prefix, field, "an object")),
    }
}

/// An optional number.
pub(crate) fn number(map: &Map<String, Value>, prefix: &str, field: &str) -> Result<(), ApiError> {
    match map.get(field) {
        None | Some(Value::Number(_)) => Ok(()),
        Some(_) => Err(wrong(prefix, field, "a number")),
    }
}

/// An optional array.
pub(crate) fn array<'a>(
    map: &'a Map<String, Value>,
    prefix: &str,
    field: &str,
) -> Result<Option<&'a Vec<Value>>, ApiError> {
    match map.get(field) {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(wrong(prefix, field, "an array")),
    }
}
