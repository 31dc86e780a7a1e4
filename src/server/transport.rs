//! A connection's transport: the TCP socket itself, or TLS over it
//! (feature `tls`). The worker reads and writes plaintext through it and
//! never needs to know which one it has.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::prelude::rust_2021::*;

use mio::net::TcpStream;

#[cfg(feature = "tls")]
use super::tls::TlsStream;

/// A write of several slices is copied into one buffer and made as a plain
/// send when it totals at most `JOIN_SMALL` bytes, or at most `JOIN_MAX`
/// in slices of `JOIN_SLICE` bytes or less on average: for frames of a few
/// KiB the kernel's cost per iovec (a user copy set up and checked for
/// each) is more than our copy. Output of larger frames keeps its
/// zero-copy slices.
const JOIN_SMALL: usize = 4096;
const JOIN_MAX: usize = 64 << 10;
const JOIN_SLICE: usize = 2048;

pub(crate) enum Transport {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    /// Writes several slices in one call: copied into `scratch` and written
    /// as one buffer when they are small (see `JOIN_SMALL`) and the socket
    /// is plain, else vectored.
    /// `scratch` is the caller's reusable buffer; it holds the joined bytes
    /// afterwards, or is left as it was.
    pub(crate) fn write_slices(
        &mut self,
        slices: &[IoSlice<'_>],
        scratch: &mut Vec<u8>,
    ) -> io::Result<usize> {
        let total: usize = slices.iter().map(|s| s.len()).sum();
        let join = total <= JOIN_SMALL || (total <= JOIN_MAX && total <= slices.len() * JOIN_SLICE);
        // TLS copies every slice into its records anyway: no gain there.
        if !join || !self.is_plain() {
            return self.write_vectored(slices);
        }
        scratch.clear();
        for slice in slices {
            scratch.extend_from_slice(slice);
        }
        self.write(scratch)
    }

    fn is_plain(&self) -> bool {
        match self {
            Transport::Plain(_) => true,
            #[cfg(feature = "tls")]
            Transport::Tls(_) => false,
        }
    }

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

    /// Whether the end of the stream was seen below a short read: TLS's
    /// `close_notify` comes without a readiness event of its own.
    pub(crate) fn read_ended(&self) -> bool {
        match self {
            Transport::Plain(_) => false,
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.read_ended(),
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
            Transport::Plain(s) => sys::recv(s, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => sys::send(s, buf),
            #[cfg(feature = "tls")]
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => sys::send_vectored(s, bufs),
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

/// The plain socket's reads and writes.
///
/// On Linux they are direct system calls through rustix. std's `TcpStream`
/// goes through glibc's `recv`, `send` and `sendmsg`, and glibc makes each a
/// thread cancellation point, bracketing the system call with two atomic
/// updates of the thread's cancel state: at one message in flight those
/// wrappers took about 5 % of the echo server's CPU, more than the
/// WebSocket codec. Every send passes `MSG_NOSIGNAL`, as std's `write` does,
/// so a peer that reset the connection makes the call fail with `EPIPE`
/// instead of raising `SIGPIPE` in an embedding process that kept the
/// default handler. Vectored writes are `sendmsg(2)` rather than `writev(2)`,
/// which skips the file layer (`fdget_pos`, `vfs_writev`) on the way to the
/// same `sock_sendmsg`.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod sys {
    use std::io::{self, IoSlice};

    use mio::net::TcpStream;
    use rustix::net::{RecvFlags, SendAncillaryBuffer, SendFlags};

    pub(super) fn recv(socket: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::net::recv(socket, buf, RecvFlags::empty())?.0)
    }

    pub(super) fn send(socket: &TcpStream, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::net::send(socket, buf, SendFlags::NOSIGNAL)?)
    }

    pub(super) fn send_vectored(socket: &TcpStream, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut no_ancillary = SendAncillaryBuffer::default();
        Ok(rustix::net::sendmsg(
            socket,
            slices,
            &mut no_ancillary,
            SendFlags::NOSIGNAL,
        )?)
    }
}

/// Elsewhere std's own calls (mio sets `SO_NOSIGPIPE` where that exists).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod sys {
    use std::io::{self, IoSlice, Read, Write};

    use mio::net::TcpStream;

    pub(super) fn recv(mut socket: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        socket.read(buf)
    }

    pub(super) fn send(mut socket: &TcpStream, buf: &[u8]) -> io::Result<usize> {
        socket.write(buf)
    }

    pub(super) fn send_vectored(
        mut socket: &TcpStream,
        slices: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        socket.write_vectored(slices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::time::{Duration, Instant};

    /// A connected pair over loopback: the client, and the server's side as
    /// a plain transport.
    fn pair() -> (std::net::TcpStream, Transport) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (client, Transport::Plain(TcpStream::from_std(server)))
    }

    fn read_some(t: &mut Transport, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match t.read(buf) {
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                other => return other,
            }
        }
    }

    #[test]
    fn plain_reads_writes_and_would_block() {
        let (mut client, mut t) = pair();
        let mut buf = [0u8; 64];
        assert_eq!(t.read(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        client.write_all(b"hello").unwrap();
        assert_eq!(read_some(&mut t, &mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"hello");

        assert_eq!(t.write(b"one ").unwrap(), 4);
        let slices = [
            IoSlice::new(b"two "),
            IoSlice::new(b""),
            IoSlice::new(b"three"),
        ];
        assert_eq!(t.write_vectored(&slices).unwrap(), 9);
        let mut got = [0u8; 13];
        client.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"one two three");

        drop(client);
        assert_eq!(read_some(&mut t, &mut buf).unwrap(), 0, "end of stream");
    }

    /// Many small slices go out joined, a few large ones vectored; the
    /// bytes arrive the same either way.
    #[test]
    fn small_slices_are_joined_and_large_ones_are_not() {
        let (mut client, mut t) = pair();
        let mut scratch = Vec::new();
        let check = |client: &mut std::net::TcpStream, expected: &[u8]| {
            let mut got = vec![0u8; expected.len()];
            client.read_exact(&mut got).unwrap();
            assert!(got == expected);
        };
        // 20 frames of 1 KiB: 20 KiB in all, joined into one send.
        let small: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 1024]).collect();
        let slices: Vec<IoSlice<'_>> = small.iter().map(|s| IoSlice::new(s)).collect();
        // (The socket may take less than all of it: only what it took is
        // read back.)
        let n = t.write_slices(&slices, &mut scratch).unwrap();
        assert!(scratch == small.concat(), "joined");
        check(&mut client, &small.concat()[..n]);
        // 3 frames of 8 KiB: vectored, the scratch buffer untouched.
        scratch.clear();
        let large: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 8192]).collect();
        let slices: Vec<IoSlice<'_>> = large.iter().map(|s| IoSlice::new(s)).collect();
        let n = t.write_slices(&slices, &mut scratch).unwrap();
        assert!(scratch.is_empty(), "not joined");
        check(&mut client, &large.concat()[..n]);
        // Past JOIN_MAX, even small slices stay vectored.
        let many: Vec<Vec<u8>> = (0..80u8).map(|i| vec![i; 1024]).collect();
        let slices: Vec<IoSlice<'_>> = many.iter().map(|s| IoSlice::new(s)).collect();
        let n = t.write_slices(&slices, &mut scratch).unwrap();
        assert!(scratch.is_empty(), "not joined");
        check(&mut client, &many.concat()[..n]);
    }

    #[test]
    fn plain_write_to_a_reset_peer_is_an_error() {
        let (client, mut t) = pair();
        // Data left unread at close makes the client's side answer with a
        // reset; later sends must fail with EPIPE or ECONNRESET.
        t.write_all(b"unread").unwrap();
        drop(client);
        let deadline = Instant::now() + Duration::from_secs(5);
        let error = loop {
            assert!(Instant::now() < deadline, "no error in 5 s");
            let slices = [IoSlice::new(b"more"), IoSlice::new(b" data")];
            match t.write_vectored(&slices) {
                Ok(_) => std::thread::sleep(Duration::from_millis(1)),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => break e,
            }
        };
        assert!(
            matches!(
                error.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{error:?}"
        );
        assert!(t.write(b"x").is_err());
    }
}
