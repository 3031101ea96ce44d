//! Request validation rules: stated in the spec, left out of the generated types.
//!
//! Request schemas carry the rules the API enforces on what a client sends (`enum`,
//! `pattern`, `minLength`, a one-of over `required` lists, `not`), so that Schemathesis
//! and the emulator check them. Handed to progenitor as they are, they would turn plain
//! strings into closed enums and validated newtypes, and the SDK (whose value sets are
//! open) could no longer send a mode or direction newer than the spec. So the generator
//! gets the spec without them, and the server stays the judge of what it accepts.
//!
//! The lint refuses such a keyword on a schema that a response uses too, where dropping
//! it would change what the client accepts.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::validate::resolve;

/// Keywords that only constrain values, never the shape of the generated type.
const VALUE_RULES: &[&str] = &["enum", "pattern", "minLength", "maxLength", "not"];

/// The component schemas (`#/components/schemas/…` references) that request bodies use,
/// directly or through other schemas.
pub fn request_schemas(spec: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for body in media_schemas(spec, |op| {
        op.get("requestBody").into_iter().collect::<Vec<_>>()
    }) {
        collect_refs(spec, body, &mut found);
    }
    found
}

/// The component schemas that responses use.
pub fn response_schemas(spec: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for body in media_schemas(spec, |op| {
        op.get("responses")
            .and_then(Value::as_object)
            .map(|r| r.values().collect())
            .unwrap_or_default()
    }) {
        collect_refs(spec, body, &mut found);
    }
    found
}

/// Where a schema carries a request-only rule, as `(dotted location, keyword)`; empty
/// when it carries none. Nested property, item and combinator schemas are searched too.
pub fn rules_in(schema: &Value, at: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(schema, at, &mut |obj, at| {
        for key in VALUE_RULES {
            if obj.contains_key(*key) {
                out.push((at.to_string(), (*key).to_string()));
            }
        }
        if required_only_branches(obj, "oneOf") {
            out.push((at.to_string(), "oneOf".to_string()));
        }
        if required_only_branches(obj, "anyOf") {
            out.push((at.to_string(), "anyOf".to_string()));
        }
    });
    out
}

/// The spec as the generator should see it: every request schema without its
/// request-only rules.
pub fn without_request_rules(spec: &Value) -> Value {
    let mut out = spec.clone();
    for name in request_schemas(spec) {
        let pointer = name.trim_start_matches('#');
        if let Some(schema) = out.pointer_mut(pointer) {
            strip(schema);
        }
    }
    // Inline request schemas (not behind a `$ref`) are stripped in place.
    if let Some(paths) = out.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut() {
            let Some(item) = item.as_object_mut() else {
                continue;
            };
            for op in item.values_mut() {
                if let Some(content) = op
                    .pointer_mut("/requestBody/content")
                    .and_then(Value::as_object_mut)
                {
                    for media in content.values_mut() {
                        if let Some(schema) = media.get_mut("schema") {
                            strip(schema);
                        }
                    }
                }
            }
        }
    }
    out
}

/// A `oneOf`/`anyOf` whose branches only list required properties: a rule about which
/// properties appear together, not a choice between types.
fn required_only_branches(obj: &serde_json::Map<String, Value>, key: &str) -> bool {
    obj.get(key)
        .and_then(Value::as_array)
        .is_some_and(|branches| {
            !branches.is_empty()
                && branches.iter().all(|b| {
                    b.as_object()
                        .is_some_and(|b| b.keys().all(|k| k == "required" || k == "description"))
                })
        })
}

fn strip(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for key in VALUE_RULES {
        obj.remove(*key);
    }
    for key in ["oneOf", "anyOf"] {
        if required_only_branches(obj, key) {
            obj.remove(key);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get_mut(key) {
            strip(sub);
        }
    }
    if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut) {
        for sub in props.values_mut() {
            strip(sub);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(branches) = obj.get_mut(key).and_then(Value::as_array_mut) {
            for sub in branches {
                strip(sub);
            }
        }
    }
}

/// Calls `visit` on `schema` and every schema nested in it (not following `$ref`s).
fn walk(schema: &Value, at: &str, visit: &mut dyn FnMut(&serde_json::Map<String, Value>, &str)) {
    let Some(obj) = schema.as_object() else {
        return;
    };
    visit(obj, at);
    for key in ["items", "additionalProperties"] {
        if let Some(sub) = obj.get(key) {
            walk(sub, &format!("{at}.{key}"), visit);
        }
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            walk(sub, &format!("{at}.properties.{name}"), visit);
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(branches) = obj.get(key).and_then(Value::as_array) {
            for (i, sub) in branches.iter().enumerate() {
                walk(sub, &format!("{at}.{key}[{i}]"), visit);
            }
        }
    }
}

/// The `schema` of every media type under the holders `pick` returns for each operation.
fn media_schemas<'v>(
    spec: &'v Value,
    pick: impl Fn(&'v Value) -> Vec<&'v Value>,
) -> Vec<&'v Value> {
    let mut out = Vec::new();
    let Some(paths) = spec.get("paths").and_then(Value::as_object) else {
        return out;
    };
    for item in paths.values().filter_map(Value::as_object) {
        for op in item.values() {
            for holder in pick(op) {
                let holder = match holder.get("$ref").and_then(Value::as_str) {
                    Some(r) => resolve(spec, r).unwrap_or(holder),
                    None => holder,
                };
                if let Some(content) = holder.get("content").and_then(Value::as_object) {
                    out.extend(content.values().filter_map(|m| m.get("schema")));
                }
            }
        }
    }
    out
}

/// Adds every `$ref` reachable from `schema` to `found`.
fn collect_refs(spec: &Value, schema: &Value, found: &mut BTreeSet<String>) {
    let mut refs = Vec::new();
    walk_refs(schema, &mut refs);
    while let Some(r) = refs.pop() {
        if found.insert(r.clone())
            && let Some(target) = resolve(spec, &r)
        {
            walk_refs(target, &mut refs);
        }
    }
}

fn walk_refs(schema: &Value, refs: &mut Vec<String>) {
    match schema {
        Value::Object(obj) => {
            if let Some(r) = obj.get("$ref").and_then(Value::as_str) {
                refs.push(r.to_string());
            }
            for value in obj.values() {
                walk_refs(value, refs);
            }
        }
        Value::Array(items) => {
            for value in items {
                walk_refs(value, refs);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({
            "paths": {"/v1/things": {"post": {
                "requestBody": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/NewThing"}}}},
                "responses": {"200": {"content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Thing"}}}}}
            }}},
            "components": {"schemas": {
                "NewThing": {
                    "type": "object",
                    "not": {"required": ["legacy"]},
                    "properties": {
                        "kind": {"type": "string", "enum": ["a", "b"]},
                        "route": {"$ref": "#/components/schemas/Route"}
                    }
                },
                "Route": {
                    "type": "object",
                    "oneOf": [{"required": ["x"]}, {"required": ["y"]}],
                    "properties": {"x": {"type": "string", "pattern": "^x"}}
                },
                "Thing": {"oneOf": [{"type": "string"}, {"type": "object"}]}
            }}
        })
    }

    #[test]
    fn request_schemas_are_found_through_references() {
        let names: Vec<String> = request_schemas(&spec()).into_iter().collect();
        assert_eq!(
            names,
            [
                "#/components/schemas/NewThing",
                "#/components/schemas/Route"
            ]
        );
        let responses: Vec<String> = response_schemas(&spec()).into_iter().collect();
        assert_eq!(responses, ["#/components/schemas/Thing"]);
    }

    #[test]
    fn request_rules_are_dropped_and_response_choices_kept() {
        let stripped = without_request_rules(&spec());
        let schemas = &stripped["components"]["schemas"];
        assert_eq!(
            schemas["NewThing"],
            json!({"type": "object", "properties": {
                "kind": {"type": "string"},
                "route": {"$ref": "#/components/schemas/Route"}
            }})
        );
        assert_eq!(
            schemas["Route"],
            json!({"type": "object", "properties": {"x": {"type": "string"}}})
        );
        assert_eq!(schemas["Thing"], spec()["components"]["schemas"]["Thing"]);
    }

    #[test]
    fn rules_are_reported_with_their_location() {
        let found = rules_in(&spec()["components"]["schemas"]["Route"], "Route");
        assert_eq!(
            found,
            [
                ("Route".to_string(), "oneOf".to_string()),
                ("Route.properties.x".to_string(), "pattern".to_string()),
            ]
        );
    }
}
