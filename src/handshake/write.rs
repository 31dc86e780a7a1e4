//! Writing HTTP/1.1 heads into the caller's `Vec<u8>`: the server's 101 and
//! rejections, and the pieces the client request shares with them.
//!
//! This is the cold path (once per connection), so it writes into a
//! growable buffer. Everything the embedding code supplies (header names
//! and values, protocols, bodies) is checked before the first byte is
//! written, so a failed call leaves the buffer as it was.

use alloc::vec::Vec;

#[cfg(feature = "deflate")]
use crate::deflate::Negotiated;
use crate::handshake::error::BuildError;
use crate::handshake::http::{is_field_value, is_token};

/// The reason phrase RFC 9110 gives a status, or a generic one for its
/// class.
pub(crate) const fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Content Too Large",
        414 => "URI Too Long",
        417 => "Expectation Failed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => match status / 100 {
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

/// Checks a header the embedding code supplies: a token name, a value
/// without CR, LF or other controls, and not one of `reserved` (which the
/// writer emits itself), compared case-insensitively.
pub(crate) fn check_header(name: &str, value: &str, reserved: &[&str]) -> Result<(), BuildError> {
    if !is_token(name.as_bytes()) {
        return Err(BuildError::InvalidHeaderName);
    }
    check_value(value)?;
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(BuildError::ReservedHeader);
    }
    Ok(())
}

pub(crate) fn check_value(value: &str) -> Result<(), BuildError> {
    if is_field_value(value.as_bytes()) {
        Ok(())
    } else {
        Err(BuildError::InvalidHeaderValue)
    }
}

pub(crate) fn check_headers(headers: &[(&str, &str)], reserved: &[&str]) -> Result<(), BuildError> {
    headers
        .iter()
        .try_for_each(|(n, v)| check_header(n, v, reserved))
}

pub(crate) fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

pub(crate) fn headers(out: &mut Vec<u8>, headers: &[(&str, &str)]) {
    for (name, value) in headers {
        header(out, name, value.as_bytes());
    }
}

/// Appends `n` in decimal.
pub(crate) fn decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Headers an [`Accept`] must not repeat: the 101 writes them itself.
const ACCEPT_RESERVED: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Server",
    "Content-Length",
    "Transfer-Encoding",
];

/// Headers a [`Reject`] must not repeat: it writes them itself.
const REJECT_RESERVED: &[&str] = &[
    "Connection",
    "Server",
    "Content-Type",
    "Content-Length",
    "Transfer-Encoding",
];

/// The embedding code's decision to accept an upgrade request: what goes
/// into the `101 Switching Protocols` response beyond the required headers.
/// Written by [`UpgradeRequest::accept`](crate::handshake::UpgradeRequest::accept).
///
/// The only extension it can answer is permessage-deflate, with the
/// settings [`DeflateConfig::negotiate`](crate::deflate::DeflateConfig::negotiate)
/// chose from the request's offers
/// ([`UpgradeRequest::extensions`](crate::handshake::UpgradeRequest::extensions));
/// without it the response names no extension, which every client must
/// handle.
///
/// ```
/// use rfc6455::handshake::Accept;
/// let accept = Accept::new().protocol(Some("chat")).server("rfc6455");
/// # let _ = accept;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accept<'h> {
    pub(crate) protocol: Option<&'h str>,
    pub(crate) server: Option<&'h str>,
    pub(crate) headers: &'h [(&'h str, &'h str)],
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<&'h Negotiated>,
}

impl<'h> Accept<'h> {
    /// A plain 101: no subprotocol, no `Server` header, no extra headers.
    pub const fn new() -> Self {
        Accept {
            protocol: None,
            server: None,
            headers: &[],
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// Accepts permessage-deflate with these settings, negotiated from
    /// this request's offers: the 101 carries their
    /// `Sec-WebSocket-Extensions`. Give the same settings to
    /// [`Connection::with_deflate`](crate::Connection::with_deflate).
    #[cfg(feature = "deflate")]
    pub const fn deflate(mut self, negotiated: Option<&'h Negotiated>) -> Self {
        self.deflate = negotiated;
        self
    }

    /// The subprotocol to answer with; it must be one the client offered.
    /// [`UpgradeRequest::select_protocol`](crate::handshake::UpgradeRequest::select_protocol)
    /// picks it by the server's preference.
    pub const fn protocol(mut self, protocol: Option<&'h str>) -> Self {
        self.protocol = protocol;
        self
    }

    /// A `Server` header naming the implementation (test suites such as
    /// Autobahn name their reports after it).
    pub const fn server(mut self, server: &'h str) -> Self {
        self.server = Some(server);
        self
    }

    /// Extra headers, such as `Set-Cookie`, written after the required ones.
    /// None may repeat a header the 101 writes itself.
    pub const fn headers(mut self, headers: &'h [(&'h str, &'h str)]) -> Self {
        self.headers = headers;
        self
    }

    /// Checks everything but the protocol's having been offered.
    pub(crate) fn check(&self) -> Result<(), BuildError> {
        if let Some(p) = self.protocol {
            if !is_token(p.as_bytes()) {
                return Err(BuildError::InvalidProtocol);
            }
        }
        if let Some(s) = self.server {
            check_value(s)?;
        }
        check_headers(self.headers, ACCEPT_RESERVED)
    }

    /// Writes the 101 for `accept_key` (checked already).
    pub(crate) fn write(&self, accept_key: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(
            b"HTTP/1.1 101 Switching Protocols\r\n\
              Upgrade: websocket\r\n\
              Connection: Upgrade\r\n",
        );
        header(out, "Sec-WebSocket-Accept", accept_key);
        if let Some(p) = self.protocol {
            header(out, "Sec-WebSocket-Protocol", p.as_bytes());
        }
        #[cfg(feature = "deflate")]
        if let Some(n) = self.deflate {
            header(out, "Sec-WebSocket-Extensions", n.response().as_bytes());
        }
        if let Some(s) = self.server {
            header(out, "Server", s.as_bytes());
        }
        headers(out, self.headers);
        out.extend_from_slice(b"\r\n");
    }
}

/// A complete refusal: a status, headers, and a one-line plain-text body,
/// with `Content-Length` and `Connection: close`. Send it, then close the
/// connection once it is written.
///
/// [`HandshakeError::reject`](crate::handshake::HandshakeError::reject)
/// makes the right one for a broken request; make your own for a policy
/// decision (401 without a valid token, 404 for an unknown path).
///
/// ```
/// use rfc6455::handshake::Reject;
/// let mut out = Vec::new();
/// Reject::new(404, "no such chat room")
///     .server("rfc6455")
///     .write(&mut out)?;
/// assert!(out.starts_with(b"HTTP/1.1 404 Not Found\r\n"));
/// assert!(out.ends_with(b"\r\n\r\nno such chat room\n"));
/// # Ok::<(), rfc6455::handshake::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reject<'h> {
    status: u16,
    body: &'h str,
    /// Headers the status calls for (`Allow` for 405).
    required: &'static [(&'static str, &'static str)],
    headers: &'h [(&'h str, &'h str)],
    server: Option<&'h str>,
}

impl<'h> Reject<'h> {
    /// A refusal with `status` (300-599 but 304) and `body`, one line of
    /// text; a newline is added.
    pub const fn new(status: u16, body: &'h str) -> Self {
        Reject {
            status,
            body,
            required: &[],
            headers: &[],
            server: None,
        }
    }

    pub(crate) const fn with_required(
        mut self,
        required: &'static [(&'static str, &'static str)],
    ) -> Self {
        self.required = required;
        self
    }

    /// A `Server` header.
    pub const fn server(mut self, server: &'h str) -> Self {
        self.server = Some(server);
        self
    }

    /// Extra headers, such as `WWW-Authenticate` or `Location`. None may
    /// repeat a header the rejection writes itself.
    pub const fn headers(mut self, headers: &'h [(&'h str, &'h str)]) -> Self {
        self.headers = headers;
        self
    }

    /// The status code.
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// Appends the response to `out`. On error `out` is left as it was.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), BuildError> {
        if !(300..600).contains(&self.status) || self.status == 304 {
            return Err(BuildError::InvalidStatus);
        }
        if self.body.contains(['\r', '\n']) {
            return Err(BuildError::InvalidBody);
        }
        if let Some(s) = self.server {
            check_value(s)?;
        }
        check_headers(self.headers, REJECT_RESERVED)?;
        out.extend_from_slice(b"HTTP/1.1 ");
        decimal(out, usize::from(self.status));
        out.push(b' ');
        out.extend_from_slice(reason_phrase(self.status).as_bytes());
        out.extend_from_slice(b"\r\n");
        if let Some(s) = self.server {
            header(out, "Server", s.as_bytes());
        }
        headers(out, self.required);
        headers(out, self.headers);
        // A sender of Upgrade (as in a 426) must list it in Connection
        // (RFC 9110 section 7.8).
        let upgrade = self
            .required
            .iter()
            .chain(self.headers)
            .any(|(n, _)| n.eq_ignore_ascii_case("Upgrade"));
        out.extend_from_slice(b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
        decimal(out, self.body.len() + 1);
        out.extend_from_slice(if upgrade {
            &b"\r\nConnection: Upgrade, close\r\n\r\n"[..]
        } else {
            &b"\r\nConnection: close\r\n\r\n"[..]
        });
        out.extend_from_slice(self.body.as_bytes());
        out.push(b'\n');
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        for n in [0, 7, 10, 99, 100, 65535, usize::MAX] {
            let mut out = Vec::new();
            decimal(&mut out, n);
            assert_eq!(out, alloc::format!("{n}").as_bytes());
        }
    }

    #[test]
    fn reject_checks_before_writing() {
        let mut out = b"kept".to_vec();
        let bad = [
            Reject::new(200, "x"),
            Reject::new(304, "x"),
            Reject::new(400, "two\nlines"),
            Reject::new(400, "x").server("a\r\nb"),
            Reject::new(400, "x").headers(&[("Content-Length", "1")]),
            Reject::new(400, "x").headers(&[("Bad Name", "1")]),
        ];
        for r in bad {
            assert!(r.write(&mut out).is_err(), "{r:?}");
        }
        assert_eq!(out, b"kept");
    }

    #[test]
    fn reject_with_upgrade_keeps_connection_upgrade() {
        let mut out = Vec::new();
        Reject::new(426, "upgrade")
            .headers(&[("Upgrade", "websocket")])
            .write(&mut out)
            .unwrap();
        let text = core::str::from_utf8(&out).unwrap();
        assert!(
            text.contains("\r\nConnection: Upgrade, close\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nContent-Length: 8\r\n"), "{text}");
    }
}
