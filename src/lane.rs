//! Replies written straight from the read buffer, for the drivers (the
//! mio server's worker and the tokio driver).
//!
//! An echo's payload already sits in the connection's read buffer,
//! unmasked in place. Queuing it would copy it once more before the kernel
//! copies it again, and with many large messages per read that copy is a
//! fifth of the server's CPU. So while a connection's input is handled, a
//! large reply whose payload lies in the read buffer is only noted here
//! (its header and the payload's place), and when the input runs out, the
//! noted frames and the connection's queued output leave in one vectored
//! write. What the transport does not take is copied into the queue then.
//! When the read buffer would have to be compacted before the next read,
//! the lane keeps it and the connection reads on into a spare one, so the
//! replies to several reads still leave in one write (on loopback the
//! sender pays for the receiver's wake-ups: fewer, larger writes).
//!
//! Order: a frame is noted only while the connection's stream queue is
//! empty, and the noted frames are written ahead of that queue, so they
//! keep their place before anything queued after them (a small reply, a
//! shared frame, the close). Pings and pongs may go at any frame boundary.

use std::io::{self, ErrorKind, IoSlice, Write};
use std::prelude::rust_2021::*;

use crate::connection::{MessageKind, Sender};
use crate::frame::{EncodedHeader, FrameHeader};

/// Frames noted per read at most: two slices each, with the queue's own
/// slices after them, well within IOV_MAX. Beyond it replies are queued.
const LANE_FRAMES: usize = 64;
/// Slices the queued output may add to the write.
const QUEUE_SLICES: usize = 16;
/// Up to this many noted frames, the write's slices fit a small array.
const FEW: usize = 2;
/// Earlier read buffers kept at most, the largest kept, and the most bytes
/// of them; beyond any, the lane is written instead (a spare as large as a
/// buffer grown for a huge frame would cost more than the compaction it
/// saves).
const HELD_MAX: usize = 16;
const HELD_BUFFER_MAX: usize = 256 << 10;
const HELD_BYTES_MAX: usize = 1 << 20;
/// `Noted::buffer` of a payload in the connection's current read buffer.
const CURRENT: usize = usize::MAX;

#[derive(Clone, Copy)]
struct Noted {
    header: EncodedHeader,
    /// Which buffer holds the payload: an index into `held`, or `CURRENT`.
    buffer: usize,
    /// The payload's place in that buffer.
    start: usize,
    len: usize,
}

/// The frames noted during one connection's reads (the mio worker has one
/// lane, reused for every connection; a tokio connection has its own).
pub(crate) struct ReplyLane {
    noted: Vec<Noted>,
    /// Wire bytes of the noted frames.
    noted_bytes: usize,
    /// Earlier read buffers of the connection that noted payloads lie in.
    held: Vec<Vec<u8>>,
    /// Address and length of the connection's current read buffer.
    base: usize,
    len: usize,
}

impl ReplyLane {
    pub(crate) fn new() -> ReplyLane {
        // Allocated on first use: a connection that never sends a large
        // reply pays nothing.
        ReplyLane {
            noted: Vec::new(),
            noted_bytes: 0,
            held: Vec::new(),
            base: 0,
            len: 0,
        }
    }

    /// Payloads inside `input`, the connection's read buffer, can be
    /// noted. Call it again whenever the buffer was replaced.
    pub(crate) fn open(&mut self, input: &[u8]) {
        self.base = input.as_ptr() as usize;
        self.len = input.len();
    }

    /// Whether [`hold`](Self::hold) can take one more buffer, `input`,
    /// the connection's read buffer.
    pub(crate) fn can_hold(&self, input: &[u8]) -> bool {
        let held: usize = self.held.iter().map(Vec::len).sum();
        self.held.len() < HELD_MAX
            && input.len() <= HELD_BUFFER_MAX
            && held + input.len() <= HELD_BYTES_MAX
    }

    /// Keeps `old`, the read buffer the connection just replaced, for the
    /// payloads noted in it.
    pub(crate) fn hold(&mut self, old: Vec<u8>) {
        let index = self.held.len();
        for n in &mut self.noted {
            if n.buffer == CURRENT {
                n.buffer = index;
            }
        }
        self.held.push(old);
        // Nothing noted lies in the current buffer now; `open` names the
        // next one.
        self.base = 0;
        self.len = 0;
    }

    /// A buffer no longer needed after [`flush`](Self::flush), for the pool.
    pub(crate) fn take_held(&mut self) -> Option<Vec<u8>> {
        if self.noted.is_empty() {
            self.held.pop()
        } else {
            None
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.noted.is_empty()
    }

    /// No more frames can be noted until it is flushed.
    #[cfg(feature = "tokio")]
    pub(crate) fn is_full(&self) -> bool {
        self.noted.len() == LANE_FRAMES
    }

    /// Notes a message frame carrying `data` if `data` lies in the read
    /// buffer, `tx` allows writing around its queue, and there is room;
    /// false if the reply must be queued instead.
    pub(crate) fn note(&mut self, tx: &mut Sender, kind: MessageKind, data: &[u8]) -> bool {
        let at = data.as_ptr() as usize;
        let inside = self.len > 0 && at >= self.base && at - self.base + data.len() <= self.len;
        if !inside || self.noted.len() == LANE_FRAMES || !tx.write_around(data.len()) {
            return false;
        }
        let header = FrameHeader::new(kind.opcode(), data.len() as u64).to_bytes();
        self.noted_bytes += header.len() + data.len();
        self.noted.push(Noted {
            header,
            buffer: CURRENT,
            start: at - self.base,
            len: data.len(),
        });
        true
    }

    /// Writes the noted frames, then `tx`'s output, in one call; queues in
    /// `tx`, ahead of the rest, what the socket did not take. `input` is
    /// the read buffer last given to [`open`](Self::open), its bytes
    /// unmoved since.
    pub(crate) fn flush<W: Write>(
        &mut self,
        input: &[u8],
        tx: &mut Sender,
        socket: &mut W,
    ) -> io::Result<()> {
        if self.noted.is_empty() {
            return Ok(());
        }
        debug_assert!(
            self.noted.iter().all(|n| n.buffer != CURRENT) || input.as_ptr() as usize == self.base,
            "the read buffer changed under noted frames"
        );
        let (noted, held) = (&self.noted, &self.held);
        let frames = || {
            noted.iter().map(|n| {
                let buffer = match n.buffer {
                    CURRENT => input,
                    i => &held[i][..],
                };
                (n.header.as_bytes(), &buffer[n.start..n.start + n.len])
            })
        };
        let lane_bytes = self.noted_bytes;
        // A lone echo (one message in flight) needs few slices: spare it
        // setting up the large array.
        let result = if noted.len() <= FEW {
            write::<{ 2 * FEW + QUEUE_SLICES }, W>(frames(), tx, socket)
        } else {
            write::<{ 2 * LANE_FRAMES + QUEUE_SLICES }, W>(frames(), tx, socket)
        };
        let outcome = match result {
            Ok(written) if written >= lane_bytes => {
                tx.end_write_around();
                tx.consume_output(written - lane_bytes);
                Ok(())
            }
            Ok(written) => {
                tx.queue_unwritten_front(frames(), written);
                Ok(())
            }
            Err(e) => {
                // The connection is broken: nothing more goes out.
                tx.end_write_around();
                Err(e)
            }
        };
        self.noted.clear();
        self.noted_bytes = 0;
        outcome
    }
}

#[cfg(feature = "server")]
impl ReplyLane {
    /// Drops what was noted, unwritten (the connection is broken), and
    /// hands back the held buffers through `take_held`.
    pub(crate) fn discard(&mut self, tx: &mut Sender) {
        tx.end_write_around();
        self.noted.clear();
        self.noted_bytes = 0;
    }
}

/// Writes `frames`, then what `tx` has queued, in one vectored write of at
/// most `N` slices (`N` at least twice the frames). `WouldBlock` is a
/// write of nothing.
fn write<'a, const N: usize, W: Write>(
    frames: impl Iterator<Item = (&'a [u8], &'a [u8])>,
    tx: &mut Sender,
    socket: &mut W,
) -> io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); N];
    let mut n = 0;
    for (header, payload) in frames {
        slices[n] = IoSlice::new(header);
        slices[n + 1] = IoSlice::new(payload);
        n += 2;
    }
    n += tx.output_vectored(&mut slices[n..]);
    loop {
        match socket.write_vectored(&slices[..n]) {
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(0),
            other => return other,
        }
    }
}
