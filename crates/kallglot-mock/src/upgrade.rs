//! The server half of the WebSocket opening handshake (RFC 6455 §4.2), on hyper's own
//! connection upgrade, handing the upgraded connection to tokio-tungstenite.
//!
//! axum's `ws` extractor does the same job, but it is built on the tungstenite version axum
//! chose, which need not be the SDK's; doing the handshake here keeps one tungstenite in
//! the workspace. Only HTTP/1.1 upgrades are accepted (as axum without `http2` does).

use std::future::Future;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use sha1::{Digest, Sha1};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// An accepted WebSocket, as the stream route uses it.
pub(crate) type Socket = WebSocketStream<TokioIo<Upgraded>>;

/// The GUID RFC 6455 appends to the client's key before hashing it.
const ACCEPT_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A request that asks for a WebSocket upgrade, checked and ready to accept.
pub(crate) struct WebSocketUpgrade {
    accept: HeaderValue,
    on_upgrade: OnUpgrade,
}

/// The request is not a well-formed WebSocket upgrade. The stream route answers it with
/// its own error envelope; this bare 426 is only axum's fallback.
#[derive(Debug)]
pub(crate) struct NotAnUpgrade;

impl IntoResponse for NotAnUpgrade {
    fn into_response(self) -> Response {
        StatusCode::UPGRADE_REQUIRED.into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = NotAnUpgrade;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, NotAnUpgrade> {
        if parts.method != Method::GET || !asks_for_websocket(&parts.headers) {
            return Err(NotAnUpgrade);
        }
        let key = parts
            .headers
            .get(header::SEC_WEBSOCKET_KEY)
            .filter(|key| is_valid_key(key.as_bytes()))
            .ok_or(NotAnUpgrade)?;
        let accept = accept_key(key.as_bytes());
        // Present when hyper serves the connection with upgrades enabled.
        let on_upgrade = parts.extensions.remove::<OnUpgrade>().ok_or(NotAnUpgrade)?;
        Ok(Self { accept, on_upgrade })
    }
}

impl WebSocketUpgrade {
    /// Answers `101 Switching Protocols` and, once hyper hands over the connection, runs
    /// `session` on the WebSocket in a task of its own.
    pub(crate) fn on_upgrade<F, Fut>(self, config: WebSocketConfig, session: F) -> Response
    where
        F: FnOnce(Socket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => {
                    let io = TokioIo::new(upgraded);
                    let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config));
                    session(socket.await).await;
                }
                Err(e) => tracing::debug!(error = %e, "the WebSocket upgrade did not complete"),
            }
        });
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::SEC_WEBSOCKET_ACCEPT, self.accept);
        response
    }
}

/// `Connection: upgrade`, `Upgrade: websocket` and `Sec-WebSocket-Version: 13`.
fn asks_for_websocket(headers: &HeaderMap) -> bool {
    let has_token = |name, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    has_token(header::CONNECTION, "upgrade")
        && has_token(header::UPGRADE, "websocket")
        && headers
            .get(header::SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v.as_bytes() == b"13")
}

/// A key is the base64 of 16 bytes (RFC 6455 §4.1).
fn is_valid_key(key: &[u8]) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|bytes| bytes.len() == 16)
}

/// `Sec-WebSocket-Accept`: base64 of the SHA-1 of the key and the RFC's GUID.
fn accept_key(key: &[u8]) -> HeaderValue {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(ACCEPT_GUID);
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.finalize());
    HeaderValue::from_str(&accept).expect("base64 is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        // RFC 6455 §1.3.
        let accept = accept_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(is_valid_key(b"dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_valid_key(b"c2hvcnQ="), "8 bytes");
        assert!(!is_valid_key(b"not base64 at all!"));
    }

    #[test]
    fn only_a_websocket_upgrade_asks_for_one() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(*name, HeaderValue::from_static(value));
            }
            map
        };
        let good = [
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "WebSocket"),
            ("sec-websocket-version", "13"),
        ];
        assert!(asks_for_websocket(&headers(&good)));
        assert!(!asks_for_websocket(&headers(&good[..2])), "no version");
        assert!(!asks_for_websocket(&headers(&[
            ("connection", "upgrade"),
            ("upgrade", "h2c"),
            ("sec-websocket-version", "13"),
        ])));
        assert!(!asks_for_websocket(&headers(&[
            ("connection", "upgrade"),
            ("upgrade", "websocket"),
            ("sec-websocket-version", "8"),
        ])));
    }
}
