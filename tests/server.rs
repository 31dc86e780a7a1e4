//! The mio server with the echo handler, driven over loopback by our client
//! and by raw sockets. Each test starts its own server on an ephemeral port
//! and stops it before returning.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroUsize;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rfc6455::client::{Client, ClientConfig, Error};
use rfc6455::connection::{Event, MessageKind};
use rfc6455::frame::{decode_frame, DecodeRules, Frame, OpCode, Role, Status};
use rfc6455::server::{Echo, Server, ServerConfig, ServerHandle};
use rfc6455::CloseCode;

struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl Running {
    fn url(&self) -> String {
        format!("ws://{}/echo", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread").expect("server result");
        }
    }
}

fn start(configure: impl FnOnce(&mut ServerConfig)) -> Running {
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
        close_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    configure(&mut config);
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.run(|| Echo));
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

fn client_config() -> ClientConfig {
    ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    }
}

fn connect(server: &Running) -> Client {
    Client::connect_with(&server.url(), &client_config()).expect("connect")
}

fn expect_binary(client: &mut Client) -> Vec<u8> {
    match client.recv().expect("recv") {
        Event::Binary(b) => b.to_vec(),
        other => panic!("expected binary, got {other:?}"),
    }
}

fn expect_text(client: &mut Client) -> String {
    match client.recv().expect("recv") {
        Event::Text(t) => t.to_owned(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn echoes_text_and_binary_at_boundary_sizes() {
    let server = start(|_| {});
    let mut client = connect(&server);
    for size in [0usize, 1, 125, 126, 127, 65535, 65536, 1 << 20, 16 << 20] {
        let data: Vec<u8> = (0..size).map(|i| (i * 7 + size) as u8).collect();
        client.send_binary(&data).unwrap();
        assert!(expect_binary(&mut client) == data, "binary {size}");
        let text: String = "aé中😀".chars().cycle().take(size / 4).collect();
        client.send_text(&text).unwrap();
        assert_eq!(expect_text(&mut client), text, "text {size}");
    }
    assert_eq!(
        client.close(CloseCode::NORMAL, "done").unwrap().0,
        CloseCode::NORMAL
    );
}

#[test]
fn duration_max_timeouts_mean_never_not_a_panic() {
    // The workers add these to Instants: unbounded, the first connection
    // panicked its worker (and the server with it).
    let server = start(|c| {
        c.handshake_timeout = Duration::MAX;
        c.idle_timeout = Some(Duration::MAX);
        c.ping_interval = Some(Duration::MAX);
        c.close_timeout = Duration::MAX;
        c.send_timeout = Some(Duration::MAX);
    });
    let mut client = connect(&server);
    client.send_text("still up").unwrap();
    assert_eq!(expect_text(&mut client), "still up");
    assert_eq!(
        client.close(CloseCode::NORMAL, "").unwrap().0,
        CloseCode::NORMAL
    );
}

#[test]
fn a_zero_read_budget_still_reads() {
    // A budget of 0 read nothing and queued the connection to be read
    // again at once, every turn: the worker spun and never echoed.
    let server = start(|c| c.read_budget = 0);
    let mut client = connect(&server);
    client.send_text("read me").unwrap();
    assert_eq!(expect_text(&mut client), "read me");
}

#[test]
fn fragmented_messages_come_back_whole() {
    let server = start(|_| {});
    let mut client = connect(&server);
    let text = "fragmented ✓ ".repeat(1000);
    client
        .connection()
        .send_message_fragmented(
            MessageKind::Text,
            text.as_bytes(),
            NonZeroUsize::new(7).unwrap(),
        )
        .unwrap();
    client.flush().unwrap();
    assert_eq!(expect_text(&mut client), text);
    client.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn pings_are_answered_and_pipelined_messages_keep_order() {
    let server = start(|_| {});
    let mut client = connect(&server);
    client.ping(b"are you there").unwrap();
    match client.recv().unwrap() {
        Event::Pong(p) => assert_eq!(p, b"are you there"),
        other => panic!("{other:?}"),
    }
    for i in 0..500 {
        client
            .connection()
            .send_text(&format!("message {i}"))
            .unwrap();
    }
    client.flush().unwrap();
    for i in 0..500 {
        assert_eq!(expect_text(&mut client), format!("message {i}"));
    }
    client.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn server_initiated_close_on_shutdown_sends_1001() {
    let server = start(|_| {});
    let mut client = connect(&server);
    client.send_text("hi").unwrap();
    assert_eq!(expect_text(&mut client), "hi");
    server.handle.shutdown();
    match client.recv().unwrap() {
        Event::Close { code, .. } => assert_eq!(code, Some(CloseCode::GOING_AWAY)),
        other => panic!("{other:?}"),
    }
    drop(server); // joins: the worker must finish once the close completed
}

/// A raw connection that has done the opening handshake by hand.
struct Raw {
    stream: TcpStream,
    pending: Vec<u8>,
}

fn raw_request(addr: SocketAddr, request: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        response.extend_from_slice(&buf[..n]);
    }
    (stream, String::from_utf8_lossy(&response).into_owned())
}

const UPGRADE: &str =
    "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn raw_ws(addr: SocketAddr) -> Raw {
    let (stream, response) = raw_request(addr, UPGRADE);
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
    assert!(
        response.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        "{response}"
    );
    let head = response.find("\r\n\r\n").unwrap() + 4;
    Raw {
        stream,
        pending: response.as_bytes()[head..].to_vec(),
    }
}

impl Raw {
    fn send_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mut frame = Frame::new(opcode, payload).masked([1, 2, 3, 4]);
        frame.header.fin = fin;
        let mut wire = Vec::new();
        frame.encode_to_vec(&mut wire);
        self.stream.write_all(&wire).unwrap();
    }

    /// Reads frames until the server closes TCP; returns them.
    fn frames_until_eof(&mut self) -> Vec<(OpCode, Vec<u8>)> {
        let mut wire = std::mem::take(&mut self.pending);
        let mut buf = [0u8; 65536];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => wire.extend_from_slice(&buf[..n]),
                Err(e) => panic!("read: {e}"),
            }
        }
        let rules = DecodeRules {
            max_frame_size: u64::MAX,
            ..DecodeRules::new(Role::Client)
        };
        let mut frames = Vec::new();
        let mut at = 0;
        while let Ok(Status::Complete((f, used))) = decode_frame(&mut wire[at..], &rules) {
            frames.push((f.header.opcode, f.payload.to_vec()));
            at += used;
        }
        frames
    }
}

fn close_code(frames: &[(OpCode, Vec<u8>)]) -> Option<u16> {
    frames
        .iter()
        .find(|(op, _)| *op == OpCode::Close)
        .map(|(_, p)| u16::from_be_bytes([p[0], p[1]]))
}

#[test]
fn invalid_frames_get_the_right_close_code() {
    let server = start(|c| c.connection.limits.max_message_size = 1000);
    type Case = (&'static str, fn(&mut Raw), u16);
    let cases: [Case; 6] = [
        (
            "reserved opcode",
            |r| r.send_frame(true, OpCode::Text, b""),
            1000,
        ),
        (
            "unmasked",
            |r| r.stream.write_all(&[0x81, 0x01, b'x']).unwrap(),
            1002,
        ),
        (
            "rsv1",
            |r| r.stream.write_all(&[0xc1, 0x80, 0, 0, 0, 0]).unwrap(),
            1002,
        ),
        (
            "bad utf-8",
            |r| r.send_frame(true, OpCode::Text, &[0xff]),
            1007,
        ),
        (
            "too big",
            |r| r.send_frame(true, OpCode::Binary, &[0; 1001]),
            1009,
        ),
        (
            "orphan continuation",
            |r| r.send_frame(true, OpCode::Continuation, b"x"),
            1002,
        ),
    ];
    for (name, act, code) in cases {
        let mut raw = raw_ws(server.addr);
        act(&mut raw);
        if code == 1000 {
            // Control: a valid frame is echoed, then a normal close.
            raw.send_frame(true, OpCode::Close, &1000u16.to_be_bytes());
        }
        let frames = raw.frames_until_eof();
        assert_eq!(close_code(&frames), Some(code), "{name}: {frames:?}");
    }
}

#[test]
fn handshake_errors_get_the_right_status() {
    let server = start(|c| c.allowed_origins = vec!["http://good.example".into()]);
    let cases = [
        (
            "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
            "405",
        ),
        // The body's length is settled before any route sees the request.
        ("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", "411"),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n",
            "400",
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
            "426",
        ),
        (
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Origin: http://evil.example\r\n\r\n",
            "403",
        ),
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "200"),
        ("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", "426"),
        ("GET / HTTP/1.1\nHost: x\n\n", "400"),
    ];
    for (request, status) in cases {
        let (mut stream, response) = raw_request(server.addr, request);
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?} -> {response}"
        );
        let connection = response
            .lines()
            .find(|l| l.starts_with("Connection: "))
            .unwrap_or("");
        assert!(connection.ends_with("close"), "{response}");
        // Every answer names the server, the parser's refusals included.
        assert!(response.contains("\r\nServer: rfc6455/"), "{response}");
        // The server closes after the response.
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
    }
    let (_, page) = raw_request(server.addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(page.contains("text/html"), "{page}");
    let with_origin =
        "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
        Origin: http://good.example\r\n\r\n";
    let (_, response) = raw_request(server.addr, with_origin);
    assert!(response.starts_with("HTTP/1.1 101"), "{response}");
}

#[test]
fn a_405_lists_every_method_served() {
    let server = start(|_| {});
    // HEAD is served (it gets GET's head), so Allow names it too (RFC 9110
    // section 15.5.6: the methods the resource supports).
    let (_, head) = raw_request(server.addr, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    let (_, response) = raw_request(server.addr, "DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(response.starts_with("HTTP/1.1 405 "), "{response}");
    assert!(response.contains("\r\nAllow: GET, HEAD\r\n"), "{response}");
}

#[test]
fn the_echo_handler_answers_without_reading_a_body() {
    // No route of Echo reads a body: a request announcing one (that never
    // comes) is answered from its head, not after the handshake timeout.
    let server = start(|c| c.handshake_timeout = Duration::from_secs(60));
    for (request, want) in [
        (
            "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
            "200",
        ),
        (
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
            "405",
        ),
    ] {
        let (_, response) = raw_request(server.addr, request);
        assert!(
            response.starts_with(&format!("HTTP/1.1 {want} ")),
            "{request:?}: {response}"
        );
    }
}

#[test]
fn subprotocol_is_chosen_by_server_preference() {
    let server = start(|c| c.subprotocols = vec!["v2.echo".into(), "v1.echo".into()]);
    let mut config = client_config();
    config.protocols = vec!["v1.echo".into(), "v2.echo".into()];
    let client = Client::connect_with(&server.url(), &config).unwrap();
    assert_eq!(client.protocol(), Some("v2.echo"));
    config.protocols = vec!["other".into()];
    let client = Client::connect_with(&server.url(), &config).unwrap();
    assert_eq!(client.protocol(), None);
}

#[test]
fn a_thousand_concurrent_connections_all_echo() {
    let server = start(|c| c.threads = 2);
    let mut clients: Vec<Client> = (0..1000).map(|_| connect(&server)).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send_text(&format!("client {i}")).unwrap();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(expect_text(c), format!("client {i}"));
    }
    for c in &mut clients {
        c.close(CloseCode::NORMAL, "").unwrap();
    }
}

#[test]
fn first_frame_in_the_same_packet_as_the_handshake_is_not_lost() {
    // Small and large: a large echo is written without a copy when it can
    // be, but never ahead of the 101 it follows.
    let server = start(|_| {});
    for early in [b"early".to_vec(), vec![7u8; 8192], vec![3u8; 70_000]] {
        let mut frame = Vec::new();
        Frame::new(OpCode::Binary, &early)
            .masked([9, 9, 9, 9])
            .encode_to_vec(&mut frame);
        let mut request = UPGRADE.as_bytes().to_vec();
        request.extend_from_slice(&frame);
        Frame::new(OpCode::Close, &1000u16.to_be_bytes())
            .masked([1, 1, 1, 1])
            .encode_to_vec(&mut request);
        let mut stream = TcpStream::connect(server.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        assert!(
            all.starts_with(b"HTTP/1.1 101"),
            "{} bytes: not the 101 first",
            early.len()
        );
        let head = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut raw = Raw {
            stream,
            pending: all[head..].to_vec(),
        };
        let frames = raw.frames_until_eof();
        assert!(
            frames[0] == (OpCode::Binary, early.clone()),
            "{} bytes",
            early.len()
        );
        assert_eq!(close_code(&frames), Some(1000));
    }
}

#[test]
fn pipelined_large_and_small_messages_keep_order() {
    // Small echoes are queued; large ones are written from the read buffer
    // when nothing else waits, or queued behind the others when more input
    // does. Mixed and pipelined, they must still come back in order.
    let server = start(|_| {});
    let mut client = connect(&server);
    let sizes = [
        100usize, 5000, 70_000, 20, 4096, 4095, 200_000, 16_384, 1, 9000,
    ];
    let message = |i: usize| -> Vec<u8> {
        let size = sizes[i % sizes.len()];
        (0..size).map(|j| (i * 31 + j) as u8).collect()
    };
    for round in 0..3 {
        for i in 0..60 {
            client.connection().send_binary(&message(i)).unwrap();
        }
        client.flush().unwrap();
        for i in 0..60 {
            let got = expect_binary(&mut client);
            assert!(
                got == message(i),
                "round {round}, message {i}: {} bytes back, {} sent",
                got.len(),
                message(i).len()
            );
        }
    }
    client.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn end_of_stream_right_after_a_message_is_noticed() {
    // The server stops reading at a short read (the socket is then empty)
    // unless epoll already reported the end of stream, which brings no
    // second event. A message and the FIN sent back to back often arrive
    // together: the echo must come back, then the server's own FIN, not a
    // hang. Small and large messages, so the last read is short or full.
    let server = start(|_| {});
    for round in 0..40 {
        let size = if round % 2 == 0 { 20 } else { 100_000 };
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut raw = raw_ws(server.addr);
        raw.send_frame(true, OpCode::Binary, &payload);
        raw.stream.shutdown(std::net::Shutdown::Write).unwrap();
        let frames = raw.frames_until_eof();
        assert_eq!(frames.len(), 1, "round {round}: {} frames", frames.len());
        assert_eq!(frames[0].0, OpCode::Binary, "round {round}");
        assert!(frames[0].1 == payload, "round {round}: echo differs");
    }
}

#[test]
fn urgent_data_does_not_stall_the_frames_behind_it() {
    // A read stops short at TCP's urgent mark, with more data behind it and
    // no new readiness event to come; the server must read on. (Outside
    // SO_OOBINLINE the urgent byte leaves the stream, so the frames arrive
    // whole.)
    let server = start(|_| {});
    for round in 0..50 {
        let mut raw = raw_ws(server.addr);
        // The first frame and the urgent byte (the last byte of an
        // out-of-band send) in one segment, the rest right behind it.
        let mut first = Vec::new();
        Frame::new(OpCode::Text, b"before")
            .masked([1, 2, 3, 4])
            .encode_to_vec(&mut first);
        first.push(b'!');
        let mut rest = Vec::new();
        Frame::new(OpCode::Text, b"after")
            .masked([5, 6, 7, 8])
            .encode_to_vec(&mut rest);
        Frame::new(OpCode::Close, &1000u16.to_be_bytes())
            .masked([9, 9, 9, 9])
            .encode_to_vec(&mut rest);
        let sent = socket2::SockRef::from(&raw.stream)
            .send_out_of_band(&first)
            .unwrap();
        assert_eq!(sent, first.len());
        raw.stream.write_all(&rest).unwrap();
        let frames = raw.frames_until_eof();
        let texts: Vec<&[u8]> = frames
            .iter()
            .filter(|(op, _)| *op == OpCode::Text)
            .map(|(_, p)| p.as_slice())
            .collect();
        assert_eq!(texts, [&b"before"[..], b"after"], "round {round}");
        assert_eq!(close_code(&frames), Some(1000), "round {round}");
    }
}

#[test]
fn a_peer_that_stops_reading_is_dropped_after_the_send_timeout() {
    // It floods messages and reads no echo: the server's output backs up,
    // backpressure stops it reading, and nothing moves either way. After the
    // send timeout the server drops the connection, so the peer's reads end
    // (the echoes that got through, then a reset or end of stream) instead
    // of waiting forever.
    let server = start(|c| {
        c.send_timeout = Some(Duration::from_millis(300));
        c.high_water = 64 << 10;
        c.low_water = 16 << 10;
    });
    let mut raw = raw_ws(server.addr);
    let mut wire = Vec::new();
    Frame::new(OpCode::Binary, &[7u8; 60_000])
        .masked([1, 2, 3, 4])
        .encode_to_vec(&mut wire);
    raw.stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut stopped = None;
    for _ in 0..2000 {
        if let Err(e) = raw.stream.write_all(&wire) {
            stopped = Some(e.kind());
            break;
        }
    }
    match stopped {
        // The server was still waiting: give it time to give up.
        Some(ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            std::thread::sleep(Duration::from_millis(1000))
        }
        // It already has, while the peer was still blocked writing.
        Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        other => panic!("the flood ended with {other:?}"),
    }
    raw.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match raw.stream.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e} (the connection is still open)"),
        }
    }
}

#[test]
fn handshake_timeout_drops_silent_connections() {
    let server = start(|c| c.handshake_timeout = Duration::from_millis(300));
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    assert_eq!(
        stream.read(&mut buf).unwrap(),
        0,
        "closed without a response"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn heartbeat_pings_quiet_clients_and_drops_silent_ones() {
    let server = start(|c| c.ping_interval = Some(Duration::from_millis(200)));
    // A client that answers pings (recv does) stays connected.
    let mut client = connect(&server);
    match client.recv().unwrap() {
        Event::Ping(p) => assert!(p.is_empty()),
        other => panic!("{other:?}"),
    }
    client.send_text("still here").unwrap();
    assert_eq!(expect_text(&mut client), "still here");
    // A raw peer that never answers is closed with 1011.
    let mut raw = raw_ws(server.addr);
    let frames = raw.frames_until_eof();
    assert_eq!(frames.first().map(|f| f.0), Some(OpCode::Ping));
    assert_eq!(close_code(&frames), Some(1011));
}

#[test]
fn idle_timeout_closes_with_1001() {
    let server = start(|c| c.idle_timeout = Some(Duration::from_millis(200)));
    let mut client = connect(&server);
    match client.recv().unwrap() {
        Event::Close { code, reason } => {
            assert_eq!(code, Some(CloseCode::GOING_AWAY));
            assert_eq!(reason, "idle timeout");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(client.recv(), Err(Error::Closed(..))));
}

#[test]
fn idle_timeout_counts_messages_not_the_pongs_to_our_pings() {
    // Pings every 100 ms, answered by the client (recv does): the pongs
    // once kept the connection from ever being idle.
    let server = start(|c| {
        c.idle_timeout = Some(Duration::from_millis(600));
        c.ping_interval = Some(Duration::from_millis(100));
    });
    // Before the connect: the server counts from its accept, which comes
    // before connect returns.
    let started = Instant::now();
    let mut quiet = connect(&server);
    let mut talker = connect(&server);
    let mut pings = 0;
    let reason = loop {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not closed as idle after {pings} pings"
        );
        match quiet.recv() {
            Ok(Event::Ping(_)) => pings += 1,
            Ok(Event::Close { code, reason }) => {
                assert_eq!(code, Some(CloseCode::GOING_AWAY));
                break reason.to_owned();
            }
            other => panic!("{other:?} after {pings} pings"),
        }
        // The talker sends a message every 100 ms or so and stays.
        talker.send_text("here").unwrap();
        loop {
            match talker.recv().unwrap() {
                Event::Text(t) => {
                    assert_eq!(t, "here");
                    break;
                }
                Event::Ping(_) => {}
                other => panic!("talker: {other:?}"),
            }
        }
    };
    assert_eq!(reason, "idle timeout");
    assert!(pings >= 2, "answered {pings} pings first");
    assert!(started.elapsed() >= Duration::from_millis(600));
    talker.send_text("still open").unwrap();
    assert_eq!(expect_text(&mut talker), "still open");
}

#[test]
fn refused_connection_is_a_clear_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    match Client::connect(&format!("ws://{addr}/")) {
        Err(Error::Connect(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused),
        other => panic!("{other:?}"),
    }
    match Client::connect("https://example.com/") {
        Err(Error::Url(_)) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn echoes_written_from_the_read_buffer_keep_order_when_the_socket_fills() {
    // Large echoes leave straight from the server's read buffers once the
    // messages of a read are handled; what the socket does not take is
    // queued ahead of what came after them (small echoes, pongs, the close).
    // This client sends everything before it reads anything, so the
    // server's socket fills and its writes come back short.
    let server = start(|_| {});
    let mut raw = raw_ws(server.addr);
    let sizes = [70_000usize, 16_384, 5, 300_000, 4096, 9000, 200, 65_536];
    let mut sent = Vec::new();
    let mut wire = Vec::new();
    let mut pings = 0;
    // About 11 MB of echoes: more than the socket buffers hold.
    for i in 0..240 {
        let size = sizes[i % sizes.len()];
        let (opcode, payload): (OpCode, Vec<u8>) = if i % 3 == 0 {
            let text = (0..size).map(|j| b'a' + ((i + j) % 26) as u8).collect();
            (OpCode::Text, text)
        } else {
            (
                OpCode::Binary,
                (0..size).map(|j| (i * 7 + j) as u8).collect(),
            )
        };
        Frame::new(opcode, &payload)
            .masked([i as u8, 2, 3, 4])
            .encode_to_vec(&mut wire);
        sent.push((opcode, payload));
        if i % 5 == 2 {
            Frame::new(OpCode::Ping, b"p")
                .masked([9, 8, 7, 6])
                .encode_to_vec(&mut wire);
            pings += 1;
        }
    }
    Frame::new(OpCode::Close, &1000u16.to_be_bytes())
        .masked([1, 1, 1, 1])
        .encode_to_vec(&mut wire);
    let mut writer = raw.stream.try_clone().unwrap();
    let sending = std::thread::spawn(move || writer.write_all(&wire).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let frames = raw.frames_until_eof();
    sending.join().unwrap();
    let echoes: Vec<_> = frames
        .iter()
        .filter(|(op, _)| matches!(op, OpCode::Text | OpCode::Binary))
        .cloned()
        .collect();
    assert_eq!(echoes.len(), sent.len());
    for (i, (got, want)) in echoes.iter().zip(&sent).enumerate() {
        assert!(
            got == want,
            "echo {i}: {} bytes of {:?}",
            got.1.len(),
            got.0
        );
    }
    let pongs = frames.iter().filter(|(op, _)| *op == OpCode::Pong).count();
    assert_eq!(pongs, pings);
    assert_eq!(frames.last().map(|f| f.0), Some(OpCode::Close));
    assert_eq!(close_code(&frames), Some(1000));
}

#[test]
fn a_first_frame_with_the_handshake_does_not_date_the_connection_from_the_server_start() {
    // The frame that comes in the same packet as the upgrade request counts
    // as received at the upgrade, not when the worker started: the idle
    // timeout runs from then. (It once counted from the worker's start, so
    // a server up for longer than the idle timeout closed such a
    // connection at its first look, 2 s in, however recent the frame.)
    let server = start(|c| c.idle_timeout = Some(Duration::from_secs(4)));
    std::thread::sleep(Duration::from_millis(2500));
    let mut request = UPGRADE.as_bytes().to_vec();
    Frame::new(OpCode::Binary, b"early")
        .masked([9, 9, 9, 9])
        .encode_to_vec(&mut request);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(&request).unwrap();
    let mut wire = Vec::new();
    let mut buf = [0u8; 4096];
    let rules = DecodeRules::new(Role::Client);
    let mut next_frame = |stream: &mut TcpStream, wire: &mut Vec<u8>| loop {
        if let Some(head) = wire.windows(4).position(|w| w == b"\r\n\r\n") {
            if wire.starts_with(b"HTTP/1.1 101") {
                wire.drain(..head + 4);
            }
        }
        if !wire.starts_with(b"HTTP") {
            if let Ok(Status::Complete((f, used))) = decode_frame(&mut wire[..], &rules) {
                let frame = (f.header.opcode, f.payload.to_vec());
                wire.drain(..used);
                return frame;
            }
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed");
        wire.extend_from_slice(&buf[..n]);
    };
    assert_eq!(
        next_frame(&mut stream, &mut wire),
        (OpCode::Binary, b"early".to_vec())
    );
    // 3 s later, 1 s before the idle timeout.
    std::thread::sleep(Duration::from_secs(3));
    let mut frame = Vec::new();
    Frame::new(OpCode::Binary, b"later")
        .masked([1, 2, 3, 4])
        .encode_to_vec(&mut frame);
    stream.write_all(&frame).unwrap();
    assert_eq!(
        next_frame(&mut stream, &mut wire),
        (OpCode::Binary, b"later".to_vec()),
        "closed before the idle timeout"
    );
}

#[test]
fn max_connections_counts_over_all_workers() {
    // One connection allowed, two workers: whichever worker the kernel
    // hands the next connections to, they are refused with 503 while the
    // first is open. (Each worker once allowed its share rounded up, one
    // here, so a second connection that landed on the other worker was
    // let in.)
    let server = start(|c| {
        c.threads = 2;
        c.max_connections = 1;
    });
    let mut first = connect(&server);
    for i in 0..16 {
        let (_stream, response) = raw_request(server.addr, UPGRADE);
        assert!(
            response.starts_with("HTTP/1.1 503"),
            "connection {i} beyond the first: {response}"
        );
    }
    first.send_text("still here").unwrap();
    assert_eq!(expect_text(&mut first), "still here");
    drop(first);
    // Its slot is free again once the server has seen it go.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_stream, response) = raw_request(server.addr, UPGRADE);
        if response.starts_with("HTTP/1.1 101") {
            break;
        }
        assert!(Instant::now() < deadline, "never freed: {response}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_slow_reader_is_not_pinged_out_while_its_input_waits_unread() {
    // The peer sends a burst and reads the echoes slowly but steadily:
    // backpressure stops the server reading it, so its input (and any
    // answer to a ping) waits in the socket. That is the server's doing,
    // not a dead peer: its output still makes progress. (The ping timeout
    // once closed it with 1011 after two intervals of such a pause.)
    let server = start(|c| {
        // Two intervals (800 ms) are shorter than the pause of its reading
        // below, and long enough not to mistake a test thread descheduled
        // on a busy machine for a dead peer.
        c.ping_interval = Some(Duration::from_millis(400));
        c.high_water = 256 << 10;
        c.low_water = 16 << 10;
    });
    // Small segments and a small window keep the kernel's buffers small,
    // so that the server's own queue fills.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_tcp_mss(536).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(UPGRADE.as_bytes()).unwrap();
    const COUNT: usize = 4000;
    let mut burst = Vec::new();
    for i in 0..COUNT {
        Frame::new(OpCode::Binary, &[(i % 251) as u8; 256])
            .masked([1, 2, 3, 4])
            .encode_to_vec(&mut burst);
    }
    let mut writer = stream.try_clone().unwrap();
    let sender = std::thread::spawn(move || writer.write_all(&burst));
    let mut wire = Vec::new();
    let mut buf = [0u8; 4096];
    let rules = DecodeRules::new(Role::Client);
    let mut echoes = 0;
    let slow_until = Instant::now() + Duration::from_millis(2000);
    while echoes < COUNT {
        if Instant::now() < slow_until {
            // About 200 KB/s: the server's output moves every few tens of
            // milliseconds, while a pause of its reading (240 KiB to
            // drain, over a second) outlasts two ping intervals.
            std::thread::sleep(Duration::from_millis(20));
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {echoes} echoes");
        wire.extend_from_slice(&buf[..n]);
        if wire.starts_with(b"HTTP/1.1 ") {
            let Some(head) = wire.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            assert!(wire.starts_with(b"HTTP/1.1 101"));
            wire.drain(..head + 4);
        }
        while echoes < COUNT {
            let Ok(Status::Complete((f, used))) = decode_frame(&mut wire[..], &rules) else {
                break;
            };
            match f.header.opcode {
                OpCode::Binary => {
                    assert!(f.payload == [(echoes % 251) as u8; 256]);
                    echoes += 1;
                }
                OpCode::Ping => {}
                other => panic!(
                    "{other:?} {:?} after {echoes} echoes",
                    String::from_utf8_lossy(f.payload)
                ),
            }
            wire.drain(..used);
        }
    }
    sender.join().unwrap().unwrap();
}

/// Serves a large page, a download that takes a while.
struct Download;

const DOWNLOAD_LEN: usize = 8 << 20;

impl rfc6455::server::Handler for Download {
    fn on_http(
        &mut self,
        _ctx: &mut rfc6455::server::Context<'_>,
        _request: &rfc6455::server::HttpRequest<'_>,
    ) -> rfc6455::server::Response {
        rfc6455::server::Response::new(200, "x".repeat(DOWNLOAD_LEN))
    }

    fn on_message(
        &mut self,
        _peer: &mut rfc6455::server::Peer<'_>,
        _message: rfc6455::server::Message<'_>,
    ) {
    }
}

#[test]
fn a_response_still_being_read_outlives_the_handshake_timeout() {
    // The request came in time; the response leaves as fast as the client
    // reads it, which takes longer than the handshake timeout. (It was cut
    // off at the handshake deadline, with a clean end of stream.)
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
        handshake_timeout: Duration::from_secs(1),
        close_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    let server = Server::bind(config).expect("bind");
    let (addr, handle) = (server.local_addr(), server.handle());
    let running = Running {
        addr,
        handle,
        thread: Some(std::thread::spawn(move || server.run(|| Download))),
    };
    let mut stream = TcpStream::connect(running.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET /big HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read: {e}"),
        }
        // About 3 MB/s: well over the handshake timeout in all.
        std::thread::sleep(Duration::from_millis(20));
    }
    let head = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(got.starts_with(b"HTTP/1.1 200"));
    assert_eq!(got.len() - head, DOWNLOAD_LEN, "the response was cut off");
}

/// Answers "which" with its worker's index, and its worker panics on
/// "boom".
struct Fragile;

impl rfc6455::server::Handler for Fragile {
    fn on_message(
        &mut self,
        peer: &mut rfc6455::server::Peer<'_>,
        message: rfc6455::server::Message<'_>,
    ) {
        match message {
            rfc6455::server::Message::Text("boom") => {
                panic!("the handler's bug (expected by the test)")
            }
            rfc6455::server::Message::Text("which") => {
                let worker = peer.id().worker.to_string();
                let _ = peer.send(MessageKind::Text, worker.as_bytes());
            }
            _ => {}
        }
    }
}

#[test]
fn a_worker_whose_handler_panics_stops_the_server_gracefully() {
    let config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 2,
        close_timeout: Duration::from_secs(2),
        ..ServerConfig::default()
    };
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(server.run(|| Fragile)));
    // A connection on each worker (the kernel picks; a bounded number of
    // tries).
    let url = format!("ws://{addr}/echo");
    let mut on: [Option<Client>; 2] = [None, None];
    for _ in 0..200 {
        let mut c = Client::connect_with(&url, &client_config()).unwrap();
        c.send_text("which").unwrap();
        let worker: usize = match c.recv().unwrap() {
            Event::Text(t) => t.parse().unwrap(),
            other => panic!("{other:?}"),
        };
        on[worker].get_or_insert(c);
        if on.iter().all(Option::is_some) {
            break;
        }
    }
    let [Some(mut culprit), Some(mut bystander)] = on else {
        panic!("every connection landed on one worker");
    };
    culprit.send_text("boom").unwrap();
    // The other worker closes its connections as in a shutdown.
    match bystander.recv() {
        Ok(Event::Close { code, .. }) => assert_eq!(code, Some(CloseCode::GOING_AWAY)),
        other => panic!("{other:?}"),
    }
    let result = result
        .recv_timeout(Duration::from_secs(30))
        .expect("run() returns once a worker is gone");
    let e = result.expect_err("the worker's panic is reported");
    assert!(e.to_string().contains("panicked"), "{e}");
    // And nobody listens any more.
    assert!(TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err());
}
