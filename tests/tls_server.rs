//! The mio server over TLS, driven by our client (`wss://`) and by raw
//! rustls clients for what a well-behaved client never does. Every test
//! starts its own server on an ephemeral port with a certificate made by
//! rcgen, and stops it before returning.

#![cfg(all(feature = "server", feature = "tls"))]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::num::NonZeroUsize;
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::pki::{temp_dir, PkiFiles, TestPki};
use rfc6455::client::{Client, ClientConfig, Error};
use rfc6455::connection::{Event, MessageKind};
use rfc6455::frame::{decode_frame, DecodeRules, Frame, OpCode, Role, Status};
use rfc6455::server::tls::ServerTls;
use rfc6455::server::{
    ConnId, Context, Echo, Handler, Message, Peer, Server, ServerConfig, ServerHandle,
};
use rfc6455::tls::{rustls, ClientTls};
use rfc6455::CloseCode;

struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
    files: PkiFiles,
    tls: ServerTls,
}

impl Running {
    fn url(&self) -> String {
        format!("wss://localhost:{}/echo", self.addr.port())
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

fn start_with<H: Handler + 'static>(
    configure: impl FnOnce(&mut ServerConfig),
    make: impl Fn() -> H + Send + Sync + 'static,
) -> Running {
    let files = TestPki::localhost().write(&temp_dir("tls-server"));
    let tls = ServerTls::from_pem_files(&files.cert, &files.key).unwrap();
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        threads: 1,
        close_timeout: Duration::from_secs(2),
        tls: Some(tls.clone()),
        ..ServerConfig::default()
    };
    configure(&mut config);
    let server = Server::bind(config).expect("bind");
    let addr = server.local_addr();
    let handle = server.handle();
    let thread = std::thread::spawn(move || server.run(make));
    Running {
        addr,
        handle,
        thread: Some(thread),
        files,
        tls,
    }
}

fn start(configure: impl FnOnce(&mut ServerConfig)) -> Running {
    start_with(configure, || Echo)
}

fn client_config(server: &Running) -> ClientConfig {
    ClientConfig {
        read_timeout: Some(Duration::from_secs(10)),
        tls: ClientTls::from_ca_file(&server.files.ca).unwrap(),
        ..ClientConfig::default()
    }
}

fn connect(server: &Running) -> Client {
    Client::connect_with(&server.url(), &client_config(server)).expect("connect")
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
fn echoes_text_and_binary_at_boundary_sizes_over_tls() {
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
fn fragmented_and_pipelined_messages_over_tls() {
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
    client.ping(b"are you there").unwrap();
    match client.recv().unwrap() {
        Event::Pong(p) => assert_eq!(p, b"are you there"),
        other => panic!("{other:?}"),
    }
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
            assert!(
                expect_binary(&mut client) == message(i),
                "round {round} message {i}"
            );
        }
    }
    client.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn the_server_closes_first_over_tls_on_shutdown() {
    let server = start(|_| {});
    let mut client = connect(&server);
    client.send_text("hi").unwrap();
    assert_eq!(expect_text(&mut client), "hi");
    server.handle.shutdown();
    match client.recv().unwrap() {
        Event::Close { code, .. } => assert_eq!(code, Some(CloseCode::GOING_AWAY)),
        other => panic!("{other:?}"),
    }
    drop(server);
}

/// A rustls client over a blocking socket, with the WebSocket upgrade done.
struct RawTls {
    stream: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    pending: Vec<u8>,
}

fn tls_client_config(
    server: &Running,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(&server.files.ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(rfc6455::tls::provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn tls_connect(
    server: &Running,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn = rustls::ClientConnection::new(
        tls_client_config(server, versions),
        "localhost".try_into().unwrap(),
    )
    .unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

const UPGRADE: &str =
    "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fn read_head(stream: &mut impl Read) -> (String, Vec<u8>) {
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "end of stream in the response head");
        response.extend_from_slice(&buf[..n]);
    }
    let head = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    (
        String::from_utf8_lossy(&response[..head]).into_owned(),
        response[head..].to_vec(),
    )
}

fn raw_tls(server: &Running) -> RawTls {
    let mut stream = tls_connect(server, rustls::DEFAULT_VERSIONS);
    stream.write_all(UPGRADE.as_bytes()).unwrap();
    let (head, pending) = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    RawTls { stream, pending }
}

fn frame_bytes(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut frame = Frame::new(opcode, payload).masked([1, 2, 3, 4]);
    frame.header.fin = fin;
    let mut wire = Vec::new();
    frame.encode_to_vec(&mut wire);
    wire
}

/// How a stream of TLS ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// close_notify, then the end of TCP.
    CloseNotify,
    /// TCP ended without close_notify.
    Truncated,
}

impl RawTls {
    fn send_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        self.stream
            .write_all(&frame_bytes(fin, opcode, payload))
            .unwrap();
    }

    /// Reads frames until the stream ends; returns them and how it ended.
    /// A masked binary frame and close_notify, written in one go.
    fn send_binary_then_close_notify(&mut self, payload: &[u8]) {
        let wire = frame_bytes(true, OpCode::Binary, payload);
        self.stream.conn.set_buffer_limit(None);
        self.stream.conn.writer().write_all(&wire).unwrap();
        self.stream.conn.send_close_notify();
        let mut records = Vec::new();
        while self.stream.conn.wants_write() {
            self.stream.conn.write_tls(&mut records).unwrap();
        }
        self.stream.sock.write_all(&records).unwrap();
    }

    fn frames_until_end(&mut self) -> (Vec<(OpCode, Vec<u8>)>, End) {
        let mut wire = std::mem::take(&mut self.pending);
        let mut buf = [0u8; 65536];
        let end = loop {
            match self.stream.read(&mut buf) {
                Ok(0) => break End::CloseNotify,
                Ok(n) => wire.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => break End::Truncated,
                Err(e) => panic!("read: {e}"),
            }
        };
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
        (frames, end)
    }
}

#[test]
fn close_notify_follows_the_closing_handshake() {
    let server = start(|_| {});
    // Client-initiated close.
    let mut raw = raw_tls(&server);
    raw.send_frame(true, OpCode::Text, b"last words");
    raw.send_frame(true, OpCode::Close, &1000u16.to_be_bytes());
    let (frames, end) = raw.frames_until_end();
    assert_eq!(frames[0], (OpCode::Text, b"last words".to_vec()));
    assert_eq!(frames[1].0, OpCode::Close);
    assert_eq!(end, End::CloseNotify, "close_notify before the FIN");
    // Server-initiated close (a protocol error: an unmasked frame is not
    // even needed; a reserved opcode will do).
    let mut raw = raw_tls(&server);
    raw.send_frame(true, OpCode::Text, b"ok");
    raw.stream.write_all(&[0x83, 0x80, 0, 0, 0, 0]).unwrap();
    let (frames, end) = raw.frames_until_end();
    assert_eq!(frames[0], (OpCode::Text, b"ok".to_vec()));
    assert_eq!(frames[1].0, OpCode::Close);
    assert_eq!(&frames[1].1[..2], &1002u16.to_be_bytes());
    assert_eq!(end, End::CloseNotify);
}

/// Echoes and reports every close code it is told about.
struct Recorder(Arc<Mutex<mpsc::Sender<CloseCode>>>);

impl Handler for Recorder {
    fn on_message(&mut self, peer: &mut Peer<'_>, message: Message<'_>) {
        Echo.on_message(peer, message)
    }

    fn on_close(&mut self, _ctx: &mut Context<'_>, _conn: ConnId, code: CloseCode) {
        let _ = self.0.lock().unwrap().send(code);
    }
}

#[test]
fn an_end_without_close_notify_after_a_completed_close_is_clean() {
    let (tx, codes) = mpsc::channel();
    let tx = Arc::new(Mutex::new(tx));
    let server = start_with(|_| {}, move || Recorder(Arc::clone(&tx)));
    // The closing handshake completes, then the client drops TCP without
    // a close_notify, as many clients do.
    let mut raw = raw_tls(&server);
    raw.send_frame(true, OpCode::Close, &1000u16.to_be_bytes());
    let mut buf = [0u8; 64];
    let n = raw.stream.read(&mut buf).unwrap();
    assert!(n >= 4 && buf[0] == 0x88, "close echo");
    raw.stream.sock.shutdown(std::net::Shutdown::Both).unwrap();
    assert_eq!(
        codes.recv_timeout(Duration::from_secs(10)).unwrap(),
        CloseCode::NORMAL
    );
    // Without the closing handshake, the same end is abnormal (1006).
    let mut raw = raw_tls(&server);
    raw.send_frame(true, OpCode::Text, b"bye?");
    let n = raw.stream.read(&mut buf).unwrap();
    assert!(n > 0);
    raw.stream.sock.shutdown(std::net::Shutdown::Both).unwrap();
    assert_eq!(
        codes.recv_timeout(Duration::from_secs(10)).unwrap(),
        CloseCode::ABNORMAL
    );
}

#[test]
fn end_of_stream_right_after_a_message_is_noticed_over_tls() {
    // The message, close_notify and the FIN often arrive in one read: the
    // echo must come back, then the server's own close, not a stall.
    let server = start(|_| {});
    for round in 0..20 {
        let size = if round % 2 == 0 { 20 } else { 100_000 };
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut raw = raw_tls(&server);
        raw.send_binary_then_close_notify(&payload);
        raw.stream.sock.shutdown(std::net::Shutdown::Write).unwrap();
        let (frames, _) = raw.frames_until_end();
        assert_eq!(frames.len(), 1, "round {round}: {} frames", frames.len());
        assert!(frames[0].1 == payload, "round {round}: echo differs");
    }
}

#[test]
fn close_notify_without_a_fin_after_a_message_is_noticed() {
    // The message and close_notify arrive in one read, and the client
    // keeps its side of TCP open: nothing but the TLS layer says the
    // stream ended, and no readiness event follows. The server must see
    // the end anyway: the echo, then its own close_notify, long before
    // any timeout (there is none here; the client's read gives up at 10 s).
    let server = start(|c| {
        c.idle_timeout = None;
        c.ping_interval = None;
    });
    for round in 0..10 {
        let size = if round % 2 == 0 { 20 } else { 100_000 };
        let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let mut raw = raw_tls(&server);
        raw.send_binary_then_close_notify(&payload);
        let (frames, end) = raw.frames_until_end();
        assert_eq!(frames.len(), 1, "round {round}: {} frames", frames.len());
        assert!(frames[0].1 == payload, "round {round}: echo differs");
        assert!(matches!(end, End::CloseNotify), "round {round}");
    }
}

#[test]
fn one_byte_per_segment_from_the_client_hello_on() {
    // Every ciphertext byte, from the ClientHello to the last frame, goes
    // out in a write of its own (TCP_NODELAY), so the server reads TLS
    // records a byte or a few at a time.
    let server = start(|_| {});
    let config = tls_client_config(&server, rustls::DEFAULT_VERSIONS);
    let mut conn = rustls::ClientConnection::new(config, "localhost".try_into().unwrap()).unwrap();
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let trickle = |conn: &mut rustls::ClientConnection, tcp: &mut TcpStream| {
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out).unwrap();
        }
        for b in out {
            tcp.write_all(&[b]).unwrap();
        }
    };
    trickle(&mut conn, &mut tcp);
    while conn.is_handshaking() {
        conn.read_tls(&mut tcp).unwrap();
        conn.process_new_packets().unwrap();
        trickle(&mut conn, &mut tcp);
    }
    conn.set_buffer_limit(None);
    conn.writer().write_all(UPGRADE.as_bytes()).unwrap();
    let mut message = Vec::new();
    for size in [1usize, 126, 70_000] {
        message.extend(frame_bytes(true, OpCode::Binary, &vec![size as u8; size]));
    }
    // Frames in records of 5 bytes each: headers split across records.
    for piece in message.chunks(5).take(200) {
        conn.writer().write_all(piece).unwrap();
    }
    conn.writer()
        .write_all(&message[(200 * 5).min(message.len())..])
        .unwrap();
    conn.writer()
        .write_all(&frame_bytes(true, OpCode::Close, &1000u16.to_be_bytes()))
        .unwrap();
    trickle(&mut conn, &mut tcp);
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let (head, pending) = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let mut raw = RawTls { stream, pending };
    let (frames, end) = raw.frames_until_end();
    let sizes: Vec<usize> = frames.iter().map(|f| f.1.len()).collect();
    assert_eq!(sizes, [1, 126, 70_000, 2]);
    assert_eq!(frames[3].0, OpCode::Close);
    assert_eq!(end, End::CloseNotify);
}

#[test]
fn tls_1_2_and_https_pages_are_served() {
    let server = start(|_| {});
    let mut stream = tls_connect(&server, &[&rustls::version::TLS12]);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (head, _) = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(
        stream.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    assert_eq!(stream.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
}

/// Reads until the server ends the connection; returns what it sent and
/// how long that took.
fn until_closed(tcp: &mut TcpStream) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tcp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close: {e}"),
        }
    }
    (got, started.elapsed())
}

#[test]
fn the_handshake_timeout_covers_a_slow_tls_handshake() {
    let server = start(|c| c.handshake_timeout = Duration::from_millis(500));
    // A ClientHello's first bytes, then silence.
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    tcp.write_all(&[0x16, 0x03, 0x01, 0x00]).unwrap();
    let (got, took) = until_closed(&mut tcp);
    assert!(got.is_empty(), "{got:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // A completed TLS handshake with no HTTP request after it: the same
    // deadline.
    let mut stream = tls_connect(&server, rustls::DEFAULT_VERSIONS);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock).unwrap();
    }
    let (_, took) = until_closed(&mut stream.sock);
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn garbage_and_plain_http_get_an_alert_and_a_close() {
    let server = start(|_| {});
    for input in [
        &b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        &[0xff; 300][..],
        &[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00][..],
    ] {
        let mut tcp = TcpStream::connect(server.addr).unwrap();
        tcp.write_all(input).unwrap();
        let (got, took) = until_closed(&mut tcp);
        assert_eq!(got.first(), Some(&0x15), "a TLS alert, got {got:?}");
        assert!(took < Duration::from_secs(5));
    }
    // The server is still fine.
    let mut client = connect(&server);
    client.send_text("after the garbage").unwrap();
    assert_eq!(expect_text(&mut client), "after the garbage");
    client.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn a_client_that_closes_mid_record_is_cleaned_up() {
    let (tx, codes) = mpsc::channel();
    let tx = Arc::new(Mutex::new(tx));
    let server = start_with(|_| {}, move || Recorder(Arc::clone(&tx)));
    let mut raw = raw_tls(&server);
    // Half of a record: its header promises more than comes.
    let mut record = Vec::new();
    raw.stream
        .conn
        .writer()
        .write_all(&frame_bytes(true, OpCode::Text, &[b'x'; 1000]))
        .unwrap();
    while raw.stream.conn.wants_write() {
        raw.stream.conn.write_tls(&mut record).unwrap();
    }
    raw.stream
        .sock
        .write_all(&record[..record.len() / 2])
        .unwrap();
    raw.stream.sock.shutdown(std::net::Shutdown::Both).unwrap();
    assert_eq!(
        codes.recv_timeout(Duration::from_secs(10)).unwrap(),
        CloseCode::ABNORMAL
    );
}

#[test]
fn full_servers_close_tls_connections_without_a_plain_503() {
    let server = start(|c| c.max_connections = 1);
    let mut first = connect(&server);
    let mut tcp = TcpStream::connect(server.addr).unwrap();
    let (got, _) = until_closed(&mut tcp);
    assert!(got.is_empty(), "no plain bytes on a TLS port: {got:?}");
    first.send_text("still served").unwrap();
    assert_eq!(expect_text(&mut first), "still served");
    first.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn a_reloaded_certificate_is_presented_to_new_connections() {
    let server = start(|_| {});
    let old_ca = client_config(&server);
    let mut before = connect(&server);
    // A new CA and certificate in the same files, then a reload.
    let dir = server.files.ca.parent().unwrap().to_owned();
    TestPki::localhost().write(&dir);
    server.tls.reload().unwrap();
    // New connections get the new certificate: the old CA no longer
    // verifies it, the new one does.
    match Client::connect_with(&server.url(), &old_ca) {
        Err(Error::Tls(_)) => {}
        other => panic!("{other:?}"),
    }
    let mut after = connect(&server);
    after.send_text("new").unwrap();
    assert_eq!(expect_text(&mut after), "new");
    after.close(CloseCode::NORMAL, "").unwrap();
    // The connection made before the reload goes on.
    before.send_text("old").unwrap();
    assert_eq!(expect_text(&mut before), "old");
    before.close(CloseCode::NORMAL, "").unwrap();
}

#[test]
fn wss_errors_from_the_client_side_name_tls() {
    let server = start(|_| {});
    // Mozilla's roots do not know the test CA.
    match Client::connect(&server.url()) {
        Err(Error::Tls(_)) => {}
        other => panic!("{other:?}"),
    }
    // Plain ws:// to the TLS port: the server sees garbage and alerts;
    // the client sees a broken handshake, not a WebSocket.
    let url = format!("ws://127.0.0.1:{}/", server.addr.port());
    assert!(Client::connect_with(&url, &client_config(&server)).is_err());
}

/// The reconnecting client over `wss://`, with keepalive pings (which
/// read through TLS with short socket timeouts): it connects, echoes,
/// reconnects and echoes again over a fresh TLS session.
#[test]
fn the_reconnecting_client_speaks_wss_with_keepalive() {
    use rfc6455::client::Keepalive;
    use rfc6455::reconnect::{Backoff, Incoming, ReconnectConfig, Reconnecting};
    let server = start(|_| {});
    let config = ReconnectConfig {
        client: ClientConfig {
            keepalive: Some(Keepalive {
                interval: Duration::from_millis(100),
                timeout: Duration::from_secs(2),
            }),
            ..client_config(&server)
        },
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            ..Backoff::default()
        },
        resume: false,
        max_attempts: Some(20),
        ..ReconnectConfig::default()
    };
    let mut c = Reconnecting::new(&server.url(), config);
    for reconnected in [false, true] {
        match c.recv().expect("recv") {
            Incoming::Connected { reconnected: r } => assert_eq!(r, reconnected),
            other => panic!("expected Connected, got {other:?}"),
        }
        // Quiet long enough for several keepalive pings to go and come.
        std::thread::sleep(Duration::from_millis(350));
        c.send_text("over tls").unwrap();
        match c.recv().expect("recv") {
            Incoming::Text(t) => assert_eq!(t, "over tls"),
            other => panic!("expected the echo, got {other:?}"),
        }
        c.reconnect_now();
    }
}

/// A certificate the client cannot verify is final for the reconnecting
/// client: returned at once, not retried (nor ever spoken in plain text).
#[test]
fn the_reconnecting_client_gives_up_on_an_untrusted_certificate() {
    use rfc6455::reconnect::{ReconnectConfig, Reconnecting};
    let server = start(|_| {});
    // Mozilla's roots: the test CA is not among them.
    let config = ReconnectConfig {
        max_attempts: Some(50),
        ..ReconnectConfig::default()
    };
    // Were it retried, the first recv would be Incoming::Disconnected.
    let mut c = Reconnecting::new(&server.url(), config);
    match c.recv() {
        Err(Error::Tls(e)) => assert!(
            matches!(
                e.downcast_ref::<rustls::Error>(),
                Some(rustls::Error::InvalidCertificate(_))
            ),
            "{e}"
        ),
        other => panic!("expected a TLS certificate error, got {other:?}"),
    }
}

/// Serves a page that a TLS write takes whole (less than
/// `MAX_PLAINTEXT_PER_WRITE`), larger than the first send buffer of a
/// client with small segments.
struct LargePage;

const PAGE_LEN: usize = 63_000;

impl Handler for LargePage {
    fn on_http(
        &mut self,
        _ctx: &mut Context<'_>,
        _request: &rfc6455::server::HttpRequest<'_>,
    ) -> rfc6455::server::Response {
        rfc6455::server::Response::new(200, "x".repeat(PAGE_LEN))
    }

    fn on_message(&mut self, _peer: &mut Peer<'_>, _message: Message<'_>) {}
}

#[test]
fn a_peer_that_half_closed_gets_the_whole_response_over_tls() {
    // The client sends its request and its FIN at once, and reads only
    // later. Its small segments and window keep the server's send buffer
    // small, so records wait in the TLS layer when the response has all
    // been handed to it. The end of stream the server then reads must not
    // drop them: the peer is still reading. (They were dropped with the
    // connection, and the page came cut short.)
    let server = start_with(|_| {}, || LargePage);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_tcp_mss(536).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr.into()).unwrap();
    let tcp: TcpStream = socket.into();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let conn = rustls::ClientConnection::new(
        tls_client_config(&server, rustls::DEFAULT_VERSIONS),
        "localhost".try_into().unwrap(),
    )
    .unwrap();
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    stream.flush().unwrap();
    stream.sock.shutdown(std::net::Shutdown::Write).unwrap();
    // Let the server do all it can before anything is read.
    std::thread::sleep(Duration::from_millis(300));
    let mut got = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    let head = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(got.starts_with(b"HTTP/1.1 200"));
    assert_eq!(got.len() - head, PAGE_LEN, "the response was cut short");
}

#[test]
fn the_client_speaks_tls_1_2_too() {
    // The client drives the handshake itself: both versions' message
    // orders must come out right, and the session must carry messages.
    let server = start(|_| {});
    for versions in [
        &[&rustls::version::TLS12][..],
        &[&rustls::version::TLS13][..],
    ] {
        let config = ClientConfig {
            tls: ClientTls::from_config(tls_client_config(&server, versions)),
            ..client_config(&server)
        };
        let mut client = Client::connect_with(&server.url(), &config).expect("connect");
        client.send_text("over TLS").unwrap();
        assert_eq!(expect_text(&mut client), "over TLS");
        let big = vec![5u8; 100_000];
        client.send_binary(&big).unwrap();
        assert!(expect_binary(&mut client) == big);
        let (code, _) = client.close(CloseCode::NORMAL, "").unwrap();
        assert_eq!(code, CloseCode::NORMAL);
    }
}

#[test]
fn a_tls_peer_that_stops_reading_is_dropped_after_the_send_timeout() {
    // As over plain TCP: the peer floods and reads nothing; output backs up
    // through the TLS layer, and after the send timeout the server drops it.
    let server = start(|c| {
        c.send_timeout = Some(Duration::from_millis(300));
        c.high_water = 64 << 10;
        c.low_water = 16 << 10;
    });
    let mut raw = raw_tls(&server);
    let wire = frame_bytes(true, OpCode::Binary, &[7u8; 60_000]);
    raw.stream
        .sock
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut stopped = None;
    'flood: for _ in 0..2000 {
        raw.stream.conn.writer().write_all(&wire).unwrap();
        while raw.stream.conn.wants_write() {
            if let Err(e) = raw.stream.conn.write_tls(&mut raw.stream.sock) {
                stopped = Some(e.kind());
                break 'flood;
            }
        }
    }
    match stopped {
        Some(ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            std::thread::sleep(Duration::from_millis(1000))
        }
        Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {}
        other => panic!("the flood ended with {other:?}"),
    }
    // The records as they come, undecrypted: only the end matters.
    let sock = &mut raw.stream.sock;
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e} (the connection is still open)"),
        }
    }
}
