//! Fault injection: make chosen routes fail, stall, drop the connection or answer
//! garbage, for the next N requests or until cleared.
//!
//! A fault applies after the request is authenticated, counted by the rate limiter and
//! checked for permissions, and after its `Idempotency-Key` is reserved, right where the
//! operation would run. So a fault never hides an auth error, its response carries the
//! usual headers, and a delayed request holds its idempotency key for the whole delay
//! (which is how tests make "still running" observable). A replay of a stored
//! idempotent response is answered before faults are consulted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use kallglot_api::catalogue::Operation;

use crate::error::ApiError;

/// What a fault applies to: one operation of the spec's catalogue, or the stream's
/// WebSocket upgrade, which the spec does not describe.
///
/// Operations come from [`catalogue`](crate::catalogue), generated from
/// `openapi/kallglot.yaml`: `Route::from(&catalogue::CREATE_SESSION)`, or just
/// `&catalogue::CREATE_SESSION` where an `impl Into<Route>` is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Route {
    /// A REST operation the emulator serves.
    Operation(&'static Operation),
    /// `GET /v1/sessions/{id}/connect`, the WebSocket upgrade.
    ConnectStream,
}

/// The stream's upgrade in the catalogue's terms: the spec describes REST only, so this
/// one route is not in the catalogue. Its token, not a key's scope, authorizes it.
const CONNECT_STREAM: Operation =
    Operation::unlisted("connect_stream", "GET", "/v1/sessions/{id}/connect");

impl From<&'static Operation> for Route {
    fn from(operation: &'static Operation) -> Self {
        Self::Operation(operation)
    }
}

impl Route {
    /// Every route a fault can target: each operation the spec describes (the emulator
    /// serves them all), then the stream's upgrade.
    pub fn all() -> impl Iterator<Item = Route> {
        crate::catalogue::OPERATIONS
            .iter()
            .filter(|op| op.described)
            .map(Route::Operation)
            .chain([Route::ConnectStream])
    }

    /// The catalogue entry (for the stream, an entry of the same shape).
    pub fn operation(self) -> &'static Operation {
        match self {
            Self::Operation(operation) => operation,
            Self::ConnectStream => &CONNECT_STREAM,
        }
    }

    /// The `operationId` (`connect_stream` for the WebSocket, which the spec omits).
    pub fn operation_id(self) -> &'static str {
        self.operation().id
    }

    /// The HTTP method.
    pub fn method(self) -> &'static str {
        self.operation().method
    }

    /// The path template, as in the spec.
    pub fn path(self) -> &'static str {
        self.operation().path
    }

    /// Parses an `operationId` (`create_session`) or a method and path, either the
    /// template or a concrete path (`POST /v1/sessions/{id}/end`,
    /// `GET /v1/sessions/sess_123`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(route) = Self::all().find(|r| r.operation_id() == text) {
            return Some(route);
        }
        let (method, path) = text.split_once(' ')?;
        let path = path.trim().split('?').next().unwrap_or_default();
        let path = path.strip_suffix('/').unwrap_or(path);
        Self::all().find(|route| route.operation().matches(method.trim(), path))
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FaultAction {
    /// Answer with this status and an error envelope.
    Status {
        /// The HTTP status.
        status: u16,
        /// The envelope's `code`.
        code: String,
        /// The envelope's `type`; derived from the status when `None`.
        error_type: Option<String>,
        /// Seconds for `Retry-After` and `retry_after`, when set.
        retry_after: Option<u64>,
    },
    /// Run the request normally (after the fault's delay).
    Proceed,
    /// Close the connection without any response; the operation does not run.
    Reset,
    /// Run the operation (its effects persist, an idempotent result is stored), then close
    /// the connection without the response: a response lost on the way back.
    LoseResponse,
    /// Answer 200 `application/json` with a JSON document cut short.
    TruncatedJson,
    /// Answer with an HTML error page, as a proxy in front of the API would.
    Html {
        /// The HTTP status (502 by default).
        status: u16,
    },
}

/// A fault to inject. It applies to every matching request until cleared, or to the
/// next `n` with [`times`](Self::times).
///
/// ```
/// use std::time::Duration;
/// use kallglot_mock::Fault;
/// let outage = Fault::status(503, "service_unavailable").times(2);
/// let slow = Fault::delay(Duration::from_millis(200)).times(1);
/// let throttled = Fault::status(429, "rate_limit_exceeded").retry_after(0);
/// # let _ = (outage, slow, throttled);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub(crate) action: FaultAction,
    pub(crate) delay: Duration,
    pub(crate) times: Option<u32>,
}

impl Fault {
    fn of(action: FaultAction) -> Self {
        Self {
            action,
            delay: Duration::ZERO,
            times: None,
        }
    }

    /// Answers `status` with an error envelope of `code`.
    ///
    /// A status that cannot end an exchange (below 200, or not a status at all) is
    /// answered as 500; 204, 205 and 304, which never carry a body, are answered without
    /// the envelope.
    pub fn status(status: u16, code: impl Into<String>) -> Self {
        Self::of(FaultAction::Status {
            status,
            code: code.into(),
            error_type: None,
            retry_after: None,
        })
    }

    /// Lets the request run after `delay`, holding its idempotency key meanwhile.
    pub fn delay(delay: Duration) -> Self {
        Self::of(FaultAction::Proceed).after(delay)
    }

    /// Drops the connection without a response; nothing runs.
    pub fn reset() -> Self {
        Self::of(FaultAction::Reset)
    }

    /// Runs the operation, then drops the connection without its response.
    pub fn lose_response() -> Self {
        Self::of(FaultAction::LoseResponse)
    }

    /// Answers 200 with truncated JSON.
    pub fn truncated_json() -> Self {
        Self::of(FaultAction::TruncatedJson)
    }

    /// Answers `status` with an HTML page instead of JSON.
    ///
    /// A status that cannot end an exchange (below 200, or not a status at all) is
    /// answered as 502; 204, 205 and 304, which never carry a body, are answered without
    /// the page.
    pub fn html(status: u16) -> Self {
        Self::of(FaultAction::Html { status })
    }

    /// Adds `Retry-After: seconds` (and `retry_after`) to a status fault.
    pub fn retry_after(mut self, seconds: u64) -> Self {
        if let FaultAction::Status { retry_after, .. } = &mut self.action {
            *retry_after = Some(seconds);
        }
        self
    }

    /// Sets the envelope `type` of a status fault.
    pub fn error_type(mut self, kind: impl Into<String>) -> Self {
        if let FaultAction::Status { error_type, .. } = &mut self.action {
            *error_type = Some(kind.into());
        }
        self
    }

    /// Waits `delay` before acting.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Applies to the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    /// Applies until cleared (the default).
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }

    /// What the fault does.
    pub fn action(&self) -> &FaultAction {
        &self.action
    }
}

/// Where a fault applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Route(Route),
    Any,
}

#[derive(Debug, Clone)]
struct Active {
    id: u64,
    target: Target,
    fault: Fault,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    active: Vec<Active>,
}

/// The fault injection handle of a server ([`MockServer::faults`](crate::MockServer::faults)).
/// Cheap to clone; every clone controls the same server.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    registry: Arc<Mutex<Registry>>,
}

impl Faults {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn add(&self, target: Target, fault: Fault) -> u64 {
        let mut registry = self.lock();
        registry.next_id += 1;
        let id = registry.next_id;
        if fault.times != Some(0) {
            registry.active.push(Active { id, target, fault });
        }
        id
    }

    /// Injects `fault` on `route` (a [`Route`], or a catalogue operation such as
    /// `&catalogue::CREATE_SESSION`); returns its id (for [`remove`](Self::remove)).
    /// When several faults match a request, the oldest applies.
    pub fn inject(&self, route: impl Into<Route>, fault: Fault) -> u64 {
        self.add(Target::Route(route.into()), fault)
    }

    /// Injects `fault` on every route.
    pub fn inject_any(&self, fault: Fault) -> u64 {
        self.add(Target::Any, fault)
    }

    /// Removes one fault.
    pub fn remove(&self, id: u64) -> bool {
        let mut registry = self.lock();
        let before = registry.active.len();
        registry.active.retain(|a| a.id != id);
        registry.active.len() != before
    }

    /// Removes every fault.
    pub fn clear(&self) {
        self.lock().active.clear();
    }

    /// How many faults are still active.
    pub fn active(&self) -> usize {
        self.lock().active.len()
    }

    /// Takes the fault for a request to `route`, counting it down.
    pub(crate) fn take(&self, route: Route) -> Option<Fault> {
        let mut registry = self.lock();
        let index = registry
            .active
            .iter()
            .position(|a| a.target == Target::Any || a.target == Target::Route(route))?;
        let active = &mut registry.active[index];
        let fault = active.fault.clone();
        if let Some(left) = active.fault.times.as_mut() {
            *left -= 1;
            if *left == 0 {
                registry.active.remove(index);
            }
        }
        Some(fault)
    }

    /// The active faults, as the admin endpoint lists them.
    pub(crate) fn to_json(&self) -> Value {
        let registry = self.lock();
        let items: Vec<Value> = registry
            .active
            .iter()
            .map(|a| {
                let route = match a.target {
                    Target::Route(r) => r.operation_id(),
                    Target::Any => "*",
                };
                let mut item = json!({
                    "id": a.id,
                    "route": route,
                    "delay_ms": a.fault.delay.as_millis() as u64,
                    "remaining": a.fault.times,
                });
                let extra = match &a.fault.action {
                    FaultAction::Status {
                        status,
                        code,
                        error_type,
                        retry_after,
                    } => json!({
                        "fault": "status", "status": status, "code": code,
                        "type": error_type, "retry_after": retry_after,
                    }),
                    FaultAction::Proceed => json!({"fault": "delay"}),
                    FaultAction::Reset => json!({"fault": "reset"}),
                    FaultAction::LoseResponse => json!({"fault": "lose_response"}),
                    FaultAction::TruncatedJson => json!({"fault": "truncated_json"}),
                    FaultAction::Html { status } => json!({"fault": "html", "status": status}),
                };
                if let (Some(item), Some(extra)) = (item.as_object_mut(), extra.as_object()) {
                    item.extend(extra.clone());
                }
                item
            })
            .collect();
        json!({ "object": "list", "data": items })
    }
}

/// The admin endpoint's description of a fault (`POST /__admin/faults`).
#[derive(Debug, Deserialize)]
pub(crate) struct FaultSpec {
    /// `*`, an operationId, or `METHOD /path`.
    route: String,
    /// `status` (default when `status` is given), `delay`, `reset`, `lose_response`,
    /// `truncated_json`, `html`.
    fault: Option<String>,
    status: Option<u16>,
    code: Option<String>,
    #[serde(rename = "type")]
    error_type: Option<String>,
    retry_after: Option<u64>,
    delay_ms: Option<u64>,
    times: Option<u32>,
}

impl FaultSpec {
    /// Validates the spec and injects it; `Err` names the offending field.
    pub(crate) fn inject(self, faults: &Faults) -> Result<u64, ApiError> {
        let target = match self.route.trim() {
            "*" => Target::Any,
            text => Target::Route(Route::parse(text).ok_or_else(|| {
                ApiError::invalid(Some("route"), format!("Unknown route '{text}'."))
            })?),
        };
        let kind = self.fault.as_deref().unwrap_or(if self.status.is_some() {
            "status"
        } else {
            "delay"
        });
        let mut fault = match kind {
            "status" => {
                let status = self
                    .status
                    .filter(|s| (400..=599).contains(s))
                    .ok_or_else(|| {
                        ApiError::invalid(
                            Some("status"),
                            "A status fault needs a 4xx or 5xx status.",
                        )
                    })?;
                let code = self
                    .code
                    .unwrap_or_else(|| default_code(status).to_string());
                let mut fault = Fault::status(status, code);
                if let Some(seconds) = self.retry_after {
                    fault = fault.retry_after(seconds);
                }
                if let Some(kind) = self.error_type {
                    fault = fault.error_type(kind);
                }
                fault
            }
            "delay" => Fault::of(FaultAction::Proceed),
            "reset" => Fault::reset(),
            "lose_response" => Fault::lose_response(),
            "truncated_json" => Fault::truncated_json(),
            "html" => {
                let status = self.status.unwrap_or(502);
                if !(200..=599).contains(&status) {
                    return Err(ApiError::invalid(
                        Some("status"),
                        "An html fault needs a final status, 200 to 599.",
                    ));
                }
                Fault::html(status)
            }
            other => {
                return Err(ApiError::invalid(
                    Some("fault"),
                    format!("Unknown fault '{other}'."),
                ));
            }
        };
        fault = fault.after(Duration::from_millis(self.delay_ms.unwrap_or(0)));
        if let Some(n) = self.times {
            fault = fault.times(n);
        }
        Ok(faults.add(target, fault))
    }
}

fn default_code(status: u16) -> &'static str {
    match status {
        400 => "invalid_request",
        401 => "api_key_invalid",
        402 => "insufficient_api_credits",
        403 => "insufficient_permissions",
        404 => "resource_not_found",
        409 => "idempotency_conflict",
        429 => "rate_limit_exceeded",
        502 => "bad_gateway",
        503 => "service_unavailable",
        504 => "gateway_timeout",
        _ => "internal_error",
    }
}

fn default_type(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 | 403 => "permission_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// How the pipeline proceeds after consulting a fault.
pub(crate) enum Applied {
    /// Answer with this response instead of running the operation.
    Respond(Response),
    /// Close the connection; nothing runs.
    Reset,
    /// Run the operation, then close the connection.
    RunThenReset,
    /// Run the operation normally.
    Run,
}

impl Fault {
    /// Waits out the delay, then says what to do.
    pub(crate) async fn apply(&self, request_id: &str) -> Applied {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        match &self.action {
            FaultAction::Proceed => Applied::Run,
            FaultAction::Reset => Applied::Reset,
            FaultAction::LoseResponse => Applied::RunThenReset,
            FaultAction::Status {
                status,
                code,
                error_type,
                retry_after,
            } => {
                let status_code = final_status(*status, StatusCode::INTERNAL_SERVER_ERROR);
                let mut error = ApiError::new(
                    status_code,
                    default_type(status_code.as_u16()),
                    code.clone(),
                    format!("Injected fault: HTTP {} {code}.", status_code.as_u16()),
                );
                if let Some(kind) = error_type {
                    error.kind = kind.clone().into();
                }
                if let Some(seconds) = retry_after {
                    error = error.retry_after(*seconds as f64);
                }
                let mut response = error.respond(request_id);
                if !allows_body(status_code) {
                    strip_body(&mut response);
                }
                Applied::Respond(response)
            }
            FaultAction::TruncatedJson => {
                let mut response = (
                    StatusCode::OK,
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    r#"{"id":"sess_01J0TRUNCATED","object":"sess"#,
                )
                    .into_response();
                crate::request_id::set_request_id(&mut response, request_id);
                Applied::Respond(response)
            }
            FaultAction::Html { status } => {
                let status = final_status(*status, StatusCode::BAD_GATEWAY);
                let reason = status.canonical_reason().unwrap_or("Error");
                let page = format!(
                    "<html><head><title>{code} {reason}</title></head><body><center><h1>{code} {reason}</h1></center><hr><center>mock-proxy</center></body></html>\n",
                    code = status.as_u16()
                );
                let mut response = (
                    status,
                    [(header::CONTENT_TYPE, HeaderValue::from_static("text/html"))],
                    page,
                )
                    .into_response();
                if !allows_body(status) {
                    strip_body(&mut response);
                }
                crate::request_id::set_request_id(&mut response, request_id);
                Applied::Respond(response)
            }
        }
    }
}

/// The status a fault answers with: `status` when it is a final HTTP status (200 to
/// 599), `fallback` otherwise. An informational status (1xx) cannot end an exchange, and
/// a number outside 100..=999 is no status at all.
fn final_status(status: u16, fallback: StatusCode) -> StatusCode {
    StatusCode::from_u16(status)
        .ok()
        .filter(|s| (200..=599).contains(&s.as_u16()))
        .unwrap_or(fallback)
}

/// Whether a response with this status may carry a body (RFC 9110: 204, 205 and 304
/// never do).
fn allows_body(status: StatusCode) -> bool {
    !matches!(status.as_u16(), 204 | 205 | 304)
}

/// Removes the body (and the headers describing it) from a response.
fn strip_body(response: &mut Response) {
    *response.body_mut() = axum::body::Body::empty();
    let headers = response.headers_mut();
    headers.remove(header::CONTENT_TYPE);
    headers.remove(header::CONTENT_LENGTH);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse_from_operation_ids_and_paths() {
        use crate::catalogue::{DOWNLOAD_RECORDING_AUDIO, END_SESSION, RETRIEVE_SESSION};
        for route in Route::all() {
            assert_eq!(Route::parse(route.operation_id()), Some(route));
            assert_eq!(
                Route::parse(&format!("{} {}", route.method(), route.path())),
                Some(route)
            );
        }
        assert_eq!(
            Route::parse("post /v1/sessions/sess_1/end"),
            Some(Route::from(&END_SESSION))
        );
        assert_eq!(
            Route::parse("GET /v1/sessions/sess_1"),
            Some(Route::from(&RETRIEVE_SESSION))
        );
        assert_eq!(
            Route::parse("GET /v1/recordings/rec_1/audio"),
            Some(Route::from(&DOWNLOAD_RECORDING_AUDIO))
        );
        assert_eq!(
            Route::parse("GET /v1/sessions/sess_1/connect"),
            Some(Route::ConnectStream)
        );
        assert_eq!(Route::parse("DELETE /v1/sessions/x"), None);
        assert_eq!(Route::parse("GET /v1/sessions//end"), None);
        assert_eq!(Route::parse("nope"), None);
        // Routes the reference only names are not served, so no fault can target them.
        assert_eq!(Route::parse("dial_session"), None);
    }

    #[test]
    fn counted_faults_run_out_and_the_oldest_applies() {
        use crate::catalogue::{CREATE_SESSION, RETRIEVE_SESSION};
        let create = Route::from(&CREATE_SESSION);
        let faults = Faults::default();
        faults.inject(create, Fault::reset().times(2));
        faults.inject_any(Fault::truncated_json());
        assert_eq!(faults.take(create).unwrap().action, FaultAction::Reset);
        assert_eq!(
            faults.take(Route::from(&RETRIEVE_SESSION)).unwrap().action,
            FaultAction::TruncatedJson
        );
        assert_eq!(faults.take(create).unwrap().action, FaultAction::Reset);
        assert_eq!(
            faults.take(create).unwrap().action,
            FaultAction::TruncatedJson
        );
        assert_eq!(faults.active(), 1);
        faults.clear();
        assert!(faults.take(create).is_none());
    }

    #[test]
    fn admin_specs_validate() {
        let faults = Faults::default();
        let spec: FaultSpec = serde_json::from_value(
            json!({"route": "POST /v1/sessions", "status": 503, "times": 1}),
        )
        .unwrap();
        spec.inject(&faults).unwrap();
        match faults
            .take(Route::from(&crate::catalogue::CREATE_SESSION))
            .unwrap()
            .action
        {
            FaultAction::Status { status, code, .. } => {
                assert_eq!((status, code.as_str()), (503, "service_unavailable"))
            }
            other => panic!("{other:?}"),
        }
        let bad: FaultSpec =
            serde_json::from_value(json!({"route": "nowhere", "fault": "reset"})).unwrap();
        assert_eq!(
            bad.inject(&faults).unwrap_err().param.as_deref(),
            Some("route")
        );
        let bad: FaultSpec =
            serde_json::from_value(json!({"route": "*", "fault": "explode"})).unwrap();
        assert_eq!(
            bad.inject(&faults).unwrap_err().param.as_deref(),
            Some("fault")
        );
    }
}
