//! `Idempotency-Key` handling (see `docs/contract.md#idempotency`).
//!
//! A key is scoped to the account and bound to the first request's fingerprint (method,
//! path and JSON body, compared as parsed JSON so formatting does not matter):
//! - the same request again replays the stored status and body (nothing runs twice, so no
//!   second credit is charged);
//! - another request with the key answers 400 `idempotency_mismatch`;
//! - a repeat while the first is still running answers 409 `idempotency_conflict`.
//!
//! Only successful (2xx) responses are stored: whether errors are replayed is not
//! documented, and releasing the key on failure is what lets a client retry a failed
//! request with the same key. Keys expire after 24 hours.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use bytes::Bytes;
use tokio::time::Instant;

use crate::error::ApiError;

/// How long a key is remembered.
const TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest key accepted (the spec's `maxLength`).
const MAX_KEY_LEN: usize = 255;
/// `Retry-After` for a conflict: the emulator cannot know how long the first request
/// still needs, so it suggests a short wait.
const CONFLICT_RETRY_AFTER: f64 = 1.0;

/// A stored success, replayed verbatim.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Stored {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Bytes,
}

#[derive(Debug)]
enum State {
    InFlight { generation: u64 },
    Done(Stored),
}

#[derive(Debug)]
struct Entry {
    fingerprint: Vec<u8>,
    created: Instant,
    state: State,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<String, Entry>,
    next_generation: u64,
}

/// The account's idempotency keys. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub(crate) struct IdempotencyStore {
    inner: Arc<Mutex<Inner>>,
}

/// What to do with a keyed request.
#[derive(Debug)]
pub(crate) enum Begin {
    /// Run it; finish the reservation with the outcome.
    Run(Reservation),
    /// Answer with the stored response.
    Replay(Stored),
}

/// A key held by a request in flight. Dropping it without [`finish`](Self::finish)
/// (the client went away, a fault reset the connection) releases the key.
#[derive(Debug)]
pub(crate) struct Reservation {
    store: IdempotencyStore,
    key: String,
    generation: u64,
    finished: bool,
}

/// The fingerprint a key is bound to.
pub(crate) fn fingerprint(method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path}\n").into_bytes();
    // serde_json's map is ordered by key, so re-serializing canonicalizes the body.
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => out.extend_from_slice(value.to_string().as_bytes()),
        Err(_) => out.extend_from_slice(body),
    }
    out
}

impl IdempotencyStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The state is plain data that is never left half-updated.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Looks a key up and reserves it when it is new.
    pub fn begin(&self, key: &str, fingerprint: Vec<u8>, now: Instant) -> Result<Begin, ApiError> {
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Err(ApiError::invalid(
                Some("Idempotency-Key"),
                format!("The Idempotency-Key header must be 1 to {MAX_KEY_LEN} characters."),
            ));
        }
        let mut inner = self.lock();
        inner
            .entries
            .retain(|_, e| now.duration_since(e.created) < TTL);
        if let Some(entry) = inner.entries.get(key) {
            if entry.fingerprint != fingerprint {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "idempotency_mismatch",
                    "This Idempotency-Key was already used with a different request.",
                )
                .param("Idempotency-Key"));
            }
            return match &entry.state {
                State::Done(stored) => Ok(Begin::Replay(stored.clone())),
                State::InFlight { .. } => Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "invalid_request_error",
                    "idempotency_conflict",
                    "A request with this Idempotency-Key is still being processed.",
                )
                .retry_after(CONFLICT_RETRY_AFTER)),
            };
        }
        inner.next_generation += 1;
        let generation = inner.next_generation;
        inner.entries.insert(
            key.to_string(),
            Entry {
                fingerprint,
                created: now,
                state: State::InFlight { generation },
            },
        );
        Ok(Begin::Run(Reservation {
            store: self.clone(),
            key: key.to_string(),
            generation,
            finished: false,
        }))
    }
}

impl Reservation {
    /// Stores a success for replay, or releases the key after a failure.
    pub fn finish(mut self, outcome: Option<Stored>) {
        self.finished = true;
        let mut inner = self.store.lock();
        match outcome {
            Some(stored) => {
                if let Some(entry) = inner.entries.get_mut(&self.key) {
                    entry.state = State::Done(stored);
                }
            }
            None => release(&mut inner, &self.key, self.generation),
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.finished {
            let mut inner = self.store.lock();
            release(&mut inner, &self.key, self.generation);
        }
    }
}

/// Removes the key if it is still this reservation's in-flight entry.
fn release(inner: &mut Inner, key: &str, generation: u64) {
    if matches!(
        inner.entries.get(key),
        Some(Entry { state: State::InFlight { generation: g }, .. }) if *g == generation
    ) {
        inner.entries.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> Stored {
        Stored {
            status: StatusCode::CREATED,
            content_type: "application/json".into(),
            body: Bytes::from_static(b"{\"id\":\"sess_1\"}"),
        }
    }

    fn code(result: Result<Begin, ApiError>) -> String {
        match result {
            Ok(Begin::Run(_)) => "run".into(),
            Ok(Begin::Replay(_)) => "replay".into(),
            Err(e) => e.code,
        }
    }

    #[test]
    fn replay_mismatch_and_conflict() {
        let store = IdempotencyStore::default();
        let now = Instant::now();
        let a = fingerprint("POST", "/v1/sessions", br#"{"mode":"x","b":1}"#);
        let same = fingerprint("POST", "/v1/sessions", br#"{ "b": 1, "mode": "x" }"#);
        assert_eq!(a, same, "formatting and key order do not matter");
        let other = fingerprint("POST", "/v1/sessions", br#"{"mode":"y"}"#);

        let Ok(Begin::Run(first)) = store.begin("k", a.clone(), now) else {
            panic!()
        };
        assert_eq!(
            code(store.begin("k", same.clone(), now)),
            "idempotency_conflict"
        );
        assert_eq!(
            code(store.begin("k", other.clone(), now)),
            "idempotency_mismatch"
        );
        first.finish(Some(stored()));
        match store.begin("k", same, now) {
            Ok(Begin::Replay(s)) => assert_eq!(s, stored()),
            other => panic!("{other:?}"),
        }
        assert_eq!(code(store.begin("k", other, now)), "idempotency_mismatch");
        assert_eq!(code(store.begin("k", a, now + TTL)), "run", "keys expire");
        assert_eq!(code(store.begin("", vec![], now)), "invalid_request");
    }

    #[test]
    fn failures_and_dropped_requests_release_the_key() {
        let store = IdempotencyStore::default();
        let now = Instant::now();
        let fp = fingerprint("POST", "/v1/sessions/s/end", b"");
        let Ok(Begin::Run(r)) = store.begin("k", fp.clone(), now) else {
            panic!()
        };
        r.finish(None);
        let Ok(Begin::Run(r)) = store.begin("k", fp.clone(), now) else {
            panic!()
        };
        drop(r);
        assert_eq!(code(store.begin("k", fp, now)), "run");
    }
}
