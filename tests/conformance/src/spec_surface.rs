//! The surface the spec declares that the manifest also lists: error codes, and request
//! and response headers, read from `openapi/kallglot.yaml`.

use std::collections::BTreeSet;

use serde_json::Value;
use xtask::validate::resolve;

/// Names declared by one side (spec or manifest), comparable set by set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Surface {
    /// The error codes, current and legacy (`x-known-values` and the `x-aliases` keys).
    pub error_codes: BTreeSet<String>,
    /// Response headers. A header declared inline on an audio response is named
    /// `audio/<Header>`, as is that response's `Content-Type`; shared headers (the spec's
    /// `components/headers`) go by their own name.
    pub response_headers: BTreeSet<String>,
    /// Request headers: the auth schemes', header parameters, and `Content-Type` when an
    /// operation takes a JSON body.
    pub request_headers: BTreeSet<String>,
}

/// Loads the workspace's spec.
pub fn spec() -> Result<Value, String> {
    let path = xtask::spec::workspace_root().join(xtask::spec::SPEC_PATH);
    xtask::spec::load(&path).map(|s| s.json)
}

/// The surface of the workspace's spec.
pub fn load() -> Result<Surface, String> {
    Ok(surface(&spec()?))
}

/// The surface of a spec document.
pub fn surface(spec: &Value) -> Surface {
    let mut out = Surface::default();
    // The known codes, and the legacy spellings the spec declares as aliases of them.
    if let Some(code) = spec
        .pointer("/components/schemas/ErrorDetail/properties/code")
        .map(|c| follow(spec, c))
    {
        let known = code["x-known-values"].as_array().into_iter().flatten();
        out.error_codes = known
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let aliases = code["x-aliases"].as_object().into_iter().flatten();
        out.error_codes
            .extend(aliases.map(|(alias, _)| alias.clone()));
    }
    if let Some(shared) = spec
        .pointer("/components/headers")
        .and_then(Value::as_object)
    {
        out.response_headers.extend(shared.keys().cloned());
    }
    if let Some(schemes) = spec
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
    {
        for scheme in schemes.values() {
            match (scheme["type"].as_str(), scheme["in"].as_str()) {
                (Some("http"), _) => out.request_headers.insert("Authorization".into()),
                (Some("apiKey"), Some("header")) => out
                    .request_headers
                    .insert(scheme["name"].as_str().unwrap_or_default().into()),
                _ => false,
            };
        }
    }
    for operation in operations(spec) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            let parameter = follow(spec, parameter);
            if parameter["in"] == "header"
                && let Some(name) = parameter["name"].as_str()
            {
                out.request_headers.insert(name.to_string());
            }
        }
        let body = follow(spec, &operation["requestBody"]);
        if body.pointer("/content/application~1json").is_some() {
            out.request_headers.insert("Content-Type".into());
        }
        for response in operation["responses"].as_object().into_iter().flatten() {
            let response = follow(spec, response.1);
            let audio = response["content"]
                .as_object()
                .is_some_and(|c| c.keys().any(|media| media.starts_with("audio/")));
            if audio {
                out.response_headers.insert("audio/Content-Type".into());
            }
            for (name, header) in response["headers"].as_object().into_iter().flatten() {
                out.response_headers
                    .insert(header_entry(name, header, audio));
            }
        }
    }
    out
}

/// The manifest's name for a response header the spec declares: shared headers (a `$ref`
/// to `components/headers`) by their own name, headers declared inline on an audio
/// response as `audio/<name>`.
pub fn header_entry(name: &str, header: &Value, audio_response: bool) -> String {
    let shared = header.get("$ref").is_some();
    if audio_response && !shared {
        format!("audio/{name}")
    } else {
        name.to_string()
    }
}

/// Every operation object of the spec.
pub fn operations(spec: &Value) -> impl Iterator<Item = &Value> {
    spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|paths| paths.values())
        .filter_map(Value::as_object)
        .flat_map(|item| {
            item.iter()
                .filter(|(method, _)| {
                    matches!(
                        method.as_str(),
                        "get" | "put" | "post" | "delete" | "patch" | "head" | "options"
                    )
                })
                .map(|(_, op)| op)
        })
}

/// `value`, or what its `$ref` points to (one level; the spec does not chain them).
pub fn follow<'s>(spec: &'s Value, value: &'s Value) -> &'s Value {
    value
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| resolve(spec, r))
        .unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shared_and_audio_headers_codes_and_request_headers_are_read() {
        let spec = json!({
            "components": {
                "headers": {"X-Request-ID": {"schema": {"type": "string"}}},
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "key": {"type": "apiKey", "in": "header", "name": "X-API-Key"}
                },
                "parameters": {"Key": {"name": "Idempotency-Key", "in": "header"}},
                "schemas": {"ErrorDetail": {"properties": {"code": {
                    "type": "string", "x-known-values": ["a", "b"],
                    "x-aliases": {"old_a": "a"}}}}}
            },
            "paths": {"/x": {
                "post": {"parameters": [{"$ref": "#/components/parameters/Key"}],
                         "requestBody": {"content": {"application/json": {}}},
                         "responses": {"200": {"headers": {
                             "X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}}}},
                "get": {"responses": {"200": {
                    "headers": {"Content-Length": {"schema": {"type": "integer"}},
                                "X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}},
                    "content": {"audio/mpeg": {}}}}}
            }}
        });
        let s = surface(&spec);
        let names = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>();
        assert_eq!(names(&s.error_codes), ["a", "b", "old_a"]);
        assert_eq!(
            names(&s.response_headers),
            ["X-Request-ID", "audio/Content-Length", "audio/Content-Type"]
        );
        assert_eq!(
            names(&s.request_headers),
            [
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-API-Key"
            ]
        );
    }
}
