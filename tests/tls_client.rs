//! The blocking client over `wss://`, against a small rustls echo server
//! run on a thread (blocking rustls stream, our handshake parser and
//! connection for the WebSocket side). Certificates come from rcgen.

#![cfg(feature = "tls")]

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use common::pki::{temp_dir, TestPki};
use rfc6455::client::{Client, ClientConfig, Error};
use rfc6455::connection::{Config, Connection, Event};
use rfc6455::frame::Status;
use rfc6455::handshake::{Accept, Opening, RequestParser};
use rfc6455::tls::{rustls, ClientTls};
use rfc6455::CloseCode;

/// What the test server saw of one connection.
#[derive(Debug)]
struct Seen {
    sni: Option<String>,
    alpn: Option<Vec<u8>>,
    version: Option<rustls::ProtocolVersion>,
    /// The close code the client sent.
    close: Option<CloseCode>,
}

fn server_config(pki: &TestPki) -> Arc<rustls::ServerConfig> {
    let certs =
        vec![rustls::pki_types::CertificateDer::from_pem_slice(pki.cert_pem.as_bytes()).unwrap()];
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pki.key_pem.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(rfc6455::tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

use rustls::pki_types::pem::PemObject;

/// A TLS echo server for one connection. Returns its port and what it saw.
fn tls_echo_server(pki: &TestPki) -> (u16, mpsc::Receiver<Result<Seen, String>>) {
    let config = server_config(pki);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let result = (|| -> Result<Seen, String> {
            let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
            tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let tls = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
            let mut stream = rustls::StreamOwned::new(tls, tcp);
            serve_echo(&mut stream)?;
            let tls = &stream.conn;
            let mut seen = Seen {
                sni: tls.server_name().map(str::to_owned),
                alpn: tls.alpn_protocol().map(<[u8]>::to_vec),
                version: tls.protocol_version(),
                close: None,
            };
            seen.close = LAST_CLOSE.with(|c| c.take());
            // The server ends the connection first: close_notify, then FIN.
            stream.conn.send_close_notify();
            stream.flush().map_err(|e| e.to_string())?;
            let _ = stream.sock.shutdown(std::net::Shutdown::Write);
            let mut rest = Vec::new();
            let _ = stream.sock.read_to_end(&mut rest);
            Ok(seen)
        })();
        let _ = tx.send(result);
    });
    (port, rx)
}

thread_local! {
    static LAST_CLOSE: std::cell::Cell<Option<CloseCode>> = const { std::cell::Cell::new(None) };
}

/// Reads the upgrade and answers 101; returns the server's side of the
/// connection, holding whatever came after the request.
fn upgrade(stream: &mut impl ReadWrite) -> Result<Connection, String> {
    let mut buf = Vec::new();
    let mut parser = RequestParser::default();
    let mut out = Vec::new();
    let consumed = loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("end of stream before the request".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        match parser.parse(&buf) {
            Ok(Status::Complete(Opening::WebSocket(request))) => {
                request
                    .accept(&Accept::new(), &mut out)
                    .map_err(|e| e.to_string())?;
                break request.consumed();
            }
            Ok(Status::Complete(Opening::Http(_))) => return Err("plain HTTP".into()),
            Ok(Status::Incomplete(_)) => continue,
            Err(e) => return Err(e.to_string()),
        }
    };
    stream.write_all(&out).map_err(|e| e.to_string())?;
    let mut config = Config::default();
    // Frames as large as messages: a test sends one far larger than the
    // socket buffers.
    config.limits.max_frame_size = config.limits.max_message_size;
    let mut conn = Connection::server(config);
    conn.receive(&buf[consumed..], Duration::ZERO);
    Ok(conn)
}

/// Reads the upgrade, answers 101, echoes until the closing handshake ends.
fn serve_echo(stream: &mut impl ReadWrite) -> Result<(), String> {
    let mut conn = upgrade(stream)?;
    loop {
        while let Some(event) = conn.next_event().map_err(|e| e.to_string())? {
            let echo = match event {
                Event::Text(t) => Some((true, t.as_bytes().to_vec())),
                Event::Binary(b) => Some((false, b.to_vec())),
                Event::Close { code, .. } => {
                    LAST_CLOSE.with(|c| c.set(code));
                    None
                }
                _ => None,
            };
            match echo {
                Some((true, data)) => conn
                    .send_text(std::str::from_utf8(&data).unwrap())
                    .map_err(|e| e.to_string())?,
                Some((false, data)) => conn.send_binary(&data).map_err(|e| e.to_string())?,
                None => {}
            }
        }
        while conn.has_output() {
            let n = stream.write(conn.output()).map_err(|e| e.to_string())?;
            conn.consume_output(n);
        }
        stream.flush().map_err(|e| e.to_string())?;
        if conn.should_close_transport() {
            return Ok(());
        }
        let read = stream.read(conn.read_buf());
        match read {
            Ok(0) => conn.receive_eof(),
            Ok(n) => conn.commit_read(n, Duration::ZERO),
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => conn.receive_eof(),
            Err(e) => return Err(e.to_string()),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn config_trusting(pki: &TestPki) -> ClientConfig {
    let dir = temp_dir("tls-client");
    let files = pki.write(&dir);
    ClientConfig {
        tls: ClientTls::from_ca_file(&files.ca).unwrap(),
        read_timeout: Some(Duration::from_secs(10)),
        ..ClientConfig::default()
    }
}

fn tls_error(e: &Error) -> &rustls::Error {
    match e {
        Error::Tls(inner) => inner
            .downcast_ref::<rustls::Error>()
            .unwrap_or_else(|| panic!("not a rustls error: {inner}")),
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[test]
fn echoes_over_wss_with_sni_and_alpn() {
    let pki = TestPki::localhost();
    let (port, seen) = tls_echo_server(&pki);
    let config = config_trusting(&pki);
    let mut client = Client::connect_with(&format!("wss://localhost:{port}/echo"), &config)
        .expect("wss connect");
    for n in [0usize, 1, 125, 126, 65_535, 65_536, 1 << 20] {
        let text: String = "aé中😀".chars().cycle().take(n).collect();
        client.send_text(&text).unwrap();
        match client.recv().unwrap() {
            Event::Text(t) => assert_eq!(t, text, "text of {n} chars"),
            other => panic!("{other:?}"),
        }
        let data: Vec<u8> = (0..n).map(|i| (i * 7 + i / 256) as u8).collect();
        client.send_binary(&data).unwrap();
        match client.recv().unwrap() {
            Event::Binary(b) => assert!(b == data, "binary of {n} bytes"),
            other => panic!("{other:?}"),
        }
    }
    let (code, _) = client.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(code, CloseCode::NORMAL);
    let seen = seen.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(seen.sni.as_deref(), Some("localhost"));
    assert_eq!(seen.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(seen.version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(seen.close, Some(CloseCode::NORMAL));
}

#[test]
fn ip_address_hosts_are_verified_against_ip_names() {
    let pki = TestPki::localhost();
    let (port, seen) = tls_echo_server(&pki);
    let config = config_trusting(&pki);
    let mut client =
        Client::connect_with(&format!("wss://127.0.0.1:{port}/"), &config).expect("connect");
    client.send_text("over an IP address").unwrap();
    assert!(matches!(
        client.recv().unwrap(),
        Event::Text("over an IP address")
    ));
    client.close(CloseCode::NORMAL, "").unwrap();
    // No SNI for an IP address (RFC 6066 section 3).
    let seen = seen.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    assert_eq!(seen.sni, None);
}

#[test]
fn a_certificate_from_an_unknown_ca_is_refused() {
    let pki = TestPki::localhost();
    let (port, _seen) = tls_echo_server(&pki);
    // Default trust: Mozilla's roots, which never signed the test CA.
    let err = Client::connect(&format!("wss://localhost:{port}/")).unwrap_err();
    assert!(
        matches!(
            tls_error(&err),
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        "{err}"
    );
    // Another private CA is no better.
    let other = TestPki::localhost();
    let (port, _seen) = tls_echo_server(&pki);
    let err = Client::connect_with(
        &format!("wss://localhost:{port}/"),
        &config_trusting(&other),
    )
    .unwrap_err();
    assert!(matches!(
        tls_error(&err),
        rustls::Error::InvalidCertificate(_)
    ));
}

#[test]
fn a_certificate_for_another_name_is_refused() {
    let pki = TestPki::new("rfc6455 test CA", &["other.example"]);
    let (port, _seen) = tls_echo_server(&pki);
    let err = Client::connect_with(&format!("wss://localhost:{port}/"), &config_trusting(&pki))
        .unwrap_err();
    assert!(
        matches!(
            tls_error(&err),
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. }
            ) | rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
        ),
        "{err}"
    );
}

#[test]
fn a_plain_server_behind_a_wss_url_is_a_tls_error_not_plaintext() {
    // Something that answers TLS with plain HTTP.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        let mut sink = [0u8; 1024];
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
        let got = tcp.read(&mut sink).unwrap_or(0);
        // The client's first bytes were a TLS ClientHello, not a request.
        (got, sink[0])
    });
    let err = Client::connect(&format!("wss://localhost:{port}/")).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    let (got, first) = server.join().unwrap();
    assert!(got > 0);
    assert_eq!(first, 0x16, "a TLS handshake record");
}

#[test]
fn the_handshake_timeout_covers_the_tls_handshake() {
    // Accepts TCP, never says a word.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let (_tcp, _) = listener.accept().unwrap();
        let _ = done_rx.recv_timeout(Duration::from_secs(20));
    });
    let pki = TestPki::localhost();
    let config = ClientConfig {
        handshake_timeout: Duration::from_millis(300),
        ..config_trusting(&pki)
    };
    let start = Instant::now();
    let err = Client::connect_with(&format!("wss://localhost:{port}/"), &config).unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
    drop(done_tx);
    server.join().unwrap();
}

#[test]
fn ca_files_that_cannot_be_used_are_reported() {
    let dir = temp_dir("tls-cafile");
    let missing = ClientTls::from_ca_file(dir.join("missing.pem")).unwrap_err();
    assert!(
        matches!(missing, rfc6455::tls::TlsError::Io(..)),
        "{missing}"
    );
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "no PEM here\n").unwrap();
    let err = ClientTls::from_ca_file(&empty).unwrap_err();
    assert!(matches!(err, rfc6455::tls::TlsError::Pem(..)), "{err}");
    assert!(err.to_string().contains("empty.pem"), "{err}");
}

#[test]
fn the_tls_transport_is_used_for_the_connection_only_when_asked() {
    // A ws:// URL to a TLS server: the client speaks plain HTTP, and the
    // server's TLS fails on it. No silent upgrade, no silent downgrade.
    let pki = TestPki::localhost();
    let (port, seen) = tls_echo_server(&pki);
    let err = Client::connect_with(
        &format!("ws://localhost:{port}/"),
        &ClientConfig {
            handshake_timeout: Duration::from_secs(5),
            ..config_trusting(&pki)
        },
    )
    .unwrap_err();
    assert!(!matches!(err, Error::Tls(_)), "{err:?}");
    assert!(seen.recv_timeout(Duration::from_secs(10)).unwrap().is_err());
    let _ = TcpStream::connect(("127.0.0.1", port));
}

/// A TLS server for one connection that sends its bytes one at a time,
/// 20 ms apart: its first handshake flight (`upgrade` false), or a large
/// binary message after a normal handshake and upgrade (`upgrade` true).
/// It stops when the client goes away, or after 15 s.
fn dripping_server(pki: &TestPki, upgrade: bool) -> (u16, thread::JoinHandle<()>) {
    let config = server_config(pki);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut tls = rustls::ServerConnection::new(config).unwrap();
        let mut records = Vec::new();
        if upgrade {
            let mut stream = rustls::StreamOwned::new(tls, tcp);
            let mut head = Vec::new();
            let mut out = Vec::new();
            loop {
                let mut chunk = [0u8; 4096];
                let n = stream.read(&mut chunk).unwrap();
                assert!(n > 0, "end of stream before the request");
                head.extend_from_slice(&chunk[..n]);
                if let Status::Complete(Opening::WebSocket(request)) =
                    RequestParser::default().parse(&head).unwrap()
                {
                    request.accept(&Accept::new(), &mut out).unwrap();
                    break;
                }
            }
            stream.write_all(&out).unwrap();
            stream.flush().unwrap();
            let mut conn = Connection::server(Config::default());
            conn.send_binary(&[7u8; 8000]).unwrap();
            stream.conn.writer().write_all(conn.output()).unwrap();
            (tls, tcp) = (stream.conn, stream.sock);
        } else {
            while !tls.wants_write() {
                if tls.read_tls(&mut tcp).unwrap() == 0 {
                    return;
                }
                tls.process_new_packets().unwrap();
            }
        }
        while tls.wants_write() {
            tls.write_tls(&mut records).unwrap();
        }
        let give_up = Instant::now() + Duration::from_secs(15);
        for byte in records {
            if Instant::now() > give_up || tcp.write_all(&[byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    });
    (port, server)
}

#[test]
fn the_handshake_timeout_bounds_a_tls_handshake_that_trickles_in() {
    // Every byte of the server's flight comes well within the handshake
    // timeout of the one before: only a deadline over the whole handshake
    // stops it (the flight takes over 10 s to arrive).
    let pki = TestPki::localhost();
    let (port, server) = dripping_server(&pki, false);
    let config = ClientConfig {
        handshake_timeout: Duration::from_millis(500),
        ..config_trusting(&pki)
    };
    let start = Instant::now();
    let err = Client::connect_with(&format!("wss://localhost:{port}/"), &config).unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout), "{err:?} after {took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    server.join().unwrap();
}

#[test]
fn a_recv_deadline_holds_while_a_tls_record_trickles_in() {
    // With keepalive, recv's read timeout is a deadline: a record that
    // arrives a byte at a time must not hold it past the deadline.
    let pki = TestPki::localhost();
    let (port, server) = dripping_server(&pki, true);
    let config = ClientConfig {
        read_timeout: Some(Duration::from_millis(500)),
        keepalive: Some(rfc6455::client::Keepalive {
            interval: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        }),
        ..config_trusting(&pki)
    };
    let mut client = Client::connect_with(&format!("wss://localhost:{port}/"), &config).unwrap();
    let start = Instant::now();
    let err = client.recv().unwrap_err();
    let took = start.elapsed();
    assert!(matches!(err, Error::Timeout), "{err:?} after {took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    drop(client);
    server.join().unwrap();
}

/// The binary messages the pausing server got, or what went wrong.
type Received = mpsc::Receiver<Result<Vec<Vec<u8>>, String>>;

/// A TLS server that answers the upgrade, then reads nothing until told
/// to; then it returns the binary messages that came before a text one.
fn tls_server_that_pauses(pki: &TestPki) -> (u16, mpsc::Sender<()>, Received) {
    let config = server_config(pki);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (release, released) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let result = (|| -> Result<Vec<Vec<u8>>, String> {
            let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
            tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let tls = rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
            let mut stream = rustls::StreamOwned::new(tls, tcp);
            let mut conn = upgrade(&mut stream)?;
            released
                .recv_timeout(Duration::from_secs(30))
                .map_err(|e| e.to_string())?;
            let mut got = Vec::new();
            loop {
                while let Some(event) = conn.next_event().map_err(|e| e.to_string())? {
                    match event {
                        Event::Binary(b) => got.push(b.to_vec()),
                        Event::Text(_) => return Ok(got),
                        other => return Err(format!("{other:?}")),
                    }
                }
                match stream.read(conn.read_buf()) {
                    Ok(0) => return Err("end of stream".into()),
                    Ok(n) => conn.commit_read(n, Duration::ZERO),
                    Err(e) => return Err(e.to_string()),
                }
            }
        })();
        let _ = tx.send(result);
    });
    (port, release, rx)
}

#[test]
fn a_write_that_times_out_over_wss_loses_and_repeats_nothing() {
    // rustls takes bytes into its buffer before the socket does; when the
    // socket's write timeout cuts the flush short, those bytes must count
    // as written, or the next flush offers them again and the server gets
    // them twice (a broken frame).
    let pki = TestPki::localhost();
    let (port, release, got) = tls_server_that_pauses(&pki);
    let config = ClientConfig {
        write_timeout: Some(Duration::from_millis(200)),
        // No read timeout: a write that went on to read (as rustls'
        // `Stream::write` does when the socket's write times out) would
        // wait for the server, which sends nothing.
        read_timeout: None,
        ..config_trusting(&pki)
    };
    let mut client = Client::connect_with(&format!("wss://localhost:{port}/"), &config).unwrap();
    let data: Vec<u8> = (0..32usize << 20)
        .map(|i| (i * 7 + i / 251) as u8)
        .collect();
    let (done, sent) = mpsc::channel();
    let message = data.clone();
    thread::spawn(move || {
        let result = client.send_binary(&message);
        let _ = done.send((result, client));
    });
    let Ok((result, mut client)) = sent.recv_timeout(Duration::from_secs(30)) else {
        panic!("the send still blocked after 30 s with a 200 ms write timeout");
    };
    match result {
        Err(Error::Timeout) => {}
        other => panic!("expected a write timeout, got {other:?}"),
    }
    assert!(
        client.connection().has_output(),
        "some of it is still queued"
    );
    release.send(()).unwrap();
    // A loaded machine may leave the server unscheduled for longer than
    // the write timeout: go on while the flush times out, for a while.
    let until = Instant::now() + Duration::from_secs(20);
    let mut sent = client.flush();
    while matches!(sent, Err(Error::Timeout)) && Instant::now() < until {
        sent = client.flush();
    }
    let sent = sent.and_then(|()| client.send_text("end"));
    let got = got.recv_timeout(Duration::from_secs(30)).unwrap();
    sent.unwrap_or_else(|e| panic!("{e:?}; the server: {got:?}"));
    let got = got.unwrap();
    assert_eq!(got.len(), 1);
    assert!(got[0] == data, "the message arrived changed");
}
