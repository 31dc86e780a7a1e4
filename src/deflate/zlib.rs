//! The engine behind `std` builds: zlib-rs, with per-thread pools.
//!
//! Why zlib-rs: it honours every window size from 9 to 15 bits (a peer's
//! `server_max_window_bits=10` is kept, not refused), is a memory-safe
//! Rust port of zlib-ng, and was the fastest of the candidates measured
//! here on 1 KiB JSON messages (see the `deflate` module docs). Its
//! allocator needs `std` (or libc); without `std`, bring an [`Engine`] of
//! your own.
//!
//! A zlib-rs deflater holds 250-370 KiB (a 128 KiB hash table whatever the
//! window, plus window and block buffers) and an inflater 47 KiB plus a
//! 32 KiB window once used. So none is kept per connection: each thread
//! keeps a few in a pool, a message takes one and gives it back when it is
//! done. An idle connection holds no DEFLATE state at all, and one with
//! context takeover only the text of its window (see
//! [`Compressor`](super::Compressor)).

use std::boxed::Box;
use std::cell::RefCell;
use std::vec::Vec;

use zlib_rs::{DeflateFlush, InflateError, InflateFlush, Status};

use super::engine::{Deflater, Engine, EngineError, Inflated, Inflater};

/// The zlib-rs engine. Use the [`ZLIB`] static.
#[derive(Debug, Clone, Copy, Default)]
pub struct Zlib;

/// The zlib-rs engine, the default of [`DeflateConfig`](super::DeflateConfig)
/// with `std`.
pub static ZLIB: Zlib = Zlib;

/// Deflaters kept per thread (each 250-370 KiB); more are freed when given
/// back. One is enough for a thread that compresses whole messages with one
/// setting; a few more serve messages streamed out concurrently.
const POOL_DEFLATERS: usize = 2;
/// Inflaters kept per thread (each about 80 KiB once used). A fragmented
/// compressed message holds one until its last frame, so busy threads
/// need several.
const POOL_INFLATERS: usize = 8;

struct Pool {
    /// `(window_bits, level, deflater)`.
    deflaters: Vec<(u8, u8, Box<dyn Deflater>)>,
    inflaters: Vec<Box<dyn Inflater>>,
}

std::thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            deflaters: Vec::new(),
            inflaters: Vec::new(),
        })
    };
}

impl Engine for Zlib {
    fn min_window_bits(&self) -> u8 {
        9
    }

    fn deflater(&self, window_bits: u8, level: u8) -> Box<dyn Deflater> {
        let pooled = POOL
            .try_with(|pool| {
                let mut pool = pool.borrow_mut();
                let at = pool
                    .deflaters
                    .iter()
                    .position(|(w, l, _)| (*w, *l) == (window_bits, level))?;
                Some(pool.deflaters.swap_remove(at).2)
            })
            .ok()
            .flatten();
        pooled.unwrap_or_else(|| Box::new(ZlibDeflater::new(window_bits, level)))
    }

    fn recycle_deflater(&self, window_bits: u8, level: u8, deflater: Box<dyn Deflater>) {
        // `try_with`: a compressor dropped while the thread's locals are
        // torn down (one kept in a thread-local of its own) finds the pool
        // gone; the deflater is freed instead. `with` would panic there,
        // and a panic in a thread-local's destructor aborts the process.
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.deflaters.len() < POOL_DEFLATERS {
                pool.deflaters.push((window_bits, level, deflater));
            }
        });
    }

    fn inflater(&self) -> Box<dyn Inflater> {
        POOL.try_with(|pool| pool.borrow_mut().inflaters.pop())
            .ok()
            .flatten()
            .unwrap_or_else(|| Box::new(ZlibInflater::new()))
    }

    fn recycle_inflater(&self, inflater: Box<dyn Inflater>) {
        // `try_with`, as in `recycle_deflater`.
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            if pool.inflaters.len() < POOL_INFLATERS {
                pool.inflaters.push(inflater);
            }
        });
    }
}

struct ZlibDeflater {
    inner: zlib_rs::Deflate,
}

impl ZlibDeflater {
    fn new(window_bits: u8, level: u8) -> Self {
        // zlib refuses 8 bits for raw streams; callers ask for 9 instead.
        let window_bits = window_bits.clamp(9, 15);
        ZlibDeflater {
            inner: zlib_rs::Deflate::new(i32::from(level.min(9)), false, window_bits),
        }
    }
}

impl Deflater for ZlibDeflater {
    fn reset(&mut self, dictionary: &[u8]) {
        self.inner.reset();
        if !dictionary.is_empty() {
            // Raw streams take a dictionary whenever no input is pending,
            // which is always the case right after a reset.
            let _ = self.inner.set_dictionary(dictionary);
        }
    }

    fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), EngineError> {
        loop {
            // Room for the data and block overhead; a flush that does not
            // fill the room is complete (zlib's contract for Z_SYNC_FLUSH).
            let room = input.len() + input.len() / 8 + 64;
            let start = out.len();
            out.resize(start + room, 0);
            let (read0, wrote0) = (self.inner.total_in(), self.inner.total_out());
            let status = self
                .inner
                .compress(input, &mut out[start..], DeflateFlush::SyncFlush);
            let read = (self.inner.total_in() - read0) as usize;
            let wrote = (self.inner.total_out() - wrote0) as usize;
            out.truncate(start + wrote);
            match status {
                Ok(Status::Ok | Status::BufError | Status::StreamEnd) => {}
                Err(_) => return Err(EngineError::Internal),
            }
            input = &input[read.min(input.len())..];
            if input.is_empty() && wrote < room {
                return Ok(());
            }
            if read == 0 && wrote == 0 {
                return Err(EngineError::Internal);
            }
        }
    }
}

struct ZlibInflater {
    inner: zlib_rs::Inflate,
}

impl ZlibInflater {
    fn new() -> Self {
        ZlibInflater {
            // A 15-bit window decodes streams made with any smaller one.
            inner: zlib_rs::Inflate::new(false, 15),
        }
    }
}

impl Inflater for ZlibInflater {
    fn reset(&mut self, dictionary: &[u8]) {
        self.inner.reset(false);
        if !dictionary.is_empty() {
            let _ = self.inner.set_dictionary(dictionary);
        }
    }

    fn inflate(&mut self, input: &[u8], output: &mut [u8]) -> Result<Inflated, EngineError> {
        let (read0, wrote0) = (self.inner.total_in(), self.inner.total_out());
        let status = self.inner.decompress(input, output, InflateFlush::NoFlush);
        let read = (self.inner.total_in() - read0) as usize;
        let written = (self.inner.total_out() - wrote0) as usize;
        let end = match status {
            Ok(Status::StreamEnd) => true,
            Ok(Status::Ok | Status::BufError) => false,
            Err(InflateError::DataError | InflateError::NeedDict { .. }) => {
                return Err(EngineError::InvalidData)
            }
            Err(InflateError::StreamError | InflateError::MemError) => {
                return Err(EngineError::Internal)
            }
        };
        Ok(Inflated {
            read: read.min(input.len()),
            written: written.min(output.len()),
            end,
        })
    }
}
