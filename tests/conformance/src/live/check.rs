//! Checks one [`Exchange`] against the spec: the status is declared for the operation,
//! the declared headers are present and parse, and the body matches its schema.

use serde_json::Value;
use xtask::validate::validate;

use super::wire::Exchange;
use crate::spec_surface::{follow, header_entry};

/// Headers the API sends on authenticated responses only: a 401 carries none of them.
const AUTHENTICATED_ONLY: &[&str] = &[
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-API-Credits-Remaining",
    "X-API-Credits-Used",
];

/// What the check of one exchange found.
#[derive(Debug, Default)]
pub struct Findings {
    /// Problems with the status or the body.
    pub problems: Vec<String>,
    /// Every declared header that was checked, by its manifest name, with its problem.
    pub headers: Vec<(String, Result<(), String>)>,
}

impl Findings {
    /// Every problem, header problems included, one per line.
    pub fn all_problems(&self) -> Vec<String> {
        let mut all = self.problems.clone();
        for (name, result) in &self.headers {
            if let Err(e) = result {
                all.push(format!("header {name}: {e}"));
            }
        }
        all
    }
}

/// The spec, as the live suite reads it.
#[derive(Debug, Clone)]
pub struct Contract {
    spec: Value,
}

impl Contract {
    /// The contract of a spec document.
    pub fn new(spec: Value) -> Self {
        Self { spec }
    }

    /// The operation ids the spec declares, sorted.
    pub fn operation_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = crate::spec_surface::operations(&self.spec)
            .filter_map(|op| op["operationId"].as_str().map(str::to_string))
            .collect();
        ids.sort();
        ids
    }

    /// The scope an operation needs (`x-kallglot-scope`), if it needs one.
    pub fn scope(&self, operation_id: &str) -> Option<String> {
        self.operation(operation_id)?["x-kallglot-scope"]
            .as_str()
            .map(str::to_string)
    }

    /// Every scope a key can have (the spec's root `x-kallglot-scopes`).
    pub fn scopes(&self) -> Vec<String> {
        self.spec["x-kallglot-scopes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    }

    fn operation(&self, id: &str) -> Option<&Value> {
        crate::spec_surface::operations(&self.spec).find(|op| op["operationId"] == id)
    }

    /// Checks `exchange` as an answer of `operation_id`.
    pub fn check(&self, operation_id: &str, exchange: &Exchange) -> Findings {
        let mut findings = Findings::default();
        let at = exchange.summary();
        let Some(operation) = self.operation(operation_id) else {
            findings
                .problems
                .push(format!("the spec has no operation {operation_id}"));
            return findings;
        };
        let Some(response) = declared_response(&operation["responses"], exchange.status) else {
            findings.problems.push(format!(
                "{at}: status {} is not declared for {operation_id}",
                exchange.status
            ));
            return findings;
        };
        let response = follow(&self.spec, response);
        let content = response["content"].as_object();
        let audio = content.is_some_and(|c| c.keys().any(|m| m.starts_with("audio/")));
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let entry = header_entry(name, header, audio);
            let result = self.check_header(name, header, exchange);
            findings.headers.push((entry, result));
        }
        let Some(content) = content else {
            return findings;
        };
        let sent_type = exchange.header("content-type").map(|t| {
            t.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let Some((media, body_spec)) = sent_type
            .as_deref()
            .and_then(|t| content.iter().find(|(m, _)| m.as_str() == t))
        else {
            let declared: Vec<&String> = content.keys().collect();
            let problem = format!(
                "{at}: Content-Type {:?} is not one of the declared {declared:?}",
                sent_type
            );
            if audio {
                findings
                    .headers
                    .push(("audio/Content-Type".into(), Err(problem)));
            } else {
                findings.problems.push(problem);
            }
            return findings;
        };
        if audio {
            findings.headers.push(("audio/Content-Type".into(), Ok(())));
        }
        if media.ends_with("json") {
            match exchange.json() {
                Ok(body) => {
                    let schema = &body_spec["schema"];
                    for error in validate(&self.spec, schema, &body) {
                        findings
                            .problems
                            .push(format!("{at}: body does not match the spec: {error}"));
                    }
                }
                Err(e) => findings.problems.push(e),
            }
        } else if exchange.body.is_empty() {
            findings
                .problems
                .push(format!("{at}: the {media} body is empty"));
        }
        findings
    }

    fn check_header(&self, name: &str, header: &Value, exchange: &Exchange) -> Result<(), String> {
        let header = follow(&self.spec, header);
        let Some(value) = exchange.header(name) else {
            let required = if AUTHENTICATED_ONLY.contains(&name) {
                exchange.status != 401
            } else if name.eq_ignore_ascii_case("Retry-After") {
                exchange.status == 429
            } else {
                true
            };
            return if required {
                Err(format!("{}: missing", exchange.summary()))
            } else {
                Ok(())
            };
        };
        let schema = &header["schema"];
        let parsed = match schema["type"].as_str() {
            Some("integer") => match value.trim().parse::<i64>() {
                Ok(n) => Value::from(n),
                Err(_) => {
                    return Err(format!(
                        "{}: {value:?} is not an integer",
                        exchange.summary()
                    ));
                }
            },
            _ => Value::String(value.to_string()),
        };
        if parsed.as_str().is_some_and(|s| s.trim().is_empty()) {
            return Err(format!("{}: empty", exchange.summary()));
        }
        if name.eq_ignore_ascii_case("Content-Length")
            && parsed.as_i64() != i64::try_from(exchange.body.len()).ok()
        {
            return Err(format!(
                "{}: Content-Length {value} but the body has {} bytes",
                exchange.summary(),
                exchange.body.len()
            ));
        }
        let errors = validate(&self.spec, schema, &parsed);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{}: {}", exchange.summary(), errors.join("; ")))
        }
    }
}

/// The response the spec declares for `status`: the exact code, else its `NXX` range,
/// else `default`.
fn declared_response(responses: &Value, status: u16) -> Option<&Value> {
    let exact = status.to_string();
    let range = format!("{}XX", status / 100);
    responses
        .get(&exact)
        .or_else(|| responses.get(&range))
        .or_else(|| responses.get("default"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn contract() -> Contract {
        Contract::new(crate::spec_surface::spec().unwrap())
    }

    fn exchange(status: u16, headers: &[(&str, &str)], body: Value) -> Exchange {
        Exchange {
            method: "GET".into(),
            path: "/v1/sessions/sess_1".into(),
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: serde_json::to_vec(&body).unwrap(),
        }
    }

    const HEADERS: &[(&str, &str)] = &[
        ("content-type", "application/json"),
        ("x-request-id", "req_1"),
        ("x-ratelimit-limit", "600"),
        ("x-ratelimit-remaining", "599"),
        ("x-ratelimit-reset", "1774522860"),
        ("x-api-credits-remaining", "41"),
        ("x-api-credits-used", "9"),
    ];

    fn session() -> Value {
        json!({"id": "sess_1", "object": "session", "status": "active",
               "mode": "ai_agent", "created_at": "2026-03-26T11:00:00Z"})
    }

    #[test]
    fn a_conforming_answer_has_no_findings() {
        let findings = contract().check("retrieve_session", &exchange(200, HEADERS, session()));
        assert!(findings.all_problems().is_empty(), "{:?}", findings);
        assert_eq!(findings.headers.len(), 6);
    }

    #[test]
    fn a_wrong_body_a_missing_header_and_a_bad_number_are_each_reported() {
        let mut headers = HEADERS.to_vec();
        headers.retain(|(n, _)| *n != "x-request-id");
        headers.retain(|(n, _)| *n != "x-api-credits-used");
        headers.push(("x-api-credits-used", "lots"));
        let mut body = session();
        body["created_at"] = json!("yesterday");
        let problems = contract()
            .check("retrieve_session", &exchange(200, &headers, body))
            .all_problems();
        assert_eq!(
            problems,
            [
                "GET /v1/sessions/sess_1 -> 200: body does not match the spec: $.created_at: \"yesterday\" is not an RFC 3339 date-time",
                "header X-API-Credits-Used: GET /v1/sessions/sess_1 -> 200: \"lots\" is not an integer",
                "header X-Request-ID: GET /v1/sessions/sess_1 -> 200: missing",
            ]
        );
    }

    #[test]
    fn scopes_come_from_the_spec() {
        let c = contract();
        assert_eq!(c.scope("end_session").as_deref(), Some("sessions:write"));
        assert_eq!(c.scope("no_such_operation"), None);
        assert!(c.scopes().len() >= 6 && c.scopes().contains(&"sessions:read".to_string()));
    }

    #[test]
    fn statuses_are_matched_exactly_then_by_range() {
        let c = contract();
        let undeclared = c.check("retrieve_session", &exchange(302, HEADERS, json!({})));
        assert!(undeclared.problems[0].contains("status 302 is not declared"));
        // A 401 carries no rate-limit or credit headers, and that conforms.
        let envelope = json!({"error": {"type": "authentication_error",
                                        "code": "api_key_invalid", "message": "no"}});
        let unauthenticated = exchange(
            401,
            &[
                ("content-type", "application/json"),
                ("x-request-id", "req_2"),
            ],
            envelope.clone(),
        );
        let findings = c.check("retrieve_session", &unauthenticated);
        assert!(findings.all_problems().is_empty(), "{findings:?}");
        // A 429 must carry Retry-After.
        let throttled = c.check("retrieve_session", &exchange(429, HEADERS, envelope));
        assert_eq!(
            throttled.all_problems(),
            ["header Retry-After: GET /v1/sessions/sess_1 -> 429: missing"]
        );
    }
}
