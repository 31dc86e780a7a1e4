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
//! | I/O drivers | `server` (feature `server`), `client` and `reconnect` (feature `std`), `tls` (feature `tls`), `tokio` (feature `tokio`) | a mio event loop generic over a handler, with topics, publishing and topic history; a blocking client with keepalive, and a reconnecting one; TLS for the mio server and the blocking clients with rustls; an async driver for tokio |
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
//! ## Embedding
//!
//! The same core runs under every driver; pick the one that fits the
//! program around it.
//!
//! - **The mio event loop** (`server`, feature `server`): a complete
//!   server with worker threads, backpressure, timers, topics and
//!   publishing, and a handler for the application's messages; the
//!   `echo-server` binary is a thin wrapper around it.
//! - **The blocking client** ([`client`], feature `std`): one connection over
//!   `std::net::TcpStream`, for tools and tests.
//!
//!   ```no_run
//!   let mut client = rfc6455::client::Client::connect("ws://127.0.0.1:9001/")?;
//!   client.send_text("hello")?;
//!   # Ok::<(), rfc6455::client::Error>(())
//!   ```
//! - **tokio** (`tokio`, feature `tokio`): `WebSocket<S>` over any
//!   `AsyncRead + AsyncWrite + Unpin`, with `accept`, `connect`, borrowed
//!   events, backpressure and split halves; `futures` adds `Stream`/`Sink`.
//!   `examples/tokio-echo.rs` is a complete server.
//!
//!   ```no_run
//!   # #[cfg(feature = "tokio")]
//!   # async fn run() -> Result<(), rfc6455::tokio::Error> {
//!   use rfc6455::tokio::{connect, ClientConfig};
//!   let mut ws = connect("ws://127.0.0.1:9001/", &ClientConfig::default()).await?;
//!   ws.send_text("hello").await?;
//!   println!("{:?}", ws.recv().await?);
//!   # Ok(()) }
//!   ```
//! - **hyper and axum** (feature `tokio`): let the HTTP server route the
//!   request, check it and compute the 101's `Sec-WebSocket-Accept` with
//!   [`handshake`] (the head written back out as bytes for a
//!   [`handshake::RequestParser`], which applies every check of RFC 6455
//!   section 4.2.1; then `UpgradeRequest::accept_key`), answer 101, take
//!   the upgraded stream from `hyper::upgrade::on` (the connection served
//!   `with_upgrades()`), and drive it with `WebSocket::from_connection`
//!   over `hyper_util::rt::TokioIo`. `examples/hyper-upgrade.rs` and
//!   `examples/axum-upgrade.rs` do it in full; a hyper service:
//!
//!   ```no_run
//!   # #[cfg(feature = "tokio")]
//!   # mod doc {
//!   use http_body_util::Empty;
//!   use hyper::body::{Bytes, Incoming};
//!   use hyper::{Request, Response, StatusCode};
//!   use hyper_util::rt::TokioIo;
//!   use rfc6455::frame::Status;
//!   use rfc6455::handshake::{Opening, RequestParser};
//!   use rfc6455::tokio::WebSocket;
//!   use rfc6455::{Config, Connection, Event};
//!
//!   async fn websocket(mut request: Request<Incoming>) -> Response<Empty<Bytes>> {
//!       let mut head = format!("{} {} HTTP/1.1\r\n", request.method(), request.uri());
//!       for (name, value) in request.headers() {
//!           let value = value.to_str().unwrap_or("\u{0}"); // refused below
//!           head.push_str(&format!("{name}: {value}\r\n"));
//!       }
//!       head.push_str("\r\n");
//!       let accept_key = match RequestParser::default().parse(head.as_bytes()) {
//!           Ok(Status::Complete(Opening::WebSocket(upgrade))) => upgrade.accept_key(),
//!           _ => {
//!               let mut refusal = Response::new(Empty::new());
//!               *refusal.status_mut() = StatusCode::BAD_REQUEST;
//!               return refusal;
//!           }
//!       };
//!       // The upgrade completes once hyper has sent the 101.
//!       let on_upgrade = hyper::upgrade::on(&mut request);
//!       tokio::spawn(async move {
//!           let Ok(upgraded) = on_upgrade.await else { return };
//!           let conn = Connection::server(Config::default());
//!           let mut ws = WebSocket::from_connection(TokioIo::new(upgraded), conn);
//!           while let Ok(true) = ws
//!               .recv_with(|event, reply| match event {
//!                   Event::Text(t) => reply.send_text(t).is_ok(),
//!                   Event::Close { .. } => false,
//!                   _ => true,
//!               })
//!               .await
//!           {}
//!       });
//!       Response::builder()
//!           .status(StatusCode::SWITCHING_PROTOCOLS)
//!           .header("Upgrade", "websocket")
//!           .header("Connection", "Upgrade")
//!           .header("Sec-WebSocket-Accept", accept_key.as_str())
//!           .body(Empty::new())
//!           .unwrap()
//!   }
//!   # }
//!   ```
//! - **Your own loop**, over any byte stream (here `Read + Write`; a
//!   non-blocking socket, an embedded UART or a WASM host work the same):
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::Duration;
//! use rfc6455::{Config, Connection, Event};
//!
//! /// Echoes text over `stream`, whose opening handshake is done.
//! fn echo(stream: &mut (impl Read + Write)) -> std::io::Result<()> {
//!     let mut conn = Connection::server(Config::default());
//!     while !conn.should_close_transport() {
//!         match stream.read(conn.read_buf())? {
//!             0 => conn.receive_eof(),
//!             n => conn.commit_read(n, Duration::ZERO),
//!         }
//!         // Ok(None): need more bytes; Err: the close frame is queued.
//!         while let Ok(Some(())) = conn.next_event_with(|event, tx| {
//!             if let Event::Text(text) = event {
//!                 let _ = tx.send_text(text);
//!             }
//!         }) {}
//!         while conn.has_output() {
//!             let n = stream.write(conn.output())?;
//!             conn.consume_output(n);
//!         }
//!     }
//!     Ok(())
//! }
//! # // A stream that yields a masked "hi" and a close, and keeps what is written.
//! # struct Pipe(std::collections::VecDeque<u8>, Vec<u8>);
//! # impl Read for Pipe { fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> { self.0.read(b) } }
//! # impl Write for Pipe {
//! #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.1.write(b) }
//! #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! # }
//! # use rfc6455::frame::{Frame, OpCode};
//! # let mut input = Vec::new();
//! # Frame::new(OpCode::Text, b"hi").masked([1, 2, 3, 4]).encode_to_vec(&mut input);
//! # Frame::new(OpCode::Close, &[3, 232]).masked([5, 6, 7, 8]).encode_to_vec(&mut input);
//! # let mut pipe = Pipe(input.into(), Vec::new());
//! # echo(&mut pipe)?;
//! # assert_eq!(pipe.1, [0x81, 2, b'h', b'i', 0x88, 2, 3, 232]);
//! # Ok::<(), std::io::Error>(())
//! ```
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
//! - `deflate` (default): permessage-deflate (RFC 7692). Negotiation and
//!   the message transformation need only `alloc`; with `std` the zlib-rs
//!   engine comes with it.
//! - `tls` (default): `wss://` for the client and the server, with rustls
//!   (the `ring` provider) and Mozilla's roots. Without it the client
//!   refuses `wss://` URLs with [`handshake::UrlError::TlsUnsupported`].
//! - `tls-aws-lc` (default): rustls' `aws-lc-rs` provider instead of
//!   `ring`, for faster record encryption at the cost of a longer build.
//! - `tokio`: the async driver (`rfc6455::tokio`), over tokio's I/O traits.
//! - `futures`: `Stream` and `Sink` of owned messages for the tokio driver.
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
#[cfg(feature = "std")]
mod deadline;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod frame;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod handshake;
#[cfg(any(feature = "server", feature = "tokio"))]
mod lane;
pub mod limits;
pub mod mask;
#[cfg(feature = "std")]
mod random;
#[cfg(feature = "std")]
pub mod reconnect;
#[cfg(feature = "server")]
pub mod server;
#[cfg(feature = "tls")]
pub mod tls;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod utf8;

pub use close::{CloseCode, CloseReason};
pub use connection::{Config, Connection, Event, MessageKind, SendError, Sender, State};
pub use error::{CloseError, FrameError, ProtocolError, Utf8Error};
pub use frame::{FrameHeader, OpCode, Role};
pub use handshake::{ClientError, HandshakeError, HttpError};
pub use limits::Limits;
