//! The driver's error type.

use std::fmt;
use std::io;
use std::string::String;

use crate::close::CloseCode;
use crate::connection::SendError;
use crate::error::ProtocolError;
use crate::handshake::{BuildError, ClientError, HandshakeError, UrlError};

/// What went wrong, in terms a caller can act on.
#[derive(Debug)]
pub enum Error {
    /// The transport failed (reset, broken pipe).
    Io(io::Error),
    /// [`connect`](super::connect) could not open the TCP connection.
    Connect(io::Error),
    /// The URL is not a `ws://` URL.
    Url(UrlError),
    /// A `wss://` URL given to [`connect`](super::connect), which opens
    /// plain TCP only. It is refused rather than spoken as plain text: open
    /// the TLS stream yourself (e.g. with `tokio-rustls`) and run
    /// [`client`](super::client) over it.
    WssNeedsTlsStream,
    /// The client's opening request broke a rule of RFC 6455 section 4.2.1,
    /// or the app's policy (origin): the rejection has been sent.
    Handshake(HandshakeError),
    /// A plain HTTP request reached a WebSocket endpoint; it was answered
    /// with 426 Upgrade Required.
    NotUpgrade,
    /// The server refused or botched the opening handshake.
    ClientHandshake(ClientError),
    /// An `Accept`, `Reject` or client request held an invalid header,
    /// status or subprotocol; nothing was sent.
    Build(BuildError),
    /// The peer broke the protocol; the close frame with this error's code
    /// has been sent (or is on its way).
    Protocol(ProtocolError),
    /// The connection is closed: the peer's close code (1006 when the
    /// stream ended without a close frame) and reason.
    Closed(CloseCode, String),
    /// A send was refused: a close already sent, a fragmented message
    /// open, or a message larger than the output bound.
    Send(SendError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Connect(e) => write!(f, "cannot connect: {e}"),
            Error::Url(e) => write!(f, "bad URL: {e}"),
            Error::WssNeedsTlsStream => f.write_str(
                "wss:// is not spoken by tokio::connect (plain TCP only): \
                 open a TLS stream and use tokio::client over it",
            ),
            Error::Handshake(e) => write!(f, "handshake refused ({}): {e}", e.status()),
            Error::NotUpgrade => f.write_str("plain HTTP request, answered 426"),
            Error::ClientHandshake(ClientError::Rejected { status, reason }) => {
                write!(f, "handshake refused: status {status} {reason}")
            }
            Error::ClientHandshake(e) => write!(f, "handshake failed: {e}"),
            Error::Build(e) => write!(f, "invalid handshake parameters: {e}"),
            Error::Protocol(e) => write!(f, "protocol error (close {}): {e}", e.close_code()),
            Error::Closed(code, reason) if reason.is_empty() => {
                write!(f, "connection closed ({code})")
            }
            Error::Closed(code, reason) => write!(f, "connection closed ({code}: {reason})"),
            Error::Send(e) => write!(f, "send refused: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) | Error::Connect(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
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

impl From<BuildError> for Error {
    fn from(e: BuildError) -> Self {
        Error::Build(e)
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Error::Url(e)
    }
}
