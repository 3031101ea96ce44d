//! Rules the spec must follow before it is handed to progenitor.
//!
//! progenitor reports several spec problems by panicking, and it ignores others that would
//! make the generated client reject real responses. These rules catch both kinds first and
//! name the place in the document where the problem is.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::catalogue;
pub use crate::problem::Problem;
use crate::problem::report as problem;
use crate::validate::{resolve, validate};

/// The shared error response every operation must use for `4XX` and `5XX`.
pub const ERROR_RESPONSE_REF: &str = "#/components/responses/Error";
/// The shared error body schema.
pub const ERROR_SCHEMA_REF: &str = "#/components/schemas/ErrorEnvelope";

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Checks every rule and returns all problems found (empty when the spec is fine).
pub fn lint(spec: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    check_version(spec, &mut problems);
    check_operations(spec, &mut problems);
    check_schema_examples(spec, &mut problems);
    if let Err(found) = catalogue::read(spec) {
        problems.extend(found);
    }
    problems
}

fn check_version(spec: &Value, problems: &mut Vec<Problem>) {
    match spec.get("openapi").and_then(Value::as_str) {
        Some(v) if v.starts_with("3.0.") => {}
        Some(v) => problem(
            problems,
            "openapi",
            format!("version {v} is not supported: progenitor reads OpenAPI 3.0.x only"),
        ),
        None => problem(
            problems,
            "openapi",
            "the `openapi` version field is missing",
        ),
    }
}

/// Every operation of the document, with its location.
fn operations(spec: &Value) -> Vec<(String, &Value)> {
    let mut found = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(*method) {
                    found.push((format!("paths.{path}.{method}"), op));
                }
            }
        }
    }
    found
}

fn check_operations(spec: &Value, problems: &mut Vec<Problem>) {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    for (at, op) in operations(spec) {
        match op.get("operationId").and_then(Value::as_str) {
            None => problem(problems, &at, "the operation has no operationId"),
            Some(id) => {
                if let Some(first) = seen.insert(id.to_string(), at.clone()) {
                    problem(
                        problems,
                        &at,
                        format!("operationId `{id}` is also used by {first}"),
                    );
                }
            }
        }
        check_error_responses(spec, &at, op, problems);
        check_request_example(spec, &at, op, problems);
        check_parameter_examples(spec, &at, op, problems);
        if let Some(responses) = op.get("responses").and_then(Value::as_object) {
            for (status, response) in responses {
                let response_at = format!("{at}.responses.{status}");
                let response = deref(spec, response);
                check_media_examples(spec, &response_at, response, problems);
                check_closed_schemas(spec, &response_at, response, problems);
            }
        }
    }
}

/// Follows a `$ref` if the value is one; otherwise returns the value itself.
fn deref<'v>(spec: &'v Value, value: &'v Value) -> &'v Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(spec, r).unwrap_or(value),
        None => value,
    }
}

fn is_success(status: &str) -> bool {
    status.starts_with('2')
}

fn check_error_responses(spec: &Value, at: &str, op: &Value, problems: &mut Vec<Problem>) {
    let Some(responses) = op.get("responses").and_then(Value::as_object) else {
        problem(problems, at, "the operation declares no responses");
        return;
    };
    for range in ["4XX", "5XX"] {
        let reference = responses
            .get(range)
            .and_then(|r| r.get("$ref"))
            .and_then(Value::as_str);
        if reference != Some(ERROR_RESPONSE_REF) {
            problem(
                problems,
                format!("{at}.responses"),
                format!(
                    "`{range}` must be `$ref: '{ERROR_RESPONSE_REF}'` (the shared error response)"
                ),
            );
        }
    }
    for (status, response) in responses {
        if status == "default" {
            // progenitor counts `default` as both a success and an error type, which
            // makes generation fail next to a specific success code.
            problem(
                problems,
                format!("{at}.responses.default"),
                "use `4XX`/`5XX` instead of `default`: progenitor treats `default` as a success type too",
            );
            continue;
        }
        if is_success(status) {
            continue;
        }
        let schema_ref = deref(spec, response)
            .pointer("/content/application~1json/schema/$ref")
            .and_then(Value::as_str);
        if schema_ref != Some(ERROR_SCHEMA_REF) {
            problem(
                problems,
                format!("{at}.responses.{status}"),
                format!("an error response must carry the shared `{ERROR_SCHEMA_REF}` body"),
            );
        }
    }
}

/// Walks a response's schemas (following `$ref`s) for `additionalProperties: false`, which
/// typify turns into `deny_unknown_fields`: the client would then reject any new field.
fn check_closed_schemas(spec: &Value, at: &str, response: &Value, problems: &mut Vec<Problem>) {
    let Some(content) = response.get("content").and_then(Value::as_object) else {
        return;
    };
    for (media, media_obj) in content {
        if let Some(schema) = media_obj.get("schema") {
            let mut visited = HashSet::new();
            find_closed(
                spec,
                schema,
                &format!("{at}.content.{media}.schema"),
                &mut visited,
                problems,
            );
        }
    }
}

fn find_closed(
    spec: &Value,
    schema: &Value,
    at: &str,
    visited: &mut HashSet<String>,
    problems: &mut Vec<Problem>,
) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        if visited.insert(r.to_string())
            && let Some(target) = resolve(spec, r)
        {
            let target_at = r.trim_start_matches("#/").replace('/', ".");
            find_closed(spec, target, &target_at, visited, problems);
        }
        return;
    }
    let Some(obj) = schema.as_object() else {
        return;
    };
    if obj.get("additionalProperties") == Some(&Value::Bool(false)) {
        problem(
            problems,
            at,
            "`additionalProperties: false` in a response schema would reject fields the API adds later",
        );
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = obj.get(key).filter(|v| v.is_object()) {
            find_closed(spec, sub, &format!("{at}.{key}"), visited, problems);
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            find_closed(
                spec,
                sub,
                &format!("{at}.properties.{name}"),
                visited,
                problems,
            );
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(branches) = obj.get(key).and_then(Value::as_array) {
            for (i, sub) in branches.iter().enumerate() {
                find_closed(spec, sub, &format!("{at}.{key}[{i}]"), visited, problems);
            }
        }
    }
}

fn check_request_example(spec: &Value, at: &str, op: &Value, problems: &mut Vec<Problem>) {
    if let Some(body) = op.get("requestBody") {
        check_media_examples(
            spec,
            &format!("{at}.requestBody"),
            deref(spec, body),
            problems,
        );
    }
}

fn check_parameter_examples(spec: &Value, at: &str, op: &Value, problems: &mut Vec<Problem>) {
    let Some(params) = op.get("parameters").and_then(Value::as_array) else {
        return;
    };
    for (i, param) in params.iter().enumerate() {
        let param = deref(spec, param);
        if let (Some(example), Some(schema)) = (param.get("example"), param.get("schema")) {
            report(
                spec,
                &format!("{at}.parameters[{i}].example"),
                schema,
                example,
                problems,
            );
        }
    }
}

/// Validates the `example` and each `examples.*.value` of every media type under `holder`.
fn check_media_examples(spec: &Value, at: &str, holder: &Value, problems: &mut Vec<Problem>) {
    let Some(content) = holder.get("content").and_then(Value::as_object) else {
        return;
    };
    for (media, media_obj) in content {
        let Some(schema) = media_obj.get("schema") else {
            continue;
        };
        let media_at = format!("{at}.content.{media}");
        if let Some(example) = media_obj.get("example") {
            report(
                spec,
                &format!("{media_at}.example"),
                schema,
                example,
                problems,
            );
        }
        if let Some(examples) = media_obj.get("examples").and_then(Value::as_object) {
            for (name, example) in examples {
                if let Some(value) = deref(spec, example).get("value") {
                    report(
                        spec,
                        &format!("{media_at}.examples.{name}"),
                        schema,
                        value,
                        problems,
                    );
                }
            }
        }
    }
}

/// Validates `example` keywords placed on component schemas (and the shared responses).
fn check_schema_examples(spec: &Value, problems: &mut Vec<Problem>) {
    if let Some(schemas) = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            if let Some(example) = schema.get("example") {
                report(
                    spec,
                    &format!("components.schemas.{name}.example"),
                    schema,
                    example,
                    problems,
                );
            }
        }
    }
    if let Some(responses) = spec
        .pointer("/components/responses")
        .and_then(Value::as_object)
    {
        for (name, response) in responses {
            check_media_examples(
                spec,
                &format!("components.responses.{name}"),
                response,
                problems,
            );
        }
    }
}

fn report(spec: &Value, at: &str, schema: &Value, example: &Value, problems: &mut Vec<Problem>) {
    for message in validate(spec, schema, example) {
        problem(
            problems,
            at,
            format!("example does not match its schema: {message}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "openapi": "3.0.3",
            "x-kallglot-scopes": ["things:read"],
            "paths": {"/v1/things/{id}": {"get": {
                "operationId": "get_thing",
                "x-kallglot-scope": "things:read",
                "x-kallglot-credits": 0,
                "responses": {
                    "200": {"description": "ok", "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Thing"},
                        "example": {"id": "t_1"}
                    }}},
                    "4XX": {"$ref": "#/components/responses/Error"},
                    "5XX": {"$ref": "#/components/responses/Error"}
                }
            }}},
            "components": {
                "responses": {"Error": {"description": "e", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}},
                "schemas": {
                    "Thing": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
                    "ErrorEnvelope": {"type": "object", "properties": {"error": {"type": "object"}}}
                }
            }
        })
    }

    #[test]
    fn requires_the_catalogue_facts() {
        let mut spec = minimal();
        spec["paths"]["/v1/things/{id}"]["get"]
            .as_object_mut()
            .unwrap()
            .remove("x-kallglot-scope");
        assert_eq!(
            messages(&spec),
            [
                "paths./v1/things/{id}.get: `x-kallglot-scope` must name the scope the operation needs (or be null)"
            ]
        );
    }

    fn messages(spec: &Value) -> Vec<String> {
        lint(spec).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_clean_spec_has_no_problems() {
        assert_eq!(messages(&minimal()), Vec::<String>::new());
    }

    #[test]
    fn rejects_versions_other_than_3_0() {
        let mut spec = minimal();
        spec["openapi"] = json!("3.1.0");
        assert_eq!(
            messages(&spec),
            vec!["openapi: version 3.1.0 is not supported: progenitor reads OpenAPI 3.0.x only"]
        );
    }

    #[test]
    fn rejects_missing_and_duplicate_operation_ids() {
        let mut spec = minimal();
        let op = spec["paths"]["/v1/things/{id}"]["get"].clone();
        spec["paths"]["/v1/other"] = json!({"get": op.clone(), "post": op});
        spec["paths"]["/v1/things/{id}"]["get"]
            .as_object_mut()
            .unwrap()
            .remove("operationId");
        assert_eq!(
            messages(&spec),
            vec![
                "paths./v1/other.post: operationId `get_thing` is also used by paths./v1/other.get",
                "paths./v1/things/{id}.get: the operation has no operationId",
            ]
        );
    }

    #[test]
    fn rejects_an_operation_without_the_shared_error_response() {
        let mut spec = minimal();
        let responses = spec["paths"]["/v1/things/{id}"]["get"]["responses"]
            .as_object_mut()
            .unwrap();
        responses.remove("5XX");
        responses.insert("404".into(), json!({"description": "gone"}));
        assert_eq!(
            messages(&spec),
            vec![
                "paths./v1/things/{id}.get.responses: `5XX` must be `$ref: '#/components/responses/Error'` (the shared error response)",
                "paths./v1/things/{id}.get.responses.404: an error response must carry the shared `#/components/schemas/ErrorEnvelope` body",
            ]
        );
    }

    #[test]
    fn rejects_default_responses() {
        let mut spec = minimal();
        spec["paths"]["/v1/things/{id}"]["get"]["responses"]["default"] =
            json!({"$ref": "#/components/responses/Error"});
        assert_eq!(
            messages(&spec),
            vec![
                "paths./v1/things/{id}.get.responses.default: use `4XX`/`5XX` instead of `default`: progenitor treats `default` as a success type too"
            ]
        );
    }

    #[test]
    fn rejects_additional_properties_false_in_response_schemas() {
        let mut spec = minimal();
        spec["components"]["schemas"]["Thing"]["properties"]["inner"] =
            json!({"type": "object", "additionalProperties": false});
        assert_eq!(
            messages(&spec),
            vec![
                "components.schemas.Thing.properties.inner: `additionalProperties: false` in a response schema would reject fields the API adds later"
            ]
        );
    }

    #[test]
    fn rejects_examples_that_do_not_match_their_schema() {
        let mut spec = minimal();
        spec["paths"]["/v1/things/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
            ["example"] = json!({"id": 7});
        assert_eq!(
            messages(&spec),
            vec![
                "paths./v1/things/{id}.get.responses.200.content.application/json.example: example does not match its schema: $.id: expected string, found number"
            ]
        );
    }
}
