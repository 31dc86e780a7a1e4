//! The poll loop shared by [`WebSocket`](super::WebSocket) and the split
//! halves: it moves bytes between the transport and the [`Connection`] and
//! nothing else, so whatever the connection does to them (a compressing
//! connection, say) needs no change here.

use std::cell::RefCell;
use std::io::{self, ErrorKind, IoSlice, Write};
use std::pin::Pin;
use std::string::String;
use std::sync::OnceLock;
use std::task::{ready, Context, Poll, Waker};
use std::thread_local;
use std::time::{Duration, Instant};
use std::vec::Vec;

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Error;
use crate::close::CloseCode;
use crate::connection::{Connection, MessageKind, SendError, Sender, State};
use crate::lane::ReplyLane;

/// Default for [`set_high_water`](super::WebSocket::set_high_water).
pub(crate) const DEFAULT_HIGH_WATER: usize = 1 << 20;

/// Messages from this size on are written straight from the caller's
/// buffer when nothing is queued; smaller ones are copied into the queue,
/// which costs less than the vectored write's extra slices, and leave in
/// one plain write.
pub(crate) const DIRECT_MIN: usize = 4096;

/// The connection, its transport, and the little state a driver adds.
pub(crate) struct Driver<S: AsyncWrite + Unpin> {
    pub(crate) io: S,
    pub(crate) conn: Connection,
    /// Above this many bytes of queued output, receiving pauses and
    /// writes instead: a peer that sends without reading is slowed by TCP
    /// rather than buffered for.
    pub(crate) high_water: usize,
    /// The transport's write side has been shut down.
    shut_down: bool,
    /// Bytes written so far: the split halves wake each other on progress.
    pub(crate) written: u64,
    /// Large replies from `recv_with`, written from the read buffer when
    /// the input runs out (see `crate::lane`).
    pub(crate) lane: ReplyLane,
    /// The last read filled less than it offered: the transport had no
    /// more then, so the noted replies should leave before waiting.
    short_read: bool,
    /// A read error met while reading ahead (`read_ahead`), reported by
    /// the next read instead.
    read_error: Option<io::Error>,
    /// A `Sink` item the output bound had no room for yet.
    #[cfg(feature = "futures")]
    pub(crate) sink_item: Option<super::Message>,
}

/// Most spare read buffers a thread keeps, and the largest kept.
const SPARES_MAX: usize = 16;
const SPARE_MAX_BYTES: usize = 256 << 10;

thread_local! {
    /// Read buffers for connections whose lane holds their own: the
    /// buffers a lane held come back here once it is written.
    static SPARE_READ: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

fn spare_read() -> Vec<u8> {
    SPARE_READ
        .try_with(|s| s.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn give_back_held(lane: &mut ReplyLane) {
    while let Some(buf) = lane.take_held() {
        if buf.capacity() <= SPARE_MAX_BYTES {
            // `try_with`: a connection dropped while the thread's locals
            // are torn down finds the spares gone (`with` would panic in a
            // destructor, which aborts); the buffer is freed instead.
            let _ = SPARE_READ.try_with(|s| {
                let mut spares = s.borrow_mut();
                if spares.len() < SPARES_MAX {
                    spares.push(buf);
                }
            });
        }
    }
}

/// The caller's clock for [`Connection::commit_read`]: time since the
/// first read of any connection in this process.
fn now() -> Duration {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed()
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    pub(crate) fn new(io: S, conn: Connection) -> Self {
        Driver {
            io,
            conn,
            high_water: DEFAULT_HIGH_WATER,
            shut_down: false,
            written: 0,
            lane: ReplyLane::new(),
            short_read: false,
            read_error: None,
            #[cfg(feature = "futures")]
            sink_item: None,
        }
    }

    /// Queues the `Sink` item still waiting for room, writing output until
    /// it fits: a send or flush must not overtake it.
    pub(crate) fn poll_sink_item(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        #[cfg(feature = "futures")]
        return super::message::poll_sink_item(self, cx);
        #[cfg(not(feature = "futures"))]
        {
            let _ = cx;
            Poll::Ready(Ok(()))
        }
    }

    /// Writes all queued output, then flushes the transport (a TLS stream
    /// holds bytes until then).
    pub(crate) fn poll_write_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.lane.is_empty() {
            if let Err(e) = self.flush_lane(cx) {
                return Poll::Ready(Err(e));
            }
        }
        loop {
            let out = self.conn.output();
            if out.is_empty() {
                break;
            }
            match Pin::new(&mut self.io).poll_write(cx, out) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.conn.consume_output(n);
                    self.written += n as u64;
                }
                Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Writes what is owed and, once the connection is closed, shuts the
    /// transport down when [`Connection::should_close_transport`] says so.
    pub(crate) fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_all(cx))?;
        if !self.shut_down && self.conn.should_close_transport() {
            // Marked done only once it is: a shutdown that returns Pending
            // (a TLS stream writing close_notify into a full socket) is
            // polled again on the next call.
            ready!(Pin::new(&mut self.io).poll_shutdown(cx))?;
            self.shut_down = true;
        }
        Poll::Ready(Ok(()))
    }

    /// Drives the connection until an event is ready for
    /// [`Connection::next_event`]. Output waiting (owed pongs and close
    /// replies, queued sends) is written while it waits for input, so
    /// nothing owed is held back by a read, and a read is not held back by
    /// a write the peer is slow to take.
    ///
    /// Cancellation safe: every byte read is in the connection before this
    /// returns `Pending`.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        loop {
            if self.conn.pending_output_len() > self.high_water {
                ready!(self.poll_write_all(cx))?;
            }
            match self.conn.poll_event() {
                Ok(true) => {
                    if self.conn.peer_close().is_some() {
                        // The peer's close: the reply (and, for a server,
                        // the end of TCP) goes out before the app hears of
                        // it. A transport already broken does not hide the
                        // close from the app.
                        let _ = ready!(self.poll_finish(cx));
                    }
                    return Poll::Ready(Ok(()));
                }
                Ok(false) => {}
                Err(e) => {
                    // The close frame with the error's code is queued.
                    let _ = ready!(self.poll_finish(cx));
                    return Poll::Ready(Err(Error::Protocol(e)));
                }
            }
            if self.conn.state() == State::Closed {
                let _ = ready!(self.poll_finish(cx));
                return Poll::Ready(Err(self.closed_error()));
            }
            // Replies noted from the read buffer wait while input keeps
            // coming, the buffer kept aside when the next read would move
            // it; they leave with the queued output once it runs out.
            let hold = !self.lane.is_empty() && !self.lane.is_full() && !self.short_read;
            let keeps = self.conn.read_keeps_input();
            if hold && !keeps && self.lane.can_hold(self.conn.input_and_sender().0) {
                let old = self.conn.replace_read_buffer(spare_read());
                self.lane.hold(old);
            } else if !hold || !keeps {
                if let Poll::Ready(Err(e)) = self.poll_write_all(cx) {
                    return Poll::Ready(Err(Error::Io(e)));
                }
            }
            match self.poll_read(cx) {
                Poll::Ready(read) => read?,
                Poll::Pending => {
                    if !self.lane.is_empty() {
                        if let Poll::Ready(Err(e)) = self.poll_write_all(cx) {
                            return Poll::Ready(Err(Error::Io(e)));
                        }
                    }
                    return Poll::Pending;
                }
            }
        }
    }

    /// Whether another event is ready without waiting, reading on while
    /// the last read filled all it offered (the transport has more) and
    /// the lane can hold what it noted. The replies noted so far then
    /// leave with the replies to what follows, in one write, instead of
    /// one write per message; what this reads is in the connection, so
    /// nothing is lost if the caller is cancelled after it.
    pub(crate) fn read_ahead(&mut self, cx: &mut Context<'_>) -> bool {
        loop {
            match self.conn.poll_event() {
                Ok(true) => return true,
                Ok(false) => {}
                Err(_) => return false,
            }
            if self.short_read || self.lane.is_full() || self.read_error.is_some() {
                return false;
            }
            // (An end of stream counts as a short read.)
            if self.conn.state() == State::Closed {
                return false;
            }
            // Noted replies point into the read buffer: a read that would
            // move it reads into a spare instead.
            if !self.lane.is_empty() && !self.conn.read_keeps_input() {
                if !self.lane.can_hold(self.conn.input_and_sender().0) {
                    return false;
                }
                let old = self.conn.replace_read_buffer(spare_read());
                self.lane.hold(old);
            }
            match self.poll_read(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    self.read_error = Some(e);
                    return false;
                }
                Poll::Pending => return false,
            }
        }
    }

    /// One read into the connection's buffer.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.read_error.take() {
            return Poll::Ready(Err(e));
        }
        let mut buf = ReadBuf::new(self.conn.read_buf());
        let room = buf.remaining();
        match Pin::new(&mut self.io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                self.short_read = n < room;
                if n == 0 {
                    self.conn.receive_eof();
                } else {
                    self.conn.commit_read(n, now());
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if e.kind() == ErrorKind::Interrupted => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Reads and drops input until end of stream (a client waiting for the
    /// server to close TCP after the closing handshake).
    pub(crate) fn poll_until_eof(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut sink = [0u8; 512];
        loop {
            let mut buf = ReadBuf::new(&mut sink);
            match ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf)) {
                Ok(()) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Queues a message, waiting (writing) while the output bound leaves
    /// no room for it. With `direct`, a message that finds the queue empty
    /// is written straight from `data` (header and payload in one vectored
    /// write) and only what the transport did not take is copied.
    ///
    /// The message is queued whole or not at all when this returns, so a
    /// caller that is cancelled never leaves half a frame behind.
    pub(crate) fn poll_queue(
        &mut self,
        cx: &mut Context<'_>,
        kind: MessageKind,
        data: &[u8],
        direct: bool,
    ) -> Poll<Result<(), Error>> {
        ready!(self.poll_sink_item(cx))?;
        loop {
            let sent = if direct
                && data.len() >= DIRECT_MIN
                && self.lane.is_empty()
                && self.io.is_write_vectored()
            {
                let mut writer = PollWriter {
                    io: Pin::new(&mut self.io),
                    cx,
                    written: &mut self.written,
                };
                match self.conn.send_message_vectored(kind, data, &mut writer) {
                    Ok(sent) => sent,
                    Err(e) => return Poll::Ready(Err(Error::Io(e))),
                }
            } else {
                self.conn.send_message(kind, data)
            };
            match sent {
                Ok(()) => return Poll::Ready(Ok(())),
                Err(SendError::Full) if self.conn.has_output() => {
                    ready!(self.poll_write_all(cx))?;
                }
                Err(e) => return Poll::Ready(Err(Error::Send(e))),
            }
        }
    }

    /// The error for a connection that delivers no more events.
    pub(crate) fn closed_error(&self) -> Error {
        match self.conn.peer_close() {
            Some((code, reason)) => Error::Closed(code, String::from(reason)),
            None => match self.conn.error() {
                Some(e) => Error::Protocol(e),
                None => Error::Closed(CloseCode::ABNORMAL, String::new()),
            },
        }
    }
}

impl<S: AsyncWrite + Unpin> Driver<S> {
    /// Writes the noted replies and the queued output in one write; what
    /// the transport does not take is queued, in order.
    fn flush_lane(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let mut writer = PollWriter {
            io: Pin::new(&mut self.io),
            cx,
            written: &mut self.written,
        };
        let (input, tx) = self.conn.input_and_sender();
        let flushed = self.lane.flush(input, tx, &mut writer);
        give_back_held(&mut self.lane);
        flushed
    }
}

impl<S: AsyncWrite + Unpin> Drop for Driver<S> {
    /// Output still queued (a close frame owed after a protocol error the
    /// app did not wait out, say) is offered to the transport once, without
    /// waiting: a socket with room takes it, one without loses it.
    fn drop(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        if !self.lane.is_empty() {
            let _ = self.flush_lane(&mut cx);
        }
        loop {
            let out = self.conn.output();
            if out.is_empty() {
                break;
            }
            match Pin::new(&mut self.io).poll_write(&mut cx, out) {
                Poll::Ready(Ok(n)) if n > 0 => self.conn.consume_output(n),
                _ => break,
            }
        }
        let _ = Pin::new(&mut self.io).poll_flush(&mut cx);
    }
}

/// The transport as a non-blocking `std::io::Write`, for the core's
/// vectored send: `Pending` reads as `WouldBlock`, with the waker
/// registered.
pub(crate) struct PollWriter<'a, 'b, S> {
    pub(crate) io: Pin<&'a mut S>,
    pub(crate) cx: &'a mut Context<'b>,
    pub(crate) written: &'a mut u64,
}

impl<S: AsyncWrite> PollWriter<'_, '_, S> {
    fn counted(&mut self, r: Poll<io::Result<usize>>) -> io::Result<usize> {
        match r {
            Poll::Ready(Ok(n)) => {
                *self.written += n as u64;
                Ok(n)
            }
            Poll::Ready(Err(e)) => Err(e),
            Poll::Pending => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: AsyncWrite> Write for PollWriter<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.io.as_mut().poll_write(self.cx, buf);
        self.counted(r)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let r = self.io.as_mut().poll_write_vectored(self.cx, bufs);
        self.counted(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.io.as_mut().poll_flush(self.cx) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

/// Sends from inside [`recv_with`](super::WebSocket::recv_with), while the
/// event still borrows the connection's buffers: replies are queued and
/// leave at the latest on the next `recv`, `recv_with` or `flush` (a
/// server's reply of 4 KiB or more is written from the read buffer,
/// without a copy, with the replies to the other messages already read).
///
/// Sends fail with [`SendError::Full`] when the output bound has no room;
/// `recv_with` delivers no event while more than the high-water mark
/// waits, so replies smaller than the bound minus that mark always fit.
pub struct Reply<'a> {
    pub(crate) tx: &'a mut Sender,
    pub(crate) lane: Option<&'a mut ReplyLane>,
}

impl Reply<'_> {
    /// Sends a whole message as one frame.
    pub fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        if data.len() >= DIRECT_MIN {
            if let Some(lane) = self.lane.as_deref_mut() {
                if lane.note(&mut *self.tx, kind, data) {
                    return Ok(());
                }
            }
        }
        self.tx.send_message(kind, data)
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(MessageKind::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(MessageKind::Binary, data)
    }

    /// The connection's sending half, for everything else: pings, pongs,
    /// fragments, close. What it queues goes out like the replies.
    pub fn sender(&mut self) -> &mut Sender {
        self.tx
    }
}
