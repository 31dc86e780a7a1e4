//! TLS inside the event loop (feature `tls`): a rustls connection between a
//! non-blocking socket and the WebSocket connection.
//!
//! [`TlsStream`] is a `Read + Write` over a non-blocking socket whose bytes
//! are TLS records; what it reads and writes is plaintext. It is built for
//! an edge-triggered loop:
//!
//! - A read pulls ciphertext from the socket into a buffer of its own in
//!   one large read, feeds it to rustls (decryption, handshake messages),
//!   and hands back plaintext. It keeps going until the caller's buffer is
//!   full or the socket is empty, so the caller's rule "a read shorter than
//!   asked means the socket is drained" stays true: rustls never sits on
//!   bytes that no readiness event will announce again (the stall of an
//!   edge-triggered loop that reads rustls only when the socket is
//!   readable).
//! - Whatever rustls wants to send (handshake flights, alerts, session
//!   tickets, encrypted data) goes to the socket at once; what the socket
//!   does not take waits in a buffer of exact size, [`pending`](TlsStream::pending),
//!   for which the caller keeps writable interest. While it waits, new
//!   plaintext is refused with `WouldBlock`, so the bytes in flight stay
//!   bounded by one write's worth of records (at most
//!   [`MAX_PLAINTEXT_PER_WRITE`] of plaintext).
//! - [`shutdown_write`](TlsStream::shutdown_write) sends `close_notify`,
//!   then the TCP FIN once it is out. An end of stream without the peer's
//!   `close_notify` reads as an end of stream like any other: whether the
//!   close was clean is the WebSocket closing handshake's to say.
//! - A TLS error (garbage instead of a ClientHello, plain HTTP on the TLS
//!   port, a corrupt record) sends rustls' alert and fails the read with
//!   `InvalidData`.
//!
//! Certificates live in a [`ServerTls`], shared by all workers, which can
//! load a new certificate and key at any time: handshakes after the reload
//! use them, connections already open keep theirs.

use std::fmt;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::path::{Path, PathBuf};
use std::prelude::rust_2021::*;
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

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
    /// reload.
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
        let conn = rustls::ServerConnection::new(Arc::clone(&self.config))
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        Ok(TlsStream::new(conn.into(), socket))
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

/// A rustls connection (server or client side) over a non-blocking socket.
/// See the [module documentation](self).
pub struct TlsStream<S> {
    tls: rustls::Connection,
    socket: S,
    /// Ciphertext read but not yet handed to rustls: `raw[raw_at..raw_len]`.
    raw: Vec<u8>,
    raw_at: usize,
    raw_len: usize,
    /// The last socket read filled less than it offered: the socket was
    /// empty then.
    socket_short: bool,
    /// The socket reached its end of stream (rustls has been told).
    eof: bool,
    /// Records the socket did not take yet: `out[out_at..]`.
    out: Vec<u8>,
    out_at: usize,
    /// A FIN is owed once `out` is written.
    fin_owed: bool,
    fin_sent: bool,
}

impl<S: Socket> TlsStream<S> {
    /// Wraps a connected socket; the handshake runs as the stream is read
    /// (server) or written and read (client).
    pub fn new(mut tls: rustls::Connection, socket: S) -> TlsStream<S> {
        tls.set_buffer_limit(Some(MAX_PLAINTEXT_PER_WRITE));
        TlsStream {
            tls,
            socket,
            raw: Vec::new(),
            raw_at: 0,
            raw_len: 0,
            socket_short: false,
            eof: false,
            out: Vec::new(),
            out_at: 0,
            fin_owed: false,
            fin_sent: false,
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

    /// The rustls connection: negotiated version, ALPN, SNI.
    pub fn tls(&self) -> &rustls::Connection {
        &self.tls
    }

    /// Whether the TLS handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }

    /// Bytes waiting for the socket: records it did not take (and nothing
    /// else: rustls' own queue is always moved out).
    pub fn pending(&self) -> usize {
        self.out.len() - self.out_at
    }

    /// Gives back the memory a quiet connection does not need: the
    /// ciphertext read buffer, the write queue, and rustls' record buffer
    /// down to its 4 KiB minimum. Nothing is lost: each comes back on the
    /// next read or blocked write. Does nothing while bytes wait in them.
    pub fn release_idle_memory(&mut self) {
        if self.pending() == 0 && self.out.capacity() > 0 {
            self.out = Vec::new();
            self.out_at = 0;
        }
        if self.raw_at < self.raw_len {
            return;
        }
        self.raw = Vec::new();
        self.raw_at = 0;
        self.raw_len = 0;
        if !self.eof {
            // rustls shrinks its record buffer when a read finds it
            // empty; this reader offers nothing and reports WouldBlock.
            let _ = self.tls.read_tls(&mut WouldBlock);
        }
    }

    /// Bytes of memory held by the buffers of this layer (not counting
    /// rustls' own).
    pub fn buffer_bytes(&self) -> usize {
        self.raw.capacity() + self.out.capacity()
    }

    /// Queues `close_notify`, then sends the TCP FIN once everything is
    /// written. Returns whether the FIN is out; if not, call
    /// [`flush_pending`](Self::flush_pending) when the socket is writable.
    pub fn shutdown_write(&mut self) -> io::Result<bool> {
        if !self.fin_owed {
            self.tls.send_close_notify();
            self.fin_owed = true;
        }
        self.flush_pending()?;
        Ok(self.fin_sent)
    }

    /// Writes what waits for the socket; sends an owed FIN after it.
    /// Returns the bytes still waiting.
    pub fn flush_pending(&mut self) -> io::Result<usize> {
        self.send_records()?;
        if self.fin_owed && !self.fin_sent && self.pending() == 0 {
            self.socket.shutdown_write()?;
            self.fin_sent = true;
        }
        Ok(self.pending())
    }

    /// Writes the waiting records, then whatever rustls has queued,
    /// straight from its buffers; what the socket refuses moves into
    /// `out`. Returns `Ok` on `WouldBlock`.
    fn send_records(&mut self) -> io::Result<()> {
        while self.out_at < self.out.len() {
            match self.socket.write(&self.out[self.out_at..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.out_at += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if self.out_at == self.out.len() {
            self.out.clear();
            self.out_at = 0;
            while self.tls.wants_write() {
                match self.tls.write_tls(&mut self.socket) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        // Writing into a Vec cannot fail.
        while self.tls.wants_write() {
            let _ = self.tls.write_tls(&mut self.out);
        }
        Ok(())
    }

    /// Hands the unread ciphertext to rustls and processes it, until it is
    /// all in or rustls' plaintext buffer is full.
    fn feed(&mut self) -> io::Result<()> {
        while self.raw_at < self.raw_len {
            let mut input = &self.raw[self.raw_at..self.raw_len];
            match self.tls.read_tls(&mut input) {
                // Only after close_notify: whatever follows is ignored.
                Ok(0) => {
                    self.raw_at = self.raw_len;
                    break;
                }
                Ok(n) => self.raw_at += n,
                // The plaintext buffer is full: let the caller drain it.
                Err(e) if e.kind() == ErrorKind::Other => break,
                Err(e) => return Err(e),
            }
            self.process()?;
        }
        Ok(())
    }

    /// Processes the records rustls holds; on a TLS error, sends its alert.
    fn process(&mut self) -> io::Result<()> {
        if let Err(e) = self.tls.process_new_packets() {
            // The alert rustls queued goes out if the socket takes it.
            let _ = self.send_records();
            self.raw_at = self.raw_len;
            return Err(io::Error::new(ErrorKind::InvalidData, e));
        }
        Ok(())
    }

    /// Hands rustls the plaintext of `bufs` from byte `skip` on, as far as
    /// its buffer limit allows; returns the bytes taken.
    fn write_plaintext(&mut self, bufs: &[IoSlice<'_>], mut skip: usize) -> io::Result<usize> {
        let mut i = 0;
        while i < bufs.len() && skip >= bufs[i].len() {
            skip -= bufs[i].len();
            i += 1;
        }
        match bufs.get(i) {
            None => Ok(0),
            // The rest of a slice rustls took in part: a record of its own.
            Some(first) if skip > 0 => self.tls.writer().write(&first[skip..]),
            Some(_) => self.tls.writer().write_vectored(&bufs[i..]),
        }
    }

    /// Reads the socket once into the ciphertext buffer.
    fn read_socket(&mut self) -> io::Result<usize> {
        // Start small: a ClientHello and an upgrade request fit in 4 KiB.
        // The buffer doubles up to TLS_READ_SIZE each time a read fills it,
        // so only busy connections hold the large one, and the many that
        // just connect and wait never allocate it.
        if self.raw.is_empty() {
            self.raw.resize(TLS_FIRST_READ_SIZE, 0);
        } else if self.raw_len == self.raw.len() && self.raw.len() < TLS_READ_SIZE {
            let grown = (self.raw.len() * 2).min(TLS_READ_SIZE);
            self.raw.resize(grown, 0);
        }
        loop {
            match self.socket.read(&mut self.raw) {
                Ok(n) => {
                    self.raw_at = 0;
                    self.raw_len = n;
                    self.socket_short = n < self.raw.len();
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
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
        let mut n = 0;
        loop {
            match self.tls.reader().read(&mut buf[n..]) {
                Ok(0) => return Ok(n), // close_notify received
                Ok(k) => n += k,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                // The TCP end came without close_notify.
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(n),
                Err(e) => return Err(e),
            }
            if n == buf.len() {
                return Ok(n);
            }
            if self.raw_at < self.raw_len {
                self.feed()?;
                self.send_records()?;
                continue;
            }
            if self.eof {
                return Ok(n);
            }
            if n > 0 && self.socket_short {
                // The socket was empty at the last read: say so with a
                // short read, as the socket itself would.
                return Ok(n);
            }
            match self.read_socket() {
                Ok(0) => {
                    self.eof = true;
                    let _ = self.tls.read_tls(&mut io::empty());
                    self.process()?;
                }
                Ok(_) => {
                    self.feed()?;
                    self.send_records()?;
                }
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
        // rustls takes at most MAX_PLAINTEXT_PER_WRITE at a time; go on
        // while the socket takes every record, so a large vectored write
        // (the replies to several reads) is not cut short and queued.
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut done = 0;
        while done < total {
            let n = self.write_plaintext(bufs, done)?;
            done += n;
            self.send_records()?;
            if n == 0 || self.pending() > 0 {
                break;
            }
        }
        if done == 0 && total > 0 {
            return Err(ErrorKind::WouldBlock.into());
        }
        Ok(done)
    }

    /// Writes what waits; `WouldBlock` if the socket does not take it all.
    fn flush(&mut self) -> io::Result<()> {
        match self.flush_pending()? {
            0 => Ok(()),
            _ => Err(ErrorKind::WouldBlock.into()),
        }
    }
}

/// A reader that has nothing yet.
struct WouldBlock;

impl Read for WouldBlock {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(ErrorKind::WouldBlock.into())
    }
}
