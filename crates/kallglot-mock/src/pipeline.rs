//! The path every REST request takes, in order:
//!
//! 1. authenticate the API key (401);
//! 2. count it against the rate limit (429);
//! 3. check the organization (403 `organization_inactive`) and the route's scope (403
//!    `insufficient_permissions`);
//! 4. for a route that honours it, look up or reserve the `Idempotency-Key` (replay, 400
//!    mismatch, 409 conflict);
//! 5. apply an injected fault, if one matches;
//! 6. run the operation;
//! 7. store a 2xx result under the idempotency key (or release the key);
//! 8. add the rate-limit and credit headers (every authenticated response has them).

use std::future::Future;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::Value;
use tokio::time::Instant;

use crate::auth;
use crate::error::ApiError;
use crate::extract::path_id;
use kallglot_api::catalogue::Operation;

use crate::faults::{Applied, Route};
use crate::idempotency::{self, Begin, Stored};
use crate::limits::RateStatus;
use crate::request_id::{RequestId, set_request_id};
use crate::reset::reset_connection;
use crate::state::{AppState, lock};

/// What an operation has to work with.
pub(crate) struct Ctx {
    pub state: AppState,
    /// `ws://host:port`: where this client reaches the emulator, for `stream.url`.
    pub ws_base: String,
    /// The media type the body was declared with (lower case, without parameters).
    pub content_type: Option<String>,
}

impl Ctx {
    /// Checks the media type of a body that an operation reads as JSON: it must be
    /// `application/json` (parameters such as `charset` allowed), else 415. An empty
    /// body needs no type: the analysis body is optional, and a missing create body is
    /// reported as the missing `mode`.
    pub fn require_json(&self, body: &[u8]) -> Result<(), ApiError> {
        let empty = body.iter().all(u8::is_ascii_whitespace);
        match self.content_type.as_deref() {
            Some("application/json") => {}
            None if empty => {}
            other => {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "invalid_request_error",
                    "unsupported_media_type",
                    format!(
                        "This route takes a JSON body sent as `Content-Type: application/json`; got {}.",
                        other.map_or("no Content-Type".to_string(), |t| format!("`{t}`"))
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// What an operation answers with.
pub(crate) enum Reply {
    Json(StatusCode, Value),
    Audio { bytes: Bytes, filename: String },
}

impl Reply {
    fn render(self) -> (Stored, Option<String>) {
        match self {
            Self::Json(status, value) => (
                Stored {
                    status,
                    content_type: "application/json".into(),
                    body: Bytes::from(value.to_string()),
                },
                None,
            ),
            Self::Audio { bytes, filename } => (
                Stored {
                    status: StatusCode::OK,
                    content_type: "audio/mpeg".into(),
                    body: bytes,
                },
                Some(format!("attachment; filename=\"{filename}\"")),
            ),
        }
    }
}

fn respond(stored: Stored, disposition: Option<String>) -> Response {
    let mut response = (stored.status, stored.body).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&stored.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(value) = disposition.and_then(|d| HeaderValue::from_str(&d).ok()) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// Runs one REST request for the catalogue's `op` through the pipeline; `operation`
/// gets the context and body.
pub(crate) async fn run<F, Fut>(
    state: AppState,
    op: &'static Operation,
    RequestId(request_id): RequestId,
    request: Request,
    operation: F,
) -> Response
where
    F: FnOnce(Ctx, Bytes) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let (parts, body) = request.into_parts();
    let key = match lock(&state.keys).authenticate(&parts.headers) {
        Ok(key) => key,
        Err(e) => return e.respond(&request_id),
    };
    let admitted = lock(&state.limiter).admit(Instant::now());
    let finish = |mut response: Response, rate: &RateStatus| {
        rate.write_headers(response.headers_mut());
        state.world().credits.write_headers(response.headers_mut());
        set_request_id(&mut response, &request_id);
        response
    };
    let rate = match admitted {
        Ok(rate) => rate,
        Err(rate) => return finish(rate.exceeded().respond(&request_id), &rate),
    };
    let checks = auth::check_org(&key).and_then(|()| match op.scope {
        Some(scope) => auth::check_scope(&key, scope),
        None => Ok(()),
    });
    if let Err(e) = checks {
        return finish(e.respond(&request_id), &rate);
    }
    // The router's body layer has read the body whole already (see `body.rs`).
    let body = axum::body::to_bytes(body, crate::body::MAX_BODY)
        .await
        .unwrap_or_default();

    let mut reservation = None;
    if op.idempotent
        && let Some(value) = parts.headers.get("idempotency-key")
    {
        let fingerprint = idempotency::fingerprint(parts.method.as_str(), parts.uri.path(), &body);
        let begun = match value.to_str() {
            Ok(k) => state.idempotency.begin(k, fingerprint, Instant::now()),
            Err(_) => Err(ApiError::invalid(
                Some("Idempotency-Key"),
                "The Idempotency-Key header must be visible ASCII.",
            )),
        };
        match begun {
            Ok(Begin::Run(r)) => reservation = Some(r),
            Ok(Begin::Replay(stored)) => {
                let mut response = respond(stored, None);
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                return finish(response, &rate);
            }
            Err(e) => return finish(e.respond(&request_id), &rate),
        }
    }

    let applied = match state.faults.take(Route::Operation(op)) {
        Some(fault) => fault.apply(&request_id).await,
        None => Applied::Run,
    };
    let reset_after = match applied {
        Applied::Respond(response) => {
            // A fault's failure releases the key, as any failure does.
            drop(reservation);
            return finish(response, &rate);
        }
        Applied::Reset => return reset_connection(),
        Applied::RunThenReset => true,
        Applied::Run => false,
    };

    let ctx = Ctx {
        ws_base: ws_base(&state),
        content_type: media_type(&parts.headers),
        state: state.clone(),
    };
    let response = match operation(ctx, body).await {
        Ok(reply) => {
            let (stored, disposition) = reply.render();
            if let Some(r) = reservation {
                r.finish(stored.status.is_success().then(|| stored.clone()));
            }
            respond(stored, disposition)
        }
        Err(e) => {
            if let Some(r) = reservation {
                r.finish(None);
            }
            e.respond(&request_id)
        }
    };
    if reset_after {
        return reset_connection();
    }
    finish(response, &rate)
}

/// Where the client reaches the emulator over WebSocket: the configured public URL, or
/// the bound address. Never the request's `Host`: a client could put anything there,
/// and it would end up in `stream.url`.
pub(crate) fn ws_base(state: &AppState) -> String {
    if let Some(url) = &state.config.public_url {
        let url = url.trim_end_matches('/');
        return match url.split_once("://") {
            Some(("https", rest)) => format!("wss://{rest}"),
            Some((_, rest)) => format!("ws://{rest}"),
            None => format!("ws://{url}"),
        };
    }
    format!("ws://{}", crate::addr::loopback_visible(state.local_addr))
}

/// The declared media type of the body: lower case, without parameters.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let text = value.to_str().unwrap_or("(not text)");
    Some(
        text.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// An empty body for routes that take none, or the JSON object a route expects.
pub(crate) fn json_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid(
            None,
            "The request body must be a JSON object.",
        )),
        Err(e) => Err(ApiError::invalid(
            None,
            format!("The request body is not valid JSON: {e}."),
        )),
    }
}

/// A read of the resource named by the `{id}` in the path: what `read` finds in the
/// emulated world, as `200` JSON, behind the same auth, rate limit and faults as every
/// route.
pub(crate) async fn read_by_id(
    state: AppState,
    op: &'static Operation,
    request_id: RequestId,
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    request: Request,
    read: fn(&crate::state::World, &str) -> Result<Value, ApiError>,
) -> Response {
    run(state, op, request_id, request, |ctx, _| async move {
        let id = path_id(path)?;
        let value = read(&ctx.state.world(), &id)?;
        Ok(Reply::Json(StatusCode::OK, value))
    })
    .await
}
