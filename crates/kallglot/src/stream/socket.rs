//! WebSocket framing over an upgraded connection (RFC 6455, client side).
//!
//! Why not tungstenite's `WebSocket`: its read and write paths log every frame and message
//! through the `log` crate at TRACE (`received frame …` with the payload in hex,
//! `Received message …` with the text), which any app running `env_logger` or
//! tracing-subscriber's `fmt().init()` at TRACE would print: audio, transcripts and
//! translations. There is no per-connection switch, and lowering global log levels would
//! change the user's app. So this module drives tungstenite one level lower: it keeps
//! tungstenite's message and frame-header types (so the worker speaks `Message` as
//! before) and does the small rest itself (assembling fragments, masking, the close
//! handshake, answering pings), without logging payloads. tungstenite's header parser
//! logs only the two header bytes at TRACE.
//!
//! The socket is driven by one task (the stream worker); all progress lives in the
//! struct, so every future built on it is cancel-safe (the worker polls it in a
//! `select!`).

use std::io::Cursor;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use crate::net::SecureRandom;
use bytes::{Buf, Bytes, BytesMut};
use futures_util::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite};
use tungstenite::Message;
use tungstenite::error::{CapacityError, Error, ProtocolError};
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tungstenite::protocol::frame::{FrameHeader, Utf8Bytes};

/// Limits of one connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// How much is read from the connection at once (and the read buffer's usual size).
    pub read_chunk: usize,
    /// Unsent bytes allowed when the peer stops reading; past it a send fails.
    pub max_write_buffer: usize,
    /// The largest message (and frame) accepted from the server.
    pub max_message: usize,
}

/// A source of masking keys. RFC 6455 asks for unpredictable masks (they keep a
/// hostile page from steering what intermediaries see), so they come from the TLS
/// stack's secure random generator (see [`SecureRandom`]), fetched a few dozen at a time.
pub(crate) struct Masks {
    random: SecureRandom,
    pool: [u8; 128],
    used: usize,
}

impl Masks {
    pub(crate) fn new(random: SecureRandom) -> Self {
        Self {
            random,
            pool: [0; 128],
            used: 128,
        }
    }

    fn next(&mut self) -> Result<[u8; 4], Error> {
        if self.used + 4 > self.pool.len() {
            self.random
                .fill(&mut self.pool)
                .map_err(|_| Error::Io(std::io::Error::other("no secure random bytes")))?;
            self.used = 0;
        }
        let mut mask = [0; 4];
        mask.copy_from_slice(&self.pool[self.used..self.used + 4]);
        self.used += 4;
        Ok(mask)
    }
}

/// The client end of a WebSocket connection over `T`.
pub(crate) struct WebSocket<T> {
    io: T,
    limits: Limits,
    masks: Masks,
    /// Bytes read and not yet parsed into frames.
    read: BytesMut,
    /// A fragmented message being assembled: its kind and the data so far.
    fragments: Option<(Data, BytesMut)>,
    /// Encoded frames not yet written (control replies and the message being sent).
    write: Vec<u8>,
    /// How much of `write` has been written already.
    written: usize,
    close_sent: bool,
    close_received: bool,
    /// The connection is finished: nothing more is read or written.
    done: bool,
}

impl<T> WebSocket<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps a connection whose upgrade has completed. `leftover` is what the HTTP layer
    /// read past the 101 response (usually nothing).
    pub(crate) fn new(io: T, limits: Limits, masks: Masks) -> Self {
        Self {
            io,
            limits,
            masks,
            read: BytesMut::new(),
            fragments: None,
            write: Vec::new(),
            written: 0,
            close_sent: false,
            close_received: false,
            done: false,
        }
    }

    /// Sends a close frame (once) and writes out everything queued. The stream of
    /// messages then ends when the server's close frame arrives.
    pub(crate) async fn close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        if !self.close_sent && !self.done {
            self.queue_close(frame)?;
        }
        std::future::poll_fn(|cx| self.poll_write_all(cx)).await
    }

    fn queue_close(&mut self, frame: Option<CloseFrame>) -> Result<(), Error> {
        let payload = match frame {
            Some(CloseFrame { code, reason }) => {
                let mut p = Vec::with_capacity(2 + reason.len());
                p.extend_from_slice(&u16::from(code).to_be_bytes());
                p.extend_from_slice(reason.as_bytes());
                p
            }
            None => Vec::new(),
        };
        self.close_sent = true;
        self.queue(OpCode::Control(Control::Close), &payload)
    }

    /// Encodes one masked frame into the write buffer.
    fn queue(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        let mask = self.masks.next()?;
        let header = FrameHeader {
            opcode,
            mask: Some(mask),
            ..FrameHeader::default()
        };
        if self.written == self.write.len() {
            self.write.clear();
            self.written = 0;
        }
        header.format(payload.len() as u64, &mut self.write)?;
        let start = self.write.len();
        self.write.extend_from_slice(payload);
        for (i, byte) in self.write[start..].iter_mut().enumerate() {
            *byte ^= mask[i & 3];
        }
        Ok(())
    }

    /// Writes the whole write buffer, then flushes the connection.
    fn poll_write_all(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        while self.written < self.write.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.write[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(std::io::ErrorKind::WriteZero.into())));
            }
            self.written += n;
        }
        self.write.clear();
        self.written = 0;
        Pin::new(&mut self.io).poll_flush(cx).map_err(Error::Io)
    }

    /// Parses the next complete message out of the read buffer, if there is one.
    fn parse(&mut self) -> Result<Option<Message>, Error> {
        loop {
            let mut cursor = Cursor::new(&self.read[..]);
            let Some((header, length)) = FrameHeader::parse(&mut cursor)? else {
                return Ok(None);
            };
            let header_len = cursor.position() as usize;
            let max = self.limits.max_message;
            if length > max as u64 {
                return Err(Error::Capacity(CapacityError::MessageTooLong {
                    size: usize::try_from(length).unwrap_or(usize::MAX),
                    max_size: max,
                }));
            }
            let length = length as usize;
            if self.read.len() < header_len + length {
                self.read.reserve(header_len + length - self.read.len());
                return Ok(None);
            }
            self.read.advance(header_len);
            let payload = self.read.split_to(length);
            if header.mask.is_some() {
                return Err(ProtocolError::MaskedFrameFromServer.into());
            }
            if header.rsv1 || header.rsv2 || header.rsv3 {
                return Err(ProtocolError::NonZeroReservedBits.into());
            }
            if let Some(message) = self.on_frame(header, payload)? {
                return Ok(Some(message));
            }
        }
    }

    fn on_frame(
        &mut self,
        header: FrameHeader,
        payload: BytesMut,
    ) -> Result<Option<Message>, Error> {
        match header.opcode {
            OpCode::Control(control) => {
                if !header.is_final {
                    return Err(ProtocolError::FragmentedControlFrame.into());
                }
                if payload.len() > 125 {
                    return Err(ProtocolError::ControlFrameTooBig.into());
                }
                let payload = payload.freeze();
                match control {
                    Control::Ping => {
                        if !self.close_sent {
                            self.queue(OpCode::Control(Control::Pong), &payload)?;
                        }
                        Ok(Some(Message::Ping(payload)))
                    }
                    Control::Pong => Ok(Some(Message::Pong(payload))),
                    Control::Close => self.on_close(payload).map(Some),
                    Control::Reserved(code) => {
                        Err(ProtocolError::UnknownControlFrameType(code).into())
                    }
                }
            }
            OpCode::Data(Data::Continue) => {
                let Some((kind, mut data)) = self.fragments.take() else {
                    return Err(ProtocolError::UnexpectedContinueFrame.into());
                };
                if data.len() + payload.len() > self.limits.max_message {
                    return Err(Error::Capacity(CapacityError::MessageTooLong {
                        size: data.len() + payload.len(),
                        max_size: self.limits.max_message,
                    }));
                }
                data.extend_from_slice(&payload);
                if header.is_final {
                    message(kind, data.freeze()).map(Some)
                } else {
                    self.fragments = Some((kind, data));
                    Ok(None)
                }
            }
            OpCode::Data(kind @ (Data::Text | Data::Binary)) => {
                if let Some((expected, _)) = &self.fragments {
                    return Err(ProtocolError::ExpectedFragment(*expected).into());
                }
                if header.is_final {
                    message(kind, payload.freeze()).map(Some)
                } else {
                    self.fragments = Some((kind, payload));
                    Ok(None)
                }
            }
            OpCode::Data(Data::Reserved(code)) => {
                Err(ProtocolError::UnknownDataFrameType(code).into())
            }
        }
    }

    fn on_close(&mut self, payload: Bytes) -> Result<Message, Error> {
        let frame = match payload.len() {
            0 => None,
            1 => return Err(ProtocolError::InvalidCloseSequence.into()),
            _ => {
                let code = CloseCode::from(u16::from_be_bytes([payload[0], payload[1]]));
                let reason = Utf8Bytes::try_from(payload.slice(2..))
                    .map_err(|e| Error::Utf8(e.to_string()))?;
                Some(CloseFrame { code, reason })
            }
        };
        self.close_received = true;
        if !self.close_sent {
            // Echo the code, as RFC 6455 suggests; a code that may not be sent on the
            // wire is answered as a protocol error.
            let reply = frame.as_ref().map(|f| CloseFrame {
                code: if f.code.is_allowed() {
                    f.code
                } else {
                    CloseCode::Protocol
                },
                reason: Utf8Bytes::default(),
            });
            self.queue_close(reply)?;
        }
        Ok(Message::Close(frame))
    }

    /// Reads more bytes into the read buffer. `Ok(0)` is the end of the connection.
    ///
    /// The read goes into the buffer's spare capacity without zero-filling it first
    /// (tungstenite zero-fills its whole read buffer before every read attempt, even one
    /// that finds nothing to read).
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<usize>> {
        self.read.reserve(self.limits.read_chunk);
        tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.read)
    }
}

fn message(kind: Data, payload: Bytes) -> Result<Message, Error> {
    match kind {
        Data::Text => Utf8Bytes::try_from(payload)
            .map(Message::Text)
            .map_err(|e| Error::Utf8(e.to_string())),
        _ => Ok(Message::Binary(payload)),
    }
}

impl<T> Stream for WebSocket<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            // Pongs and the close reply go out while reading; a blocked write must not
            // stop the reading, so only an error counts here.
            if this.written < this.write.len()
                && let Poll::Ready(Err(e)) = this.poll_write_all(cx)
            {
                this.done = true;
                return Poll::Ready(Some(Err(e)));
            }
            if this.close_sent && this.close_received && this.write.is_empty() {
                // Both close frames are through: the connection is finished.
                this.done = true;
                return Poll::Ready(None);
            }
            match this.parse() {
                Ok(Some(message)) => return Poll::Ready(Some(Ok(message))),
                Ok(None) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
            match ready!(this.poll_fill(cx)) {
                Ok(0) => {
                    this.done = true;
                    return Poll::Ready(if this.close_received {
                        None
                    } else {
                        Some(Err(ProtocolError::ResetWithoutClosingHandshake.into()))
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
            }
        }
    }
}

impl<T> Sink<Message> for WebSocket<T>
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if this.write.len() - this.written >= this.limits.max_write_buffer {
            return this.poll_write_all(cx);
        }
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        let this = self.get_mut();
        if this.done {
            return Err(Error::AlreadyClosed);
        }
        if this.close_sent {
            return Err(ProtocolError::SendAfterClosing.into());
        }
        let (opcode, payload): (OpCode, &[u8]) = match &item {
            Message::Text(text) => (OpCode::Data(Data::Text), text.as_bytes()),
            Message::Binary(data) => (OpCode::Data(Data::Binary), data),
            Message::Ping(data) => (OpCode::Control(Control::Ping), data),
            Message::Pong(data) => (OpCode::Control(Control::Pong), data),
            Message::Close(frame) => return this.queue_close(frame.clone()),
            Message::Frame(_) => return Err(ProtocolError::InvalidOpcode(0).into()),
        };
        if this.write.len() - this.written + payload.len() > this.limits.max_write_buffer {
            return Err(Error::WriteBufferFull(Box::new(item)));
        }
        this.queue(opcode, payload)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_write_all(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let this = self.get_mut();
        if !this.close_sent && !this.done {
            this.queue_close(None)?;
        }
        this.poll_write_all(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const LIMITS: Limits = Limits {
        read_chunk: 16,
        max_write_buffer: 1024,
        max_message: 64,
    };

    fn socket() -> (WebSocket<tokio::io::DuplexStream>, tokio::io::DuplexStream) {
        let (a, b) = tokio::io::duplex(4096);
        let random = crate::net::secure_random().unwrap();
        (WebSocket::new(a, LIMITS, Masks::new(random)), b)
    }

    /// An unmasked server frame.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![first, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    /// Reads one masked client frame (short payloads only) and unmasks it.
    async fn client_frame(peer: &mut tokio::io::DuplexStream) -> (u8, Vec<u8>) {
        let mut head = [0u8; 2];
        peer.read_exact(&mut head).await.unwrap();
        assert_eq!(head[1] & 0x80, 0x80, "client frames are masked");
        let len = (head[1] & 0x7F) as usize;
        let mut mask = [0u8; 4];
        peer.read_exact(&mut mask).await.unwrap();
        let mut payload = vec![0u8; len];
        peer.read_exact(&mut payload).await.unwrap();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i & 3];
        }
        (head[0], payload)
    }

    #[tokio::test]
    async fn fragments_are_assembled_and_pings_answered() {
        let (mut ws, mut peer) = socket();
        let mut bytes = frame(0x01, b"Hol"); // text, not final
        bytes.extend(frame(0x89, b"hi")); // a ping between fragments
        bytes.extend(frame(0x80, b"a")); // final continuation
        peer.write_all(&bytes).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::Ping("hi".into())
        );
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("Hola"));
        ws.flush().await.unwrap();
        assert_eq!(client_frame(&mut peer).await, (0x8A, b"hi".to_vec()));
    }

    #[tokio::test]
    async fn sent_messages_are_masked_and_the_close_handshake_ends_the_stream() {
        let (mut ws, mut peer) = socket();
        ws.send(Message::text("{\"type\":\"ping\"}")).await.unwrap();
        assert_eq!(
            client_frame(&mut peer).await,
            (0x81, b"{\"type\":\"ping\"}".to_vec())
        );
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        ws.close(Some(normal.clone())).await.unwrap();
        assert_eq!(client_frame(&mut peer).await, (0x88, vec![0x03, 0xE8]));
        let err = ws.send(Message::text("late")).await.unwrap_err();
        assert!(matches!(
            err,
            Error::Protocol(ProtocolError::SendAfterClosing)
        ));
        peer.write_all(&frame(0x88, &[0x03, 0xE8])).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::Close(Some(normal))
        );
        assert!(ws.next().await.is_none());
    }

    #[tokio::test]
    async fn a_server_close_is_echoed() {
        let (mut ws, mut peer) = socket();
        peer.write_all(&frame(0x88, b"\x03\xf3bye")).await.unwrap();
        match ws.next().await.unwrap().unwrap() {
            Message::Close(Some(f)) => {
                assert_eq!(u16::from(f.code), 1011);
                assert_eq!(f.reason.as_str(), "bye");
            }
            other => panic!("{other:?}"),
        }
        ws.close(None).await.unwrap();
        assert_eq!(client_frame(&mut peer).await, (0x88, vec![0x03, 0xF3]));
        assert!(ws.next().await.is_none());
    }

    #[tokio::test]
    async fn hostile_frames_are_errors_not_panics() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0x81, 0x80 | 1, 0, 0, 0, 0, b'x'],  // masked server frame
            frame(0xC1, b"x"),                       // reserved bit
            frame(0x09, b"x"),                       // fragmented ping
            frame(0x80, b"x"),                       // continuation without a start
            frame(0x83, b"x"),                       // reserved data opcode
            frame(0x8B, b"x"),                       // reserved control opcode
            frame(0x88, b"\x03"),                    // one-byte close payload
            frame(0x81, &[0xFF, 0xFE]),              // invalid UTF-8
            vec![0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0], // 64 KiB frame over the 64 B limit
        ];
        for bytes in cases {
            let (mut ws, mut peer) = socket();
            peer.write_all(&bytes).await.unwrap();
            let outcome = ws.next().await.unwrap();
            assert!(outcome.is_err(), "{bytes:02x?}: {outcome:?}");
            assert!(
                ws.next().await.is_none(),
                "the socket is finished after an error"
            );
        }
        let (mut ws, mut peer) = socket();
        let mut bytes = frame(0x02, &[0; 40]);
        bytes.extend(frame(0x80, &[0; 40])); // fragments adding up past the limit
        peer.write_all(&bytes).await.unwrap();
        assert!(ws.next().await.unwrap().is_err());
    }

    #[tokio::test]
    async fn a_reset_without_close_is_an_error_and_a_full_buffer_refuses_sends() {
        let (mut ws, peer) = socket();
        drop(peer);
        assert!(matches!(
            ws.next().await,
            Some(Err(Error::Protocol(
                ProtocolError::ResetWithoutClosingHandshake
            )))
        ));
        let (mut ws, _peer) = socket();
        let big = Message::binary(vec![0u8; 2048]);
        assert!(matches!(
            ws.start_send_unpin(big),
            Err(Error::WriteBufferFull(_))
        ));
    }
}
