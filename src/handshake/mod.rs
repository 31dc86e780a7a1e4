//! The opening handshake (RFC 6455 section 4): an HTTP/1.1 upgrade, parsed
//! and answered without I/O.
//!
//! # Server side
//!
//! A connection starts with an HTTP request. Keep the bytes read so far in
//! the connection's read buffer and, after each read, hand the whole buffer
//! to the connection's [`RequestParser`]. It scans only the bytes it has
//! not seen, and answers:
//!
//! - [`Status::Incomplete`](crate::frame::Status::Incomplete): read more;
//! - [`Opening::WebSocket`]: an [`UpgradeRequest`] that passed every check
//!   of section 4.2.1. Decide: look at the path, the `Origin`
//!   ([`check_origin`](UpgradeRequest::check_origin)), the offered
//!   subprotocols ([`select_protocol`](UpgradeRequest::select_protocol)),
//!   cookies or tokens; then [`accept`](UpgradeRequest::accept) it (a 101
//!   into your output buffer) or write a [`Reject`];
//! - [`Opening::Http`]: a plain HTTP request (a browser loading a page):
//!   serve it or refuse it;
//! - `Err(`[`HandshakeError`]`)`: write [`HandshakeError::write_response`]
//!   and close once it is sent.
//!
//! In every complete case the head is `buf[..consumed]`; what follows it
//! (a client may send its first frame in the same packet) belongs to the
//! frame layer and must not be dropped.
//!
//! ```
//! use rfc6455::frame::Status;
//! use rfc6455::handshake::{Accept, Opening, Reject, RequestParser};
//! use rfc6455::Limits;
//!
//! let mut parser = RequestParser::new(&Limits::default()); // one per connection
//! let mut inbuf: Vec<u8> = Vec::new(); // the connection's read buffer
//! let mut out: Vec<u8> = Vec::new(); // bytes to send
//!
//! // Two reads: the head split mid-line, then its end with a first frame.
//! let reads: [&[u8]; 2] = [
//!     b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!       Origin: http://exa",
//!     b"mple.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
//!       Sec-WebSocket-Version: 13\r\n\r\n\x81\x80\x01\x02\x03\x04",
//! ];
//! let mut upgraded = None;
//! for read in reads {
//!     inbuf.extend_from_slice(read);
//!     let consumed = match parser.parse(&inbuf) {
//!         Ok(Status::Incomplete(_)) => continue, // wait for more bytes
//!         Ok(Status::Complete(Opening::WebSocket(ws))) => {
//!             match ws.check_origin(&["http://example.com"]) {
//!                 Ok(()) if ws.path() == "/chat" => {
//!                     let protocol = ws.select_protocol(&["superchat", "chat"]);
//!                     let accept = Accept::new().protocol(protocol).server("rfc6455");
//!                     ws.accept(&accept, &mut out)?;
//!                     upgraded = protocol;
//!                 }
//!                 Ok(()) => Reject::new(404, "no such endpoint").write(&mut out)?,
//!                 Err(e) => e.write_response(&mut out), // 403
//!             }
//!             ws.consumed()
//!         }
//!         Ok(Status::Complete(Opening::Http(page))) => {
//!             // Serve a page for page.path(), or refuse it.
//!             Reject::new(404, "not found").write(&mut out)?;
//!             page.consumed()
//!         }
//!         Err(e) => {
//!             e.write_response(&mut out); // 400, 405, 426, 431...
//!             break; // close once `out` is sent
//!         }
//!     };
//!     // The frame layer takes over from here, with what followed the head.
//!     inbuf.drain(..consumed);
//!     break;
//! }
//! assert_eq!(upgraded, Some("superchat"));
//! assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! assert_eq!(inbuf, b"\x81\x80\x01\x02\x03\x04"); // the client's first frame
//! # Ok::<(), rfc6455::handshake::BuildError>(())
//! ```
//!
//! # Client side
//!
//! [`ClientRequest`] writes the opening request for a `ws://` URL with a
//! key the caller draws from its random source, and returns a
//! [`ClientHandshake`] that parses the response the same incremental way
//! and checks it (section 4.1): status 101, `Upgrade` and `Connection`
//! tokens, the exact `Sec-WebSocket-Accept`, an offered subprotocol, no
//! extension.
//!
//! ```
//! use rfc6455::frame::Status;
//! use rfc6455::handshake::ClientRequest;
//!
//! let mut out = Vec::new();
//! let mut handshake = ClientRequest::new("ws://127.0.0.1:9001/", *b"0123456789abcdef")?
//!     .write(&mut out)?;
//! // ... send `out`, read the response:
//! let mut inbuf = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\
//!     connection: upgrade\r\nsec-websocket-accept: ".to_vec();
//! inbuf.extend_from_slice(handshake.expected_accept().as_bytes());
//! inbuf.extend_from_slice(b"\r\n\r\n");
//! let Status::Complete(accepted) = handshake.parse(&inbuf)? else { unreachable!() };
//! assert_eq!((accepted.protocol(), accepted.consumed()), (None, inbuf.len()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # HTTP rules applied
//!
//! The parser reads RFC 9112 strictly, the way a server facing the
//! internet should: only CRLF ends a line (a bare LF or CR is a 400, a
//! choice RFC 9112 section 2.2 allows), no obsolete line folding, no
//! whitespace before a header's colon, no control characters, exactly one
//! `Host`. Header names are compared case-insensitively and list headers
//! (`Connection: keep-alive, Upgrade`) may be split over several lines.
//! Limits come from [`Limits`](crate::Limits): `max_header_block` and
//! `max_headers` (431), `max_request_line` (414 in the target, else 400).

mod accept;
mod authority;
mod client;
mod error;
mod extensions;
mod http;
mod server;
mod write;

pub use accept::{AcceptKey, GUID};
pub use client::{Accepted, ClientHandshake, ClientRequest, Response, WsUrl};
pub use error::{
    BodyError, BuildError, ClientError, HandshakeError, HttpError, ReasonPhrase, UrlError,
};
pub use extensions::{parse_extensions, Extension, ExtensionParam, ExtensionParams, Extensions};
#[cfg(feature = "server")]
pub(crate) use http::list_has;
pub use http::{Header, Headers};
pub use server::{BodyFraming, Opening, Protocols, Request, RequestParser, UpgradeRequest};
#[cfg(feature = "server")]
pub(crate) use write::reason_phrase;
pub use write::{Accept, Reject};
