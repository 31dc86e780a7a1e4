//! TLS inside the event loop (feature `tls`): a rustls connection between a
//! non-blocking socket and the WebSocket connection.
//!
//! [`TlsStream`] is a `Read + Write` over a non-blocking socket whose bytes
//! are TLS records; what it reads and writes is plaintext. It drives
//! rustls' unbuffered API, so the record buffers are its own, and it is
//! built for an edge-triggered loop:
//!
//! - A read pulls ciphertext from the socket into a buffer of its own in
//!   one large read; rustls decrypts the records where they lie (0.23
//!   still hands each one over in a `Vec` of its own) and the plaintext
//!   goes on to the caller's buffer. It keeps going until
//!   that buffer is full or the socket is empty, so the caller's rule "a
//!   read shorter than asked means the socket is drained" stays true: no
//!   whole record sits in the buffer without a readiness event to announce
//!   it. The peer's `close_notify` without a FIN is the exception no event
//!   announces: [`read_ended`](TlsStream::read_ended) says so.
//! - Plaintext written is encrypted straight into the write queue (small
//!   slices of a vectored write first gathered into one record) and the
//!   queue goes to the socket at once, with handshake flights, alerts and
//!   session tickets. What the socket does not take waits,
//!   [`pending`](TlsStream::pending), for which the caller keeps writable
//!   interest. While it waits, new plaintext is refused with `WouldBlock`,
//!   so the bytes in flight stay bounded by one write's worth of records
//!   (at most [`MAX_PLAINTEXT_PER_WRITE`] of plaintext). A client's first
//!   write (the upgrade request) is held until the handshake lets it go.
//! - [`shutdown_write`](TlsStream::shutdown_write) sends `close_notify`,
//!   then the TCP FIN once it is out. An end of stream without the peer's
//!   `close_notify` reads as an end of stream like any other: whether the
//!   close was clean is the WebSocket closing handshake's to say.
//! - A TLS error (garbage instead of a ClientHello, plain HTTP on the TLS
//!   port, a corrupt record) sends rustls' alert and fails the read with
//!   `InvalidData`; every later call fails the same way.
//!
//! Certificates live in a [`ServerTls`], shared by all workers, which can
//! load a new certificate and key at any time: handshakes after the reload
//! use them, connections already open keep theirs.

use std::fmt;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::prelude::rust_2021::*;
use std::sync::{Arc, RwLock};

use rustls::client::{ClientConnectionData, UnbufferedClientConnection};
use rustls::server::{
    ClientHello, ResolvesServerCert, ServerConnectionData, UnbufferedServerConnection,
};
use rustls::sign::CertifiedKey;
use rustls::unbuffered::{
    AppDataRecord, ConnectionState, EncodeError, EncodeTlsData, EncryptError, ReadEarlyData,
    UnbufferedStatus, WriteTraffic,
};
use rustls::CommonState;

use crate::tls::{load_certified_key, provider, TlsError, ALPN_HTTP1};

/// The most ciphertext read from the socket in one read call.
pub const TLS_READ_SIZE: usize = 32 << 10;

/// The ciphertext read buffer's first size; it grows to [`TLS_READ_SIZE`]
/// while reads keep filling it.
pub const TLS_FIRST_READ_SIZE: usize = 4 << 10;

/// The most plaintext handed to rustls in one write: about four full TLS
/// records.
pub const MAX_PLAINTEXT_PER_WRITE: usize = 64 << 10;

/// A socket under a [`TlsStream`]: reads, writes, and half-closes.
pub trait Socket: Read + Write {
    /// Shuts down the sending direction (TCP FIN).
    fn shutdown_write(&self) -> io::Result<()>;
}

impl Socket for std::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl Socket for mio::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

/// A server's certificate and key, and the rustls configuration that
/// presents them: TLS 1.3 and 1.2, ALPN `http/1.1`, the crate's [`provider`].
/// Cloning shares it; [`reload`](Self::reload) is seen by every clone.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<rustls::ServerConfig>,
    /// `None` for a configuration the caller built.
    certs: Option<Arc<CertStore>>,
}

/// The current certificate, swapped whole on reload.
struct CertStore {
    current: RwLock<Arc<CertifiedKey>>,
    files: Option<(PathBuf, PathBuf)>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        Some(Arc::clone(&current))
    }
}

impl ServerTls {
    /// Loads a certificate chain (PEM, the server's certificate first) and
    /// its private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC), checking that
    /// they belong together. [`reload`](Self::reload) reads the same files
    /// again.
    pub fn from_pem_files(
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<ServerTls, TlsError> {
        let (cert, key) = (cert.as_ref(), key.as_ref());
        let certified = load_certified_key(cert, key)?;
        Ok(Self::with_store(CertStore {
            current: RwLock::new(Arc::new(certified)),
            files: Some((cert.to_owned(), key.to_owned())),
        }))
    }

    /// Presents a certificate and key loaded by the caller.
    pub fn from_certified_key(key: CertifiedKey) -> ServerTls {
        Self::with_store(CertStore {
            current: RwLock::new(Arc::new(key)),
            files: None,
        })
    }

    /// Uses the caller's rustls configuration as it is (client
    /// certificates, other versions or suites). Its ALPN list should hold
    /// `http/1.1` or nothing. [`reload`](Self::reload) then has nothing to
    /// reload. Leave `max_early_data_size` at 0: early (0-RTT) data can be
    /// replayed by anyone who saw it, and the handshake request and frames
    /// in it would reach the handler as if sent once.
    pub fn from_config(config: Arc<rustls::ServerConfig>) -> ServerTls {
        ServerTls {
            config,
            certs: None,
        }
    }

    fn with_store(store: CertStore) -> ServerTls {
        let store = Arc::new(store);
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the provider supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&store) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        ServerTls {
            config: Arc::new(config),
            certs: Some(store),
        }
    }

    /// Reads the certificate and key files again and presents them from
    /// the next handshake on (connections already open are not touched).
    /// On error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let Some(store) = &self.certs else {
            return Ok(());
        };
        let Some((cert, key)) = &store.files else {
            return Ok(());
        };
        let certified = load_certified_key(cert, key)?;
        self.set_certified_key(certified);
        Ok(())
    }

    /// Presents this certificate and key from the next handshake on. Does
    /// nothing for a configuration from [`from_config`](Self::from_config).
    pub fn set_certified_key(&self, key: CertifiedKey) {
        if let Some(store) = &self.certs {
            *store.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        }
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<rustls::ServerConfig> {
        &self.config
    }

    /// A TLS stream for a freshly accepted socket: the server's side of
    /// the handshake starts with the first read.
    pub fn accept<S: Socket>(&self, socket: S) -> io::Result<TlsStream<S>> {
        let conn = UnbufferedServerConnection::new(Arc::clone(&self.config))
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        Ok(TlsStream::new(conn, socket))
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("files", &self.certs.as_ref().and_then(|c| c.files.clone()))
            .finish_non_exhaustive()
    }
}

/// Equal when they share one configuration.
impl PartialEq for ServerTls {
    fn eq(&self, other: &ServerTls) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}

impl Eq for ServerTls {}

/// The rustls side of a [`TlsStream`]: a server or client connection
/// driven through rustls' unbuffered API.
pub enum TlsSession {
    /// The server's side.
    Server(UnbufferedServerConnection),
    /// The client's side.
    Client(UnbufferedClientConnection),
}

impl From<UnbufferedServerConnection> for TlsSession {
    fn from(conn: UnbufferedServerConnection) -> TlsSession {
        TlsSession::Server(conn)
    }
}

impl From<UnbufferedClientConnection> for TlsSession {
    fn from(conn: UnbufferedClientConnection) -> TlsSession {
        TlsSession::Client(conn)
    }
}

impl TlsSession {
    /// What both sides share: protocol version, ALPN, peer certificates.
    pub fn common(&self) -> &CommonState {
        match self {
            TlsSession::Server(c) => c,
            TlsSession::Client(c) => c,
        }
    }
}

/// Either side's `process_tls_records`, so one driver serves both.
trait Records {
    type Data;
    fn common(&self) -> &CommonState;
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data>;
    /// The next 0-RTT record (servers only).
    fn next_early<'a>(
        early: &'a mut ReadEarlyData<'_, '_, Self::Data>,
    ) -> Option<Result<AppDataRecord<'a>, rustls::Error>>;
}

impl Records for UnbufferedServerConnection {
    type Data = ServerConnectionData;
    fn common(&self) -> &CommonState {
        self
    }
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
    fn next_early<'a>(
        early: &'a mut ReadEarlyData<'_, '_, Self::Data>,
    ) -> Option<Result<AppDataRecord<'a>, rustls::Error>> {
        early.next_record()
    }
}

impl Records for UnbufferedClientConnection {
    type Data = ClientConnectionData;
    fn common(&self) -> &CommonState {
        self
    }
    fn process<'c, 'i>(
        &'c mut self,
        incoming: &'i mut [u8],
    ) -> UnbufferedStatus<'c, 'i, Self::Data> {
        self.process_tls_records(incoming)
    }
    fn next_early<'a>(
        _early: &'a mut ReadEarlyData<'_, '_, Self::Data>,
    ) -> Option<Result<AppDataRecord<'a>, rustls::Error>> {
        // rustls hands early data to servers only.
        None
    }
}

/// The most plaintext in one TLS record.
const RECORD_PLAINTEXT: usize = 16 << 10;

/// Room reserved per record for its header, tag and padding (TLS 1.3
/// needs 22 bytes, TLS 1.2 with AES-GCM 29); rustls says when it needs more.
const RECORD_OVERHEAD: usize = 64;

/// The most ciphertext buffered while rustls waits for the rest of one
/// message: a handshake message may take 64 KiB over several records.
pub const MAX_TLS_INPUT: usize = 96 << 10;

/// The buffers between the socket, rustls and the caller.
#[derive(Default)]
struct Buffers {
    /// Ciphertext from the socket, decrypted by rustls where it lies; not
    /// yet processed: `input[input_at..input_len]`. `input.len()` is the
    /// room, zeroed once when it grows.
    input: Vec<u8>,
    input_at: usize,
    input_len: usize,
    /// Decrypted plaintext the caller has not read: `plain[plain_at..]`.
    /// Only what did not fit the caller's buffer, or what a write had to
    /// decrypt to reach the point where it may encrypt.
    plain: Vec<u8>,
    plain_at: usize,
    /// Plaintext written before the handshake allowed encrypting it.
    held: Vec<u8>,
    /// Slices of a vectored write gathered into one record's plaintext.
    gather: Vec<u8>,
    /// Records for the socket: `out[out_at..out_len]`; `out.len()` is the
    /// room, zeroed once when it grows.
    out: Vec<u8>,
    out_at: usize,
    out_len: usize,
    /// `close_notify` is owed, and whether it is in `out` yet.
    close_wanted: bool,
    close_queued: bool,
    /// The peer's `close_notify` came: no plaintext follows.
    peer_closed: bool,
}

impl Buffers {
    /// Moves buffered plaintext into `dst`; returns the bytes moved.
    fn take_plain(&mut self, dst: &mut [u8]) -> usize {
        let k = (self.plain.len() - self.plain_at).min(dst.len());
        dst[..k].copy_from_slice(&self.plain[self.plain_at..self.plain_at + k]);
        self.plain_at += k;
        if self.plain_at == self.plain.len() {
            self.plain.clear();
            self.plain_at = 0;
        }
        k
    }
}

/// A decrypted record: into `dst[*n..]` as far as it goes, the rest into
/// `plain`.
fn deliver(payload: &[u8], dst: &mut [u8], n: &mut usize, plain: &mut Vec<u8>) {
    let k = payload.len().min(dst.len() - *n);
    dst[*n..*n + k].copy_from_slice(&payload[..k]);
    *n += k;
    plain.extend_from_slice(&payload[k..]);
}

/// Grows `buf` to at least `len` bytes.
fn room(buf: &mut Vec<u8>, len: usize) {
    if buf.len() < len {
        buf.resize(len, 0);
    }
}

/// Where a run of rustls over the buffered ciphertext stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// Every whole record is processed: more needs the socket.
    NeedInput,
    /// The caller's buffer is full.
    Full,
    /// Both sides sent `close_notify`.
    Closed,
}

fn failed_session() -> io::Error {
    io::Error::new(ErrorKind::InvalidData, "the TLS session failed")
}

fn tls_error(e: rustls::Error) -> io::Error {
    io::Error::new(ErrorKind::InvalidData, e)
}

/// Runs rustls over `b.input` until it needs more ciphertext or `dst`
/// is full: plaintext goes to `dst[*n..]` (or `b.plain`), handshake
/// messages and alerts to `b.out`. Where it may encrypt, it seals
/// `b.held`, then `send` (setting `*sent`), then `close_notify` if owed.
fn pump<C: Records>(
    conn: &mut C,
    b: &mut Buffers,
    dst: &mut [u8],
    n: &mut usize,
    send: &[u8],
    sent: &mut usize,
) -> io::Result<Stop> {
    loop {
        let UnbufferedStatus { discard, state } =
            conn.process(&mut b.input[b.input_at..b.input_len]);
        let mut extra = 0;
        let mut stop = None;
        let mut failed = None;
        // Both kinds of records are read the same way.
        macro_rules! records {
            ($next:expr) => {
                while let Some(record) = $next {
                    match record {
                        Ok(record) => {
                            extra += record.discard;
                            deliver(record.payload, dst, n, &mut b.plain);
                            if !dst.is_empty() && *n == dst.len() {
                                stop = Some(Stop::Full);
                                break;
                            }
                        }
                        Err(e) => {
                            failed = Some(tls_error(e));
                            break;
                        }
                    }
                }
            };
        }
        match state {
            Err(e) => failed = Some(tls_error(e)),
            Ok(ConnectionState::ReadTraffic(mut records)) => records!(records.next_record()),
            Ok(ConnectionState::ReadEarlyData(mut records)) => {
                records!(C::next_early(&mut records))
            }
            Ok(ConnectionState::EncodeTlsData(mut data)) => encode(&mut data, b),
            // Encoded records are in `out`, which the caller sends.
            Ok(ConnectionState::TransmitTlsData(t)) => t.done(),
            Ok(ConnectionState::PeerClosed) => b.peer_closed = true,
            Ok(ConnectionState::Closed) => {
                // Both close_notify are out: rustls may send ours itself
                // (at its record limit).
                b.peer_closed = true;
                b.close_queued = true;
                stop = Some(Stop::Closed);
            }
            Ok(ConnectionState::WriteTraffic(mut w)) => {
                let held = std::mem::take(&mut b.held);
                let sealed = seal(&mut w, &held, b).and_then(|()| {
                    if *sent < send.len() {
                        seal(&mut w, &send[*sent..], b)?;
                        *sent = send.len();
                    }
                    if b.close_wanted && !b.close_queued {
                        // rustls queues the alert before it checks the
                        // room, so the room must be there the first time.
                        room(&mut b.out, b.out_len + 4 * RECORD_OVERHEAD);
                        let k = w.queue_close_notify(&mut b.out[b.out_len..]);
                        b.out_len += k.map_err(io::Error::other)?;
                        b.close_queued = true;
                    }
                    Ok(())
                });
                b.held = held;
                b.held.clear();
                if let Err(e) = sealed {
                    failed = Some(e);
                }
                stop = Some(Stop::NeedInput);
            }
            Ok(ConnectionState::BlockedHandshake) => stop = Some(Stop::NeedInput),
            Ok(_) => stop = Some(Stop::NeedInput),
        }
        b.input_at += discard + extra;
        if b.input_at >= b.input_len {
            b.input_at = 0;
            b.input_len = 0;
        }
        if let Some(e) = failed {
            queue_alerts(conn, b);
            return Err(e);
        }
        if let Some(stop) = stop {
            return Ok(stop);
        }
    }
}

/// After an error rustls has an alert to send: encode what it queued.
fn queue_alerts<C: Records>(conn: &mut C, b: &mut Buffers) {
    // Only while something is queued: with nothing queued rustls would
    // deframe the bad input again and fail a second time (a debug
    // assertion in rustls: one fatal alert per session).
    for _ in 0..16 {
        if !conn.common().wants_write() {
            break;
        }
        let UnbufferedStatus { discard, state } =
            conn.process(&mut b.input[b.input_at..b.input_len]);
        let Ok(ConnectionState::EncodeTlsData(mut data)) = state else {
            break;
        };
        encode(&mut data, b);
        b.input_at = (b.input_at + discard).min(b.input_len);
    }
    // Nothing after the error is read.
    b.input_at = 0;
    b.input_len = 0;
}

/// Copies a record rustls encoded (handshake, alert) into `b.out`.
fn encode<D>(data: &mut EncodeTlsData<'_, D>, b: &mut Buffers) {
    loop {
        match data.encode(&mut b.out[b.out_len..]) {
            Ok(k) => {
                b.out_len += k;
                return;
            }
            Err(EncodeError::InsufficientSize(s)) => room(&mut b.out, b.out_len + s.required_size),
            Err(EncodeError::AlreadyEncoded) => return,
        }
    }
}

/// Encrypts `data` into `b.out`.
fn seal<D>(w: &mut WriteTraffic<'_, D>, data: &[u8], b: &mut Buffers) -> io::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let records = data.len() / RECORD_PLAINTEXT + 1;
    room(
        &mut b.out,
        b.out_len + data.len() + records * RECORD_OVERHEAD,
    );
    loop {
        match w.encrypt(data, &mut b.out[b.out_len..]) {
            Ok(k) => {
                b.out_len += k;
                return Ok(());
            }
            Err(EncryptError::InsufficientSize(s)) => room(&mut b.out, b.out_len + s.required_size),
            Err(e) => return Err(io::Error::other(e)),
        }
    }
}

/// A rustls connection (server or client side) over a non-blocking socket.
/// See the [module documentation](self).
pub struct TlsStream<S> {
    tls: TlsSession,
    socket: S,
    b: Buffers,
    /// The last socket read filled less than it offered: the socket was
    /// empty then.
    socket_short: bool,
    /// The socket reached its end of stream.
    eof: bool,
    /// A FIN is owed once `close_notify` (if the handshake got that far)
    /// and everything before it is written.
    fin_owed: bool,
    fin_sent: bool,
    /// rustls failed: its state no longer matches `b.input`, so it is not
    /// called again.
    failed: bool,
}

impl<S: Socket> TlsStream<S> {
    /// Wraps a connected socket; the handshake runs as the stream is read
    /// (server) or written and read (client).
    pub fn new(tls: impl Into<TlsSession>, socket: S) -> TlsStream<S> {
        TlsStream {
            tls: tls.into(),
            socket,
            b: Buffers::default(),
            socket_short: false,
            eof: false,
            fin_owed: false,
            fin_sent: false,
            failed: false,
        }
    }

    /// The socket.
    pub fn socket(&self) -> &S {
        &self.socket
    }

    /// The socket, e.g. to register it with a poll.
    pub fn socket_mut(&mut self) -> &mut S {
        &mut self.socket
    }

    /// The TLS connection's state: negotiated version, ALPN, certificates.
    pub fn tls(&self) -> &CommonState {
        self.tls.common()
    }

    /// The rustls connection.
    pub fn session(&self) -> &TlsSession {
        &self.tls
    }

    /// Whether the TLS handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        self.tls().is_handshaking()
    }

    /// Whether the peer's `close_notify` or the TCP end came: the reads
    /// left give what is buffered, then the end of stream. A short read
    /// does not announce it, and with `close_notify` alone no readiness
    /// event will either, so an edge-triggered caller asks.
    pub fn read_ended(&self) -> bool {
        self.b.peer_closed || self.eof
    }

    /// Bytes waiting for the socket: records it did not take yet.
    pub fn pending(&self) -> usize {
        self.b.out_len - self.b.out_at
    }

    /// Gives back the memory a quiet connection does not need: the
    /// ciphertext and plaintext buffers and the write queue. Nothing is
    /// lost: each comes back when needed. Keeps whatever still holds
    /// bytes.
    pub fn release_idle_memory(&mut self) {
        let b = &mut self.b;
        if b.out_at == b.out_len {
            b.out = Vec::new();
            b.out_at = 0;
            b.out_len = 0;
        }
        if b.input_at == b.input_len {
            b.input = Vec::new();
            b.input_at = 0;
            b.input_len = 0;
        }
        if b.plain_at == b.plain.len() {
            b.plain = Vec::new();
            b.plain_at = 0;
        }
        if b.held.is_empty() {
            b.held = Vec::new();
        }
        b.gather = Vec::new();
    }

    /// Bytes of memory held by this layer's buffers (rustls keeps no
    /// record buffers of its own on this path).
    pub fn buffer_bytes(&self) -> usize {
        let b = &self.b;
        b.input.capacity()
            + b.out.capacity()
            + b.plain.capacity()
            + b.held.capacity()
            + b.gather.capacity()
    }

    /// Queues `close_notify`, then sends the TCP FIN once everything is
    /// written. Returns whether the FIN is out; if not, call
    /// [`flush_pending`](Self::flush_pending) when the socket is writable.
    /// A connection still in its TLS handshake gets the FIN alone.
    pub fn shutdown_write(&mut self) -> io::Result<bool> {
        if !self.fin_owed {
            self.fin_owed = true;
            self.b.close_wanted = true;
        }
        self.flush_pending()?;
        Ok(self.fin_sent)
    }

    /// Writes what waits; sends an owed FIN after it. Returns the bytes
    /// still waiting.
    pub fn flush_pending(&mut self) -> io::Result<usize> {
        let b = &self.b;
        if !self.failed
            && (self.is_handshaking() || !b.held.is_empty() || (b.close_wanted && !b.close_queued))
        {
            // The client's first flight, plaintext held through the
            // handshake, close_notify.
            self.pump(&mut [], &mut 0, &[])?;
        }
        self.send_records()?;
        let closing_done = self.b.close_queued || self.is_handshaking() || self.failed;
        if self.fin_owed && !self.fin_sent && self.pending() == 0 && closing_done {
            self.socket.shutdown_write()?;
            self.fin_sent = true;
        }
        Ok(self.pending())
    }

    /// Runs rustls over the buffered ciphertext; see [`pump`]. Returns
    /// where it stopped and how much of `send` it encrypted.
    fn pump(&mut self, dst: &mut [u8], n: &mut usize, send: &[u8]) -> io::Result<(Stop, usize)> {
        let mut sent = 0;
        if self.failed {
            return Err(failed_session());
        }
        let stop = match &mut self.tls {
            TlsSession::Server(c) => pump(c, &mut self.b, dst, n, send, &mut sent),
            TlsSession::Client(c) => pump(c, &mut self.b, dst, n, send, &mut sent),
        };
        if stop.is_err() {
            self.failed = true;
            // The alert goes out if the socket takes it.
            let _ = self.send_records();
        }
        Ok((stop?, sent))
    }

    /// Writes the waiting records; `Ok` on `WouldBlock`.
    fn send_records(&mut self) -> io::Result<()> {
        let b = &mut self.b;
        if self.fin_sent {
            // The socket is shut for writing: what rustls says after the
            // FIN (a handshake finishing, tickets) cannot go out.
            b.out_at = 0;
            b.out_len = 0;
            return Ok(());
        }
        while b.out_at < b.out_len {
            match self.socket.write(&b.out[b.out_at..b.out_len]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => b.out_at += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        b.out_at = 0;
        b.out_len = 0;
        Ok(())
    }

    /// Reads the socket once into the ciphertext buffer, behind what
    /// waits there.
    fn read_socket(&mut self) -> io::Result<usize> {
        let b = &mut self.b;
        if b.input_at > 0 {
            b.input.copy_within(b.input_at..b.input_len, 0);
            b.input_len -= b.input_at;
            b.input_at = 0;
        }
        // Start small: a ClientHello and an upgrade request fit in 4 KiB.
        // The buffer doubles up to TLS_READ_SIZE while reads fill it, so
        // only busy connections hold the large one; beyond that only for
        // a message that does not fit, up to MAX_TLS_INPUT.
        let len = b.input.len();
        let free = len - b.input_len;
        let grow_to = if len == 0 {
            TLS_FIRST_READ_SIZE
        } else if len < TLS_READ_SIZE && (!self.socket_short || free < len / 4) {
            (len * 2).min(TLS_READ_SIZE)
        } else if free == 0 {
            if len >= MAX_TLS_INPUT {
                return Err(io::Error::new(
                    ErrorKind::InvalidData,
                    "a TLS message larger than MAX_TLS_INPUT",
                ));
            }
            (len * 2).min(MAX_TLS_INPUT)
        } else {
            len
        };
        // Exact: `resize` alone may double the capacity, and the last step
        // (to MAX_TLS_INPUT, not a power of two) would then hold 128 KiB.
        b.input.reserve_exact(grow_to.saturating_sub(b.input.len()));
        room(&mut b.input, grow_to);
        let offered = b.input.len() - b.input_len;
        loop {
            match self.socket.read(&mut b.input[b.input_len..]) {
                Ok(k) => {
                    b.input_len += k;
                    self.socket_short = k < offered;
                    return Ok(k);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Encrypts `bufs` from byte `skip` on, at most `limit` bytes, as one
    /// slice or gathered; returns the bytes taken (0 before the handshake
    /// allows it).
    fn seal_from(
        &mut self,
        bufs: &[IoSlice<'_>],
        mut skip: usize,
        limit: usize,
    ) -> io::Result<usize> {
        let mut i = 0;
        while i < bufs.len() && skip >= bufs[i].len() {
            skip -= bufs[i].len();
            i += 1;
        }
        let Some(first) = bufs.get(i) else {
            return Ok(0);
        };
        let first = &first[skip..];
        if first.len() >= RECORD_PLAINTEXT || i + 1 == bufs.len() {
            let take = first.len().min(limit);
            let sealed = self.pump(&mut [], &mut 0, &first[..take]);
            return closed_is_broken(sealed);
        }
        // Small slices (frame headers, short frames): one record's worth
        // gathered, so they share a record instead of taking one each.
        let mut gather = std::mem::take(&mut self.b.gather);
        gather.clear();
        let want = limit.min(RECORD_PLAINTEXT);
        gather.extend_from_slice(&first[..first.len().min(want)]);
        for buf in &bufs[i + 1..] {
            if gather.len() == want {
                break;
            }
            let k = buf.len().min(want - gather.len());
            gather.extend_from_slice(&buf[..k]);
        }
        let sealed = self.pump(&mut [], &mut 0, &gather);
        self.b.gather = gather;
        closed_is_broken(sealed)
    }
}

/// The bytes a write's pump encrypted; a session both sides closed takes
/// none.
fn closed_is_broken(sealed: io::Result<(Stop, usize)>) -> io::Result<usize> {
    match sealed? {
        (Stop::Closed, 0) => Err(io::Error::new(
            ErrorKind::BrokenPipe,
            "write after close_notify",
        )),
        (_, sent) => Ok(sent),
    }
}

/// Plaintext in. Fills `buf` as far as the socket allows; a result shorter
/// than `buf` means the socket was found empty (or ended), as with a plain
/// socket. `Ok(0)` is the end of the stream: the peer's `close_notify`, or
/// the TCP end with or without it.
impl<S: Socket> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = self.b.take_plain(buf);
        // The socket was found empty in this call. Not `socket_short`:
        // that may date from an earlier call, and bytes may have come
        // since (their readiness event spent on a caller that did not
        // read then).
        let mut emptied = false;
        loop {
            if n == buf.len() {
                return Ok(n);
            }
            let (stop, _) = self.pump(buf, &mut n, &[])?;
            // Handshake flights, tickets, plaintext held through the
            // handshake.
            self.send_records()?;
            if stop != Stop::NeedInput || self.b.peer_closed || self.eof {
                return Ok(n);
            }
            if n > 0 && emptied {
                // Say so with a short read, as the socket itself would.
                return Ok(n);
            }
            match self.read_socket() {
                Ok(0) => self.eof = true,
                Ok(_) => emptied = self.socket_short,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.socket_short = true;
                    return if n > 0 { Ok(n) } else { Err(e) };
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Plaintext out: encrypted at once and written as far as the socket
/// takes it. Refused with `WouldBlock` while earlier records still wait
/// for the socket.
impl<S: Socket> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.failed {
            return Err(failed_session());
        }
        self.send_records()?;
        if self.pending() > 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        if self.fin_owed {
            return Err(io::Error::new(
                ErrorKind::BrokenPipe,
                "write after close_notify",
            ));
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(0);
        }
        let mut done = 0;
        if !self.is_handshaking() && self.b.held.is_empty() {
            // MAX_PLAINTEXT_PER_WRITE at a time; go on while the socket
            // takes every record, so a large vectored write (the replies
            // to several reads) is not cut short and queued.
            let mut unsent = 0;
            while done < total {
                let k = self.seal_from(bufs, done, MAX_PLAINTEXT_PER_WRITE - unsent)?;
                if k == 0 {
                    break;
                }
                done += k;
                unsent += k;
                if unsent == MAX_PLAINTEXT_PER_WRITE || done == total {
                    self.send_records()?;
                    unsent = 0;
                    if self.pending() > 0 {
                        break;
                    }
                }
            }
            if done > 0 {
                self.send_records()?;
                return Ok(done);
            }
        }
        // Before the handshake allows encrypting: held, up to one write's
        // worth, and sealed as soon as it may be.
        let room = MAX_PLAINTEXT_PER_WRITE.saturating_sub(self.b.held.len());
        for buf in bufs {
            let k = buf.len().min(room - done);
            self.b.held.extend_from_slice(&buf[..k]);
            done += k;
        }
        self.flush_pending()?;
        if done == 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(done)
    }

    /// Writes what waits; `WouldBlock` if the socket does not take it all,
    /// or plaintext still waits for the handshake.
    fn flush(&mut self) -> io::Result<()> {
        match self.flush_pending()? {
            0 if self.b.held.is_empty() => Ok(()),
            _ => Err(ErrorKind::WouldBlock.into()),
        }
    }
}
