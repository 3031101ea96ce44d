//! Builds the HTTP request of a documented operation from its catalogue entry.
//!
//! The catalogue (generated from the spec) gives each operation's method, path template
//! and query parameter names; this module fills them in. The SDK builds its requests
//! here rather than through the generated client's operation methods: those decode the
//! response themselves, in a future too large to keep per call (see ARCHITECTURE.md,
//! "The call path"), while every fact of the route still comes from the spec.

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};

use crate::call::IdempotencyKey;
use crate::error::ConfigError;
use crate::transport::Operation;

/// The characters percent-encoded in a path segment: controls, and every character that
/// would end the segment or change how it reads (the generated client's set).
const PATH_SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%');

/// The header a keyed route reads its idempotency key from.
pub(crate) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// What one call sends besides its route: the path's id, query parameters and JSON body.
#[derive(Debug, Default)]
pub(crate) struct Route {
    /// The value of the path's one `{parameter}`, for routes that have one.
    id: Option<String>,
    /// Query parameters, by the names the catalogue gives; unset ones are left out.
    query: Vec<(&'static str, String)>,
    /// The JSON body, already serialized (shared, not copied, by each attempt).
    body: Option<bytes::Bytes>,
}

impl Route {
    /// A route with no path parameter, query or body.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A route whose path names one resource (`/v1/sessions/{id}`).
    pub(crate) fn id(id: impl Into<String>) -> Self {
        Self {
            id: Some(id.into()),
            ..Self::default()
        }
    }

    /// Adds a query parameter; `name` must be one the operation declares.
    pub(crate) fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    /// Sends `body` as JSON.
    pub(crate) fn json<B: serde::Serialize>(mut self, body: &B) -> Result<Self, ConfigError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            ConfigError::InvalidRequest(format!("the request body cannot be written: {e}"))
        })?;
        self.body = Some(bytes.into());
        Ok(self)
    }

    /// The request for `op` on `base_url` (no trailing slash), with `key` as its
    /// `Idempotency-Key` when the route honours one. Built once per attempt: the same
    /// route gives the same request (and the same body bytes) every time. Fails, before anything is sent, when
    /// the route does not fit the operation's template (a missing or extra id, a query
    /// parameter the spec does not declare): that is a bug of this crate, said plainly.
    pub(crate) fn request(
        &self,
        base_url: &str,
        op: &Operation,
        key: Option<&IdempotencyKey>,
    ) -> Result<reqwest::Request, ConfigError> {
        let mismatch =
            |what: &str| ConfigError::InvalidRequest(format!("{what} for operation {}", op.id));
        // The catalogue's templates name at most one `{parameter}`.
        let mut url = String::with_capacity(base_url.len() + op.path.len() + 40);
        url.push_str(base_url);
        match (op.path.split_once('{'), self.id.as_deref()) {
            (None, None) => url.push_str(op.path),
            (Some((before, rest)), Some(id)) => {
                let after = rest.split_once('}').map_or("", |(_, after)| after);
                if after.contains('{') {
                    return Err(mismatch("a path with more than one parameter"));
                }
                url.push_str(before);
                url.extend(percent_encoding::utf8_percent_encode(id, PATH_SEGMENT));
                url.push_str(after);
            }
            (Some(_), None) => return Err(mismatch("no id given")),
            (None, Some(_)) => return Err(mismatch("an id given")),
        }
        let mut url = url::Url::parse(&url)
            .map_err(|e| ConfigError::InvalidRequest(format!("the request URL is invalid: {e}")))?;
        if !self.query.is_empty() {
            if let Some((name, _)) = self.query.iter().find(|(n, _)| !op.query.contains(n)) {
                return Err(mismatch(&format!("undeclared query parameter `{name}`")));
            }
            url.query_pairs_mut()
                .extend_pairs(self.query.iter().map(|(n, v)| (n, v)));
        }
        let method = reqwest::Method::from_bytes(op.method.as_bytes())
            .map_err(|_| mismatch("an invalid method"))?;
        let mut request = reqwest::Request::new(method, url);
        let headers = request.headers_mut();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(key) = key.filter(|_| op.idempotent) {
            // An `IdempotencyKey` is printable ASCII, so it is always a valid value.
            let value = HeaderValue::from_str(key.as_str())
                .map_err(|_| ConfigError::InvalidIdempotencyKey("it is not a header value"))?;
            headers.insert(IDEMPOTENCY_KEY, value);
        }
        if let Some(body) = &self.body {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            *request.body_mut() = Some(body.clone().into());
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kallglot_api::catalogue::{
        CREATE_SESSION, LIST_SESSION_RECORDINGS, RETRIEVE_SESSION, RETRIEVE_SESSION_TRANSCRIPT,
    };

    const BASE: &str = "http://127.0.0.1:9";

    #[test]
    fn fills_the_template_and_encodes_the_id() {
        let request = Route::id("sess 1/é?#%")
            .request(BASE, &RETRIEVE_SESSION_TRANSCRIPT, None)
            .unwrap();
        assert_eq!(request.method(), reqwest::Method::GET);
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:9/v1/sessions/sess%201%2F%C3%A9%3F%23%25/transcript"
        );
        assert_eq!(request.headers()[ACCEPT], "application/json");
        assert!(request.headers().get(IDEMPOTENCY_KEY).is_none());
        assert!(request.body().is_none());
    }

    #[test]
    fn query_parameters_are_the_declared_ones() {
        let request = Route::id("sess_1")
            .query("limit", 5)
            .query("starting_after", "rec a&b")
            .request(BASE, &LIST_SESSION_RECORDINGS, None)
            .unwrap();
        assert_eq!(
            request.url().as_str(),
            "http://127.0.0.1:9/v1/sessions/sess_1/recordings?limit=5&starting_after=rec+a%26b"
        );
        let err = Route::id("sess_1")
            .query("cursor", "x")
            .request(BASE, &LIST_SESSION_RECORDINGS, None)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("undeclared query parameter `cursor`"),
            "{err}"
        );
    }

    #[test]
    fn a_keyed_write_carries_its_key_and_json_body() {
        let key = IdempotencyKey::new("order-1042").unwrap();
        let request = Route::new()
            .json(&serde_json::json!({"mode": "bidirectional_translation"}))
            .unwrap()
            .request(BASE, &CREATE_SESSION, Some(&key))
            .unwrap();
        assert_eq!(request.method(), reqwest::Method::POST);
        assert_eq!(request.url().as_str(), "http://127.0.0.1:9/v1/sessions");
        assert_eq!(request.headers()[IDEMPOTENCY_KEY], "order-1042");
        assert_eq!(request.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            request.body().and_then(|b| b.as_bytes()),
            Some(&br#"{"mode":"bidirectional_translation"}"#[..])
        );
    }

    #[test]
    fn a_route_that_does_not_fit_is_refused() {
        assert!(Route::new().request(BASE, &RETRIEVE_SESSION, None).is_err());
        assert!(Route::id("x").request(BASE, &CREATE_SESSION, None).is_err());
        // A route that does not honour keys never sends one.
        let key = IdempotencyKey::new("k").unwrap();
        let request = Route::id("s")
            .request(BASE, &RETRIEVE_SESSION, Some(&key))
            .unwrap();
        assert!(request.headers().get(IDEMPOTENCY_KEY).is_none());
    }
}
