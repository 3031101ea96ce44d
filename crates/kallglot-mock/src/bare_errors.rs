//! Turning hyper's own error answers into the emulator's error envelope.
//!
//! hyper answers a request it cannot parse (a malformed request line or header, a URI
//! over 64 KiB, a request head over its buffer) by itself, before the router sees
//! anything: a bare status line and headers, with no body and no `X-Request-ID`. Every
//! error the emulator produces must carry the JSON envelope and a request id, so the
//! connection's writer is wrapped: a write that ends with such a bare head is rewritten
//! into the full envelope response.
//!
//! A bare head is recognised by its shape: a complete `HTTP/1.1 400|414|431` response
//! head at the very end of a write, without `X-Request-ID`. Every response the router
//! produces carries `X-Request-ID` (its middleware guarantees it), and JSON bodies never
//! contain a raw line break, so nothing the emulator itself writes matches.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::http::StatusCode;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::error::ApiError;

/// A connection whose bare hyper error heads are rewritten (see the module docs).
pub(crate) struct EnvelopeBareErrors<T> {
    inner: T,
    /// Rewritten bytes still to be written, and how far writing got.
    pending: Vec<u8>,
    written: usize,
}

impl<T> EnvelopeBareErrors<T> {
    pub(crate) fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

impl<T: AsyncWrite + Unpin> EnvelopeBareErrors<T> {
    /// Writes out rewritten bytes left from an earlier call.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for EnvelopeBareErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EnvelopeBareErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        let Some((start, status)) = bare_error_head(buf) else {
            return Pin::new(&mut self.inner).poll_write(cx, buf);
        };
        let mut rewritten = buf[..start].to_vec();
        rewritten.extend_from_slice(&envelope_response(status));
        self.pending = rewritten;
        // The whole buffer is taken: what is not written yet goes out on the next write,
        // flush or shutdown.
        if let Poll::Ready(Err(e)) = self.drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Where a bare hyper error head starts in `buf`, and its status, when `buf` ends with
/// one.
fn bare_error_head(buf: &[u8]) -> Option<(usize, StatusCode)> {
    const PREFIX: &[u8] = b"HTTP/1.1 ";
    if !buf.ends_with(b"\r\n\r\n") {
        return None;
    }
    let start = buf.windows(PREFIX.len()).rposition(|w| w == PREFIX)?;
    let head = std::str::from_utf8(&buf[start..]).ok()?;
    let status = match head.get(PREFIX.len()..PREFIX.len() + 3)? {
        "400" => StatusCode::BAD_REQUEST,
        "414" => StatusCode::URI_TOO_LONG,
        "431" => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        _ => return None,
    };
    // The head must be one complete head: its only blank line is the final one.
    let lines = head[..head.len() - 4].split("\r\n");
    let mut has_request_id = false;
    for line in lines.skip(1) {
        let (name, _) = line.split_once(':')?;
        has_request_id |= name.trim().eq_ignore_ascii_case("x-request-id");
    }
    (!has_request_id).then_some((start, status))
}

/// The full response that replaces a bare head: the envelope, a fresh request id, and
/// `Connection: close` (hyper closes the connection after a parse error).
fn envelope_response(status: StatusCode) -> Vec<u8> {
    let (code, message) = match status {
        StatusCode::URI_TOO_LONG => ("uri_too_long", "The request URI is too long."),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (
            "request_header_fields_too_large",
            "The request's headers are too large.",
        ),
        _ => (
            "invalid_request",
            "The request is not valid HTTP/1.1 and could not be parsed.",
        ),
    };
    let request_id = crate::ids::request_id();
    let body = ApiError::new(status, "invalid_request_error", code, message)
        .body(&request_id)
        .to_string();
    format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: {request_id}\r\nconnection: close\r\n\r\n{body}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error"),
        body.len(),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_trailing_bare_error_head_is_recognised() {
        let bare =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(
            bare_error_head(bare),
            Some((0, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE))
        );
        let mut after_a_response =
            b"HTTP/1.1 200 OK\r\nx-request-id: req_1\r\ncontent-length: 2\r\n\r\n{}".to_vec();
        let start = after_a_response.len();
        after_a_response
            .extend_from_slice(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(
            bare_error_head(&after_a_response),
            Some((start, StatusCode::BAD_REQUEST))
        );
        // The router's own answers carry a request id, and other statuses are not hyper's.
        assert_eq!(
            bare_error_head(b"HTTP/1.1 400 Bad Request\r\nX-Request-ID: req_1\r\n\r\n"),
            None
        );
        assert_eq!(bare_error_head(b"HTTP/1.1 204 No Content\r\n\r\n"), None);
        assert_eq!(
            bare_error_head(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}"),
            None
        );
    }

    #[test]
    fn the_replacement_is_a_complete_envelope_response() {
        let text = String::from_utf8(envelope_response(StatusCode::URI_TOO_LONG)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 414 URI Too Long\r\n"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "uri_too_long");
        let id = json["error"]["request_id"].as_str().unwrap();
        assert!(head.contains(&format!("x-request-id: {id}")));
    }
}
