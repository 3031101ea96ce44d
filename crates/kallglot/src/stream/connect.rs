//! Dialling the stream: URL with token, handshake headers, socket buffer sizes, and
//! errors that never contain the token.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, http::HeaderValue};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::StreamError;
use crate::model::StreamCredentials;

/// The connected socket type.
pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Read buffer per connection. tungstenite's 128 KiB default is touched on the first read
/// and dominates memory with many streams; protocol messages are a few hundred bytes and
/// audio frames about 1–2 KiB, so 8 KiB costs nothing in throughput here.
const READ_BUFFER: usize = 8 * 1024;
/// Bound on unsent data when the server stops reading: past it a send fails instead of
/// buffering without limit.
const MAX_WRITE_BUFFER: usize = 256 * 1024;
/// The largest message accepted from the server.
const MAX_MESSAGE: usize = 1024 * 1024;

/// Where to connect: the stream URL with the token, kept out of every `Debug` and message.
#[derive(Clone)]
pub(crate) struct Target {
    url: url::Url,
    expires_at: DateTime<Utc>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.url.host_str())
            .field("path", &self.url.path())
            .field("token", &"[redacted]")
            .finish()
    }
}

impl Target {
    /// Validates the credentials and builds the URL; an expired token fails here, before
    /// anything is dialled.
    pub(crate) fn new(
        credentials: &StreamCredentials,
        now: DateTime<Utc>,
    ) -> Result<Self, StreamError> {
        if credentials.is_expired_at(now) {
            return Err(StreamError::StreamTokenExpired {
                expires_at: credentials.expires_at,
            });
        }
        let mut url = url::Url::parse(&credentials.url).map_err(|_| StreamError::InvalidUrl)?;
        if !matches!(url.scheme(), "ws" | "wss") || url.host_str().is_none() {
            return Err(StreamError::InvalidUrl);
        }
        // The protocol accepts the token only as the `token` query parameter; appending it
        // with the URL encoder keeps any query the URL already has.
        url.query_pairs_mut()
            .append_pair("token", credentials.token.expose_secret());
        Ok(Self {
            url,
            expires_at: credentials.expires_at,
        })
    }

    /// Whether the token can still open a new connection at `now`.
    pub(crate) fn usable_at(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at
    }
}

fn config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        // Write each message through at once: frames are small and latency matters.
        .write_buffer_size(0)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

/// Opens the WebSocket. No `Authorization` header is sent: the stream never accepts the
/// API key, and the token travels in the query.
pub(crate) async fn dial(target: &Target, timeout: Duration) -> Result<Socket, StreamError> {
    let mut request = target
        .url
        .as_str()
        .into_client_request()
        .map_err(|_| StreamError::InvalidUrl)?;
    let agent = HeaderValue::from_str(&crate::config::default_user_agent())
        .expect("the user agent is a valid header value");
    request.headers_mut().insert("user-agent", agent);
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config()), true);
    match tokio::time::timeout(timeout, connecting).await {
        Err(_) => Err(StreamError::ConnectTimeout(timeout)),
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(e)) => Err(handshake_error(e)),
    }
}

/// Maps a dial failure without ever formatting the URL (it carries the token).
fn handshake_error(error: tungstenite::Error) -> StreamError {
    use super::HandshakeRejection as R;
    match error {
        tungstenite::Error::Http(response) => {
            let status = response.status().as_u16();
            let rejection = match status {
                401 => R::Unauthorized,
                403 => R::Forbidden,
                404 => R::NotFound,
                _ => R::Other,
            };
            StreamError::HandshakeRejected { status, rejection }
        }
        tungstenite::Error::Io(e) => StreamError::Connect(format!("network error: {}", e.kind())),
        tungstenite::Error::Tls(_) => StreamError::Connect("TLS handshake failed".into()),
        tungstenite::Error::Url(_) => StreamError::InvalidUrl,
        other => StreamError::Connect(format!(
            "protocol error during the handshake: {}",
            kind(&other)
        )),
    }
}

fn kind(error: &tungstenite::Error) -> &'static str {
    match error {
        tungstenite::Error::Protocol(_) => "invalid WebSocket handshake",
        tungstenite::Error::HttpFormat(_) => "malformed HTTP",
        tungstenite::Error::Capacity(_) => "message too large",
        _ => "unexpected failure",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StreamToken;

    fn credentials(url: &str, expires_at: &str) -> StreamCredentials {
        StreamCredentials::new(
            url.to_string(),
            StreamToken::new("kst_test_SECRET/+&="),
            expires_at.parse().unwrap(),
        )
    }

    #[test]
    fn the_token_goes_only_in_the_query_and_is_encoded() {
        let now: DateTime<Utc> = "2026-03-26T11:00:00Z".parse().unwrap();
        let target = Target::new(
            &credentials(
                "wss://api.kallglot.com/v1/sessions/sess_1/connect",
                "2026-03-26T11:05:00Z",
            ),
            now,
        )
        .unwrap();
        assert_eq!(
            target.url.as_str(),
            "wss://api.kallglot.com/v1/sessions/sess_1/connect?token=kst_test_SECRET%2F%2B%26%3D"
        );
        assert!(!format!("{target:?}").contains("SECRET"));
        let with_query = Target::new(
            &credentials("wss://h/v1/s/connect?region=eu", "2026-03-26T11:05:00Z"),
            now,
        )
        .unwrap();
        assert_eq!(
            with_query.url.query(),
            Some("region=eu&token=kst_test_SECRET%2F%2B%26%3D")
        );
    }

    #[test]
    fn expired_tokens_and_bad_urls_fail_before_dialling() {
        let now: DateTime<Utc> = "2026-03-26T11:05:00Z".parse().unwrap();
        let err = Target::new(
            &credentials("wss://h/v1/s/connect", "2026-03-26T11:05:00Z"),
            now,
        )
        .unwrap_err();
        assert!(matches!(err, StreamError::StreamTokenExpired { .. }));
        for bad in ["https://h/connect", "not a url", "file:///tmp/socket"] {
            let err = Target::new(&credentials(bad, "2026-03-26T11:09:00Z"), now).unwrap_err();
            assert!(matches!(err, StreamError::InvalidUrl), "{bad}");
        }
    }
}
