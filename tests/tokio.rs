//! The tokio driver over in-memory transports: `tokio::io::duplex`, and a
//! hostile one that returns `Pending` and moves one or a few bytes at a
//! time at random. Every test bounds itself: the transports are in memory
//! and every wait ends when the other side is dropped.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{FutureExt, SinkExt, StreamExt};
use proptest::prelude::*;
use rfc6455::connection::{Config, Event, MessageKind};
use rfc6455::frame::{Frame, OpCode};
use rfc6455::handshake::{ClientError, ClientRequest, Reject};
use rfc6455::tokio::{accept, client, read_upgrade, Error, Message, ServerConfig, WebSocket};
use rfc6455::{CloseCode, Limits, SendError, State};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn request() -> ClientRequest<'static> {
    ClientRequest::new("ws://localhost/chat", *b"0123456789abcdef").unwrap()
}

/// A server and a client connected over `transport(a)` and `transport(b)`.
async fn pair<T, F>(config: Config, capacity: usize, transport: F) -> (WebSocket<T>, WebSocket<T>)
where
    T: AsyncRead + AsyncWrite + Unpin,
    F: Fn(DuplexStream, u64) -> T,
{
    let (a, b) = tokio::io::duplex(capacity);
    let server_config = ServerConfig {
        connection: config,
        ..ServerConfig::default()
    };
    let (server, client) = tokio::join!(
        accept(transport(a, 1), &server_config),
        client(transport(b, 2), request(), config)
    );
    (server.unwrap(), client.unwrap())
}

fn plain(s: DuplexStream, _seed: u64) -> DuplexStream {
    s
}

/// Echoes every message until the connection ends; returns how it ended.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) -> Error {
    loop {
        let r = ws
            .recv_with(|event, reply| match event {
                Event::Text(t) => reply.send_text(t),
                Event::Binary(b) => reply.send_binary(b),
                _ => Ok(()),
            })
            .await;
        match r {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Error::Send(e),
            Err(e) => return e,
        }
    }
}

#[test]
fn duplex_round_trip_ping_and_close() {
    runtime().block_on(async {
        let (mut server, mut client) = pair(Config::default(), 64 << 10, plain).await;
        assert_eq!(client.protocol(), None);
        let server_task = tokio::spawn(async move { echo(&mut server).await });

        client.send_text("hello é中😀").await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Event::Text("hello é中😀"));
        let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        client.send_binary(&big).await.unwrap();
        match client.recv().await.unwrap() {
            Event::Binary(b) => assert_eq!(b, &big[..]),
            other => panic!("{other:?}"),
        }
        client.ping(b"are you there").await.unwrap();
        assert_eq!(client.recv().await.unwrap(), Event::Pong(b"are you there"));

        let (code, reason) = client.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!((code, reason.as_str()), (CloseCode::NORMAL, ""));
        assert_eq!(client.state(), State::Closed);
        // The server saw the close and ended the stream.
        match server_task.await.unwrap() {
            Error::Closed(code, reason) => {
                assert_eq!((code, reason.as_str()), (CloseCode::NORMAL, "bye"))
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn subprotocol_and_origin_policy() {
    runtime().block_on(async {
        let config = ServerConfig {
            protocols: vec!["v2".into(), "v1".into()],
            allowed_origins: Some(vec!["https://app.example".into()]),
            ..ServerConfig::default()
        };
        let (a, b) = tokio::io::duplex(4096);
        let req = request()
            .protocols(&["v1", "v2"])
            .origin("https://app.example");
        let (server, ws) = tokio::join!(accept(a, &config), client(b, req, Config::default()));
        assert_eq!(server.unwrap().protocol(), Some("v2"));
        assert_eq!(ws.unwrap().protocol(), Some("v2"));

        let (a, b) = tokio::io::duplex(4096);
        let req = request().origin("https://evil.example");
        let (server, ws) = tokio::join!(accept(a, &config), client(b, req, Config::default()));
        assert!(
            matches!(server, Err(Error::Handshake(e)) if e.status() == 403),
            "{server:?}"
        );
        assert!(matches!(
            ws,
            Err(Error::ClientHandshake(ClientError::Rejected {
                status: 403,
                ..
            }))
        ));
    });
}

#[test]
fn app_rejects_after_reading_the_request() {
    runtime().block_on(async {
        let (a, b) = tokio::io::duplex(4096);
        let server = async {
            let mut upgrade = read_upgrade(a, &ServerConfig::default()).await.unwrap();
            assert_eq!(upgrade.request().path(), "/chat");
            upgrade
                .reject(&Reject::new(404, "no such room"))
                .await
                .unwrap();
        };
        let (_, ws) = tokio::join!(server, client(b, request(), Config::default()));
        assert!(matches!(
            ws,
            Err(Error::ClientHandshake(ClientError::Rejected {
                status: 404,
                ..
            }))
        ));
    });
}

#[test]
fn plain_http_and_broken_requests_are_answered() {
    runtime().block_on(async {
        for (head, status, want) in [
            (
                &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
                "426",
                "NotUpgrade",
            ),
            (
                &b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                    [..],
                "400",
                "Handshake",
            ),
            (&b"GET / HTTP/1.1\nHost: x\r\n\r\n"[..], "400", "Handshake"),
        ] {
            let (a, mut b) = tokio::io::duplex(4096);
            b.write_all(head).await.unwrap();
            let err = accept(a, &ServerConfig::default()).await.unwrap_err();
            let kind = format!("{err:?}");
            assert!(kind.starts_with(want), "{kind}");
            let mut answer = String::new();
            b.read_to_string(&mut answer).await.unwrap();
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} ")),
                "{answer}"
            );
        }
    });
}

/// A single-frame text that is not UTF-8 fails the connection with 1007,
/// and the close frame is on the wire when `recv_with` returns.
#[test]
fn invalid_utf8_is_answered_with_1007_before_the_error_returns() {
    runtime().block_on(async {
        let (a, mut b) = tokio::io::duplex(4096);
        let mut head = Vec::new();
        request().write(&mut head).unwrap();
        b.write_all(&head).await.unwrap();
        let mut frame = Vec::new();
        Frame::new(OpCode::Text, b"ok \xff")
            .masked([1, 2, 3, 4])
            .encode_to_vec(&mut frame);
        b.write_all(&frame).await.unwrap();
        let mut ws = accept(a, &ServerConfig::default()).await.unwrap();
        let r = ws.recv_with(|_, _| ()).await;
        assert!(matches!(r, Err(Error::Protocol(_))), "{r:?}");
        // Keep `ws` alive: the close must not depend on the drop.
        let mut wire = Vec::new();
        let mut chunk = [0u8; 1024];
        let close = loop {
            if let Some(end) = wire.windows(4).position(|w| w == b"\r\n\r\n") {
                let frame = &wire[end + 4..];
                if frame.len() >= 2 && frame.len() >= 2 + usize::from(frame[1]) {
                    break frame.to_vec();
                }
            }
            let n = b.read(&mut chunk).await.unwrap();
            assert_ne!(n, 0, "stream ended without the close frame: {wire:?}");
            wire.extend_from_slice(&chunk[..n]);
        };
        assert_eq!(close[0], 0x88, "{close:?}");
        assert_eq!(&close[2..4], &[0x03, 0xef], "{close:?}"); // 1007
        drop(ws);
    });
}

/// `send` waits while the output bound is full instead of buffering more;
/// pongs owed meanwhile are not lost, and everything arrives once the
/// peer reads.
#[test]
fn send_waits_at_the_bound_and_owed_pongs_survive() {
    runtime().block_on(async {
        let config = Config {
            limits: Limits {
                max_output_buffer: 4096,
                ..Limits::default()
            },
            ..Config::default()
        };
        // 256 bytes of transport buffer: the server's writes block soon.
        let (mut server, mut client) = pair(config, 256, plain).await;
        let msg = [7u8; 1000];
        let mut sent = 0;
        loop {
            match server.send_binary(&msg).now_or_never() {
                Some(Ok(())) => sent += 1,
                Some(Err(e)) => panic!("{e}"),
                None => break,
            }
            assert!(sent < 100, "send never waited");
        }
        // The pending send was dropped: its message was queued whole or
        // not at all, and the queue is within the bound.
        let queued = server.connection().pending_output_len();
        assert!(queued <= 4096, "{queued} bytes queued");

        // A ping from the client while the server's writes are blocked.
        client.ping(b"hb").await.unwrap();
        let server_task = tokio::spawn(async move {
            let mut seen_ping = false;
            loop {
                match server.recv().await {
                    Ok(Event::Ping(p)) => {
                        assert_eq!(p, b"hb");
                        seen_ping = true;
                    }
                    Ok(_) => {}
                    Err(_) => return seen_ping,
                }
            }
        });
        let mut received = 0;
        let mut pong = false;
        while received < sent || !pong {
            match client.recv().await.unwrap() {
                Event::Binary(b) => {
                    assert_eq!(b, &msg[..]);
                    received += 1;
                }
                Event::Pong(p) => {
                    assert_eq!(p, b"hb");
                    pong = true;
                }
                other => panic!("{other:?}"),
            }
        }
        // The dropped send's message, if it was queued, follows.
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(server_task.await.unwrap());
    });
}

#[test]
fn a_message_larger_than_the_bound_is_refused() {
    runtime().block_on(async {
        let config = Config {
            limits: Limits {
                max_output_buffer: 1024,
                ..Limits::default()
            },
            ..Config::default()
        };
        let (mut server, _client) = pair(config, 64 << 10, plain).await;
        let r = server.send_binary(&[0; 2000]).await;
        assert!(matches!(r, Err(Error::Send(SendError::Full))), "{r:?}");
    });
}

#[test]
fn split_halves_in_two_tasks() {
    runtime().block_on(async {
        // A small transport buffer, so both halves' writes wait at times.
        let (server, client) = pair(Config::default(), 512, plain).await;
        let server_task = tokio::spawn(async move {
            let mut server = server;
            echo(&mut server).await
        });
        let (mut rx, mut tx) = client.split();
        const N: usize = 300;
        let writer = tokio::spawn(async move {
            for i in 0..N {
                tx.send_text(&format!("message {i} {}", "x".repeat(i)))
                    .await
                    .unwrap();
                if i % 50 == 0 {
                    tx.ping(b"p").await.unwrap();
                }
            }
            tx
        });
        let mut got = 0;
        while got < N {
            match rx.recv().await.unwrap() {
                Event::Text(t) => {
                    assert_eq!(t, format!("message {got} {}", "x".repeat(got)));
                    got += 1;
                }
                Event::Pong(p) => assert_eq!(p, b"p"),
                other => panic!("{other:?}"),
            }
        }
        let mut tx = writer.await.unwrap();
        tx.close(CloseCode::NORMAL, "done").await.unwrap();
        match rx.recv().await.unwrap() {
            Event::Close { code, .. } => assert_eq!(code, Some(CloseCode::NORMAL)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            server_task.await.unwrap(),
            Error::Closed(CloseCode::NORMAL, _)
        ));
    });
}

#[test]
fn stream_and_sink() {
    runtime().block_on(async {
        let (mut server, mut client) = pair(Config::default(), 64 << 10, plain).await;
        let server_task = tokio::spawn(async move { echo(&mut server).await });
        client.send(Message::from("one")).await.unwrap();
        client.send(Message::Binary(vec![1, 2, 3])).await.unwrap();
        assert_eq!(client.next().await.unwrap().unwrap(), Message::from("one"));
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Binary(vec![1, 2, 3])
        );
        client
            .send(Message::Close(Some(CloseCode::GOING_AWAY), "later".into()))
            .await
            .unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::Close(Some(CloseCode::GOING_AWAY), String::new())
        );
        assert!(client.next().await.is_none());
        server_task.await.unwrap();
    });
}

/// A transport that returns `Pending` at random (waking at once) and moves
/// 1 to `max` bytes per call, vectored writes included.
struct Chaos {
    inner: DuplexStream,
    state: u64,
    max: usize,
}

impl Chaos {
    fn next(&mut self) -> u64 {
        // xorshift64
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    fn stall(&mut self, cx: &mut Context<'_>) -> bool {
        if self.next().is_multiple_of(3) {
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }

    fn amount(&mut self) -> usize {
        1 + (self.next() as usize) % self.max
    }
}

impl AsyncRead for Chaos {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.stall(cx) {
            return Poll::Pending;
        }
        let n = self.amount().min(buf.remaining()).min(64);
        let mut tmp = [0u8; 64];
        let mut small = ReadBuf::new(&mut tmp[..n]);
        let r = Pin::new(&mut self.inner).poll_read(cx, &mut small);
        if let Poll::Ready(Ok(())) = r {
            buf.put_slice(small.filled());
        }
        r
    }
}

impl AsyncWrite for Chaos {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.stall(cx) {
            return Poll::Pending;
        }
        let n = self.amount().min(data.len());
        Pin::new(&mut self.inner).poll_write(cx, &data[..n])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, first)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.stall(cx) {
            return Poll::Pending;
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn message(kind: bool, len: usize, seed: u8) -> (MessageKind, Vec<u8>) {
    if kind {
        let text: String = (0..len)
            .map(|i| ['a', 'é', '中', '😀'][(i + seed as usize) % 4])
            .collect();
        (MessageKind::Text, text.into_bytes())
    } else {
        (
            MessageKind::Binary,
            (0..len).map(|i| (i as u8) ^ seed).collect(),
        )
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Over a transport that stalls and moves 1..=max bytes at a time,
    /// every message comes back whole and in order, pings are answered,
    /// and the close completes; the client's `recv` futures are dropped
    /// at random while they wait (mid-frame, given the transport), which
    /// must lose nothing.
    #[test]
    fn chaotic_transport_loses_nothing(
        seed in 1u64..u64::MAX,
        max in prop_oneof![Just(1usize), 1usize..40],
        messages in prop::collection::vec((any::<bool>(), 0usize..3000, any::<u8>()), 1..12),
    ) {
        runtime().block_on(async move {
            let chaos = |s: DuplexStream, salt: u64| Chaos { inner: s, state: (seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1, max };
            let (mut server, mut client) = pair(Config::default(), 128, chaos).await;
            let server_task = tokio::spawn(async move { echo(&mut server).await });
            let mut cancelled = 0u32;
            // Pongs come back in the order of the pings, each when the
            // server gets to it: before or after the echo it follows.
            let mut pings = std::collections::VecDeque::new();
            for (i, &(kind, len, s)) in messages.iter().enumerate() {
                let (kind, data) = message(kind, len, s);
                client.send_message(kind, &data).await.unwrap();
                if i % 4 == 0 {
                    client.ping(&[s; 5]).await.unwrap();
                    pings.push_back(vec![s; 5]);
                }
                loop {
                    // Give `recv` one poll at a time; drop it if pending.
                    let event = tokio::select! {
                        biased;
                        e = client.recv() => e.unwrap().into(),
                        () = tokio::task::yield_now() => { cancelled += 1; continue; }
                    };
                    match event {
                        Message::Text(t) => { assert_eq!((kind, t.into_bytes()), (MessageKind::Text, data)); break; }
                        Message::Binary(b) => { assert_eq!((kind, b), (MessageKind::Binary, data)); break; }
                        Message::Pong(p) => assert_eq!(Some(p), pings.pop_front()),
                        other => panic!("{other:?}"),
                    }
                }
            }
            while let Some(want) = pings.pop_front() {
                assert_eq!(client.recv().await.unwrap(), Event::Pong(&want));
            }
            let (code, _) = client.close(CloseCode::NORMAL, "").await.unwrap();
            assert_eq!(code, CloseCode::NORMAL);
            assert!(matches!(server_task.await.unwrap(), Error::Closed(CloseCode::NORMAL, _)));
            assert!(cancelled > 0, "no recv was ever dropped");
        });
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    /// Large echoes leave from the server's read buffer once its input
    /// runs out, the buffer kept aside while more is read; over a
    /// transport that stalls and takes a few bytes at a time, what it
    /// refuses is queued in order. The client sends everything before it
    /// reads: every echo comes back whole and in order, the ping's pong
    /// somewhere between them.
    #[test]
    fn pipelined_large_echoes_come_back_whole_and_in_order(
        seed in 1u64..u64::MAX,
        max in 1usize..4000,
        messages in prop::collection::vec((any::<bool>(), 0usize..12_000, any::<u8>()), 1..8),
    ) {
        runtime().block_on(async move { tokio::time::timeout(std::time::Duration::from_secs(60), async move {
            let chaos = |s: DuplexStream, salt: u64| Chaos { inner: s, state: (seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1, max };
            let (mut server, mut client) = pair(Config::default(), 1 << 16, chaos).await;
            let server_task = tokio::spawn(async move { echo(&mut server).await });
            let sent: Vec<_> = messages.iter().map(|&(kind, len, s)| message(kind, len, s)).collect();
            for (i, (kind, data)) in sent.iter().enumerate() {
                client.send_message(*kind, data).await.unwrap();
                if i == 0 {
                    client.ping(b"p").await.unwrap();
                }
            }
            let mut pongs = 0;
            for (i, (kind, data)) in sent.iter().enumerate() {
                loop {
                    match client.recv().await.unwrap().into() {
                        Message::Text(t) => { assert!((*kind, t.as_bytes()) == (MessageKind::Text, &data[..]), "echo {i}"); break; }
                        Message::Binary(b) => { assert!((*kind, &b[..]) == (MessageKind::Binary, &data[..]), "echo {i}"); break; }
                        Message::Pong(p) => { assert_eq!(p, b"p"); pongs += 1; }
                        other => panic!("{other:?}"),
                    }
                }
            }
            if pongs == 0 {
                assert_eq!(client.recv().await.unwrap(), Event::Pong(b"p"));
            }
            let (code, _) = client.close(CloseCode::NORMAL, "").await.unwrap();
            assert_eq!(code, CloseCode::NORMAL);
            assert!(matches!(server_task.await.unwrap(), Error::Closed(CloseCode::NORMAL, _)));
        }).await.expect("the echoes stalled") });
    }
}

/// A transport that counts the writes it takes.
struct CountWrites {
    inner: DuplexStream,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl CountWrites {
    fn count(&self, result: &Poll<io::Result<usize>>) {
        if let Poll::Ready(Ok(n)) = result {
            if *n > 0 {
                self.writes
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

impl AsyncRead for CountWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountWrites {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.count(&result);
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.count(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Pipelined large messages that are all waiting when the server reads:
/// `recv_with` reads on while its reads come back full, so the echoes
/// leave from the read buffers in a few writes rather than one each.
#[test]
fn pipelined_large_echoes_leave_in_a_few_writes() {
    runtime().block_on(async {
        let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = writes.clone();
        let (mut server, mut client) = pair(Config::default(), 1 << 20, move |s, salt| {
            CountWrites {
                inner: s,
                // Only the server's writes are counted.
                writes: if salt == 1 {
                    counted.clone()
                } else {
                    std::sync::Arc::default()
                },
            }
        })
        .await;
        let sent: Vec<_> = (0..16u8)
            .map(|i| message(false, 8_000 + usize::from(i), i))
            .collect();
        for (kind, data) in &sent {
            client.send_message(*kind, data).await.unwrap();
        }
        let before = writes.load(std::sync::atomic::Ordering::Relaxed);
        let server_task = tokio::spawn(async move { echo(&mut server).await });
        for (i, (_, data)) in sent.iter().enumerate() {
            match client.recv().await.unwrap().into() {
                Message::Binary(b) => assert!(b == *data, "echo {i}"),
                other => panic!("{other:?}"),
            }
        }
        let echo_writes = writes.load(std::sync::atomic::Ordering::Relaxed) - before;
        assert!(
            (1..=3).contains(&echo_writes),
            "16 echoes of 8 KB took {echo_writes} writes"
        );
        let (code, _) = client.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(code, CloseCode::NORMAL);
        assert!(matches!(
            server_task.await.unwrap(),
            Error::Closed(CloseCode::NORMAL, _)
        ));
    });
}

#[cfg(feature = "deflate")]
#[test]
fn permessage_deflate_is_negotiated_by_accept_and_client() {
    use rfc6455::deflate::DeflateConfig;
    runtime().block_on(async {
        let text: String = (0..300)
            .map(|i| format!("{{\"id\":{i},\"name\":\"user{i}\",\"online\":true}},"))
            .collect();
        for (server_deflate, accepted) in [(Some(DeflateConfig::default()), true), (None, false)] {
            let config = ServerConfig {
                deflate: server_deflate,
                ..ServerConfig::default()
            };
            let (a, b) = tokio::io::duplex(64 << 10);
            let req = request().deflate(Some(DeflateConfig::default()));
            let (server, ws) = tokio::join!(accept(a, &config), client(b, req, Config::default()));
            let (mut server, mut ws) = (server.unwrap(), ws.unwrap());
            assert_eq!(server.connection().deflate_enabled(), accepted);
            assert_eq!(ws.connection().deflate_enabled(), accepted);
            let server_task = tokio::spawn(async move { echo(&mut server).await });
            for _ in 0..3 {
                ws.send_text(&text).await.unwrap();
                assert_eq!(ws.recv().await.unwrap(), Event::Text(text.as_str()));
            }
            ws.close(CloseCode::NORMAL, "").await.unwrap();
            let _ = server_task.await.unwrap();
        }
    });
}

/// `connect` has no TLS: a `wss://` URL is refused before any TCP
/// connection is made, never spoken as plain text (tokio-tungstenite #182).
#[test]
fn connect_refuses_wss_without_touching_the_network() {
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = format!("wss://127.0.0.1:{port}/");
        let Err(err) = rfc6455::tokio::connect(&url, &Default::default()).await else {
            panic!("wss:// must fail");
        };
        assert!(matches!(err, Error::WssNeedsTlsStream), "{err:?}");
        assert!(err.to_string().contains("wss://"), "{err}");
        // Nothing reached the listener.
        let accepted =
            tokio::time::timeout(std::time::Duration::from_millis(100), listener.accept()).await;
        assert!(accepted.is_err(), "a TCP connection was opened for wss://");
    });
}

/// `poll_ready` cannot know the next item's size: an item the output
/// bound has no room for until queued output is written waits for it (and
/// keeps its place before later sends) instead of failing with `Full`,
/// as `feed_message` waits. On a `WebSocket` and on a `SendHalf`.
#[test]
fn the_sink_waits_for_room_instead_of_failing_full() {
    runtime().block_on(async {
        for split in [false, true] {
            let (a, mut b) = tokio::io::duplex(64);
            let mut config = Config::default();
            config.limits.max_output_buffer = 10_000;
            let ws = WebSocket::from_connection(a, rfc6455::Connection::server(config));
            let reader = tokio::spawn(async move {
                let mut got = Vec::new();
                b.read_to_end(&mut got).await.unwrap();
                got
            });
            let sends = async {
                if split {
                    let (_rx, mut tx) = ws.split();
                    for i in 0..3u8 {
                        tx.feed(Message::Binary(vec![i; 6000])).await?;
                    }
                    tx.send_binary(&[3; 6000]).await
                } else {
                    let mut ws = ws;
                    for i in 0..3u8 {
                        ws.feed(Message::Binary(vec![i; 6000])).await?;
                    }
                    ws.send_binary(&[3; 6000]).await
                }
            };
            tokio::time::timeout(std::time::Duration::from_secs(10), sends)
                .await
                .expect("the sends stalled")
                .unwrap();
            let got = tokio::time::timeout(std::time::Duration::from_secs(10), reader)
                .await
                .expect("the reader stalled")
                .unwrap();
            let frames: Vec<u8> = got.chunks(6004).map(|f| f[4]).collect();
            assert_eq!(
                (got.len(), frames),
                (4 * 6004, vec![0, 1, 2, 3]),
                "split: {split}"
            );
        }
    });
}

/// A transport that ends without a close frame is an error on the
/// `Stream`, yielded once (`Closed` with 1006, as `recv` returns), not the
/// quiet end of a closed connection; on a `WebSocket` and a `RecvHalf`.
#[test]
fn the_stream_reports_a_transport_that_ends_without_a_close() {
    runtime().block_on(async {
        let (a, b) = tokio::io::duplex(64);
        let mut ws = WebSocket::from_connection(a, rfc6455::Connection::server(Config::default()));
        drop(b);
        let r = ws.next().await;
        assert!(
            matches!(r, Some(Err(Error::Closed(CloseCode::ABNORMAL, _)))),
            "{r:?}"
        );
        assert!(ws.next().await.is_none());

        let (a, b) = tokio::io::duplex(64);
        let ws = WebSocket::from_connection(a, rfc6455::Connection::server(Config::default()));
        let (mut rx, _tx) = ws.split();
        drop(b);
        let r = rx.next().await;
        assert!(
            matches!(r, Some(Err(Error::Closed(CloseCode::ABNORMAL, _)))),
            "{r:?}"
        );
        assert!(rx.next().await.is_none());
    });
}

/// A single-frame text that is not UTF-8 read through the `Stream`: the
/// 1007 close goes out before the error is yielded, as `RecvHalf::recv`
/// does (the stream ends after the error, so no later call writes it).
#[test]
fn the_stream_sends_the_1007_close_before_the_error() {
    runtime().block_on(async {
        let (a, mut b) = tokio::io::duplex(4096);
        let mut ws = WebSocket::from_connection(a, rfc6455::Connection::server(Config::default()));
        let mut frame = Vec::new();
        Frame::new(OpCode::Text, b"ok \xff")
            .masked([1, 2, 3, 4])
            .encode_to_vec(&mut frame);
        b.write_all(&frame).await.unwrap();
        let r = ws.next().await;
        assert!(matches!(r, Some(Err(Error::Protocol(_)))), "{r:?}");
        let mut got = [0u8; 4];
        tokio::time::timeout(std::time::Duration::from_secs(5), b.read_exact(&mut got))
            .await
            .expect("no 1007 close when the Stream yielded the error")
            .unwrap();
        assert_eq!((got[0], &got[2..4]), (0x88, &[0x03, 0xef][..]));
        drop(ws);
    });
}
