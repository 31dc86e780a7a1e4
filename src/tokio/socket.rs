//! [`WebSocket`]: one connection over one transport, driven from one task.

use std::fmt;
use std::future::poll_fn;
use std::string::String;
use std::task::{ready, Poll};

use ::tokio::io::{AsyncRead, AsyncWrite};

use super::driver::{Driver, Reply};
use super::split::{self, RecvHalf, SendHalf};
use super::Error;
use crate::close::{CloseCode, CloseReason};
use crate::connection::{Connection, Event, MessageKind, State};
use crate::frame::{ControlPayload, Role};

/// A WebSocket connection over an async transport: a `TcpStream`, a TLS
/// stream, hyper's upgraded connection (through `hyper_util::rt::TokioIo`),
/// anything `AsyncRead + AsyncWrite + Unpin`.
///
/// It is the sans-I/O [`Connection`] with a poll loop around it: events
/// borrow the connection's buffers as they do in the core, pings are
/// answered and the close handshake completed by themselves, and what the
/// protocol owes goes out while the app waits for input.
///
/// # Cancellation
///
/// Every method may be cancelled (dropped in a `select!`, wrapped in
/// `tokio::time::timeout`) without losing or corrupting anything:
///
/// - `recv`, `recv_with`: bytes read are kept in the connection; an event
///   not yet returned is returned by the next call.
/// - `send`, `feed`, `ping`: the message is queued whole before the first
///   byte of it is written, or not at all; a queued message goes out with
///   the next write (any `send`, `flush`, `recv`).
/// - `flush`, `close`: what is queued stays queued.
///
/// Dropping the `WebSocket` offers queued output (a close frame it owes,
/// say) to the transport once, without waiting.
pub struct WebSocket<S: AsyncRead + AsyncWrite + Unpin> {
    driver: Driver<S>,
    protocol: Option<String>,
    /// The `Stream` has ended.
    #[cfg(feature = "futures")]
    stream_done: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.driver.conn.role())
            .field("state", &self.driver.conn.state())
            .field("protocol", &self.protocol)
            .finish()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Drives `conn` over `io`, whose opening handshake is already done
    /// (by your HTTP server, say). Bytes read past the handshake belong in
    /// `conn` already ([`Connection::receive`]).
    pub fn from_connection(io: S, conn: Connection) -> Self {
        WebSocket {
            driver: Driver::new(io, conn),
            protocol: None,
            #[cfg(feature = "futures")]
            stream_done: false,
        }
    }

    #[cfg(feature = "futures")]
    pub(crate) fn parts(&mut self) -> (&mut Driver<S>, &mut bool) {
        (&mut self.driver, &mut self.stream_done)
    }

    pub(crate) fn with_protocol(mut self, protocol: Option<String>) -> Self {
        self.protocol = protocol;
        self
    }

    /// The subprotocol agreed in the opening handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.driver.conn.state()
    }

    /// The sans-I/O connection, for what the methods here do not cover
    /// (fragmented sends, pongs, limits); what you queue on it goes out on
    /// the next write.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.driver.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.driver.io
    }

    /// Sets the high-water mark (default 1 MiB): while more output than
    /// this waits to be written, `recv` writes instead of reading or
    /// delivering events, so a peer that sends without reading our replies
    /// is held back by TCP instead of filling memory.
    pub fn set_high_water(&mut self, bytes: usize) {
        self.driver.high_water = bytes;
    }

    /// Waits for the next message or control frame.
    ///
    /// The event borrows the connection's buffers (a single-frame message
    /// is unmasked where it was read: no copy); copy what must outlive the
    /// next call. Pings are answered, and the close handshake completed,
    /// before the event is returned. After [`Event::Close`] further calls
    /// fail with [`Error::Closed`]. After an error the close frame the
    /// protocol owes has been sent, with one exception: for a single-frame
    /// text that is not UTF-8 (found as the event is taken) the 1007 close
    /// is queued, and written by the next call (`recv`, `recv_with`,
    /// `flush`, `close`) or tried once when this is dropped. `recv_with`
    /// and [`RecvHalf::recv`] send it before they return.
    ///
    /// Cancellation safe.
    pub async fn recv(&mut self) -> Result<Event<'_>, Error> {
        poll_fn(|cx| self.driver.poll_event(cx)).await?;
        match self.driver.conn.next_event() {
            Ok(Some(event)) => Ok(event),
            // `poll_event` returned, so an event is ready.
            Ok(None) => Err(Error::Closed(CloseCode::ABNORMAL, String::new())),
            // A single-frame text that is not UTF-8, found as the event is
            // taken: its close is queued, and written by the next call (or
            // tried once on drop). Writing it here would need the
            // connection while the returned event may borrow it, so only a
            // second UTF-8 pass over every text could do it.
            Err(e) => Err(Error::Protocol(e)),
        }
    }

    /// Waits for the next event and hands it to `f` together with a
    /// [`Reply`], so that an answer can be sent while the event still
    /// borrows the read buffer: an echo copies nothing it does not have
    /// to. What `f` sends goes out no later than the next `recv`,
    /// `recv_with` or `flush`, the replies to what was read in one write,
    /// and before this returns unless another whole message was read
    /// already or could be read without waiting (while its reads come back
    /// full, `recv_with` reads on, so the echoes of pipelined messages
    /// leave together). A reply of 4 KiB or more is written straight from the read
    /// buffer, without a copy.
    ///
    /// Cancellation safe: `f` runs only in the call that returns its result.
    pub async fn recv_with<R>(
        &mut self,
        f: impl FnOnce(Event<'_>, &mut Reply<'_>) -> R,
    ) -> Result<R, Error> {
        let mut f = Some(f);
        let mut failed = None;
        poll_fn(|cx| {
            let driver = &mut self.driver;
            if let Some(e) = failed {
                let _ = ready!(driver.poll_finish(cx));
                return Poll::Ready(Err(Error::Protocol(e)));
            }
            ready!(driver.poll_event(cx))?;
            let Some(f) = f.take() else {
                return Poll::Ready(Err(Error::Closed(CloseCode::ABNORMAL, String::new())));
            };
            // Large replies are noted and leave from the read buffer, with
            // the replies to what else was read: no copy, one write.
            let direct = driver.conn.role() == Role::Server && driver.io.is_write_vectored();
            if direct {
                driver.lane.open(driver.conn.input_and_sender().0);
            }
            let Driver { conn, lane, .. } = &mut *driver;
            let result = conn.next_event_with(|event, tx| {
                let mut reply = Reply {
                    tx,
                    lane: direct.then_some(lane),
                };
                f(event, &mut reply)
            });
            // Unless another whole message is read, or can be read without
            // waiting (the next `recv_with` takes it at once), the replies
            // leave now: an app that does something else before its next
            // `recv` does not hold them back.
            let owed = !driver.lane.is_empty() || driver.conn.pending_output_len() > 0;
            if owed && !driver.read_ahead(cx) {
                let _ = driver.poll_write_all(cx);
            }
            match result {
                Ok(Some(r)) => Poll::Ready(Ok(r)),
                Ok(None) => Poll::Ready(Err(Error::Closed(CloseCode::ABNORMAL, String::new()))),
                Err(e) => {
                    // Invalid UTF-8 in a single-frame text: send the close.
                    failed = Some(e);
                    let _ = ready!(driver.poll_finish(cx));
                    Poll::Ready(Err(Error::Protocol(e)))
                }
            }
        })
        .await
    }

    /// Sends a whole message as one frame and writes it out.
    ///
    /// Waits while the output bound ([`Limits::max_output_buffer`]) has no
    /// room; a message that could never fit fails with
    /// [`SendError::Full`](crate::SendError::Full). A server writes a
    /// message of 4 KiB or more straight from `data`, without copying it.
    ///
    /// [`Limits::max_output_buffer`]: crate::Limits::max_output_buffer
    pub async fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), Error> {
        let mut queued = false;
        poll_fn(|cx| {
            if !queued {
                ready!(self.driver.poll_queue(cx, kind, data, true))?;
                queued = true;
            }
            self.driver.poll_write_all(cx).map_err(Error::Io)
        })
        .await
    }

    /// Sends a text message and writes it out.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_message(MessageKind::Text, text.as_bytes()).await
    }

    /// Sends a binary message and writes it out.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_message(MessageKind::Binary, data).await
    }

    /// Queues a message without writing it out (many small messages then
    /// leave in one write, at the next [`flush`](Self::flush), `send` or
    /// `recv`). Waits only while the output bound has no room.
    pub async fn feed_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_queue(cx, kind, data, false)).await
    }

    /// Writes everything queued and flushes the transport.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| {
            ready!(self.driver.poll_sink_item(cx))?;
            self.driver.poll_write_all(cx).map_err(Error::Io)
        })
        .await
    }

    /// Sends a ping (at most 125 bytes of payload; more fails with
    /// [`SendError::Full`](crate::SendError::Full)). The pong arrives as
    /// [`Event::Pong`].
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        let payload = ControlPayload::new(payload).ok_or(crate::SendError::Full)?;
        self.driver.conn.ping(payload)?;
        self.flush().await
    }

    /// Closes the connection: sends a close frame (unless one was sent or
    /// received already), drops messages until the peer's close arrives,
    /// and waits for the end of TCP (a server ends it, a client waits for
    /// the server to). Returns the peer's close code and reason.
    ///
    /// A peer that never answers keeps this waiting: bound it with
    /// `tokio::time::timeout` (cancelling it is safe).
    pub async fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
    ) -> Result<(CloseCode, String), Error> {
        // A `Sink` item still waiting for room goes before the close.
        let _ = poll_fn(|cx| self.driver.poll_sink_item(cx)).await;
        let conn = &mut self.driver.conn;
        if conn.peer_close().is_none() && !conn.is_close_queued() && conn.state() == State::Open {
            conn.close(code, CloseReason::truncate(reason))?;
        }
        poll_fn(|cx| close_poll(&mut self.driver, cx)).await
    }

    /// Splits the connection into a receiving and a sending half, for apps
    /// that read and write from different tasks. The halves share the
    /// connection behind a lock held only inside a poll, never across an
    /// `.await`; pongs and close replies go out from whichever half writes
    /// next. The receiving half copies each event into a buffer of its own
    /// (the lock cannot be held while the app looks at it).
    ///
    /// Only the receiving half reads: keep it polled for as long as the
    /// connection lives. With it dropped (or idle), the peer's pings and
    /// its close frame go unanswered while the sending half goes on.
    pub fn split(self) -> (RecvHalf<S>, SendHalf<S>) {
        split::split(self.driver)
    }
}

/// The body of `close`: drain events until the peer's close, then the end
/// of TCP.
pub(crate) fn close_poll<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver<S>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Result<(CloseCode, String), Error>> {
    loop {
        match ready!(driver.poll_event(cx)) {
            Ok(()) => {
                let _ = driver.conn.next_event();
            }
            Err(Error::Closed(..)) => break,
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
    ready!(driver.poll_finish(cx))?;
    if driver.conn.role() == Role::Client && driver.conn.peer_close().is_some() {
        // The server closes TCP first (RFC 6455 section 7.1.1).
        let _ = ready!(driver.poll_until_eof(cx));
    }
    Poll::Ready(match driver.conn.peer_close() {
        Some((code, reason)) => Ok((code, String::from(reason))),
        None => Err(driver.closed_error()),
    })
}
