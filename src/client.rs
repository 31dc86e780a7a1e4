//! A blocking client over `std::net::TcpStream` (feature `std`), with
//! `wss://` over rustls (feature `tls`).
//!
//! It is the sans-I/O core with the simplest possible driver: the opening
//! handshake from [`handshake`](crate::handshake), frames from
//! [`Connection`], reads and writes that block with timeouts, and masking
//! keys from the operating system's random source.
//!
//! A `wss://` URL runs everything over TLS: the server's certificate is
//! verified for the URL's host (also sent as SNI) against
//! [`ClientConfig::tls`] (Mozilla's roots by default, see
//! [`ClientTls`](crate::tls::ClientTls)). In a build without the `tls`
//! feature, a `wss://` URL fails with [`UrlError::TlsUnsupported`]; it is
//! never spoken as plain text.
//!
//! ```no_run
//! use rfc6455::client::Client;
//! use rfc6455::connection::Event;
//! use rfc6455::CloseCode;
//!
//! let mut client = Client::connect("ws://127.0.0.1:9001/echo")?;
//! client.send_text("hello")?;
//! if let Event::Text(reply) = client.recv()? {
//!     println!("echo: {reply}");
//! }
//! let (code, _reason) = client.close(CloseCode::NORMAL, "bye")?;
//! assert_eq!(code, CloseCode::NORMAL);
//! # Ok::<(), rfc6455::client::Error>(())
//! ```

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::prelude::rust_2021::*;
use std::string::{String, ToString};
use std::time::{Duration, Instant};
use std::vec::Vec;

use crate::close::{CloseCode, CloseReason};
use crate::connection::{Config, Connection, Event, SendError, State};
use crate::deadline::after;
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateConfig, Negotiated};
use crate::error::ProtocolError;
use crate::frame::{ControlPayload, Status};
use crate::handshake::{ClientError, ClientRequest, UrlError, WsUrl};
use crate::random::OsKeys;

/// Settings for [`Client::connect_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Time allowed to open the TCP connection, to all of the host's
    /// addresses together: each, tried in turn, is given an equal share
    /// of what is left. (The name lookup before is the system resolver's
    /// and not bounded by it.) Default 10 s.
    pub connect_timeout: Duration,
    /// Time allowed for the opening handshake. Default 10 s.
    pub handshake_timeout: Duration,
    /// Longest a call of [`Client::recv`] waits for its message or
    /// control frame, however its bytes arrive (a frame that trickles in
    /// a byte at a time does not extend it); then [`Error::Timeout`], with
    /// the connection still usable. `None` waits forever; zero polls.
    /// Default `None`.
    pub read_timeout: Option<Duration>,
    /// Longest a write waits for room in the socket (a server that stopped
    /// reading, or one gone without a word whose TCP has not given up):
    /// the send or [`Client::flush`] then fails with [`Error::Timeout`],
    /// with what was not written still queued (a later `flush` goes on
    /// with it). `None` waits forever. Default 30 s.
    pub write_timeout: Option<Duration>,
    /// Longest time [`Client::close`] takes, from writing what is queued
    /// and the close frame to the server's end of the TCP connection.
    /// Default 5 s.
    pub close_timeout: Duration,
    /// Subprotocols to offer, most preferred first.
    pub protocols: Vec<String>,
    /// An `Origin` header to send, as a browser would.
    pub origin: Option<String>,
    /// Extra request headers, e.g. `("Authorization", "Bearer ...")`.
    pub headers: Vec<(String, String)>,
    /// Protocol settings and limits.
    pub connection: Config,
    /// Offer permessage-deflate (RFC 7692) with these settings. Default
    /// `None`: no offer. `Some(DeflateConfig::default())` offers it without
    /// context takeover, which keeps no compression state between messages.
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
    /// What a `wss://` connection trusts. Default: Mozilla's roots.
    #[cfg(feature = "tls")]
    pub tls: crate::tls::ClientTls,
    /// Ping a quiet server and fail when it stays silent
    /// ([`Error::KeepaliveTimeout`]). The pongs come out of
    /// [`Client::recv`] like any other (with an empty payload); the
    /// [reconnecting client](crate::reconnect) skips them. Default: none.
    pub keepalive: Option<Keepalive>,
}

/// Client pings that keep a connection alive through NATs and proxies and
/// notice a dead one: a half-open TCP connection (the server's machine
/// gone, a cable pulled) never reports itself, so a client that only
/// waits would wait forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Send a ping after this long without receiving anything. Not zero:
    /// the connect fails with [`Error::Io`] (`InvalidInput`).
    pub interval: Duration,
    /// Fail with [`Error::KeepaliveTimeout`] when nothing (a pong or any
    /// other frame) arrives this long after the ping. Not zero, as
    /// `interval`.
    pub timeout: Duration,
}

impl Default for Keepalive {
    /// 25 s between pings, 20 s to answer (Socket.IO's figures).
    fn default() -> Self {
        Keepalive {
            interval: Duration::from_secs(25),
            timeout: Duration::from_secs(20),
        }
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            read_timeout: None,
            write_timeout: Some(Duration::from_secs(30)),
            close_timeout: Duration::from_secs(5),
            protocols: Vec::new(),
            origin: None,
            headers: Vec::new(),
            connection: Config::default(),
            #[cfg(feature = "deflate")]
            deflate: None,
            #[cfg(feature = "tls")]
            tls: crate::tls::ClientTls::default(),
            keepalive: None,
        }
    }
}

/// What went wrong, in terms a caller can act on.
#[derive(Debug)]
pub enum Error {
    /// The URL is not a `ws://` or `wss://` URL this client can use
    /// ([`UrlError::TlsUnsupported`] for `wss://` without the `tls`
    /// feature).
    Url(UrlError),
    /// The TCP connection could not be opened (refused, unreachable, no
    /// address for the host).
    Connect(io::Error),
    /// The server did not complete the opening handshake; for a refusal
    /// this carries its status code and reason.
    Handshake(ClientError),
    /// The TLS handshake or a TLS record failed: the server's certificate
    /// is not trusted or not valid for the host, no protocol version or
    /// cipher suite in common, a corrupt record. With the `tls` feature
    /// the source is a `rustls::Error`.
    Tls(Box<dyn std::error::Error + Send + Sync>),
    /// A read or write failed; `InvalidInput` for a setting or argument
    /// that cannot be used (a zero keepalive interval, a ping's payload
    /// over 125 bytes).
    Io(io::Error),
    /// A timeout passed: connecting, the handshake, waiting for data, a
    /// write ([`ClientConfig::write_timeout`]), or [`Client::close`]'s. A
    /// message whose send timed out is queued, perhaps partly written: the
    /// next send or [`Client::flush`] goes on with it, so it must not be
    /// sent again.
    Timeout,
    /// The server broke the protocol; the close frame with this error's
    /// code has been sent.
    Protocol(ProtocolError),
    /// The connection is closed: the peer's close code (1006 when the
    /// stream ended without one) and reason.
    Closed(CloseCode, String),
    /// A send was refused (e.g. the output bound, or a close already sent).
    Send(SendError),
    /// Nothing arrived within [`Keepalive::timeout`] of a keepalive ping:
    /// the server or the path to it is gone. The connection is shut down.
    KeepaliveTimeout,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(e) => write!(f, "bad URL: {e}"),
            Error::Connect(e) => write!(f, "cannot connect: {e}"),
            Error::Handshake(ClientError::Rejected { status, reason }) => {
                write!(f, "handshake refused: status {status} {reason}")
            }
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::Tls(e) => write!(f, "TLS: {e}"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Timeout => f.write_str("timed out"),
            Error::Protocol(e) => write!(f, "protocol error (close {}): {e}", e.close_code()),
            Error::Closed(code, reason) if reason.is_empty() => {
                write!(f, "connection closed ({code})")
            }
            Error::Closed(code, reason) => write!(f, "connection closed ({code}: {reason})"),
            Error::Send(e) => write!(f, "send refused: {e}"),
            Error::KeepaliveTimeout => f.write_str("no answer to a keepalive ping in time"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Url(e) => Some(e),
            Error::Connect(e) | Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Tls(e) => Some(e.as_ref()),
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::Timeout | Error::Closed(..) | Error::KeepaliveTimeout => None,
        }
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

fn io_error(e: io::Error) -> Error {
    #[cfg(feature = "tls")]
    if e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>()) {
        let inner = e.into_inner().expect("checked above");
        return Error::Tls(inner);
    }
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Error::Timeout,
        _ => Error::Io(e),
    }
}

/// The transport: plain TCP, or TLS over it for `wss://`.
enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    /// Wraps `tcp` in TLS when the URL asks for it.
    fn open(tcp: TcpStream, url: &WsUrl<'_>, config: &ClientConfig) -> Result<Stream, Error> {
        if !url.is_secure() {
            return Ok(Stream::Plain(tcp));
        }
        #[cfg(feature = "tls")]
        {
            let name = rustls::pki_types::ServerName::try_from(url.host())
                .map_err(|e| Error::Tls(Box::new(e)))?
                .to_owned();
            let tls = rustls::ClientConnection::new(config.tls.config(), name)
                .map_err(|e| Error::Tls(Box::new(e)))?;
            Ok(Stream::Tls(Box::new(rustls::StreamOwned::new(tls, tcp))))
        }
        #[cfg(not(feature = "tls"))]
        {
            let _ = (tcp, config);
            Err(Error::Url(UrlError::TlsUnsupported))
        }
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_ref(),
        }
    }

    /// Ends the connection: a TLS `close_notify` first, then a TCP
    /// shutdown of both directions. The `close_notify` waits at most
    /// `within` for room in the socket (a peer that stopped reading).
    #[cfg_attr(not(feature = "tls"), allow(unused_variables))]
    fn shutdown(&mut self, within: Duration) {
        #[cfg(feature = "tls")]
        if let Stream::Tls(s) = self {
            let _ = s
                .sock
                .set_write_timeout(Some(within.max(Duration::from_millis(1))));
            s.conn.send_close_notify();
            while s.conn.wants_write() {
                if s.conn.write_tls(&mut s.sock).is_err() {
                    break;
                }
            }
        }
        let _ = self.tcp().shutdown(std::net::Shutdown::Both);
    }
}

/// A write error after which the same call may succeed.
#[cfg(feature = "tls")]
fn is_retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut
    )
}

/// Runs the TLS handshake of a `wss://` stream one socket read or write at
/// a time, each given only what is left until `deadline`: rustls' own loop
/// would give every read the whole timeout, so a server that trickles its
/// flight in would hold the handshake for as long as it likes.
#[cfg(feature = "tls")]
fn tls_handshake(
    s: &mut rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    deadline: Instant,
) -> Result<(), Error> {
    while s.conn.is_handshaking() || s.conn.wants_write() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::Timeout);
        }
        s.sock.set_read_timeout(Some(left)).map_err(Error::Io)?;
        s.sock.set_write_timeout(Some(left)).map_err(Error::Io)?;
        let step = if s.conn.wants_write() {
            s.conn.write_tls(&mut s.sock).map(drop)
        } else {
            read_tls_once(&mut s.conn, &mut s.sock).and_then(|n| match n {
                0 => Err(ErrorKind::UnexpectedEof.into()),
                _ => Ok(()),
            })
        };
        match step {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(())
}

/// One read of the socket into rustls, and the records processed; a TLS
/// error sends its alert and comes back as `InvalidData` around the
/// `rustls::Error`.
#[cfg(feature = "tls")]
fn read_tls_once(conn: &mut rustls::ClientConnection, sock: &mut TcpStream) -> io::Result<usize> {
    let n = conn.read_tls(sock)?;
    if let Err(e) = conn.process_new_packets() {
        let _ = conn.write_tls(sock);
        return Err(io::Error::new(ErrorKind::InvalidData, e));
    }
    Ok(n)
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            // One socket read per call, as over plain TCP, so that the
            // caller's deadline is checked between reads (rustls' `Stream`
            // would read on until a whole record is in). A read that brings
            // only part of a record is `Interrupted`: call again.
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                let mut once = false;
                loop {
                    match s.conn.reader().read(buf) {
                        // The TCP stream ended without a close_notify. For
                        // WebSocket that is an end of stream like any other:
                        // the closing handshake (or its absence, 1006)
                        // decides whether the close was clean.
                        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(0),
                        Err(e) if e.kind() == ErrorKind::WouldBlock && once => {
                            return Err(ErrorKind::Interrupted.into());
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        other => return other,
                    }
                    // Replies rustls owes (a key update) go first.
                    while s.conn.wants_write() {
                        s.conn.write_tls(&mut s.sock)?;
                    }
                    read_tls_once(&mut s.conn, &mut s.sock)?;
                    once = true;
                }
            }
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => {
                // rustls takes the bytes into its buffer; they must reach
                // the socket before this write counts as done. Once taken
                // they are rustls' to send: a flush cut short by a signal
                // or a timeout still reports them written (the caller would
                // offer them again, and they would go twice), and the next
                // write or `flush` sends them on.
                // (Not rustls' `Stream::write`: when the socket's write
                // times out it goes on to read, waiting up to the read
                // timeout, or for ever without one, for the server to send
                // something.)
                write_tls_all(&mut s.conn, &mut s.sock)?;
                let n = s.conn.writer().write(buf)?;
                match write_tls_all(&mut s.conn, &mut s.sock) {
                    Err(e) if n > 0 && is_retryable(&e) => Ok(n),
                    Err(e) => Err(e),
                    Ok(()) => Ok(n),
                }
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => write_tls_all(&mut s.conn, &mut s.sock),
        }
    }
}

/// Writes the records rustls holds to the socket, and nothing else.
#[cfg(feature = "tls")]
fn write_tls_all(conn: &mut rustls::ClientConnection, sock: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        if conn.write_tls(sock)? == 0 {
            return Err(ErrorKind::WriteZero.into());
        }
    }
    Ok(())
}

/// Connects to the first of `addrs` that answers, all within `timeout`:
/// each address is given an equal share of what is left, so one that
/// does not answer cannot take the time of those after it, nor several
/// together take more than `timeout`.
fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, Error> {
    let deadline = after(Instant::now(), timeout);
    let mut last = io::Error::new(ErrorKind::NotFound, "no address for host");
    for (i, addr) in addrs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            last = ErrorKind::TimedOut.into();
            break;
        }
        // (Zero would be refused by `connect_timeout`.)
        let share = (left / (addrs.len() - i) as u32).max(Duration::from_millis(1));
        match TcpStream::connect_timeout(addr, share) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(match last.kind() {
        ErrorKind::TimedOut => Error::Timeout,
        _ => Error::Connect(last),
    })
}

/// Refuses settings that cannot work, before anything is sent.
fn check(config: &ClientConfig) -> Result<(), Error> {
    // A zero interval would ping after every read; a zero timeout would
    // give the ping no time to be answered.
    if config
        .keepalive
        .is_some_and(|k| k.interval.is_zero() || k.timeout.is_zero())
    {
        return Err(Error::Io(io::Error::new(
            ErrorKind::InvalidInput,
            "keepalive interval and timeout must be more than zero",
        )));
    }
    Ok(())
}

/// A WebSocket client connection.
pub struct Client {
    stream: Stream,
    conn: Connection,
    protocol: Option<String>,
    read_timeout: Option<Duration>,
    close_timeout: Duration,
    #[cfg(feature = "deflate")]
    deflate: Option<Negotiated>,
    keepalive: Option<Keepalive>,
    /// When anything last arrived.
    last_received: Instant,
    /// When the unanswered keepalive ping went out.
    ping_sent: Option<Instant>,
    /// The ping's time is up and one last read looks for what already
    /// arrived before the connection is declared dead.
    last_look: bool,
    /// The socket's read timeout as last set.
    socket_timeout: Option<Duration>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.stream.tcp().peer_addr().ok())
            .field("tls", &!matches!(self.stream, Stream::Plain(_)))
            .field("state", &self.conn.state())
            .field("protocol", &self.protocol)
            .field("deflate", &self.conn.deflate_enabled())
            .finish()
    }
}

impl Client {
    /// Connects to a `ws://host[:port]/path[?query]` (or `wss://`) URL
    /// with default settings.
    pub fn connect(url: &str) -> Result<Client, Error> {
        Self::connect_with(url, &ClientConfig::default())
    }

    /// Connects with the given settings.
    pub fn connect_with(url: &str, config: &ClientConfig) -> Result<Client, Error> {
        let parsed = WsUrl::parse(url).map_err(Error::Url)?;
        check(config)?;
        if parsed.is_secure() && cfg!(not(feature = "tls")) {
            // Refused before connecting: never spoken as plain text.
            return Err(Error::Url(UrlError::TlsUnsupported));
        }
        let host = parsed.host().trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = (host, parsed.port())
            .to_socket_addrs()
            .map_err(Error::Connect)?
            .collect();
        let stream = connect_any(&addrs, config.connect_timeout)?;
        Self::handshake(stream, parsed, config)
    }

    /// Runs the opening handshake over an already connected stream (in
    /// TLS first for a `wss://` URL).
    pub fn handshake(
        stream: TcpStream,
        url: WsUrl<'_>,
        config: &ClientConfig,
    ) -> Result<Client, Error> {
        check(config)?;
        let _ = stream.set_nodelay(true);
        let mut stream = Stream::open(stream, &url, config)?;
        let key = crate::random::handshake_nonce()
            .map_err(|e| Error::Io(io::Error::other(e.to_string())))?;
        let protocols: Vec<&str> = config.protocols.iter().map(String::as_str).collect();
        let headers: Vec<(&str, &str)> = config
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let mut request = ClientRequest::for_url(url, key)
            .protocols(&protocols)
            .headers(&headers)
            .limits(config.connection.limits);
        if let Some(origin) = &config.origin {
            request = request.origin(origin);
        }
        #[cfg(feature = "deflate")]
        {
            request = request.deflate(config.deflate);
        }
        let mut out = Vec::new();
        let mut handshake = request
            .write(&mut out)
            .map_err(|e| Error::Io(io::Error::new(ErrorKind::InvalidInput, e.to_string())))?;

        // The deadline covers the TLS handshake too.
        let deadline = after(Instant::now(), config.handshake_timeout);
        #[cfg(feature = "tls")]
        if let Stream::Tls(s) = &mut stream {
            tls_handshake(s, deadline)?;
        }
        // One write at a time, each given only what is left: `write_all`
        // would give every write the whole timeout, so a server that reads
        // a little at a time would hold the handshake as long as it likes.
        // Then, over TLS, what rustls kept of it.
        let mut rest = &out[..];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            stream
                .tcp()
                .set_write_timeout(Some(left))
                .map_err(Error::Io)?;
            let step = match rest {
                [] => stream.flush().map(|()| 0),
                _ => stream.write(rest),
            };
            match step {
                Ok(0) if rest.is_empty() => break,
                Ok(0) => return Err(Error::Io(ErrorKind::WriteZero.into())),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
        let mut buf = Vec::with_capacity(1024);
        let (protocol, consumed, deflate) = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Error::Timeout);
            }
            stream
                .tcp()
                .set_read_timeout(Some(left))
                .map_err(Error::Io)?;
            let old = buf.len();
            buf.resize(old + 1024, 0);
            let read = stream.read(&mut buf[old..]);
            buf.truncate(old + *read.as_ref().unwrap_or(&0));
            let n = match read {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            };
            if n == 0 {
                return Err(Error::Io(ErrorKind::UnexpectedEof.into()));
            }
            match handshake.parse(&buf).map_err(Error::Handshake)? {
                Status::Incomplete(_) => continue,
                Status::Complete(accepted) => {
                    #[cfg(feature = "deflate")]
                    let deflate = accepted.deflate().copied();
                    #[cfg(not(feature = "deflate"))]
                    let deflate = ();
                    break (
                        accepted.protocol().map(str::to_string),
                        accepted.consumed(),
                        deflate,
                    );
                }
            }
        };
        let mut conn = Connection::client(config.connection, OsKeys::source());
        #[cfg(feature = "deflate")]
        if let Some(n) = &deflate {
            conn = conn.with_deflate(n);
        }
        #[cfg(not(feature = "deflate"))]
        let () = deflate;
        conn.receive(&buf[consumed..], Duration::ZERO);
        // Zero means "forever" to the socket (and std refuses it): wait a
        // millisecond instead, as `set_read_timeout` does.
        let read_timeout = config.read_timeout.map(|t| t.max(Duration::from_millis(1)));
        stream
            .tcp()
            .set_read_timeout(read_timeout)
            .map_err(Error::Io)?;
        stream
            .tcp()
            .set_write_timeout(
                config
                    .write_timeout
                    .map(|t| t.max(Duration::from_millis(1))),
            )
            .map_err(Error::Io)?;
        Ok(Client {
            stream,
            conn,
            protocol,
            read_timeout: config.read_timeout,
            close_timeout: config.close_timeout,
            #[cfg(feature = "deflate")]
            deflate,
            keepalive: config.keepalive,
            last_received: Instant::now(),
            ping_sent: None,
            last_look: false,
            socket_timeout: read_timeout,
        })
    }

    /// The permessage-deflate settings in force, if the server accepted
    /// the offer.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<&Negotiated> {
        self.deflate.as_ref()
    }

    /// The subprotocol the server selected.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The connection's state.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// Sets the longest wait of a [`recv`](Self::recv) call, as
    /// [`ClientConfig::read_timeout`]; `None` waits forever.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        self.read_timeout = timeout;
        self.set_socket_timeout(timeout)
    }

    /// The longest wait of a [`recv`](Self::recv) call.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.read_timeout
    }

    /// Sets the longest time [`close`](Self::close) takes.
    pub fn set_close_timeout(&mut self, timeout: Duration) {
        self.close_timeout = timeout;
    }

    fn set_socket_timeout(&mut self, timeout: Option<Duration>) -> Result<(), Error> {
        // Zero means "forever" to the socket: wait a millisecond instead.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if timeout != self.socket_timeout {
            self.stream
                .tcp()
                .set_read_timeout(timeout)
                .map_err(Error::Io)?;
            self.socket_timeout = timeout;
        }
        Ok(())
    }

    /// Sends a text message. On [`Error::Timeout`] (the server is not
    /// reading) it stays queued, perhaps partly written, and goes out with
    /// the next send or [`flush`](Self::flush): sending it again would
    /// send it twice.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.conn.send_text(text)?;
        self.flush()
    }

    /// Sends a binary message; on [`Error::Timeout`] it stays queued, as
    /// with [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.conn.send_binary(data)?;
        self.flush()
    }

    /// Sends a ping (at most 125 bytes of payload; a longer one fails
    /// with [`Error::Io`] `InvalidInput`, nothing sent).
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        // Not `SendError::Full`: the output buffer is not what is wrong.
        let payload = ControlPayload::new(payload).ok_or_else(|| {
            Error::Io(io::Error::new(
                ErrorKind::InvalidInput,
                "a ping's payload is at most 125 bytes",
            ))
        })?;
        self.conn.ping(payload)?;
        self.flush()
    }

    /// The connection itself, for sends the methods here do not cover
    /// (fragmented messages, pongs); call [`flush`](Self::flush) after.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.flush_by(None)
    }

    /// Writes everything queued, failing with [`Error::Timeout`] at
    /// `deadline` (a server that stopped reading).
    fn flush_by(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        loop {
            if let Some(t) = deadline {
                let left = t.saturating_duration_since(Instant::now());
                if left.is_zero() && !self.conn.output().is_empty() {
                    return Err(Error::Timeout);
                }
                // Zero means "forever" to the socket.
                let left = left.max(Duration::from_millis(1));
                self.stream
                    .tcp()
                    .set_write_timeout(Some(left))
                    .map_err(Error::Io)?;
            }
            let out = self.conn.output();
            if out.is_empty() {
                // Over TLS, what a write cut short left in rustls.
                return loop {
                    match self.stream.flush() {
                        Ok(()) => break Ok(()),
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => break Err(io_error(e)),
                    }
                };
            }
            let n = match self.stream.write(out) {
                Ok(0) => return Err(Error::Io(ErrorKind::WriteZero.into())),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            };
            self.conn.consume_output(n);
        }
    }

    /// Waits for the next message or control frame. Pings are answered
    /// before this returns. After the peer's close (returned once as
    /// [`Event::Close`], with the reply already sent) further calls fail
    /// with [`Error::Closed`].
    pub fn recv(&mut self) -> Result<Event<'_>, Error> {
        self.recv_by(self.recv_deadline())
    }

    /// When a `recv` that starts now gives up, from the read timeout: a
    /// deadline over the whole call, not the socket's timeout alone, which
    /// would start over with every read that brings a byte. Zero is a
    /// poll: one read of a millisecond.
    pub(crate) fn recv_deadline(&self) -> Option<Instant> {
        self.read_timeout
            .map(|t| after(Instant::now(), t.max(Duration::from_millis(1))))
    }

    /// [`recv`](Self::recv), failing with [`Error::Timeout`] at `deadline`
    /// (`None`: never).
    pub(crate) fn recv_by(&mut self, deadline: Option<Instant>) -> Result<Event<'_>, Error> {
        self.wait_event(deadline)?;
        match self.conn.next_event() {
            Ok(Some(event)) => Ok(event),
            // `wait_event` returned, so an event is ready.
            Ok(None) => Err(Error::Closed(CloseCode::ABNORMAL, String::new())),
            Err(e) => Err(Error::Protocol(e)),
        }
    }

    /// Reads until an event is ready, flushing owed replies, failing
    /// with [`Error::Timeout`] at `deadline`.
    fn wait_event(&mut self, mut deadline: Option<Instant>) -> Result<(), Error> {
        let mut first = true;
        loop {
            let ready = self.conn.poll_event();
            let flushed = self.flush();
            match ready {
                Ok(true) => return flushed,
                Ok(false) => {}
                Err(e) => {
                    let _ = flushed;
                    self.stream.shutdown(self.close_timeout);
                    return Err(Error::Protocol(e));
                }
            }
            flushed?;
            if self.conn.state() == State::Closed {
                return Err(self.closed_error());
            }
            if std::mem::take(&mut first) {
                // One read per call however long the flush took: a poll
                // (a zero timeout) still looks at what came.
                deadline = deadline.map(|t| t.max(after(Instant::now(), Duration::from_millis(1))));
            }
            self.read_some(deadline)?;
        }
    }

    /// One read, waiting until `deadline` at most (for ever without one
    /// nor keepalive).
    fn read_some(&mut self, deadline: Option<Instant>) -> Result<(), Error> {
        if self.keepalive.is_some() {
            let wait = self.keep_alive(deadline)?;
            self.set_socket_timeout(Some(wait))?;
        } else {
            let wait = match deadline {
                Some(t) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::Timeout);
                    }
                    Some(left)
                }
                // (A close that timed out may have left one set.)
                None => None,
            };
            self.set_socket_timeout(wait)?;
        }
        let buf = self.conn.read_buf();
        match self.stream.read(buf) {
            Ok(0) => {
                self.conn.receive_eof();
                Ok(())
            }
            Ok(n) => {
                self.conn.commit_read(n, Duration::ZERO);
                self.last_received = Instant::now();
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(e) if (self.keepalive.is_some() || deadline.is_some()) && is_timeout(&e) => {
                // A keepalive step is due, or the caller's wait is over.
                match deadline {
                    Some(t) if Instant::now() >= t => Err(Error::Timeout),
                    _ => Ok(()),
                }
            }
            Err(e) => Err(io_error(e)),
        }
    }

    /// Sends the keepalive ping when due, fails when it went unanswered;
    /// returns how long the next read may wait.
    fn keep_alive(&mut self, user_deadline: Option<Instant>) -> Result<Duration, Error> {
        let Some(keepalive) = self.keepalive else {
            return Ok(Duration::MAX);
        };
        let now = Instant::now();
        if self
            .ping_sent
            .is_some_and(|sent| self.last_received >= sent)
        {
            self.ping_sent = None; // something arrived: alive
            self.last_look = false;
        }
        let due = match self.ping_sent {
            // The answer may be waiting in the socket already (the caller
            // was away while it came): read once more before giving up.
            Some(sent) if now >= after(sent, keepalive.timeout) && !self.last_look => {
                self.last_look = true;
                return Ok(Duration::from_millis(1));
            }
            Some(sent) if now >= after(sent, keepalive.timeout) => {
                self.stream.shutdown(self.close_timeout);
                return Err(Error::KeepaliveTimeout);
            }
            Some(sent) => after(sent, keepalive.timeout),
            None if now >= after(self.last_received, keepalive.interval) => {
                if self.conn.state() == State::Open {
                    self.conn.ping(ControlPayload::EMPTY)?;
                    self.flush()?;
                }
                self.ping_sent = Some(now);
                after(now, keepalive.timeout)
            }
            None => after(self.last_received, keepalive.interval),
        };
        let until = user_deadline.map_or(due, |t| t.min(due));
        if until <= now {
            return Err(Error::Timeout); // the caller's wait is over
        }
        Ok(until - now)
    }

    fn closed_error(&self) -> Error {
        match self.conn.peer_close() {
            Some((code, reason)) => Error::Closed(code, reason.to_string()),
            None => match self.conn.error() {
                Some(e) => Error::Protocol(e),
                None => Error::Closed(CloseCode::ABNORMAL, String::new()),
            },
        }
    }

    /// Closes the connection: sends a close frame, discards messages until
    /// the server's close arrives, and waits for the server to end the TCP
    /// connection, all within [`ClientConfig::close_timeout`]. Returns the
    /// server's close code and reason, or [`Error::Timeout`] when its close
    /// did not come in time. A close that came in time is returned even if
    /// the server's FIN did not.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(CloseCode, String), Error> {
        let deadline = after(Instant::now(), self.close_timeout);
        if self.conn.peer_close().is_none() && !self.conn.is_close_queued() {
            self.conn.close(code, CloseReason::truncate(reason))?;
        }
        // What was queued before the close goes first, within the same
        // limit; the write timeout stays for the replies sent below.
        self.flush_by(Some(deadline))?;
        while self.conn.peer_close().is_none() {
            match self.wait_event(Some(deadline)) {
                Ok(()) => {
                    let _ = self.conn.next_event();
                }
                Err(Error::Closed(..)) => break,
                Err(e) => return Err(e),
            }
        }
        // The server closes TCP first (after its close_notify, over TLS);
        // wait for its FIN.
        let mut sink = [0u8; 256];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.set_socket_timeout(Some(left)).is_err() {
                break;
            }
            match self.stream.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        self.stream
            .shutdown(deadline.saturating_duration_since(Instant::now()));
        match self.conn.peer_close() {
            Some((code, reason)) => Ok((code, reason.to_string())),
            None => Err(self.closed_error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without the `tls` feature a `wss://` URL is refused before any
    /// byte is sent, never spoken as plain text.
    #[cfg(not(feature = "tls"))]
    #[test]
    fn wss_without_the_tls_feature_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let err = Client::connect(&std::format!("wss://127.0.0.1:{port}/")).unwrap_err();
        assert!(
            matches!(err, Error::Url(UrlError::TlsUnsupported)),
            "{err:?}"
        );
        assert!(err.to_string().contains("`tls` feature"), "{err}");
        // Not even a TCP connection was opened.
        let accepted = listener.accept();
        assert!(
            matches!(&accepted, Err(e) if e.kind() == ErrorKind::WouldBlock),
            "{accepted:?}"
        );
    }

    /// Several addresses that do not answer share the connect timeout;
    /// they do not get it each.
    #[cfg(feature = "server")]
    #[test]
    fn the_connect_timeout_bounds_all_addresses_together() {
        use socket2::{Domain, Socket, Type};
        // A listener whose accept queue is full drops further SYNs: a
        // connect to it waits until its timeout.
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        socket.bind(&any.into()).unwrap();
        socket.listen(0).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        let mut held = Vec::new();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(s) => held.push(s),
                Err(e) if e.kind() == ErrorKind::TimedOut => break,
                Err(e) => std::panic!("{e}"),
            }
        }
        let timeout = Duration::from_millis(600);
        let start = Instant::now();
        let err = connect_any(&[addr, addr, addr], timeout).unwrap_err();
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout), "{err:?}");
        // Each address given the whole timeout took three times it; a
        // loaded machine may add some, not another whole timeout.
        assert!(took < timeout * 2, "{took:?}");
        drop((held, socket));
    }

    #[test]
    fn ws_urls_never_use_tls() {
        let url = WsUrl::parse("ws://localhost:1/").unwrap();
        let tcp_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(tcp_listener.local_addr().unwrap()).unwrap();
        let stream = Stream::open(tcp, &url, &ClientConfig::default()).unwrap();
        assert!(matches!(stream, Stream::Plain(_)));
    }
}
