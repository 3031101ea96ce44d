//! Dialling the stream: which URLs may carry the token, the WebSocket upgrade through
//! the SDK's one HTTP client, and errors that never contain the token.
//!
//! The upgrade is an ordinary HTTP/1.1 request sent by the same `reqwest::Client` as the
//! REST calls (same TLS stack and roots, proxy, user agent); once the server answers
//! 101 and the accept key checks out, [`super::socket`] frames the upgraded connection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use http::header;
use sha1::{Digest, Sha1};

use super::socket::{Limits, Masks, WebSocket};
use super::{HandshakeRejection, StreamError};
use crate::model::StreamCredentials;
use crate::net::SecureRandom;

/// The connected socket type.
pub(crate) type Socket = WebSocket<reqwest::Upgraded>;

/// The socket's limits. Reading 4 KiB at a time: server messages are a few hundred bytes
/// (transcripts, acknowledgements), and a large read buffer per connection would dominate
/// memory with many streams; a larger message just takes several reads. Unsent data is bounded when the server stops
/// reading: past 256 KiB a send fails instead of buffering without limit. Messages from
/// the server are at most 1 MiB.
const LIMITS: Limits = Limits {
    read_chunk: 4 * 1024,
    max_write_buffer: 256 * 1024,
    max_message: 1024 * 1024,
};

/// How much of a refused upgrade's body is read for its error envelope.
const MAX_REFUSAL_BODY: usize = 16 * 1024;

/// Why an upgrade answered over another HTTP version fails; only a caller's own client
/// (`ClientBuilder::http_client`) can get there, since the SDK's speaks only HTTP/1.1.
const HTTP1_REQUIRED: &str = "the stream's WebSocket upgrade needs HTTP/1.1, but the connection used another version: \
     allow HTTP/1.1 on the reqwest::Client given to `http_client` (no `http2_prior_knowledge`)";

/// RFC 6455's GUID, appended to the key to compute `Sec-WebSocket-Accept`.
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What every stream connection of one client shares: the HTTP client, the hosts a token
/// may be sent to, and the secure random source for keys and masks.
#[derive(Clone)]
pub(crate) struct Dialer {
    http: reqwest::Client,
    /// The API host first, then the hosts allowed with `allow_stream_host`, spelled as
    /// the URL parser spells them.
    hosts: Arc<[String]>,
    random: SecureRandom,
}

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialer")
            .field("hosts", &self.hosts)
            .finish_non_exhaustive()
    }
}

impl Dialer {
    pub(crate) fn new(http: reqwest::Client, hosts: Vec<String>, random: SecureRandom) -> Self {
        Self {
            http,
            hosts: hosts.into(),
            random,
        }
    }

    fn allows(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    fn random<const N: usize>(&self) -> Result<[u8; N], StreamError> {
        let mut bytes = [0u8; N];
        self.random
            .fill(&mut bytes)
            .map_err(|_| StreamError::connect("no secure random bytes are available", None))?;
        Ok(bytes)
    }
}

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
    /// Validates the credentials and builds the URL. An expired token, a URL that is not
    /// `wss://` (or `ws://` on loopback), and a host the dialer may not reach all fail
    /// here, before anything is dialled.
    pub(crate) fn new(
        credentials: &StreamCredentials,
        dialer: &Dialer,
        now: DateTime<Utc>,
    ) -> Result<Self, StreamError> {
        if credentials.is_expired_at(now) {
            return Err(StreamError::StreamTokenExpired {
                expires_at: credentials.expires_at,
            });
        }
        let mut url = url::Url::parse(&credentials.url).map_err(|_| StreamError::InvalidUrl)?;
        let Some(host) = url.host_str() else {
            return Err(StreamError::InvalidUrl);
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(StreamError::InvalidUrl);
        }
        match url.scheme() {
            "wss" => {}
            // Like REST's plain http: clear text only to this machine.
            "ws" if crate::config::is_loopback(&url) => {}
            "ws" => return Err(StreamError::InsecureUrl),
            _ => return Err(StreamError::InvalidUrl),
        }
        if !dialer.allows(host) {
            return Err(StreamError::HostNotAllowed {
                host: host.to_string(),
            });
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

    /// The URL of the upgrade request (`http(s)` instead of `ws(s)`).
    fn http_url(&self) -> url::Url {
        let mut url = self.url.clone();
        let scheme = if url.scheme() == "wss" {
            "https"
        } else {
            "http"
        };
        // Both are special schemes, so the change is always accepted.
        let _ = url.set_scheme(scheme);
        url
    }

    fn token(&self) -> Option<String> {
        self.url
            .query_pairs()
            .filter(|(k, _)| k == "token")
            .map(|(_, v)| v.into_owned())
            .last()
    }
}

/// Opens the WebSocket within `timeout`. No `Authorization` header is sent: the stream
/// never accepts the API key, and the token travels in the query.
pub(crate) async fn dial(
    dialer: &Dialer,
    target: &Target,
    timeout: Duration,
) -> Result<Socket, StreamError> {
    match tokio::time::timeout(timeout, upgrade(dialer, target)).await {
        Err(_) => Err(StreamError::ConnectTimeout(timeout)),
        Ok(outcome) => outcome,
    }
}

async fn upgrade(dialer: &Dialer, target: &Target) -> Result<Socket, StreamError> {
    let key = base64::engine::general_purpose::STANDARD.encode(dialer.random::<16>()?);
    let response = dialer
        .http
        .get(target.http_url())
        .version(http::Version::HTTP_11)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, &key)
        .send()
        .await
        .map_err(|e| transport_error("the connection failed", e))?;
    if response.version() != http::Version::HTTP_11 {
        return Err(StreamError::connect(HTTP1_REQUIRED, None));
    }
    let status = response.status();
    if status != http::StatusCode::SWITCHING_PROTOCOLS {
        return Err(rejection(target, response).await);
    }
    check_accept(response.headers(), &key)?;
    let upgraded = response
        .upgrade()
        .await
        .map_err(|e| transport_error("the upgrade failed", e))?;
    Ok(WebSocket::new(upgraded, LIMITS, Masks::new(dialer.random)))
}

/// A transport failure, with its causes kept as the error's source. reqwest errors
/// print their URL, which carries the token here, so it is removed first.
fn transport_error(what: &str, error: reqwest::Error) -> StreamError {
    StreamError::connect(what, Some(Box::new(error.without_url())))
}

/// Checks that the server really switched to WebSocket for this request.
fn check_accept(headers: &http::HeaderMap, key: &str) -> Result<(), StreamError> {
    let has = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has(header::UPGRADE, "websocket") || !has(header::CONNECTION, "upgrade") {
        return Err(StreamError::connect(
            "the server answered 101 without upgrading to WebSocket",
            None,
        ));
    }
    let expected = accept_key(key);
    let accept = headers.get(header::SEC_WEBSOCKET_ACCEPT);
    if accept.map(|v| v.as_bytes()) != Some(expected.as_bytes()) {
        return Err(StreamError::connect(
            "the server's Sec-WebSocket-Accept does not match the key sent",
            None,
        ));
    }
    Ok(())
}

fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Reads a refused upgrade (bounded) into a typed rejection with the server's error code,
/// message and request id.
async fn rejection(target: &Target, mut response: reqwest::Response) -> StreamError {
    let status = response.status().as_u16();
    let headers = std::mem::take(response.headers_mut());
    let mut body = Vec::new();
    while body.len() < MAX_REFUSAL_BODY {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            // A body that breaks off still leaves the status and headers to report.
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_REFUSAL_BODY);
    let mut detail = crate::transport::refusal("connect_stream", status, &headers, &body);
    // A server echoing the request back must not put the token into an error.
    if let Some(token) = target.token().filter(|t| !t.is_empty()) {
        detail.message = detail.message.replace(&token, "[redacted]");
        if let Some(snippet) = &mut detail.body_snippet {
            *snippet = snippet.replace(&token, "[redacted]");
        }
    }
    let rejection = match status {
        401 => HandshakeRejection::Unauthorized,
        403 => HandshakeRejection::Forbidden,
        404 => HandshakeRejection::NotFound,
        _ => HandshakeRejection::Other,
    };
    StreamError::HandshakeRejected {
        status,
        rejection,
        detail: Box::new(detail),
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

    fn dialer(hosts: &[&str]) -> Dialer {
        Dialer::new(
            reqwest::Client::new(),
            hosts.iter().map(|h| h.to_string()).collect(),
            crate::net::secure_random().unwrap(),
        )
    }

    #[test]
    fn the_token_goes_only_in_the_query_and_is_encoded() {
        let now: DateTime<Utc> = "2026-03-26T11:00:00Z".parse().unwrap();
        let dialer = dialer(&["api.kallglot.com", "h"]);
        let target = Target::new(
            &credentials(
                "wss://api.kallglot.com/v1/sessions/sess_1/connect",
                "2026-03-26T11:05:00Z",
            ),
            &dialer,
            now,
        )
        .unwrap();
        assert_eq!(
            target.url.as_str(),
            "wss://api.kallglot.com/v1/sessions/sess_1/connect?token=kst_test_SECRET%2F%2B%26%3D"
        );
        assert_eq!(target.http_url().scheme(), "https");
        assert_eq!(target.token().as_deref(), Some("kst_test_SECRET/+&="));
        assert!(!format!("{target:?}").contains("SECRET"));
        let with_query = Target::new(
            &credentials("wss://h/v1/s/connect?region=eu", "2026-03-26T11:05:00Z"),
            &dialer,
            now,
        )
        .unwrap();
        assert_eq!(
            with_query.url.query(),
            Some("region=eu&token=kst_test_SECRET%2F%2B%26%3D")
        );
    }

    #[test]
    fn expired_tokens_bad_urls_clear_text_and_foreign_hosts_fail_before_dialling() {
        let now: DateTime<Utc> = "2026-03-26T11:05:00Z".parse().unwrap();
        let dialer = dialer(&["api.kallglot.com", "127.0.0.1", "localhost"]);
        let target =
            |url: &str| Target::new(&credentials(url, "2026-03-26T11:09:00Z"), &dialer, now);
        let err = Target::new(
            &credentials(
                "wss://api.kallglot.com/v1/s/connect",
                "2026-03-26T11:05:00Z",
            ),
            &dialer,
            now,
        )
        .unwrap_err();
        assert!(matches!(err, StreamError::StreamTokenExpired { .. }));
        for bad in [
            "https://api.kallglot.com/connect",
            "not a url",
            "file:///tmp/socket",
            "wss://user:pw@api.kallglot.com/connect",
        ] {
            assert!(matches!(target(bad), Err(StreamError::InvalidUrl)), "{bad}");
        }
        assert!(matches!(
            target("ws://api.kallglot.com/v1/s/connect"),
            Err(StreamError::InsecureUrl)
        ));
        for foreign in [
            "wss://evil.example/v1/s/connect",
            "wss://api.kallglot.com.evil.example/v1/s/connect",
            "wss://[::1]/v1/s/connect",
        ] {
            match target(foreign) {
                Err(StreamError::HostNotAllowed { host }) => {
                    assert!(foreign.contains(&host), "{host}")
                }
                other => panic!("{foreign}: {other:?}"),
            }
        }
        for ok in [
            "wss://API.kallglot.com/v1/s/connect",
            "ws://127.0.0.1:9000/v1/s/connect",
            "ws://localhost:9000/v1/s/connect",
            "wss://127.0.0.1:9443/v1/s/connect",
        ] {
            assert!(target(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn the_accept_key_follows_rfc_6455() {
        // The example handshake of RFC 6455, section 1.3.
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        let mut headers = http::HeaderMap::new();
        headers.insert(header::UPGRADE, "WebSocket".parse().unwrap());
        headers.insert(header::CONNECTION, "keep-alive, Upgrade".parse().unwrap());
        headers.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".parse().unwrap(),
        );
        assert!(check_accept(&headers, "dGhlIHNhbXBsZSBub25jZQ==").is_ok());
        assert!(check_accept(&headers, "another key").is_err());
        headers.remove(header::UPGRADE);
        assert!(check_accept(&headers, "dGhlIHNhbXBsZSBub25jZQ==").is_err());
    }
}
