//! permessage-deflate (RFC 7692), feature `deflate`: negotiation, the
//! message transformation, and the DEFLATE engine behind a small trait.
//!
//! | piece | what it does |
//! |---|---|
//! | [`Params`] | the four parameters, parsed from an offer or a response and written back |
//! | [`DeflateConfig`] | this endpoint's policy: a server [`negotiate`](DeflateConfig::negotiate)s, a client [`offer`](DeflateConfig::offer)s and [`accept`](DeflateConfig::accept)s; both get a [`Negotiated`] |
//! | [`Compressor`], [`Decompressor`] | one direction each: the `00 00 ff ff` tail, context takeover, the size limit checked after every inflate step |
//! | [`Engine`], [`Deflater`], [`Inflater`] | the DEFLATE implementation; [`Zlib`] (zlib-rs) with `std`, [`Libdeflate`] (libdeflate for whole messages, zlib-rs for streams) with the `libdeflate` feature |
//!
//! A [`Connection`](crate::Connection) made
//! [`with_deflate`](crate::Connection::with_deflate) does the rest: RSV1 on
//! the first frame of a compressed message only, never on control frames,
//! and messages under the threshold sent as they are. The server and the
//! blocking client negotiate it in their handshakes.
//!
//! # Memory
//!
//! A live zlib stream costs 250-370 KiB to compress and about 80 KiB to
//! decompress. Implementations that keep one of each per connection pay
//! that for every idle connection. Here none is kept: the engine pools the
//! DEFLATE state per thread, a message takes one and gives it back when it
//! ends (see [`Engine`]), and context takeover is served from the window's
//! text, kept per connection and preset as a dictionary (see
//! [`Decompressor`]). So an idle connection costs
//!
//! - nothing beyond a few hundred bytes of settings without context
//!   takeover (the default), and
//! - 2^bits bytes per direction with it: 8 KiB with 12-bit windows.
//!
//! A fragmented compressed message that is still arriving holds an
//! inflater until its last frame.
//!
//! # Window bits 8
//!
//! zlib cannot compress a raw stream with an 8-bit window. A peer that asks
//! for `server_max_window_bits=8` (or `client_max_window_bits=8`) is
//! answered with 8 and served by a 9-bit compressor: zlib never emits a
//! match further back than the window minus its 262-byte lookahead, 250
//! bytes here, which an 8-bit window decodes.

#[cfg(feature = "libdeflate")]
mod block_end;
mod codec;
mod engine;
#[cfg(feature = "libdeflate")]
mod libdeflate;
mod negotiate;
mod params;
#[cfg(feature = "std")]
mod zlib;

pub use codec::{Compressor, Decompressor, InflateError, SharedKey, TAIL};
pub use engine::{Deflater, Engine, EngineError, Inflated, InflatedOnce, Inflater};
#[cfg(feature = "libdeflate")]
pub use libdeflate::{Libdeflate, LIBDEFLATE};
pub use negotiate::{DeflateConfig, Direction, Level, Negotiated, ResponseError};
pub use params::{ParamError, Params, EXTENSION_NAME, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
#[cfg(feature = "std")]
pub use zlib::{Zlib, ZLIB};
