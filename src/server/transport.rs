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
            Transport::Plain(s) => send_vectored(s, bufs),
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

/// Flags of every vectored send: a peer that reset the connection makes the
/// call fail with EPIPE instead of raising SIGPIPE in an embedding process
/// that did not ignore it (std's own `write` passes the same flag).
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: std::ffi::c_int = 0;

/// A vectored write as sendmsg(2) rather than writev(2): the socket call
/// skips the file layer (`fdget_pos`, `vfs_writev`) that writev goes
/// through before it reaches the same `sock_sendmsg`.
fn send_vectored(socket: &TcpStream, slices: &[IoSlice<'_>]) -> io::Result<usize> {
    socket2::SockRef::from(socket).send_vectored_with_flags(slices, SEND_FLAGS)
}
