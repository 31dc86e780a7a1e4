//! The server side: parse the opening request, validate it (RFC 6455
//! section 4.2.1), and answer it.

use alloc::vec::Vec;

use crate::frame::Status;
use crate::handshake::accept::{is_valid_key, AcceptKey};
use crate::handshake::authority::Authority;
use crate::handshake::error::{BodyError, BuildError, HandshakeError, HttpError};
use crate::handshake::extensions::{self, Extensions};
use crate::handshake::http::{
    self, is_token, list, list_has, utf8_prefix, Head, Headers, Kind, ListItems,
};
use crate::handshake::write::{Accept, Reject};
use crate::Limits;

/// An incremental parser for the opening request of one connection.
///
/// Call [`parse`](RequestParser::parse) with the whole buffer read so far,
/// each time more bytes arrive: the parser remembers where it stopped and
/// scans only the new bytes, so the cost is linear in the head's size
/// however it is split. It returns [`Status::Incomplete`] until the blank
/// line that ends the head, then the validated request. Bytes after the
/// head (a client may send its first frame in the same packet) are not
/// touched: they start at [`Opening::consumed`].
///
/// Memory: one `Vec` of header offsets (16 bytes per header, reserved for
/// [`Limits::max_headers`] when the parser is made); nothing is allocated
/// while parsing. Input is never buffered: the head stays in the caller's
/// buffer, and a head longer than [`Limits::max_header_block`] fails as soon
/// as that many bytes are present.
///
/// A parser can be reused for the next request of a kept-alive plain HTTP
/// connection after [`reset`](RequestParser::reset).
#[derive(Debug, Clone)]
pub struct RequestParser {
    head: Head,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new(&Limits::DEFAULT)
    }
}

impl RequestParser {
    /// A parser enforcing `limits` (`max_header_block`, `max_headers`,
    /// `max_request_line`).
    pub fn new(limits: &Limits) -> Self {
        RequestParser {
            head: Head::new(Kind::Request, limits),
        }
    }

    /// Parses and validates the request at the front of `buf`.
    ///
    /// `buf` must hold the bytes given to earlier calls, unchanged, with
    /// any new bytes appended; a shorter `buf` restarts the parse. Returns:
    ///
    /// - `Ok(Status::Incomplete(n))`: at least `n` more bytes are needed;
    /// - `Ok(Status::Complete(opening))`: a WebSocket upgrade request that
    ///   passed every check of section 4.2.1, or a plain HTTP request;
    /// - `Err(e)`: answer with [`e.reject()`](HandshakeError::reject) and
    ///   close the connection.
    ///
    /// Once complete or failed, further calls return the same result.
    pub fn parse<'a>(&'a mut self, buf: &'a [u8]) -> Result<Status<Opening<'a>>, HandshakeError> {
        match self.parse_http(buf)? {
            Status::Complete(request) => request.classify().map(Status::Complete),
            Status::Incomplete(n) => Ok(Status::Incomplete(n)),
        }
    }

    /// Parses the request head without the WebSocket checks: HTTP/1.1
    /// syntax and limits only.
    pub fn parse_http<'a>(&'a mut self, buf: &'a [u8]) -> Result<Status<Request<'a>>, HttpError> {
        let consumed = match self.head.scan(buf)? {
            Status::Complete(n) => n,
            Status::Incomplete(n) => return Ok(Status::Incomplete(n)),
        };
        let start = self.head.start;
        let (a, b) = (start.a as usize, start.b as usize);
        Ok(Status::Complete(Request {
            head: &buf[..consumed],
            spans: &self.head.spans,
            method: utf8_prefix(&buf[start.origin as usize..a]),
            target: utf8_prefix(&buf[a + 1..b]),
            minor: start.minor,
        }))
    }

    /// Forgets the request, to parse the next one on the same connection.
    /// Drop the consumed bytes from the buffer first.
    pub fn reset(&mut self) {
        self.head.reset();
    }

    /// How far into the buffer the parser has scanned: the next call
    /// resumes here. Never more than [`Limits::max_header_block`].
    pub fn scanned(&self) -> usize {
        self.head.scanned()
    }

    /// The bytes examined over all calls so far, re-examinations included.
    /// Each byte of the head is examined at most twice (once to find its
    /// line's end, once to validate the line), whatever the split: a
    /// figure for tests and monitoring.
    pub fn bytes_examined(&self) -> u64 {
        self.head.examined()
    }
}

/// A parsed request head, borrowed from the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    head: &'a [u8],
    spans: &'a [http::Span],
    method: &'a str,
    target: &'a str,
    minor: u8,
}

impl<'a> Request<'a> {
    /// The method, such as `GET` (case-sensitive).
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The request target as sent: `/chat?room=1`, or an absolute URI.
    pub fn target(&self) -> &'a str {
        self.target
    }

    /// The path of the target, without the query: `/chat`. For an absolute
    /// URI (`http://host/chat`) its path, `/` when empty; for `*` or an
    /// authority, the target itself.
    pub fn path(&self) -> &'a str {
        let Some(pq) = self.path_and_query() else {
            return self.target;
        };
        match pq.split_once('?').map_or(pq, |(p, _)| p) {
            "" => "/",
            path => path,
        }
    }

    /// The query of the target, after `?`, if there is one.
    pub fn query(&self) -> Option<&'a str> {
        self.path_and_query()?.split_once('?').map(|(_, q)| q)
    }

    /// `path?query` of an origin-form or absolute-form target.
    fn path_and_query(&self) -> Option<&'a str> {
        let t = self.target;
        if t.starts_with('/') {
            return Some(t);
        }
        let (scheme, rest) = t.split_once("://")?;
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return None;
        }
        Some(rest.find(['/', '?']).map_or("", |i| &rest[i..]))
    }

    /// The HTTP version as (major, minor): (1, 1) for HTTP/1.1.
    pub fn version(&self) -> (u8, u8) {
        (1, self.minor)
    }

    /// The header fields, in order.
    pub fn headers(&self) -> Headers<'a> {
        Headers::new(self.head, self.spans)
    }

    /// The value of the first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.headers().value_of(name)
    }

    /// The length of the head, blank line included: the bytes after it
    /// belong to the next layer (frames, or a plain request's body).
    pub fn consumed(&self) -> usize {
        self.head.len()
    }

    /// How the body that follows the head is framed (RFC 9112 section 6.3):
    /// no body, `Content-Length` bytes, or a transfer coding.
    ///
    /// Read strictly, as a server facing the internet should, since two
    /// readings of one length are how request smuggling starts: every
    /// `Content-Length` must be plain digits and all of them equal (a list
    /// such as `5, 5` is refused), and `Content-Length` together with
    /// `Transfer-Encoding` is refused, as is a `Transfer-Encoding` whose last
    /// coding is not `chunked`. A length too large for `u64` is
    /// `u64::MAX`, for the caller's size limit to refuse.
    pub fn body_framing(&self) -> Result<BodyFraming, BodyError> {
        let mut length: Option<u64> = None;
        let mut coded = false;
        // The last coding over every Transfer-Encoding header.
        let mut chunked_last = false;
        for (name, value) in self.headers().raw() {
            if name.eq_ignore_ascii_case(b"Transfer-Encoding") {
                coded = true;
                if let Some(last) = list(value).last() {
                    chunked_last = last.eq_ignore_ascii_case(b"chunked");
                }
            } else if name.eq_ignore_ascii_case(b"Content-Length") {
                if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
                    return Err(BodyError::InvalidContentLength);
                }
                let n = value.iter().fold(0u64, |n, d| {
                    n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
                });
                if length.is_some_and(|l| l != n) {
                    return Err(BodyError::ConflictingContentLengths);
                }
                length = Some(n);
            }
        }
        match (length, coded) {
            (Some(_), true) => Err(BodyError::LengthWithTransferEncoding),
            (None, true) if !chunked_last => Err(BodyError::NotChunkedLast),
            (None, true) => Ok(BodyFraming::TransferCoded),
            (Some(0) | None, false) => Ok(BodyFraming::None),
            (Some(n), false) => Ok(BodyFraming::Length(n)),
        }
    }

    /// Sorts the request into a WebSocket upgrade, checked against section
    /// 4.2.1, or a plain HTTP request.
    ///
    /// A request is an upgrade attempt if an `Upgrade` header holds
    /// `websocket`, or it has any `Sec-WebSocket-Key` or
    /// `Sec-WebSocket-Version` header; an attempt that breaks a rule is an
    /// error, never a plain request. Every request (plain ones too) needs
    /// exactly one `Host` from HTTP/1.1 on.
    pub fn classify(self) -> Result<Opening<'a>, HandshakeError> {
        let mut f = Found::default();
        for (name, value) in self.headers().raw() {
            f.note(name, value);
        }
        if f.hosts > 1 || (f.hosts == 0 && self.minor >= 1) || f.bad_host {
            return Err(HandshakeError::InvalidHost);
        }
        if !f.upgrade_websocket && f.keys == 0 && f.versions == 0 {
            return Ok(Opening::Http(self));
        }
        if self.method != "GET" {
            return Err(HandshakeError::MethodNotAllowed);
        }
        if self.minor < 1 {
            return Err(HandshakeError::HttpVersionTooOld);
        }
        if self.path_and_query().is_none() {
            return Err(HandshakeError::InvalidTarget);
        }
        if !f.upgrade_websocket {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !f.connection_upgrade {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let key = match (f.keys, f.key) {
            (0, _) => return Err(HandshakeError::MissingKey),
            (1, Some(key)) if is_valid_key(key) => key,
            (1, _) => return Err(HandshakeError::InvalidKey),
            _ => return Err(HandshakeError::DuplicateKey),
        };
        if !(f.versions == 1 && f.version_13) {
            return Err(HandshakeError::UnsupportedVersion);
        }
        if f.body {
            return Err(HandshakeError::UnexpectedBody);
        }
        let origin = match f.origin {
            Some(o) if f.origins == 1 && o.is_ascii() => Some(utf8_prefix(o)),
            None => None,
            _ => return Err(HandshakeError::InvalidOrigin),
        };
        if f.bad_protocols {
            return Err(HandshakeError::InvalidProtocols);
        }
        if f.bad_extensions {
            return Err(HandshakeError::InvalidExtensions);
        }
        Ok(Opening::WebSocket(UpgradeRequest {
            request: self,
            key: utf8_prefix(key),
            origin,
        }))
    }
}

/// Whether `value` is a Host field value, `uri-host [ ":" port ]` (RFC
/// 9110 section 7.2). Empty is allowed (a target without an authority).
/// RFC 9112 section 3.2 requires a 400 for an invalid one.
fn is_host(value: &[u8]) -> bool {
    Authority::parse(value).is_ok()
}

/// What one pass over the headers found, for [`Request::classify`].
#[derive(Default)]
struct Found<'a> {
    hosts: u32,
    bad_host: bool,
    upgrade_websocket: bool,
    connection_upgrade: bool,
    keys: u32,
    key: Option<&'a [u8]>,
    versions: u32,
    version_13: bool,
    body: bool,
    origins: u32,
    origin: Option<&'a [u8]>,
    bad_protocols: bool,
    bad_extensions: bool,
}

impl<'a> Found<'a> {
    fn note(&mut self, name: &[u8], value: &'a [u8]) {
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        // The length picks the one candidate worth comparing.
        match name.len() {
            4 if is("Host") => {
                self.hosts += 1;
                self.bad_host |= !is_host(value);
            }
            6 if is("Origin") => {
                self.origins += 1;
                self.origin = Some(value);
            }
            7 if is("Upgrade") => self.upgrade_websocket |= list_has(value, "websocket"),
            10 if is("Connection") => self.connection_upgrade |= list_has(value, "Upgrade"),
            14 if is("Content-Length") => self.body |= value != b"0",
            17 if is("Transfer-Encoding") => self.body = true,
            17 if is("Sec-WebSocket-Key") => {
                self.keys += 1;
                self.key = Some(value);
            }
            21 if is("Sec-WebSocket-Version") => {
                self.versions += 1;
                self.version_13 = value == b"13";
            }
            22 if is("Sec-WebSocket-Protocol") => {
                self.bad_protocols |= !http::list(value).all(is_token);
            }
            24 if is("Sec-WebSocket-Extensions") => {
                self.bad_extensions |= !extensions::is_valid(value);
            }
            _ => {}
        }
    }
}

/// How a plain request's body is framed: see [`Request::body_framing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (no `Content-Length`, or `Content-Length: 0`).
    None,
    /// Exactly this many bytes follow the head.
    Length(u64),
    /// `Transfer-Encoding` ending in `chunked` frames the body: its length
    /// is not known in advance. (Any other last coding is
    /// [`BodyError::NotChunkedLast`](crate::handshake::BodyError).)
    TransferCoded,
}

/// A complete request: a WebSocket upgrade, or plain HTTP.
#[derive(Debug, Clone, Copy)]
pub enum Opening<'a> {
    /// A valid WebSocket upgrade request: decide, then
    /// [`accept`](UpgradeRequest::accept) or [`Reject`] it.
    WebSocket(UpgradeRequest<'a>),
    /// A request with no WebSocket upgrade, such as a browser loading a
    /// page. Serve it or refuse it; it is not an error. Its body, if any,
    /// starts at [`Request::consumed`] and is the caller's to read.
    Http(Request<'a>),
}

impl<'a> Opening<'a> {
    /// The request, whichever kind it is.
    pub fn request(&self) -> &Request<'a> {
        match self {
            Opening::WebSocket(ws) => &ws.request,
            Opening::Http(r) => r,
        }
    }

    /// The length of the head: the bytes from here on belong to the next
    /// layer.
    pub fn consumed(&self) -> usize {
        self.request().consumed()
    }
}

/// An opening request that passed every check of RFC 6455 section 4.2.1.
/// What is left is policy: the path, the `Origin`, the subprotocol, any
/// authentication.
#[derive(Debug, Clone, Copy)]
pub struct UpgradeRequest<'a> {
    request: Request<'a>,
    key: &'a str,
    origin: Option<&'a str>,
}

impl<'a> UpgradeRequest<'a> {
    /// The underlying HTTP request: method, target, headers.
    pub fn request(&self) -> &Request<'a> {
        &self.request
    }

    /// The path of the target, without the query.
    pub fn path(&self) -> &'a str {
        self.request.path()
    }

    /// The query of the target, if there is one.
    pub fn query(&self) -> Option<&'a str> {
        self.request.query()
    }

    /// The `Sec-WebSocket-Key` value (24 base64 characters).
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The `Sec-WebSocket-Accept` value the 101 carries.
    pub fn accept_key(&self) -> AcceptKey {
        AcceptKey::from_key(self.key.as_bytes())
    }

    /// The `Origin` header, which browsers always send.
    pub fn origin(&self) -> Option<&'a str> {
        self.origin
    }

    /// Checks `Origin` against an allow-list of serialized origins such as
    /// `"https://example.com"` or `"http://127.0.0.1:9001"` (compared
    /// ASCII case-insensitively). A request without `Origin` passes: only
    /// browsers are bound to send it, and they are what the check protects
    /// (section 10.2: a page from another site must not open a connection
    /// that carries this site's cookies).
    ///
    /// The error is [`HandshakeError::OriginNotAllowed`], answered with 403.
    pub fn check_origin(&self, allowed: &[&str]) -> Result<(), HandshakeError> {
        match self.origin {
            Some(o) if !allowed.iter().any(|a| a.eq_ignore_ascii_case(o)) => {
                Err(HandshakeError::OriginNotAllowed)
            }
            _ => Ok(()),
        }
    }

    /// The subprotocols the client offers, in its order, over every
    /// `Sec-WebSocket-Protocol` header (`chat, superchat`).
    pub fn protocols(&self) -> Protocols<'a> {
        Protocols {
            items: ListItems::new(self.request.headers(), "Sec-WebSocket-Protocol"),
        }
    }

    /// The first protocol of `preference` (the server's order) that the
    /// client offered, compared exactly; `None` if there is none, which
    /// means answering without a subprotocol.
    pub fn select_protocol<'p>(&self, preference: &[&'p str]) -> Option<&'p str> {
        preference
            .iter()
            .copied()
            .find(|p| self.protocols().any(|o| o == *p))
    }

    /// The extensions the client offers, with their parameters, such as
    /// `permessage-deflate; client_max_window_bits`: hand them to
    /// [`DeflateConfig::negotiate`](crate::deflate::DeflateConfig::negotiate)
    /// (feature `deflate`); no other extension is answered.
    pub fn extensions(&self) -> Extensions<'a> {
        Extensions::new(self.request.headers())
    }

    /// The length of the head: the client's first frame starts here.
    pub fn consumed(&self) -> usize {
        self.request.consumed()
    }

    /// Appends the `101 Switching Protocols` response to `out`: `Upgrade`,
    /// `Connection`, `Sec-WebSocket-Accept`, the chosen protocol, then
    /// `Server` and extra headers if given. Frames may flow once it is
    /// sent.
    ///
    /// Fails, writing nothing, if the protocol was not offered or a header
    /// is invalid.
    pub fn accept(&self, accept: &Accept<'_>, out: &mut Vec<u8>) -> Result<(), BuildError> {
        accept.check()?;
        if let Some(p) = accept.protocol {
            if !self.protocols().any(|o| o == p) {
                return Err(BuildError::UnofferedProtocol);
            }
        }
        accept.write(self.accept_key().as_bytes(), out);
        Ok(())
    }
}

/// The subprotocols a client offers, from [`UpgradeRequest::protocols`].
#[derive(Debug, Clone)]
pub struct Protocols<'a> {
    items: ListItems<'a>,
}

impl<'a> Iterator for Protocols<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.items.next().map(utf8_prefix)
    }
}

impl HandshakeError {
    /// The response for this error: its status, the header the status
    /// calls for (`Allow: GET` for 405; `Upgrade: websocket` and
    /// `Sec-WebSocket-Version: 13` for 426), and the error's description as
    /// a one-line body. Add a `Server` header or more with its builder
    /// methods, then [`write`](Reject::write) it.
    pub fn reject(self) -> Reject<'static> {
        let required: &'static [(&'static str, &'static str)] = match self {
            HandshakeError::MethodNotAllowed => &[("Allow", "GET")],
            HandshakeError::UnsupportedVersion => {
                &[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")]
            }
            _ => &[],
        };
        Reject::new(self.status(), self.description()).with_required(required)
    }

    /// Appends [`reject`](HandshakeError::reject)'s response to `out`.
    pub fn write_response(self, out: &mut Vec<u8>) {
        // Statuses, headers and bodies here are fixed and valid.
        let written = self.reject().write(out);
        debug_assert_eq!(written, Ok(()));
    }
}
