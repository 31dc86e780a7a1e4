//! A load connection's transport: the TCP socket, or TLS over it for
//! `wss://` (the crate's `TlsStream`, with a rustls client connection that
//! verifies the server's certificate).

use std::io::{self, IoSlice, Read, Write};

use mio::net::TcpStream;

#[cfg(feature = "tls")]
use rfc6455::server::tls::TlsStream;

/// How to reach the server over TLS.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub struct TlsTarget {
    pub config: std::sync::Arc<rfc6455::tls::rustls::ClientConfig>,
    pub name: rfc6455::tls::rustls::pki_types::ServerName<'static>,
}

pub enum Stream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// The transport the target asks for over a connected (or connecting)
    /// socket.
    pub fn new(socket: TcpStream, target: &crate::driver::Target) -> io::Result<Stream> {
        #[cfg(feature = "tls")]
        if let Some(tls) = &target.tls {
            let conn = rfc6455::tls::rustls::client::UnbufferedClientConnection::new(
                std::sync::Arc::clone(&tls.config),
                tls.name.clone(),
            )
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            return Ok(Stream::Tls(Box::new(TlsStream::new(conn, socket))));
        }
        let _ = target;
        Ok(Stream::Plain(socket))
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket(),
        }
    }

    pub fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.socket_mut(),
        }
    }

    /// TLS records waiting for the socket.
    pub fn pending(&self) -> usize {
        match self {
            Stream::Plain(_) => 0,
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.pending(),
        }
    }

    pub fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush_pending().map(drop),
        }
    }

    /// Lets TLS give back its buffers (for --idle).
    pub fn release_idle_memory(&mut self) {
        match self {
            Stream::Plain(_) => {}
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.release_idle_memory(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
        }
    }
}
