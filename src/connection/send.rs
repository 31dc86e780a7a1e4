//! The outgoing side: frame encoding into a bounded queue, owed replies that
//! jump it, and the close state that decides what may still be sent.
//!
//! Two kinds of output wait here. Data frames and close frames go into
//! `data`, in order; data is bounded by
//! [`Limits::max_output_buffer`](crate::Limits), the one close frame is not.
//! Pings and pongs go into a small queue of their own, written at the next
//! frame boundary of `data`, ahead of anything still queued there. That
//! queue is capped at [`MAX_CONTROL_QUEUE`] bytes: when a pong does not fit,
//! it replaces the pongs not yet started, so a ping flood from a peer that
//! does not read costs a bounded amount of memory. A frame that has started
//! going out is always finished first: interleaving bytes of two frames
//! would corrupt the stream.
//!
//! A close the protocol owes (the echo of the peer's close, or the close
//! that fails the connection) is queued behind the data already queued, not
//! ahead of it: those frames answer messages the peer sent before its close
//! or before the bad frame, and the peer expects them first. Nothing is
//! queued after it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::num::NonZeroUsize;

use crate::close::{encode_close_payload, CloseCode, CloseReason};
use crate::frame::{ControlPayload, DecodeRules, FrameHeader, OpCode, Role, Status};
use crate::mask::apply_mask;

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

impl MessageKind {
    pub(crate) const fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        }
    }
}

/// A source of masking keys for the client role: called once per frame.
/// It must be unpredictable to the peer (RFC 6455 section 10.3), e.g. drawn
/// from the operating system's random source.
pub type MaskKeySource = Box<dyn FnMut() -> [u8; 4] + Send>;

/// Why a send was refused. The data was not queued; the caller still holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendError {
    /// Queuing the frame would pass
    /// [`Limits::max_output_buffer`](crate::Limits): drain output first.
    Full,
    /// A close frame has been sent or queued: nothing more may follow it
    /// (RFC 6455 section 5.5.1).
    Closed,
    /// The close code may not be sent (1004-1006, 1015, or outside the
    /// registry's ranges).
    InvalidCloseCode,
    /// A fragmented message is being sent: finish it before sending
    /// another data message (section 5.4).
    FragmentOpen,
    /// A continuation was sent with no fragmented message open.
    NoFragmentOpen,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full => "output buffer full",
            SendError::Closed => "close already sent",
            SendError::InvalidCloseCode => "close code may not be sent",
            SendError::FragmentOpen => "a fragmented message is still open",
            SendError::NoFragmentOpen => "no fragmented message is open",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}

/// Most bytes of pings and pongs queued: about fifteen of the largest.
pub const MAX_CONTROL_QUEUE: usize = 2048;

/// Which buffer the last [`Sender::output`] slice came from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Source {
    Control,
    Data,
}

/// The outgoing half of a connection: encodes frames and queues them for
/// the caller to write.
///
/// Obtained from [`Connection`](super::Connection) (it derefs to it for
/// sends) or, together with an event, from
/// [`Connection::next_event_with`](super::Connection::next_event_with).
pub struct Sender {
    role: Role,
    max_output: usize,
    keys: Option<MaskKeySource>,
    /// Encoded data frames (and a requested close), written from `head`.
    data: Vec<u8>,
    head: usize,
    /// End of the frame containing `head`: `head == frame_end` means a
    /// frame boundary, where owed control frames may go out.
    frame_end: usize,
    /// Encoded pings and pongs, written from `control_head`.
    control: Vec<u8>,
    control_head: usize,
    last_source: Source,
    /// A close frame has been queued as the last frame of `data`; nothing
    /// may follow it.
    close_queued: bool,
    /// The close frame has been handed out completely.
    close_written: bool,
    sending_fragmented: Option<MessageKind>,
}

impl Sender {
    pub(crate) fn new(role: Role, max_output: usize, keys: Option<MaskKeySource>) -> Self {
        Sender {
            role,
            max_output,
            keys,
            data: Vec::new(),
            head: 0,
            frame_end: 0,
            control: Vec::new(),
            control_head: 0,
            last_source: Source::Data,
            close_queued: false,
            close_written: false,
            sending_fragmented: None,
        }
    }

    /// Sends a whole text message as one frame.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_message(MessageKind::Text, text.as_bytes())
    }

    /// Sends a whole binary message as one frame.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_message(MessageKind::Binary, data)
    }

    /// Sends a whole message of either kind as one frame.
    pub fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOpen);
        }
        self.check_room(frame_size(data.len(), self.role))?;
        self.queue_frame(true, kind.opcode(), data);
        Ok(())
    }

    /// Sends a whole message as one frame, writing it straight to `transport`
    /// without copying the payload when it can: queued output, the new
    /// header and `data` go out in one vectored write, and only what the
    /// transport did not take is queued.
    ///
    /// Falls back to queuing a copy when the payload must be masked (client
    /// role) or when owed replies must go first. A transport that would
    /// block is not an error; other transport errors are returned (the
    /// message is then not queued).
    #[cfg(feature = "std")]
    pub fn send_message_vectored<W: std::io::Write>(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        transport: &mut W,
    ) -> std::io::Result<Result<(), SendError>> {
        use std::io::{ErrorKind, IoSlice};
        if self.sending_fragmented.is_some() {
            return Ok(Err(SendError::FragmentOpen));
        }
        let frame_bytes = frame_size(data.len(), self.role);
        if let Err(e) = self.check_room(frame_bytes) {
            return Ok(Err(e));
        }
        let control_busy = self.owes_control();
        if self.role == Role::Client || control_busy {
            self.queue_frame(true, kind.opcode(), data);
            return Ok(Ok(()));
        }
        let header = FrameHeader::new(kind.opcode(), data.len() as u64).to_bytes();
        let queued = &self.data[self.head..];
        let slices = [
            IoSlice::new(queued),
            IoSlice::new(&header),
            IoSlice::new(data),
        ];
        let written = loop {
            match transport.write_vectored(&slices) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break 0,
                Err(e) => return Err(e),
            }
        };
        let queued_len = queued.len();
        self.last_source = Source::Data;
        if written < queued_len {
            self.consume_output(written);
            self.queue_frame(true, kind.opcode(), data);
            return Ok(Ok(()));
        }
        self.consume_output(queued_len);
        let sent = written - queued_len;
        if sent < frame_bytes {
            // Queue the unwritten tail; `head` is now inside this frame.
            self.data.clear();
            self.head = 0;
            if sent < header.len() {
                self.data.extend_from_slice(&header[sent..]);
                self.data.extend_from_slice(data);
            } else {
                self.data.extend_from_slice(&data[sent - header.len()..]);
            }
            self.frame_end = self.data.len();
        }
        Ok(Ok(()))
    }

    /// Sends a message split into frames of at most `max_payload` payload
    /// bytes (an empty message is one empty frame). The whole message is
    /// queued or none of it is.
    pub fn send_message_fragmented(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        max_payload: NonZeroUsize,
    ) -> Result<(), SendError> {
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOpen);
        }
        let size = max_payload.get();
        let frames = data.len().div_ceil(size).max(1);
        let last_len = data.len() - (frames - 1) * size;
        let total = (frames - 1) * frame_size(size, self.role) + frame_size(last_len, self.role);
        self.check_room(total)?;
        if data.is_empty() {
            self.queue_frame(true, kind.opcode(), data);
        }
        for (i, chunk) in data.chunks(size).enumerate() {
            let opcode = if i == 0 {
                kind.opcode()
            } else {
                OpCode::Continuation
            };
            self.queue_frame(i + 1 == frames, opcode, chunk);
        }
        Ok(())
    }

    /// Sends one frame of a message being streamed: the first call opens a
    /// message of `kind`, later calls continue it (their `kind` must match),
    /// and `fin` ends it. Control frames may still be sent in between.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        let opcode = match self.sending_fragmented {
            None => kind.opcode(),
            Some(open) if open == kind => OpCode::Continuation,
            Some(_) => return Err(SendError::FragmentOpen),
        };
        self.check_room(frame_size(data.len(), self.role))?;
        self.queue_frame(fin, opcode, data);
        self.sending_fragmented = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Sends a ping. It goes out at the next frame boundary, ahead of queued
    /// data. Fails with [`SendError::Full`] when the control queue is full.
    pub fn ping(&mut self, payload: ControlPayload) -> Result<(), SendError> {
        if self.close_queued {
            return Err(SendError::Closed);
        }
        if self.queue_control(OpCode::Ping, payload.as_bytes()) {
            Ok(())
        } else {
            Err(SendError::Full)
        }
    }

    /// Sends an unsolicited pong (a one-way heartbeat). Like an automatic
    /// pong, it replaces unsent ones when the control queue is full.
    pub fn pong(&mut self, payload: ControlPayload) -> Result<(), SendError> {
        if self.close_queued {
            return Err(SendError::Closed);
        }
        self.owe_pong(payload);
        Ok(())
    }

    /// Starts the closing handshake: queues a close frame behind the data
    /// already queued, after which nothing more may be sent.
    pub fn close(&mut self, code: CloseCode, reason: CloseReason) -> Result<(), SendError> {
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode);
        }
        if self.close_queued {
            return Err(SendError::Closed);
        }
        let mut payload = [0u8; 125];
        let n = encode_close_payload(code, &reason, &mut payload);
        // A close may pass the output bound: it is the last frame and small.
        self.queue_frame(true, OpCode::Close, &payload[..n]);
        self.close_queued = true;
        Ok(())
    }

    /// Bytes waiting to be written, owed replies included.
    pub fn pending_output_len(&self) -> usize {
        (self.control.len() - self.control_head) + (self.data.len() - self.head)
    }

    /// Whether anything waits to be written.
    pub fn has_output(&self) -> bool {
        self.pending_output_len() != 0
    }

    /// Whether a close frame has been sent or queued.
    pub fn is_close_queued(&self) -> bool {
        self.close_queued
    }

    /// Whether the close frame has been handed out for writing in full.
    pub fn is_close_written(&self) -> bool {
        self.close_written
    }

    /// The next bytes to write, or an empty slice when nothing waits.
    ///
    /// Write as much of it as the transport takes, then report that count to
    /// [`consume_output`](Self::consume_output). Consecutive data frames come
    /// out as one slice, so one write call carries many small messages.
    pub fn output(&mut self) -> &[u8] {
        if self.owes_control() {
            // Pings and pongs go at a frame boundary of the data queue; once
            // started, they are written through.
            if self.control_head > 0 || self.advance_boundary() {
                self.last_source = Source::Control;
                return &self.control[self.control_head..];
            }
            self.last_source = Source::Data;
            return &self.data[self.head..self.frame_end];
        }
        self.last_source = Source::Data;
        &self.data[self.head..]
    }

    /// Marks `n` bytes of the last [`output`](Self::output) slice as written.
    pub fn consume_output(&mut self, n: usize) {
        match self.last_source {
            Source::Control => {
                self.control_head = self.control_head.saturating_add(n).min(self.control.len());
                if self.control_head == self.control.len() {
                    self.control.clear();
                    self.control_head = 0;
                }
            }
            Source::Data => {
                self.head = self.head.saturating_add(n).min(self.data.len());
                self.advance_boundary();
                if self.head == self.data.len() {
                    if self.close_queued {
                        // The close is always the last frame queued.
                        self.close_written = true;
                    }
                    self.data.clear();
                    self.head = 0;
                    self.frame_end = 0;
                }
            }
        }
    }

    /// Queues the pong owed for a received ping. If the control queue is
    /// full, the pongs not yet started make room for it: the newest ping is
    /// the one worth answering (RFC 6455 section 5.5.3).
    pub(crate) fn owe_pong(&mut self, payload: ControlPayload) {
        if self.close_queued {
            return;
        }
        if !self.queue_control(OpCode::Pong, payload.as_bytes()) {
            self.drop_owed_pings();
            self.queue_control(OpCode::Pong, payload.as_bytes());
        }
    }

    /// Queues the close the protocol owes (an echo, or a failure's close)
    /// behind the data already queued; the output bound does not apply.
    pub(crate) fn owe_close(&mut self, code: CloseCode, reason: CloseReason) {
        if self.close_queued {
            return;
        }
        self.sending_fragmented = None;
        let mut payload = [0u8; 125];
        let n = encode_close_payload(code, &reason, &mut payload);
        self.queue_frame(true, OpCode::Close, &payload[..n]);
        self.close_queued = true;
    }

    /// Drops the pings and pongs not yet started (the frame being written,
    /// if any, is kept whole).
    pub(crate) fn drop_owed_pings(&mut self) {
        let mut keep = 0;
        while keep < self.control_head {
            keep = keep.saturating_add(frame_len_at(&self.control[keep..], self.role));
        }
        self.control.truncate(keep.min(self.control.len()));
        if self.control_head == self.control.len() {
            self.control.clear();
            self.control_head = 0;
        }
    }

    /// Releases the data queue's memory when nothing is queued.
    pub(crate) fn shrink_idle(&mut self) {
        if self.head == self.data.len() {
            self.data = Vec::new();
            self.head = 0;
            self.frame_end = 0;
        }
        if self.control.is_empty() {
            self.control = Vec::new();
        }
    }

    /// Heap bytes held by the output queues.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.data.capacity() + self.control.capacity()
    }

    fn check_room(&self, frame_bytes: usize) -> Result<(), SendError> {
        if self.close_queued {
            return Err(SendError::Closed);
        }
        let queued = self.data.len() - self.head;
        match queued.checked_add(frame_bytes) {
            Some(total) if total <= self.max_output => Ok(()),
            _ => Err(SendError::Full),
        }
    }

    fn next_mask(&mut self) -> Option<[u8; 4]> {
        match self.role {
            Role::Server => None,
            // A client without a key source still masks, with a fixed key:
            // correct on the wire, but see `Connection::client`.
            Role::Client => Some(self.keys.as_mut().map_or([0; 4], |next| next())),
        }
    }

    fn queue_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.fin = fin;
        header.mask = self.next_mask();
        if self.head == self.data.len() {
            self.data.clear();
            self.head = 0;
            self.frame_end = 0;
        } else if self.head > self.data.len() / 2 && self.head >= 4096 {
            // Reclaim the written front so the queue does not creep.
            self.data.drain(..self.head);
            self.frame_end -= self.head;
            self.head = 0;
        }
        self.data.extend_from_slice(&header.to_bytes());
        let start = self.data.len();
        self.data.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut self.data[start..], key, 0);
        }
    }

    /// Moves `frame_end` past frames written completely; returns whether
    /// `head` sits on a frame boundary.
    fn advance_boundary(&mut self) -> bool {
        while self.frame_end < self.head {
            let len = frame_len_at(&self.data[self.frame_end..], self.role);
            self.frame_end = self.frame_end.saturating_add(len).min(self.data.len());
        }
        self.frame_end == self.head
    }

    fn owes_control(&self) -> bool {
        self.control_head < self.control.len()
    }

    /// Appends a ping or pong to the control queue; false if it is full.
    fn queue_control(&mut self, opcode: OpCode, payload: &[u8]) -> bool {
        let needed = frame_size(payload.len(), self.role);
        if self.control.len() + needed > MAX_CONTROL_QUEUE {
            return false;
        }
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.mask = self.next_mask();
        self.control.extend_from_slice(&header.to_bytes());
        let start = self.control.len();
        self.control.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut self.control[start..], key, 0);
        }
        true
    }
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("role", &self.role)
            .field("queued", &(self.data.len() - self.head))
            .field("control_queued", &(self.control.len() - self.control_head))
            .field("close_queued", &self.close_queued)
            .field("close_written", &self.close_written)
            .finish()
    }
}

/// Wire size of a frame with `len` payload bytes sent by `role`.
fn frame_size(len: usize, role: Role) -> usize {
    let mut header = FrameHeader::new(OpCode::Binary, len as u64);
    if role == Role::Client {
        header.mask = Some([0; 4]);
    }
    header.encoded_len().saturating_add(len)
}

/// Length of the frame we encoded at the front of `bytes` (0 if empty).
fn frame_len_at(bytes: &[u8], role: Role) -> usize {
    if bytes.is_empty() {
        return 0;
    }
    // Our own frames: decode them as the peer would, with no limits.
    let rules = DecodeRules {
        role: match role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        },
        allowed_rsv: 0x70,
        max_frame_size: u64::MAX,
    };
    match FrameHeader::decode(bytes, &rules) {
        Ok(Status::Complete((h, hlen))) => {
            hlen.saturating_add(usize::try_from(h.payload_len).unwrap_or(usize::MAX))
        }
        // Unreachable for frames this module encoded; treat the rest as one
        // frame so output still drains.
        _ => bytes.len(),
    }
}
