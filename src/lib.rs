//! # rfc6455: a sans-I/O WebSocket core
//!
//! This crate implements the WebSocket protocol (RFC 6455) as plain data
//! transformations: bytes in, events out, bytes to send. It never touches a
//! socket, a clock or a random source; the code that drives it (the mio
//! server in this crate, a blocking client, any async runtime) does the I/O
//! and injects the time and the masking keys. That makes the core
//! deterministic, testable byte for byte, and embeddable anywhere, down to
//! `no_std` targets with an allocator.
//!
//! ## Layers
//!
//! Each layer depends only on the ones above it:
//!
//! | layer | module | what it does |
//! |---|---|---|
//! | limits and errors | [`limits`], [`error`] | every bound and every rule a peer can break, each with its close code |
//! | bytes | [`mask`], [`utf8`] | payload masking, incremental UTF-8 validation |
//! | frames | [`frame`], [`close`] | header decode/encode with no state and no copies; close codes and payloads |
//! | protocol | [`connection`] | the state machine: messages, fragmentation, control frames, the closing handshake, a bounded output queue |
//! | handshake | [`handshake`] | the HTTP/1.1 upgrade: incremental request and response parsing, validation, accept key, responses |
//! | I/O drivers | `server` (feature `server`), `client` (feature `std`) | a mio event loop generic over a handler, with topics and publishing; a blocking client |
//!
//! Everything above the drivers is `no_std` + `alloc`. A driver's loop is
//! always the same (see [`connection`]): read into
//! [`Connection::read_buf`], pull events, write [`Sender::output`], close
//! the transport when [`Connection::should_close_transport`] says so.
//!
//! ## Decoding a frame
//!
//! ```
//! use rfc6455::frame::{decode_frame, DecodeRules, Frame, OpCode, Role, Status};
//!
//! // A client masks every frame with a fresh key from its random source.
//! let mut wire = Vec::new();
//! Frame::new(OpCode::Text, b"hello").masked([1, 2, 3, 4]).encode_to_vec(&mut wire);
//!
//! // The server decodes it in place: the payload is unmasked where it lies.
//! let rules = DecodeRules::new(Role::Server);
//! match decode_frame(&mut wire, &rules)? {
//!     Status::Complete((frame, used)) => {
//!         assert_eq!(frame.payload, b"hello");
//!         assert_eq!(used, 2 + 4 + 5);
//!     }
//!     Status::Incomplete(more) => unreachable!("{more} bytes missing"),
//! }
//! # Ok::<(), rfc6455::FrameError>(())
//! ```
//!
//! ## Accepting a connection
//!
//! A connection opens with an HTTP/1.1 upgrade request. Feed the read
//! buffer to a [`handshake::RequestParser`] after every read; it resumes
//! where it stopped. Once the request is whole, decide (path, `Origin`,
//! subprotocol), write the 101 or a rejection into the output buffer, and
//! hand the bytes after the head to the frame layer:
//!
//! ```
//! use rfc6455::frame::Status;
//! use rfc6455::handshake::{Accept, Opening, RequestParser};
//!
//! let mut parser = RequestParser::default();
//! let inbuf = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n";
//! let mut out = Vec::new();
//! match parser.parse(inbuf) {
//!     Ok(Status::Complete(Opening::WebSocket(ws))) => {
//!         ws.accept(&Accept::new(), &mut out)?;
//!         assert_eq!(ws.consumed(), inbuf.len()); // frames start here
//!     }
//!     Ok(Status::Complete(Opening::Http(_page))) => { /* serve a page */ }
//!     Ok(Status::Incomplete(_)) => { /* read more */ }
//!     Err(e) => e.write_response(&mut out), // then close
//! }
//! assert!(out.ends_with(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"));
//! # Ok::<(), rfc6455::handshake::BuildError>(())
//! ```
//!
//! [`handshake`] shows the whole loop, rejections and the client side.
//!
//! ## Features
//!
//! - `std` (default): `std::error::Error` impls, `IoSlice` helpers, runtime
//!   SIMD detection for UTF-8. Without it the crate is `no_std` + `alloc`.
//! - `server` (default): the mio event loop, with topics, timers and
//!   publishing from any thread, and the bundled push application
//!   (`server::app`).
//! - `cli` (default): the command-line tools (`echo-server`, `wsload`);
//!   library users of `server` can leave it out and skip their flag
//!   parser.
//!
//! The codec has no `unsafe` code.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

#[cfg(feature = "std")]
pub mod client;
pub mod close;
pub mod connection;
pub mod error;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
pub mod limits;
pub mod mask;
#[cfg(feature = "server")]
pub mod server;
pub mod utf8;

pub use close::{CloseCode, CloseReason};
pub use connection::{Config, Connection, Event, MessageKind, SendError, Sender, State};
pub use error::{CloseError, FrameError, ProtocolError, Utf8Error};
pub use frame::{FrameHeader, OpCode, Role};
pub use handshake::{ClientError, HandshakeError, HttpError};
pub use limits::Limits;
