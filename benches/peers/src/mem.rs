//! An in-memory duplex stream standing in for a socket.
//!
//! [`Duplex`] serves a fixed input in reads of at most [`READ`] bytes, the
//! read size our own paths use, and appends whatever is written to an
//! output buffer, so each library does the copies it would do on a socket:
//! one copy in per read, one copy out per write. Handles are cheap clones
//! of one shared pipe, so a benchmark can rewind the input and clear the
//! output of a stream a library owns.
//!
//! It implements both `std::io` (for `tungstenite`) and `tokio::io` (for
//! `fastwebsockets`). The async side is always ready; once the input is
//! used up a read returns `Pending` without arranging a wake-up, which
//! [`poll_ready`] reports as a stall, so a path that reads past its input
//! fails loudly instead of hanging.

use std::cell::RefCell;
use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Largest read the stream serves, like a 64 KiB socket read.
pub const READ: usize = 64 << 10;

#[derive(Debug, Default)]
struct Pipe {
    input: Rc<[u8]>,
    pos: usize,
    output: Vec<u8>,
}

impl Pipe {
    /// Copies up to [`READ`] input bytes into `dst`; returns how many.
    fn read_into(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(READ).min(self.input.len() - self.pos);
        dst[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

/// A handle to an in-memory duplex stream; clones share the same pipe.
#[derive(Debug, Clone, Default)]
pub struct Duplex(Rc<RefCell<Pipe>>);

impl Duplex {
    /// A stream that will serve `input`.
    pub fn new(input: impl Into<Rc<[u8]>>) -> Self {
        Duplex(Rc::new(RefCell::new(Pipe {
            input: input.into(),
            pos: 0,
            output: Vec::new(),
        })))
    }

    /// Serves the input again from its start and clears the output,
    /// keeping the output's capacity.
    pub fn rewind(&self) {
        let mut pipe = self.0.borrow_mut();
        pipe.pos = 0;
        pipe.output.clear();
    }

    /// Input bytes not read yet.
    pub fn unread(&self) -> usize {
        let pipe = self.0.borrow();
        pipe.input.len() - pipe.pos
    }

    /// Bytes written so far.
    pub fn output_len(&self) -> usize {
        self.0.borrow().output.len()
    }

    /// A copy of the bytes written so far.
    pub fn output(&self) -> Vec<u8> {
        self.0.borrow().output.clone()
    }
}

impl Read for Duplex {
    /// Reads up to [`READ`] bytes; `WouldBlock` once the input is used up,
    /// as a non-blocking socket with nothing to read.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut pipe = self.0.borrow_mut();
        if pipe.pos == pipe.input.len() && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(pipe.read_into(buf))
    }
}

impl Write for Duplex {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut pipe = self.0.borrow_mut();
        let mut n = 0;
        for buf in bufs {
            pipe.output.extend_from_slice(buf);
            n += buf.len();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Duplex {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut pipe = self.0.borrow_mut();
        if pipe.pos == pipe.input.len() && buf.remaining() != 0 {
            return Poll::Pending;
        }
        // Straight into the caller's (possibly uninitialised) room, as a
        // socket read does: no zeroing first.
        let n = buf.remaining().min(READ).min(pipe.input.len() - pipe.pos);
        buf.put_slice(&pipe.input[pipe.pos..pipe.pos + n]);
        pipe.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Duplex {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write(&mut *self, buf))
    }

    /// Takes every slice at once, as `writev` on a socket with room would;
    /// tokio's default would take only the first.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write_vectored(&mut *self, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a future over [`Duplex`] streams to completion with one poll and no
/// runtime: the streams are always ready, so nothing ever waits.
///
/// # Panics
///
/// If the future returns `Pending`, which over a `Duplex` means it tried to
/// read past the input.
pub fn poll_ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("stalled: the in-memory input ran out"),
    }
}

#[cfg(test)]
mod tests {
    use super::{Duplex, READ};
    use std::io::{self, IoSlice, Read, Write};

    #[test]
    fn reads_in_chunks_and_rewinds() {
        let input: Vec<u8> = (0..READ + 10).map(|i| i as u8).collect();
        let mut io = Duplex::new(input.clone());
        let mut buf = vec![0; 2 * READ];
        assert_eq!(io.read(&mut buf).unwrap(), READ);
        assert_eq!(io.read(&mut buf).unwrap(), 10);
        assert_eq!(buf[..10], input[READ..]);
        assert_eq!(
            io.read(&mut buf).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        let bufs = [IoSlice::new(b"head"), IoSlice::new(b"body")];
        assert_eq!(io.write_vectored(&bufs).unwrap(), 8);
        assert_eq!(io.output(), b"headbody");
        io.rewind();
        assert_eq!((io.unread(), io.output_len()), (READ + 10, 0));
    }

    mod async_side {
        use super::super::{poll_ready, Duplex};
        use std::io::IoSlice;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        #[test]
        fn reads_and_writes_vectored() {
            let mut io = Duplex::new(&b"abc"[..]);
            let mut buf = [0u8; 3];
            poll_ready(async {
                io.read_exact(&mut buf).await.unwrap();
                let bufs = [IoSlice::new(b"head"), IoSlice::new(b"body")];
                assert_eq!(io.write_vectored(&bufs).await.unwrap(), 8);
            });
            assert_eq!(&buf, b"abc");
            assert_eq!(io.output(), b"headbody");
        }

        #[test]
        #[should_panic(expected = "stalled")]
        fn reading_past_the_input_stalls() {
            let mut io = Duplex::new(&b"abc"[..]);
            let mut buf = [0u8; 4];
            poll_ready(async { io.read_exact(&mut buf).await.map(drop) }).unwrap();
        }
    }
}
