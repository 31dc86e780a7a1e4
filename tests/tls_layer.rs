//! The server's TLS layer (`rfc6455::server::tls::TlsStream`) on its own:
//! a rustls server and client over an in-memory non-blocking socket whose
//! reads can be cut to any size, with the WebSocket connection on top.

#![cfg(all(feature = "server", feature = "tls"))]

mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use common::pki::{temp_dir, TestPki};
use rfc6455::connection::{Config, Connection, Event};
use rfc6455::frame::{Frame, OpCode};
use rfc6455::server::tls::{ServerTls, Socket, TlsStream, MAX_PLAINTEXT_PER_WRITE, MAX_TLS_INPUT};
use rfc6455::tls::rustls;
use rfc6455::tls::rustls::pki_types::ServerName;
use rfc6455::{CloseCode, CloseReason};

/// One direction of an in-memory connection.
#[derive(Default)]
struct Pipe {
    /// Written, not arrived yet.
    network: VecDeque<u8>,
    /// Arrived in the receiver's socket buffer.
    data: VecDeque<u8>,
    /// The writer shut down: reads end with `Ok(0)` once `data` is empty.
    fin: bool,
}

/// One end of an in-memory non-blocking socket. Bytes written travel
/// through `network` and arrive at most `max_read` of them before each
/// read, like TCP segments: a read returns what has arrived, so a read
/// shorter than asked means the socket buffer is empty, as on a real
/// socket.
struct End {
    rx: Rc<RefCell<Pipe>>,
    tx: Rc<RefCell<Pipe>>,
    /// Most bytes that arrive between two reads.
    max_read: Rc<RefCell<usize>>,
    /// Bytes the socket still accepts before `WouldBlock`.
    write_room: Rc<RefCell<usize>>,
}

impl Read for End {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut rx = self.rx.borrow_mut();
        let arriving = rx.network.len().min(*self.max_read.borrow());
        let arrived: Vec<u8> = rx.network.drain(..arriving).collect();
        rx.data.extend(arrived);
        if rx.data.is_empty() {
            return if rx.fin {
                Ok(0)
            } else {
                Err(ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(rx.data.len());
        for (slot, byte) in buf.iter_mut().zip(rx.data.drain(..n)) {
            *slot = byte;
        }
        Ok(n)
    }
}

impl Write for End {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut tx = self.tx.borrow_mut();
        assert!(!tx.fin, "write after shutdown");
        let mut room = self.write_room.borrow_mut();
        let n = buf.len().min(*room);
        if n == 0 && !buf.is_empty() {
            return Err(ErrorKind::WouldBlock.into());
        }
        *room -= n;
        tx.network.extend(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Socket for End {
    fn shutdown_write(&self) -> io::Result<()> {
        self.tx.borrow_mut().fin = true;
        Ok(())
    }
}

/// Each test that loops over protocol versions runs TLS 1.3, then 1.2.
const BOTH_VERSIONS: [&[&rustls::SupportedProtocolVersion]; 2] =
    [&[&rustls::version::TLS13], &[&rustls::version::TLS12]];

/// What a test sees of the wire between the two ends.
struct Wire {
    to_server: Rc<RefCell<Pipe>>,
    to_client: Rc<RefCell<Pipe>>,
    server_max_read: Rc<RefCell<usize>>,
    server_write_room: Rc<RefCell<usize>>,
}

fn socket_pair() -> (End, End, Wire) {
    let to_server = Rc::new(RefCell::new(Pipe::default()));
    let to_client = Rc::new(RefCell::new(Pipe::default()));
    let server_max_read = Rc::new(RefCell::new(usize::MAX));
    let server_write_room = Rc::new(RefCell::new(usize::MAX));
    let client = End {
        rx: Rc::clone(&to_client),
        tx: Rc::clone(&to_server),
        max_read: Rc::new(RefCell::new(usize::MAX)),
        write_room: Rc::new(RefCell::new(usize::MAX)),
    };
    let server = End {
        rx: Rc::clone(&to_server),
        tx: Rc::clone(&to_client),
        max_read: Rc::clone(&server_max_read),
        write_room: Rc::clone(&server_write_room),
    };
    let wire = Wire {
        to_server,
        to_client,
        server_max_read,
        server_write_room,
    };
    (client, server, wire)
}

fn client_config(
    pki: &TestPki,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    use rustls::pki_types::pem::PemObject;
    roots
        .add(rustls::pki_types::CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(rfc6455::tls::provider())
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn server_tls(pki: &TestPki) -> ServerTls {
    let files = pki.write(&temp_dir("tls-layer"));
    ServerTls::from_pem_files(&files.cert, &files.key).unwrap()
}

struct Pair {
    client: TlsStream<End>,
    server: TlsStream<End>,
    wire: Wire,
}

fn connect_with(
    pki: &TestPki,
    tls: &ServerTls,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Pair {
    connect_cfg(tls, client_config(pki, versions), usize::MAX)
}

fn connect(pki: &TestPki) -> Pair {
    connect_with(pki, &server_tls(pki), rustls::DEFAULT_VERSIONS)
}

/// Reads into `buf` expecting nothing yet.
fn expect_nothing(stream: &mut TlsStream<End>) {
    let mut b = [0u8; 64];
    match stream.read(&mut b) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("expected WouldBlock, got {other:?}"),
    }
}

impl Pair {
    fn handshake(&mut self) {
        for _ in 0..10_000 {
            self.client.flush_pending().unwrap();
            expect_nothing(&mut self.server);
            self.server.flush_pending().unwrap();
            expect_nothing(&mut self.client);
            if !self.client.is_handshaking() && !self.server.is_handshaking() {
                // The server's session tickets reach the client.
                self.server.flush_pending().unwrap();
                expect_nothing(&mut self.client);
                return;
            }
        }
        panic!("handshake did not finish");
    }

    /// Everything the server's TLS stream yields until it would block,
    /// read `chunk` bytes at a time; checks the short-read rule on the way.
    fn server_read_all(&mut self, chunk: usize, into: &mut Vec<u8>) -> bool {
        let mut buf = vec![0u8; chunk];
        loop {
            match self.server.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => {
                    into.extend_from_slice(&buf[..n]);
                    if n < chunk {
                        assert!(
                            self.wire.to_server.borrow().data.is_empty(),
                            "a short read left bytes in the socket"
                        );
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let pipe = self.wire.to_server.borrow();
                    assert!(pipe.data.is_empty() && pipe.network.is_empty());
                    return false;
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

/// Masking keys for a client connection in a test: fixed, as the test
/// has no intermediary to protect.
fn keys() -> rfc6455::connection::MaskKeySource {
    let mut n: u32 = 0x1234_5678;
    Box::new(move || {
        n = n.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        n.to_be_bytes()
    })
}

/// Sends `messages` from a WebSocket client over the pair, echoes them on
/// the server side through the TLS stream, and checks the echoes.
fn echo_over(pair: &mut Pair, messages: &[(bool, Vec<u8>)], server_chunk: usize) {
    let big = messages.iter().map(|m| m.1.len()).max().unwrap_or(0) as u64 + 1024;
    let mut config = Config::default();
    config.limits.max_frame_size = config.limits.max_frame_size.max(big);
    config.limits.max_message_size = config.limits.max_message_size.max(big);
    config.limits.max_output_buffer = config.limits.max_output_buffer.max(2 * big as usize);
    let mut ws_client = Connection::client(config, keys());
    let mut ws_server = Connection::server(config);
    for (text, data) in messages {
        if *text {
            ws_client
                .send_text(std::str::from_utf8(data).unwrap())
                .unwrap();
        } else {
            ws_client.send_binary(data).unwrap();
        }
    }
    let mut echoed = Vec::new();
    let mut plain = Vec::new();
    for _ in 0..1_000_000 {
        // Client to the socket.
        while ws_client.has_output() {
            match pair.client.write(ws_client.output()) {
                Ok(n) => ws_client.consume_output(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        pair.client.flush_pending().unwrap();
        // Server: plaintext in, echoes out.
        plain.clear();
        pair.server_read_all(server_chunk, &mut plain);
        ws_server.receive(&plain, Duration::ZERO);
        while let Some(event) = ws_server.next_event().unwrap() {
            let (text, data) = match event {
                Event::Text(t) => (true, t.as_bytes().to_vec()),
                Event::Binary(b) => (false, b.to_vec()),
                other => panic!("{other:?}"),
            };
            let tx = ws_server.sender();
            if text {
                tx.send_text(std::str::from_utf8(&data).unwrap()).unwrap();
            } else {
                tx.send_binary(&data).unwrap();
            }
        }
        while ws_server.has_output() {
            match pair.server.write(ws_server.output()) {
                Ok(n) => ws_server.consume_output(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        pair.server.flush_pending().unwrap();
        // Client: echoes in.
        let mut buf = vec![0u8; 64 << 10];
        loop {
            match pair.client.read(&mut buf) {
                Ok(0) => panic!("end of stream"),
                Ok(n) => ws_client.receive(&buf[..n], Duration::ZERO),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        while let Some(event) = ws_client.next_event().unwrap() {
            match event {
                Event::Text(t) => echoed.push((true, t.as_bytes().to_vec())),
                Event::Binary(b) => echoed.push((false, b.to_vec())),
                other => panic!("{other:?}"),
            }
        }
        if echoed.len() == messages.len() {
            break;
        }
    }
    assert_eq!(echoed.len(), messages.len(), "echoes missing");
    for (i, (got, want)) in echoed.iter().zip(messages).enumerate() {
        assert!(got == want, "echo {i} differs ({} bytes)", want.1.len());
    }
}

fn payload(n: usize, seed: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + seed + (i >> 8)) as u8).collect()
}

#[test]
fn echoes_every_size_through_the_layer() {
    let pki = TestPki::localhost();
    let mut pair = connect(&pki);
    assert_eq!(
        pair.server.tls().alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "ALPN"
    );
    for (i, n) in [0usize, 1, 125, 126, 127, 65_535, 65_536, 1 << 20]
        .into_iter()
        .enumerate()
    {
        echo_over(&mut pair, &[(false, payload(n, i))], 16 << 10);
        let text: String = "aé中😀".chars().cycle().take(n).collect();
        echo_over(&mut pair, &[(true, text.into_bytes())], 16 << 10);
    }
}

#[test]
fn pipelined_messages_come_back_in_order() {
    let pki = TestPki::localhost();
    let mut pair = connect(&pki);
    let messages: Vec<(bool, Vec<u8>)> = (0..200)
        .map(|i| {
            (
                i % 3 == 0,
                payload(i * 37 % 3000, i).iter().map(|b| b & 0x7f).collect(),
            )
        })
        .collect();
    echo_over(&mut pair, &messages, 4096);
}

#[test]
fn tls_records_split_at_every_byte_reach_the_connection_whole() {
    // Every ciphertext byte arrives in a read of its own, and the client
    // puts every plaintext byte of its frames into a TLS record of its
    // own: frame headers (2, 4 and 10 bytes, masked) split at every byte,
    // across records and across reads.
    let pki = TestPki::localhost();
    let mut pair = connect(&pki);
    *pair.wire.server_max_read.borrow_mut() = 1;
    let mut ws_server = Connection::server(Config::default());
    let sizes = [0usize, 5, 125, 126, 300, 65_535, 65_536, 70_000];
    // Each frame goes out as one record per byte for its header and the
    // first 64 bytes of its payload, then one write for the rest.
    let mut pieces: Vec<Vec<u8>> = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let data = payload(*n, i);
        let mut frame = Vec::new();
        Frame::new(OpCode::Binary, &data)
            .masked([9, 8, 7, i as u8])
            .encode_to_vec(&mut frame);
        let bytewise = (frame.len() - n + 64).min(frame.len());
        pieces.extend(frame[..bytewise].iter().map(|b| vec![*b]));
        if bytewise < frame.len() {
            pieces.push(frame[bytewise..].to_vec());
        }
    }
    let mut got = Vec::new();
    let mut plain = Vec::new();
    for (at, piece) in pieces.iter().enumerate() {
        pair.client.write_all(piece).unwrap();
        pair.client.flush_pending().unwrap();
        if at % 64 == 63 || at + 1 == pieces.len() {
            plain.clear();
            pair.server_read_all(7, &mut plain);
            ws_server.receive(&plain, Duration::ZERO);
            while let Some(event) = ws_server.next_event().unwrap() {
                match event {
                    Event::Binary(b) => got.push(b.to_vec()),
                    other => panic!("{other:?}"),
                }
            }
        }
    }
    assert_eq!(got.len(), sizes.len());
    for (i, (data, n)) in got.iter().zip(sizes).enumerate() {
        assert!(*data == payload(n, i), "message {i} of {n} bytes");
    }
}

#[test]
fn a_record_split_at_each_position_of_a_header_decodes() {
    let pki = TestPki::localhost();
    for (i, n) in [3usize, 126, 65_536].into_iter().enumerate() {
        let data = payload(n, i);
        let mut frame = Vec::new();
        Frame::new(OpCode::Binary, &data)
            .masked([1, 2, 3, 4])
            .encode_to_vec(&mut frame);
        let header = 2
            + 4
            + if n < 126 {
                0
            } else if n < 65_536 {
                2
            } else {
                8
            };
        for cut in 1..=header {
            let mut pair = connect(&pki);
            *pair.wire.server_max_read.borrow_mut() = 3;
            // Two records: the frame cut at `cut`.
            pair.client.write_all(&frame[..cut]).unwrap();
            pair.client.flush_pending().unwrap();
            let mut plain = Vec::new();
            pair.server_read_all(1, &mut plain);
            assert_eq!(plain, &frame[..cut]);
            let mut ws = Connection::server(Config::default());
            ws.receive(&plain, Duration::ZERO);
            assert!(ws.next_event().unwrap().is_none(), "cut {cut}");
            let mut rest = &frame[cut..];
            while !rest.is_empty() {
                let k = pair.client.write(rest).unwrap();
                rest = &rest[k..];
                pair.client.flush_pending().unwrap();
                plain.clear();
                pair.server_read_all(4096, &mut plain);
                ws.receive(&plain, Duration::ZERO);
            }
            plain.clear();
            pair.server_read_all(4096, &mut plain);
            ws.receive(&plain, Duration::ZERO);
            match ws.next_event().unwrap() {
                Some(Event::Binary(b)) => assert!(b == data, "n {n} cut {cut}"),
                other => panic!("n {n} cut {cut}: {other:?}"),
            }
        }
    }
}

#[test]
fn reads_of_any_size_keep_the_short_read_rule() {
    // With reads cut to every size from 1 to 40 bytes and a caller buffer
    // of 1 to 9 bytes, a read shorter than the buffer always means the
    // socket is empty (checked inside server_read_all).
    let pki = TestPki::localhost();
    for max_read in [1usize, 2, 5, 13, 40, 1000] {
        for chunk in [1usize, 2, 9, 100] {
            let mut pair = connect(&pki);
            *pair.wire.server_max_read.borrow_mut() = max_read;
            let messages: Vec<(bool, Vec<u8>)> =
                (0..5).map(|i| (false, payload(50 + i * 70, i))).collect();
            echo_over(&mut pair, &messages, chunk);
        }
    }
}

#[test]
fn a_short_read_means_an_empty_socket_also_after_a_pause() {
    // A read that fills the caller's buffer leaves the rest of the record
    // in the layer, and the socket found empty back then. The caller stops
    // reading for a while (backpressure) and more arrives, with the one
    // readiness event it consumed meanwhile. The next read must fetch
    // that too, or say nothing short: it once returned the leftover
    // alone, short, and an edge-triggered caller never read the rest.
    let pki = TestPki::localhost();
    let mut pair = connect(&pki);
    let first = payload(1000, 1);
    pair.client.write_all(&first).unwrap();
    pair.client.flush_pending().unwrap();
    let mut small = [0u8; 100];
    assert_eq!(pair.server.read(&mut small).unwrap(), 100);
    let second = payload(500, 2);
    pair.client.write_all(&second).unwrap();
    pair.client.flush_pending().unwrap();
    // It is in the server's socket before the next read.
    let mut pipe = pair.wire.to_server.borrow_mut();
    let arrived: Vec<u8> = pipe.network.drain(..).collect();
    pipe.data.extend(arrived);
    drop(pipe);
    let mut got = small.to_vec();
    assert!(!pair.server_read_all(4096, &mut got), "no end of stream");
    let mut want = first;
    want.extend_from_slice(&second);
    assert!(got == want, "{} bytes of {}", got.len(), want.len());
}

#[test]
fn writes_stop_while_records_wait_for_the_socket() {
    let pki = TestPki::localhost();
    let mut pair = connect(&pki);
    *pair.wire.server_write_room.borrow_mut() = 1000;
    let data = payload(1 << 20, 1);
    let n = pair.server.write(&data).unwrap();
    assert!(n > 0 && n <= MAX_PLAINTEXT_PER_WRITE, "took {n}");
    let waiting = pair.server.pending();
    assert!(waiting > 0, "records should wait");
    // Nothing more is taken until they are out.
    match pair.server.write(&data[n..]) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(pair.server.pending(), waiting);
    assert!(pair.server.flush().is_err());
    // The socket drains.
    *pair.wire.server_write_room.borrow_mut() = usize::MAX;
    assert_eq!(pair.server.flush_pending().unwrap(), 0);
    pair.server.flush().unwrap();
    let mut got = vec![0u8; n];
    pair.client.read_exact(&mut got).unwrap();
    assert!(got == data[..n]);
    // And the idle buffers can go.
    assert!(pair.server.buffer_bytes() > 0);
    pair.server.release_idle_memory();
    assert_eq!(pair.server.buffer_bytes(), 0);
    // They come back when needed.
    echo_over(&mut pair, &[(false, payload(3000, 2))], 512);
}

#[test]
fn close_notify_then_fin_and_both_ends_see_a_clean_end() {
    let pki = TestPki::localhost();
    let mut pair = connect(&pki);
    // The socket is full: close_notify and the FIN wait for it.
    *pair.wire.server_write_room.borrow_mut() = 0;
    assert!(!pair.server.shutdown_write().unwrap());
    assert!(pair.server.pending() > 0);
    assert!(!pair.wire.to_client.borrow().fin);
    *pair.wire.server_write_room.borrow_mut() = usize::MAX;
    assert_eq!(pair.server.flush_pending().unwrap(), 0);
    assert!(pair.wire.to_client.borrow().fin, "FIN after close_notify");
    // The client reads a clean end (close_notify), then answers.
    let mut b = [0u8; 16];
    assert_eq!(pair.client.read(&mut b).unwrap(), 0);
    assert!(pair.client.shutdown_write().unwrap());
    assert_eq!(pair.server.read(&mut b).unwrap(), 0);
    assert!(pair.server.write(b"late").is_err());
}

#[test]
fn an_end_of_stream_without_close_notify_is_an_end_of_stream() {
    let pki = TestPki::localhost();
    let mut pair = connect(&pki);
    // A WebSocket close and the TCP FIN, but no close_notify.
    let mut ws = Connection::client(Config::default(), keys());
    ws.close(CloseCode::NORMAL, CloseReason::truncate("bye"))
        .unwrap();
    pair.client.write_all(ws.output()).unwrap();
    pair.client.flush_pending().unwrap();
    pair.client.socket().shutdown_write().unwrap();
    let mut plain = Vec::new();
    assert!(pair.server_read_all(64, &mut plain), "end of stream");
    let mut server = Connection::server(Config::default());
    server.receive(&plain, Duration::ZERO);
    match server.next_event().unwrap() {
        Some(Event::Close { code, .. }) => assert_eq!(code, Some(CloseCode::NORMAL)),
        other => panic!("{other:?}"),
    }
}

fn accept_raw(pki: &TestPki, bytes: &[u8]) -> (io::Result<usize>, Vec<u8>) {
    let (client_end, server_end, wire) = socket_pair();
    let mut server = server_tls(pki).accept(server_end).unwrap();
    wire.to_server.borrow_mut().network.extend(bytes);
    let mut buf = [0u8; 256];
    let result = server.read(&mut buf);
    drop(client_end);
    let sent = wire.to_client.borrow().network.iter().copied().collect();
    (result, sent)
}

#[test]
fn garbage_or_plain_http_gets_an_alert_and_an_error() {
    let pki = TestPki::localhost();
    for input in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        // A handshake record holding an empty ClientHello.
        &[0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00][..],
        &[0xff; 64][..],
    ] {
        let (result, sent) = accept_raw(&pki, input);
        let err = result.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
        // A TLS alert record: content type 21.
        assert_eq!(sent.first(), Some(&0x15), "{input:?} got {sent:?}");
    }
}

#[test]
fn tls_1_2_works_too() {
    let pki = TestPki::localhost();
    let mut pair = connect_with(&pki, &server_tls(&pki), &[&rustls::version::TLS12]);
    assert_eq!(
        pair.server.tls().protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    echo_over(
        &mut pair,
        &[(false, payload(70_000, 3)), (true, b"hi".to_vec())],
        8192,
    );
}

#[test]
fn reload_presents_the_new_certificate_and_keeps_the_old_on_error() {
    let dir = temp_dir("tls-reload");
    let first = TestPki::localhost();
    let files = first.write(&dir);
    let tls = ServerTls::from_pem_files(&files.cert, &files.key).unwrap();
    let peer_cert = |pair: &Pair| pair.client.tls().peer_certificates().unwrap()[0].to_vec();
    let before = connect_with(&first, &tls, rustls::DEFAULT_VERSIONS);
    // A new CA and certificate in the same files, then a reload.
    let second = TestPki::localhost();
    second.write(&dir);
    tls.reload().unwrap();
    let after = connect_with(&second, &tls, rustls::DEFAULT_VERSIONS);
    assert_ne!(peer_cert(&before), peer_cert(&after));
    // A broken key file: the reload fails, the second certificate stays.
    std::fs::write(
        &files.key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    assert!(tls.reload().is_err());
    let still = connect_with(&second, &tls, rustls::DEFAULT_VERSIONS);
    assert_eq!(peer_cert(&still), peer_cert(&after));
    // The connection made before the reload goes on with its certificate.
    let mut before = before;
    echo_over(&mut before, &[(false, b"still here".to_vec())], 64);
}

#[test]
fn keys_load_in_pkcs8_sec1_and_pkcs1_and_must_match_the_certificate() {
    let dir = temp_dir("tls-keys");
    let pki = TestPki::localhost();
    let files = pki.write(&dir);
    // SEC1 EC key.
    let sec1 = dir.join("sec1.pem");
    std::fs::write(&sec1, &pki.key_sec1_pem).unwrap();
    let tls = ServerTls::from_pem_files(&files.cert, &sec1).unwrap();
    echo_over(
        &mut connect_with(&pki, &tls, rustls::DEFAULT_VERSIONS),
        &[(true, b"sec1".to_vec())],
        64,
    );
    // PKCS#1 RSA key (a committed test-only key), with a certificate for
    // it signed by the test CA at run time.
    let rsa = common::pki::TestPki::rsa_localhost();
    let rsa_files = rsa.write(&dir.join("rsa"));
    let pkcs1 = dir.join("rsa").join("pkcs1.pem");
    std::fs::write(&pkcs1, common::pki::RSA_PKCS1_PEM).unwrap();
    let tls = ServerTls::from_pem_files(&rsa_files.cert, &pkcs1).unwrap();
    echo_over(
        &mut connect_with(&rsa, &tls, rustls::DEFAULT_VERSIONS),
        &[(true, b"rsa".to_vec())],
        64,
    );
    // A key that is not the certificate's.
    let other = TestPki::localhost();
    let other_key = dir.join("other.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let err = ServerTls::from_pem_files(&files.cert, &other_key).unwrap_err();
    assert!(err.to_string().contains("other.pem"), "{err}");
    // No key at all, no certificate at all.
    assert!(ServerTls::from_pem_files(&files.cert, &files.cert).is_err());
    assert!(ServerTls::from_pem_files(&files.key, &files.key).is_err());
}

#[test]
fn a_broken_certificate_is_blamed_on_the_certificate_file() {
    // A CERTIFICATE block whose DER is garbage, with a good key: the error
    // must name the certificate file, not the key file.
    let dir = temp_dir("tls-badcert");
    let pki = TestPki::localhost();
    let files = pki.write(&dir);
    let bad_cert = dir.join("garbage-cert.pem");
    std::fs::write(
        &bad_cert,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let err = ServerTls::from_pem_files(&bad_cert, &files.key).unwrap_err();
    assert!(err.to_string().contains("garbage-cert.pem"), "{err}");
    // And a key rustls cannot use is the key file's fault.
    let bad_key = dir.join("garbage-key.pem");
    std::fs::write(
        &bad_key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let err = ServerTls::from_pem_files(&files.cert, &bad_key).unwrap_err();
    assert!(err.to_string().contains("garbage-key.pem"), "{err}");
}

#[test]
fn a_large_vectored_write_goes_on_while_the_socket_takes_the_records() {
    // rustls takes MAX_PLAINTEXT_PER_WRITE at a time; a vectored write of
    // many frames (a server's replies to several reads) goes on past it as
    // long as the socket takes every record, resuming inside a slice where
    // rustls stopped, and stops once records wait.
    let pki = TestPki::localhost();
    for room in [usize::MAX, 150_000] {
        let mut pair = connect(&pki);
        *pair.wire.server_write_room.borrow_mut() = room;
        let pieces: Vec<Vec<u8>> = (0..60)
            .map(|i| payload(if i % 2 == 0 { 4 } else { 10_007 }, i))
            .collect();
        let slices: Vec<IoSlice<'_>> = pieces.iter().map(|p| IoSlice::new(p)).collect();
        let all: Vec<u8> = pieces.concat();
        let n = pair.server.write_vectored(&slices).unwrap();
        if room == usize::MAX {
            assert_eq!(n, all.len(), "an open socket takes it all");
            assert_eq!(pair.server.pending(), 0);
        } else {
            assert!(n > MAX_PLAINTEXT_PER_WRITE && n < all.len(), "took {n}");
            assert!(pair.server.pending() > 0, "records wait");
            *pair.wire.server_write_room.borrow_mut() = usize::MAX;
            assert_eq!(pair.server.flush_pending().unwrap(), 0);
        }
        let mut got = vec![0u8; n];
        pair.client.read_exact(&mut got).unwrap();
        assert!(got == all[..n], "room {room}: the bytes differ");
    }
}

// ---------------------------------------------------------------- review

/// The client's first flight, as bytes on the wire.
fn client_hello_bytes(pki: &TestPki) -> Vec<u8> {
    let (client_end, _server_end, wire) = socket_pair();
    let conn = rustls::client::UnbufferedClientConnection::new(
        client_config(pki, rustls::DEFAULT_VERSIONS),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut client = TlsStream::new(conn, client_end);
    client.flush_pending().unwrap();
    let bytes = wire.to_server.borrow().network.iter().copied().collect();
    bytes
}

#[test]
fn a_call_after_a_tls_error_does_not_panic() {
    // A valid ClientHello followed, in the same record, by two bytes of a
    // next handshake message: rustls fails (KeyEpochWithPendingFragment)
    // with a partial handshake span left in its hs_deframer, whose
    // offsets point into the buffer TlsStream then throws away.
    let pki = TestPki::localhost();
    let mut hello = client_hello_bytes(&pki);
    assert_eq!(hello[0], 0x16);
    let len = u16::from_be_bytes([hello[3], hello[4]]) as usize;
    assert_eq!(hello.len(), 5 + len, "one record");
    hello.extend_from_slice(&[0x01, 0x00]);
    hello[3..5].copy_from_slice(&((len + 2) as u16).to_be_bytes());
    let (_client_end, server_end, wire) = socket_pair();
    let mut server = server_tls(&pki).accept(server_end).unwrap();
    wire.to_server.borrow_mut().network.extend(&hello);
    let mut buf = [0u8; 256];
    let err = server.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
    // Closing after the error, as a caller would: must not panic.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = server.shutdown_write();
        let _ = server.read(&mut buf);
    }));
    assert!(r.is_ok(), "TlsStream panicked after a TLS error");
}

fn server_tls_with(pki: &TestPki, f: impl FnOnce(&mut rustls::ServerConfig)) -> ServerTls {
    let base = server_tls(pki);
    let mut config = (**base.config()).clone();
    f(&mut config);
    ServerTls::from_config(Arc::new(config))
}

fn connect_cfg(tls: &ServerTls, client: Arc<rustls::ClientConfig>, server_max_read: usize) -> Pair {
    let (client_end, server_end, wire) = socket_pair();
    *wire.server_max_read.borrow_mut() = server_max_read;
    let conn = rustls::client::UnbufferedClientConnection::new(
        client,
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    let mut pair = Pair {
        client: TlsStream::new(conn, client_end),
        server: tls.accept(server_end).unwrap(),
        wire,
    };
    pair.handshake();
    pair
}

#[test]
fn handshake_messages_split_over_many_small_records() {
    // Tiny records both ways: every handshake message is joined across
    // records by rustls inside TlsStream's buffer, read a few bytes at a
    // time.
    let pki = TestPki::localhost();
    for versions in BOTH_VERSIONS {
        for frag in [32usize, 61, 100, 1000] {
            for max_read in [1usize, 3, 7, 50, 100_000] {
                let tls = server_tls_with(&pki, |c| c.max_fragment_size = Some(frag));
                let mut cc = (*client_config(&pki, versions)).clone();
                cc.max_fragment_size = Some(frag);
                let mut pair = connect_cfg(&tls, Arc::new(cc), max_read);
                echo_over(
                    &mut pair,
                    &[(false, payload(3000, 1)), (true, b"x".to_vec())],
                    97,
                );
            }
        }
    }
}

#[test]
fn resumption_tls12_and_tls13() {
    let pki = TestPki::localhost();
    let tls = server_tls(&pki);
    for versions in BOTH_VERSIONS {
        let cc = client_config(&pki, versions);
        for round in 0..3 {
            let mut pair = connect_cfg(&tls, Arc::clone(&cc), usize::MAX);
            let expected = match round {
                0 => rustls::HandshakeKind::Full,
                _ => rustls::HandshakeKind::Resumed,
            };
            assert_eq!(
                pair.server.tls().handshake_kind(),
                Some(expected),
                "{versions:?} round {round}"
            );
            echo_over(&mut pair, &[(false, payload(100, round))], 4096);
        }
    }
}

/// A buffered rustls client over an `End`, to do what the unbuffered one
/// cannot from outside (key updates).
struct BufClient {
    conn: rustls::ClientConnection,
    end: End,
}

impl BufClient {
    fn pump_out(&mut self) {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.end).unwrap();
        }
    }
    fn pump_in(&mut self, into: &mut Vec<u8>) {
        loop {
            match self.conn.read_tls(&mut self.end) {
                Ok(0) => break,
                Ok(_) => {
                    self.conn.process_new_packets().unwrap();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
        let mut buf = [0u8; 4096];
        loop {
            match self.conn.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => into.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
    }
}

/// A buffered rustls client (TLS 1.3) and our server stream, handshaken.
fn buffered_client_pair(pki: &TestPki) -> (BufClient, TlsStream<End>, Wire) {
    let (client_end, server_end, wire) = socket_pair();
    let mut client = BufClient {
        conn: rustls::ClientConnection::new(
            client_config(pki, &[&rustls::version::TLS13]),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap(),
        end: client_end,
    };
    let mut server = server_tls(pki).accept(server_end).unwrap();
    let mut sink = Vec::new();
    for _ in 0..100 {
        client.pump_out();
        let mut b = [0u8; 64];
        let _ = server.read(&mut b);
        server.flush_pending().unwrap();
        client.pump_in(&mut sink);
        if !client.conn.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    (client, server, wire)
}

#[test]
fn key_updates_both_ways() {
    let pki = TestPki::localhost();
    let (mut client, mut server, _wire) = buffered_client_pair(&pki);
    assert!(!server.is_handshaking());
    for round in 0..40u8 {
        // The client asks for a key update (update_requested), then sends.
        client.conn.refresh_traffic_keys().unwrap();
        client.conn.writer().write_all(&[round; 100]).unwrap();
        client.pump_out();
        let mut got = Vec::new();
        let mut b = [0u8; 1000];
        loop {
            match server.read(&mut b) {
                Ok(0) => panic!("eof"),
                Ok(n) => got.extend_from_slice(&b[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("round {round}: server read: {e}"),
            }
        }
        assert_eq!(got, vec![round; 100]);
        // The server answers: its own KeyUpdate must go first.
        server.write_all(&[round ^ 0xff; 300]).unwrap();
        let mut echoed = Vec::new();
        client.pump_in(&mut echoed);
        assert_eq!(echoed, vec![round ^ 0xff; 300], "round {round}");
    }
}

#[test]
fn records_decrypted_by_a_write_come_out_in_order_then_the_end() {
    let pki = TestPki::localhost();
    for small in [1usize, 5, 100, 20_000] {
        let mut pair = connect(&pki);
        // Many records, then close_notify and FIN, all waiting at the server.
        let mut sent = Vec::new();
        for i in 0..50 {
            let p = payload(100 + i * 97, i);
            pair.client.write_all(&p).unwrap();
            sent.extend_from_slice(&p);
        }
        assert!(pair.client.shutdown_write().unwrap());
        let mut got = Vec::new();
        let mut b = vec![0u8; small];
        // One short read: Full.
        let n = pair.server.read(&mut b).unwrap();
        got.extend_from_slice(&b[..n]);
        // Writes in between decrypt what waits into `plain`.
        for _ in 0..3 {
            pair.server.write_all(b"reply").unwrap();
        }
        let mut b = vec![0u8; 777];
        loop {
            match pair.server.read(&mut b) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&b[..n]),
                Err(e) => panic!("{e}"),
            }
        }
        assert!(
            got == sent,
            "small {small}: {} vs {}",
            got.len(),
            sent.len()
        );
        // The server can still answer and close.
        assert!(pair.server.shutdown_write().unwrap());
    }
}

#[test]
fn client_writes_before_the_handshake() {
    let pki = TestPki::localhost();
    for versions in BOTH_VERSIONS {
        let (client_end, server_end, wire) = socket_pair();
        let conn = rustls::client::UnbufferedClientConnection::new(
            client_config(&pki, versions),
            ServerName::try_from("localhost").unwrap(),
        )
        .unwrap();
        let mut client = TlsStream::new(conn, client_end);
        let mut server = server_tls(&pki).accept(server_end).unwrap();
        let data = payload(200_000, 7);
        let mut at = 0;
        let mut got = Vec::new();
        for _ in 0..10_000 {
            if at < data.len() {
                match client.write(&data[at..]) {
                    Ok(n) => at += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            client.flush_pending().unwrap();
            let mut b = vec![0u8; 5000];
            loop {
                match server.read(&mut b) {
                    Ok(0) => panic!("eof"),
                    Ok(n) => got.extend_from_slice(&b[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("{e}"),
                }
            }
            server.flush_pending().unwrap();
            let mut b = [0u8; 100];
            match client.read(&mut b) {
                Ok(0) => panic!("eof"),
                Ok(_) => panic!("data?"),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
            if got.len() == data.len() {
                break;
            }
        }
        assert!(got == data, "{versions:?}: {} of {}", got.len(), data.len());
        drop(wire);
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn edge_triggered_model_random() {
    // The server reads only on an "edge" (bytes written by the client
    // since its last short read) or after a full read, as an
    // edge-triggered loop does; it writes between reads. Nothing may get
    // stuck, nothing reordered.
    let pki = TestPki::localhost();
    let tls = server_tls(&pki);
    // rustls unoptimized is slow: fewer seeds in a debug build (the
    // README's `cargo test`), all of them with --release.
    let seeds: u64 = if cfg!(debug_assertions) { 300 } else { 3000 };
    for seed in 1..seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let versions: &[&'static rustls::SupportedProtocolVersion] = if seed % 3 == 0 {
            &[&rustls::version::TLS12]
        } else {
            rustls::DEFAULT_VERSIONS
        };
        let mut pair = connect_with(&pki, &tls, versions);
        *pair.wire.server_max_read.borrow_mut() =
            [1, 7, 100, 3000, 20_000, usize::MAX][rng.below(6)];
        let c2s = payload(rng.below(300_000), seed as usize);
        let s2c = payload(rng.below(300_000), seed as usize + 1);
        let (mut c_at, mut s_at) = (0, 0);
        let mut s_got = Vec::new();
        let mut c_got = Vec::new();
        let mut edge = false;
        let mut full = false;
        let mut client_closed = false;
        let mut s_eof = false;
        let mut server_closed = false;
        for _step in 0..200_000 {
            // Client side: write some, read all.
            if c_at < c2s.len() && rng.below(2) == 0 {
                let k = (1 + rng.below(40_000)).min(c2s.len() - c_at);
                match pair.client.write(&c2s[c_at..c_at + k]) {
                    Ok(n) => {
                        c_at += n;
                        edge = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            if pair.client.flush_pending().unwrap() == 0
                && c_at == c2s.len()
                && !client_closed
                && rng.below(3) == 0
            {
                pair.client.shutdown_write().unwrap();
                client_closed = true;
                edge = true;
            }
            let mut b = vec![0u8; 1 + rng.below(70_000)];
            loop {
                match pair.client.read(&mut b) {
                    Ok(0) => break,
                    Ok(n) => c_got.extend_from_slice(&b[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client: {e}"),
                }
            }
            // Server side.
            *pair.wire.server_write_room.borrow_mut() = [0, 10, 5000, usize::MAX][rng.below(4)];
            // After the FIN, read_until_blocked (RDHUP), as the worker does.
            if (edge || full || (client_closed && !s_eof && rng.below(2) == 0)) && !s_eof {
                edge = false;
                let mut b = vec![0u8; 1 + rng.below(20_000)];
                let r = pair.server.read(&mut b);
                match r {
                    Ok(0) => s_eof = true,
                    Ok(n) => {
                        s_got.extend_from_slice(&b[..n]);
                        full = n == b.len();
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => full = false,
                    Err(e) => panic!("server: {e}"),
                }
                let pipe = pair.wire.to_server.borrow();
                if !full && !s_eof {
                    assert!(pipe.data.is_empty(), "seed {seed}: short read left bytes");
                }
                // Bytes still on their way arrive later: a new edge then.
                if !pipe.network.is_empty() {
                    edge = true;
                }
            }
            if s_at < s2c.len() && rng.below(2) == 0 {
                let k = (1 + rng.below(100_000)).min(s2c.len() - s_at);
                let slices: Vec<IoSlice<'_>> = s2c[s_at..s_at + k]
                    .chunks(1 + rng.below(20_000))
                    .map(IoSlice::new)
                    .collect();
                match pair.server.write_vectored(&slices) {
                    Ok(n) => s_at += n,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            pair.server.flush_pending().unwrap();
            if s_at == s2c.len() && s_eof && !server_closed {
                pair.server.shutdown_write().unwrap();
                server_closed = true;
            }
            if server_closed
                && pair.server.pending() == 0
                && c_got.len() == s2c.len()
                && s_got.len() == c2s.len()
            {
                break;
            }
            // An idle sweep now and then.
            if rng.below(50) == 0 {
                pair.server.release_idle_memory();
            }
            if rng.below(20) == 0 {
                *pair.wire.server_write_room.borrow_mut() = usize::MAX;
            }
        }
        assert!(
            s_got == c2s,
            "seed {seed}: server got {} of {}",
            s_got.len(),
            c2s.len()
        );
        assert!(
            c_got == s2c,
            "seed {seed}: client got {} of {}",
            c_got.len(),
            s2c.len()
        );
        assert!(
            pair.wire.to_client.borrow().fin,
            "seed {seed}: FIN: server_closed {server_closed} s_eof {s_eof} pending {} client_closed {client_closed}",
            pair.server.pending()
        );
    }
}

#[test]
fn shutdown_during_the_handshake() {
    let pki = TestPki::localhost();
    for versions in BOTH_VERSIONS {
        for stop_at in 0..6 {
            let (client_end, server_end, wire) = socket_pair();
            let conn = rustls::client::UnbufferedClientConnection::new(
                client_config(&pki, versions),
                ServerName::try_from("localhost").unwrap(),
            )
            .unwrap();
            let mut client = TlsStream::new(conn, client_end);
            let mut server = server_tls(&pki).accept(server_end).unwrap();
            let mut b = [0u8; 100];
            let mut log = Vec::new();
            for step in 0..8 {
                client.flush_pending().unwrap();
                if step == stop_at {
                    let fin = server.shutdown_write().unwrap();
                    log.push(format!(
                        "step {step}: shutdown: fin {fin} handshaking {}",
                        server.is_handshaking()
                    ));
                }
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let r = server.read(&mut b);
                    let f = server.flush_pending();
                    (r.map_err(|e| e.to_string()), f.map_err(|e| e.to_string()))
                }));
                match r {
                    Ok(x) => log.push(format!("step {step}: server {x:?}")),
                    Err(_) => {
                        panic!("{versions:?} stop_at {stop_at}: panicked at step {step}; {log:#?}")
                    }
                }
                let _ = client.read(&mut b);
            }
            assert!(
                wire.to_client.borrow().fin,
                "{versions:?} stop_at {stop_at}: no FIN; {log:#?}"
            );
        }
    }
}

#[test]
fn close_notify_without_fin_after_data_in_one_read() {
    // Data and close_notify arrive together, no FIN (the peer waits for
    // our close_notify). The read that delivers the data is short, so an
    // edge-triggered caller would stop, and no readiness event follows:
    // read_ended() tells it to read once more.
    let pki = TestPki::localhost();
    let (mut client, mut server, _wire) = buffered_client_pair(&pki);
    client.conn.writer().write_all(b"last words").unwrap();
    client.conn.send_close_notify();
    client.pump_out();
    let mut b = [0u8; 4096];
    let n = server.read(&mut b).unwrap();
    assert_eq!(&b[..n], b"last words");
    assert!(server.read_ended());
    assert_eq!(server.read(&mut b).unwrap(), 0, "the end was already known");
}

#[test]
fn a_large_certificate_message_is_joined_in_the_clients_buffer() {
    let pki = TestPki::localhost();
    let dir = temp_dir("tls-bigchain");
    let files = pki.write(&dir);
    for copies in [20usize, 100, 160] {
        let mut chain = std::fs::read_to_string(&files.cert).unwrap();
        for _ in 0..copies {
            chain.push_str(&pki.ca_pem);
        }
        let path = dir.join(format!("chain{copies}.pem"));
        std::fs::write(&path, chain).unwrap();
        let tls = ServerTls::from_pem_files(&path, &files.key).unwrap();
        for versions in BOTH_VERSIONS {
            for max_read in [1usize, 1000, usize::MAX] {
                eprintln!("copies {copies} {versions:?} max_read {max_read}");
                let mut pair = connect_cfg(&tls, client_config(&pki, versions), max_read);
                echo_over(&mut pair, &[(false, payload(5000, 1))], 1000);
            }
        }
    }
}

/// Flips, inserts, drops and cuts bytes of `bytes` at random.
fn mangle(bytes: &mut Vec<u8>, rng: &mut Rng) {
    for _ in 0..1 + rng.below(4) {
        if bytes.is_empty() {
            bytes.push(rng.next() as u8);
            continue;
        }
        let at = rng.below(bytes.len());
        match rng.below(5) {
            0 => bytes[at] ^= 1 << rng.below(8),
            1 => bytes[at] = rng.next() as u8,
            2 => bytes.insert(at, rng.next() as u8),
            3 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
}

/// Feeds `bytes` to the server in cuts of random size, reading with
/// buffers of random size, until it errs, ends or has nothing more.
/// Returns the plaintext and how it stopped.
fn feed_hostile(pair: &mut Pair, bytes: &[u8], rng: &mut Rng) -> (Vec<u8>, Option<io::Error>) {
    pair.wire.to_server.borrow_mut().network.extend(bytes);
    *pair.wire.server_max_read.borrow_mut() = 1 + rng.below(3000);
    let mut plain = Vec::new();
    let mut buf = vec![0u8; 1 + rng.below(20_000)];
    for _ in 0..100_000 {
        match pair.server.read(&mut buf) {
            Ok(0) => return (plain, None),
            Ok(n) => plain.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if pair.wire.to_server.borrow().network.is_empty() {
                    return (plain, None);
                }
            }
            Err(e) => return (plain, Some(e)),
        }
    }
    panic!("the server kept reading");
}

#[test]
fn mangled_records_fail_with_invalid_data_and_never_panic() {
    // Hostile ciphertext, in the handshake and after it, cut at random:
    // every error is InvalidData, nothing panics, and the calls after an
    // error fail or do nothing, also without panicking. Plaintext that
    // comes out is a prefix of what the client sent: a corrupt record is
    // never delivered.
    let pki = TestPki::localhost();
    let tls = server_tls(&pki);
    let hello = client_hello_bytes(&pki);
    let mut rng = Rng(0x5eed_7115);
    for round in 0..400 {
        let (mut pair, bytes, sent) = if round % 2 == 0 {
            // A mangled ClientHello.
            let (client_end, server_end, wire) = socket_pair();
            let conn = rustls::client::UnbufferedClientConnection::new(
                client_config(&pki, rustls::DEFAULT_VERSIONS),
                ServerName::try_from("localhost").unwrap(),
            )
            .unwrap();
            let pair = Pair {
                client: TlsStream::new(conn, client_end),
                server: tls.accept(server_end).unwrap(),
                wire,
            };
            (pair, hello.clone(), Vec::new())
        } else {
            // Mangled application records after a completed handshake.
            let mut pair = connect_with(&pki, &tls, rustls::DEFAULT_VERSIONS);
            let sent = payload(1 + rng.below(50_000), round);
            let mut at = 0;
            while at < sent.len() {
                let k = 1 + rng.below(sent.len() - at);
                at += pair.client.write(&sent[at..at + k]).unwrap();
            }
            pair.client.flush_pending().unwrap();
            let bytes: Vec<u8> = pair.wire.to_server.borrow_mut().network.drain(..).collect();
            (pair, bytes, sent)
        };
        let mut bytes = bytes;
        mangle(&mut bytes, &mut rng);
        let (plain, error) = feed_hostile(&mut pair, &bytes, &mut rng);
        assert!(
            sent.starts_with(&plain),
            "round {round}: plaintext that was never sent came out"
        );
        if let Some(e) = error {
            assert_eq!(e.kind(), ErrorKind::InvalidData, "round {round}: {e}");
            let mut b = [0u8; 64];
            assert!(pair.server.read(&mut b).is_err(), "round {round}");
            assert!(pair.server.write(b"after").is_err(), "round {round}");
            let _ = pair.server.flush_pending();
            let _ = pair.server.shutdown_write();
            pair.server.release_idle_memory();
        }
    }
}

#[test]
fn the_input_buffer_never_holds_more_than_max_tls_input() {
    // A ClientHello as long as a handshake message can be (64 KiB),
    // in records of 16 KiB: with the record headers it does not fit
    // in 64 KiB, so the input buffer takes its last step, to
    // MAX_TLS_INPUT, and must not reserve more than that.
    let mut message = vec![0x01, 0x00, 0xff, 0xff];
    message.resize(4 + 0xffff, 0x41);
    let mut wire_bytes = Vec::new();
    for record in message.chunks(1 << 14) {
        wire_bytes.extend_from_slice(&[0x16, 0x03, 0x01]);
        wire_bytes.extend_from_slice(&(record.len() as u16).to_be_bytes());
        wire_bytes.extend_from_slice(record);
    }
    assert!(wire_bytes.len() > 64 << 10);
    let pki = TestPki::localhost();
    let (_client_end, server_end, wire) = socket_pair();
    let mut server = server_tls(&pki).accept(server_end).unwrap();
    // All but the last bytes: the message is still in progress.
    let held_back = 16;
    wire.to_server
        .borrow_mut()
        .network
        .extend(&wire_bytes[..wire_bytes.len() - held_back]);
    let mut buf = [0u8; 256];
    let err = server.read(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    assert!(
        server.buffer_bytes() <= MAX_TLS_INPUT + (16 << 10),
        "{} bytes held for {} bytes of input",
        server.buffer_bytes(),
        wire_bytes.len() - held_back
    );
}
