//! The message transformation of permessage-deflate (RFC 7692 section 7.2),
//! one direction each: [`Compressor`] and [`Decompressor`].
//!
//! Context takeover without per-connection DEFLATE state: an endpoint that
//! keeps its window across messages only promises that the next message
//! may refer to the last 2^bits bytes of the earlier ones. So each side
//! keeps exactly those bytes (its *history*) and starts every message with
//! a fresh state from the engine's pool, primed with the history as a
//! preset dictionary. For the peer the stream is the same one continued;
//! here, an idle connection costs its history and nothing else: 4 KiB a
//! direction with 12-bit windows, instead of the 100-300 KiB of a live
//! zlib stream.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use super::engine::{Deflater, Engine, EngineError, InflatedOnce, Inflater};
use super::negotiate::{Direction, Level, Negotiated};

/// The empty stored block a sync flush ends with; stripped from every
/// compressed message and put back before inflating (section 7.2.1).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output room of the first inflate step of a call, and its growth: each
/// step that fills its room doubles the next, up to `MAX_STEP`, so the
/// zero-filled room stays within twice the output plus one step.
const MIN_STEP: usize = 1024;
const MAX_STEP: usize = 1 << 20;

/// The last `cap` bytes of what went through one direction's compressor.
#[derive(Debug, Default)]
struct History {
    bytes: Vec<u8>,
    cap: usize,
}

impl History {
    fn new(direction: Direction) -> Self {
        History {
            bytes: Vec::new(),
            cap: if direction.takeover {
                1 << direction.window_bits
            } else {
                0
            },
        }
    }

    fn remember(&mut self, data: &[u8]) {
        if self.cap == 0 || data.is_empty() {
            return;
        }
        if self.bytes.capacity() < self.cap {
            self.bytes.reserve_exact(self.cap - self.bytes.len());
        }
        if data.len() >= self.cap {
            self.bytes.clear();
            self.bytes.extend_from_slice(&data[data.len() - self.cap..]);
            return;
        }
        let keep = self.cap - data.len();
        if self.bytes.len() > keep {
            let drop = self.bytes.len() - keep;
            self.bytes.copy_within(drop.., 0);
            self.bytes.truncate(keep);
        }
        self.bytes.extend_from_slice(data);
    }
}

/// The sending half: turns a message into the payload of a frame with
/// RSV1 set.
pub struct Compressor {
    /// What the engine compresses with (9-15).
    window_bits: u8,
    /// Messages up to 2^this bytes may be compressed in one call (see
    /// [`Engine::compress_once`]): the peer's window without context
    /// takeover, 0 with it or with an engine that only streams.
    once_bits: u8,
    level: Level,
    threshold: usize,
    engine: &'static dyn Engine,
    history: History,
    /// The deflater of a message being streamed out in fragments, and its
    /// level.
    open: Option<(Box<dyn Deflater>, u8)>,
}

impl fmt::Debug for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compressor")
            .field("window_bits", &self.window_bits)
            .field("level", &self.level)
            .field("threshold", &self.threshold)
            .field("history", &self.history.bytes.len())
            .field("streaming", &self.open.is_some())
            .finish()
    }
}

impl Compressor {
    /// The compressor of this end's messages.
    pub fn new(negotiated: &Negotiated) -> Self {
        let send = negotiated.send();
        Compressor {
            window_bits: send.window_bits.max(negotiated.engine().min_window_bits()),
            once_bits: if send.takeover || !negotiated.engine().compresses_once() {
                0
            } else {
                send.window_bits
            },
            level: negotiated.level(),
            threshold: negotiated.threshold(),
            engine: negotiated.engine(),
            history: History::new(send),
            open: None,
        }
    }

    /// Whether a message of `len` bytes is compressed at all (the
    /// threshold).
    pub fn wants(&self, len: usize) -> bool {
        len >= self.threshold
    }

    /// Compresses a whole message, appending the frame payload (tail
    /// stripped) to `out`. Returns `false`, with `out` as it was, when the
    /// result would not be smaller than `data` or the engine failed: send
    /// the message uncompressed then (RSV1 clear), which the peer's
    /// window never sees.
    pub fn compress_message(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        if !self.compress_whole(&self.history.bytes, data, out) {
            return false;
        }
        self.history.remember(data);
        true
    }

    /// Compresses `data` as one message with `dictionary` preset, on a
    /// pooled deflater; `false`, with `out` as it was, if that did not
    /// make it smaller or the engine failed.
    fn compress_whole(&self, dictionary: &[u8], data: &[u8], out: &mut Vec<u8>) -> bool {
        let start = out.len();
        let level = self.level.of(data.len());
        if self.once_bits != 0 && dictionary.is_empty() && data.len() <= 1 << self.once_bits {
            if let Some(result) = self.engine.compress_once(level, data, out) {
                if result.is_err() || !finish_payload(out, start) || out.len() - start >= data.len()
                {
                    out.truncate(start);
                    return false;
                }
                return true;
            }
        }
        let mut deflater = self.engine.deflater(self.window_bits, level);
        deflater.reset(dictionary);
        let result = deflater.compress(data, out);
        self.engine
            .recycle_deflater(self.window_bits, level, deflater);
        if result.is_err() || !finish_payload(out, start) || out.len() - start >= data.len() {
            out.truncate(start);
            return false;
        }
        true
    }

    /// Compresses one fragment of a message streamed out piece by piece:
    /// the first call starts the message, `fin` ends it. Appends this
    /// frame's payload to `out`. On an error the message cannot go on.
    pub fn compress_fragment(
        &mut self,
        data: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), EngineError> {
        let start = out.len();
        let (deflater, _) = match &mut self.open {
            Some(open) => open,
            None => {
                // The message's level goes by its first fragment.
                let level = self.level.of(data.len());
                let mut d = self.engine.deflater(self.window_bits, level);
                d.reset(&self.history.bytes);
                self.open.insert((d, level))
            }
        };
        let result = deflater.compress(data, out);
        if result.is_ok() {
            self.history.remember(data);
        }
        if fin || result.is_err() {
            if let Some((d, level)) = self.open.take() {
                self.engine.recycle_deflater(self.window_bits, level, d);
            }
        }
        result?;
        // A sync flush ends every piece with the tail; only the message's
        // end drops it.
        if fin && !finish_payload(out, start) {
            return Err(EngineError::Internal);
        }
        Ok(())
    }

    /// Heap bytes held: the history.
    pub fn heap_bytes(&self) -> usize {
        self.history.bytes.capacity()
    }

    /// What a message compressed by [`compress_detached`](Self::compress_detached)
    /// depends on besides its text: the window it is compressed within and
    /// the level. Compressors with the same engine and key produce the
    /// same bytes, which any of their peers can inflate.
    pub fn shared_key(&self) -> SharedKey {
        SharedKey {
            window_bits: self.window_bits,
            level: self.level,
            once_bits: self.once_bits,
        }
    }

    /// Compresses a whole message as [`compress_message`](Self::compress_message)
    /// does, but without this direction's history as a dictionary and
    /// without adding to it: the result is the same for every compressor
    /// with this [`shared_key`](Self::shared_key), so one copy can go to
    /// many peers. With context takeover the peer's window still takes in
    /// the message: call [`remember`](Self::remember) with its text on each
    /// compressor it is sent through.
    pub fn compress_detached(&self, data: &[u8], out: &mut Vec<u8>) -> bool {
        self.compress_whole(&[], data, out)
    }

    /// Records a message sent compressed by another compressor (see
    /// [`compress_detached`](Self::compress_detached)): with context
    /// takeover the peer's window holds it, so the next message's
    /// dictionary must too. Without takeover it does nothing.
    pub fn remember(&mut self, data: &[u8]) {
        self.history.remember(data);
    }

    /// Whether the window carries over between messages.
    pub fn takes_over(&self) -> bool {
        self.history.cap != 0
    }
}

/// The settings a shared compressed message depends on (see
/// [`Compressor::shared_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SharedKey {
    /// The window the engine compresses within, 9-15.
    pub window_bits: u8,
    /// The compression levels.
    pub level: Level,
    /// Messages up to 2^this bytes may be compressed in one call, by
    /// another implementation than the streamed ones (other bytes); 0 with
    /// context takeover or with an engine that only streams.
    pub once_bits: u8,
}

impl Drop for Compressor {
    fn drop(&mut self) {
        if let Some((d, level)) = self.open.take() {
            self.engine.recycle_deflater(self.window_bits, level, d);
        }
    }
}

/// Drops the `00 00 ff ff` a sync flush ends `out[start..]` with. Output
/// that is then empty (a flush with nothing new) becomes a lone `00`, the
/// start of an empty stored block that the receiver's appended tail
/// completes; removing four bytes there would cut into the previous
/// fragment's payload. False if the output does not end with a flush.
fn finish_payload(out: &mut Vec<u8>, start: usize) -> bool {
    if out.len() - start == 0 {
        out.push(0);
        return true;
    }
    if !out[start..].ends_with(&TAIL) {
        return false;
    }
    out.truncate(out.len() - TAIL.len());
    if out.len() == start {
        out.push(0);
    }
    true
}

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InflateError {
    /// The payload is not valid DEFLATE data, or refers further back than
    /// the window allows. Close 1007.
    InvalidData,
    /// The inflated message would pass the size limit. Close 1009.
    TooLarge,
    /// The engine failed. Close 1011.
    Engine,
}

impl fmt::Display for InflateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InflateError::InvalidData => "invalid compressed data",
            InflateError::TooLarge => "message inflates past the size limit",
            InflateError::Engine => "decompressor failed",
        })
    }
}

impl core::error::Error for InflateError {}

impl From<EngineError> for InflateError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::InvalidData => InflateError::InvalidData,
            EngineError::Internal => InflateError::Engine,
        }
    }
}

/// Payloads up to this size may be inflated in one call
/// ([`Decompressor::inflate_whole`]); larger ones are streamed, so a
/// one-shot engine's copy of the payload stays small.
const ONCE_MAX_PAYLOAD: usize = 64 * 1024;

/// Payloads under this size are streamed even when they could be inflated
/// in one call: libdeflate builds full decode tables for every block,
/// which costs more than zlib-rs's streaming for small messages. Measured
/// here on JSON records at level 1: a 352-byte payload (1 KiB of text)
/// took 3.5 us in one call and 2.2 us streamed, 569 bytes (2 KiB) 4.4
/// against 3.7 us, 980 bytes (4 KiB) 5.0 against 5.7 us.
pub(crate) const ONCE_MIN_PAYLOAD: usize = 768;

/// The receiving half: inflates the payload of a message that arrived
/// with RSV1, frame by frame or piece by piece, never past a size limit.
///
/// ```
/// # #[cfg(feature = "std")] {
/// use rfc6455::deflate::{DeflateConfig, Decompressor, Params};
///
/// let negotiated = DeflateConfig::default().answer(Params::default()).unwrap();
/// let mut inflate = Decompressor::new(&negotiated);
/// let mut message = Vec::new();
/// inflate.begin();
/// // "Hello", compressed (RFC 7692 section 7.2.3.1).
/// inflate.inflate(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], &mut message, 1024)?;
/// inflate.finish(&mut message, 1024)?;
/// assert_eq!(message, b"Hello");
/// # }
/// # Ok::<(), rfc6455::deflate::InflateError>(())
/// ```
pub struct Decompressor {
    engine: &'static dyn Engine,
    history: History,
    /// The inflater of the message being received.
    open: Option<Box<dyn Inflater>>,
    /// The message's stream reached its final block: the rest of the
    /// message's payload is ignored.
    ended: bool,
}

impl fmt::Debug for Decompressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressor")
            .field("history", &self.history.bytes.len())
            .field("in_message", &self.open.is_some())
            .finish()
    }
}

impl Decompressor {
    /// The decompressor of the peer's messages.
    pub fn new(negotiated: &Negotiated) -> Self {
        Decompressor {
            engine: negotiated.engine(),
            history: History::new(negotiated.recv()),
            open: None,
            ended: false,
        }
    }

    /// Starts a compressed message: takes an inflater from the engine and
    /// primes it with the history. Drops any message still open.
    pub fn begin(&mut self) {
        self.end_message();
        let mut inflater = self.engine.inflater();
        inflater.reset(&self.history.bytes);
        self.open = Some(inflater);
    }

    /// Whether a message is open (between [`begin`](Self::begin) and
    /// [`finish`](Self::finish)).
    pub fn in_message(&self) -> bool {
        self.open.is_some()
    }

    /// Inflates the whole payload of a message that came in one frame,
    /// appending to `out` under `max_len` as [`inflate`](Self::inflate)
    /// does; after it, [`finish`](Self::finish) adds nothing. Without
    /// context takeover, an engine with a one-shot inflater (see
    /// [`Engine::inflate_once`]) takes it in one call, into room for eight
    /// times the payload (within the limit); a message that needs more is
    /// streamed from the start, as [`inflate`](Self::inflate) would, so
    /// the limit is decided the same way.
    pub fn inflate_whole(
        &mut self,
        payload: &[u8],
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), InflateError> {
        if self.history.cap == 0
            && !self.ended
            && (ONCE_MIN_PAYLOAD..=ONCE_MAX_PAYLOAD).contains(&payload.len())
        {
            let start = out.len();
            let room = max_len
                .saturating_sub(start)
                .min(payload.len().saturating_mul(8).saturating_add(64));
            out.resize(start + room, 0);
            match self.engine.inflate_once(payload, &mut out[start..]) {
                Some(Ok(InflatedOnce::Whole(n))) => {
                    out.truncate(start + n);
                    self.ended = true;
                    return Ok(());
                }
                Some(Err(e)) => {
                    out.truncate(start);
                    self.end_message();
                    return Err(e.into());
                }
                // Out of room, even at the limit: streamed from the start,
                // which decides the limit the way every message's is
                // decided (a stream cut inside a block can read as more
                // output in one call than it yields streamed).
                Some(Ok(InflatedOnce::NoRoom)) | None => out.truncate(start),
            }
        }
        self.inflate(payload, out, max_len)
    }

    /// Inflates the next bytes of the message's payload, appending to
    /// `out`, which may grow to `max_len` bytes and no further: the limit
    /// is checked after every step, and once `out` holds `max_len` bytes
    /// a one-byte probe tells whether more would come, so no byte past the
    /// limit is ever stored. On an error the message is over (the inflater
    /// goes back to the engine).
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), InflateError> {
        let result = self.inflate_inner(input, out, max_len);
        if result.is_err() {
            self.end_message();
        }
        result
    }

    fn inflate_inner(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        max_len: usize,
    ) -> Result<(), InflateError> {
        let Some(inflater) = self.open.as_mut() else {
            return Err(InflateError::Engine);
        };
        let mut step = input.len().saturating_mul(4).clamp(MIN_STEP, MAX_STEP);
        loop {
            if self.ended {
                return Ok(()); // input after the final block belongs to no stream
            }
            let room = max_len.saturating_sub(out.len()).min(step);
            if room == 0 {
                // At the limit: one more byte of output, and it is over.
                let mut probe = [0u8; 1];
                let r = inflater.inflate(input, &mut probe)?;
                if r.written > 0 {
                    return Err(InflateError::TooLarge);
                }
                self.ended = r.end;
                input = &input[r.read..];
                if r.read == 0 {
                    return Ok(()); // needs more input
                }
                continue;
            }
            let start = out.len();
            if start + room > out.capacity() {
                // Grow by doubling, as `Vec` would, but never past the limit.
                let target = (start + room).max(out.capacity().saturating_mul(2).min(max_len));
                out.reserve_exact(target - start);
            }
            out.resize(start + room, 0);
            let r = inflater.inflate(input, &mut out[start..]);
            let r = match r {
                Ok(r) => r,
                Err(e) => {
                    out.truncate(start);
                    return Err(e.into());
                }
            };
            out.truncate(start + r.written);
            self.history.remember(&out[start..]);
            self.ended = r.end;
            input = &input[r.read..];
            if r.written < room && (input.is_empty() || r.read == 0) {
                return Ok(()); // everything the input gives is out
            }
            if r.written == room {
                step = step.saturating_mul(2).min(MAX_STEP);
            }
        }
    }

    /// Ends the message: inflates the tail that the sender stripped,
    /// which completes the last block, and gives the inflater back.
    pub fn finish(&mut self, out: &mut Vec<u8>, max_len: usize) -> Result<(), InflateError> {
        let result = self.inflate(&TAIL, out, max_len);
        self.end_message();
        result
    }

    /// Drops the message in progress, if any.
    pub fn end_message(&mut self) {
        self.ended = false;
        if let Some(inflater) = self.open.take() {
            self.engine.recycle_inflater(inflater);
        }
    }

    /// Heap bytes held: the history (an open message's inflater belongs
    /// to the engine's accounting).
    pub fn heap_bytes(&self) -> usize {
        self.history.bytes.capacity()
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        self.end_message();
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::deflate::{DeflateConfig, Params};
    use alloc::{format, vec};

    fn negotiated(takeover: bool, bits: u8) -> Negotiated {
        let mut c = DeflateConfig::default();
        if takeover {
            c = c.context_takeover(bits);
        } else {
            c.max_window_bits = bits;
        }
        c.threshold = 0;
        c.level = 6.into();
        c.answer(Params {
            client_max_window_bits: Some(None),
            ..Params::default()
        })
        .unwrap()
    }

    fn inflate_all(
        d: &mut Decompressor,
        payload: &[u8],
        max: usize,
    ) -> Result<Vec<u8>, InflateError> {
        let mut out = Vec::new();
        d.begin();
        d.inflate(payload, &mut out, max)?;
        d.finish(&mut out, max)?;
        Ok(out)
    }

    #[test]
    fn each_message_takes_the_level_of_its_size() {
        // Words drawn by a xorshift: text that levels 1 and 9 compress
        // differently at every size used here.
        let words = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa"];
        let mut x: u32 = 0x1234_5678;
        let mut text = Vec::new();
        while text.len() < 8000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            text.extend_from_slice(words[(x % 7) as usize].as_bytes());
            text.push(if x & 0x100 != 0 { b' ' } else { b',' });
        }
        let with = |level: Level| {
            let c = DeflateConfig {
                threshold: 0,
                level,
                ..DeflateConfig::default()
            };
            Compressor::new(&c.answer(Params::default()).unwrap())
        };
        let split = Level {
            small: 1,
            large: 9,
            large_from: 1000,
        };
        assert_eq!(
            (split.of(999), split.of(1000), split.of(usize::MAX)),
            (1, 9, 9)
        );
        assert_eq!(
            (Level::fixed(12).of(0), Level::from(3).of(usize::MAX)),
            (9, 3)
        );
        let whole = |level: Level, data: &[u8]| {
            let mut out = Vec::new();
            assert!(with(level).compress_message(data, &mut out));
            out
        };
        let pieces = |level: Level, first: usize, data: &[u8]| {
            let mut c = with(level);
            let mut out = Vec::new();
            c.compress_fragment(&data[..first], false, &mut out)
                .unwrap();
            c.compress_fragment(&data[first..], true, &mut out).unwrap();
            out
        };
        for (len, level) in [(999, 1), (1000, 9), (8000, 9)] {
            let data = &text[..len];
            assert_ne!(whole(1.into(), data), whole(9.into(), data), "{len} B");
            assert_eq!(whole(split, data), whole(level.into(), data), "{len} B");
        }
        // A message in fragments goes by its first one.
        for (first, level) in [(999, 1), (1000, 9)] {
            let got = pieces(split, first, &text);
            assert_ne!(
                pieces(1.into(), first, &text),
                pieces(9.into(), first, &text)
            );
            assert_eq!(got, pieces(level.into(), first, &text), "first {first} B");
        }
        // Copies shared between compressors are told apart by the levels.
        assert_ne!(with(split).shared_key(), with(1.into()).shared_key());
    }

    #[test]
    fn rfc_7692_hello_examples() {
        // 7.2.3.1: one message.
        let n = negotiated(false, 15);
        let mut c = Compressor::new(&n);
        let mut out = Vec::new();
        assert!(
            !c.compress_message(b"Hello", &mut out),
            "5 bytes do not shrink"
        );
        assert!(out.is_empty());
        let mut d = Decompressor::new(&n);
        let hello = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
        assert_eq!(inflate_all(&mut d, &hello, 100).unwrap(), b"Hello");
        // 7.2.3.2: the second message refers to the first.
        let n = negotiated(true, 15);
        let mut d = Decompressor::new(&n);
        assert_eq!(inflate_all(&mut d, &hello, 100).unwrap(), b"Hello");
        assert_eq!(
            inflate_all(&mut d, &[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(),
            b"Hello"
        );
        // 7.2.3.3: a stored block; 7.2.3.4: BFINAL set; 7.2.3.5: two blocks.
        for payload in [
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ][..],
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            &[
                0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
            ],
        ] {
            let mut d = Decompressor::new(&negotiated(false, 15));
            assert_eq!(inflate_all(&mut d, payload, 100).unwrap(), b"Hello");
        }
    }

    #[test]
    fn the_compressor_produces_the_rfc_bytes() {
        // Below the threshold of 0 nothing shrinks "Hello", so go through
        // the fragment path, which always compresses.
        let n = negotiated(true, 15);
        let mut c = Compressor::new(&n);
        let mut out = Vec::new();
        c.compress_fragment(b"Hello", true, &mut out).unwrap();
        assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        out.clear();
        c.compress_fragment(b"Hello", true, &mut out).unwrap();
        assert_eq!(out, [0xf2, 0x00, 0x11, 0x00, 0x00]);
        // An empty message: a lone 00.
        let mut c = Compressor::new(&negotiated(false, 15));
        out.clear();
        c.compress_fragment(b"", true, &mut out).unwrap();
        assert_eq!(out, [0x00]);
        // An empty last fragment after a flushed one: a lone 00 too.
        out.clear();
        c.compress_fragment(b"Hello", false, &mut out).unwrap();
        assert!(out.ends_with(&TAIL));
        let first = out.len();
        c.compress_fragment(b"", true, &mut out).unwrap();
        assert_eq!(&out[first..], [0x00]);
        let mut d = Decompressor::new(&negotiated(false, 15));
        assert_eq!(inflate_all(&mut d, &out, 100).unwrap(), b"Hello");
    }

    #[test]
    fn round_trips_with_and_without_takeover_at_every_window() {
        let text: Vec<u8> = (0..40)
            .flat_map(|i| format!("{{\"id\":{i},\"name\":\"user {i}\",\"ok\":true}},").into_bytes())
            .collect();
        for takeover in [false, true] {
            for bits in 8..=15 {
                let n = negotiated(takeover, bits);
                let (mut c, mut d) = (Compressor::new(&n), Decompressor::new(&n));
                let mut sizes = Vec::new();
                for round in 0..3 {
                    let mut payload = Vec::new();
                    assert!(c.compress_message(&text, &mut payload), "{bits} {takeover}");
                    sizes.push(payload.len());
                    let got = inflate_all(&mut d, &payload, text.len()).unwrap();
                    assert_eq!(got, text, "bits {bits} takeover {takeover} round {round}");
                }
                if takeover {
                    assert!(sizes[1] < sizes[0], "{bits}: {sizes:?}");
                    assert!(c.heap_bytes() >= 1 << bits && d.heap_bytes() >= 1 << bits);
                } else {
                    assert_eq!(sizes[0], sizes[1]);
                    assert_eq!((c.heap_bytes(), d.heap_bytes()), (0, 0));
                }
            }
        }
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        // 1 MiB of zeros compresses to about 1 KiB.
        let n = negotiated(false, 15);
        let mut c = Compressor::new(&n);
        let zeros = vec![0u8; 1 << 20];
        let mut bomb = Vec::new();
        assert!(c.compress_message(&zeros, &mut bomb));
        assert!(bomb.len() < 2048, "{}", bomb.len());
        let mut d = Decompressor::new(&n);
        for limit in [0, 1, 4096, (1 << 20) - 1] {
            let err = inflate_all(&mut d, &bomb, limit).unwrap_err();
            assert_eq!(err, InflateError::TooLarge, "limit {limit}");
        }
        assert_eq!(inflate_all(&mut d, &bomb, 1 << 20).unwrap().len(), 1 << 20);
        // Fed in pieces, the output never passes the limit either.
        let mut out = Vec::new();
        d.begin();
        let mut failed = false;
        for piece in bomb.chunks(7) {
            match d.inflate(piece, &mut out, 10_000) {
                Ok(()) => assert!(out.len() <= 10_000),
                Err(e) => {
                    assert_eq!(e, InflateError::TooLarge);
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed && out.len() == 10_000 && out.capacity() <= 16_384);
        assert!(!d.in_message());
    }

    #[test]
    fn garbage_is_invalid_data() {
        let mut d = Decompressor::new(&negotiated(false, 15));
        assert_eq!(
            inflate_all(&mut d, &[0xff, 0xff, 0xff], 100).unwrap_err(),
            InflateError::InvalidData
        );
        // A reference before the start of the window.
        assert_eq!(
            inflate_all(&mut d, &[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap_err(),
            InflateError::InvalidData
        );
    }
}
