//! The operation catalogue and the documented value lists, read from the spec.
//!
//! The spec is the one place where an operation's method, path, scope, idempotency and
//! credit cost are written down; the SDK, the emulator and the tests read them from the
//! `kallglot_api::catalogue` module that [`render`] produces, so no second table exists.
//!
//! Sources in the document:
//! - each operation's `operationId`, method and path; `x-kallglot-scope` (a scope name, or
//!   `null` when the operation needs none), `x-kallglot-scope-inferred` (true when the
//!   reference does not state the scope), `x-kallglot-credits` (credits per success, `null`
//!   when the reference gives no figure); whether it honours `Idempotency-Key` comes from the
//!   header parameter it declares; its query parameters' names from the parameters too;
//!   whether its success body is binary from its media type;
//! - `x-kallglot-undescribed-operations` at the root: routes the reference names without
//!   describing them (their bodies are unknown, so progenitor does not see them), with the
//!   same facts spelled out (`id`, `method`, `path`, `scope`, `idempotent`, `credits`);
//! - `x-kallglot-scopes` at the root: every permission scope keys can be granted;
//! - every `x-known-values` list (and every request field's `enum`) under
//!   `components.schemas`, with the legacy spellings that fold into a current value
//!   under `x-aliases` (a map from legacy to current).

use std::collections::{BTreeMap, BTreeSet};

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::problem::{Problem, report as problem};

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];
const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// One operation of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    /// The operationId.
    pub id: String,
    /// Upper-case HTTP method.
    pub method: String,
    /// The path template, such as `/v1/sessions/{id}`.
    pub path: String,
    /// The scope the operation needs, if any.
    pub scope: Option<String>,
    /// Whether the scope is inferred rather than stated by the reference.
    pub scope_inferred: bool,
    /// Whether the route honours `Idempotency-Key`.
    pub idempotent: bool,
    /// Credits charged per success, when documented.
    pub credits: Option<u64>,
    /// Whether the success body is not JSON (an audio download).
    pub binary_response: bool,
    /// The names of its query parameters, in the spec's order.
    pub query: Vec<String>,
    /// Whether the spec describes the operation (false for the undescribed routes).
    pub described: bool,
}

/// One documented value list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueList {
    /// The constant's name, such as `SESSION_STATUS`.
    pub name: String,
    /// Where the list is, such as `Session.status`.
    pub location: String,
    /// The current values.
    pub values: Vec<String>,
    /// Legacy spelling → current value.
    pub aliases: Vec<(String, String)>,
}

/// Everything the catalogue module holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    /// Operations, described first (sorted by path, then method), then undescribed ones.
    pub operations: Vec<Operation>,
    /// Every scope.
    pub scopes: Vec<String>,
    /// Every value list, sorted by name.
    pub value_lists: Vec<ValueList>,
}

/// Reads the catalogue, or lists every rule the spec breaks.
pub fn read(spec: &Value) -> Result<Catalogue, Vec<Problem>> {
    let mut problems = Vec::new();
    let scopes = read_scopes(spec, &mut problems);
    let mut operations = Vec::new();
    if let Some(paths) = spec.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(*method) {
                    let at = format!("paths.{path}.{method}");
                    if let Some(op) = described(spec, &at, path, method, op, &mut problems) {
                        operations.push(op);
                    }
                }
            }
        }
    }
    operations.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    operations.extend(undescribed(spec, &mut problems));
    let mut ids = BTreeSet::new();
    for op in &operations {
        // Duplicates among described operations are the lint's `operationId` rule.
        if !ids.insert(op.id.clone()) && !op.described {
            problem(
                &mut problems,
                "x-kallglot-undescribed-operations",
                format!("operation id `{}` is used twice", op.id),
            );
        }
        if let Some(scope) = &op.scope
            && !scopes.contains(scope)
        {
            problem(
                &mut problems,
                format!("operation {}", op.id),
                format!("scope `{scope}` is not listed in the root `x-kallglot-scopes`"),
            );
        }
    }
    let value_lists = read_value_lists(spec, &mut problems);
    if problems.is_empty() {
        Ok(Catalogue {
            operations,
            scopes,
            value_lists,
        })
    } else {
        Err(problems)
    }
}

fn read_scopes(spec: &Value, problems: &mut Vec<Problem>) -> Vec<String> {
    let list = spec.get("x-kallglot-scopes").and_then(Value::as_array);
    let Some(list) = list else {
        problem(
            problems,
            "x-kallglot-scopes",
            "the root must list every permission scope under `x-kallglot-scopes`",
        );
        return Vec::new();
    };
    let scopes: Vec<String> = list
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if scopes.len() != list.len() {
        problem(
            problems,
            "x-kallglot-scopes",
            "every scope must be a string",
        );
    }
    scopes
}

/// The scope extension: `Some(None)` for an explicit `null`, `None` when it is missing or
/// not a string.
fn scope_field(value: Option<&Value>) -> Option<Option<String>> {
    match value? {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        _ => None,
    }
}

/// The credits extension: `Some(None)` for an explicit `null`.
fn credits_field(value: Option<&Value>) -> Option<Option<u64>> {
    match value? {
        Value::Null => Some(None),
        v => v.as_u64().map(Some),
    }
}

fn described(
    spec: &Value,
    at: &str,
    path: &str,
    method: &str,
    op: &Value,
    problems: &mut Vec<Problem>,
) -> Option<Operation> {
    let id = op.get("operationId").and_then(Value::as_str)?.to_string();
    let scope = scope_field(op.get("x-kallglot-scope"));
    if scope.is_none() {
        problem(
            problems,
            at,
            "`x-kallglot-scope` must name the scope the operation needs (or be null)",
        );
    }
    let credits = credits_field(op.get("x-kallglot-credits"));
    if credits.is_none() {
        problem(
            problems,
            at,
            "`x-kallglot-credits` must give the credits charged per success (or be null)",
        );
    }
    let scope_inferred = match op.get("x-kallglot-scope-inferred") {
        None => false,
        Some(v) => v.as_bool().unwrap_or_else(|| {
            problem(
                problems,
                at,
                "`x-kallglot-scope-inferred` must be a boolean",
            );
            false
        }),
    };
    let parameters: Vec<&Value> = op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| deref(spec, p))
        .collect();
    let located = |place: &'static str| {
        parameters
            .iter()
            .filter(move |p| p.get("in").and_then(Value::as_str) == Some(place))
            .filter_map(|p| p.get("name").and_then(Value::as_str))
    };
    let idempotent = located("header").any(|name| name == IDEMPOTENCY_HEADER);
    let query = located("query").map(str::to_string).collect();
    let binary_response = op
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(status, _)| status.starts_with('2'))
        .filter_map(|(_, r)| deref(spec, r).get("content").and_then(Value::as_object))
        .flat_map(|content| content.keys())
        .any(|media| media != "application/json");
    Some(Operation {
        id,
        method: method.to_ascii_uppercase(),
        path: path.to_string(),
        scope: scope.flatten(),
        scope_inferred,
        idempotent,
        credits: credits.flatten(),
        binary_response,
        query,
        described: true,
    })
}

fn undescribed(spec: &Value, problems: &mut Vec<Problem>) -> Vec<Operation> {
    const AT: &str = "x-kallglot-undescribed-operations";
    let Some(list) = spec.get(AT) else {
        return Vec::new();
    };
    let Some(list) = list.as_array() else {
        problem(problems, AT, "must be a list of operations");
        return Vec::new();
    };
    let mut found = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let at = format!("{AT}[{i}]");
        let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
        let (Some(id), Some(method), Some(path)) = (text("id"), text("method"), text("path"))
        else {
            problem(problems, &at, "needs `id`, `method` and `path` strings");
            continue;
        };
        if !METHODS.contains(&method.as_str()) || !path.starts_with("/v1/") {
            problem(
                problems,
                &at,
                "`method` must be a lower-case HTTP method and `path` start with /v1/",
            );
            continue;
        }
        let scope = scope_field(entry.get("scope"));
        let credits = credits_field(entry.get("credits"));
        let idempotent = entry.get("idempotent").and_then(Value::as_bool);
        let (Some(scope), Some(credits), Some(idempotent)) = (scope, credits, idempotent) else {
            problem(
                problems,
                &at,
                "needs `scope` (string or null), `credits` (integer or null) and `idempotent` (boolean)",
            );
            continue;
        };
        found.push(Operation {
            id,
            method: method.to_ascii_uppercase(),
            path,
            scope,
            scope_inferred: entry
                .get("scope_inferred")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            idempotent,
            credits,
            binary_response: false,
            query: Vec::new(),
            described: false,
        });
    }
    found
}

fn deref<'v>(spec: &'v Value, value: &'v Value) -> &'v Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(r) => crate::validate::resolve(spec, r).unwrap_or(value),
        None => value,
    }
}

fn read_value_lists(spec: &Value, problems: &mut Vec<Problem>) -> Vec<ValueList> {
    let mut lists = BTreeMap::new();
    if let Some(schemas) = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            walk(schema, &mut vec![name.clone()], &mut lists, problems);
        }
    }
    lists.into_values().collect()
}

/// Collects the value lists of `schema` and of the schemas nested in it; `trail` names the
/// place (schema name, then property names).
fn walk(
    schema: &Value,
    trail: &mut Vec<String>,
    lists: &mut BTreeMap<String, ValueList>,
    problems: &mut Vec<Problem>,
) {
    let location = trail.join(".");
    // A request field's closed `enum` (what the server accepts) is a value list too: the
    // SDK still models it as an open enum, and checks it against this list.
    if let Some(values) = schema.get("x-known-values").or_else(|| schema.get("enum")) {
        let values: Vec<String> = values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        let mut aliases = Vec::new();
        if let Some(map) = schema.get("x-aliases") {
            for (legacy, current) in map.as_object().into_iter().flatten() {
                match current.as_str() {
                    Some(current) if values.iter().any(|v| v == current) => {
                        aliases.push((legacy.clone(), current.to_string()));
                    }
                    _ => problem(
                        problems,
                        format!("{location}.x-aliases.{legacy}"),
                        "an alias must map to one of the list's `x-known-values`",
                    ),
                }
                if values.contains(legacy) {
                    problem(
                        problems,
                        format!("{location}.x-aliases.{legacy}"),
                        "a legacy spelling must not also be a current value",
                    );
                }
            }
        }
        let unique: BTreeSet<&String> = values.iter().collect();
        if values.is_empty() || unique.len() != values.len() {
            problem(
                problems,
                &location,
                "`x-known-values` must be a non-empty list of distinct strings",
            );
        }
        let name = constant_name(trail);
        lists.insert(
            name.clone(),
            ValueList {
                name,
                location,
                values,
                aliases,
            },
        );
    } else if schema.get("x-aliases").is_some() {
        problem(
            problems,
            &location,
            "`x-aliases` needs `x-known-values` beside it",
        );
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (property, nested) in properties {
            trail.push(property.clone());
            walk(nested, trail, lists, problems);
            trail.pop();
        }
    }
    if let Some(items) = schema.get("items") {
        walk(items, trail, lists, problems);
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for nested in schema
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(nested, trail, lists, problems);
        }
    }
}

/// `["CreateSessionRequest", "mode"]` → `CREATE_SESSION_REQUEST_MODE`.
fn constant_name(trail: &[String]) -> String {
    let mut name = String::new();
    for part in trail {
        for (i, c) in part.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                name.push('_');
            }
            if c.is_ascii_alphanumeric() {
                name.push(c.to_ascii_uppercase());
            } else {
                name.push('_');
            }
        }
        name.push('_');
    }
    name.pop();
    name
}

fn operation_tokens(op: &Operation) -> TokenStream {
    let Operation {
        id,
        method,
        path,
        scope_inferred,
        idempotent,
        binary_response,
        query,
        described,
        ..
    } = op;
    let scope = match &op.scope {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
    };
    let credits = match op.credits {
        Some(c) => {
            let c = c as u32;
            quote!(Some(#c))
        }
        None => quote!(None),
    };
    quote! {
        Operation {
            id: #id,
            method: #method,
            path: #path,
            scope: #scope,
            scope_inferred: #scope_inferred,
            idempotent: #idempotent,
            credits: #credits,
            binary_response: #binary_response,
            query: &[#(#query),*],
            described: #described,
        }
    }
}

/// The body of `catalogue.rs` as tokens; the struct definitions live in the generated
/// crate's template next to it.
pub fn render(catalogue: &Catalogue) -> TokenStream {
    let op_consts = catalogue.operations.iter().map(|op| {
        let name = format_ident!("{}", op.id.to_ascii_uppercase());
        let doc = format!(
            "`{} {}` (`{}`).",
            op.method,
            op.path,
            op.scope.as_deref().unwrap_or("no scope")
        );
        let value = operation_tokens(op);
        quote! {
            #[doc = #doc]
            pub const #name: Operation = #value;
        }
    });
    let op_names = catalogue
        .operations
        .iter()
        .map(|op| format_ident!("{}", op.id.to_ascii_uppercase()));
    let scopes = &catalogue.scopes;
    let list_consts = catalogue.value_lists.iter().map(|list| {
        let name = format_ident!("{}", list.name);
        let doc = format!("The documented values of `{}`.", list.location);
        let location = &list.location;
        let values = &list.values;
        let aliases = list
            .aliases
            .iter()
            .map(|(legacy, current)| quote!((#legacy, #current)));
        quote! {
            #[doc = #doc]
            pub const #name: ValueList = ValueList {
                location: #location,
                values: &[#(#values),*],
                aliases: &[#(#aliases),*],
            };
        }
    });
    let list_names = catalogue
        .value_lists
        .iter()
        .map(|list| format_ident!("{}", list.name));
    quote! {
        use super::{Operation, ValueList};

        #(#op_consts)*

        /// Every operation: the described ones, then those the reference only names.
        pub const OPERATIONS: &[Operation] = &[#(#op_names),*];

        /// Every permission scope an API key can be granted.
        pub const SCOPES: &[&str] = &[#(#scopes),*];

        #(#list_consts)*

        /// Every documented value list.
        pub const VALUE_LISTS: &[ValueList] = &[#(#list_names),*];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: Value) -> Value {
        let mut spec = serde_json::json!({
            "x-kallglot-scopes": ["things:read", "things:write"],
            "paths": {
                "/v1/things": {"post": {
                    "operationId": "create_thing",
                    "x-kallglot-scope": "things:write",
                    "x-kallglot-credits": 1,
                    "parameters": [{"$ref": "#/components/parameters/Key"}],
                    "responses": {"201": {"content": {"application/json": {}}}}
                }, "get": {
                    "operationId": "list_things",
                    "x-kallglot-scope": "things:read",
                    "x-kallglot-credits": 0,
                    "parameters": [
                        {"name": "limit", "in": "query"},
                        {"$ref": "#/components/parameters/After"}
                    ],
                    "responses": {"200": {"content": {"application/json": {}}}}
                }},
                "/v1/things/{id}/audio": {"get": {
                    "operationId": "thing_audio",
                    "x-kallglot-scope": "things:read",
                    "x-kallglot-scope-inferred": true,
                    "x-kallglot-credits": 0,
                    "responses": {"200": {"content": {"audio/mpeg": {}}}}
                }}
            },
            "components": {
                "parameters": {
                    "Key": {"name": "Idempotency-Key", "in": "header"},
                    "After": {"name": "starting_after", "in": "query"}
                },
                "schemas": {"ThingEvent": {"properties": {"status": {
                    "type": "string",
                    "x-known-values": ["ready", "completed"],
                    "x-aliases": {"complete": "completed"}
                }}}}
            }
        });
        if let (Some(target), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            target.extend(extra.clone());
        }
        spec
    }

    #[test]
    fn reads_operations_scopes_and_value_lists() {
        let catalogue = read(&spec(serde_json::json!({
            "x-kallglot-undescribed-operations": [{
                "id": "dial_thing", "method": "post", "path": "/v1/things/{id}/dial",
                "scope": null, "idempotent": true, "credits": null
            }]
        })))
        .unwrap();
        let ids: Vec<&str> = catalogue.operations.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(
            ids,
            ["list_things", "create_thing", "thing_audio", "dial_thing"]
        );
        let list = &catalogue.operations[0];
        assert_eq!(list.query, ["limit", "starting_after"]);
        assert!(!list.idempotent);
        let create = &catalogue.operations[1];
        assert!(create.query.is_empty());
        assert!(create.idempotent && !create.binary_response && create.described);
        assert_eq!(create.credits, Some(1));
        let audio = &catalogue.operations[2];
        assert!(!audio.idempotent && audio.binary_response && audio.scope_inferred);
        let dial = &catalogue.operations[3];
        assert_eq!((dial.method.as_str(), dial.scope.as_ref()), ("POST", None));
        assert!(dial.idempotent && !dial.described);
        assert_eq!(
            catalogue.value_lists,
            [ValueList {
                name: "THING_EVENT_STATUS".into(),
                location: "ThingEvent.status".into(),
                values: vec!["ready".into(), "completed".into()],
                aliases: vec![("complete".into(), "completed".into())],
            }]
        );
    }

    #[test]
    fn missing_facts_are_named() {
        let mut broken = spec(Value::Null);
        let op = broken
            .pointer_mut("/paths/~1v1~1things/post")
            .and_then(Value::as_object_mut)
            .unwrap();
        op.remove("x-kallglot-scope");
        op.remove("x-kallglot-credits");
        broken
            .pointer_mut("/paths/~1v1~1things~1{id}~1audio/get")
            .and_then(Value::as_object_mut)
            .unwrap()
            .insert("x-kallglot-scope".into(), "things:delete".into());
        broken
            .pointer_mut("/components/schemas/ThingEvent/properties/status/x-aliases")
            .and_then(Value::as_object_mut)
            .unwrap()
            .insert("finished".into(), "done".into());
        let problems = read(&broken).unwrap_err();
        let text: Vec<String> = problems.iter().map(ToString::to_string).collect();
        let text = text.join("\n");
        assert!(text.contains("x-kallglot-scope` must name"), "{text}");
        assert!(text.contains("x-kallglot-credits` must give"), "{text}");
        assert!(text.contains("`things:delete` is not listed"), "{text}");
        assert!(text.contains("x-aliases.finished"), "{text}");
        assert_eq!(problems.len(), 4, "{text}");
    }

    #[test]
    fn constant_names_follow_the_schema_and_property() {
        assert_eq!(
            constant_name(&["CreateSessionRequest".into(), "mode".into()]),
            "CREATE_SESSION_REQUEST_MODE"
        );
        assert_eq!(
            constant_name(&["SessionProvider".into()]),
            "SESSION_PROVIDER"
        );
    }
}
