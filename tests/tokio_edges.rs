//! The tokio driver's promises at their edges: a cancelled future of one
//! split half never strands the other, a bad text's 1007 close goes out,
//! `recv_with` writes small replies before it returns, and a shutdown that
//! is Pending once is finished later. Each test failed before the fix it
//! guards.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rfc6455::connection::{Config, Connection, Event};
use rfc6455::frame::{Frame, OpCode};
use rfc6455::tokio::{Error, WebSocket};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::time::timeout;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::new();
    Frame::new(opcode, payload)
        .masked([1, 2, 3, 4])
        .encode_to_vec(&mut frame);
    frame
}

/// Reads from `b` until `want` bytes arrived or nothing more comes for
/// `wait`; returns what arrived.
async fn read_some(b: &mut DuplexStream, want: usize, wait: Duration) -> Vec<u8> {
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 4096];
    while got.len() < want {
        match timeout(wait, b.read(&mut chunk)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&chunk[..n]),
            Ok(Err(e)) => panic!("{e}"),
        }
    }
    got
}

/// Split halves: a `recv` future that is polled (and so registers with the
/// transport's single write waker, since it tries to write the queued
/// output) and then cancelled must not strand the send half's pending
/// write: the send half is woken when the transport has room again.
#[test]
fn a_cancelled_recv_does_not_strand_the_other_halfs_send() {
    rt().block_on(async {
        let (a, mut b) = tokio::io::duplex(64);
        let ws = WebSocket::from_connection(a, Connection::server(Config::default()));
        let (mut rx, mut tx) = ws.split();
        let sender = tokio::spawn(async move {
            let r = tx.send_binary(&[7u8; 10_000]).await;
            (tx, r)
        });
        // The sender fills the 64-byte pipe and waits for room.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        // One poll of `recv`, then cancelled (as `timeout` or `select!` do).
        assert!(timeout(Duration::from_millis(20), rx.recv()).await.is_err());
        // The peer reads: the whole frame (4-byte header + 10 000) must come.
        let want = 10_004;
        let got = read_some(&mut b, want, Duration::from_secs(1)).await;
        assert_eq!(
            got.len(),
            want,
            "the peer got {} of {want} bytes: the send half was never woken",
            got.len()
        );
        let (_tx, r) = sender.await.unwrap();
        r.unwrap();
        drop(rx);
    });
}

/// The same with the roles swapped: the recv half waits only for the
/// transport to take output (above the high-water mark), a `flush` of the
/// send half is polled and cancelled, and the recv half is still woken.
#[test]
fn a_cancelled_flush_does_not_strand_the_other_halfs_recv() {
    rt().block_on(async {
        let (a, mut b) = tokio::io::duplex(64);
        let mut ws = WebSocket::from_connection(a, Connection::server(Config::default()));
        ws.set_high_water(0);
        let (mut rx, mut tx) = ws.split();
        tx.feed_message(rfc6455::connection::MessageKind::Binary, &[7u8; 10_000])
            .await
            .unwrap();
        let receiver = tokio::spawn(async move {
            let r = rx.recv().await.map(|e| matches!(e, Event::Text("hi")));
            (rx, r)
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        // One poll of `flush`, then cancelled.
        assert!(timeout(Duration::from_millis(20), tx.flush())
            .await
            .is_err());
        let want = 10_004;
        let got = read_some(&mut b, want, Duration::from_secs(1)).await;
        assert_eq!(
            got.len(),
            want,
            "the peer got {} of {want} bytes: the recv half was never woken",
            got.len()
        );
        b.write_all(&masked(OpCode::Text, b"hi")).await.unwrap();
        let (_rx, r) = timeout(Duration::from_secs(1), receiver)
            .await
            .expect("recv half stuck")
            .unwrap();
        assert!(r.unwrap());
        drop(tx);
    });
}

/// A single-frame text that is not UTF-8 is found as `recv` takes the
/// event: `recv` returns the error with the 1007 close queued, and the next
/// call writes it. `RecvHalf::recv`, which copies the event, writes it
/// before returning.
#[test]
fn the_1007_close_of_a_bad_text_goes_out() {
    rt().block_on(async {
        let (a, mut b) = tokio::io::duplex(4096);
        let mut ws = WebSocket::from_connection(a, Connection::server(Config::default()));
        b.write_all(&masked(OpCode::Text, b"ok \xff"))
            .await
            .unwrap();
        let r = ws.recv().await;
        assert!(matches!(r, Err(Error::Protocol(_))), "{r:?}");
        ws.flush().await.unwrap();
        let got = read_some(&mut b, 4, Duration::from_millis(300)).await;
        assert!(
            got.len() >= 4 && got[0] == 0x88 && got[2..4] == [0x03, 0xef],
            "no 1007 close after the next call: {got:?}"
        );
        drop(ws);

        let (a, mut b) = tokio::io::duplex(4096);
        let ws = WebSocket::from_connection(a, Connection::server(Config::default()));
        let (mut rx, _tx) = ws.split();
        b.write_all(&masked(OpCode::Text, b"ok \xff"))
            .await
            .unwrap();
        let r = rx.recv().await.map(|_| ());
        assert!(matches!(r, Err(Error::Protocol(_))), "{r:?}");
        let got = read_some(&mut b, 4, Duration::from_millis(300)).await;
        assert!(
            got.len() >= 4 && got[0] == 0x88 && got[2..4] == [0x03, 0xef],
            "no 1007 close when RecvHalf::recv returned the error: {got:?}"
        );
    });
}

/// `recv_with` documents that what `f` sends goes out before it returns
/// unless another whole message was read or can be read without waiting:
/// also a reply under 4 KiB, which is queued rather than noted in the lane.
#[test]
fn recv_with_writes_a_small_reply_before_it_returns() {
    rt().block_on(async {
        let (a, mut b) = tokio::io::duplex(4096);
        let mut ws = WebSocket::from_connection(a, Connection::server(Config::default()));
        b.write_all(&masked(OpCode::Text, b"hi")).await.unwrap();
        ws.recv_with(|event, reply| {
            if let Event::Text(t) = event {
                reply.send_text(t).unwrap();
            }
        })
        .await
        .unwrap();
        // No other message was read or can be read: the echo must be out.
        let got = read_some(&mut b, 4, Duration::from_millis(300)).await;
        assert_eq!(got, b"\x81\x02hi", "the echo was not written by recv_with");
        drop(ws);
    });
}

/// A transport whose `poll_shutdown` is `Pending` once before it completes
/// (a TLS stream writing its close_notify, say).
struct SlowShutdown {
    inner: DuplexStream,
    pending_once: bool,
}

impl AsyncRead for SlowShutdown {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SlowShutdown {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending_once {
            self.pending_once = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A server ends TCP after the closing handshake (`recv` completes it
/// before returning the close), also over a transport whose shutdown is
/// `Pending` once: the shutdown is polled again until it completes.
#[test]
fn a_shutdown_pending_once_is_finished_later() {
    rt().block_on(async {
        let (a, mut b) = tokio::io::duplex(4096);
        let io = SlowShutdown {
            inner: a,
            pending_once: true,
        };
        let mut ws = WebSocket::from_connection(io, Connection::server(Config::default()));
        b.write_all(&masked(OpCode::Close, &[0x03, 0xe8]))
            .await
            .unwrap();
        match ws.recv().await {
            Ok(Event::Close { .. }) => {}
            other => panic!("{other:?}"),
        }
        // Also `close`, which documents waiting for the end of TCP.
        let _ = timeout(
            Duration::from_millis(100),
            ws.close(rfc6455::CloseCode::NORMAL, ""),
        )
        .await;
        // The peer gets the close reply, then end of stream.
        let mut wire = Vec::new();
        let mut chunk = [0u8; 64];
        let eof = loop {
            match timeout(Duration::from_millis(300), b.read(&mut chunk)).await {
                Ok(Ok(0)) => break true,
                Ok(Ok(n)) => wire.extend_from_slice(&chunk[..n]),
                Ok(Err(e)) => panic!("{e}"),
                Err(_) => break false,
            }
        };
        assert_eq!(&wire[..2], &[0x88, 0x02], "{wire:?}");
        assert!(eof, "the server never ended the stream (ws still alive)");
        drop(ws);
    });
}
