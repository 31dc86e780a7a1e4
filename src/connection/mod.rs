//! The sans-I/O connection: the only place that holds protocol state.
//!
//! A [`Connection`] turns received bytes into [`Event`]s and the
//! application's sends into bytes to write. It owns no socket: the caller
//! reads into the buffer the connection lends it, pulls events, and drains
//! the output with any write call it likes.
//!
//! ```
//! use core::time::Duration;
//! use rfc6455::connection::{Connection, Config, Event};
//! use rfc6455::frame::{Frame, OpCode};
//!
//! let mut conn = Connection::server(Config::default());
//! // Bytes as they came off the socket: a masked "Hello" and a masked ping.
//! let mut wire = Vec::new();
//! Frame::new(OpCode::Text, b"Hello").masked([1, 2, 3, 4]).encode_to_vec(&mut wire);
//! Frame::new(OpCode::Ping, b"hb").masked([5, 6, 7, 8]).encode_to_vec(&mut wire);
//!
//! let buf = conn.read_buf();
//! buf[..wire.len()].copy_from_slice(&wire);
//! conn.commit_read(wire.len(), Duration::ZERO);
//!
//! // Echo the text back; the ping is answered by itself.
//! conn.next_event_with(|event, tx| match event {
//!     Event::Text(text) => tx.send_text(text).unwrap(),
//!     other => panic!("unexpected {other:?}"),
//! })?;
//! assert!(matches!(conn.next_event()?, Some(Event::Ping(b"hb"))));
//! assert!(conn.next_event()?.is_none()); // everything read has been used
//!
//! // The pong owed for the ping jumps ahead of the queued echo.
//! assert_eq!(conn.output(), &[0x8a, 0x02, b'h', b'b']);
//! # Ok::<(), rfc6455::ProtocolError>(())
//! ```
//!
//! ## Lifetimes of events
//!
//! An [`Event`] borrows from the connection until the next call that takes
//! `&mut self`. A message that arrived in one frame borrows straight from
//! the read buffer, where it was unmasked in place: no copy. A fragmented
//! message is assembled in one reused buffer and borrows from there. Copy
//! what must outlive the borrow.
//!
//! ## Driving it
//!
//! 1. Read from the transport into [`read_buf`](Connection::read_buf) and
//!    report the count with [`commit_read`](Connection::commit_read); on
//!    end of stream call [`receive_eof`](Connection::receive_eof).
//! 2. Pull events with [`next_event`](Connection::next_event) (or
//!    [`next_event_with`](Connection::next_event_with) to reply while the
//!    event is borrowed) until it returns `Ok(None)`.
//! 3. Write [`output`](Sender::output) and report the count with
//!    [`consume_output`](Sender::consume_output) until it is empty.
//! 4. When [`should_close_transport`](Connection::should_close_transport) is
//!    true, close the TCP connection.
//!
//! An error from `next_event` is final: the close frame with its code has
//! been queued; write it out and close the transport.

mod inflate;
mod send;

#[cfg(feature = "deflate")]
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem;
use core::ops::{Deref, DerefMut};
use core::time::Duration;

pub use send::{
    MaskKeySource, MessageKind, SendError, Sender, SharedFrame, SharedRun, MAX_CONTROL_QUEUE,
    SHARED_FRAME_OVERHEAD,
};

use crate::close::{CloseCode, ClosePayload, CloseReason};
#[cfg(feature = "deflate")]
use crate::deflate::{Compressor, Decompressor, Negotiated};
use crate::error::ProtocolError;
use crate::frame::{
    ControlPayload, DecodeRules, FrameHeader, OpCode, Role, Status, MAX_HEADER_LEN, RSV1,
};
use crate::limits::Limits;
use crate::mask::apply_mask;
use crate::utf8::{self, Utf8Validator};

/// How data reaches the application.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// Whole messages: fragments are assembled and checked before the
    /// message is delivered as [`Event::Text`] or [`Event::Binary`].
    #[default]
    Messages,
    /// Frame by frame, for large transfers: a message that arrives in one
    /// frame is still delivered whole, and each frame of a fragmented one as
    /// an [`Event::Fragment`], with nothing assembled.
    Frames,
}

/// Settings of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Size limits; see [`Limits`].
    pub limits: Limits,
    /// Answer every ping with a pong automatically (default true).
    pub auto_pong: bool,
    /// Whole messages (default) or frame by frame.
    pub delivery: Delivery,
    /// The least room [`Connection::read_buf`] offers, in bytes (default
    /// 16 KiB). A frame being received gets room for its remaining bytes
    /// instead if more, within the frame limit, but never more than 16
    /// times what has arrived of it so far (its room grows as it comes, so
    /// announcing a large frame and stalling holds memory in proportion to
    /// what a peer sent, not to what it announced). While reads fill all
    /// the room
    /// they are offered, the least room doubles, up to
    /// [`READ_CHUNK_GROWTH`] times this, so a peer that streams is read in
    /// fewer, larger reads; it falls back to this when the connection
    /// gives its read buffer back (it went idle). A peer that sends a
    /// little at a time never makes it grow.
    pub read_chunk: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            limits: Limits::DEFAULT,
            auto_pong: true,
            delivery: Delivery::Messages,
            read_chunk: 16 << 10,
        }
    }
}

/// How much room a large frame may get per byte of it received (beyond a
/// read's worth). Measured at 10 connections × 256 KiB, one in flight,
/// against room for the whole frame at once: 2 took twice the reads and
/// 15-25 % more CPU per message, 4 took 10-15 % more, 16 the same CPU. A
/// peer that stalls then holds at most 16 times what it sent.
const ROOM_PER_RECEIVED: usize = 16;

/// How far the least room offered to a read grows while reads fill it:
/// up to this many times [`Config::read_chunk`]. Measured on the echo
/// server with 16 KiB messages, 16 in flight: 64 KiB reads against 16 KiB
/// ones cut system calls per message from 1.25 to 0.5 and CPU per message
/// by 9-18 %.
pub const READ_CHUNK_GROWTH: usize = 4;

/// Something the peer sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A whole text message, valid UTF-8.
    Text(&'a str),
    /// A whole binary message.
    Binary(&'a [u8]),
    /// One frame of a fragmented message ([`Delivery::Frames`] only). Text
    /// fragments are checked as UTF-8 across frames but may split a
    /// character.
    Fragment {
        /// The message's type.
        kind: MessageKind,
        /// This frame's payload.
        data: &'a [u8],
        /// This is the message's last frame.
        fin: bool,
    },
    /// A ping. With `auto_pong` on, the pong is already queued.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame. The reply (an echo of the code, or 1000) is
    /// already queued; no events follow.
    Close {
        /// The code, or `None` when the frame carried none (1005 locally).
        code: Option<CloseCode>,
        /// The reason, possibly empty.
        reason: &'a str,
    },
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// One side has sent a close frame and the other has not answered yet.
    Closing,
    /// Both close frames are out, the connection failed, or the transport
    /// ended. No more events.
    Closed,
}

/// Which side started the closing handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Initiator {
    /// This endpoint sent the first close frame (or failed the connection).
    Local,
    /// The peer sent the first close frame.
    Remote,
}

/// Position of the frame whose payload is being received.
#[derive(Debug, Clone, Copy)]
struct PartialFrame {
    header: FrameHeader,
    /// Offset of the payload's first byte in the read buffer.
    start: usize,
    /// Payload bytes already unmasked (and UTF-8 checked, for text).
    processed: usize,
    /// The payload length as `usize` (checked against the limits).
    len: usize,
    /// Part of a message sent with RSV1 (permessage-deflate).
    compressed: bool,
}

/// A message whose frames are still arriving.
#[derive(Debug, Clone, Copy)]
struct OpenMessage {
    kind: MessageKind,
    len: u64,
    fragments: u32,
    compressed: bool,
}

/// The incoming half: read buffer, frame decoding, message assembly.
#[derive(Debug)]
struct Receiver {
    config: Config,
    rules: DecodeRules,
    buf: Vec<u8>,
    /// Start of unread bytes.
    pos: usize,
    /// End of received bytes.
    end: usize,
    /// The least room the next read gets, when above `config.read_chunk`
    /// (see [`Config::read_chunk`]), and the room the last `read_buf` gave.
    chunk: usize,
    offered: usize,
    frame: Option<PartialFrame>,
    message: Option<OpenMessage>,
    utf8: Utf8Validator,
    /// A fragmented binary message.
    assembly: Vec<u8>,
    /// A fragmented text message, appended as it is validated so that it
    /// needs no second check to become a `&str`. Capacity moves between
    /// this and `assembly` as the message kind changes, so only one holds
    /// memory.
    text: String,
    /// The assembly buffers hold a delivered message; clear them first.
    assembly_delivered: bool,
    /// Inflates messages that arrive with RSV1, once permessage-deflate is
    /// negotiated. Boxed: a connection without it pays one pointer.
    #[cfg(feature = "deflate")]
    inflate: Option<Box<Decompressor>>,
    /// Bytes of the compressed message being received already delivered as
    /// fragments (streaming delivery), counted against the message limit.
    inflated_before: usize,
    last_received: Option<Duration>,
    /// The event found by the last `advance`, waiting to be borrowed.
    ready: Option<Ready>,
}

/// A WebSocket connection for one role, without I/O.
///
/// Sending goes through the [`Sender`] it derefs to: `conn.send_text(..)`,
/// `conn.output()`, `conn.consume_output(n)`.
#[derive(Debug)]
pub struct Connection {
    rx: Receiver,
    tx: Sender,
    role: Role,
    ending: Ending,
    close_received: Option<(Option<CloseCode>, CloseReason)>,
    eof: bool,
}

/// How the connection ends, kept apart from the buffers so that a failure
/// can be recorded while an event still borrows them.
#[derive(Debug, Default)]
struct Ending {
    /// No more events: a close was received, the connection failed, or the
    /// transport ended.
    done: bool,
    initiator: Option<Initiator>,
    error: Option<ProtocolError>,
}

impl Ending {
    /// The connection failed with `e`: queue the close frame with its code;
    /// nothing else is said after it.
    fn fail(&mut self, e: ProtocolError, tx: &mut Sender) {
        self.done = true;
        self.error = Some(e);
        if self.initiator.is_none() && !tx.is_close_queued() {
            self.initiator = Some(Initiator::Local);
        }
        tx.drop_owed_pings();
        tx.owe_close(e.close_code(), CloseReason::truncate(e.reason()));
    }
}

impl Connection {
    /// A server-side connection: it requires masked frames and sends
    /// unmasked ones.
    pub fn server(config: Config) -> Self {
        Self::new(Role::Server, config, None)
    }

    /// A client-side connection. `keys` supplies a fresh masking key for
    /// every frame sent (RFC 6455 section 5.3 requires them to be
    /// unpredictable: draw them from the operating system's random source).
    pub fn client(config: Config, keys: MaskKeySource) -> Self {
        Self::new(Role::Client, config, Some(keys))
    }

    fn new(role: Role, config: Config, keys: Option<MaskKeySource>) -> Self {
        let rules = DecodeRules {
            role,
            allowed_rsv: 0,
            max_frame_size: config.limits.max_frame_size,
        };
        Connection {
            rx: Receiver {
                config,
                rules,
                buf: Vec::new(),
                pos: 0,
                end: 0,
                chunk: 0,
                offered: 0,
                frame: None,
                message: None,
                utf8: Utf8Validator::new(),
                assembly: Vec::new(),
                text: String::new(),
                assembly_delivered: false,
                #[cfg(feature = "deflate")]
                inflate: None,
                inflated_before: 0,
                last_received: None,
                ready: None,
            },
            tx: Sender::new(role, config.limits.max_output_buffer, keys),
            role,
            ending: Ending::default(),
            close_received: None,
            eof: false,
        }
    }

    /// Turns on permessage-deflate with the settings negotiated in the
    /// opening handshake (see [`deflate`](crate::deflate)): messages that
    /// arrive with RSV1 are inflated under the message size limit, and
    /// messages sent from the threshold up are compressed. Call it before
    /// any frame is received or sent.
    #[cfg(feature = "deflate")]
    pub fn with_deflate(mut self, negotiated: &Negotiated) -> Self {
        self.rx.inflate = Some(Box::new(Decompressor::new(negotiated)));
        self.rx.rules.allowed_rsv = RSV1;
        self.tx.set_compressor(Compressor::new(negotiated));
        self
    }

    /// Whether permessage-deflate is on.
    pub fn deflate_enabled(&self) -> bool {
        self.rx.rules.allowed_rsv & RSV1 != 0
    }

    /// This endpoint's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The connection's settings.
    pub fn config(&self) -> &Config {
        &self.rx.config
    }

    /// Room to read received bytes into; report how many were written with
    /// [`commit_read`](Self::commit_read).
    ///
    /// The room is at least [`Config::read_chunk`] bytes, or what the frame
    /// being received still needs (its header passed the limits) if more,
    /// up to 16 times as many bytes as have arrived of it: a large payload
    /// is read straight into place, in room that grows as it comes, and a
    /// peer that announces a large frame and stalls holds at most 16 times
    /// what it sent (and a read's worth), not what it announced.
    pub fn read_buf(&mut self) -> &mut [u8] {
        self.rx.make_room();
        let end = self.rx.end;
        self.rx.offered = self.rx.buf.len() - end;
        &mut self.rx.buf[end..]
    }

    /// Records that `n` bytes were written at the start of
    /// [`read_buf`](Self::read_buf), received at time `now` (any monotonic
    /// clock of the caller's, e.g. the time since the program started).
    pub fn commit_read(&mut self, n: usize, now: Duration) {
        if n == 0 {
            return;
        }
        if n >= self.rx.offered {
            self.rx.grow_chunk();
        }
        self.rx.end = self.rx.end.saturating_add(n).min(self.rx.buf.len());
        self.rx.last_received = Some(now);
        if self.ending.done {
            // Nothing more is read after the end: drop the bytes.
            self.rx.pos = self.rx.end;
        }
    }

    /// Copies `data` in as if it had been read into
    /// [`read_buf`](Self::read_buf). Convenient for tests and for drivers
    /// that already hold the bytes elsewhere.
    ///
    /// All of `data` is buffered: feed it in read-sized pieces and pull
    /// events in between to keep the buffer within the limits.
    pub fn receive(&mut self, mut data: &[u8], now: Duration) {
        while !data.is_empty() {
            let room = self.read_buf();
            let n = room.len().min(data.len());
            room[..n].copy_from_slice(&data[..n]);
            self.commit_read(n, now);
            data = &data[n..];
        }
    }

    /// The transport reached end of stream. A connection still open is
    /// closed abnormally (1006 locally); a frame cut off is lost.
    ///
    /// Pull every event the bytes already received hold before calling it
    /// (as a read loop does when the read that returns 0 follows the
    /// events of the previous one): complete frames still buffered are
    /// dropped too.
    pub fn receive_eof(&mut self) {
        self.eof = true;
        self.ending.done = true;
        self.rx.stop();
    }

    /// When bytes were last received, as passed to
    /// [`commit_read`](Self::commit_read). Drivers use it for idle timeouts
    /// and heartbeats.
    pub fn last_received(&self) -> Option<Duration> {
        self.rx.last_received
    }

    /// The next event from the bytes received so far, or `Ok(None)` when
    /// more bytes are needed (or no more events will come).
    ///
    /// On `Err` the connection has failed: the close frame with the error's
    /// code is queued and no further events follow.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, ProtocolError> {
        if self.rx.ready.is_none() {
            self.step()?;
        }
        let Connection { rx, tx, ending, .. } = self;
        rx.take_ready().inspect_err(|&e| ending.fail(e, tx))
    }

    /// Whether an event is ready, decoding as far as the bytes received
    /// allow; the event stays for the next call to
    /// [`next_event`](Self::next_event). Useful to a driver that must read
    /// more before it can borrow an event.
    pub fn poll_event(&mut self) -> Result<bool, ProtocolError> {
        if self.rx.ready.is_none() {
            self.step()?;
        }
        Ok(self.rx.ready.is_some())
    }

    /// Like [`next_event`](Self::next_event), handing the event to `f`
    /// together with the [`Sender`], so a reply can be queued while the
    /// event still borrows the read buffer (e.g. an echo without a copy).
    pub fn next_event_with<R>(
        &mut self,
        f: impl FnOnce(Event<'_>, &mut Sender) -> R,
    ) -> Result<Option<R>, ProtocolError> {
        if self.rx.ready.is_none() {
            self.step()?;
        }
        let Connection { rx, tx, ending, .. } = self;
        match rx.take_ready() {
            Ok(Some(event)) => Ok(Some(f(event, tx))),
            Ok(None) => Ok(None),
            Err(e) => {
                ending.fail(e, tx);
                Err(e)
            }
        }
    }

    /// The [`Sender`], for sends and output.
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.tx
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        if self.ending.error.is_some() || self.eof {
            return State::Closed;
        }
        match (self.tx.is_close_queued(), self.close_received.is_some()) {
            (false, false) => State::Open,
            (true, true) => State::Closed,
            _ => State::Closing,
        }
    }

    /// Who started closing, once someone has.
    pub fn close_initiator(&self) -> Option<Initiator> {
        self.ending.initiator.or(if self.tx.is_close_queued() {
            Some(Initiator::Local)
        } else {
            None
        })
    }

    /// The code and reason of the peer's close frame, once received. A frame
    /// without a code reports [`CloseCode::NO_STATUS`].
    pub fn peer_close(&self) -> Option<(CloseCode, &str)> {
        self.close_received
            .as_ref()
            .map(|(code, reason)| (code.unwrap_or(CloseCode::NO_STATUS), reason.as_str()))
    }

    /// The error that failed the connection, if one did.
    pub fn error(&self) -> Option<ProtocolError> {
        self.ending.error
    }

    /// Whether the driver should close the transport now: the connection is
    /// closed and its output written. A server closes TCP first after a
    /// clean close (RFC 6455 section 7.1.1); a client waits for the server
    /// to do so (with a timeout of the driver's choosing) unless the
    /// connection failed or the stream already ended.
    pub fn should_close_transport(&self) -> bool {
        if self.state() != State::Closed || self.tx.has_output() {
            return false;
        }
        self.role == Role::Server || self.ending.error.is_some() || self.eof
    }

    /// Releases buffers that hold no data, for idle connections: the read
    /// buffer (returned, so a driver can keep a pool of them) and unused
    /// assembly and output capacity.
    pub fn release_idle_buffers(&mut self) -> Option<Vec<u8>> {
        self.tx.shrink_idle();
        self.rx.release_idle()
    }

    /// Takes back the read buffer alone if it holds no unread bytes, for a
    /// driver's pool; cheaper than
    /// [`release_idle_buffers`](Self::release_idle_buffers) and meant for
    /// every time a connection has drained its socket.
    pub fn take_idle_read_buffer(&mut self) -> Option<Vec<u8>> {
        self.rx.take_idle_buffer()
    }

    /// Takes back the message buffer, where fragmented and compressed
    /// messages are put together, if it holds nothing still needed: for a
    /// driver's pool, at the same moments as
    /// [`take_idle_read_buffer`](Self::take_idle_read_buffer). An idle
    /// connection that kept it would hold the size of its last such
    /// message.
    pub fn take_idle_message_buffer(&mut self) -> Option<Vec<u8>> {
        self.rx.take_idle_assembly()
    }

    /// Whether the connection holds a message buffer (a fragmented text
    /// message is put together in it as a `String`).
    pub fn has_message_buffer(&self) -> bool {
        self.rx.assembly.capacity() != 0 || self.rx.text.capacity() != 0
    }

    /// Gives the connection a message buffer (see
    /// [`take_idle_message_buffer`](Self::take_idle_message_buffer)) to
    /// use instead of allocating one. Ignored if it already has one.
    pub fn provide_message_buffer(&mut self, mut buf: Vec<u8>) {
        if !self.has_message_buffer() {
            buf.clear();
            self.rx.assembly = buf;
        }
    }

    /// Whether the connection holds a read buffer.
    pub fn has_read_buffer(&self) -> bool {
        self.rx.buf.capacity() != 0
    }

    /// Gives the connection a read buffer to use instead of allocating one,
    /// e.g. from a driver's pool. Ignored if it already has one.
    pub fn provide_read_buffer(&mut self, mut buf: Vec<u8>) {
        if self.rx.buf.capacity() == 0 {
            // Buffers from `take_idle_read_buffer` keep their length, so
            // this zero-fills only the first time.
            let cap = buf.capacity();
            if buf.len() < cap {
                buf.resize(cap, 0);
            }
            self.rx.buf = buf;
            self.rx.pos = 0;
            self.rx.end = 0;
        }
    }

    /// Heap bytes this connection holds (buffers' capacities).
    pub fn heap_bytes(&self) -> usize {
        #[cfg(feature = "deflate")]
        let deflate = self
            .rx
            .inflate
            .as_ref()
            .map_or(0, |d| core::mem::size_of::<Decompressor>() + d.heap_bytes());
        #[cfg(not(feature = "deflate"))]
        let deflate = 0;
        self.rx.buf.capacity()
            + self.rx.assembly.capacity()
            + self.rx.text.capacity()
            + self.tx.heap_bytes()
            + deflate
    }

    /// Bytes received but not yet turned into events.
    pub fn buffered_input_len(&self) -> usize {
        self.rx.end - self.rx.pos
    }

    /// The whole read buffer (received payloads are unmasked in place) and
    /// the [`Sender`]: a server writes echoes straight from the buffer. Its
    /// bytes stay where they are until the next [`read_buf`](Self::read_buf),
    /// [`receive`](Self::receive) or buffer hand-over.
    #[cfg(any(feature = "server", feature = "tokio"))]
    pub(crate) fn input_and_sender(&mut self) -> (&[u8], &mut Sender) {
        (&self.rx.buf, &mut self.tx)
    }

    /// Moves the bytes not yet decoded into `spare` and makes it the read
    /// buffer; returns the old one with every byte where it was (a server
    /// still writing replies from it). Instead of compacting in place.
    #[cfg(any(feature = "server", feature = "tokio"))]
    pub(crate) fn replace_read_buffer(&mut self, mut spare: Vec<u8>) -> Vec<u8> {
        let rx = &mut self.rx;
        let keep = rx.end - rx.pos;
        if spare.len() < rx.buf.len() {
            // Pooled buffers keep their length: zero-filled once.
            spare.resize(rx.buf.len(), 0);
        }
        spare[..keep].copy_from_slice(&rx.buf[rx.pos..rx.end]);
        if let Some(frame) = &mut rx.frame {
            frame.start -= rx.pos;
        }
        rx.end = keep;
        rx.pos = 0;
        mem::replace(&mut rx.buf, spare)
    }

    /// Whether the next [`read_buf`](Self::read_buf) leaves the bytes read
    /// so far where they are (it appends rather than compacts or grows).
    #[cfg(any(feature = "server", feature = "tokio"))]
    pub(crate) fn read_keeps_input(&self) -> bool {
        self.rx.room_keeps_bytes()
    }

    /// Runs the state machine until an event is ready, more bytes are
    /// needed, or the connection fails.
    fn step(&mut self) -> Result<(), ProtocolError> {
        self.rx.ready = None;
        if self.ending.done {
            return Ok(());
        }
        let discard_data = self.tx.is_close_queued();
        match self.rx.advance(discard_data, &mut self.tx) {
            Ok(Some(Ready::Close { code, reason })) => {
                self.ending.done = true;
                // The close's reason stays in the buffer for the event.
                self.rx.stop();
                if !self.tx.is_close_queued() {
                    self.ending.initiator = Some(Initiator::Remote);
                    let echo = code.unwrap_or(CloseCode::NORMAL);
                    self.tx.owe_close(echo, CloseReason::EMPTY);
                }
                let reason_text = self.rx.close_reason_text(reason);
                self.close_received = Some((code, CloseReason::truncate(reason_text)));
                self.rx.ready = Some(Ready::Close { code, reason });
                Ok(())
            }
            Ok(ready) => {
                self.rx.ready = ready;
                Ok(())
            }
            Err(e) => {
                self.rx.stop();
                self.ending.fail(e, &mut self.tx);
                Err(e)
            }
        }
    }
}

impl Deref for Connection {
    type Target = Sender;
    fn deref(&self) -> &Sender {
        &self.tx
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Sender {
        &mut self.tx
    }
}

/// An event found by [`Receiver::advance`], as positions in the buffers so
/// that it can be borrowed after the state machine's `&mut` work is done.
#[derive(Debug, Clone, Copy)]
enum Ready {
    /// A single-frame message in `buf[start..start + len]`.
    Direct {
        kind: MessageKind,
        start: usize,
        len: usize,
    },
    /// A fragmented message in the assembly buffer.
    Assembled {
        kind: MessageKind,
    },
    /// A fragment in `buf` (streaming delivery).
    Fragment {
        kind: MessageKind,
        start: usize,
        len: usize,
        fin: bool,
    },
    Ping {
        start: usize,
        len: usize,
    },
    Pong {
        start: usize,
        len: usize,
    },
    /// Close; the reason's position in `buf`.
    Close {
        code: Option<CloseCode>,
        reason: (usize, usize),
    },
    /// A whole inflated message in `assembly`.
    #[cfg(feature = "deflate")]
    Inflated {
        kind: MessageKind,
    },
    /// One frame's worth of an inflated message in `assembly` (streaming
    /// delivery).
    #[cfg(feature = "deflate")]
    InflatedFragment {
        kind: MessageKind,
        fin: bool,
    },
}

impl Ready {
    /// Where the bytes it borrows from the read buffer start, if it does.
    fn buf_start(&mut self) -> Option<&mut usize> {
        match self {
            Ready::Direct { start, .. }
            | Ready::Fragment { start, .. }
            | Ready::Ping { start, .. }
            | Ready::Pong { start, .. }
            | Ready::Close {
                reason: (start, _), ..
            } => Some(start),
            _ => None,
        }
    }
}

impl Receiver {
    /// Decodes frames until one yields an event or input runs out.
    fn advance(
        &mut self,
        discard_data: bool,
        tx: &mut Sender,
    ) -> Result<Option<Ready>, ProtocolError> {
        if self.assembly_delivered {
            self.assembly.clear();
            self.text.clear();
            self.assembly_delivered = false;
        }
        loop {
            let frame = match self.frame {
                Some(frame) => frame,
                None => match self.start_frame()? {
                    Some(frame) => frame,
                    None => return Ok(None),
                },
            };
            let Some(frame) = self.receive_payload(frame, discard_data)? else {
                return Ok(None);
            };
            self.frame = None;
            self.pos = frame.start + frame.len;
            if let Some(ready) = self.complete_frame(frame, discard_data, tx)? {
                return Ok(Some(ready));
            }
        }
    }

    /// Decodes the next header and applies the message-level rules that
    /// can be checked before any payload is buffered.
    fn start_frame(&mut self) -> Result<Option<PartialFrame>, ProtocolError> {
        let (header, header_len) =
            match FrameHeader::decode(&self.buf[self.pos..self.end], &self.rules)? {
                Status::Complete(h) => h,
                Status::Incomplete(_) => return Ok(None),
            };
        let len =
            usize::try_from(header.payload_len).map_err(|_| crate::FrameError::FrameTooLarge)?;
        // RSV1 passes the decoder only with permessage-deflate, and then
        // only on a message's first frame (RFC 7692 section 6).
        let compressed = match header.opcode {
            OpCode::Text | OpCode::Binary => header.rsv1,
            _ if header.rsv1 => return Err(crate::FrameError::ReservedBits(RSV1).into()),
            OpCode::Continuation => self.message.is_some_and(|m| m.compressed),
            _ => false,
        };
        let limits = &self.config.limits;
        match (header.opcode, &mut self.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Continuation, Some(message)) => {
                message.fragments = message.fragments.saturating_add(1);
                if message.fragments > limits.max_fragments {
                    return Err(ProtocolError::TooManyFragments);
                }
                message.len = message.len.saturating_add(header.payload_len);
                if message.len > limits.max_message_size {
                    return Err(ProtocolError::MessageTooLarge);
                }
            }
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            (OpCode::Text | OpCode::Binary, None) => {
                if header.payload_len > limits.max_message_size {
                    return Err(ProtocolError::MessageTooLarge);
                }
                let kind = if header.opcode == OpCode::Text {
                    MessageKind::Text
                } else {
                    MessageKind::Binary
                };
                if compressed {
                    // Inflated bytes go to the binary buffer, text too.
                    self.prepare_assembly(MessageKind::Binary);
                    self.begin_inflate();
                } else if !header.fin {
                    self.prepare_assembly(kind);
                }
                if !header.fin {
                    self.message = Some(OpenMessage {
                        kind,
                        len: header.payload_len,
                        fragments: 1,
                        compressed,
                    });
                }
            }
            _ => {} // control frames: checked by the frame decoder
        }
        let frame = PartialFrame {
            header,
            start: self.pos + header_len,
            processed: 0,
            len,
            compressed,
        };
        self.frame = Some(frame);
        Ok(Some(frame))
    }

    /// The message kind a data frame belongs to.
    fn data_kind(&self, header: &FrameHeader) -> Option<MessageKind> {
        match header.opcode {
            OpCode::Text => Some(MessageKind::Text),
            OpCode::Binary => Some(MessageKind::Binary),
            OpCode::Continuation => self.message.map(|m| m.kind),
            _ => None,
        }
    }

    /// Unmasks (and for text, validates) the payload bytes that have arrived.
    /// Returns the frame once its payload is complete.
    fn receive_payload(
        &mut self,
        mut frame: PartialFrame,
        discard_data: bool,
    ) -> Result<Option<PartialFrame>, ProtocolError> {
        let available = (self.end - frame.start).min(frame.len);
        if frame.compressed {
            // Unmasked and inflated as it arrives: the size limit and UTF-8
            // are checked after every read, whatever the frame's size.
            if available > frame.processed {
                let (from, to) = (frame.start + frame.processed, frame.start + available);
                if let Some(key) = frame.header.mask {
                    apply_mask(&mut self.buf[from..to], key, frame.processed);
                }
                if !discard_data {
                    let kind = self.data_kind(&frame.header);
                    // A whole message in one frame, all here: one call.
                    let whole = frame.processed == 0
                        && available == frame.len
                        && frame.header.fin
                        && frame.header.opcode != OpCode::Continuation;
                    self.inflate_piece(from, to, kind, whole)?;
                }
                frame.processed = available;
            }
            if frame.processed < frame.len {
                self.frame = Some(frame);
                return Ok(None);
            }
            return Ok(Some(frame));
        }
        if available == frame.len && frame.processed == 0 {
            // The common case: the whole payload is here. Unmask it in one
            // pass; text is validated once, when the frame completes.
            if let Some(key) = frame.header.mask {
                apply_mask(&mut self.buf[frame.start..frame.start + frame.len], key, 0);
            }
            frame.processed = frame.len;
            return Ok(Some(frame));
        }
        if available > frame.processed {
            let is_text = self.data_kind(&frame.header) == Some(MessageKind::Text);
            let (from, to) = (frame.start + frame.processed, frame.start + available);
            if let Some(key) = frame.header.mask {
                apply_mask(&mut self.buf[from..to], key, frame.processed);
            }
            // Fail fast: text is checked as it arrives, not when it ends.
            if is_text {
                let assemble = self.assembles_text(&frame.header, discard_data);
                self.feed_text(from, to, assemble)?;
            }
            frame.processed = available;
        }
        if frame.processed < frame.len {
            self.frame = Some(frame);
            return Ok(None);
        }
        // Mark the payload as validated so `complete_frame` does not check
        // the last piece twice.
        frame.processed = usize::MAX;
        Ok(Some(frame))
    }

    /// Handles a frame whose payload is complete and unmasked.
    fn complete_frame(
        &mut self,
        frame: PartialFrame,
        discard_data: bool,
        tx: &mut Sender,
    ) -> Result<Option<Ready>, ProtocolError> {
        let (start, len) = (frame.start, frame.len);
        let fed_already = frame.processed == usize::MAX;
        let header = frame.header;
        match header.opcode {
            OpCode::Ping => {
                if self.config.auto_pong {
                    // The frame decoder caps control payloads at 125 bytes.
                    if let Some(payload) = ControlPayload::new(&self.buf[start..start + len]) {
                        tx.owe_pong(payload);
                    }
                }
                Ok(Some(Ready::Ping { start, len }))
            }
            OpCode::Pong => Ok(Some(Ready::Pong { start, len })),
            OpCode::Close => {
                let payload = ClosePayload::parse(&self.buf[start..start + len])?;
                let reason_start = start + len - payload.reason.len();
                Ok(Some(Ready::Close {
                    code: payload.code,
                    reason: (reason_start, payload.reason.len()),
                }))
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let Some(kind) = self.data_kind(&header) else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                let single = header.fin && header.opcode != OpCode::Continuation;
                if frame.compressed {
                    if header.fin {
                        self.message = None;
                    }
                    return self.complete_inflated(kind, header.fin, single, discard_data);
                }
                if kind == MessageKind::Text {
                    // A whole single-frame text is validated once, where it
                    // is borrowed as `&str` (`take_ready`); the rest was
                    // checked piece by piece as it arrived, to fail fast.
                    if !single || fed_already {
                        if !fed_already {
                            let assemble = self.assembles_text(&header, discard_data);
                            self.feed_text(start, start + len, assemble)?;
                        }
                        if header.fin {
                            self.utf8.finish()?;
                        }
                    }
                }
                if header.fin {
                    self.message = None;
                }
                if discard_data {
                    // The validator was reset by `finish` if this frame ended
                    // the message; otherwise it carries on into the next one.
                    return Ok(None);
                }
                if single {
                    return Ok(Some(Ready::Direct { kind, start, len }));
                }
                if self.config.delivery == Delivery::Frames {
                    return Ok(Some(Ready::Fragment {
                        kind,
                        start,
                        len,
                        fin: header.fin,
                    }));
                }
                if kind == MessageKind::Binary {
                    self.assemble(start, len); // text was appended as validated
                }
                if header.fin {
                    self.assembly_delivered = true;
                    Ok(Some(Ready::Assembled { kind }))
                } else {
                    Ok(None)
                }
            }
        }
    }

    /// Borrows the ready event from the buffers.
    /// Borrows the ready event from the buffers. A single-frame text message
    /// is validated here, in the same pass that makes its `&str`; if it is
    /// not UTF-8 the receiver stops and the caller fails the connection.
    fn take_ready(&mut self) -> Result<Option<Event<'_>>, ProtocolError> {
        let Some(ready) = self.ready.take() else {
            return Ok(None);
        };
        Ok(Some(match ready {
            Ready::Direct {
                kind: MessageKind::Text,
                start,
                len,
            } => match utf8::validate(&self.buf[start..start + len]) {
                Ok(text) => Event::Text(text),
                Err(e) => {
                    // Fields other than `buf`, which the success arm lends.
                    self.frame = None;
                    self.message = None;
                    self.pos = self.end;
                    return Err(e.into());
                }
            },
            // Text was matched above.
            Ready::Direct { start, len, .. } => Event::Binary(&self.buf[start..start + len]),
            Ready::Assembled {
                kind: MessageKind::Text,
            } => Event::Text(&self.text),
            Ready::Assembled {
                kind: MessageKind::Binary,
            } => Event::Binary(&self.assembly),
            Ready::Fragment {
                kind,
                start,
                len,
                fin,
            } => Event::Fragment {
                kind,
                data: &self.buf[start..start + len],
                fin,
            },
            Ready::Ping { start, len } => Event::Ping(&self.buf[start..start + len]),
            Ready::Pong { start, len } => Event::Pong(&self.buf[start..start + len]),
            Ready::Close { code, reason } => Event::Close {
                code,
                reason: self.close_reason_text(reason),
            },
            #[cfg(feature = "deflate")]
            Ready::Inflated {
                kind: MessageKind::Text,
            } => match utf8::validate(&self.assembly) {
                Ok(text) => Event::Text(text),
                // Checked piece by piece as it was inflated already.
                Err(e) => {
                    self.frame = None;
                    self.message = None;
                    self.pos = self.end;
                    return Err(e.into());
                }
            },
            #[cfg(feature = "deflate")]
            Ready::Inflated {
                kind: MessageKind::Binary,
            } => Event::Binary(&self.assembly),
            #[cfg(feature = "deflate")]
            Ready::InflatedFragment { kind, fin } => Event::Fragment {
                kind,
                data: &self.assembly,
                fin,
            },
        }))
    }

    fn close_reason_text(&self, (start, len): (usize, usize)) -> &str {
        core::str::from_utf8(&self.buf[start..start + len]).unwrap_or("")
    }

    /// Makes room in the read buffer: compacts consumed bytes away and grows
    /// to fit the frame being received, within the limits.
    fn make_room(&mut self) {
        // An event found by `poll_event` and not yet taken may borrow bytes
        // before `pos`: they stay, moved with the rest.
        let keep = match self.ready.and_then(|mut r| r.buf_start().copied()) {
            Some(start) => start.min(self.pos),
            None => self.pos,
        };
        if keep == self.end && self.frame.is_none() {
            self.forget_front(keep);
        }
        if self.buf.len() - self.end >= self.room_wanted() {
            return;
        }
        let want = self.room_wanted();
        let keep = keep.min(self.pos);
        if keep > 0 {
            self.buf.copy_within(keep..self.end, 0);
            if let Some(frame) = &mut self.frame {
                frame.start -= keep;
            }
            self.forget_front(keep);
        }
        if self.buf.len() - self.end < want {
            let size = self.end + want;
            // Grow by doubling, as `Vec` would, but never past what one frame
            // and one read need, so the limits bound the memory held.
            let target = size
                .max(self.buf.capacity().saturating_mul(2).min(self.room_limit()))
                .max(self.buf.capacity());
            self.buf.reserve_exact(target - self.buf.len());
            // Zero-filled: safe Rust cannot lend uninitialised memory.
            self.buf.resize(target, 0);
        }
    }

    /// The first `n` bytes of the buffer are gone (moved away or no longer
    /// needed): offsets into it move back by `n`.
    fn forget_front(&mut self, n: usize) {
        self.pos -= n;
        self.end -= n;
        // The pending event's bytes moved with the rest.
        if let Some(start) = self.ready.as_mut().and_then(Ready::buf_start) {
            *start -= n;
        }
    }

    /// Room the next read should have: a read's worth, or what the frame
    /// being received still needs if more, but never more than
    /// [`ROOM_PER_RECEIVED`] times what the peer has sent of it so far. A
    /// header alone must not cost its announced length: a few bytes
    /// claiming 16 MiB would hold 16 MiB per connection. So a large
    /// frame's room grows as its bytes arrive.
    fn room_wanted(&self) -> usize {
        let chunk = self.read_chunk();
        let frame_rest = self.frame.map_or(0, |f| {
            let rest = (f.start + f.len).saturating_sub(self.end);
            let received = self.end.saturating_sub(f.start);
            rest.min(received.saturating_mul(ROOM_PER_RECEIVED).max(chunk))
        });
        frame_rest.max(chunk).max(1)
    }

    /// The least room a read gets now.
    fn read_chunk(&self) -> usize {
        self.chunk.max(self.config.read_chunk)
    }

    /// A read filled its room: the next gets twice as much, within
    /// READ_CHUNK_GROWTH times the configured chunk.
    fn grow_chunk(&mut self) {
        let most = self.config.read_chunk.saturating_mul(READ_CHUNK_GROWTH);
        self.chunk = self.read_chunk().saturating_mul(2).min(most);
    }

    /// Whether `make_room` would leave every buffered byte where it is.
    #[cfg(any(feature = "server", feature = "tokio"))]
    fn room_keeps_bytes(&self) -> bool {
        !(self.pos == self.end && self.frame.is_none())
            && self.buf.len() - self.end >= self.room_wanted()
    }

    /// The most the read buffer needs while events are pulled after every
    /// read: the largest header and frame, and one read of room.
    fn room_limit(&self) -> usize {
        let frame = usize::try_from(self.config.limits.max_frame_size).unwrap_or(usize::MAX);
        MAX_HEADER_LEN
            .saturating_add(frame)
            .saturating_add(self.read_chunk())
    }

    /// Appends a fragment to the binary assembly buffer.
    fn assemble(&mut self, payload_start: usize, len: usize) {
        let target = self.grown(self.assembly.len(), self.assembly.capacity(), len);
        self.assembly.reserve_exact(target - self.assembly.len());
        self.assembly
            .extend_from_slice(&self.buf[payload_start..payload_start + len]);
    }

    /// The capacity to hold `add` more bytes: doubling, but never past the
    /// message limit (the headers were checked against it).
    fn grown(&self, len: usize, capacity: usize, add: usize) -> usize {
        let needed = len.saturating_add(add);
        if needed <= capacity {
            return capacity;
        }
        let limit = usize::try_from(self.config.limits.max_message_size).unwrap_or(usize::MAX);
        needed.max(capacity.saturating_mul(2).min(limit))
    }

    /// Whether a text frame's payload goes into the text assembly buffer:
    /// part of a fragmented message that is delivered whole.
    fn assembles_text(&self, header: &FrameHeader, discard_data: bool) -> bool {
        let single = header.fin && header.opcode != OpCode::Continuation;
        !single && !discard_data && self.config.delivery == Delivery::Messages
    }

    /// Validates `buf[from..to]` as the next piece of a text message, and
    /// appends it to the text assembly buffer if `assemble`.
    fn feed_text(&mut self, from: usize, to: usize, assemble: bool) -> Result<(), ProtocolError> {
        if !assemble {
            return Ok(self.utf8.feed(&self.buf[from..to])?);
        }
        // Up to three bytes of a character cut at the previous piece's end
        // come out with this one.
        let target = self.grown(self.text.len(), self.text.capacity(), to - from + 3);
        self.text.reserve_exact(target - self.text.len());
        Ok(self.utf8.feed_into(&self.buf[from..to], &mut self.text)?)
    }

    /// Gives the assembly buffer of the other kind's capacity to the one a
    /// new fragmented message of `kind` will use.
    fn prepare_assembly(&mut self, kind: MessageKind) {
        match kind {
            MessageKind::Text if self.text.capacity() == 0 => {
                let mut bytes = mem::take(&mut self.assembly);
                bytes.clear();
                self.text = String::from_utf8(bytes).unwrap_or_default();
            }
            MessageKind::Binary if self.assembly.capacity() == 0 => {
                let mut text = mem::take(&mut self.text);
                text.clear();
                self.assembly = text.into_bytes();
            }
            _ => {}
        }
    }

    /// No more input will be decoded: forget the frame in progress and the
    /// unread bytes, so later reads neither keep room for the dead frame nor
    /// compact the buffer around offsets that no longer mean anything.
    fn stop(&mut self) {
        self.frame = None;
        self.message = None;
        self.pos = self.end;
        #[cfg(feature = "deflate")]
        if let Some(d) = &mut self.inflate {
            d.end_message();
        }
    }

    fn release_idle(&mut self) -> Option<Vec<u8>> {
        if self.assembly_idle() {
            drop(self.take_idle_assembly());
            self.text = String::new();
        }
        self.take_idle_buffer()
    }

    /// Whether the assembly buffers hold nothing still needed: no message
    /// is being put together, or it was delivered, which is no longer
    /// borrowed (this takes `&self` from a `&mut` caller) and would be
    /// cleared by the next [`advance`](Self::advance) anyway.
    fn assembly_idle(&self) -> bool {
        // A compressed frame being received inflates into `assembly`.
        let inflating = self.frame.is_some_and(|f| f.compressed);
        // A message found by `poll_event` and not yet taken is in there.
        self.ready.is_none() && !inflating && (self.assembly_delivered || self.message.is_none())
    }

    /// The assembly buffer, emptied, if it is idle; or the text buffer's
    /// allocation, where a lent buffer goes when a fragmented text message
    /// is put together.
    fn take_idle_assembly(&mut self) -> Option<Vec<u8>> {
        if !self.assembly_idle() {
            return None;
        }
        self.assembly_delivered = false;
        let mut buf = if self.assembly.capacity() != 0 {
            mem::take(&mut self.assembly)
        } else if self.text.capacity() != 0 {
            mem::take(&mut self.text).into_bytes()
        } else {
            return None;
        };
        self.text.clear();
        buf.clear();
        Some(buf)
    }

    fn take_idle_buffer(&mut self) -> Option<Vec<u8>> {
        // A ready message may still point into the buffer (`poll_event`).
        if self.ready.is_none()
            && self.pos == self.end
            && self.frame.is_none()
            && self.buf.capacity() != 0
        {
            self.pos = 0;
            self.end = 0;
            // Gone idle: the next burst starts from the configured room.
            self.chunk = 0;
            return Some(mem::take(&mut self.buf));
        }
        None
    }
}
