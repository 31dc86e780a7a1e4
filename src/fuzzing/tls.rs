//! The server's TLS layer (`src/server/tls.rs`): a [`TlsStream`] over an
//! in-memory socket fed the fuzzer's bytes as ciphertext from a client.

use std::cell::Cell;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::prelude::rust_2021::*;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::sign::{CertifiedKey, Signer, SigningKey};
use rustls::{SignatureAlgorithm, SignatureScheme};

use super::Input;
use crate::server::tls::{ServerTls, Socket, TlsStream, MAX_PLAINTEXT_PER_WRITE, MAX_TLS_INPUT};

/// The most memory the layer may hold in its buffers (capacities, as
/// [`TlsStream::buffer_bytes`] counts them) while the handshake runs, from
/// the code:
///
/// - ciphertext in: at most [`MAX_TLS_INPUT`] bytes, in a `Vec` grown by
///   doubling from 4 KiB, each step reserved exactly;
/// - plaintext held until the handshake allows sealing it: at most
///   [`MAX_PLAINTEXT_PER_WRITE`], in a `Vec` that may reserve twice that;
/// - records out: one server flight (ServerHello to Finished, with this
///   target's 64-byte certificate) and alerts, a few KiB; 16 KiB allowed;
/// - decrypted plaintext and the gathering buffer: empty before the
///   handshake ends, which a fuzzer cannot reach (it cannot compute keys).
pub const TLS_HANDSHAKE_MEMORY: usize = MAX_TLS_INPUT + 2 * MAX_PLAINTEXT_PER_WRITE + (16 << 10);

/// The same once the handshake is done (the `session` mode): besides the
/// above, decrypted plaintext the caller has not read (what the buffered
/// ciphertext held, at most `MAX_TLS_INPUT`, plus one record), a write's
/// records ([`MAX_PLAINTEXT_PER_WRITE`] and their overhead) with tickets
/// and key updates, and one record gathered; each `Vec` may reserve up to
/// twice what it holds.
pub const TLS_SESSION_MEMORY: usize = TLS_HANDSHAKE_MEMORY
    + 2 * (MAX_TLS_INPUT + (16 << 10))
    + 2 * (MAX_PLAINTEXT_PER_WRITE + (16 << 10))
    + (32 << 10);

/// A step's length field with this value in the `session` mode: the
/// client writes a `u16` length of plaintext.
const STEP_CLIENT_WRITE: u16 = 0xfffb;
/// A step's length field with this value in the `session` mode: the
/// client shuts down writing (`close_notify`, then its FIN).
const STEP_CLIENT_CLOSE: u16 = 0xfffa;

/// The caller's read buffer sizes: the worker's is large, a byte at a time
/// exercises every early return.
const READ_SIZES: [usize; 8] = [1, 5, 64, 1024, 4096, 16 << 10, 64 << 10, 1 << 17];

/// The socket's write budgets per call (0: always `WouldBlock`).
const WRITE_SIZES: [usize; 8] = [usize::MAX, 1, 7, 100, 1000, 5000, 0, usize::MAX];

/// A step's length field with this value: the peer's FIN.
const STEP_EOF: u16 = 0xffff;
/// A step's length field with this value: the server writes plaintext
/// (what the worker writes is a 101 response, then frames).
const STEP_WRITE: u16 = 0xfffe;
/// A step's length field with this value: the socket takes writes again
/// (the worker's writable event), and the layer is flushed.
const STEP_WRITABLE: u16 = 0xfffd;
/// A step's length field with this value: a `u16` length and a count
/// follow, then that many bytes, which arrive count + 1 times over (large
/// messages from small inputs: libFuzzer's inputs stay within 4 KiB).
const STEP_REPEAT: u16 = 0xfffc;

/// `tls_server`: the server side of [`TlsStream`] over an in-memory
/// socket, read as the worker reads it (until a short read, `WouldBlock`,
/// the end or an error), with ciphertext arriving in the fuzzer's pieces,
/// `WouldBlock` between them, `Interrupted` where it chooses, and a socket
/// that takes writes in pieces or not at all. Checks:
///
/// - no panic, and no spin: a read call finds the socket empty (or
///   ended) at most once, and the worker's loop ends;
/// - the buffers stay within [`TLS_HANDSHAKE_MEMORY`] after every call;
/// - what reaches the socket is whole TLS records (type 20 to 23, version
///   3.x, at most 2^14 + 2048 bytes each), the first a handshake record
///   or an alert; nothing is written after the FIN, and the FIN goes once;
/// - after a TLS error every read fails again (never `WouldBlock`, never
///   data); after `Ok(0)`, [`read_ended`](TlsStream::read_ended) is true
///   and reads give `Ok(0)` or an error;
/// - a write before the handshake is held (never more than asked, at
///   most [`MAX_PLAINTEXT_PER_WRITE`]), not sent in the clear;
/// - after `shutdown_write`, once the socket takes everything, the FIN is
///   out.
///
/// Input: a flags byte (bits 0-2: the caller's read size from
/// `READ_SIZES`; 3: release idle memory after each step; 4: shut down
/// writing at the end; 5: `Interrupted` before each piece; 6: the
/// `session` mode, after a real handshake), a byte for the
/// socket's writes (bits 0-2: budget per call from `WRITE_SIZES`), then
/// steps: a little-endian `u16` length and that many bytes of ciphertext,
/// or one of `STEP_EOF`, `STEP_WRITE` (then a `u16` plaintext length),
/// `STEP_WRITABLE`, `STEP_REPEAT` (and in the session mode
/// `STEP_CLIENT_WRITE`, `STEP_CLIENT_CLOSE`).
pub fn fuzz_tls_server(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.u8();
    let read_size = READ_SIZES[usize::from(flags & 7)];
    let release = flags & 8 != 0;
    let shut = flags & 16 != 0;
    let interrupt = flags & 32 != 0;
    let write_size = WRITE_SIZES[usize::from(input.u8() & 7)];
    if flags & 64 != 0 {
        return session(input, read_size, write_size, release, interrupt);
    }

    let socket = FakeSocket {
        write_size,
        ..FakeSocket::default()
    };
    let mut tls = server_tls()
        .accept(socket)
        .expect("a server session starts");
    let mut buf = vec![0u8; read_size];
    let mut state = ReadState::Open;

    while !input.is_empty() {
        match input.u16() {
            STEP_EOF => tls.socket_mut().eof = true,
            STEP_WRITE => {
                let len = usize::from(input.u16());
                let plain = vec![b'p'; len];
                let before = tls.socket().written.len();
                match tls.write(&plain) {
                    Ok(k) => {
                        assert!(
                            k <= len && k <= MAX_PLAINTEXT_PER_WRITE,
                            "took {k} of {len}"
                        )
                    }
                    Err(e) => assert!(e.kind() != ErrorKind::Interrupted, "a write's error: {e}"),
                }
                if tls.is_handshaking() {
                    // Whatever went out is records (checked below), never the
                    // plaintext itself.
                    let out = &tls.socket().written[before..];
                    assert!(
                        len < 16 || !out.windows(16).any(|w| w == &plain[..16]),
                        "plaintext sent in the clear before the handshake"
                    );
                }
            }
            STEP_WRITABLE => {
                tls.socket_mut().write_size = usize::MAX;
                let _ = tls.flush_pending();
                tls.socket_mut().write_size = write_size;
            }
            step => {
                let (len, times) = match step {
                    STEP_REPEAT => (input.u16(), usize::from(input.u8()) + 1),
                    len => (len, 1),
                };
                let piece = input.take(usize::from(len));
                let socket = tls.socket_mut();
                for _ in 0..times {
                    socket.incoming.extend(piece);
                }
                socket.interrupt = interrupt;
            }
        }
        // The worker's read loop on a readable event.
        let before = tls.socket().reads - tls.socket().incoming_reads - tls.socket().interrupts;
        let mut calls = 0;
        for spin in 0.. {
            calls += 1;
            assert!(spin < 1 << 16, "the read loop does not end");
            let result = tls.read(&mut buf);
            check_read(&mut state, &result, &tls);
            match result {
                Ok(n) if n == buf.len() => {}
                _ => break,
            }
        }
        // Besides the reads that returned bytes or were interrupted, each
        // call reads the socket at most once more (finding it empty or
        // ended): no call spins on an empty socket.
        let s = tls.socket();
        let empty_reads = s.reads - s.incoming_reads - s.interrupts - before;
        assert!(
            empty_reads <= calls,
            "{empty_reads} empty socket reads in {calls} calls"
        );
        if release {
            tls.release_idle_memory();
        }
        check_layer(&tls);
    }

    if shut {
        let _ = tls.shutdown_write();
        check_layer(&tls);
        tls.socket_mut().write_size = usize::MAX;
        for _ in 0..3 {
            if let Ok(0) = tls.flush_pending() {
                break;
            }
        }
        check_layer(&tls);
        assert_eq!(tls.pending(), 0, "records left with a writable socket");
        assert_eq!(tls.socket().fins.get(), 1, "no FIN with a writable socket");
    }
}

/// What the reads so far said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Open,
    Ended,
    Failed,
}

fn check_read(state: &mut ReadState, result: &io::Result<usize>, tls: &TlsStream<FakeSocket>) {
    match (*state, result) {
        (ReadState::Failed, Ok(n)) => core::panic!("a read gave Ok({n}) after a TLS error"),
        (ReadState::Failed, Err(e)) => {
            assert!(
                e.kind() != ErrorKind::WouldBlock,
                "WouldBlock after a TLS error"
            )
        }
        (ReadState::Ended, Ok(n)) => assert_eq!(*n, 0, "data after the end"),
        (ReadState::Ended, Err(e)) => {
            assert!(
                e.kind() != ErrorKind::WouldBlock,
                "WouldBlock after the end"
            );
            *state = ReadState::Failed;
        }
        (ReadState::Open, Ok(0)) => {
            assert!(tls.read_ended(), "Ok(0) but read_ended() is false");
            *state = ReadState::Ended;
        }
        (ReadState::Open, Ok(_)) => {
            // Plaintext needs a finished handshake.
            assert!(!tls.is_handshaking(), "plaintext during the handshake");
        }
        (ReadState::Open, Err(e)) => match e.kind() {
            ErrorKind::WouldBlock => {
                assert!(
                    tls.socket().incoming.is_empty(),
                    "WouldBlock with bytes left"
                )
            }
            ErrorKind::InvalidData => *state = ReadState::Failed,
            kind => core::panic!("a read failed with {kind:?}: {e}"),
        },
    }
}

/// The bounds and the output's framing, after any call.
fn check_layer(tls: &TlsStream<FakeSocket>) {
    let bound = if tls.is_handshaking() {
        TLS_HANDSHAKE_MEMORY
    } else {
        TLS_SESSION_MEMORY
    };
    let held = tls.buffer_bytes();
    assert!(held <= bound, "{held} bytes of buffers, above {bound}");
    check_records(&tls.socket().written);
}

/// The server's output: whole records, as far as it goes.
fn check_records(out: &[u8]) {
    let mut at = 0;
    while out.len() - at >= 5 {
        let (kind, major, len) = (
            out[at],
            out[at + 1],
            usize::from(u16::from_be_bytes([out[at + 3], out[at + 4]])),
        );
        assert!((20..=23).contains(&kind), "record type {kind} at {at}");
        if at == 0 {
            assert!(kind == 21 || kind == 22, "the first record has type {kind}");
        }
        assert_eq!(major, 3, "record version {major}.x at {at}");
        assert!(len <= (16 << 10) + 2048, "a record of {len} bytes at {at}");
        at += 5 + len;
    }
}

/// One configuration for every run: the crate's own server settings
/// ([`ServerTls::from_certified_key`]) with a stand-in certificate and a
/// key that signs with zeros. The fuzzer is a client that cannot check a
/// signature anyway, and no key material is kept in the crate.
fn server_tls() -> &'static ServerTls {
    static TLS: OnceLock<ServerTls> = OnceLock::new();
    TLS.get_or_init(|| {
        let cert = CertificateDer::from(vec![0x30u8; 64]);
        ServerTls::from_certified_key(CertifiedKey::new(vec![cert], Arc::new(ZeroKey)))
    })
}

#[derive(Debug)]
struct ZeroKey;

impl SigningKey for ZeroKey {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn Signer>> {
        [
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ECDSA_NISTP384_SHA384,
            SignatureScheme::ED25519,
        ]
        .into_iter()
        .find(|s| offered.contains(s))
        .map(|scheme| Box::new(ZeroSigner(scheme)) as Box<dyn Signer>)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

#[derive(Debug)]
struct ZeroSigner(SignatureScheme);

impl Signer for ZeroSigner {
    fn sign(&self, _message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        Ok(vec![0; 64])
    }

    fn scheme(&self) -> SignatureScheme {
        self.0
    }
}

/// A non-blocking socket in memory.
#[derive(Debug)]
struct FakeSocket {
    /// Ciphertext from the client not read yet.
    incoming: VecDeque<u8>,
    /// The client's FIN came after `incoming`.
    eof: bool,
    /// The next read fails with `Interrupted`.
    interrupt: bool,
    /// Reads made, and reads that returned bytes (a piece may take
    /// several when the layer offers less room than it holds).
    reads: usize,
    incoming_reads: usize,
    /// What the server wrote.
    written: Vec<u8>,
    /// The most a write takes (0: `WouldBlock`).
    write_size: usize,
    /// The server's FINs (`shutdown_write` takes `&self`).
    fins: Cell<u32>,
    /// Reads failed with `Interrupted`.
    interrupts: usize,
}

impl Default for FakeSocket {
    fn default() -> Self {
        FakeSocket {
            incoming: VecDeque::new(),
            eof: false,
            interrupt: false,
            reads: 0,
            incoming_reads: 0,
            written: Vec::new(),
            write_size: usize::MAX,
            fins: Cell::new(0),
            interrupts: 0,
        }
    }
}

impl Read for FakeSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        assert!(!buf.is_empty(), "a socket read of 0 bytes");
        if std::mem::take(&mut self.interrupt) {
            self.interrupts += 1;
            return Err(ErrorKind::Interrupted.into());
        }
        if self.incoming.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(ErrorKind::WouldBlock.into())
            };
        }
        let k = buf.len().min(self.incoming.len());
        for (dst, src) in buf.iter_mut().zip(self.incoming.drain(..k)) {
            *dst = src;
        }
        self.incoming_reads += 1;
        Ok(k)
    }
}

impl Write for FakeSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        assert_eq!(self.fins.get(), 0, "a write after the FIN");
        if self.write_size == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        let k = buf.len().min(self.write_size);
        self.written.extend_from_slice(&buf[..k]);
        Ok(k)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Socket for FakeSocket {
    fn shutdown_write(&self) -> io::Result<()> {
        assert_eq!(self.fins.get(), 0, "a second FIN");
        self.fins.set(1);
        Ok(())
    }
}

/// The `session` mode (flags bit 6): a real client (the crate's own
/// [`TlsStream`] over rustls' client, trusting any certificate) completes
/// the handshake with the server first; then the steps drive both. Raw
/// pieces go to the server as forged ciphertext. Checks, besides the
/// bounds, framing and read rules above: a short read leaves the socket
/// empty (the worker stops reading there); what the server reads is a
/// prefix of what the client wrote, and what the client reads a prefix of
/// what the server wrote; with nothing forged and no error, both arrive
/// whole once everything is delivered.
fn session(
    mut input: Input<'_>,
    read_size: usize,
    write_size: usize,
    release: bool,
    interrupt: bool,
) {
    let mut tls = server_tls()
        .accept(FakeSocket::default())
        .expect("a server session starts");
    let client = rustls::client::UnbufferedClientConnection::new(
        client_config(),
        rustls::pki_types::ServerName::try_from("localhost").expect("a name"),
    )
    .expect("a client session starts");
    let mut client = TlsStream::new(client, FakeSocket::default());
    let mut scratch = vec![0u8; 1 << 17];
    let mut link = Link::default();
    for _ in 0..32 {
        let _ = client.flush_pending();
        link.send_to_server(&mut client, &mut tls);
        let _ = tls.read(&mut scratch);
        link.send_to_client(&mut tls, &mut client);
        let _ = client.read(&mut scratch);
        if !tls.is_handshaking() && !client.is_handshaking() {
            break;
        }
    }
    assert!(
        !tls.is_handshaking() && !client.is_handshaking(),
        "the handshake did not finish"
    );
    let _ = client.flush_pending();
    link.send_to_server(&mut client, &mut tls);
    tls.socket_mut().write_size = write_size;

    let mut buf = vec![0u8; read_size];
    let mut state = ReadState::Open;
    let (mut client_out, mut server_in) = (Vec::new(), Vec::new());
    let (mut server_out, mut client_in) = (Vec::new(), Vec::new());
    let mut forged = false;
    let mut client_done = false;
    while !input.is_empty() {
        match input.u16() {
            STEP_EOF => {
                tls.socket_mut().eof = true;
                client_done = true;
            }
            STEP_WRITE => {
                let len = usize::from(input.u16());
                let plain = pattern(server_out.len(), len, 0x5a);
                if let Ok(k) = tls.write(&plain) {
                    assert!(
                        k <= len && k <= MAX_PLAINTEXT_PER_WRITE,
                        "took {k} of {len}"
                    );
                    server_out.extend_from_slice(&plain[..k]);
                }
            }
            STEP_WRITABLE => {
                tls.socket_mut().write_size = usize::MAX;
                let _ = tls.flush_pending();
                tls.socket_mut().write_size = write_size;
            }
            STEP_CLIENT_WRITE => {
                let len = usize::from(input.u16());
                if !client_done {
                    let plain = pattern(client_out.len(), len, 0xc3);
                    let mut at = 0;
                    while at < len {
                        match client.write(&plain[at..]) {
                            Ok(k) if k > 0 => at += k,
                            _ => break,
                        }
                    }
                    client_out.extend_from_slice(&plain[..at]);
                }
            }
            STEP_CLIENT_CLOSE => {
                if !client_done {
                    let _ = client.shutdown_write();
                    client_done = true;
                }
            }
            step => {
                let (len, times) = match step {
                    STEP_REPEAT => (input.u16(), usize::from(input.u8()) + 1),
                    len => (len, 1),
                };
                let piece = input.take(usize::from(len));
                for _ in 0..times {
                    tls.socket_mut().incoming.extend(piece);
                }
                forged |= !piece.is_empty();
            }
        }
        link.send_to_server(&mut client, &mut tls);
        tls.socket_mut().interrupt = interrupt;
        server_reads(&mut tls, &mut buf, &mut state, &mut server_in);
        assert!(
            client_out.starts_with(&server_in),
            "the server read what the client did not write"
        );
        link.send_to_client(&mut tls, &mut client);
        client_reads(&mut client, &mut scratch, &mut client_in);
        assert!(
            server_out.starts_with(&client_in),
            "the client read what the server did not write"
        );
        if release {
            tls.release_idle_memory();
        }
        check_layer(&tls);
    }

    // Everything delivered, both ways.
    tls.socket_mut().write_size = usize::MAX;
    let _ = tls.flush_pending();
    let _ = client.flush_pending();
    link.send_to_server(&mut client, &mut tls);
    buf = vec![0u8; 1 << 17];
    server_reads(&mut tls, &mut buf, &mut state, &mut server_in);
    link.send_to_client(&mut tls, &mut client);
    client_reads(&mut client, &mut scratch, &mut client_in);
    check_layer(&tls);
    assert!(client_out.starts_with(&server_in));
    assert!(server_out.starts_with(&client_in));
    if !forged && state != ReadState::Failed {
        assert_eq!(
            server_in.len(),
            client_out.len(),
            "the client's bytes did not all arrive"
        );
        assert_eq!(
            client_in.len(),
            server_out.len(),
            "the server's bytes did not all arrive"
        );
    }
}

/// Bytes numbered from `from`, so that a byte lost, repeated or moved
/// shows.
fn pattern(from: usize, len: usize, salt: u8) -> Vec<u8> {
    (from..from + len).map(|i| (i % 251) as u8 ^ salt).collect()
}

/// The worker's read loop, collecting the plaintext.
fn server_reads(
    tls: &mut TlsStream<FakeSocket>,
    buf: &mut [u8],
    state: &mut ReadState,
    got: &mut Vec<u8>,
) {
    for spin in 0.. {
        assert!(spin < 1 << 16, "the read loop does not end");
        let result = tls.read(buf);
        check_read(state, &result, tls);
        match result {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
        match result {
            Ok(n) if n == buf.len() => {}
            Ok(n) => {
                // The caller's rule: a short read means the socket is
                // drained (nothing arrives while this loop runs, so no
                // readiness event would come for what is left).
                assert!(
                    n == 0 || tls.socket().incoming.is_empty(),
                    "a short read ({n} of {}) with {} bytes left in the socket",
                    buf.len(),
                    tls.socket().incoming.len()
                );
                break;
            }
            Err(_) => break,
        }
    }
}

fn client_reads(client: &mut TlsStream<FakeSocket>, buf: &mut [u8], got: &mut Vec<u8>) {
    for _ in 0..1 << 12 {
        match client.read(buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// What has crossed between the two sockets.
#[derive(Default)]
struct Link {
    to_server: usize,
    to_client: usize,
}

impl Link {
    fn send_to_server(
        &mut self,
        client: &mut TlsStream<FakeSocket>,
        server: &mut TlsStream<FakeSocket>,
    ) {
        let new = &client.socket().written[self.to_server..];
        self.to_server += new.len();
        server.socket_mut().incoming.extend(new);
        if client.socket().fins.get() > 0 {
            server.socket_mut().eof = true;
        }
    }

    fn send_to_client(
        &mut self,
        server: &mut TlsStream<FakeSocket>,
        client: &mut TlsStream<FakeSocket>,
    ) {
        let new = &server.socket().written[self.to_client..];
        self.to_client += new.len();
        client.socket_mut().incoming.extend(new);
        if server.socket().fins.get() > 0 {
            client.socket_mut().eof = true;
        }
    }
}

fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let mut config = rustls::ClientConfig::builder_with_provider(crate::tls::provider())
            .with_safe_default_protocol_versions()
            .expect("the provider supports the default protocol versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(TrustAnything))
            .with_no_client_auth();
        config.alpn_protocols = vec![crate::tls::ALPN_HTTP1.to_vec()];
        Arc::new(config)
    }))
}

/// The client's side of [`ZeroKey`]: any certificate, any signature.
#[derive(Debug)]
struct TrustAnything;

impl rustls::client::danger::ServerCertVerifier for TrustAnything {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![
            SignatureScheme::ECDSA_NISTP256_SHA256,
            SignatureScheme::ED25519,
        ]
    }
}
