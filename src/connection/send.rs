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
//!
//! A [`SharedFrame`] (a message encoded once for many connections, as a
//! server's publish does) is not copied into `data`: the queue keeps a
//! reference to it, spliced in at the place in `data` where it was sent, so
//! it goes out in the order of the sends around it and costs each
//! connection a pointer, not the payload.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
// Targets without atomic pointers (small microcontrollers) get a shared
// frame that cannot cross threads, which they do not have.
#[cfg(not(target_has_atomic = "ptr"))]
use alloc::rc::Rc as Arc;
#[cfg(target_has_atomic = "ptr")]
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::num::NonZeroUsize;

use crate::close::{encode_close_payload, CloseCode, CloseReason};
#[cfg(feature = "deflate")]
use crate::deflate::{Compressor, SharedKey};
use crate::frame::{ControlPayload, FrameHeader, OpCode, Role, MAX_CONTROL_PAYLOAD};
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
    /// The compressor failed in the middle of a message streamed with
    /// [`Sender::send_fragment`]; the message cannot be finished. Close the
    /// connection (1011).
    Compression,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SendError::Full => "output buffer full",
            SendError::Closed => "close already sent",
            SendError::InvalidCloseCode => "close code may not be sent",
            SendError::FragmentOpen => "a fragmented message is still open",
            SendError::NoFragmentOpen => "no fragmented message is open",
            SendError::Compression => "the compressor failed mid-message",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}

/// Most bytes of pings and pongs queued: about fifteen of the largest.
pub const MAX_CONTROL_QUEUE: usize = 2048;

/// A whole data message encoded once, header and payload in one shared
/// allocation, to be sent to many connections without a copy each: what a
/// server's publish hands to every subscriber (see
/// [`Sender::send_shared`]). Cloning it copies a pointer.
///
/// The frame is unmasked, as a server sends; a client connection given one
/// masks a copy of the payload instead.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedFrame {
    bytes: Arc<[u8]>,
    header_len: u8,
}

impl SharedFrame {
    /// Encodes `payload` as one final frame of `kind`.
    pub fn new(kind: MessageKind, payload: &[u8]) -> SharedFrame {
        let header = FrameHeader::new(kind.opcode(), payload.len() as u64).to_bytes();
        // One allocation, written in place: the iterator's exact length
        // lets `Arc` allocate once.
        let bytes: Arc<[u8]> = header.iter().chain(payload).copied().collect();
        SharedFrame {
            bytes,
            header_len: header.len() as u8,
        }
    }

    /// Encodes a permessage-deflate payload (tail stripped) as one final
    /// frame of `kind` with RSV1 set.
    #[cfg(feature = "deflate")]
    fn compressed(kind: MessageKind, payload: &[u8]) -> SharedFrame {
        let mut header = FrameHeader::new(kind.opcode(), payload.len() as u64);
        header.rsv1 = true;
        let header = header.to_bytes();
        let bytes: Arc<[u8]> = header.iter().chain(payload).copied().collect();
        SharedFrame {
            bytes,
            header_len: header.len() as u8,
        }
    }

    /// Whether the payload is compressed (RSV1, permessage-deflate): such a
    /// frame comes from [`Sender::compress_shared`] and goes out with
    /// [`Sender::send_shared_compressed`] only.
    pub fn is_compressed(&self) -> bool {
        self.bytes[0] & 0x40 != 0
    }

    /// The frame as it goes on the wire: header, then payload.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The message's payload.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[usize::from(self.header_len)..]
    }

    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        // The first byte is FIN | opcode, and only text or binary is made.
        if self.bytes[0] & 0x0f == OpCode::Text as u8 {
            MessageKind::Text
        } else {
            MessageKind::Binary
        }
    }

    /// Wire size: header plus payload.
    pub fn wire_len(&self) -> usize {
        self.bytes.len()
    }
}

impl fmt::Debug for SharedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedFrame")
            .field("kind", &self.kind())
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

/// Several whole data messages encoded back to back in one shared
/// allocation: what a server hands every subscriber when one turn
/// published a burst of small messages to a topic (see
/// [`Sender::send_shared_run`]). A subscriber queues the run as one entry
/// and writes it as one slice, instead of an entry, a reference count and
/// a slice per message. Cloning it copies two pointers.
#[derive(Clone)]
pub struct SharedRun {
    bytes: Arc<[u8]>,
    frames: Arc<[SharedFrame]>,
    compressed: bool,
}

impl SharedRun {
    /// Encodes `frames` back to back, in order: one copy of them all.
    pub fn new(frames: &[SharedFrame]) -> SharedRun {
        // Sized first: the copy into the shared allocation is then the only
        // other one.
        let mut joined = Vec::with_capacity(frames.iter().map(SharedFrame::wire_len).sum());
        for frame in frames {
            joined.extend_from_slice(frame.as_bytes());
        }
        let bytes = Arc::from(joined);
        SharedRun {
            bytes,
            frames: frames.into(),
            compressed: frames.iter().any(SharedFrame::is_compressed),
        }
    }

    /// The messages, in order.
    pub fn frames(&self) -> &[SharedFrame] {
        &self.frames
    }

    /// The frames as they go on the wire, back to back.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Wire size of all the frames.
    pub fn wire_len(&self) -> usize {
        self.bytes.len()
    }
}

impl fmt::Debug for SharedRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRun")
            .field("messages", &self.frames.len())
            .field("wire_len", &self.bytes.len())
            .finish()
    }
}

/// A shared frame (or run of frames) waiting in a connection's queue.
struct Splice {
    /// The place in the data stream it goes: after this many bytes of
    /// `data` (counted from the first byte ever queued).
    at: u64,
    /// Whole frames, as they go on the wire.
    bytes: Arc<[u8]>,
    /// Bytes of it already handed out and written.
    written: usize,
}

/// Bookkeeping one queued shared frame costs a connection, counted with
/// its wire size against the output bounds so that a flood of tiny
/// published messages is bounded too.
pub const SHARED_FRAME_OVERHEAD: usize = core::mem::size_of::<Splice>();

/// What the last [`Sender::output`] or [`Sender::output_vectored`] handed
/// out, so [`Sender::consume_output`] credits each written byte to the
/// queue it came from, whatever was queued since.
#[derive(Clone, Copy, Default)]
struct Plan {
    /// Bytes of the stream (data and shared frames) handed out before the
    /// control frames.
    before_control: usize,
    /// Bytes of control frames handed out.
    control: usize,
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
    /// Stream offset of `data[0]`: the count of bytes of `data` written
    /// and dropped before it. Places of splices are given in these terms,
    /// so they survive `data` being cleared or compacted.
    data_base: u64,
    /// Shared frames to send between the bytes of `data`, in order.
    splices: VecDeque<Splice>,
    /// Bytes of `splices` not yet written.
    splice_bytes: usize,
    /// Encoded pings and pongs, written from `control_head`.
    control: Vec<u8>,
    control_head: usize,
    plan: Plan,
    /// A close frame has been queued as the last frame of `data`; nothing
    /// may follow it.
    close_queued: bool,
    /// The close frame has been handed out completely.
    close_written: bool,
    sending_fragmented: Option<MessageKind>,
    /// Compresses messages once permessage-deflate is negotiated. Boxed: a
    /// connection without it pays one pointer.
    #[cfg(feature = "deflate")]
    compressor: Option<Box<Compressor>>,
    /// The message being streamed with `send_fragment` is compressed.
    sending_compressed: bool,
    /// Wire bytes of frames the caller holds to write around the queue
    /// (`write_around`): counted as queued until it hands back the rest.
    around: usize,
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
            data_base: 0,
            splices: VecDeque::new(),
            splice_bytes: 0,
            control: Vec::new(),
            control_head: 0,
            plan: Plan::default(),
            close_queued: false,
            close_written: false,
            sending_fragmented: None,
            #[cfg(feature = "deflate")]
            compressor: None,
            sending_compressed: false,
            around: 0,
        }
    }

    #[cfg(feature = "deflate")]
    pub(crate) fn set_compressor(&mut self, compressor: Compressor) {
        self.compressor = Some(Box::new(compressor));
    }

    /// Whether a message of `len` bytes goes out compressed (permessage-
    /// deflate is on and `len` reaches the threshold).
    fn compresses(&self, len: usize) -> bool {
        #[cfg(feature = "deflate")]
        return self.compressor.as_ref().is_some_and(|c| c.wants(len));
        #[cfg(not(feature = "deflate"))]
        {
            let _ = len;
            false
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
    ///
    /// With permessage-deflate, a message from the threshold up goes out
    /// compressed (RSV1 set), unless compressing does not make it smaller.
    pub fn send_message(&mut self, kind: MessageKind, data: &[u8]) -> Result<(), SendError> {
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOpen);
        }
        // A compressed payload is smaller than `data`, or not sent.
        self.check_room(frame_size(data.len(), self.role))?;
        if !(self.compresses(data.len()) && self.queue_compressed_message(kind, data)) {
            self.queue_frame(true, kind.opcode(), data);
        }
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
        if self.compresses(data.len()) {
            return Ok(self.send_message(kind, data));
        }
        // Straight out only when nothing must go between: no owed control
        // frame, no shared frame queued (it would have to be in the write).
        if self.role == Role::Client || self.owes_control() || !self.splices.is_empty() {
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
        self.plan = Plan::default();
        if written < queued_len {
            self.consume_output(written);
            self.queue_frame(true, kind.opcode(), data);
            return Ok(Ok(()));
        }
        self.consume_output(queued_len);
        let sent = written - queued_len;
        if sent < frame_bytes {
            // Queue the unwritten tail; `head` is now inside this frame.
            self.reset_data();
            self.data_base += sent as u64;
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

    /// Whether the caller may write a whole, uncompressed message frame of
    /// `len` payload bytes to the transport itself, ahead of everything
    /// queued here, instead of queuing a copy (a server echoing from its
    /// read buffer); if so, the frame's wire size counts as queued (in the
    /// output bound and [`pending_output_len`](Self::pending_output_len))
    /// until [`queue_unwritten_front`](Self::queue_unwritten_front). True
    /// only when nothing of the stream waits (a control frame under way
    /// would be cut); while such frames are held, owed control frames may
    /// wait behind them. The caller writes its frames before this sender's
    /// output.
    #[cfg(any(feature = "server", feature = "tokio", feature = "fuzzing"))]
    pub(crate) fn write_around(&mut self, len: usize) -> bool {
        let frame = frame_size(len, self.role);
        let allowed = self.role == Role::Server
            && self.sending_fragmented.is_none()
            && !self.compresses(len)
            && self.head == self.data.len()
            && self.splices.is_empty()
            && (self.around > 0 || self.control_head == 0)
            && self.check_room(frame).is_ok();
        if allowed {
            self.around += frame;
        }
        allowed
    }

    /// Ends the count of the frames held to write around the queue: they
    /// were written whole (or the connection is gone).
    #[cfg(any(feature = "server", feature = "tokio", feature = "fuzzing"))]
    pub(crate) fn end_write_around(&mut self) {
        self.around = 0;
    }

    /// Queues, ahead of everything else, what the transport did not take
    /// of the frames written around the queue (see
    /// [`write_around`](Self::write_around)): `frames` are their (header,
    /// payload) pairs in order, of which the first `written` bytes went
    /// out. Frames queued here since come after them. It ends their count,
    /// as [`end_write_around`](Self::end_write_around) does.
    #[cfg(any(feature = "server", feature = "tokio", feature = "fuzzing"))]
    pub(crate) fn queue_unwritten_front<'b>(
        &mut self,
        frames: impl IntoIterator<Item = (&'b [u8], &'b [u8])>,
        mut written: usize,
    ) {
        self.end_write_around();
        let mut front = Vec::new();
        // Where the first unsent frame ends, when it is partly sent.
        let mut partial_end = 0;
        for (header, payload) in frames {
            let len = header.len() + payload.len();
            if written >= len {
                written -= len;
                continue;
            }
            if written < header.len() {
                front.extend_from_slice(&header[written..]);
                front.extend_from_slice(payload);
            } else {
                front.extend_from_slice(&payload[written - header.len()..]);
            }
            if written > 0 {
                partial_end = front.len();
            }
            written = 0;
        }
        if front.is_empty() {
            return;
        }
        // Shared frames keep their places in the stream after `front`.
        let dropped = self.head as u64;
        let added = front.len() as u64;
        for s in &mut self.splices {
            s.at = s.at - dropped + added;
        }
        front.extend_from_slice(&self.data[self.head..]);
        self.data = front;
        self.head = 0;
        self.frame_end = partial_end;
        self.plan = Plan::default();
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
        // Room first, for the message as it is (compressed, it is smaller):
        // a compressor that keeps its context must not take in a message
        // that is then refused, or the peer's context parts from ours.
        self.check_room(fragments_size(data.len(), max_payload.get(), self.role))?;
        #[cfg(feature = "deflate")]
        if self.compresses(data.len()) {
            if let Some(compressed) = self.compress_whole(data) {
                return self.queue_fragments(kind, &compressed, max_payload, true);
            }
        }
        self.queue_fragments(kind, data, max_payload, false)
    }

    /// Queues `data` as one message in frames of at most `max_payload`
    /// bytes, RSV1 on the first if `compressed`; all or nothing.
    fn queue_fragments(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        max_payload: NonZeroUsize,
        compressed: bool,
    ) -> Result<(), SendError> {
        let size = max_payload.get();
        let frames = data.len().div_ceil(size).max(1);
        self.check_room(fragments_size(data.len(), size, self.role))?;
        if data.is_empty() {
            self.queue_frame_rsv1(true, kind.opcode(), data, compressed);
        }
        for (i, chunk) in data.chunks(size).enumerate() {
            let opcode = if i == 0 {
                kind.opcode()
            } else {
                OpCode::Continuation
            };
            self.queue_frame_rsv1(i + 1 == frames, opcode, chunk, compressed && i == 0);
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
        let first = self.sending_fragmented.is_none();
        if first {
            // The first fragment decides for the message.
            self.sending_compressed = self.compresses(data.len());
        }
        if self.sending_compressed {
            // Deflate may grow a fragment a little (block headers, the flush).
            let bound = data.len() + data.len() / 8 + 64;
            self.check_room(frame_size(bound, self.role))?;
            if !self.queue_compressed_fragment(opcode, data, fin, first) {
                if !first {
                    return Err(SendError::Compression);
                }
                self.sending_compressed = false;
                self.queue_frame(fin, opcode, data);
            }
        } else {
            self.check_room(frame_size(data.len(), self.role))?;
            self.queue_frame(fin, opcode, data);
        }
        self.sending_fragmented = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Sends a message encoded once for many connections, without copying
    /// its payload: the queue keeps a reference, in order with the other
    /// sends. Counts [`SharedFrame::wire_len`] plus
    /// [`SHARED_FRAME_OVERHEAD`] against the output bound. A client
    /// connection must mask, so it queues a masked copy instead.
    ///
    /// A compressed frame ([`SharedFrame::is_compressed`]) is refused with
    /// [`SendError::Compression`]: it needs
    /// [`send_shared_compressed`](Self::send_shared_compressed).
    pub fn send_shared(&mut self, frame: &SharedFrame) -> Result<(), SendError> {
        if frame.is_compressed() {
            return Err(SendError::Compression);
        }
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOpen);
        }
        if self.role == Role::Client {
            return self.send_message(frame.kind(), frame.payload());
        }
        self.splice(&frame.bytes)
    }

    /// Sends the messages of `run` in order, all or none, without copying
    /// them: one queue entry for them all. A client connection masks a
    /// copy of each instead. Refused like
    /// [`send_shared`](Self::send_shared) if a frame is compressed.
    pub fn send_shared_run(&mut self, run: &SharedRun) -> Result<(), SendError> {
        if run.compressed {
            return Err(SendError::Compression);
        }
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOpen);
        }
        if run.bytes.is_empty() {
            return Ok(());
        }
        if self.role == Role::Client {
            // Each frame grows by its 4-byte masking key.
            self.check_room(run.wire_len() + 4 * run.frames.len())?;
            for frame in run.frames.iter() {
                self.send_message(frame.kind(), frame.payload())?;
            }
            return Ok(());
        }
        self.splice(&run.bytes)
    }

    /// Queues whole frames shared with other connections (checked by the
    /// caller) as a splice.
    fn splice(&mut self, bytes: &Arc<[u8]>) -> Result<(), SendError> {
        self.check_room(bytes.len() + SHARED_FRAME_OVERHEAD)?;
        self.splices.push_back(Splice {
            at: self.data_base + self.data.len() as u64,
            bytes: Arc::clone(bytes),
            written: 0,
        });
        self.splice_bytes += bytes.len();
        Ok(())
    }

    /// The key under which a published message of `len` bytes is
    /// compressed for this connection, or `None` when it goes out as it is
    /// (no permessage-deflate, or under the threshold). Connections of one
    /// [`DeflateConfig`](crate::deflate::DeflateConfig) and role with the
    /// same key can share one [`compress_shared`](Self::compress_shared)
    /// result: a server sends its frame as it is, a client a masked copy
    /// of it (the compression is what it saves).
    #[cfg(feature = "deflate")]
    pub fn shared_compression(&self, len: usize) -> Option<SharedKey> {
        let c = self.compressor.as_ref()?;
        c.wants(len).then(|| c.shared_key())
    }

    /// Compresses a shared frame for this connection's
    /// [`shared_compression`](Self::shared_compression) key, without its
    /// window's history: `None` when that key is `None` or compression
    /// would not make the message smaller (send `plain` then). The result
    /// serves every connection with the same key.
    #[cfg(feature = "deflate")]
    pub fn compress_shared(&self, plain: &SharedFrame) -> Option<SharedFrame> {
        self.shared_compression(plain.payload().len())?;
        let c = self.compressor.as_ref()?;
        let mut out = Vec::new();
        c.compress_detached(plain.payload(), &mut out)
            .then(|| SharedFrame::compressed(plain.kind(), &out))
    }

    /// Sends `compressed`, made by [`compress_shared`](Self::compress_shared)
    /// from `plain` on a connection with this one's key, without copying
    /// it (a client queues a masked copy). With context takeover the
    /// peer's window takes in the message, so this connection's history
    /// records `plain`'s text (a copy of at most the window). A connection
    /// that did not negotiate permessage-deflate sends `plain` instead.
    #[cfg(feature = "deflate")]
    pub fn send_shared_compressed(
        &mut self,
        plain: &SharedFrame,
        compressed: &SharedFrame,
    ) -> Result<(), SendError> {
        if self.sending_fragmented.is_some() {
            return Err(SendError::FragmentOpen);
        }
        let usable = compressed.is_compressed()
            && compressed.kind() == plain.kind()
            && self.shared_compression(plain.payload().len()).is_some();
        if !usable {
            return self.send_shared(plain);
        }
        if self.role == Role::Client {
            let payload = compressed.payload();
            self.check_room(frame_size(payload.len(), self.role))?;
            self.queue_frame_rsv1(true, compressed.kind().opcode(), payload, true);
        } else {
            self.splice(&compressed.bytes)?;
        }
        if let Some(c) = self.compressor.as_mut() {
            c.remember(plain.payload());
        }
        Ok(())
    }

    /// Sends a ping. It goes out at the next frame boundary, ahead of queued
    /// data. Fails with [`SendError::Full`] when the control queue is full
    /// (room for one pong is kept: owed pongs never push out a ping).
    pub fn ping(&mut self, payload: ControlPayload) -> Result<(), SendError> {
        if self.close_queued {
            return Err(SendError::Closed);
        }
        // Room for the largest pong stays free, so that answering the
        // peer's pings never has to drop a ping already accepted here.
        let pong = frame_size(MAX_CONTROL_PAYLOAD, self.role);
        if self.control.len() + frame_size(payload.as_bytes().len(), self.role) + pong
            > MAX_CONTROL_QUEUE
        {
            return Err(SendError::Full);
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

    /// The output bound ([`Limits::max_output_buffer`](crate::Limits)): a
    /// frame larger than this, with its bookkeeping, is refused even when
    /// nothing is queued.
    pub fn max_output(&self) -> usize {
        self.max_output
    }

    /// Bytes waiting to be written, owed replies and shared frames
    /// included.
    pub fn pending_output_len(&self) -> usize {
        (self.control.len() - self.control_head)
            + (self.data.len() - self.head)
            + self.splice_bytes
            + self.around
    }

    /// Shared frames queued and not yet completely written.
    pub fn queued_shared_frames(&self) -> usize {
        self.splices.len()
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
    /// out as one slice, so one write call carries many small messages; a
    /// queued [`SharedFrame`] comes out as a slice of its own (see
    /// [`output_vectored`](Self::output_vectored) to write several at once).
    pub fn output(&mut self) -> &[u8] {
        self.plan = Plan::default();
        if self.owes_control() && self.may_send_control() {
            // Pings and pongs go at a frame boundary of the stream; once
            // started, they are written through.
            self.plan.control = self.control.len() - self.control_head;
            return &self.control[self.control_head..];
        }
        let owes_control = self.owes_control();
        match self.stream_chunk() {
            Chunk::Splice(i) => {
                let s = &self.splices[i];
                &s.bytes[s.written..]
            }
            // Only up to the end of the current frame while control waits.
            Chunk::Data(end) if owes_control => &self.data[self.head..end.min(self.frame_end)],
            Chunk::Data(end) => &self.data[self.head..end],
        }
    }

    /// Fills `bufs` with the next slices to write, in order, and returns
    /// how many it filled (0 when nothing waits): a vectored write takes
    /// queued data, owed control frames and shared frames in one call.
    /// Report the count written to [`consume_output`](Self::consume_output).
    #[cfg(feature = "std")]
    pub fn output_vectored<'a>(&'a mut self, bufs: &mut [std::io::IoSlice<'a>]) -> usize {
        use std::io::IoSlice;
        self.plan = Plan::default();
        if bufs.is_empty() {
            return 0;
        }
        let mut n = 0;
        let mut before_control = 0;
        let mut control_handed = 0;
        let owes_control = self.owes_control();
        let boundary = owes_control && self.may_send_control();
        // The position of the stream walk: data index and splice index.
        let mut at = self.head;
        let mut next_splice = 0;
        if owes_control && !boundary {
            // Finish the frame under way, then the control frames.
            let first: &[u8] = match self.stream_chunk() {
                Chunk::Splice(i) => {
                    let s = &self.splices[i];
                    next_splice = 1;
                    &s.bytes[s.written..]
                }
                Chunk::Data(_) => {
                    at = self.frame_end;
                    &self.data[self.head..self.frame_end]
                }
            };
            before_control = first.len();
            bufs[n] = IoSlice::new(first);
            n += 1;
        }
        if owes_control && n < bufs.len() {
            let control = &self.control[self.control_head..];
            control_handed = control.len();
            bufs[n] = IoSlice::new(control);
            n += 1;
        }
        // The rest of the stream: data runs and shared frames in order.
        while n < bufs.len() {
            let splice = self.splices.get(next_splice);
            let run_end = splice.map_or(self.data.len(), |s| (s.at - self.data_base) as usize);
            if at < run_end {
                bufs[n] = IoSlice::new(&self.data[at..run_end]);
                at = run_end;
            } else if let Some(s) = splice {
                bufs[n] = IoSlice::new(&s.bytes[s.written..]);
                next_splice += 1;
            } else {
                break;
            }
            n += 1;
        }
        self.plan = Plan {
            before_control,
            control: control_handed,
        };
        n
    }

    /// Marks `n` bytes of what the last [`output`](Self::output) or
    /// [`output_vectored`](Self::output_vectored) handed out as written.
    pub fn consume_output(&mut self, n: usize) {
        let plan = self.plan;
        let before = n.min(plan.before_control);
        self.advance_stream(before);
        let control = (n - before).min(plan.control);
        self.advance_control(control);
        // Past the control frames only if they were handed out whole.
        let rest = n - before - control;
        if rest > 0 && control == plan.control {
            self.advance_stream(rest);
        }
        self.plan = Plan {
            before_control: plan.before_control - before,
            control: plan.control - control,
        };
    }

    /// Queues the pong owed for a received ping. If the control queue is
    /// full, the pongs not yet started make room for it: the newest ping is
    /// the one worth answering (RFC 6455 section 5.5.3).
    pub(crate) fn owe_pong(&mut self, payload: ControlPayload) {
        if self.close_queued {
            return;
        }
        if !self.queue_control(OpCode::Pong, payload.as_bytes()) {
            self.drop_owed_pongs();
            if !self.queue_control(OpCode::Pong, payload.as_bytes()) {
                // Unreachable while `ping` leaves room for a pong; kept so
                // that the newest ping is answered whatever happens.
                self.drop_owed_pings();
                self.queue_control(OpCode::Pong, payload.as_bytes());
            }
        }
    }

    /// Drops the pongs not yet started, keeping the frame being written
    /// and the pings the application queued, in order.
    fn drop_owed_pongs(&mut self) {
        let mut read = 0;
        while read < self.control_head {
            read = read.saturating_add(frame_len_at(&self.control[read..]));
        }
        let mut write = read.min(self.control.len());
        while read < self.control.len() {
            let len = frame_len_at(&self.control[read..]).min(self.control.len() - read);
            if self.control[read] & 0x0f == OpCode::Ping.as_u8() {
                self.control.copy_within(read..read + len, write);
                write += len;
            }
            read += len;
        }
        self.control.truncate(write);
        if self.control_head == self.control.len() {
            self.control.clear();
            self.control_head = 0;
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
            keep = keep.saturating_add(frame_len_at(&self.control[keep..]));
        }
        self.control.truncate(keep.min(self.control.len()));
        if self.control_head == self.control.len() {
            self.control.clear();
            self.control_head = 0;
        }
    }

    /// Releases the queues' memory when nothing is queued.
    pub(crate) fn shrink_idle(&mut self) {
        if self.head == self.data.len() {
            self.reset_data();
            self.data = Vec::new();
        }
        if self.control.is_empty() {
            self.control = Vec::new();
        }
        if self.splices.is_empty() {
            self.splices = VecDeque::new();
        }
    }

    /// Heap bytes held by the output queues (shared frames not counted:
    /// they are not this connection's).
    pub(crate) fn heap_bytes(&self) -> usize {
        #[cfg(feature = "deflate")]
        let deflate = self
            .compressor
            .as_ref()
            .map_or(0, |c| core::mem::size_of::<Compressor>() + c.heap_bytes());
        #[cfg(not(feature = "deflate"))]
        let deflate = 0;
        self.data.capacity()
            + self.control.capacity()
            + self.splices.capacity() * core::mem::size_of::<Splice>()
            + deflate
    }

    fn check_room(&self, frame_bytes: usize) -> Result<(), SendError> {
        if self.close_queued {
            return Err(SendError::Closed);
        }
        let queued = self.data.len() - self.head
            + self.splices.len() * SHARED_FRAME_OVERHEAD
            + self.splice_bytes
            + self.around;
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
        self.queue_frame_rsv1(fin, opcode, payload, false);
    }

    fn queue_frame_rsv1(&mut self, fin: bool, opcode: OpCode, payload: &[u8], rsv1: bool) {
        let mut header = FrameHeader::new(opcode, payload.len() as u64);
        header.fin = fin;
        header.rsv1 = rsv1;
        header.mask = self.next_mask();
        self.prepare_queue();
        self.data.extend_from_slice(&header.to_bytes());
        let start = self.data.len();
        self.data.extend_from_slice(payload);
        if let Some(key) = header.mask {
            apply_mask(&mut self.data[start..], key, 0);
        }
    }

    /// Empties `data`, whose bytes have all been written, keeping the
    /// stream offsets of queued splices valid.
    fn reset_data(&mut self) {
        self.data_base += self.data.len() as u64;
        self.data.clear();
        self.head = 0;
        self.frame_end = 0;
    }

    /// Where the stream (data and shared frames, control aside) continues:
    /// a shared frame, or a run of `data` from `head` to the returned end.
    fn stream_chunk(&self) -> Chunk {
        match self.splices.front() {
            Some(s) if s.at == self.data_base + self.head as u64 => Chunk::Splice(0),
            Some(s) => Chunk::Data((s.at - self.data_base) as usize),
            None => Chunk::Data(self.data.len()),
        }
    }

    /// Whether owed control frames may go now: one is under way, or the
    /// stream is between frames.
    fn may_send_control(&mut self) -> bool {
        if self.control_head > 0 {
            return true;
        }
        match self.stream_chunk() {
            Chunk::Splice(i) => self.splices[i].written == 0 && self.advance_boundary(),
            Chunk::Data(_) => self.advance_boundary(),
        }
    }

    /// Credits `n` written bytes to the stream: data runs and shared frames
    /// in order.
    fn advance_stream(&mut self, mut n: usize) {
        while n > 0 {
            match self.stream_chunk() {
                Chunk::Splice(_) => {
                    let Some(s) = self.splices.front_mut() else {
                        return;
                    };
                    let take = n.min(s.bytes.len() - s.written);
                    s.written += take;
                    self.splice_bytes -= take;
                    n -= take;
                    if s.written == s.bytes.len() {
                        self.splices.pop_front();
                    }
                }
                Chunk::Data(end) => {
                    if self.head == end {
                        return; // more written than handed out: ignore
                    }
                    let take = n.min(end - self.head);
                    self.head += take;
                    n -= take;
                    self.advance_boundary();
                    if self.head == self.data.len() {
                        self.reset_data();
                    }
                }
            }
        }
        if self.close_queued && self.head == self.data.len() && self.splices.is_empty() {
            // The close is always the last frame queued.
            self.close_written = true;
        }
    }

    /// Credits `n` written bytes to the control queue, and drops the
    /// frames written whole, so that `control_head > 0` always means a
    /// control frame is under way (one may be queued after a write handed
    /// out the queue and before it was consumed).
    fn advance_control(&mut self, n: usize) {
        self.control_head = self.control_head.saturating_add(n).min(self.control.len());
        let mut end = 0;
        while end < self.control_head {
            end = end.saturating_add(frame_len_at(&self.control[end..]));
        }
        if end == self.control_head {
            self.control.drain(..end);
            self.control_head = 0;
        }
    }

    /// Makes the data queue ready for a new frame at its end: empties it
    /// when everything was written, or reclaims a large written front so
    /// the queue does not creep.
    fn prepare_queue(&mut self) {
        if self.head == self.data.len() {
            self.reset_data();
        } else if self.head > self.data.len() / 2 && self.head >= 4096 {
            self.data.drain(..self.head);
            self.data_base += self.head as u64;
            self.frame_end -= self.head;
            self.head = 0;
        }
    }

    /// Compresses a whole message straight into the queue, as one frame
    /// with RSV1. False, with nothing queued, when the message is better
    /// sent as it is.
    fn queue_compressed_message(&mut self, kind: MessageKind, data: &[u8]) -> bool {
        #[cfg(feature = "deflate")]
        return self.queue_compressed(kind.opcode(), true, true, |c, out| {
            c.compress_message(data, out)
        });
        #[cfg(not(feature = "deflate"))]
        {
            let _ = (kind, data);
            false
        }
    }

    /// Compresses one fragment of a streamed message into the queue.
    fn queue_compressed_fragment(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        fin: bool,
        first: bool,
    ) -> bool {
        #[cfg(feature = "deflate")]
        return self.queue_compressed(opcode, fin, first, |c, out| {
            c.compress_fragment(data, fin, out).is_ok()
        });
        #[cfg(not(feature = "deflate"))]
        {
            let _ = (opcode, data, fin, first);
            false
        }
    }

    /// A whole message compressed into a buffer of its own, for
    /// [`send_message_fragmented`](Self::send_message_fragmented), or
    /// `None` to send it as it is.
    #[cfg(feature = "deflate")]
    fn compress_whole(&mut self, data: &[u8]) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.compressor
            .as_mut()?
            .compress_message(data, &mut out)
            .then_some(out)
    }

    /// Queues one frame whose payload `compress` appends to the queue: the
    /// header goes in front once the payload's length is known (room for
    /// the largest header is kept, and the payload moved back over what a
    /// shorter one leaves). Masks the payload in the client role.
    #[cfg(feature = "deflate")]
    fn queue_compressed(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv1: bool,
        compress: impl FnOnce(&mut Compressor, &mut Vec<u8>) -> bool,
    ) -> bool {
        use crate::frame::MAX_HEADER_LEN;
        if self.compressor.is_none() {
            return false;
        }
        self.prepare_queue();
        let at = self.data.len();
        self.data.resize(at + MAX_HEADER_LEN, 0);
        let payload_at = at + MAX_HEADER_LEN;
        let Sender {
            compressor, data, ..
        } = self;
        let done = compressor.as_mut().is_some_and(|c| compress(c, data));
        if !done {
            self.data.truncate(at);
            return false;
        }
        let len = self.data.len() - payload_at;
        let mut header = FrameHeader::new(opcode, len as u64);
        header.fin = fin;
        header.rsv1 = rsv1;
        header.mask = self.next_mask();
        let bytes = header.to_bytes();
        let header_len = bytes.len();
        self.data.copy_within(payload_at.., at + header_len);
        self.data.truncate(at + header_len + len);
        self.data[at..at + header_len].copy_from_slice(&bytes);
        if let Some(key) = header.mask {
            apply_mask(&mut self.data[at + header_len..], key, 0);
        }
        true
    }

    /// Moves `frame_end` past frames written completely; returns whether
    /// `head` sits on a frame boundary.
    fn advance_boundary(&mut self) -> bool {
        while self.frame_end < self.head {
            let len = frame_len_at(&self.data[self.frame_end..]);
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
            .field("shared_frames", &self.splices.len())
            .field("close_queued", &self.close_queued)
            .field("close_written", &self.close_written)
            .finish()
    }
}

/// A piece of the stream, from [`Sender::stream_chunk`].
enum Chunk {
    /// The shared frame at this index of `splices`.
    Splice(usize),
    /// `data[head..end]`.
    Data(usize),
}

/// Wire size of a message of `len` bytes cut into frames of at most
/// `size` payload bytes (an empty message is one empty frame).
fn fragments_size(len: usize, size: usize, role: Role) -> usize {
    let frames = len.div_ceil(size).max(1);
    let last_len = len - (frames - 1) * size;
    (frames - 1) * frame_size(size, role) + frame_size(last_len, role)
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
///
/// Read straight from the header's length fields: these are our own frames,
/// already valid, and this runs for every frame written, so the checks of
/// [`FrameHeader::decode`] would only cost.
fn frame_len_at(bytes: &[u8]) -> usize {
    let [_, b1, rest @ ..] = bytes else {
        return bytes.len();
    };
    let mask_len: usize = if b1 & 0x80 != 0 { 4 } else { 0 };
    let (ext_len, payload_len) = match b1 & 0x7f {
        126 => match rest {
            [a, b, ..] => (2, u64::from(u16::from_be_bytes([*a, *b]))),
            // Unreachable for frames this module encoded; treat the rest as
            // one frame so output still drains.
            _ => return bytes.len(),
        },
        127 => match rest.get(..8) {
            Some(ext) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(ext);
                (8, u64::from_be_bytes(be))
            }
            None => return bytes.len(),
        },
        n => (0, u64::from(n)),
    };
    (2 + ext_len + mask_len).saturating_add(usize::try_from(payload_len).unwrap_or(usize::MAX))
}

#[cfg(all(test, feature = "server"))]
mod tests {
    use super::*;
    use crate::frame::{decode_frame, DecodeRules, Status};
    use std::vec::Vec;

    #[test]
    fn frame_len_at_reads_every_length_form_masked_or_not() {
        for len in [0u64, 1, 125, 126, 127, 65_535, 65_536, 1 << 40] {
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut header = FrameHeader::new(OpCode::Binary, len);
                header.mask = mask;
                let bytes = header.to_bytes();
                // Read back in u64: 2^40 does not fit a 32-bit usize, where
                // the length saturates.
                let want = (bytes.len() as u64).saturating_add(len);
                let got = frame_len_at(&bytes) as u64;
                assert_eq!(got, want.min(usize::MAX as u64), "len {len} mask {mask:?}");
                // A header cut inside its length field counts as the rest.
                if bytes.len() > 2 && len > 125 {
                    assert_eq!(frame_len_at(&bytes[..3]), 3, "len {len}");
                }
            }
        }
        assert_eq!(frame_len_at(&[]), 0);
        assert_eq!(frame_len_at(&[0x82]), 1);
    }

    /// Everything the sender hands out, written whole.
    fn drain(tx: &mut Sender) -> Vec<u8> {
        let mut wire = Vec::new();
        loop {
            let out = tx.output().to_vec();
            if out.is_empty() {
                return wire;
            }
            tx.consume_output(out.len());
            wire.extend_from_slice(&out);
        }
    }

    /// The frames a client decodes from `wire`; every byte must belong to one.
    fn frames(mut wire: Vec<u8>) -> Vec<(OpCode, Vec<u8>)> {
        let rules = DecodeRules {
            max_frame_size: u64::MAX,
            ..DecodeRules::new(Role::Client)
        };
        let mut out = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            match decode_frame(&mut wire[at..], &rules) {
                Ok(Status::Complete((f, used))) => {
                    out.push((f.header.opcode, f.payload.to_vec()));
                    at += used;
                }
                other => panic!("bad frame at {at}: {other:?}"),
            }
        }
        out
    }

    #[test]
    fn frames_written_around_the_queue_keep_their_place_whatever_was_written() {
        let a: Vec<u8> = (0..300).map(|i| i as u8).collect();
        let b: Vec<u8> = (0..70_000).map(|i| (i % 26) as u8 + b'a').collect();
        let around = [
            (
                FrameHeader::new(OpCode::Binary, a.len() as u64).to_bytes(),
                &a,
            ),
            (
                FrameHeader::new(OpCode::Text, b.len() as u64).to_bytes(),
                &b,
            ),
        ];
        let pieces = || around.iter().map(|(h, p)| (h.as_bytes(), &p[..]));
        let lane: Vec<u8> = pieces()
            .flat_map(|(h, p)| h.iter().chain(p))
            .copied()
            .collect();
        let shared = SharedFrame::new(MessageKind::Binary, b"shared");
        for written in [0, 1, 2, 5, 304, 305, 306, 400, lane.len() - 1, lane.len()] {
            let mut tx = Sender::new(Role::Server, 1 << 20, None);
            assert!(tx.write_around(a.len()));
            assert!(tx.write_around(b.len()));
            assert_eq!(tx.pending_output_len(), lane.len(), "held frames count");
            // Queued after the frames written around the queue.
            tx.owe_pong(ControlPayload::new(b"p").unwrap());
            tx.send_binary(b"small").unwrap();
            assert!(!tx.write_around(10), "queued data goes first");
            tx.send_shared(&shared).unwrap();
            tx.close(CloseCode::NORMAL, CloseReason::truncate(""))
                .unwrap();

            let mut wire = lane[..written].to_vec();
            tx.queue_unwritten_front(pieces(), written);
            wire.extend(drain(&mut tx));
            let got = frames(wire);
            let data: Vec<_> = got.iter().filter(|f| f.0 != OpCode::Pong).collect();
            let want = [
                (OpCode::Binary, a.clone()),
                (OpCode::Text, b.clone()),
                (OpCode::Binary, b"small".to_vec()),
                (OpCode::Binary, b"shared".to_vec()),
                (OpCode::Close, 1000u16.to_be_bytes().to_vec()),
            ];
            assert_eq!(data.len(), want.len(), "written {written}");
            for (g, w) in data.iter().zip(&want) {
                assert!(**g == *w, "written {written}: {:?} differs", w.0);
            }
            let pongs = got.iter().filter(|f| f.0 == OpCode::Pong).count();
            assert_eq!(pongs, 1, "written {written}");
            assert!(tx.is_close_written());
            assert_eq!(tx.pending_output_len(), 0);
        }
    }

    #[test]
    fn what_may_be_written_around_the_queue() {
        let mut tx = Sender::new(Role::Server, 1 << 20, None);
        assert!(tx.write_around(10));
        tx.owe_pong(ControlPayload::new(b"p").unwrap());
        assert!(tx.write_around(10), "a pong may wait behind held frames");
        let mut tx = Sender::new(Role::Server, 1 << 20, None);
        tx.send_binary(b"queued").unwrap();
        assert!(!tx.write_around(10), "queued data goes first");
        let mut client = Sender::new(Role::Client, 1 << 20, None);
        assert!(!client.write_around(10), "a client masks");
        let mut tx = Sender::new(Role::Server, 100, None);
        assert!(!tx.write_around(200), "over the output bound");
        assert!(tx.write_around(50));
        assert!(!tx.write_around(50), "held frames count against the bound");
        assert_eq!(
            tx.send_binary(&[0; 50]),
            Err(SendError::Full),
            "for sends too"
        );
        tx.queue_unwritten_front([(&[0x82, 50][..], &[0u8; 50][..])], 52);
        assert_eq!(tx.pending_output_len(), 0, "written whole: nothing held");
        // A pong half written: nothing may go before it ends.
        tx.owe_pong(ControlPayload::new(b"ping").unwrap());
        let out = tx.output().len();
        tx.consume_output(out - 1);
        assert!(!tx.write_around(10));
        tx.consume_output(1);
        tx.close(CloseCode::NORMAL, CloseReason::truncate(""))
            .unwrap();
        assert!(!tx.write_around(10), "nothing after the close");
    }
}
