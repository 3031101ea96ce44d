//! Serving one accepted TCP connection.
//!
//! - HTTP/1.1 and HTTP/2 with prior knowledge are both served (hyper-util's automatic
//!   builder tells them apart by the HTTP/2 preface).
//! - Every wait on the client has a deadline, the configured read timeout: the first
//!   bytes, a request head (hyper's header read timeout) and a request body (the router
//!   reads bodies under the same timeout).
//! - hyper's own answers to unparsable requests are rewritten into the error envelope
//!   ([`bare_errors`](crate::bare_errors)).
//! - A response marked by [`ResetConnection`] becomes a service error, on which hyper
//!   drops the connection without answering.

use std::convert::Infallible;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::bare_errors::EnvelopeBareErrors;
use crate::reset::ResetConnection;

/// The HTTP/2 connection preface, which a prior-knowledge client sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The error hyper gets for a response that must be dropped.
#[derive(Debug)]
struct DroppedByFault;

impl fmt::Display for DroppedByFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for DroppedByFault {}

/// Serves `stream` with `router` until the client or the server closes it.
pub(crate) async fn serve(mut stream: TcpStream, router: axum::Router, read_timeout: Duration) {
    let _ = stream.set_nodelay(true);
    // hyper-util reads the preface to pick the protocol but puts no deadline on it.
    let start = match tokio::time::timeout(read_timeout, read_start(&mut stream)).await {
        Ok(Ok(start)) => start,
        Ok(Err(e)) => {
            tracing::trace!(error = %e, "connection closed before a request");
            return;
        }
        Err(_) => {
            tracing::trace!("no request within the read timeout; closing");
            return;
        }
    };
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut router = router.clone();
        async move {
            let response = router
                .call(request)
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            if response.extensions().get::<ResetConnection>().is_some() {
                return Err(DroppedByFault);
            }
            Ok(response)
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        // One buffer per write, so a bare error head is always seen whole.
        .writev(false);
    builder.http2().timer(TokioTimer::new());
    let io = TokioIo::new(EnvelopeBareErrors::new(Replay::new(start, stream)));
    if let Err(e) = builder.serve_connection_with_upgrades(io, service).await {
        tracing::trace!(error = %e, "connection ended with an error");
    }
}

/// Reads the first bytes of a connection: enough to tell an HTTP/2 preface from
/// anything else.
async fn read_start(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut start = Vec::with_capacity(H2_PREFACE.len());
    let mut chunk = [0u8; 64];
    while start.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(&start) {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        start.extend_from_slice(&chunk[..n]);
    }
    Ok(start)
}

/// A stream whose first bytes, already read, are read again.
struct Replay<T> {
    start: Vec<u8>,
    offset: usize,
    inner: T,
}

impl<T> Replay<T> {
    fn new(start: Vec<u8>, inner: T) -> Self {
        Self {
            start,
            offset: 0,
            inner,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Replay<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.offset < self.start.len() {
            let n = buf.remaining().min(self.start.len() - self.offset);
            let from = self.offset;
            buf.put_slice(&self.start[from..from + n]);
            self.offset += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Replay<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
