//! Fuzzing oracles: one `fuzz_*` function per target in `fuzz/`.
//!
//! Each function takes the fuzzer's bytes, drives one layer of the codec
//! with them and panics when an invariant breaks. The invariants are
//! stricter than "does not crash": round trips must be exact, feeding input
//! in pieces must give the result of feeding it whole, anything accepted is
//! re-checked by slow, obvious code, and a connection's memory, output and
//! events must stay within what its configuration allows.
//!
//! The fuzz targets (`fuzz/fuzz_targets/*.rs`) are one-line calls to these
//! functions, and `tests/fuzz_regressions.rs` replays every saved input
//! through the same functions on a stable toolchain: one definition of each
//! invariant. Not a public API: behind the `fuzzing` feature, hidden from
//! the docs, and free to change.
//!
//! Inputs are decoded by hand with [`Input`] (a few header bytes choosing
//! roles, limits and split points, then the payload bytes) rather than with
//! the `arbitrary` crate: the formats stay simple enough for
//! `scripts/fuzz-seeds.py` to write seeds from `vectors/`, and the crate
//! gains no dependency.

#[cfg(feature = "server")]
mod app;
mod bytes;
mod connection;
#[cfg(all(feature = "deflate", feature = "std"))]
mod deflate;
#[cfg(feature = "server")]
mod envelope;
mod frame;
mod frames;
mod handshake;
mod slow;
#[cfg(all(feature = "server", feature = "tls"))]
mod tls;

#[cfg(feature = "server")]
pub use app::fuzz_app_routes;
pub use bytes::{fuzz_mask, fuzz_utf8_incremental};
pub use connection::{fuzz_connection_client, fuzz_connection_server};
#[cfg(all(feature = "deflate", feature = "std"))]
pub use deflate::{fuzz_deflate_inflate, fuzz_deflate_negotiation};
#[cfg(feature = "server")]
pub use envelope::fuzz_envelope;
pub use frame::fuzz_frame_decode;
pub use frames::fuzz_connection_frames;
pub use handshake::{fuzz_handshake_request, fuzz_handshake_response};
#[cfg(all(feature = "server", feature = "tls"))]
pub use tls::{fuzz_tls_server, TLS_HANDSHAKE_MEMORY};

/// A check function: panics when an invariant breaks.
pub type Check = fn(&[u8]);

/// Every target, by the name of its directory under `fuzz/regressions/`
/// and `fuzz/corpus/`.
pub const TARGETS: &[(&str, Check)] = &[
    ("frame_decode", fuzz_frame_decode),
    ("handshake_request", fuzz_handshake_request),
    ("handshake_response", fuzz_handshake_response),
    ("connection_server", fuzz_connection_server),
    ("connection_client", fuzz_connection_client),
    ("connection_frames", fuzz_connection_frames),
    ("utf8_incremental", fuzz_utf8_incremental),
    ("mask", fuzz_mask),
    #[cfg(all(feature = "deflate", feature = "std"))]
    ("deflate_negotiation", fuzz_deflate_negotiation),
    #[cfg(all(feature = "deflate", feature = "std"))]
    ("deflate_inflate", fuzz_deflate_inflate),
    #[cfg(feature = "server")]
    ("envelope", fuzz_envelope),
    #[cfg(all(feature = "server", feature = "tls"))]
    ("tls_server", fuzz_tls_server),
    #[cfg(feature = "server")]
    ("app_routes", fuzz_app_routes),
];

/// A reader over the fuzzer's bytes. Reads past the end give zeros (and
/// empty slices), so every input decodes to something.
#[derive(Debug, Clone)]
pub(crate) struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub(crate) fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub(crate) fn bool(&mut self) -> bool {
        self.u8() & 1 != 0
    }

    /// Up to `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }

    /// Bytes up to (not including) `delim`, which is consumed; everything
    /// left if there is none.
    pub(crate) fn take_until(&mut self, delim: u8) -> &'a [u8] {
        match self.data.iter().position(|&b| b == delim) {
            Some(i) => {
                let head = &self.data[..i];
                self.data = &self.data[i + 1..];
                head
            }
            None => self.rest(),
        }
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.data)
    }
}

/// A cut point in `0..=len` chosen by `raw`.
pub(crate) fn cut(raw: u16, len: usize) -> usize {
    usize::from(raw) % (len + 1)
}
