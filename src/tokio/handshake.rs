//! The opening handshake over an async transport: the core's parsers and
//! writers, with reads and writes around them.

use std::future::poll_fn;
use std::io::ErrorKind;
use std::pin::Pin;
use std::string::{String, ToString};
use std::task::Poll;
use std::vec::Vec;

use ::tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ::tokio::net::TcpStream;

use super::driver::DEFAULT_HIGH_WATER;
use super::{Error, WebSocket};
use crate::connection::{Config, Connection};
#[cfg(feature = "deflate")]
use crate::deflate::DeflateConfig;
use crate::frame::Status;
use crate::handshake::{
    Accept, ClientRequest, Opening, Reject, RequestParser, UpgradeRequest, WsUrl,
};
use crate::random::{handshake_nonce, OsKeys};

/// What [`accept`] answers on its own; [`read_upgrade`] leaves every
/// decision to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Protocol settings and limits (the handshake's too:
    /// `max_header_block`, `max_headers`, `max_request_line`).
    pub connection: Config,
    /// Subprotocols this server speaks, preferred first: the first one the
    /// client offers is selected. Empty: none.
    pub protocols: Vec<String>,
    /// Browser origins allowed to connect (`https://app.example.com`);
    /// others get 403. `None` allows any.
    pub allowed_origins: Option<Vec<String>>,
    /// A `Server` header for the 101.
    pub server_name: Option<String>,
    /// See [`WebSocket::set_high_water`]. Default 1 MiB.
    pub high_water: usize,
    /// permessage-deflate (RFC 7692): how [`accept`] answers offers;
    /// `None` declines them. Default: on, without context takeover either
    /// way, as the mio server (no compression state while idle).
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            connection: Config::default(),
            protocols: Vec::new(),
            allowed_origins: None,
            server_name: None,
            high_water: DEFAULT_HIGH_WATER,
            #[cfg(feature = "deflate")]
            deflate: Some(DeflateConfig::default()),
        }
    }
}

/// Settings for [`connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Protocol settings and limits.
    pub connection: Config,
    /// Subprotocols to offer, most preferred first.
    pub protocols: Vec<String>,
    /// An `Origin` header, as a browser would send.
    pub origin: Option<String>,
    /// Extra request headers, e.g. `("Authorization", "Bearer ...")`.
    pub headers: Vec<(String, String)>,
    /// See [`WebSocket::set_high_water`]. Default 1 MiB.
    pub high_water: usize,
    /// Offer permessage-deflate (RFC 7692) with these settings. Default
    /// `None`, as the blocking client.
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connection: Config::default(),
            protocols: Vec::new(),
            origin: None,
            headers: Vec::new(),
            high_water: DEFAULT_HIGH_WATER,
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }
}

/// Reads the opening request and answers it as `config` says: the origin
/// checked, the subprotocol selected, 101. A request that breaks RFC 6455
/// section 4.2.1 is answered with its status (400, 405, 426, 431...) and
/// fails with [`Error::Handshake`]; a plain HTTP request gets 426 and
/// [`Error::NotUpgrade`].
///
/// To look at the request first (path, cookies, a token), use
/// [`read_upgrade`].
///
/// A client that never completes its request keeps this waiting: bound it
/// with `tokio::time::timeout`.
pub async fn accept<S>(stream: S, config: &ServerConfig) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut upgrade = read_upgrade(stream, config).await?;
    let request = upgrade.request();
    if let Some(allowed) = &config.allowed_origins {
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        if let Err(e) = request.check_origin(&allowed) {
            upgrade.reject(&e.reject()).await?;
            return Err(Error::Handshake(e));
        }
    }
    let protocol = config
        .protocols
        .iter()
        .map(String::as_str)
        .find(|p| request.protocols().any(|offered| offered == *p));
    let mut accept = Accept::new().protocol(protocol);
    if let Some(name) = &config.server_name {
        accept = accept.server(name);
    }
    #[cfg(feature = "deflate")]
    let deflate = config
        .deflate
        .as_ref()
        .and_then(|d| d.negotiate(request.extensions()));
    #[cfg(feature = "deflate")]
    let accept = accept.deflate(deflate.as_ref());
    upgrade.accept(&accept).await
}

/// Reads the opening request and hands it to the app to decide: inspect
/// [`Upgrade::request`], then [`accept`](Upgrade::accept) or
/// [`reject`](Upgrade::reject) it. Errors as for [`accept`].
pub async fn read_upgrade<S>(mut stream: S, config: &ServerConfig) -> Result<Upgrade<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let limits = config.connection.limits;
    let mut parser = RequestParser::new(&limits);
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut out = Vec::new();
        match parser.parse(&buf) {
            Ok(Status::Incomplete(_)) => {}
            Ok(Status::Complete(Opening::WebSocket(_))) => break,
            Ok(Status::Complete(Opening::Http(_))) => {
                Reject::new(426, "this endpoint speaks WebSocket")
                    .headers(&[("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13")])
                    .write(&mut out)?;
                write_all(&mut stream, &out).await?;
                return Err(Error::NotUpgrade);
            }
            Err(e) => {
                e.write_response(&mut out);
                write_all(&mut stream, &out).await?;
                return Err(Error::Handshake(e));
            }
        }
        // The parser fails at `max_header_block`, so this stays bounded.
        if read_more(&mut stream, &mut buf).await? == 0 {
            return Err(Error::Io(ErrorKind::UnexpectedEof.into()));
        }
    }
    Ok(Upgrade {
        io: stream,
        buf,
        parser,
        connection: config.connection,
        high_water: config.high_water,
    })
}

/// An opening request that passed every check of RFC 6455 section 4.2.1,
/// waiting for the app's decision. Memory: the request head, until
/// accepted or rejected.
pub struct Upgrade<S> {
    io: S,
    buf: Vec<u8>,
    parser: RequestParser,
    connection: Config,
    high_water: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Upgrade<S> {
    /// The request: path, query, headers, `Origin`, offered subprotocols.
    pub fn request(&mut self) -> UpgradeRequest<'_> {
        match self.parser.parse(&self.buf) {
            Ok(Status::Complete(Opening::WebSocket(request))) => request,
            // `read_upgrade` returns an `Upgrade` only for a valid upgrade
            // request, and a parser that finished repeats its answer.
            _ => unreachable!("the parser repeats its answer"),
        }
    }

    /// Answers 101 with `accept`'s subprotocol and headers and returns the
    /// connection. Bytes the client sent after its request are kept.
    pub async fn accept(mut self, accept: &Accept<'_>) -> Result<WebSocket<S>, Error> {
        let mut out = Vec::new();
        let consumed = {
            let request = self.request();
            request.accept(accept, &mut out)?;
            request.consumed()
        };
        write_all(&mut self.io, &out).await?;
        let mut conn = Connection::server(self.connection);
        #[cfg(feature = "deflate")]
        if let Some(n) = accept.deflate {
            conn = conn.with_deflate(n);
        }
        conn.receive(&self.buf[consumed..], std::time::Duration::ZERO);
        let mut ws = WebSocket::from_connection(self.io, conn)
            .with_protocol(accept.protocol.map(ToString::to_string));
        ws.set_high_water(self.high_water);
        Ok(ws)
    }

    /// Answers with `reject` (a status, a body line, headers such as
    /// `WWW-Authenticate`) and ends the stream.
    pub async fn reject(mut self, reject: &Reject<'_>) -> Result<(), Error> {
        let mut out = Vec::new();
        reject.write(&mut out)?;
        write_all(&mut self.io, &out).await?;
        poll_fn(|cx| Pin::new(&mut self.io).poll_shutdown(cx)).await?;
        Ok(())
    }
}

/// A fresh `Sec-WebSocket-Key` nonce from the operating system's random
/// source, for [`ClientRequest::new`].
pub fn new_key() -> Result<[u8; 16], Error> {
    handshake_nonce().map_err(|e| Error::Io(std::io::Error::other(e.to_string())))
}

/// Opens a TCP connection to a `ws://` URL and runs the opening handshake.
/// A `wss://` URL fails with [`Error::WssNeedsTlsStream`] before any
/// connection is made: this driver has no TLS of its own, and never speaks
/// a `wss://` URL as plain text.
///
/// Neither step has a timeout of its own: bound them with
/// `tokio::time::timeout`.
pub async fn connect(url: &str, config: &ClientConfig) -> Result<WebSocket<TcpStream>, Error> {
    let parsed = WsUrl::parse(url)?;
    if parsed.is_secure() {
        return Err(Error::WssNeedsTlsStream);
    }
    let stream = TcpStream::connect((parsed.host(), parsed.port()))
        .await
        .map_err(Error::Connect)?;
    let _ = stream.set_nodelay(true);
    let protocols: Vec<&str> = config.protocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = config
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut request = ClientRequest::for_url(parsed, new_key()?)
        .protocols(&protocols)
        .headers(&headers);
    if let Some(origin) = &config.origin {
        request = request.origin(origin);
    }
    #[cfg(feature = "deflate")]
    {
        request = request.deflate(config.deflate);
    }
    let mut ws = client(stream, request, config.connection).await?;
    ws.set_high_water(config.high_water);
    Ok(ws)
}

/// Runs the client's opening handshake over `stream` (already connected;
/// a TLS stream for `wss://`): sends `request`, checks the response
/// (RFC 6455 section 4.1), and returns the connection, which masks every
/// frame with a key from the OS random source. Draw the request's key with
/// [`new_key`].
pub async fn client<S>(
    mut stream: S,
    request: ClientRequest<'_>,
    config: Config,
) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut out = Vec::new();
    let mut handshake = request.limits(config.limits).write(&mut out)?;
    write_all(&mut stream, &out).await?;
    let mut buf = Vec::with_capacity(1024);
    let (protocol, consumed, deflate) = loop {
        if read_more(&mut stream, &mut buf).await? == 0 {
            return Err(Error::Io(ErrorKind::UnexpectedEof.into()));
        }
        match handshake.parse(&buf).map_err(Error::ClientHandshake)? {
            Status::Incomplete(_) => {}
            Status::Complete(accepted) => {
                #[cfg(feature = "deflate")]
                let deflate = accepted.deflate().copied();
                #[cfg(not(feature = "deflate"))]
                let deflate = ();
                break (
                    accepted.protocol().map(String::from),
                    accepted.consumed(),
                    deflate,
                );
            }
        }
    };
    let mut conn = Connection::client(config, OsKeys::source());
    #[cfg(feature = "deflate")]
    if let Some(n) = &deflate {
        conn = conn.with_deflate(n);
    }
    #[cfg(not(feature = "deflate"))]
    let () = deflate;
    conn.receive(&buf[consumed..], std::time::Duration::ZERO);
    Ok(WebSocket::from_connection(stream, conn).with_protocol(protocol))
}

/// Appends one read's bytes to `buf`; returns how many (0: end of stream).
async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<usize, Error> {
    let old = buf.len();
    buf.resize(old + 1024, 0);
    let read = poll_fn(|cx| loop {
        let mut rb = ReadBuf::new(&mut buf[old..]);
        match std::task::ready!(Pin::new(&mut *stream).poll_read(cx, &mut rb)) {
            Ok(()) => return Poll::Ready(Ok(rb.filled().len())),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    })
    .await;
    let n = *read.as_ref().unwrap_or(&0);
    buf.truncate(old + n);
    read.map_err(Error::Io)
}

async fn write_all<S: AsyncWrite + Unpin>(stream: &mut S, mut data: &[u8]) -> Result<(), Error> {
    poll_fn(|cx| {
        while !data.is_empty() {
            match std::task::ready!(Pin::new(&mut *stream).poll_write(cx, data)) {
                Ok(0) => return Poll::Ready(Err(ErrorKind::WriteZero.into())),
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Pin::new(&mut *stream).poll_flush(cx)
    })
    .await
    .map_err(Error::Io)
}
