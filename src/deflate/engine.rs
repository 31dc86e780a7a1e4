//! What the codec needs from a DEFLATE (RFC 1951) implementation: raw
//! streams, a sync flush, a preset dictionary, and a place to keep the
//! heavy state between messages.
//!
//! The protocol's side of permessage-deflate (which frames carry RSV1, the
//! `00 00 ff ff` tail, the size limit after every step, context takeover)
//! lives in [`Compressor`](super::Compressor) and
//! [`Decompressor`](super::Decompressor) and never changes with the
//! implementation. An [`Engine`] only makes and keeps the DEFLATE state.
//! With `std` the crate brings one, [`Zlib`](super::Zlib) (zlib-rs);
//! without it, implement these traits over the library of your choice.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

/// A DEFLATE implementation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineError {
    /// The compressed data is not a valid raw DEFLATE stream.
    InvalidData,
    /// The implementation reported an internal failure (bad state, no
    /// memory).
    Internal,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EngineError::InvalidData => "invalid DEFLATE data",
            EngineError::Internal => "DEFLATE implementation failed",
        })
    }
}

impl core::error::Error for EngineError {}

/// The outcome of one [`Inflater::inflate`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inflated {
    /// Input bytes used.
    pub read: usize,
    /// Output bytes written, from the start of the output.
    pub written: usize,
    /// The stream ended: a block with BFINAL set is complete. Input after
    /// it belongs to no stream.
    pub end: bool,
}

/// The outcome of one [`Engine::inflate_once`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflatedOnce {
    /// The whole message, this many bytes from the start of the output.
    Whole(usize),
    /// The message inflates to more than the output holds.
    NoRoom,
}

/// Raw DEFLATE compression, one message (or one fragment) per call.
pub trait Deflater: Send {
    /// Starts a new stream. `dictionary` is text the peer's decompressor
    /// holds in its window (the end of earlier messages, for context
    /// takeover); back-references may point into it. Empty for a fresh
    /// start.
    fn reset(&mut self, dictionary: &[u8]);

    /// Compresses all of `input`, then flushes with a sync flush, so that
    /// the output appended to `out` ends with an empty stored block
    /// (`00 00 ff ff`) on a byte boundary. The stream stays open: the next
    /// call continues it.
    fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), EngineError>;
}

/// Raw DEFLATE decompression into bounded output.
pub trait Inflater: Send {
    /// Starts a new stream with `dictionary` as its window's content
    /// (earlier messages, for context takeover; empty otherwise).
    fn reset(&mut self, dictionary: &[u8]);

    /// Decompresses from `input` into `output`, stopping when the input is
    /// used up, the output is full or the stream ends. It must decode any
    /// window size up to 2^15.
    fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> Result<Inflated, EngineError>;
}

/// Makes, and may keep for reuse, the DEFLATE state of connections.
///
/// A [`Compressor`](super::Compressor) or
/// [`Decompressor`](super::Decompressor) takes a state for one message and
/// gives it back when the message is done (only a message still arriving,
/// or being streamed out, holds one), so an engine that pools them serves
/// every idle connection of a thread with one state per kind. That is how
/// [`Zlib`](super::Zlib) works: per-thread pools.
pub trait Engine: Sync {
    /// The smallest window the deflater can compress with, 9-15. A peer
    /// that asks for less is refused (8 is served with 9, whose matches
    /// never reach past 2^8 bytes: zlib keeps 262 bytes of lookahead).
    fn min_window_bits(&self) -> u8;

    /// A deflater with a window of 2^`window_bits` bytes
    /// (`min_window_bits()..=15`) and compression `level` (0-9). Its state
    /// is unspecified: the caller resets it before use.
    fn deflater(&self, window_bits: u8, level: u8) -> Box<dyn Deflater>;

    /// Gives back a deflater made with these settings, for reuse.
    fn recycle_deflater(&self, window_bits: u8, level: u8, deflater: Box<dyn Deflater>) {
        let _ = (window_bits, level, deflater);
    }

    /// An inflater. Its state is unspecified: the caller resets it.
    fn inflater(&self) -> Box<dyn Inflater>;

    /// Gives back an inflater, for reuse.
    fn recycle_inflater(&self, inflater: Box<dyn Inflater>) {
        let _ = inflater;
    }

    /// Inflates the payload of a whole compressed message, as it came in
    /// one frame (the `00 00 ff ff` tail stripped), into `output`; `None`
    /// if the engine cannot (the default), and the message goes through an
    /// [`Inflater`] instead. The codec asks only without context takeover
    /// (no dictionary). `NoRoom` when the message is larger than `output`,
    /// which holds no more than the caller's limit allows.
    fn inflate_once(
        &self,
        payload: &[u8],
        output: &mut [u8],
    ) -> Option<Result<InflatedOnce, EngineError>> {
        let _ = (payload, output);
        None
    }

    /// Whether [`compress_once`](Self::compress_once) compresses (the
    /// default: no).
    fn compresses_once(&self) -> bool {
        false
    }

    /// Compresses all of `data` at `level` in one call, appending to `out`
    /// what [`Deflater::compress`] would after a reset: a stream that goes
    /// on, ending with a sync flush's empty stored block (`00 00 ff ff`);
    /// `None` if the engine cannot (the default) or declines this
    /// message, which is then streamed through a [`Deflater`].
    ///
    /// The codec asks only for whole messages without a dictionary and no
    /// longer than the peer's window, so that no match can reach past it
    /// whatever window the engine uses. Engines made for one-shot buffers
    /// skip the per-stream setup a streaming compressor pays on every
    /// reset, which is most of the cost of a small message.
    fn compress_once(
        &self,
        level: u8,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<Result<(), EngineError>> {
        let _ = (level, data, out);
        None
    }
}
