//! The engine of the `libdeflate` feature: libdeflate for whole messages
//! without context takeover, both ways, zlib-rs for everything that
//! streams.
//!
//! Why: without context takeover (the server's default) every message is
//! compressed from a fresh start. A streaming compressor pays for that
//! start on each message; zlib-rs clears its 128 KiB hash table on every
//! reset, whatever the window, which was 16 % of the server's CPU on
//! 1 KiB JSON messages. libdeflate is made for one-shot buffers and finds
//! better matches at its lowest levels. Measured here on 1 KiB JSON
//! records (release build, one thread, the same 2,000 messages):
//!
//! | compressor | ns per message | bytes out |
//! |---|---:|---:|
//! | zlib-rs level 1 | 8,100-9,000 | 430 |
//! | zlib-rs level 6 | 18,200-18,500 | 340 |
//! | libdeflate level 1 | 9,000-9,100 | 344 |
//! | libdeflate level 2 | 12,100-12,200 | 343 |
//!
//! and on 16 KiB records: zlib-rs 45 us / 4,596 B at level 1 and 148 us /
//! 2,958 B at level 6, libdeflate 33 us / 3,390 B at level 1 and 52 us /
//! 3,221 B at level 2.
//!
//! libdeflate cannot stream, so fragments streamed out, context takeover
//! (a preset dictionary and a stream that goes on), fragmented messages
//! coming in, and frames that arrive over several reads stay on zlib-rs.
//! Its output is one final block, turned into a stream that goes on, as a
//! sync flush would leave it (see `go_on`), and the codec asks for it only
//! where the peer starts each message afresh (see
//! [`Engine::compress_once`]). A message that came
//! in one frame is inflated in one call (see [`Engine::inflate_once`]):
//! into room for eight times its payload, within the size limit, and
//! streamed from the start when it needs more, so the limit is decided
//! by the streaming path.
//!
//! libdeflate is C (built by the `libdeflater` crate with the system's C
//! compiler); its compressors are kept per thread and level, like the
//! zlib-rs pools, so an idle connection holds none.

use std::boxed::Box;
use std::cell::RefCell;
use std::vec::Vec;

use libdeflater::{CompressionLvl, Compressor, DecompressionError, Decompressor};

use super::block_end;
use super::codec::TAIL;
use super::engine::{Deflater, Engine, EngineError, InflatedOnce, Inflater};
use super::zlib::ZLIB;

/// libdeflate for whole messages, zlib-rs for streams. Use the
/// [`LIBDEFLATE`] static.
#[derive(Debug, Clone, Copy, Default)]
pub struct Libdeflate;

/// The libdeflate engine, the default of
/// [`DeflateConfig`](super::DeflateConfig) with the `libdeflate` feature.
pub static LIBDEFLATE: Libdeflate = Libdeflate;

/// Compressors kept per thread (a few hundred KiB each); a thread serves
/// one level in practice.
const POOL_COMPRESSORS: usize = 2;

/// What ends a message's payload for libdeflate, which wants a complete
/// stream: the `00 00 ff ff` the sender stripped (the end of the empty
/// stored block of its sync flush), then an empty final block with fixed
/// codes (`03 00`, what zlib's `Z_FINISH` writes). A payload whose stream
/// already ended keeps its end, and libdeflate ignores what follows.
const END: [u8; 6] = [0x00, 0x00, 0xff, 0xff, 0x03, 0x00];

/// A thread's libdeflate decompressor (about 10 KiB) and the payload
/// copied with [`END`] (at most 64 KiB plus the end, by the codec's
/// bound), made on first use.
struct OneShotInflate {
    decompressor: Decompressor,
    input: Vec<u8>,
    /// Where [`go_on`] inflates what it made, to check it.
    check: Vec<u8>,
}

impl OneShotInflate {
    fn new() -> Self {
        OneShotInflate {
            decompressor: Decompressor::new(),
            input: Vec::new(),
            check: Vec::new(),
        }
    }

    /// Inflates `payload` (a message's, tail stripped) into `check`, or
    /// into `output` when given.
    fn inflate_to(
        &mut self,
        payload: &[u8],
        output: Option<&mut [u8]>,
    ) -> Result<usize, DecompressionError> {
        self.input.clear();
        self.input.extend_from_slice(payload);
        self.input.extend_from_slice(&END);
        let output = match output {
            Some(o) => o,
            None => &mut self.check[..],
        };
        self.decompressor.deflate_decompress(&self.input, output)
    }

    /// Lets go of buffers grown past what the codec sends here.
    fn release(&mut self) {
        const KEEP: usize = 64 * 1024 + 2 * END.len();
        if self.input.capacity() > KEEP {
            self.input = Vec::new();
        }
        if self.check.capacity() > KEEP {
            self.check = Vec::new();
        }
    }
}

std::thread_local! {
    static COMPRESSORS: RefCell<Vec<(u8, Compressor)>> = const { RefCell::new(Vec::new()) };
    static INFLATE: RefCell<Option<OneShotInflate>> = const { RefCell::new(None) };
}

impl Engine for Libdeflate {
    fn min_window_bits(&self) -> u8 {
        ZLIB.min_window_bits()
    }

    fn deflater(&self, window_bits: u8, level: u8) -> Box<dyn Deflater> {
        ZLIB.deflater(window_bits, level)
    }

    fn recycle_deflater(&self, window_bits: u8, level: u8, deflater: Box<dyn Deflater>) {
        ZLIB.recycle_deflater(window_bits, level, deflater);
    }

    fn inflater(&self) -> Box<dyn Inflater> {
        ZLIB.inflater()
    }

    fn recycle_inflater(&self, inflater: Box<dyn Inflater>) {
        ZLIB.recycle_inflater(inflater);
    }

    fn compresses_once(&self) -> bool {
        true
    }

    fn inflate_once(
        &self,
        payload: &[u8],
        output: &mut [u8],
    ) -> Option<Result<InflatedOnce, EngineError>> {
        INFLATE.with(|state| {
            let mut state = state.borrow_mut();
            let state = state.get_or_insert_with(OneShotInflate::new);
            let result = match state.inflate_to(payload, Some(output)) {
                Ok(written) => Ok(InflatedOnce::Whole(written)),
                Err(DecompressionError::InsufficientSpace) => Ok(InflatedOnce::NoRoom),
                Err(DecompressionError::BadData) => Err(EngineError::InvalidData),
            };
            state.release();
            Some(result)
        })
    }

    fn compress_once(
        &self,
        level: u8,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Option<Result<(), EngineError>> {
        // Levels 0-9 mean what they mean to zlib; libdeflate's go to 12.
        let level = level.min(9);
        let pooled = COMPRESSORS.with(|pool| {
            let mut pool = pool.borrow_mut();
            let at = pool.iter().position(|(l, _)| *l == level)?;
            Some(pool.swap_remove(at).1)
        });
        let mut compressor = match pooled {
            Some(c) => c,
            None => Compressor::new(CompressionLvl::new(i32::from(level)).ok()?),
        };
        let start = out.len();
        out.resize(start + compressor.deflate_compress_bound(data.len()), 0);
        let compressed = compressor.deflate_compress(data, &mut out[start..]);
        COMPRESSORS.with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.len() < POOL_COMPRESSORS {
                pool.push((level, compressor));
            }
        });
        let Ok(written) = compressed else {
            out.truncate(start);
            return Some(Err(EngineError::Internal));
        };
        out.truncate(start + written);
        if out[start] & 1 == 0 {
            // Several blocks: where the last one starts is not known, so
            // it cannot be told to go on. Stream the message instead.
            out.truncate(start);
            return None;
        }
        go_on(data, out, start);
        Some(Ok(()))
    }
}

/// Turns libdeflate's one block at `out[start..]`, final and padded to a
/// byte, into a stream that goes on and ends with an empty stored block
/// (`00 00 ff ff`), as a sync flush does. Some peers' inflaters never get
/// past the end of a stream, although RFC 7692 section 7.2.3.4 allows one.
///
/// Clearing BFINAL is the easy half. After the block's end come `k` zero
/// bits of padding (0-7, not reported by libdeflate). With `k >= 3` they
/// read as the header of a stored block, and the tail supplies its length:
/// append the tail. With `k < 3` the header needs a byte of its own:
/// append `00`, then the tail. `k < 3` shows when one of the last byte's
/// top three bits is set; otherwise `k` comes from the block's header and
/// last bits ([`block_end::padding`]), or where they leave it open, from
/// decoding the block.
fn go_on(data: &[u8], out: &mut Vec<u8>, start: usize) {
    out[start] &= !1;
    // A one among the last byte's top three bits is not padding: k < 3.
    let last = out.last().copied().unwrap_or(0);
    let header_fits = last & 0xe0 == 0
        && match block_end::padding(&out[start..]) {
            Some(pad) => pad >= 3,
            None => header_fits_by_decoding(data, &out[start..]),
        };
    if !header_fits {
        out.push(0);
    }
    out.extend_from_slice(&TAIL);
}

/// Whether `block` (BFINAL cleared) followed by the tail alone decodes to
/// `data`: the padding reads as a stored block's header. A stored block
/// read with `k < 3` always fails this check (its length would be `ff00`
/// and its complement `03ff`).
fn header_fits_by_decoding(data: &[u8], block: &[u8]) -> bool {
    INFLATE.with(|state| {
        let mut state = state.borrow_mut();
        let state = state.get_or_insert_with(OneShotInflate::new);
        state.check.resize(data.len(), 0);
        let got = state.inflate_to(block, None);
        let fits = matches!(got, Ok(n) if n == data.len()) && state.check[..] == *data;
        state.release();
        fits
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deflate::codec::ONCE_MIN_PAYLOAD;
    use crate::deflate::{
        Compressor, Decompressor, DeflateConfig, InflateError, Negotiated, Params, TAIL,
    };
    use std::vec;
    use zlib_rs::{InflateFlush, Status};

    fn negotiated(takeover: bool, bits: u8) -> Negotiated {
        let mut c = DeflateConfig::new(&LIBDEFLATE);
        if takeover {
            c = c.context_takeover(bits);
        } else {
            c.max_window_bits = bits;
        }
        c.threshold = 0;
        c.level = 2.into();
        c.answer(Params {
            client_max_window_bits: Some(None),
            ..Params::default()
        })
        .unwrap()
    }

    /// `n` bytes of xorshift noise.
    fn noise(n: usize) -> Vec<u8> {
        let mut x: u32 = 0x2545_f491;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 24) as u8
            })
            .collect()
    }

    /// `len` bytes of 16 letters (so they compress) where a 200-byte
    /// phrase comes back after `gap` bytes: a match worth taking,
    /// `gap + 200` bytes back.
    fn tempting(len: usize, gap: usize) -> Vec<u8> {
        let letters: Vec<u8> = noise(200 + gap).iter().map(|b| b % 16 + b'a').collect();
        let phrase = &letters[..200];
        let mut out = letters.clone();
        while out.len() < len {
            out.extend_from_slice(phrase);
        }
        out.truncate(len);
        out
    }

    /// Inflates a frame payload as a peer with a window of exactly
    /// 2^`bits` bytes would: miniz_oxide decoding into a ring buffer of
    /// that size, where a match from further back reads the wrong bytes.
    /// The decoded text, and whether the stream ended in a final block.
    fn inflate_within(bits: u8, payload: &[u8], len: usize) -> (Vec<u8>, bool) {
        use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
        use miniz_oxide::inflate::TINFLStatus;
        let mut input = payload.to_vec();
        input.extend_from_slice(&TAIL);
        let mut ring = vec![0u8; 1 << bits];
        let mut state = DecompressorOxide::new();
        let (mut read, mut pos, mut text) = (0, 0, Vec::new());
        loop {
            let (status, used, wrote) = decompress(
                &mut state,
                &input[read..],
                &mut ring,
                pos,
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT,
            );
            read += used;
            text.extend_from_slice(&ring[pos..pos + wrote]);
            pos = (pos + wrote) & (ring.len() - 1);
            match status {
                TINFLStatus::Done => return (text, true),
                TINFLStatus::HasMoreOutput => {}
                TINFLStatus::NeedsMoreInput if read == input.len() => return (text, false),
                other => panic!("{bits} bits, {len} B: {other:?}"),
            }
        }
    }

    #[test]
    fn whole_messages_within_the_window_decode_with_exactly_that_window() {
        for bits in 8..=15u8 {
            let window = 1usize << bits;
            for len in [window / 2, window - 1, window, window + 1, 3 * window] {
                // The phrase repeats from just inside to just past the
                // window: a compressor that ignored the peer's window
                // would reach too far back.
                let data = tempting(len, window - 150);
                let n = negotiated(false, bits);
                let mut payload = Vec::new();
                assert!(Compressor::new(&n).compress_message(&data, &mut payload));
                let (text, ended) = inflate_within(bits, &payload, len);
                assert_eq!(text, data, "{bits} bits, {len} B");
                assert!(!ended, "{bits} bits, {len} B: the stream goes on");
            }
        }
    }

    #[test]
    fn context_takeover_keeps_the_stream_open() {
        for bits in [9u8, 12, 15] {
            let data = tempting(1 << (bits - 1), 100);
            let n = negotiated(true, bits);
            let mut c = Compressor::new(&n);
            let mut inflater = zlib_rs::Inflate::new(false, bits);
            for round in 0..3 {
                let mut payload = Vec::new();
                assert!(c.compress_message(&data, &mut payload));
                payload.extend_from_slice(&TAIL);
                let mut out = vec![0u8; data.len() + 16];
                let before = inflater.total_out();
                let status = inflater
                    .decompress(&payload, &mut out, InflateFlush::SyncFlush)
                    .unwrap();
                assert_ne!(status, Status::StreamEnd, "{bits} bits, round {round}");
                let got = (inflater.total_out() - before) as usize;
                assert_eq!(&out[..got], &data[..], "{bits} bits, round {round}");
            }
        }
    }

    #[test]
    fn the_shared_key_tells_complete_streams_from_open_ones() {
        let reset = Compressor::new(&negotiated(false, 12)).shared_key();
        let keep = Compressor::new(&negotiated(true, 12)).shared_key();
        assert_eq!(reset.once_bits, 12);
        assert_eq!(keep.once_bits, 0);
        assert_ne!(reset, keep);
        let mut zlib = DeflateConfig::new(&crate::deflate::ZLIB);
        zlib.max_window_bits = 12;
        let streamed = zlib
            .answer(Params {
                client_max_window_bits: Some(None),
                ..Params::default()
            })
            .unwrap();
        assert_eq!(Compressor::new(&streamed).shared_key().once_bits, 0);
    }

    /// `payload` through `inflate_whole` under `max`, then `finish`.
    fn inflate_whole(payload: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
        let mut d = Decompressor::new(&negotiated(false, 15));
        d.begin();
        let mut out = Vec::new();
        d.inflate_whole(payload, &mut out, max)?;
        assert!(out.len() <= max);
        d.finish(&mut out, max)?;
        Ok(out)
    }

    #[test]
    fn whole_payloads_inflate_in_one_call_whatever_made_them() {
        // RFC 7692 section 7.2.3: fixed codes, a stored block, BFINAL set,
        // two blocks.
        for payload in [
            &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00][..],
            &[
                0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
            ],
            &[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00],
            &[
                0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
            ],
        ] {
            assert_eq!(inflate_whole(payload, 100).unwrap(), b"Hello");
            // Streamed by the codec (too small to pay for libdeflate's
            // tables), so the engine's one call is asked directly.
            let mut out = [0u8; 100];
            let got = LIBDEFLATE.inflate_once(payload, &mut out);
            assert_eq!(got, Some(Ok(InflatedOnce::Whole(5))));
            assert_eq!(&out[..5], b"Hello");
        }
        // An empty message: a lone 00.
        assert_eq!(inflate_whole(&[0x00], 100).unwrap(), b"");
        // Streamed by zlib-rs and made in one call by libdeflate.
        let text = tempting(20_000, 3_000);
        for payload in [streamed(&text), once(&text)] {
            assert_eq!(inflate_whole(&payload, 1 << 20).unwrap(), text);
            // The engine's one call, with room to spare, exactly, short.
            for (room, want) in [
                (text.len() + 1, InflatedOnce::Whole(text.len())),
                (text.len(), InflatedOnce::Whole(text.len())),
                (text.len() - 1, InflatedOnce::NoRoom),
            ] {
                let mut out = vec![0u8; room];
                let got = LIBDEFLATE.inflate_once(&payload, &mut out);
                assert_eq!(got, Some(Ok(want)), "room {room}");
                if let InflatedOnce::Whole(n) = want {
                    assert!(out[..n] == text[..], "room {room}");
                }
            }
        }
    }

    fn streamed(text: &[u8]) -> Vec<u8> {
        let mut zlib = DeflateConfig::new(&crate::deflate::ZLIB);
        zlib.threshold = 0;
        let n = zlib.answer(Params::default()).unwrap();
        let mut payload = Vec::new();
        assert!(Compressor::new(&n).compress_message(text, &mut payload));
        assert!(!inflate_within(15, &payload, text.len()).1, "a sync flush");
        payload
    }

    /// zlib-rs's inflater as a peer's: every message in turn, on one
    /// stream, as with context takeover, so a stream that ended would
    /// show.
    fn inflate_in_turn(payloads: &[Vec<u8>], texts: &[Vec<u8>]) {
        let mut inflater = zlib_rs::Inflate::new(false, 15);
        for (i, (payload, text)) in payloads.iter().zip(texts).enumerate() {
            let mut input = payload.clone();
            input.extend_from_slice(&TAIL);
            let mut out = vec![0u8; text.len() + 16];
            let before = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress(&input, &mut out, InflateFlush::SyncFlush)
                .unwrap_or_else(|e| panic!("message {i} ({} B): {e:?}", text.len()));
            assert_ne!(status, Status::StreamEnd, "message {i}");
            assert_eq!((inflater.total_in() - before.0) as usize, input.len());
            let got = (inflater.total_out() - before.1) as usize;
            assert!(out[..got] == text[..], "message {i} ({} B)", text.len());
        }
    }

    #[test]
    fn the_header_tells_the_padding_as_decoding_does() {
        // Every level, JSON-like text, letters and noise of 1-2,000 and
        // 16,000-16,099 bytes: wherever the header settles the padding,
        // decoding agrees; and it settles it for nearly every block with
        // dynamic codes.
        let json = tempting(17_000, 300);
        let letters: Vec<u8> = noise(17_000).iter().map(|b| b % 26 + b'a').collect();
        let raw = noise(17_000);
        let (mut settled, mut dynamic, mut stored) = (0, 0, 0);
        for level in [1u8, 2, 4, 6, 9] {
            let mut compressor =
                libdeflater::Compressor::new(CompressionLvl::new(i32::from(level)).unwrap());
            for source in [&json, &letters, &raw] {
                for len in (1..2000).chain(16_000..16_100) {
                    let data = &source[..len];
                    let mut block = vec![0u8; compressor.deflate_compress_bound(len)];
                    let n = compressor.deflate_compress(data, &mut block).unwrap();
                    block.truncate(n);
                    if block[0] & 1 == 0 {
                        continue; // several blocks: not go_on's case
                    }
                    block[0] &= !1;
                    let btype = (block[0] >> 1) & 3;
                    dynamic += usize::from(btype == 2);
                    stored += usize::from(btype == 0);
                    if let Some(pad) = block_end::padding(&block) {
                        settled += usize::from(btype == 2);
                        assert_eq!(
                            pad >= 3,
                            header_fits_by_decoding(data, &block),
                            "level {level}, {len} B, padding {pad}"
                        );
                    } else {
                        assert_ne!(btype, 0, "a stored block ends on a byte");
                    }
                }
            }
        }
        assert!(stored > 1000, "{stored} stored blocks");
        assert!(settled * 50 > dynamic * 49, "{settled} of {dynamic}");
    }

    #[test]
    fn one_call_payloads_end_like_a_sync_flush() {
        // Lengths 128-1,327 and 16,000-16,199: the block's end falls on
        // every bit of its last byte, so both endings of `go_on` occur.
        let json = tempting(20_000, 500);
        let texts: Vec<Vec<u8>> = (128..1328)
            .chain(16_000..16_200)
            .map(|n| json[..n].to_vec())
            .collect();
        let n = negotiated(false, 15);
        let mut c = Compressor::new(&n);
        let payloads: Vec<Vec<u8>> = texts
            .iter()
            .map(|t| {
                let mut p = Vec::new();
                assert!(c.compress_message(t, &mut p));
                p
            })
            .collect();
        inflate_in_turn(&payloads, &texts);
        // Every one went through libdeflate: zlib-rs makes other bytes.
        let differ = texts
            .iter()
            .zip(&payloads)
            .filter(|(t, p)| {
                let n = DeflateConfig::new(&crate::deflate::ZLIB).answer(Params::default());
                let mut zlib = Vec::new();
                Compressor::new(&n.unwrap()).compress_message(t, &mut zlib);
                zlib != **p
            })
            .count();
        assert!(differ > texts.len() * 9 / 10, "{differ} of {}", texts.len());
    }

    fn once(text: &[u8]) -> Vec<u8> {
        let mut payload = Vec::new();
        assert!(Compressor::new(&negotiated(false, 15)).compress_message(text, &mut payload));
        assert!(
            !inflate_within(15, &payload, text.len()).1,
            "the stream goes on"
        );
        assert_ne!(payload, streamed(text), "made by libdeflate");
        payload
    }

    #[test]
    fn whole_payloads_keep_the_limit() {
        // Noise, then zeros, which inflate about 1000 times: a payload
        // large enough for the one call, past its first room of eight
        // times the payload, so the message is streamed from the start.
        let mut text = noise(900);
        text.resize(32 << 10, 0);
        let payload = once(&text);
        assert!(payload.len() >= ONCE_MIN_PAYLOAD, "{}", payload.len());
        assert!(payload.len() * 8 < 32 << 10, "{}", payload.len());
        assert_eq!(inflate_whole(&payload, 1 << 20).unwrap(), text);
        // At the limit exactly, and one byte under it.
        assert_eq!(inflate_whole(&payload, 32 << 10).unwrap().len(), 32 << 10);
        assert_eq!(
            inflate_whole(&payload, (32 << 10) - 1),
            Err(InflateError::TooLarge)
        );
        // A limit under the first room: the one call runs out of room,
        // and the streamed retry refuses it.
        let text = tempting(4096, 4000);
        let small = once(&text);
        assert!(small.len() >= ONCE_MIN_PAYLOAD, "{}", small.len());
        assert_eq!(inflate_whole(&small, 4095), Err(InflateError::TooLarge));
        assert_eq!(inflate_whole(&small, 4096).unwrap(), text);
        // 1 MiB of zeros from about 1 KiB: the 1 MiB bomb stops at the
        // limit.
        let bomb = streamed(&vec![0u8; 1 << 20]);
        assert_eq!(inflate_whole(&bomb, 100_000), Err(InflateError::TooLarge));
    }

    #[test]
    fn whole_garbage_is_invalid_data() {
        // Four bytes of ones, and a block of type 3 (reserved); then
        // 1,000 such bytes, long enough for the codec's one call.
        for payload in [vec![0xff; 4], vec![0x07, 0x00], vec![0xff; 1000]] {
            assert_eq!(
                inflate_whole(&payload, 1000),
                Err(InflateError::InvalidData)
            );
            let mut out = [0u8; 100];
            assert_eq!(
                LIBDEFLATE.inflate_once(&payload, &mut out),
                Some(Err(EngineError::InvalidData))
            );
        }
    }

    #[test]
    fn incompressible_messages_go_plain_and_every_level_works() {
        let n = negotiated(false, 15);
        let mut out = vec![7u8];
        assert!(!Compressor::new(&n).compress_message(&noise(4096), &mut out));
        assert_eq!(out, [7], "out is left as it was");
        let text = tempting(4096, 300);
        for level in 0..=9u8 {
            let mut compressed = Vec::new();
            let result = LIBDEFLATE.compress_once(level, &text, &mut compressed);
            assert!(matches!(result, Some(Ok(()))), "level {level}");
            compressed.push(0);
            assert_eq!(inflate_within(15, &compressed, text.len()).0, text);
        }
    }
}
