//! The client side: build the opening request for a `ws://` or `wss://` URL, then parse
//! and check the server's response (RFC 6455 section 4.1).

use alloc::string::String;
use alloc::vec::Vec;

#[cfg(feature = "deflate")]
use crate::deflate::{DeflateConfig, Negotiated, ResponseError};
use crate::frame::Status;
use crate::handshake::accept::{encode_key, AcceptKey};
use crate::handshake::authority::{Authority, BadPart};
use crate::handshake::error::{BuildError, ClientError, ReasonPhrase, UrlError};
use crate::handshake::extensions::{self, Extensions};
use crate::handshake::http::{
    self, is_token, list_has, utf8_prefix, Head, Headers, Kind, ListItems,
};
use crate::handshake::write::{check_headers, check_value, header, headers};
use crate::Limits;

/// A parsed `ws://` or `wss://` URL (RFC 6455 section 3), borrowed from
/// its text.
///
/// ```
/// use rfc6455::handshake::WsUrl;
/// let url = WsUrl::parse("ws://[::1]:9001/chat?room=1")?;
/// assert_eq!((url.host(), url.port()), ("::1", 9001));
/// assert_eq!((url.path(), url.query()), ("/chat", Some("room=1")));
/// let url = WsUrl::parse("wss://example.com/feed")?;
/// assert!(url.is_secure());
/// assert_eq!(url.port(), 443);
/// # Ok::<(), rfc6455::handshake::UrlError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsUrl<'a> {
    /// `wss://`: the handshake runs over TLS.
    secure: bool,
    /// The host as written, with brackets around an IPv6 literal.
    host: &'a str,
    port: u16,
    path: &'a str,
    query: Option<&'a str>,
}

impl<'a> WsUrl<'a> {
    /// The default port of `ws://`.
    pub const DEFAULT_PORT: u16 = 80;
    /// The default port of `wss://`.
    pub const DEFAULT_TLS_PORT: u16 = 443;

    /// Parses `ws://host[:port][/path][?query]` or the same with `wss://`.
    /// The scheme is case-insensitive. The path and query must be
    /// percent-encoded already: they go into the request line as written.
    ///
    /// The codec itself does no TLS: for a `wss://` URL
    /// ([`is_secure`](Self::is_secure)) the caller runs the handshake over
    /// a TLS stream to [`host`](Self::host), as the blocking client does
    /// with the `tls` feature.
    pub fn parse(url: &'a str) -> Result<Self, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::NotWebSocket)?;
        let secure = if scheme.eq_ignore_ascii_case("wss") {
            true
        } else if scheme.eq_ignore_ascii_case("ws") {
            false
        } else {
            return Err(UrlError::NotWebSocket);
        };
        if rest.contains('#') {
            return Err(UrlError::Fragment);
        }
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, resource) = rest.split_at(authority_end);
        if authority.contains('@') {
            return Err(UrlError::Userinfo);
        }
        let default_port = if secure {
            Self::DEFAULT_TLS_PORT
        } else {
            Self::DEFAULT_PORT
        };
        let (host, port) = split_host_port(authority, default_port)?;
        let (path, query) = match resource.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (resource, None),
        };
        let visible = |s: &str| s.bytes().all(|b| b.is_ascii_graphic());
        if !visible(path) || !query.is_none_or(visible) {
            return Err(UrlError::InvalidPath);
        }
        Ok(WsUrl {
            secure,
            host,
            port,
            path: if path.is_empty() { "/" } else { path },
            query,
        })
    }

    /// The host to connect to: a name, an IPv4 address, or an IPv6 address
    /// without its brackets.
    pub fn host(&self) -> &'a str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(self.host)
    }

    /// The port: the URL's, or 80 (`ws://`) or 443 (`wss://`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the URL is `wss://`: the connection must run over TLS.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The path, `/` when the URL has none.
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The query, after `?`.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// Writes `host[:port]` for the `Host` header: the port only when it is
    /// not the scheme's default (section 4.1 item 4), an IPv6 literal in
    /// brackets.
    fn write_host(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.host.as_bytes());
        let default = if self.secure {
            Self::DEFAULT_TLS_PORT
        } else {
            Self::DEFAULT_PORT
        };
        if self.port != default {
            out.push(b':');
            crate::handshake::write::decimal(out, usize::from(self.port));
        }
    }
}

/// Splits an authority into host and port, checking both: a client needs
/// a host to connect to (a name, IPv4, or IPv6 in brackets) and a port it
/// can use.
fn split_host_port(authority: &str, default_port: u16) -> Result<(&str, u16), UrlError> {
    let parsed = Authority::parse(authority.as_bytes()).map_err(|bad| match bad {
        BadPart::Host => UrlError::InvalidHost,
        BadPart::Port => UrlError::InvalidPort,
    })?;
    let ipv6 =
        |l: &[u8]| core::str::from_utf8(l).is_ok_and(|l| l.parse::<core::net::Ipv6Addr>().is_ok());
    if parsed.host.is_empty() || parsed.ip_literal().is_some_and(|l| !ipv6(l)) {
        return Err(UrlError::InvalidHost);
    }
    let port = match parsed.port {
        // RFC 3986 section 3.2.3: an empty port is the default one.
        None | Some(b"") => default_port,
        Some(digits) => match core::str::from_utf8(digits).map(str::parse::<u16>) {
            Ok(Ok(n)) if n != 0 => n,
            _ => return Err(UrlError::InvalidPort),
        },
    };
    Ok((&authority[..parsed.host.len()], port))
}

/// Headers [`ClientRequest::headers`] must not repeat.
const REQUEST_RESERVED: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
    "Content-Length",
    "Transfer-Encoding",
];

/// The client's opening request, to be written with
/// [`write`](ClientRequest::write).
///
/// The 16-byte key must be fresh random bytes for every connection
/// (section 4.1 item 7); the caller draws them, as the core has no random
/// source.
///
/// ```
/// use rfc6455::handshake::ClientRequest;
/// let mut out = Vec::new();
/// let handshake = ClientRequest::new("ws://example.com/chat", *b"the sample nonce")?
///     .protocols(&["chat", "superchat"])
///     .origin("http://example.com")
///     .write(&mut out)?;
/// assert!(out.starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
/// assert_eq!(handshake.expected_accept().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    url: WsUrl<'a>,
    key: [u8; 16],
    protocols: &'a [&'a str],
    origin: Option<&'a str>,
    headers: &'a [(&'a str, &'a str)],
    limits: Limits,
    #[cfg(feature = "deflate")]
    deflate: Option<DeflateConfig>,
}

impl<'a> ClientRequest<'a> {
    /// A request for `url` with the key `key`.
    pub fn new(url: &'a str, key: [u8; 16]) -> Result<Self, UrlError> {
        Ok(Self::for_url(WsUrl::parse(url)?, key))
    }

    /// A request for a parsed URL.
    pub const fn for_url(url: WsUrl<'a>, key: [u8; 16]) -> Self {
        ClientRequest {
            url,
            key,
            protocols: &[],
            origin: None,
            headers: &[],
            limits: Limits::DEFAULT,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// Offers permessage-deflate with these settings
    /// ([`DeflateConfig::offer`]); the server may decline.
    #[cfg(feature = "deflate")]
    pub const fn deflate(mut self, config: Option<DeflateConfig>) -> Self {
        self.deflate = config;
        self
    }

    /// Subprotocols to offer, most preferred first.
    pub const fn protocols(mut self, protocols: &'a [&'a str]) -> Self {
        self.protocols = protocols;
        self
    }

    /// An `Origin` header, as a browser sends.
    pub const fn origin(mut self, origin: &'a str) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Extra headers, such as `Authorization` or `User-Agent`. None may
    /// repeat a header the request writes itself.
    pub const fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Self {
        self.headers = headers;
        self
    }

    /// Limits for parsing the response (`max_header_block`, `max_headers`).
    pub const fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The URL.
    pub const fn url(&self) -> &WsUrl<'a> {
        &self.url
    }

    /// Appends the request to `out` and returns the state that checks the
    /// response. On error `out` is left as it was.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<ClientHandshake, BuildError> {
        for (i, p) in self.protocols.iter().enumerate() {
            if !is_token(p.as_bytes()) || self.protocols[..i].contains(p) {
                return Err(BuildError::InvalidProtocol);
            }
        }
        if let Some(o) = self.origin {
            check_value(o)?;
        }
        check_headers(self.headers, REQUEST_RESERVED)?;
        let key = encode_key(&self.key);

        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.url.path.as_bytes());
        if let Some(q) = self.url.query {
            out.push(b'?');
            out.extend_from_slice(q.as_bytes());
        }
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        self.url.write_host(out);
        out.extend_from_slice(
            b"\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\n",
        );
        header(out, "Sec-WebSocket-Key", &key);
        out.extend_from_slice(b"Sec-WebSocket-Version: 13\r\n");
        let mut offered = String::new();
        for p in self.protocols {
            if !offered.is_empty() {
                offered.push_str(", ");
            }
            offered.push_str(p);
        }
        if !offered.is_empty() {
            header(out, "Sec-WebSocket-Protocol", offered.as_bytes());
        }
        if let Some(o) = self.origin {
            header(out, "Origin", o.as_bytes());
        }
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &self.deflate {
            let mut offer = String::new();
            deflate.offer().write(&mut offer);
            header(out, "Sec-WebSocket-Extensions", offer.as_bytes());
        }
        headers(out, self.headers);
        out.extend_from_slice(b"\r\n");
        Ok(ClientHandshake {
            head: Head::new(Kind::Response, &self.limits),
            accept: AcceptKey::from_key(&key),
            offered,
            #[cfg(feature = "deflate")]
            deflate: self.deflate,
        })
    }
}

/// The client's side of the handshake once the request is sent: parses and
/// checks the server's response.
///
/// Like [`RequestParser`](crate::handshake::RequestParser), call
/// [`parse`](ClientHandshake::parse) with the whole buffer read so far; it
/// resumes where it stopped. Bytes after the response are the server's
/// first frames: they start at [`Accepted::consumed`].
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    head: Head,
    accept: AcceptKey,
    /// The offered subprotocols, as sent: `chat, superchat`.
    offered: String,
    /// The permessage-deflate settings offered, if any.
    #[cfg(feature = "deflate")]
    deflate: Option<DeflateConfig>,
}

impl ClientHandshake {
    /// The `Sec-WebSocket-Accept` value the server must send.
    pub fn expected_accept(&self) -> &AcceptKey {
        &self.accept
    }

    /// Parses and checks the response at the front of `buf`, which holds
    /// the bytes of earlier calls unchanged with new ones appended.
    ///
    /// Returns [`Status::Incomplete`] until the response head is whole,
    /// then the accepted connection's details, or why the connection
    /// fails; a status other than 101 is [`ClientError::Rejected`], with
    /// the rest of that response available from
    /// [`response`](ClientHandshake::response).
    pub fn parse<'b>(&'b mut self, buf: &'b [u8]) -> Result<Status<Accepted<'b>>, ClientError> {
        match self.head.scan(buf)? {
            Status::Incomplete(n) => Ok(Status::Incomplete(n)),
            Status::Complete(end) => self.check(self.view(buf, end)).map(Status::Complete),
        }
    }

    /// The response head, once [`parse`](ClientHandshake::parse) found it
    /// whole in `buf`, whatever its status: read a redirect's `Location` or
    /// a 401's `WWW-Authenticate` here.
    pub fn response<'b>(&'b self, buf: &'b [u8]) -> Option<Response<'b>> {
        let end = self.head.done()?;
        (buf.len() >= end).then(|| self.view(buf, end))
    }

    /// The response whose head is `buf[..end]`, as scanned.
    fn view<'b>(&'b self, buf: &'b [u8], end: usize) -> Response<'b> {
        let start = self.head.start;
        Response {
            head: &buf[..end],
            spans: &self.head.spans,
            status: start.code,
            reason: utf8_prefix(&buf[start.a as usize..start.b as usize]),
            minor: start.minor,
        }
    }

    fn check<'b>(&self, response: Response<'b>) -> Result<Accepted<'b>, ClientError> {
        if response.status != 101 {
            return Err(ClientError::Rejected {
                status: response.status,
                reason: ReasonPhrase::new(response.reason.as_bytes()),
            });
        }
        if response.minor < 1 {
            return Err(ClientError::HttpVersionTooOld);
        }
        let (mut upgrade, mut connection, mut accepts, mut accept_ok) = (false, false, 0, false);
        let mut extensions_valid = true;
        for (name, value) in response.headers().raw() {
            let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
            if is("Upgrade") {
                upgrade |= list_has(value, "websocket");
            } else if is("Connection") {
                connection |= list_has(value, "Upgrade");
            } else if is("Sec-WebSocket-Accept") {
                accepts += 1;
                accept_ok = value == self.accept.as_bytes();
            } else if is("Sec-WebSocket-Extensions") {
                extensions_valid &= extensions::is_valid(value);
            }
        }
        if !upgrade {
            return Err(ClientError::MissingUpgrade);
        }
        if !connection {
            return Err(ClientError::MissingConnectionUpgrade);
        }
        match accepts {
            0 => return Err(ClientError::MissingAccept),
            1 if accept_ok => {}
            _ => return Err(ClientError::AcceptMismatch),
        }
        if !extensions_valid {
            return Err(ClientError::InvalidExtensions);
        }
        #[cfg(feature = "deflate")]
        let deflate = match &self.deflate {
            Some(config) => match config.accept_extensions(response.extensions()) {
                Ok(n) => n,
                Err(ResponseError::Unoffered) => return Err(ClientError::UnofferedExtension),
                Err(e) => return Err(ClientError::Deflate(e)),
            },
            None => None,
        };
        // permessage-deflate is the only extension ever offered.
        #[cfg(feature = "deflate")]
        let offered_deflate = self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        let offered_deflate = false;
        if !offered_deflate && response.extensions().next().is_some() {
            return Err(ClientError::UnofferedExtension);
        }
        let mut protocols = ListItems::new(response.headers(), "Sec-WebSocket-Protocol");
        let protocol = match (protocols.next(), protocols.next()) {
            (None, _) => None,
            (Some(p), None) if is_token(p) => Some(p),
            _ => return Err(ClientError::InvalidProtocol),
        };
        if let Some(p) = protocol {
            if !http::list(self.offered.as_bytes()).any(|o| o == p) {
                return Err(ClientError::UnofferedProtocol);
            }
        }
        Ok(Accepted {
            protocol: protocol.map(utf8_prefix),
            response,
            #[cfg(feature = "deflate")]
            deflate,
        })
    }
}

/// A parsed response head, borrowed from the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    head: &'a [u8],
    spans: &'a [http::Span],
    status: u16,
    reason: &'a str,
    minor: u8,
}

impl<'a> Response<'a> {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase (its longest UTF-8 prefix).
    pub fn reason(&self) -> &'a str {
        self.reason
    }

    /// The HTTP version as (major, minor).
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

    /// The extensions of every `Sec-WebSocket-Extensions` header.
    pub fn extensions(&self) -> Extensions<'a> {
        Extensions::new(self.headers())
    }

    /// The length of the head, blank line included.
    pub fn consumed(&self) -> usize {
        self.head.len()
    }
}

/// A response that passed every check of section 4.1: the connection is
/// open.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'a> {
    response: Response<'a>,
    protocol: Option<&'a str>,
    #[cfg(feature = "deflate")]
    deflate: Option<Negotiated>,
}

impl<'a> Accepted<'a> {
    /// The subprotocol the server selected, one the client offered.
    pub fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }

    /// The permessage-deflate settings the server accepted, for
    /// [`Connection::with_deflate`](crate::Connection::with_deflate);
    /// `None` if it declined or none was offered.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<&Negotiated> {
        self.deflate.as_ref()
    }

    /// The whole 101 response.
    pub fn response(&self) -> &Response<'a> {
        &self.response
    }

    /// The length of the response head: the server's first frame starts
    /// here.
    pub fn consumed(&self) -> usize {
        self.response.consumed()
    }
}
