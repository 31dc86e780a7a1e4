//! The handshake's error types, each variant naming the rule it enforces.
//!
//! - [`HttpError`]: the bytes are not an acceptable HTTP/1.1 message head
//!   (RFC 9112) or pass a [`Limits`](crate::Limits) bound. Both sides.
//! - [`HandshakeError`]: why a server refuses an opening request (RFC 6455
//!   section 4.2.1), with the HTTP status to answer.
//! - [`ClientError`]: why a client fails the connection on the server's
//!   response (RFC 6455 section 4.1).
//! - [`BodyError`]: a plain request's body framing cannot be trusted.
//! - [`UrlError`]: a `ws://` URL the client cannot use.
//! - [`BuildError`]: the embedding code asked for a message that would be
//!   invalid on the wire (a bad header, a protocol the peer never offered).
//!
//! All are `Copy` and small; a test pins their sizes.

use core::fmt;

/// The bytes are not an acceptable HTTP/1.1 message head (RFC 9112), or
/// they pass one of the [`Limits`](crate::Limits).
///
/// Line endings: only CRLF ends a line. A bare LF or a bare CR is rejected
/// ([`HttpError::InvalidLineEnding`]), as RFC 9112 section 2.2 permits,
/// rather than tolerated: a lenient reading that an intermediary does not
/// share is how request smuggling starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpError {
    /// The head did not end (blank line included) within
    /// [`Limits::max_header_block`](crate::Limits::max_header_block) bytes.
    /// Detected as soon as that many bytes are present, so nothing beyond
    /// the limit is ever scanned or waited for. 431.
    HeaderBlockTooLarge,
    /// More header fields than
    /// [`Limits::max_headers`](crate::Limits::max_headers). 431.
    TooManyHeaders,
    /// The request line passed
    /// [`Limits::max_request_line`](crate::Limits::max_request_line) bytes
    /// inside the request target, or in a normal-sized version after a long
    /// target (RFC 9112 section 3: "A server that receives a request-target
    /// longer than any URI it wishes to parse MUST respond with a 414").
    /// 414.
    UriTooLong,
    /// The request line passed
    /// [`Limits::max_request_line`](crate::Limits::max_request_line) bytes
    /// in the method or the version. 400.
    RequestLineTooLong,
    /// The request line is not `method SP request-target SP HTTP-version`
    /// with a token method, a target of visible ASCII without `#`, and a
    /// version `HTTP/d.d` (RFC 9112 section 3). 400.
    MalformedRequestLine,
    /// The status line is not `HTTP-version SP 3DIGIT [SP reason-phrase]`
    /// (RFC 9112 section 4). Only a client meets it.
    MalformedStatusLine,
    /// The HTTP major version is not 1 (RFC 9110 section 15.6.6: this
    /// message format is HTTP/1 only). 505.
    UnsupportedHttpVersion,
    /// A line ended in a bare LF, or a CR was not followed by LF (RFC 9112
    /// section 2.2). 400.
    InvalidLineEnding,
    /// A header line starts with a space or tab: obsolete line folding
    /// (RFC 9112 section 5.2: a server "MUST either reject the message by
    /// sending a 400") or whitespace between the start line and the first
    /// header (section 2.2). 400.
    ObsoleteFold,
    /// A header line has no colon (RFC 9112 section 5). 400.
    MissingColon,
    /// Whitespace between a header name and its colon (RFC 9112 section
    /// 5.1: "A server MUST reject ... with a response status code of 400").
    WhitespaceBeforeColon,
    /// A header name is empty or holds a byte that is not a token character
    /// (RFC 9110 section 5.1), such as a control character. 400.
    InvalidHeaderName,
    /// A header value holds a control character other than horizontal tab,
    /// or DEL (RFC 9110 section 5.5). 400.
    InvalidHeaderValue,
}

impl HttpError {
    /// The HTTP status a server answers with: 400, 414, 431 or 505.
    pub const fn status(self) -> u16 {
        match self {
            HttpError::HeaderBlockTooLarge | HttpError::TooManyHeaders => 431,
            HttpError::UriTooLong => 414,
            HttpError::UnsupportedHttpVersion => 505,
            _ => 400,
        }
    }

    const fn describe(self) -> &'static str {
        match self {
            HttpError::HeaderBlockTooLarge => "header block too large",
            HttpError::TooManyHeaders => "too many header fields",
            HttpError::UriTooLong => "request target too long",
            HttpError::RequestLineTooLong => "request line too long",
            HttpError::MalformedRequestLine => "malformed request line",
            HttpError::MalformedStatusLine => "malformed status line",
            HttpError::UnsupportedHttpVersion => "HTTP major version is not 1",
            HttpError::InvalidLineEnding => "line not ended by CRLF",
            HttpError::ObsoleteFold => "header line starts with whitespace (obsolete line folding)",
            HttpError::MissingColon => "header line without a colon",
            HttpError::WhitespaceBeforeColon => "whitespace between header name and colon",
            HttpError::InvalidHeaderName => "invalid header name",
            HttpError::InvalidHeaderValue => "control character in a header value",
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A plain request whose body length cannot be trusted (RFC 9112 section
/// 6.3): answer 400 and close. See
/// [`Request::body_framing`](crate::handshake::Request::body_framing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyError {
    /// A `Content-Length` value is not plain digits (a list, a sign,
    /// spaces inside, empty).
    InvalidContentLength,
    /// Two `Content-Length` headers disagree.
    ConflictingContentLengths,
    /// Both `Content-Length` and `Transfer-Encoding` are present: RFC 9112
    /// section 6.3 calls this a likely smuggling attempt.
    LengthWithTransferEncoding,
    /// The last transfer coding is not `chunked`: the body would end only
    /// with the connection (RFC 9112 section 6.3).
    NotChunkedLast,
}

impl BodyError {
    /// The HTTP status to answer: always 400.
    pub const fn status(self) -> u16 {
        400
    }

    /// A one-line description, for the response body.
    pub const fn describe(self) -> &'static str {
        match self {
            BodyError::InvalidContentLength => "Content-Length is not a plain number",
            BodyError::ConflictingContentLengths => "Content-Length headers disagree",
            BodyError::LengthWithTransferEncoding => {
                "Content-Length and Transfer-Encoding together"
            }
            BodyError::NotChunkedLast => {
                "Transfer-Encoding does not end with chunked: the body's length is unknown"
            }
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Why a server refuses an opening request: the request broke a rule of
/// RFC 6455 section 4.2.1 (or of HTTP/1.1 underneath), or the embedding
/// code's policy refused it.
///
/// [`status`](HandshakeError::status) gives the HTTP status to answer and
/// [`reject`](HandshakeError::reject) the complete response, with the
/// header the status calls for (`Allow` for 405, `Sec-WebSocket-Version`
/// for 426).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HandshakeError {
    /// The head is not valid HTTP/1.1 or passes a limit.
    Http(HttpError),
    /// A Host header is missing from an HTTP/1.1 request, there is more
    /// than one, or its value is not `uri-host [":" port]` (RFC 9112
    /// section 3.2: a server MUST respond with a 400 to an HTTP/1.1
    /// request that lacks a Host header field, to one with more than one,
    /// and to one whose Host value is invalid; RFC 6455 section 4.2.1
    /// item 2). Checked for plain HTTP requests too. 400.
    InvalidHost,
    /// An upgrade request whose method is not `GET` (section 4.2.1 item 1;
    /// the method is case-sensitive). 405, with `Allow: GET`.
    MethodNotAllowed,
    /// An upgrade request older than HTTP/1.1 (section 4.2.1 item 1). 400.
    HttpVersionTooOld,
    /// The request target of an upgrade request is neither a path
    /// (`/chat?room=1`) nor an absolute URI holding one (section 4.2.1
    /// item 1: the Request-URI is the resource name). 400.
    InvalidTarget,
    /// The request carries WebSocket headers but no `Upgrade` header with
    /// the token `websocket`, compared case-insensitively (section 4.2.1
    /// item 3). 400.
    MissingUpgrade,
    /// No `Connection` header holds the token `Upgrade`, compared
    /// case-insensitively in a comma-separated list such as
    /// `keep-alive, Upgrade` (section 4.2.1 item 4). 400.
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key` header (section 4.2.1 item 5). 400.
    MissingKey,
    /// More than one `Sec-WebSocket-Key` header (section 11.3.1: it "MUST
    /// NOT appear more than once in an HTTP request"). 400.
    DuplicateKey,
    /// The `Sec-WebSocket-Key` value is not the canonical base64 form of 16
    /// bytes (section 4.2.1 item 5: "when decoded, is 16 bytes in length").
    /// 400.
    InvalidKey,
    /// `Sec-WebSocket-Version` is missing, repeated, or not `13` (section
    /// 4.2.1 item 6, section 4.4). 426, with `Sec-WebSocket-Version: 13` and
    /// `Upgrade: websocket`.
    UnsupportedVersion,
    /// An upgrade request announces a body (`Transfer-Encoding`, or a
    /// `Content-Length` other than 0). The bytes after the head are frames;
    /// a body there would be read as frames by this end and as a body by an
    /// intermediary. 400.
    UnexpectedBody,
    /// More than one `Origin` header, or one that is not ASCII (RFC 6454
    /// section 7: an origin is a serialized ASCII string). 400.
    InvalidOrigin,
    /// A `Sec-WebSocket-Protocol` element is not a token (section 4.1
    /// item 10; section 11.3.4). 400.
    InvalidProtocols,
    /// `Sec-WebSocket-Extensions` does not follow the grammar of section
    /// 9.1: `name *(";" param ["=" (token / quoted-string)])`, comma
    /// separated. Quoted values must hold a token without backslash
    /// escapes. 400.
    InvalidExtensions,
    /// The `Origin` is not on the server's allow-list (section 4.2.2 item 4;
    /// section 10.2). A defence for browsers against cross-site WebSocket
    /// hijacking: a page on another site cannot open a connection that
    /// carries this site's cookies. Pair it with a token or cookie check;
    /// non-browser clients send any Origin they like, or none. 403.
    OriginNotAllowed,
}

impl HandshakeError {
    /// The HTTP status to answer with: 400, 403, 405, 414, 426, 431 or 505.
    pub const fn status(self) -> u16 {
        match self {
            HandshakeError::Http(e) => e.status(),
            HandshakeError::MethodNotAllowed => 405,
            HandshakeError::UnsupportedVersion => 426,
            HandshakeError::OriginNotAllowed => 403,
            _ => 400,
        }
    }

    /// The reason phrase of [`status`](HandshakeError::status), such as
    /// `"Bad Request"`.
    pub const fn reason(self) -> &'static str {
        crate::handshake::write::reason_phrase(self.status())
    }

    /// A one-line description, used as the rejection body.
    pub const fn description(self) -> &'static str {
        match self {
            HandshakeError::Http(e) => e.describe(),
            HandshakeError::InvalidHost => "missing, repeated or invalid Host header",
            HandshakeError::MethodNotAllowed => "a WebSocket upgrade must use GET",
            HandshakeError::HttpVersionTooOld => "a WebSocket upgrade needs HTTP/1.1",
            HandshakeError::InvalidTarget => "request target is not a path",
            HandshakeError::MissingUpgrade => "Upgrade header lacks the websocket token",
            HandshakeError::MissingConnectionUpgrade => "Connection header lacks the Upgrade token",
            HandshakeError::MissingKey => "missing Sec-WebSocket-Key header",
            HandshakeError::DuplicateKey => "repeated Sec-WebSocket-Key header",
            HandshakeError::InvalidKey => "Sec-WebSocket-Key is not 16 bytes in base64",
            HandshakeError::UnsupportedVersion => "Sec-WebSocket-Version must be 13",
            HandshakeError::UnexpectedBody => "a WebSocket upgrade request has no body",
            HandshakeError::InvalidOrigin => "repeated or non-ASCII Origin header",
            HandshakeError::InvalidProtocols => "invalid Sec-WebSocket-Protocol header",
            HandshakeError::InvalidExtensions => "invalid Sec-WebSocket-Extensions header",
            HandshakeError::OriginNotAllowed => "origin not allowed",
        }
    }
}

impl From<HttpError> for HandshakeError {
    fn from(e: HttpError) -> Self {
        HandshakeError::Http(e)
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A reason phrase from a status line, kept inline (at most
/// [`ReasonPhrase::CAPACITY`] bytes, cut at a character boundary) so that
/// [`ClientError`] stays `Copy` and owns no heap memory.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReasonPhrase {
    len: u8,
    bytes: [u8; ReasonPhrase::CAPACITY],
}

impl ReasonPhrase {
    /// The most bytes kept. Every reason phrase of RFC 9110 fits.
    pub const CAPACITY: usize = 32;

    /// The longest prefix of `reason` that is valid UTF-8 and fits.
    pub fn new(reason: &[u8]) -> Self {
        let text = crate::handshake::http::utf8_prefix(reason);
        let mut len = text.len().min(Self::CAPACITY);
        while !text.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0; Self::CAPACITY];
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        ReasonPhrase {
            len: len as u8, // len <= CAPACITY = 32
            bytes,
        }
    }

    /// The phrase as text.
    pub fn as_str(&self) -> &str {
        crate::handshake::http::utf8_prefix(&self.bytes[..usize::from(self.len)])
    }
}

impl fmt::Debug for ReasonPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for ReasonPhrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a client fails the connection on the server's response (RFC 6455
/// section 4.1: "the client MUST _Fail the WebSocket Connection_").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientError {
    /// The head is not valid HTTP/1.1 or passes a limit.
    Http(HttpError),
    /// The status is not 101: the server refused, redirected or failed.
    /// Carries the status code and reason phrase; the whole response stays
    /// readable through
    /// [`ClientHandshake::response`](crate::handshake::ClientHandshake::response).
    Rejected {
        /// The status code, such as 403.
        status: u16,
        /// The reason phrase, such as `Forbidden`.
        reason: ReasonPhrase,
    },
    /// A 101 response older than HTTP/1.1 (section 4.1: the handshake is
    /// HTTP/1.1).
    HttpVersionTooOld,
    /// No `Upgrade` header with the token `websocket`, compared
    /// case-insensitively (section 4.1, response check 2).
    MissingUpgrade,
    /// No `Connection` header with the token `Upgrade`, compared
    /// case-insensitively (section 4.1, response check 3).
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Accept` header (section 4.1, response check 4).
    MissingAccept,
    /// `Sec-WebSocket-Accept` is repeated or differs from the expected value
    /// (section 4.1, response check 4: the comparison is exact).
    AcceptMismatch,
    /// `Sec-WebSocket-Extensions` does not follow the grammar of section 9.1.
    InvalidExtensions,
    /// The server answered with an extension the client did not offer
    /// (section 4.1, response check 5).
    UnofferedExtension,
    /// `Sec-WebSocket-Protocol` names more than one protocol, or is not a
    /// token (section 4.2.2: the server selects "a single value").
    InvalidProtocol,
    /// The server selected a protocol the client did not offer (section 4.1,
    /// response check 6).
    UnofferedProtocol,
    /// The server's permessage-deflate response breaks RFC 7692 section 7
    /// or leaves the offer's bounds.
    #[cfg(feature = "deflate")]
    Deflate(crate::deflate::ResponseError),
}

impl From<HttpError> for ClientError {
    fn from(e: HttpError) -> Self {
        ClientError::Http(e)
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Http(e) => fmt::Display::fmt(e, f),
            ClientError::Rejected { status, reason } => {
                write!(f, "server refused the upgrade: {status} {reason}")
            }
            ClientError::HttpVersionTooOld => f.write_str("101 response older than HTTP/1.1"),
            ClientError::MissingUpgrade => f.write_str("Upgrade header lacks the websocket token"),
            ClientError::MissingConnectionUpgrade => {
                f.write_str("Connection header lacks the Upgrade token")
            }
            ClientError::MissingAccept => f.write_str("missing Sec-WebSocket-Accept header"),
            ClientError::AcceptMismatch => f.write_str("wrong or repeated Sec-WebSocket-Accept"),
            ClientError::InvalidExtensions => {
                f.write_str("invalid Sec-WebSocket-Extensions header")
            }
            ClientError::UnofferedExtension => f.write_str("server chose an extension not offered"),
            ClientError::InvalidProtocol => f.write_str("invalid Sec-WebSocket-Protocol header"),
            ClientError::UnofferedProtocol => f.write_str("server chose a protocol not offered"),
            #[cfg(feature = "deflate")]
            ClientError::Deflate(e) => write!(f, "permessage-deflate response: {e}"),
        }
    }
}

/// A `ws://` URL the client cannot use (RFC 6455 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlError {
    /// The scheme is neither `ws` nor `wss`.
    NotWebSocket,
    /// A `wss://` URL given to the blocking client of a build without the
    /// `tls` feature. It is refused rather than spoken as plain text.
    /// (The codec parses `wss://` URLs; TLS is the driver's business.)
    TlsUnsupported,
    /// The host is empty, or holds a character a host cannot (RFC 3986
    /// section 3.2.2); IPv6 literals are written in brackets, `[::1]`.
    InvalidHost,
    /// The port is not a number from 1 to 65535.
    InvalidPort,
    /// The URL has user information (`user@host`), which WebSocket URIs do
    /// not have (section 3).
    Userinfo,
    /// The URL has a fragment (section 3: "Fragment identifiers are
    /// meaningless in the context of WebSocket URIs and MUST NOT be used").
    Fragment,
    /// The path or query holds a space, a control character or a non-ASCII
    /// character. Percent-encode them first.
    InvalidPath,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::NotWebSocket => "URL scheme is not ws",
            UrlError::TlsUnsupported => {
                "wss:// needs TLS: this build of rfc6455 lacks its `tls` feature"
            }
            UrlError::InvalidHost => "invalid host in URL",
            UrlError::InvalidPort => "invalid port in URL",
            UrlError::Userinfo => "user information in a WebSocket URL",
            UrlError::Fragment => "fragment in a WebSocket URL",
            UrlError::InvalidPath => "path or query not percent-encoded",
        })
    }
}

/// The embedding code asked for a message that would be invalid on the
/// wire. Nothing is written when this is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuildError {
    /// A header name is empty or not a token (RFC 9110 section 5.1).
    InvalidHeaderName,
    /// A header value holds CR, LF or another control character: written
    /// as is, it would end the header early (header injection).
    InvalidHeaderValue,
    /// An extra header repeats one the handshake writes itself, such as
    /// `Connection` or `Sec-WebSocket-Accept`; set it through its own
    /// method instead.
    ReservedHeader,
    /// A subprotocol is not a token, or is offered twice (RFC 6455 section
    /// 4.1 item 10).
    InvalidProtocol,
    /// The server selected a subprotocol the client did not offer (section
    /// 4.2.2: the value "MUST be" one the client sent).
    UnofferedProtocol,
    /// A rejection status outside 300-599, or 304 (which has no body).
    InvalidStatus,
    /// A rejection body holds CR or LF: it must be one line.
    InvalidBody,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BuildError::InvalidHeaderName => "header name is not a token",
            BuildError::InvalidHeaderValue => "header value holds a control character",
            BuildError::ReservedHeader => "header is written by the handshake itself",
            BuildError::InvalidProtocol => "subprotocol is not a token or is repeated",
            BuildError::UnofferedProtocol => "subprotocol was not offered by the client",
            BuildError::InvalidStatus => "rejection status must be 300-599 and not 304",
            BuildError::InvalidBody => "rejection body must be one line",
        })
    }
}

// `core::error::Error` (Rust 1.81) is `std::error::Error`, and needs no std.
impl core::error::Error for HttpError {}
impl core::error::Error for HandshakeError {}
impl core::error::Error for ClientError {}
impl core::error::Error for UrlError {}
impl core::error::Error for BuildError {}
impl core::error::Error for BodyError {}
