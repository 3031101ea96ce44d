//! A hook into every REST request: add headers to each attempt and observe each answer.
//!
//! Register a [`Middleware`] with [`ClientBuilder::middleware`](crate::ClientBuilder::middleware).
//! It is called once per attempt, retries included, after the SDK has set its own headers
//! and just before the request is sent; then with the response's status and headers when
//! one arrives (a connection failure or timeout has none). Several are called in the order
//! they were registered. The stream's WebSocket upgrade does not go through it.
//!
//! The views use plain strings, not any HTTP library's types. The credential headers
//! (`Authorization`, `X-API-Key`) are neither shown nor replaceable, and neither is
//! `Idempotency-Key`: a retried write must keep its key.
//!
//! ```
//! use std::sync::Arc;
//! use kallglot::middleware::{Middleware, RequestView, ResponseView};
//!
//! struct Tenant(&'static str);
//!
//! impl Middleware for Tenant {
//!     fn on_request(&self, request: &mut RequestView<'_>) {
//!         // A header name or value that is not valid HTTP is refused, never sent.
//!         let _ = request.set_header("x-tenant", self.0);
//!     }
//!     fn on_response(&self, response: &ResponseView<'_>) {
//!         if response.status() >= 500 {
//!             eprintln!("{} answered {}", response.operation(), response.status());
//!         }
//!     }
//! }
//!
//! let client = kallglot::Client::builder()
//!     .api_key("sk_test_0123456789abcdef")
//!     .middleware(Arc::new(Tenant("acme")))
//!     .build()?;
//! # let _ = client;
//! # Ok::<(), kallglot::Error>(())
//! ```

use std::fmt;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Called for every attempt of every REST request of a client and its clones.
///
/// Both methods do nothing by default. They run inline on the request's task, so keep
/// them quick and never block.
pub trait Middleware: Send + Sync + 'static {
    /// Before an attempt is sent: may add or replace headers.
    fn on_request(&self, request: &mut RequestView<'_>) {
        let _ = request;
    }

    /// When an attempt got a response (any status), before the SDK reads its body.
    fn on_response(&self, response: &ResponseView<'_>) {
        let _ = response;
    }
}

impl fmt::Debug for dyn Middleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Middleware")
    }
}

/// Headers a middleware may neither read nor set.
fn is_protected(name: &str) -> bool {
    ["authorization", "x-api-key", "idempotency-key"]
        .iter()
        .any(|p| p.eq_ignore_ascii_case(name))
}

/// Why [`RequestView::set_header`] refused a header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The name is not a valid HTTP header name.
    InvalidName,
    /// The value is not a valid HTTP header value (for example, it has a line break).
    InvalidValue,
    /// The header is one the SDK owns: `Authorization`, `X-API-Key` or `Idempotency-Key`.
    Protected,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidName => "not a valid HTTP header name",
            Self::InvalidValue => "not a valid HTTP header value",
            Self::Protected => "the SDK owns this header (credentials or idempotency key)",
        })
    }
}

impl std::error::Error for HeaderError {}

/// One attempt of a request, as a middleware sees it.
pub struct RequestView<'a> {
    pub(crate) operation: &'static str,
    pub(crate) attempt: u32,
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) headers: &'a mut HeaderMap,
}

impl RequestView<'_> {
    /// The operation's id from the API reference, such as `create_session`, or `raw` for
    /// a [`Client::request`](crate::Client::request) to an unlisted route.
    pub fn operation(&self) -> &str {
        self.operation
    }

    /// Which attempt this is: 1 for the first, 2 for the first retry, and so on.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The HTTP method, such as `POST`.
    pub fn method(&self) -> &str {
        self.method
    }

    /// The URL's path, such as `/v1/sessions`.
    pub fn path(&self) -> &str {
        self.path
    }

    /// The first value of a header, when it is text; never a credential header's.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(self.headers, name)
    }

    /// The headers to be sent, as name and value; credential headers are left out.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        headers(self.headers)
    }

    /// Sets a header, replacing any value it had.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        if is_protected(name) {
            return Err(HeaderError::Protected);
        }
        let name = HeaderName::try_from(name).map_err(|_| HeaderError::InvalidName)?;
        let value = HeaderValue::try_from(value).map_err(|_| HeaderError::InvalidValue)?;
        self.headers.insert(name, value);
        Ok(())
    }
}

/// The response to one attempt, as a middleware sees it.
pub struct ResponseView<'a> {
    pub(crate) operation: &'static str,
    pub(crate) attempt: u32,
    pub(crate) status: u16,
    pub(crate) headers: &'a HeaderMap,
}

impl ResponseView<'_> {
    /// The operation's id, as in [`RequestView::operation`].
    pub fn operation(&self) -> &str {
        self.operation
    }

    /// Which attempt this answers (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of a header, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        header(self.headers, name)
    }

    /// The response's headers, as name and value (values that are not text are left out).
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        headers(self.headers)
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    if is_protected(name) && !name.eq_ignore_ascii_case("idempotency-key") {
        return None;
    }
    headers.get(name)?.to_str().ok()
}

fn headers(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers.iter().filter_map(|(name, value)| {
        let name = name.as_str();
        let secret = name == "authorization" || name == "x-api-key";
        Some((name, value.to_str().ok()?)).filter(|_| !secret)
    })
}

/// Calls every middleware in turn; nothing when there is none.
pub(crate) fn before_send(
    middleware: &[std::sync::Arc<dyn Middleware>],
    operation: &'static str,
    attempt: u32,
    request: &mut reqwest::Request,
) {
    if middleware.is_empty() {
        return;
    }
    let method = request.method().as_str().to_string();
    let path = request.url().path().to_string();
    let mut view = RequestView {
        operation,
        attempt,
        method: &method,
        path: &path,
        headers: request.headers_mut(),
    };
    for m in middleware {
        m.on_request(&mut view);
    }
}

/// Shows a response to every middleware in turn.
pub(crate) fn after_response(
    middleware: &[std::sync::Arc<dyn Middleware>],
    operation: &'static str,
    attempt: u32,
    response: &reqwest::Response,
) {
    if middleware.is_empty() {
        return;
    }
    let view = ResponseView {
        operation,
        attempt,
        status: response.status().as_u16(),
        headers: response.headers(),
    };
    for m in middleware {
        m.on_response(&view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_are_hidden_and_owned_headers_refused() {
        let mut map = HeaderMap::new();
        map.insert("authorization", "Bearer sk_test_secret".parse().unwrap());
        map.insert("x-api-key", "sk_test_secret".parse().unwrap());
        map.insert("idempotency-key", "k1".parse().unwrap());
        let mut view = RequestView {
            operation: "create_session",
            attempt: 1,
            method: "POST",
            path: "/v1/sessions",
            headers: &mut map,
        };
        assert_eq!(view.header("Authorization"), None);
        assert_eq!(view.header("x-api-key"), None);
        assert_eq!(view.header("idempotency-key"), Some("k1"));
        assert!(view.headers().all(|(_, v)| !v.contains("secret")));
        for owned in ["Authorization", "X-API-Key", "Idempotency-Key"] {
            assert_eq!(view.set_header(owned, "x"), Err(HeaderError::Protected));
        }
        assert_eq!(
            view.set_header("bad name", "x"),
            Err(HeaderError::InvalidName)
        );
        assert_eq!(
            view.set_header("x-a", "a\nb"),
            Err(HeaderError::InvalidValue)
        );
        view.set_header("x-a", "1").unwrap();
        view.set_header("X-A", "2").unwrap();
        assert_eq!(view.header("x-a"), Some("2"));
        assert_eq!(map.get("idempotency-key").unwrap(), "k1");
    }
}
