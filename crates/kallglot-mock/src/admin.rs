//! The admin endpoints, for tests and CI in other languages or processes. They need no
//! API key (the emulator is a local test tool) and never count against the rate limit.
//!
//! | Route | Body | Answer |
//! |---|---|---|
//! | `POST /__admin/faults` | `{"route", "fault"?, "status"?, "code"?, "type"?, "retry_after"?, "delay_ms"?, "times"?}` | 201 `{"id"}` |
//! | `GET /__admin/faults` | – | 200 `{"object":"list","data":[…]}` |
//! | `DELETE /__admin/faults` | – | 204, every fault removed |
//! | `DELETE /__admin/faults/{id}` | – | 204, or 404 |
//! | `GET /__admin/credits` | – | 200 `{"remaining","used"}` |
//! | `PUT /__admin/credits` | `{"remaining"}` | 200 `{"remaining","used"}` |
//! | `POST /__admin/keys` | `{"key", "scopes"?, "revoked"?, "expired"?, "inactive_org"?}` | 201 |
//! | `GET /__admin/health` | – | 200 `{"status":"ok"}` |
//!
//! A fault's `route` is `*`, an operationId (`create_session`) or a method and path
//! (`POST /v1/sessions/{id}/end`). `fault` is `status` (the default when `status` is
//! given), `delay`, `reset`, `lose_response`, `truncated_json` or `html`; `times` limits
//! it to the next N matching requests (it applies until deleted otherwise).

use axum::Router;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::KeyConfig;
use crate::error::ApiError;
use crate::faults::FaultSpec;
use crate::request_id::RequestId;
use crate::state::{AppState, lock};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/__admin/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/__admin/faults/{id}", delete(remove_fault))
        .route("/__admin/credits", get(credits).put(set_credits))
        .route("/__admin/keys", post(add_key))
        .route("/__admin/health", get(health))
}

/// Parses a JSON body into `T`, answering 400 `invalid_request` otherwise.
fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid(None, format!("Invalid admin request body: {e}.")))
}

async fn add_fault(
    State(state): State<AppState>,
    Extension(RequestId(rid)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    match parse::<FaultSpec>(&body).and_then(|spec| spec.inject(&state.faults)) {
        Ok(id) => (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response(),
        Err(e) => e.respond(&rid),
    }
}

async fn list_faults(State(state): State<AppState>) -> Response {
    axum::Json(state.faults.to_json()).into_response()
}

async fn clear_faults(State(state): State<AppState>) -> StatusCode {
    state.faults.clear();
    StatusCode::NO_CONTENT
}

async fn remove_fault(
    State(state): State<AppState>,
    Extension(RequestId(rid)): Extension<RequestId>,
    Path(id): Path<String>,
) -> Response {
    match id.parse::<u64>() {
        Ok(id) if state.faults.remove(id) => StatusCode::NO_CONTENT.into_response(),
        _ => ApiError::not_found("fault", &id).respond(&rid),
    }
}

fn credits_json(state: &AppState) -> Value {
    let credits = state.world().credits;
    json!({"remaining": credits.remaining, "used": credits.used})
}

async fn credits(State(state): State<AppState>) -> Response {
    axum::Json(credits_json(&state)).into_response()
}

#[derive(Deserialize)]
struct SetCredits {
    remaining: u64,
}

async fn set_credits(
    State(state): State<AppState>,
    Extension(RequestId(rid)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    match parse::<SetCredits>(&body) {
        Ok(set) => {
            state.world().credits.remaining = set.remaining;
            axum::Json(credits_json(&state)).into_response()
        }
        Err(e) => e.respond(&rid),
    }
}

#[derive(Deserialize)]
struct AddKey {
    key: String,
    scopes: Option<Vec<String>>,
    #[serde(default)]
    revoked: bool,
    #[serde(default)]
    expired: bool,
    #[serde(default)]
    inactive_org: bool,
}

async fn add_key(
    State(state): State<AppState>,
    Extension(RequestId(rid)): Extension<RequestId>,
    body: Bytes,
) -> Response {
    let built = parse::<AddKey>(&body).and_then(|spec| {
        let mut key = KeyConfig::test(spec.key);
        if let Some(names) = spec.scopes {
            let scopes = names
                .iter()
                .map(|n| {
                    crate::catalogue::SCOPES
                        .contains(&n.as_str())
                        .then(|| n.clone())
                        .ok_or(n)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|n| ApiError::invalid(Some("scopes"), format!("Unknown scope '{n}'.")))?;
            key = key.scopes(scopes);
        }
        if spec.revoked {
            key = key.revoked();
        }
        if spec.expired {
            key = key.expired();
        }
        if spec.inactive_org {
            key = key.inactive_org();
        }
        Ok(key)
    });
    match built {
        Ok(key) => {
            lock(&state.keys).add(key);
            StatusCode::CREATED.into_response()
        }
        Err(e) => e.respond(&rid),
    }
}

async fn health() -> Response {
    axum::Json(json!({"status": "ok"})).into_response()
}
