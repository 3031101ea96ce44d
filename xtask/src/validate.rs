//! Validates example values against OpenAPI 3.0.3 schema objects.
//!
//! OpenAPI 3.0 schemas are not JSON Schema: `nullable` only adds `null` to a `type` given in
//! the same schema object, so `{nullable: true, allOf: [{$ref: …}]}` still rejects `null`.
//! Generic JSON Schema validators do not know that keyword, which is why this small validator
//! implements exactly the subset of 3.0.3 that the spec uses. A keyword it does not implement
//! is reported as an error, so an example can never pass because a rule was skipped.

use serde_json::Value;

/// Keywords that carry no validation rule and are accepted as they are.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "example",
    "deprecated",
    "readOnly",
    "writeOnly",
    "externalDocs",
];

/// Validates `instance` against `schema`, resolving `$ref`s in `root`.
///
/// Returns one message per violation; each names the location inside the instance as a
/// JSON-pointer-like path starting at `$`.
pub fn validate(root: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    Validator { root, depth: 0 }.check(schema, instance, "$", &mut errors);
    errors
}

struct Validator<'a> {
    root: &'a Value,
    depth: usize,
}

impl<'a> Validator<'a> {
    fn check(&mut self, schema: &'a Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        // A cyclic `$ref` chain would otherwise recurse forever.
        if self.depth > 64 {
            errors.push(format!("{at}: schema nesting is too deep (a $ref cycle?)"));
            return;
        }
        let Some(obj) = schema.as_object() else {
            if schema.as_bool() == Some(false) {
                errors.push(format!("{at}: no value is allowed here"));
            }
            return;
        };
        if let Some(reference) = obj.get("$ref") {
            match reference.as_str().and_then(|r| resolve(self.root, r)) {
                Some(target) => {
                    self.depth += 1;
                    self.check(target, value, at, errors);
                    self.depth -= 1;
                }
                None => errors.push(format!("{at}: unresolvable $ref {reference}")),
            }
            return;
        }
        for key in obj.keys() {
            let known = ANNOTATIONS.contains(&key.as_str())
                || key.starts_with("x-")
                || matches!(
                    key.as_str(),
                    "type"
                        | "nullable"
                        | "format"
                        | "enum"
                        | "properties"
                        | "required"
                        | "additionalProperties"
                        | "items"
                        | "allOf"
                        | "oneOf"
                        | "anyOf"
                        | "not"
                        | "pattern"
                        | "minLength"
                        | "maxLength"
                        | "minimum"
                        | "maximum"
                        | "minItems"
                        | "maxItems"
                );
            if !known {
                errors.push(format!(
                    "{at}: schema keyword `{key}` is not supported by the example validator"
                ));
            }
        }

        let nullable = obj.get("nullable").and_then(Value::as_bool) == Some(true);
        if let Some(allowed) = obj.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            errors.push(format!(
                "{at}: {value} is not one of {}",
                Value::from(allowed.clone())
            ));
        }
        if let Some(ty) = obj.get("type").and_then(Value::as_str) {
            if value.is_null() {
                if !nullable {
                    errors.push(format!(
                        "{at}: null is not allowed (the schema is not nullable)"
                    ));
                }
                // `null` satisfies a nullable schema; the remaining keywords describe the
                // non-null form.
                return;
            }
            if !type_matches(ty, value) {
                errors.push(format!("{at}: expected {ty}, found {}", kind(value)));
                return;
            }
        }
        if let Some(format) = obj.get("format").and_then(Value::as_str) {
            check_format(format, value, at, errors);
        }
        self.check_string(obj, value, at, errors);
        self.check_number(obj, value, at, errors);
        self.check_array(obj, value, at, errors);
        self.check_object(obj, value, at, errors);
        self.check_combinators(obj, value, at, errors);
    }

    fn check_string(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(s) = value.as_str() else { return };
        let len = s.chars().count() as u64;
        if let Some(min) = obj.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            errors.push(format!("{at}: string is shorter than {min}"));
        }
        if let Some(max) = obj.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            errors.push(format!("{at}: string is longer than {max}"));
        }
        if let Some(pattern) = obj.get("pattern") {
            // OpenAPI patterns are ECMA-262 regular expressions, unanchored; `regress`
            // implements exactly that dialect.
            match pattern.as_str().map(regress::Regex::new) {
                Some(Ok(regex)) => {
                    if regex.find(s).is_none() {
                        errors.push(format!(
                            "{at}: \"{s}\" does not match the pattern {pattern}"
                        ));
                    }
                }
                _ => errors.push(format!(
                    "{at}: the pattern {pattern} is not a valid ECMA-262 regular expression"
                )),
            }
        }
    }

    fn check_number(
        &mut self,
        obj: &serde_json::Map<String, Value>,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(n) = value.as_f64() else { return };
        if let Some(min) = obj.get("minimum").and_then(Value::as_f64)
            && n < min
        {
            errors.push(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = obj.get("maximum").and_then(Value::as_f64)
            && n > max
        {
            errors.push(format!("{at}: {n} is above the maximum {max}"));
        }
    }

    fn check_array(
        &mut self,
        obj: &'a serde_json::Map<String, Value>,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(items) = value.as_array() else {
            return;
        };
        if let Some(min) = obj.get("minItems").and_then(Value::as_u64)
            && (items.len() as u64) < min
        {
            errors.push(format!("{at}: fewer than {min} items"));
        }
        if let Some(max) = obj.get("maxItems").and_then(Value::as_u64)
            && (items.len() as u64) > max
        {
            errors.push(format!("{at}: more than {max} items"));
        }
        if let Some(item_schema) = obj.get("items") {
            for (i, item) in items.iter().enumerate() {
                self.check(item_schema, item, &format!("{at}[{i}]"), errors);
            }
        }
    }

    fn check_object(
        &mut self,
        obj: &'a serde_json::Map<String, Value>,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let Some(fields) = value.as_object() else {
            return;
        };
        if let Some(required) = obj.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !fields.contains_key(name) {
                    errors.push(format!("{at}: required property `{name}` is missing"));
                }
            }
        }
        let properties = obj.get("properties").and_then(Value::as_object);
        for (name, field) in fields {
            let field_at = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => self.check(field_schema, field, &field_at, errors),
                None => match obj.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        errors.push(format!("{field_at}: property is not allowed"))
                    }
                    Some(extra @ Value::Object(_)) => self.check(extra, field, &field_at, errors),
                    _ => {}
                },
            }
        }
    }

    fn check_combinators(
        &mut self,
        obj: &'a serde_json::Map<String, Value>,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
            for branch in all {
                self.check(branch, value, at, errors);
            }
        }
        if let Some(any) = obj.get("anyOf").and_then(Value::as_array)
            && !any.iter().any(|branch| self.passes(branch, value))
        {
            errors.push(format!("{at}: matches none of the anyOf branches"));
        }
        if let Some(not) = obj.get("not")
            && self.passes(not, value)
        {
            errors.push(format!("{at}: matches the schema under `not`"));
        }
        if let Some(one) = obj.get("oneOf").and_then(Value::as_array) {
            let matching = one
                .iter()
                .filter(|branch| self.passes(branch, value))
                .count();
            if matching != 1 {
                errors.push(format!(
                    "{at}: matches {matching} of the oneOf branches (exactly one is required)"
                ));
            }
        }
    }

    fn passes(&mut self, schema: &'a Value, value: &Value) -> bool {
        let mut scratch = Vec::new();
        self.check(schema, value, "$", &mut scratch);
        scratch.is_empty()
    }
}

/// Resolves a local reference such as `#/components/schemas/Session`.
pub fn resolve<'v>(root: &'v Value, reference: &str) -> Option<&'v Value> {
    root.pointer(reference.strip_prefix('#')?)
}

fn type_matches(ty: &str, value: &Value) -> bool {
    match ty {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "number" => value.is_number(),
        // JSON has one number type; an integer is a number without a fractional part.
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn check_format(format: &str, value: &Value, at: &str, errors: &mut Vec<String>) {
    match (format, value) {
        ("date-time", Value::String(s)) if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
            errors.push(format!("{at}: \"{s}\" is not an RFC 3339 date-time"));
        }
        ("int32", Value::Number(n)) if n.as_i64().and_then(|v| i32::try_from(v).ok()).is_none() => {
            errors.push(format!("{at}: {n} does not fit in int32"));
        }
        ("int64", Value::Number(n)) if n.as_i64().is_none() => {
            errors.push(format!("{at}: {n} does not fit in int64"));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn root() -> Value {
        json!({"components": {"schemas": {
            "Obj": {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "string"},
                "n": {"type": "integer", "format": "int64"},
                "when": {"type": "string", "format": "date-time", "nullable": true}
            }},
            "Strict": {"type": "object", "additionalProperties": false,
                       "properties": {"a": {"type": "string"}}}
        }}})
    }

    fn errors(schema: Value, value: Value) -> Vec<String> {
        validate(&root(), &schema, &value)
    }

    #[test]
    fn accepts_a_valid_object_through_a_ref() {
        let e = errors(
            json!({"$ref": "#/components/schemas/Obj"}),
            json!({"id": "x", "n": 3, "when": null, "extra": true}),
        );
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn reports_missing_required_and_wrong_types_with_their_location() {
        let e = errors(
            json!({"$ref": "#/components/schemas/Obj"}),
            json!({"n": 1.5, "when": "yesterday"}),
        );
        assert_eq!(
            e,
            vec![
                "$: required property `id` is missing",
                "$.n: expected integer, found number",
                "$.when: \"yesterday\" is not an RFC 3339 date-time",
            ]
        );
    }

    #[test]
    fn nullable_applies_only_to_a_type_in_the_same_schema() {
        // OpenAPI 3.0.3: `nullable` next to `allOf` without a `type` adds nothing.
        let schema = json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/Obj"}]});
        assert_eq!(
            errors(schema, Value::Null),
            vec!["$: null is not allowed (the schema is not nullable)"]
        );
        assert!(errors(json!({"type": "string", "nullable": true}), Value::Null).is_empty());
        assert_eq!(
            errors(json!({"type": "string"}), Value::Null),
            vec!["$: null is not allowed (the schema is not nullable)"]
        );
    }

    #[test]
    fn additional_properties_false_rejects_extras() {
        let e = errors(
            json!({"$ref": "#/components/schemas/Strict"}),
            json!({"a": "x", "b": 1}),
        );
        assert_eq!(e, vec!["$.b: property is not allowed"]);
    }

    #[test]
    fn one_of_needs_exactly_one_match() {
        let schema = json!({"oneOf": [{"type": "string"}, {"type": "object"}]});
        assert!(errors(schema.clone(), json!("twilio")).is_empty());
        assert!(errors(schema.clone(), json!({"type": "twilio"})).is_empty());
        assert_eq!(
            errors(schema, json!(3)),
            vec!["$: matches 0 of the oneOf branches (exactly one is required)"]
        );
    }

    #[test]
    fn patterns_are_unanchored_ecma_regular_expressions() {
        let e164 = json!({"type": "string", "pattern": "^\\+[1-9][0-9]{1,14}$"});
        assert!(errors(e164.clone(), json!("+14155551234")).is_empty());
        assert_eq!(
            errors(e164, json!("555")),
            vec!["$: \"555\" does not match the pattern \"^\\\\+[1-9][0-9]{1,14}$\""]
        );
        assert!(errors(json!({"type": "string", "pattern": "b"}), json!("abc")).is_empty());
        assert_eq!(
            errors(json!({"type": "string", "pattern": "("}), json!("x")),
            vec!["$: the pattern \"(\" is not a valid ECMA-262 regular expression"]
        );
    }

    #[test]
    fn not_rejects_what_its_schema_accepts() {
        let no_provider = json!({"type": "object", "not": {"required": ["provider"]}});
        assert!(errors(no_provider.clone(), json!({"mode": "x"})).is_empty());
        assert_eq!(
            errors(no_provider, json!({"provider": "twilio"})),
            vec!["$: matches the schema under `not`"]
        );
    }

    #[test]
    fn enums_lengths_items_and_unknown_keywords() {
        assert_eq!(
            errors(json!({"enum": ["a", "b"]}), json!("c")),
            vec!["$: \"c\" is not one of [\"a\",\"b\"]"]
        );
        assert_eq!(
            errors(json!({"type": "string", "maxLength": 2}), json!("abc")),
            vec!["$: string is longer than 2"]
        );
        assert_eq!(
            errors(
                json!({"type": "array", "items": {"type": "integer"}}),
                json!([1, "2"])
            ),
            vec!["$[1]: expected integer, found string"]
        );
        assert_eq!(
            errors(json!({"type": "number", "multipleOf": 2}), json!(4)),
            vec!["$: schema keyword `multipleOf` is not supported by the example validator"]
        );
        assert_eq!(
            errors(json!({"$ref": "#/nope"}), json!(1)),
            vec!["$: unresolvable $ref \"#/nope\""]
        );
    }
}
