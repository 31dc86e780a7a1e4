//! A connection's transport: the TCP socket itself, or TLS over it
//! (feature `tls`). The worker reads and writes plaintext through it and
//! never needs to know which one it has.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::prelude::rust_2021::*;

use mio::net::TcpStream;

#[cfg(feature = "tls")]
use super::tls::TlsStream;

pub(crate) enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    /// The socket, to register with the poll.
    pub(crate) fn socket_mut(&mut self) -> &mut TcpStream {
        match self {
            Transport::Plain(s) => s,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.socket_mut(),
        }
    }

    /// Bytes below the connection waiting for the socket (TLS records).
    pub(crate) fn pending(&self) -> usize {
        match self {
            Transport::Plain(_) => 0,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.pending(),
        }
    }

    /// Writes what waits below the connection (and an owed FIN after it).
    pub(crate) fn flush_pending(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.flush_pending().map(drop),
        }
    }

    /// Ends the sending direction: the FIN, after `close_notify` over TLS
    /// (sent once [`pending`](Self::pending) is written out).
    pub(crate) fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.shutdown(Shutdown::Write),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.shutdown_write().map(drop),
        }
    }

    /// Gives back what a quiet connection does not need.
    pub(crate) fn release_idle_memory(&mut self) {
        match self {
            Transport::Plain(_) => {}
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.release_idle_memory(),
        }
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.flush(),
        }
    }
}
